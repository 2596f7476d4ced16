"""SendingDomain: the Route53 records Customer.io documents for a sending domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from checklist import catalog, emailauth

from .validate import InputError, require_choice, require_domain


@dataclass
class DmarcArgs:
    policy: str = "quarantine"
    rua: Sequence[str] = field(default_factory=list)  # addresses, with or without `mailto:`
    subdomain_policy: str | None = None
    adkim: str | None = None
    aspf: str | None = None


@dataclass
class SendingDomainArgs:
    zone_id: pulumi.Input[str]
    domain: str  # the organizational domain, where DMARC lives: example.com
    subdomain: str  # Customer.io's account subdomain: cio12345.example.com
    dkim_public_key: str  # the `p=` value Customer.io shows
    region: str = "us"
    dkim_selector: str = "krs"
    mx_hosts: Sequence[str] = ("mxa.mailgun.org", "mxb.mailgun.org")
    spf_includes: Sequence[str] = ("mailgun.org",)
    spf_all: str = "~all"
    dmarc: DmarcArgs | None = field(default_factory=DmarcArgs)
    link_tracking_host: str | None = None  # e.g. links.example.com
    ttl: int = 300


def spf_value(includes: Sequence[str], all_term: str) -> str:
    """One SPF record: includes merged in order, duplicates dropped (a second v=spf1 is a permerror)."""
    seen: list[str] = []
    for include in includes:
        if include not in seen:
            seen.append(include)
    return " ".join(["v=spf1", *(f"include:{i}" for i in seen), all_term])


def dmarc_value(args: DmarcArgs) -> str:
    tags = ["v=DMARC1", f"p={args.policy}"]
    if args.subdomain_policy:
        tags.append(f"sp={args.subdomain_policy}")
    if args.adkim:
        tags.append(f"adkim={args.adkim}")
    if args.aspf:
        tags.append(f"aspf={args.aspf}")
    if args.rua:
        tags.append("rua=" + ",".join(a if a.startswith("mailto:") else f"mailto:{a}" for a in args.rua))
    return "; ".join(tags)


class SendingDomain(pulumi.ComponentResource):
    def __init__(self, name: str, args: SendingDomainArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:email:SendingDomain", name, None, opts)
        domain = require_domain("domain", args.domain)
        subdomain = require_domain("subdomain", args.subdomain)
        if not subdomain.endswith("." + domain):
            raise InputError(f"subdomain: expected a name under {domain}, got {args.subdomain!r}")
        require_choice("region", args.region, catalog.REGIONS)
        for host in args.mx_hosts:
            require_domain("mx_hosts", host)
        if not args.dkim_public_key or any(c.isspace() for c in args.dkim_public_key.strip()):
            raise InputError("dkim_public_key: expected the base64 key Customer.io shows, without spaces")
        child = pulumi.ResourceOptions(parent=self)

        def record(suffix: str, rname: str, rtype: str, values: list[str]) -> aws.route53.Record:
            return aws.route53.Record(
                f"{name}-{suffix}", zone_id=args.zone_id, name=rname, type=rtype, ttl=args.ttl,
                records=values, opts=child,
            )

        # No hosts, no record: Route53 refuses an empty one, and the pack reports the missing return path.
        self.mx = record("mx", subdomain, "MX", [f"10 {h}" for h in args.mx_hosts]) if args.mx_hosts else None
        self.spf = record("spf", subdomain, "TXT", [spf_value(args.spf_includes, args.spf_all)])
        dkim_name = f"{args.dkim_selector}._domainkey.{subdomain}"
        self.dkim = record("dkim", dkim_name, "TXT", [emailauth.split_txt(f"k=rsa; p={args.dkim_public_key.strip()}")])
        self.dmarc = None
        if args.dmarc is not None:
            require_choice("dmarc.policy", args.dmarc.policy, ("none", "quarantine", "reject"))
            self.dmarc = record("dmarc", f"_dmarc.{domain}", "TXT", [dmarc_value(args.dmarc)])
        self.link_tracking = None
        if args.link_tracking_host:
            host = require_domain("link_tracking_host", args.link_tracking_host)
            target = catalog.LINK_TRACKING_TARGETS[args.region]
            self.link_tracking = record("links", host, "CNAME", [target])
        self.register_outputs({"subdomain": subdomain, "dkimName": dkim_name})
