"""What every function of ours is built from: an execution role Lambda may assume and that may write
logs (each component then grants exactly the further actions its function needs), and a Python
function whose code is one folder of ours with `handler.handler` as its entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws


def execution_role(name: str, opts: pulumi.ResourceOptions) -> aws.iam.Role:
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": "lambda.amazonaws.com"}}],
        }),
        opts=opts,
    )
    aws.iam.RolePolicyAttachment(
        f"{name}-logs", role=role.name,
        policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", opts=opts,
    )
    return role


def python_function(name: str, code: Path, role: aws.iam.Role, opts: pulumi.ResourceOptions, *, timeout: int,
                    variables: dict[str, pulumi.Input[str]], memory_size: int | None = None) -> aws.lambda_.Function:
    return aws.lambda_.Function(
        f"{name}-fn",
        runtime="python3.12",
        handler="handler.handler",
        role=role.arn,
        timeout=timeout,
        memory_size=memory_size,
        code=pulumi.FileArchive(str(code)),
        environment={"variables": variables},
        opts=opts,
    )
