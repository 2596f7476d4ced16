"""Baselines: adopt the pack on a stack with history by hiding the findings it already had.

`golive check --write-baseline FILE` saves the findings of a run; `--baseline FILE` then reports only
findings that are not in it, and the exit status counts only those. The file is JSON meant to be
committed and reviewed: one entry per finding, with its policy, resource, level and message for the
reader, and the fingerprint that decides.

What counts as "the same finding" across runs: the same policy of the same pack on the same resource
(URN), saying the same thing. "The same thing" is the message without the policy description the SDK
puts in front of it, with every run of digits replaced by `#` and whitespace collapsed: a finding whose
numbers moved (a rotation of 120 days now 150, an SPF record with 11 lookups now 12, a `cio12345`
subdomain) is still the old violation, while one about another key, record or container is a new one
(names are kept). The level is not part of it: an old violation made mandatory is still old. Each entry
hides one finding: a second identical finding on the same resource shows.

The pack version is left out, so a pack upgrade keeps the baseline, unless the upgrade rewords a
message; so is the way values were seen: a message that depends on what a preview cannot know reads
differently from a program run and from a state file, so check with the same mode the baseline was
written with.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import GoliveError
from .findings import CheckResult, Finding

FORMAT = "golive-baseline"
VERSION = 1
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


class BaselineError(GoliveError):
    """The baseline file is unreadable, malformed or of another stack; names the file."""


def normalized_message(finding: Finding) -> str:
    return _SPACE.sub(" ", _DIGITS.sub("#", finding.detail)).strip()


def fingerprint(finding: Finding) -> str:
    key = "\0".join(
        (finding.policy_pack_name, finding.policy_name, finding.resource_urn, normalized_message(finding))
    )
    return "v1:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass
class Baseline:
    file: str
    project: str
    stack: str
    fingerprints: Counter[str] = field(default_factory=Counter)


@dataclass
class Applied:
    result: CheckResult  # the findings the baseline does not hold
    hidden: list[Finding]  # the findings it does hold
    resolved: int  # entries of the baseline that no finding matched: fixed since it was written


def _entry(finding: Finding) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint(finding),
        "policyPack": finding.policy_pack_name,
        "policyName": finding.policy_name,
        "enforcementLevel": finding.enforcement_level,
        "resourceUrn": finding.resource_urn,
        "message": finding.detail,
    }


def dumps(findings: Iterable[Finding], project: str, stack: str) -> str:
    entries = sorted((_entry(f) for f in findings),
                     key=lambda e: (e["policyName"], e["resourceUrn"], e["fingerprint"]))
    document = {"format": FORMAT, "version": VERSION, "project": project, "stack": stack, "findings": entries}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def check_writable(path: str) -> None:
    """Before anything runs: a baseline that cannot be written should not cost a whole check first."""
    if not Path(path).resolve().parent.is_dir():
        raise BaselineError(f"--write-baseline {path}: folder {Path(path).resolve().parent} does not exist")


def write(path: str, findings: Iterable[Finding], project: str, stack: str) -> None:
    """Whole or not at all: a temporary file beside it, then a rename."""
    from .cli import write_output

    check_writable(path)
    write_output(dumps(findings, project, stack), path)


def load(path: str) -> Baseline:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise BaselineError(f"--baseline {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{path}: not UTF-8 text (expected a baseline `--write-baseline` wrote)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BaselineError(f"{path}: not JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BaselineError(f'{path}: not a golive baseline (no "format": "{FORMAT}"; write one with --write-baseline)')
    if data.get("version") != VERSION:
        raise BaselineError(f"{path}: baseline version {json.dumps(data.get('version'))}; this golive reads {VERSION}")
    project, stack, entries = data.get("project"), data.get("stack"), data.get("findings")
    if not isinstance(project, str) or not project or not isinstance(stack, str) or not stack:
        raise BaselineError(f'{path}: "project" and "stack" must be non-empty strings')
    if not isinstance(entries, list):
        raise BaselineError(f'{path}: "findings" must be a list')
    counts: Counter[str] = Counter()
    for i, entry in enumerate(entries):
        value = entry.get("fingerprint") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value.startswith("v1:"):
            raise BaselineError(f'{path}: findings[{i}]: no "fingerprint" (v1:<sha256>)')
        counts[value] += 1
    return Baseline(file=path, project=project, stack=stack, fingerprints=counts)


def apply(result: CheckResult, baseline: Baseline) -> Applied:
    if (baseline.project, baseline.stack) != (result.project, result.stack):
        raise BaselineError(
            f"--baseline {baseline.file}: written for {baseline.project}/{baseline.stack}, but this check is of "
            f"{result.project}/{result.stack}"
        )
    remaining = Counter(baseline.fingerprints)
    kept: list[Finding] = []
    hidden: list[Finding] = []
    for finding in result.findings:
        key = fingerprint(finding)
        if remaining[key] > 0:
            remaining[key] -= 1
            hidden.append(finding)
        else:
            kept.append(finding)
    return Applied(result=replace(result, findings=kept), hidden=hidden, resolved=sum(remaining.values()))


__all__ = ["Applied", "Baseline", "BaselineError", "apply", "check_writable", "dumps", "fingerprint", "load",
           "normalized_message", "write"]
