"""What must hold before the flag widens: dwell time, trigger alarms, the staging gate, the smoke test.

Each gate returns a Gate: `ok` and one sentence, which is what the command prints on success and
what a refusal quotes. A gate that cannot see what it checks refuses (a guard does not pass what it
cannot see), except where noted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from checklist import catalog
from checklist.plan import Plan
from golive.operations.rollout.aws import call, pages
from golive.operations.rollout.store import Flag, FlagMissing, Version

if TYPE_CHECKING:
    from golive.operations.audit.options import AuditOptions

ENVIRONMENT_TAG = "environment"


@dataclass(frozen=True)
class Gate:
    name: str
    ok: bool
    detail: str


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def stage_since(history: Sequence[Version]) -> datetime | None:
    """When the flag took its current value: the oldest of the newest run of versions holding it.
    Writes that lost a race do not count, so the undo that followed one does not restart the clock."""
    current = history[-1].value
    since = None
    for version in reversed(history):
        if version.action == "lost":
            continue
        if version.value != current:
            break
        since = version.modified
    return since


def dwell(plan: Plan, history: Sequence[Version], now: datetime) -> Gate:
    stage = history[-1].value
    need = plan.dwell(stage)
    since = stage_since(history)
    if need.total_seconds() <= 0:
        return Gate("dwell", True, f"no dwell time at {stage}")
    if since is None:
        return Gate("dwell", False, f"the flag's history does not say since when it holds {stage}")
    held = now - since
    if held < need:
        until = since + need
        return Gate("dwell", False, f"the flag has been at {stage} for {_minutes(held.total_seconds())}; the plan "
                    f"keeps it there at least {_minutes(need.total_seconds())} (golive:rollout.dwellMinutes): "
                    f"advance after {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return Gate("dwell", True, f"at {stage} for {_minutes(held.total_seconds())} "
                f"(plan: {_minutes(need.total_seconds())})")


def signal_alarms(cw: Any, environment: str, signals: Iterable[str], timeout: float) -> dict[str, list[dict]]:
    """Signal -> its alarms in the environment, found by their `customerio:signal` tag as the audit finds
    them; an alarm with an `environment` tag counts only for that environment."""
    wanted = set(signals)
    found: dict[str, list[dict]] = {s: [] for s in wanted}
    if not wanted:
        return found
    for alarm in pages(cw, "describe_alarms", "CloudWatch alarms", "MetricAlarms", timeout):
        arn = alarm.get("AlarmArn", "")
        tags = {t.get("Key"): t.get("Value") for t in
                call(cw, "list_tags_for_resource", f"alarm {alarm.get('AlarmName')}", timeout,
                     ResourceARN=arn).get("Tags", [])}
        signal = tags.get(catalog.SIGNAL_TAG)
        if signal not in wanted:
            continue
        if tags.get(ENVIRONMENT_TAG, environment) != environment:
            continue
        found[signal].append(alarm)
    return found


def _firing(alarm: dict) -> str:
    since = alarm.get("StateUpdatedTimestamp")
    when = f" since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if isinstance(since, datetime) else ""
    reason = str(alarm.get("StateReason") or "no reason given").rstrip(".")
    return f"'{alarm.get('AlarmName')}' is in ALARM{when}: {reason}"


def alarms(cw: Any, environment: str, signals: Sequence[str], timeout: float, *, require: bool = True) -> Gate:
    """No trigger alarm in ALARM; with `require`, each signal must have an alarm to look at."""
    if not signals:
        return Gate("triggers", True, "no rollback trigger at these stages")
    found = signal_alarms(cw, environment, signals, timeout)
    problems, states = [], []
    for signal in signals:
        watching = found.get(signal, [])
        if not watching:
            if require:
                problems.append(f"no alarm watches {signal} in {environment} (tag {catalog.SIGNAL_TAG}={signal}), so "
                                "its rollback trigger cannot be checked: run `pulumi up` (DeliveryAlarms creates it)")
            continue
        firing = [_firing(a) for a in watching if a.get("StateValue") == "ALARM"]
        problems += [f"{f} ({signal} is a rollback trigger)" for f in firing]
        states.append(f"{signal} {'/'.join(sorted({str(a.get('StateValue')) for a in watching}))}")
    if problems:
        return Gate("triggers", False, "; ".join(problems))
    return Gate("triggers", True, ", ".join(states) or "no alarm to check")


def staging(ssm: Any, cw: Any, plan: Plan, timeout: float) -> Gate:
    """The checklist's final staging test pass: staging's own rollout finished, and none of its
    trigger alarms is in ALARM (staging may lack some alarms; only a firing one refuses)."""
    name = catalog.ROLLOUT_PARAMETER_NAME.format(environment=plan.staging_environment)
    last = plan.stages[-1]
    try:
        value = Flag(ssm, name, plan, timeout=timeout).head().value
    except FlagMissing:
        return Gate("staging", False, f"no staging flag {name}: roll staging out first (checklist §7: final staging "
                    "test pass), or drop 'staging' from golive:rollout.gates when staging lives elsewhere")
    if value != last:
        return Gate("staging", False, f"{name} is at {value}, not {last}: finish staging's rollout first "
                    "(checklist §7: final staging test pass)")
    firing = alarms(cw, plan.staging_environment, plan.trigger_signals, timeout, require=False)
    if not firing.ok:
        return Gate("staging", False, f"staging: {firing.detail}")
    return Gate("staging", True, f"{name} is at {last}; no staging trigger alarm in ALARM")


def smoke(options: AuditOptions) -> Gate:
    """`golive smoke` for the stack: its stored keys reach Customer.io's Track and App APIs."""
    from golive.operations.audit.result import Status
    from golive.operations.audit.run import audit

    _, results = audit(options, smoke=True)
    failed = [r for r in results if r.status is Status.FAIL]
    if failed:
        return Gate("smoke", False, "smoke test failed: " + "; ".join(f"{r.name}: {r.detail}" for r in failed))
    return Gate("smoke", True, ", ".join(f"{r.name} {r.status.value}" for r in results) or "nothing to check")


__all__ = ["Gate", "alarms", "dwell", "signal_alarms", "smoke", "stage_since", "staging"]
