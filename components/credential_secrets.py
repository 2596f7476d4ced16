"""CustomerIoCredentials: one Secrets Manager secret per Customer.io credential, rotated every 90 days."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from checklist import catalog

from .validate import require_choice, require_int_range


@dataclass
class CustomerIoCredentialsArgs:
    environment: str
    region: str  # Customer.io account region: "us" or "eu"
    rotation_lambda_arn: pulumi.Input[str]
    reader_principals: Sequence[pulumi.Input[str]] = field(default_factory=list)
    rotation_days: int = catalog.MAX_ROTATION_DAYS
    recovery_window_days: int = 30
    kinds: Sequence[str] = catalog.CREDENTIAL_KINDS
    # Values from secret config (opt-in): stored as each secret's first version before rotation starts.
    values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # What must exist before Secrets Manager may call the function: its invoke permission above all.
    rotation_depends_on: Sequence[pulumi.Resource] = field(default_factory=list)
    # Where a failed rotation is announced (the alert topic): an EventBridge rule publishes it there.
    alert_topic_arn: pulumi.Input[str] | None = None


class CustomerIoCredentials(pulumi.ComponentResource):
    """Secrets named `customerio/<environment>/<kind>`, encrypted with their own KMS key.

    Values never pass through Pulumi: `golive credentials put` stores them. Rotation starts at the
    next window rather than immediately, because Customer.io keys are minted by a person.
    """

    secrets: dict[str, aws.secretsmanager.Secret]

    def __init__(self, name: str, args: CustomerIoCredentialsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:credentials:CustomerIoCredentials", name, None, opts)
        require_choice("region", args.region, catalog.REGIONS)
        require_int_range("rotation_days", args.rotation_days, 1, 1000)
        require_int_range("recovery_window_days", args.recovery_window_days, 7, 30)
        for kind in args.kinds:
            require_choice("kinds", kind, catalog.CREDENTIAL_KINDS)
        for kind in args.values:
            require_choice("values", kind, tuple(args.kinds))
        child = pulumi.ResourceOptions(parent=self)

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Customer.io credentials ({args.environment})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        self.secrets = {}
        for kind in args.kinds:
            secret = aws.secretsmanager.Secret(
                f"{name}-{kind}",
                name=_secret_name(args.environment, kind),
                description=f"Customer.io {kind} for {args.environment}",
                kms_key_id=self.key.arn,
                recovery_window_in_days=args.recovery_window_days,
                tags={
                    catalog.CREDENTIAL_TAG: kind,
                    catalog.REGION_TAG: args.region,
                    "environment": args.environment,
                },
                opts=child,
            )
            if args.reader_principals:
                aws.secretsmanager.SecretPolicy(
                    f"{name}-{kind}-policy",
                    secret_arn=secret.arn,
                    policy=pulumi.Output.all(secret.arn, list(args.reader_principals)).apply(
                        lambda values: _reader_policy(values[0], values[1])
                    ),
                    opts=child,
                )
            before_rotation = list(args.rotation_depends_on)
            if kind in args.values:
                # Setting up rotation runs the function's testSecret on the current value (AWS's
                # configuration test), so the value must be there first.
                before_rotation.append(aws.secretsmanager.SecretVersion(
                    f"{name}-{kind}-value",
                    secret_id=secret.id,
                    secret_string=pulumi.Output.secret(args.values[kind]),
                    # Rotation and `golive credentials put` move AWSCURRENT on; a deploy must not move it back.
                    opts=pulumi.ResourceOptions(parent=self, ignore_changes=["versionStages"]),
                ))
            aws.secretsmanager.SecretRotation(
                f"{name}-{kind}-rotation",
                secret_id=secret.id,
                rotation_lambda_arn=args.rotation_lambda_arn,
                rotation_rules={"automatically_after_days": args.rotation_days},
                rotate_immediately=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=before_rotation),
            )
            self.secrets[kind] = secret

        self.rotation_alerts: aws.cloudwatch.EventRule | None = None
        if args.alert_topic_arn is not None:
            self.rotation_alerts = _rotation_alerts(name, args.environment, list(self.secrets.values()),
                                                    args.alert_topic_arn, child)

        self.register_outputs({"secretArns": {kind: s.arn for kind, s in self.secrets.items()}})


# Secrets Manager logs the outcome of a rotation to CloudTrail as a service event; EventBridge sees it
# with this detail-type, the secret's ARN in additionalEventData.SecretId. RotationFailed: a step of the
# function failed (nothing staged, a key Customer.io rejects), so the key in use stays in use past its
# date. RotationAbandoned: a version was written while a rotation was pending (a key put or staged by
# hand), which drops AWSPENDING and ends that rotation unfinished. Either way the key is not rotated until
# someone starts a rotation again.
ROTATION_FAILURES = ("RotationFailed", "RotationAbandoned")


def rotation_failure_pattern(secret_arns: list[str]) -> str:
    return json.dumps({
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {"eventName": list(ROTATION_FAILURES), "additionalEventData": {"SecretId": sorted(secret_arns)}},
    })


def rotation_alert_input(environment: str) -> dict[str, Any]:
    """The EventTarget's input transformer: the alert as one readable sentence instead of the CloudTrail record."""
    # A JSON string template, so the topic's subscribers get text; "<" and ">" only around the variables,
    # as EventBridge cannot escape them.
    return {
        "input_paths": {"event": "$.detail.eventName", "secret": "$.detail.additionalEventData.SecretId",
                        "time": "$.time"},
        "input_template": json.dumps(  # the secret's name with KIND for its last part, as the catalog spells it
            f"Customer.io key rotation {environment}: <event> for <secret> at <time>. The key in use stays in "
            "use until a rotation succeeds. If no new key is staged, create one in Customer.io and stage it "
            f"(`golive credentials stage {_secret_name(environment, 'KIND')}`, KIND as in the secret's name); then "
            "rotate again: `aws secretsmanager rotate-secret --secret-id <secret>`."),
    }


def _rotation_alerts(name: str, environment: str, secrets: list[aws.secretsmanager.Secret],
                     topic_arn: pulumi.Input[str], child: pulumi.ResourceOptions) -> aws.cloudwatch.EventRule:
    rule = aws.cloudwatch.EventRule(
        f"{name}-rotation-failed",
        description=f"Customer.io key rotation failed or was abandoned ({environment})",
        event_pattern=pulumi.Output.all(*(s.arn for s in secrets)).apply(lambda arns: rotation_failure_pattern(arns)),
        opts=child,
    )
    aws.cloudwatch.EventTarget(
        f"{name}-rotation-failed-alert",
        rule=rule.name,
        arn=topic_arn,
        input_transformer=rotation_alert_input(environment),
        opts=child,
    )
    # The topic's policy, whole (a policy replaces the default): its account as before, CloudWatch alarms
    # of that account, and this rule.
    aws.sns.TopicPolicy(
        f"{name}-alert-topic-policy",
        arn=topic_arn,
        policy=pulumi.Output.all(topic_arn, rule.arn).apply(lambda v: alert_topic_policy(v[0], v[1])),
        opts=child,
    )
    return rule


def alert_topic_policy(topic_arn: str, rule_arn: str) -> str:
    account = topic_arn.split(":")[4] if topic_arn.count(":") >= 5 else "*"
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountOwner", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:Receive", "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes", "SNS:ListSubscriptionsByTopic", "SNS:DeleteTopic",
                        "SNS:AddPermission", "SNS:RemovePermission"],
             "Resource": topic_arn, "Condition": {"StringEquals": {"AWS:SourceOwner": account}}},
            {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": "SNS:Publish", "Resource": topic_arn,
             "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
            {"Sid": "RotationFailures", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
             "Action": "SNS:Publish", "Resource": topic_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}},
        ],
    })


def _reader_policy(secret_arn: str, readers: list[str]) -> str:
    # Deny everyone but the readers (and the account's admins via IAM), so a broad IAM grant elsewhere
    # cannot read production keys.
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadersOnly",
                    "Effect": "Allow",
                    "Principal": {"AWS": readers},
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": secret_arn,
                }
            ],
        }
    )


def _secret_name(environment: str, kind: str) -> str:
    return catalog.CREDENTIAL_SECRET_NAME.format(environment=environment, kind=kind)
