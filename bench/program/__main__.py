"""25 resources: the production setup written the way a team without our components would."""

import json

import pulumi
import pulumi_aws as aws

SIGNALS = {
    "api_error_rate": ("GreaterThanThreshold", 0.01),
    "api_p99_latency_ms": ("GreaterThanThreshold", 5000),
    "bounce_rate": ("GreaterThanThreshold", 0.05),
    "complaint_rate": ("GreaterThanThreshold", 0.001),
    "delivery_rate": ("LessThanThreshold", 0.95),
    "queue_depth": ("GreaterThanThreshold", 10000),
    "webhook_error_rate": ("GreaterThanThreshold", 0.05),
}
DKIM_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuS51e5dQO3mv1zUD9sADUv7iYiHBm3mqSMQ9vllR/CwRHeXTEPSJ+s4D"
    "1bN3nlRGcJARYXFpevqyA6jW+dZZbZ8WFv4nocr6za0HzSHN4UTS4jJTm8dFK3NyoFTtxy7W+kMHY3DqJ6DhLjdcQXkCTxDFm9G5"
    "MBaD/Qa3+U7OATv9xSlonOcKwHNyp5rYDTc6LPCe+Ff5nWjZ+aEoOqgd7BduOYsFoMHbX3Du2eyI2QWi2a0yCQWkDZCm9DtYDgMw"
    "vjcx5JtKTrC7U7xhgHmwUoOeAyL/6/3Ur3hI3WbHb06konNq/Lv2CqHEOwLXgPy+AmuKt1Ses06le5K52nTUHwIDAQAB"
)

DKIM = f"k=rsa; p={DKIM_KEY}"

key = aws.kms.Key("cio-key", enable_key_rotation=True)
role = aws.iam.Role("rotation-role", assume_role_policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}],
}))
fn = aws.lambda_.Function("rotation", runtime="python3.12", handler="handler.handler", role=role.arn,
                          code=pulumi.AssetArchive({"handler.py": pulumi.StringAsset("def handler(e, c): pass\n")}))
aws.lambda_.Permission("rotation-invoke", action="lambda:InvokeFunction", function=fn.name,
                       principal="secretsmanager.amazonaws.com")
for kind in ("site-id", "track-api-key", "app-api-key"):
    secret = aws.secretsmanager.Secret(kind, name=f"customerio/production/{kind}", kms_key_id=key.arn,
                                       tags={"customerio:credential": kind, "customerio:region": "us"})
    aws.secretsmanager.SecretRotation(f"{kind}-rotation", secret_id=secret.id, rotation_lambda_arn=fn.arn,
                                      rotation_rules={"automatically_after_days": 90})
topic = aws.sns.Topic("alerts")
aws.sns.TopicSubscription("oncall", topic=topic.arn, protocol="email", endpoint="oncall@example.com")
for signal, (operator, threshold) in SIGNALS.items():
    aws.cloudwatch.MetricAlarm(signal, comparison_operator=operator, threshold=threshold, evaluation_periods=2,
                               namespace="Customer.io/Integration", metric_name=signal,
                               statistic="Maximum" if signal in ("api_p99_latency_ms", "queue_depth") else "Average",
                               period=300, alarm_actions=[topic.arn], tags={"customerio:signal": signal})
zone_id = "Z0123456789EXAMPLE"
records = {
    "mx": ("cio12345.example.com", "MX", ["10 mxa.mailgun.org", "10 mxb.mailgun.org"]),
    "spf": ("cio12345.example.com", "TXT", ["v=spf1 include:mailgun.org ~all"]),
    "dkim": ("krs._domainkey.cio12345.example.com", "TXT", [DKIM[:255] + '""' + DKIM[255:]]),
    "dmarc": ("_dmarc.example.com", "TXT", ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"]),
    "links": ("links.example.com", "CNAME", ["e.customeriomail.com"]),
}
for rid, (name, rtype, values) in records.items():
    aws.route53.Record(rid, zone_id=zone_id, name=name, type=rtype, ttl=300, records=values)
aws.ssm.Parameter("rollout", name="/customerio/production/rollout", type="String", value="0",
                  tags={"customerio:rollout-flag": "true"}, opts=pulumi.ResourceOptions(ignore_changes=["value"]))
