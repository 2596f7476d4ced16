"""`sarif`: SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`).

One run; one rule per policy of each pack (so a clean run still shows what was checked); one result per
finding, located at the resource's declaration (paths relative to the repository, `%SRCROOT%`), with the
resource URN as logical location. A finding on a resource whose declaration is unknown (a default provider,
the stack) points at the program's Pulumi.yaml, since code scanning drops results without a file.

A waived finding carries an accepted `external` suppression (the waiver lives in the pack config, not in
the source) with the waiver's reason as justification, and its owner and expiry as properties; its
fingerprint is the unwaived one's, so code scanning sees the same alert, now suppressed.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from golive import __version__
from golive.analysis.findings import CheckResult, Finding
from golive.analysis.policyconfig import PolicyInfo
from golive.analysis.report.base import register
from golive.analysis.report.jsonreport import config_source
from golive.preview.graph import SourcePosition

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning", "disabled": "none"}
# GitHub reads `security-severity` (a number as a string) to label results critical/high/medium/low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}


def _rule_id(pack: str, policy: str, ambiguous: set[str]) -> str:
    return f"{pack}/{policy}" if policy in ambiguous else policy


def _rule(rule_id: str, policy: PolicyInfo | None, finding: Finding | None) -> dict[str, Any]:
    description = (policy.description if policy else finding.description if finding else "") or rule_id
    level = policy.enforcement_level if policy else finding.enforcement_level if finding else "advisory"
    severity = policy.severity if policy else finding.severity if finding else ""
    rule: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "help": {"text": (policy.remediation_steps if policy and policy.remediation_steps else description)},
        "defaultConfiguration": {"level": LEVEL.get(level, "warning"), "enabled": level != "disabled"},
    }
    if policy and policy.url:
        rule["helpUri"] = policy.url
    properties: dict[str, Any] = {"tags": list(policy.tags) if policy else [], "enforcementLevel": level}
    if severity:
        properties["severity"] = severity
        properties["security-severity"] = SECURITY_SEVERITY[severity]
    if policy and policy.policy_type:
        properties["policyType"] = policy.policy_type
    rule["properties"] = properties
    return rule


def _uri(result: CheckResult, file: str) -> tuple[str, bool]:
    """(uri, relative to %SRCROOT%)."""
    path = file if os.path.isabs(file) or not result.program_dir else os.path.join(result.program_dir, file)
    root = result.source_root or result.program_dir
    if root and os.path.isabs(path):
        rel = os.path.relpath(path, root)
        if not rel.startswith(".."):
            return quote(PurePosixPath(*rel.split(os.sep)).as_posix()), True
        return PurePosixPath(path).as_uri(), False
    if os.path.isabs(path):
        return PurePosixPath(path).as_uri(), False
    return quote(posixpath.normpath(path.replace(os.sep, "/"))), True


def _physical(result: CheckResult, source: SourcePosition | None) -> dict[str, Any]:
    file, line = (source.file, source.line) if source else ("Pulumi.yaml", 1)
    uri, relative = _uri(result, file)
    artifact: dict[str, Any] = {"uri": uri}
    if relative:
        artifact["uriBaseId"] = "%SRCROOT%"
    region: dict[str, Any] = {"startLine": max(1, line)}
    if source and source.column > 0:
        region["startColumn"] = source.column
    return {"artifactLocation": artifact, "region": region}


def _fingerprint(f: Finding) -> str:
    # Stable across runs while the line moves: which policy, which resource, what it said.
    return hashlib.sha256(
        f"{f.policy_pack_name}\0{f.policy_name}\0{f.resource_urn}\0{f.detail}".encode()
    ).hexdigest()


def document(result: CheckResult) -> dict[str, Any]:
    names: dict[str, set[str]] = {}
    for pack in result.packs:
        for p in pack.info.policies if pack.info else ():
            names.setdefault(p.name, set()).add(pack.name)
    for f in result.findings:
        names.setdefault(f.policy_name, set()).add(f.policy_pack_name)
    ambiguous = {name for name, packs in names.items() if len(packs) > 1}

    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for pack in result.packs:
        for p in pack.info.policies if pack.info else ():
            rule_id = _rule_id(pack.name, p.name, ambiguous)
            index[rule_id] = len(rules)
            rules.append(_rule(rule_id, p, None))
    results = []
    for f in result.findings:
        rule_id = _rule_id(f.policy_pack_name, f.policy_name, ambiguous)
        if rule_id not in index:
            index[rule_id] = len(rules)
            rules.append(_rule(rule_id, None, f))
        location: dict[str, Any] = {"physicalLocation": _physical(result, f.source)}
        if f.resource_urn:
            location["logicalLocations"] = [
                {"fullyQualifiedName": f.resource_urn, "name": f.resource_name, "kind": "resource"}
            ]
        entry: dict[str, Any] = {
            "ruleId": rule_id,
            "ruleIndex": index[rule_id],
            "level": LEVEL.get(f.enforcement_level, "warning"),
            "message": {"text": f.message or f.description or f.policy_name},
            "locations": [location],
            "partialFingerprints": {"goliveFinding/v1": _fingerprint(f)},
            "properties": {
                "enforcementLevel": f.enforcement_level,
                "policyPack": f"{f.policy_pack_name}@v{f.policy_pack_version}",
                "resourceType": f.resource_type,
            },
        }
        if f.severity:
            entry["properties"]["severity"] = f.severity
        if f.config:
            # Where the quoted value was set: the stack file's line, beside the declaring line.
            related = [c for c in f.config if c.file]
            if related:
                entry["relatedLocations"] = [
                    {"id": i, "physicalLocation": _physical(result, SourcePosition(c.file, c.line or 1)),
                     "message": {"text": c.describe()}}
                    for i, c in enumerate(related, start=1)
                ]
            entry["properties"]["config"] = [config_source(c) for c in f.config]
        if (waived := f.waived) is not None:
            entry["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": waived.reason,
                    "properties": {"owner": waived.owner, "expires": waived.expires},
                }
            ]
        results.append(entry)

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "golive",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        # Code scanning keeps one analysis per category: one per project and stack.
        "automationDetails": {"id": f"golive/{result.project}/{result.stack}/"},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {
            "project": result.project,
            "stack": result.stack,
            "preview": result.preview,
            "resourceCount": result.resource_count,
            "policyPacks": [{"name": p.name, "version": p.version} for p in result.packs],
            "invokesAnsweredOffline": [i.token for i in result.invokes],
        },
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


@register("sarif")
def render(result: CheckResult) -> str:
    return json.dumps(document(result), indent=2, ensure_ascii=False) + "\n"
