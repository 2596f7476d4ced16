"""The policy pack's process: found, started and ended as the Pulumi CLI does, its output kept.

What the engine does, and so what this does (pulumi/pulumi 3.260: pkg/resource/plugin/analyzer_plugin.go,
sdk/python/cmd/pulumi-language-python/main.go, sdk/policy_proxy.go):

- The pack runs as `<python> -u -m pulumi.policy <engineAddr> <DIR>` with DIR as working directory (golive
  starts the module through `golive/preview/_guard.py`, which runs it as -m does, guarded); the
  python is the virtualenv named in PulumiPolicy.yaml, activated (VIRTUAL_ENV, PATH). The language host
  adds PULUMI_ORGANIZATION, PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN and PULUMI_CONFIG (skipping empty
  ones) and NOT PULUMI_CONFIG_SECRET_KEYS: a pack learns the secret keys from ConfigureStack only.
- The pack prints its port on the first line of its standard output; the CLI reads it from there.
- At the end golive ends the pack's process group and the descendants that left it, and reaps it.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from golive import loading
from golive.errors import GoliveError
from golive.preview.process import GUARD_SCRIPT, LIFELINE_ENV, end_descendants, lifeline, wait_exited

if TYPE_CHECKING:
    from golive.preview.graph import ResourceGraph

_ENV_WE_SET = (
    "PULUMI_ORGANIZATION",
    "PULUMI_PROJECT",
    "PULUMI_STACK",
    "PULUMI_DRY_RUN",
    "PULUMI_CONFIG",
    "PULUMI_CONFIG_SECRET_KEYS",
)


class PackError(GoliveError):
    """The pack would not start, crashed, or did not answer in time; carries the tail of its stderr."""


@dataclass(frozen=True)
class PackProject:
    """What PulumiPolicy.yaml says that matters for starting the pack."""

    dir: Path
    runtime: str
    virtualenv: str | None
    toolchain: str
    version: str
    description: str


@dataclass(frozen=True)
class PackPython:
    executable: str
    virtualenv: Path | None  # activated for the pack when not None
    note: str  # for the report: which interpreter ran the pack, and why


def load_pack_project(pack_dir: str | os.PathLike[str]) -> PackProject:
    """Read DIR/PulumiPolicy.yaml; PackError naming the file when it is missing or unusable."""
    directory = Path(pack_dir).resolve()
    path = directory / "PulumiPolicy.yaml"
    if not path.exists():
        raise PackError(f"{path}: not found (a policy pack folder holds PulumiPolicy.yaml)")
    data = loading.load_yaml(path, error=PackError)
    if not isinstance(data, dict):
        raise PackError(f"{path}: must be a YAML mapping")
    runtime = data.get("runtime")
    options: dict[str, Any] = {}
    if isinstance(runtime, dict):
        options = runtime.get("options") or {}
        runtime = runtime.get("name")
    if not isinstance(runtime, str) or not runtime:
        raise PackError(f"{path}: runtime: missing or not a string")
    if not isinstance(options, dict):
        raise PackError(f"{path}: runtime.options: must be a mapping")
    virtualenv = options.get("virtualenv")
    version = data.get("version")
    return PackProject(
        dir=directory,
        runtime=runtime,
        virtualenv=str(virtualenv) if virtualenv else None,
        toolchain=str(options.get("toolchain") or "pip"),
        # YAML reads `version: 1.0` as a float; the CLI reads it as the string it is written as.
        version="" if version is None else str(version),
        description=str(data.get("description") or ""),
    )


def choose_python(project: PackProject) -> PackPython:
    """The pack's own virtualenv when it exists (as the CLI), else the interpreter golive runs on."""
    venv_name = project.virtualenv
    if venv_name is None and project.toolchain == "uv":
        venv_name = ".venv"  # uv's default, which the language host also assumes
    if venv_name is not None:
        venv = Path(venv_name) if Path(venv_name).is_absolute() else project.dir / venv_name
        python = venv / "bin" / "python"
        if python.exists():
            return PackPython(str(python), venv, f"the pack's virtualenv {venv}")
        return PackPython(
            sys.executable,
            None,
            f"golive's interpreter {sys.executable}: PulumiPolicy.yaml names virtualenv {venv_name!r}, "
            f"which does not exist (`pulumi install` in {project.dir} creates it)",
        )
    return PackPython(
        sys.executable, None, f"golive's interpreter {sys.executable}: PulumiPolicy.yaml names no virtualenv"
    )


def pack_environment(
    graph: ResourceGraph,
    python: PackPython,
    base: Mapping[str, str] | None = None,
    added: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment the language host gives the pack, plus `added` (what golive alone knows, such as
    the pack config's file); an empty value in `added` removes the variable."""
    ours = {*_ENV_WE_SET, *(added or {})}
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in ours}
    if python.virtualenv is not None:
        # toolchain.ActivateVirtualEnv: venv/bin first on PATH, PYTHONHOME dropped, VIRTUAL_ENV set.
        env.pop("PYTHONHOME", None)
        env["PATH"] = os.pathsep.join(p for p in (str(python.virtualenv / "bin"), env.get("PATH", "")) if p)
        env["VIRTUAL_ENV"] = str(python.virtualenv)
    extra = {
        "PULUMI_ORGANIZATION": graph.organization,
        "PULUMI_PROJECT": graph.project,
        "PULUMI_STACK": graph.stack,
        "PULUMI_DRY_RUN": "true",
        # Go's json.Marshal of a nil map is never reached: an empty config map arrives as nil and is skipped.
        "PULUMI_CONFIG": json.dumps(dict(sorted(graph.config.items())), separators=(",", ":"))
        if graph.config
        else "",
    }
    env.update({k: v for k, v in {**extra, **(added or {})}.items() if v})
    return env


def _tail(lines: Iterable[str], max_lines: int = 40, max_chars: int = 4000) -> str:
    text = "\n".join(list(lines)[-max_lines:]).strip()
    return text if len(text) <= max_chars else "…" + text[-max_chars:]



class PackProcess:
    """The pack's running process: its port, its output, its exit, and its end (`terminate`)."""

    def __init__(self, project: PackProject, python: PackPython) -> None:
        self.project = project
        self.python = python
        # What the pack printed after its port (the CLI passes it on to its own output).
        self.stdout: collections.deque[str] = collections.deque(maxlen=200)
        self._stderr: collections.deque[str] = collections.deque(maxlen=400)
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._first_line: queue.Queue[str | None] = queue.Queue(maxsize=1)
        self._start_timeout = 30.0
        self._start_deadline = 0.0

    @classmethod
    def spawn(
        cls,
        project: PackProject,
        python: PackPython,
        *,
        engine_address: str,
        environment: Mapping[str, str],
        start_timeout: float,
    ) -> PackProcess:
        """Start the pack with `environment` (`pack_environment`'s) and return at once; `start_timeout`
        counts from here."""
        pack = cls(project, python)
        pack._spawn(engine_address, environment, start_timeout)
        return pack

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def stderr(self) -> str:
        return "\n".join(self._stderr)

    def _spawn(self, engine_address: str, environment: Mapping[str, str], start_timeout: float) -> None:
        argv = [
            self.python.executable,
            "-u",
            GUARD_SCRIPT,  # -m, and the pack's descendants end with it, or with golive's process
            "pulumi.policy",
            engine_address,
            str(self.project.dir),
        ]
        self._start_timeout = start_timeout
        self._start_deadline = time.monotonic() + start_timeout
        line = lifeline()
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=self.project.dir,
                env={**environment, LIFELINE_ENV: str(line)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so terminate() ends whatever it started too
                pass_fds=(line,),
            )
        except OSError as err:
            raise PackError(
                f"policy pack {self.project.dir}: cannot run {self.python.executable}: {err.strerror or err}"
            ) from None
        self._threads = [
            threading.Thread(target=self._read_stdout, args=(self._first_line,), daemon=True, name="pack-stdout"),
            threading.Thread(target=self._read_stderr, daemon=True, name="pack-stderr"),
        ]
        for t in self._threads:
            t.start()

    def port(self) -> int:
        """The port the pack printed; PackError when it exits first, prints something else, or takes
        longer than the start timeout."""
        line = self._port_line()
        if line is None:
            self.wait_stderr_eof()
            status = self.wait_exit(2.0)
            self.fail(
                "exited before printing its port" + (f" (status {status})" if status is not None else "")
            )
        try:
            return int(line.strip())
        except ValueError:
            # The CLI reads the port with Fscanf("%d\n") from the first line and fails the same way.
            self.fail(
                f"printed {line.strip()[:200]!r} where its port belongs (the Pulumi CLI reads the port "
                "from the first line of standard output)"
            )

    def _port_line(self) -> str | None:
        """The first line of the pack's stdout, or None once the pack has exited without one: its exit is
        watched, not only its stdout's end, which a descendant of the pack (a daemon) may hold off."""
        while True:
            remaining = self._start_deadline - time.monotonic()
            try:
                return self._first_line.get(timeout=max(0.0, min(remaining, 0.1)))
            except queue.Empty:
                pass
            if self.exit_status() is not None:
                try:  # what it printed before it exited is in the pipe: read at once
                    return self._first_line.get(timeout=0.5)
                except queue.Empty:
                    return None
            if remaining <= 0:
                self.fail(f"did not print its port within {self._start_timeout:g} s")

    def _read_stdout(self, first_line: queue.Queue[str | None]) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        got_first = False
        with self._proc.stdout:  # closed here, not by terminate(): closing waits for a read in progress
            for raw in self._proc.stdout:
                text = raw.decode("utf-8", errors="replace").rstrip("\n")
                if not got_first:
                    got_first = True
                    first_line.put(text)
                else:
                    self.stdout.append(text)
        if not got_first:
            first_line.put(None)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        with self._proc.stderr:
            for raw in self._proc.stderr:
                self._stderr.append(raw.decode("utf-8", errors="replace").rstrip("\n"))

    def wait_stderr_eof(self) -> None:
        # The process has closed stdout; give its stderr a moment to drain so the message shows the cause.
        if len(self._threads) > 1:
            self._threads[1].join(timeout=2.0)

    def wait_exit(self, seconds: float) -> int | None:
        """Its exit status once it has exited, waiting up to `seconds` for that; None while it runs."""
        if self._proc is not None and seconds > 0:
            wait_exited(self._proc, seconds)
        return self.exit_status()

    def exit_status(self) -> int | None:
        """Exit status without reaping, so the process group id stays ours until terminate()."""
        if self._proc is None:
            return None
        if self._proc.returncode is not None:
            return self._proc.returncode
        try:
            info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self._proc.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def fail(self, what: str) -> NoReturn:
        """Raise PackError: `what` the pack did, and the tail of its stderr."""
        stderr = _tail(self._stderr)
        message = f"policy pack {self.project.dir} {what}"
        raise PackError(message + (f"; its stderr:\n{stderr}" if stderr else "; it wrote nothing to stderr"))

    def terminate(self) -> None:
        """End the pack's process group and reap it; call once."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            # Its descendants first, while it keeps them in its tree: the ones that left its group too.
            end_descendants(proc.pid)
            # The engine kills its plugins once the last call is answered; the pack has nothing to flush.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.wait_exit(2.0)
            # The leader is at worst a zombie until wait() below, so the group id cannot have been reused.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        # Bounded: a descendant that escaped the tree may hold the pipes open; the readers close them.
        for t in self._threads:
            t.join(timeout=2.0)


__all__ = [
    "PackError",
    "PackProcess",
    "PackProject",
    "PackPython",
    "choose_python",
    "load_pack_project",
    "pack_environment",
]
