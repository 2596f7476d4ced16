"""Waivers: findings a team accepts for a while, with a reason, an owner and an expiry date.

They live in the pack config, per policy, so `pulumi preview --policy-pack-config FILE` and
`golive check --policy-pack-config FILE` apply the same ones:

    {"customerio-secret-rotation": {"waivers": [{
        "id": "legacy-rotation",          optional; otherwise the waiver is "#<n>", its place in the list
        "reason": "The old rotation Lambda runs until CIO-123 ships",
        "owner": "@payments-oncall",       who answers for it; no colon (it ends the marker below)
        "expires": "2026-12-31",           YYYY-MM-DD, at most 90 days ahead
        "stacks": ["production"],          fnmatch on the stack name, case-insensitive; default every stack
        "resources": ["cio-site-id-*"]     fnmatch on the finding's resource URN, type or name; default all
    }]}}

How they apply (everything here is pure; `pack.py` calls `apply` once per policy and stack):
- A finding is waived by the first active waiver of its policy whose `stacks` match the stack's name (the
  part after any `org/project/`, as `productionStackPatterns`) and one of whose `resources` patterns
  matches its resource's URN, type or name, case-sensitively. A stack-level finding's resource is the
  root stack (`pulumi:pulumi:Stack`), as the engine attributes it.
- "Today" is the UTC date; `GOLIVE_TODAY=YYYY-MM-DD` in the pack's environment replaces it (tests, and
  asking what a run on a given day would block). A waiver applies through its `expires` day, in UTC, and
  not the day after.
- A waived finding is sent at ADVISORY (levels only go down), its message's first line
  `[waived until 2026-12-31 by @payments-oncall: The old rotation Lambda runs until CIO-123 ships]`.
  golive's reports read that line back (`golive/analysis/findings.py`): the two are kept in step by tests.
- The pack reports the waivers themselves as advice on the stack, under the waiver's policy, each message
  opening with `[waiver NAME: STATUS]`: `expired` (it no longer applies, so its findings are reported at
  the policy's level again), `stale` (active for this stack but matching none of this run's findings), and
  `not applied` (an expiry more than 90 days ahead, or a fault the config schema cannot see, such as
  2026-02-30). Waivers whose `stacks` do not match the stack are not mentioned.
- Those reports never block: blocking comes only from the findings, so fixing a finding is always enough
  to pass. The engine validates the config's shape against `WAIVERS_SCHEMA` before the pack runs, but
  not dates relative to today; `golive check` refuses a waiver that is more than 90 days ahead, or
  malformed, with exit status 2, and `golive waivers check` fails on expired and stale ones.
- Waivers belong to one policy: an `"all"` entry cannot carry them.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from .catalog import WAIVER_MAX_DAYS
from .model import Resource, RuleFinding, Stack

TODAY_ENV = "GOLIVE_TODAY"
STACK_TYPE = "pulumi:pulumi:Stack"
KEYS: tuple[str, ...] = ("id", "reason", "owner", "expires", "stacks", "resources")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

Status = Literal["active", "stale", "expired", "invalid", "other-stack"]


class WaiverError(ValueError):
    """One waiver cannot be used; `str()` names its policy and the waiver."""

    def __init__(self, policy: str, name: str, problem: str) -> None:
        self.policy, self.name, self.problem = policy, name, problem
        super().__init__(f"{policy} waiver {name}: {problem}" if name else f"{policy}: {problem}")


@dataclass(frozen=True)
class Target:
    """What a finding is about, as far as a waiver's `resources` patterns are concerned."""

    urn: str
    type: str
    name: str


@dataclass(frozen=True)
class Waiver:
    policy: str
    name: str  # its id, or "#<n>" by its place in the policy's list
    reason: str
    owner: str
    expires: date
    stacks: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    id: str = ""

    def for_stack(self, stack_name: str) -> bool:
        short = stack_name.rsplit("/", 1)[-1].lower()
        return any(fnmatch.fnmatchcase(short, p.lower()) for p in self.stacks)

    def matches(self, target: Target) -> bool:
        return any(
            fnmatch.fnmatchcase(value, pattern)
            for pattern in self.resources
            for value in (target.urn, target.type, target.name)
        )

    def marker(self) -> str:
        # One line whatever the reason holds: golive reads it back as the first line of the message.
        return f"[waived until {self.expires.isoformat()} by {self.owner}: {' '.join(self.reason.split())}]"

    def to_json(self) -> dict[str, Any]:
        """The waiver as the pack config holds it; defaults left out."""
        out: dict[str, Any] = {"id": self.id} if self.id else {}
        out.update(reason=self.reason, owner=self.owner, expires=self.expires.isoformat())
        if self.stacks != ("*",):
            out["stacks"] = list(self.stacks)
        if self.resources != ("*",):
            out["resources"] = list(self.resources)
        return out


def latest_expiry(today: date) -> date:
    return today + timedelta(days=WAIVER_MAX_DAYS)


def parse_date(value: Any) -> date:
    """A strict YYYY-MM-DD date; ValueError naming the value otherwise."""
    # date.fromisoformat alone also takes 20261231 and 2026-W53-4 on Python 3.11.
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def today(environ: Mapping[str, str] | None = None) -> date:
    """The UTC date, or `GOLIVE_TODAY`; ValueError when that is set but not a date."""
    value = (os.environ if environ is None else environ).get(TODAY_ENV, "").strip()
    if value:
        try:
            return parse_date(value)
        except ValueError as err:
            raise ValueError(f"{TODAY_ENV}: {err}") from None
    return datetime.now(UTC).date()


def name_of(index: int, raw: Any) -> str:
    """How messages name the waiver at `index` (0-based) of a policy's list."""
    if isinstance(raw, Mapping):
        given = raw.get("id")
        if isinstance(given, str) and _ID.fullmatch(given):
            return given
    return f"#{index + 1}"


def _patterns(policy: str, name: str, raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    if key not in raw:
        return ("*",)
    value = raw[key]
    if isinstance(value, str):
        raise WaiverError(policy, name, f'{key} must be a list of patterns, such as ["{value}"]')
    if not isinstance(value, list):
        raise WaiverError(policy, name, f"{key} must be a list of patterns")
    if not value:
        raise WaiverError(policy, name, f"{key} needs at least one pattern (leave it out to mean all)")
    for i, pattern in enumerate(value):
        if not isinstance(pattern, str) or not pattern.strip():
            raise WaiverError(policy, name, f"{key}.{i}: a pattern must be a non-empty string")
    return tuple(value)


def parse_waiver(policy: str, index: int, raw: Any) -> Waiver:
    """One waiver from the config; WaiverError for anything malformed. Expiry against today is not
    checked here: an expired waiver is a normal, reportable state, not a malformed one."""
    name = name_of(index, raw)
    if not isinstance(raw, Mapping):
        raise WaiverError(policy, name, "must be an object with reason, owner and expires")
    unknown = [k for k in raw if k not in KEYS]
    if unknown:
        raise WaiverError(policy, name, f"unknown key {unknown[0]!r} (a waiver has {', '.join(KEYS)})")
    given_id = raw.get("id", "")
    if not isinstance(given_id, str) or (given_id and not _ID.fullmatch(given_id)):
        raise WaiverError(policy, name, "id must be letters, digits, '.', '_' and '-', starting with a letter or digit")
    reason = raw.get("reason")
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        raise WaiverError(policy, name, "needs a reason")
    if not isinstance(reason, str):
        raise WaiverError(policy, name, "reason must be a string")
    owner = raw.get("owner")
    if owner is None or (isinstance(owner, str) and not owner.strip()):
        raise WaiverError(policy, name, "needs an owner (who answers for it)")
    if not isinstance(owner, str):
        raise WaiverError(policy, name, "owner must be a string")
    if ":" in owner or "\n" in owner or "\r" in owner:
        raise WaiverError(policy, name, "owner cannot hold a colon or a line break")
    if "expires" not in raw:
        raise WaiverError(policy, name, "needs an expiry date (expires: YYYY-MM-DD)")
    try:
        expires = parse_date(raw["expires"])
    except ValueError as err:
        raise WaiverError(policy, name, f"expires: {err}") from None
    return Waiver(
        policy=policy,
        name=name,
        reason=reason.strip(),
        owner=owner.strip(),
        expires=expires,
        stacks=_patterns(policy, name, raw, "stacks"),
        resources=_patterns(policy, name, raw, "resources"),
        id=given_id,
    )


def parse_waivers(policy: str, raw: Any) -> tuple[list[Waiver], list[WaiverError]]:
    """A policy's `waivers` property: the usable waivers, and what is wrong with the others."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], [WaiverError(policy, "", "waivers must be a list of waivers")]
    waivers: list[Waiver] = []
    errors: list[WaiverError] = []
    ids: set[str] = set()
    for index, item in enumerate(raw):
        try:
            waiver = parse_waiver(policy, index, item)
        except WaiverError as err:
            errors.append(err)
            continue
        if waiver.id and waiver.id in ids:
            errors.append(WaiverError(policy, f"#{index + 1}", f"id {waiver.id!r} is used twice"))
            continue
        ids.add(waiver.id)
        waivers.append(waiver)
    return waivers, errors


def too_far_ahead(waiver: Waiver, today: date) -> str | None:
    """The problem with an expiry beyond the limit, None when it is within it."""
    latest = latest_expiry(today)
    if waiver.expires > latest:
        return (
            f"it expires {waiver.expires.isoformat()}, more than {WAIVER_MAX_DAYS} days ahead "
            f"(at most {latest.isoformat()})"
        )
    return None


@dataclass
class Verdict:
    """One waiver's state in one run of its policy over one stack."""

    waiver: Waiver
    status: Status
    matched: int = 0  # findings its patterns match
    waived: int = 0  # of those, the ones it waives (an active waiver that came first may take one)
    problem: str = ""  # why it is invalid
    unwaived: int = 0  # expired: matched findings no other waiver takes, so reported at their level again


@dataclass
class Evaluation:
    waived_by: list[Waiver | None]  # per target, in order
    verdicts: list[Verdict] = field(default_factory=list)


def evaluate(waivers: Sequence[Waiver], targets: Sequence[Target], stack_name: str, today: date) -> Evaluation:
    """Which waiver waives which finding, and each waiver's status, for one policy over one stack."""
    verdicts: list[Verdict] = []
    for w in waivers:
        if not w.for_stack(stack_name):
            verdicts.append(Verdict(w, "other-stack"))
        elif w.expires < today:
            verdicts.append(Verdict(w, "expired"))
        elif (problem := too_far_ahead(w, today)) is not None:
            verdicts.append(Verdict(w, "invalid", problem=problem))
        else:
            verdicts.append(Verdict(w, "active"))
    relevant = [v for v in verdicts if v.status != "other-stack"]
    waived_by: list[Waiver | None] = []
    for target in targets:
        taker: Waiver | None = None
        for v in relevant:
            if v.waiver.matches(target):
                v.matched += 1
                if taker is None and v.status == "active":
                    taker = v.waiver
                    v.waived += 1
        waived_by.append(taker)
        if taker is None:
            for v in relevant:
                if v.status == "expired" and v.waiver.matches(target):
                    v.unwaived += 1
    for v in relevant:
        if v.status == "active" and v.matched == 0:
            v.status = "stale"
    return Evaluation(waived_by, verdicts)


def _findings(n: int) -> str:
    return f"{n} finding" + ("" if n == 1 else "s")


def notices(evaluation: Evaluation, errors: Iterable[WaiverError], stack_name: str) -> list[str]:
    """The messages the pack reports about the waivers themselves."""
    out: list[str] = []
    for v in evaluation.verdicts:
        w = v.waiver
        if v.status == "expired":
            then = (
                f"the {_findings(v.unwaived)} it matched {'is' if v.unwaived == 1 else 'are'} no longer waived"
                if v.unwaived
                else "it matches no finding either"
            )
            out.append(
                f"[waiver {w.name}: expired] It expired on {w.expires.isoformat()} (owner {w.owner}: "
                f"{' '.join(w.reason.split())}) and no longer applies; {then}. Renew it, at most "
                f"{WAIVER_MAX_DAYS} days ahead, or remove it."
            )
        elif v.status == "stale":
            out.append(
                f"[waiver {w.name}: stale] It matches no finding of this policy in stack {stack_name} "
                f"(owner {w.owner}, expires {w.expires.isoformat()}): remove it, or correct its stacks and "
                "resources patterns."
            )
        elif v.status == "invalid":
            out.append(f"[waiver {w.name}: not applied] Its findings are not waived: {v.problem}.")
    for err in errors:
        out.append(f"[waiver {err.name or 'list'}: not applied] Its findings are not waived: {err.problem}.")
    return out


def root_target(stack: Stack) -> Target:
    for r in stack.resources:
        if r.type == STACK_TYPE and not r.parent:
            return Target(r.urn, r.type, r.name)
    short = stack.name.rsplit("/", 1)[-1]
    name = f"{stack.project}-{short}"  # the Python SDK's name for the stack resource
    return Target(f"urn:pulumi:{short}::{stack.project}::{STACK_TYPE}::{name}", STACK_TYPE, name)


def target_of(stack: Stack, urn: str | None, root: Target) -> Target:
    """The engine attributes a finding without a URN, or with one that names no resource of the
    stack, to the root stack; matching follows it, so the report and the waiver agree."""
    resource: Resource | None = stack.resource(urn) if urn else None
    if resource is None:
        return root
    return Target(resource.urn, resource.type, resource.name)


def apply(policy: str, findings: Sequence[RuleFinding], raw: Any, stack: Stack, today: date) -> list[RuleFinding]:
    """The findings one policy reports over `stack` once its `waivers` config is applied: waived ones
    advisory and marked, then one advisory finding per expired, stale or unusable waiver."""
    waivers, errors = parse_waivers(policy, raw)
    if not waivers and not errors:
        return list(findings)
    root = root_target(stack)
    evaluation = evaluate(waivers, [target_of(stack, f.urn, root) for f in findings], stack.name, today)
    out = [
        replace(f, message=f"{w.marker()}\n{f.message}", advisory=True) if w is not None else f
        for f, w in zip(findings, evaluation.waived_by, strict=True)
    ]
    out.extend(RuleFinding(message, None, advisory=True) for message in notices(evaluation, errors, stack.name))
    return out


__all__ = [
    "KEYS",
    "STACK_TYPE",
    "TODAY_ENV",
    "Evaluation",
    "Target",
    "Verdict",
    "Waiver",
    "WaiverError",
    "apply",
    "evaluate",
    "latest_expiry",
    "name_of",
    "notices",
    "parse_date",
    "parse_waiver",
    "parse_waivers",
    "root_target",
    "target_of",
    "today",
    "too_far_ahead",
]
