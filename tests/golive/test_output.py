"""Where golive writes its outputs (golive/output.py): a report or baseline replaces a regular file
whole and keeps its mode, follows links without replacing them, goes straight into pipes, character
devices and golive's own descriptors, and every target of a command is judged before the command
does any work - one line and exit 2, nothing half-written.

The targets are never the real /dev/stdout or /dev/null: the old writer replaced them (as root) with
a file, for every process on the machine. A link of one's own to /proc/self/fd/1 is the same thing.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_state import FIXTURE

import golive.preview.state
from golive import cli

ROOT = Path(__file__).resolve().parents[2]
STATE = ["check", "--state", str(FIXTURE), "--format", "json"]


def run_golive(*argv: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "golive", *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, **kwargs)


def one_line(err: str, *fragments: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("golive: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def is_report(text: str) -> bool:
    return json.loads(text)["stack"] == "production"


@pytest.fixture
def nothing_runs(monkeypatch):
    """A refusal must come before the check reads its state and starts the pack."""
    def never(*args, **kwargs):
        raise AssertionError("the check ran before its outputs were judged")

    monkeypatch.setattr(golive.preview.state, "load_state", never)


# --- regular files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_an_existing_report_is_replaced_whole_and_keeps_its_mode(tmp_path, capsys, mode):
    report = tmp_path / "report.json"
    report.write_text("old")
    report.chmod(mode)
    assert cli.main([*STATE, "-o", str(report)]) == 1
    assert is_report(report.read_text())
    assert stat.S_IMODE(report.stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temporary file left


def test_a_new_report_gets_the_umask_mode_as_a_shell_redirection_would(tmp_path, capsys):
    # Reports and baselines hold no credential value and are meant to be shared and committed.
    old = os.umask(0o022)
    try:
        assert cli.main([*STATE, "-o", str(tmp_path / "report.json"),
                         "--write-baseline", str(tmp_path / "baseline.json")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "baseline.json").stat().st_mode) == 0o644


def test_a_link_to_a_file_is_followed_and_kept(tmp_path, capsys):
    (tmp_path / "reports").mkdir()
    real = tmp_path / "reports" / "latest.json"
    real.write_text("old")
    real.chmod(0o644)
    link = tmp_path / "report.json"
    link.symlink_to(real)
    assert cli.main([*STATE, "-o", str(link)]) == 1
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert is_report(real.read_text()) and stat.S_IMODE(real.stat().st_mode) == 0o644
    # A link to a file that does not exist yet creates it, as `>` would.
    dangling = tmp_path / "baseline.json"
    dangling.symlink_to(tmp_path / "reports" / "baseline.json")
    assert cli.main([*STATE, "--write-baseline", str(dangling), "-o", str(link)]) == 0
    assert dangling.is_symlink() and json.loads(dangling.read_text())["format"] == "golive-baseline"


# --- streams and descriptors -------------------------------------------------------------------------


def test_a_link_to_standard_output_writes_standard_output(tmp_path):
    """What `-o /dev/stdout` is: a link to /proc/self/fd/1. The old writer replaced the link with a file
    (0600) and printed nothing."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    done = run_golive(*STATE, "-o", str(link))
    assert done.returncode == 1, done.stderr
    assert is_report(done.stdout)
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_a_dash_is_standard_output_not_a_file_named_dash(tmp_path):
    done = subprocess.run([sys.executable, "-m", "golive", *STATE, "-o", "-"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1, done.stderr
    assert is_report(done.stdout) and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/dev/fd/{fd}", "/proc/self/fd/{fd}"])
def test_golives_own_descriptors(tmp_path, path):
    read, write = os.pipe()
    try:
        done = run_golive(*STATE, "-o", path.format(fd=write), pass_fds=(write,))
        os.close(write)
        write = -1
        assert done.returncode == 1, done.stderr
        with os.fdopen(read, encoding="utf-8") as pipe:
            read = -1
            assert is_report(pipe.read())
        assert done.stdout == ""
        done = run_golive(*STATE, "-o", path.format(fd=1))
        assert done.returncode == 1 and is_report(done.stdout), done.stderr
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)


def test_a_descriptor_that_is_not_open_is_one_line(capsys, nothing_runs):
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)  # a number no file holds now
    assert cli.main([*STATE, "-o", f"/dev/fd/{fd}"]) == 2
    one_line(capsys.readouterr().err, f"--output /dev/fd/{fd}: descriptor {fd} is not open")


def test_a_named_pipe_is_written_into_not_replaced(tmp_path, capsys):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    # Open for reading first, without blocking, so golive's open for writing does not wait.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert cli.main([*STATE, "-o", str(fifo)]) == 1
        assert stat.S_ISFIFO(fifo.lstat().st_mode)
        chunks = []
        while chunk := os.read(reader, 1 << 16):
            chunks.append(chunk)
    except BlockingIOError:  # nothing written into the pipe
        pass
    finally:
        os.close(reader)
    assert is_report(b"".join(chunks).decode())


def test_a_link_to_a_character_device_writes_the_device(tmp_path, capsys):
    link = tmp_path / "null"
    link.symlink_to(os.devnull)
    assert cli.main([*STATE, "-o", str(link)]) == 1
    assert link.is_symlink() and capsys.readouterr().out == ""
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_device_that_refuses_the_write_is_one_line(tmp_path, capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    link = tmp_path / "full"
    link.symlink_to("/dev/full")
    assert cli.main([*STATE, "-o", str(link)]) == 2
    one_line(capsys.readouterr().err, f"--output {link}: cannot write: No space left on device")


# --- refused before anything runs ----------------------------------------------------------------------


def test_a_folder_as_output_is_refused_before_the_check(tmp_path, capsys, nothing_runs):
    assert cli.main([*STATE, "-o", str(tmp_path)]) == 2
    one_line(capsys.readouterr().err, f"--output {tmp_path}: is a folder")
    assert cli.main([*STATE, "--write-baseline", str(tmp_path)]) == 2
    one_line(capsys.readouterr().err, f"--write-baseline {tmp_path}: is a folder")


def test_a_bad_report_target_writes_no_baseline(tmp_path, capsys, nothing_runs):
    """The old check wrote the baseline, then crashed on the report's folder: half a run."""
    baseline = tmp_path / "b.json"
    assert cli.main([*STATE, "--write-baseline", str(baseline), "-o", str(tmp_path)]) == 2
    one_line(capsys.readouterr().err, f"--output {tmp_path}: is a folder")
    assert not baseline.exists() and list(tmp_path.iterdir()) == []


def test_a_name_ending_in_a_slash_is_a_folder_not_a_file(tmp_path, capsys, nothing_runs, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main([*STATE, "--write-baseline", "newdir/"]) == 2
    one_line(capsys.readouterr().err, "--write-baseline newdir/: no such folder")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_and_one_place_twice(tmp_path, capsys, nothing_runs):
    assert cli.main([*STATE, "-o", str(tmp_path / "no" / "r.json")]) == 2
    one_line(capsys.readouterr().err, f"folder {tmp_path / 'no'} does not exist")
    same = str(tmp_path / "r.json")
    assert cli.main([*STATE, "-o", same, "--write-baseline", same]) == 2
    one_line(capsys.readouterr().err, "are the same place")


def test_a_read_only_file_system_is_one_line_before_the_check(tmp_path):
    """A tmpfs mounted read-only in a mount namespace of the test's own (root only)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a read-only file system")
    folder = tmp_path / "ro"
    folder.mkdir()
    script = (f"mount -t tmpfs -o ro none {folder} || exit 99; "
              f"exec {sys.executable} -m golive check --state {FIXTURE} -o {folder}/report.json")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    if done.returncode == 99:
        pytest.skip(f"cannot mount: {done.stderr.strip()}")
    assert done.returncode == 2 and done.stdout == ""
    one_line(done.stderr, f"--output {folder}/report.json: cannot write in folder {folder}: read-only file system")


def test_every_command_that_writes_refuses_a_folder_in_one_line(tmp_path, capsys):
    """waivers check, audit and fingerprints --merge, each before its run (no program, AWS or pack)."""
    config = tmp_path / "policy-config.json"
    config.write_text("{}")
    runs = [
        ["waivers", "check", str(ROOT), "--stack", "production", "--policy-pack-config", str(config),
         "-o", str(tmp_path)],
        ["audit", "--stack", "production", "--program-dir", str(ROOT), "-o", str(tmp_path),
         "--aws-endpoint", "http://127.0.0.1:9"],
        ["smoke", "--stack", "production", "--program-dir", str(ROOT), "-o", str(tmp_path)],
        ["fingerprints", "--stack", "staging", "--merge", str(tmp_path), "--aws-endpoint", "http://127.0.0.1:9"],
    ]
    for argv in runs:
        assert cli.main(argv) == 2, argv
        option = "--merge" if "--merge" in argv else "--output"
        one_line(capsys.readouterr().err, f"{option} {tmp_path}: is a folder")
