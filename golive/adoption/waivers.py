"""`golive waivers list|add|check`: the waivers in a pack config file, and what they do to a stack.

The rules themselves (matching, expiry, staleness) are the pack's pure functions in
policies/checklist/waivers.py, imported here as `rules`, so golive never judges a waiver differently
from the pack. Dates are UTC days; `GOLIVE_TODAY=YYYY-MM-DD` replaces today here as in the pack.

- `list` reads the file only: each waiver with its status today, `active`, `expired` or `invalid`
  (malformed, or expiring more than 90 days ahead). Whether one is stale needs a run: see `check`.
  Exit 0 whatever the statuses; 2 when the file cannot be read or names a policy the pack lacks.
- `add POLICY --reason R --owner O --expires DATE [--stack P]... [--resource P]... [--id ID]` appends
  one waiver to the policy's entry (a level string becomes `{"enforcementLevel": level, ...}`), creating
  the file when it does not exist. It refuses, with one line and exit 2, a waiver without a reason,
  owner or expiry, an expiry in the past or more than 90 days ahead, an unknown policy, a malformed
  pattern or id, and a file `golive check` would refuse once the waiver is in. The file is rewritten
  whole or not at all (a temporary file, then a rename), two-space indented, keys in their order.
  With `--resource`, the program in `--program-dir` (default .) runs offline for each stack there
  that the waiver covers, and a pattern matching no resource's URN, type or name in any of them is
  a warning on standard error (a typo waives nothing); the waiver is written all the same.
- `check [PROGRAM_DIR] --stack S` runs `golive check` (the program offline, the real pack over gRPC,
  the file as `--policy-pack-config`) and evaluates each waiver over that run's findings: `active`
  (how many findings it waives), `stale` (for this stack but matching no finding), `expired` (how
  many findings it no longer waives), `other-stack` (its `stacks` leave this one out) or `disabled`
  (its policy is disabled). Exit 1 when any waiver is expired, stale or invalid — a waiver to renew or
  remove — whether or not the findings block; 0 otherwise; 2 on bad input, as `golive check`.
  Meant for a scheduled job that keeps the file honest; `golive check` itself stays the gate.
- Default file: `policy-config.json` in the current folder, the name the README uses.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from checklist import catalog
from checklist import waivers as rules
from golive import output
from golive.analysis import configfile
from golive.analysis.configfile import PACK_NAME, catalog_info, pack_metadata
from golive.errors import GoliveError


class WaiverInputError(GoliveError):
    """Bad input to `golive waivers`; one line naming the policy, waiver, file or value."""


def today() -> date:
    try:
        return rules.today()
    except ValueError as err:
        raise WaiverInputError(str(err)) from None


def read_config(path: str, *, missing_ok: bool = False) -> dict[str, Any]:
    """The file's JSON object as written (not reconciled); {} for empty content."""
    return configfile.read(path, missing_ok=missing_ok)


def unknown_policy(name: str, source: str = "") -> WaiverInputError:
    known = ", ".join(sorted(catalog.POLICY_BY_NAME))
    return WaiverInputError(f"{source + ': ' if source else ''}{name!r} is not a policy of pack {PACK_NAME} "
                            f"(its policies: {known})")


def check_policy_names(data: Mapping[str, Any], source: str) -> None:
    """golive's refusals that need no pack: a key naming no policy, and waivers under `all`."""
    for key, value in data.items():
        if key == "all":
            if isinstance(value, Mapping) and "waivers" in value:
                raise WaiverInputError(f'{source}: "all": cannot hold waivers; each belongs to one policy')
        elif key not in catalog.POLICY_BY_NAME:
            raise unknown_policy(key, source)


def _entries(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(policy, raw waivers) for every entry that has waivers, in the file's order."""
    return [
        (name, value["waivers"])
        for name, value in data.items()
        if name != "all" and isinstance(value, Mapping) and "waivers" in value
    ]


def _days(expires: date, today: date) -> str:
    delta = (expires - today).days
    if delta == 0:
        return "today"  # and not tomorrow: the expiry day is the last one it applies
    if delta > 0:
        return f"in {delta} day{'' if delta == 1 else 's'}"
    return f"{-delta} day{'' if delta == -1 else 's'} ago"


def _row(w: rules.Waiver, status: str, detail: str = "") -> dict[str, Any]:
    return {
        "policy": w.policy,
        "waiver": w.name,
        "status": status,
        "expires": w.expires.isoformat(),
        "owner": w.owner,
        "reason": w.reason,
        "stacks": list(w.stacks),
        "resources": list(w.resources),
        "detail": detail,
    }


def _invalid_row(err: rules.WaiverError) -> dict[str, Any]:
    return {"policy": err.policy, "waiver": err.name or "(list)", "status": "invalid", "expires": "", "owner": "",
            "reason": "", "stacks": [], "resources": [], "detail": err.problem}


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> list[str]:
    cells = [[title for _, title in columns]]
    for row in rows:
        cells.append([", ".join(v) if isinstance(v := row[key], list) else str(v) for key, _ in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]


# --- list ------------------------------------------------------------------------------------------


def list_rows(data: Mapping[str, Any], today: date) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for policy, raw in _entries(data):
        waivers, errors = rules.parse_waivers(policy, raw)
        for w in waivers:
            if w.expires < today:
                rows.append(_row(w, "expired", f"expired {_days(w.expires, today)}"))
            elif problem := rules.too_far_ahead(w, today):
                rows.append(_row(w, "invalid", problem))
            else:
                rows.append(_row(w, "active", f"expires {_days(w.expires, today)}"))
        rows.extend(_invalid_row(e) for e in errors)
    return rows


def _list(args: argparse.Namespace) -> int:
    if getattr(args, "tree", None):
        return _list_tree(args)
    if getattr(args, "reports", None):
        raise WaiverInputError("--report: tells which stacks the waivers of a tree hide findings in; give --tree DIR")
    data = read_config(args.policy_pack_config)
    check_policy_names(data, args.policy_pack_config)
    now = today()
    rows = list_rows(data, now)
    if args.format == "json":
        _write({"file": args.policy_pack_config, "today": now.isoformat(), "waivers": rows}, None)
        return 0
    if not rows:
        print(f"{args.policy_pack_config}: no waivers.")
        return 0
    counts = {s: sum(r["status"] == s for r in rows) for s in ("active", "expired", "invalid")}
    print(f"{args.policy_pack_config}, today {now.isoformat()} (UTC):")
    columns = [("policy", "POLICY"), ("waiver", "WAIVER"), ("status", "STATUS"), ("expires", "EXPIRES"),
               ("detail", "WHEN"), ("owner", "OWNER"), ("stacks", "STACKS"), ("resources", "RESOURCES"),
               ("reason", "REASON")]
    print("\n".join(_table(rows, columns)))
    print(f"Summary: {', '.join(f'{n} {s}' for s, n in counts.items() if n)}. Stale ones show only in a run: "
          "golive waivers check --stack NAME.")
    return 0


# --- list --tree: every pack config of an organization's tree ----------------------------------------

# Worst first: what to renew or remove comes before what runs its course.
TREE_ORDER = {"expired": 0, "stale": 1, "invalid": 2, "active": 3}
_CONFIG_LIMIT = 1 << 20  # a pack config is small; larger JSON files (state exports) are not read


def find_pack_configs(root: Path) -> list[Path]:
    """The pack config files under `root`: JSON objects whose keys are all policies of the pack (or `all`)."""
    from golive.adoption.fleet import SKIP_DIRS

    found = []
    for folder, dirs, files in os.walk(root):
        if "pyvenv.cfg" in files:
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(f for f in files if f.endswith(".json")):
            path = Path(folder, name)
            try:
                if path.stat().st_size > _CONFIG_LIMIT:
                    continue
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data and all(k == "all" or k in catalog.POLICY_BY_NAME for k in data):
                found.append(path)
    return found


def _scope(config: Path, projects: Sequence[tuple[str, Path]]) -> list[str]:
    """The stacks a config file is for: those of the projects under its folder, or, when none is (the
    platform team's file kept apart from the programs), every stack of the tree."""
    folder = config.parent.resolve()
    inside = [key for key, where in projects if where.resolve().is_relative_to(folder)]
    return inside or [key for key, _ in projects]


def tree_rows(root: Path, reports: Sequence[Any], today: date) -> list[dict[str, Any]]:
    """Every waiver of every pack config under `root`: its status, the stacks of the tree it covers and,
    from the reports given (StackReports), the stacks it hides findings in and those where it is stale."""
    from golive.adoption.fleet import discover
    from golive.analysis.report.merged import MergedReport

    targets, _ = discover(str(root), (), recursive=True)
    names = [t.key for t in targets]
    # Two projects of one name: their folder tells their stacks apart, as in a merged report.
    projects = [(t.key if names.count(t.key) == 1 else f"{t.key} ({t.program_dir})", Path(t.program_dir))
                for t in targets]
    reports = MergedReport(list(reports)).stacks
    rows: list[dict[str, Any]] = []
    for config in find_pack_configs(root):
        data = json.loads(config.read_text(encoding="utf-8"))
        shown = os.path.relpath(config) if not os.path.relpath(config).startswith("..") else str(config)
        scope = _scope(config, projects)
        checked = [r for r in reports if r.document is not None and r.command == "check"
                   and (not r.source or r.key in scope or f"{r.project}/{r.stack}" in scope)]
        per_stack = {r.key: evaluate_run(data, r.document, today) for r in checked}
        for row in list_rows(data, today):
            row["file"] = shown
            if row["status"] == "invalid" and not row["owner"]:
                rows.append({**row, "covers": [], "hides": {}, "staleIn": []})
                continue
            waiver = rules.Waiver(row["policy"], row["waiver"], row["reason"], row["owner"],
                                  date.fromisoformat(row["expires"]), tuple(row["stacks"]), tuple(row["resources"]))
            row["covers"] = [key for key in scope if waiver.for_stack(key.split(" (", 1)[0].split("/", 1)[-1])]
            hides: dict[str, int] = {}
            stale: list[str] = []
            for key, verdicts in per_stack.items():
                mine = next((v for v in verdicts if v["policy"] == row["policy"] and v["waiver"] == row["waiver"]),
                            None)
                if mine is None:
                    continue
                if mine.get("waived"):
                    hides[key] = mine["waived"]
                elif mine["status"] == "stale":
                    stale.append(key)
            row["hides"] = hides
            row["staleIn"] = stale
            if row["status"] == "active" and stale and not hides:
                row["status"] = "stale"
                row["detail"] = f"hides no finding in {', '.join(stale)}; {row['detail']}"
            rows.append(row)
    rows.sort(key=lambda r: (TREE_ORDER.get(r["status"], 9), r["expires"] or "9999", r["file"], r["policy"]))
    return rows


def _list_tree(args: argparse.Namespace) -> int:
    from golive.analysis.report import merged

    root = Path(args.tree)
    if not root.is_dir():
        raise WaiverInputError(f"--tree {args.tree}: not a folder")
    reports = []
    for path in args.reports or ():
        try:
            reports += merged.read(path)
        except merged.ReportError as err:
            raise WaiverInputError(f"--report {err}") from None
    now = today()
    rows = tree_rows(root, reports, now)
    if args.format == "json":
        _write({"tree": args.tree, "today": now.isoformat(), "reports": list(args.reports or ()), "waivers": rows},
               None)
        return 0
    if not rows:
        print(f"{args.tree}: no waivers in any pack config.")
        return 0
    for row in rows:
        row["where"] = (", ".join(f"{k} ({_findings(n)})" for k, n in row["hides"].items()) if row["hides"]
                        else f"covers {', '.join(row['covers']) or 'no stack of the tree'}")
    print(f"Waivers under {args.tree}, today {now.isoformat()} (UTC), expired and stale first:")
    columns = [("status", "STATUS"), ("expires", "EXPIRES"), ("detail", "WHEN"), ("policy", "POLICY"),
               ("waiver", "WAIVER"), ("owner", "OWNER"), ("file", "FILE"), ("where", "HIDES FINDINGS IN"),
               ("reason", "REASON")]
    print("\n".join(_table(rows, columns)))
    counts = {s: sum(r["status"] == s for r in rows) for s in TREE_ORDER}
    hint = "" if reports else " Stale ones and the findings each hides show with --report (golive check --all-stacks " \
                              "--format json)."
    print(f"Summary: {', '.join(f'{n} {s}' for s, n in counts.items() if n)}.{hint}")
    return 0


# --- add -------------------------------------------------------------------------------------------


def new_waiver(policy: str, index: int, args: argparse.Namespace, today: date) -> dict[str, Any]:
    """The waiver `add` would write, as JSON; WaiverInputError naming what is wrong."""
    if policy not in catalog.POLICY_BY_NAME:
        raise unknown_policy(policy)
    raw: dict[str, Any] = {}
    if args.id:
        raw["id"] = args.id
    for key in ("reason", "owner", "expires"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    if args.stacks:
        raw["stacks"] = args.stacks
    if args.resources:
        raw["resources"] = args.resources
    try:
        waiver = rules.parse_waiver(policy, index, raw)
    except rules.WaiverError as err:
        raise WaiverInputError(str(err)) from None
    if waiver.expires < today:
        raise WaiverInputError(
            f"{policy} waiver {waiver.name}: expires {waiver.expires.isoformat()} is in the past (today is "
            f"{today.isoformat()}, UTC)"
        )
    if problem := rules.too_far_ahead(waiver, today):
        raise WaiverInputError(f"{policy} waiver {waiver.name}: {problem}")
    return waiver.to_json()


def _add(args: argparse.Namespace) -> int:
    path = args.policy_pack_config
    now = today()
    # Judged once before the file is locked, so that the program runs for --resource (which may take
    # minutes) hold up no other writer; judged again under the lock, on the file as it is then.
    _, waiver, index = _with_waiver(read_config(path, missing_ok=True), args, now, path)
    warnings = unmatched_resources(rules.parse_waiver(args.policy, index, waiver), args.program_dir)
    added: list[tuple[dict[str, Any], int]] = []

    def change(data: dict[str, Any]) -> dict[str, Any]:
        data, waiver, index = _with_waiver(data, args, now, path)
        added.append((waiver, index))
        return data

    configfile.rewrite(path, change, option="--policy-pack-config")
    waiver, index = added[-1]
    name = rules.name_of(index, waiver)
    expires = date.fromisoformat(waiver["expires"])
    scope = f"stacks {', '.join(waiver.get('stacks', ['*']))}; resources {', '.join(waiver.get('resources', ['*']))}"
    print(f"{path}: added {args.policy} waiver {name}, owner {waiver['owner']}, until {waiver['expires']} "
          f"({_days(expires, now)}); {scope}.")
    for warning in warnings:
        print(f"golive: warning: {warning}", file=sys.stderr)
    return 0


def _with_waiver(data: dict[str, Any], args: argparse.Namespace, now: date,
                 path: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The file's contents with the waiver `add` was given, that waiver (as JSON) and its place in its list;
    refused as `golive check` would refuse the result."""
    entry = data.get(args.policy)
    if isinstance(entry, str):
        entry = {"enforcementLevel": entry}
    elif entry is None:
        entry = {}
    elif not isinstance(entry, dict):
        raise WaiverInputError(f"{path}: {args.policy!r}: a {type(entry).__name__} cannot hold waivers")
    existing = entry.get("waivers", [])
    if not isinstance(existing, list):
        raise WaiverInputError(f"{path}: {args.policy}: waivers must be a list of waivers")
    waiver = new_waiver(args.policy, len(existing), args, now)
    if waiver.get("id") and any(isinstance(w, dict) and w.get("id") == waiver["id"] for w in existing):
        raise WaiverInputError(f"{path}: {args.policy} already has a waiver with id {waiver['id']!r}")
    data = {**data, args.policy: {**entry, "waivers": [*existing, waiver]}}
    # Refuse to write what `golive check` would refuse, whatever part of the file is at fault.
    check_policy_names(data, path)
    configfile.check_acceptable(data, path)
    return data, waiver, len(existing)


def unmatched_resources(waiver: rules.Waiver, program_dir: str, timeout: float = 300.0) -> list[str]:
    """Warnings for the waiver's `resources` patterns that match no resource (URN, type or name) of
    the stacks it covers among those with a stack file in `program_dir`, each run offline as
    `golive check` runs it; and a warning for each stack that could not be checked. A pattern that
    matches in one of the stacks is enough: a waiver may name resources that only some stacks have."""
    from golive.preview.program import prepare_program
    from golive.preview.project import load_project

    if waiver.resources == ("*",):
        return []
    try:
        project = load_project(program_dir)
    except GoliveError as err:
        return [f"--resource not checked against any stack: {err} (--program-dir names the program's folder)"]
    folder = project.stack_config_dir or project.root
    present = sorted({f.name[len("Pulumi."):].rsplit(".", 1)[0] for f in folder.glob("Pulumi.*.y*ml")})
    stacks = [stack for stack in present if waiver.for_stack(stack)]
    if not stacks:
        return [f"--resource not checked: no stack file in {folder} is for stacks {', '.join(waiver.stacks)} "
                f"(stack files there: {', '.join(present) or 'none'})"]
    warnings: list[str] = []
    targets: list[rules.Target] = []
    checked: list[str] = []
    for stack in stacks:
        try:
            graph = prepare_program(program_dir, stack).run(timeout)
        except GoliveError as err:
            warnings.append(f"--resource not checked against stack {stack}: {str(err).splitlines()[0]}")
            continue
        checked.append(stack)
        targets += [rules.Target(r.urn, r.type, r.name) for r in graph.resources if not r.external]
    names = sorted({t.name for t in targets})
    for pattern in waiver.resources:
        alone = replace(waiver, resources=(pattern,))
        if checked and not any(alone.matches(t) for t in targets):
            close = difflib.get_close_matches(pattern, names, n=3, cutoff=0.6)
            hint = f"; close names there: {', '.join(close)}" if close else ""
            warnings.append(f"--resource {pattern!r} matches no resource (URN, type or name) of stack "
                            f"{' or '.join(checked)}: the waiver waives nothing there{hint}")
    return warnings


def _write(document: Any, where: output.Target | None) -> None:
    output.write_output(json.dumps(document, indent=2, ensure_ascii=False) + "\n", where)


# --- check -----------------------------------------------------------------------------------------


def _level_in_force(data: Mapping[str, Any], policy: str) -> str:
    entry = data.get(policy)
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping) and isinstance(entry.get("enforcementLevel"), str):
        return entry["enforcementLevel"]
    everything = data.get("all")
    if isinstance(everything, str):
        return everything
    if isinstance(everything, Mapping) and isinstance(everything.get("enforcementLevel"), str):
        return everything["enforcementLevel"]
    return catalog.POLICY_BY_NAME[policy].level


def evaluate_run(data: Mapping[str, Any], report: Mapping[str, Any], today: date) -> list[dict[str, Any]]:
    """Each waiver's status over one `golive check --format json` report, by the pack's own rules."""
    stack = str(report.get("stack", ""))
    events = report.get("policyEvents", [])
    rows: list[dict[str, Any]] = []
    for policy, raw in _entries(data):
        waivers, errors = rules.parse_waivers(policy, raw)
        if _level_in_force(data, policy) == "disabled":
            rows.extend(_row(w, "disabled", "the policy is disabled") for w in waivers)
            rows.extend(_invalid_row(e) for e in errors)
            continue
        targets = [
            rules.Target(e.get("resourceUrn", ""), e.get("resourceType", ""), e.get("resourceName", ""))
            for e in events
            if e.get("policyName") == policy and "waiverNotice" not in e  # the pack's words on the waivers
        ]
        for v in rules.evaluate(waivers, targets, stack, today).verdicts:
            w = v.waiver
            if v.status == "active":
                detail = f"waives {_findings(v.waived)}; expires {_days(w.expires, today)}"
            elif v.status == "stale":
                detail = f"matches no finding in stack {stack}: remove it or correct its patterns"
            elif v.status == "expired":
                detail = f"expired {_days(w.expires, today)}; " + (
                    f"{_findings(v.unwaived)} no longer waived" if v.unwaived else "it matches no finding either"
                )
            elif v.status == "other-stack":
                detail = f"its stacks ({', '.join(w.stacks)}) leave out {stack}"
            else:
                detail = v.problem
            row = _row(w, v.status, detail)
            row.update(matched=v.matched, waived=v.waived, unwaived=v.unwaived)
            rows.append(row)
        rows.extend(_invalid_row(e) for e in errors)
    return rows


def _findings(n: int) -> str:
    return f"{n} finding{'' if n == 1 else 's'}"


PROBLEMS = ("expired", "stale", "invalid")


def _check(args: argparse.Namespace) -> int:
    from golive.adoption import check

    source = args.policy_pack_config
    report_to = output.target(args.output)  # before the run, not after it
    data = read_config(source)
    check_policy_names(data, source)
    now = today()
    if not _entries(data):
        print(f"{source}: no waivers.")
        return 0
    # the check's own exit status is the findings'; here the waivers count
    report = check.json_report(args.program_dir, args.stack, policy_pack=args.policy_pack, policy_pack_config=source,
                               config=args.config, invoke_results=args.invoke_results, timeout=args.timeout)
    rows = evaluate_run(data, report, now)
    problems = sum(r["status"] in PROBLEMS for r in rows)
    target = f"{report.get('project', '')}/{report.get('stack', args.stack)}"
    if args.format == "json":
        _write({"file": source, "project": report.get("project", ""), "stack": report.get("stack", args.stack),
                "today": now.isoformat(), "waivers": rows}, report_to)
        return 1 if problems else 0
    columns = [("policy", "POLICY"), ("waiver", "WAIVER"), ("status", "STATUS"), ("expires", "EXPIRES"),
               ("owner", "OWNER"), ("detail", "DETAIL")]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    lines = [f"Waivers of {source} over {target}, today {now.isoformat()} (UTC):", *_table(rows, columns)]
    verdict = "renew or remove the expired, stale and invalid ones" if problems else "nothing to renew or remove"
    lines.append(f"Summary: {', '.join(f'{n} {s}' for s, n in counts.items())}: {verdict}.")
    output.write_output("\n".join(lines) + "\n", report_to)
    return 1 if problems else 0


def run(args: argparse.Namespace) -> int:
    try:
        return {"list": _list, "add": _add, "check": _check}[args.action](args)
    except rules.WaiverError as err:  # not expected past the checks above; still one line
        raise WaiverInputError(str(err)) from None


__all__ = [
    "PACK_NAME",
    "WaiverInputError",
    "catalog_info",
    "check_policy_names",
    "evaluate_run",
    "list_rows",
    "new_waiver",
    "pack_metadata",
    "read_config",
    "rules",
    "run",
    "unknown_policy",
    "unmatched_resources",
]
