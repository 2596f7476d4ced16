"""Many stacks in one run: `golive check --all-stacks` and `golive merge`.

`golive check [DIR] --all-stacks` finds every Pulumi project under DIR (default .), recursively, and every
stack file (Pulumi.<stack>.yaml) of each; with `--state FILE` (repeatable) it checks those exports too,
and with only `--state` files and no DIR, just them. `--stack PATTERN` (repeatable; fnmatch on the stack
name or on project/stack) keeps the matching stacks; given more than once or as a pattern, it is enough
on its own to check several stacks of the project in DIR. Folders that hold no programs are not
searched: .git, virtualenvs, node_modules, and policy packs (a folder with PulumiPolicy.yaml).

Each stack is checked by its own `golive check ... --format json` process, at most `--jobs` at a time
(default: the cores this process may run on): a program that hangs, a pack that crashes or an
interpreter that dies takes only its own stack down, and the stack's report is exactly its single
check's. The merged report (golive.analysis.report.merged) goes to --output or standard output; each
stack that could not be checked is also one `golive: error:` line on standard error. Exit status: 2 when
any stack could not be checked, else 1 when any has a mandatory finding, else 0.

`golive merge REPORT.json... [--format F] [--compare PREV.json] [-o FILE]` merges reports written
elsewhere (one CI job per stack): `golive check --format json`, `golive audit|smoke --format json`, or
merged reports, into one in any format. It exits 0 once the report is written (2 on bad input);
`--verdict` makes its status the merged verdict, as `--all-stacks` gives it.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from golive import output as outputs
from golive.analysis.report import merged as merging
from golive.errors import GoliveError, UsageError

if TYPE_CHECKING:
    from golive.adoption.options import CheckOptions
    from golive.preview.project import Project

# Folders that hold no Pulumi program of the tree's own.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", ".pulumi"})
# Beyond the program's own --timeout: the pack's start and a process's end.
_GRACE = 60.0


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Target:
    """One stack to check: a program folder and a stack name, or a state file."""

    project: str
    stack: str
    program_dir: str = ""
    state: str = ""

    @property
    def key(self) -> str:
        return f"{self.project}/{self.stack}" if self.project else self.stack or self.state


def find_projects(root: Path) -> list[Path]:
    """Every folder under `root` holding Pulumi.yaml, in a stable order; policy packs and tooling folders left out."""
    found = []
    for folder, dirs, files in os.walk(root):
        if ("PulumiPolicy.yaml" in files and Path(folder) != root) or "pyvenv.cfg" in files:
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs
                         if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info"))
        if "Pulumi.yaml" in files or "Pulumi.yml" in files:
            found.append(Path(folder))
    return found


def stack_names(project: Project) -> list[str]:
    """The stacks of a project: its Pulumi.<stack>.yaml (or .yml) files, in its stackConfigDir if it sets one."""
    where = project.stack_config_dir or project.root
    return sorted({p.name[len("Pulumi."):].rsplit(".", 1)[0] for p in where.glob("Pulumi.*.y*ml")})


def _matches(patterns: Sequence[str], project: str, stack: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(stack, p) or fnmatch.fnmatchcase(f"{project}/{stack}", p)
                               for p in patterns)


def discover(root: str, patterns: Sequence[str], *, recursive: bool) -> tuple[list[Target], list[merging.StackReport]]:
    """The stacks under `root` (or of the project in it), and a report for each project that cannot be read."""
    from golive.preview.project import load_project

    base = Path(root)
    if not base.is_dir():
        raise UsageError(f"{root}: not a folder")
    folders = find_projects(base) if recursive else [base]
    targets: list[Target] = []
    broken: list[merging.StackReport] = []
    for folder in folders:
        shown = _shown(folder)
        try:
            project = load_project(folder)
        except GoliveError as err:
            broken.append(merging.StackReport(shown, "*", shown, error=str(err)))
            continue
        names = stack_names(project)
        targets += [Target(project.name, name, shown) for name in names if _matches(patterns, project.name, name)]
    return targets, broken


def _shown(path: Path) -> str:
    """A path as reports show it: relative to the working folder when inside it (SARIF paths start there)."""
    try:
        return Path(os.path.relpath(path)).as_posix() if not Path(os.path.relpath(path)).as_posix().startswith(
            "..") else str(path)
    except ValueError:  # another drive
        return str(path)


def _command(target: Target, args: CheckOptions, output: str) -> list[str]:
    cmd = [sys.executable, "-m", "golive", "check"]
    if target.state:
        cmd += ["--state", target.state]
    else:
        cmd += [target.program_dir, "--stack", target.stack]
        if args.invoke_results:
            cmd += ["--invoke-results", args.invoke_results]
    cmd += ["--policy-pack", args.policy_pack, "--timeout", str(args.timeout), "--format", "json", "--output", output]
    if args.policy_pack_config:
        cmd += ["--policy-pack-config", args.policy_pack_config]
    for value in args.config:
        cmd += ["--config", value]
    return cmd


# The checks running now: each in a session of its own (so a stack's timeout ends its program and pack
# too), which also keeps a terminal's Ctrl-C from reaching them; run_all ends them itself.
_RUNNING: set[subprocess.Popen[str]] = set()
_LOCK = threading.Lock()
_STOPPED = threading.Event()


def check_one(target: Target, args: CheckOptions, output: str) -> merging.StackReport:
    """One stack's `golive check --format json`, in a process of its own; its failure is its report's error."""
    import json

    source = target.state or target.program_dir
    report = merging.StackReport(target.project, target.stack, source)
    with _LOCK:
        if _STOPPED.is_set():
            report.error = "not checked: the run was interrupted"
            return report
        process = subprocess.Popen(_command(target, args, output), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        _RUNNING.add(process)
    try:
        _, err = process.communicate(timeout=args.timeout + _GRACE)
    except subprocess.TimeoutExpired:
        _stop([process])
        process.communicate()
        report.error = f"golive check did not end within {args.timeout + _GRACE:.0f} s"
        return report
    finally:
        with _LOCK:
            _RUNNING.discard(process)
    if process.returncode in (0, 1) and os.path.exists(output):
        with open(output, encoding="utf-8") as handle:
            report.document = json.load(handle)
        report.project = str(report.document.get("project", report.project))
        report.stack = str(report.document.get("stack", report.stack))
        return report
    lines = [line for line in err.splitlines() if line.strip()]
    said = [line.removeprefix("golive: error: ") for line in lines if line.startswith("golive: error: ")]
    if said:
        report.error = said[-1]
    elif process.returncode < 0:
        report.error = f"golive check was ended by signal {-process.returncode}"
    else:
        report.error = f"golive check exited with status {process.returncode}" + (f": {lines[-1]}" if lines else "")
    return report


_STOP_GRACE = 5.0


def _stop(processes: Sequence[subprocess.Popen[str]]) -> None:
    """End checks as Ctrl-C ends one: it then ends its program and pack (each in a session of its own,
    out of reach of a signal to the check's group); whatever has not ended after a while is killed."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + _STOP_GRACE
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def run_all(targets: Sequence[Target], args: CheckOptions, jobs: int) -> list[merging.StackReport]:
    with tempfile.TemporaryDirectory(prefix="golive-stacks-") as folder:
        pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(targets) or 1)))
        try:
            return list(pool.map(lambda i: check_one(targets[i], args, os.path.join(folder, f"{i}.json")),
                                 range(len(targets))))
        except BaseException:  # Ctrl-C: no check is left running, and none starts
            pool.shutdown(wait=False, cancel_futures=True)
            with _LOCK:
                _STOPPED.set()
                running = list(_RUNNING)
            _stop(running)
            raise
        finally:
            pool.shutdown(wait=True)


def check_many(args: CheckOptions, stacks: Sequence[str]) -> int:
    """`golive check --all-stacks` (or several --stack): every stack checked, one merged report."""
    for option, value in (("--baseline", args.baseline), ("--write-baseline", args.write_baseline)):
        if value:
            raise UsageError(f"{option} is for one stack; with --all-stacks, check each stack on its own")
    report_to = outputs.target(args.output)  # a bad --output is refused before any stack runs
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: must be at least 1")
    if not (Path(args.policy_pack) / "PulumiPolicy.yaml").is_file():
        raise UsageError(f"--policy-pack {args.policy_pack}: no PulumiPolicy.yaml there")
    if args.policy_pack_config:
        from golive.analysis import policyconfig

        policyconfig.load(args.policy_pack_config)  # refused once, not once per stack
    previous = previous_report(args.compare)
    states = [args.state] if isinstance(args.state, str) else list(args.state or ())
    for state in states:
        if state == "-" or not Path(state).is_file():
            raise UsageError(f"--state {state}: not a file (with --all-stacks each --state names an export file)")
    targets: list[Target] = [Target("", "", state=s) for s in states]
    broken: list[merging.StackReport] = []
    if args.program_dir is not None or not states:
        found, broken = discover(args.program_dir or ".", stacks, recursive=bool(args.all_stacks))
        targets = found + targets
    if not targets and not broken:
        where = args.program_dir or "."
        raise UsageError(f"no stacks to check under {where}" + (f" matching --stack {', '.join(stacks)}" if stacks
                                                                  else " (no Pulumi.<stack>.yaml found)"))
    reports = broken + run_all(targets, args, jobs)
    merged = merging.MergedReport(reports)
    if previous is not None:
        merged.compare(previous, args.compare)
    outputs.write_output(render(args.format, merged), report_to)
    for line in merged.unchecked_lines():
        print(f"golive: error: {line}", file=sys.stderr)
    return merged.exit_code()


def render(fmt: str, merged: merging.MergedReport) -> str:
    """A merged report in any format, the review page included."""
    if fmt == "html":
        from golive.analysis.report import html

        return html.render_merged(merged)
    return merging.render(fmt, merged)


def previous_report(path: str | None) -> merging.MergedReport | None:
    if not path:
        return None
    try:
        return merging.MergedReport(merging.read(path))
    except merging.ReportError as err:
        raise UsageError(f"--compare {err}") from None


def merge(args: argparse.Namespace) -> int:
    """`golive merge REPORT.json...`: one report from many, in any format."""
    report_to = outputs.target(args.output)
    previous = previous_report(args.compare)
    reports: list[merging.StackReport] = []
    for path in args.reports:
        try:
            reports += merging.read(path)
        except merging.ReportError as err:
            raise UsageError(str(err)) from None
    merged = merging.MergedReport(reports)
    if previous is not None:
        merged.compare(previous, args.compare)
    outputs.write_output(render(args.format, merged), report_to)
    return merged.exit_code() if args.verdict else 0


def add_merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT.json",
                        help="reports of golive check (JSON), golive audit/smoke (JSON or JUnit), or merged reports")
    parser.add_argument("--format", choices=("text", "json", "sarif", "junit", "markdown", "html"), default="text")
    parser.add_argument("--compare", metavar="PREV.json", help="a previous report: say what is new, fixed, unchanged")
    parser.add_argument("--output", "-o", help="write the report here instead of standard output")
    parser.add_argument("--verdict", action="store_true",
                        help="exit 1 when a stack has a mandatory finding (or failed audit check), 2 when one "
                             "could not be checked, as golive check --all-stacks does (default: 0 once written)")
