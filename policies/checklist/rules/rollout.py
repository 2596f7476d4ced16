"""§7 Staged Rollout Plan: the rollout flag holds a plan stage, and deploys never move it.

The flag is an SSM parameter tagged `customerio:rollout-flag`; its stage is in `value` or, for a
parameter written with `insecureValue`, there. Only `golive rollout` (or a person in a rollback)
should move it, so the property must be in `ignore_changes`: otherwise the next deploy puts the
program's value back and silently undoes a rollout or a rollback. That is advice (the flag works
either way), so it is reported as an advisory finding.

A flag the deploy creates starts at the plan's first stage, `0`: nobody gets Customer.io until
`golive rollout advance` has checked the gates. Once the flag exists its stage is `golive rollout`'s
(with `value` in ignore_changes the engine shows the deployed value, not the program's), so any plan
stage passes. The flag exists when its `version` is known: only AWS assigns it, so a create's preview
has it unknown, while a later preview and an exported state (`golive check --state`) carry it.

Unknowns: a stage that is unknown at preview is a finding. The program should create the flag
with the literal `0`; a computed stage is one a deploy can move without anybody choosing it.
The provider outputs both properties and may leave the unused one unknown in a preview, so the
first property with a known value is the one the flag uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..catalog import ROLLOUT_STAGES
from ..model import UNKNOWN, Resource, RuleFinding, Stack
from ..recognize import is_rollout_flag
from .registry import rule

_VALUE_PROPS = ("value", "insecureValue")


def _normalized(path: str) -> str:
    # The program may name the property in snake_case (`insecure_value`) or as the engine does.
    return path.replace("_", "").lower()


def _ignores(resource: Resource, prop: str) -> bool:
    wanted = _normalized(prop)
    return any(p == "*" or _normalized(p) == wanted for p in resource.ignore_changes)


def _stage(flag: Resource) -> tuple[str | None, Any]:
    """(property, value) holding the stage; property None when no property holds a known value."""
    values = {p: flag.get(p) for p in _VALUE_PROPS}
    for prop, value in values.items():
        if value is not None and value is not UNKNOWN:
            return prop, value
    return None, UNKNOWN if UNKNOWN in values.values() else None


def _exists(flag: Resource) -> bool:
    version = flag.get("version")
    return version is not None and version is not UNKNOWN


@rule("rollout-flag-stage", customerio_only=True)
def check(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    stages = ", ".join(ROLLOUT_STAGES)
    for flag in stack.resources:
        if not is_rollout_flag(flag):
            continue
        prop, value = _stage(flag)
        if value is UNKNOWN:
            yield RuleFinding(
                f"Rollout flag '{flag.name}': its stage must be known at preview to be verified; create it "
                f"with the literal '{ROLLOUT_STAGES[0]}'.",
                flag.urn,
            )
        elif value not in ROLLOUT_STAGES:
            shown = "no value" if value is None else f"{value!r}"
            yield RuleFinding(
                f"Rollout flag '{flag.name}' holds {shown}, which is not a rollout stage ({stages}); set it "
                "to a stage of the plan.",
                flag.urn,
            )
        elif value != ROLLOUT_STAGES[0] and not _exists(flag):
            yield RuleFinding(
                f"Rollout flag '{flag.name}' would be created at stage {value!r}: a new flag starts at the plan's "
                f"first stage, '{ROLLOUT_STAGES[0]}', and `golive rollout advance` moves it once the gates hold.",
                flag.urn,
            )
        used = prop or "value"
        if not _ignores(flag, used):
            yield RuleFinding(
                f"Rollout flag '{flag.name}' does not list '{used}' in ignore_changes: a deploy would "
                f'reset a live rollout to the program\'s value. Add ignore_changes=["{used}"] so that '
                "only `golive rollout` moves it.",
                flag.urn,
                advisory=True,
            )
