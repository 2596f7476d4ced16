"""`golive audit`'s AWS checks against moto in server mode.

Each test seeds what `pulumi up` creates with the repository's components (three credential secrets
per environment with a rotation Lambda, the seven signal alarms with their metric math, the alert
topic with a subscription, the rollout flag), plus what the audit must ignore (staging's alarms, an
unrelated alarm). The compliant setup passes every line; each fault then fails exactly its line.

Where moto cannot produce a state, the test says how it gets there instead:
- moto's `rotate_secret` leaves a valueless AWSPENDING version even with RotateImmediately=False
  (AWS removes its configuration-test version); the seed removes it, as AWS would have.
- Ages: moto stamps everything "now", so the audit's clock is moved forward instead.
- moto confirms every SNS subscription at once; an unconfirmed one is shown by rewriting
  ListSubscriptionsByTopic's answer at the boto level (a botocore event handler).
- AccessDenied is real: moto's IAM enforcement (`/moto-api/reset-auth`) with a user denied reads.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from checklist import catalog
from golive.operations.audit import aws as audit_aws
from golive.operations.audit import aws_calls
from golive.operations.audit import route53 as audit_route53
from golive.operations.audit.result import AuditResult, Status
from golive.operations.audit.target import AuditTarget, Endpoints
from tests.fakes.aws_seed import ENV, EVERY_LINE, KINDS, PROD, REGION, STAGING, VALUES, Seed, client, seed  # noqa: F401


@pytest.fixture
def env(aws: str) -> Seed:
    return seed(aws)


def audit(target: AuditTarget, **kwargs: Any) -> list[AuditResult]:
    """Run the checks the way the orchestrator does: concurrently, each on its own."""
    found = audit_aws.checks(target, **kwargs)
    with ThreadPoolExecutor(len(found)) as pool:
        results = [line for lines in pool.map(lambda check: check.run(), found) for line in lines]
    leaked = [r.line() for r in results for value in VALUES if value in r.line()]
    assert not leaked, "a credential value reached an audit line"
    for r in results:
        assert r.section, r.line()
    return results


def names(results: list[AuditResult], status: Status) -> set[str]:
    return {r.name for r in results if r.status is status}


def detail(results: list[AuditResult], name: str) -> str:
    return " | ".join(r.detail for r in results if r.name == name)


def later(days: float) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + timedelta(days=days)


# --- the compliant setup ------------------------------------------------------------------------------


def test_compliant_setup_passes_every_line(env: Seed) -> None:
    results = audit(env.target())
    assert {r.name for r in results} == EVERY_LINE
    assert names(results, Status.FAIL) == set() and names(results, Status.WARN) == set(), \
        [r.line() for r in results if r.status is not Status.PASS]
    assert "Site ID prod…" in detail(results, "site-id secret")
    assert "every 90 days through customerio-rotation" in detail(results, "track-api-key rotation schedule")
    assert "0.05" in detail(results, "alarm bounce_rate")  # production's alarm, not staging's 0.5
    assert "1 confirmed subscription(s) (sqs)" in detail(results, "alert topic")
    assert "= 0 (stage 1 of 5" in detail(results, "rollout flag")
    sections = {r.name: r.section for r in results}
    assert sections["app-api-key secret"] == "§1 credentials"
    assert sections["alarm queue_depth"] == "§5 monitoring" and sections["rollout flag"] == "§7 rollout"


def test_names_instead_of_outputs_and_the_topic_from_the_alarms(env: Seed) -> None:
    """Without stack outputs the target has secret names and no topic ARN: the alarms' actions name it."""
    target = env.target(secret_ids={k: f"customerio/{ENV}/{k}" for k in KINDS}, alert_topic_arn=None)
    results = audit(target)
    assert names(results, Status.FAIL) == set() and names(results, Status.WARN) == set()
    assert env.topic in detail(results, "alert topic")


def test_a_stricter_override_binds_and_a_looser_one_is_ignored(env: Seed) -> None:
    stricter = audit(env.target(thresholds={"bounce_rate": 0.03}))
    assert names(stricter, Status.FAIL) == {"alarm bounce_rate"}
    assert "golive:thresholds.bounce_rate = 0.03" in detail(stricter, "alarm bounce_rate")

    looser = audit(env.target(thresholds={"bounce_rate": 0.10, "queue_depth": 5000}))
    assert names(looser, Status.FAIL) == {"alarm queue_depth"}  # 10000 is looser than the stack's 5000
    assert names(looser, Status.WARN) == {"alarm bounce_rate"}
    assert "looser than the checklist and was ignored" in detail(looser, "alarm bounce_rate")


# --- one fault, one failing line -----------------------------------------------------------------------


def no_value(env: Seed) -> None:
    env.drop_value("app-api-key")


def rotation_disabled(env: Seed) -> None:
    env.client("secretsmanager").cancel_rotate_secret(SecretId=env.arns["site-id"])


def rotation_120_days(env: Seed) -> None:
    env.rotate(env.arns["track-api-key"], days=120)


def prod_equals_staging(env: Seed) -> None:
    env.client("secretsmanager").put_secret_value(SecretId="customerio/staging/track-api-key",
                                                  SecretString=PROD["track-api-key"])


def staging_missing(env: Seed) -> None:
    env.client("secretsmanager").delete_secret(SecretId="customerio/staging/site-id", ForceDeleteWithoutRecovery=True)


def alarm_missing(env: Seed) -> None:
    env.client("cloudwatch").delete_alarms(AlarmNames=[env.alarm_name("queue_depth")])


def alarm_untagged(env: Seed) -> None:
    cw = env.client("cloudwatch")
    arn = cw.describe_alarms(AlarmNames=[env.alarm_name("complaint_rate")])["MetricAlarms"][0]["AlarmArn"]
    cw.untag_resource(ResourceARN=arn, TagKeys=[catalog.SIGNAL_TAG])


def threshold_looser(env: Seed) -> None:
    env.put_alarm("bounce_rate", 0.10)


def wrong_direction(env: Seed) -> None:
    env.put_alarm("delivery_rate", operator="GreaterThanThreshold")


def actions_disabled(env: Seed) -> None:
    env.put_alarm("api_error_rate", ActionsEnabled=False)


def no_alarm_actions(env: Seed) -> None:
    env.put_alarm("webhook_error_rate", AlarmActions=[])


def firing(env: Seed) -> None:
    env.client("cloudwatch").set_alarm_state(
        AlarmName=env.alarm_name("complaint_rate"), StateValue="ALARM",
        StateReason="Threshold Crossed: 1 datapoint [0.004] was greater than the threshold (0.001).")


def no_subscription(env: Seed) -> None:
    env.client("sns").unsubscribe(SubscriptionArn=env.subscription)


def topic_deleted(env: Seed) -> None:
    env.client("sns").delete_topic(TopicArn=env.topic)


def flag_25(env: Seed) -> None:
    env.client("ssm").put_parameter(Name=f"/customerio/{ENV}/rollout", Value="25", Type="String", Overwrite=True)


def flag_missing(env: Seed) -> None:
    env.client("ssm").delete_parameter(Name=f"/customerio/{ENV}/rollout")


FAULTS = [
    # (fault, failing lines, what the detail must say)
    (no_value, {"app-api-key secret"}, "no current (AWSCURRENT) value: store the production key"),
    (rotation_disabled, {"site-id rotation schedule"}, "rotation is disabled"),
    (rotation_120_days, {"track-api-key rotation schedule"}, "it rotates every 120 days"),
    (prod_equals_staging, {"track-api-key differs from staging"}, "create a separate key in the production"),
    (alarm_missing, {"alarm queue_depth"}, "No CloudWatch alarm watches queue_depth"),
    (alarm_untagged, {"alarm complaint_rate"}, f"tagged {catalog.SIGNAL_TAG}=complaint_rate"),
    (threshold_looser, {"alarm bounce_rate"}, "threshold 0.1 (10%) is looser than the checklist's 0.05 (5%)"),
    (wrong_direction, {"alarm delivery_rate"}, "comparisonOperator is 'GreaterThanThreshold'"),
    (actions_disabled, {"alarm api_error_rate"}, "actionsEnabled is false"),
    (no_alarm_actions, {"alarm webhook_error_rate"}, "it has no alarmActions"),
    (firing, {"alarm complaint_rate"}, "is in ALARM since"),
    (no_subscription, {"alert topic"}, "has no confirmed subscription, so alarms reach nobody; it has no subscr"),
    (topic_deleted, {"alert topic"}, "does not exist: the alarms notify nobody"),
    (flag_25, {"rollout flag"}, "holds '25', which is not a rollout stage (0, internal, 10, 50, 100)"),
    (flag_missing, {"rollout flag"}, "does not exist: run `pulumi up`"),
]


@pytest.mark.parametrize(("fault", "failing", "says"), FAULTS, ids=[f[0].__name__ for f in FAULTS])
def test_each_fault_fails_exactly_its_line(env: Seed, fault: Callable[[Seed], None], failing: set[str],
                                           says: str) -> None:
    fault(env)
    results = audit(env.target())
    assert names(results, Status.FAIL) == failing, [r.line() for r in results if r.status is not Status.PASS]
    [line] = failing
    assert says in detail(results, line)


def test_no_value_leaves_the_comparison_undone_not_passed(env: Seed) -> None:
    no_value(env)
    results = audit(env.target())
    assert names(results, Status.WARN) == {"app-api-key differs from staging"}
    assert "the production value could not be read" in detail(results, "app-api-key differs from staging")


def test_staging_secret_missing_is_a_warning(env: Seed) -> None:
    staging_missing(env)
    results = audit(env.target())
    assert names(results, Status.FAIL) == set()
    assert names(results, Status.WARN) == {"site-id differs from staging"}
    assert "not compared with customerio/staging/site-id" in detail(results, "site-id differs from staging")


def test_firing_alarm_names_the_alarm_and_its_reason(env: Seed) -> None:
    firing(env)
    text = detail(audit(env.target()), "alarm complaint_rate")
    assert env.alarm_name("complaint_rate") in text and "[0.004] was greater than the threshold" in text


def test_keys_older_than_the_cycle_fail_their_age_line(env: Seed) -> None:
    results = audit(env.target(), clock=later(100))
    assert names(results, Status.FAIL) == {f"{kind} key age" for kind in KINDS}
    text = detail(results, "site-id key age")
    assert "is 100 days old" in text and "past the checklist's 90-day cycle" in text
    assert "golive credentials stage customerio/production/site-id" in text
    assert "due within 1 days" in detail(audit(env.target(), clock=later(89)), "site-id key age")


def test_a_rotation_left_pending_fails_and_a_fresh_one_passes(env: Seed) -> None:
    sm = env.client("secretsmanager")
    # A rotation that started and never finished: AWSPENDING on a version that is not AWSCURRENT.
    sm.rotate_secret(SecretId=env.arns["app-api-key"], RotationLambdaARN=env.function_arn,
                     RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    fresh = audit(env.target())
    assert names(fresh, Status.FAIL) == set()
    assert "is under way" in detail(fresh, "app-api-key rotation progress")
    stale = audit(env.target(), clock=later(2))
    assert names(stale, Status.FAIL) == {"app-api-key rotation progress"}
    assert "never finished" in detail(stale, "app-api-key rotation progress")


def test_a_key_staged_long_ago_and_not_rotated_in_is_a_warning(env: Seed) -> None:
    sm = env.client("secretsmanager")
    sm.put_secret_value(SecretId=env.arns["track-api-key"], SecretString="prodtrack-next-5a1d",
                        VersionStages=["GOLIVE_STAGED"])
    assert names(audit(env.target()), Status.WARN) == set()
    results = audit(env.target(), clock=later(3))
    assert names(results, Status.FAIL) == set()
    assert names(results, Status.WARN) == {"track-api-key rotation progress"}
    assert "prodtrack-next" not in " ".join(r.line() for r in results)


def test_an_unconfirmed_subscription_fails_the_topic(env: Seed) -> None:
    def pending(parsed: dict[str, Any], **_: Any) -> None:
        # moto confirms every subscription; AWS lists an unconfirmed one with this placeholder ARN.
        for subscription in parsed.get("Subscriptions", []):
            subscription["SubscriptionArn"] = "PendingConfirmation"

    def session() -> boto3.session.Session:
        made = boto3.session.Session()
        made.events.register("after-call.sns.ListSubscriptionsByTopic", pending)
        return made

    results = audit(env.target(), session_factory=session)
    assert names(results, Status.FAIL) == {"alert topic"}
    assert "1 subscription(s) still wait for confirmation" in detail(results, "alert topic")


def test_a_missing_secret_fails_once_and_says_how_to_create_it(env: Seed) -> None:
    env.client("secretsmanager").delete_secret(SecretId=env.arns["site-id"], ForceDeleteWithoutRecovery=True)
    results = audit(env.target(secret_ids={k: f"customerio/{ENV}/{k}" for k in KINDS}))
    assert names(results, Status.FAIL) == {"site-id secret"}
    assert [r.name for r in results if r.name.startswith("site-id")] == ["site-id secret"]
    assert "customerio/production/site-id does not exist: run `pulumi up`" in detail(results, "site-id secret")


def test_sessions_share_one_model_loader_without_growing_it() -> None:
    first = aws_calls.new_session()
    paths = list(first._loader.search_paths)
    second = aws_calls.new_session()
    assert second._loader is first._loader and list(second._loader.search_paths) == paths
    assert second._session is not first._session  # each check still has a session of its own


def test_secret_schedule_expressions_go_through_the_packs_schedule_logic() -> None:
    """moto ignores ScheduleExpression, so DescribeSecret's shape is fed to the adapter directly."""
    described = {"Name": "customerio/production/site-id", "ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x",
                 "RotationEnabled": True, "RotationLambdaARN": "arn:aws:lambda:us-east-1:1:function:rot",
                 "RotationRules": {"AutomaticallyAfterDays": 92, "ScheduleExpression": "cron(0 12 1 */3 ? *)"}}
    [problem] = audit_aws.rotation_findings(described, "site-id")
    assert "cron(0 12 1 */3 ? *)" in problem and "at most 90 days" in problem
    described["RotationRules"] = {"ScheduleExpression": "rate(30 days)", "Duration": "2h"}
    assert audit_aws.rotation_findings(described, "site-id") == []
    assert "no rotation function" in audit_aws.rotation_findings(
        {**described, "RotationLambdaARN": None}, "site-id")[0]
    assert "has no rotation" in audit_aws.rotation_findings({"Name": "n", "ARN": "a"}, "site-id")[0]


# --- AWS says no, or says nothing ---------------------------------------------------------------------


@pytest.fixture
def enforced_iam(env: Seed) -> Iterator[Callable[[], boto3.session.Session]]:
    """A user who may read everything but secret values and parameters, with moto checking IAM."""
    iam = env.client("iam")
    iam.create_user(UserName="auditor")
    iam.put_user_policy(UserName="auditor", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameter"], "Resource": "*"},
        ]}))
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    requests.post(f"{env.url}/moto-api/reset-auth", data=b"0", timeout=5)
    try:
        yield lambda: boto3.session.Session(aws_access_key_id=key["AccessKeyId"],
                                            aws_secret_access_key=key["SecretAccessKey"], region_name=REGION)
    finally:
        requests.post(f"{env.url}/moto-api/reset-auth", data=b"inf", timeout=5)


def test_access_denied_fails_the_lines_it_stops(env: Seed, enforced_iam: Callable[[], boto3.session.Session]) -> None:
    results = audit(env.target(), session_factory=enforced_iam)
    assert names(results, Status.FAIL) == {*(f"{kind} secret" for kind in KINDS), "rollout flag"}
    text = detail(results, "site-id secret")
    # AWS says AccessDeniedException; moto's IAM answer has a body botocore cannot parse, leaving HTTP 403.
    assert ("AccessDenied" in text or "HTTP 403" in text) and "may not call secretsmanager:GetSecretValue" in text
    assert "ssm:GetParameter" in detail(results, "rollout flag")
    # What could be read was checked; the comparison says why it was not made.
    assert names(results, Status.WARN) == {f"{kind} differs from staging" for kind in KINDS}
    assert "alarm bounce_rate" in names(results, Status.PASS)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections (the kernel's backlog does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def every_check_fails(target: AuditTarget) -> list[AuditResult]:
    results = audit(target)
    assert {r.status for r in results} == {Status.FAIL}
    topic = {"alert topic"} if target.alert_topic_arn else set()
    assert {r.name for r in results} == {*(f"{kind} secret" for kind in KINDS), "alarms", "rollout flag", *topic}
    assert not any("Traceback" in r.detail for r in results)
    return results


def test_an_unreachable_endpoint_fails_each_check_without_raising(closed_port: int) -> None:
    target = Seed(f"http://127.0.0.1:{closed_port}", {k: f"customerio/{ENV}/{k}" for k in KINDS}, "arn:aws:sns:"
                  f"{REGION}:123456789012:alerts", "", "").target(endpoints=Endpoints(
                      aws_url=f"http://127.0.0.1:{closed_port}", aws_region=REGION, timeout=0.5))
    results = every_check_fails(target)
    assert "customerio/production/site-id: EndpointConnectionError; could not connect" in detail(
        results, "site-id secret")
    assert "CloudWatch alarms: EndpointConnectionError" in detail(results, "alarms")
    with pytest.raises(aws_calls.AwsAuditError, match="EndpointConnectionError"):
        audit_route53.route53_records(target)


def test_a_silent_endpoint_times_out(silent_port: int) -> None:
    target = Seed("", {k: f"customerio/{ENV}/{k}" for k in KINDS}, "", "", "").target(
        alert_topic_arn=None,
        endpoints=Endpoints(aws_url=f"http://127.0.0.1:{silent_port}", aws_region=REGION, timeout=0.3))
    results = every_check_fails(target)
    assert "ReadTimeoutError; AWS did not answer within 0.3s" in detail(results, "rollout flag")


# --- Route53, for the DNS comparison ------------------------------------------------------------------


def test_route53_records_come_from_the_zone_holding_the_subdomain(env: Seed) -> None:
    route53 = env.client("route53")
    zones = {name: route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
             for name in ("example.com", "cio123.example.com", "ample.com")}

    def add(zone: str, name: str, kind: str, *values: str) -> None:
        route53.change_resource_record_sets(HostedZoneId=zones[zone], ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {"Name": name, "Type": kind, "TTL": 300,
                                                      "ResourceRecords": [{"Value": v} for v in values]}}]})

    add("cio123.example.com", "cio123.example.com", "MX", "10 mxa.mailgun.org", "10 mxb.mailgun.org")
    add("cio123.example.com", "krs._domainkey.cio123.example.com", "TXT", '"k=rsa; p=MIGf"')
    add("example.com", "cio123.example.com", "TXT", '"v=spf1 -all"')  # shadowed by the delegated zone

    records = audit_route53.route53_records(env.target())
    by_key = {(r["Name"].rstrip("."), r["Type"]): r for r in records}
    assert ("cio123.example.com", "MX") in by_key and ("krs._domainkey.cio123.example.com", "TXT") in by_key
    assert ("cio123.example.com", "TXT") not in by_key
    assert [v["Value"] for v in by_key[("cio123.example.com", "MX")]["ResourceRecords"]] == [
        "10 mxa.mailgun.org", "10 mxb.mailgun.org"]

    # Without a delegated zone of its own, a subdomain's records are in its parent's zone.
    parent = audit_route53.route53_records(env.target(subdomain="cio7.example.com"))
    assert ("cio123.example.com", "TXT") in {(r["Name"].rstrip("."), r["Type"]) for r in parent}
    with pytest.raises(audit_route53.HostedZoneNotFound, match=r"cio9\.example\.org"):
        audit_route53.route53_records(env.target(subdomain="cio9.example.org"))
