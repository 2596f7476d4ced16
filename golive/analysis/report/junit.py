"""`junit`: JUnit XML, for CI test dashboards (GitLab, Jenkins, Azure DevOps, GitHub test-report actions).

One <testsuite> per pack. Each finding is a <testcase> named after its policy and resource; each policy
with no finding is one passing <testcase>, so the count says how much was checked.
- mandatory -> <failure>: the CLI fails the preview, so the dashboard should turn red.
- advisory -> a passing test with the message in <system-out>: the CLI lets the preview through, so a
  red or "skipped" mark would mislead (dashboards read skipped as "did not run" and often hide its
  text), while <system-out> is shown next to the test by every dashboard above.
- a disabled policy -> <skipped>: it really did not run.
- a waived finding is advisory, so it passes too; <system-out> opens with `[advisory, waived until …]`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from golive.analysis.findings import CheckResult, Finding
from golive.analysis.report.base import display_type, location, register

# XML 1.0 forbids most control characters; a pack's message could carry one.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _case_name(f: Finding) -> str:
    if f.resource_type:
        return f"{f.policy_name}  ({display_type(f.resource_type)}: {f.resource_name})"
    return f.policy_name


def _body(f: Finding) -> str:
    lines = [f.message.rstrip("\n")]
    if f.source:
        lines.append(f"at {location(f.source)}")
    lines += [c.describe() for c in f.config]
    if f.resource_urn:
        lines.append(f"resource {f.resource_urn}")
    return _clean("\n".join(lines))


@register("junit")
def render(result: CheckResult) -> str:
    root = ET.Element("testsuites", name=f"golive {result.project}/{result.stack}")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for pack in sorted(result.packs, key=lambda p: (p.name, p.version)):
        suite = ET.SubElement(root, "testsuite", name=f"{pack.name}@v{pack.version}")
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("project", result.project),
            ("stack", result.stack),
            ("preview", "true" if result.preview else "false"),
            ("resourceCount", str(result.resource_count)),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        tests = failures = skipped = 0
        findings = [f for f in result.findings if f.policy_pack_name == pack.name]
        by_policy: dict[str, list[Finding]] = {}
        for f in findings:
            by_policy.setdefault(f.policy_name, []).append(f)
        policies = {p.name: p for p in pack.info.policies} if pack.info else {}
        for name in sorted(set(policies) | set(by_policy)):
            policy_findings = by_policy.get(name, [])
            if not policy_findings:
                case = ET.SubElement(suite, "testcase", classname=pack.name, name=name)
                tests += 1
                if policies[name].enforcement_level == "disabled":
                    ET.SubElement(case, "skipped", message="policy disabled")
                    skipped += 1
                continue
            for f in policy_findings:
                case = ET.SubElement(suite, "testcase", classname=pack.name, name=_clean(_case_name(f)))
                if f.source:
                    case.set("file", f.source.file)
                    case.set("line", str(f.source.line))
                tests += 1
                first = _clean(f.detail.split("\n", 1)[0] or f.description)
                if f.mandatory:
                    failure = ET.SubElement(case, "failure", message=first, type=f.enforcement_level)
                    failure.text = _body(f)
                    failures += 1
                else:
                    out = ET.SubElement(case, "system-out")
                    waived = f.waived
                    level = f"{f.enforcement_level}, waived until {waived.expires}" if waived else f.enforcement_level
                    out.text = f"[{level}] " + _body(f)
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
        totals["tests"] += tests
        totals["failures"] += failures
        totals["skipped"] += skipped
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
