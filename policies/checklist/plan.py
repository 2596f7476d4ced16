"""The staged rollout plan (checklist §7) as data: stages, dwell times, gates and rollback triggers.

The defaults are the catalog's (policies/checklist/catalog.py: ROLLOUT_STAGES, ROLLOUT_DWELL_MINUTES,
ROLLOUT_TRIGGERS, ROLLOUT_GATES, ROLLBACK_STEPS); a stack changes them with one config object,
`golive:rollout`, read here for `golive rollout` and, through the same function, by the Pulumi program
(components/settings.py), so a key the program accepts is a key the command understands:

    golive:rollout:
      dwellMinutes: {internal: 60, "10": 60, "50": 60}   # least minutes at a stage before leaving it
      triggers: {"10": [api_error_rate], "50": [api_error_rate, bounce_rate], "100": [...]}
      gates: [staging, smoke]           # drop one to stop checking it
      stagingEnvironment: staging       # whose finished rollout the staging gate looks for
      internalUserIds: [u-123]          # who the internal stage enables
      internalDomains: [example.com]    # ... by e-mail domain
      autoRollback: true                # the AutoRollback component

Each key is optional; `dwellMinutes` and `triggers` override per stage and keep the other stages'
defaults. A trigger's threshold is its alarm's (`golive:thresholds`); `triggers` says which signals'
alarms roll the flag back at which stage. This module imports nothing beyond the catalog: the
Pulumi program, the pack's core and golive share it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from . import catalog

CONFIG_KEY = "golive:rollout"
GATES: tuple[str, ...] = ("staging", "smoke")
KEYS: tuple[str, ...] = ("dwellMinutes", "triggers", "gates", "stagingEnvironment", "internalUserIds",
                         "internalDomains", "autoRollback")
_ENVIRONMENT = re.compile(catalog.ENVIRONMENT_NAME)
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$")


class PlanError(ValueError):
    """`golive:rollout` has a key of the wrong shape; the message names the key.

    Not a GoliveError: the core imports nothing of golive's; the tool reports it as one (rollout.command)."""


@dataclass(frozen=True)
class Plan:
    stages: tuple[str, ...] = catalog.ROLLOUT_STAGES
    dwell_minutes: Mapping[str, float] = field(default_factory=lambda: dict(catalog.ROLLOUT_DWELL_MINUTES))
    triggers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(catalog.ROLLOUT_TRIGGERS))
    gates: tuple[str, ...] = catalog.ROLLOUT_GATES
    staging_environment: str = catalog.ROLLOUT_STAGING_ENVIRONMENT
    internal_user_ids: frozenset[str] = frozenset()
    internal_domains: frozenset[str] = frozenset()
    auto_rollback: bool = True

    def is_stage(self, value: object) -> bool:
        return isinstance(value, str) and value in self.stages

    def rank(self, value: str) -> int:
        """Position in the plan; a value outside it ranks below 0, so it is never taken for a wider stage."""
        return self.stages.index(value) if value in self.stages else -1

    def next_stage(self, stage: str) -> str | None:
        rank = self.rank(stage)
        return self.stages[rank + 1] if 0 <= rank < len(self.stages) - 1 else None

    def dwell(self, stage: str) -> timedelta:
        return timedelta(minutes=self.dwell_minutes.get(stage, 0))

    def triggers_at(self, stage: str) -> tuple[str, ...]:
        return tuple(self.triggers.get(stage, ()))

    @property
    def trigger_signals(self) -> tuple[str, ...]:
        """Every signal that rolls back some stage, in the catalog's order."""
        used = {s for signals in self.triggers.values() for s in signals}
        return tuple(s for s in catalog.SIGNALS if s in used)

    @property
    def rollback_steps(self) -> tuple[str, ...]:
        return catalog.ROLLBACK_STEPS


def parse(raw: Any, where: str = CONFIG_KEY) -> Plan:
    """The plan from the `golive:rollout` object (None: the defaults); errors name `where.key`."""
    if raw is None:
        return Plan()
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: expected an object with any of {', '.join(KEYS)}")
    for key in raw:
        if key not in KEYS:
            raise PlanError(f"{where}.{key}: unknown key; expected one of {', '.join(KEYS)}")
    stages = catalog.ROLLOUT_STAGES
    found: dict[str, Any] = {}
    if "dwellMinutes" in raw:
        dwell = dict(catalog.ROLLOUT_DWELL_MINUTES)
        for stage, minutes in _object(raw["dwellMinutes"], f"{where}.dwellMinutes").items():
            key = f"{where}.dwellMinutes.{stage}"
            _stage(stage, key, stages[:-1], "the last stage has nothing after it" if stage == stages[-1] else "")
            if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not math.isfinite(minutes) \
                    or minutes < 0:
                raise PlanError(f"{key}: expected a number of minutes, 0 or more, got {minutes!r}")
            dwell[stage] = minutes
        found["dwell_minutes"] = dwell
    if "triggers" in raw:
        triggers = dict(catalog.ROLLOUT_TRIGGERS)
        for stage, signals in _object(raw["triggers"], f"{where}.triggers").items():
            key = f"{where}.triggers.{stage}"
            _stage(stage, key, stages[1:], "at 0 nothing is left to roll back" if stage == stages[0] else "")
            names = _strings(signals, key)
            for name in names:
                if name not in catalog.SIGNALS:
                    raise PlanError(f"{key}: {name!r} is not a signal; expected some of {', '.join(catalog.SIGNALS)}")
            triggers[stage] = tuple(dict.fromkeys(names))
        found["triggers"] = triggers
    if "gates" in raw:
        gates = _strings(raw["gates"], f"{where}.gates")
        for gate in gates:
            if gate not in GATES:
                raise PlanError(f"{where}.gates: {gate!r} is not a gate; expected some of {', '.join(GATES)}")
        found["gates"] = tuple(g for g in GATES if g in gates)
    if "stagingEnvironment" in raw:
        name = raw["stagingEnvironment"]
        if not isinstance(name, str) or not _ENVIRONMENT.match(name):
            raise PlanError(f"{where}.stagingEnvironment: expected an environment name like staging, got {name!r}")
        found["staging_environment"] = name
    if "internalUserIds" in raw:
        ids = _strings(raw["internalUserIds"], f"{where}.internalUserIds")
        if any(not i for i in ids):
            raise PlanError(f"{where}.internalUserIds: an empty user id enables nobody; remove it")
        found["internal_user_ids"] = frozenset(ids)
    if "internalDomains" in raw:
        domains = [d.lower().rstrip(".") for d in _strings(raw["internalDomains"], f"{where}.internalDomains")]
        for domain in domains:
            if not _DOMAIN.match(domain):
                raise PlanError(f"{where}.internalDomains: expected domain names like example.com, got {domain!r}")
        found["internal_domains"] = frozenset(domains)
    if "autoRollback" in raw:
        if not isinstance(raw["autoRollback"], bool):
            raise PlanError(f"{where}.autoRollback: expected true or false, got {raw['autoRollback']!r}")
        found["auto_rollback"] = raw["autoRollback"]
    return Plan(**found)


def from_stack_config(values: Mapping[str, str], where: str) -> Plan:
    """The plan from a stack's config as golive.preview.project.load_stack_config gives it (JSON text per key)."""
    text = values.get(CONFIG_KEY)
    if text is None:
        return Plan()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raise PlanError(f"{where}: {CONFIG_KEY}: expected an object, got {text!r}") from None
    return parse(raw, f"{where}: {CONFIG_KEY}")


def _object(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"{key}: expected an object of stage to value")
    return value


def _stage(stage: Any, key: str, allowed: tuple[str, ...], why: str) -> None:
    if stage not in allowed:
        reason = why or f"not a stage of the plan ({', '.join(catalog.ROLLOUT_STAGES)})"
        raise PlanError(f"{key}: {reason}")


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PlanError(f"{key}: expected a list of strings")
    return value
