"""Pulumi components that provision a Customer.io production setup compliant with the checklist."""

from . import settings
from .alarms import DeliveryAlarms, DeliveryAlarmsArgs
from .auto_rollback import AutoRollback, AutoRollbackArgs
from .credential_secrets import CustomerIoCredentials, CustomerIoCredentialsArgs
from .rollout import RolloutFlag
from .rotation_function import RotationFunction
from .sending_domain import DmarcArgs, SendingDomain, SendingDomainArgs
from .validate import InputError

__all__ = [
    "AutoRollback",
    "AutoRollbackArgs",
    "CustomerIoCredentials",
    "CustomerIoCredentialsArgs",
    "DeliveryAlarms",
    "DeliveryAlarmsArgs",
    "DmarcArgs",
    "InputError",
    "RolloutFlag",
    "RotationFunction",
    "SendingDomain",
    "SendingDomainArgs",
    "settings",
]
