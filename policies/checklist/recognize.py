"""How the pack recognises Customer.io things in programs that do not use our components."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .catalog import (
    CREDENTIAL_KINDS,
    CREDENTIAL_SECRET_NAME,
    CREDENTIAL_TAG,
    DEFAULT_ESP_DOMAINS,
    DEFAULT_PRODUCTION_PATTERNS,
    ENVIRONMENT_CONFIG_KEY,
    ENVIRONMENT_NAME,
    ENVIRONMENT_TAG_KEYS,
    ROLLOUT_FLAG_TAG,
    SENDING_SUBDOMAIN_LABEL,
    SIGNAL_TAG,
)
from .emailauth import SPFSyntaxError, is_under, looks_like_spf, normalize_name, parse_spf, txt_strings
from .model import Resource, Stack

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
ROUTE53_RECORD = "aws:route53/record:Record"
ROUTE53_ZONE = "aws:route53/zone:Zone"

_CUSTOMERIO_NAME = re.compile(r"customer[-_.]?io", re.IGNORECASE)
# The layout has no regex metacharacters of its own; the environment is an ENVIRONMENT_NAME.
_SECRET_ENVIRONMENT = re.compile(
    "(?:^|/)"
    + CREDENTIAL_SECRET_NAME.format(environment=f"(?P<environment>{ENVIRONMENT_NAME.strip('^$')})", kind="[^/]+")
    + "$"
)
_SENDING_LABEL = re.compile(SENDING_SUBDOMAIN_LABEL)
_ENVIRONMENT_TAGS = frozenset(k.lower() for k in ENVIRONMENT_TAG_KEYS)


def _short(stack_name: str) -> str:
    return stack_name.rsplit("/", 1)[-1]


def production_pattern(name: str, patterns: Iterable[str] = DEFAULT_PRODUCTION_PATTERNS) -> str | None:
    """The first pattern a stack or environment name matches, case-insensitively; None when none does."""
    lowered = name.strip().lower()
    return next((p for p in patterns if lowered and fnmatch.fnmatchcase(lowered, p.lower())), None)


def is_production(stack_name: str, patterns: Iterable[str] = DEFAULT_PRODUCTION_PATTERNS) -> bool:
    """True when the stack's own name (the part after any `org/project/`) matches a pattern."""
    return production_pattern(_short(stack_name), patterns) is not None


class Production(NamedTuple):
    """Whether a stack is production, and what said so (or, when a list overrules it, what did not)."""

    production: bool
    # Why it is production; for a stack that is not, what `productionStacks` overruled ("" when nothing did).
    signal: str


def production(
    stack: Stack, patterns: Sequence[str] = DEFAULT_PRODUCTION_PATTERNS, listed: Sequence[str] = ()
) -> Production:
    """Production is what the stack is, not only what it is called. The signals, in the order they are
    read (the first that says production is the one reported):

    1. `listed` (the pack config's `productionStacks`), when not empty, is the whole answer: a stack on
       it is production, any other is not, whatever the signals below say;
    2. the stack's name matches one of `patterns`;
    3. its `golive:environment` config names a production environment (by the same patterns);
    4. a credential secret's name (`customerio/<environment>/<kind>`) or environment tag does;
    5. a stack tag (`golive:environment`, `environment`, ...) does.
    Any one of 2-5 is enough: a guard errs towards blocking.
    """
    signal = _production_signal(stack, patterns)
    if listed:
        if _listed(stack, listed):
            return Production(True, "productionStacks lists it")
        return Production(False, f"productionStacks does not list it, although {signal}" if signal else "")
    return Production(bool(signal), signal)


def _listed(stack: Stack, listed: Sequence[str]) -> bool:
    short, project = _short(stack.name).lower(), stack.project.lower()
    for entry in listed:
        wanted = entry.strip().lower()
        if wanted in (short, stack.name.lower(), f"{project}/{short}") or wanted.endswith(f"/{project}/{short}"):
            return True
    return False


def _production_signal(stack: Stack, patterns: Sequence[str]) -> str:
    short = _short(stack.name)
    if (pattern := production_pattern(short, patterns)) is not None:
        return f"its name {short} matches {pattern!r}"
    environment = stack.config.get(ENVIRONMENT_CONFIG_KEY)
    if isinstance(environment, str) and production_pattern(environment, patterns):
        return f"its config {ENVIRONMENT_CONFIG_KEY} is {environment!r}"
    # By name, not registration order, which the engine does not fix: the same stack says the same.
    for name, secret in sorted(((physical_name(s), s) for s, _kind in credential_secrets(stack)), key=lambda p: p[0]):
        named = _SECRET_ENVIRONMENT.search(name)
        if named and production_pattern(named["environment"], patterns):
            return f"its credential secret {name} is named for environment {named['environment']!r}"
        for key, value in secret.tags().items():
            if key.lower() in _ENVIRONMENT_TAGS and production_pattern(value, patterns):
                return f"its credential secret {name} is tagged {key}={value}"
    for key, value in stack.tags.items():
        if key.lower() in _ENVIRONMENT_TAGS and production_pattern(value, patterns):
            return f"its stack tag {key} is {value!r}"
    return ""


def credential_kind(resource: Resource) -> str | None:
    """`site-id`, `track-api-key` or `app-api-key` for a Customer.io credential secret, `""` when the
    secret is Customer.io's but its kind is not said, and None for anything else."""
    if resource.type != SECRET:
        return None
    tagged = resource.tags().get(CREDENTIAL_TAG)
    if tagged is not None:
        return tagged if tagged in CREDENTIAL_KINDS else ""
    names = [resource.get("name"), resource.get("namePrefix"), resource.name]
    if any(isinstance(n, str) and _CUSTOMERIO_NAME.search(n) for n in names):
        return kind_from_name(" ".join(n for n in names if isinstance(n, str)))
    return None


def kind_from_name(text: str) -> str:
    """The credential kind a name speaks of (`CIO_TRACK_KEY`, `customerio/app-api-key`), or ""."""
    lowered = re.sub(r"[^a-z]", "", text.lower())
    if "siteid" in lowered:
        return "site-id"
    if "track" in lowered:
        return "track-api-key"
    if "app" in lowered:
        return "app-api-key"
    return ""


def credential_secrets(stack: Stack) -> list[tuple[Resource, str]]:
    found = []
    for r in stack.of_type(SECRET):
        kind = credential_kind(r)
        if kind is not None:
            found.append((r, kind))
    return found


def alarm_signal(resource: Resource) -> str | None:
    if resource.type != METRIC_ALARM:
        return None
    return resource.tags().get(SIGNAL_TAG)


def is_rollout_flag(resource: Resource) -> bool:
    return resource.type == SSM_PARAMETER and ROLLOUT_FLAG_TAG in resource.tags()


def holds_customerio_app(stack: Stack) -> bool:
    """The stack holds the application side of a Customer.io integration: a credential secret, a
    signal-tagged alarm or the rollout flag."""
    return any(
        credential_kind(r) is not None or alarm_signal(r) is not None or is_rollout_flag(r)
        for r in stack.resources
    )


def is_customerio_stack(stack: Stack, config: Mapping[str, Any] | None = None) -> bool:
    """A stack the checklist's Customer.io rules apply to: it holds the application side
    (`holds_customerio_app`), the pack's config names a sending domain, or its DNS records point at
    Customer.io's senders (`points_at_customerio`, with the config's `espDomains`)."""
    if config and config.get("sendingDomains"):
        return True
    if holds_customerio_app(stack):
        return True
    esps = config.get("espDomains") if config else None
    return points_at_customerio(stack, esps if isinstance(esps, list) else DEFAULT_ESP_DOMAINS)


# --- Sending-domain DNS -------------------------------------------------------------------------


def sending_subdomain(name: str) -> str | None:
    """The Customer.io sending subdomain a record name is on or under (`krs._domainkey.cio123.example.com`
    → `cio123.example.com`), or None."""
    labels = normalize_name(name).split(".")
    for i, label in enumerate(labels):
        if _SENDING_LABEL.match(label):
            return ".".join(labels[i:])
    return None


def spf_targets(text: str) -> list[str]:
    """The domains an SPF record's `include:` and `redirect=` name."""
    try:
        return list(parse_spf(text).includes)
    except SPFSyntaxError:
        # A broken record still says which ESP it was meant for.
        return re.findall(r"(?:include:|redirect=)(\S+)", text, re.IGNORECASE)


def mx_host(value: str) -> str:
    """The host of one MX record value (`10 mxa.mailgun.org.`), normalized; "" when there is none."""
    parts = value.split()
    return normalize_name(parts[-1]) if parts else ""


def esp_host(rtype: str, text: str, esp_domains: Sequence[str]) -> str | None:
    """The host under one of `esp_domains` (normalized names) that one record value points at: an SPF
    record's include or redirect, an MX host, a CNAME target; None when it points at none of them."""
    kind = rtype.upper()
    if kind == "TXT":
        hosts = spf_targets(text) if looks_like_spf(text) else []
    elif kind == "MX":
        hosts = [mx_host(text)]
    elif kind == "CNAME":
        hosts = [text]
    else:
        return None
    for host in filter(None, (normalize_name(h) for h in hosts)):
        if any(is_under(host, esp) for esp in esp_domains):
            return host
    return None


def points_at_customerio(stack: Stack, esp_domains: Iterable[str] = DEFAULT_ESP_DOMAINS) -> bool:
    """Some Route53 record of the stack is Customer.io's: an SPF including, an MX pointing at or a CNAME
    to one of `esp_domains` (Customer.io's senders: Mailgun and customeriomail.com), or a record on a
    `cio<digits>` sending subdomain. Other providers' SPF and DKIM records say nothing."""
    esps = [normalize_name(d) for d in esp_domains if isinstance(d, str) and d.strip()]
    for record in stack.of_type(ROUTE53_RECORD):
        name, rtype, values = record.get("name"), record.get("type"), record.get("records")
        if isinstance(name, str) and sending_subdomain(name):
            return True
        if not isinstance(rtype, str) or not isinstance(values, list):
            continue
        for value in (v for v in values if isinstance(v, str)):
            text = "".join(txt_strings(value)) if rtype.upper() == "TXT" else value
            if esp_host(rtype, text, esps):
                return True
    return False


def secrets_referenced(stack: Stack, resource: Resource, prop: str = "secretId") -> list[Resource]:
    """The Secrets Manager secrets `prop` of `resource` names (a rotation's or version's `secretId`).

    The engine's property dependencies come first: on a first preview the secret's id and ARN are
    unknown and the dependency is the only link. A known value (hard-coded name or ARN, or any
    value on a later preview) is matched against the secrets' known names and ARNs.
    """
    linked = [r for r in stack.linked(resource, prop) if r.type == SECRET]
    if linked:
        return linked
    value = resource.get(prop)
    if not isinstance(value, str) or not value:
        return []
    return [s for s in stack.of_type(SECRET) if _names_secret(value, s)]


def physical_name(resource: Resource) -> str:
    """The resource's `name` input when known, else the name in its URN (all there is to go on)."""
    name = resource.get("name")
    return name if isinstance(name, str) and name else resource.name


def _names_secret(value: str, secret: Resource) -> bool:
    name = physical_name(secret)
    known = {v for v in (name, secret.get("arn"), secret.get("id")) if isinstance(v, str) and v}
    if value in known:
        return True
    if ":secret:" not in value:
        return False
    # A full ARN ends in the name plus `-` and six random characters; a partial ARN has neither.
    tail = value.rsplit(":secret:", 1)[1]
    return tail == name or (tail.startswith(name + "-") and len(tail) == len(name) + 7)
