"""The rollout flag in SSM: its versions, and writes that concurrent writers cannot make skip a stage.

SSM's PutParameter has no conditional write, but every write to a parameter gets the next version
number, and that numbering is the order SSM applied the writes in. A write is therefore a
compare-and-set on the version, checked after the fact:

1. The command reads the flag (value `v`, version `N`) and checks its gates against it: dwell time,
   trigger alarms, smoke test; seconds pass.
2. Right before writing it reads the version again. Anything other than `N`: someone moved the flag
   while the gates ran, and the command refuses without writing.
3. It writes, and SSM answers with the version it made. `N + 1`: no write came between the read in
   2 and this one, so the write was based on the value it replaced - it won, and is labelled.
4. Anything higher: writes by others landed in the round trip between 2 and 3 (versions `N+1 ..
   M-1`), and this write was based on a value that was no longer there. It lost, and must not stand
   as it was written. Resolution uses only versions and values, so every loser reaches the same
   answer without talking to the others:
   - the safe value is the narrowest stage any of the racing writes wrote (a value that is not a
     stage counts as 0);
   - a narrowing write (rollback, `set` to a lower stage) that is no wider than that stays: a
     rollback always lands;
   - anything else is undone at once: while the flag still holds the loser's write, the loser writes
     the safe value over it (labelled `undo`; the undone write is labelled `lost`), and reports a
     refusal. A loser that wrote the safe value itself (two advances from one stage) leaves it
     (`duplicate`). When someone wrote after the loser, their write supersedes it and the loser
     writes nothing more.
   A loser's value is visible for the one round trip its undo takes; it is never built on, because:
5. A widening write (advance, `set` to a higher stage) only starts from a settled version: one that
   golive labelled as a write that stood, the flag's first version, or one older than SETTLE (a write
   from outside golive, or one whose writer died before labelling it). An unsettled head makes the
   command wait up to SETTLE_WAIT, then refuse.

So two advances from the same stage cannot both move it (the loser ends as a refusal, the flag one
stage on), an advance racing a rollback cannot undo it, and no sequence of writes moves the flag
more than one stage up from a value that stood, except a `set --force`, labelled `force` with its
reason, which a person asked for by name. moto does not serialize a parameter's writes the way
SSM does; the race tests give it the lock SSM has (tests/golive/test_rollout_command.py).

Labels (LabelParameterVersion) record what golive did, as `golive-<action>-v<version>[.<reason>]`;
the version in the label keeps labels unique, since a label moves if put on a second version.
SSM keeps 100 versions and refuses a write when the oldest one carries a label; the write then drops
the oldest version's labels and tries again. Who and when come from the history's LastModifiedUser
and LastModifiedDate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from checklist.plan import Plan
from golive.errors import GoliveError
from golive.operations.rollout.aws import AwsError, call, pages

SETTLE = timedelta(seconds=10)
SETTLE_WAIT = 3.0  # seconds a widening write waits for a labeller in flight before refusing
RESOLVE_ATTEMPTS = 5
ACTIONS = ("auto-rollback", "advance", "set", "force", "rollback", "undo", "duplicate", "lost")
_LABEL = re.compile(rf"^golive-({'|'.join(ACTIONS)})-v(\d+)(?:\.(.*))?$")
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_LABEL = 100


class FlagError(GoliveError):
    """The flag could not be read or written as asked; the message says what stands now."""


class FlagMissing(FlagError):
    """No parameter of that name: the stack has no flag (yet)."""


class FlagMoved(FlagError):
    """The flag changed between the read the gates were checked against and the write; nothing was written."""

    def __init__(self, message: str, current: Version) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class Version:
    version: int
    value: str
    modified: datetime | None = None
    user: str | None = None
    labels: tuple[str, ...] = ()

    def _label(self) -> re.Match[str] | None:
        for label in self.labels:
            if (match := _LABEL.match(label)) and int(match[2]) == self.version:
                return match
        return None

    @property
    def action(self) -> str | None:
        """What golive did in this version (`advance`, `set`, `force`, `rollback`, `auto-rollback`, `undo`, `lost`)."""
        match = self._label()
        return match[1] if match else None

    @property
    def reason(self) -> str | None:
        match = self._label()
        return match[3] if match and match[3] else None


def label_for(action: str, version: int, reason: str | None = None) -> str:
    label = f"golive-{action}-v{version}"
    slug = _SLUG.sub("-", reason or "").strip("-.")
    return f"{label}.{slug}"[:_MAX_LABEL].rstrip("-.") if slug else label


@dataclass
class Written:
    """What a write did. `stood`: the flag holds the value asked for, written by this command."""

    target: str
    version: int  # the version this command's write became
    won: bool  # no other write came between the re-read and the write
    stood: bool
    final: Version  # the flag as this command last saw it
    raced: tuple[Version, ...] = ()  # the writes that came between, when it lost
    restores: tuple[int, ...] = ()  # versions written to undo this write
    warnings: list[str] = field(default_factory=list)


class Flag:
    """One flag parameter and its CAS writes; `ssm` is a boto3 SSM client with timeouts."""

    def __init__(self, ssm: Any, name: str, plan: Plan, *, timeout: float) -> None:
        self.ssm = ssm
        self.name = name
        self.plan = plan
        self.timeout = timeout

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return call(self.ssm, operation, self.name, self.timeout, **params)
        except AwsError as err:
            if err.not_found:
                raise FlagMissing(f"no rollout flag {self.name}: run `pulumi up` (RolloutFlag creates it at stage "
                                  f"{self.plan.stages[0]}), or give the stack's --outputs") from None
            raise

    def head(self) -> Version:
        found = self._call("get_parameter", Name=self.name).get("Parameter", {})
        return Version(int(found.get("Version", 0)), str(found.get("Value", "")), found.get("LastModifiedDate"))

    def history(self) -> list[Version]:
        """Every version SSM keeps (the newest 100), oldest first."""
        try:
            entries = pages(self.ssm, "get_parameter_history", self.name, "Parameters", self.timeout,
                            Name=self.name, MaxResults=50)
        except AwsError as err:
            if err.not_found:
                raise FlagMissing(f"no rollout flag {self.name}: run `pulumi up` (RolloutFlag creates it at stage "
                                  f"{self.plan.stages[0]}), or give the stack's --outputs") from None
            raise
        versions = [Version(int(e.get("Version", 0)), str(e.get("Value", "")), e.get("LastModifiedDate"),
                            e.get("LastModifiedUser"), tuple(e.get("Labels") or ())) for e in entries]
        if not versions:
            raise FlagMissing(f"no rollout flag {self.name}: run `pulumi up`")
        return sorted(versions, key=lambda v: v.version)

    def settled(self, head: Version, now: datetime) -> bool:
        """Whether a widening write may start from `head` (module docstring, point 5)."""
        if head.version == 1:
            return True
        action = head.action
        if action is not None:
            return action != "lost"
        return head.modified is not None and now - head.modified >= SETTLE

    # --- writing -----------------------------------------------------------------------------------

    def write(self, target: str, base: Version, action: str, reason: str | None = None) -> Written:
        """Put `target` if the flag is still at `base`'s version; see the module docstring for a lost race."""
        current = self.head()
        if current.version != base.version:
            raise FlagMoved(f"{self.name} changed while the checks ran (version {base.version} -> {current.version}, "
                            f"now {current.value!r}); nothing was written: run the command again", current)
        version = self._put(target)
        if version == base.version + 1:
            written = Written(target, version, won=True, stood=True, final=Version(version, target))
            written.warnings += self._label(version, action, reason)
            return written
        return self._resolve(target, base, action, reason, version)

    def _narrowing(self, target: str, base: Version) -> bool:
        plan = self.plan
        return target == plan.stages[0] or (plan.is_stage(base.value) and plan.rank(target) < plan.rank(base.value))

    def _safe(self, writes: Sequence[Version]) -> str:
        values = [v.value if self.plan.is_stage(v.value) else self.plan.stages[0] for v in writes]
        return min(values, key=self.plan.rank)

    def _resolve(self, target: str, base: Version, action: str, reason: str | None, first: int) -> Written:
        ours = [first]
        narrowing = self._narrowing(target, base)
        stood = False
        raced: list[Version] = []
        final = Version(first, target)
        for _ in range(RESOLVE_ATTEMPTS):
            after = [v for v in self.history() if v.version > base.version]
            raced = [v for v in after if v.version not in ours]
            final = after[-1] if after else final
            safe = self._safe(raced) if raced else target
            stood = narrowing and self.plan.rank(target) <= self.plan.rank(safe)
            if final.version not in ours:
                break  # a later write supersedes ours; its writer answers for it
            keep = target if stood else safe
            if final.value == keep:
                break
            ours.append(self._put(keep))
            final = Version(ours[-1], keep)
        warnings: list[str] = []
        if stood:
            warnings += self._label(first, action, reason)
        elif final.version == first:
            # It wrote the very value that stands (two advances from one stage): harmless, and a base to build on.
            warnings += self._label(first, "duplicate")
        else:
            warnings += self._label(first, "lost")
        for restore in ours[1:]:
            warnings += self._label(restore, "undo")
        stood = stood and final.version == first
        return Written(target, first, won=False, stood=stood, final=final, raced=tuple(raced),
                       restores=tuple(ours[1:]), warnings=warnings)

    def _put(self, value: str) -> int:
        # No Type or Description: a write must change the value only, never what Pulumi manages.
        try:
            return int(call(self.ssm, "put_parameter", self.name, self.timeout, Name=self.name, Value=value,
                            Overwrite=True)["Version"])
        except AwsError as err:
            if err.code != "ParameterMaxVersionLimitExceeded":
                raise
        oldest = self.history()[0]
        call(self.ssm, "unlabel_parameter_version", self.name, self.timeout, Name=self.name,
             ParameterVersion=oldest.version, Labels=list(oldest.labels))
        return int(call(self.ssm, "put_parameter", self.name, self.timeout, Name=self.name, Value=value,
                        Overwrite=True)["Version"])

    def _label(self, version: int, action: str, reason: str | None = None) -> list[str]:
        label = label_for(action, version, reason)
        try:
            answer = call(self.ssm, "label_parameter_version", self.name, self.timeout, Name=self.name,
                          ParameterVersion=version, Labels=[label])
        except AwsError as err:
            # The write stands either way; unlabelled, it only settles later (SETTLE) and shows no reason.
            return [f"version {version} was written but not labelled ({err})"]
        if answer.get("InvalidLabels"):
            return [f"version {version} was written but SSM refused the label {label!r}"]
        return []
