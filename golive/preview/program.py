"""Stage 2: run a Pulumi Python program offline in preview mode and return its resource graph.

The program runs in a child process exactly as under `pulumi preview`: the language host's
arguments and environment, the program folder as working directory, the project's virtualenv
when it has one. golive serves the ResourceMonitor and Engine the program talks to
(`golive.preview.services`), so no Pulumi CLI, cloud account or credentials are involved.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from golive.errors import GoliveError
from golive.preview.process import LIFELINE_ENV, end_descendants, lifeline, run_folder, wait_exited
from golive.preview.project import Project, StackConfig, go_json, load_project, load_stack_config, program_python

if TYPE_CHECKING:
    from golive.preview.graph import ResourceGraph, ResourceNode
    from golive.preview.invoke_results import InvokeResults

REPO_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the golive package
MAX_TRACE_FRAMES = 6
MAX_DETAIL_LINES = 30


class ProgramError(GoliveError):
    """The program failed, logged an error or did not finish: one summary line, then the program's
    own traceback (frames from files inside the project folder, golive's own left out).

    The message is the program's own words, not prefixed with the project's name: golive prints it
    after `golive: error: `, and the program's config keys already carry the project's namespace."""


class PreparedProgram(NamedTuple):
    """A program with its project, stack config and invoke results loaded, ready to run.

    Everything a policy pack needs to start (project, stack, organization, config, secret keys)
    is known here, before the program runs: `stack()` gives it as a graph with no resources yet.
    """

    project: Project
    config: StackConfig
    invoke_results: InvokeResults | None

    def stack(self) -> ResourceGraph:
        from golive.preview.graph import ResourceGraph

        return ResourceGraph(project=self.project.name, stack=self.config.stack,
                             organization=self.config.organization, config=dict(self.config.values),
                             secret_keys=list(self.config.secret_keys), secret_paths=list(self.config.secret_paths),
                             program_dir=str(self.project.root))

    def run(self, timeout: float = 120.0, *, on_start: Callable[[], None] | None = None,
            on_register: Callable[[ResourceNode], None] | None = None,
            on_shutdown: Callable[[ResourceGraph], None] | None = None) -> ResourceGraph:
        """Run the program as a first preview and return what it registered.

        `on_start` is called in this thread once the program's process is running and golive's
        engine services are up, while the program runs (to start a policy pack, say); if it raises,
        the program is stopped and the error passes on. `on_register` is called with each resource
        as the program registers it, in order, from the service's threads: it must be quick.
        `on_shutdown` is called with the graph once the program signals it has registered
        everything, before its process has ended (and before its run is known to have succeeded).
        """
        return _run_prepared(self, timeout, on_start, on_register, on_shutdown)


def prepare_program(project_dir: str | os.PathLike[str], stack: str, *, config_overrides: Iterable[str] = (),
                    invoke_results: str | os.PathLike[str] | InvokeResults | None = None) -> PreparedProgram:
    """Load the project in `project_dir`, the config of `stack` and the invoke results; run nothing."""
    project = load_project(project_dir)
    config = load_stack_config(project, stack, config_overrides)
    if invoke_results is not None:
        from golive.preview.invoke_results import (  # only now: the run starts sooner without
            InvokeResults,
            load_invoke_results,
        )

        if not isinstance(invoke_results, InvokeResults):
            invoke_results = load_invoke_results(invoke_results)
    return PreparedProgram(project, config, invoke_results)


def run_program(project_dir: str | os.PathLike[str], stack: str, *, config_overrides: Iterable[str] = (),
                invoke_results: str | os.PathLike[str] | InvokeResults | None = None,
                timeout: float = 120.0) -> ResourceGraph:
    """Run the program in `project_dir` against `stack` as a first preview and return what it registered."""
    return prepare_program(project_dir, stack, config_overrides=config_overrides,
                           invoke_results=invoke_results).run(timeout)


def parallelism() -> int:
    """The CLI's --parallel default: PULUMI_PARALLEL when positive, else 4 × the CPUs Go would use."""
    try:
        value = int(os.environ.get("PULUMI_PARALLEL", "0"))
    except ValueError:
        value = 0
    return value if value > 0 else 4 * (os.cpu_count() or 1)


def _reserve_port() -> socket.socket | None:
    """A loopback port for one of golive's engine services, held until the service binds it.

    The program's process is started first, and the gRPC services (gRPC, protobuf and the SDK's
    protocol modules are slow to import) come up while it starts its interpreter; the CLI
    arguments need the addresses before that. SO_REUSEPORT lets the gRPC server (which sets it
    too) bind the port while this socket, bound but never listening, keeps it from anyone else.
    None where the platform has no SO_REUSEPORT: the services then start first.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        return None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
    except OSError:
        sock.close()
        return None
    return sock


def _run_prepared(prepared: PreparedProgram, timeout: float, on_start: Callable[[], None] | None = None,
                  on_register: Callable[[ResourceNode], None] | None = None,
                  on_shutdown: Callable[[ResourceGraph], None] | None = None) -> ResourceGraph:
    project, config, invoke_results = prepared.project, prepared.config, prepared.invoke_results
    python = program_python(project)
    parallel = parallelism()
    with run_folder() as scratch, contextlib.ExitStack() as stack:
        held = [_reserve_port(), _reserve_port()]
        reserved = [stack.enter_context(sock) for sock in held if sock is not None]  # closed in any case
        early = len(reserved) == len(held)
        ports = [sock.getsockname()[1] for sock in reserved] if early else [0, 0]
        report_file = Path(scratch) / "exception.json"
        stacks_file = Path(scratch) / "stacks.txt"
        out_file, err_file = Path(scratch) / "stdout", Path(scratch) / "stderr"
        env = _child_env(project, config.values, config.secret_keys, config.stack, config.organization,
                         report_file, stacks_file, _bootstrap_dir(Path(scratch)))

        def command(monitor_address: str, engine_address: str) -> list[str]:
            return [
                python, "-u", "-m", "golive.preview._exec",
                "--monitor", monitor_address,
                "--engine", engine_address,
                "--project", project.name,
                "--root_directory", str(project.root),
                "--stack", config.stack,
                "--pwd", str(project.pwd),
                "--dry_run", "true",
                "--parallel", str(parallel),
                "--organization", config.organization,
                project.entry,
            ]

        def serve() -> tuple[Any, Any]:
            from golive.preview.deployment import Preview
            from golive.preview.invokes import OfflineProviders
            from golive.preview.services import Servers

            preview = Preview(
                project=project.name, stack=config.stack, organization=config.organization,
                root_dir=project.root, pwd=project.pwd, config=config.values, secret_keys=config.secret_keys,
                providers=OfflineProviders(config.values, invoke_results), parallel=parallel,
                callback_timeout=timeout, on_register=on_register, on_shutdown=on_shutdown)
            servers = stack.enter_context(Servers(preview, monitor_port=ports[0], engine_port=ports[1]))
            for sock in reserved:
                sock.close()  # the services hold the ports now
            return preview, servers

        out = stack.enter_context(open(out_file, "wb"))
        err = stack.enter_context(open(err_file, "wb"))
        if early:
            ready = stack.enter_context(_ReadySignal())
            env["GOLIVE_READY_FD"] = str(ready.read_fd)
            child = stack.enter_context(_Child(command(f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"),
                                               project.pwd, env, out, err, pass_fds=(ready.read_fd,)))
            ready.close_read_end()
            preview, _ = serve()
            ready.send()  # the program waits for this before it makes its first call
        else:
            preview, servers = serve()
            child = stack.enter_context(_Child(command(servers.monitor_address, servers.engine_address),
                                               project.pwd, env, out, err))
        if on_start is not None:
            on_start()
        returncode, timed_out = child.wait(timeout, stacks_file)
        stack.close()  # the services stop, the output files are complete
        stdout = out_file.read_text(encoding="utf-8", errors="replace")
        stderr = err_file.read_text(encoding="utf-8", errors="replace")
        report = _read_json(report_file)
        stacks = stacks_file.read_text(encoding="utf-8", errors="replace") if stacks_file.exists() else ""

    from golive.preview.graph import LogMessage

    graph: ResourceGraph = preview.graph
    graph.config_file = str(config.file) if config.file else ""
    graph.config_overrides = list(config.overridden)
    for stream, text in (("stdout", stdout), ("stderr", stderr)):
        if text.strip():
            graph.messages.append(LogMessage(severity="info", message=f"[{stream}] {text.rstrip()}"))
    if timed_out:
        where = _stuck_at(stacks, project)
        raise ProgramError(f"program did not finish within {timeout:g}s and was stopped"
                           + (f" (at {where})" if where else ""))
    errors = [m.message for m in graph.messages if m.severity == "error"]
    if returncode != 0 or errors:
        raise ProgramError(_stack_file_hint(_failure_message(project, returncode, report, errors, stderr),
                                            config, report))
    return graph


# Failures of the program's code itself, which no config causes.
_CODE_ERRORS = frozenset({"SyntaxError", "IndentationError", "TabError", "ImportError", "ModuleNotFoundError",
                          "NameError"})


def _stack_file_hint(message: str, config: StackConfig, report: dict[str, Any] | None) -> str:
    """A failure of a stack that has no Pulumi.<stack>.yaml (a mistyped --stack, most often): the
    program ran with empty config, which the second line names as the likely cause, unless the
    failure is one of the code's own that config cannot cause."""
    if not config.missing:
        return message
    head, _, rest = message.partition("\n")
    if report is not None and report.get("type") in _CODE_ERRORS:
        hint = f"Note: {config.missing}; the program ran with empty config."
    else:
        hint = f"Likely cause: {config.missing}, so the program ran with empty config."
    return "\n".join([head, hint, *([rest] if rest else [])])


def _bootstrap_dir(scratch: Path) -> Path:
    """A folder that holds only golive, for the program's interpreter to import golive.preview._exec from.

    Not this checkout's folder itself: when golive is installed in the program's virtualenv too (a
    .pth naming this folder), site would skip that entry as a duplicate of ours, and the program
    would lose golive once ours is dropped from its path.
    """
    boot = scratch / "bootstrap"
    try:
        boot.mkdir()
        (boot / "golive").symlink_to(REPO_ROOT / "golive", target_is_directory=True)
    except OSError:  # no symlinks here: the checkout's folder, as before
        return REPO_ROOT
    return boot


def _child_env(project: Project, config: dict[str, str], secret_keys: list[str], stack: str,
               organization: str, report_file: Path, stacks_file: Path, bootstrap: Path) -> dict[str, str]:
    env = dict(os.environ)
    original = env.get("PYTHONPATH", "")
    # golive must be importable by the program's interpreter, but must not stay on the program's path.
    env["PYTHONPATH"] = str(bootstrap) + (os.pathsep + original if original else "")
    env["GOLIVE_BOOTSTRAP_PATH"] = str(bootstrap)
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
    env.pop("GOLIVE_READY_FD", None)
    return env


class _ReadySignal:
    """A pipe the program's process waits on (GOLIVE_READY_FD) until golive's services listen."""

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()
        self._read_open = True

    def close_read_end(self) -> None:
        if self._read_open:
            self._read_open = False
            os.close(self.read_fd)

    def send(self) -> None:
        if self._write_fd < 0:
            return
        try:
            os.write(self._write_fd, b"\n")
        except BrokenPipeError:
            pass  # the process is gone already; its exit status and output tell why
        self._close_write_end()

    def _close_write_end(self) -> None:
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1

    def __enter__(self) -> _ReadySignal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_read_end()
        self._close_write_end()


class _Child:
    """The program's process, in its own process group; leaving the block kills its descendants
    and the group, whatever happened (nothing the program started outlives the run, a daemon that
    left the group included: the process keeps it in its tree, `golive.preview._guard`). It holds
    golive's lifeline, and ends itself and its descendants when golive's process is gone."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], out: Any, err: Any,
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.started = time.monotonic()
        self._ended = False
        line = lifeline()
        try:
            self.proc = subprocess.Popen(command, cwd=cwd, env={**env, LIFELINE_ENV: str(line)},
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True, pass_fds=(*pass_fds, line))
        except OSError as exc:
            raise ProgramError(f"cannot start {command[0]}: {exc.strerror or exc}") from None

    def wait(self, timeout: float, stacks_file: Path) -> tuple[int, bool]:
        """Wait for the program (`timeout` counts from its start); on timeout ask it where it is."""
        proc = self.proc
        if not wait_exited(proc, max(0.0, self.started + timeout - time.monotonic())):
            try:
                os.kill(proc.pid, signal.SIGUSR1)
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline and not _has_content(stacks_file):
                    time.sleep(0.05)
                time.sleep(0.05)
            except (ProcessLookupError, AttributeError):
                pass
            return self._end(), True
        return self._end(), False

    def _end(self) -> int:
        if not self._ended:  # once: whatever the program started is killed with its group
            self._ended = True
            if self.proc.returncode is None:  # unreaped, so its pid is still its own
                end_descendants(self.proc.pid)  # the ones that left the group too, before the group's leader
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self._end()


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


# golive's own files: the program's process runs golive.preview._exec, through a symlink to this folder, and
# may import golive (this repository's own program does). Never the program's lines, even when the
# project folder holds this folder.
_GOLIVE_DIR = Path(__file__).resolve().parents[1]


def _is_user_file(path: str, project: Project) -> bool:
    if not path or path.startswith("<"):
        return False
    try:
        resolved = Path(path).resolve()
        rel = resolved.relative_to(project.root)
    except (ValueError, OSError):
        return False
    if resolved.is_relative_to(_GOLIVE_DIR):
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
        return "\n".join(lines[:MAX_DETAIL_LINES])
    if errors:
        lines = [line for e in errors for line in e.strip().splitlines()]
        head = lines[0] if lines else "the program logged an error"
        return "\n".join([head, *lines[1:MAX_DETAIL_LINES]])
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-MAX_DETAIL_LINES:]
    status = f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    head = tail[-1].strip() if tail else "no output"
    return "\n".join([f"program failed ({status}): {head}", *tail[:-1]])


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
    summary = f"program failed: {exc_type}" + (f": {first}" if first else "") + where
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
