"""Baselines: adopt the pack on a stack with history by hiding the findings it already had.

`golive check --write-baseline FILE` saves the findings of a run; `--baseline FILE` then reports only
findings that are not in it, and the exit status counts only those. The file is JSON meant to be
committed and reviewed: one entry per finding, with its policy, resource, level and message for the
reader, and the fingerprint that decides.

What counts as "the same finding" across runs: the same policy of the same pack on the same resource
(URN), saying the same thing. "The same thing" is the message without the policy description the SDK
puts in front of it, with every run of digits replaced by `#` and whitespace collapsed: a finding whose
numbers moved (a rotation of 120 days now 150, a `cio12345` subdomain) is still the old violation,
while one about another key, record or container is a new one (names are kept). The level is not part
of it: an old violation made mandatory is still old. Each entry hides one finding: a second identical
finding on the same resource shows.

Unless it got worse: each entry also records the numbers its message stated (`numbers`, in order), and
an entry does not hide a finding that moved further from the limit its message states (a rotation of
180 days against "at most 90", now 900; an SPF record with 11 lookups against RFC 7208's 10, now 12).
The limit is the number that stayed the same nearest to the old value; a number that changed with no
number left the same beside it, or crossed to the limit's other side, cannot be judged and counts as
the same finding. Entries written before `numbers` existed hide by fingerprint alone, as they did.

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

from golive import loading
from golive.analysis.findings import CheckResult, Finding, message_numbers
from golive.errors import GoliveError

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
    # Each entry as the file has it (for writing back unchanged), by fingerprint, in file order.
    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def fingerprints(self) -> Counter[str]:
        return Counter({key: len(found) for key, found in self.entries.items()})


@dataclass
class Applied:
    result: CheckResult  # the findings the baseline does not hold
    hidden: list[Finding]  # the findings it does hold
    resolved: int  # entries of the baseline that no finding matched: fixed since it was written
    # Findings that match an entry but moved further from their limit: reported as new. With the entry
    # each one would otherwise have matched, which a pruning --write-baseline keeps as it was.
    worse: list[tuple[Finding, dict[str, Any]]] = field(default_factory=list)


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _entry(finding: Finding) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint(finding),
        "policyPack": finding.policy_pack_name,
        "policyName": finding.policy_name,
        "enforcementLevel": finding.enforcement_level,
        "resourceUrn": finding.resource_urn,
        "message": finding.detail,
        "numbers": [_number(n) for n in message_numbers(finding.detail)],
    }


def dumps(findings: Iterable[Finding], project: str, stack: str,
          kept: Iterable[dict[str, Any]] = ()) -> str:
    """The baseline of `findings`, plus entries `kept` as an earlier baseline had them."""
    entries = sorted([*(_entry(f) for f in findings), *kept],
                     key=lambda e: (str(e.get("policyName", "")), str(e.get("resourceUrn", "")), e["fingerprint"]))
    document = {"format": FORMAT, "version": VERSION, "project": project, "stack": stack, "findings": entries}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def worse(now: list[float], then: list[float]) -> bool:
    """Whether numbers a message states now are further from its limit than those it stated then.

    The limit of a number that changed is the unchanged number nearest its old value (the 90 of
    "rotates every 180 days; at most 90 allowed"); worse is further away on the same side."""
    if len(now) != len(then):
        return False
    fixed = [a for a, b in zip(now, then, strict=True) if a == b]
    for new, old in zip(now, then, strict=True):
        if new == old or not fixed:
            continue
        limit = min(fixed, key=lambda t: abs(old - t))
        if (old - limit) * (new - limit) > 0 and abs(new - limit) > abs(old - limit):
            return True
    return False


def load(path: str) -> Baseline:
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise BaselineError(f"--baseline {path}: {err.strerror or err}") from None
    data = loading.parse_json(raw, path, error=BaselineError)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BaselineError(f'{path}: not a golive baseline (no "format": "{FORMAT}"; write one with --write-baseline)')
    if data.get("version") != VERSION:
        raise BaselineError(f"{path}: baseline version {json.dumps(data.get('version'))}; this golive reads {VERSION}")
    project, stack, entries = data.get("project"), data.get("stack"), data.get("findings")
    if not isinstance(project, str) or not project or not isinstance(stack, str) or not stack:
        raise BaselineError(f'{path}: "project" and "stack" must be non-empty strings')
    if not isinstance(entries, list):
        raise BaselineError(f'{path}: "findings" must be a list')
    by_key: dict[str, list[dict[str, Any]]] = {}
    for i, entry in enumerate(entries):
        value = entry.get("fingerprint") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value.startswith("v1:"):
            raise BaselineError(f'{path}: findings[{i}]: no "fingerprint" (v1:<sha256>)')
        numbers = entry.get("numbers")
        if numbers is not None and (not isinstance(numbers, list) or not all(
                isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers)):
            raise BaselineError(f'{path}: findings[{i}]: "numbers" must be a list of numbers')
        by_key.setdefault(value, []).append(entry)
    return Baseline(file=path, project=project, stack=stack, entries=by_key)


def apply(result: CheckResult, baseline: Baseline) -> Applied:
    if (baseline.project, baseline.stack) != (result.project, result.stack):
        raise BaselineError(
            f"--baseline {baseline.file}: written for {baseline.project}/{baseline.stack}, but this check is of "
            f"{result.project}/{result.stack}"
        )
    remaining = {key: list(found) for key, found in baseline.entries.items()}
    kept: list[Finding] = []
    hidden: list[Finding] = []
    for finding in result.findings:
        candidates = remaining.get(fingerprint(finding), [])
        numbers = message_numbers(finding.detail)
        recorded = [None if e.get("numbers") is None else [float(n) for n in e["numbers"]] for e in candidates]
        # The entry with the same numbers first, so a worse copy does not take an unchanged one's entry.
        pick = next((i for i, then in enumerate(recorded) if then == numbers), None)
        if pick is None:
            pick = next((i for i, then in enumerate(recorded) if then is None or not worse(numbers, then)), None)
        if pick is None:
            kept.append(finding)
        else:
            candidates.pop(pick)
            hidden.append(finding)
    # A finding shown because it got worse is not its entry's finding fixed: pair them up.
    worse_pairs = []
    for finding in kept:
        candidates = remaining.get(fingerprint(finding), [])
        if candidates:
            worse_pairs.append((finding, candidates.pop(0)))
    return Applied(result=replace(result, findings=kept), hidden=hidden,
                   resolved=sum(len(found) for found in remaining.values()), worse=worse_pairs)


__all__ = ["Applied", "Baseline", "BaselineError", "apply", "dumps", "fingerprint", "load",
           "normalized_message", "worse"]
