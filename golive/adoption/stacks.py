"""`golive stacks DIR`: every Pulumi project under a folder and every stack config in each, as the
matrix a CI fan-out runs `golive check` over (.github/workflows/golive-org-check.yml).

A project is a folder holding Pulumi.yaml (or .yml); its stacks are its Pulumi.<stack>.yaml files
(in `stackConfigDir` when the project sets one). Virtualenvs, node_modules, hidden folders and policy packs are
not searched: they hold packages, not the organization's projects.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from golive.adoption.fleet import find_projects, stack_names
from golive.errors import UsageError
from golive.output import write_output
from golive.preview.project import load_project


def discover(root: str | os.PathLike[str]) -> list[dict[str, str]]:
    """[{"project", "dir" (relative to root, "." for root itself), "stack"}], sorted by dir then stack.
    A Pulumi.yaml that cannot be read raises its ProjectError (one line naming the file)."""
    top = Path(root)
    if not top.is_dir():
        raise UsageError(f"{root}: not a folder")
    found: list[dict[str, str]] = []
    for folder in find_projects(top):  # the same projects `golive check --all-stacks` finds
        project = load_project(folder)
        relative = folder.relative_to(top).as_posix()
        found += [{"project": project.name, "dir": relative, "stack": stack} for stack in stack_names(project)]
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
