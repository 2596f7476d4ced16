"""How serious an audit finding is: the level of its checklist item in the catalog, as `golive check` has it.

Every line of the audit is held to the level its finding has in the pack (policies/checklist/pack.py):
- in a production stack, a line of a catalog policy (policies/checklist/catalog.py POLICIES) takes that
  policy's level: a finding of an advisory policy is a WARN, never a FAIL (a missing DMARC record or
  return-path MX: the checklist says Recommended);
- in any other stack every finding is advisory, as the pack reports them there: a FAIL becomes a WARN.
Levels only go down: a check that found advice (a WARN) keeps it whatever its policy's level. A
check that could not look (a timeout, a refused query) is bounded the same way, since what it could
not see is at worst a finding of its policy. A lowered line says why at the end of its detail.

Lines with no catalog policy keep their own status in production. Each has a checklist item that is
Required, which the audit's FAIL agrees with:
- `customerio-can-spam`, `customerio-postal-address`: §3 unsubscribe link and physical address,
  "Required (CAN-SPAM)";
- `route53 match`: the hosted zone could not be compared at all (§3 sending domain verified, Required).
`golive smoke` is not bounded: it is the checklist's §6 script, which fails on any failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from checklist import catalog
from golive.operations.audit.result import AuditResult, Status
from golive.operations.audit.target import AuditTarget

# Line name (or, for names that carry a credential kind, signal or environment, its fixed part) -> policy.
POLICY_BY_LINE: dict[str, str] = {
    "alarms": "monitoring-alarm-thresholds",
    "alert topic": "monitoring-alarm-actions",
    "rollout flag": "rollout-flag-stage",
    "spf": "email-spf-record",
    "route53 spf": "email-spf-record",
    "dkim": "email-dkim-record",
    "route53 dkim": "email-dkim-record",
    "return-path mx": "email-return-path",
    "route53 mx": "email-return-path",
    "dmarc": "email-dmarc-record",
    "route53 dmarc": "email-dmarc-record",
    # Link tracking must point at the account's region's host: the region item.
    "link tracking": "customerio-region",
    "route53 link tracking": "customerio-region",
    # The Track and App API probes prove the production keys the §1 items ask for.
    "customerio-track-api": "customerio-track-api-credentials",
    "customerio-write-test": "customerio-track-api-credentials",
    "customerio-app-api": "customerio-app-api-key",
}
# Lines with no catalog policy (module docstring): their own status stands.
OWN_LEVEL: frozenset[str] = frozenset({"customerio-can-spam", "customerio-postal-address", "route53 match"})
_PER_KIND = {"rotation schedule": "customerio-secret-rotation", "key age": "customerio-secret-rotation",
             "rotation progress": "customerio-secret-rotation"}
_SECRET = {"site-id": "customerio-track-api-credentials", "track-api-key": "customerio-track-api-credentials",
           "app-api-key": "customerio-app-api-key"}


def policy_for(name: str) -> str | None:
    """The catalog policy of an audit line, by the line's name; None for a line of OWN_LEVEL (or unknown)."""
    if name in POLICY_BY_LINE:
        return POLICY_BY_LINE[name]
    if name.startswith("alarm "):
        return "monitoring-alarm-thresholds"
    kind, _, rest = name.partition(" ")
    if kind in catalog.CREDENTIAL_KINDS:
        if rest.startswith("differs from "):
            return "customerio-production-keys-distinct"
        if rest == "secret":
            return _SECRET[kind]
        return _PER_KIND.get(rest)
    return None


def bound(target: AuditTarget, results: Sequence[AuditResult]) -> list[AuditResult]:
    """The results, each naming its policy, with a FAIL lowered to WARN where its finding is advice here."""
    out = []
    for result in results:
        policy = policy_for(result.name)
        if policy is not None:
            result = replace(result, policy=policy)
        if result.status is Status.FAIL:
            if not target.production:
                result = replace(result, status=Status.WARN,
                                 detail=f"{result.detail} (advisory: {target.stack} is not a production stack)")
            elif policy is not None and catalog.POLICY_BY_NAME[policy].level == "advisory":
                result = replace(result, status=Status.WARN,
                                 detail=f"{result.detail} (advisory: the catalog's level for {policy})")
        out.append(result)
    return out
