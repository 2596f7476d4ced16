"""§5 monitoring: an alarm per signal at the checklist threshold or stricter, on the signal's statistic and in
time, and alarms that reach someone."""

import pytest

from checklist.catalog import GAUGE_METRICS, RATE_METRICS, SIGNAL_TAG, SIGNALS, UNIT_TAG
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


# --- what the alarm reads, and how soon it fires ----------------------------------------------------


def _count(qid: str, metric: str, stat: str = "Sum", period=300) -> dict:
    return {"id": qid, "returnData": False,
            "metric": {"namespace": "Customer.io/Integration", "metricName": metric, "period": period, "stat": stat}}


def shaped(signal: str, *, stat=None, period=300, evaluation=2, datapoints=None, queries=None) -> Resource:
    """An alarm as DeliveryAlarms makes it: metric math over summed counts for a rate, the gauge's
    statistic otherwise; any part replaced."""
    props: dict = {"evaluationPeriods": evaluation}
    if datapoints is not None:
        props["datapointsToAlarm"] = datapoints
    if signal in RATE_METRICS and queries is None and stat is None:
        numerator, denominator = RATE_METRICS[signal]
        props["metricQueries"] = [_count("num", numerator, period=period), _count("den", denominator, period=period),
                                  {"id": "rate", "expression": "IF(den > 0, num / den, 0)", "returnData": True}]
    elif queries is not None:
        props["metricQueries"] = queries
    else:
        metric, statistic, _unit = GAUGE_METRICS.get(signal, (signal, "Average", "None"))
        statistic = stat or statistic
        key = "extendedStatistic" if isinstance(statistic, str) and statistic.startswith("p") else "statistic"
        props.update(metricName=metric, period=period, **{key: statistic})
    return alarm(signal, **props)


def reading(subject: Resource) -> list:
    name = subject.get("tags")[SIGNAL_TAG]
    return thresholds(*all_alarms(**{name: subject}))


def test_the_components_shape_passes_for_every_signal():
    assert thresholds(*[shaped(name) for name in SIGNALS]) == []


@pytest.mark.parametrize(
    ("signal", "stat", "passes"),
    [
        ("api_p99_latency_ms", "p99", True),
        ("api_p99_latency_ms", "p99.9", True),  # a higher percentile is stricter
        ("api_p99_latency_ms", "Maximum", True),
        ("api_p99_latency_ms", "Minimum", False),  # the case: watches the fastest call
        ("api_p99_latency_ms", "Average", False),
        ("api_p99_latency_ms", "p50", False),
        ("api_p99_latency_ms", "tm99", False),
        ("queue_depth", "Maximum", True),
        ("queue_depth", "p100", True),
        ("queue_depth", "Average", False),
        ("queue_depth", "p99", False),
        ("bounce_rate", "Average", True),  # one metric that already is the ratio
        ("bounce_rate", "Maximum", True),
        ("bounce_rate", "Minimum", False),
        ("delivery_rate", "Minimum", True),  # the extreme toward a "below" alarm
        ("delivery_rate", "Maximum", False),
        ("complaint_rate", "Sum", False),
    ],
)
def test_statistic_per_signal(signal, stat, passes):
    subject = shaped(signal, stat=stat)
    result = reading(subject)
    assert (result == []) == passes
    assert all(f.urn == subject.urn and f"as its {stat!r}" in f.message for f in result)


def test_minimum_on_the_p99_signal_names_what_to_use():
    [finding] = reading(shaped("api_p99_latency_ms", stat="Minimum"))
    assert "'Minimum'" in finding.message and "use p99" in finding.message


@pytest.mark.parametrize(
    ("stats", "passes"),
    [(("Sum", "Sum"), True), (("Average", "Sum"), False), (("Sum", "Maximum"), False), (("Sum", "p99"), False)],
)
def test_a_rate_as_metric_math_divides_sums(stats, passes):
    numerator, denominator = RATE_METRICS["api_error_rate"]
    queries = [_count("e", numerator, stats[0]), _count("r", denominator, stats[1]),
               {"id": "rate", "expression": "e / r", "returnData": True}]
    result = reading(shaped("api_error_rate", queries=queries))
    assert (result == []) == passes
    if not passes:
        assert "use Sum" in result[0].message


def test_metric_math_over_one_gauge_is_judged_by_its_metric_stat():
    queries = [_count("m", "ApiLatency", "Minimum"), {"id": "f", "expression": "FILL(m, 0)", "returnData": True}]
    [finding] = reading(shaped("api_p99_latency_ms", queries=queries))
    assert "metricQueries[m]" in finding.message and "'Minimum'" in finding.message
    queries[0] = _count("m", "ApiLatency", "p99")
    assert reading(shaped("api_p99_latency_ms", queries=queries)) == []


@pytest.mark.parametrize(
    "subject",
    [
        shaped("api_p99_latency_ms", stat=UNKNOWN),
        shaped("bounce_rate", queries=UNKNOWN),
        shaped("bounce_rate", queries=[_count("n", "EmailBounced", UNKNOWN), _count("d", "EmailSent")]),
        shaped("bounce_rate", queries=[{"id": "q", "expression": "SELECT AVG(x) FROM y", "period": 300}]),
    ],
    ids=["statistic", "queries", "query-stat", "insights-query"],
)
def test_a_statistic_the_rule_cannot_see_is_a_finding(subject):
    [finding] = reading(subject)
    assert finding.urn == subject.urn


def test_promql_alarm_is_a_finding():
    subject = alarm("queue_depth", evaluationCriteria={"promqlCriteria": {"query": "max(queue_depth) > 10000"}})
    [finding] = reading(subject)
    assert "PromQL" in finding.message


@pytest.mark.parametrize(
    ("signal", "period", "evaluation", "datapoints", "passes"),
    [
        ("api_error_rate", 300, 288, 288, False),  # the case: a day of sustained breach
        ("api_error_rate", 300, 288, None, False),  # evaluationPeriods when datapointsToAlarm is unset
        ("api_error_rate", 300, 288, 3, True),  # 3 of 288: fires after 15 minutes
        ("api_error_rate", 300, 3, None, True),  # exactly the limit
        ("api_error_rate", 300, 4, None, False),
        ("api_error_rate", 60, 15, None, True),
        ("api_p99_latency_ms", 900, 1, None, True),
        ("api_p99_latency_ms", 3600, 1, None, False),
        ("queue_depth", 300, 4, None, False),
        ("webhook_error_rate", 300, 4, None, False),
        ("bounce_rate", 300, 6, None, True),
        ("bounce_rate", 300, 7, None, False),
        ("complaint_rate", 3600, 1, None, True),
        ("complaint_rate", 3600, 2, None, False),
        ("delivery_rate", 300, 12, 12, True),
        ("delivery_rate", 300, 13, 13, False),
    ],
)
def test_time_to_alarm_per_signal(signal, period, evaluation, datapoints, passes):
    subject = shaped(signal, period=period, evaluation=evaluation, datapoints=datapoints)
    result = reading(subject)
    assert (result == []) == passes
    if not passes:
        [finding] = result
        limit = SIGNALS[signal].max_minutes_to_alarm
        assert finding.urn == subject.urn and f"within {limit} minutes" in finding.message


def test_time_to_alarm_reads_the_periods_of_metric_math():
    numerator, denominator = RATE_METRICS["bounce_rate"]
    queries = [_count("n", numerator, period=3600), _count("d", denominator, period=3600),
               {"id": "r", "expression": "n / d", "returnData": True}]
    [finding] = reading(shaped("bounce_rate", queries=queries, evaluation=1))
    assert "3600 s, 60 minutes" in finding.message and "within 30 minutes" in finding.message


@pytest.mark.parametrize(
    ("changes", "passes"),
    [
        ({"period": UNKNOWN}, False),
        ({"evaluationPeriods": UNKNOWN}, False),
        ({"datapointsToAlarm": UNKNOWN}, True),  # at most evaluationPeriods, which is within the limit
        ({"datapointsToAlarm": UNKNOWN, "evaluationPeriods": 10}, False),
    ],
)
def test_unknown_timing_is_a_finding_unless_bounded(changes, passes):
    base = shaped("api_error_rate", stat="Average")
    subject = Resource(METRIC_ALARM, base.name, {**base.props, **changes},
                       property_dependencies=base.property_dependencies)
    assert (reading(subject) == []) == passes


def test_what_aws_requires_and_the_alarm_leaves_out_is_not_judged_here():
    # No period, statistic or evaluationPeriods: AWS refuses the alarm at deploy, so nothing passes silently.
    assert thresholds(*all_alarms()) == []


# --- someone at the other end of the topic ----------------------------------------------------------

SNS_TOPIC = "aws:sns/topic:Topic"
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


def topic(logical="alerts", **props) -> Resource:
    return Resource(SNS_TOPIC, logical, {"arn": UNKNOWN, **props}, urn=TOPIC_URN if logical == "alerts" else "")


def subscription(target: Resource, *, linked=True, **props) -> Resource:
    value = UNKNOWN if linked else target.props["arn"]
    return Resource(SNS_SUBSCRIPTION, f"{target.name}-oncall",
                    {"topic": value, "protocol": "email", "endpoint": "oncall@example.com", **props},
                    property_dependencies={"topic": (target.urn,)} if linked else {})


def test_a_declared_topic_without_subscription_notifies_nobody():
    [finding] = actions(alarm("bounce_rate"), topic())
    assert "'alerts' has no subscription" in finding.message
    assert finding.urn == alarm("bounce_rate").urn


def test_a_subscription_linked_by_dependency_satisfies_it():
    alerts = topic()
    assert actions(alarm("bounce_rate"), alerts, subscription(alerts)) == []


def test_known_arns_link_alarm_topic_and_subscription_on_a_later_preview():
    arn = "arn:aws:sns:us-east-1:123456789012:alerts-5e6f7a8"
    alerts = topic(arn=arn)
    subject = Resource(METRIC_ALARM, "cio-bounce_rate", {**alarm("bounce_rate").props, "alarmActions": [arn]})
    assert len(actions(subject, alerts)) == 1
    assert actions(subject, alerts, subscription(alerts, linked=False)) == []


def test_a_hard_coded_arn_names_a_declared_topic_by_its_name():
    alerts = topic("pager", name="pager")
    arn = "arn:aws:sns:us-east-1:123456789012:pager"
    subject = Resource(METRIC_ALARM, "cio-bounce_rate", {**alarm("bounce_rate").props, "alarmActions": [arn]})
    assert len(actions(subject, alerts)) == 1


def test_a_subscription_to_another_topic_does_not_count():
    alerts, other = topic(), topic("other")
    [finding] = actions(alarm("bounce_rate"), alerts, other, subscription(other))
    assert "'alerts'" in finding.message


@pytest.mark.parametrize(
    "external",
    ["arn:aws:sns:us-east-1:123456789012:central-pager", "arn:aws:lambda:us-east-1:123456789012:function:page"],
)
def test_an_action_the_stack_does_not_declare_is_taken_on_trust(external):
    base = alarm("bounce_rate")
    subject = Resource(METRIC_ALARM, base.name, {**base.props, "alarmActions": [UNKNOWN, external]},
                       property_dependencies=base.property_dependencies)
    assert actions(subject, topic()) == []


def test_a_second_topic_with_a_subscriber_reaches_someone():
    alerts, backup = topic(), topic("backup")
    base = alarm("bounce_rate")
    subject = Resource(METRIC_ALARM, base.name, {**base.props, "alarmActions": [UNKNOWN, UNKNOWN]},
                       property_dependencies={"alarmActions": (alerts.urn, backup.urn)})
    assert actions(subject, alerts, backup, subscription(backup)) == []
