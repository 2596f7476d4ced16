"""The production checklist as data: one entry per policy, and the thresholds they enforce.

This module is the single home of every number and name the checklist fixes. Rules read their
thresholds from here (through the policy's config, whose defaults come from here); the components
and the `golive` tool read the same values instead of restating them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["advisory", "mandatory"]
# How a policy property can be set looser than the checklist: a number above, or below, the checklist's;
# per signal, in the direction the signal alarms (`thresholds`); a list leaving out one of its defaults.
Looser = Literal["above", "below", "signals", "subset"]
Severity = Literal["low", "medium", "high", "critical"]
Direction = Literal["above", "below"]

CHECKLIST = "Customer.io Production Checklist"

# --- §1 Credentials -----------------------------------------------------------------------------

CREDENTIAL_KINDS: tuple[str, ...] = ("site-id", "track-api-key", "app-api-key")
CREDENTIAL_TAG = "customerio:credential"
REGION_TAG = "customerio:region"
REGIONS: tuple[str, ...] = ("us", "eu")
MAX_ROTATION_DAYS = 90

# Hosts whose presence in a resource's inputs says which Customer.io region it talks to.
REGION_HOSTS: dict[str, str] = {
    "track.customer.io": "us",
    "api.customer.io": "us",
    "track-eu.customer.io": "eu",
    "api-eu.customer.io": "eu",
    "e.customeriomail.com": "us",
    "e-eu.customeriomail.com": "eu",
}
LINK_TRACKING_TARGETS: dict[str, str] = {"us": "e.customeriomail.com", "eu": "e-eu.customeriomail.com"}


def fingerprint(value: str) -> str:
    """The comparable, non-reversible form of a credential: `sha256:` + 16 hex digits.

    Sixteen hex digits (64 bits) make accidental equality of two different keys negligible
    while revealing nothing usable about the key itself.
    """
    return "sha256:" + hashlib.sha256(value.strip().encode("utf-8")).hexdigest()[:16]


# --- §3 Email deliverability --------------------------------------------------------------------

SPF_MAX_DNS_LOOKUPS = 10  # RFC 7208 §4.6.4
TXT_MAX_STRING = 255  # RFC 1035 character-string
DKIM_MIN_KEY_BITS = 1024  # RFC 8301 §3.2
DEFAULT_ESP_DOMAINS: tuple[str, ...] = ("mailgun.org", "customeriomail.com")
# Customer.io puts a sending domain's records on an account subdomain, `cio<digits>.example.com`: a label
# of this form marks a name as (under) a Customer.io sending domain.
SENDING_SUBDOMAIN_LABEL = r"^cio[0-9]+$"

# --- §5 Monitoring ------------------------------------------------------------------------------

SIGNAL_TAG = "customerio:signal"
UNIT_TAG = "customerio:unit"


@dataclass(frozen=True)
class Signal:
    name: str
    threshold: float
    direction: Direction  # "above": alarm when the metric rises above the threshold
    unit: str
    meaning: str
    # The longest the signal may breach before its alarm fires: the alarm's period times the datapoints
    # it needs (datapointsToAlarm, else evaluationPeriods). Fixed here, not in the pack config.
    max_minutes_to_alarm: int


# Why these times to alarm. The plan moves a stage every hour (ROLLOUT_DWELL_MINUTES) and rolls back on
# the error rate from 10% on and the bounce rate from 50% on: an alarm that fires after the next stage
# began rolls back too late. API health (errors, p99 latency) and operational health (queue, webhooks)
# fail calls and pile up events while they breach: 15 minutes, three 5-minute periods. Bounces come back
# minutes after the send: 30 minutes, half of the 50% stage. Complaints and delivery receipts trail the
# send by tens of minutes and a short window on few messages measures noise: an hour.
SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal("api_error_rate", 0.01, "above", "ratio", "more than 1% of API calls fail", 15),
        Signal("api_p99_latency_ms", 5000, "above", "milliseconds", "p99 API latency over 5 seconds", 15),
        Signal("bounce_rate", 0.05, "above", "ratio", "bounce rate over 5%", 30),
        Signal("complaint_rate", 0.001, "above", "ratio", "spam complaints over 0.1%", 60),
        Signal("delivery_rate", 0.95, "below", "ratio", "delivery rate under 95%", 60),
        Signal("queue_depth", 10000, "above", "count", "more than 10K events pending", 15),
        Signal("webhook_error_rate", 0.05, "above", "ratio", "more than 5% webhook processing failures", 15),
    )
}

# The metric contract between the alarms (components/alarms.py) and what applications publish
# (golive.metrics): namespace, the one dimension, and per signal the counts of a rate (numerator,
# denominator; CloudWatch Sum, unit Count) or the gauge (metric, statistic, unit).
METRIC_NAMESPACE = "Customer.io/Integration"
METRIC_DIMENSION = "Environment"
# An environment's name (the stack's golive:environment): the dimension's value and the <env> of the
# credential secrets' names, customerio/<env>/<kind>. The components, golive.metrics and the rollout
# plan all hold names to it.
ENVIRONMENT_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"
RATE_METRICS: dict[str, tuple[str, str]] = {
    "api_error_rate": ("ApiErrors", "ApiRequests"),
    "bounce_rate": ("EmailBounced", "EmailSent"),
    "complaint_rate": ("EmailSpammed", "EmailDelivered"),
    "delivery_rate": ("EmailDelivered", "EmailSent"),
    "webhook_error_rate": ("WebhookErrors", "WebhookReceived"),
}
GAUGE_METRICS: dict[str, tuple[str, str, str]] = {
    "api_p99_latency_ms": ("ApiLatency", "p99", "Milliseconds"),
    "queue_depth": ("QueueDepth", "Maximum", "Count"),
}
# The statistic of each count a rate divides. An alarm on one metric that already is the ratio reads
# RATIO_STATISTIC (or the extreme in the signal's direction: Maximum above, Minimum below); a gauge's
# alarm reads GAUGE_METRICS' statistic or a higher one (a higher percentile, or Maximum).
COUNT_STATISTIC = "Sum"
RATIO_STATISTIC = "Average"

# --- §7 Staged rollout --------------------------------------------------------------------------

ROLLOUT_FLAG_TAG = "customerio:rollout-flag"
# The flag: the RolloutFlag component's SSM parameter, which `golive rollout` and the audit find by it.
ROLLOUT_PARAMETER_NAME = "/customerio/{environment}/rollout"
ROLLOUT_STAGES: tuple[str, ...] = ("0", "internal", "10", "50", "100")
# The plan's clock (internal at T-1h, 10% at T-0, 50% at T+1h, 100% at T+2h): the least time, in
# minutes, the flag stays at a stage before it may move on. Leaving 0 waits on the gates instead.
ROLLOUT_DWELL_MINUTES: dict[str, float] = {"0": 0, "internal": 60, "10": 60, "50": 60}
# The plan's Rollback Trigger column: at each stage, the signals whose alarm sets the flag back to 0.
# The internal stage rolls back on error reports, which people make, not alarms.
ROLLOUT_TRIGGERS: dict[str, tuple[str, ...]] = {
    "internal": (),
    "10": ("api_error_rate",),
    "50": ("api_error_rate", "bounce_rate"),
    "100": ("api_error_rate", "bounce_rate"),
}
# Pre-launch gates: T-24h final staging test pass, T-12h production smoke tests.
ROLLOUT_GATES: tuple[str, ...] = ("staging", "smoke")
ROLLOUT_STAGING_ENVIRONMENT = "staging"
ROLLBACK_STEPS: tuple[str, ...] = (
    "Set feature flag to 0% (immediate - no deploy needed)",
    "Pause all active campaigns in Customer.io dashboard",
    "Investigate logs and error reports",
    "Fix issue, test in staging",
    "Resume staged rollout from 10%",
)

# --- Stack recognition --------------------------------------------------------------------------

# What production is called, as a stack name or an environment name: alone, or as one part of a name
# cut by the separators stack names allow (`prd`, `eu-prod`, `live_2`, `prod.us-east-1`). `main` is not
# among them: it names a branch as often as an environment.
PRODUCTION_NAMES: tuple[str, ...] = ("prod", "production", "prd", "live")
DEFAULT_PRODUCTION_PATTERNS: tuple[str, ...] = (
    *PRODUCTION_NAMES,
    *(f"{n}[-_.]*" for n in PRODUCTION_NAMES),
    *(f"*[-_.]{n}" for n in PRODUCTION_NAMES),
    *(f"*[-_.]{n}[-_.]*" for n in PRODUCTION_NAMES),
)
# The last segment of an org/project/stack name is the stack; patterns match it case-insensitively.
# The stack config key, and the tag keys (on the stack, and on credential secrets), naming the
# environment; keys compare case-insensitively, values are judged by the production patterns.
ENVIRONMENT_CONFIG_KEY = "golive:environment"
ENVIRONMENT_TAG_KEYS: tuple[str, ...] = ("golive:environment", "customerio:environment", "environment", "env")
# The credential secrets' names carry their environment: customerio/<environment>/<kind>, <environment>
# an ENVIRONMENT_NAME.
CREDENTIAL_SECRET_NAME = "customerio/{environment}/{kind}"
# How `golive check` tells the pack which file its config came from (the engine does not say).
PACK_CONFIG_FILE_ENV = "GOLIVE_POLICY_PACK_CONFIG"


# The largest threshold a signal's unit can sensibly hold: every number in the config is bounded, so that
# no value is a 4,000-digit integer, which a protobuf Struct (a double) cannot carry to the pack.
_SIGNAL_MAXIMUM = {"ratio": 1, "milliseconds": 86_400_000, "count": 1_000_000_000}


# --- The policies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicySpec:
    """What a reviewer needs to know about one policy; the rule function lives in `rules/`."""

    name: str
    section: str
    level: Level  # in a production stack; every finding is advisory elsewhere
    severity: Severity
    description: str
    rationale: str
    remediation: str
    config: dict[str, dict[str, Any]] = field(default_factory=dict)  # JSON-schema properties
    # The properties whose default is the checklist's floor, and which way a value is looser than it
    # (pack-config-not-looser holds a production stack's config to them).
    looser: dict[str, Looser] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}

    def schema(self) -> dict[str, dict[str, Any]]:
        """The config schema the pack declares: the policy's own properties and the shared ones."""
        return {
            **self.config,
            "productionStackPatterns": PRODUCTION_PATTERNS_SCHEMA,
            "productionStacks": PRODUCTION_STACKS_SCHEMA,
            "waivers": WAIVERS_SCHEMA,
        }


_STRING_LIST = {"type": "array", "items": {"type": "string"}}
PRODUCTION_PATTERNS_SCHEMA = {
    **_STRING_LIST,
    "default": list(DEFAULT_PRODUCTION_PATTERNS),
    "description": "Stack-name patterns (fnmatch, case-insensitive) that make a stack production.",
}
PRODUCTION_STACKS_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "minLength": 1},
    "default": [],
    "description": "The production stacks, by name (`prd`, or `org/project/prd`), case-insensitive. When any "
    "policy's config sets it, it is the whole list: a stack on it is production, one not on it is not, "
    "whatever its name, config or tags say.",
}
SENDING_DOMAINS_SCHEMA = {
    **_STRING_LIST,
    "default": [],
    "description": "Sending domains to require even when no record in the stack names them.",
}
ESP_DOMAINS_SCHEMA = {
    **_STRING_LIST,
    "default": list(DEFAULT_ESP_DOMAINS),
    "description": "Domains of Customer.io's mail senders; an SPF include or MX host under one of "
    "them marks the record's name as a sending domain.",
}

# A waiver accepts a policy's findings for a while; checklist/waivers.py applies them. The schema catches
# what the engine can check when it reads the config (shape, required keys, a typo such as `resource`,
# which would otherwise widen the waiver to every resource); dates relative to today are the pack's.
WAIVER_MAX_DAYS = 90
_WAIVER_PATTERNS = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
WAIVERS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "default": [],
    "description": "Findings of this policy accepted until a date: each with a reason, an owner and an "
    f"expiry (YYYY-MM-DD, valid through that day in UTC, at most {WAIVER_MAX_DAYS} days ahead), for stacks "
    "matching `stacks` (default all) and resources whose URN, type or name matches `resources` (default all).",
    "items": {
        "type": "object",
        "required": ["reason", "owner", "expires"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
            "reason": {"type": "string", "pattern": "\\S"},
            # The owner ends the `[waived until … by OWNER: REASON]` marker, so it cannot hold a colon.
            "owner": {"type": "string", "pattern": "^[^:\\r\\n]*[^:\\s][^:\\r\\n]*$"},
            "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            "stacks": _WAIVER_PATTERNS,
            "resources": _WAIVER_PATTERNS,
        },
    },
}

# The policy that holds the pack config itself to the checklist in production. The pack runs it at
# its catalog level whatever the config says, so lowering or disabling it is one more loosening it reports.
PACK_CONFIG_POLICY = "pack-config-not-looser"

POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec(
        name="customerio-credentials-in-secrets-manager",
        section="§1 Credentials & Configuration: secrets storage",
        level="mandatory",
        severity="critical",
        description="Customer.io credentials live in AWS Secrets Manager, never in plaintext configuration.",
        rationale="A key in a Lambda environment, a container definition, a plain SSM parameter, user "
        "data or plaintext stack config is readable by anyone who can read that configuration and "
        "cannot be rotated in one place.",
        remediation="Store the value in the Secrets Manager secret for that credential and pass the "
        "secret's ARN or name instead (for ECS, a `secrets` entry with `valueFrom`); for stack config "
        "use `pulumi config set --secret`.",
        config={
            "credentialNamePatterns": {
                **_STRING_LIST,
                "default": [],
                "description": "Extra regular expressions for variable or key names that hold a credential.",
            }
        },
    ),
    PolicySpec(
        name="customerio-secret-rotation",
        section="§1 Credentials & Configuration: key rotation schedule (90-day cycle)",
        level="mandatory",
        severity="high",
        description="Every Customer.io credential secret rotates at least every 90 days through a rotation function.",
        rationale="The checklist fixes a 90-day rotation cycle; a schedule without a function, or a "
        "cron that leaves a longer gap, lets a leaked key stay valid.",
        remediation="Attach an `aws.secretsmanager.SecretRotation` with a `rotationLambdaArn` and "
        "`rotationRules.automaticallyAfterDays` of 90 or less (or a rate/cron expression whose "
        "longest gap is at most 90 days).",
        config={
            "maxDays": {
                "type": "number",
                "default": MAX_ROTATION_DAYS,
                "minimum": 1,
                "maximum": 3650,
                "description": "Longest allowed time between rotations, in days.",
            }
        },
        looser={"maxDays": "above"},
    ),
    PolicySpec(
        name="customerio-app-api-key",
        section="§1 Credentials & Configuration: production App API key",
        level="mandatory",
        severity="high",
        description="A production Customer.io stack holds an App API key secret for transactional messages.",
        rationale="Transactional messages and the post-deploy audit need the App API key; without it "
        "the first password-reset e-mail fails in production.",
        remediation="Add a Secrets Manager secret tagged `customerio:credential=app-api-key` "
        "(the CustomerIoCredentials component creates one).",
    ),
    PolicySpec(
        name="customerio-track-api-credentials",
        section="§1 Credentials & Configuration: production Site ID and Track API key",
        level="mandatory",
        severity="high",
        description="A production Customer.io stack holds a Site ID secret and a Track API key secret.",
        rationale="Every Track API call (identify, track, the smoke test) authenticates with the Site ID "
        "and Track API key as a pair; without either, the integration sends nothing in production.",
        remediation="Add Secrets Manager secrets tagged `customerio:credential=site-id` and "
        "`customerio:credential=track-api-key` (the CustomerIoCredentials component creates both unless "
        "`golive:credentialKinds` leaves them out).",
    ),
    PolicySpec(
        name="customerio-region",
        section="§1 Credentials & Configuration: region setting",
        level="mandatory",
        severity="high",
        description="Credentials, API hosts and link tracking all point at one Customer.io region (US or EU).",
        rationale="A US key against an EU host fails every call; EU data sent to US hosts breaks the "
        "data-residency promise the region was chosen for.",
        remediation="Use the region's hosts everywhere (`track`/`api` for US, `track-eu`/`api-eu` for "
        "EU), tag each credential secret `customerio:region`, and point link tracking at the region's target.",
        config={
            "region": {
                "type": "string",
                "enum": ["", *REGIONS],
                "default": "",
                "description": "The account's region; empty means only require agreement.",
            }
        },
    ),
    PolicySpec(
        name="customerio-production-keys-distinct",
        section="§1 Credentials & Configuration: production keys differ from dev/staging",
        level="mandatory",
        severity="critical",
        description="Production Customer.io credentials differ from every non-production one, by fingerprint.",
        rationale="A staging key in production sends test traffic to real customers, and a production "
        "key in staging sends real customers' data to test workflows.",
        remediation="Create separate keys in the production workspace and store them in the "
        "production secrets; refresh the pack's `nonProductionFingerprints` with "
        "`python -m golive fingerprints`.",
        config={
            "nonProductionFingerprints": {
                "type": "object",
                "default": {},
                # Closed: a kind mistyped (`track_api_key`) would otherwise be compared with nothing.
                "properties": {kind: _STRING_LIST for kind in (*CREDENTIAL_KINDS, "any")},
                "additionalProperties": False,
                "description": "Credential kind (or `any`) to the `sha256:` fingerprints of "
                "non-production values.",
            }
        },
    ),
    PolicySpec(
        name="email-spf-record",
        section="§3 Email Deliverability: SPF record published",
        level="mandatory",
        severity="high",
        description="Each sending domain publishes exactly one valid SPF record within RFC 7208's limits.",
        rationale="Without one valid SPF record receivers fail SPF for every message; `+all` "
        "authorizes the whole internet to send as the domain.",
        remediation="Publish one TXT `v=spf1 include:mailgun.org ~all` at the sending subdomain "
        "(merge further includes into it), keep DNS-querying terms at 10 or fewer, and split any "
        "string over 255 characters.",
        config={"sendingDomains": SENDING_DOMAINS_SCHEMA, "espDomains": ESP_DOMAINS_SCHEMA},
        looser={"espDomains": "subset"},
    ),
    PolicySpec(
        name="email-dkim-record",
        section="§3 Email Deliverability: DKIM record published",
        level="mandatory",
        severity="high",
        description="Each sending domain publishes a DKIM key of at least 1024 bits at `<selector>._domainkey`.",
        rationale="Gmail and Yahoo reject bulk mail without DKIM; keys under 1024 bits must not be "
        "used (RFC 8301) and a revoked key fails every signature.",
        remediation="Publish the key Customer.io shows as one TXT value `k=rsa; p=<key>` at "
        "`<selector>._domainkey.<sending domain>`, split into 255-character strings inside one value.",
        config={
            "sendingDomains": SENDING_DOMAINS_SCHEMA,
            "espDomains": ESP_DOMAINS_SCHEMA,
            "minKeyBits": {"type": "integer", "default": DKIM_MIN_KEY_BITS, "minimum": 512, "maximum": 16384},
        },
        looser={"espDomains": "subset", "minKeyBits": "below"},
    ),
    PolicySpec(
        name="email-dmarc-record",
        section="§3 Email Deliverability: DMARC policy set",
        level="advisory",
        severity="medium",
        description="A valid DMARC record covers each sending domain, at the domain or its organizational domain.",
        rationale="Receivers use DMARC to decide what to do with mail that fails SPF and DKIM; bulk "
        "senders must publish one, and `p=none` only monitors.",
        remediation="Publish TXT `v=DMARC1; p=quarantine; rua=mailto:…` at `_dmarc.<organizational domain>`.",
        config={"sendingDomains": SENDING_DOMAINS_SCHEMA, "espDomains": ESP_DOMAINS_SCHEMA},
        looser={"espDomains": "subset"},
    ),
    PolicySpec(
        name="email-return-path",
        section="§3 Email Deliverability: Return-Path configured",
        level="advisory",
        severity="medium",
        description="Each sending domain publishes the MX records Customer.io uses as its return path.",
        rationale="Bounces come back through the sending subdomain's MX; without it bounces are lost "
        "and SPF alignment on the return path fails.",
        remediation="Publish the two MX records (priority 10) Customer.io shows for the sending subdomain.",
        config={"sendingDomains": SENDING_DOMAINS_SCHEMA, "espDomains": ESP_DOMAINS_SCHEMA},
        looser={"espDomains": "subset"},
    ),
    PolicySpec(
        name="monitoring-alarm-thresholds",
        section="§5 Monitoring & Alerting: alert thresholds",
        level="mandatory",
        severity="high",
        description="Each of the seven checklist signals has an alarm at the checklist's threshold or stricter, "
        "on the signal's statistic, firing within the signal's time to alarm.",
        rationale="An alarm that is missing, looser than the checklist, compares the wrong way, reads the "
        "wrong statistic (a p99 alarm on Minimum) or needs hours of breach before it fires stays silent "
        "through the incident it exists for.",
        remediation="Create one CloudWatch alarm per signal, tagged `customerio:signal=<name>`, with "
        "the checklist threshold (or stricter), the comparison in the signal's direction, the signal's "
        "statistic (a rate: Sum of each count in metric math; latency: p99; queue depth: Maximum) and "
        "period × datapointsToAlarm within the signal's time to alarm (15 minutes for API errors and latency).",
        config={
            "thresholds": {
                "type": "object",
                "default": {name: s.threshold for name, s in SIGNALS.items()},
                "properties": {name: {"type": "number", "minimum": 0, "maximum": _SIGNAL_MAXIMUM[s.unit]}
                               for name, s in SIGNALS.items()},
                "additionalProperties": False,
                "description": "Per-signal thresholds in force; the defaults are the checklist's.",
            }
        },
        looser={"thresholds": "signals"},
    ),
    PolicySpec(
        name="monitoring-alarm-actions",
        section="§5 Monitoring & Alerting: alerts reach someone",
        level="mandatory",
        severity="high",
        description="Every Customer.io alarm notifies someone when it fires.",
        rationale="An alarm without actions, or with actions disabled, changes state where nobody looks.",
        remediation="Give the alarm `alarmActions` (an SNS topic with at least one subscription in the stack) "
        "and leave `actionsEnabled` on.",
    ),
    PolicySpec(
        name="rollout-flag-stage",
        section="§7 Staged Rollout Plan: feature flag",
        level="mandatory",
        severity="high",
        description="The rollout flag is created at stage 0, holds a plan stage (0, internal, 10, 50, 100) "
        "and deploys never reset it.",
        rationale="A value outside the plan sends an unplanned share of traffic; a flag created past 0 skips "
        "the gates; a deploy that resets a live flag undoes a rollout or a rollback.",
        remediation="Create the flag at `0` and add `ignore_changes=[\"value\"]` (or `insecureValue`) "
        "so that only `golive rollout` moves it.",
    ),
    PolicySpec(
        name=PACK_CONFIG_POLICY,
        section="All sections: the checklist's thresholds and levels are the floor",
        level="mandatory",
        severity="high",
        description="In a production stack the pack config is no looser than the checklist: no mandatory "
        "policy lowered or disabled, no threshold relaxed.",
        rationale="A `--policy-pack-config` that raises maxDays, lowers minKeyBits, relaxes an alarm threshold "
        "or turns a mandatory policy off lets a production stack through that the checklist would block, "
        "and nothing in the report says so.",
        remediation="Drop the setting or make it stricter (stricter is always allowed). To accept a deviation "
        f"for a while, waive this policy's finding: a waiver under `{PACK_CONFIG_POLICY}` with a reason, "
        "an owner and an expiry.",
    ),
)

POLICY_BY_NAME: dict[str, PolicySpec] = {p.name: p for p in POLICIES}
