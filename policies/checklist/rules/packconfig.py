"""The pack config held to the checklist: in production nothing in it may be looser than the catalog.

`--policy-pack-config` can raise `maxDays`, lower `minKeyBits`, relax an alarm threshold or turn a
mandatory policy off. A disabled policy never runs, so this policy reads the whole config the pack was
given (`Stack.pack_config`, what Configure carried for every policy) and reports each setting looser
than the checklist, one finding each, on the stack. What counts as looser:
- a mandatory policy at `advisory` or `disabled`, itself or through `all` (advisory policies never block,
  so turning them off loosens nothing);
- a property the catalog marks (`PolicySpec.looser`): a number above or below the checklist's, a
  threshold on the wrong side of the checklist's in its signal's direction, an `espDomains` list that
  leaves out one of Customer.io's senders.
Stricter settings, and properties that only add (`sendingDomains`, `nonProductionFingerprints`, ...), are
always allowed. Outside production the config is the team's business: nothing is reported. A deviation
the team accepts is waived like any other finding, under this policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..catalog import PACK_CONFIG_POLICY, POLICIES, SIGNALS, PolicySpec
from ..emailauth import normalize_name
from ..model import RuleFinding, Stack
from .registry import rule

_LOWERED = ("advisory", "disabled")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _shown(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _tail(source: str) -> str:
    return (
        f" (set in {source}). Make it stricter or drop it; to accept it for a while, waive this finding "
        f"under {PACK_CONFIG_POLICY} with a reason, an owner and an expiry."
    )


def _looser(spec: PolicySpec, prop: str, how: str, value: Any, source: str) -> Iterator[RuleFinding]:
    default = spec.config[prop].get("default")
    if how in ("above", "below"):
        given, checklist = _number(value), _number(default)
        if given is None or checklist is None:
            return
        if (given > checklist) if how == "above" else (given < checklist):
            bound = "at most" if how == "above" else "at least"
            yield RuleFinding(
                f"{spec.name} {prop} is {_shown(given)}, looser than the checklist's {bound} "
                f"{_shown(checklist)}" + _tail(source)
            )
    elif how == "signals" and isinstance(value, Mapping):
        for name, signal in SIGNALS.items():
            given = _number(value.get(name))
            if given is None:
                continue
            if (given > signal.threshold) if signal.direction == "above" else (given < signal.threshold):
                yield RuleFinding(
                    f"{spec.name} {prop}.{name} is {_shown(given)}, looser than the checklist's "
                    f"{_shown(float(signal.threshold))} (an alarm {signal.direction} it: {signal.meaning})"
                    + _tail(source)
                )
    elif how == "subset" and isinstance(value, list) and isinstance(default, list):
        kept = {normalize_name(v) for v in value if isinstance(v, str)}
        left_out = [d for d in default if normalize_name(d) not in kept]
        if left_out:
            yield RuleFinding(
                f"{spec.name} {prop} leaves out {', '.join(left_out)}, which the checklist counts among "
                f"Customer.io's senders ({', '.join(default)}), so their sending domains go unchecked"
                + _tail(source)
            )


def looser_settings(config: Mapping[str, Mapping[str, Any]], source: str) -> Iterable[RuleFinding]:
    """Each setting of `config` (policy name or `all` to its level and properties) looser than the catalog."""
    everything = (config.get("all") or {}).get("enforcementLevel")
    if everything in _LOWERED:
        yield RuleFinding(
            f"`all` is {everything}, which lowers every mandatory policy of the checklist" + _tail(source)
        )
    for spec in POLICIES:
        entry = config.get(spec.name) or {}
        level = entry.get("enforcementLevel")
        if spec.level == "mandatory" and level in _LOWERED and level != everything:
            yield RuleFinding(f"{spec.name} is {level}; the checklist's level is mandatory" + _tail(source))
        if spec.level != "mandatory":
            continue
        for prop, how in spec.looser.items():
            if prop in entry:
                yield from _looser(spec, prop, how, entry[prop], source)


@rule(PACK_CONFIG_POLICY, customerio_only=True)
def check_pack_config(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    if not stack.production:
        return
    yield from looser_settings(stack.pack_config, stack.pack_config_source or "the policy pack config")
