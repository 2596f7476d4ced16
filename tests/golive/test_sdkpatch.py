"""golive.preview._sdkpatch: the program's process skips the round trip of debug logs and waits for its
outputs in linear time, with the pinned SDK only, and an output's error still surfaces first."""

from __future__ import annotations

import asyncio
import gc
import re
import sys
from pathlib import Path
from typing import ClassVar

import pulumi
import pytest
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc as sdk_rpc
from pulumi.runtime import rpc_manager as sdk_rpc_manager
from pulumi.runtime import settings as sdk_settings
from pulumi.runtime import stack as sdk_stack
from pulumi.runtime.proto import engine_pb2

from golive.preview import _sdkpatch
from golive.preview.program import ProgramError, run_program
from golive.preview.urns import STACK_TYPE

ROOT = Path(__file__).resolve().parents[2]
SDK_WAIT = sdk_stack.wait_for_rpcs  # the SDK's own, whatever a test installs
SDK_TRANSFER = sdk_rpc.transfer_properties
SDK_STACK_TRACE = sdk_resource._get_stack_trace
SDK_DO_RPC = sdk_rpc_manager.RPCManager.do_rpc
SDK_CONTAINS_UNKNOWNS = sdk_rpc.contains_unknowns


def write_program(folder: Path, main: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(f"name: {folder.name}\nruntime: python\n")
    (folder / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (folder / "__main__.py").write_text(main)
    return folder


@pytest.fixture
def sdk(monkeypatch):
    """The SDK's global state as it is, restored after the test whatever install() changed."""
    monkeypatch.setattr(sdk_stack, "wait_for_rpcs", SDK_WAIT)
    monkeypatch.setattr(sdk_rpc, "transfer_properties", SDK_TRANSFER)
    monkeypatch.setattr(sdk_resource, "_get_stack_trace", SDK_STACK_TRACE)
    monkeypatch.setattr(sdk_rpc_manager.RPCManager, "do_rpc", SDK_DO_RPC)
    monkeypatch.setattr(sdk_rpc, "contains_unknowns", SDK_CONTAINS_UNKNOWNS)
    monkeypatch.setattr(sdk_settings.SETTINGS, "engine", sdk_settings.SETTINGS.engine)
    monkeypatch.setattr(sdk_settings.SETTINGS, "outputs", set())
    yield sdk_settings.SETTINGS
    # The event loops' futures and tasks end in reference cycles: collected here, their finalizers
    # cannot run inside a later ast.parse (CPython 3.11.7 then fails with an AST recursion SystemError).
    gc.collect()


class RecordingEngine:
    def __init__(self):
        self.logged = []

    def Log(self, request):
        self.logged.append(request.severity)
        return "sent"

    def RequirePulumiVersion(self, request):
        return "version checked"


def test_the_pin_is_the_sdk_requirements_txt_installs():
    pins = (ROOT / "policies" / "requirements.txt").read_text()
    assert re.search(rf"^pulumi=={re.escape(_sdkpatch.PINNED_SDK)}$", pins, re.M)
    assert _sdkpatch.sdk_version() == _sdkpatch.PINNED_SDK


def test_with_the_pinned_sdk_debug_logs_are_answered_without_the_engine(sdk):
    engine = sdk.engine = RecordingEngine()
    assert _sdkpatch.install() is True
    assert sdk_stack.wait_for_rpcs is _sdkpatch.wait_for_rpcs
    assert sdk_rpc.transfer_properties is _sdkpatch.transfer_properties
    assert pulumi.contains_unknowns({"a": [pulumi.UNKNOWN]}) is True
    assert sdk_rpc.contains_unknowns is _sdkpatch.contains_unknowns
    pulumi.log.debug("tracing")
    pulumi.log.info("shown")
    pulumi.log.warn("shown too")
    assert engine.logged == [engine_pb2.INFO, engine_pb2.WARNING]
    assert sdk.engine.RequirePulumiVersion(None) == "version checked"  # everything else goes through


def test_with_any_other_sdk_version_the_sdk_runs_unchanged(sdk, monkeypatch):
    monkeypatch.setattr(_sdkpatch, "sdk_version", lambda: "3.273.0")
    engine = sdk.engine = RecordingEngine()
    assert _sdkpatch.install() is False
    assert sdk_stack.wait_for_rpcs is SDK_WAIT and sdk.engine is engine
    assert sdk_rpc.transfer_properties is SDK_TRANSFER and sdk_resource._get_stack_trace is SDK_STACK_TRACE
    assert sdk_rpc_manager.RPCManager.do_rpc is SDK_DO_RPC
    assert sdk_rpc.contains_unknowns is SDK_CONTAINS_UNKNOWNS
    pulumi.log.debug("tracing")
    assert engine.logged == [engine_pb2.DEBUG]


class WatchedFuture(asyncio.Future):
    """Counts the callbacks added to it: each is one look at a pending output."""

    watched = 0

    def add_done_callback(self, fn, *, context=None):
        WatchedFuture.watched += 1
        super().add_done_callback(fn, context=context)


def _outputs_completing_one_by_one(settings, count, fail_at=None):
    loop = asyncio.get_running_loop()
    futures = [WatchedFuture(loop=loop) for _ in range(count)]
    settings.outputs.update(futures)

    async def resolve():
        for index, future in enumerate(futures):
            await asyncio.sleep(0)
            if index == fail_at:
                future.set_exception(ValueError(f"output {index} failed"))
                return  # the rest stay pending: the error must not wait for them
            future.set_result(index)

    return asyncio.ensure_future(resolve())


def test_each_pending_output_is_watched_once_not_once_per_completion(sdk):
    count = 400

    async def main():
        WatchedFuture.watched = 0
        resolver = _outputs_completing_one_by_one(sdk, count)
        await _sdkpatch.wait_for_rpcs()
        await resolver

    asyncio.run(main())
    assert not sdk.outputs
    # The SDK's loop adds a callback to every pending output on each pass (about count²/2 here).
    assert WatchedFuture.watched <= count


def test_outputs_made_while_waiting_are_waited_for(sdk):
    async def main():
        loop = asyncio.get_running_loop()
        late = loop.create_future()
        first = loop.create_future()

        def make_another(_):
            sdk.outputs.add(late)
            loop.call_soon(late.set_result, "late")

        first.add_done_callback(make_another)
        sdk.outputs.add(first)
        loop.call_soon(first.set_result, "first")
        await _sdkpatch.wait_for_rpcs()
        return late.done()

    assert asyncio.run(main()) is True


@pytest.mark.parametrize("wait", [SDK_WAIT, _sdkpatch.wait_for_rpcs], ids=["sdk", "golive"])
def test_the_first_failing_output_raises_at_once(sdk, wait):
    async def main():
        _outputs_completing_one_by_one(sdk, 50, fail_at=7)
        # The outputs after the failed one never complete: only failing fast returns at all.
        await asyncio.wait_for(wait(), 60)

    with pytest.raises(ValueError, match=r"^output 7 failed$"):
        asyncio.run(main())


def test_a_program_error_in_an_output_still_surfaces_first(tmp_path):
    folder = write_program(tmp_path / "failing", (
        "import pulumi\nimport pulumi_aws as aws\n"
        "topic = aws.sns.Topic('alerts')\n"
        "def first(value):\n    raise ValueError('the first failure')\n"
        "async def later():\n"
        "    await topic.urn.future()  # once the registration is answered, well after the first\n"
        "    raise ValueError('a later failure')\n"
        "pulumi.Output.from_input('known').apply(first)\n"
        "pulumi.Output.from_input(later())\n"
    ))
    with pytest.raises(ProgramError, match="the first failure") as raised:
        run_program(folder, "dev", timeout=60)
    assert "a later failure" not in str(raised.value)


def test_the_program_runs_with_the_changes_installed(tmp_path):
    folder = write_program(tmp_path / "installed", (
        "import pulumi\nimport pulumi_aws as aws\n"
        "aws.sns.Topic('alerts')\n"
        "pulumi.log.debug('tracing')\npulumi.log.info('kept')\n"
        "pulumi.export('waits', pulumi.runtime.stack.wait_for_rpcs.__module__)\n"
        "pulumi.export('engine', type(pulumi.runtime.settings.get_engine()).__name__)\n"
    ))
    graph = run_program(folder, "dev", timeout=60)
    stack = next(r for r in graph.resources if r.type == STACK_TYPE)
    assert stack.outputs == {"waits": "golive.preview._sdkpatch", "engine": "QuietDebugEngine"}
    assert [(m.severity, m.message) for m in graph.messages if m.message in ("tracing", "kept")] == [("info", "kept")]


class Resource:
    """Stands in for a resource: transfer_properties only needs somewhere to put its outputs."""


@pytest.mark.parametrize("transfer", [SDK_TRANSFER, _sdkpatch.transfer_properties], ids=["sdk", "golive"])
def test_output_properties_resolve_as_the_sdk_resolves_them(sdk, transfer):
    async def main():
        res, dep = Resource(), Resource()
        resolvers = transfer(res, {"urn": None, "id": None, "name": None, "tags": None, "arn": None}, True)
        assert sorted(resolvers) == ["arn", "name", "tags"]
        resolvers["name"]("logs", True, False, {dep}, None)
        resolvers["tags"]({"team": pulumi.UNKNOWN}, True, True, None, None)
        resolvers["arn"](None, False, False, set(), ValueError("registration failed"))
        name, tags = await res.name._data, await res.tags._data
        with pytest.raises(ValueError, match="registration failed"):
            await res.arn.future()
        return ((name.value, name.is_known, name.is_secret, name.resources == {res, dep}),
                (tags.is_known, tags.is_secret, tags.resources == {res}), res.arn._data in sdk.outputs)

    assert asyncio.run(main()) == (("logs", True, False, True), (False, True, True), True)


VALUES = [
    ("plain", True, "plain"),
    ("nested", True, {"a": [1, {"b": [pulumi.UNKNOWN]}]}),
    ("told-unknown", False, {"a": 1}),
    ("none", True, None),
    ("list", True, [[], {}, [{"x": "y"}]]),
]


@pytest.mark.parametrize("transfer", [SDK_TRANSFER, _sdkpatch.transfer_properties], ids=["sdk", "golive"])
def test_an_output_is_known_only_when_nothing_in_its_value_is_unknown(sdk, transfer):
    async def main():
        res = Resource()
        resolvers = transfer(res, {name: None for name, _, _ in VALUES}, True)
        for name, known, value in VALUES:
            resolvers[name](value, known, False, None, None)
        return [((d := await getattr(res, name)._data).value is value, d.is_known, d.is_secret)
                for name, _, value in VALUES]

    assert asyncio.run(main()) == [(True, True, False), (True, False, False), (True, False, False),
                                   (True, True, False), (True, True, False)]


class ReadLog(dict):
    """An output type's way: a dict subclass whose own __getitem__ is called for each value read."""

    reads: ClassVar[list] = []

    def __getitem__(self, key):
        ReadLog.reads.append(key)
        return super().__getitem__(key)


def _values_to_check():
    looped: dict = {"a": [1]}
    looped["self"] = looped
    looped["a"].append(looped["a"])
    shared = ["x"]
    return [
        ("plain", "text"), ("none", None), ("unknown", pulumi.UNKNOWN), ("empty", [{}, []]),
        ("nested", {"a": [1, {"b": [pulumi.UNKNOWN]}]}), ("looped", looped),
        ("looped-unknown", {"loop": looped, "then": [pulumi.UNKNOWN]}),
        ("shared", [shared, {"s": shared}, shared]),
        ("typed", ReadLog(z=1, a=ReadLog(b=[2], c=pulumi.UNKNOWN, d=3), e=4)),
        ("typed-known", ReadLog(z=1, a=ReadLog(b=[2], d=3), e=4)),
        ("tuple-not-looked-into", (pulumi.UNKNOWN,)),
    ]


@pytest.mark.parametrize("name, value", _values_to_check(), ids=[name for name, _ in _values_to_check()])
def test_unknowns_are_found_as_the_sdk_finds_them(name, value):
    """Same answer, and an output type's __getitem__ called for the same keys in the same order (the
    SDK stops at the first Unknown: nothing after it is read)."""
    ReadLog.reads = []
    expected = (SDK_CONTAINS_UNKNOWNS(value), ReadLog.reads)
    ReadLog.reads = []
    assert (_sdkpatch.contains_unknowns(value), ReadLog.reads) == expected


def test_unknowns_are_found_deeper_than_the_recursion_limit():
    deep: list = [pulumi.UNKNOWN]
    for _ in range(sys.getrecursionlimit() * 2):
        deep = [deep]
    assert _sdkpatch.contains_unknowns(deep) is True


@pytest.mark.parametrize("check, garbage", [(SDK_CONTAINS_UNKNOWNS, True), (_sdkpatch.contains_unknowns, False)],
                         ids=["sdk", "golive"])
def test_looking_for_unknowns_leaves_no_cyclic_garbage(check, garbage):
    """The SDK's check leaves a self-referencing closure per call; a large stack makes hundreds of
    thousands of calls, and the garbage stayed until its peak."""
    value = {"tags": {"team": "a"}, "ingress": [{"cidr_blocks": ["10.0.0.0/8"]}]}
    gc.collect()
    gc.disable()
    try:
        for _ in range(300):
            check(value)
        collected = gc.collect()
    finally:
        gc.enable()
    assert (collected >= 300) is garbage, collected


@pytest.mark.parametrize("transfer, garbage", [(SDK_TRANSFER, True), (_sdkpatch.transfer_properties, False)],
                         ids=["sdk", "golive"])
def test_resolving_output_properties_leaves_no_cyclic_garbage(sdk, transfer, garbage):
    """Cyclic garbage waits for the collector, which in a large stack is time on the critical path."""
    async def main():
        res = Resource()
        resolvers = transfer(res, {f"p{i}": None for i in range(200)}, True)
        await asyncio.sleep(0)
        gc.collect()
        gc.disable()
        try:
            for resolve in resolvers.values():
                resolve({"k": ["v"]}, True, False, None, None)
            await asyncio.sleep(0)
            return gc.collect(), res
        finally:
            gc.enable()

    collected, _ = asyncio.run(main())
    assert (collected >= 200) is garbage, collected


def test_output_properties_are_tracked_until_resolved_and_cost_little_memory(sdk):
    """A large stack holds every output property of every resource until its module body ends: the
    program's process stays within a few hundred bytes per property (the SDK's way takes ~760;
    golive's partial resolvers with a closure per output took ~600, a resolver object and a shared
    done-callback ~450, the future as its own resolver with no callback ~350), and each is still
    tracked until it resolves, as Output._track tracks it: a failed one stays for the final wait."""
    import tracemalloc

    async def main():
        names = {f"p{i}": None for i in range(200)}
        resources = [Resource() for _ in range(50)]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            resolvers = [_sdkpatch.transfer_properties(res, names, True) for res in resources]
            per_property = (tracemalloc.get_traced_memory()[0] - before) / (len(names) * len(resources))
        finally:
            tracemalloc.stop()
        tracked = len(sdk.outputs)
        for index, by_name in enumerate(resolvers):
            for resolve in by_name.values():
                resolve(None, False, False, None, ValueError("failed") if index == 0 else None)
        await asyncio.sleep(0)  # done-callbacks run on the next turn of the loop
        failed = {getattr(resources[0], name)._data for name in names}
        return per_property, tracked, sdk.outputs == failed

    per_property, tracked, only_failed_left = asyncio.run(main())
    assert tracked == 200 * 50 and only_failed_left
    assert per_property < 400, per_property


def test_the_final_wait_adds_little_memory_per_pending_output_property(sdk):
    """Should the final wait meet every output property of a large stack still pending (it runs once
    every registration has finished, so most are resolved by then), waiting on each costs one
    done-callback, a list and a tuple (the SDK's way adds a second, and a closure per output), and
    the wait still ends once all have resolved."""
    import tracemalloc

    async def main():
        names = {f"p{i}": None for i in range(200)}
        resolvers = [_sdkpatch.transfer_properties(Resource(), names, True) for _ in range(50)]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            waiting = asyncio.ensure_future(_sdkpatch._wait_for_outputs(sdk))
            await asyncio.sleep(0)  # the wait takes the outputs over and waits on each
            per_output = (tracemalloc.get_traced_memory()[0] - before) / (len(names) * len(resolvers))
        finally:
            tracemalloc.stop()
        assert not waiting.done()
        for by_name in resolvers:
            for resolve in by_name.values():
                resolve("v", True, False, None, None)
        await asyncio.wait_for(waiting, 10)
        return per_output, sdk.outputs

    per_output, left = asyncio.run(main())
    assert left == set()
    assert per_output < 100, per_output


def test_output_properties_are_one_future_each_not_a_task(sdk):
    async def main():
        before = len(asyncio.all_tasks())
        _sdkpatch.transfer_properties(Resource(), {"name": None, "tags": None}, True)
        return len(asyncio.all_tasks()) - before

    assert asyncio.run(main()) == 0  # the SDK starts a task per property


class Base:
    def __init__(self, trace):
        self.trace = trace()


class Middle(Base):
    def __init__(self, trace):
        super().__init__(trace)


class Concrete(Middle):
    def __init__(self, trace):
        self._internal_init(trace)

    def _internal_init(self, trace):
        super().__init__(trace)


def declared_here(trace):
    return Concrete(trace).trace


def test_a_registration_carries_the_same_source_position_and_no_frames_above_it(sdk, monkeypatch):
    ours = declared_here(lambda: _sdkpatch.stack_trace(SDK_STACK_TRACE))
    theirs = declared_here(SDK_STACK_TRACE)
    assert len(theirs.frames) > 1 and list(ours.frames) == [theirs.frames[0]]
    assert ours.frames[0].pc.uri == Path(__file__).as_uri() and ours.frames[0].pc.line > 0
    monkeypatch.setattr(sys, "tracebacklimit", 3, raising=False)  # the SDK's own honours it
    assert declared_here(lambda: _sdkpatch.stack_trace(SDK_STACK_TRACE)) == declared_here(SDK_STACK_TRACE)


def probe_lines(found):
    def probe(*_args, **_kwargs):
        frame = sys._getframe(1)
        found.append((_sdkpatch.line_number(frame), frame.f_lineno))
        return 1
    return probe


def big_module(statements: int) -> str:
    """Resource-like declarations of many shapes, one after another at top level, as generated
    programs write them: calls spread over lines, branches, loops, comprehensions, functions."""
    shapes = (
        "Res('a{i}', tags={{'team': 'x'}})\n",
        "b{i} = Res(\n    'b{i}',\n    size=P(\n        {i}),\n)\n",
        "if {i} % 3:\n    Res('c{i}')\nelse:\n    Res('d{i}', P())\n",
        "for _ in range(2):\n    Res('e{i}')\n",
        "f{i} = [Res(n) for n in ('f{i}',)]\n",
        "def g{i}():\n    return Res('g{i}')\ng{i}()\n",
        "try:\n    Res('h{i}', 1 / ({i} % 2))\nexcept ZeroDivisionError:\n    Res('h{i}-zero')\n",
        "x{i} = (Res('k{i}') if {i} else None) or P(P(), P())\n",
    )
    return "".join(shapes[i % len(shapes)].format(i=i) for i in range(statements))


def test_a_source_line_is_the_frames_own_line_anywhere_in_a_large_module():
    found = []
    probe = probe_lines(found)
    source = big_module(800)
    exec(compile(source, "/tmp/program/__main__.py", "exec"), {"Res": probe, "P": probe})
    assert len(found) > 1000
    assert [ours for ours, _ in found] == [theirs for _, theirs in found]
    assert found[-1][0] >= source.count("\n") - 3  # the table reaches the end of the module


def test_a_line_table_holds_a_run_per_line_not_a_range_per_source_position():
    """co_lines gives a range per position, columns included (about 18 per declaration line)."""
    source = "\n".join(f"Res('r{i}', size=P({i}), tags={{'team': 'x', 'n': {i}}})" for i in range(500))
    code = compile(source, "/tmp/program/__main__.py", "exec")
    starts, lines = _sdkpatch._line_table(code)
    assert len(list(code.co_lines())) > 5 * 500
    assert len(starts) <= 500 + 2 and list(lines)[-1] == 500
    found = []
    exec(code, {"Res": probe_lines(found), "P": lambda *_: 1})
    assert [ours for ours, _ in found] == [theirs for _, theirs in found] == list(range(1, 501))


def test_code_objects_made_and_dropped_one_after_another_keep_their_own_lines():
    """The tables are kept by code object id: an id that another, freed, code object had must not
    give its lines (each table holds its code object alive, so the id is never reused meanwhile)."""
    found = []
    probe = probe_lines(found)
    for index in range(300):
        exec(compile("\n" * (index % 17) + "P()\n" * (1 + index % 5), f"/tmp/p{index}.py", "exec"), {"P": probe})
    assert len(found) == sum(1 + index % 5 for index in range(300))
    assert [ours for ours, _ in found] == [theirs for _, theirs in found]


def test_a_traced_frame_keeps_the_line_its_tracer_gives(monkeypatch):
    found = []
    code = compile(big_module(16), "/tmp/program/__main__.py", "exec")
    def tracer(frame, event, arg):
        return tracer
    sys.settrace(tracer)
    try:
        exec(code, {"Res": probe_lines(found), "P": probe_lines(found)})
    finally:
        sys.settrace(None)
    assert found and all(ours == theirs for ours, theirs in found)



def test_registrations_start_in_order_a_window_at_a_time(monkeypatch):
    monkeypatch.setattr(_sdkpatch, "REGISTRATION_WINDOW", 3)
    manager = sdk_rpc_manager.RPCManager()
    do_rpc = _sdkpatch.admitting(SDK_DO_RPC)
    started, under_way, most = [], set(), [0]

    async def main():
        gates = [asyncio.get_running_loop().create_future() for _ in range(8)]

        def registration(index):
            async def register():
                started.append(index)
                under_way.add(index)
                most[0] = max(most[0], len(under_way))
                await gates[index]
                under_way.discard(index)
                return index
            return register

        tasks = [asyncio.ensure_future(do_rpc(manager, "register resource", registration(i))()) for i in range(8)]
        async def invoke():
            started.append("invoke")

        other = asyncio.ensure_future(do_rpc(manager, "invoke", invoke)())  # never held back
        await asyncio.sleep(0.05)
        first = list(started)
        for gate in gates:
            gate.set_result(None)
            await asyncio.sleep(0)
        results = await asyncio.gather(*tasks)
        await other
        return first, results

    first, results = asyncio.run(main())
    assert first == [0, 1, 2, "invoke"]  # three registrations under way, the others waiting their turn
    assert started == [0, 1, 2, "invoke", 3, 4, 5, 6, 7] and most[0] == 3
    assert results == [(i, None) for i in range(8)]


def test_a_stalled_window_lets_the_next_start(monkeypatch):
    """Registrations that wait on a later one: the SDK would start the later one, and so does golive,
    one stall later."""
    monkeypatch.setattr(_sdkpatch, "REGISTRATION_WINDOW", 2)
    monkeypatch.setattr(_sdkpatch, "STALL_SECONDS", 0.02)
    manager = sdk_rpc_manager.RPCManager()
    do_rpc = _sdkpatch.admitting(SDK_DO_RPC)

    async def main():
        later = asyncio.get_running_loop().create_future()

        async def waits():
            return await later

        async def gives():
            later.set_result("given")
            return "gave"

        tasks = [do_rpc(manager, "register resource", f)() for f in (waits, waits, waits, gives)]
        return await asyncio.wait_for(asyncio.gather(*tasks), 5)

    assert asyncio.run(main()) == [("given", None)] * 3 + [("gave", None)]


def test_a_program_whose_first_resources_wait_on_its_last_completes(tmp_path):
    """More resources than a window wait on an output only the last resource gives, through the real
    program process: the stall watch starts it, and every registration completes."""
    folder = write_program(tmp_path / "waits-on-last", (
        "import asyncio\nimport pulumi\nimport pulumi_aws as aws\n"
        "given = asyncio.get_event_loop().create_future()\n"
        f"for i in range({_sdkpatch.REGISTRATION_WINDOW + 20}):\n"
        "    aws.sns.Topic(f'early-{i}', display_name=pulumi.Output.from_input(given))\n"
        "last = aws.sns.Topic('last')\n"
        "last.urn.apply(lambda urn: given.done() or given.set_result('from-last'))\n"
    ))
    graph = run_program(folder, "dev", timeout=120)
    topics = [r for r in graph.resources if r.type == "aws:sns/topic:Topic"]
    assert len(topics) == _sdkpatch.REGISTRATION_WINDOW + 21
    assert {r.inputs.get("displayName") for r in topics if r.name.startswith("early-")} == {"from-last"}


def test_a_registration_cancelled_in_its_turn_gives_its_place_back(monkeypatch):
    monkeypatch.setattr(_sdkpatch, "REGISTRATION_WINDOW", 1)
    monkeypatch.setattr(_sdkpatch, "STALL_SECONDS", 60)  # no stall watch to make up for a lost place

    async def main():
        admission = _sdkpatch._Admission(asyncio.get_running_loop())
        await admission.enter()
        granted = asyncio.ensure_future(admission.enter())
        after = asyncio.ensure_future(admission.enter())
        await asyncio.sleep(0)
        admission.leave()  # the place goes to `granted`...
        granted.cancel()  # ...cancelled before it could run
        await asyncio.wait_for(after, 2)
        return granted.cancelled(), admission.running

    assert asyncio.run(main()) == (True, 1)
