"""RotationFunction: the Lambda that Secrets Manager calls to rotate Customer.io keys."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from checklist import catalog

from ._lambda import execution_role, python_function

HANDLER_DIR = Path(__file__).resolve().parent / "lambdas" / "rotation"


class RotationFunction(pulumi.ComponentResource):
    def __init__(self, name: str, environment: str, alert_topic_arn: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:credentials:RotationFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = execution_role(name, child)
        secrets = catalog.CREDENTIAL_SECRET_NAME.format(environment=environment, kind="*")  # this environment's
        aws.iam.RolePolicy(
            f"{name}-access", role=role.id,
            policy=pulumi.Output.from_input(alert_topic_arn).apply(lambda topic: json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Resource": "*", "Action": [
                        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
                     "Condition": {"StringLike": {"secretsmanager:SecretId": "*" + secrets}}},
                    {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
                ],
            })),
            opts=child,
        )
        self.function = python_function(name, HANDLER_DIR, role, child, timeout=60,
                                        variables={"ALERT_TOPIC_ARN": alert_topic_arn})
        self.permission = aws.lambda_.Permission(
            f"{name}-invoke", action="lambda:InvokeFunction", function=self.function.name,
            principal="secretsmanager.amazonaws.com", opts=child,
        )
        self.register_outputs({"functionArn": self.function.arn})
