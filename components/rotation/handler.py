"""Secrets Manager rotation for Customer.io keys, with a person in the loop.

Customer.io keys cannot be minted by API, so `createSecret` takes the value an operator staged
with `golive credentials stage` (a version labelled GOLIVE_STAGED); with nothing staged it asks
for one on the alert topic and fails, so Secrets Manager retries and the failure shows. The four
steps are idempotent because Secrets Manager retries each of them.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from typing import Any

import boto3

STAGED = "GOLIVE_STAGED"
TRACK_URLS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
API_URLS = {"us": "https://api.customer.io", "eu": "https://api-eu.customer.io"}
TIMEOUT = 10


class RotationError(Exception):
    """A step that must fail so Secrets Manager retries; the text never holds a key."""


def _client(service: str) -> Any:
    return boto3.client(service, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


def _notify(subject: str, message: str) -> None:
    topic = os.environ.get("ALERT_TOPIC_ARN")
    if topic:
        _client("sns").publish(TopicArn=topic, Subject=subject[:100], Message=message)


def _kind(secret: dict[str, Any]) -> str:
    tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
    return tags.get("customerio:credential", "")


def _sibling(secret_name: str, kind: str) -> str:
    return secret_name.rsplit("/", 1)[0] + "/" + kind


def _status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def authenticates(kind: str, value: str, site_id: str, track_key: str, region: str) -> bool:
    """Ask Customer.io whether the pending value works: the Track API's region probe, or an App API read."""
    if kind == "app-api-key":
        url = os.environ.get("CUSTOMERIO_API_URL") or API_URLS[region]
        req = urllib.request.Request(f"{url}/v1/campaigns", headers={"Authorization": f"Bearer {value}"})
        return _status(req) == 200
    if kind == "site-id":
        site_id = value
    else:
        track_key = value
    url = os.environ.get("CUSTOMERIO_TRACK_URL") or TRACK_URLS[region]
    token = base64.b64encode(f"{site_id}:{track_key}".encode()).decode()
    req = urllib.request.Request(f"{url}/api/v1/accounts/region", headers={"Authorization": f"Basic {token}"})
    return _status(req) == 200


def create_secret(sm: Any, arn: str, token: str) -> None:
    try:
        sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        return  # a retry after success
    except sm.exceptions.ResourceNotFoundException:
        pass
    try:
        staged = sm.get_secret_value(SecretId=arn, VersionStage=STAGED)["SecretString"]
    except sm.exceptions.ResourceNotFoundException:
        _notify(
            "Customer.io key rotation needs a new key",
            f"Rotation of {arn} is due. Create a new key in Customer.io, then stage it with "
            f"`python -m golive credentials stage` for this secret.",
        )
        raise RotationError(f"no value staged for {arn}") from None
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=staged, VersionStages=["AWSPENDING"])


def test_secret(sm: Any, arn: str, token: str, secret: dict[str, Any]) -> None:
    pending = sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    kind = _kind(secret)
    region = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}.get("customerio:region", "us")
    site_id = track_key = ""
    if kind in ("site-id", "track-api-key"):
        other = "track-api-key" if kind == "site-id" else "site-id"
        current = sm.get_secret_value(SecretId=_sibling(secret["Name"], other))["SecretString"]
        site_id, track_key = (pending, current) if kind == "site-id" else (current, pending)
    if not authenticates(kind, pending, site_id, track_key, region):
        raise RotationError(f"Customer.io rejected the pending {kind or 'credential'} of {arn}")


def finish_secret(sm: Any, arn: str, token: str, secret: dict[str, Any]) -> None:
    stages = secret["VersionIdsToStages"]
    current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
    if current == token:
        return  # already finished
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                   RemoveFromVersionId=current)
    staged = next((v for v, s in stages.items() if STAGED in s), None)
    if staged:
        sm.update_secret_version_stage(SecretId=arn, VersionStage=STAGED, RemoveFromVersionId=staged)
    _notify("Customer.io key rotated", f"{arn} now uses the new key. Revoke the old key in Customer.io.")


def handler(event: dict[str, Any], _context: Any) -> None:
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    sm = _client("secretsmanager")
    secret = sm.describe_secret(SecretId=arn)
    if not secret.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled for {arn}")
    stages = secret.get("VersionIdsToStages", {})
    if token not in stages and step != "createSecret":
        raise RotationError(f"version {token} is not a version of {arn}")
    if step == "createSecret":
        create_secret(sm, arn, token)
    elif step == "setSecret":
        return  # Customer.io holds the key already; nothing to set
    elif step == "testSecret":
        test_secret(sm, arn, token, secret)
    elif step == "finishSecret":
        finish_secret(sm, arn, token, secret)
    else:
        raise RotationError(f"unknown rotation step {step!r}")
    print(json.dumps({"secret": arn, "step": step, "ok": True}))
