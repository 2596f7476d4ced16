"""CustomerIoCredentials: one Secrets Manager secret per Customer.io credential, rotated every 90 days."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ._checklist import catalog
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
                name=f"customerio/{args.environment}/{kind}",
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

        self.register_outputs({"secretArns": {kind: s.arn for kind, s in self.secrets.items()}})


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
