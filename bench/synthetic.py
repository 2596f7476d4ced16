"""A synthetic first preview of N resources: a Customer.io setup inside a large unrelated estate."""

from __future__ import annotations

from golive.preview.graph import ResourceGraph, ResourceNode, SourcePosition

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STACK, PROJECT = "production", "estate"


def _urn(typ: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{typ}::{name}"


def _node(typ: str, name: str, inputs: dict, deps: dict[str, list[str]] | None = None) -> ResourceNode:
    deps = deps or {}
    outputs = {**inputs, "arn": UNKNOWN, "id": UNKNOWN}
    return ResourceNode(
        urn=_urn(typ, name), type=typ, name=name, custom=True, inputs=inputs, outputs=outputs,
        parent=_urn("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}"),
        dependencies=sorted({u for urns in deps.values() for u in urns}), property_dependencies=deps,
        provider=_urn("pulumi:providers:aws", "default_7_51_1"), source=SourcePosition("__main__.py", 10),
    )


def _customerio(n: int) -> list[ResourceNode]:
    topic = _node("aws:sns/topic:Topic", f"alerts-{n}", {"name": f"alerts-{n}"})
    fn = _node("aws:lambda/function:Function", f"rotation-{n}", {"runtime": "python3.12", "handler": "h.h"})
    nodes = [topic, fn]
    for kind in ("site-id", "track-api-key", "app-api-key"):
        secret = _node("aws:secretsmanager/secret:Secret", f"{kind}-{n}", {
            "name": f"customerio/production-{n}/{kind}",
            "tags": {"customerio:credential": kind, "customerio:region": "us"},
        })
        rotation = _node("aws:secretsmanager/secretRotation:SecretRotation", f"{kind}-rotation-{n}", {
            "secretId": UNKNOWN, "rotationLambdaArn": UNKNOWN,
            "rotationRules": {"scheduleExpression": "cron(0 4 1,15 * ? *)"},
        }, {"secretId": [secret.urn], "rotationLambdaArn": [fn.urn]})
        nodes += [secret, rotation]
    for signal in ("api_error_rate", "api_p99_latency_ms", "bounce_rate", "complaint_rate", "delivery_rate",
                   "queue_depth", "webhook_error_rate"):
        below = signal == "delivery_rate"
        nodes.append(_node("aws:cloudwatch/metricAlarm:MetricAlarm", f"{signal}-{n}", {
            "comparisonOperator": "LessThanThreshold" if below else "GreaterThanThreshold",
            "threshold": 0.95 if below else 0.001, "evaluationPeriods": 1, "alarmActions": [UNKNOWN],
            "tags": {"customerio:signal": signal},
        }, {"alarmActions": [topic.urn]}))
    zone = f"Z{n:012d}"
    for rid, name, rtype, values in (
        ("mx", f"cio{n}.example.com", "MX", ["10 mxa.mailgun.org", "10 mxb.mailgun.org"]),
        ("spf", f"cio{n}.example.com", "TXT", ["v=spf1 include:mailgun.org ~all"]),
        ("dmarc", "_dmarc.example.com", "TXT", ["v=DMARC1; p=reject"]),
    ):
        nodes.append(_node("aws:route53/record:Record", f"{rid}-{n}",
                           {"zoneId": zone, "name": name, "type": rtype, "records": values, "ttl": 300}))
    nodes.append(_node("aws:ssm/parameter:Parameter", f"rollout-{n}", {
        "type": "String", "value": "10", "tags": {"customerio:rollout-flag": "true"}}))
    return nodes


def _filler(i: int) -> ResourceNode:
    kind = i % 4
    if kind == 0:
        return _node("aws:s3/bucket:Bucket", f"bucket-{i}", {
            "bucket": f"estate-bucket-{i}", "forceDestroy": False,
            "tags": {"team": f"team-{i % 17}", "cost-center": str(i % 9)},
        })
    if kind == 1:
        return _node("aws:ec2/securityGroup:SecurityGroup", f"sg-{i}", {
            "description": "web", "vpcId": UNKNOWN,
            "ingress": [{"fromPort": p, "toPort": p, "protocol": "tcp", "cidrBlocks": ["10.0.0.0/8"]}
                        for p in (80, 443)],
        })
    if kind == 2:
        return _node("aws:iam/role:Role", f"role-{i}", {
            "assumeRolePolicy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
                                '"Principal":{"Service":"lambda.amazonaws.com"}}]}',
            "tags": {"team": f"team-{i % 17}"},
        })
    return _node("aws:lambda/function:Function", f"fn-{i}", {
        "runtime": "python3.12", "handler": "app.handler", "role": UNKNOWN, "memorySize": 256,
        "environment": {"variables": {"LOG_LEVEL": "info", "TABLE": f"table-{i}", "API_URL": "https://track.customer.io"}},
    })


def synthetic_graph(resources: int) -> ResourceGraph:
    stack = ResourceNode(urn=_urn("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}"), type="pulumi:pulumi:Stack",
                         name=f"{PROJECT}-{STACK}", custom=False, inputs={}, outputs={})
    provider = ResourceNode(urn=_urn("pulumi:providers:aws", "default_7_51_1"), type="pulumi:providers:aws",
                            name="default_7_51_1", custom=True, inputs={"region": "us-east-1", "version": "7.51.1"},
                            outputs={"region": "us-east-1", "version": "7.51.1"}, id=UNKNOWN)
    nodes = [stack, provider]
    # One Customer.io setup (25 resources) per 1,000: the stack rules see real work as the estate grows.
    setups = max(1, resources // 1000)
    for n in range(setups):
        nodes += _customerio(n)
    i = 0
    while len(nodes) < resources:
        nodes.append(_filler(i))
        i += 1
    return ResourceGraph(project=PROJECT, stack=STACK, resources=nodes[:resources])
