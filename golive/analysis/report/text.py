"""`text`: the Pulumi CLI's `Policies:` block (pkg/backend/display/progress.go printPolicies), plus where
each resource is declared, a summary line and the data sources that were answered offline.

A waived finding shows as the CLI shows it, advisory with the pack's `[waived until … by …: …]` line
under the description; the summary counts the waived ones among the advisory."""

from __future__ import annotations

from collections import Counter

from golive.analysis.findings import CheckResult, Finding
from golive.analysis.report.base import counts, display_type, invoke_legend, location, plural, register

_INDENT = "        "  # the CLI's subItemIndent


def _status(findings: list[Finding]) -> str:
    if any(f.mandatory for f in findings):
        return "❌"
    return "⚠️" if findings else "✅"


def _event(f: Finding) -> list[str]:
    severity = f" [severity: {f.severity}]" if f.severity else ""
    resource = f"  ({display_type(f.resource_type)}: {f.resource_name})" if f.resource_type else ""
    lines = [f"{_INDENT}- [{f.enforcement_level}]{severity}  {f.policy_name}{resource}"]
    lines += [f"{_INDENT}  {line}" if line else "" for line in f.message.rstrip("\n").split("\n")]
    if f.source:
        lines.append(f"{_INDENT}  at {location(f.source)}")
    lines += [f"{_INDENT}  {c.describe()}" for c in f.config]
    return lines


@register("text")
def render(result: CheckResult) -> str:
    out = ["Policies:"]
    for pack in sorted(result.packs, key=lambda p: (p.name, p.version)):
        findings = [f for f in result.findings if f.policy_pack_name == pack.name]
        out.append(f"    {_status(findings)} {pack.name}@v{pack.version}")
        remediated = Counter(r.policy_name for r in result.remediations if r.policy_pack_name == pack.name)
        for policy, n in sorted(remediated.items()):
            out.append(f"{_INDENT}- [remediate]  {policy}  ({plural(n, 'resource')})")
        for f in findings:  # already in the CLI's order: level, severity, policy, resource
            out.extend(_event(f))
    out.append("")

    mandatory, advisory = counts(result)
    verdict = result.verdict()
    waived = len(result.waived)
    out.append(
        f"Summary: {mandatory} mandatory, {advisory} advisory{f' ({waived} waived)' if waived else ''} over "
        f"{plural(result.resource_count, 'resource')} of {result.project}/{result.stack}: {verdict}."
    )
    if result.invokes:
        out.append(f"Data sources answered offline, not by the cloud ({invoke_legend(result)}):")
        for invoke in result.invokes:
            where = f"  at {location(invoke.source)}" if invoke.source else ""
            out.append(f"    - {invoke.token}  ({invoke.answered}){where}")
    if result.pack_python:
        out.append(f"Policy pack interpreter: {result.pack_python}")
    return "\n".join(out) + "\n"
