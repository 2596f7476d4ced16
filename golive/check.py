"""`golive check`: program → resource graph → analyzer session → findings → report."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import policyconfig
from .analyzer import AnalyzerSession
from .cli import UsageError, write_output
from .findings import build_result
from .program import run_program
from .report import render


def run(args: argparse.Namespace) -> int:
    pack_dir = Path(args.policy_pack)
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise UsageError(f"--policy-pack {pack_dir}: no PulumiPolicy.yaml there")
    file_config = policyconfig.load(args.policy_pack_config)
    graph = run_program(
        args.program_dir,
        args.stack,
        config_overrides=args.config,
        invoke_results=args.invoke_results,
        timeout=args.timeout,
    )
    with AnalyzerSession.start(pack_dir, graph) as session:
        config = policyconfig.reconcile(session.info, file_config, source=args.policy_pack_config or "")
        diagnostics = session.run(config)
        result = build_result(
            graph,
            session.info,
            diagnostics,
            pack_python=session.python.note,
            remediations=session.remediations,
            source_root="",
        )
    write_output(render(args.format, result), args.output)
    return result.exit_code()
