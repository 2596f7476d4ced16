"""`golive policies [--format text|json]`: the pack's policies, as checkov's `--list` lists its checks.

Read from the catalog (policies/checklist/catalog.py, the data the pack serves), in its order; no
pack starts and no config file is read (`golive explain POLICY --policy-pack-config FILE` shows what
a file changes). For each policy: its name, level in a production stack, severity, checklist
section, why it exists in one line (the rationale's first sentence; JSON carries it whole, with the
description), and the defaults of the thresholds and other properties it can be configured with
(those every policy shares, `productionStackPatterns` and `waivers`, are left out).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from golive.adoption.explain import value_text
from golive.adoption.waivers import PACK_NAME, catalog, pack_metadata


def one_line(text: str) -> str:
    """The first sentence of `text`, on one line."""
    flat = " ".join(text.split())
    end = flat.find(". ")
    return flat if end < 0 else flat[: end + 1]


def listing() -> dict[str, Any]:
    policies = [
        {
            "name": spec.name,
            "level": spec.level,
            "severity": spec.severity,
            "section": spec.section,
            "description": spec.description,
            "rationale": spec.rationale,
            "defaults": spec.defaults(),  # its own properties: the shared ones are not in `config`
        }
        for spec in catalog.POLICIES
    ]
    return {"pack": PACK_NAME, "version": str(pack_metadata().get("version", "")), "checklist": catalog.CHECKLIST,
            "policies": policies}


def _setting(value: Any) -> str:
    if isinstance(value, dict) and value:
        return ", ".join(f"{key} {value_text(item)}" for key, item in value.items())
    return value_text(value)


def render_text(data: dict[str, Any]) -> str:
    rows = [("POLICY", "LEVEL", "SEVERITY", "SECTION")]
    rows += [(p["name"], p["level"], p["severity"], p["section"]) for p in data["policies"]]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{data['pack']} {data['version']}: {len(data['policies'])} policies ({data['checklist']}); "
             "the level is a production stack's, every finding is advisory elsewhere.", ""]
    for row, policy in zip(rows, [None, *data["policies"]], strict=True):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, [*widths, 0], strict=True)).rstrip())
        if policy is None:
            continue
        lines.append(f"    why: {one_line(policy['rationale'])}")
        if policy["defaults"]:
            settings = "; ".join(f"{key}: {_setting(value)}" for key, value in policy["defaults"].items())
            lines.append(f"    defaults: {settings}")
    lines += ["", "golive explain POLICY: what it checks, how to fix it, the thresholds in force and how to waive it."]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from golive.output import write_output

    data = listing()
    write_output(json.dumps(data, indent=2, ensure_ascii=False) if args.format == "json" else render_text(data), None)
    return 0


__all__ = ["listing", "one_line", "render_text", "run"]
