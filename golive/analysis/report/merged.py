"""Many stacks in one report: `golive check --all-stacks` and `golive merge`.

The unit is a stack's own JSON report, as `golive check --format json` (or `golive audit --format json`)
writes it: a merged report is a list of them, each with where it came from, or with the reason the stack
could not be checked. Check reports are read back into a `CheckResult`, so each stack's SARIF run and
JUnit suite are what its own `golive check` would write; what only a merged report has (the stacks ×
policies summary, the changes against a previous report) is built here.

Audit reports come as `golive audit|smoke --format json` writes them, or as its JUnit (read back into the
same checks, without the policy each bounds).
- json: {"kind": "golive-merged-report", "version": 1, "stacks": [{project, stack, source, command,
  status, error, report}], "summary": {...}, "exitCode": 0|1|2} and, with a previous report, "changes".
- sarif: one run per stack (check runs as the stack's own; audit runs with a result per failed or
  warned check); a stack that could not be checked is a run whose invocation failed, with the reason.
- junit: one <testsuite> per stack; one that could not be checked has one test in <error>.
- markdown: the verdict, a stacks × policies table, the changes, then each stack's findings.
- text: a line per stack and the verdict.
A stack's status: `error` (not checked), `fail` (a mandatory finding, a failed audit check), `pass`.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from golive.analysis.findings import CheckResult, ConfigSource, Finding, PackSummary
from golive.analysis.policyconfig import PackInfo, PolicyInfo
from golive.analysis.report import junit, markdown, sarif
from golive.analysis.report.base import plural
from golive.preview.graph import SourcePosition

KIND = "golive-merged-report"
VERSION = 1
# Worst first: how a stack, a cell of the grid or a finding sorts and is coloured.
STATUS_RANK = {"error": 0, "fail": 1, "warn": 2, "pass": 3}
AUDIT_LEVEL = {"FAIL": "mandatory", "WARN": "advisory"}


class ReportError(ValueError):
    """A report file golive cannot read as one of its own; the message names the file."""


@dataclass(frozen=True)
class Row:
    """One finding as every merged format shows it: a check's finding or an audit's failed/warned check."""

    stack: str  # "project/stack" (an audit's: "audit:stack")
    policy: str
    level: str  # mandatory|advisory|disabled
    severity: str
    resource: str  # the resource's name ("" for a stack-level finding)
    resource_type: str
    urn: str
    location: str  # "file:line" of the declaring line, "" when unknown
    message: str  # the finding's own words (no description, no waiver line)
    waived: dict[str, str] | None = None  # {reason, owner, expires}
    config: tuple[str, ...] = ()  # where quoted config values came from

    @property
    def fingerprint(self) -> str:
        # As SARIF's: which stack, policy and resource, and what it said, not where the line is now.
        return hashlib.sha256(f"{self.stack}\0{self.policy}\0{self.urn}\0{self.message}".encode()).hexdigest()[:16]


@dataclass
class StackReport:
    project: str
    stack: str
    source: str = ""  # the program folder or state file checked, as given ("" when not known)
    command: str = "check"  # check|audit|smoke
    document: dict[str, Any] | None = None  # the stack's own JSON report
    error: str = ""  # why it could not be checked
    label: str = ""  # the key, told apart from another stack's of the same name (MergedReport sets it)

    @property
    def key(self) -> str:
        if self.label:
            return self.label
        if self.command != "check":
            return f"{self.command}:{self.stack}"
        return f"{self.project}/{self.stack}" if self.project else self.stack

    @cached_property
    def result(self) -> CheckResult | None:
        if self.command != "check" or self.document is None:
            return None
        # A state check's source is the export file (its JSON says `stateFile`); a program's, its folder.
        from_state = "stateFile" in self.document
        return result_from_document(self.document, program_dir="" if from_state else self.source)

    @cached_property
    def rows(self) -> list[Row]:
        if self.document is None:
            return []
        if self.command != "check":
            return [Row(self.key, c.get("policy") or c.get("name", ""), AUDIT_LEVEL[c.get("status", "")], "",
                        c.get("name", ""), c.get("section", "") or "", "", "", c.get("detail", ""))
                    for c in self.document.get("checks", []) if c.get("status") in AUDIT_LEVEL]
        result = self.result
        assert result is not None
        return [_row(self.key, f) for f in result.findings]

    @property
    def status(self) -> str:
        if self.error or self.document is None:
            return "error"
        if any(r.level == "mandatory" for r in self.rows):
            return "fail"
        return "warn" if self.rows else "pass"

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "stack": self.stack, "source": self.source, "command": self.command,
                "status": self.status, "error": self.error or None, "report": self.document}


def _row(stack: str, f: Finding) -> Row:
    waived = f.waived
    return Row(stack, f.policy_name, f.enforcement_level, f.severity, f.resource_name, f.resource_type,
               f.resource_urn, f"{f.source.file}:{f.source.line}" if f.source else "", f.detail or f.description,
               {"reason": waived.reason, "owner": waived.owner, "expires": waived.expires} if waived else None,
               tuple(f"{c.key} in {c.where}" for c in f.config))


@dataclass
class Changes:
    """What changed against a previous report, finding by finding (by fingerprint)."""

    previous: str  # the file compared with
    new: list[Row] = field(default_factory=list)
    fixed: list[Row] = field(default_factory=list)
    unchanged: list[Row] = field(default_factory=list)
    stacks_added: list[str] = field(default_factory=list)
    stacks_removed: list[str] = field(default_factory=list)

    def state(self, row: Row) -> str:
        return "new" if row.fingerprint in self._new else "unchanged"

    @cached_property
    def _new(self) -> set[str]:
        return {r.fingerprint for r in self.new}

    def to_json(self) -> dict[str, Any]:
        def brief(r: Row) -> dict[str, Any]:
            return {"stack": r.stack, "policy": r.policy, "level": r.level, "resource": r.resource,
                    "resourceUrn": r.urn, "message": r.message, "fingerprint": r.fingerprint}

        return {"previous": self.previous, "new": [brief(r) for r in self.new],
                "fixed": [brief(r) for r in self.fixed], "unchanged": len(self.unchanged),
                "stacksAdded": self.stacks_added, "stacksRemoved": self.stacks_removed}


@dataclass
class MergedReport:
    stacks: list[StackReport]
    changes: Changes | None = None

    def __post_init__(self) -> None:
        # Two projects of one name (copies of a template) each have a `production`: their folder tells them apart.
        seen: dict[str, int] = {}
        for s in self.stacks:
            seen[s.key] = seen.get(s.key, 0) + 1
        for s in self.stacks:
            if seen[s.key] > 1 and s.source:
                s.label = f"{s.key} ({s.source})"

    def exit_code(self) -> int:
        """2 when any stack could not be checked, else 1 when any has a mandatory finding (or failed check)."""
        statuses = {s.status for s in self.stacks}
        return 2 if "error" in statuses else 1 if "fail" in statuses else 0

    @property
    def rows(self) -> list[Row]:
        return [r for s in self.stacks for r in s.rows]

    def totals(self) -> dict[str, int]:
        rows = self.rows
        out = {status: sum(s.status == status for s in self.stacks) for status in STATUS_RANK}
        out.update(stacks=len(self.stacks), mandatory=sum(r.level == "mandatory" for r in rows),
                   advisory=sum(r.level == "advisory" for r in rows), waived=sum(r.waived is not None for r in rows),
                   resources=sum(int((s.document or {}).get("resourceCount", 0)) for s in self.stacks))
        return out

    def policies(self) -> list[str]:
        """The policies with a finding in any stack, in the pack's order (its catalog's), then by name."""
        return sorted({r.policy for r in self.rows}, key=_policy_order)

    def grid(self) -> dict[tuple[str, str], list[Row]]:
        cells: dict[tuple[str, str], list[Row]] = {}
        for r in self.rows:
            cells.setdefault((r.stack, r.policy), []).append(r)
        return cells

    def compare(self, previous: MergedReport, name: str) -> None:
        before = {r.fingerprint: r for r in previous.rows}
        now = {r.fingerprint: r for r in self.rows}
        keys_before = {s.key for s in previous.stacks}
        keys_now = {s.key for s in self.stacks}
        unchecked = {s.key for s in self.stacks if s.status == "error"}
        self.changes = Changes(
            name,
            new=[r for k, r in now.items() if k not in before],
            # A stack that could not be checked this time fixed nothing: its findings are unknown.
            fixed=[r for k, r in before.items() if k not in now and r.stack in keys_now - unchecked],
            unchanged=[r for k, r in now.items() if k in before],
            stacks_added=sorted(keys_now - keys_before),
            stacks_removed=sorted(keys_before - keys_now),
        )

    def unchecked_lines(self) -> list[str]:
        return [f"{s.key} could not be checked: {s.error}" for s in self.stacks if s.status == "error"]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": KIND, "version": VERSION, "stacks": [s.to_json() for s in self.stacks],
                               "summary": self.totals(), "exitCode": self.exit_code()}
        if self.changes is not None:
            out["changes"] = self.changes.to_json()
        return out


def _policy_order(name: str) -> tuple[int, str]:
    from checklist import catalog

    names = [p.name for p in catalog.POLICIES]
    return (names.index(name), name) if name in names else (len(names), name)


def policy_docs(name: str) -> dict[str, str]:
    """What the checklist says about a policy of golive's pack: description, rationale, remediation."""
    from checklist import catalog

    spec = catalog.POLICY_BY_NAME.get(name)
    if spec is None:
        return {}
    return {"description": spec.description, "rationale": spec.rationale, "remediation": spec.remediation,
            "section": spec.section}


# --- reading reports back -------------------------------------------------------------------------------


def result_from_document(doc: Mapping[str, Any], program_dir: str = "") -> CheckResult:
    """A `golive check --format json` report as the CheckResult it was rendered from (as far as it says)."""
    from checklist import catalog

    findings = []
    for e in doc.get("policyEvents", []):
        name = str(e.get("policyName", ""))
        message = str(e.get("message", ""))
        spec = catalog.POLICY_BY_NAME.get(name)
        description = spec.description if spec and message.startswith(spec.description) else ""
        source = e.get("source")
        findings.append(Finding(
            policy_name=name, policy_pack_name=str(e.get("policyPackName", "")),
            policy_pack_version=str(e.get("policyPackVersion", "")),
            enforcement_level=str(e.get("enforcementLevel", "advisory")), severity=str(e.get("severity") or ""),
            message=message, description=description, resource_urn=str(e.get("resourceUrn", "")),
            resource_type=str(e.get("resourceType", "")), resource_name=str(e.get("resourceName", "")),
            source=SourcePosition(str(source["file"]), int(source.get("line") or 0))
            if isinstance(source, Mapping) and source.get("file") else None,
            config=tuple(ConfigSource(str(c.get("key", "")), str(c.get("value", "")), str(c.get("property", "")),
                                      str(c.get("file") or ""), int(c.get("line") or 0))
                         for c in e.get("config") or ()),
        ))
    packs = [PackSummary(str(p.get("name", "")), str(p.get("version", "")), _pack_info(p))
             for p in doc.get("policyPacks", [])]
    return CheckResult(project=str(doc.get("project", "")), stack=str(doc.get("stack", "")), packs=packs,
                       resource_count=int(doc.get("resourceCount", 0)), findings=findings,
                       program_dir=program_dir, preview=bool(doc.get("preview", True)))


def _pack_info(pack: Mapping[str, Any]) -> PackInfo | None:
    """golive's own pack is known from its catalog: its clean policies then count too (SARIF rules, JUnit tests)."""
    from checklist import catalog

    if pack.get("name") != "golive-customerio":
        return None
    policies = tuple(PolicyInfo(s.name, s.description, s.level, s.severity, "", tags=(catalog.CHECKLIST, s.section),
                                remediation_steps=s.remediation)
                     for s in sorted(catalog.POLICIES, key=lambda s: s.name))
    return PackInfo(str(pack["name"]), str(pack.get("version", "")), "", True, policies)


def from_document(doc: Any, name: str) -> list[StackReport]:
    """The stacks of one report file: a merged report's, or the one stack of a check or audit report."""
    if not isinstance(doc, dict):
        raise ReportError(f"{name}: not a golive JSON report (a JSON object)")
    if doc.get("kind") == KIND:
        out = []
        for i, s in enumerate(doc.get("stacks") or []):
            if not isinstance(s, dict):
                raise ReportError(f"{name}: stacks[{i}]: not an object")
            report = s.get("report")
            out.append(StackReport(str(s.get("project", "")), str(s.get("stack", "")), str(s.get("source") or ""),
                                   str(s.get("command") or "check"), report if isinstance(report, dict) else None,
                                   str(s.get("error") or ("" if isinstance(report, dict) else "no report"))))
        return out
    if isinstance(doc.get("policyEvents"), list):
        return [StackReport(str(doc.get("project", "")), str(doc.get("stack", "")), "", "check", doc)]
    if isinstance(doc.get("checks"), list) and doc.get("command") in ("audit", "smoke"):
        return [StackReport(str(doc.get("environment", "")), str(doc.get("stack", "")), "", str(doc["command"]), doc)]
    raise ReportError(f"{name}: not a golive report (expected `golive check` or `golive audit` JSON, "
                      "or a merged report)")


def read(path: str) -> list[StackReport]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ReportError(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    if text.lstrip().startswith("<"):
        return [audit_from_junit(text, path)]
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise ReportError(f"{path}: not JSON: {err}") from None
    return from_document(doc, path)


_AUDIT_SUITE = re.compile(r"golive (?P<command>audit|smoke) (?P<stack>\S+)")
_STATUS_OUT = re.compile(r"\[(?P<status>PASS|WARN)\] (?P<detail>.*)", re.DOTALL)


def audit_from_junit(text: str, name: str) -> StackReport:
    """`golive audit|smoke --format junit` read back as its JSON report (the policy of each check is not in it)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ReportError(f"{name}: not XML: {err}") from None
    suites = list(root.iter("testsuite"))
    match = _AUDIT_SUITE.fullmatch(suites[0].get("name", "")) if len(suites) == 1 else None
    if match is None:
        raise ReportError(f"{name}: not a golive audit JUnit report (a check's JUnit cannot be merged: merge its "
                          "--format json report)")
    checks = []
    for case in suites[0].iter("testcase"):
        failure, skipped, out = case.find("failure"), case.find("skipped"), case.find("system-out")
        if failure is not None:
            status, detail = "FAIL", failure.get("message", "")
        elif skipped is not None:
            status, detail = "SKIP", skipped.get("message", "")
        elif out is not None and (said := _STATUS_OUT.fullmatch(out.text or "")):
            status, detail = said["status"], said["detail"]
        else:
            status, detail = "PASS", ""
        checks.append({"name": case.get("name", ""), "status": status, "detail": detail,
                       "section": case.get("classname", ""), "policy": None})
    summary = {key: sum(c["status"] == key.upper() for c in checks) for key in ("pass", "warn", "fail", "skip")}
    doc = {"command": match["command"], "stack": match["stack"], "environment": "", "region": "", "checks": checks,
           "summary": summary}
    return StackReport("", match["stack"], "", match["command"], doc)


# --- formats ---------------------------------------------------------------------------------------


def render(fmt: str, merged: MergedReport) -> str:
    """The merged report in `fmt` (json, sarif, junit, markdown, text; html is report.html's `render_merged`)."""
    return {"json": _json, "sarif": _sarif, "junit": _junit, "markdown": _markdown, "text": _text}[fmt](merged)


def _json(merged: MergedReport) -> str:
    return json.dumps(merged.to_json(), indent=2, ensure_ascii=False) + "\n"


def _sarif(merged: MergedReport) -> str:
    runs = []
    state = merged.changes.state if merged.changes is not None else None
    for s in merged.stacks:
        if s.status == "error":
            runs.append(_failed_run(s))
            continue
        if s.result is None:
            runs.append(_audit_run(s))
            continue
        run = sarif.document(s.result)["runs"][0]
        run["properties"]["source"] = s.source
        if s.label:  # code scanning keeps one analysis per category: two stacks of one name need two
            run["automationDetails"]["id"] = f"golive/{s.source}/{s.project}/{s.stack}/"
        if state is not None:
            # SARIF's own word for what a previous run had: code scanning and viewers read it.
            for result, row in zip(run["results"], s.rows, strict=True):
                result["baselineState"] = state(row)
        runs.append(run)
    return json.dumps({"$schema": sarif.SCHEMA, "version": "2.1.0", "runs": runs}, indent=2, ensure_ascii=False) + "\n"


def _driver() -> dict[str, Any]:
    from golive import __version__

    return {"name": "golive", "version": __version__, "semanticVersion": __version__, "rules": []}


def _failed_run(s: StackReport) -> dict[str, Any]:
    return {"tool": {"driver": _driver()}, "automationDetails": {"id": f"golive/{s.project}/{s.stack}/"},
            "invocations": [{"executionSuccessful": False, "toolExecutionNotifications": [
                {"level": "error", "message": {"text": f"{s.key} could not be checked: {s.error}"}}]}],
            "results": [], "properties": {"project": s.project, "stack": s.stack, "source": s.source}}


def _audit_run(s: StackReport) -> dict[str, Any]:
    driver = _driver()
    results = []
    for r in s.rows:
        if not any(rule["id"] == r.policy for rule in driver["rules"]):
            driver["rules"].append({"id": r.policy, "shortDescription": {"text": r.policy}})
        results.append({"ruleId": r.policy, "level": sarif.LEVEL[r.level], "message": {"text": f"{r.resource}: "
                        f"{r.message}"}, "locations": [{"logicalLocations": [{"name": s.stack, "kind": "stack"}]}]})
    return {"tool": {"driver": driver}, "automationDetails": {"id": f"golive-{s.command}/{s.stack}/"},
            "results": results, "properties": {"command": s.command, "stack": s.stack,
                                               "environment": s.project}}


def _junit(merged: MergedReport) -> str:
    root = ET.Element("testsuites", name=f"golive: {plural(len(merged.stacks), 'stack')}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for s in merged.stacks:
        if s.status == "error":
            suite = ET.SubElement(root, "testsuite", name=s.key, tests="1", failures="0", errors="1", skipped="0")
            case = ET.SubElement(suite, "testcase", classname=s.key, name=f"golive {s.command}")
            ET.SubElement(case, "error", message=junit._clean(s.error)).text = junit._clean(s.error)
            suites = [suite]
        elif s.result is not None:
            suites = list(ET.fromstring(junit.render(s.result)).iter("testsuite"))
            for suite in suites:
                pack = suite.get("name", "")
                suite.set("name", s.key if len(suites) == 1 else f"{s.key} {pack}")
                root.append(suite)
        else:
            suites = [_audit_suite(s)]
            root.append(suites[0])
        for suite in suites:
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _audit_suite(s: StackReport) -> ET.Element:
    """An audit report's checks as `golive audit --format junit` writes them (operations is a layer above)."""
    doc = s.document or {}
    suite = ET.Element("testsuite", name=s.key)
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for c in doc.get("checks", []):
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=str(c.get("section") or s.command),
                             name=junit._clean(str(c.get("name", ""))))
        detail = junit._clean(str(c.get("detail", "")))
        if c.get("status") == "FAIL":
            ET.SubElement(case, "failure", message=detail).text = detail
            counts["failures"] += 1
        elif c.get("status") == "SKIP":
            ET.SubElement(case, "skipped", message=detail)
            counts["skipped"] += 1
        else:
            ET.SubElement(case, "system-out").text = f"[{c.get('status')}] {detail}"
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("errors", "0")
    return suite


_MARK = {"error": "⛔", "fail": "❌", "warn": "⚠️", "pass": "✅"}


def verdict(merged: MergedReport) -> str:
    t = merged.totals()
    parts = [f"{t['fail']} failing", f"{t['warn']} with advice", f"{t['pass']} passing"]
    if t["error"]:
        parts.insert(0, f"{t['error']} could not be checked")
    return (f"{plural(t['stacks'], 'stack')}: {', '.join(parts)}; {t['mandatory']} mandatory, {t['advisory']} "
            f"advisory ({t['waived']} waived) findings over {plural(t['resources'], 'resource')}")


def _cell(rows: Sequence[Row]) -> str:
    if not rows:
        return ""
    mandatory = sum(r.level == "mandatory" for r in rows)
    waived = sum(r.waived is not None for r in rows)
    if mandatory:
        return f"❌ {mandatory}"
    return f"🔕 {waived}" if waived == len(rows) else f"⚠️ {len(rows)}"


def _markdown(merged: MergedReport) -> str:
    code = merged.exit_code()
    mark = "⛔" if code == 2 else "❌" if code == 1 else "✅"
    out = [f"## {mark} golive: {verdict(merged)}", ""]
    policies = merged.policies()
    cells = merged.grid()
    head = ["Stack", "Status", *(f"`{p}`" for p in policies)]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in sorted(merged.stacks, key=lambda s: (STATUS_RANK[s.status], s.key)):
        status = f"{_MARK[s.status]} {s.status}"
        if s.error:
            status += f": {markdown._cell(s.error)}"
        out.append("| " + " | ".join([f"`{s.key}`", status, *(_cell(cells.get((s.key, p), ())) for p in policies)])
                   + " |")
    out.append("")
    if merged.changes is not None:
        c = merged.changes
        out += [f"**Against {markdown._cell(c.previous)}**: {len(c.new)} new, {len(c.fixed)} fixed, "
                f"{len(c.unchanged)} unchanged." + (f" New stacks: {', '.join(c.stacks_added)}." if c.stacks_added
                                                    else "")
                + (f" Stacks gone: {', '.join(c.stacks_removed)}." if c.stacks_removed else ""), ""]
        for title, rows in (("New", c.new), ("Fixed", c.fixed)):
            out += [f"- {title}: `{r.stack}` `{r.policy}` {markdown._cell(r.resource)}" for r in rows]
        out.append("")
    for s in merged.stacks:
        if s.result is not None and s.result.findings:
            out += [f"<details><summary>{_MARK[s.status]} {markdown._cell(s.key)}: "
                    f"{plural(len(s.rows), 'finding')}</summary>", "",
                    *markdown.render(s.result).splitlines()[2:], "</details>", ""]
    return "\n".join(out) + "\n"


def _text(merged: MergedReport) -> str:
    out = []
    for s in merged.stacks:
        if s.status == "error":
            out.append(f"{_MARK['error']} {s.key}: could not be checked: {s.error}")
            continue
        rows = s.rows
        mandatory = sum(r.level == "mandatory" for r in rows)
        out.append(f"{_MARK[s.status]} {s.key}: {mandatory} mandatory, {len(rows) - mandatory} advisory"
                   + (f" ({sum(r.waived is not None for r in rows)} waived)" if any(r.waived for r in rows) else "")
                   + (f"  [{s.source}]" if s.source else ""))
        for r in rows:
            if r.level == "mandatory":
                where = f" at {r.location}" if r.location else ""
                out.append(f"    - {r.policy}  ({r.resource or 'stack'}){where}: {r.message.splitlines()[0]}")
    if merged.changes is not None:
        c = merged.changes
        out.append(f"Against {c.previous}: {len(c.new)} new, {len(c.fixed)} fixed, {len(c.unchanged)} unchanged.")
    out.append(f"Summary: {verdict(merged)}.")
    return "\n".join(out) + "\n"


def merge(reports: Iterable[StackReport]) -> MergedReport:
    return MergedReport(list(reports))


__all__ = ["KIND", "Changes", "MergedReport", "ReportError", "Row", "StackReport", "from_document", "merge",
           "policy_docs", "read", "render", "result_from_document", "verdict"]
