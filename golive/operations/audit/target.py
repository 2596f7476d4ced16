"""What the audit expects to find, from the stack's config, its outputs and the command line.

The stack config is read as `pulumi up` reads it (Pulumi.<stack>.yaml, `golive:` keys, README
"Stack config"); the outputs (`pulumi stack output --json`, via --outputs) name what `pulumi up`
made. Without outputs the audit falls back on the names the components give: secrets
`customerio/<environment>/<kind>`, the flag `/customerio/<environment>/rollout`, and alarms found
by their `customerio:signal` tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from checklist import catalog
from golive import loading
from golive.clients.aws import Identity
from golive.errors import GoliveError


class TargetError(GoliveError):
    """The stack config or outputs do not say what to audit; the message names the key or file."""


@dataclass(frozen=True)
class Endpoints:
    """Where the audit talks to; every default is the real service."""

    aws_url: str | None = None
    aws_region: str | None = None
    dns_server: str | None = None  # an IP address (--dns-server's host name resolved); None: the system's resolver
    dns_port: int = 53
    track_url: str | None = None  # None: the region's Track API host
    api_url: str | None = None  # None: the region's App API host
    ca_bundle: str | None = None  # CA certificates trusted for Customer.io besides the default store
    timeout: float = 5.0  # seconds for any one network call
    identity: Identity = field(default_factory=Identity)  # the chain's, a profile's or an assumed role's


@dataclass(frozen=True)
class AuditTarget:
    stack: str
    environment: str
    production: bool
    region: str  # "us" | "eu"
    domain: str  # the organizational domain (DMARC lives at _dmarc.<domain>)
    subdomain: str  # the cio<digits> sending subdomain (MX, SPF, DKIM)
    dkim_selector: str
    dkim_public_key: str | None
    dmarc_policy: str | None
    dmarc_rua: tuple[str, ...]
    link_tracking_host: str | None
    thresholds: dict[str, float]  # the stack's overrides; the checklist's limits come from catalog.SIGNALS
    secret_ids: dict[str, str]  # credential kind -> secret ARN or name
    compare_environments: tuple[str, ...]  # non-production environments whose keys must differ
    alert_topic_arn: str | None
    rollout_parameter: str
    postal_address: str | None
    write_test: bool = False
    endpoints: Endpoints = field(default_factory=Endpoints)
    skipped_comparisons: tuple[str, ...] = ()  # environments --no-staging took out of compare_environments
    # The command line's options that locate the stack (golive.suggest.given), for the fixes it prints.
    options: dict[str, str | list[str]] = field(default_factory=dict)

    def secret_name(self, environment: str, kind: str) -> str:
        return catalog.CREDENTIAL_SECRET_NAME.format(environment=environment, kind=kind)

    def golive(self, *words: str) -> str:
        """A golive command line for this stack, with the options that found it here (golive/suggest.py)."""
        from golive import suggest

        accepts = {"credentials": suggest.CREDENTIALS, "rollout": suggest.ROLLOUT}[words[0]]
        return suggest.golive(words, {"stack": self.stack, **self.options}, accepts)

    def credentials(self, action: str, kind: str) -> str:
        """`golive credentials ACTION customerio/<environment>/<kind> --stack ...`: the secret by its name
        (what `credentials` writes to) and the stack, which gives the region and the comparisons."""
        return self.golive("credentials", action, self.secret_name(self.environment, kind))

    def aws(self, *words: str) -> str:
        """An `aws` CLI command line aimed at the region and endpoint the audit used."""
        from golive import suggest

        return suggest.aws(words, region=self.endpoints.aws_region, endpoint=self.endpoints.aws_url)


def _value(values: dict[str, str], key: str) -> str | None:
    return values.get(f"golive:{key}")


def _json(values: dict[str, str], key: str, where: str, expected: type) -> Any:
    raw = _value(values, key)
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        raise TargetError(f"{where}: golive:{key}: expected {expected.__name__}, got {raw!r}") from None
    if not isinstance(parsed, expected):
        raise TargetError(f"{where}: golive:{key}: expected {expected.__name__}")
    return parsed


def load_outputs(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    loaded = loading.load_json(path, label=f"--outputs {path}", error=TargetError)
    if not isinstance(loaded, dict):
        raise TargetError(f"--outputs {path}: expected the object `pulumi stack output --json` prints")
    return loaded


# The environment a production stack's keys are compared with unless --compare-with says otherwise.
STAGING = "staging"


def build(stack: str, values: dict[str, str], where: str, *, outputs: dict[str, Any] | None = None,
          region: str | None = None, compare_with: list[str] | None = None, write_test: bool = False,
          endpoints: Endpoints | None = None, no_staging: bool = False,
          options: dict[str, str | list[str]] | None = None) -> AuditTarget:
    """`values` is the stack config as golive.preview.project.load_stack_config gives it ("golive:key" -> text).
    `no_staging`: staging's keys are out of reach (another account); the comparison with it is skipped."""
    outputs = outputs or {}

    def required(key: str) -> str:
        value = _value(values, key)
        if not value:
            raise TargetError(f"{where}: golive:{key} is required to audit the stack")
        return value

    environment = _value(values, "environment") or stack
    region = region or outputs.get("region") or required("customerioRegion")
    if region not in catalog.REGIONS:
        raise TargetError(f"{where}: golive:customerioRegion: expected one of {', '.join(catalog.REGIONS)}, "
                          f"got {region!r}")
    dmarc = _json(values, "dmarc", where, dict) or {}
    rua = dmarc.get("rua", [])
    thresholds = _json(values, "thresholds", where, dict) or {}
    for signal, limit in thresholds.items():
        if signal not in catalog.SIGNALS or isinstance(limit, bool) or not isinstance(limit, (int, float)):
            raise TargetError(f"{where}: golive:thresholds.{signal}: expected a known signal and a number")
    arns = outputs.get("secretArns") or {}
    if not isinstance(arns, dict):
        raise TargetError("--outputs: secretArns: expected an object of credential kind to ARN")
    secret_ids = {kind: str(arns.get(kind) or catalog.CREDENTIAL_SECRET_NAME.format(environment=environment, kind=kind))
                  for kind in catalog.CREDENTIAL_KINDS}
    production = _is_production(stack) or _is_production(environment)
    skipped: tuple[str, ...] = ()
    if no_staging and compare_with is not None and STAGING in compare_with:
        raise TargetError(f"--no-staging and --compare-with {STAGING} contradict each other: give one of them")
    if compare_with is None:
        compare_with = [STAGING] if production and environment != STAGING else []
        if no_staging and compare_with:
            compare_with, skipped = [], (STAGING,)
    return AuditTarget(
        stack=stack,
        environment=environment,
        production=production,
        region=region,
        domain=required("sendingDomain").rstrip(".").lower(),
        subdomain=(outputs.get("sendingSubdomain") or required("sendingSubdomain")).rstrip(".").lower(),
        dkim_selector=_value(values, "dkimSelector") or "krs",
        dkim_public_key=_value(values, "dkimPublicKey"),
        dmarc_policy=dmarc.get("policy"),
        dmarc_rua=tuple([rua] if isinstance(rua, str) else rua),
        link_tracking_host=(_value(values, "linkTrackingHost") or "").rstrip(".").lower() or None,
        thresholds={k: float(v) for k, v in thresholds.items()},
        secret_ids=secret_ids,
        compare_environments=tuple(compare_with),
        alert_topic_arn=outputs.get("alertTopicArn"),
        rollout_parameter=(outputs.get("rolloutParameter")
                           or catalog.ROLLOUT_PARAMETER_NAME.format(environment=environment)),
        postal_address=_value(values, "postalAddress"),
        write_test=write_test,
        endpoints=endpoints or Endpoints(),
        skipped_comparisons=skipped,
        options=dict(options or {}),
    )


def _is_production(name: str) -> bool:
    from checklist.recognize import is_production  # the pack's own patterns, as the pack applies them

    return is_production(name)
