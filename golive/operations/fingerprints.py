"""`golive fingerprints`: the non-production fingerprints the keys-distinct policy compares against.

Reads the credential secrets of a non-production environment from Secrets Manager and prints
(or merges into a policy-pack config file) their fingerprints, never their values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from checklist import catalog
from golive.clients import aws
from golive.errors import GoliveError

POLICY = "customerio-production-keys-distinct"
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0  # seconds, for the Secrets Manager calls of the key commands


class FingerprintError(GoliveError):
    """Secrets could not be read; the message names the secret, never a value."""


def secret_name(environment: str, kind: str) -> str:
    return catalog.CREDENTIAL_SECRET_NAME.format(environment=environment, kind=kind)


def secrets_client(endpoint_url: str | None, region: str | None) -> Any:
    """Secrets Manager, as `golive fingerprints` and `golive credentials` read and write it."""
    return aws.client("secretsmanager", endpoint_url=endpoint_url, region=region, timeout=CONNECT_TIMEOUT,
                      read_timeout=READ_TIMEOUT)


def collect(environment: str, *, endpoint_url: str | None = None, region: str | None = None) -> dict[str, list[str]]:
    """Kind → fingerprints of the environment's current values; a missing secret is skipped."""
    client = secrets_client(endpoint_url, region)
    found: dict[str, list[str]] = {}
    for kind in catalog.CREDENTIAL_KINDS:
        name = secret_name(environment, kind)
        try:
            value = client.get_secret_value(SecretId=name).get("SecretString")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue
            raise FingerprintError(f"{name}: {err.response.get('Error', {}).get('Code', 'error')}") from None
        except BotoCoreError as err:
            raise FingerprintError(f"{name}: {type(err).__name__}") from None
        if value:
            found[kind] = [catalog.fingerprint(value)]
    return found


def merge_into(config: dict[str, Any], fingerprints: dict[str, list[str]]) -> dict[str, Any]:
    """Add fingerprints to a policy-pack config object without dropping what is already there."""
    entry = config.get(POLICY)
    if isinstance(entry, str):
        entry = {"enforcementLevel": entry}
    entry = dict(entry or {})
    known = {k: list(v) for k, v in (entry.get("nonProductionFingerprints") or {}).items()}
    for kind, values in fingerprints.items():
        known[kind] = sorted(set(known.get(kind, [])) | set(values))
    entry["nonProductionFingerprints"] = known
    return {**config, POLICY: entry}


def load_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise FingerprintError(f"{path}: not a JSON policy-pack config ({err})") from None
    if not isinstance(loaded, dict):
        raise FingerprintError(f"{path}: expected a JSON object of policy name to config")
    return loaded
