"""`golive credentials put|stage NAME`: a Customer.io key into its Secrets Manager secret, checked first.

The secret is `customerio/<environment>/<kind>`, created empty by `pulumi up`; values never pass
through Pulumi or the command line. The value is read from standard input (without echo from a
terminal) and, before anything is written:
- must be printable ASCII with no whitespace inside (surrounding whitespace is stripped);
- in a production-like environment, must not have the fingerprint of the same kind's current value
  in a non-production environment (`--compare-with`, default `staging`);
- must authenticate against Customer.io with read-only calls (golive/clients/customerio.py), in the stack's
  region (`golive:customerioRegion`, else the secret's `customerio:region` tag).

Then it is written once: `put` as the new AWSCURRENT version, `stage` as a version carrying only
GOLIVE_STAGED, which the rotation function's createSecret copies into the next rotation
(components/lambdas/rotation/handler.py). A check that fails leaves the secret as it was.

A site ID is only checkable together with a Track API key (HTTP Basic `site_id:key`):
- `put site-id` pairs it with the Track API key in use. With none stored yet (a first setup, where
  the site ID comes first) it is stored unverified and verified when the Track API key is put. A
  pair the key in use rejects is refused, since making it current would break the pair in use.
- `stage site-id` pairs it with the staged, then the in-use Track API key. When neither accepts it,
  it is still staged, with a note: replacing both halves means staging the new site ID before the
  new key exists in Secrets Manager, and staging the key next verifies the pair (as does the rotation).
- A Track API key is always verified: with the site ID in use (`put`), or the staged or in-use one
  (`stage`); with no site ID stored, the command asks for the site ID first.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
import uuid
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from checklist import catalog
from golive.clients import aws, customerio
from golive.errors import GoliveError
from golive.operations.fingerprints import CONNECT_TIMEOUT, secret_name, secrets_client
from golive.preview.project import load_project, load_stack_config

KINDS = catalog.CREDENTIAL_KINDS
STAGED = "GOLIVE_STAGED"  # the rotation function's staging label (components/lambdas/rotation/handler.py)
CURRENT = "AWSCURRENT"
MAX_VALUE = 4096
LABELS = {"site-id": "site ID", "track-api-key": "Track API key", "app-api-key": "App API key"}
_SECRET_NAME = re.compile(catalog.CREDENTIAL_SECRET_NAME.format(environment=r"(?P<environment>[^/\s]+)",
                                                               kind=r"(?P<kind>[^/\s]+)"))


class CredentialError(GoliveError):
    """A credential was not stored; the message names the secret and why, never the value."""


@dataclass(frozen=True)
class Target:
    """Which secret a `put` or `stage` writes, and what it is checked against."""

    action: str  # "put" | "stage"
    kind: str
    environment: str
    config_region: str | None  # golive:customerioRegion, when a stack was given and sets it
    config_file: str | None  # the stack file, for messages
    aws_region: str | None
    compare_with: tuple[str, ...]
    options: dict[str, str | list[str]]  # what located the secret on the command line, for the commands we print

    def command(self, action: str, kind: str) -> str:
        """A complete `golive credentials ACTION` line for the same environment: by kind with --stack, else
        by the secret's name (which needs no stack)."""
        from golive import suggest

        name = kind if "stack" in self.options else secret_name(self.environment, kind)
        return suggest.golive(("credentials", action, name), self.options, suggest.CREDENTIALS)

    @property
    def secret(self) -> str:
        return secret_name(self.environment, self.kind)

    @property
    def label(self) -> str:
        return LABELS[self.kind]


def _is_production(name: str) -> bool:
    from checklist.recognize import is_production  # the pack's own patterns, as the pack applies them

    return is_production(name)


def resolve(args: argparse.Namespace) -> Target:
    """The target from NAME (a kind, or a secret name as the rotation's notifications give it) and the stack."""
    name = args.name
    named_environment = None
    if name in KINDS:
        kind = name
    else:
        match = _SECRET_NAME.fullmatch(name)
        if not match or match["kind"] not in KINDS:
            raise CredentialError(f"NAME {name!r}: expected {', '.join(KINDS)} or customerio/<environment>/<kind>")
        kind, named_environment = match["kind"], match["environment"]

    values: dict[str, str] = {}
    config_file = None
    stack_environment = None
    if args.stack:
        project = load_project(args.program_dir)
        config = load_stack_config(project, args.stack, require_file=True)
        values = config.values
        config_file = config.file.name if config.file else None
        stack_environment = values.get("golive:environment") or config.stack
    elif named_environment is None:
        raise CredentialError("--stack is required unless NAME is the secret's name, customerio/<environment>/<kind>")

    # --environment overrides the stack's; a secret name must agree with whichever applies.
    environment = args.environment or stack_environment or named_environment or ""
    if named_environment is not None and named_environment != environment:
        raise CredentialError(f"NAME {name} is in environment {named_environment!r}, but "
                              f"{'--environment' if args.environment else f'stack {args.stack}'} is {environment!r}")
    if not re.fullmatch(r"[^/\s]+", environment):
        raise CredentialError(f"--environment {environment!r}: expected a name without '/' or whitespace")

    region = values.get("golive:customerioRegion")
    if region is not None and region not in catalog.REGIONS:
        raise CredentialError(f"{config_file}: golive:customerioRegion is {region!r}, expected one of "
                              f"{', '.join(catalog.REGIONS)}")
    if args.compare_with is not None:
        compare = args.compare_with
    else:
        production = _is_production(environment) or (args.stack is not None and _is_production(args.stack))
        compare = ["staging"] if production else []
    return Target(action=args.action, kind=kind, environment=environment, config_region=region,
                  config_file=config_file, aws_region=args.aws_region or values.get("aws:region"),
                  compare_with=tuple(dict.fromkeys(e for e in compare if e != environment)),
                  options=_options(args))


def _options(args: argparse.Namespace) -> dict[str, str | list[str]]:
    from golive.suggest import given

    return given(args)


def read_value(stream: TextIO | None, prompt: str) -> str:
    """The value from standard input: without echo from a terminal, else all of it; whitespace stripped."""
    if stream is None:
        raise CredentialError("no standard input to read the value from")
    try:
        raw = getpass.getpass(prompt) if stream.isatty() else stream.read(MAX_VALUE + 1)
    except EOFError:
        raw = ""
    except (OSError, UnicodeDecodeError) as err:
        raise CredentialError(f"cannot read the value from standard input ({type(err).__name__})") from None
    if len(raw) > MAX_VALUE:
        raise CredentialError(f"the value on standard input is longer than {MAX_VALUE} characters")
    return raw.strip()


class _Secrets:
    """The Secrets Manager calls, with errors that name the secret and AWS's error code only."""

    def __init__(self, endpoint_url: str | None, region: str | None, identity: aws.Identity | None = None) -> None:
        try:
            self.client = secrets_client(endpoint_url, region, identity)
        except BotoCoreError as err:
            raise CredentialError(f"Secrets Manager: {_boto_reason(err)}") from None

    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client.describe_secret(SecretId=name)
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                return None
            raise CredentialError(f"{name}: {_code(err)}") from None
        except BotoCoreError as err:
            raise CredentialError(f"{name}: {_boto_reason(err)}") from None

    def value(self, name: str, stage: str) -> str | None:
        """The value labelled `stage`, or None when the secret, the label or a string value is missing."""
        try:
            found = self.client.get_secret_value(SecretId=name, VersionStage=stage).get("SecretString")
        except ClientError as err:
            if _code(err) == "ResourceNotFoundException":
                return None
            raise CredentialError(f"{name} ({stage}): {_code(err)}") from None
        except BotoCoreError as err:
            raise CredentialError(f"{name} ({stage}): {_boto_reason(err)}") from None
        return found.strip() if isinstance(found, str) and found.strip() else None

    def put(self, name: str, value: str, stages: list[str] | None) -> str:
        # The token only makes AWS's retries idempotent; it is derived from nothing secret.
        request: dict[str, Any] = {"SecretId": name, "SecretString": value, "ClientRequestToken": str(uuid.uuid4())}
        if stages is not None:
            request["VersionStages"] = stages
        try:
            return str(self.client.put_secret_value(**request)["VersionId"])
        except ClientError as err:
            raise CredentialError(f"{name}: not stored: {_code(err)}") from None
        except BotoCoreError as err:
            raise CredentialError(f"{name}: not stored: {_boto_reason(err)}") from None


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code") or "error")


def _boto_reason(err: BotoCoreError) -> str:
    if type(err).__name__ == "NoRegionError":
        return "no AWS region: set aws:region in the stack config, --aws-region or AWS_REGION"
    if type(err).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials"
    return type(err).__name__  # botocore's texts name endpoints and parameters, so only the type is given


def _labelled(secret: dict[str, Any], stage: str) -> str | None:
    return next((v for v, stages in (secret.get("VersionIdsToStages") or {}).items() if stage in stages), None)


def run(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    target = resolve(args)
    identity = aws.assume(aws.identity_from(args, "credentials"), endpoint_url=args.aws_endpoint,
                          region=target.aws_region, timeout=CONNECT_TIMEOUT)
    secrets = _Secrets(args.aws_endpoint, target.aws_region, identity)
    secret = secrets.describe(target.secret)
    if secret is None:
        raise CredentialError(f"{target.secret} does not exist (region {secrets.client.meta.region_name}); "
                              "`pulumi up` for the stack creates it, then store the value")
    if secret.get("DeletedDate"):
        raise CredentialError(f"{target.secret} is scheduled for deletion; restore it or run `pulumi up` first")
    region = _region(target, secret)
    current = secrets.value(target.secret, CURRENT)
    if target.action == "stage" and current is None:
        # Secrets Manager makes a secret's first version AWSCURRENT whatever labels it is given.
        raise CredentialError(f"{target.secret} has no current value, so there is nothing to rotate from; "
                              f"store the first key with `{target.command('put', target.kind)}`")

    # Built before the value is read, so a bad URL or CA bundle is reported before anyone pastes a key.
    with _client(args, region) as cio:
        return _store(target, secrets, secret, current, cio, sys.stdin if stdin is None else stdin)


def _store(target: Target, secrets: _Secrets, secret: dict[str, Any], current: str | None,
           cio: customerio.CustomerIo, stdin: TextIO | None) -> int:
    value = read_value(stdin, f"{target.label} for {target.secret}: ")
    if not value:
        raise CredentialError(f"{target.secret}: empty value; pipe the {target.label} on standard input, "
                              "nothing was stored")
    try:
        customerio.check_credential(target.label, value)
    except customerio.ClientConfigError as err:
        raise CredentialError(f"{target.secret}: {err}; nothing was stored") from None
    fingerprint = catalog.fingerprint(value)
    _refuse_shared(secrets, target, fingerprint)

    same = current if target.action == "put" else secrets.value(target.secret, STAGED)
    if same is not None and catalog.fingerprint(same) == fingerprint:
        version = _labelled(secret, CURRENT if target.action == "put" else STAGED)
        where = "current" if target.action == "put" else "staged"
        print(f"{target.secret}: {fingerprint} is already the {where} value (version {version}); nothing stored")
        return 0
    if target.action == "stage" and current is not None and catalog.fingerprint(current) == fingerprint:
        raise CredentialError(f"{target.secret}: {fingerprint} is the {target.label} already in use (AWSCURRENT); "
                              f"create a new key in Customer.io and stage that; nothing was stored")

    verification = _verify(cio, target, secrets, value)
    stages = [STAGED] if target.action == "stage" else None
    version = secrets.put(target.secret, value, stages)
    how = (f"{STAGED}; the next rotation makes it current" if target.action == "stage" else CURRENT)
    print(f"{target.secret}: stored {fingerprint} as version {version} ({how}); {verification}")
    return 0


def _region(target: Target, secret: dict[str, Any]) -> str:
    tags = {t.get("Key"): t.get("Value") for t in secret.get("Tags") or []}
    tagged = tags.get(catalog.REGION_TAG)
    if target.config_region and tagged and tagged != target.config_region:
        # The rotation function tests keys against the tag, so a disagreement would fail the next rotation.
        raise CredentialError(f"{target.config_file} sets golive:customerioRegion {target.config_region}, but "
                              f"{target.secret} is tagged {catalog.REGION_TAG}={tagged}; run `pulumi up` first")
    region = target.config_region or tagged
    if region not in catalog.REGIONS:
        raise CredentialError(f"{target.secret}: no Customer.io region: set golive:customerioRegion in the stack "
                              f"config (us or eu)")
    return region


def _refuse_shared(secrets: _Secrets, target: Target, fingerprint: str) -> None:
    """A production key must not be a non-production environment's current key of the same kind."""
    for environment in target.compare_with:
        other = secret_name(environment, target.kind)
        value = secrets.value(other, CURRENT)
        if value is not None and catalog.fingerprint(value) == fingerprint:
            raise CredentialError(f"{target.secret}: {fingerprint} is also the current {target.label} of {other}; "
                                  f"{target.environment} needs its own key, nothing was stored")


def _client(args: argparse.Namespace, region: str) -> customerio.CustomerIo:
    timeout = float(args.timeout)
    if timeout <= 0:
        raise CredentialError(f"--timeout {args.timeout}: expected a positive number of seconds")
    # Module attributes are read at call time so tests can shorten the backoff.
    return customerio.CustomerIo(region, track_url=args.customerio_track_url, api_url=args.customerio_api_url,
                                 verify=args.ca_bundle, connect_timeout=min(customerio.CONNECT_TIMEOUT, timeout),
                                 read_timeout=timeout, backoff=customerio.BACKOFF,
                                 max_retry_after=customerio.MAX_RETRY_AFTER)


def _verify(cio: customerio.CustomerIo, target: Target, secrets: _Secrets, value: str) -> str:
    """Authenticate the value with Customer.io; the part of the output line that says how."""
    try:
        if target.kind == "app-api-key":
            if cio.check_app_key(value).plan_limited:
                return ("authenticated with the App API (it answered 403, a plan limit: the key authenticated, "
                        "the plan limits what it may read)")
            return "authenticated with the App API"
        return _verify_track(cio, target, secrets, value)
    except customerio.CustomerIoError as err:
        raise CredentialError(f"{target.secret}: could not verify the {target.label} with Customer.io: {err}; "
                              "nothing was stored") from None


def _verify_track(cio: customerio.CustomerIo, target: Target, secrets: _Secrets, value: str) -> str:
    other_kind = "track-api-key" if target.kind == "site-id" else "site-id"
    other = secret_name(target.environment, other_kind)
    partners: list[tuple[str, str]] = []
    for label in (STAGED, CURRENT) if target.action == "stage" else (CURRENT,):
        partner = secrets.value(other, label)
        if partner is not None and partner not in (p for _, p in partners):
            partners.append((label, partner))
    if not partners:
        if target.kind == "site-id":
            return (f"not verified yet: {other} holds no Track API key; the pair is verified when one is stored")
        raise CredentialError(f"{target.secret}: {other} holds no site ID to verify the Track API key with; "
                              f"store the site ID first (`{target.command(target.action, 'site-id')}`); "
                              "nothing was stored")
    rejected: list[str] = []
    for label, partner in partners:
        site_id, key = (value, partner) if target.kind == "site-id" else (partner, value)
        try:
            account = cio.track_region(site_id, key)
        except customerio.Unauthorized:
            rejected.append(label)
            continue
        except customerio.ClientConfigError as err:
            raise CredentialError(f"{target.secret}: the {LABELS[other_kind]} in {other} ({label}) cannot be "
                                  f"used: {err}; nothing was stored") from None
        if account.region != cio.region:
            source = (f"golive:customerioRegion in {target.config_file}" if target.config_region
                      else f"the tag {catalog.REGION_TAG} of {target.secret}")
            raise CredentialError(f"{target.secret}: the {target.label} belongs to a Customer.io workspace in "
                                  f"region {account.region}, but {source} says {cio.region}; nothing was stored")
        return (f"authenticated with the Track API, paired with the {LABELS[other_kind]} in {other} ({label}), "
                f"region {account.region}")
    tried = " and ".join(rejected)
    if target.kind == "site-id" and target.action == "stage":
        return (f"not verified yet: the {tried} Track API key rejects it, as it does when both halves are being "
                "replaced; staging the new Track API key next verifies the pair")
    if target.kind == "site-id":
        raise CredentialError(f"{target.secret}: Customer.io rejects site ID {customerio.site_id_hint(value)} "
                              f"with the Track API key in use ({other}, 401 Unauthorized); making it current would "
                              "break the pair in use, nothing was stored. To replace both halves, stage them "
                              "(site ID first, then the Track API key) and let the rotation switch them")
    site_ids = ", ".join(f"{customerio.site_id_hint(p)} ({label})" for label, p in partners)
    raise CredentialError(f"{target.secret}: Customer.io rejects this Track API key with the site ID in {other} "
                          f"({site_ids}): 401 Unauthorized; nothing was stored")
