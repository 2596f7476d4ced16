"""The execution role every function of ours starts from: Lambda may assume it, and it may write logs.
Each component then grants its function exactly the further actions it needs."""

from __future__ import annotations

import json

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
