"""`golive fingerprints`: the non-production fingerprints the keys-distinct policy compares against.

Reads the credential secrets of a non-production environment from Secrets Manager and prints
(or merges into a policy-pack config file) their fingerprints, never their values.

A production stack or environment is refused, by the pack's own recognition (checklist.recognize: the
name against the policy's `productionStackPatterns`, or the merge file's `productionStacks` listing
the stack): its fingerprints in `nonProductionFingerprints` would make every production check fail,
its keys being "shared" with themselves. The merge file is read and written as `golive check` reads
it (golive.analysis.configfile): what one accepts, the other does.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from checklist import catalog, recognize
from golive import output
from golive.analysis import configfile
from golive.clients import aws
from golive.errors import GoliveError, UsageError

POLICY = "customerio-production-keys-distinct"
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0  # seconds, for the Secrets Manager calls of the key commands


class FingerprintError(GoliveError):
    """Secrets could not be read; the message names the secret, never a value."""


def secret_name(environment: str, kind: str) -> str:
    return catalog.CREDENTIAL_SECRET_NAME.format(environment=environment, kind=kind)


def secrets_client(endpoint_url: str | None, region: str | None, identity: aws.Identity | None = None) -> Any:
    """Secrets Manager, as `golive fingerprints` and `golive credentials` read and write it (with
    `identity`'s credentials: default, boto3's chain)."""
    return aws.client("secretsmanager", endpoint_url=endpoint_url, region=region, timeout=CONNECT_TIMEOUT,
                      read_timeout=READ_TIMEOUT, session=identity.session() if identity else None)


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
    """Add fingerprints to a policy-pack config object without dropping what is already there (an
    object `golive check` accepts: configfile.read refused any other)."""
    entry = config.get(POLICY)
    if isinstance(entry, str):
        entry = {"enforcementLevel": entry}
    entry = dict(entry or {})
    known = {k: list(v) for k, v in (entry.get("nonProductionFingerprints") or {}).items()}
    for kind, values in fingerprints.items():
        known[kind] = sorted(set(known.get(kind, [])) | set(values))
    entry["nonProductionFingerprints"] = known
    return {**config, POLICY: entry}


def production_signal(stack: str, environment: str, config: Mapping[str, Any]) -> str:
    """Why `stack` (or its secrets' `environment`) is production by the pack's signals; "" when none says so.
    Any signal is enough, and, unlike in the pack, a `productionStacks` list that leaves the stack out
    does not clear a production name: the secrets read are still that environment's."""
    entry = config.get(POLICY)
    patterns = entry.get("productionStackPatterns") if isinstance(entry, Mapping) else None
    if not isinstance(patterns, list) or not patterns:
        patterns = list(recognize.DEFAULT_PRODUCTION_PATTERNS)
    for label, name in (("--stack", stack.rsplit("/", 1)[-1]), ("--environment", environment)):
        if (pattern := recognize.production_pattern(name, patterns)) is not None:
            return f"{label} {name} matches the production pattern {pattern!r}"
    for key, value in config.items():
        listed = value.get("productionStacks") if isinstance(value, Mapping) else None
        names = {str(n).strip().lower() for n in listed} if isinstance(listed, list) else set()
        if {stack.strip().lower(), stack.rsplit("/", 1)[-1].strip().lower()} & names:
            return f"{key}.productionStacks lists {stack}"
    return ""


def run(args: argparse.Namespace) -> int:
    environment = args.environment or args.stack
    # Every refusal that needs no AWS comes first: the merge file's place and contents, production.
    merge_to = output.target(args.merge, "--merge") if args.merge else None
    config = configfile.read(args.merge, missing_ok=True) if args.merge else {}
    if args.merge:
        configfile.check_acceptable(config, args.merge)
    if signal := production_signal(args.stack, environment, config):
        raise UsageError(f"{signal}: a production stack's fingerprints belong in no nonProductionFingerprints "
                         "(every production check would then find its own keys shared); give a non-production "
                         "stack")
    found = collect(environment, endpoint_url=args.aws_endpoint, region=args.aws_region)
    if not found:
        raise UsageError(f"--stack {args.stack}: no Customer.io credential secrets found under "
                         f"{secret_name(environment, '')}")
    if merge_to is not None:
        def change(data: dict[str, Any]) -> dict[str, Any]:
            # The file as it is now, which another writer may have changed since it was first read.
            configfile.check_acceptable(data, args.merge)
            if signal := production_signal(args.stack, environment, data):
                raise UsageError(f"{args.merge}: {signal}; nothing was merged")
            return merge_into(data, found)

        configfile.rewrite(args.merge, change, option="--merge")
    else:
        output.write_output(json.dumps(merge_into({}, found), indent=2, sort_keys=True), None)
    return 0
