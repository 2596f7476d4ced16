"""`golive explain POLICY [--policy-pack-config FILE] [--stack NAME]`: one policy, for the person it blocked.

Everything comes from the catalog (policies/checklist/catalog.py), the same data the pack serves, and
from the config file judged as `golive check` judges it (policyconfig.reconcile over the catalog's
schemas, so a file `golive check` refuses is refused here too, exit 2). No program runs and the pack
is not started. Printed, in order: the checklist section; the level in force (the catalog's, or the
file's `enforcementLevel`/`all`) and, with `--stack`, whether that stack counts as production (every
finding is advice elsewhere); what the policy checks and why; its thresholds in force, each with where
it comes from (for `monitoring-alarm-thresholds`, the seven signals with the statistic and time to alarm
the rule requires, the checklist's value and the one in force); how to fix; the waivers the file holds
for it; and how to waive it: a `golive waivers add` command and the same waiver as JSON to paste,
expiring in 30 days (at most 90 are allowed).
"""

from __future__ import annotations

import argparse
import json
import textwrap
from datetime import timedelta
from typing import Any

from checklist.model import Stack
from checklist.recognize import is_production, production
from golive.adoption.waivers import (
    PACK_NAME,
    catalog,
    catalog_info,
    check_policy_names,
    list_rows,
    read_config,
    rules,
    unknown_policy,
)
from golive.adoption.waivers import today as waivers_today

_WIDTH = 100
SUGGESTED_DAYS = 30


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent) or [indent.rstrip()]


def value_text(value: Any) -> str:
    """A config value as explain and `golive policies` print it."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a Struct or JSON number that was written as an integer
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True) if value else "(none)"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _thresholds(spec: catalog.PolicySpec, props: dict[str, Any], given: dict[str, Any], source: str) -> list[str]:
    lines: list[str] = []
    if spec.name == "monitoring-alarm-thresholds":
        overrides = given.get("thresholds") if isinstance(given.get("thresholds"), dict) else {}
        rows = [("signal", "alarm when", "statistic", "fires within", "checklist", "in force")]
        for name, signal in catalog.SIGNALS.items():
            value = overrides.get(name) if overrides else None
            in_force = value_text(signal.threshold)
            if isinstance(value, int | float) and not isinstance(value, bool):
                looser = value > signal.threshold if signal.direction == "above" else value < signal.threshold
                in_force = f"{value_text(value)} ({source}{', looser than the checklist' if looser else ''})"
            gauge = catalog.GAUGE_METRICS.get(name)
            statistic = gauge[1] if gauge else f"{catalog.COUNT_STATISTIC} of counts"
            rows.append((name, f"{signal.direction}: {signal.meaning}", statistic,
                         f"{signal.max_minutes_to_alarm} min", value_text(signal.threshold), in_force))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        return lines
    for key, schema in spec.config.items():
        default = schema.get("default")
        where = f"from {source}; the checklist's is {value_text(default)}" if key in given else "the checklist's"
        lines.append(f"  {key}: {value_text(props.get(key, default))}  ({where})")
        if schema.get("description"):
            lines += _wrap(schema["description"], "      ")
    if not lines:
        lines.append("  none: the policy has no thresholds to configure")
    return lines


def explain(policy: str, config_file: str | None = None, stack: str | None = None) -> str:
    from golive.analysis import policyconfig

    spec = catalog.POLICY_BY_NAME.get(policy)
    if spec is None:
        raise unknown_policy(policy)
    data: dict[str, Any] = {}
    parsed = None
    if config_file is not None:
        data = read_config(config_file)
        check_policy_names(data, config_file)
        parsed = policyconfig.parse(data, source=config_file)
    reconciled = policyconfig.reconcile(catalog_info(), parsed, source=config_file or "policy pack config")
    in_force = reconciled[policy]
    props = dict(in_force.properties or {})
    # As the pack merges it: a stack is production or not for every policy at once.
    listed = [n for e in reconciled.values() for n in (e.properties or {}).get("productionStacks") or []]
    entry = data.get(policy)
    given = {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, dict) else {}
    source = config_file or ""
    today = waivers_today()

    out = [f"{spec.name}  ({PACK_NAME})", *_wrap(spec.section), ""]
    level = in_force.enforcement_level
    level_line = f"Level: {level}" + (f" (set in {source}; the catalog's is {spec.level})" if level != spec.level
                                       else " (the catalog's)")
    out.append(level_line + f"; severity {spec.severity}.")
    if spec.name == catalog.PACK_CONFIG_POLICY and level != spec.level:
        out += _wrap(f"The pack runs it at {spec.level} all the same, and reports the lowering as a loosening.", "")
        level = spec.level
    patterns = props.get("productionStackPatterns") or catalog.PRODUCTION_PATTERNS_SCHEMA["default"]
    if level != "disabled":
        if stack is None:
            out += _wrap(f"In a stack that is not production every finding is advisory; production stacks match "
                         f"{value_text(patterns)} (productionStackPatterns), or have a production "
                         f"{catalog.ENVIRONMENT_CONFIG_KEY}, credential secret or stack tag, unless productionStacks "
                         "lists the production stacks.", "")
        elif listed:
            said = "is" if production(Stack(name=stack), patterns, listed).production else "is not"
            out.append(f"Stack {stack} {said} production (productionStacks {value_text(listed)}): its findings are "
                       f"{level if said == 'is' else 'advisory'}.")
        elif is_production(stack, patterns):
            out += _wrap(f"Stack {stack} is production ({value_text(patterns)}): its findings are {level}.", "")
        else:
            out += _wrap(f"Stack {stack} is not production ({value_text(patterns)}): its findings are advisory.", "")
            out += _wrap(f"That is by its name: a production {catalog.ENVIRONMENT_CONFIG_KEY}, credential secret or "
                         "stack tag still makes it production when the pack runs.", "")
    out += ["", "What it checks", *_wrap(spec.description), "", "Why", *_wrap(spec.rationale), ""]
    out += ["Thresholds in force", *_thresholds(spec, props, given, source)]
    out += ["", "How to fix", *_wrap(spec.remediation), ""]

    raw = {policy: {"waivers": given["waivers"]}} if "waivers" in given else {}
    rows = list_rows(raw, today)
    if rows:
        elsewhere = set()
        if stack is not None:
            elsewhere = {w.name for w in rules.parse_waivers(policy, given["waivers"])[0] if not w.for_stack(stack)}
        out.append(f"Waivers in {source}")
        for r in rows:
            scope = f"stacks {value_text(r['stacks'])}; resources {value_text(r['resources'])}"
            mark = f" (not for stack {stack})" if r["waiver"] in elsewhere else ""
            out += _wrap(f"{r['waiver']}: {r['status']}{mark}, {r['detail']}; owner {r['owner'] or '?'}; {scope}; "
                         f"reason: {r['reason'] or '-'}")
        out.append("")

    expires = (today + timedelta(days=SUGGESTED_DAYS)).isoformat()
    latest = (today + timedelta(days=catalog.WAIVER_MAX_DAYS)).isoformat()
    target_stack = stack or "production"
    waiver = {
        "reason": "<why this is accepted, and what ends it>",
        "owner": "<@team-or-person>",
        "expires": expires,
        "stacks": [target_stack],
        "resources": ["<resource name, type or URN pattern>"],
    }
    file_arg = config_file or "policy-config.json"
    out.append(f"How to waive (a reason, an owner, an expiry on {latest} at the latest; it shows, marked, in "
               "every report)")
    out += _wrap("Scope it to the stacks and resources (URN, type or name patterns) it is for; a stack-wide "
                 "finding's resource is the stack itself, pulumi:pulumi:Stack. Leaving out --resource waives every "
                 "finding of the policy in those stacks.")
    out += [
        f"  golive waivers add {spec.name} --reason '<why>' --owner '<@team-or-person>' \\",
        f"      --expires {expires} --stack '{target_stack}' --resource '<resource name, type or URN pattern>' \\",
        f"      --policy-pack-config {file_arg}",
        f"  or paste into {file_arg}, merged with any \"{spec.name}\" entry already there:",
        f"  {{{json.dumps(spec.name)}: {{\"waivers\": [",
        f"    {json.dumps(waiver)}",
        "  ]}}",
    ]
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    from golive.output import write_output

    write_output(explain(args.policy, args.policy_pack_config, args.stack), None)
    return 0


__all__ = ["explain", "run", "value_text"]
