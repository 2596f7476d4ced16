"""Automatic rollback (checklist §7, Rollback Procedure): a rollback-trigger alarm sets the flag to 0.

Invoked by SNS with CloudWatch alarm notifications from the alert topic; the subscription's filter
lets through only the trigger alarms entering ALARM, and the handler checks again anyway, so a
notification of any other kind (an OK, another alarm, its own message on the topic) does nothing.

For a trigger alarm in ALARM, the handler reads the flag. At 0 it stops: the flag is already rolled
back (a second alarm, SNS delivering twice), so it writes nothing and says nothing. At a stage
whose triggers do not include the alarm's signal (the plan watches bounce rate only from 50%), it
stops too. Otherwise it writes 0, labels the version `golive-auto-rollback-v<N>.<signal>` (what
`golive rollout history` shows), and publishes to the alert topic what it did and the checklist's
follow-up steps.

The write follows golive's compare-and-set on the version (golive/operations/rollout/store.py): a rollback is
the narrowest write there is, so it always stands; when another write came between the read and
the write and that write was itself a 0, this invocation was a duplicate and publishes nothing. A
failed AWS call raises, and Lambda's retry of the asynchronous invocation tries again.

Environment: FLAG_PARAMETER (the flag's name), ALERT_TOPIC_ARN, ENVIRONMENT, TRIGGER_ALARMS (JSON
alarm name -> signal), TRIGGERS (JSON stage -> signals that roll it back), STAGES (JSON list),
ROLLBACK_STEPS (JSON list), AWS_ENDPOINT_URL (tests). Only boto3: the function's zip holds this file.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BOTO_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
ACTION = "auto-rollback"


def _settings() -> dict[str, Any]:
    env = os.environ
    return {
        "flag": env["FLAG_PARAMETER"],
        "topic": env["ALERT_TOPIC_ARN"],
        "environment": env.get("ENVIRONMENT", ""),
        "alarms": json.loads(env.get("TRIGGER_ALARMS") or "{}"),
        "triggers": json.loads(env.get("TRIGGERS") or "{}"),
        "stages": json.loads(env.get("STAGES") or '["0", "internal", "10", "50", "100"]'),
        "steps": json.loads(env.get("ROLLBACK_STEPS") or "[]"),
    }


def _client(service: str) -> Any:
    return boto3.client(service, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None, config=BOTO_CONFIG)


def _alarm(record: dict[str, Any]) -> dict[str, Any] | None:
    """The CloudWatch alarm notification in an SNS record, or None for any other message."""
    try:
        message = json.loads(record["Sns"]["Message"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("AlarmName"), str):
        return None
    return message


def _put_zero(ssm: Any, name: str, zero: str) -> int:
    try:
        return int(ssm.put_parameter(Name=name, Value=zero, Overwrite=True)["Version"])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ParameterMaxVersionLimitExceeded":
            raise
    # SSM keeps 100 versions and will not drop a labelled oldest one: free it, then write.
    oldest = ssm.get_parameter_history(Name=name, MaxResults=1)["Parameters"][0]
    ssm.unlabel_parameter_version(Name=name, ParameterVersion=oldest["Version"], Labels=oldest.get("Labels") or [])
    return int(ssm.put_parameter(Name=name, Value=zero, Overwrite=True)["Version"])


def _label(ssm: Any, name: str, version: int, signal: str) -> None:
    try:
        ssm.label_parameter_version(Name=name, ParameterVersion=version,
                                    Labels=[f"golive-{ACTION}-v{version}.{signal}"])
    except ClientError as err:
        # The rollback stands either way; only `golive rollout history` loses the reason.
        print(f"version {version} not labelled: {err.response.get('Error', {}).get('Code')}")


def _earlier_zero(ssm: Any, name: str, after: int, before: int, zero: str) -> bool:
    """Whether a version between `after` and `before` (exclusive) already set the flag to 0."""
    for version in range(after + 1, before):
        try:
            if ssm.get_parameter(Name=f"{name}:{version}")["Parameter"]["Value"] == zero:
                return True
        except ClientError:
            continue
    return False


def _message(cfg: dict[str, Any], alarm: dict[str, Any], signal: str, before: str, version: int) -> tuple[str, str]:
    environment = cfg["environment"] or "?"
    subject = f"Customer.io {environment}: rollout rolled back to 0 ({signal})"[:100]
    steps = "\n".join(f"  {n}. {step}{' [done]' if n == 1 else ''}" for n, step in enumerate(cfg["steps"], 1))
    body = (f"The rollback-trigger alarm '{alarm.get('AlarmName')}' ({signal}) went to ALARM at "
            f"{alarm.get('StateChangeTime', 'an unknown time')}: {alarm.get('NewStateReason', 'no reason given')}\n\n"
            f"The rollout flag {cfg['flag']} was at {before}; it is now 0 (version {version}), so no user is "
            "sent through Customer.io.\n\n"
            f"Follow-up (checklist §7, Rollback Procedure):\n{steps}\n\n"
            f"`golive rollout history --stack <stack>` shows the flag's versions; `golive rollout set <stage> "
            "--stack <stack>` resumes once the fix passed staging.")
    return subject, body


def _one(cfg: dict[str, Any], record: dict[str, Any], ssm: Any, sns: Any) -> dict[str, Any]:
    alarm = _alarm(record)
    if alarm is None:
        return {"action": "ignored", "why": "not a CloudWatch alarm notification"}
    name = alarm["AlarmName"]
    if alarm.get("NewStateValue") != "ALARM":
        return {"action": "ignored", "alarm": name, "why": f"state {alarm.get('NewStateValue')}, not ALARM"}
    signal = cfg["alarms"].get(name)
    if signal is None:
        return {"action": "ignored", "alarm": name, "why": "not a rollback-trigger alarm"}
    flag, zero = cfg["flag"], cfg["stages"][0]
    head = ssm.get_parameter(Name=flag)["Parameter"]
    value, base = str(head["Value"]), int(head["Version"])
    if value == zero:
        return {"action": "none", "alarm": name, "signal": signal, "why": "the flag is already at 0"}
    if value in cfg["stages"] and signal not in cfg["triggers"].get(value, []):
        return {"action": "ignored", "alarm": name, "signal": signal,
                "why": f"{signal} is not a rollback trigger at stage {value}"}
    version = _put_zero(ssm, flag, zero)
    _label(ssm, flag, version, signal)
    if version != base + 1 and _earlier_zero(ssm, flag, base, version, zero):
        return {"action": "none", "alarm": name, "signal": signal, "version": version,
                "why": "another rollback set 0 first"}
    subject, body = _message(cfg, alarm, signal, value, version)
    sns.publish(TopicArn=cfg["topic"], Subject=subject, Message=body)
    print(f"rolled back {flag}: {value} -> 0 (version {version}) on {name} ({signal})")
    return {"action": "rolled-back", "alarm": name, "signal": signal, "from": value, "version": version}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = _settings()
    ssm, sns = _client("ssm"), _client("sns")
    results = [_one(cfg, record, ssm, sns) for record in event.get("Records") or []]
    for result in results:
        if result["action"] != "rolled-back":
            print(json.dumps(result))
    return {"results": results}
