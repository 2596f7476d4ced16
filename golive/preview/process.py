"""golive's children: waiting for one to exit, the lifeline that ends them with golive, the run's folder.

Waiting is woken by the exit itself rather than by polling.

`Popen.wait(timeout=...)` polls with sleeps that grow, so a program's exit is noticed up to one of
those sleeps late - a noticeable part of a `golive check`. A pidfd (Linux 5.3+) becomes readable
the moment its process exits, and waiting on it does not reap the process: its group id stays ours
until it is reaped, so the group can still be killed safely after.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator

from golive.preview._guard import LIFELINE_ENV, end_descendants, set_subreaper

__all__ = ["GUARD_SCRIPT", "LIFELINE_ENV", "end_descendants", "lifeline", "run_folder", "set_subreaper",
           "wait_exited"]

# `python -u GUARD_SCRIPT MODULE ARGS...` runs MODULE as `python -u -m MODULE ARGS...` would, guarded
# (`golive.preview._guard`): for a child whose code is not golive's, such as a policy pack.
GUARD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_guard.py")


def wait_exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether `proc` exited within `timeout` seconds; it is left unreaped (a zombie) if it did."""
    if proc.returncode is not None:
        return True
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd here (older kernel, not Linux): poll, as Popen would
        return _poll_exited(proc, timeout)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if poller.poll(max(0, int(remaining * 1000) + 1)):
                return True
            if remaining <= 0:
                return False
    finally:
        os.close(pidfd)


def _poll_exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # already reaped elsewhere
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


_lifeline: int | None = None
_lifeline_lock = threading.Lock()


def lifeline() -> int:
    """The read end of a pipe whose write end this process holds until it exits, for a child to
    inherit (as LIFELINE_ENV, in pass_fds): its end of file tells the child golive is gone, even
    after a SIGKILL. Both ends are close-on-exec here, so no other child holds the write end."""
    global _lifeline
    with _lifeline_lock:
        if _lifeline is None:
            read_end, _write_end = os.pipe()  # the write end is never closed: the process's exit does that
            _lifeline = read_end
        return _lifeline


RUN_FOLDER_PREFIX = "golive-run-"
_LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_folder() -> Iterator[str]:
    """A temporary folder for one run, removed when the block ends; first the folders of runs that
    died without removing theirs (SIGKILL) are removed.

    The folder holds a lock (flock) for as long as its run's process lives; the kernel releases it
    whatever ends the process, so a folder whose lock can be taken is a dead run's, and a live
    concurrent run's folder - in this or another PID namespace sharing the folder - is never touched.
    The process id in the name covers the moment between the folder's creation and its lock.
    """
    remove_stale_run_folders()
    with tempfile.TemporaryDirectory(prefix=f"{RUN_FOLDER_PREFIX}{os.getpid()}-") as path:
        lock = os.open(os.path.join(path, _LOCK_NAME), os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        try:
            _flock(lock, blocking=True)
            yield path
        finally:
            os.close(lock)


def remove_stale_run_folders(parent: str | None = None) -> list[str]:
    """Remove this user's run folders under `parent` (the temporary folder) whose run is dead; their paths."""
    parent = parent or tempfile.gettempdir()
    removed = []
    try:
        names = [n for n in os.listdir(parent) if n.startswith(RUN_FOLDER_PREFIX)]
    except OSError:
        return removed
    for name in names:
        path = os.path.join(parent, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        try:
            lock = os.open(os.path.join(path, _LOCK_NAME), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            if _owner_dead(name):  # died between creating the folder and locking it
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
            continue
        except OSError:
            continue
        try:
            if _flock(lock, blocking=False):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        finally:
            os.close(lock)
    return removed


def _flock(fd: int, *, blocking: bool) -> bool:
    """Take an exclusive lock on `fd`; whether it was taken (True where there are no locks)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return blocking
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _owner_dead(name: str) -> bool:
    """Whether the process named in a run folder's name (golive-run-PID-...) is gone; False when unsure."""
    pid = name[len(RUN_FOLDER_PREFIX):].split("-", 1)[0]
    if not pid.isdigit():
        return False  # an older golive's folder: nothing tells whose it is
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
