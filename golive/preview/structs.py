"""Property values between protobuf Structs and the wire form the engine works on (the wire values
themselves are wire.py's): the conversions, the property dependencies a transform sees, secrets taken
out for a program that does not accept them, and the asset checks of a registration."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2

from golive.preview.refusal import MonitorError
from golive.preview.wire import (
    ARCHIVE_SIG,
    ASSET_SIG,
    OUTPUT_SIG,
    RESOURCE_SIG,
    SECRET_SIG,
    SIG,
    output_dependencies,
)
from golive.preview.wire import signature as _sig


def to_dict(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    return json_format.MessageToDict(struct) if struct is not None else {}


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def add_property_dependencies(props: dict[str, Any], property_deps: dict[str, list[str]]) -> dict[str, Any]:
    """source_eval.go upgradeOutputValues: carry each property's dependencies into its output value,
    so a transform that keeps the value keeps its dependencies."""
    result = {}
    for key, value in props.items():
        deps = property_deps.get(key)
        if deps is None:
            result[key] = value
            continue
        current = output_dependencies(value)
        if set(deps) <= set(current):
            result[key] = value
            continue
        output = dict(value) if _sig(value) == OUTPUT_SIG else {SIG: OUTPUT_SIG, "value": value}
        merged = dict.fromkeys(output.get("dependencies") or ())
        merged.update(dict.fromkeys(deps))
        output["dependencies"] = list(merged)
        result[key] = output
    return result


def strip_secrets(value: Any) -> Any:
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    if isinstance(value, dict):
        if _sig(value) == SECRET_SIG:
            return strip_secrets(value.get("value"))
        return {k: strip_secrets(v) for k, v in value.items()}
    return value


def check_assets(value: Any, pwd: Path) -> Any:
    """ComputeAssetHashes: the engine hashes every asset when it unmarshals a registration, so a
    missing file fails the preview. Archive hashes are not computed offline; their paths are checked."""
    if isinstance(value, list):
        return [check_assets(v, pwd) for v in value]
    if not isinstance(value, dict):
        return value
    sig = _sig(value)
    if sig == ASSET_SIG:
        out = dict(value)
        if "hash" not in out:
            if isinstance(out.get("text"), str):
                out["hash"] = hashlib.sha256(out["text"].encode()).hexdigest()
            elif isinstance(out.get("path"), str):
                path = pwd / out["path"]
                try:
                    out["hash"] = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as err:
                    raise MonitorError(f"failed to compute asset hash: open {out['path']}: "
                                       f"{(err.strerror or str(err)).lower()}") from None
        return out
    if sig == ARCHIVE_SIG:
        if isinstance(value.get("path"), str) and not (pwd / value["path"]).exists():
            raise MonitorError(f"failed to compute archive hash: open {value['path']}: "
                               "no such file or directory")
        if isinstance(value.get("assets"), dict):
            return {**value, "assets": {k: check_assets(v, pwd) for k, v in value["assets"].items()}}
        return value
    if sig in (SECRET_SIG, OUTPUT_SIG):
        return {k: (check_assets(v, pwd) if k == "value" else v) for k, v in value.items()}
    if sig == RESOURCE_SIG:
        return value
    return {k: check_assets(v, pwd) for k, v in value.items()}
