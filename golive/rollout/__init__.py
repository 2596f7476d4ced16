"""The staged rollout (checklist §7): who gets Customer.io at a stage, the plan, and `golive rollout`.

`should_use_cio` and `enabled_for` are for request paths; the names load on first use, so that
building golive's command line (golive.cli imports golive.operations.rollout.command for its arguments) does
not pay for the plan, and the request path never pays for boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from checklist.plan import Plan, PlanError
    from golive.rollout.assign import bucket, enabled_for, is_internal, should_use_cio

_HOMES = {"bucket": "assign", "enabled_for": "assign", "is_internal": "assign", "should_use_cio": "assign",
          "Plan": "checklist.plan", "PlanError": "checklist.plan"}

__all__ = ["Plan", "PlanError", "bucket", "enabled_for", "is_internal", "should_use_cio"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home if "." in home else f".{home}", __name__), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value
