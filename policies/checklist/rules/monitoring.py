"""§5 Monitoring & Alerting: one alarm per checklist signal, at the checklist's threshold or
stricter, and every alarm tells someone.

An alarm belongs to a signal by its `customerio:signal` tag. Its threshold is compared in the
signal's unit; `customerio:unit=percent` says a ratio signal's threshold is written in percent
(5 for 5%). Equal to the checklist passes; stricter (lower for "above" signals, higher for
delivery_rate) passes.

What an unknown value means here:
- threshold, comparisonOperator unknown: a finding. They are literals in every real program,
  and a guard must not pass what it cannot see.
- actionsEnabled unknown: accepted. In a preview's outputs the provider leaves it unknown when
  the program does not set it (it defaults to true); only a known `false` is a finding. An unknown `thresholdMetricId`
  next to a known threshold is ignored: AWS accepts only one of the two.
- alarmActions: an element that is unknown is fine (topic ARNs are unknown until the topic
  exists); the whole list unknown is fine when it is computed from a resource in the stack.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..catalog import SIGNAL_TAG, SIGNALS, UNIT_TAG, Signal
from ..model import UNKNOWN, Finding, Resource, Stack
from ..recognize import METRIC_ALARM, alarm_signal
from . import rule

_OPERATORS = {
    "above": ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold"),
    "below": ("LessThanThreshold", "LessThanOrEqualToThreshold"),
}
_PERCENT = "percent"


def _signal_alarms(stack: Stack) -> Iterator[tuple[Resource, str]]:
    for alarm in stack.of_type(METRIC_ALARM):
        signal = alarm_signal(alarm)
        if signal is not None:
            yield alarm, signal


def _limit(signal: Signal, cfg: Mapping[str, Any]) -> float:
    overrides = cfg.get("thresholds")
    value = overrides.get(signal.name) if isinstance(overrides, Mapping) else None
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if valid else signal.threshold


def _fmt(value: float, signal: Signal) -> str:
    if signal.unit == "ratio":
        return f"{value:g} ({value * 100:g}%)"
    return f"{value:g} {signal.unit}"


def _threshold_problem(alarm: Resource, signal: Signal, limit: float) -> str | None:
    band = alarm.get("thresholdMetricId")
    if isinstance(band, str) and band:
        return (
            "it is an anomaly-detection alarm (thresholdMetricId), whose band cannot be checked "
            "against the checklist; use a static threshold"
        )
    operator = alarm.get("comparisonOperator")
    allowed = _OPERATORS[signal.direction]
    if operator is UNKNOWN:
        return "its comparisonOperator must be known at preview to be verified"
    if operator not in allowed:
        wanted = " or ".join(allowed)
        return f"comparisonOperator is {operator!r}; a signal alarming {signal.direction} needs {wanted}"
    threshold = alarm.get("threshold")
    if threshold is UNKNOWN:
        return "its threshold must be known at preview to be verified"
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        return "it has no static threshold"
    unit = alarm.tags().get(UNIT_TAG, "").strip().lower()
    if unit == _PERCENT:
        if signal.unit != "ratio":
            return f"{UNIT_TAG}=percent only applies to ratio signals; {signal.name} is in {signal.unit}"
        threshold = threshold / 100
    elif unit not in ("", signal.unit):
        return f"{UNIT_TAG}={unit!r} is not understood; use 'percent' or leave the tag off"
    if math.isclose(threshold, limit, rel_tol=1e-9, abs_tol=1e-12):
        return None  # the checklist's own number; percent conversion must not make it fail
    looser = threshold > limit if signal.direction == "above" else threshold < limit
    if looser:
        return (
            f"its threshold {_fmt(threshold, signal)} is looser than the checklist's "
            f"{_fmt(limit, signal)} ({signal.meaning})"
        )
    return None


@rule("monitoring-alarm-thresholds", customerio_only=True)
def check_thresholds(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[Finding]:
    covered = set()
    for alarm, name in _signal_alarms(stack):
        signal = SIGNALS.get(name)
        if signal is None:
            yield Finding(
                f"Alarm '{alarm.name}' has {SIGNAL_TAG}={name!r}, which is not a checklist signal; use one "
                f"of {', '.join(SIGNALS)}.",
                alarm.urn,
            )
            continue
        covered.add(name)
        problem = _threshold_problem(alarm, signal, _limit(signal, cfg))
        if problem:
            yield Finding(f"Alarm '{alarm.name}' ({name}): {problem}.", alarm.urn)
    for name, signal in SIGNALS.items():
        if name not in covered:
            yield Finding(
                f"No CloudWatch alarm watches {name} ({signal.meaning}; threshold "
                f"{_fmt(_limit(signal, cfg), signal)}): add an alarm tagged {SIGNAL_TAG}={name}."
            )


def _actions_problem(alarm: Resource) -> str | None:
    enabled = alarm.get("actionsEnabled")
    if enabled is False:
        return "actionsEnabled is false, so it notifies nobody"
    actions = alarm.get("alarmActions")
    if actions is UNKNOWN:
        if alarm.property_dependencies.get("alarmActions"):
            return None  # computed from a topic in the stack
        return "its alarmActions are unknown at preview and not computed from a resource in the stack"
    if not isinstance(actions, list) or not any(a is UNKNOWN or (isinstance(a, str) and a) for a in actions):
        return "it has no alarmActions"
    return None


@rule("monitoring-alarm-actions", customerio_only=True)
def check_actions(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[Finding]:
    for alarm, name in _signal_alarms(stack):
        problem = _actions_problem(alarm)
        if problem:
            yield Finding(
                f"Alarm '{alarm.name}' ({name}): {problem}; give it an SNS topic with subscribers in "
                "alarmActions and keep actionsEnabled on.",
                alarm.urn,
            )
