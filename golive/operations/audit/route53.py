"""The Route53 hosted zone holding the sending subdomain, read for the DNS comparison (audit/dns.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError

from golive.operations.audit.aws_calls import (
    AwsAuditError,
    AwsCalls,
    CallFailure,
    SessionFactory,
    aws_hint,
    sessions_of,
)
from golive.operations.audit.target import AuditTarget

__all__ = ["HostedZoneNotFound", "route53_records"]


class HostedZoneNotFound(AwsAuditError):
    """No Route53 hosted zone in the account holds the sending subdomain."""


def _zone_name(zone: Mapping[str, Any]) -> str:
    return str(zone.get("Name", "")).rstrip(".").lower()


def _holding_zones(zones: Sequence[Mapping[str, Any]], name: str) -> Iterator[Mapping[str, Any]]:
    for zone in zones:
        zone_name = _zone_name(zone)
        if zone_name and (name == zone_name or name.endswith("." + zone_name)):
            yield zone


def route53_records(target: AuditTarget, session_factory: SessionFactory | None = None) -> list[dict]:
    """Every record set of the hosted zone holding `target.subdomain`, as ListResourceRecordSets gives them.

    The zone is the longest-suffix match among the account's zones (a delegated `cio123.example.com`
    zone wins over `example.com`); a public zone wins over a private one of the same name, since the
    world resolves the public one. Raises HostedZoneNotFound when no zone holds the subdomain, and
    AwsAuditError (naming the zone and AWS's error code) when Route53 cannot be read.
    """
    subdomain = target.subdomain.rstrip(".").lower()
    try:
        try:
            session = (session_factory or sessions_of(target))()
        except BotoCoreError as err:
            why = aws_hint(err, "", "", target.endpoints.timeout)
            raise CallFailure("AWS session", type(err).__name__, why) from None
        aws = AwsCalls(target, session)
        route53 = aws.client("route53")
        zones = aws.pages(route53, "list_hosted_zones", "Route53 hosted zones", "HostedZones")
        candidates = list(_holding_zones(zones, subdomain))
        if not candidates:
            raise HostedZoneNotFound(f"no Route53 hosted zone in this account holds {subdomain}: create the zone, "
                                     "or audit with the account that has it")
        zone = max(candidates, key=lambda z: (len(_zone_name(z)), not (z.get("Config") or {}).get("PrivateZone")))
        zone_id = str(zone.get("Id", ""))
        return aws.pages(route53, "list_resource_record_sets", f"hosted zone {_zone_name(zone)} ({zone_id})",
                         "ResourceRecordSets", HostedZoneId=zone_id)
    except CallFailure as failure:
        raise AwsAuditError(failure.detail) from None
