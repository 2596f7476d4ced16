"""`json`: the streaming engine's `policyEvent` field names (which `pulumi preview --json` leaves out).

Keys of golive's own appear on an event only where they apply: `waived` ({reason, owner, expires})
on a finding a waiver turned into advice, `waiverNotice` ({waiver, status}) on what the pack says
about a waiver itself (expired, stale, not applied), `config` ([{key, value, property, file, line}])
on a finding that quotes a value its resource got from stack config (file null: from --config), and
`production` ({production, signal}) on a finding that blocks because the stack is production, saying
which signal made it so (or, `production: false`, on one a `productionStacks` list kept from blocking)."""

from __future__ import annotations

import json
from typing import Any

from golive.analysis.findings import CheckResult, ConfigSource, Finding
from golive.analysis.report.base import counts, register
from golive.preview.graph import SourcePosition


def _source(source: SourcePosition | None) -> dict[str, Any] | None:
    return {"file": source.file, "line": source.line} if source else None


def config_source(c: ConfigSource) -> dict[str, Any]:
    return {"key": c.key, "value": c.value, "property": c.prop, "file": c.file or None, "line": c.line or None}


def _event(f: Finding) -> dict[str, Any]:
    event: dict[str, Any] = {
        "policyName": f.policy_name,
        "policyPackName": f.policy_pack_name,
        "policyPackVersion": f.policy_pack_version,
        "enforcementLevel": f.enforcement_level,
        "severity": f.severity,
        "message": f.message,
        "resourceUrn": f.resource_urn,
        "resourceType": f.resource_type,
        "resourceName": f.resource_name,
        "source": _source(f.source),
    }
    if f.config:
        event["config"] = [config_source(c) for c in f.config]
    if (waived := f.waived) is not None:
        event["waived"] = {"reason": waived.reason, "owner": waived.owner, "expires": waived.expires}
    if (production := f.production) is not None:
        event["production"] = {"production": production.production, "signal": production.signal}
    if (notice := f.waiver_notice) is not None:
        event["waiverNotice"] = {"waiver": notice.waiver, "status": notice.status}
    return event


def document(result: CheckResult) -> dict[str, Any]:
    mandatory, advisory = counts(result)
    return {
        "project": result.project,
        "stack": result.stack,
        "preview": result.preview,
        "policyPacks": [{"name": p.name, "version": p.version} for p in result.packs],
        "resourceCount": result.resource_count,
        "policyEvents": [_event(f) for f in result.findings],
        "summary": {"mandatory": mandatory, "advisory": advisory},
        "invokesAnsweredOffline": [
            {"token": i.token, "answered": i.answered, "source": _source(i.source)} for i in result.invokes
        ],
    }


@register("json")
def render(result: CheckResult) -> str:
    return json.dumps(document(result), indent=2, ensure_ascii=False) + "\n"
