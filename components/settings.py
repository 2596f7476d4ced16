"""The stack's config, read and shape-checked once: every error names the config key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pulumi

from checklist import catalog
from checklist.plan import Plan, PlanError
from checklist.plan import parse as parse_rollout_plan

from .sending_domain import DmarcArgs
from .validate import (
    InputError,
    require_choice,
    require_domain,
    require_int_range,
    require_number,
    require_spf_include,
)

# Config keys that would carry a key value; values belong in Secrets Manager (golive credentials put).
_CREDENTIAL_KEYS = re.compile(r"(site.?id|track.?(api.?)?key|app.?(api.?)?key|api.?key)$", re.IGNORECASE)
# The opt-in alternative: a value set with `pulumi config set --secret`, stored by `pulumi up` as the
# secret's first version (encrypted in the state too), and fingerprinted for the keys-distinct rule.
CREDENTIAL_CONFIG_KEYS: dict[str, str] = {"siteId": "site-id", "trackApiKey": "track-api-key",
                                          "appApiKey": "app-api-key"}


_ENVIRONMENT = re.compile(catalog.ENVIRONMENT_NAME)


@dataclass
class Settings:
    environment: str
    region: str
    domain: str
    subdomain: str
    dkim_public_key: str
    zone_id: str | None = None
    zone_name: str | None = None
    dkim_selector: str = "krs"
    dmarc: DmarcArgs = field(default_factory=DmarcArgs)
    link_tracking_host: str | None = None
    alert_emails: list[str] = field(default_factory=list)
    alert_https_endpoints: list[str] = field(default_factory=list)
    reader_principals: list[str] = field(default_factory=list)
    rotation_days: int = catalog.MAX_ROTATION_DAYS
    thresholds: dict[str, float] = field(default_factory=dict)
    credential_values: dict[str, pulumi.Output[str]] = field(default_factory=dict)  # kind -> secret value
    credential_kinds: list[str] = field(default_factory=lambda: list(catalog.CREDENTIAL_KINDS))
    mx_hosts: list[str] = field(default_factory=lambda: ["mxa.mailgun.org", "mxb.mailgun.org"])
    spf_includes: list[str] = field(default_factory=lambda: ["mailgun.org"])
    spf_all: str = "~all"
    alarm_actions_enabled: bool = True
    rollout_initial_stage: str = catalog.ROLLOUT_STAGES[0]
    # The staged rollout plan (`golive:rollout`): parsed by the same function `golive rollout` uses, so
    # the program refuses at preview any key the command would refuse later.
    rollout: Plan = field(default_factory=Plan)


def _string_list(config: pulumi.Config, key: str) -> list[str]:
    value = config.get_object(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{config.name}:{key}: expected a list of strings")
    return value


def load(config: pulumi.Config | None = None) -> Settings:
    config = config or pulumi.Config()
    ns = config.name
    plaintext = [k for k in _config_keys(ns) if _CREDENTIAL_KEYS.search(k.split(":", 1)[1])]
    for key in plaintext:
        if not pulumi.runtime.is_config_secret(key):
            raise InputError(f"{key}: a Customer.io credential in plaintext config is refused; store it with "
                             "`python -m golive credentials put` (or at least `pulumi config set --secret`)")
    zone_id, zone_name = config.get("hostedZoneId"), config.get("hostedZoneName")
    if not zone_id and not zone_name:
        raise InputError(f"{ns}:hostedZoneId or {ns}:hostedZoneName: one is required (the sending domain's zone)")
    region = config.require("customerioRegion")
    require_choice(f"{ns}:customerioRegion", region, catalog.REGIONS)
    dmarc_raw: Any = config.get_object("dmarc") or {}
    if not isinstance(dmarc_raw, dict):
        raise InputError(f"{ns}:dmarc: expected an object like {{\"policy\": \"quarantine\", \"rua\": [...]}}")
    rua = dmarc_raw.get("rua", [])
    dmarc = DmarcArgs(
        policy=str(dmarc_raw.get("policy", "quarantine")),
        rua=[rua] if isinstance(rua, str) else list(rua),
        subdomain_policy=dmarc_raw.get("sp"),
        adkim=dmarc_raw.get("adkim"),
        aspf=dmarc_raw.get("aspf"),
    )
    thresholds_raw: Any = config.get_object("thresholds") or {}
    if not isinstance(thresholds_raw, dict):
        raise InputError(f"{ns}:thresholds: expected an object of signal name to number")
    thresholds = {k: require_number(f"{ns}:thresholds.{k}", v) for k, v in thresholds_raw.items()}
    rotation_days = config.get_int("rotationDays")
    if rotation_days is None:
        rotation_days = catalog.MAX_ROTATION_DAYS
    require_int_range(f"{ns}:rotationDays", rotation_days, 1, 1000)
    link_host = config.get("linkTrackingHost")
    environment = config.require("environment")
    if not _ENVIRONMENT.match(environment):
        raise InputError(f"{ns}:environment: expected a lowercase name like production or staging, got {environment!r}")
    return Settings(
        environment=environment,
        region=region,
        domain=require_domain(f"{ns}:sendingDomain", config.require("sendingDomain")),
        subdomain=require_domain(f"{ns}:sendingSubdomain", config.require("sendingSubdomain")),
        dkim_public_key=config.require("dkimPublicKey"),
        zone_id=zone_id,
        zone_name=zone_name,
        dkim_selector=config.get("dkimSelector") or "krs",
        dmarc=dmarc,
        link_tracking_host=require_domain(f"{ns}:linkTrackingHost", link_host) if link_host else None,
        alert_emails=_string_list(config, "alertEmails"),
        alert_https_endpoints=_string_list(config, "alertHttpsEndpoints"),
        reader_principals=_string_list(config, "readerPrincipals"),
        rotation_days=rotation_days,
        thresholds=thresholds,
        credential_values={kind: value for key, kind in CREDENTIAL_CONFIG_KEYS.items()
                           if (value := config.get_secret(key)) is not None},
        **_optional(config),
    )


# SPF's `all` term with each qualifier: a shape. Which qualifiers are acceptable is the pack's call.
_SPF_ALL = ("+all", "?all", "~all", "-all", "all")


def _optional(config: pulumi.Config) -> dict[str, Any]:
    """Keys with working defaults; what they may be set to beyond their shape is the pack's to judge."""
    ns, found = config.name, {}
    kinds = config.get_object("credentialKinds")
    if kinds is not None:
        found["credential_kinds"] = _string_list(config, "credentialKinds")
        for kind in found["credential_kinds"]:
            require_choice(f"{ns}:credentialKinds", kind, catalog.CREDENTIAL_KINDS)
    if config.get_object("mxHosts") is not None:
        found["mx_hosts"] = [require_domain(f"{ns}:mxHosts", v) for v in _string_list(config, "mxHosts")]
    if config.get_object("spfIncludes") is not None:
        found["spf_includes"] = [require_spf_include(f"{ns}:spfIncludes", v)
                                 for v in _string_list(config, "spfIncludes")]
    spf_all = config.get("spfAll")
    if spf_all is not None:
        require_choice(f"{ns}:spfAll", spf_all, _SPF_ALL)
        found["spf_all"] = spf_all
    enabled = config.get("alarmActionsEnabled")
    if enabled is not None:
        found["alarm_actions_enabled"] = _boolean(f"{ns}:alarmActionsEnabled", enabled)
    stage = config.get("rolloutInitialStage")
    if stage is not None:
        if not stage.strip():
            raise InputError(f"{ns}:rolloutInitialStage: expected a rollout stage such as 0, got an empty value")
        found["rollout_initial_stage"] = stage.strip()
    try:
        found["rollout"] = parse_rollout_plan(config.get_object("rollout"), f"{ns}:rollout")
    except PlanError as err:
        raise InputError(str(err)) from None
    return found


def _boolean(key: str, text: str) -> bool:
    if text not in ("true", "false"):
        raise InputError(f"{key}: expected true or false, got {text!r}")
    return text == "true"


def _config_keys(namespace: str) -> list[str]:
    from pulumi.runtime import config as runtime_config

    return [k for k in runtime_config.CONFIG.get() if k.startswith(namespace + ":")]
