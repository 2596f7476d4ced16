"""The audit's AWS checks: §1 credential secrets, §5 alarms and their topic, §7 the rollout flag, as deployed.

Every threshold and schedule rule is the policy pack's: what AWS describes is turned into the plain
inputs a Pulumi program would have given (`aws:cloudwatch/metricAlarm:MetricAlarm`,
`aws:secretsmanager/secret:Secret` with its rotation settings, `aws:ssm/parameter:Parameter`) and
the pack's own rule functions judge them, so `golive check` before a deploy and `golive audit`
after it cannot disagree about a number. What only exists after a deploy is checked here: values,
ages, alarm states, subscriptions.

How some things are decided:
- Alarms are the ones tagged `customerio:signal` (pulumi auto-names them). An alarm that also has
  an `environment` tag (DeliveryAlarms sets one) counts only when it names the audited
  environment, so staging's alarms in the same account do not stand in for production's.
- Stack overrides (`golive:thresholds`) may only tighten the checklist: the alarm is held to the
  checklist's limits and, separately, to the overrides; a looser override is reported as WARN and
  ignored.
- Key age: the newer of `LastRotatedDate` and the creation of the AWSCURRENT version (a key put by
  hand is as new as a rotated one), else the secret's `CreatedDate`.
- A failed rotation (Secrets Manager keeps no "failed" flag): a version labelled AWSPENDING but
  not AWSCURRENT that is older than a day. Secrets Manager creates AWSPENDING when a rotation
  starts and the rotation function removes it when the rotation finishes or Customer.io rejects
  the key (components/lambdas/rotation/handler.py); a rotation that fails because no key was staged, or
  keeps failing at testSecret, leaves it behind. A key staged with GOLIVE_STAGED over a day ago
  and not yet rotated in is a WARN: the next rotation takes it, nothing is broken yet.
- A subscription is confirmed when `ListSubscriptionsByTopic` gives it a real ARN; unconfirmed
  ones show as `PendingConfirmation`. The topic's `SubscriptionsConfirmed` count is not used: AWS
  updates it lazily and moto never does.

Credential values are read only to fingerprint them (catalog.fingerprint) and dropped at once; no
value reaches a detail, an exception text or a log (a site ID shows its first 4 characters, as the
checklist's own audit prints it). AWS errors are reported by their code only, never their message.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from checklist import catalog
from checklist.model import Resource, RuleFinding, Stack
from checklist.recognize import METRIC_ALARM, SECRET, SSM_PARAMETER
from checklist.rules import RULES, effective_config
from golive.operations.audit.aws_calls import AwsCalls, CallFailure, SessionFactory, guarded, sessions_of
from golive.operations.audit.result import AuditResult, Check, failed, mask_site_id, passed, skipped, warned
from golive.operations.audit.target import AuditTarget

__all__ = [
    "alarm_inputs",
    "checks",
    "rotation_findings",
    "secret_resource",
]

SECTION_CREDENTIALS = "§1 credentials"
SECTION_MONITORING = "§5 monitoring"
SECTION_ROLLOUT = "§7 rollout"

CURRENT, PENDING, STAGED = "AWSCURRENT", "AWSPENDING", "GOLIVE_STAGED"
STALE_AFTER = timedelta(days=1)  # a rotation step retried for longer than this is not going to finish
ENVIRONMENT_TAG = "environment"

ROTATION_POLICY = "customerio-secret-rotation"
THRESHOLDS_POLICY = "monitoring-alarm-thresholds"
ACTIONS_POLICY = "monitoring-alarm-actions"
ROLLOUT_POLICY = "rollout-flag-stage"

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- the checks ------------------------------------------------------------------------------------


def checks(target: AuditTarget, session_factory: SessionFactory | None = None, *,
           clock: Clock = _utcnow) -> list[Check]:
    """The AWS checks of the audit, one per credential kind plus alarms and the rollout flag.

    Nothing is called until a check runs; each check makes its own session from `session_factory`
    (default: the target's identity, boto3's credential chain unless a profile or role was given) and never
    raises. `clock` gives "now" for key ages.
    """
    session_factory = session_factory or sessions_of(target)
    found: list[Check] = []
    for kind in catalog.CREDENTIAL_KINDS:
        if kind not in target.secret_ids:
            continue
        name = f"{kind} secret"
        body = _bind_secret(target, session_factory, clock, kind)
        found.append(Check(name, SECTION_CREDENTIALS, guarded(name, SECTION_CREDENTIALS, body)))
    found.append(Check("alarms", SECTION_MONITORING, guarded(
        "alarms", SECTION_MONITORING, lambda out: _alarms(AwsCalls(target, session_factory()), out))))
    found.append(Check("rollout flag", SECTION_ROLLOUT, guarded(
        "rollout flag", SECTION_ROLLOUT, lambda out: _rollout(AwsCalls(target, session_factory()), out))))
    return found


def _bind_secret(target: AuditTarget, session_factory: SessionFactory, clock: Clock,
                 kind: str) -> Callable[[list[AuditResult]], None]:
    return lambda out: _secret(AwsCalls(target, session_factory()), kind, clock(), out)


# --- §1 credentials --------------------------------------------------------------------------------


def _secret(aws: AwsCalls, kind: str, now: datetime, out: list[AuditResult]) -> None:
    target = aws.target
    secret_id = target.secret_ids[kind]
    sm = aws.client("secretsmanager")
    try:
        description = aws.call(sm, "describe_secret", secret_id, SecretId=secret_id)
    except CallFailure as failure:
        if not failure.not_found:
            raise
        out.append(failed(f"{kind} secret", f"{secret_id} does not exist: run `pulumi up` with "
                          "CustomerIoCredentials, then store the key with "
                          f"`{target.credentials('put', kind)}`", SECTION_CREDENTIALS))
        return
    name = description.get("Name") or secret_id
    arn = description.get("ARN") or secret_id

    production_print = _current_value(aws, sm, kind, arn, name, out)
    out.append(_rotation_line(kind, description))
    try:
        versions = _versions(aws, sm, arn, name)
    except CallFailure as failure:
        # The age can still come from the secret's own dates; the rotation's progress cannot.
        out.append(_age_line(target, kind, name, description, [], now))
        out.append(failed(f"{kind} rotation progress", f"cannot list the versions of {failure.detail}",
                          SECTION_CREDENTIALS))
    else:
        out.append(_age_line(target, kind, name, description, versions, now))
        out.append(_progress_line(target, kind, name, versions, now))
    for environment in target.compare_environments:
        if environment != target.environment:
            out.append(_distinct_line(aws, sm, kind, name, environment, production_print))
    for environment in target.skipped_comparisons:
        fingerprints = shlex.join(["golive", "fingerprints", "--stack", environment])
        out.append(skipped(f"{kind} differs from {environment}", (
            f"not compared with {target.secret_name(environment, kind)}: --no-staging ({environment}'s keys "
            f"are out of this audit's reach, e.g. in another AWS account); golive check compares them when "
            f"the pack's nonProductionFingerprints holds {environment}'s, which `{fingerprints}` prints, run "
            f"with {environment}'s AWS credentials"), SECTION_CREDENTIALS))


def _read_print(aws: AwsCalls, sm: Any, secret_id: str, **params: Any) -> tuple[str | None, str, str]:
    """(fingerprint, first 4 characters, "") of the current string value, or (None, "", why not).
    The value itself goes nowhere: it is dropped as soon as it is fingerprinted."""
    response = aws.call(sm, "get_secret_value", secret_id, SecretId=secret_id, **params)
    value = response.pop("SecretString", None)
    binary = response.pop("SecretBinary", None)
    if value is None:
        return None, "", "binary" if binary is not None else "no value"
    if not value.strip():
        return None, "", "empty"
    return catalog.fingerprint(value), mask_site_id(value.strip()), ""


def _current_value(aws: AwsCalls, sm: Any, kind: str, arn: str, name: str, out: list[AuditResult]) -> str | None:
    line = f"{kind} secret"
    missing = (f"{name} has no current ({CURRENT}) value: store the production key with "
               f"`{aws.target.credentials('put', kind)}`")
    try:
        fingerprint, shown, why = _read_print(aws, sm, arn, VersionStage=CURRENT)
    except CallFailure as failure:
        if failure.not_found:
            out.append(failed(line, missing, SECTION_CREDENTIALS))
        else:
            out.append(failed(line, f"cannot read the value of {failure.detail}", SECTION_CREDENTIALS))
        return None
    if fingerprint is None:
        problem = missing if why == "no value" else (
            f"{name}'s current value is {why}: store the production key as a string with "
            f"`{aws.target.credentials('put', kind)}`")
        out.append(failed(line, problem, SECTION_CREDENTIALS))
        return None
    # The checklist's own audit shows a site ID's first 4 characters to confirm the workspace.
    seen = f"Site ID {shown}" if kind == "site-id" else "a value"
    out.append(passed(line, f"{name} holds {seen} in {CURRENT}", SECTION_CREDENTIALS))
    return fingerprint


def secret_resource(description: Mapping[str, Any], kind: str) -> Resource:
    """DescribeSecret's answer as the Pulumi inputs the pack's rotation rule reads.

    The rotation settings go on the secret itself, the way older providers carried them, so that the
    rule speaks of the secret's "own rotation settings" rather than of a SecretRotation resource that
    the audit never saw.
    """
    name = str(description.get("Name") or description.get("ARN") or "secret")
    tags = {t.get("Key"): t.get("Value") for t in description.get("Tags") or []}
    # The audit knows the kind from the stack; the tag may be missing on a hand-made secret.
    tags[catalog.CREDENTIAL_TAG] = kind
    inputs: dict[str, Any] = {"name": name, "arn": description.get("ARN") or name, "tags": tags,
                              "rotationEnabled": bool(description.get("RotationEnabled"))}
    rules = {pulumi_key: description["RotationRules"][aws_key]
             for aws_key, pulumi_key in (("AutomaticallyAfterDays", "automaticallyAfterDays"),
                                         ("ScheduleExpression", "scheduleExpression"), ("Duration", "duration"))
             if (description.get("RotationRules") or {}).get(aws_key) is not None}
    if rules:
        inputs["rotationRules"] = rules
    if description.get("RotationLambdaARN"):
        inputs["rotationLambdaArn"] = description["RotationLambdaARN"]
    return Resource(SECRET, name, inputs)


def rotation_findings(description: Mapping[str, Any], kind: str) -> list[str]:
    """The pack's rotation rule over a deployed secret: its findings' messages, [] when compliant."""
    return [f.message for f in _evaluate(ROTATION_POLICY, [secret_resource(description, kind)])]


def _rotation_line(kind: str, description: Mapping[str, Any]) -> AuditResult:
    line = f"{kind} rotation schedule"
    problems = rotation_findings(description, kind)
    if problems:
        return failed(line, " ".join(problems) + " Fix it in the Pulumi program and run `pulumi up`.",
                      SECTION_CREDENTIALS)
    rules = description.get("RotationRules") or {}
    every = (f"on {rules['ScheduleExpression']}" if rules.get("ScheduleExpression")
             else f"every {rules.get('AutomaticallyAfterDays')} days")
    function = str(description.get("RotationLambdaARN", "")).rsplit(":", 1)[-1]
    return passed(line, f"rotates {every} through {function}", SECTION_CREDENTIALS)


def _versions(aws: AwsCalls, sm: Any, arn: str, name: str) -> list[dict[str, Any]]:
    return aws.pages(sm, "list_secret_version_ids", name, "Versions", SecretId=arn)


def _labelled(versions: Sequence[Mapping[str, Any]], label: str) -> list[Mapping[str, Any]]:
    return [v for v in versions if label in (v.get("VersionStages") or [])]


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _age_line(target: AuditTarget, kind: str, name: str, description: Mapping[str, Any],
              versions: Sequence[Mapping[str, Any]], now: datetime) -> AuditResult:
    line = f"{kind} key age"
    moments = [description.get("LastRotatedDate")] + [v.get("CreatedDate") for v in _labelled(versions, CURRENT)]
    known = [m for m in moments if isinstance(m, datetime)]
    since = max(known) if known else description.get("CreatedDate")
    if not isinstance(since, datetime):
        return warned(line, f"AWS gives no rotation or creation date for {name}; check it by hand",
                      SECTION_CREDENTIALS)
    age = now - since
    limit = timedelta(days=catalog.MAX_ROTATION_DAYS)
    days = max(0, round(age / timedelta(days=1)))
    if age > limit:
        return failed(line, f"the key in {name} is {days} days old (last changed {_day(since)}), past the "
                      f"checklist's {catalog.MAX_ROTATION_DAYS}-day cycle: create a new key in Customer.io, "
                      f"stage it with `{target.credentials('stage', kind)}` and rotate "
                      f"(`{_rotate(target, name)}`)", SECTION_CREDENTIALS)
    left = max(0, round((limit - age) / timedelta(days=1)))
    return passed(line, f"last changed {_day(since)} ({days} days ago); due within {left} days",
                  SECTION_CREDENTIALS)


def _rotate(target: AuditTarget, name: str) -> str:
    return target.aws("secretsmanager", "rotate-secret", "--secret-id", name)


def _progress_line(target: AuditTarget, kind: str, name: str, versions: Sequence[Mapping[str, Any]],
                   now: datetime) -> AuditResult:
    line = f"{kind} rotation progress"

    def created(version: Mapping[str, Any]) -> datetime | None:
        moment = version.get("CreatedDate")
        return moment if isinstance(moment, datetime) else None

    pending = [v for v in _labelled(versions, PENDING) if CURRENT not in v.get("VersionStages", [])]
    stuck = [v for v in pending if (created(v) or now) < now - STALE_AFTER]
    if stuck:
        since = min(created(v) or now for v in stuck)
        return failed(line, f"a rotation of {name} started {_day(since)} never finished (version "
                      f"{str(stuck[0].get('VersionId', ''))[:8]} is still {PENDING}): read the rotation "
                      "function's log; usually no new key was staged, so stage one with "
                      f"`{target.credentials('stage', kind)}` and run `{_rotate(target, name)}`",
                      SECTION_CREDENTIALS)
    staged = [v for v in _labelled(versions, STAGED) if CURRENT not in v.get("VersionStages", [])]
    waiting = [v for v in staged if (created(v) or now) < now - STALE_AFTER]
    if waiting:
        return warned(line, f"a new key was staged for {name} on {_day(created(waiting[0]) or now)} and is "
                      f"not in use yet: rotate it in with `{_rotate(target, name)}`, or remove the {STAGED} "
                      "label if it was staged by mistake", SECTION_CREDENTIALS)
    if pending:
        return passed(line, f"a rotation of {name} is under way", SECTION_CREDENTIALS)
    return passed(line, f"no unfinished rotation of {name}", SECTION_CREDENTIALS)


def _distinct_line(aws: AwsCalls, sm: Any, kind: str, name: str, environment: str,
                   production_print: str | None) -> AuditResult:
    line = f"{kind} differs from {environment}"
    target = aws.target
    other = target.secret_name(environment, kind)
    if production_print is None:
        return warned(line, f"not compared with {other}: the production value could not be read",
                      SECTION_CREDENTIALS)
    try:
        other_print, _, why = _read_print(aws, sm, other)
    except CallFailure as failure:
        why = "it does not exist or has no value" if failure.not_found else f"{failure.code}; {failure.hint}"
        return warned(line, f"not compared with {other}: {why}", SECTION_CREDENTIALS)
    if other_print is None:
        return warned(line, f"not compared with {other}: its current value is {why}", SECTION_CREDENTIALS)
    if other_print == production_print:
        return failed(line, f"{name} holds the same {kind} as {other} (equal fingerprints): create a separate "
                      f"key in the production workspace and store it with "
                      f"`{target.credentials('put', kind)}`",
                      SECTION_CREDENTIALS)
    return passed(line, f"differs from {other} (compared by fingerprint)", SECTION_CREDENTIALS)


# --- the pack's rules --------------------------------------------------------------------------------


def _evaluate(policy: str, resources: Sequence[Resource], config: Mapping[str, Any] | None = None,
              *, production: bool = True) -> list[RuleFinding]:
    # The rule itself, without rules.run's "is this a Customer.io stack" gate: an audited stack is
    # one by definition, and with every alarm missing the gate would otherwise pass it silently.
    stack = Stack(name="audit", production=production, resources=tuple(resources))
    return list(RULES[policy].check(stack, effective_config(policy, config)))


# --- §5 monitoring -----------------------------------------------------------------------------------


def _dimensions(items: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    return {d.get("Name"): d.get("Value") for d in items or []}


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for aws_key, key in (("Id", "id"), ("Expression", "expression"), ("Label", "label"),
                         ("ReturnData", "returnData"), ("Period", "period"), ("AccountId", "accountId")):
        if aws_key in query:
            converted[key] = query[aws_key]
    stat = query.get("MetricStat")
    if isinstance(stat, Mapping):
        metric = stat.get("Metric") or {}
        converted["metric"] = {
            "metricName": metric.get("MetricName"),
            "namespace": metric.get("Namespace"),
            "dimensions": _dimensions(metric.get("Dimensions")),
            "period": stat.get("Period"),
            "stat": stat.get("Stat"),
            **({"unit": stat["Unit"]} if "Unit" in stat else {}),
        }
    return converted


def alarm_inputs(alarm: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    """DescribeAlarms' MetricAlarm (PascalCase) as the inputs of `aws:cloudwatch/metricAlarm:MetricAlarm`."""
    inputs: dict[str, Any] = {"name": alarm.get("AlarmName"), "arn": alarm.get("AlarmArn"), "tags": dict(tags)}
    for aws_key, key in (
        ("ComparisonOperator", "comparisonOperator"), ("Threshold", "threshold"),
        ("ThresholdMetricId", "thresholdMetricId"), ("ActionsEnabled", "actionsEnabled"),
        ("AlarmActions", "alarmActions"), ("OKActions", "okActions"),
        ("InsufficientDataActions", "insufficientDataActions"), ("AlarmDescription", "alarmDescription"),
        ("MetricName", "metricName"), ("Namespace", "namespace"), ("Statistic", "statistic"),
        ("ExtendedStatistic", "extendedStatistic"), ("Period", "period"), ("Unit", "unit"),
        ("EvaluationPeriods", "evaluationPeriods"), ("DatapointsToAlarm", "datapointsToAlarm"),
        ("TreatMissingData", "treatMissingData"),
        ("EvaluateLowSampleCountPercentile", "evaluateLowSampleCountPercentile"),
    ):
        if alarm.get(aws_key) is not None:
            inputs[key] = alarm[aws_key]
    if alarm.get("Dimensions"):
        inputs["dimensions"] = _dimensions(alarm["Dimensions"])
    if alarm.get("Metrics"):
        inputs["metricQueries"] = [_metric_query(q) for q in alarm["Metrics"]]
    return inputs


@dataclass(frozen=True)
class _Alarm:
    signal: str
    resource: Resource
    description: Mapping[str, Any]


def _signal_alarms(aws: AwsCalls, cw: Any) -> list[_Alarm]:
    found = []
    for alarm in aws.pages(cw, "describe_alarms", "CloudWatch alarms", "MetricAlarms"):
        arn = alarm.get("AlarmArn", "")
        response = aws.call(cw, "list_tags_for_resource", f"alarm {alarm.get('AlarmName')}", ResourceARN=arn)
        tags = {t.get("Key"): t.get("Value") for t in response.get("Tags", [])}
        signal = tags.get(catalog.SIGNAL_TAG)
        if signal is None:
            continue
        environment = tags.get(ENVIRONMENT_TAG)
        if environment is not None and environment != aws.target.environment:
            continue
        resource = Resource(METRIC_ALARM, str(alarm.get("AlarmName")), alarm_inputs(alarm, tags), urn=arn)
        found.append(_Alarm(signal, resource, alarm))
    return found


def _looser_overrides(overrides: Mapping[str, float]) -> set[str]:
    """Signals whose stack override is looser than the checklist, by the pack's own threshold rule:
    an alarm set at the override, held to the checklist, fails exactly when the override is looser."""
    probes = []
    for signal, value in overrides.items():
        spec = catalog.SIGNALS.get(signal)
        if spec is None:
            continue
        operator = "GreaterThanThreshold" if spec.direction == "above" else "LessThanThreshold"
        probes.append(Resource(METRIC_ALARM, signal, {"threshold": value, "comparisonOperator": operator,
                                                      "tags": {catalog.SIGNAL_TAG: signal}}, urn=f"override:{signal}"))
    flagged = {f.urn for f in _evaluate(THRESHOLDS_POLICY, probes) if f.urn}
    return {urn.split(":", 1)[1] for urn in flagged}


def _missing_messages(findings: Sequence[RuleFinding], missing: set[str]) -> dict[str, str]:
    messages = {}
    for signal in missing:
        # The rule's stack-level finding for a signal without an alarm names the signal, then its meaning.
        messages[signal] = next((f.message for f in findings if f.urn is None and f" {signal} (" in f.message),
                                f"No CloudWatch alarm watches {signal}: add one tagged "
                                f"{catalog.SIGNAL_TAG}={signal}.")
    return messages


def _alarm_problems(alarms: Sequence[_Alarm], overrides: Mapping[str, float],
                    looser: set[str]) -> tuple[dict[str, list[str]], list[RuleFinding]]:
    """Alarm ARN -> the pack's findings about it; and the threshold rule's findings, for missing signals."""
    resources = [a.resource for a in alarms]
    problems: dict[str, list[str]] = {}
    checklist_findings = _evaluate(THRESHOLDS_POLICY, resources)
    for finding in checklist_findings:
        if finding.urn:
            problems.setdefault(finding.urn, []).append(finding.message)
    stricter = {s: v for s, v in overrides.items() if s not in looser}
    if stricter:
        by_signal = {a.resource.urn: a.signal for a in alarms}
        for finding in _evaluate(THRESHOLDS_POLICY, resources, {"thresholds": stricter}):
            if finding.urn and finding.urn not in problems:
                signal = by_signal.get(finding.urn, "")
                problems.setdefault(finding.urn, []).append(
                    f"{finding.message.rstrip('.')} (the limit is the stack's golive:thresholds.{signal} = "
                    f"{stricter.get(signal, 0):g}, stricter than the checklist).")
    for finding in _evaluate(ACTIONS_POLICY, resources):
        if finding.urn:
            problems.setdefault(finding.urn, []).append(finding.message)
    return problems, checklist_findings


def _describe_alarm(alarm: _Alarm) -> str:
    d = alarm.description
    actions = len(d.get("AlarmActions") or [])
    return (f"'{d.get('AlarmName')}' {d.get('ComparisonOperator')} {d.get('Threshold', math.nan):g}, "
            f"{actions} alarm action(s), state {d.get('StateValue', 'unknown')}")


def _firing(alarm: _Alarm) -> str | None:
    d = alarm.description
    if d.get("StateValue") != "ALARM":
        return None
    since = d.get("StateUpdatedTimestamp")
    when = f" since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if isinstance(since, datetime) else ""
    reason = str(d.get("StateReason") or "no reason given").rstrip(".")
    return (f"'{d.get('AlarmName')}' is in ALARM{when}: {reason}. Investigate before widening the rollout; "
            "the plan's rollback is to set the rollout flag to 0")


def _alarms(aws: AwsCalls, out: list[AuditResult]) -> None:
    target = aws.target
    alarms: list[_Alarm] | None = None
    try:
        cw = aws.client("cloudwatch")
        alarms = _signal_alarms(aws, cw)
    except CallFailure as failure:
        out.append(failed("alarms", f"cannot list the alarms: {failure.detail}", SECTION_MONITORING))
    if alarms is not None:
        out.extend(_alarm_lines(alarms, target.thresholds))
    topics = [target.alert_topic_arn] if target.alert_topic_arn else _alarm_topics(alarms or [])
    if not topics:
        if alarms is not None:
            out.append(failed("alert topic", "no alert topic: the stack outputs name none (alertTopicArn) and no "
                              "Customer.io alarm notifies an SNS topic; give the alarms a topic with subscribers",
                              SECTION_MONITORING))
        return
    sns = aws.client("sns")
    for topic in topics:
        out.append(_topic_line(aws, sns, topic))


def _alarm_lines(alarms: Sequence[_Alarm], overrides: Mapping[str, float]) -> list[AuditResult]:
    looser = _looser_overrides(overrides)
    problems, checklist_findings = _alarm_problems(alarms, overrides, looser)
    by_signal: dict[str, list[_Alarm]] = {}
    for alarm in alarms:
        by_signal.setdefault(alarm.signal, []).append(alarm)
    missing = _missing_messages(checklist_findings, set(catalog.SIGNALS) - set(by_signal))
    lines = []
    for signal in [*catalog.SIGNALS, *sorted(set(by_signal) - set(catalog.SIGNALS))]:
        line = f"alarm {signal}"
        if signal in missing:
            lines.append(failed(line, f"{missing[signal]} (DeliveryAlarms creates one per signal; run `pulumi up`)",
                                SECTION_MONITORING))
            continue
        faults = [m for a in by_signal[signal] for m in problems.get(a.resource.urn, [])]
        faults += [f for f in (_firing(a) for a in by_signal[signal]) if f]
        if faults:
            lines.append(failed(line, " ".join(faults), SECTION_MONITORING))
            continue
        seen = "; ".join(_describe_alarm(a) for a in by_signal[signal])
        if signal in looser:
            lines.append(warned(line, f"{seen}. The stack's golive:thresholds.{signal} = {overrides[signal]:g} is "
                                "looser than the checklist and was ignored: overrides may only tighten it",
                                SECTION_MONITORING))
        else:
            lines.append(passed(line, seen, SECTION_MONITORING))
    return lines


def _alarm_topics(alarms: Sequence[_Alarm]) -> list[str]:
    topics = {arn for a in alarms for arn in a.description.get("AlarmActions") or []
              if isinstance(arn, str) and arn.count(":") >= 5 and arn.split(":")[2] == "sns"}
    return sorted(topics)


def _topic_line(aws: AwsCalls, sns: Any, topic: str) -> AuditResult:
    line = "alert topic"
    try:
        aws.call(sns, "get_topic_attributes", topic, TopicArn=topic)
        subscriptions = aws.pages(sns, "list_subscriptions_by_topic", topic, "Subscriptions", TopicArn=topic)
    except CallFailure as failure:
        if failure.not_found:
            return failed(line, f"{topic} does not exist: the alarms notify nobody; run `pulumi up` "
                          "(DeliveryAlarms creates the topic)", SECTION_MONITORING)
        return failed(line, f"cannot read {failure.detail}", SECTION_MONITORING)
    confirmed = [s for s in subscriptions if str(s.get("SubscriptionArn", "")).startswith("arn:")]
    pending = sum(1 for s in subscriptions if s.get("SubscriptionArn") == "PendingConfirmation")
    if not confirmed:
        waiting = (f"{pending} subscription(s) still wait for confirmation: confirm them (the e-mail AWS sent "
                   "has the link)" if pending else "it has no subscriptions: subscribe the on-call e-mail or an "
                   "HTTPS endpoint (DeliveryAlarms' alert_emails / alert_https_endpoints)")
        return failed(line, f"{topic} has no confirmed subscription, so alarms reach nobody; {waiting}",
                      SECTION_MONITORING)
    protocols = ", ".join(sorted({str(s.get("Protocol")) for s in confirmed}))
    extra = f"; {pending} pending confirmation" if pending else ""
    return passed(line, f"{topic} has {len(confirmed)} confirmed subscription(s) ({protocols}){extra}",
                  SECTION_MONITORING)


# --- §7 rollout ----------------------------------------------------------------------------------------


def _rollout(aws: AwsCalls, out: list[AuditResult]) -> None:
    line = "rollout flag"
    name = aws.target.rollout_parameter
    ssm = aws.client("ssm")
    try:
        parameter = aws.call(ssm, "get_parameter", name, Name=name, WithDecryption=True).get("Parameter", {})
    except CallFailure as failure:
        if not failure.not_found:
            raise
        out.append(failed(line, f"{name} does not exist: run `pulumi up` (RolloutFlag creates it at stage "
                          f"{catalog.ROLLOUT_STAGES[0]})", SECTION_ROLLOUT))
        return
    value = parameter.get("Value")
    # The flag as the pack sees it; ignore_changes is set so that only the stage is judged here, and its
    # version says it exists, so that a stage past the first is the rollout's, not a deploy's.
    flag = Resource(SSM_PARAMETER, name, {"name": name, "value": value, "version": parameter.get("Version"),
                                          "tags": {catalog.ROLLOUT_FLAG_TAG: "true"}}, ignore_changes=("value",))
    problems = [f.message for f in _evaluate(ROLLOUT_POLICY, [flag]) if not f.advisory]
    if problems:
        out.append(failed(line, " ".join(problems) + f" `{aws.target.golive('rollout', 'rollback')}` sets "
                          f"{catalog.ROLLOUT_STAGES[0]} at once; `{aws.target.golive('rollout', 'status')}` "
                          "shows the other way back.", SECTION_ROLLOUT))
        return
    stages = catalog.ROLLOUT_STAGES
    out.append(passed(line, f"{name} = {value} (stage {stages.index(value) + 1} of {len(stages)}: "
                      f"{', '.join(stages)})", SECTION_ROLLOUT))
