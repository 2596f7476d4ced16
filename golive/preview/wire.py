"""Pulumi's wire form of property values, in one place: the signature keys of secrets, resource
references, output values, assets and archives, the unknown sentinels, and the engine's conversions
of them: to output values for transforms (UpgradeToOutputValues) and back before a value reaches a
policy pack, the unknowns and output dependencies a request holds (sdk/go/common/resource/plugin/rpc.go,
pkg/resource/deploy/source_eval.go).
"""

from __future__ import annotations

from typing import Any

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_SENTINELS = frozenset({
    UNKNOWN,
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})
SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"


def signature(value: Any) -> Any:
    """The wire-form signature of a special value (secret, resource reference, …), else None."""
    return value.get(SIG) if isinstance(value, dict) else None


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def downgrade_outputs(value: Any) -> Any:
    """source_eval.go downgradeOutputValues: output values back to plain, unknown or secret values."""
    if isinstance(value, list):
        return [downgrade_outputs(v) for v in value]
    if not isinstance(value, dict):
        return value
    sig = signature(value)
    if sig == OUTPUT_SIG:
        result = downgrade_outputs(value["value"]) if "value" in value else UNKNOWN
        if value.get("secret"):
            result = {SIG: SECRET_SIG, "value": result}
        return result
    if sig == SECRET_SIG:
        return {SIG: SECRET_SIG, "value": downgrade_outputs(value.get("value"))}
    if sig == RESOURCE_SIG:
        out = dict(value)
        if "id" in out:
            out["id"] = downgrade_outputs(out["id"])
        return out
    if sig in (ASSET_SIG, ARCHIVE_SIG):
        return value
    return {k: downgrade_outputs(v) for k, v in value.items()}


def engine_view(value: Any) -> Any:
    """A value as the engine hands it to analyzers (KeepResources and KeepOutputValues off): output
    values downgraded to plain, unknown or secret values, and resource references turned into the
    resource's id (unknown while unknown) or, for components, its URN."""
    if isinstance(value, list):
        return [engine_view(v) for v in value]
    if not isinstance(value, dict):
        return value
    sig = signature(value)
    if sig == RESOURCE_SIG:
        if "id" in value:
            ref_id = downgrade_outputs(value["id"])
            if isinstance(ref_id, str) and ref_id and not is_unknown(ref_id):
                return ref_id
            return UNKNOWN
        return value.get("urn", "")
    if sig == OUTPUT_SIG:
        return engine_view(downgrade_outputs(value))
    if sig == SECRET_SIG:
        return {SIG: SECRET_SIG, "value": engine_view(value.get("value"))}
    if sig in (ASSET_SIG, ARCHIVE_SIG):
        return value
    return {k: engine_view(v) for k, v in value.items()}


def contains_unknowns(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        if signature(value) == OUTPUT_SIG and "value" not in value:
            return True
        return any(contains_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknowns(v) for v in value)
    return False


def upgrade_to_outputs(value: Any) -> Any:
    """The engine's view of a request's properties (UpgradeToOutputValues): unknowns and secrets
    become output values. Transforms see properties in this form."""
    if is_unknown(value):
        return {SIG: OUTPUT_SIG}
    if isinstance(value, list):
        return [upgrade_to_outputs(v) for v in value]
    if not isinstance(value, dict):
        return value
    sig = signature(value)
    if sig == SECRET_SIG:
        inner = upgrade_to_outputs(value.get("value"))
        if signature(inner) == OUTPUT_SIG:
            return {**inner, "secret": True}
        return {SIG: OUTPUT_SIG, "value": inner, "secret": True}
    if sig in (ASSET_SIG, ARCHIVE_SIG, RESOURCE_SIG, OUTPUT_SIG):
        return value
    return {k: upgrade_to_outputs(v) for k, v in value.items()}


def output_dependencies(value: Any, into: dict[str, None] | None = None) -> dict[str, None]:
    """source_eval.go addOutputDependencies, as an ordered set."""
    deps: dict[str, None] = {} if into is None else into
    if isinstance(value, list):
        for v in value:
            output_dependencies(v, deps)
    elif isinstance(value, dict):
        sig = signature(value)
        if sig == OUTPUT_SIG:
            if "value" in value:
                output_dependencies(value["value"], deps)
            for d in value.get("dependencies") or ():
                deps[d] = None
        elif sig == RESOURCE_SIG:
            output_dependencies(value.get("id"), deps)
        elif sig == SECRET_SIG:
            output_dependencies(value.get("value"), deps)
        elif sig not in (ASSET_SIG, ARCHIVE_SIG):
            for v in value.values():
                output_dependencies(v, deps)
    return deps
