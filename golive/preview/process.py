"""Waiting for a child process to exit, woken by the exit itself rather than by polling.

`Popen.wait(timeout=...)` polls with sleeps that grow, so a program's exit is noticed up to one of
those sleeps late - a noticeable part of a `golive check`. A pidfd (Linux 5.3+) becomes readable
the moment its process exits, and waiting on it does not reap the process: its group id stays ours
until it is reaped, so the group can still be killed safely after.
"""

from __future__ import annotations

import os
import select
import subprocess
import time


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
