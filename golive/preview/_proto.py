"""The Pulumi SDK's protocol modules (`pulumi/runtime/proto/*_pb2*.py`) without the SDK around them.

`import pulumi.runtime.proto.resource_pb2` first runs `pulumi/__init__.py`, which loads the whole
SDK (automation API, mocks, asyncio...): time that golive's own process spends for nothing, on the
way to starting the engine services a program waits for. The generated modules only import each
other relatively, protobuf and grpc, so they load as well from their folder under a private package
name. Their messages are the very same classes: protobuf keeps one class per descriptor, and the
descriptors live in the default pool under their .proto file names, whoever loads them. When the SDK
is loaded already (a program's tests, say), its modules are used as they are.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

_SDK_PACKAGE = "pulumi.runtime.proto"
_PRIVATE_PACKAGE = "golive._pulumi_proto"


def _package() -> str:
    if _PRIVATE_PACKAGE in sys.modules:
        return _PRIVATE_PACKAGE
    if _SDK_PACKAGE in sys.modules:
        return _SDK_PACKAGE
    spec = importlib.util.find_spec("pulumi")  # finds the package without running its __init__
    folder = Path(next(iter(spec.submodule_search_locations or ()), "")) / "runtime" / "proto" if spec else None
    if folder is None or not (folder / "__init__.py").is_file():
        return _SDK_PACKAGE  # an unexpected layout: the ordinary import, and its errors
    package = types.ModuleType(_PRIVATE_PACKAGE, __doc__)
    package.__path__ = [str(folder)]
    package.__package__ = _PRIVATE_PACKAGE
    sys.modules[_PRIVATE_PACKAGE] = package
    return _PRIVATE_PACKAGE


def load(name: str) -> Any:
    """The protocol module `name` (e.g. "resource_pb2"), as `pulumi.runtime.proto.<name>` would give it."""
    return importlib.import_module(f"{_package()}.{name}")
