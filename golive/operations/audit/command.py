"""`golive audit` and `golive smoke`: their options, and the report of the checks written out.
The checks' API is golive/operations/audit/options.py and run.py; this is the command line's side."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from golive import argtypes

if TYPE_CHECKING:  # parsing golive's arguments must not load the audit: `check` runs on a stopwatch
    from golive.operations.audit.options import AuditOptions


def add_arguments(parser: argparse.ArgumentParser, *, smoke: bool) -> None:
    from golive.clients.aws import add_identity_options

    parser.add_argument("--stack", "-s", required=True, help="the stack to verify; its config says what to expect")
    parser.add_argument("--program-dir", default=".",
                        help="folder holding Pulumi.yaml and Pulumi.<stack>.yaml (default: .)")
    parser.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` of the stack")
    parser.add_argument("--format", choices=("text", "json", "junit"), default="text")
    parser.add_argument("--output", "-o", help="write the report here instead of standard output")
    parser.add_argument("--region", choices=("us", "eu"), help="Customer.io region (default: the stack's)")
    argtypes.add_aws_endpoint(parser, region_default="the stack's aws:region")
    argtypes.add_customerio_endpoints(parser)
    parser.add_argument("--timeout", type=argtypes.seconds, default=5.0,
                        help="seconds for any one network call (default 5)")
    add_identity_options(parser)
    if not smoke:
        parser.add_argument("--dns-server", metavar="HOST[:PORT]",
                            help="DNS server to ask, by IP address or host name (default: the system's resolver)")
        parser.add_argument("--compare-with", action="append", metavar="ENV",
                            help="non-production environment whose keys must differ (default: staging)")
        parser.add_argument("--no-staging", action="store_true",
                            help="do not compare production's keys with staging's (staging in another account); "
                                 "the comparison shows as SKIP")
        parser.add_argument("--write-test", action="store_true",
                            help="also identify and delete a uniquely named test profile (never suppress)")


def run(options: AuditOptions, *, report_format: str = "text", output: str | None = None,
        smoke: bool = False) -> int:
    """The audit (or the smoke test) of the stack, its report written to `output` (standard output when None)."""
    from golive import output as outputs
    from golive.operations.audit import report
    from golive.operations.audit.run import audit, exit_code, terminal_progress

    report_to = outputs.target(output)  # before the checks run, not after
    target, results = audit(options, smoke=smoke, progress=terminal_progress())
    command = "smoke" if smoke else "audit"
    outputs.write_output(report.render(report_format, target, results, command), report_to)
    return exit_code(results)
