"""AutoRollback: the handler invoked as SNS invokes it, against moto in server mode; the component as
the repository's program creates it, run offline.

The events are what CloudWatch publishes to the alert topic for an alarm (the JSON message SNS wraps
in a record). What the handler publishes is read back from the SQS queue subscribed to the topic, as
the people on call would read it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from checklist import catalog
from golive import cli
from golive.preview.program import ProgramError, run_program
from tests.fakes.aws_seed import ENV, REGION, Seed, seed

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "components" / "lambdas" / "auto_rollback" / "handler.py"
FLAG = f"/customerio/{ENV}/rollout"


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    """The handler as Lambda loads it: a lone file, importable without the repository."""
    spec = importlib.util.spec_from_file_location("golive_auto_rollback_handler", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def seeded(aws: str, monkeypatch: pytest.MonkeyPatch) -> Seed:
    world = seed(aws)
    alarms = {world.alarm_name(s): s for s in ("api_error_rate", "bounce_rate")}
    for key, value in {
        "FLAG_PARAMETER": FLAG, "ALERT_TOPIC_ARN": world.topic, "ENVIRONMENT": ENV, "AWS_ENDPOINT_URL": aws,
        "TRIGGER_ALARMS": json.dumps(alarms), "TRIGGERS": json.dumps(catalog.ROLLOUT_TRIGGERS),
        "STAGES": json.dumps(catalog.ROLLOUT_STAGES), "ROLLBACK_STEPS": json.dumps(catalog.ROLLBACK_STEPS),
    }.items():
        monkeypatch.setenv(key, value)
    return world


def notification(world: Seed, signal: str, state: str = "ALARM", old: str = "OK") -> dict[str, Any]:
    """An SNS event carrying CloudWatch's alarm notification, as Lambda receives it."""
    name = world.alarm_name(signal)
    message = {
        "AlarmName": name, "AlarmDescription": f"Customer.io {ENV}: {signal} (checklist §5)",
        "AWSAccountId": "123456789012", "NewStateValue": state, "OldStateValue": old,
        "NewStateReason": "Threshold Crossed: 2 out of the last 2 datapoints [0.034 (28/11/26 10:05:00)] were greater "
                          "than the threshold (0.01).",
        "StateChangeTime": "2026-11-28T10:10:21.123+0000", "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{name}",
        "AlarmActions": [world.topic], "OKActions": [world.topic], "InsufficientDataActions": [],
        "Trigger": {"Period": 300, "EvaluationPeriods": 2, "ComparisonOperator": "GreaterThanThreshold",
                    "Threshold": catalog.SIGNALS[signal].threshold, "TreatMissingData": "notBreaching"},
    }
    return record(world, json.dumps(message), subject=f'{state}: "{name}" in US East (N. Virginia)')


def record(world: Seed, message: str, subject: str | None = None) -> dict[str, Any]:
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
        "Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "TopicArn": world.topic,
        "Subject": subject, "Message": message, "Timestamp": "2026-11-28T10:10:21.200Z"}}]}


def put(world: Seed, value: str) -> int:
    return int(world.client("ssm").put_parameter(Name=FLAG, Value=value, Overwrite=True)["Version"])


def flag(world: Seed) -> tuple[str, int]:
    found = world.client("ssm").get_parameter(Name=FLAG)["Parameter"]
    return found["Value"], int(found["Version"])


def published(world: Seed) -> list[dict[str, Any]]:
    """The notifications the on-call queue got from the alert topic since the last call."""
    sqs = world.client("sqs")
    url = sqs.get_queue_url(QueueName="oncall")["QueueUrl"]
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


# --- the handler ----------------------------------------------------------------------------------------


def test_an_error_rate_alarm_rolls_back_and_tells_the_alert_topic(handler, seeded):
    put(seeded, "10")
    answer = handler.handler(notification(seeded, "api_error_rate"), None)
    assert answer["results"] == [{"action": "rolled-back", "alarm": seeded.alarm_name("api_error_rate"),
                                  "signal": "api_error_rate", "from": "10", "version": 3}]
    assert flag(seeded) == ("0", 3)
    [history] = [v for v in seeded.client("ssm").get_parameter_history(Name=FLAG)["Parameters"] if v["Version"] == 3]
    assert history["Labels"] == ["golive-auto-rollback-v3.api_error_rate"]
    [sent] = published(seeded)
    assert sent["Subject"] == "Customer.io production: rollout rolled back to 0 (api_error_rate)"
    body = sent["Message"]
    assert seeded.alarm_name("api_error_rate") in body and "Threshold Crossed" in body
    assert f"{FLAG} was at 10; it is now 0 (version 3)" in body
    for number, step in enumerate(catalog.ROLLBACK_STEPS, 1):
        assert f"{number}. {step}" in body


def test_it_is_idempotent(handler, seeded):
    put(seeded, "50")
    event = notification(seeded, "bounce_rate")
    assert handler.handler(event, None)["results"][0]["action"] == "rolled-back"
    assert len(published(seeded)) == 1
    version = flag(seeded)[1]
    # SNS delivering twice, the second trigger alarm firing: the flag is at 0 already, nothing more happens.
    for again in (event, notification(seeded, "api_error_rate")):
        [result] = handler.handler(again, None)["results"]
        assert result["action"] == "none" and result["why"] == "the flag is already at 0"
    assert flag(seeded) == ("0", version) and published(seeded) == []


@pytest.mark.parametrize(("stage", "signal", "state", "why"), [
    ("50", "queue_depth", "ALARM", "not a rollback-trigger alarm"),
    ("50", "complaint_rate", "ALARM", "not a rollback-trigger alarm"),
    ("50", "api_error_rate", "OK", "state OK, not ALARM"),
    ("50", "api_error_rate", "INSUFFICIENT_DATA", "state INSUFFICIENT_DATA, not ALARM"),
    ("10", "bounce_rate", "ALARM", "bounce_rate is not a rollback trigger at stage 10"),  # from 50% on, per the plan
    ("internal", "api_error_rate", "ALARM", "api_error_rate is not a rollback trigger at stage internal"),
])
def test_other_notifications_change_nothing(handler, seeded, stage, signal, state, why):
    version = put(seeded, stage)
    [result] = handler.handler(notification(seeded, signal, state), None)["results"]
    assert result["action"] == "ignored" and result["why"] == why
    assert flag(seeded) == (stage, version) and published(seeded) == []


@pytest.mark.parametrize("message", ["Customer.io production: rollout rolled back to 0", "", "[]", '{"x": 1}'])
def test_a_message_that_is_not_an_alarm_is_ignored(handler, seeded, message):
    version = put(seeded, "100")
    [result] = handler.handler(record(seeded, message), None)["results"]
    assert result == {"action": "ignored", "why": "not a CloudWatch alarm notification"}
    assert flag(seeded) == ("100", version)


def test_a_flag_holding_no_stage_is_rolled_back(handler, seeded):
    put(seeded, "75")
    assert handler.handler(notification(seeded, "bounce_rate"), None)["results"][0]["action"] == "rolled-back"
    assert flag(seeded)[0] == "0"


def test_two_invocations_racing_notify_once(handler, seeded):
    put(seeded, "100")
    ssm = handler._client("ssm")
    first = []

    def other_invocation_first(**_: Any) -> None:
        if not first:  # the second alarm's invocation lands between this one's read and its write
            first.append(handler.handler(notification(seeded, "bounce_rate"), None))

    ssm.meta.events.register("before-call.ssm.PutParameter", other_invocation_first)
    sns = handler._client("sns")
    cfg = handler._settings()
    result = handler._one(cfg, notification(seeded, "api_error_rate")["Records"][0], ssm, sns)
    assert first[0]["results"][0]["action"] == "rolled-back"
    assert result["action"] == "none" and result["why"] == "another rollback set 0 first"
    assert flag(seeded) == ("0", 4) and len(published(seeded)) == 1


def test_history_shows_the_automatic_rollback(handler, seeded, capsys):
    put(seeded, "50")
    handler.handler(notification(seeded, "bounce_rate"), None)
    capsys.readouterr()  # the handler's log line
    code = cli.main(["rollout", "history", "--stack", "production", "--program-dir", str(ROOT),
                     "--aws-endpoint", seeded.url, "--aws-region", REGION, "--format", "json"])
    rows = json.loads(capsys.readouterr().out)["versions"]
    assert code == 0
    assert (rows[-1]["from"], rows[-1]["to"], rows[-1]["what"]) == ("50", "0", "auto-rollback: bounce_rate")


def test_a_flag_at_ssms_version_limit_still_rolls_back(handler, seeded):
    ssm = seeded.client("ssm")
    ssm.label_parameter_version(Name=FLAG, ParameterVersion=1, Labels=["golive-set-v1"])
    for _ in range(99):
        put(seeded, "10")
    assert handler.handler(notification(seeded, "api_error_rate"), None)["results"][0]["action"] == "rolled-back"
    assert flag(seeded) == ("0", 101)


# --- the component ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def production():
    return run_program(ROOT, "production")


def _one(graph: Any, type_: str) -> Any:
    [found] = [r for r in graph.resources if r.type == type_ and "AutoRollback" in r.urn]
    return found


def test_the_function_is_subscribed_to_the_trigger_alarms_on_the_alert_topic(production):
    [component] = [r for r in production.resources if r.type == "golive:rollout:AutoRollback"]
    subscription = _one(production, "aws:sns/topicSubscription:TopicSubscription")
    assert subscription.parent == component.urn
    assert subscription.inputs["protocol"] == "lambda" and subscription.inputs["filterPolicyScope"] == "MessageBody"
    [topic] = subscription.property_dependencies["topic"]
    assert topic.endswith("aws:sns/topic:Topic::customerio-alerts")
    alarms = sorted(urn.rsplit("::", 1)[1] for urn in subscription.property_dependencies["filterPolicy"])
    assert alarms == ["customerio-api_error_rate", "customerio-bounce_rate"]
    permission = _one(production, "aws:lambda/permission:Permission")
    assert permission.inputs["principal"] == "sns.amazonaws.com"
    assert permission.property_dependencies["sourceArn"] == [topic]


def test_the_function_knows_the_plan_and_the_flag(production):
    function = _one(production, "aws:lambda/function:Function")
    env = function.inputs["environment"]["variables"]
    assert env["FLAG_PARAMETER"] == FLAG and env["ENVIRONMENT"] == ENV
    assert json.loads(env["TRIGGERS"]) == {k: list(v) for k, v in catalog.ROLLOUT_TRIGGERS.items()}
    assert json.loads(env["STAGES"]) == list(catalog.ROLLOUT_STAGES)
    assert json.loads(env["ROLLBACK_STEPS"]) == list(catalog.ROLLBACK_STEPS)
    assert function.inputs["runtime"] == "python3.12" and function.inputs["handler"] == "handler.handler"
    assert (HANDLER.parent / "handler.py").is_file()


def test_the_role_reaches_only_the_flag_and_the_topic(production):
    policy = _one(production, "aws:iam/rolePolicy:RolePolicy")
    linked = sorted(urn.rsplit("::", 1)[1] for urn in policy.property_dependencies["policy"])
    assert linked == ["customerio-alerts", "customerio-flag"]
    source = (ROOT / "components" / "auto_rollback.py").read_text()
    assert '"Resource": arns[0]' in source and '"Resource": arns[1]' in source and '"*"' not in source


def test_stack_config_can_turn_it_off_or_change_the_triggers():
    off = run_program(ROOT, "production", config_overrides=['golive:rollout={"autoRollback": false}'])
    assert not [r for r in off.resources if "AutoRollback" in r.urn]
    wider = run_program(ROOT, "production",
                        config_overrides=['golive:rollout={"triggers": {"10": ["api_error_rate", "bounce_rate"], '
                                          '"internal": ["api_error_rate"]}}'])
    function = _one(wider, "aws:lambda/function:Function")
    triggers = json.loads(function.inputs["environment"]["variables"]["TRIGGERS"])
    assert triggers["10"] == ["api_error_rate", "bounce_rate"] and triggers["internal"] == ["api_error_rate"]


@pytest.mark.parametrize(("override", "key"), [
    ('golive:rollout={"triggers": {"10": ["open_rate"]}}', "golive:rollout.triggers.10"),
    ('golive:rollout={"dwellMinutes": {"100": 5}}', "golive:rollout.dwellMinutes.100"),
    ('golive:rollout={"autoRollback": "no"}', "golive:rollout.autoRollback"),
    ('golive:rollout=["fast"]', "golive:rollout"),
])
def test_a_malformed_rollout_plan_fails_the_preview_naming_the_key(override, key):
    with pytest.raises(ProgramError) as raised:
        run_program(ROOT, "production", config_overrides=[override])
    assert key in str(raised.value).splitlines()[0]
