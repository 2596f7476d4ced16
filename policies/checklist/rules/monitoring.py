"""§5 Monitoring & Alerting: one alarm per checklist signal, at the checklist's threshold or
stricter, reading the signal's statistic, firing in time, and every alarm tells someone.

An alarm belongs to a signal by its `customerio:signal` tag. Its threshold is compared in the
signal's unit; `customerio:unit=percent` says a ratio signal's threshold is written in percent
(5 for 5%). Equal to the checklist passes; stricter (lower for "above" signals, higher for
delivery_rate) passes.

The statistic: a gauge's alarm reads the catalog's statistic (GAUGE_METRICS) or a higher one: a
p99 alarm on Minimum or Average watches the fast calls. A rate is either metric math over counts,
each summed (COUNT_STATISTIC), or one metric that already is the ratio, read as its Average or the
extreme in the signal's direction. Metric math is judged by the metric stats in its queries.

The time to alarm: period × datapointsToAlarm (evaluationPeriods when that is unset), with the
longest period among a metric-math alarm's queries; at most the signal's `max_minutes_to_alarm`.
An alarm that needs a day of breaching datapoints fires after the incident is over.

A property AWS requires and the alarm leaves out (a period, a statistic, evaluationPeriods) is not
judged: AWS refuses such an alarm at deploy, so it cannot pass silently.

What an unknown value means here:
- threshold, comparisonOperator, statistic, period, evaluationPeriods, metricQueries unknown: a
  finding. They are literals in every real program, and a guard must not pass what it cannot see.
  An unknown datapointsToAlarm is bounded by evaluationPeriods (AWS allows no more).
- actionsEnabled unknown: accepted. In a preview's outputs the provider leaves it unknown when
  the program does not set it (it defaults to true); only a known `false` is a finding. An unknown `thresholdMetricId`
  next to a known threshold is ignored: AWS accepts only one of the two.
- alarmActions: an element that is unknown is fine (topic ARNs are unknown until the topic
  exists); the whole list unknown is fine when it is computed from a resource in the stack.

Someone at the other end: when the alarm's actions are SNS topics the program declares, at least one
of them needs a subscription in the stack (of any protocol: a Lambda or queue may page someone, the
pack cannot tell). An alarm finds its topics, and a subscription its topic, through the engine's
property dependencies first (a topic's ARN is unknown at preview), then through known ARNs and
names. An action that is not a declared topic (another stack's topic, a Lambda) is taken on trust.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..catalog import (
    COUNT_STATISTIC,
    GAUGE_METRICS,
    RATIO_STATISTIC,
    SIGNAL_TAG,
    SIGNALS,
    UNIT_TAG,
    Signal,
)
from ..model import UNKNOWN, Resource, RuleFinding, Stack
from ..recognize import METRIC_ALARM, alarm_signal
from .registry import rule

SNS_TOPIC = "aws:sns/topic:Topic"
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"

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


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_PERCENTILE = re.compile(r"[pP](\d{1,3}(?:\.\d+)?)")


def _rank(statistic: str) -> float | None:
    """How high in the distribution a statistic reads: a percentile's rank, 100 for Maximum."""
    if statistic == "Maximum":
        return 100.0
    match = _PERCENTILE.fullmatch(statistic)
    return float(match[1]) if match else None


def _statistics(alarm: Resource) -> tuple[list[tuple[str, Any]], str | None]:
    """(where, statistic) of each metric the alarm reads, or a reason they cannot be read."""
    queries = alarm.get("metricQueries")
    if queries is UNKNOWN:
        return [], "its metricQueries must be known at preview to be verified"
    if isinstance(queries, list) and queries:
        read = []
        for index, query in enumerate(queries):
            if query is UNKNOWN or (isinstance(query, Mapping) and query.get("metric") is UNKNOWN):
                return [], "its metricQueries must be known at preview to be verified"
            metric = query.get("metric") if isinstance(query, Mapping) else None
            if isinstance(metric, Mapping):
                qid = query.get("id")
                where = f"metricQueries[{qid if isinstance(qid, str) else index}]"
                read.append((f"{where} reads {metric.get('metricName')}", metric.get("stat")))
        if not read:
            return [], "its metric math reads no metric with a statistic (metricQueries[].metric.stat) to verify"
        return read, None
    for prop in ("extendedStatistic", "statistic"):
        value = alarm.get(prop)
        if value is not None:
            return [(f"it reads {alarm.get('metricName')}", value)], None
    return [], None  # AWS refuses a metric alarm without a statistic


def _extreme(signal: Signal) -> str:
    return "Maximum" if signal.direction == "above" else "Minimum"


def _fits(signal: Signal, statistic: str, counts: bool) -> bool:
    gauge = GAUGE_METRICS.get(signal.name)
    if gauge is not None:  # the gauges alarm above: a higher statistic is the stricter one
        return (_rank(statistic) or -1.0) >= (_rank(gauge[1]) or 100.0)
    if counts:
        return statistic == COUNT_STATISTIC
    return statistic in (RATIO_STATISTIC, _extreme(signal))


def _wanted(signal: Signal, counts: bool) -> str:
    """The statistic the signal's alarm must read, and why, for a message."""
    gauge = GAUGE_METRICS.get(signal.name)
    if gauge is not None:
        higher = "" if _rank(gauge[1]) == 100 else " (or a higher percentile, or Maximum)"
        return f"use {gauge[1]}{higher}: {signal.name} alarms on the metric's {gauge[1]}"
    if counts:
        return f"use {COUNT_STATISTIC}: {signal.name} divides counts, each the {COUNT_STATISTIC} over the period"
    return f"use {RATIO_STATISTIC} (or {_extreme(signal)}): the metric already is {signal.name}"


def _statistic_problem(alarm: Resource, signal: Signal) -> str | None:
    read, problem = _statistics(alarm)
    if problem:
        return problem
    counts = len(read) > 1  # metric math over several metrics: the counts of a rate
    for where, statistic in read:
        if statistic is UNKNOWN:
            return f"{where} with a statistic that must be known at preview to be verified"
        if not isinstance(statistic, str) or not _fits(signal, statistic, counts):
            return f"{where} as its {statistic!r}; {_wanted(signal, counts)}"
    return None


def _periods(alarm: Resource) -> list[Any]:
    queries = alarm.get("metricQueries")
    if isinstance(queries, list) and queries:
        found = []
        for query in queries:
            if isinstance(query, Mapping):
                metric = query.get("metric")
                found += [query.get("period"), metric.get("period") if isinstance(metric, Mapping) else None]
        return [p for p in found if p is not None]
    period = alarm.get("period")
    return [] if period is None else [period]


def _time_problem(alarm: Resource, signal: Signal) -> str | None:
    periods = _periods(alarm)
    evaluation = alarm.get("evaluationPeriods")
    if not periods or evaluation is None:
        return None  # AWS refuses a metric alarm without them
    if UNKNOWN in periods or evaluation is UNKNOWN:
        return "its period and evaluationPeriods must be known at preview to be verified"
    numbers = [_number(p) for p in periods]
    evaluations = _number(evaluation)
    if None in numbers or evaluations is None:
        return None  # not numbers: the provider refuses them
    period = max(n for n in numbers if n is not None)
    datapoints = alarm.get("datapointsToAlarm")
    needed = evaluations if datapoints is None or datapoints is UNKNOWN else _number(datapoints) or evaluations
    minutes = period * needed / 60
    if minutes <= signal.max_minutes_to_alarm:
        return None
    if datapoints is UNKNOWN:
        return "its datapointsToAlarm must be known at preview to be verified"
    return (
        f"it fires after {needed:g} breaching period(s) of {period:g} s, {minutes:g} minutes; {signal.name} must "
        f"alarm within {signal.max_minutes_to_alarm} minutes (period × datapointsToAlarm, or evaluationPeriods "
        "without it)"
    )


def _reading_problems(alarm: Resource, signal: Signal) -> tuple[str | None, str | None]:
    if alarm.get("evaluationCriteria") not in (None, UNKNOWN):
        problem = (
            "it is a PromQL alarm (evaluationCriteria), whose statistic and time to alarm cannot be checked "
            "against the checklist; use a metric or metric-math alarm"
        )
        return problem, None
    return _statistic_problem(alarm, signal), _time_problem(alarm, signal)


@rule("monitoring-alarm-thresholds", app_side=True)
def check_thresholds(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    covered = set()
    for alarm, name in _signal_alarms(stack):
        signal = SIGNALS.get(name)
        if signal is None:
            yield RuleFinding(
                f"Alarm '{alarm.name}' has {SIGNAL_TAG}={name!r}, which is not a checklist signal; use one "
                f"of {', '.join(SIGNALS)}.",
                alarm.urn,
            )
            continue
        covered.add(name)
        problems = (
            _threshold_problem(alarm, signal, _limit(signal, cfg)),
            *_reading_problems(alarm, signal),
        )
        for problem in problems:
            if problem:
                yield RuleFinding(f"Alarm '{alarm.name}' ({name}): {problem}.", alarm.urn)
    for name, signal in SIGNALS.items():
        if name not in covered:
            yield RuleFinding(
                f"No CloudWatch alarm watches {name} ({signal.meaning}; threshold "
                f"{_fmt(_limit(signal, cfg), signal)}): add an alarm tagged {SIGNAL_TAG}={name}."
            )


def _topic_keys(stack: Stack) -> dict[str, list[Resource]]:
    """Each declared topic under its known ARN and under the SNS ARN tail its known name gives."""
    keys: dict[str, list[Resource]] = {}
    for topic in stack.of_type(SNS_TOPIC):
        arn, name = topic.get("arn"), topic.get("name")
        for key in (arn, f"name:{name}" if isinstance(name, str) and name else None):
            if isinstance(key, str) and key:
                keys.setdefault(key, []).append(topic)
    return keys


def _named_topics(value: str, keys: Mapping[str, list[Resource]]) -> list[Resource]:
    """The declared topics a known ARN is: by their known `arn`, or an SNS ARN ending in their name."""
    parts = value.split(":")
    by_name = keys.get(f"name:{parts[5]}", []) if len(parts) == 6 and parts[2] == "sns" else []
    return [*keys.get(value, []), *by_name]


def _topics(
    stack: Stack, resource: Resource, prop: str, keys: Mapping[str, list[Resource]]
) -> tuple[list[Resource], bool]:
    """The declared topics `prop` of `resource` names, and whether it also names anything else."""
    linked = stack.linked(resource, prop)
    topics = {r.urn: r for r in linked if r.type == SNS_TOPIC}
    elsewhere = any(r.type != SNS_TOPIC for r in linked)
    value = resource.get(prop)
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, str) or not item:
            continue
        named = _named_topics(item, keys)
        topics.update((t.urn, t) for t in named)
        elsewhere = elsewhere or not named
    return list(topics.values()), elsewhere


def _subscribed(stack: Stack, keys: Mapping[str, list[Resource]]) -> set[str]:
    """URNs of the declared topics with at least one subscription in the stack."""
    return {t.urn for s in stack.of_type(SNS_SUBSCRIPTION) for t in _topics(stack, s, "topic", keys)[0]}


def _actions_problem(
    stack: Stack, alarm: Resource, keys: Mapping[str, list[Resource]], subscribed: set[str]
) -> str | None:
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
    topics, elsewhere = _topics(stack, alarm, "alarmActions", keys)
    if topics and not elsewhere and not any(t.urn in subscribed for t in topics):
        names = ", ".join(f"'{t.name}'" for t in topics)
        return f"its SNS topic {names} has no subscription in the stack, so it notifies nobody"
    return None


@rule("monitoring-alarm-actions", customerio_only=True)
def check_actions(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    keys = _topic_keys(stack)
    subscribed = _subscribed(stack, keys)
    for alarm, name in _signal_alarms(stack):
        problem = _actions_problem(stack, alarm, keys, subscribed)
        if problem:
            yield RuleFinding(
                f"Alarm '{alarm.name}' ({name}): {problem}; give it an SNS topic with subscribers in "
                "alarmActions and keep actionsEnabled on.",
                alarm.urn,
            )
