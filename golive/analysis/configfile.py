"""The pack config file (`--policy-pack-config`, policy-config.json) as golive's own commands read and rewrite it.

`golive check` reads the file through `policyconfig.load`. The commands that change it - `golive waivers
add` (a waiver), `golive fingerprints --merge` (non-production fingerprints) - and those that show it
read it here, through that same loader, so a file one of them accepts is one `check` accepts and the
other way round (empty content is no config for all of them). A rewrite is refused unless `check`
would accept its result, and holds the folder's lock from its read to its rename
(`golive.output.locked`): two rewrites at once both land, one after the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checklist import catalog
from golive import loading, output
from golive.analysis import policyconfig
from golive.analysis.policyconfig import PackInfo, PolicyInfo
from golive.packfolder import PACK_DIR

PACK_NAME = "golive-customerio"  # checklist.pack.PACK_NAME; that module would load pulumi_policy and gRPC


def pack_metadata(pack_dir: Path = PACK_DIR) -> dict[str, Any]:
    """The pack's PulumiPolicy.yaml: its `version` and `description` among others."""
    meta = loading.load_yaml(Path(pack_dir) / "PulumiPolicy.yaml")
    return meta if isinstance(meta, dict) else {}


def catalog_info(pack_dir: Path = PACK_DIR) -> PackInfo:
    """What GetAnalyzerInfo would say about the pack, read from the catalog without starting it: enough
    for `policyconfig.reconcile` to judge a config file as `golive check` will."""
    meta = pack_metadata(pack_dir)
    policies = tuple(
        PolicyInfo(
            spec.name,
            spec.description,
            spec.level,
            spec.severity,
            "stack",
            config_schema=spec.schema(),
            tags=(catalog.CHECKLIST, spec.section),
            remediation_steps=spec.remediation,
        )
        for spec in sorted(catalog.POLICIES, key=lambda s: s.name)
    )
    return PackInfo(PACK_NAME, str(meta.get("version", "")), str(meta.get("description", "")), True, policies)


def read(path: str, *, missing_ok: bool = False) -> dict[str, Any]:
    """The file's JSON object as written (not reconciled), refused as `golive check` refuses it; {} for
    empty content, and for no file at all when `missing_ok`."""
    file = Path(path)
    if missing_ok and not file.exists():
        return {}
    data = policyconfig.read(file)  # golive/loading.py's refusals, as for `golive check`
    policyconfig.parse(data, source=str(file))  # the same refusals as `golive check`, naming the file
    return data  # parse() refused anything but an object


def check_acceptable(data: dict[str, Any], source: str) -> None:
    """ConfigError, naming `source` and the key, unless `golive check` would accept `data` as its config."""
    policyconfig.reconcile(catalog_info(), policyconfig.parse(data, source=source), source=source)


def dumps(data: dict[str, Any]) -> str:
    """The file as golive writes it: two-space indented, keys in their order."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def rewrite(path: str, change: Callable[[dict[str, Any]], dict[str, Any]], *, option: str) -> dict[str, Any]:
    """Read the file (none yet: {}), apply `change` and write the result whole, under the folder's lock;
    refused, with nothing written, when `golive check` would not accept the result. The result."""
    where = output.target(path, option)
    with output.locked(where):
        changed = change(read(path, missing_ok=True))
        check_acceptable(changed, path)
        output.write_output(dumps(changed), where)
    return changed
