"""Plain data the rules work on: resources as dicts with explicit unknowns, and findings.

Rules never see `pulumi_policy` proxies. A value that is not known at preview is the `UNKNOWN`
singleton, so a rule has to decide what an unknown means instead of having the SDK turn the
whole policy into an advisory "can't run policy during preview".
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The engine's wire sentinels for unknown values, one per type (pulumi sdk/go/common/resource/plugin/rpc.go).
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


class _Unknown:
    """A value the engine will only know after the update; compare with `is UNKNOWN`."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Turn a wire-form property value into plain Python: sentinels become UNKNOWN, secrets their value."""
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return plain(value.get("value"))
        # Keys interned: a large stack repeats the same few hundred property names across its resources.
        return {sys.intern(k) if isinstance(k, str) else k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Resource:
    """One resource of the stack, as the engine describes it to an analyzer."""

    type: str
    name: str
    props: Mapping[str, Any] = field(default_factory=dict)
    urn: str = ""
    ignore_changes: tuple[str, ...] = ()
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.urn:
            object.__setattr__(self, "urn", f"urn:pulumi:stack::project::{self.type}::{self.name}")

    def get(self, *path: str | int, default: Any = None) -> Any:
        """The value at `path`, UNKNOWN if any step is unknown, `default` if any step is missing."""
        value: Any = self.props
        for step in path:
            if value is UNKNOWN:
                return UNKNOWN
            if isinstance(step, int):
                if not isinstance(value, list) or not -len(value) <= step < len(value):
                    return default
                value = value[step]
            else:
                if not isinstance(value, Mapping) or step not in value:
                    return default
                value = value[step]
        return value

    def tags(self) -> dict[str, str]:
        """Known string tags; `tagsAll` (provider default tags merged in) when the program set none."""
        merged: dict[str, str] = {}
        for key in ("tagsAll", "tags"):
            tags = self.props.get(key)
            if isinstance(tags, Mapping):
                merged.update({k: v for k, v in tags.items() if isinstance(v, str)})
        return merged


@dataclass(frozen=True)
class Stack:
    """The whole preview: resources in registration order, plus the stack's identity and config."""

    name: str = "production"
    project: str = "project"
    production: bool = True
    resources: Sequence[Resource] = ()
    config: Mapping[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()
    tags: Mapping[str, str] = field(default_factory=dict)  # the stack's own tags (ConfigureStack)
    # The whole pack config as Configure gave it, in the file's shape: policy (or `all`) to
    # {"enforcementLevel": level, property: value, ...}; and the file it came from, when known.
    pack_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    pack_config_source: str = ""
    _by_urn: dict[str, Resource] = field(default_factory=dict, init=False, repr=False, compare=False)
    # type -> positions in `resources`: a rule that looks a type up per resource stays linear.
    _by_type: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_urn.update({r.urn: r for r in self.resources})
        for index, r in enumerate(self.resources):
            self._by_type.setdefault(r.type, []).append(index)

    def config_secret(self, key: str, path: str) -> bool:
        """Whether the config value at `path` (`ns:key`, or `ns:key.field.field` inside an object value)
        is secret. The engine lists whole keys; golive adds the paths of the secure values inside an
        object (`ns:key.field`), and then each value of that key is secret only if it or an object
        holding it is secure, as the stack file records it."""
        inside = [p for p in self.secret_keys if p.startswith((f"{key}.", f"{key}["))]
        if not inside:
            return key in self.secret_keys
        return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in inside)

    def resource(self, urn: str) -> Resource | None:
        return self._by_urn.get(urn)

    def of_type(self, *types: str) -> Iterator[Resource]:
        """The resources of these types, in registration order."""
        lists = [self._by_type[t] for t in dict.fromkeys(types) if t in self._by_type]
        if len(lists) == 1:
            positions: Iterable[int] = lists[0]
        else:
            positions = sorted(i for positions_of_type in lists for i in positions_of_type)
        resources = self.resources
        return (resources[i] for i in positions)

    def linked(self, resource: Resource, prop: str) -> list[Resource]:
        """The resources `prop` of `resource` was computed from (the engine's property dependencies)."""
        urns = resource.property_dependencies.get(prop, ())
        return [r for r in (self._by_urn.get(u) for u in urns) if r is not None]


@dataclass(frozen=True)
class RuleFinding:
    """One violation a rule reports. `advisory` marks advice that never blocks, even from a mandatory
    policy. (What golive's reports show is golive.analysis.findings.Finding: the engine's diagnostic.)"""

    message: str
    urn: str | None = None
    advisory: bool = False
