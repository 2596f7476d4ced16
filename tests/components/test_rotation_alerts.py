"""A failed or abandoned rotation reaches the alert topic: an EventBridge rule on Secrets Manager's
CloudTrail service events for this environment's credential secrets, a target on the topic, and a
topic policy that lets only that rule (and the account's alarms) publish."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from components.credential_secrets import alert_topic_policy, rotation_alert_input, rotation_failure_pattern
from golive.preview.program import run_program

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:customerio/production/{}-AbCdEf"
ARNS = [ARN.format(kind) for kind in ("site-id", "track-api-key", "app-api-key")]


@pytest.fixture(scope="module")
def graph():
    return run_program(ROOT, "production")


def of_type(graph, token):
    return [r for r in graph.resources if r.type == token]


def test_rule_target_and_policy_are_linked_to_the_secrets_and_the_topic(graph):
    [rule] = of_type(graph, "aws:cloudwatch/eventRule:EventRule")
    [target] = of_type(graph, "aws:cloudwatch/eventTarget:EventTarget")
    [policy] = of_type(graph, "aws:sns/topicPolicy:TopicPolicy")
    [topic] = of_type(graph, "aws:sns/topic:Topic")
    secrets = {r.urn for r in of_type(graph, "aws:secretsmanager/secret:Secret")}
    assert set(rule.property_dependencies["eventPattern"]) == secrets  # unknown ARNs at a first preview
    assert target.property_dependencies["arn"] == [topic.urn]
    assert target.property_dependencies["rule"] == [rule.urn]
    assert set(policy.property_dependencies["policy"]) == {topic.urn, rule.urn}
    component = next(r for r in graph.resources if r.type == "golive:credentials:CustomerIoCredentials")
    assert {rule.parent, target.parent, policy.parent} == {component.urn}
    transformer = rotation_alert_input("production")
    assert target.inputs["inputTransformer"] == {"inputPaths": transformer["input_paths"],
                                                 "inputTemplate": transformer["input_template"]}


@pytest.mark.parametrize(("name", "secret", "matches"), [
    ("RotationFailed", ARNS[1], True),
    ("RotationAbandoned", ARNS[0], True),
    ("RotationSucceeded", ARNS[1], False),
    ("RotationFailed", ARN.format("other").replace("customerio/production", "billing/production"), False),
])
def test_the_pattern_matches_failures_of_these_secrets_only(aws, name, secret, matches):
    """Through EventBridge in moto: the rule forwards matching events to a queue standing in for the topic."""
    events = boto3.client("events", endpoint_url=aws, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=aws, region_name="us-east-1")
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="rotation-failed", EventPattern=rotation_failure_pattern(ARNS))
    events.put_targets(Rule="rotation-failed", Targets=[{"Id": "alerts", "Arn": queue_arn}])
    events.put_events(Entries=[{
        "Source": "aws.secretsmanager", "DetailType": "AWS Service Event via CloudTrail",
        "Detail": json.dumps({"eventName": name, "eventSource": "secretsmanager.amazonaws.com",
                              "additionalEventData": {"SecretId": secret}}),
    }])
    received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", [])
    assert bool(received) is matches


def test_the_alert_reads_as_a_sentence_naming_the_event_and_the_secret(aws):
    """The target's input transformer, applied by EventBridge (moto) to a RotationFailed record."""
    events = boto3.client("events", endpoint_url=aws, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=aws, region_name="us-east-1")
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    transformer = rotation_alert_input("production")
    events.put_rule(Name="rotation-failed", EventPattern=rotation_failure_pattern(ARNS))
    events.put_targets(Rule="rotation-failed", Targets=[{"Id": "alerts", "Arn": queue_arn, "InputTransformer": {
        "InputPathsMap": transformer["input_paths"], "InputTemplate": transformer["input_template"]}}])
    events.put_events(Entries=[{
        "Source": "aws.secretsmanager", "DetailType": "AWS Service Event via CloudTrail",
        "Detail": json.dumps({"eventName": "RotationFailed", "eventSource": "secretsmanager.amazonaws.com",
                              "additionalEventData": {"SecretId": ARNS[2]}}),
    }])
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)["Messages"]
    text = json.loads(message["Body"])
    assert isinstance(text, str)
    assert text.startswith(f"Customer.io key rotation production: RotationFailed for {ARNS[2]} at ")
    assert f"--secret-id {ARNS[2]}" in text and "<" not in text


def test_the_topic_policy_lets_only_the_rule_and_the_accounts_alarms_publish():
    topic = "arn:aws:sns:us-east-1:123456789012:customerio-alerts-1a2b3c"
    rule = "arn:aws:events:us-east-1:123456789012:rule/customerio-rotation-failed-9f8e7d"
    statements = {s["Sid"]: s for s in json.loads(alert_topic_policy(topic, rule))["Statement"]}
    assert statements["RotationFailures"]["Principal"] == {"Service": "events.amazonaws.com"}
    assert statements["RotationFailures"]["Condition"] == {"ArnEquals": {"aws:SourceArn": rule}}
    assert statements["CloudWatchAlarms"]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert statements["AccountOwner"]["Condition"] == {"StringEquals": {"AWS:SourceOwner": "123456789012"}}
    assert all(s["Resource"] == topic for s in statements.values())
