"""Where a command's output goes: standard output, a stream, or a file written whole or not at all.

Every file a command writes goes through here, and every target is judged before the command does any
work (`targets`), so that a bad one is one line and exit 2 up front rather than a crash after an
earlier output was already written:

- nothing, or `-`: standard output;
- `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: that descriptor of golive's own, written
  directly (reopening the path could truncate or, for a file, replace what the shell redirected);
- a character device (`/dev/null`, a terminal) or a named pipe, links to them included: written directly
  (a named pipe waits for its reader, as a shell's `>` does);
- a regular file, or a name that does not exist yet: a temporary file beside it, then a rename, so a
  reader never sees half a report. A symbolic link is followed (the file it names is replaced, the
  link stays), and an existing file keeps its permission bits (and owner, where golive may set it);
  a new file gets 0666 less the umask, as a shell's `>` would make it. Reports and baselines name
  resources and never hold a credential value, they are meant to be uploaded and committed, and a
  0600 file in a CI workspace shared by other users is one nobody else can read;
- a folder, a name ending in `/`, a missing or read-only folder, a file golive may not write, a
  socket, a block device or a descriptor that is not open: refused, naming the option and the path.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from golive.errors import UsageError

_OWN_FD = re.compile(r"^/(?:dev/(?:fd/(\d+)|std(in|out|err))|proc/(?:self|thread-self|\d+)/fd/(\d+))$")
_STD = {"in": 0, "out": 1, "err": 2}


@dataclass(frozen=True)
class Target:
    """Where one output goes, as judged before anything was written."""

    option: str  # the option that named it, for messages
    given: str | None  # as the command line said it; None: standard output
    fd: int | None = None  # one of golive's own descriptors
    stream: Path | None = None  # a character device or a named pipe: opened and written directly
    file: Path | None = None  # a regular file (existing or not), every link followed

    def __str__(self) -> str:
        return "standard output" if self.given is None else f"{self.option} {self.given}"


def target(path: str | None, option: str = "--output") -> Target:
    """Judge one output target; UsageError (one line naming `option` and `path`) when it cannot be written."""
    if path is None or path == "-":
        return Target(option, path, fd=1)
    where = f"{option} {path}"
    if not path:
        raise UsageError(f"{option}: an empty file name")
    own = _OWN_FD.match(os.path.normpath(path))
    if own is not None and _is_own_proc(os.path.normpath(path)):
        fd = _STD[own[2]] if own[2] else int(own[1] or own[3])
        try:
            os.fstat(fd)
        except OSError:
            raise UsageError(f"{where}: descriptor {fd} is not open") from None
        return Target(option, path, fd=fd)
    try:
        found = os.stat(path)  # through every link: what a write would reach
    except FileNotFoundError:
        found = None
    except OSError as err:
        raise UsageError(f"{where}: {_reason(err)}") from None
    if found is not None:
        if stat.S_ISDIR(found.st_mode):
            raise UsageError(f"{where}: is a folder; give a file name")
        if stat.S_ISCHR(found.st_mode) or stat.S_ISFIFO(found.st_mode):
            if not os.access(path, os.W_OK):
                raise UsageError(f"{where}: not writable (permission denied)")
            return Target(option, path, stream=Path(path))
        if not stat.S_ISREG(found.st_mode):
            raise UsageError(f"{where}: not a file, a pipe or a character device")
    elif path.endswith(("/", os.sep)):
        raise UsageError(f"{where}: no such folder (a name ending in / names a folder, not a file)")
    real = Path(os.path.realpath(path))
    folder = real.parent
    if not folder.is_dir():
        raise UsageError(f"{where}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{where}: cannot write in folder {folder}: {_folder_problem(folder)}")
    if found is not None and not os.access(real, os.W_OK):
        raise UsageError(f"{where}: not writable (permission denied)")
    return Target(option, path, file=real)


def targets(*named: tuple[str, str | None]) -> list[Target]:
    """Every output of one command, judged together before any is written: (option, path) pairs,
    a None path being standard output. Two outputs into one place are refused."""
    judged = [target(path, option) for option, path in named]
    seen: dict[object, Target] = {}
    for one in judged:
        key = one.file or one.stream or one.fd
        if key in seen:
            raise UsageError(f"{seen[key]} and {one} are the same place: give each its own")
        seen[key] = one
    return judged


def write_output(text: str, where: str | Target | None, option: str = "--output") -> None:
    """Write one output whole (a file: to a temporary file first) or not at all."""
    write_outputs([(where if isinstance(where, Target) else target(where, option), text)])


def write_outputs(outputs: Sequence[tuple[Target, str]]) -> None:
    """Write several outputs of one command: every file is written to its temporary file first and
    only once all of them are complete renamed into place; streams and descriptors come last."""
    staged: list[tuple[Path, Target]] = []
    try:
        for where, text in outputs:
            if where.file is not None:
                staged.append((_stage(where, text), where))
        for temporary, where in staged:
            assert where.file is not None
            try:
                os.replace(temporary, where.file)
            except OSError as err:
                raise UsageError(f"{where}: cannot write: {_reason(err)}") from None
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)  # renamed ones are gone already
    for where, text in outputs:
        if where.file is None:
            _write_stream(where, text if text.endswith("\n") else text + "\n")


def _stage(where: Target, text: str) -> Path:
    """The text in a new file beside the target, with the target's mode (or the umask's), synced."""
    assert where.file is not None
    try:
        before: os.stat_result | None = os.stat(where.file)
    except FileNotFoundError:
        before = None
    except OSError as err:
        raise UsageError(f"{where}: {_reason(err)}") from None
    # The kernel applies the umask to a new file's mode: 0666 gives what a shell's `>` would; an
    # existing file's own bits are set exactly once the file exists (fchmod ignores the umask).
    mode = 0o666 if before is None else stat.S_IMODE(before.st_mode) & 0o777
    while True:
        temporary = where.file.with_name(f".{where.file.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
            break
        except FileExistsError:
            continue
        except OSError as err:
            raise UsageError(f"{where}: cannot write in folder {where.file.parent}: {_reason(err)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if before is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(before.st_mode))
                if (before.st_uid, before.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(handle.fileno(), before.st_uid, before.st_gid)
                    except PermissionError:  # only root may give a file away; the mode is kept regardless
                        pass
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not land before the content does
    except BaseException as err:
        temporary.unlink(missing_ok=True)
        if isinstance(err, OSError):  # a full disk, a quota: one line, not a traceback
            raise UsageError(f"{where}: cannot write: {_reason(err)}") from None
        raise
    return temporary


LOCK_WAIT = 60.0  # seconds a rewrite waits for another golive rewriting a file in the same folder


@contextmanager
def locked(where: Target) -> Iterator[None]:
    """Hold the lock for a read-modify-write of a file (`golive waivers add`, `fingerprints --merge`):
    read it, change it and write it inside, and no other golive doing the same in that folder reads it
    in between. The lock is an flock on the folder itself: nothing is left beside the file, and the
    rename that replaces the file cannot move the lock away. Anything but a file needs none."""
    if where.file is None:
        yield
        return
    import fcntl
    import time

    folder = where.file.parent
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise UsageError(f"{where}: cannot lock folder {folder}: {_reason(err)}") from None
    try:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UsageError(f"{where}: another golive has been rewriting a file in {folder} for "
                                     f"{LOCK_WAIT:g}s; nothing was written: try again") from None
                time.sleep(0.02)
            except OSError as err:  # a file system without locks: refuse rather than lose a concurrent change
                raise UsageError(f"{where}: cannot lock folder {folder}: {_reason(err)}") from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_stream(where: Target, text: str) -> None:
    try:
        if where.fd in (1, 2):
            # golive's own stream object: what it printed before stays before the report.
            stream = sys.stdout if where.fd == 1 else sys.stderr
            stream.write(text)
            stream.flush()
        elif where.fd is not None:
            data = text.encode("utf-8")
            while data:
                data = data[os.write(where.fd, data):]
        else:
            assert where.stream is not None
            with open(where.stream, "w", encoding="utf-8") as handle:
                handle.write(text)
    except BrokenPipeError:
        raise  # a reader that went away: as for standard output, not a bad target
    except OSError as err:
        raise UsageError(f"{where}: cannot write: {_reason(err)}") from None


def _is_own_proc(path: str) -> bool:
    """`/proc/PID/fd/N` is golive's own descriptor only for golive's own PID."""
    match = re.match(r"^/proc/(\d+)/", path)
    return match is None or int(match[1]) == os.getpid()


def _folder_problem(folder: Path) -> str:
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def _reason(err: OSError) -> str:
    return err.strerror or str(err)
