"""What `pulumi up` leaves in DNS for the production stack: the zones NSD serves and Route53 holds.

The values come from the component's own helpers (spf_value, dmarc_value, the pack's split_txt for the
DKIM key in 255-character strings), plus the zones an SPF include reaches (mailgun.org), since NSD
refuses names it does not serve. Shared by the audit's tests and `make bench`.
"""

from __future__ import annotations

from typing import Any

import boto3

from checklist import catalog, emailauth
from components.sending_domain import DmarcArgs, dmarc_value, spf_value
from golive.operations.audit.target import AuditTarget
from tests.fakes.nsd import Zone

SUB = "cio12345"  # Pulumi.production.yaml's sendingSubdomain, relative to example.com


def dkim_strings(key: str, extra: str = "") -> list[str]:
    """The DKIM TXT's character-strings exactly as the component's one Route53 element yields them."""
    return emailauth.txt_strings(emailauth.split_txt(f"{extra}k=rsa; p={key}"))


def compliant(target: AuditTarget) -> dict[str, Zone]:
    assert target.dkim_public_key and target.dmarc_policy
    example = (
        Zone("example.com")
        .mx(SUB, 10, "mxa.mailgun.org")
        .mx(SUB, 10, "mxb.mailgun.org")
        .txt(SUB, spf_value(["mailgun.org"], "~all"))
        .txt(f"krs._domainkey.{SUB}", *dkim_strings(target.dkim_public_key))
        .txt("_dmarc", dmarc_value(DmarcArgs(policy=target.dmarc_policy, rua=list(target.dmarc_rua),
                                             adkim="r", aspf="r")))
        .cname("links", catalog.LINK_TRACKING_TARGETS["us"])
        # The rua mailbox's domain takes mail (checkdmarc notes a report address without MX).
        .mx("@", 10, "mx.example.com")
        .a("mx", "192.0.2.25")
    )
    mailgun = (
        Zone("mailgun.org")
        .txt("@", "v=spf1 include:_spf.mailgun.org ~all")
        .txt("_spf", "v=spf1 ip4:209.61.151.0/24 ip4:166.78.68.0/22 ~all")
        .a("mxa", "192.0.2.1")
        .a("mxb", "192.0.2.2")
    )
    customerio = Zone("customeriomail.com").a("e", "192.0.2.10").a("e-eu", "192.0.2.11")
    return {z.origin: z for z in (example, mailgun, customerio)}


def route53_seed(aws: str, target: AuditTarget) -> list[dict[str, Any]]:
    """The hosted zone as `pulumi up` leaves it (components/sending_domain.py), read back with boto3."""
    assert target.dkim_public_key and target.link_tracking_host
    client = boto3.client("route53", endpoint_url=aws, region_name="us-east-1")
    zone_id = client.create_hosted_zone(Name="example.com", CallerReference="golive-dns")["HostedZone"]["Id"]

    def element(value: str) -> str:
        return value if value.startswith('"') else f'"{value}"'  # what the AWS provider does to each element

    records = [
        (target.subdomain, "MX", ["10 mxa.mailgun.org", "10 mxb.mailgun.org"]),
        (target.subdomain, "TXT", [element(spf_value(["mailgun.org"], "~all"))]),
        (f"krs._domainkey.{target.subdomain}", "TXT",
         [element(emailauth.split_txt(f"k=rsa; p={target.dkim_public_key}"))]),
        ("_dmarc.example.com", "TXT", [element(dmarc_value(DmarcArgs(policy="quarantine",
                                                                     rua=["dmarc-reports@example.com"],
                                                                     adkim="r", aspf="r")))]),
        (target.link_tracking_host, "CNAME", [catalog.LINK_TRACKING_TARGETS["us"]]),
    ]
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": name, "Type": rtype, "TTL": 300,
                                                   "ResourceRecords": [{"Value": v} for v in values]}}
        for name, rtype, values in records]})
    pages = client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    return [record for page in pages for record in page["ResourceRecordSets"]]
