"""Publish exactly the metrics the checklist's alarms read (README "Metric contract").

An application calls it around its Customer.io API calls and its queue; the handler of Customer.io's
reporting webhooks feeds it each event. Names, units, namespace and dimension come from the pack's
catalog, the same data DeliveryAlarms builds its alarms from, so a renamed metric cannot leave an
alarm reading nothing.

    from golive.metrics import Metrics, EmfSink
    with Metrics("production", EmfSink()) as metrics:      # Lambda, containers: CloudWatch EMF on stdout
        metrics.api_call(latency_ms=182.0, error=False)
        metrics.reporting_webhook(event)                   # a Customer.io reporting-webhook payload
        metrics.queue_depth(1250)

Two sinks: `EmfSink` writes CloudWatch embedded metric format lines (where a log agent or Lambda
turns them into metrics), `CloudWatchSink` calls PutMetricData in batches within CloudWatch's limits.
Observations are buffered and aggregated per metric until `flush()` (or the end of the `with`):
counts are summed, latencies and queue depths kept as value/count pairs so CloudWatch can compute
p99 and Maximum over them. A rate's numerator goes out as 0 whenever its denominator goes out, so
the alarm's metric math always has both sides. Without a sink, `Metrics` writes EMF to stdout.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from checklist import catalog

NAMESPACE = catalog.METRIC_NAMESPACE
DIMENSION = catalog.METRIC_DIMENSION
# Every metric the alarms read, with its unit.
UNITS: dict[str, str] = {
    **{m: "Count" for pair in catalog.RATE_METRICS.values() for m in pair},
    **{metric: unit for metric, _statistic, unit in catalog.GAUGE_METRICS.values()},
}
LATENCY = catalog.GAUGE_METRICS["api_p99_latency_ms"][0]
QUEUE_DEPTH = catalog.GAUGE_METRICS["queue_depth"][0]
_API = catalog.RATE_METRICS["api_error_rate"]  # (errors, requests)
_WEBHOOK = catalog.RATE_METRICS["webhook_error_rate"]  # (errors, received)
_SENT, _BOUNCED = catalog.RATE_METRICS["bounce_rate"][1], catalog.RATE_METRICS["bounce_rate"][0]
_SPAMMED, _DELIVERED = catalog.RATE_METRICS["complaint_rate"]
# Customer.io reporting webhooks: `metric` of an `email` object -> our count. Others (opened,
# clicked, converted, …) feed no alarm and are not published.
EMAIL_EVENTS: dict[str, str] = {"sent": _SENT, "delivered": _DELIVERED, "bounced": _BOUNCED, "spammed": _SPAMMED}

# The alarms' dimension value is the stack's golive:environment, which components/settings.py holds to
# this form; a name outside it is one no alarm can ever read.
ENVIRONMENT = re.compile(catalog.ENVIRONMENT_NAME)

MAX_DATUMS_PER_CALL = 1000  # PutMetricData: metric data per request
MAX_VALUES_PER_DATUM = 150  # PutMetricData: distinct values in Values/Counts
# PutMetricData: 1 MB a request. Measured on the query protocol, the widest encoding a botocore may use,
# before compression, with room left for the request's own fields.
MAX_REQUEST_BYTES = 900_000
MAX_EMF_VALUES = 100  # embedded metric format: values per metric in one document


@dataclass(frozen=True)
class Batch:
    """What one flush publishes: summed counts, and value -> times seen for the distributions."""

    environment: str
    timestamp_ms: int
    counts: Mapping[str, float]
    distributions: Mapping[str, Mapping[float, int]]


Sink = Callable[[Batch], None]


class Metrics:
    """A buffer of observations for one environment; thread-safe."""

    def __init__(self, environment: str, sink: Sink | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        if not isinstance(environment, str) or not ENVIRONMENT.match(environment):
            raise ValueError(f"environment {environment!r}: expected the stack's golive:environment, a lowercase "
                             "name like production or staging")
        self.environment = environment
        self.sink: Sink = sink if sink is not None else EmfSink()
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._distributions: dict[str, Counter[float]] = {}

    # --- what an application records ------------------------------------------------------------
    def api_call(self, latency_ms: float, *, error: bool = False) -> None:
        """One Customer.io API call: its latency, and whether it failed (a 5xx, a timeout, a 4xx you did
        not expect)."""
        self._observe(LATENCY, _non_negative("latency_ms", latency_ms))
        self._count(_API[1])
        if error:
            self._count(_API[0])

    def email(self, event: str, count: int = 1) -> None:
        """A delivery event: `sent`, `delivered`, `bounced` or `spammed`."""
        if event not in EMAIL_EVENTS:
            raise ValueError(f"email event {event!r}: expected one of {', '.join(EMAIL_EVENTS)}")
        self._count(EMAIL_EVENTS[event], _non_negative("count", count))

    def webhook(self, *, error: bool = False) -> None:
        """One reporting webhook received; `error` when the handler failed to process it."""
        self._count(_WEBHOOK[1])
        if error:
            self._count(_WEBHOOK[0])

    def queue_depth(self, depth: int) -> None:
        """Events waiting to be sent to Customer.io, sampled now."""
        self._observe(QUEUE_DEPTH, _non_negative("depth", depth))

    def reporting_webhook(self, payload: Mapping[str, Any], *, error: bool = False) -> bool:
        """One Customer.io reporting-webhook event: counts the webhook and, for an email event the alarms
        read, the event. Returns whether the event counted as an email event."""
        self.webhook(error=error)
        if not isinstance(payload, Mapping) or payload.get("object_type") != "email":
            return False
        metric = payload.get("metric")
        if metric not in EMAIL_EVENTS:
            return False
        self.email(str(metric))
        return True

    # --- buffering -------------------------------------------------------------------------------
    def _count(self, metric: str, amount: float = 1) -> None:
        with self._lock:
            self._counts[metric] += amount

    def _observe(self, metric: str, value: float) -> None:
        with self._lock:
            self._distributions.setdefault(metric, Counter())[float(value)] += 1

    def flush(self) -> Batch | None:
        """Hand what was recorded since the last flush to the sink; nothing when nothing was recorded."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            distributions, self._distributions = self._distributions, {}
        if not counts and not distributions:
            return None
        # A rate's numerator that saw nothing is published as 0, not left out: metric math has no value
        # for a period where one side is missing, so 100 sends and no deliveries would read as no data.
        for numerator, denominator in catalog.RATE_METRICS.values():
            if denominator in counts:
                counts[numerator] += 0
        batch = Batch(self.environment, int(self.clock() * 1000), dict(counts),
                      {m: dict(d) for m, d in distributions.items()})
        self.sink(batch)
        return batch

    def __enter__(self) -> Metrics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def _non_negative(name: str, value: float) -> float:
    # CloudWatch refuses NaN and infinities; refusing them here names the call that produced one.
    if isinstance(value, bool) or not isinstance(value, int | float) or not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name}: expected a finite number of at least 0, got {value!r}")
    return float(value)


def _chunks(pairs: Iterable[tuple[float, int]], size: int) -> list[list[tuple[float, int]]]:
    items = sorted(pairs)
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


class EmfSink:
    """CloudWatch embedded metric format: one JSON document per line, for Lambda's log stream or the
    CloudWatch agent. A distribution with more values than one document may carry is split over several."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def __call__(self, batch: Batch) -> None:
        stream = self.stream or sys.stdout
        for document in emf_documents(batch):
            stream.write(json.dumps(document, separators=(",", ":")) + "\n")
        stream.flush()


def emf_documents(batch: Batch) -> list[dict[str, Any]]:
    def document(values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "_aws": {"Timestamp": batch.timestamp_ms, "CloudWatchMetrics": [{
                "Namespace": NAMESPACE, "Dimensions": [[DIMENSION]],
                "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in values]}]},
            DIMENSION: batch.environment,
            **values,
        }

    first: dict[str, Any] = {name: value for name, value in batch.counts.items()}
    documents = []
    for name, seen in batch.distributions.items():
        # EMF has no value/count pairs: a value seen n times is repeated n times, 100 values a document.
        flat = [value for value, times in sorted(seen.items()) for _ in range(times)]
        for start in range(0, len(flat), MAX_EMF_VALUES):
            part = flat[start:start + MAX_EMF_VALUES]
            if start == 0:
                first[name] = part
            else:
                documents.append(document({name: part}))
    return [document(first), *documents] if first else documents


class CloudWatchSink:
    """PutMetricData, at most 1,000 data and 1 MB a call and 150 distinct values a datum, with timeouts."""

    def __init__(self, client: Any = None, *, region: str | None = None, endpoint_url: str | None = None,
                 timeout: float = 5.0) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url,
                                  config=Config(connect_timeout=timeout, read_timeout=timeout,
                                                retries={"max_attempts": 3, "mode": "standard"}))
        self.client = client

    def __call__(self, batch: Batch) -> None:
        for request in put_requests(metric_data(batch)):
            self.client.put_metric_data(Namespace=NAMESPACE, MetricData=request)


def put_requests(data: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """`data` split into PutMetricData requests within CloudWatch's count and size limits, in order."""
    requests: list[list[dict[str, Any]]] = []
    size = 0
    for datum in data:
        cost = _encoded_size(datum)
        if not requests or len(requests[-1]) == MAX_DATUMS_PER_CALL or size + cost > MAX_REQUEST_BYTES:
            requests.append([])
            size = 0
        requests[-1].append(datum)
        size += cost
    return requests


def _encoded_size(datum: Mapping[str, Any]) -> int:
    """An upper bound of the datum's bytes in a query-protocol body (`&MetricData.member.1000.Values.member.150=`
    before each value), the largest of the protocols CloudWatch speaks."""
    member = len("&MetricData.member.1000.")
    size = 0
    for key, value in datum.items():
        if key in ("Values", "Counts"):
            size += sum(member + len(key) + len(".member.150=") + len(repr(v)) for v in value)
        elif key == "Dimensions":
            size += sum(2 * member + len("Dimensions.member.30.Value=") + 3 * (len(d["Name"]) + len(d["Value"]))
                        for d in value)
        else:
            # Percent-encoding triples a character at most.
            size += member + len(key) + 1 + 3 * len(str(value))
    return size


def metric_data(batch: Batch) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(batch.timestamp_ms / 1000, UTC)
    dimensions = [{"Name": DIMENSION, "Value": batch.environment}]
    data: list[dict[str, Any]] = [
        {"MetricName": name, "Dimensions": dimensions, "Timestamp": when, "Value": float(total),
         "Unit": UNITS[name]}
        for name, total in batch.counts.items()
    ]
    for name, seen in batch.distributions.items():
        for chunk in _chunks(seen.items(), MAX_VALUES_PER_DATUM):
            data.append({"MetricName": name, "Dimensions": dimensions, "Timestamp": when, "Unit": UNITS[name],
                         "Values": [v for v, _ in chunk], "Counts": [float(c) for _, c in chunk]})
    return data
