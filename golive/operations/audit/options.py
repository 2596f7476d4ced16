"""What `golive audit` and `golive smoke` are asked to check, as a function API: the command line
(golive/cli.py) and the rollout's smoke gate both build an AuditOptions, and `target_for` reads the
stack's config and outputs into the AuditTarget the checks run against."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from golive.clients.aws import Identity, assume, identity_from
from golive.errors import GoliveError
from golive.operations.audit.target import AuditTarget, Endpoints, TargetError, build, load_outputs
from golive.preview.project import load_project, load_stack_config
from golive.suggest import given

__all__ = ["AuditOptions", "EndpointError", "dns_server", "target_for"]


@dataclass(frozen=True)
class AuditOptions:
    """The stack to verify and where its services are; the fields are the command line's options."""

    stack: str
    program_dir: str = "."  # folder holding Pulumi.yaml and Pulumi.<stack>.yaml
    outputs: str | None = None  # `pulumi stack output --json` of the stack
    region: str | None = None  # Customer.io region; None: the stack's
    aws_endpoint: str | None = None
    aws_region: str | None = None  # None: the stack's aws:region
    customerio_track_url: str | None = None
    customerio_api_url: str | None = None
    ca_bundle: str | None = None  # PEM CA certificates trusted for Customer.io besides the default store
    timeout: float = 5.0  # seconds for any one network call
    dns_server: str | None = None  # HOST[:PORT]; None: the system's resolver (the audit only)
    compare_with: Sequence[str] | None = None  # non-production environments whose keys must differ
    no_staging: bool = False  # staging's keys are out of reach: the comparison shows as SKIP
    write_test: bool = False  # also identify and delete a uniquely named test profile
    profile: str | None = None  # a named profile of the shared AWS config files
    role_arn: str | None = None  # a role to assume (STS AssumeRole) for every AWS call
    external_id: str | None = field(default=None, repr=False)
    role_session_name: str | None = None  # None: golive-COMMAND-STACK
    aws_identity: Identity | None = None  # one already assumed (the rollout's smoke gate passes its own)


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


def target_for(options: AuditOptions, command: str = "audit") -> AuditTarget:
    """The stack's config and outputs, where its services are, and the AWS identity every check uses,
    as the checks' target: a role given with `role_arn` is assumed here, once, before any check runs."""
    project = load_project(options.program_dir)
    config = load_stack_config(project, options.stack, require_file=True)
    where = config.file.name if config.file else f"Pulumi.{options.stack}.yaml"
    if options.ca_bundle:
        from golive.clients.customerio import check_ca_bundle

        check_ca_bundle(options.ca_bundle, "--ca-bundle")
    if not math.isfinite(options.timeout) or options.timeout <= 0:
        raise TargetError(f"--timeout {options.timeout:g}: expected a positive number of seconds")
    host, port = dns_server(options.dns_server, options.timeout) if options.dns_server else (None, 53)
    region = options.aws_region or config.values.get("aws:region")
    identity = options.aws_identity or assume(
        identity_from(options, command), endpoint_url=options.aws_endpoint, region=region, timeout=options.timeout)
    endpoints = Endpoints(
        aws_url=options.aws_endpoint, aws_region=region,
        dns_server=host, dns_port=port, track_url=options.customerio_track_url, api_url=options.customerio_api_url,
        ca_bundle=options.ca_bundle, timeout=options.timeout, identity=identity,
    )
    compare_with = list(options.compare_with) if options.compare_with is not None else None
    return build(config.stack, config.values, where, outputs=load_outputs(options.outputs), region=options.region,
                 compare_with=compare_with, write_test=options.write_test, endpoints=endpoints,
                 no_staging=options.no_staging, options=given(options))
