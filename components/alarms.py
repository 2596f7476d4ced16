"""DeliveryAlarms: an SNS topic and one CloudWatch alarm per checklist signal.

Metric contract (what `golive.metrics` publishes; README "Metric contract"): namespace
`Customer.io/Integration`, dimension `Environment`, counts as `Count` sums per period:
ApiRequests, ApiErrors, EmailSent, EmailDelivered, EmailBounced, EmailSpammed, WebhookReceived,
WebhookErrors; ApiLatency in Milliseconds (alarmed on p99); QueueDepth as a Count gauge (Maximum).
Rates are metric math over the counts so that the alarm sees the same ratio the checklist names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from checklist import catalog

from .validate import InputError, require_number

NAMESPACE = catalog.METRIC_NAMESPACE
_RATES = catalog.RATE_METRICS
_GAUGES = catalog.GAUGE_METRICS
# No traffic means nothing to alert on for a rate; a gauge that stops reporting keeps its state,
# so a dead publisher does not flap the alarm to OK.
_MISSING_DATA = {**{s: "notBreaching" for s in _RATES}, **{s: "missing" for s in _GAUGES}}


@dataclass
class DeliveryAlarmsArgs:
    environment: str
    alert_emails: Sequence[str] = field(default_factory=list)
    alert_https_endpoints: Sequence[str] = field(default_factory=list)
    thresholds: Mapping[str, float] = field(default_factory=dict)  # overrides of the checklist's
    period_seconds: int = 300
    evaluation_periods: int = 2
    actions_enabled: bool = True  # off only for a maintenance window; the pack blocks it in production


class DeliveryAlarms(pulumi.ComponentResource):
    def __init__(self, name: str, args: DeliveryAlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:monitoring:DeliveryAlarms", name, None, opts)
        unknown = set(args.thresholds) - set(catalog.SIGNALS)
        if unknown:
            raise InputError(f"thresholds: unknown signal {sorted(unknown)[0]!r}; expected one of "
                             + ", ".join(catalog.SIGNALS))
        thresholds = {s: require_number(f"thresholds.{s}", v) for s, v in args.thresholds.items()}
        if not args.alert_emails and not args.alert_https_endpoints:
            raise InputError("alert_emails / alert_https_endpoints: at least one alert endpoint is needed")
        child = pulumi.ResourceOptions(parent=self)

        self.topic = aws.sns.Topic(f"{name}-alerts", tags={"environment": args.environment}, opts=child)
        for i, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(f"{name}-email-{i}", topic=self.topic.arn, protocol="email",
                                      endpoint=email, opts=child)
        for i, url in enumerate(args.alert_https_endpoints):
            aws.sns.TopicSubscription(f"{name}-https-{i}", topic=self.topic.arn, protocol="https",
                                      endpoint=url, opts=child)

        dimensions = {catalog.METRIC_DIMENSION: args.environment}
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for signal in catalog.SIGNALS.values():
            threshold = thresholds.get(signal.name, signal.threshold)
            common = dict(
                comparison_operator="GreaterThanThreshold" if signal.direction == "above" else "LessThanThreshold",
                threshold=threshold,
                evaluation_periods=args.evaluation_periods,
                alarm_description=f"Customer.io {args.environment}: {signal.meaning} (checklist §5)",
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
                actions_enabled=args.actions_enabled,
                treat_missing_data=_MISSING_DATA[signal.name],
                tags={catalog.SIGNAL_TAG: signal.name, "environment": args.environment},
                opts=child,
            )
            if signal.name in _RATES:
                numerator, denominator = _RATES[signal.name]
                queries = [
                    _count_query("num", numerator, dimensions, args.period_seconds),
                    _count_query("den", denominator, dimensions, args.period_seconds),
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="rate", expression="IF(den > 0, num / den, 0)" if signal.direction == "above"
                        else "IF(den > 0, num / den, 1)", label=signal.name, return_data=True,
                    ),
                ]
                alarm = aws.cloudwatch.MetricAlarm(f"{name}-{signal.name}", metric_queries=queries, **common)
            else:
                metric, statistic, unit = _GAUGES[signal.name]
                stat = {"extended_statistic": statistic} if statistic.startswith("p") else {"statistic": statistic}
                alarm = aws.cloudwatch.MetricAlarm(
                    f"{name}-{signal.name}", namespace=NAMESPACE, metric_name=metric, dimensions=dimensions,
                    period=args.period_seconds, unit=unit, **stat, **common,
                )
            self.alarms[signal.name] = alarm
        self.register_outputs({"topicArn": self.topic.arn})


def _count_query(qid: str, metric: str, dimensions: Mapping[str, str], period: int):
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=qid,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=NAMESPACE, metric_name=metric, dimensions=dict(dimensions), period=period,
            stat=catalog.COUNT_STATISTIC, unit="Count",
        ),
        return_data=False,
    )
