"""`golive audit` and `golive smoke`: stack config and outputs in, checks run concurrently, a report out."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from golive.errors import GoliveError

if TYPE_CHECKING:  # parsing golive's arguments must not load the audit: `check` runs on a stopwatch
    from golive.operations.audit.target import AuditTarget


class EndpointError(GoliveError):
    """An endpoint option that cannot be used; the message names the option and value."""


def dns_server(value: str, timeout: float = 5.0) -> tuple[str, int]:
    """HOST[:PORT], [IPv6]:PORT or a bare IPv6 address, as (IP address, port). A host name is looked up
    once, here, with the system's resolver (hosts file included), within `timeout` seconds; of its
    addresses the first IPv4 one is taken, else the first IPv6 one."""
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
        if value.startswith("[") or ":" in host:
            raise EndpointError(f"--dns-server {value}: {host!r} is not an IPv6 address") from None
        if not host:
            raise EndpointError(f"--dns-server {value}: expected HOST[:PORT]") from None
        return _address_of(value, host, timeout), port
    return host, port


def _address_of(value: str, host: str, timeout: float) -> str:
    import socket
    import threading

    found: list[list[tuple]] = []
    failure: list[str] = []

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM))
        except (OSError, UnicodeError) as err:
            failure.append(str(getattr(err, "strerror", None) or err))

    # getaddrinfo takes no timeout: a daemon thread, so that a resolver that never answers cannot
    # hold the process past the refusal.
    thread = threading.Thread(target=look_up, name="golive-dns-server", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise EndpointError(f"--dns-server {value}: the system resolver did not find {host} within {timeout:g} s")
    if failure or not found[0]:
        why = failure[0] if failure else "no address"
        raise EndpointError(f"--dns-server {value}: cannot resolve {host} ({why}); give a host name the system "
                            "resolves, or an IP address")
    addresses = [info[4][0] for info in found[0]]
    v4 = [a for a in addresses if ":" not in a]
    return (v4 or addresses)[0]


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
    parser.add_argument("--ca-bundle", metavar="FILE",
                        help="PEM CA certificates to trust for Customer.io in addition to the default store "
                             "(verification stays on)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds for any one network call (default 5)")
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


def target_from(args: argparse.Namespace) -> AuditTarget:
    from golive.operations.audit.target import Endpoints, TargetError, build, load_outputs
    from golive.preview.project import load_project, load_stack_config
    from golive.suggest import given

    project = load_project(args.program_dir)
    config = load_stack_config(project, args.stack, require_file=True)
    where = config.file.name if config.file else f"Pulumi.{args.stack}.yaml"
    if args.ca_bundle:
        from golive.clients.customerio import check_ca_bundle

        check_ca_bundle(args.ca_bundle, "--ca-bundle")
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise TargetError(f"--timeout {args.timeout:g}: expected a positive number of seconds")
    host, port = dns_server(args.dns_server, args.timeout) if getattr(args, "dns_server", None) else (None, 53)
    endpoints = Endpoints(
        aws_url=args.aws_endpoint, aws_region=args.aws_region or config.values.get("aws:region"),
        dns_server=host, dns_port=port, track_url=args.customerio_track_url, api_url=args.customerio_api_url,
        ca_bundle=args.ca_bundle, timeout=args.timeout,
    )
    return build(config.stack, config.values, where, outputs=load_outputs(args.outputs), region=args.region,
                 compare_with=getattr(args, "compare_with", None), write_test=getattr(args, "write_test", False),
                 endpoints=endpoints, no_staging=getattr(args, "no_staging", False), options=given(args))


def run(args: argparse.Namespace, *, smoke: bool = False) -> int:
    from golive import output
    from golive.operations.audit import report
    from golive.operations.audit.run import exit_code, plan, run_checks, terminal_progress

    report_to = output.target(args.output)  # before the checks run, not after
    target = target_from(args)
    results = run_checks(plan(target, smoke=smoke), progress=terminal_progress())
    command = "smoke" if smoke else "audit"
    output.write_output(report.render(args.format, target, results, command), report_to)
    return exit_code(results)
