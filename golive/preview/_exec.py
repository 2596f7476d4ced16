"""The child process that runs a Pulumi program, as the CLI's pulumi-language-python-exec does.

Started as `python -u -m golive.preview._exec --monitor ADDR --engine ADDR --project P --root_directory R
--stack S --pwd DIR --dry_run true --parallel N --organization O PROGRAM`, with the config in
PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS. Only the standard library and the program's own
`pulumi` are imported here: the program may run in its own virtualenv.

golive additions, invisible to the program: `golive.preview._guard` keeps what the program starts in
this process's tree and ends it all if golive's process dies (GOLIVE_LIFELINE_FD); what the program
leaves running is ended when it returns. `GOLIVE_BOOTSTRAP_PATH` (the sys.path entry that made
this module importable) is dropped from sys.path and PYTHONPATH before the program starts, and
`GOLIVE_REPORT_FILE` receives a JSON account of an unhandled exception (and, on SIGUSR1, the
stacks of all threads, so a program that hangs can be pointed at). `GOLIVE_READY_FD`, when set,
is a pipe to wait on before the program's first call: golive's engine services come up while this
interpreter starts. For speed, the collector runs less often (`_space_out_collections`) and skips
the final walks of the heap at exit (`_set_sdk_aside`, `_skip_final_collection`), and with the
pinned SDK, debug logs are answered without a round trip and the final wait is linear
(`golive.preview._sdkpatch`); none of this changes what the program does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import runpy
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Imported now, while golive is importable: `_forget_golive` lets the program have a golive of its own.
from golive.preview import _sdkpatch

# pulumi-language-python-exec: exit status 32 tells the language host the error was already shown.
EXIT_USER_ERROR = 32


def _drop_bootstrap_path() -> None:
    entry = os.environ.pop("GOLIVE_BOOTSTRAP_PATH", None)
    if entry is None:
        return
    # Only the entry golive prepended to PYTHONPATH goes; a copy the user put there stays.
    for index, path in enumerate(sys.path):
        if index > 0 and os.path.abspath(path or ".") == os.path.abspath(entry):
            del sys.path[index]
            break
    original = os.environ.pop("GOLIVE_ORIGINAL_PYTHONPATH", None)
    if original:
        os.environ["PYTHONPATH"] = original
    else:
        os.environ.pop("PYTHONPATH", None)


def _module_path(path: str) -> str:
    base, ext = os.path.splitext(path)
    if not ext:
        base = os.path.join(base, "__main__")
    return os.path.abspath(base)


def _user_traceback(program: str, exc: BaseException) -> str:
    """The traceback from the first frame of the program's main file on, as the exec script shows it."""
    frames = traceback.extract_tb(exc.__traceback__)
    main = _module_path(program)
    for index, frame in enumerate(frames):
        if _module_path(frame.filename) == main:
            return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__,
                                                      limit=-(len(frames) - index)))
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _report(exc: BaseException, kind: str) -> None:
    path = os.environ.get("GOLIVE_REPORT_FILE")
    if not path:
        return
    def frames_of(error: BaseException) -> list[dict[str, Any]]:
        return [{"file": f.filename if f.filename.startswith("<") else os.path.abspath(f.filename),
                 "line": f.lineno, "name": f.name, "text": f.line or ""}
                for f in traceback.extract_tb(error.__traceback__)]

    frames = frames_of(exc)
    cause = exc.__cause__ or exc.__context__
    chained = []
    while cause is not None and len(chained) < 5:
        chained.append({"type": type(cause).__name__, "message": str(cause), "frames": frames_of(cause)})
        cause = cause.__cause__ or cause.__context__
    data: dict[str, Any] = {"kind": kind, "type": type(exc).__name__, "message": str(exc), "frames": frames,
                            "causes": chained}
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
    except OSError:
        pass


def _dump_stacks_on_signal() -> None:
    """On SIGUSR1 (sent when the run times out) write every thread's stack, so golive can say where
    the program was stuck. faulthandler writes from the signal handler, even while Python is blocked."""
    path = os.environ.get("GOLIVE_STACKS_FILE")
    if not path:
        return
    try:
        import faulthandler
        import signal

        handle = open(path, "w", encoding="utf-8")  # stays open for the handler, for the process's life
        faulthandler.register(signal.SIGUSR1, file=handle, all_threads=True)
    except (ImportError, AttributeError, OSError, ValueError):
        pass


def _wait_for_engine() -> None:
    """golive starts this process before its engine services are up, so the interpreter and the SDK
    load meanwhile; it writes to GOLIVE_READY_FD once they listen. Wait for that before the program
    makes its first call (the CLI only starts a program once its engine is up). A closed pipe means
    golive is gone: go on, and the first call fails as it would."""
    fd = os.environ.pop("GOLIVE_READY_FD", None)
    if fd is None:
        return
    try:
        descriptor = int(fd)
    except ValueError:
        return
    try:
        os.read(descriptor, 1)
    except OSError:
        pass
    finally:
        try:
            os.close(descriptor)
        except OSError:
            pass


def _forget_golive() -> None:
    """A program may have a package of its own named golive: let it import that one."""
    for name in [n for n in sys.modules if n == "golive" or n.startswith("golive.")]:
        del sys.modules[name]


# Young-generation threshold for the program's process (CPython's default is 700).
GC_THRESHOLD0 = 1_000_000


def _space_out_collections() -> None:
    """Collect cyclic garbage less often in the program's process.

    A program's run is mostly imports: the SDK and the provider modules it uses create hundreds of
    thousands of long-lived objects (classes, type hints), and each young collection walks every one
    made since the last, only to keep them: at 700, a large part of a small program's run; at
    20,000, still a few collections that find almost no garbage. The walk costs what the young
    generation holds, so spacing collections out saves little until a program's imports fit between
    two: at 1,000,000, a small program is never interrupted, and a large one collects a few times
    (with registrations started a window at a time, `_sdkpatch` item 5, each young collection finds
    the garbage of the registrations that finished: at 200,000 that cost a large stack a fifth of
    its time), for a little more memory at its peak (figures: docs/benchmarks.md). What runs, and
    what it registers, is unchanged: collection timing is never part of Python's semantics; cyclic
    garbage is still collected, after 1,000,000 allocations instead of 700.
    """
    try:
        import gc

        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(GC_THRESHOLD0, gen1, gen2)
    except (ImportError, AttributeError):  # pragma: no cover
        pass


def _set_sdk_aside() -> None:
    """Move what the SDK loaded to the collector's permanent generation before the program starts.

    Those objects live as long as the process, and the program cannot have opened any file among
    them: set aside, later collections skip them, and `_skip_final_collection` looks for the
    program's open files only among the objects made since (about half the heap).
    """
    try:
        import gc

        gc.freeze()
    except (ImportError, AttributeError):  # pragma: no cover - gc.freeze exists since Python 3.7
        pass


def main(argv: list[str] | None = None) -> int:
    from golive.preview import _guard  # before _forget_golive, which leaves the program its own golive

    _guard.guard()
    try:
        return _run(argv)
    finally:
        # The program's run is over: what it started and left running (a daemon) ends with it.
        _guard.end_descendants(os.getpid())


def _run(argv: list[str] | None) -> int:
    _space_out_collections()
    _drop_bootstrap_path()
    _forget_golive()
    _dump_stacks_on_signal()
    try:
        import pulumi
        import pulumi.runtime
    except ImportError:
        print(traceback.format_exc(), file=sys.stderr)
        print("\nIt looks like the Pulumi SDK has not been installed. Have you run pip install?",
              file=sys.stderr)
        return 1

    ap = argparse.ArgumentParser(description="Execute a Pulumi Python program")
    for flag in ("project", "root_directory", "stack", "parallel", "dry_run", "pwd", "monitor", "engine",
                 "tracing", "organization"):
        ap.add_argument(f"--{flag}")
    ap.add_argument("PROGRAM")
    ap.add_argument("ARGS", nargs="*")
    args = ap.parse_args(argv)

    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(),
                                  pulumi.runtime.get_config_secret_keys_env())
    settings = pulumi.runtime.Settings(
        monitor=args.monitor, engine=args.engine, project=args.project, stack=args.stack,
        parallel=int(args.parallel) if args.parallel else None, dry_run=args.dry_run == "true",
        organization=args.organization, root_directory=args.root_directory)
    pulumi.runtime.configure(settings)
    _sdkpatch.install()

    sys.argv = [args.PROGRAM, *args.ARGS]
    if args.pwd is not None:
        os.chdir(args.pwd)

    _wait_for_engine()
    _set_sdk_aside()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = None
    if settings.parallel is not None:
        executor = ThreadPoolExecutor(max_workers=max(int(settings.parallel), 1) * 4)
        loop.set_default_executor(executor)
    # The programming model leaves futures unobserved when a program fails; asyncio would complain.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    program = args.PROGRAM
    exit_code = 1
    try:
        def run() -> None:
            if os.path.isdir(program) and not os.path.isfile(os.path.join(program, "__main__.py")):
                pulumi.log.error("unable to find main python program `__main__.py` in "
                                 f"`{os.path.abspath(program)}`")
                sys.exit(EXIT_USER_ERROR)
            runpy.run_path(program, run_name="__main__")

        loop.run_until_complete(pulumi.runtime.run_in_stack(run))
        exit_code = 0
    except pulumi.RunError as exc:
        _report(exc, "run-error")
        pulumi.log.error(str(exc))
    except Exception as exc:
        _report(exc, "exception")
        pulumi.log.error("Program failed with an unhandled exception:\n" + _user_traceback(program, exc))
        exit_code = EXIT_USER_ERROR
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()
        _skip_final_collection()
    return exit_code


def _skip_final_collection() -> None:
    """The program has finished: spare the interpreter's shutdown its walks of the whole heap.

    Shutdown runs several full collections over everything the SDK and the provider packages
    loaded - for a small program, more time than its registrations take. Moving every
    object to the collector's permanent generation skips them. Exit status, output and atexit
    handlers are unchanged, and objects that die with their module are still finalized. What the
    skipped collections would have done is finalize objects still alive in reference cycles at exit,
    which Python never promises ("It is not guaranteed that __del__() methods are called for objects
    that still exist when the interpreter exits"), with one effect a program could notice: the data
    still buffered in a file it left open. Every file open among the objects made since the SDK was
    set aside (`_set_sdk_aside`; the standard streams are flushed before) is flushed here instead - a
    superset: a plain exit also leaves unflushed the files that stay reachable from objects it never
    frees.
    """
    try:
        import gc
        import io
        import itertools

        # Exact types, as open() returns them: isinstance() would consult `__class__`, which proxies
        # (pulumi.Output among them) answer through `__getattr__`, with side effects.
        kinds = {io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom}
        alive = gc.get_objects()
        files = list(itertools.compress(alive, map(kinds.__contains__, map(type, alive))))  # C speed
        del alive
        # Text layers first: flushing one pushes its text into the buffer beneath it.
        files.sort(key=lambda f: type(f) is not io.TextIOWrapper)
        for file in files:
            try:
                if not file.closed:
                    file.flush()
            except Exception:  # a file that cannot be flushed fails the same way at shutdown
                pass
        del files
        gc.freeze()
    except (ImportError, AttributeError):  # pragma: no cover - gc.freeze exists since Python 3.7
        pass


if __name__ == "__main__":
    sys.exit(main())
