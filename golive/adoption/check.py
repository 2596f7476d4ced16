"""`golive check`: program → resource graph → analyzer session → findings → report.

In the engine's rhythm, which is also the quick one: the project and stack files are read and the
program's process is started; while its interpreter loads, golive's engine services come up and
the policy pack is started, connected and configured (the engine loads its packs before it runs
the program). Each resource then gets its Remediate and Analyze as the program registers it, and
AnalyzeStack follows once the program is done.

With `--state FILE` the graph comes from a `pulumi stack export` file instead (`golive.preview.state`), as
`pulumi policy analyze --file` checks a stack's existing state: no program runs, and the rest of the
pipeline is the same. `--baseline`/`--write-baseline` (`golive.adoption.baseline`) work on the findings once
they are built, whichever way the graph came.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from golive import output
from golive.adoption.options import CheckOptions
from golive.analysis import policyconfig
from golive.errors import UsageError
from golive.preview.program import prepare_program

if TYPE_CHECKING:
    from golive.adoption.baseline import Baseline
    from golive.analysis.analyzer import AnalyzerSession
    from golive.analysis.findings import CheckResult
    from golive.analysis.protocol import Diagnostic
    from golive.preview.graph import ResourceGraph, ResourceNode


def run(options: CheckOptions) -> int:
    """`golive check`: the report to `options.output` or standard output; several stacks (patterns,
    --all-stacks) go to golive.adoption.fleet, one process each, into one merged report."""
    stack = options.stack
    stacks = list(stack) if isinstance(stack, list | tuple) else [stack] if stack else []
    if is_many(options, stacks):
        from golive.adoption import fleet  # only then: a single check does not pay for its imports

        return fleet.check_many(options, stacks)
    options.stack = stacks[0] if stacks else None
    if options.compare:
        if options.format != "html":
            raise UsageError("--compare: the changes against a previous report show in --format html (or, "
                             "with --all-stacks, in every format)")
        from golive.adoption import fleet

        options.compare_report = fleet.previous_report(options.compare)  # a bad file is refused before the run
    return _run(options, None)


def is_many(options: CheckOptions, stacks: Sequence[str]) -> bool:
    """Whether `golive check` runs many stacks: --all-stacks, --stack given twice, or a pattern."""
    return bool(options.all_stacks) or len(stacks) > 1 or any(
        not set("*?[").isdisjoint(s) for s in stacks)


def json_report(program_dir: str, stack: str, *, policy_pack: str, policy_pack_config: str | None,
                config: Sequence[str] = (), invoke_results: str | None = None, timeout: float = 300.0) -> dict:
    """The JSON report of a program's check, as `golive check --format json` writes it (for `golive waivers check`)."""
    import json

    options = CheckOptions(program_dir=program_dir, stack=stack, policy_pack=policy_pack,
                           policy_pack_config=policy_pack_config, format="json", config=config,
                           invoke_results=invoke_results, timeout=timeout)
    written: list[str] = []
    _run(options, written.append)  # its exit status is the findings'; the caller judges the report itself
    return json.loads(written[0])


def _run(args: CheckOptions, write: Callable[[str], None] | None) -> int:
    """The check; its report to `write`, or (None) with the baseline to write into the command line's outputs."""
    pack_dir = Path(args.policy_pack)
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise UsageError(f"--policy-pack {pack_dir}: no PulumiPolicy.yaml there")
    states = [args.state] if isinstance(args.state, str) else list(args.state or ())
    if len(states) > 1:
        raise UsageError(f"--state given {len(states)} times ({', '.join(states)}): a check reads one state file")
    state_file = states[0] if states else None
    if not state_file and not args.stack:
        raise UsageError("--stack is required to run a program (it is optional only with --state FILE; "
                         "--all-stacks checks every stack of every project under the folder)")
    if state_file and args.invoke_results:
        raise UsageError("--invoke-results answers a program's data sources; with --state no program runs")
    file_config = policyconfig.load(args.policy_pack_config)
    # Bad outputs and baseline arguments are found before anything runs: not after a whole check, nor
    # after one output was written and the other could not be.
    report_to, *baseline_to = output.targets(
        ("--output", args.output), *([("--write-baseline", args.write_baseline)] if args.write_baseline else []))
    notes = _Notes()
    notes.pack_config = policyconfig.in_force(args.policy_pack_config)
    baseline: Baseline | None = None
    if args.baseline:
        from golive.adoption import baseline as baselines

        baseline = baselines.load(args.baseline)
    if state_file:
        run_pack = _check_state(args, state_file, pack_dir, file_config, notes)
    else:
        run_pack = _check_program(args, pack_dir, file_config, notes)
    graph, session, diagnostics, closing = run_pack
    try:
        from golive.analysis.findings import build_result
        from golive.analysis.report import render

        result = build_result(
            graph,
            session.info,
            diagnostics,
            pack_python=session.python.note,
            remediations=session.remediations,
            source_root="",
            preview=state_file is None,
        )
        written: list[tuple[output.Target, str]] = []
        if baseline is not None or args.write_baseline:
            result, saved = _baseline(args, result, baseline, notes)
            if saved is not None:
                written.append((baseline_to[0], saved))
        report = _html(args, result) if args.format == "html" else render(args.format, result)
        if notes:
            report = _annotate(args.format, report, notes)
        if write is not None:
            write(report)
        else:
            output.write_outputs([*written, (report_to, report)])
        if notes.missing_stack_file and (args.output or args.format not in ("text", "markdown")):
            # Where the report does not say it in words on the terminal, standard error does.
            print(f"golive: note: {notes.missing_stack_file_line()}", file=sys.stderr)
    finally:
        closing.join()
    if args.write_baseline and baseline is None:
        # Every finding went into the baseline just written: the run did what it was asked. (With
        # --baseline too, the findings it did not hide are not written, and count as usual.)
        return 0
    return result.exit_code()


def _html(args: CheckOptions, result: CheckResult) -> str:
    """The review page of one stack, with the changes against --compare when given."""
    from golive.analysis.report import html, merged

    report = merged.MergedReport([html.stack_report(result, args.program_dir or result.program_dir)])
    previous = getattr(args, "compare_report", None)
    if previous is not None:
        report.compare(previous, args.compare)
    return html.render_merged(report)


_Run = tuple["ResourceGraph", "AnalyzerSession", "list[Diagnostic]", threading.Thread]


def _check_program(args: CheckOptions, pack_dir: Path,
                   file_config: dict[str, policyconfig.PolicyConfig] | None, notes: _Notes) -> _Run:
    program = prepare_program(
        args.program_dir or ".",
        args.stack,
        config_overrides=args.config,
        invoke_results=args.invoke_results,
    )
    if program.config.missing:
        notes.missing_stack_file = program.config.missing
    follower = _Follower(pack_dir, file_config, args.policy_pack_config or "")
    try:
        graph = program.run(
            timeout=args.timeout,
            on_start=lambda: follower.start(program.stack()),
            on_register=follower.registered,
            on_shutdown=follower.program_done,
        )
    except BaseException:
        follower.close()  # the run failed: nothing keeps the pack
        raise
    return (graph, *_finish(follower, graph))


def _check_state(args: CheckOptions, state_file: str, pack_dir: Path,
                 file_config: dict[str, policyconfig.PolicyConfig] | None, notes: _Notes) -> _Run:
    from golive.preview.state import load_state

    loaded = load_state(state_file, stack=args.stack, program_dir=args.program_dir, config_overrides=args.config)
    graph = loaded.graph
    notes.state_file = loaded.file
    notes.undecrypted_secrets = loaded.undecrypted_secrets
    notes.lines.extend(loaded.notes)
    follower = _Follower(pack_dir, file_config, args.policy_pack_config or "")
    # The whole graph is known before the pack starts: it is connected and configured, then
    # `finish` sends every resource to Remediate and Analyze and ends with AnalyzeStack.
    try:
        follower.start(graph)
    except BaseException:
        follower.close()
        raise
    return (graph, *_finish(follower, graph))


def _finish(follower: _Follower, graph: ResourceGraph) -> tuple[AnalyzerSession, list[Diagnostic], threading.Thread]:
    """AnalyzeStack once every resource was analyzed; then the pack is ended while the report is built."""
    try:
        session = follower.caught_up()
        diagnostics = follower.diagnostics if follower.diagnostics is not None else session.finish(graph)
    except BaseException:
        follower.close()
        raise
    closing = threading.Thread(target=follower.close, name="golive-pack-close")
    closing.start()
    return session, diagnostics, closing


def _baseline(args: CheckOptions, result: CheckResult, baseline: Baseline | None,
              notes: _Notes) -> tuple[CheckResult, str | None]:
    """The findings `baseline` does not hide, and the baseline to write (--write-baseline), if any."""
    from golive.adoption import baseline as baselines

    found = result.findings
    kept: list[dict[str, object]] = []
    if baseline is not None:
        applied = baselines.apply(result, baseline)
        result = applied.result
        notes.baseline = {"file": baseline.file, "hidden": len(applied.hidden), "resolved": applied.resolved}
        if applied.worse:
            notes.baseline["worse"] = len(applied.worse)
        found = applied.hidden
        kept = [entry for _, entry in applied.worse]
    if args.write_baseline:
        # With --baseline too, only what it hid is written back: findings fixed since drop out, new ones
        # are never let in by the same command that reports them, and one that got worse keeps its old
        # entry (its old numbers), so the baseline never loosens.
        notes.written_baseline = {"file": args.write_baseline, "findings": len(found) + len(kept)}
        return result, baselines.dumps(found, result.project, result.stack, kept)
    return result, None


class _Notes:
    """What a report should add about how this check ran; empty on a plain program run."""

    def __init__(self) -> None:
        self.state_file: str | None = None
        self.undecrypted_secrets = 0
        self.baseline: dict[str, object] | None = None
        self.written_baseline: dict[str, object] | None = None
        self.lines: list[str] = []  # from the state loader
        self.missing_stack_file = ""  # "no Pulumi.<stack>.yaml in DIR …" when the stack has none
        # Which pack config file was in force (policyconfig.in_force): a platform team that owns one
        # file for many stacks reads here that each stack's check used it, and which version of it.
        self.pack_config: dict[str, str | None] | None = None

    def __bool__(self) -> bool:
        return bool(self.state_file or self.baseline or self.written_baseline or self.lines
                    or self.missing_stack_file or self.pack_config)

    def missing_stack_file_line(self) -> str:
        return (f"Stack config: {self.missing_stack_file}; the program ran with empty config (and --config), "
                "as a new stack does under the CLI." if self.missing_stack_file else "")

    def text(self) -> list[str]:
        out = []
        if self.missing_stack_file:
            out.append(self.missing_stack_file_line())
        if self.state_file:
            out.append(f"Checked the state file {self.state_file}: the stack as last deployed, not a preview "
                       "(no program was run).")
        out.extend(self.lines)
        if self.pack_config:
            out.append(policyconfig.in_force_line(self.pack_config))
        if self.baseline:
            b = self.baseline
            out.append(f"Baseline {b['file']}: {_plural(int(b['hidden']), 'known finding')} hidden"
                       + (f"; {b['resolved']} in it no longer found" if b["resolved"] else "")
                       + (f"; {_plural(int(b['worse']), 'finding')} worse than in it, shown as new"
                          if b.get("worse") else "") + ".")
        if self.written_baseline:
            w = self.written_baseline
            out.append(f"Baseline written to {w['file']} with {_plural(int(w['findings']), 'finding')}.")
        return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _annotate(fmt: str, report: str, notes: _Notes) -> str:
    """Add how the check ran to a rendered report: the reporters know whether it was a preview
    (CheckResult.preview); the rest of how it ran (state file, baseline, stack file) is added here,
    each format in its own terms."""
    import json

    if fmt in ("text", "markdown"):
        prefix = "" if fmt == "text" else "> "
        sep = "" if fmt == "text" else "\n"
        return report.rstrip("\n") + "\n" + sep + "".join(f"{prefix}{line}\n{sep}" for line in notes.text())
    extra: dict[str, object] = {}
    if notes.pack_config:
        extra["packConfig"] = notes.pack_config
    if notes.missing_stack_file:
        extra["stackConfigMissing"] = notes.missing_stack_file
    if notes.state_file:
        extra["stateFile"] = notes.state_file
        if notes.undecrypted_secrets:
            extra["undecryptedSecrets"] = notes.undecrypted_secrets
    if notes.baseline:
        extra["baseline"] = notes.baseline
    if notes.written_baseline:
        extra["baselineWritten"] = notes.written_baseline
    if fmt in ("json", "sarif"):
        document = json.loads(report)
        # json: the top level; SARIF: each run's property bag.
        for place in ([document] if fmt == "json" else
                      [r.setdefault("properties", {}) for r in document.get("runs", [])]):
            place.update(extra)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "junit":
        import xml.etree.ElementTree as ET

        root = ET.fromstring(report)
        for props in root.iter("properties"):
            for name, value in extra.items():
                ET.SubElement(props, "property", name=name,
                              value=value if isinstance(value, str) else json.dumps(value, sort_keys=True))
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
    return report


class _Finish(NamedTuple):
    graph: ResourceGraph


class _Follower:
    """The pack's side of the run: started as the program starts, it sends each resource to
    Remediate and Analyze as the program registers it, from a thread of its own, and AnalyzeStack
    once the program signals it has registered everything - as the engine does, while the
    program's process is still ending. The diagnostics count only if that run then succeeds."""

    _END = None

    def __init__(self, pack_dir: Path, file_config: dict[str, policyconfig.PolicyConfig] | None,
                 config_source: str) -> None:
        self.pack_dir = pack_dir
        self.file_config = file_config
        self.config_source = config_source
        self.session: AnalyzerSession | None = None
        self._queue: queue.SimpleQueue[ResourceNode | _Finish | None] = queue.SimpleQueue()
        self.diagnostics: list[Diagnostic] | None = None  # AnalyzeStack's, once the program is done
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, stack: ResourceGraph) -> None:
        from checklist import catalog
        from golive.analysis.analyzer import AnalyzerSession

        # The engine never tells a pack where its config came from; golive knows, and the pack's
        # findings about the config name the file.
        self.session = AnalyzerSession.launch(
            self.pack_dir, stack, environment={catalog.PACK_CONFIG_FILE_ENV: self.config_source}
        )
        self._thread = threading.Thread(target=self._follow, name="golive-pack", daemon=True)
        self._thread.start()

    def registered(self, node: ResourceNode) -> None:
        self._queue.put(node)

    def program_done(self, graph: ResourceGraph) -> None:
        self._queue.put(_Finish(graph))

    def _follow(self) -> None:
        session = self.session
        assert session is not None
        try:
            # Load what validation and the report need now, while the pack starts and the program's
            # interpreter still loads the SDK: an import holds the GIL for long stretches, which
            # later would hold up golive's answers to the program's calls.
            policyconfig.preload()
            from golive.analysis import (
                findings,  # noqa: F401
                )
            session.connect()
            config = policyconfig.reconcile(session.info, self.file_config, source=self.config_source)
            session.configure(config)
            nodes: dict[str, ResourceNode] = {}
            while (item := self._queue.get()) is not self._END:
                if isinstance(item, _Finish):
                    self.diagnostics = session.finish(item.graph)
                    session.close()  # the engine's last call to the pack
                    continue
                nodes[item.urn] = item
                session.analyze(item, nodes)
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

