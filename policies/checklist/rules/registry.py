"""The rule registry: one pure function per catalog entry, found by policy name.

A rule takes the stack and the policy's effective config (catalog defaults overlaid with the
pack config) and yields findings. Rules that only make sense for a Customer.io stack are
registered with `customerio_only=True`, so an organization-wide pack never blocks other stacks; rules
that require the application side (its App API key, its alarms) with `app_side=True`, so a stack that
holds only a sending domain's DNS is not asked for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog import POLICY_BY_NAME, PolicySpec
from ..model import RuleFinding, Stack
from ..recognize import holds_customerio_app, is_customerio_stack

RuleFn = Callable[[Stack, Mapping[str, Any]], Iterable[RuleFinding]]


@dataclass(frozen=True)
class Rule:
    spec: PolicySpec
    check: RuleFn
    customerio_only: bool
    app_side: bool = False


RULES: dict[str, Rule] = {}


def rule(name: str, *, customerio_only: bool = False, app_side: bool = False) -> Callable[[RuleFn], RuleFn]:
    """Register `check` as the logic of catalog policy `name`."""

    def register(check: RuleFn) -> RuleFn:
        if name not in POLICY_BY_NAME:
            raise KeyError(f"rule {name!r} has no catalog entry")
        if name in RULES:
            raise KeyError(f"rule {name!r} registered twice")
        RULES[name] = Rule(POLICY_BY_NAME[name], check, customerio_only, app_side)
        return check

    return register


def effective_config(name: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    merged = POLICY_BY_NAME[name].defaults()
    merged.update(config or {})
    return merged


def run(name: str, stack: Stack, config: Mapping[str, Any] | None = None) -> list[RuleFinding]:
    """Evaluate one policy over a stack: the same path the pack takes, without gRPC."""
    entry = RULES[name]
    cfg = effective_config(name, config)
    if entry.app_side and not holds_customerio_app(stack):
        return []
    if entry.customerio_only and not is_customerio_stack(stack, cfg):
        return []
    return list(entry.check(stack, cfg))
