"""Interrupted and misbehaving runs leave nothing behind (issue 15).

`golive check` is run as a user runs it (`python -m golive`, a real process) on a program that sleeps,
with the recorder pack; once the program and the pack have written their process ids, golive gets
SIGTERM, SIGHUP or SIGKILL. Nothing of the run may be left: not the program, not the pack, not a
detached (setsid) grandchild of either, not the run's temporary folder. Every wait has a generous
deadline and polls for the outcome; none measures speed.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.packprocess import PackError
from golive.preview import process
from golive.preview.graph import ResourceGraph
from golive.preview.program import run_program

ROOT = Path(__file__).resolve().parents[2]
RECORDER = ROOT / "tests" / "fixtures" / "packs" / "recorder"
DEADLINE = 60.0  # far beyond what any of these runs needs: reaching it means something hangs
DAEMON_SLEEP = 300  # a detached grandchild's life, unless the run ends it

PROGRAM = """\
import os, subprocess, time

pids = os.environ["TEST_PIDS"]
if os.environ.get("TEST_DAEMON"):
    # A detached grandchild: its own session, out of the program's process group.
    subprocess.Popen(["setsid", "sh", "-c", f"echo $$ > {pids}/daemon.tmp && mv {pids}/daemon.tmp {pids}/daemon; "
                      f"exec sleep {DAEMON_SLEEP}"])
    deadline = time.monotonic() + 60
    while not os.path.exists(f"{pids}/daemon") and time.monotonic() < deadline:  # it is running before we end
        time.sleep(0.01)
with open(f"{pids}/program.tmp", "w") as out:
    out.write(str(os.getpid()))
os.rename(f"{pids}/program.tmp", f"{pids}/program")
time.sleep(float(os.environ.get("TEST_SLEEP", "0")))
""".replace("{DAEMON_SLEEP}", str(DAEMON_SLEEP))


# Sets the terminating signals' dispositions, then becomes the command that follows (same pid).
SIGNALS_THEN_EXEC = ("import os, signal, sys\n"
                     "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
                     "signal.signal(signal.SIGHUP, getattr(signal, sys.argv.pop(1)))\n"
                     "os.execv(sys.argv[1], sys.argv[1:])\n")


def write_program(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "Pulumi.yaml").write_text("name: sleeper\nruntime: python\n")
    (folder / "Pulumi.prod.yaml").write_text("config: {}\n")
    (folder / "__main__.py").write_text(PROGRAM)
    return folder


def write_pack(folder: Path, main: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (folder / "__main__.py").write_text(main)
    return folder


class Run:
    """One `golive check` of the sleeper program with the recorder pack, in a folder of its own."""

    def __init__(self, tmp_path: Path, *, daemons: bool, sleep: float) -> None:
        self.pids = tmp_path / "pids"
        self.pids.mkdir(exist_ok=True)
        self.tmpdir = tmp_path / "tmp"  # golive's temporary folders, apart from concurrent runs'
        self.tmpdir.mkdir(exist_ok=True)
        self.calls = tmp_path / "calls.jsonl"
        program = tmp_path / "program"
        if not program.exists():
            write_program(program)
        self.env = {**os.environ, "TMPDIR": str(self.tmpdir), "TEST_PIDS": str(self.pids),
                    "TEST_SLEEP": str(sleep), "GOLIVE_TEST_CALLS": str(self.calls)}
        if daemons:
            self.env.update(TEST_DAEMON="1", GOLIVE_TEST_DAEMON="1")
        self.argv = [sys.executable, "-m", "golive", "check", str(program), "--stack", "prod",
                     "--policy-pack", str(RECORDER)]

    def start(self, sighup: str = "SIG_DFL") -> subprocess.Popen[bytes]:
        """golive started with SIGTERM at its default and SIGHUP as given (by default as from a
        terminal), whatever the suite inherited: under `nohup make test` SIGHUP would be ignored."""
        return subprocess.Popen([sys.executable, "-c", SIGNALS_THEN_EXEC, sighup, *self.argv], cwd=ROOT,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.argv, cwd=ROOT, env=self.env, capture_output=True, timeout=DEADLINE * 2)

    def recorded(self, kind: str) -> dict | None:
        try:
            lines = self.calls.read_text().splitlines()
        except FileNotFoundError:
            return None
        return next((json.loads(line) for line in lines if json.loads(line)["call"] == kind), None)

    def pids_so_far(self) -> dict[str, int]:
        """The run's processes that have said they are running."""
        found = {}
        for name in ("program", "daemon"):
            if (self.pids / name).exists():
                found[name] = int((self.pids / name).read_text())
        if (start := self.recorded("start")) is not None:
            found["pack"] = start["pid"]
        if (daemon := self.recorded("daemon")) is not None:
            found["pack daemon"] = daemon["pid"]
        return found

    def wait_for_pids(self, daemons: bool) -> dict[str, int]:
        """The run's processes, once each has said it is running."""
        deadline = time.monotonic() + DEADLINE
        while len(found := self.pids_so_far()) < (4 if daemons else 2):
            if time.monotonic() > deadline:
                raise AssertionError(f"the run never got going: {found}")
            time.sleep(0.05)
        return found

    def run_folders(self) -> list[str]:
        return sorted(n for n in os.listdir(self.tmpdir) if n.startswith("golive-run-"))


def identity(pid: int) -> str | None:
    """The process's start time (telling it from a later process given the same pid); None once it
    is gone or only a zombie (a killed grandchild waits there for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return None if fields[0] == "Z" else fields[19]


def left_running(pids: dict[str, int], started: dict[str, str | None]) -> dict[str, int]:
    """The processes still running DEADLINE seconds on (polled: a killed process goes at once)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        alive = {name: pid for name, pid in pids.items()
                 if started[name] is not None and identity(pid) == started[name]}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def kill_all(pids: dict[str, int], started: dict[str, str | None] | None = None) -> None:
    """Clean up after a failure: kill what is still the run's (never a later process given its pid)."""
    for name, pid in pids.items():
        if started is None or (started.get(name) is not None and identity(pid) == started[name]):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("daemons", [False, True], ids=["sleeper", "setsid-daemons"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signal_mid_run_leaves_no_process_and_no_temporary_folder(tmp_path, signum, daemons):
    run = Run(tmp_path, daemons=daemons, sleep=DAEMON_SLEEP)
    golive = run.start()
    pids: dict[str, int] = {}
    started: dict[str, str | None] | None = None
    try:
        pids = run.wait_for_pids(daemons)
        started = {name: identity(pid) for name, pid in pids.items()}
        assert all(started.values()), started
        assert len(run.run_folders()) == 1
        golive.send_signal(signum)
        golive.communicate(timeout=DEADLINE)
        left = left_running(pids, started)
    finally:
        golive.kill()
        golive.wait()
        kill_all(pids or run.pids_so_far(), started)
    assert golive.returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 128 + signum)
    assert not left, f"left running after {signum.name}: {left}"
    if signum == signal.SIGKILL:
        # Nothing could remove it then; the next run removes it, as its owner is dead.
        assert len(run.run_folders()) == 1
        again = Run(tmp_path, daemons=False, sleep=0).run()
        assert again.returncode == 0, again.stderr.decode()
    assert run.run_folders() == []


def test_under_nohup_a_hangup_is_ignored_and_the_run_completes(tmp_path):
    """A SIGHUP ignored when golive starts (nohup) stays ignored, as for any Unix tool."""
    run = Run(tmp_path, daemons=False, sleep=2)
    golive = run.start(sighup="SIG_IGN")
    try:
        run.wait_for_pids(daemons=False)
        golive.send_signal(signal.SIGHUP)
        _, err = golive.communicate(timeout=DEADLINE)
    finally:
        golive.kill()
        golive.wait()
    assert golive.returncode == 0, err.decode()
    assert run.run_folders() == []


def test_a_detached_grandchild_holding_the_packs_pipes_neither_holds_up_nor_outlives_the_run(tmp_path):
    run = Run(tmp_path, daemons=True, sleep=0)
    pids: dict[str, int] = {}
    started: dict[str, str | None] | None = None
    try:
        # Before, golive waited for the pack's grandchild to close the pack's stdout: DAEMON_SLEEP seconds.
        done = run.run()
        pids = {n: p for n, p in run.pids_so_far().items() if n in ("daemon", "pack daemon")}
        started = {name: identity(pid) for name, pid in pids.items()}
        left = left_running(pids, started)
    finally:
        kill_all(pids or run.pids_so_far(), started)
    assert done.returncode == 0, done.stderr.decode()
    assert len(pids) == 2 and not left, f"left running: {left}"


def test_a_programs_daemon_ends_with_the_program_run_in_process(tmp_path, monkeypatch):
    program = write_program(tmp_path / "program")
    pids = tmp_path / "pids"
    pids.mkdir()
    for name, value in (("TEST_PIDS", str(pids)), ("TEST_DAEMON", "1"), ("TEST_SLEEP", "0")):
        monkeypatch.setenv(name, value)
    run_program(program, "prod")
    daemon = {"daemon": int((pids / "daemon").read_text())}
    started = {"daemon": identity(daemon["daemon"])}
    try:
        assert left_running(daemon, started) == {}
    finally:
        kill_all(daemon, started)


def test_closing_a_pack_neither_waits_for_nor_leaves_its_detached_grandchild(tmp_path, monkeypatch):
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("GOLIVE_TEST_CALLS", str(calls))
    monkeypatch.setenv("GOLIVE_TEST_DAEMON", "1")
    session = AnalyzerSession.start(RECORDER, ResourceGraph(project="proj", stack="dev"))
    records = [json.loads(line) for line in calls.read_text().splitlines()]
    daemon = {"daemon": next(r for r in records if r["call"] == "daemon")["pid"]}
    started = {"daemon": identity(daemon["daemon"])}
    try:
        session.run()
        # It holds the pack's stdout and stderr: before, closing them waited for its DAEMON_SLEEP seconds.
        closing = threading.Thread(target=session.close, daemon=True)
        closing.start()
        closing.join(DEADLINE)
        assert not closing.is_alive()
        assert left_running(daemon, started) == {}
    finally:
        kill_all(daemon, started)


def test_a_pack_that_exits_is_seen_to_though_its_detached_grandchild_holds_its_stdout(tmp_path):
    pack = write_pack(tmp_path / "quitter", "import subprocess, sys\n"
                      f"daemon = subprocess.Popen(['setsid', 'sleep', '{DAEMON_SLEEP}'])\n"
                      f"open({str(tmp_path / 'daemon')!r}, 'w').write(str(daemon.pid))\n"
                      "sys.exit(3)\n")
    daemon: dict[str, int] = {}
    started = None
    try:
        # Before, the end of its stdout was awaited, which the grandchild holds: the start timeout ran out.
        with pytest.raises(PackError, match=r"exited before printing its port \(status 3\)"):
            AnalyzerSession.start(pack, ResourceGraph(project="proj", stack="dev"), start_timeout=DEADLINE)
        daemon = {"daemon": int((tmp_path / "daemon").read_text())}
        started = {"daemon": identity(daemon["daemon"])}
        assert left_running(daemon, started) == {}
    finally:
        kill_all(daemon, started)


def test_only_dead_runs_folders_are_removed(tmp_path):
    def folder(name: str, *, lock: bool) -> Path:
        path = tmp_path / name
        path.mkdir()
        if lock:
            (path / ".lock").touch()
        return path

    dead_pid = _a_dead_pid()
    live_locked = folder(f"golive-run-{dead_pid}-live", lock=True)  # a run in another PID namespace, say
    holder = os.open(live_locked / ".lock", os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        dead_locked = folder(f"golive-run-{os.getpid()}-dead", lock=True)  # its pid reused since
        starting = folder(f"golive-run-{os.getpid()}-starting", lock=False)  # created, not yet locked
        dead_starting = folder(f"golive-run-{dead_pid}-gone", lock=False)
        older = folder("golive-run-abc123", lock=False)  # an older golive's: whose, nothing says
        other = folder("unrelated", lock=False)
        removed = process.remove_stale_run_folders(str(tmp_path))
    finally:
        os.close(holder)
    assert sorted(removed) == sorted([str(dead_locked), str(dead_starting)])
    assert all(p.exists() for p in (live_locked, starting, older, other))


def _a_dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
