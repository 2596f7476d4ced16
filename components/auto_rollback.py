"""AutoRollback: a rollback-trigger alarm sets the rollout flag to 0 without anybody at a keyboard.

The checklist's rollback is "set the feature flag to 0% (immediate - no deploy needed)". The trigger
alarms (api_error_rate from 10%, bounce_rate from 50%, `golive:rollout.triggers`) already notify the
alert topic; a small function subscribed to that topic sets the flag to 0 and publishes to the same
topic what it did and the follow-up steps (components/lambdas/auto_rollback/handler.py).

Subscribing to the alert topic rather than a topic of its own keeps DeliveryAlarms as it is (no
second action on two alarms) and means the function hears exactly what the people on call hear. The
subscription's filter policy passes only the trigger alarms' notifications entering ALARM, so the
function is not invoked for the other alarms, OK transitions, or its own message on the topic.

The function may read and write the flag and nothing else in SSM (GetParameter, PutParameter, and
the history and label calls golive's version protocol uses), and publish to the alert topic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from checklist import catalog

from ._lambda import execution_role, python_function
from .validate import InputError

HANDLER_DIR = Path(__file__).resolve().parent / "lambdas" / "auto_rollback"


@dataclass
class AutoRollbackArgs:
    environment: str
    flag_name: pulumi.Input[str]
    flag_arn: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]
    trigger_alarms: Mapping[str, pulumi.Input[str]]  # signal -> the name of its alarm
    triggers: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(catalog.ROLLOUT_TRIGGERS))


class AutoRollback(pulumi.ComponentResource):
    def __init__(self, name: str, args: AutoRollbackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:rollout:AutoRollback", name, None, opts)
        for stage, signals in args.triggers.items():
            if stage not in catalog.ROLLOUT_STAGES:
                raise InputError(f"triggers.{stage}: not a rollout stage ({', '.join(catalog.ROLLOUT_STAGES)})")
            missing = [s for s in signals if s not in args.trigger_alarms]
            if missing:
                raise InputError(f"triggers.{stage}: no alarm given for {missing[0]} (trigger_alarms)")
        child = pulumi.ResourceOptions(parent=self)
        signals = list(args.trigger_alarms)
        names = pulumi.Output.all(*(args.trigger_alarms[s] for s in signals))

        role = execution_role(name, child)
        aws.iam.RolePolicy(
            f"{name}-access", role=role.id,
            policy=pulumi.Output.all(args.flag_arn, args.alert_topic_arn).apply(lambda arns: json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Resource": arns[0], "Action": [
                        "ssm:GetParameter", "ssm:PutParameter", "ssm:GetParameterHistory",
                        "ssm:LabelParameterVersion", "ssm:UnlabelParameterVersion"]},
                    {"Effect": "Allow", "Action": "sns:Publish", "Resource": arns[1]},
                ],
            })),
            opts=child,
        )
        self.function = python_function(name, HANDLER_DIR, role, child, timeout=30, memory_size=128, variables={
            "FLAG_PARAMETER": args.flag_name,
            "ALERT_TOPIC_ARN": args.alert_topic_arn,
            "ENVIRONMENT": args.environment,
            "TRIGGER_ALARMS": names.apply(lambda found: json.dumps(dict(zip(found, signals, strict=True)))),
            "TRIGGERS": json.dumps({stage: list(s) for stage, s in args.triggers.items()}),
            "STAGES": json.dumps(list(catalog.ROLLOUT_STAGES)),
            "ROLLBACK_STEPS": json.dumps(list(catalog.ROLLBACK_STEPS)),
        })
        permission = aws.lambda_.Permission(
            f"{name}-invoke", action="lambda:InvokeFunction", function=self.function.name,
            principal="sns.amazonaws.com", source_arn=args.alert_topic_arn, opts=child,
        )
        self.subscription = aws.sns.TopicSubscription(
            f"{name}-alarms", topic=args.alert_topic_arn, protocol="lambda", endpoint=self.function.arn,
            filter_policy_scope="MessageBody",
            filter_policy=names.apply(lambda found: json.dumps({"AlarmName": sorted(found),
                                                                "NewStateValue": ["ALARM"]})),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.register_outputs({"functionArn": self.function.arn})
