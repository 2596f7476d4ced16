"""`golive check`: program → resource graph → analyzer session → findings → report.

In the engine's rhythm, which is also the quick one: the project and stack files are read and the
program's process is started; while its interpreter loads, golive's engine services come up and
the policy pack is started, connected and configured (the engine loads its packs before it runs
the program). Each resource then gets its Remediate and Analyze as the program registers it, and
AnalyzeStack follows once the program is done.
"""

from __future__ import annotations

import argparse
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from . import policyconfig
from .cli import UsageError, write_output
from .program import prepare_program

if TYPE_CHECKING:
    from .analyzer import AnalyzerSession
    from .graph import ResourceGraph, ResourceNode


def run(args: argparse.Namespace) -> int:
    pack_dir = Path(args.policy_pack)
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise UsageError(f"--policy-pack {pack_dir}: no PulumiPolicy.yaml there")
    file_config = policyconfig.load(args.policy_pack_config)
    program = prepare_program(
        args.program_dir,
        args.stack,
        config_overrides=args.config,
        invoke_results=args.invoke_results,
    )
    follower = _Follower(pack_dir, file_config, args.policy_pack_config or "")
    closing: threading.Thread | None = None
    try:
        graph = program.run(
            timeout=args.timeout,
            on_start=lambda: follower.start(program.stack()),
            on_register=follower.registered,
        )
        session = follower.caught_up()
        diagnostics = session.finish(graph)
        # The last call is answered: the pack is ended while the report is built.
        closing = threading.Thread(target=follower.close, name="golive-pack-close")
        closing.start()
    finally:
        if closing is None:
            follower.close()  # the run failed: nothing keeps the pack

    try:
        from .findings import build_result
        from .report import render

        result = build_result(
            graph,
            session.info,
            diagnostics,
            pack_python=session.python.note,
            remediations=session.remediations,
            source_root="",
        )
        write_output(render(args.format, result), args.output)
    finally:
        closing.join()
    return result.exit_code()


class _Follower:
    """The pack's side of the run: started as the program starts, it sends each resource to
    Remediate and Analyze as the program registers it, from a thread of its own."""

    _END = None

    def __init__(self, pack_dir: Path, file_config: dict[str, policyconfig.PolicyConfig] | None,
                 config_source: str) -> None:
        self.pack_dir = pack_dir
        self.file_config = file_config
        self.config_source = config_source
        self.session: AnalyzerSession | None = None
        self._queue: queue.SimpleQueue[ResourceNode | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, stack: ResourceGraph) -> None:
        from .analyzer import AnalyzerSession

        self.session = AnalyzerSession.launch(self.pack_dir, stack)
        self._thread = threading.Thread(target=self._follow, name="golive-pack", daemon=True)
        self._thread.start()

    def registered(self, node: ResourceNode) -> None:
        self._queue.put(node)

    def _follow(self) -> None:
        session = self.session
        assert session is not None
        try:
            session.connect()
            config = policyconfig.reconcile(session.info, self.file_config, source=self.config_source)
            session.configure(config)
            from . import findings, report  # noqa: F401 - for the end of the run, loaded while the pack waits
            nodes: dict[str, ResourceNode] = {}
            while (node := self._queue.get()) is not self._END:
                nodes[node.urn] = node
                session.analyze(node, nodes)
        except BaseException as err:  # raised in the caller's thread by caught_up()
            self._error = err

    def caught_up(self) -> AnalyzerSession:
        """Once the program is done: wait until every resource it registered has been analyzed."""
        self._stop()
        if self._error is not None:
            raise self._error
        assert self.session is not None
        return self.session

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(self._END)
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        if self.session is not None:
            self.session.close()  # an Analyze in flight fails at once, and the thread ends
        self._stop()

