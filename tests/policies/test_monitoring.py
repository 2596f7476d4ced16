"""§5 monitoring: an alarm per signal at the checklist threshold or stricter, and alarms that notify."""

import pytest
from checklist.catalog import SIGNAL_TAG, SIGNALS, UNIT_TAG
from checklist.model import UNKNOWN, Resource, Stack
from checklist.recognize import METRIC_ALARM
from checklist.rules import run

THRESHOLDS = "monitoring-alarm-thresholds"
ACTIONS = "monitoring-alarm-actions"
TOPIC_URN = "urn:pulumi:production::golive::aws:sns/topic:Topic::alerts"


def alarm(signal: str, threshold=None, operator=None, unit=None, **props) -> Resource:
    spec = SIGNALS.get(signal)
    tags = {SIGNAL_TAG: signal, **({UNIT_TAG: unit} if unit else {})}
    default_operator = "LessThanThreshold" if spec and spec.direction == "below" else "GreaterThanThreshold"
    base = {
        "comparisonOperator": operator or default_operator,
        "threshold": spec.threshold if threshold is None and spec else threshold,
        "alarmActions": [UNKNOWN],  # the topic's ARN, unknown on a first preview
        "actionsEnabled": True,
        "tags": tags,
    }
    return Resource(
        METRIC_ALARM, f"cio-{signal}", {**base, **props}, property_dependencies={"alarmActions": (TOPIC_URN,)}
    )


def all_alarms(**replace: Resource) -> list[Resource]:
    return [replace.get(name, alarm(name)) for name in SIGNALS]


def thresholds(*resources, **cfg):
    return run(THRESHOLDS, Stack(resources=resources), cfg or None)


def test_checklist_alarms_pass():
    assert thresholds(*all_alarms()) == []


@pytest.mark.parametrize("missing", list(SIGNALS))
def test_missing_signal_is_a_stack_level_finding_with_its_threshold(missing):
    resources = [a for a in all_alarms() if a.name != f"cio-{missing}"]
    [finding] = thresholds(*resources)
    assert finding.urn is None
    assert missing in finding.message and f"{SIGNALS[missing].threshold:g}" in finding.message


def test_non_customerio_stack_needs_no_alarms():
    other = Resource(METRIC_ALARM, "cpu", {"threshold": 80, "comparisonOperator": "GreaterThanThreshold"})
    assert thresholds(other) == []


@pytest.mark.parametrize(
    ("signal", "threshold", "passes"),
    [
        ("api_error_rate", 0.01, True),  # exactly the checklist
        ("api_error_rate", 0.005, True),  # stricter
        ("api_error_rate", 0.02, False),
        ("api_p99_latency_ms", 5000, True),
        ("api_p99_latency_ms", 3000, True),
        ("api_p99_latency_ms", 5001, False),
        ("complaint_rate", 0.001, True),
        ("complaint_rate", 0.003, False),  # Gmail's 0.3% is looser than the checklist's 0.1%
        ("queue_depth", 10000, True),
        ("queue_depth", 20000, False),
        ("delivery_rate", 0.95, True),
        ("delivery_rate", 0.97, True),  # stricter for a "below" signal is higher
        ("delivery_rate", 0.90, False),
    ],
)
def test_threshold_against_checklist(signal, threshold, passes):
    subject = alarm(signal, threshold)
    result = thresholds(*all_alarms(**{signal: subject}))
    assert (result == []) == passes
    assert all(f.urn == subject.urn for f in result)


@pytest.mark.parametrize(
    ("signal", "threshold", "passes"),
    [
        ("bounce_rate", 5, True),
        ("bounce_rate", 4.5, True),
        ("bounce_rate", 6, False),
        ("complaint_rate", 0.1, True),  # 0.1 / 100 must equal 0.001 exactly enough
        ("delivery_rate", 95, True),
        ("delivery_rate", 94, False),
        ("webhook_error_rate", 5, True),
        ("api_error_rate", 1, True),
    ],
)
def test_percent_unit(signal, threshold, passes):
    subject = alarm(signal, threshold, unit="percent")
    assert (thresholds(*all_alarms(**{signal: subject})) == []) == passes


def test_percent_threshold_without_the_tag_is_read_as_a_ratio():
    subject = alarm("bounce_rate", 5)  # 500%: far looser than 5%
    [finding] = thresholds(*all_alarms(bounce_rate=subject))
    assert "looser" in finding.message


def test_percent_on_a_non_ratio_signal_is_a_finding():
    subject = alarm("queue_depth", 100, unit="percent")
    [finding] = thresholds(*all_alarms(queue_depth=subject))
    assert "percent" in finding.message


def test_unknown_unit_tag_is_a_finding():
    subject = alarm("bounce_rate", 0.05, unit="permille")
    assert len(thresholds(*all_alarms(bounce_rate=subject))) == 1


@pytest.mark.parametrize(
    ("signal", "operator", "passes"),
    [
        ("bounce_rate", "GreaterThanOrEqualToThreshold", True),
        ("bounce_rate", "LessThanThreshold", False),
        ("bounce_rate", "GreaterThanUpperThreshold", False),
        ("delivery_rate", "LessThanOrEqualToThreshold", True),
        ("delivery_rate", "GreaterThanThreshold", False),
        ("bounce_rate", UNKNOWN, False),
    ],
)
def test_comparison_direction(signal, operator, passes):
    subject = alarm(signal, operator=operator)
    assert (thresholds(*all_alarms(**{signal: subject})) == []) == passes


def test_anomaly_detection_alarm_is_a_finding():
    base = alarm("bounce_rate", thresholdMetricId="band")
    subject = Resource(METRIC_ALARM, base.name, {k: v for k, v in base.props.items() if k != "threshold"})
    [finding] = thresholds(*all_alarms(bounce_rate=subject))
    assert "anomaly" in finding.message


def test_unknown_band_id_next_to_a_known_threshold_is_ignored():
    subject = alarm("bounce_rate", thresholdMetricId=UNKNOWN)
    assert thresholds(*all_alarms(bounce_rate=subject)) == []


@pytest.mark.parametrize("threshold", [UNKNOWN, "5", True])
def test_unknown_or_missing_threshold_is_a_finding(threshold):
    subject = alarm("bounce_rate", threshold)
    [finding] = thresholds(*all_alarms(bounce_rate=subject))
    assert finding.urn == subject.urn


def test_missing_threshold_is_a_finding():
    subject = Resource(
        METRIC_ALARM, "b", {"comparisonOperator": "GreaterThanThreshold", "tags": {SIGNAL_TAG: "bounce_rate"}}
    )
    [finding] = thresholds(*all_alarms(bounce_rate=subject))
    assert "no static threshold" in finding.message


def test_unknown_signal_name_is_a_finding_on_the_alarm():
    stray = alarm("bounce_ratio", 0.05)
    [finding] = thresholds(*all_alarms(), stray)
    assert finding.urn == stray.urn and "bounce_ratio" in finding.message


def test_configured_thresholds_override_the_checklist():
    subject = alarm("bounce_rate", 0.05)
    cfg = {"thresholds": {"bounce_rate": 0.03}}
    [finding] = thresholds(*all_alarms(bounce_rate=subject), **cfg)
    assert "0.03" in finding.message
    # Signals the override leaves out keep the checklist's numbers.
    assert thresholds(*all_alarms(bounce_rate=alarm("bounce_rate", 0.03)), **cfg) == []


def test_one_bad_alarm_among_two_for_a_signal_is_reported():
    extra = Resource(
        METRIC_ALARM, "loose", {**alarm("bounce_rate").props, "threshold": 0.5}, property_dependencies={}
    )
    [finding] = thresholds(*all_alarms(), extra)
    assert finding.urn == extra.urn


# --- monitoring-alarm-actions ---------------------------------------------------------------------


def actions(*resources):
    return run(ACTIONS, Stack(resources=resources))


def test_alarm_with_unknown_topic_arn_passes():
    assert actions(*all_alarms()) == []


@pytest.mark.parametrize(
    ("props", "deps", "passes"),
    [
        ({"alarmActions": ["arn:aws:sns:us-east-1:1:alerts"]}, {}, True),
        ({"alarmActions": UNKNOWN}, {"alarmActions": (TOPIC_URN,)}, True),
        ({"alarmActions": UNKNOWN}, {}, False),
        ({"alarmActions": []}, {}, False),
        ({"alarmActions": [""]}, {}, False),
        ({"alarmActions": None}, {}, False),
        ({"actionsEnabled": False}, {"alarmActions": (TOPIC_URN,)}, False),
        ({"actionsEnabled": UNKNOWN}, {"alarmActions": (TOPIC_URN,)}, True),  # unset: preview output unknown
        ({"actionsEnabled": None}, {"alarmActions": (TOPIC_URN,)}, True),  # provider default: on
    ],
)
def test_alarm_actions(props, deps, passes):
    base = alarm("bounce_rate")
    subject = Resource(METRIC_ALARM, base.name, {**base.props, **props}, property_dependencies=deps)
    result = actions(subject)
    assert (result == []) == passes
    assert all(f.urn == subject.urn for f in result)


def test_untagged_alarms_are_not_checked_for_actions():
    other = Resource(METRIC_ALARM, "cpu", {"alarmActions": []})
    assert actions(alarm("bounce_rate"), other) == []


def test_actions_message_says_what_to_do():
    base = alarm("bounce_rate")
    [finding] = actions(Resource(METRIC_ALARM, base.name, {**base.props, "alarmActions": []}))
    assert "alarmActions" in finding.message and "bounce_rate" in finding.message
