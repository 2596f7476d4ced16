"""The rotation Lambda, step by step, against moto in server mode and the Customer.io stand-in over TLS.

Secrets Manager's part is played by moto's `rotate_secret`: with a rotation Lambda registered (and
moto's Lambda told not to run anything) it turns rotation on and creates the AWSPENDING version
without a value, exactly what the handler meets in AWS. The four steps are then called one by one,
the way Secrets Manager invokes them, including its retries.

Every credential below is distinctive; the `rig` fixture fails a test whose printed output, logs,
exception texts, alert notifications or stand-in records contain any of them.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import ssl
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests

from tests.fakes.aws_seed import stub_rotation_function
from tests.fakes.customerio import CustomerIoStandIn

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "components" / "lambdas" / "rotation" / "handler.py"
ENVIRONMENT = "production"
STAGED = "GOLIVE_STAGED"

OLD_SITE = "site-old-4b7e19c2d0a1"
NEW_SITE = "site-new-71d0e3a9f4b2"
OLD_TRACK = "trk-old-9f21c8a7e5d3b6"
NEW_TRACK = "trk-new-c3a85f0e2b97d4"
BAD_TRACK = "trk-bad-58e2a0d7c1f96b"
EU_TRACK = "trk-eu-3d7a1c9e0f5b82"
OTHER_WORKSPACE_TRACK = "trk-stg-6e0b4f2a9c1d73"
OLD_APP = "app-old-e4c7b1a9530d2f86"
NEW_APP = "app-new-2a9d6f0c83b1e574"
BAD_APP = "app-bad-0f6b3e8d2c7a9145"
SECRETS = (OLD_SITE, NEW_SITE, OLD_TRACK, NEW_TRACK, BAD_TRACK, EU_TRACK, OTHER_WORKSPACE_TRACK,
           OLD_APP, NEW_APP, BAD_APP)
INITIAL = {"site-id": OLD_SITE, "track-api-key": OLD_TRACK, "app-api-key": OLD_APP}


# A logged Authorization header would hold a Track pair in base64 rather than as text.
TRACK_KEYS = (OLD_TRACK, NEW_TRACK, BAD_TRACK, EU_TRACK, OTHER_WORKSPACE_TRACK)
HEADERS = {f"{site}:{key}": base64.b64encode(f"{site}:{key}".encode()).decode()
           for site in (OLD_SITE, NEW_SITE) for key in TRACK_KEYS}


def leaked(text: str) -> list[str]:
    """The values of which any ten characters of their random tail appear in `text` (a partial leak too)."""
    found = []
    for value in SECRETS:
        tail = value.rsplit("-", 1)[1]
        if any(tail[i:i + 10] in text for i in range(len(tail) - 9)):
            found.append(value)
    return found + [pair for pair, encoded in HEADERS.items() if encoded in text]


@pytest.fixture(scope="module")
def rotation() -> ModuleType:
    """The handler as Lambda loads it: a lone file, importable without the repository."""
    spec = importlib.util.spec_from_file_location("golive_rotation_handler", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@dataclass
class Rig:
    handler: ModuleType
    endpoint: str
    cio: CustomerIoStandIn
    function_arn: str
    queue_url: str
    arns: dict[str, str]
    errors: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint)

    @property
    def sm(self) -> Any:
        return self.client("secretsmanager")

    def stage(self, kind: str, value: str) -> str:
        """What `golive credentials stage` does: a new version labelled GOLIVE_STAGED only."""
        return self.sm.put_secret_value(SecretId=self.arns[kind], SecretString=value, VersionStages=[STAGED])[
            "VersionId"]

    def start(self, kind: str, *, immediately: bool = True) -> str:
        """Secrets Manager starting a rotation: rotation on, an AWSPENDING version, its id as the token."""
        token = str(uuid.uuid4())
        self.sm.rotate_secret(SecretId=self.arns[kind], ClientRequestToken=token, RotationLambdaARN=self.function_arn,
                              RotationRules={"AutomaticallyAfterDays": 90}, RotateImmediately=immediately)
        return token

    def step(self, kind: str, step: str, token: str) -> None:
        event = {"SecretId": self.arns[kind], "ClientRequestToken": token, "Step": step}
        try:
            self.handler.handler(event, None)
        except Exception as err:
            self.errors.append(f"{type(err).__name__}: {err}")
            raise

    def rotate(self, kind: str, token: str) -> None:
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            self.step(kind, step, token)

    def stages(self, kind: str) -> dict[str, list[str]]:
        versions = self.sm.describe_secret(SecretId=self.arns[kind])["VersionIdsToStages"]
        return {version: stages for version, stages in versions.items() if stages}

    def labelled(self, kind: str, label: str) -> str | None:
        return next((v for v, stages in self.stages(kind).items() if label in stages), None)

    def value(self, kind: str, *, stage: str = "AWSCURRENT", version: str | None = None) -> str | None:
        args = {"SecretId": self.arns[kind], **({"VersionId": version} if version else {"VersionStage": stage})}
        try:
            return self.sm.get_secret_value(**args)["SecretString"]
        except self.sm.exceptions.ResourceNotFoundException:
            return None

    def notifications(self) -> list[tuple[str, str]]:
        """Alerts published since the last call, read back from the queue subscribed to the topic."""
        sqs, fresh = self.client("sqs"), []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                body = json.loads(message["Body"])
                fresh.append((body.get("Subject", ""), body["Message"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.notes.extend(fresh)
        return fresh


@pytest.fixture
def rig(aws: str, customerio_server: CustomerIoStandIn, rotation: ModuleType, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[Rig]:
    # With a rotation Lambda registered, moto invokes it on rotate_secret; this keeps it from running.
    requests.post(f"{aws}/moto-api/config", json={"batch": {}, "lambda": {"use_docker": False}}, timeout=5)
    iam, lam = boto3.client("iam", endpoint_url=aws), boto3.client("lambda", endpoint_url=aws)
    sns, sqs, sm = (boto3.client(s, endpoint_url=aws) for s in ("sns", "sqs", "secretsmanager"))
    function_arn = stub_rotation_function(iam, lam)
    topic = sns.create_topic(Name="golive-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="golive-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    arns = {}
    for kind, value in INITIAL.items():
        arns[kind] = sm.create_secret(
            Name=f"customerio/{ENVIRONMENT}/{kind}", SecretString=value,
            Tags=[{"Key": "customerio:credential", "Value": kind}, {"Key": "customerio:region", "Value": "us"},
                  {"Key": "environment", "Value": ENVIRONMENT}])["ARN"]
    customerio_server.allow_track(OLD_SITE, OLD_TRACK)
    customerio_server.allow_app(OLD_APP)
    for name, value in {
        "AWS_ENDPOINT_URL": aws, "ALERT_TOPIC_ARN": topic,
        "CUSTOMERIO_TRACK_URL": customerio_server.url, "CUSTOMERIO_API_URL": customerio_server.url,
        "CUSTOMERIO_CA_BUNDLE": str(customerio_server.ca_bundle),
        "CUSTOMERIO_TIMEOUT": "2", "CUSTOMERIO_ATTEMPTS": "3", "CUSTOMERIO_BACKOFF": "0.01",
    }.items():
        monkeypatch.setenv(name, value)

    rig = Rig(rotation, aws, customerio_server, function_arn, queue_url, arns)
    yield rig

    rig.notifications()
    captured = capsys.readouterr()
    seen = {"stdout": captured.out, "stderr": captured.err, "logs": caplog.text,
            "exceptions": "\n".join(rig.errors), "notifications": "\n".join(f"{s}\n{m}" for s, m in rig.notes),
            "stand-in records": repr(customerio_server.requests)}
    leaks = {where: leaked(text) for where, text in seen.items()}
    assert not {where: found for where, found in leaks.items() if found}, "a credential value leaked"


def raises(rig: Rig, kind: str, step: str, token: str, match: str) -> str:
    with pytest.raises(rig.handler.RotationError, match=match) as info:
        rig.step(kind, step, token)
    return str(info.value)


# --- the whole rotation --------------------------------------------------------------------------


def test_full_rotation_moves_current_to_the_staged_value(rig: Rig) -> None:
    rig.cio.allow_track(OLD_SITE, NEW_TRACK)
    staged = rig.stage("track-api-key", NEW_TRACK)
    old = rig.labelled("track-api-key", "AWSCURRENT")
    token = rig.start("track-api-key")
    assert rig.stages("track-api-key")[token] == ["AWSPENDING"]
    assert rig.value("track-api-key", version=token) is None  # Secrets Manager's pending version has no value yet

    rig.rotate("track-api-key", token)

    assert rig.value("track-api-key") == NEW_TRACK
    stages = rig.stages("track-api-key")
    assert stages[token] == ["AWSCURRENT"]
    assert stages[old] == ["AWSPREVIOUS"]
    assert staged not in stages  # unstaged: the staged version holds no label any more
    assert rig.labelled("track-api-key", STAGED) is None
    assert rig.labelled("track-api-key", "AWSPENDING") is None
    [(subject, message)] = rig.notifications()
    assert "revoke" in subject.lower() and "revoke it in Customer.io" in message
    assert token in message and old in message
    probes = rig.cio.requests_to("/api/v1/accounts/region")
    assert probes and probes[0].authenticated and probes[0].status == 200
    assert not rig.cio.suppress_called


def test_app_api_key_is_tested_through_the_app_api(rig: Rig) -> None:
    rig.cio.allow_app(NEW_APP)
    rig.stage("app-api-key", NEW_APP)
    token = rig.start("app-api-key")
    rig.rotate("app-api-key", token)
    assert rig.value("app-api-key") == NEW_APP
    assert [(r.method, r.path, r.authenticated) for r in rig.cio.requests] == [("GET", "/v1/campaigns", True)]
    assert not rig.cio.suppress_called


def test_app_api_403_is_a_plan_limit_not_a_bad_key(rig: Rig) -> None:
    rig.cio.allow_app(NEW_APP)
    rig.cio.plan_limited = True
    rig.stage("app-api-key", NEW_APP)
    token = rig.start("app-api-key")
    rig.rotate("app-api-key", token)
    assert rig.value("app-api-key") == NEW_APP
    assert [r.status for r in rig.cio.requests] == [403]


def test_site_id_is_tested_with_the_current_track_key(rig: Rig) -> None:
    rig.cio.allow_track(NEW_SITE, OLD_TRACK)
    rig.stage("site-id", NEW_SITE)
    token = rig.start("site-id")
    rig.rotate("site-id", token)
    assert rig.value("site-id") == NEW_SITE
    assert rig.cio.requests_to("/api/v1/accounts/region")[0].authenticated


def test_track_key_is_tested_with_the_current_site_id(rig: Rig) -> None:
    rig.cio.allow_track(OLD_SITE, NEW_TRACK)
    rig.stage("track-api-key", NEW_TRACK)
    token = rig.start("track-api-key")
    rig.step("track-api-key", "createSecret", token)
    rig.step("track-api-key", "testSecret", token)
    assert rig.cio.requests_to("/api/v1/accounts/region")[0].authenticated


def test_a_new_pair_staged_on_both_halves_rotates_one_half_at_a_time(rig: Rig) -> None:
    # A new Track credential is a new site ID and key; neither half works with the other's old value.
    rig.cio.allow_track(NEW_SITE, NEW_TRACK)
    rig.stage("site-id", NEW_SITE)
    rig.stage("track-api-key", NEW_TRACK)
    first = rig.start("site-id")
    rig.rotate("site-id", first)
    second = rig.start("track-api-key")
    rig.rotate("track-api-key", second)
    assert (rig.value("site-id"), rig.value("track-api-key")) == (NEW_SITE, NEW_TRACK)
    assert len(rig.notifications()) == 2


# --- Secrets Manager's retries -------------------------------------------------------------------


def test_create_secret_retried_keeps_the_value_it_wrote(rig: Rig) -> None:
    rig.stage("track-api-key", NEW_TRACK)
    token = rig.start("track-api-key")
    rig.step("track-api-key", "createSecret", token)
    rig.stage("track-api-key", "trk-later-0000")  # restaged meanwhile: this rotation keeps its value
    rig.step("track-api-key", "createSecret", token)
    assert rig.value("track-api-key", version=token) == NEW_TRACK
    assert rig.stages("track-api-key")[token] == ["AWSPENDING"]
    assert rig.value("track-api-key") == OLD_TRACK
    assert rig.notifications() == []


def test_every_step_retried_after_finishing_changes_nothing(rig: Rig) -> None:
    rig.cio.allow_track(OLD_SITE, NEW_TRACK)
    rig.stage("track-api-key", NEW_TRACK)
    token = rig.start("track-api-key")
    rig.step("track-api-key", "createSecret", token)
    rig.step("track-api-key", "setSecret", token)
    rig.step("track-api-key", "setSecret", token)
    rig.step("track-api-key", "testSecret", token)
    rig.step("track-api-key", "testSecret", token)
    rig.step("track-api-key", "finishSecret", token)
    assert len(rig.notifications()) == 1
    before, probes = rig.stages("track-api-key"), len(rig.cio.requests)

    for step in ("finishSecret", "createSecret", "setSecret", "testSecret", "finishSecret"):
        rig.step("track-api-key", step, token)

    assert rig.stages("track-api-key") == before
    assert rig.value("track-api-key") == NEW_TRACK
    assert rig.notifications() == []  # one reminder, not one per retry
    assert len(rig.cio.requests) == probes


def test_a_later_rotation_after_a_finished_one_needs_a_new_staged_key(rig: Rig) -> None:
    rig.cio.allow_track(OLD_SITE, NEW_TRACK)
    rig.stage("track-api-key", NEW_TRACK)
    rig.rotate("track-api-key", rig.start("track-api-key"))
    rig.notifications()
    token = rig.start("track-api-key")
    raises(rig, "track-api-key", "createSecret", token, "no value staged")
    assert rig.value("track-api-key") == NEW_TRACK


# --- a person in the loop ------------------------------------------------------------------------


def test_nothing_staged_asks_for_a_key_and_fails(rig: Rig) -> None:
    token = rig.start("track-api-key")
    text = raises(rig, "track-api-key", "createSecret", token, "no value staged")
    assert rig.handler.STAGED in text
    [(subject, message)] = rig.notifications()
    assert "new key" in subject
    assert "Create a new key in Customer.io, then stage it" in message
    assert f"golive credentials stage customerio/{ENVIRONMENT}/track-api-key" in message
    assert rig.value("track-api-key", version=token) is None  # no pending value was made up
    assert rig.value("track-api-key") == OLD_TRACK
    assert rig.cio.requests == []

    # Secrets Manager retries: still nothing staged, still visible; then the person stages a key.
    raises(rig, "track-api-key", "createSecret", token, "no value staged")
    assert len(rig.notifications()) == 1
    rig.cio.allow_track(OLD_SITE, NEW_TRACK)
    rig.stage("track-api-key", NEW_TRACK)
    rig.rotate("track-api-key", token)
    assert rig.value("track-api-key") == NEW_TRACK


def test_staging_the_key_in_use_is_no_rotation(rig: Rig) -> None:
    rig.stage("track-api-key", OLD_TRACK + "\n")
    token = rig.start("track-api-key")
    raises(rig, "track-api-key", "createSecret", token, "is the current value")
    [(_, message)] = rig.notifications()
    assert "already in use" in message
    assert rig.value("track-api-key", version=token) is None


def test_a_key_customerio_rejects_is_unstaged_and_current_is_unchanged(rig: Rig) -> None:
    staged = rig.stage("track-api-key", BAD_TRACK)
    token = rig.start("track-api-key")
    rig.step("track-api-key", "createSecret", token)
    rig.step("track-api-key", "setSecret", token)
    text = raises(rig, "track-api-key", "testSecret", token, "rejected")
    assert "401" in text

    assert rig.value("track-api-key") == OLD_TRACK
    assert "AWSPENDING" not in rig.stages("track-api-key").get(token, [])
    assert STAGED not in rig.stages("track-api-key").get(staged, [])
    [(subject, message)] = rig.notifications()
    assert "rejected" in subject and "key in use is unchanged" in message
    probes = rig.cio.requests_to("/api/v1/accounts/region")
    assert probes and not any(r.authenticated for r in probes)

    # Secrets Manager's retries of this version now fail fast; the next rotation asks for a new key.
    raises(rig, "track-api-key", "testSecret", token, "not AWSPENDING")
    raises(rig, "track-api-key", "finishSecret", token, "not AWSPENDING")
    assert rig.value("track-api-key") == OLD_TRACK
    raises(rig, "track-api-key", "createSecret", rig.start("track-api-key"), "no value staged")


def test_a_rejected_app_api_key(rig: Rig) -> None:
    rig.stage("app-api-key", BAD_APP)
    token = rig.start("app-api-key")
    rig.step("app-api-key", "createSecret", token)
    raises(rig, "app-api-key", "testSecret", token, "App API answered 401")
    assert rig.value("app-api-key") == OLD_APP


def test_a_key_from_a_workspace_in_another_region_is_rejected(rig: Rig) -> None:
    rig.cio.allow_track(OLD_SITE, EU_TRACK, region="eu")
    rig.stage("track-api-key", EU_TRACK)
    token = rig.start("track-api-key")
    rig.step("track-api-key", "createSecret", token)
    raises(rig, "track-api-key", "testSecret", token, "region eu")
    assert rig.value("track-api-key") == OLD_TRACK


def test_a_key_from_another_workspace_is_rejected(rig: Rig) -> None:
    rig.cio.allow_track(OLD_SITE, OTHER_WORKSPACE_TRACK, environment_id=2)
    rig.stage("track-api-key", OTHER_WORKSPACE_TRACK)
    token = rig.start("track-api-key")
    rig.step("track-api-key", "createSecret", token)
    raises(rig, "track-api-key", "testSecret", token, "workspace 2.*workspace 1")
    assert rig.value("track-api-key") == OLD_TRACK


def test_the_configuration_test_checks_the_key_in_use(rig: Rig) -> None:
    # RotateImmediately=False (how the component enables rotation): Secrets Manager runs testSecret
    # on an AWSPENDING copy of the key in use.
    token = rig.start("site-id", immediately=False)
    rig.step("site-id", "testSecret", token)
    assert rig.value("site-id") == OLD_SITE

    rig.cio.revoke_track(OLD_SITE, OLD_TRACK)
    token = rig.start("site-id", immediately=False)
    raises(rig, "site-id", "testSecret", token, "rejected")
    [(_, message)] = rig.notifications()
    assert "now in use" in message and "failing" in message
    assert rig.value("site-id") == OLD_SITE


# --- Customer.io misbehaving: fail the step, change nothing, let Secrets Manager retry ------------


def test_a_429_is_retried_within_the_step(rig: Rig) -> None:
    rig.cio.allow_track(OLD_SITE, NEW_TRACK)
    rig.cio.fail_next(2, 429, retry_after=0)
    rig.stage("track-api-key", NEW_TRACK)
    token = rig.start("track-api-key")
    rig.rotate("track-api-key", token)
    assert [r.status for r in rig.cio.requests_to("/api/v1/accounts/region")][:3] == [429, 429, 200]
    assert rig.value("track-api-key") == NEW_TRACK


@pytest.mark.parametrize("status", [429, 500, 503])
def test_customerio_unavailable_fails_without_unstaging(rig: Rig, status: int) -> None:
    rig.cio.allow_track(OLD_SITE, NEW_TRACK)
    staged = rig.stage("track-api-key", NEW_TRACK)
    token = rig.start("track-api-key")
    rig.step("track-api-key", "createSecret", token)
    rig.cio.fail_next(100, status)
    text = raises(rig, "track-api-key", "testSecret", token, "could not verify")
    assert f"HTTP {status}" in text
    assert len(rig.cio.requests) == 3  # CUSTOMERIO_ATTEMPTS
    stages = rig.stages("track-api-key")
    assert stages[token] == ["AWSPENDING"] and STAGED in stages[staged]
    assert rig.notifications() == []

    rig.cio.clear_faults()
    rig.step("track-api-key", "testSecret", token)  # Secrets Manager's retry
    rig.step("track-api-key", "finishSecret", token)
    assert rig.value("track-api-key") == NEW_TRACK


def test_a_slow_customerio_times_out(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMERIO_TIMEOUT", "0.3")
    monkeypatch.setenv("CUSTOMERIO_ATTEMPTS", "2")
    rig.stage("app-api-key", NEW_APP)
    token = rig.start("app-api-key")
    rig.step("app-api-key", "createSecret", token)
    rig.cio.slow(5)
    started = time.monotonic()
    text = raises(rig, "app-api-key", "testSecret", token, "could not verify")
    assert time.monotonic() - started < 3
    assert "timed out" in text.lower()
    assert rig.stages("app-api-key")[token] == ["AWSPENDING"]


def test_tls_verification_stays_on(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTOMERIO_CA_BUNDLE")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    rig.stage("app-api-key", NEW_APP)
    token = rig.start("app-api-key")
    rig.step("app-api-key", "createSecret", token)
    text = raises(rig, "app-api-key", "testSecret", token, "could not verify")
    assert "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text
    assert rig.cio.requests == []  # no request got past the handshake
    assert rig.stages("app-api-key")[token] == ["AWSPENDING"]


def test_keys_are_never_sent_over_plain_http(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMERIO_API_URL", rig.cio.url.replace("https://", "http://"))
    rig.stage("app-api-key", NEW_APP)
    token = rig.start("app-api-key")
    rig.step("app-api-key", "createSecret", token)
    raises(rig, "app-api-key", "testSecret", token, "CUSTOMERIO_API_URL must be an https:// URL")
    assert rig.cio.requests == []


def test_redirects_are_not_followed_with_the_key(rig: Rig) -> None:
    rig.cio.allow_app(NEW_APP)
    rig.stage("app-api-key", NEW_APP)
    token = rig.start("app-api-key")
    rig.step("app-api-key", "createSecret", token)
    rig.cio.redirect_next(1, rig.cio.url + "/v1/campaigns?elsewhere=1")
    raises(rig, "app-api-key", "testSecret", token, "HTTP 302")
    assert [(r.path, r.status) for r in rig.cio.requests] == [("/v1/campaigns", 302)]
    assert rig.stages("app-api-key")[token] == ["AWSPENDING"]


# --- events Secrets Manager should not send, and secrets set up wrong -----------------------------


def test_an_unknown_step(rig: Rig) -> None:
    token = rig.start("track-api-key")
    raises(rig, "track-api-key", "rollbackSecret", token, "unknown rotation step 'rollbackSecret'")


def test_an_event_without_its_fields(rig: Rig) -> None:
    with pytest.raises(rig.handler.RotationError, match="lacks"):
        rig.handler.handler({"Step": "createSecret"}, None)


def test_a_token_that_is_not_a_version_of_the_secret(rig: Rig) -> None:
    rig.start("track-api-key")
    stranger = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        raises(rig, "track-api-key", step, stranger, "is not a version of")
    assert rig.value("track-api-key") == OLD_TRACK


def test_a_version_that_is_not_pending(rig: Rig) -> None:
    staged = rig.stage("track-api-key", NEW_TRACK)
    rig.start("track-api-key")
    raises(rig, "track-api-key", "finishSecret", staged, "not AWSPENDING")
    assert rig.value("track-api-key") == OLD_TRACK


def test_rotation_not_enabled(rig: Rig) -> None:
    current = rig.labelled("track-api-key", "AWSCURRENT")
    assert current
    raises(rig, "track-api-key", "createSecret", current, "rotation is not enabled")


def test_a_secret_without_its_kind_tag(rig: Rig) -> None:
    arn = rig.arns["track-api-key"]
    rig.sm.untag_resource(SecretId=arn, TagKeys=["customerio:credential"])
    rig.stage("track-api-key", NEW_TRACK)
    token = rig.start("track-api-key")
    rig.step("track-api-key", "createSecret", token)
    raises(rig, "track-api-key", "testSecret", token, "tag customerio:credential")


def test_logs_name_the_steps_but_no_values(rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    rig.cio.allow_track(OLD_SITE, NEW_TRACK)
    rig.stage("track-api-key", NEW_TRACK)
    token = rig.start("track-api-key")
    rig.rotate("track-api-key", token)
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [line["step"] for line in lines] == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    assert all(line["token"] == token for line in lines)
    # the rig's teardown re-checks; this test's output was consumed here, so check it now too
    assert not leaked(out)


# --- the stand-in itself ---------------------------------------------------------------------------


def _call(cio: CustomerIoStandIn, method: str, path: str, authorization: str | None = None,
          body: bytes | None = None) -> tuple[int, Any]:
    context = ssl.create_default_context(cafile=str(cio.ca_bundle))
    headers = {"Authorization": authorization} if authorization else {}
    request = urllib.request.Request(cio.url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _basic(site_id: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{site_id}:{key}".encode()).decode()


def test_standin_speaks_the_documented_endpoints(customerio_server: CustomerIoStandIn) -> None:
    cio = customerio_server
    cio.allow_track(OLD_SITE, OLD_TRACK, region="eu", environment_id=7)
    cio.allow_app(OLD_APP)
    assert _call(cio, "GET", "/api/v1/accounts/region", _basic(OLD_SITE, OLD_TRACK)) == (
        200, {"url": "https://track-eu.customer.io", "region": "eu", "environment_id": 7})
    assert _call(cio, "GET", "/api/v1/accounts/region", _basic(OLD_SITE, BAD_TRACK))[0] == 401
    assert _call(cio, "PUT", "/api/v1/customers/smoke-1", _basic(OLD_SITE, OLD_TRACK), b'{"email": "a@b.c"}')[0] == 200
    assert cio.customers == {"smoke-1": {"email": "a@b.c"}}
    assert _call(cio, "DELETE", "/api/v1/customers/smoke-1", _basic(OLD_SITE, OLD_TRACK))[0] == 200
    assert cio.customers == {}
    status, body = _call(cio, "GET", "/v1/campaigns", f"Bearer {OLD_APP}")
    assert status == 200 and [c["id"] for c in body["campaigns"]] == [1, 2]
    assert _call(cio, "GET", "/v1/campaigns/1", f"Bearer {OLD_APP}")[1]["campaign"]["name"] == "Welcome"
    assert _call(cio, "GET", "/v1/campaigns/1/actions", f"Bearer {OLD_APP}")[1]["actions"][0]["type"] == "email"
    assert "sender_identities" in _call(cio, "GET", "/v1/sender_identities", f"Bearer {OLD_APP}")[1]
    assert _call(cio, "GET", "/v1/campaigns", f"Bearer {BAD_APP}")[0] == 401
    assert _call(cio, "GET", "/v1/campaigns", _basic(OLD_SITE, OLD_TRACK))[0] == 401  # wrong scheme
    cio.plan_limited = True
    assert _call(cio, "GET", "/v1/campaigns", f"Bearer {OLD_APP}")[0] == 403
    cio.fail_next(1, 503, api="track")
    assert _call(cio, "GET", "/api/v1/accounts/region", _basic(OLD_SITE, OLD_TRACK))[0] == 503
    assert _call(cio, "GET", "/api/v1/accounts/region", _basic(OLD_SITE, OLD_TRACK))[0] == 200
    assert not cio.suppress_called
    recorded = repr(cio.requests)
    assert OLD_TRACK not in recorded and OLD_APP not in recorded
    assert base64.b64encode(f"{OLD_SITE}:{OLD_TRACK}".encode()).decode() not in recorded
    assert [r.authenticated for r in cio.requests_to("/v1/campaigns")] == [True, False, False, True]


def test_standin_flags_any_suppression(customerio_server: CustomerIoStandIn) -> None:
    cio = customerio_server
    cio.expect_violations()
    cio.allow_track(OLD_SITE, OLD_TRACK)
    auth = _basic(OLD_SITE, OLD_TRACK)
    assert _call(cio, "POST", "/api/v1/customers/smoke-1/suppress", auth)[0] == 200
    _call(cio, "POST", "/api/v2/entity", auth, b'{"type": "person", "action": "suppress", "identifiers": {"id": 1}}')
    _call(cio, "POST", "/api/v2/batch", auth, b'{"batch": [{"action": "identify"}, {"action": "suppress"}]}')
    _call(cio, "POST", "/api/v1/customers/x/suppress", None)  # even unauthenticated attempts count
    assert cio.suppress_called
    assert cio.violations == ["POST /api/v1/customers/smoke-1/suppress", "POST /api/v2/entity",
                              "POST /api/v2/batch", "POST /api/v1/customers/x/suppress"]


def test_standin_works_with_the_customerio_package(customerio_server: CustomerIoStandIn,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    customerio = pytest.importorskip("customerio")
    cio = customerio_server
    cio.allow_track(OLD_SITE, OLD_TRACK)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cio.ca_bundle))
    port = int(cio.url.rsplit(":", 1)[1])
    client = customerio.CustomerIO(OLD_SITE, OLD_TRACK, host="127.0.0.1", port=port, retries=0)
    client.identify(id="smoke-2", email="smoke@example.com")
    assert cio.customers["smoke-2"]["email"] == "smoke@example.com"
    client.delete(customer_id="smoke-2")
    assert "smoke-2" not in cio.customers
    assert all(r.authenticated for r in cio.requests)


# --- deploy order: rotation is set up by `pulumi up` before `golive credentials put` stores a key ----


def test_configuration_test_on_a_secret_with_no_key_yet_passes(rig: Rig) -> None:
    sm = rig.sm
    arn = sm.create_secret(Name=f"customerio/{ENVIRONMENT}-new/app-api-key",
                           Tags=[{"Key": "customerio:credential", "Value": "app-api-key"},
                                 {"Key": "customerio:region", "Value": "us"}])["ARN"]
    # moto 5.2 cannot start a rotation of a secret with no value (a 500), so the step is called as the
    # dispatcher would for AWS's configuration test: an AWSPENDING version without a value, and no
    # AWSCURRENT value at all.
    rig.handler.test_secret(sm, arn, str(uuid.uuid4()), sm.describe_secret(SecretId=arn), time.monotonic() + 5)
    assert rig.cio.requests == []  # nothing was sent to Customer.io


def test_configuration_test_fails_when_a_key_exists_but_the_pending_version_is_empty(rig: Rig) -> None:
    token = rig.start("app-api-key")
    raises(rig, "app-api-key", "testSecret", token, "createSecret has not run")
