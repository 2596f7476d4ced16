"""Keeping what a run starts together, and ending all of it with golive, however golive ends.

Imported by golive and, before anything else, by both of its children - the program's process
(`golive.preview._exec`) and the policy pack's (started as `python -u _guard.py pulumi.policy ...`,
which runs the module as `-m` would). Standard library only, and no syntax newer than the oldest
Python a program's or a pack's virtualenv may hold.

In a child, `guard()`:
- makes it a child subreaper (Linux, PR_SET_CHILD_SUBREAPER): a descendant that leaves its session
  (`setsid`) and whose parent exits - a daemon's double fork - is re-parented to the child, not to
  init, so the child's process tree keeps everything it started, for `end_descendants` to find;
- watches the lifeline, a pipe whose write end only golive's process holds: its end of file means
  golive is gone, whatever ended it (SIGKILL included, which no handler sees), and the child then
  ends its descendants and itself.

The tree is read from /proc (Linux); elsewhere `descendants` finds nothing and the process groups,
which golive kills as before, are all that is ended.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

LIFELINE_ENV = "GOLIVE_LIFELINE_FD"
_PR_SET_CHILD_SUBREAPER = 36
# Rounds of stopping newly found descendants; each round only finds what forked before the last stop.
_MAX_ROUNDS = 50


def set_subreaper() -> bool:
    """Make this process a child subreaper (Linux); whether it is one."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):
        return False


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc; none where /proc cannot say."""
    if not _proc_lists_children():
        return _children_by_scan(pid)
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:  # each thread lists the children it started
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                found.extend(int(word) for word in handle.read().split())
        except (OSError, ValueError):  # the thread ended meanwhile
            continue
    return found


_lists_children: bool | None = None


def _proc_lists_children() -> bool:
    """Whether /proc/PID/task/TID/children exists here (CONFIG_PROC_CHILDREN); else /proc is scanned."""
    global _lists_children
    if _lists_children is None:
        _lists_children = os.path.exists(f"/proc/self/task/{os.getpid()}/children")
    return _lists_children


def _children_by_scan(pid: int) -> list[int]:
    found: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:  # no /proc (not Linux)
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: the fields after its last ')' are fixed.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid).encode():
            found.append(int(name))
    return found


def descendants(pid: int) -> list[int]:
    """Every process below `pid` in the process tree, parents before their children."""
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children(queue.pop()):
            if child not in found:
                found.append(child)
                queue.append(child)
    return found


def end_descendants(pid: int) -> list[int]:
    """Kill every descendant of `pid` (not `pid` itself); the ones found.

    Each is stopped before any is killed: a stopped process cannot fork, and killing a parent first
    would let its children re-parent out of reach (to init, unless `pid` is their subreaper). Rounds
    of stopping go on until one finds nothing new, then everything found is killed at once.
    """
    stopped: list[int] = []
    for _ in range(_MAX_ROUNDS):
        new = [p for p in descendants(pid) if p not in stopped]
        if not new:
            break
        for p in new:
            _signal(p, signal.SIGSTOP)
        stopped.extend(new)
    for p in stopped:
        _signal(p, signal.SIGKILL)
    return stopped


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:  # gone already, or not ours to signal
        pass


def guard() -> None:
    """In one of golive's children: keep its descendants in its tree, and end with golive."""
    set_subreaper()
    value = os.environ.pop(LIFELINE_ENV, None)
    if value is None:
        return
    try:
        fd = int(value)
        os.set_inheritable(fd, False)  # the program's own children have no business with it
    except (ValueError, OSError):
        return
    parent = os.getppid()
    threading.Thread(target=_watch, args=(fd, parent), name="golive-lifeline", daemon=True).start()


def _watch(fd: int, parent: int) -> None:
    try:
        while os.read(fd, 1):  # golive never writes: only its end of file comes
            pass
    except OSError:  # the descriptor was closed under us (a program that closes them all): watch the parent
        while os.getppid() == parent:
            time.sleep(1.0)
    end_descendants(os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


def _run_module() -> None:
    """`python _guard.py MODULE ARGS...`: guard(), then MODULE as `python -m MODULE ARGS...` runs it."""
    module = sys.argv.pop(1)
    # As -m does: the working directory first on the path, not this file's folder (golive's own modules).
    sys.path[0] = os.getcwd()
    guard()
    import runpy

    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:  # what the module leaves running when it ends (not killed) ends with it
        end_descendants(os.getpid())


if __name__ == "__main__":
    _run_module()
