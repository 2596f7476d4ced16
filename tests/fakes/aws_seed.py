"""What `pulumi up` leaves in AWS for the production stack, seeded into moto with boto3.

Three credential secrets per environment with a rotation Lambda, the seven signal alarms with their
metric math, the alert topic with a confirmed subscription, the rollout flag; plus what an audit must
ignore (staging's looser alarm, an unrelated alarm). Shared by the audit's tests and `make bench`.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from dataclasses import dataclass, replace
from typing import Any

import boto3
import requests

from checklist import catalog
from golive.operations.audit.target import AuditTarget, Endpoints

REGION = "us-east-1"
ENV = "production"
NAMESPACE = "Customer.io/Integration"
PROD = {"site-id": "prodsite-7c1e94d2a05b", "track-api-key": "prodtrack-3f9a0c6e81d2b754",
        "app-api-key": "prodapp-b5d08e2c4a9f1367"}
STAGING = {"site-id": "stgsite-0a4f7e2b9c63", "track-api-key": "stgtrack-e71c5b3a0d9f2648",
           "app-api-key": "stgapp-92c4e0f7b1a58d36"}
VALUES = (*PROD.values(), *STAGING.values())
RATES = {"api_error_rate": ("ApiErrors", "ApiRequests"), "bounce_rate": ("EmailBounced", "EmailSent"),
         "complaint_rate": ("EmailSpammed", "EmailDelivered"), "delivery_rate": ("EmailDelivered", "EmailSent"),
         "webhook_error_rate": ("WebhookErrors", "WebhookReceived")}
GAUGES = {"api_p99_latency_ms": ("ApiLatency", "p99", "Milliseconds"),
          "queue_depth": ("QueueDepth", "Maximum", "Count")}
KINDS = catalog.CREDENTIAL_KINDS
EVERY_LINE = {
    *(f"{kind} {what}" for kind in KINDS
      for what in ("secret", "rotation schedule", "key age", "rotation progress", "differs from staging")),
    *(f"alarm {signal}" for signal in catalog.SIGNALS), "alert topic", "rollout flag",
}


@functools.cache
def client(url: str, service: str) -> Any:
    """The tests' own clients, made once per endpoint and service (the tests run one at a time)."""
    return boto3.client(service, endpoint_url=url, region_name=REGION)


@dataclass
class Seed:
    url: str
    arns: dict[str, str]
    topic: str
    function_arn: str
    subscription: str

    def client(self, service: str) -> Any:
        return client(self.url, service)

    def target(self, **changes: Any) -> AuditTarget:
        base = AuditTarget(
            stack="production", environment=ENV, production=True, region="us", domain="example.com",
            subdomain="cio123.example.com", dkim_selector="krs", dkim_public_key=None, dmarc_policy=None,
            dmarc_rua=(), link_tracking_host=None, thresholds={}, secret_ids=dict(self.arns),
            compare_environments=("staging",), alert_topic_arn=self.topic,
            rollout_parameter=f"/customerio/{ENV}/rollout", postal_address=None,
            endpoints=Endpoints(aws_url=self.url, aws_region=REGION, timeout=2.0),
        )
        return replace(base, **changes)

    def put_alarm(self, signal: str, threshold: float | None = None, operator: str | None = None,
                  environment: str = ENV, **extra: Any) -> None:
        """One alarm the way DeliveryAlarms creates it (pulumi's auto-name, tags, metric math for rates)."""
        spec = catalog.SIGNALS[signal]
        above = spec.direction == "above"
        dimensions = [{"Name": "Environment", "Value": environment}]
        args: dict[str, Any] = dict(
            AlarmName=f"cio-{environment}-{signal}-a1b2c3d", EvaluationPeriods=2,
            ComparisonOperator=operator or ("GreaterThanThreshold" if above else "LessThanThreshold"),
            Threshold=spec.threshold if threshold is None else threshold,
            AlarmActions=[self.topic], OKActions=[self.topic], ActionsEnabled=True,
            AlarmDescription=f"Customer.io {environment}: {spec.meaning} (checklist §5)",
            Tags=[{"Key": catalog.SIGNAL_TAG, "Value": signal}, {"Key": "environment", "Value": environment}],
        )
        if signal in RATES:
            numerator, denominator = RATES[signal]
            args["Metrics"] = [
                *({"Id": qid, "ReturnData": False, "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                    "Period": 300, "Stat": "Sum", "Unit": "Count"}}
                  for qid, metric in (("num", numerator), ("den", denominator))),
                {"Id": "rate", "Label": signal, "ReturnData": True,
                 "Expression": "IF(den > 0, num / den, 0)" if above else "IF(den > 0, num / den, 1)"},
            ]
            args["TreatMissingData"] = "notBreaching"
        else:
            metric, statistic, unit = GAUGES[signal]
            stat = {"ExtendedStatistic": statistic} if statistic.startswith("p") else {"Statistic": statistic}
            args.update(Namespace=NAMESPACE, MetricName=metric, Dimensions=dimensions, Period=300, Unit=unit,
                        TreatMissingData="missing", **stat)
        args.update(extra)
        self.client("cloudwatch").put_metric_alarm(**args)

    def alarm_name(self, signal: str) -> str:
        return f"cio-{ENV}-{signal}-a1b2c3d"

    def drop_pending(self, secret_id: str) -> None:
        sm = self.client("secretsmanager")
        for version, stages in sm.describe_secret(SecretId=secret_id)["VersionIdsToStages"].items():
            if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
                sm.update_secret_version_stage(SecretId=secret_id, VersionStage="AWSPENDING",
                                               RemoveFromVersionId=version)

    def drop_value(self, kind: str) -> None:
        """Leave the secret with no current value, as `pulumi up` leaves it before `golive credentials put`.

        moto cannot attach rotation to a secret created without a value (its rotate_secret fails). An
        immediate rotation whose Lambda does not run creates the valueless AWSPENDING version AWS creates;
        AWSCURRENT is then moved onto it, as a finishSecret would after a createSecret that never wrote."""
        sm, arn = self.client("secretsmanager"), self.arns[kind]
        versions = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        current = next(v for v, s in versions.items() if "AWSCURRENT" in s)
        sm.rotate_secret(SecretId=arn, RotationLambdaARN=self.function_arn,
                         RotationRules={"AutomaticallyAfterDays": 90}, RotateImmediately=True)
        pending = next(v for v, s in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].items()
                       if "AWSPENDING" in s)
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=pending,
                                       RemoveFromVersionId=current)
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=pending)

    def rotate(self, secret_id: str, days: int = catalog.MAX_ROTATION_DAYS) -> None:
        self.client("secretsmanager").rotate_secret(
            SecretId=secret_id, RotationLambdaARN=self.function_arn,
            RotationRules={"AutomaticallyAfterDays": days}, RotateImmediately=False)
        # AWS removes the version its configuration test creates; moto leaves it (see the module doc).
        self.drop_pending(secret_id)


def stub_rotation_function(iam: Any, lam: Any) -> str:
    """A rotation Lambda for Secrets Manager to name; moto never runs it (see `seed`)."""
    role = iam.create_role(RoleName="customerio-rotation", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    pass\n")
    return lam.create_function(FunctionName="customerio-rotation", Runtime="python3.12",
                               Role=role["Role"]["Arn"], Handler="handler.handler",
                               Code={"ZipFile": archive.getvalue()})["FunctionArn"]


def seed(url: str) -> Seed:
    # With a rotation Lambda registered, moto would run it in docker; this keeps it from running.
    requests.post(f"{url}/moto-api/config", json={"batch": {}, "lambda": {"use_docker": False}}, timeout=5)
    iam, lam, sm, sns, sqs, kms, ssm = (client(url, s) for s in ("iam", "lambda", "secretsmanager", "sns", "sqs",
                                                            "kms", "ssm"))
    function_arn = stub_rotation_function(iam, lam)
    key = kms.create_key(Description="Customer.io credentials (production)")["KeyMetadata"]["Arn"]
    topic = sns.create_topic(Name="cio-alerts-5e6f7a8")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="oncall")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    arns = {}
    for environment, values in ((ENV, PROD), ("staging", STAGING)):
        for kind, value in values.items():
            arn = sm.create_secret(
                Name=f"customerio/{environment}/{kind}", SecretString=value, KmsKeyId=key,
                Tags=[{"Key": catalog.CREDENTIAL_TAG, "Value": kind}, {"Key": catalog.REGION_TAG, "Value": "us"},
                      {"Key": "environment", "Value": environment}])["ARN"]
            if environment == ENV:
                arns[kind] = arn
    seeded = Seed(url, arns, topic, function_arn, subscription)
    for arn in arns.values():
        seeded.rotate(arn)
    for signal in catalog.SIGNALS:
        seeded.put_alarm(signal)
    # What the audit must not take for production's: staging's looser alarm and an unrelated one.
    seeded.put_alarm("bounce_rate", 0.5, environment="staging")
    seeded.client("cloudwatch").put_metric_alarm(
        AlarmName="web-cpu", Namespace="AWS/EC2", MetricName="CPUUtilization", Statistic="Average", Period=300,
        EvaluationPeriods=1, Threshold=80, ComparisonOperator="GreaterThanThreshold")
    ssm.put_parameter(Name=f"/customerio/{ENV}/rollout", Value="0", Type="String",
                      Tags=[{"Key": catalog.ROLLOUT_FLAG_TAG, "Value": "true"}])
    return seeded
