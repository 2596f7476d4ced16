"""The audit's reports: the checklist's own `[PASS|FAIL|WARN|SKIP] name: detail` lines, JSON, JUnit XML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence

from golive.operations.audit.result import AuditResult, Status
from golive.operations.audit.target import AuditTarget

FORMATS = ("text", "json", "junit")
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def summary(results: Sequence[AuditResult]) -> dict[str, int]:
    counts = Counter(r.status for r in results)
    return {"pass": counts[Status.PASS], "warn": counts[Status.WARN], "fail": counts[Status.FAIL],
            "skip": counts[Status.SKIP]}


def identity(target: AuditTarget) -> dict[str, str] | None:
    """Whose AWS credentials the checks used, when the command line chose them (--profile, --role-arn):
    a report of many accounts' audits says which account each one read. Never the external ID."""
    who = target.endpoints.identity
    if not (who.profile or who.role_arn):
        return None
    found = {"profile": who.profile, "roleArn": who.role_arn, "roleSessionName": who.session_name,
             "account": who.credentials.account if who.credentials else None}
    return {key: value for key, value in found.items() if value}


def text(target: AuditTarget, results: Sequence[AuditResult], command: str) -> str:
    counts = summary(results)
    verdict = "FAILED" if counts["fail"] else "passed"
    who = identity(target)
    acting = ""
    if who:
        acting = (f", as {who['roleArn']}" if "roleArn" in who else "") + \
                 (f", profile {who['profile']}" if "profile" in who else "")
    lines = [f"golive {command}: stack {target.stack} (environment {target.environment}, region {target.region}"
             f"{acting})", ""]
    lines += [r.line() for r in results]
    skips = f", {counts['skip']} skipped" if counts["skip"] else ""
    lines += ["", f"Summary: {counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed{skips}: "
                  f"the {command} {verdict}."]
    return "\n".join(lines) + "\n"


def as_json(target: AuditTarget, results: Sequence[AuditResult], command: str) -> str:
    return json.dumps({
        "command": command,
        "stack": target.stack,
        "environment": target.environment,
        "region": target.region,
        **({"aws": who} if (who := identity(target)) else {}),
        "checks": [{"name": r.name, "status": r.status.value, "detail": r.detail, "section": r.section,
                    "policy": r.policy or None} for r in results],
        "summary": summary(results),
    }, indent=2) + "\n"


def junit(target: AuditTarget, results: Sequence[AuditResult], command: str) -> str:
    counts = summary(results)
    suite = ET.Element("testsuite", name=f"golive {command} {target.stack}", tests=str(len(results)),
                       failures=str(counts["fail"]), errors="0", skipped=str(counts["skip"]))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=r.section or command, name=_INVALID_XML.sub("", r.name))
        detail = _INVALID_XML.sub("", r.detail)
        if r.status is Status.FAIL:
            ET.SubElement(case, "failure", message=detail).text = detail
        elif r.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=detail)
        else:  # a warning passes, as the audit's exit status does; its text stays visible
            ET.SubElement(case, "system-out").text = f"[{r.status.value}] {detail}"
    suites = ET.Element("testsuites", name=f"golive {command}", tests=str(len(results)), failures=str(counts["fail"]),
                        skipped=str(counts["skip"]))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(fmt: str, target: AuditTarget, results: Sequence[AuditResult], command: str) -> str:
    return {"text": text, "json": as_json, "junit": junit}[fmt](target, results, command)
