"""Stage 2: run a Pulumi Python program offline in preview mode and return its resource graph.

The program runs in a child process exactly as under `pulumi preview`: the language host's
arguments and environment, the program folder as working directory, the project's virtualenv
when it has one. golive serves the ResourceMonitor and Engine the program talks to
(`golive.monitor`), so no Pulumi CLI, cloud account or credentials are involved.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import GoliveError
from .graph import LogMessage, ResourceGraph
from .invokes import InvokeResults, OfflineProviders, load_invoke_results
from .monitor import Preview, Servers, parallelism
from .project import Project, go_json, load_project, load_stack_config, program_python

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_TRACE_FRAMES = 6
MAX_DETAIL_LINES = 30


class ProgramError(GoliveError):
    """The program failed, logged an error or did not finish: one summary line, then the program's
    own traceback (frames from files inside the project folder)."""


def run_program(project_dir: str | os.PathLike[str], stack: str, *, config_overrides: Iterable[str] = (),
                invoke_results: str | os.PathLike[str] | InvokeResults | None = None,
                timeout: float = 120.0) -> ResourceGraph:
    """Run the program in `project_dir` against `stack` as a first preview and return what it registered."""
    project = load_project(project_dir)
    config = load_stack_config(project, stack, config_overrides)
    if invoke_results is not None and not isinstance(invoke_results, InvokeResults):
        invoke_results = load_invoke_results(invoke_results)
    preview = Preview(
        project=project.name, stack=config.stack, organization=config.organization, root_dir=project.root,
        pwd=project.pwd, config=config.values, secret_keys=config.secret_keys,
        providers=OfflineProviders(config.values, invoke_results), parallel=parallelism(),
        callback_timeout=timeout)
    python = program_python(project)

    with tempfile.TemporaryDirectory(prefix="golive-run-") as scratch, Servers(preview) as servers:
        report_file = Path(scratch) / "exception.json"
        stacks_file = Path(scratch) / "stacks.txt"
        out_file, err_file = Path(scratch) / "stdout", Path(scratch) / "stderr"
        command = [
            python, "-u", "-m", "golive._exec",
            "--monitor", servers.monitor_address,
            "--engine", servers.engine_address,
            "--project", project.name,
            "--root_directory", str(project.root),
            "--stack", config.stack,
            "--pwd", str(project.pwd),
            "--dry_run", "true",
            "--parallel", str(preview.parallel),
            "--organization", config.organization,
            project.entry,
        ]
        env = _child_env(project, config.values, config.secret_keys, config.stack, config.organization,
                         report_file, stacks_file)
        with open(out_file, "wb") as out, open(err_file, "wb") as err:
            returncode, timed_out = _run(command, project.pwd, env, out, err, timeout, stacks_file)
        stdout = out_file.read_text(encoding="utf-8", errors="replace")
        stderr = err_file.read_text(encoding="utf-8", errors="replace")
        report = _read_json(report_file)
        stacks = stacks_file.read_text(encoding="utf-8", errors="replace") if stacks_file.exists() else ""

    graph = preview.graph
    for stream, text in (("stdout", stdout), ("stderr", stderr)):
        if text.strip():
            graph.messages.append(LogMessage(severity="info", message=f"[{stream}] {text.rstrip()}"))
    if timed_out:
        where = _stuck_at(stacks, project)
        raise ProgramError(f"{project.name}: program did not finish within {timeout:g}s and was stopped"
                           + (f" (at {where})" if where else ""))
    errors = [m.message for m in graph.messages if m.severity == "error"]
    if returncode != 0 or errors:
        raise ProgramError(_failure_message(project, returncode, report, errors, stderr))
    return graph


def _child_env(project: Project, config: dict[str, str], secret_keys: list[str], stack: str,
               organization: str, report_file: Path, stacks_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    original = env.get("PYTHONPATH", "")
    # golive must be importable by the program's interpreter, but must not stay on the program's path.
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + original if original else "")
    env["GOLIVE_BOOTSTRAP_PATH"] = str(REPO_ROOT)
    env["GOLIVE_ORIGINAL_PYTHONPATH"] = original
    env["GOLIVE_REPORT_FILE"] = str(report_file)
    env["GOLIVE_STACKS_FILE"] = str(stacks_file)
    env["PULUMI_CONFIG"] = go_json(config)
    env["PULUMI_CONFIG_SECRET_KEYS"] = go_json(list(secret_keys))
    env["PULUMI_PROJECT"] = project.name
    env["PULUMI_STACK"] = stack
    env["PULUMI_ORGANIZATION"] = organization
    env["PULUMI_DRY_RUN"] = "true"
    env.pop("PYTHONSTARTUP", None)
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], out: Any, err: Any, timeout: float,
         stacks_file: Path) -> tuple[int, bool]:
    """Run the child in its own process group; on timeout ask it where it is, then kill the group."""
    try:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
    except OSError as exc:
        raise ProgramError(f"cannot start {command[0]}: {exc.strerror or exc}") from None
    timed_out = False
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.kill(proc.pid, signal.SIGUSR1)
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline and not _has_content(stacks_file):
                    time.sleep(0.05)
                time.sleep(0.05)
            except (ProcessLookupError, AttributeError):
                pass
    finally:
        # Whatever happened, nothing the program started outlives the run.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    return proc.returncode, timed_out


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_user_file(path: str, project: Project) -> bool:
    if not path or path.startswith("<"):
        return False
    try:
        rel = Path(path).resolve().relative_to(project.root)
    except (ValueError, OSError):
        return False
    parts = rel.parts
    return "site-packages" not in parts and not any(p in ("venv", ".venv", "__pycache__") for p in parts[:1])


def _rel(path: str, project: Project) -> str:
    try:
        return Path(path).resolve().relative_to(project.root).as_posix()
    except (ValueError, OSError):
        return path


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _failure_message(project: Project, returncode: int, report: dict[str, Any] | None, errors: list[str],
                     stderr: str) -> str:
    if report is not None and report.get("kind") == "exception":
        return _exception_message(project, report)
    if report is not None and report.get("kind") == "run-error":
        lines = str(report.get("message", "")).strip().splitlines() or ["program failed"]
        return "\n".join([f"{project.name}: {lines[0]}", *lines[1:MAX_DETAIL_LINES]])
    if errors:
        lines = [line for e in errors for line in e.strip().splitlines()]
        head = lines[0] if lines else "the program logged an error"
        return "\n".join([f"{project.name}: {head}", *lines[1:MAX_DETAIL_LINES]])
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-MAX_DETAIL_LINES:]
    status = f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    head = tail[-1].strip() if tail else "no output"
    return "\n".join([f"{project.name}: program failed ({status}): {head}", *tail[:-1]])


def _exception_message(project: Project, report: dict[str, Any]) -> str:
    exc_type, message = str(report.get("type", "Exception")), str(report.get("message", ""))
    frames = [f for f in report.get("frames", []) if _is_user_file(f.get("file", ""), project)]
    if not frames:  # raised inside the SDK (e.g. a registration the monitor refused): use the cause's frames
        for cause in report.get("causes", []):
            frames = [f for f in cause.get("frames", []) if _is_user_file(f.get("file", ""), project)]
            if frames:
                break
    frames = frames[-MAX_TRACE_FRAMES:]
    first = _first_line(message)
    where = f" ({_rel(frames[-1]['file'], project)}:{frames[-1]['line']})" if frames else ""
    summary = f"{project.name}: program failed: {exc_type}" + (f": {first}" if first else "") + where
    lines = [summary]
    if frames:
        lines.append("Traceback (program frames, most recent call last):")
        for frame in frames:
            lines.append(f'  File "{_rel(frame["file"], project)}", line {frame["line"]}, in {frame["name"]}')
            if frame.get("text"):
                lines.append(f"    {frame['text'].strip()}")
    message_lines = message.strip().splitlines()
    lines.append(f"{exc_type}: {message_lines[0]}" if message_lines else exc_type)
    lines.extend(message_lines[1:MAX_DETAIL_LINES])
    return "\n".join(lines)


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def _stuck_at(stacks: str, project: Project) -> str:
    """The innermost program frame of the main thread in a faulthandler dump (most recent call first)."""
    blocks = re.split(r"\n(?=(?:Current thread|Thread) 0x)", stacks)
    blocks.sort(key=lambda b: not b.startswith("Current thread"))
    for block in blocks:
        for match in _FRAME.finditer(block):
            if _is_user_file(match.group("file"), project):
                return f"{_rel(match.group('file'), project)}:{match.group('line')}"
    return ""
