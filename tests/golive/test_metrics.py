"""golive.metrics publishes exactly what the alarms read: checked against the alarms the repository's
program registers, in CloudWatch embedded metric format, and through PutMetricData into moto."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golive import metrics as m
from golive.program import run_program

ROOT = Path(__file__).resolve().parents[2]


def plain(value):
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return plain(value["value"])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def read_by_alarms() -> set[tuple[str, str, tuple[str, ...], str]]:
    """(namespace, metric, dimension names, unit) of every metric the program's alarms read."""
    graph = run_program(ROOT, "production")
    seen = set()
    for alarm in (r for r in graph.resources if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"):
        inputs = plain(alarm.inputs)
        if inputs.get("metricName"):
            seen.add((inputs["namespace"], inputs["metricName"], tuple(sorted(inputs["dimensions"])), inputs["unit"]))
        for query in inputs.get("metricQueries") or []:
            metric = query.get("metric")
            if metric:
                seen.add((metric["namespace"], metric["metricName"], tuple(sorted(metric["dimensions"])),
                          metric["unit"]))
    return seen


def every_metric(metrics: m.Metrics) -> None:
    metrics.api_call(120.0)
    metrics.api_call(5400.0, error=True)
    for event in m.EMAIL_EVENTS:
        metrics.email(event)
    metrics.webhook()
    metrics.webhook(error=True)
    metrics.queue_depth(12000)


def test_the_publisher_emits_every_metric_the_alarms_read_with_their_units():
    read = read_by_alarms()
    assert len(read) == 10  # 8 counts behind 5 rates, and 2 gauges
    documents = []
    with m.Metrics("production", lambda batch: documents.extend(m.emf_documents(batch))) as metrics:
        every_metric(metrics)
    published = set()
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                published.add((directive["Namespace"], metric["Name"], tuple(sorted(directive["Dimensions"][0])),
                               metric["Unit"]))
    assert read <= published, read - published


def test_emf_documents_are_valid_and_carry_the_values():
    out = io.StringIO()
    with m.Metrics("staging", m.EmfSink(out), clock=lambda: 1_700_000_000.5) as metrics:
        for latency in range(250):  # more values than one EMF document may carry
            metrics.api_call(float(latency), error=latency < 3)
        metrics.email("sent", 40)
        metrics.email("bounced", 2)
    documents = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(documents) == 3
    for document in documents:
        meta = document["_aws"]
        assert meta["Timestamp"] == 1_700_000_000_500
        [directive] = meta["CloudWatchMetrics"]
        assert directive["Namespace"] == "Customer.io/Integration" and directive["Dimensions"] == [["Environment"]]
        assert document["Environment"] == "staging"
        assert all(metric["Name"] in document for metric in directive["Metrics"])
        assert all(len(v) <= 100 for v in document.values() if isinstance(v, list))
    first = documents[0]
    assert (first["ApiRequests"], first["ApiErrors"], first["EmailSent"], first["EmailBounced"]) == (250, 3, 40, 2)
    latencies = [v for d in documents for v in d.get("ApiLatency", [])]
    assert sorted(latencies) == [float(i) for i in range(250)]


def test_put_metric_data_reaches_cloudwatch(aws):
    client = boto3.client("cloudwatch", endpoint_url=aws, region_name="us-east-1")
    now = datetime.now(UTC)
    with m.Metrics("production", m.CloudWatchSink(client), clock=lambda: now.timestamp()) as metrics:
        every_metric(metrics)
        metrics.email("sent", 9)
    listed = {(x["MetricName"], tuple((d["Name"], d["Value"]) for d in x["Dimensions"]))
              for x in client.list_metrics(Namespace="Customer.io/Integration")["Metrics"]}
    assert ("EmailSent", (("Environment", "production"),)) in listed and len(listed) == 10
    stats = client.get_metric_statistics(
        Namespace="Customer.io/Integration", MetricName="EmailSent",
        Dimensions=[{"Name": "Environment", "Value": "production"}], StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5), Period=300, Statistics=["Sum"])["Datapoints"]
    assert sum(p["Sum"] for p in stats) == 10
    latency = client.get_metric_statistics(
        Namespace="Customer.io/Integration", MetricName="ApiLatency",
        Dimensions=[{"Name": "Environment", "Value": "production"}], StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5), Period=300, Statistics=["Maximum", "SampleCount"])["Datapoints"]
    assert max(p["Maximum"] for p in latency) == 5400.0


def test_put_metric_data_stays_within_cloudwatchs_limits():
    calls = []

    class Recording:
        def put_metric_data(self, **kwargs):
            calls.append(kwargs)

    metrics = m.Metrics("production", m.CloudWatchSink(Recording()))
    for i in range(160_000):  # distinct latencies: 1,067 data of at most 150 values
        metrics.api_call(i / 10)
    metrics.flush()
    assert [len(c["MetricData"]) for c in calls] == [1000, 68]
    latency = [d for c in calls for d in c["MetricData"] if d["MetricName"] == "ApiLatency"]
    assert all(len(d["Values"]) <= 150 and len(d["Values"]) == len(d["Counts"]) for d in latency)
    assert sum(sum(d["Counts"]) for d in latency) == 160_000


def test_reporting_webhook_events_map_onto_the_contract():
    batches = []
    metrics = m.Metrics("production", batches.append)
    for metric, counted in (("sent", True), ("delivered", True), ("bounced", True), ("spammed", True),
                            ("opened", False), ("clicked", False)):
        assert metrics.reporting_webhook({"object_type": "email", "metric": metric, "event_id": "x"}) is counted
    assert metrics.reporting_webhook({"object_type": "push", "metric": "sent"}) is False
    assert metrics.reporting_webhook({"object_type": "email", "metric": "sent"}, error=True) is True
    metrics.flush()
    assert batches[0].counts == {"WebhookReceived": 8, "WebhookErrors": 1, "EmailSent": 2, "EmailDelivered": 1,
                                 "EmailBounced": 1, "EmailSpammed": 1}


@pytest.mark.parametrize(("call", "message"), [
    (lambda x: x.api_call(-1.0), "latency_ms"),
    (lambda x: x.queue_depth(float("nan")), "depth"),
    (lambda x: x.email("opened"), "email event 'opened'"),
])
def test_bad_observations_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call(m.Metrics("production", lambda batch: None))


def test_an_environment_is_required():
    with pytest.raises(ValueError, match="environment"):
        m.Metrics(" ", lambda batch: None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["sent", "delivered", "bounced", "spammed", "ok", "fail", "depth"]), max_size=80))
def test_published_sums_equal_what_was_recorded(events):
    batches = []
    metrics = m.Metrics("production", batches.append)
    for event in events:
        if event in m.EMAIL_EVENTS:
            metrics.email(event)
        elif event == "depth":
            metrics.queue_depth(7)
        else:
            metrics.api_call(10.0, error=event == "fail")
    batch = metrics.flush()
    if not events:
        assert batch is None and batches == []
        return
    emf = m.emf_documents(batch)
    for event, metric in m.EMAIL_EVENTS.items():
        assert batch.counts.get(metric, 0) == events.count(event) == emf[0].get(metric, 0)
    assert batch.counts.get("ApiRequests", 0) == events.count("ok") + events.count("fail")
    assert batch.counts.get("ApiErrors", 0) == events.count("fail")
    assert sum(batch.distributions.get("QueueDepth", {}).values()) == events.count("depth")
    assert metrics.flush() is None  # flushed means emptied
