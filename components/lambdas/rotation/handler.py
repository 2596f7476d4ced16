"""Secrets Manager rotation for Customer.io keys, with a person in the loop.

Customer.io keys cannot be minted by API, so a person creates the new key in Customer.io and stages
it; the function then follows Secrets Manager's four steps for the version whose id is the event's
`ClientRequestToken` (the version Secrets Manager created with the label AWSPENDING):

- createSecret copies the staged value into that version. With nothing staged, or with a staged value
  equal to the key in use, it asks for a new key on the alert topic and fails, so Secrets Manager
  retries and the failure shows in the secret's rotation status.
- setSecret does nothing: Customer.io already holds the key the person created.
- testSecret authenticates the pending value against Customer.io with read-only calls: the Track
  API's `GET /api/v1/accounts/region` for a site ID or Track API key (paired with the other half's
  pending, staged or current value), the App API's `GET /v1/campaigns` for an App API key. The
  workspace must be in the secret's `customerio:region` and, when the keys in use still answer, be
  the same workspace they belong to. A 429, a 5xx, a timeout or a network error fails the step
  without any other change, so Secrets Manager's retry tries again. A key Customer.io rejects (401)
  is unstaged and its AWSPENDING label removed before the step fails: versions are immutable, so a
  rotation pinned to a bad value could never finish, and the next rotation then asks for a new key.
- finishSecret unstages the value it used, moves AWSCURRENT to the new version (Secrets Manager
  moves AWSPREVIOUS to the old one), drops AWSPENDING, and reminds the person to revoke the old key.

Every step is idempotent under Secrets Manager's retries: a version that is already AWSCURRENT is
finished and left alone, and createSecret keeps a pending value it already wrote.

Staging convention (what `golive credentials stage NAME` does): put the new key as a new version of
the same secret carrying only the staging label GOLIVE_STAGED, e.g.
`aws secretsmanager put-secret-value --secret-id NAME --secret-string KEY --version-stages GOLIVE_STAGED`.
A label sits on one version at a time, so staging again replaces an earlier staged key. Rotating a
site ID and Track API key pair: stage both halves; each half is tested with the other's staged value.

Nothing here ever suppresses or writes to Customer.io, and no credential value reaches a log line,
an exception text or a notification: messages name the secret, its kind and version ids only.

Environment: ALERT_TOPIC_ARN (SNS topic for requests and reminders), AWS_ENDPOINT_URL (tests),
CUSTOMERIO_TRACK_URL / CUSTOMERIO_API_URL (override the region's https base URLs),
CUSTOMERIO_CA_BUNDLE (extra CA file to trust; verification always stays on), CUSTOMERIO_TIMEOUT
(seconds per request, default 10), CUSTOMERIO_ATTEMPTS (tries per request, default 3),
CUSTOMERIO_BACKOFF (first retry delay in seconds, default 0.5).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

STAGED = "GOLIVE_STAGED"
CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
KIND_TAG = "customerio:credential"
REGION_TAG = "customerio:region"
KINDS = ("site-id", "track-api-key", "app-api-key")
TRACK_URLS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
API_URLS = {"us": "https://api.customer.io", "eu": "https://api-eu.customer.io"}
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
TIMEOUT = 10.0
# Without a Lambda context (tests, local runs) the Customer.io calls of one step get this long.
DEFAULT_BUDGET = 45.0
# Leave the Lambda time to report a failure instead of being killed mid-request.
MARGIN = 5.0
BOTO_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})


class RotationError(Exception):
    """A step that must fail so Secrets Manager retries; the text never holds a key."""


@dataclass(frozen=True)
class Verdict:
    """Customer.io's answer to a credential: ok, rejected (a definite no) or unavailable (ask later)."""

    status: str
    detail: str = ""
    region: str | None = None
    environment_id: int | None = None


def _log(**fields: Any) -> None:
    print(json.dumps(fields, sort_keys=True, default=str))


def _client(service: str) -> Any:
    return boto3.client(service, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None, config=BOTO_CONFIG)


def _code(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _notify(subject: str, message: str) -> bool:
    topic = os.environ.get("ALERT_TOPIC_ARN")
    if not topic:
        _log(level="error", event="notify-skipped", reason="ALERT_TOPIC_ARN is not set", subject=subject)
        return False
    _client("sns").publish(TopicArn=topic, Subject=subject[:100], Message=message)
    return True


def _value(sm: Any, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
    """The version's string value, or None when the version or its value does not exist."""
    args: dict[str, Any] = {"SecretId": secret_id}
    if version_id:
        args["VersionId"] = version_id
    if stage:
        args["VersionStage"] = stage
    try:
        response = sm.get_secret_value(**args)
    except Exception as err:
        # Secrets Manager creates the AWSPENDING version without a value; reading it is "not found".
        if _code(err) == "ResourceNotFoundException":
            return None
        raise
    return response.get("SecretString")


def _labelled(versions: dict[str, list[str]], label: str) -> str | None:
    return next((version for version, stages in versions.items() if label in stages), None)


def _settings(secret: dict[str, Any]) -> tuple[str, str]:
    tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
    kind, region = tags.get(KIND_TAG, ""), tags.get(REGION_TAG, "us")
    if kind not in KINDS:
        raise RotationError(f"{secret['ARN']}: tag {KIND_TAG} is {kind!r}, expected one of {', '.join(KINDS)}")
    if region not in TRACK_URLS:
        raise RotationError(f"{secret['ARN']}: tag {REGION_TAG} is {region!r}, expected one of us, eu")
    return kind, region


def _sibling(secret_name: str, kind: str) -> str:
    return secret_name.rsplit("/", 1)[0] + "/" + kind


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would resend the Authorization header to wherever a redirect points, http:// included.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class CustomerIo:
    """Read-only probes of Customer.io's Track and App APIs over verified TLS, within a deadline."""

    def __init__(self, region: str, deadline: float) -> None:
        self.track_url = self._base("CUSTOMERIO_TRACK_URL", TRACK_URLS[region])
        self.api_url = self._base("CUSTOMERIO_API_URL", API_URLS[region])
        context = ssl.create_default_context(cafile=os.environ.get("CUSTOMERIO_CA_BUNDLE") or None)
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())
        self.timeout = float(os.environ.get("CUSTOMERIO_TIMEOUT") or TIMEOUT)
        self.attempts = max(1, int(os.environ.get("CUSTOMERIO_ATTEMPTS") or 3))
        self.backoff = float(os.environ.get("CUSTOMERIO_BACKOFF") or 0.5)
        self.deadline = deadline

    @staticmethod
    def _base(variable: str, default: str) -> str:
        url = (os.environ.get(variable) or default).rstrip("/")
        # The keys travel in headers; never send them anywhere but over TLS.
        if urllib.parse.urlsplit(url).scheme != "https":
            raise RotationError(f"{variable} must be an https:// URL")
        return url

    def _get(self, url: str, authorization: str) -> tuple[int, bytes, str]:
        """Status, body and a value-free description; 429, 5xx and network errors are retried."""
        request = urllib.request.Request(url, headers={
            "Authorization": authorization, "Accept": "application/json", "User-Agent": "golive-rotation"})
        outcome = (0, b"", "no attempt made")
        for attempt in range(self.attempts):
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                with self.opener.open(request, timeout=min(self.timeout, remaining)) as rsp:
                    return rsp.status, rsp.read(65536), f"HTTP {rsp.status}"
            except urllib.error.HTTPError as err:
                outcome = (err.code, b"", f"HTTP {err.code}")
                retry_after = err.headers.get("Retry-After") if err.headers else None
                err.close()
                if err.code != 429 and err.code < 500:
                    return outcome
            except (OSError, http.client.HTTPException) as err:
                # The reason names the host or the TLS failure, never a header.
                reason = getattr(err, "reason", None) or err
                outcome = (0, b"", f"{type(err).__name__}: {reason}")
                retry_after = None
            if attempt + 1 < self.attempts:
                delay = self.backoff * 2**attempt
                if retry_after and retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 5.0))
                if time.monotonic() + delay >= self.deadline:
                    break
                time.sleep(delay)
        return outcome

    def track(self, site_id: str, track_key: str) -> Verdict:
        """The Track API's region probe: authenticates the pair and names its workspace's region."""
        token = base64.b64encode(f"{site_id}:{track_key}".encode()).decode()
        status, body, detail = self._get(f"{self.track_url}/api/v1/accounts/region", f"Basic {token}")
        if status == 200:
            try:
                answer = json.loads(body)
            except ValueError:
                answer = {}
            answer = answer if isinstance(answer, dict) else {}
            environment = answer.get("environment_id")
            return Verdict("ok", detail, answer.get("region") if isinstance(answer.get("region"), str) else None,
                           environment if isinstance(environment, int) else None)
        if status == 401:
            return Verdict("rejected", "the Track API answered 401 Unauthorized")
        return Verdict("unavailable", f"the Track API could not be asked ({detail})")

    def app(self, key: str) -> Verdict:
        """An App API read; a 403 is a plan limit on an authenticated key, not a bad key."""
        status, _, detail = self._get(f"{self.api_url}/v1/campaigns", f"Bearer {key}")
        if status == 200:
            return Verdict("ok", detail)
        if status == 403:
            return Verdict("ok", "the App API answered 403 (a plan limit): the key authenticated")
        if status == 401:
            return Verdict("rejected", "the App API answered 401 Unauthorized")
        return Verdict("unavailable", f"the App API could not be asked ({detail})")


def create_secret(sm: Any, arn: str, token: str, secret: dict[str, Any]) -> None:
    """Copy the staged value into the pending version, or ask a person for a new key and fail."""
    if _value(sm, arn, version_id=token) is not None:
        _log(step="createSecret", secret=arn, token=token, outcome="pending value already written")
        return
    versions = secret.get("VersionIdsToStages", {})
    staged_id = _labelled(versions, STAGED)
    staged = _value(sm, arn, version_id=staged_id) if staged_id else None
    name = secret.get("Name", arn)
    if staged is None or not staged.strip():
        _notify("Customer.io key rotation needs a new key",
                f"Rotation of {name} is due and no new key is staged. Create a new key in Customer.io, "
                f"then stage it with `golive credentials stage {name}`. Secrets Manager retries the "
                "rotation and picks the staged key up.")
        raise RotationError(f"no value staged for {arn} (label {STAGED}); a new key was requested")
    current = _value(sm, arn, stage=CURRENT)
    if current is not None and current.strip() == staged.strip():
        _notify("Customer.io key rotation needs a new key",
                f"Rotation of {name} is due but the staged value is the key already in use. Create a new "
                f"key in Customer.io, then stage it with `golive credentials stage {name}`.")
        raise RotationError(f"the value staged for {arn} is the current value; a new key was requested")
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=staged, VersionStages=[PENDING])
    _log(step="createSecret", secret=arn, token=token, outcome="staged value copied", staged_version=staged_id)


def _test_track(sm: Any, secret: dict[str, Any], kind: str, pending: str, cio: CustomerIo) -> Verdict:
    """Pair the pending half with the other half's pending, staged or current value; any pair may pass."""
    other = _sibling(secret["Name"], "track-api-key" if kind == "site-id" else "site-id")
    candidates: list[str] = []
    for label in (PENDING, STAGED, CURRENT):
        value = _value(sm, other, stage=label)
        if value and value not in candidates:
            candidates.append(value)
    if not candidates:
        raise RotationError(f"{other} has no value to pair the pending {kind} with")
    unavailable: Verdict | None = None
    for value in candidates:
        site_id, track_key = (pending, value) if kind == "site-id" else (value, pending)
        verdict = cio.track(site_id, track_key)
        if verdict.status == "ok":
            return _same_workspace(sm, secret, kind, verdict, other, (site_id, track_key), cio)
        if verdict.status == "unavailable":
            unavailable = verdict
    # One unanswered pair is enough doubt not to call the key bad.
    return unavailable or Verdict("rejected", "the Track API answered 401 Unauthorized for every pairing")


def _same_workspace(sm: Any, secret: dict[str, Any], kind: str, verdict: Verdict, other: str,
                    pair: tuple[str, str], cio: CustomerIo) -> Verdict:
    # A key pasted from another workspace (staging into production) authenticates too; the
    # pair in use says which workspace this secret belongs to, as long as it still answers.
    own, sibling = _value(sm, secret["ARN"], stage=CURRENT), _value(sm, other, stage=CURRENT)
    if not own or not sibling:
        return verdict
    current = (own, sibling) if kind == "site-id" else (sibling, own)
    if current == pair:
        return verdict
    known = cio.track(*current)
    if known.status != "ok" or known.environment_id is None or verdict.environment_id is None:
        _log(step="testSecret", secret=secret["ARN"], workspace="not compared", reason=known.detail)
        return verdict
    if known.environment_id != verdict.environment_id:
        return Verdict("rejected", f"the key belongs to workspace {verdict.environment_id}, but the keys in "
                                   f"use belong to workspace {known.environment_id}")
    return verdict


def test_secret(sm: Any, arn: str, token: str, secret: dict[str, Any], deadline: float) -> None:
    """Authenticate the pending value against Customer.io; unstage it when Customer.io says no."""
    pending = _value(sm, arn, version_id=token, stage=PENDING)
    if pending is None:
        if _value(sm, arn, stage=CURRENT) is None:
            # Secrets Manager's configuration test when rotation is set up (`pulumi up`) before any
            # key is stored (`golive credentials put` comes after): there is nothing to test yet, and
            # failing would fail the deploy.
            _log(step="testSecret", secret=arn, token=token, outcome="no key stored yet; nothing to test")
            return
        raise RotationError(f"version {token} of {arn} has no value; createSecret has not run")
    kind, region = _settings(secret)
    cio = CustomerIo(region, deadline)
    verdict = cio.app(pending) if kind == "app-api-key" else _test_track(sm, secret, kind, pending, cio)
    if verdict.status == "ok" and verdict.region and verdict.region != region:
        verdict = Verdict("rejected", f"the key belongs to a workspace in region {verdict.region}, "
                                      f"but the secret is tagged {REGION_TAG}={region}")
    if verdict.status == "unavailable":
        raise RotationError(f"could not verify the pending {kind} of {arn}: {verdict.detail}; Secrets Manager retries")
    if verdict.status == "rejected":
        _reject(sm, arn, token, secret, kind, pending, verdict.detail)
    _log(step="testSecret", secret=arn, token=token, kind=kind, outcome="authenticated", detail=verdict.detail)


def _reject(sm: Any, arn: str, token: str, secret: dict[str, Any], kind: str, pending: str, reason: str) -> None:
    name = secret.get("Name", arn)
    versions = secret.get("VersionIdsToStages", {})
    in_use = _value(sm, arn, stage=CURRENT) == pending
    staged_id = _labelled(versions, STAGED)
    if staged_id and staged_id != token and _value(sm, arn, version_id=staged_id) == pending:
        sm.update_secret_version_stage(SecretId=arn, VersionStage=STAGED, RemoveFromVersionId=staged_id)
    sm.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)
    if in_use:
        # Secrets Manager's configuration test runs testSecret on a copy of the key in use.
        message = (f"Customer.io rejects the {kind} now in use in {name}: {reason}. Applications using it "
                   f"are failing. Create a new key in Customer.io, stage it with `golive credentials stage "
                   f"{name}`, then start a rotation (`aws secretsmanager rotate-secret --secret-id {name}`).")
    else:
        message = (f"Rotation of {name} stopped: {reason}. The staged {kind} was unstaged and the key in use "
                   f"is unchanged. Create a new key in Customer.io, stage it with `golive credentials stage "
                   f"{name}`, then start a rotation (`aws secretsmanager rotate-secret --secret-id {name}`).")
    _notify("Customer.io rejected a key", message)
    raise RotationError(f"Customer.io rejected the pending {kind} of {arn}: {reason}")


def finish_secret(sm: Any, arn: str, token: str, secret: dict[str, Any]) -> None:
    """Make the tested version current and remind a person to revoke the old key."""
    versions = secret.get("VersionIdsToStages", {})
    previous = _labelled(versions, CURRENT)
    staged_id = _labelled(versions, STAGED)
    # Unstage before moving AWSCURRENT: a retry after the move returns early and would leave a stale
    # staged value behind. A value staged after createSecret ran differs and stays for next time.
    if staged_id and staged_id != token and _value(sm, arn, version_id=staged_id) == _value(sm, arn, version_id=token):
        sm.update_secret_version_stage(SecretId=arn, VersionStage=STAGED, RemoveFromVersionId=staged_id)
    move: dict[str, Any] = {"SecretId": arn, "VersionStage": CURRENT, "MoveToVersionId": token}
    if previous:
        move["RemoveFromVersionId"] = previous
    sm.update_secret_version_stage(**move)
    sm.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)
    _log(step="finishSecret", secret=arn, token=token, outcome="AWSCURRENT moved", previous_version=previous)
    name = secret.get("Name", arn)
    try:
        _notify("Customer.io key rotated: revoke the old key",
                f"{name} now holds the new key (version {token}); the old one is version {previous} "
                "(AWSPREVIOUS). Once nothing uses the old key any more, revoke it in Customer.io.")
    except Exception as err:
        # The rotation itself succeeded; failing the step now would only make a retry skip the reminder.
        _log(level="error", step="finishSecret", secret=arn, event="reminder not sent", error=type(err).__name__)


def _deadline(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget = remaining() / 1000 - MARGIN if callable(remaining) else DEFAULT_BUDGET
    return time.monotonic() + max(budget, 1.0)


def handler(event: dict[str, Any], context: Any) -> None:
    """Secrets Manager's entry point: one rotation step for one version of one secret."""
    try:
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    except (KeyError, TypeError):
        raise RotationError("the event lacks SecretId, ClientRequestToken or Step") from None
    if step not in STEPS:
        raise RotationError(f"unknown rotation step {str(step)[:40]!r}")
    sm = _client("secretsmanager")
    secret = sm.describe_secret(SecretId=arn)
    if not secret.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled for {arn}")
    versions = secret.get("VersionIdsToStages", {})
    if token not in versions:
        raise RotationError(f"{token} is not a version of {arn}")
    if CURRENT in versions[token]:
        if step == "finishSecret" and PENDING in versions[token]:
            sm.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)
        _log(step=step, secret=arn, token=token, outcome="version already AWSCURRENT; nothing to do")
        return
    if PENDING not in versions[token]:
        raise RotationError(f"version {token} of {arn} is not AWSPENDING; no rotation of it is in progress")
    if step == "createSecret":
        create_secret(sm, arn, token, secret)
    elif step == "setSecret":
        _log(step=step, secret=arn, token=token, outcome="nothing to set: Customer.io holds the key already")
    elif step == "testSecret":
        test_secret(sm, arn, token, secret, _deadline(context))
    else:
        finish_secret(sm, arn, token, secret)
