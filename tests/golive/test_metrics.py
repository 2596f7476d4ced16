"""golive.metrics publishes exactly what the alarms read: checked against the alarms the repository's
program registers, in CloudWatch embedded metric format, and through PutMetricData into moto."""

from __future__ import annotations

import io
import json
import threading
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore import serialize
from hypothesis import given, settings
from hypothesis import strategies as st

from golive import metrics as m
from golive.preview.program import run_program

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


def encoded_sizes(request: list[dict]) -> dict[str, int]:
    """The request body's bytes in each protocol botocore may speak to CloudWatch, before compression."""
    operation = botocore.session.get_session().get_service_model("cloudwatch").operation_model("PutMetricData")
    sizes = {}
    for protocol in ("query", "json", "smithy-rpc-v2-cbor"):
        body = serialize.create_serializer(protocol, include_validation=False).serialize_to_request(
            {"Namespace": m.NAMESPACE, "MetricData": request}, operation)["body"]
        sizes[protocol] = len(urllib.parse.urlencode(body) if isinstance(body, dict) else body)
    return sizes


def test_put_metric_data_stays_within_cloudwatchs_limits():
    calls = []

    class Recording:
        def put_metric_data(self, **kwargs):
            calls.append(kwargs)

    metrics = m.Metrics("production", m.CloudWatchSink(Recording()))
    for i in range(160_000):  # distinct latencies: 1,067 data of at most 150 values
        metrics.api_call(i / 10)
    metrics.flush()
    assert all(len(c["MetricData"]) <= 1000 for c in calls) and len(calls) > 2
    for call in calls:  # 1 MB a request, whichever protocol the installed botocore uses
        assert max(encoded_sizes(call["MetricData"]).values()) <= 1_000_000
    latency = [d for c in calls for d in c["MetricData"] if d["MetricName"] == "ApiLatency"]
    assert len(latency) == 1067
    assert all(len(d["Values"]) <= 150 and len(d["Values"]) == len(d["Counts"]) for d in latency)
    assert sum(sum(d["Counts"]) for d in latency) == 160_000
    assert [d["MetricName"] for c in calls for d in c["MetricData"]][:2] == ["ApiRequests", "ApiErrors"]


def test_many_small_data_are_cut_at_1000_a_request():
    data = [{"MetricName": "ApiRequests", "Value": 1.0}] * 2500
    assert [len(r) for r in m.put_requests(data)] == [1000, 1000, 500]
    assert m.put_requests([]) == []


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
    (lambda x: x.api_call(float("inf")), "latency_ms"),
    (lambda x: x.email("sent", -2), "count"),
    (lambda x: x.email("opened"), "email event 'opened'"),
])
def test_bad_observations_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call(m.Metrics("production", lambda batch: None))


@pytest.mark.parametrize("environment", [" ", "", "Production", "prod/eu", None])
def test_an_environment_an_alarm_could_read_is_required(environment):
    with pytest.raises(ValueError, match="environment"):
        m.Metrics(environment, lambda batch: None)


def test_the_environment_rule_is_the_stack_configs():
    from components import settings

    assert m.ENVIRONMENT.pattern == settings._ENVIRONMENT.pattern


def test_a_numerator_that_saw_nothing_is_published_as_zero():
    """Metric math has no rate for a period where the numerator is missing: without the zeros, sends that never
    get delivered would leave delivery_rate without data instead of at 0."""
    metrics = m.Metrics("production", lambda batch: None)
    metrics.api_call(80.0)
    metrics.email("sent", 100)
    metrics.webhook()
    batch = metrics.flush()
    assert batch.counts == {"ApiRequests": 1, "ApiErrors": 0, "EmailSent": 100, "EmailDelivered": 0,
                            "EmailBounced": 0, "WebhookReceived": 1, "WebhookErrors": 0}
    metrics.email("delivered")
    assert metrics.flush().counts == {"EmailDelivered": 1, "EmailSpammed": 0}
    metrics.queue_depth(3)
    assert metrics.flush().counts == {}


def test_the_default_sink_writes_emf_to_stdout(capsys):
    with m.Metrics("production") as metrics:
        metrics.queue_depth(42)
    [document] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert document["QueueDepth"] == [42.0] and document["Environment"] == "production"


def test_threads_recording_at_once_lose_nothing():
    metrics = m.Metrics("production", lambda batch: None)

    def record():
        for i in range(2000):
            metrics.api_call(float(i % 7), error=i % 10 == 0)
            metrics.reporting_webhook({"object_type": "email", "metric": "sent"})

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batch = metrics.flush()
    assert batch.counts["ApiRequests"] == batch.counts["EmailSent"] == batch.counts["WebhookReceived"] == 16_000
    assert batch.counts["ApiErrors"] == 1600
    assert sum(batch.distributions["ApiLatency"].values()) == 16_000


EVENTS = st.one_of(
    st.tuples(st.just("api"), st.booleans()),
    st.tuples(st.just("webhook"), st.sampled_from(["sent", "delivered", "bounced", "spammed", "opened", "clicked"]),
              st.sampled_from(["email", "push"]), st.booleans()),
    st.tuples(st.just("depth"), st.integers(0, 50_000)),
)


def published_sums(batch: m.Batch) -> tuple[dict[str, float], dict[str, float]]:
    """Per metric, the sum (counts) or sample count (distributions) in the EMF documents and in PutMetricData."""
    emf: dict[str, float] = {}
    for document in m.emf_documents(batch):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                emf[metric["Name"]] = emf.get(metric["Name"], 0) + (len(value) if isinstance(value, list) else value)
    put: dict[str, float] = {}
    for request in m.put_requests(m.metric_data(batch)):
        for datum in request:
            amount = sum(datum["Counts"]) if "Counts" in datum else datum["Value"]
            put[datum["MetricName"]] = put.get(datum["MetricName"], 0) + amount
    return emf, put


@settings(max_examples=60, deadline=None)
@given(st.lists(EVENTS, max_size=80))
def test_published_sums_equal_what_was_recorded(events):
    batches = []
    metrics = m.Metrics("production", batches.append)
    expected: dict[str, float] = {}

    def seen(metric, n=1):
        expected[metric] = expected.get(metric, 0) + n

    for event in events:
        if event[0] == "api":
            metrics.api_call(10.0, error=event[1])
            for metric, n in (("ApiRequests", 1), ("ApiLatency", 1), ("ApiErrors", int(event[1]))):
                seen(metric, n)
        elif event[0] == "webhook":
            _, metric, object_type, error = event
            metrics.reporting_webhook({"object_type": object_type, "metric": metric}, error=error)
            seen("WebhookReceived")
            seen("WebhookErrors", int(error))
            if object_type == "email" and metric in m.EMAIL_EVENTS:
                seen(m.EMAIL_EVENTS[metric])
        else:
            metrics.queue_depth(event[1])
            seen("QueueDepth")
    batch = metrics.flush()
    if not events:
        assert batch is None and batches == []
        return
    emf, put = published_sums(batch)
    # Numerators are published as 0 alongside their denominators, so compare nonzero sums, and check that
    # every published metric is one the alarms read.
    nonzero = {k: v for k, v in expected.items() if v}
    assert {k: v for k, v in emf.items() if v} == nonzero == {k: v for k, v in put.items() if v}
    assert set(emf) == set(put) <= set(m.UNITS)
    assert metrics.flush() is None  # flushed means emptied
