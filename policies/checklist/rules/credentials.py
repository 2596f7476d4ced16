"""§1 Credentials & Configuration: where the keys live, that the App API key exists, one region,
and production keys that differ from every non-production one.

What an unknown value means here:
- A credential-named variable whose value is unknown was computed from another resource (a
  secret's ARN, typically) and is a reference, not a plaintext key. A wholly unknown environment
  map, container definition or user data cannot be read at all; it carries no literal the program
  wrote, and the next preview, where it is known, checks it. Neither is a finding.
- An SSM parameter whose `type` is unknown is not provably a SecureString: a finding.
- Region: unknown strings claim no region; only what is visible has to agree.
- Keys distinct: an unknown `secretString` has no fingerprint; the `customerio:fingerprint` tag is
  how a value set outside Pulumi (as `golive credentials put` does) reaches the pack.

How non-production fingerprints reach `customerio-production-keys-distinct`: the pack never sees a
staging value. `python -m golive fingerprints --stack staging [--merge policy-config.json]` reads
the staging environment's credential secrets and writes `catalog.fingerprint` of each (never the
value) into the pack config as `nonProductionFingerprints: {kind: [fingerprint, ...]}`; the key
`any` holds fingerprints whose kind is not known. The rule fingerprints what the production
preview shows (a known `secretString` of a credential secret's version, a `customerio:fingerprint`
tag on the secret, stack config values under credential names) and reports a match by kind and
place. It runs only for production stacks: in staging, equality with staging is the point. With no
fingerprint in the config there is nothing to compare against: that is said, as advice, so that a
pipeline that never ran `golive fingerprints` does not read the silence as a pass.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog import CREDENTIAL_KINDS, LINK_TRACKING_TARGETS, REGION_HOSTS, REGION_TAG, REGIONS, fingerprint
from ..model import UNKNOWN, Resource, RuleFinding, Stack
from ..recognize import (
    ROUTE53_RECORD,
    SECRET,
    SECRET_VERSION,
    SSM_PARAMETER,
    credential_secrets,
    kind_from_name,
    physical_name,
    secrets_referenced,
)
from .registry import rule

FINGERPRINT_TAG = "customerio:fingerprint"

LAMBDA_FUNCTION = "aws:lambda/function:Function"
ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
_USER_DATA: dict[str, tuple[tuple[str, bool], ...]] = {  # type -> (property, base64-encoded)
    "aws:ec2/instance:Instance": (("userData", False), ("userDataBase64", True)),
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest": (("userData", False), ("userDataBase64", True)),
    "aws:ec2/launchConfiguration:LaunchConfiguration": (("userData", False), ("userDataBase64", True)),
    "aws:ec2/launchTemplate:LaunchTemplate": (("userData", True),),
}
_USER_DATA_LIMIT = 1 << 20  # bytes of gunzipped user data read; AWS caps user data at 16 KB anyway


def _label(resource: Resource) -> str:
    return f"{resource.type.rsplit(':', 1)[-1]} '{resource.name}'"


# --- recognising credential names -----------------------------------------------------------------

_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_CREDENTIAL_PARTS = ("siteid", "trackkey", "appkey", "apikey")
# A name ending like this holds where the credential is, not the credential.
_POINTER_ENDINGS = (("arn",), ("param",), ("parameter",), ("secret", "id"), ("secret", "name"))


def _tokens(name: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(name)]


def _is_pointer_name(tokens: list[str]) -> bool:
    return any(tuple(tokens[-len(end) :]) == end for end in _POINTER_ENDINGS)


@dataclass(frozen=True)
class CredentialNames:
    """Tells whether a variable, parameter or config key name holds a Customer.io credential."""

    extra: tuple[re.Pattern[str], ...] = ()

    def __call__(self, name: str) -> bool:
        tokens = _tokens(name)
        if not tokens or _is_pointer_name(tokens):
            return False
        if any(p.search(name) for p in self.extra):
            return True
        joined = "".join(tokens)
        mentions_customerio = "customerio" in joined or "cio" in tokens
        return mentions_customerio and any(part in joined for part in _CREDENTIAL_PARTS)


def _credential_names(cfg: Mapping[str, Any]) -> tuple[CredentialNames, list[str]]:
    """The recogniser with the pack's extra patterns, and the patterns that do not compile."""
    compiled, broken = [], []
    for pattern in cfg.get("credentialNamePatterns") or ():
        try:
            compiled.append(re.compile(pattern))
        except (re.error, TypeError):
            broken.append(str(pattern))
    return CredentialNames(tuple(compiled)), broken


# --- where plaintext can hide ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Assignment:
    resource: Resource | None  # None: stack config
    where: str
    name: str
    value: Any
    fix: str

    def finding(self) -> RuleFinding:
        if self.resource is None:
            place, urn = f"Stack config key '{self.name}' is plaintext", None
        else:
            place, urn = f"{_label(self.resource)} sets {self.name} in {self.where}", self.resource.urn
        fix = self.fix.format(name=self.name)
        return RuleFinding(f"{place}: a Customer.io credential in plaintext; {fix}.", urn)


_FIX_ENV = "store it in Secrets Manager and pass the secret's ARN (e.g. as {name}_SECRET_ARN) instead"
_FIX_ECS = "move it to the container's `secrets` with valueFrom = the Secrets Manager secret's ARN"
_FIX_USER_DATA = "read it at boot from Secrets Manager (aws secretsmanager get-secret-value) instead"
_FIX_CONFIG = (
    "make it secret with `pulumi config set --secret` (add `--path` for a key inside an object), "
    "or keep it only in Secrets Manager"
)


def _lambda_assignments(resource: Resource) -> Iterator[_Assignment]:
    variables = resource.get("environment", "variables")
    if isinstance(variables, Mapping):
        for name, value in variables.items():
            yield _Assignment(resource, "environment.variables", name, value, _FIX_ENV)


def _container_assignments(resource: Resource) -> Iterator[_Assignment]:
    definitions = resource.get("containerDefinitions")
    if isinstance(definitions, str):
        try:
            definitions = json.loads(definitions)
        except ValueError:
            return  # the provider rejects it before anything runs
    if not isinstance(definitions, list):
        return
    for container in definitions:
        if not isinstance(container, Mapping) or not isinstance(container.get("environment"), list):
            continue
        where = f"container '{container.get('name', '?')}' environment"
        for entry in container["environment"]:
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                yield _Assignment(resource, where, entry["name"], entry.get("value"), _FIX_ECS)


# The value is matched in a lookahead so that an assignment quoted inside another one is found too:
# systemd's `Environment="CIO_TRACK_KEY=…"`.
_SHELL_ASSIGNMENT = re.compile(
    r"""(?<![\w$])([A-Za-z_]\w*)=(?=("[^"\n]*"|'[^'\n]*'|[^\s;&|'"]*))""", re.ASCII
)


def _decoded(value: Any, is_base64: bool) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if not is_base64:
        return value
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return value  # not base64 after all: read it as written
    if raw[:2] == b"\x1f\x8b":  # gzip, as cloud-init accepts
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, _USER_DATA_LIMIT)
        except zlib.error:
            return None
    return raw.decode("utf-8", errors="replace")


def _user_data_assignments(resource: Resource) -> Iterator[_Assignment]:
    for prop, is_base64 in _USER_DATA[resource.type]:
        text = _decoded(resource.get(prop), is_base64)
        for match in _SHELL_ASSIGNMENT.finditer(text or ""):
            value = match[2].strip("\"'")
            if value.startswith(("$", "`")):
                continue  # expanded at boot: `$(aws secretsmanager get-secret-value …)`, `${VAR}`
            yield _Assignment(resource, prop, match[1], value, _FIX_USER_DATA)


def _config_entries(stack: Stack) -> Iterator[tuple[str, str, Any]]:
    """(top-level key, name, value) for each stack config value, objects walked as `key.sub.sub`."""

    def walk(top: str, name: str, value: Any) -> Iterator[tuple[str, str, Any]]:
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                yield from walk(top, f"{name}.{sub}", inner)
        else:
            yield top, name, value

    for key, raw in stack.config.items():
        value: Any = raw
        if isinstance(raw, str) and raw.lstrip().startswith("{"):
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        yield from walk(key, key, value)


def _config_assignments(stack: Stack) -> Iterator[_Assignment]:
    for key, name, value in _config_entries(stack):
        if not stack.config_secret(key, name):
            yield _Assignment(None, "plaintext stack config", name, value, _FIX_CONFIG)


def _assignments(stack: Stack) -> Iterator[_Assignment]:
    for resource in stack.resources:
        if resource.type == LAMBDA_FUNCTION:
            yield from _lambda_assignments(resource)
        elif resource.type == ECS_TASK_DEFINITION:
            yield from _container_assignments(resource)
        elif resource.type in _USER_DATA:
            yield from _user_data_assignments(resource)
    yield from _config_assignments(stack)


_SECRET_REFERENCE_ARN = re.compile(r"arn:aws[a-z-]*:(secretsmanager|ssm):", re.IGNORECASE)


def _references(stack: Stack) -> frozenset[str]:
    """Known names and ARNs a credential variable may hold instead of the credential."""
    refs = set()
    for resource in stack.of_type(SECRET, SSM_PARAMETER):
        if resource.type == SSM_PARAMETER and resource.get("type") != "SecureString":
            continue
        refs.update(v for v in (resource.get("name"), resource.get("arn")) if isinstance(v, str) and v)
    return frozenset(refs)


def _is_plaintext(value: Any, references: frozenset[str]) -> bool:
    """A literal that could be the credential itself; references and computed values are not."""
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return False
    if isinstance(value, int | float):
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(text) and not _SECRET_REFERENCE_ARN.match(text) and text not in references


def _plaintext_ssm(
    stack: Stack, is_credential: CredentialNames, references: frozenset[str]
) -> Iterator[RuleFinding]:
    for parameter in stack.of_type(SSM_PARAMETER):
        name = physical_name(parameter)
        kind = parameter.get("type")
        if kind == "SecureString" or not is_credential(name):
            continue
        values = [parameter.get(p) for p in ("value", "insecureValue")]
        if not any(_is_plaintext(v, references) for v in values):
            continue
        why = "its type is unknown at preview" if kind is UNKNOWN else f"it is a {kind or 'String'} parameter"
        yield RuleFinding(
            f"SSM parameter '{name}' holds a Customer.io credential in plaintext ({why}): keep the key in "
            "Secrets Manager, or at least make the parameter a SecureString.",
            parameter.urn,
        )


@rule("customerio-credentials-in-secrets-manager")
def check_secrets_storage(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    is_credential, broken = _credential_names(cfg)
    for pattern in broken:
        yield RuleFinding(
            f"credentialNamePatterns entry {pattern!r} is not a valid regular expression; "
            "fix the pack config."
        )
    references = _references(stack)
    seen: set[tuple[str | None, str, str]] = set()
    for a in _assignments(stack):
        key = (a.resource.urn if a.resource else None, a.where, a.name)
        if key in seen or not is_credential(a.name) or not _is_plaintext(a.value, references):
            continue
        seen.add(key)
        yield a.finding()
    yield from _plaintext_ssm(stack, is_credential, references)


# --- the three keys a production integration needs ------------------------------------------------

# Each kind's name and what it is for, as a finding about its absence says it.
_KINDS = {
    "site-id": ("Site ID", "identifies the workspace in every Track API call"),
    "track-api-key": ("Track API key", "authenticates every Track API call, paired with the Site ID"),
    "app-api-key": ("App API key", "transactional messages need"),
}


def _missing_kinds(stack: Stack, kinds: tuple[str, ...]) -> Iterator[RuleFinding]:
    """One stack-level finding per kind no credential secret holds.

    Reported in every Customer.io stack, not only production: the adapter makes it advisory
    elsewhere, so staging shows what production will require before the first production deploy.
    """
    secrets = credential_secrets(stack)
    held = {kind for _, kind in secrets}
    untyped = [physical_name(s) for s, kind in secrets if kind == ""]
    hint = (
        f" Customer.io secrets without a kind ({', '.join(untyped)}) need a `customerio:credential` tag."
        if untyped
        else ""
    )
    for kind in kinds:
        if kind in held:
            continue
        name, purpose = _KINDS[kind]
        yield RuleFinding(
            f"No Secrets Manager secret holds the Customer.io {name}, which {purpose}: add one tagged "
            f"`customerio:credential={kind}` (the CustomerIoCredentials component creates it)." + hint
        )


@rule("customerio-app-api-key", app_side=True)
def check_app_api_key(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    return _missing_kinds(stack, ("app-api-key",))


@rule("customerio-track-api-credentials", app_side=True)
def check_track_credentials(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    return _missing_kinds(stack, ("site-id", "track-api-key"))


# --- one region -----------------------------------------------------------------------------------

_HOST = re.compile(
    r"(?<![\w.-])("
    + "|".join(re.escape(h) for h in sorted(REGION_HOSTS, key=len, reverse=True))
    + r")(?![\w-]|\.[\w-])",
    re.IGNORECASE,
)
_LINK_TARGETS = frozenset(LINK_TRACKING_TARGETS.values())
_MAX_LISTED = 4


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _strings(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _strings(inner, f"{path}[{i}]")


def _host_claims(resource: Resource) -> Iterator[tuple[str, str]]:
    """(region, evidence) for each Customer.io host in the resource's known strings."""
    is_cname = resource.type == ROUTE53_RECORD and resource.get("type") == "CNAME"
    # tagsAll repeats tags with the provider's defaults merged in: one reading is enough.
    props = {k: v for k, v in resource.props.items() if k != "tagsAll"}
    for path, text in _strings(props, ""):
        for match in _HOST.finditer(text):
            host = match[1].lower()
            if is_cname and host in _LINK_TARGETS:
                yield REGION_HOSTS[host], f"link-tracking CNAME {physical_name(resource)} -> {host}"
            else:
                yield REGION_HOSTS[host], f"{host} in {path}"


@dataclass
class _Claims:
    by_urn: dict[str, dict[str, list[str]]]  # resource -> region -> evidence
    labels: dict[str, str]

    def add(self, resource: Resource, region: str, evidence: str) -> None:
        self.labels[resource.urn] = _label(resource)
        found = self.by_urn.setdefault(resource.urn, {}).setdefault(region, [])
        if evidence not in found:
            found.append(evidence)

    def sources(self, region: str) -> str:
        listed = [
            f"{self.labels[urn]} ({'; '.join(regions[region])})"
            for urn, regions in self.by_urn.items()
            if region in regions
        ]
        more = len(listed) - _MAX_LISTED
        return ", ".join(listed[:_MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


@rule("customerio-region", customerio_only=True)
def check_region(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    claims = _Claims({}, {})
    for secret, _kind in credential_secrets(stack):
        tagged = secret.tags().get(REGION_TAG)
        if tagged is None:
            continue
        if tagged.strip().lower() in REGIONS:
            claims.add(secret, tagged.strip().lower(), f"tag {REGION_TAG}={tagged}")
        else:
            yield RuleFinding(
                f"Customer.io secret '{physical_name(secret)}' has {REGION_TAG}={tagged!r}; "
                "use 'us' or 'eu'.",
                secret.urn,
            )
    for resource in stack.resources:
        for region, evidence in _host_claims(resource):
            claims.add(resource, region, evidence)

    configured = str(cfg.get("region") or "").strip().lower()
    if configured and configured not in REGIONS:
        yield RuleFinding(f"Pack config `region` is {configured!r}; use 'us', 'eu' or leave it empty.")
        configured = ""
    counts = Counter(region for regions in claims.by_urn.values() for region in regions)
    if configured:
        reference, why = configured, "the pack config `region`"
    elif len(counts) < 2:
        return
    else:
        (first, n_first), (_, n_second) = counts.most_common(2)
        reference = first if n_first > n_second else None
        why = "most of the stack"
    for urn, regions in claims.by_urn.items():
        wrong = sorted(r for r in regions if r != reference)
        if not wrong:
            continue
        label = claims.labels[urn]
        if reference is None:
            split = "; ".join(f"{r.upper()}: {claims.sources(r)}" for r in sorted(counts))
            message = (
                f"Customer.io regions disagree evenly ({split}). {label} is one side; set the pack config "
                "`region` to the account's region and use it everywhere."
            )
        else:
            claimed = "; ".join(f"{r.upper()} ({'; '.join(regions[r])})" for r in wrong)
            ref_sources = claims.sources(reference) if counts[reference] else "no resource yet"
            message = (
                f"{label} points at Customer.io region {claimed}, but the account's region is "
                f"{reference.upper()} per {why} ({reference.upper()}: {ref_sources}). Use the "
                f"{reference.upper()} hosts, `{REGION_TAG}` tags and link-tracking target everywhere."
            )
        yield RuleFinding(message, urn)


# --- production keys differ from non-production ones ----------------------------------------------

_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{16}")


def _non_production(cfg: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    raw = cfg.get("nonProductionFingerprints") or {}
    known: dict[str, frozenset[str]] = {}
    if isinstance(raw, Mapping):
        for kind, values in raw.items():
            values = [values] if isinstance(values, str) else values
            if isinstance(values, list | tuple):
                known[str(kind)] = frozenset(v.strip().lower() for v in values if isinstance(v, str))
    return known


def _matches(known: dict[str, frozenset[str]], kind: str, print_: str) -> list[str]:
    """The non-production kinds whose fingerprints include `print_`; an unknown kind checks all."""
    kinds = [kind, "any"] if kind in CREDENTIAL_KINDS else list(known)
    return [k for k in kinds if print_ in known.get(k, ())]


@dataclass(frozen=True)
class _Production:
    kind: str
    fingerprint: str
    where: str
    urn: str | None


def _production_prints(stack: Stack) -> Iterator[_Production]:
    credential = {s.urn: kind for s, kind in credential_secrets(stack)}
    for version in stack.of_type(SECRET_VERSION):
        value = version.get("secretString")
        if not isinstance(value, str) or not value.strip():
            continue
        for secret in secrets_referenced(stack, version):
            if secret.urn in credential:
                where = f"SecretVersion '{version.name}' of secret '{physical_name(secret)}'"
                yield _Production(credential[secret.urn], fingerprint(value), where, version.urn)
    for secret, kind in credential_secrets(stack):
        tagged = secret.tags().get(FINGERPRINT_TAG, "").strip().lower()
        if _FINGERPRINT.fullmatch(tagged):
            where = f"the {FINGERPRINT_TAG} tag of secret '{physical_name(secret)}'"
            yield _Production(kind, tagged, where, secret.urn)
    is_credential = CredentialNames()
    for _key, name, value in _config_entries(stack):
        if is_credential(name) and isinstance(value, str | int) and str(value).strip():
            kind = kind_from_name(name.split(":", 1)[-1])
            yield _Production(kind, fingerprint(str(value)), f"stack config key '{name}'", None)


@rule("customerio-production-keys-distinct", customerio_only=True)
def check_keys_distinct(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    if not stack.production:
        return
    for secret, _kind in credential_secrets(stack):
        tagged = secret.tags().get(FINGERPRINT_TAG)
        if tagged is not None and not _FINGERPRINT.fullmatch(tagged.strip().lower()):
            # A typo here would silently switch the comparison off for this key.
            yield RuleFinding(
                f"Secret '{physical_name(secret)}' has a {FINGERPRINT_TAG} tag that is not `sha256:` "
                "and 16 hex digits, so it cannot be compared with non-production keys; set it to "
                "catalog.fingerprint(value).",
                secret.urn,
            )
    known = _non_production(cfg)
    if not any(known.values()):
        if not credential_secrets(stack):
            return  # no key to compare (a stack of DNS records only): nothing was left unchecked
        yield RuleFinding(
            "No non-production fingerprints in the pack config (`nonProductionFingerprints`), so the production "
            "Customer.io keys were not compared with staging's: run `python -m golive fingerprints --stack staging "
            "--merge policy-config.json` and pass that file with `--policy-pack-config`.",
            advisory=True,
        )
        return
    for item in _production_prints(stack):
        matched = _matches(known, item.kind, item.fingerprint)
        if matched:
            what = item.kind or "Customer.io credential"
            yield RuleFinding(
                f"Production {what} in {item.where} is the same key as a non-production one (its "
                f"fingerprint is listed under nonProductionFingerprints[{', '.join(matched)}]): create a "
                "separate key in the production workspace and store it in the production secret.",
                item.urn,
            )
