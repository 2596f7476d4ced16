"""The one place golive adjusts the Pulumi Python SDK inside the program's process, for SDK 3.272.0 only.

`install()` runs in golive.preview._exec once the SDK is configured, before the program starts. With
any other SDK version it changes nothing and the SDK's own code runs: the changes below are written
against 3.272.0's code (pulumi/log.py, runtime/stack.py, runtime/rpc.py, runtime/resource.py,
runtime/rpc_manager.py) and checked there by tests. None changes what the program does or can observe
beyond timing.

1. Debug-level engine logs are answered in the process, without the round trip. The SDK sends its own
   tracing (a few `log.debug` lines per resource, each a blocking `Engine.Log` call on the event
   loop's thread) unconditionally; golive's engine service (services.EngineService.Log) answers every
   one with an empty reply and keeps nothing, as the CLI shows them only with --debug. The stub here
   gives the same empty reply for DEBUG and passes every other call to the real engine.

2. `wait_for_rpcs` waits for outstanding outputs in time linear in their number. The SDK's loop calls
   `asyncio.wait(pending, FIRST_COMPLETED)` over every pending output on each pass, so each completion
   costs a pass over all of them (quadratic in a large stack). Here each output gets one done-callback
   for its life, and the wait wakes on each completion to pick up outputs created since. As in the SDK,
   the first output to fail (by completion) raises its exception at once, the outputs left pending are
   not awaited after that, and cancelled outputs raise CancelledError. Everything else is the SDK's
   function unchanged (RPCs awaited in turn, unhandled RPC exceptions, the debug lines it logs).

3. A resource's output properties are each one future, resolved at once, as the SDK's own `urn` and
   `id` outputs are (runtime/resource.py resource_output). `rpc.transfer_properties` gives each
   property four futures and an `Output` whose task awaits them in turn: a program that declares its
   resources at top level holds all of them, pending, until its module body ends (most of the
   process's memory in a large stack), and each costs several turns of the event loop. The Output
   resolves to the same value, known/secret flags and dependencies (the resource and the engine's
   dependencies), or fails with the same exception. The future is its own resolver (`_Property`,
   one slot more than a future, where the SDK has a partial), and it is tracked for the final wait
   as `Output._track` tracks it: in the set until resolved, and left there if it fails. `_track`
   takes it out with a done-callback per output on the loop's next turn; the resolver does it at
   once. Its `_OutputData` is built as the SDK's `__post_init__` would leave it, its value checked
   by item 6.

4. A registration carries the source position of the user code that declared the resource and no
   frames above it. The SDK sends every frame of the call stack (`_get_stack_trace`, which reads
   each frame's file through linecache) and keeps them until the registration is sent; golive's
   monitor reads only `sourcePosition`, the first of those frames, which is unchanged. Its line is
   looked up in a table (`line_number`), not by `f_lineno`'s scan of the code from its start.

5. Registrations start a window at a time (`_Admission`), in the order the program made them. The SDK
   starts every registration's task as soon as the module body returns; the event loop takes each
   through its first steps (serializing its inputs, its URN) before any reaches its RPC, so in a large
   stack every prepared request is held at once, the program's peak memory. Started REGISTRATION_WINDOW
   at a time, the first are sent while the next are prepared. A registration may wait on an output
   only a later resource gives: when none has finished for STALL_SECONDS, another window starts, so
   no program waits on a registration that was not started.

6. Whether a value holds an Unknown is answered without making garbage. The SDK's
   `rpc.contains_unknowns` defines a recursive inner function at each call: a closure that refers to
   itself, with its annotations (a fresh `set[int]`) - cyclic garbage of several hundred bytes, made
   several times per output property (when it resolves, when a dependent reads it, when it is
   serialized), which only the collector frees. In a large stack that was the largest single part of
   the program's peak memory after the outputs themselves. golive's walk is iterative and visits
   the same objects in the same order; a value nested deeper than Python's recursion limit, where
   the SDK's walk raises RecursionError, is answered.

Only the standard library and the program's own `pulumi` are imported, and only when called: the
program may run in its own virtualenv.
"""

from __future__ import annotations

import array
import asyncio
import bisect
import collections
import functools
import sys
import weakref
from typing import Any

# The SDK version the changes were written and tested against (requirements.txt pins it).
PINNED_SDK = "3.272.0"


def sdk_version() -> str | None:
    """The program's Pulumi SDK version, None when it does not say (then nothing is changed)."""
    try:
        from pulumi._version import _VERSION
    except ImportError:
        return None
    return _VERSION if isinstance(_VERSION, str) else None


def install() -> bool:
    """Apply the changes when the SDK is the pinned version; whether they were applied."""
    if sdk_version() != PINNED_SDK:
        return False
    from pulumi.runtime import resource, rpc, settings, stack

    engine = settings.SETTINGS.engine
    if engine is not None and not isinstance(engine, QuietDebugEngine):
        settings.SETTINGS.engine = QuietDebugEngine(engine)
    # run_pulumi_func looks the name up in its module's globals at each call.
    stack.wait_for_rpcs = wait_for_rpcs
    # Both are looked up as module attributes at each registration.
    rpc.transfer_properties = transfer_properties
    resource._get_stack_trace = functools.partial(stack_trace, resource._get_stack_trace)
    # Looked up as a module attribute by rpc's own functions, pulumi.output and runtime.invoke.
    rpc.contains_unknowns = contains_unknowns
    from pulumi.runtime import rpc_manager

    if not getattr(rpc_manager.RPCManager.do_rpc, "golive_admitted", False):
        rpc_manager.RPCManager.do_rpc = admitting(rpc_manager.RPCManager.do_rpc)
    return True


# Registrations under way at once, and how long none may finish before another window starts.
REGISTRATION_WINDOW = 256
STALL_SECONDS = 0.5


class _Admission:
    """The registrations of one event loop: started in order, REGISTRATION_WINDOW at a time, one more
    as each finishes, a window more whenever none has finished for STALL_SECONDS."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.limit = REGISTRATION_WINDOW
        self.running = 0
        self.finished = 0
        self.waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self.watching = False

    async def enter(self) -> None:
        if self.running < self.limit and not self.waiting:
            self.running += 1
            return
        turn = self.loop.create_future()
        self.waiting.append(turn)
        if not self.watching:
            self.watching = True
            self.loop.call_later(STALL_SECONDS, self._watch, self.finished)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # started, then cancelled before it ran: give back
                self.running -= 1
                self._start()
            raise

    def leave(self) -> None:
        self.running -= 1
        self.finished += 1
        self._start()

    def _start(self) -> None:
        while self.waiting and self.running < self.limit:
            turn = self.waiting.popleft()
            if not turn.done():  # a program that ends early cancels what waits
                self.running += 1
                turn.set_result(None)

    def _watch(self, finished_before: int) -> None:
        if not self.waiting:
            self.watching = False
            return
        if self.finished == finished_before:
            self.limit += REGISTRATION_WINDOW
            self._start()
        self.loop.call_later(STALL_SECONDS, self._watch, self.finished)


_ADMISSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Admission] = weakref.WeakKeyDictionary()


def admitting(sdk_do_rpc: Any) -> Any:
    """RPCManager.do_rpc, with each "register resource" RPC started in its turn (see _Admission). The
    SDK's wrapper is unchanged inside: the registration is tracked and its failure recorded as before."""

    def do_rpc(self: Any, name: str, rpc_function: Any) -> Any:
        wrapper = sdk_do_rpc(self, name, rpc_function)
        if name != "register resource":
            return wrapper

        async def admitted(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            admission = _ADMISSIONS.get(loop)
            if admission is None:
                admission = _ADMISSIONS[loop] = _Admission(loop)
            await admission.enter()
            try:
                return await wrapper(*args, **kwargs)
            finally:
                admission.leave()

        return admitted

    do_rpc.golive_admitted = True  # type: ignore[attr-defined]
    return do_rpc


class QuietDebugEngine:
    """An Engine client that answers DEBUG Log calls itself, as golive's engine service would."""

    def __init__(self, engine: Any) -> None:
        from google.protobuf import empty_pb2
        from pulumi.runtime.proto import engine_pb2

        self._engine = engine
        self._debug = engine_pb2.DEBUG
        self._empty = empty_pb2.Empty

    def Log(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.severity == self._debug:
            return self._empty()
        return self._engine.Log(request, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


async def _wait_for_outputs(settings: Any) -> None:
    """Until no output is pending: each output gets one callback; the first failure raises."""
    loop = asyncio.get_running_loop()
    pending = 0
    failed: list[asyncio.Future[Any]] = []
    wake: list[asyncio.Future[None]] = []

    def on_done(task: asyncio.Future[Any]) -> None:
        nonlocal pending
        pending -= 1
        if not failed and (task.cancelled() or task.exception() is not None):
            failed.append(task)
        if wake and not wake[0].done():
            wake[0].set_result(None)

    while True:
        with settings.lock:
            # Taken over from the set, as the SDK's loop does; new outputs are added to it meanwhile.
            fresh = list(settings.outputs)
            settings.outputs.clear()
        for task in fresh:
            if task.done():
                if not failed and (task.cancelled() or task.exception() is not None):
                    failed.append(task)
            else:
                pending += 1
                task.add_done_callback(on_done)
        if failed:
            await failed[0]  # raises its exception (or CancelledError), as the SDK's `await task`
        if pending == 0:
            with settings.lock:
                if not settings.outputs:
                    return
            continue
        wake[:] = [loop.create_future()]
        await wake[0]


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """pulumi.runtime.stack.wait_for_rpcs of SDK 3.272.0, with the wait for outputs made linear."""
    from pulumi import log
    from pulumi.runtime import settings as sdk_settings
    from pulumi.runtime.settings import SETTINGS, _get_rpc_manager

    log.debug("Waiting for outstanding RPCs to complete")

    rpc_manager = _get_rpc_manager()
    while True:
        while len(rpc_manager.rpcs) > 0:
            await asyncio.sleep(0)
            if sdk_settings.excessive_debug_output:
                log.debug(f"waiting for quiescence; {len(rpc_manager.rpcs)} RPCs outstanding")
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    cause = rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                    raise exn from cause
                raise

        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)

        log.debug("RPCs successfully completed")

        if await_all_outstanding_tasks:
            await _wait_for_outputs(SETTINGS)
            log.debug("All outstanding outputs completed.")

        if len(rpc_manager.rpcs) == 0:
            break


class _Property(asyncio.Future):  # type: ignore[type-arg]
    """One output property: the future its `Output` reads, and its own resolver. `rpc.transfer_properties`
    makes four futures, a partial to resolve them and a task to join them per property; a large stack
    holds every one of them until its module body ends. The resolver is called, as the partial is, with
    the value, whether it is known, whether it is secret, its dependencies and the registration's
    failure. Resolved, the property is no longer tracked for the final wait: what `Output._track`'s
    done-callback does on the loop's next turn is done at once, with no callback per property."""

    __slots__ = ("res",)
    output_data: Any = None  # pulumi.output._OutputData, set by transfer_properties

    def __call__(self, value: Any, is_known: bool, is_secret: bool, deps: Any, failed: Exception | None) -> None:
        if failed is not None:
            self.set_exception(failed)  # a failed output stays tracked, for the final wait to raise
            return
        resources = set(deps) if deps else set()
        resources.add(self.res)
        # _OutputData(...) as its __post_init__ would leave it (known only if nothing in the value
        # is unknown), without the dataclass's calls through output.contains_unknowns to rpc's.
        data = object.__new__(self.output_data)
        data.resources, data.value = resources, value
        data.is_known = False if is_known and contains_unknowns(value) else is_known
        data.is_secret = is_secret
        self.set_result(data)
        with _SETTINGS.lock:
            _SETTINGS.outputs.discard(self)  # not there once the final wait has taken it over


_UNKNOWN: Any = None  # pulumi.output.Unknown, imported at the first call


def contains_unknowns(value: Any) -> bool:
    """pulumi.runtime.rpc.contains_unknowns without its recursive closure (item 6): whether an Unknown
    is in `value` or, through dicts and lists, anywhere below it. The same walk as the SDK's: depth
    first, a dict's items read with `value[key]` in key order, each object looked into once, and
    nothing read after the first Unknown (an output type's `__getitem__` sees the same calls)."""
    global _UNKNOWN
    if _UNKNOWN is None:  # once, not at each of a large stack's hundreds of thousands of calls
        from pulumi.output import Unknown

        _UNKNOWN = Unknown
    seen: set[int] = set()
    pending: list[Any] = [iter((value,))]
    while pending:
        for item in pending[-1]:
            if isinstance(item, _UNKNOWN):
                return True
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                pending.append(iter(item.values()) if type(item) is dict else _items(item))
                break
            if isinstance(item, list):
                pending.append(iter(item))
                break
        else:
            pending.pop()
    return False


def _items(mapping: dict[Any, Any]) -> Any:
    """A dict subclass's values as the SDK reads them, through its own `__getitem__`, one at a time."""
    for key in mapping:
        yield mapping[key]


_SETTINGS: Any = None  # pulumi.runtime.settings.SETTINGS, set by transfer_properties


def transfer_properties(res: Any, props: Any, custom: bool) -> dict[str, Any]:
    """pulumi.runtime.rpc.transfer_properties, with one future per property (see the docstring)."""
    global _SETTINGS
    from pulumi.output import Output, _OutputData
    from pulumi.runtime.settings import SETTINGS

    _Property.output_data, _SETTINGS = _OutputData, SETTINGS
    resolvers: dict[str, Any] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # set up by the caller
        data = resolvers[name] = _Property()
        data.res = res
        # Output._from_data, without the done-callback its _track adds (see _Property).
        output = object.__new__(Output)
        output._data = data
        res.__dict__[name] = output
    with SETTINGS.lock:
        SETTINGS.outputs.update(resolvers.values())
    return resolvers


_URIS: dict[str, str | None] = {}
# By the code object's id, not the object: hashing a code object hashes all its bytecode and constants,
# which for a large one-file program is the whole module at every declaration. Each entry holds its
# code object, so the id cannot be reused by another while the entry lives.
_LINE_TABLES: dict[int, tuple[Any, array.array[int], array.array[int]]] = {}


def line_number(frame: Any) -> int | None:
    """`frame.f_lineno`, found by bisection in its code's line table, read once per code object.

    CPython finds `f_lineno` by scanning the line table from the start of the code to the frame's
    instruction: a program that declares its resources one statement each at top level pays for
    the statements above at every declaration (quadratic: most of the module body's time at 10,000
    resources). A frame being traced may have its line set by the tracer: then it is asked.
    """
    if frame.f_trace is not None:
        return frame.f_lineno
    code = frame.f_code
    table = _LINE_TABLES.get(id(code))
    if table is None:
        table = _LINE_TABLES[id(code)] = (code, *_line_table(code))
    index = bisect.bisect_right(table[1], frame.f_lasti) - 1
    if index < 0:
        return frame.f_lineno
    line = table[2][index]
    return None if line < 0 else line


def _line_table(code: Any) -> tuple[array.array[int], array.array[int]]:
    """The start of each run of instructions on one line, and that line (-1 for none), in arrays.
    `co_lines` gives a range per source position, column included: 18 for each line of a one-file
    program of resource declarations (185,000 for 10,000 of them), where the runs are one per line."""
    starts, lines = array.array("q"), array.array("q")
    last_line, last_end = None, None
    for start, end, line in code.co_lines():
        line = -1 if line is None else line
        if line == last_line and start == last_end:
            last_end = end
            continue
        starts.append(start)
        lines.append(line)
        last_line, last_end = line, end
    return starts, lines


def _source_position(frame: Any) -> Any:
    """runtime.resource._get_source_position_for_frame, for a live frame (the file's URI cached)."""
    from pulumi.runtime.proto import source_pb2

    filename, line = frame.f_code.co_filename, line_number(frame)
    if filename == "" or line is None:
        return None
    if filename not in _URIS:
        try:
            from pathlib import Path

            _URIS[filename] = Path(filename).as_uri()
        except BaseException:  # as the SDK: any failure means no position
            _URIS[filename] = None
    uri = _URIS[filename]
    return None if uri is None else source_pb2.SourcePosition(uri=uri, line=line)


def stack_trace(sdk_stack_trace: Any) -> Any:
    """runtime.resource._get_stack_trace reduced to its first frame (see the docstring): the caller of
    the third `__init__` up the stack (Resource, Custom/ComponentResource, the resource's class)."""
    if hasattr(sys, "tracebacklimit"):  # traceback.extract_stack honours it: leave it to the SDK
        return sdk_stack_trace()
    from pulumi.runtime.proto import source_pb2

    frame = sys._getframe(1)
    inits = 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            inits += 1
            if inits == 3:
                break
        frame = frame.f_back
    if frame is None or frame.f_back is None:
        return source_pb2.StackTrace()
    return source_pb2.StackTrace(frames=[source_pb2.StackFrame(pc=_source_position(frame.f_back))])
