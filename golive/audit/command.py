"""`golive audit` and `golive smoke`: stack config and outputs in, checks run concurrently, a report out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GoliveError

if TYPE_CHECKING:  # parsing golive's arguments must not load the audit: `check` runs on a stopwatch
    from .target import AuditTarget


class EndpointError(GoliveError):
    """An endpoint option that cannot be used; the message names the option and value."""


def dns_server(value: str) -> tuple[str, int]:
    """HOST[:PORT], [IPv6]:PORT or a bare IPv6 address; the host must be an IP address (it is the resolver)."""
    import ipaddress

    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise EndpointError(f"--dns-server {value}: expected [IPv6]:PORT")
            port = _port(value, rest[1:])
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        port = _port(value, port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise EndpointError(f"--dns-server {value}: expected an IP address, optionally with :PORT") from None
    return host, port


def _port(value: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise EndpointError(f"--dns-server {value}: {text!r} is not a port number")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser, *, smoke: bool) -> None:
    parser.add_argument("--stack", "-s", required=True, help="the stack to verify; its config says what to expect")
    parser.add_argument("--program-dir", default=".",
                        help="folder holding Pulumi.yaml and Pulumi.<stack>.yaml (default: .)")
    parser.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` of the stack")
    parser.add_argument("--format", choices=("text", "json", "junit"), default="text")
    parser.add_argument("--output", "-o", help="write the report here instead of standard output")
    parser.add_argument("--region", choices=("us", "eu"), help="Customer.io region (default: the stack's)")
    parser.add_argument("--aws-endpoint", help="AWS endpoint URL (tests, private setups)")
    parser.add_argument("--aws-region", help="AWS region (default: the stack's aws:region)")
    parser.add_argument("--customerio-track-url", help="Track API base URL (default: the region's)")
    parser.add_argument("--customerio-api-url", help="App API base URL (default: the region's)")
    parser.add_argument("--ca-bundle", help="extra CA file to trust for Customer.io (verification stays on)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds for any one network call (default 5)")
    if not smoke:
        parser.add_argument("--dns-server", help="resolver to ask, HOST[:PORT] (default: the system's)")
        parser.add_argument("--compare-with", action="append", metavar="ENV",
                            help="non-production environment whose keys must differ (default: staging)")
        parser.add_argument("--write-test", action="store_true",
                            help="also identify and delete a uniquely named test profile (never suppress)")


def target_from(args: argparse.Namespace) -> AuditTarget:
    from ..project import load_project, load_stack_config
    from .target import Endpoints, TargetError, build, load_outputs

    project = load_project(args.program_dir)
    config = load_stack_config(project, args.stack, require_file=True)
    where = config.file.name if config.file else f"Pulumi.{args.stack}.yaml"
    if args.ca_bundle and not Path(args.ca_bundle).is_file():
        raise TargetError(f"--ca-bundle {args.ca_bundle}: no such file")
    if args.timeout <= 0:
        raise TargetError(f"--timeout {args.timeout:g}: expected a positive number of seconds")
    host, port = dns_server(args.dns_server) if getattr(args, "dns_server", None) else (None, 53)
    endpoints = Endpoints(
        aws_url=args.aws_endpoint, aws_region=args.aws_region or config.values.get("aws:region"),
        dns_server=host, dns_port=port, track_url=args.customerio_track_url, api_url=args.customerio_api_url,
        ca_bundle=args.ca_bundle, timeout=args.timeout,
    )
    return build(config.stack, config.values, where, outputs=load_outputs(args.outputs), region=args.region,
                 compare_with=getattr(args, "compare_with", None), write_test=getattr(args, "write_test", False),
                 endpoints=endpoints)


def run(args: argparse.Namespace, *, smoke: bool = False) -> int:
    from ..cli import write_output
    from . import report
    from .run import exit_code, plan, run_checks, terminal_progress

    target = target_from(args)
    results = run_checks(plan(target, smoke=smoke), progress=terminal_progress())
    command = "smoke" if smoke else "audit"
    write_output(report.render(args.format, target, results, command), args.output)
    return exit_code(results)
