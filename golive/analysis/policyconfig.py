"""`--policy-pack-config FILE`: read, reconcile and validate it as the engine does, then build Configure.

The engine's rules (pkg/resource/analyzer/config.go, pkg/engine/update.go, pulumi/pulumi 3.260):
- The file is one JSON object; a value is an enforcement level or an object whose optional
  `enforcementLevel` is taken out, the rest being the policy's properties. Empty content is no config.
- Every policy starts from its own level and its schema's `default`s; the pack's initial config is
  applied over that, then the file. An `"all"` entry with a level sets every policy's level, and is
  itself passed on to the pack like any other key. Properties merge key by key.
- The result is validated per policy against `{type: object, properties (+ enforcementLevel), required}`.
- Configure receives every policy plus every configured key.

Where golive is stricter than the engine, it says so: a key that names no policy of the pack is an
error here (the engine passes it on silently, or fails later with `invalid enforcement level ""`), and so
is a property a policy's schema does not name (the engine cannot close a policy's schema; the pack
refuses such a property in Configure, checklist/pack.py).

Waivers (`waivers` in a policy whose schema declares it; policies/checklist/waivers.py) are checked
beyond their schema, before it, so the one line names the policy and the waiver: a malformed one (no
reason, owner or expiry, a date that is no date, an unknown key, an id used twice), or one expiring
more than 90 days from today (UTC, or `GOLIVE_TODAY`), is an error. An expired waiver is not: it is
how a waiver ends, and the pack reports it while the findings it covered block again. An `"all"`
entry cannot hold waivers, which belong to one policy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from golive import loading
from golive.errors import GoliveError

# jsonschema and the analyzer protocol (with the whole Pulumi SDK behind it) are imported where they
# are used: `golive check` reads the config file before it starts the program, and that must be quick.
if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from pulumi.runtime.proto import analyzer_pb2


LEVELS = ("advisory", "mandatory", "remediate", "disabled")
# GetAnalyzerInfo's conversion injects this into every schema of a pack that supports config.
_LEVEL_SCHEMA = {"type": "string", "enum": list(LEVELS)}


class ConfigError(GoliveError):
    """The policy pack config is unusable; one line naming the file, key or value."""


class PolicyConfig(NamedTuple):  # not a dataclass: read before the program starts (see project.Project)
    enforcement_level: str  # "" when the entry names none
    properties: dict[str, Any] | None = None



@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    severity: str  # low|medium|high|critical, "" when the policy names none
    policy_type: str  # resource|stack, "" when the pack does not say
    config_schema: dict[str, Any] = field(default_factory=dict)  # the schema's `properties`
    required: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    remediation_steps: str = ""
    url: str = ""
    display_name: str = ""


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    description: str
    supports_config: bool
    policies: tuple[PolicyInfo, ...]  # sorted by name, as the engine sorts them
    initial_config: dict[str, PolicyConfig] = field(default_factory=dict)
    display_name: str = ""
    tags: tuple[str, ...] = ()
    repository: str = ""

    def policy(self, name: str) -> PolicyInfo | None:
        return next((p for p in self.policies if p.name == name), None)


def parse(data: Any, *, source: str = "policy pack config") -> dict[str, PolicyConfig]:
    """An already-decoded config object, checked as parsePolicyPackConfig checks it."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a JSON object of policy name to level or settings")
    if "environments" in data:
        raise ConfigError(
            f'{source}: "environments": ESC environments cannot be resolved offline; '
            "put their policy settings in the file itself"
        )
    result: dict[str, PolicyConfig] = {}
    for key, value in data.items():
        level = ""
        properties: dict[str, Any] | None = None
        if isinstance(value, str):
            if value not in LEVELS:
                raise ConfigError(
                    f"{source}: parsing enforcement level for {key!r}: {value!r} is not a valid "
                    f"enforcement level (one of {', '.join(LEVELS)})"
                )
            level = value
        elif isinstance(value, dict):
            rest = dict(value)
            if "enforcementLevel" in rest:
                raw = rest.pop("enforcementLevel")
                if not isinstance(raw, str):
                    raise ConfigError(
                        f"{source}: parsing enforcement level for {key!r}: "
                        f"{json.dumps(raw)} is not a valid enforcement level; must be a string"
                    )
                if raw not in LEVELS:
                    raise ConfigError(
                        f"{source}: parsing enforcement level for {key!r}: {raw!r} is not a valid "
                        f"enforcement level (one of {', '.join(LEVELS)})"
                    )
                level = raw
            properties = rest or None
        else:
            raise ConfigError(
                f"{source}: parsing {key!r}: a {type(value).__name__} is not a valid value; "
                "must be a string or object"
            )
        if not level and not properties:
            continue  # the engine drops empty entries
        result[key] = PolicyConfig(level, properties)
    return result


def load(path: str | os.PathLike[str] | None) -> dict[str, PolicyConfig] | None:
    """Read `--policy-pack-config`; None when no file was given."""
    if path is None:
        return None
    return parse(read(path), source=str(path))


def read(path: str | os.PathLike[str]) -> Any:
    """The file's JSON as written (golive/loading.py's refusals); {} for empty content, which the engine
    accepts as no config."""
    return loading.load_json(path, empty={}, error=ConfigError)


NO_FILE = "none: the checklist's defaults"


def in_force(path: str | os.PathLike[str] | None) -> dict[str, str | None]:
    """The pack config file a check ran with, for its report: the path as given and the SHA-256 of the
    bytes read (one org-owned file checked out at different commits shows as different hashes), or
    no file at all. Called after `load` has read it."""
    if path is None:
        return {"file": None, "sha256": None, "note": NO_FILE}
    import hashlib

    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    return {"file": str(path), "sha256": digest, "note": None}


def in_force_line(pack_config: dict[str, str | None]) -> str:
    """One line for the text and Markdown reports."""
    if not pack_config.get("file"):
        return f"Pack config: {NO_FILE}."
    return f"Pack config: {pack_config['file']} (sha256 {str(pack_config['sha256'])[:12]})."


def _defaults(policy: PolicyInfo) -> dict[str, Any] | None:
    props = {
        k: v["default"] for k, v in policy.config_schema.items() if isinstance(v, dict) and "default" in v
    }
    return props or None


def _apply(result: dict[str, PolicyConfig], given: Mapping[str, PolicyConfig]) -> None:
    everything = given.get("all")
    if everything is not None and everything.enforcement_level in LEVELS:
        for name, current in list(result.items()):
            result[name] = PolicyConfig(everything.enforcement_level, current.properties)
    for name, config in given.items():
        current = result.get(name, PolicyConfig(""))
        level = config.enforcement_level if config.enforcement_level in LEVELS else current.enforcement_level
        properties = current.properties
        if config.properties:
            properties = {**(properties or {}), **config.properties}
        result[name] = PolicyConfig(level, properties)


def _schema(policy: PolicyInfo) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {**policy.config_schema, "enforcementLevel": _LEVEL_SCHEMA},
        # Stricter than the engine, whose schema is only `properties` and `required` (convertSchema): a
        # property no policy reads (`maxDayz`) is a typo that leaves the setting it meant at its default.
        "additionalProperties": False,
    }
    if policy.required:
        schema["required"] = list(policy.required)
    return schema


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _describe(error: ValidationError) -> str:
    """The schema's complaint without the offending value: config may hold fingerprints or names that a
    report should not echo back."""
    v, want = error.validator, error.validator_value
    if v in ("required", "additionalProperties", "dependencies", "dependentRequired", "propertyNames"):
        return error.message  # these name keys, not values
    if v == "type":
        return (
            f"expected {' or '.join(want) if isinstance(want, list) else want}, given {_kind(error.instance)}"
        )
    if v == "enum":
        return f"must be one of {json.dumps(want)}"
    if v == "const":
        return f"must be {json.dumps(want)}"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if v in bounds:
        return f"must be {bounds[str(v)]} {want}"
    return f"does not satisfy {v}: {json.dumps(want, default=str)}"


def preload() -> None:
    """Import the validator ahead of `validate`, at a moment when nothing waits on this process."""
    import fastjsonschema  # noqa: F401


def _properties(config: Mapping[str, PolicyConfig], policy: PolicyInfo) -> dict[str, Any]:
    entry = config.get(policy.name)
    return dict(entry.properties or {}) if entry else {}


def _valid_at_a_glance(info: PackInfo, config: Mapping[str, PolicyConfig]) -> bool:
    """Whether every policy's config is valid, by fastjsonschema (Draft 7, compiled to Python).

    A `golive check` validates the config on every run, and it is nearly always valid: this answers
    in a fraction of the time importing jsonschema alone takes, CPU the program needs while it
    starts. `_schema` is an object with `properties` and `required` only, so each property is checked
    against its own schema, and each distinct property schema (the shared `waivers` one, say) is
    compiled once. Any doubt - an error, a schema it cannot compile (a `$ref` to the root, say) -
    goes to jsonschema, whose verdict and messages are the ones reported.
    """
    import fastjsonschema

    compiled: dict[str, Callable[[Any], Any]] = {}
    try:
        for policy in info.policies:
            props = _properties(config, policy)
            schema = _schema(policy)
            if any(name not in props for name in schema.get("required", ())):
                return False
            for name, value in props.items():
                prop_schema = schema["properties"].get(name)
                if prop_schema is None:
                    return False  # a property the policy does not have
                key = json.dumps(prop_schema, sort_keys=True)
                if key not in compiled:
                    # As jsonschema validates: defaults not written into the value, formats not checked.
                    compiled[key] = fastjsonschema.compile(prop_schema, use_default=False, use_formats=False)
                compiled[key](value)
    except Exception:  # JsonSchemaValueException, JsonSchemaDefinitionException, or a failure of its own
        return False
    return True


def validate(info: PackInfo, config: Mapping[str, PolicyConfig]) -> list[str]:
    """The engine's validation messages, `<policy>: <property>: <complaint>`, sorted."""
    if not info.supports_config or _valid_at_a_glance(info, config):
        return []
    return _validation_errors(info, config)


def _validation_errors(info: PackInfo, config: Mapping[str, PolicyConfig]) -> list[str]:
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import SchemaError

    errors: list[str] = []
    for policy in info.policies:
        props = _properties(config, policy)
        try:
            validator = Draft7Validator(_schema(policy))
            found = list(validator.iter_errors(props))
        except SchemaError as err:
            errors.append(f"{policy.name}: the pack's config schema is invalid: {err.message}")
            continue
        for error in found:
            where = ".".join(str(p) for p in error.absolute_path)
            errors.append(f"{policy.name}: {where + ': ' if where else ''}{_describe(error)}")
    return sorted(errors)


def reconcile(
    info: PackInfo, file_config: Mapping[str, PolicyConfig] | None, *, source: str = "policy pack config"
) -> dict[str, PolicyConfig]:
    """Defaults, then the pack's initial config, then the file; validated. What Configure receives."""
    if not info.supports_config:
        if file_config:
            raise ConfigError(f"{source}: policy pack {info.name!r} does not support config")
        return {}
    names = {p.name for p in info.policies}
    for key, entry in (file_config or {}).items():
        if key == "all":
            if not entry.enforcement_level:
                raise ConfigError(
                    f'{source}: "all": needs an enforcementLevel (the engine rejects it with: '
                    'invalid enforcement level "")'
                )
            continue
        if key not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(
                f"{source}: {key!r} is not a policy of pack {info.name}@v{info.version} "
                f"(its policies: {known})"
            )

    _check_waivers(info, file_config or {}, source)

    result = {p.name: PolicyConfig(p.enforcement_level, _defaults(p)) for p in info.policies}
    if info.initial_config:
        _apply(result, info.initial_config)
    if file_config:
        _apply(result, file_config)

    problems = validate(info, result)
    if problems:
        prefix = f"{source}: validating policy config: {info.name} {info.version}  "
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise ConfigError(prefix + problems[0] + more)
    return result


def _check_waivers(info: PackInfo, file_config: Mapping[str, PolicyConfig], source: str) -> None:
    given = {k: e.properties["waivers"] for k, e in file_config.items() if e.properties and "waivers" in e.properties}
    if not given:
        return
    if "all" in given:
        raise ConfigError(f'{source}: "all": cannot hold waivers; each belongs to one policy')
    from checklist import waivers as rules

    try:
        today = rules.today()
    except ValueError as err:
        raise ConfigError(str(err)) from None
    problems: list[str] = []
    for name, raw in given.items():
        policy = info.policy(name)
        if policy is None or "waivers" not in policy.config_schema:
            continue  # not this kind of waivers: the pack's own schema decides
        waivers, errors = rules.parse_waivers(name, raw)
        problems += [str(e) for e in errors]
        problems += [f"{w.policy} waiver {w.name}: {p}" for w in waivers if (p := rules.too_far_ahead(w, today))]
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {problems[0]}{more}")


def configure_request(config: Mapping[str, PolicyConfig]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """The Configure message; ConfigError for an entry without a valid level, as the engine refuses it."""
    from google.protobuf import struct_pb2

    from golive.preview._proto import load

    analyzer_pb2 = load("analyzer_pb2")

    levels = {
        "advisory": analyzer_pb2.ADVISORY,
        "mandatory": analyzer_pb2.MANDATORY,
        "remediate": analyzer_pb2.REMEDIATE,
        "disabled": analyzer_pb2.DISABLED,
    }
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in config.items():
        if entry.enforcement_level not in levels:
            raise ConfigError(f"{name!r}: invalid enforcement level {entry.enforcement_level!r}")
        props = struct_pb2.Struct()
        if entry.properties:
            props.update(entry.properties)
        request.policyConfig[name].CopyFrom(
            analyzer_pb2.PolicyConfig(enforcementLevel=levels[entry.enforcement_level], properties=props)
        )
    return request


__all__ = [
    "LEVELS",
    "ConfigError",
    "PolicyConfig",
    "configure_request",
    "load",
    "parse",
    "reconcile",
    "validate",
]
