"""`golive stacks DIR`: every Pulumi project under a folder and every stack config in each, as the
matrix a CI fan-out runs `golive check` over (.github/workflows/golive-org-check.yml).

A project is a folder holding Pulumi.yaml (or .yml); its stacks are its Pulumi.<stack>.yaml files
(in `stackConfigDir` when the project sets one). Virtualenvs, node_modules and hidden folders are
not searched: they hold packages, not the organization's projects.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from golive.errors import UsageError
from golive.output import write_output
from golive.preview.project import PROJECT_FILES, load_project

SKIPPED = {"node_modules", "venv", "__pycache__", "site-packages"}


def discover(root: str | os.PathLike[str]) -> list[dict[str, str]]:
    """[{"project", "dir" (relative to root, "." for root itself), "stack"}], sorted by dir then stack.
    A Pulumi.yaml that cannot be read raises its ProjectError (one line naming the file)."""
    top = Path(root)
    if not top.is_dir():
        raise UsageError(f"{root}: not a folder")
    found: list[dict[str, str]] = []
    for folder, subfolders, files in os.walk(top):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in SKIPPED)
        if not any(name in files for name in PROJECT_FILES):
            continue
        project = load_project(folder)
        where = project.stack_config_dir or project.root
        stacks = sorted({path.name[len("Pulumi."):].rsplit(".", 1)[0] for pattern in ("Pulumi.*.yaml", "Pulumi.*.yml")
                         for path in where.glob(pattern)})
        relative = Path(folder).relative_to(top).as_posix()
        found += [{"project": project.name, "dir": relative, "stack": stack} for stack in stacks]
    return sorted(found, key=lambda entry: (entry["dir"], entry["stack"]))


def run(args: argparse.Namespace) -> int:
    entries = discover(args.root)
    if args.format == "json":
        # One line: a GitHub Actions output (`matrix=...` in $GITHUB_OUTPUT) must not span lines.
        text = json.dumps(entries, separators=(",", ":"))
    else:
        text = "\n".join(f"{e['dir']}\t{e['project']}\t{e['stack']}" for e in entries)
    write_output(text + "\n", args.output)
    return 0
