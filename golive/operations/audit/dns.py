"""The audit's live-DNS part: §3 email deliverability as the world's resolvers see it.

What `pulumi up` created (components/sending_domain.py) is only half the story: the records must be
what DNS actually serves. Each check asks DNS itself, with a timeout on every query:

- spf: one SPF record at the sending subdomain, no `+all`/`?all`, Customer.io's ESP (mailgun.org)
  included, and the whole include tree within RFC 7208's 10 DNS lookups and 2 void lookups;
- dkim: the key at `<selector>._domainkey.<subdomain>` (a CNAME chain to it is followed) parses, has
  at least 1024 bits, is not revoked, and is the stack's key; test mode (`t=y`) is a WARN, as the pack
  reports it;
- return-path mx: the subdomain's MX records (Customer.io shows two);
- dmarc: a valid record at `_dmarc.<organizational domain>`, not `p=none`, and every external `rua`
  destination authorizes the domain;
- link tracking: the CNAME points at the region's Customer.io host.

`compare_with_route53` then holds what DNS serves against what the hosted zone holds.

A line's status here is what the check found; the audit then holds it to its catalog policy's level
(golive/operations/audit/levels.py), so a missing DMARC record or return-path MX is reported as a WARN.

Parsing is never done here: the pack's parsers (checklist.emailauth) read SPF, DKIM and DMARC exactly
as `golive check` does, and checkdmarc resolves what only live DNS can answer (the SPF include tree,
DMARC report authorization). Every failed lookup says which of NXDOMAIN, NOANSWER, SERVFAIL,
REFUSED or a timeout it was, and from which server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset

from checklist import catalog, emailauth
from golive.errors import GoliveError
from golive.operations.audit.result import AuditResult, Check, Status, failed, passed, warned
from golive.operations.audit.target import AuditTarget

__all__ = [
    "SECTION",
    "Lookup",
    "Server",
    "checks",
    "compare_with_route53",
    "lookup",
    "route53_check",
    "server_for",
]

SECTION = "§3 email deliverability"
ESP_DOMAINS = catalog.DEFAULT_ESP_DOMAINS  # an include under one of these is Customer.io's sender
SPF_MAX_VOID_LOOKUPS = 2  # RFC 7208 §4.6.4
MAX_CNAME_HOPS = 8
SPF_EXAMPLE = "v=spf1 include:mailgun.org ~all"
EDNS_PAYLOAD = 1232  # a 2048-bit DKIM key fits one UDP answer, with no TCP retry for it

# What became of a lookup that found nothing (Lookup.kind).
NXDOMAIN, NOANSWER, SERVFAIL, REFUSED = "NXDOMAIN", "NOANSWER", "SERVFAIL", "REFUSED"
TIMEOUT, ERROR = "TIMEOUT", "ERROR"
ABSENT = (NXDOMAIN, NOANSWER)  # the server answered, and the answer is "nothing here"


# --- Asking DNS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """Where the audit's queries go: one server (tests, private setups) or the system's resolver."""

    address: str | None
    port: int
    timeout: float

    @property
    def label(self) -> str:
        if self.address is None:
            return "the system resolver"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    def resolver(self) -> dns.resolver.Resolver:
        """A new resolver per check: the checks run concurrently and a Resolver is not meant to be shared
        while its settings are touched."""
        if self.address is None:
            resolver = dns.resolver.Resolver()  # /etc/resolv.conf; NoResolverConfiguration if there is none
        else:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [self.address]
            resolver.port = self.port
        resolver.lifetime = self.timeout
        # Several tries within the lifetime, so one lost UDP datagram does not cost the whole budget.
        resolver.timeout = min(1.0, self.timeout)
        resolver.use_edns(0, 0, EDNS_PAYLOAD)
        return resolver


def server_for(target: AuditTarget) -> Server:
    endpoints = target.endpoints
    return Server(endpoints.dns_server, endpoints.dns_port, endpoints.timeout)


@dataclass(frozen=True)
class Lookup:
    """One question and what came of it. `rrset` is None when nothing was found; then `kind` says why
    (NXDOMAIN, NOANSWER, SERVFAIL, REFUSED, TIMEOUT, ERROR) and `reason` says it in words."""

    name: str  # as asked
    rdtype: str
    server: Server
    rrset: dns.rrset.RRset | None = None
    kind: str | None = None
    reason: str = ""
    canonical: str = ""  # the name the answer is for, after CNAMEs ("" when it is `name`)

    @property
    def found(self) -> bool:
        return self.rrset is not None

    @property
    def absent(self) -> bool:
        """The server answered that there is no such record (as opposed to not answering)."""
        return self.kind in ABSENT

    @property
    def via(self) -> str:
        return f" (via CNAME to {self.canonical})" if self.canonical else ""

    def texts(self) -> list[str]:
        """Each TXT record, its character-strings joined without spaces (RFC 7208 §3.3, RFC 6376 §3.6.2.2)."""
        if self.rrset is None:
            return []
        return [b"".join(r.strings).decode("utf-8", errors="replace") for r in self.rrset]

    def problem(self, fix: str) -> str:
        """The detail for a lookup that found nothing; `fix` is what to publish when the answer was
        "nothing here" (a server that did not answer needs its own fix, which `reason` gives)."""
        if self.absent:
            return f"no {self.rdtype} at {self.name}{self.via} ({self.kind}: {self.reason}): {fix}"
        return f"could not read {self.rdtype} at {self.name}{self.via}: {self.reason}"


def _server_rcodes(err: dns.resolver.NoNameservers) -> list[str]:
    rcodes = []
    for entry in err.kwargs.get("errors") or []:
        response = entry[4] if len(entry) > 4 else None
        if isinstance(response, dns.message.Message):
            rcodes.append(dns.rcode.to_text(response.rcode()))
        elif isinstance(entry[3], str):
            rcodes.append(entry[3])
    return rcodes


def _classify(err: BaseException, rdtype: str, server: Server) -> tuple[str, str]:
    """(kind, reason) for a failed lookup; the reason says what to do when the fault is the server's."""
    if isinstance(err, dns.resolver.NXDOMAIN):
        return NXDOMAIN, "the name does not exist"
    if isinstance(err, dns.resolver.NoAnswer):
        return NOANSWER, f"the name exists but has no {rdtype} record"
    if isinstance(err, dns.exception.Timeout):  # LifetimeTimeout included
        return TIMEOUT, (f"DNS timed out after {server.timeout:g} s asking {server.label}; check that the "
                         "server is reachable, or raise the timeout")
    if isinstance(err, dns.resolver.NoNameservers):
        rcodes = _server_rcodes(err)
        if SERVFAIL in rcodes:
            return SERVFAIL, (f"SERVFAIL from {server.label}: the server cannot answer for this zone (a zone "
                              "file that did not load, a broken delegation or DNSSEC); fix the zone on its "
                              "authoritative servers")
        if REFUSED in rcodes:
            return REFUSED, (f"REFUSED by {server.label}: it does not serve this zone (or does not answer this "
                             "client); check that the domain is delegated to the hosted zone's name servers, or "
                             "ask a server that serves it")
        shown = ", ".join(dict.fromkeys(rcodes)) or "no usable answer"
        return ERROR, f"{server.label} answered {shown}"
    if isinstance(err, dns.resolver.NoResolverConfiguration):
        return ERROR, "no DNS resolver is configured on this machine (/etc/resolv.conf); pass a DNS server"
    if isinstance(err, OSError):
        return ERROR, f"could not reach {server.label}: {err.strerror or err}"
    return ERROR, f"{type(err).__name__} asking {server.label}: {err}"


def lookup(server: Server, name: str, rdtype: str, *, resolver: dns.resolver.Resolver | None = None,
           follow: bool = True) -> Lookup:
    """Ask for `rdtype` at `name`. With `follow`, a CNAME chain is followed even across zones (an
    authoritative server answers a CNAME into another zone with the CNAME alone)."""
    name = emailauth.normalize_name(name)
    try:
        resolver = resolver or server.resolver()
    except dns.exception.DNSException as err:
        kind, reason = _classify(err, rdtype, server)
        return Lookup(name, rdtype, server, kind=kind, reason=reason)
    current = name
    for _ in range(MAX_CNAME_HOPS):
        try:
            answer = resolver.resolve(current, rdtype, raise_on_no_answer=True, search=False)
        except dns.resolver.NoAnswer as err:
            response = err.kwargs.get("response")
            nxt = current
            if isinstance(response, dns.message.Message):
                try:
                    nxt = emailauth.normalize_name(response.resolve_chaining().canonical_name.to_text())
                except dns.exception.DNSException:
                    nxt = current
            if follow and nxt != current:
                current = nxt
                continue
            kind, reason = _classify(err, rdtype, server)
            return Lookup(name, rdtype, server, kind=kind, reason=reason, canonical=_other(nxt, name))
        except (dns.exception.DNSException, OSError) as err:
            kind, reason = _classify(err, rdtype, server)
            if isinstance(err, dns.resolver.NXDOMAIN):
                try:
                    current = emailauth.normalize_name(err.canonical_name.to_text())
                except (KeyError, dns.exception.DNSException, AttributeError):
                    pass
            return Lookup(name, rdtype, server, kind=kind, reason=reason, canonical=_other(current, name))
        owner = emailauth.normalize_name(answer.canonical_name.to_text())
        return Lookup(name, rdtype, server, rrset=answer.rrset, canonical=_other(owner, name))
    return Lookup(name, rdtype, server, kind=ERROR, reason=f"a CNAME chain longer than {MAX_CNAME_HOPS} hops",
                  canonical=_other(current, name))


def _other(canonical: str, name: str) -> str:
    return canonical if canonical and canonical != name else ""


def _short(text: str, keep: int = 60) -> str:
    """A long value (a DKIM key) shortened for one line, both ends kept so a difference shows."""
    return text if len(text) <= keep else f"{text[: keep - 20]}…{text[-16:]}"


def _checkdmarc_fresh() -> None:
    """Forget checkdmarc's process-wide answer cache, whose keys do not include the server: answers
    from an earlier audit (or another server) would otherwise be read as this one's."""
    from checkdmarc import utils

    utils.DNS_CACHE.clear()


# --- SPF -------------------------------------------------------------------------------------------


def _is_spf(text: str) -> bool:
    # Record selection exactly as RFC 7208 §4.5 (and checkdmarc) do it: "v=spf1" then a space or nothing.
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def _tree_includes(parsed: Mapping[str, Any] | None) -> list[str]:
    """Every include and redirect target in checkdmarc's parsed include tree, depth first."""
    found: list[str] = []
    if not parsed:
        return found
    for mechanism in parsed.get("mechanisms") or []:
        if mechanism.get("mechanism") == "include":
            found.append(emailauth.normalize_name(str(mechanism.get("value", ""))))
            found += _tree_includes(mechanism.get("parsed"))
    redirect = parsed.get("redirect")
    if redirect:
        found.append(emailauth.normalize_name(str(redirect.get("domain", ""))))
        found += _tree_includes(redirect.get("parsed"))
    return found


def _spf(target: AuditTarget, server: Server) -> list[AuditResult]:
    from checkdmarc import spf as cd_spf

    name = target.subdomain
    out: list[AuditResult] = []

    def fail(detail: str) -> None:
        out.append(failed("spf", detail, SECTION))

    resolver = server.resolver()
    found = lookup(server, name, "TXT", resolver=resolver)
    if not found.found:
        fail(found.problem(f"publish one TXT `{SPF_EXAMPLE}` at {name}"))
        return out
    records = [t for t in found.texts() if _is_spf(t)]
    if not records:
        fail(f"none of the {len(found.texts())} TXT records at {name} is SPF (`v=spf1 …`): publish one TXT "
             f"`{SPF_EXAMPLE}` there")
        return out
    if len(records) > 1:
        shown = "; ".join(f"`{_short(r)}`" for r in records)
        fail(f"{len(records)} SPF records at {name} ({shown}): receivers return permerror and fail SPF for all "
             "mail; merge them into one `v=spf1 … ~all` record")
        return out
    record = records[0]
    try:
        own = emailauth.parse_spf(record)
    except emailauth.SPFSyntaxError as err:
        fail(f"SPF record at {name} `{_short(record)}` is invalid ({err.reason}): receivers fail SPF for all "
             f"mail; fix the term {err.term!r}")
        return out
    if own.all_qualifier == "+":
        fail(f"SPF record at {name} ends in `+all` (a bare `all` means the same): it authorizes every host on "
             "the internet to send as the domain; end it with `~all` or `-all`")
    elif own.all_qualifier == "?":
        fail(f"SPF record at {name} ends in `?all` (neutral), which protects nothing; end it with `~all` or `-all`")
    elif own.all_qualifier is None and "redirect" not in own.modifiers:
        fail(f"SPF record at {name} has neither `all` nor `redirect=`, so unlisted senders get neutral (like "
             "`?all`); end it with `~all` or `-all`")

    _checkdmarc_fresh()
    tree: Mapping[str, Any] | None = None
    notes: list[str] = []
    try:
        tree = cd_spf.parse_spf_record(record, name, resolver=resolver, timeout=server.timeout, retries=0)
        notes = list(tree.get("warnings") or [])
    except cd_spf.SPFTooManyDNSLookups as err:
        count = (err.data or {}).get("dns_lookups", "over 10")
        fail(f"SPF at {name} needs at least {count} DNS lookups through its include tree; RFC 7208 allows "
             f"{catalog.SPF_MAX_DNS_LOOKUPS} and receivers return permerror beyond that: remove includes or "
             "flatten nested ones into ip4:/ip6: terms")
    except cd_spf.SPFTooManyVoidDNSLookups as err:
        count = (err.data or {}).get("void_dns_lookups", "over 2")
        fail(f"SPF at {name} makes {count} void lookups (names that do not exist or have no address); RFC 7208 "
             f"allows {SPF_MAX_VOID_LOOKUPS} and receivers return permerror beyond that: remove the terms that "
             "name missing hosts")
    except cd_spf.SPFRecordNotFound as err:
        fail(_missing_include(err, name, server))
    except cd_spf.SPFError as err:
        fail(f"SPF at {name} is a permerror through its include tree: {err}; fix the record or the include")

    includes = _tree_includes(tree.get("parsed")) if tree else [emailauth.normalize_name(i) for i in own.includes]
    if not any(emailauth.is_under(i, esp) for i in includes for esp in ESP_DOMAINS):
        fail(f"SPF at {name} does not include Customer.io's sender (mailgun.org): mail Customer.io sends fails "
             "SPF; add `include:mailgun.org` to the record")
    if notes:
        shown = "; ".join(notes[:3]) + (f" (and {len(notes) - 3} more)" if len(notes) > 3 else "")
        out.append(warned("spf", f"checkdmarc notes on the SPF at {name}: {shown}", SECTION))
    if not any(r.status == Status.FAIL for r in out) and tree is not None:
        esp = next(i for i in includes if any(emailauth.is_under(i, e) for e in ESP_DOMAINS))
        out.insert(0, passed("spf", (
            f"one SPF record at {name} `{_short(record)}`: includes {esp}; {tree['dns_lookups']}/"
            f"{catalog.SPF_MAX_DNS_LOOKUPS} DNS lookups and {tree['void_dns_lookups']}/{SPF_MAX_VOID_LOOKUPS} "
            "void lookups through the include tree"), SECTION))
    return out


def _missing_include(err: Exception, name: str, server: Server) -> str:
    """An include whose target gave no SPF: a permerror when the target really has none, a lookup
    failure (not the record's fault) when the target's server did not answer."""
    include = getattr(err, "domain", "?")
    inner = err.__cause__ if err.__cause__ is not None else err
    cause = getattr(inner, "error", inner)
    if isinstance(cause, dns.exception.DNSException) and not isinstance(
            cause, (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)):
        _, reason = _classify(cause, "TXT", server)
        return f"could not resolve include:{include} in the SPF at {name}: {reason}"
    return (f"SPF at {name} includes {include}, which has no SPF record ({cause}): receivers return permerror "
            f"(RFC 7208 §5.2); fix or remove include:{include}")


# --- DKIM ------------------------------------------------------------------------------------------


def _dkim(target: AuditTarget, server: Server) -> list[AuditResult]:
    name = f"{target.dkim_selector}._domainkey.{target.subdomain}"
    found = lookup(server, name, "TXT")
    publish = f"publish the key Customer.io shows as one TXT `k=rsa; p=<key>` at {name}"
    if not found.found:
        return [failed("dkim", found.problem(publish), SECTION)]
    where = f"{name}{found.via}"
    texts = found.texts()
    if len(texts) > 1:
        return [failed("dkim", (
            f"{len(texts)} TXT records at {where}: a key must be ONE record, its 255-character pieces strings "
            "of that record (pulumi/pulumi-aws#5451); receivers see no usable key. Put the whole value in one "
            '`records` element, `<first 255>""<rest>`'), SECTION)]
    text = texts[0]
    try:
        key = emailauth.parse_dkim(text)
    except emailauth.DKIMKeyError as err:
        return [failed("dkim", f"the DKIM record at {where} is invalid ({err.reason}): every signature with "
                               f"this selector fails; {publish}", SECTION)]
    out: list[AuditResult] = []
    if key.revoked:
        out.append(failed("dkim", f"the DKIM key at {where} is revoked (empty `p=`): every signature with this "
                                  f"selector fails; {publish}", SECTION))
    elif key.key_type == "rsa" and key.key_bits is not None and key.key_bits < catalog.DKIM_MIN_KEY_BITS:
        out.append(failed("dkim", (
            f"the DKIM key at {where} is {key.key_bits} bits; receivers ignore RSA keys under "
            f"{catalog.DKIM_MIN_KEY_BITS} (RFC 8301; 2048 recommended): have Customer.io generate a new key "
            "and publish it"), SECTION))
    if key.testing:
        detail = (f"the DKIM key at {where} is in test mode (`t=y`): receivers may treat signed mail as "
                  "unsigned; drop the flag")
        # Advice, as the pack's DKIM rule reports it (a RuleFinding marked advisory), in production too.
        out.append(warned("dkim", detail + (" before going live" if target.production else " before production"),
                          SECTION))
    if target.dkim_public_key and not key.revoked:
        served = "".join(key.tags.get("p", "").split())
        expected = "".join(target.dkim_public_key.split())
        if served != expected:
            out.append(failed("dkim", (
                f"DNS serves a different key at {where} (`{_short(served)}`) than golive:dkimPublicKey "
                f"(`{_short(expected)}`): publish the stack's key with `pulumi up`, or update the config to the "
                "key Customer.io shows"), SECTION))
    if not out:
        bits = f"{key.key_bits}-bit {key.key_type}" if key.key_bits else key.key_type
        matches = ", the stack's key" if target.dkim_public_key else ""
        out.append(passed("dkim", f"{bits} key at {where}{matches}", SECTION))
    return out


# --- Return path -----------------------------------------------------------------------------------


def _mx(target: AuditTarget, server: Server) -> list[AuditResult]:
    name = target.subdomain
    found = lookup(server, name, "MX", follow=False)
    fix = ("publish the two MX records Customer.io shows (priority 10, e.g. mxa.mailgun.org and "
           f"mxb.mailgun.org) at {name}: bounces have nowhere to go without them")
    if not found.found or found.rrset is None:
        return [failed("return-path mx", found.problem(fix), SECTION)]
    hosts = sorted((r.preference, emailauth.normalize_name(r.exchange.to_text())) for r in found.rrset)
    shown = ", ".join(f"{p} {h}" for p, h in hosts)
    if len(hosts) < 2:
        return [warned("return-path mx", f"one MX at {name} ({shown}); Customer.io shows two: publish both so "
                                         "bounces still arrive when one host is down", SECTION)]
    return [passed("return-path mx", f"{len(hosts)} MX at {name}: {shown}", SECTION)]


# --- DMARC -----------------------------------------------------------------------------------------


def _dmarc(target: AuditTarget, server: Server) -> list[AuditResult]:
    from checkdmarc import dmarc as cd_dmarc

    domain = emailauth.organizational_domain(target.domain)
    name = f"_dmarc.{domain}"
    publish = f"publish TXT `v=DMARC1; p=quarantine; rua=mailto:…` at {name}"
    resolver = server.resolver()
    found = lookup(server, name, "TXT", resolver=resolver)
    if not found.found:
        return [failed("dmarc", found.problem(publish), SECTION)]
    records = [t for t in found.texts() if emailauth.looks_like_dmarc(t)]
    if not records:
        return [failed("dmarc", f"none of the {len(found.texts())} TXT records at {name} is DMARC (`v=DMARC1; "
                                f"…`): {publish}", SECTION)]
    if len(records) > 1:
        return [failed("dmarc", f"{len(records)} DMARC records at {name}: receivers then apply none of them "
                                "(RFC 7489 §6.6.3); keep one", SECTION)]
    record = records[0]
    _checkdmarc_fresh()
    checked = cd_dmarc.check_dmarc(domain, resolver=resolver, timeout=server.timeout, retries=0,
                                   ignore_unrelated_records=True)
    if not checked.get("valid"):
        return [failed("dmarc", f"DMARC at {name} `{_short(record)}` is not valid: {checked.get('error')}; fix "
                                "the record", SECTION)]
    try:
        parsed = emailauth.parse_dmarc(record)
    except emailauth.DMARCSyntaxError as err:
        return [failed("dmarc", f"DMARC at {name} is invalid ({err.reason}): fix the `{err.tag}` tag", SECTION)]

    out: list[AuditResult] = []
    destinations: set[str] = set()
    reported: set[str] = set()  # checkdmarc's own warnings for what is a FAIL line here
    for uri in (*parsed.rua, *parsed.ruf):
        dest = emailauth.normalize_name(uri.address.rsplit("@", 1)[-1])
        if dest in destinations or emailauth.organizational_domain(dest) == domain:
            continue
        destinations.add(dest)
        try:
            cd_dmarc.verify_dmarc_report_destination(domain, dest, resolver=resolver, timeout=server.timeout,
                                                     retries=0, ignore_unrelated_records=True)
        except cd_dmarc.UnverifiedDMARCURIDestination as err:
            reported.add(str(err))
            authorization = f"{domain}._report._dmarc.{dest}"
            why = lookup(server, authorization, "TXT", resolver=resolver)
            seen = (f"{why.kind}: {why.reason}" if not why.found
                    else f"it holds {', '.join(f'`{_short(t)}`' for t in why.texts())}, no `v=DMARC1`")
            out.append(failed("dmarc", (
                f"DMARC at {name} sends reports to {uri.address}, outside {domain}, and {dest} has not "
                f"authorized them (TXT at {authorization}: {seen}): receivers drop those reports; have "
                f"{dest} publish TXT `v=DMARC1` at {authorization}, or report to an address under {domain}"),
                SECTION))
    if parsed.policy == "none":
        out.append(warned("dmarc", (
            f"DMARC at {name} has `p=none`: monitoring only, receivers deliver mail that fails SPF and DKIM; "
            "move to `p=quarantine` (then `reject`) once the reports are clean"), SECTION))
    if target.dmarc_policy and parsed.policy != target.dmarc_policy.lower():
        out.append(warned("dmarc", (
            f"DNS serves `p={parsed.policy}` at {name} but golive:dmarc.policy is {target.dmarc_policy}: run "
            "`pulumi up`, or set the config to the policy you mean"), SECTION))
    # checkdmarc's p=none note says less than the WARN above, which says what to do.
    notes = [w for w in checked.get("warnings") or []
             if w not in reported and not (parsed.policy == "none" and w.startswith("A p tag value of none"))]
    if notes:
        shown = "; ".join(notes[:3]) + (f" (and {len(notes) - 3} more)" if len(notes) > 3 else "")
        out.append(warned("dmarc", f"checkdmarc notes on the DMARC at {name}: {shown}", SECTION))
    if not out:
        reports = ", ".join(u.address for u in parsed.rua) or "no rua"
        out.append(passed("dmarc", f"`p={parsed.policy}` at {name}; aggregate reports to {reports}", SECTION))
    return out


# --- Link tracking ---------------------------------------------------------------------------------


def _link_tracking(target: AuditTarget, server: Server, host: str) -> list[AuditResult]:
    expected = catalog.LINK_TRACKING_TARGETS[target.region]
    found = lookup(server, host, "CNAME", follow=False)
    if not found.found or found.rrset is None:
        return [failed("link tracking", found.problem(f"publish CNAME {host} → {expected}"), SECTION)]
    served = emailauth.normalize_name(found.rrset[0].target.to_text())
    if served == expected:
        return [passed("link tracking", f"{host} → {served} ({target.region.upper()})", SECTION)]
    other = next((region for region, t in catalog.LINK_TRACKING_TARGETS.items() if t == served), None)
    if other is not None:
        return [failed("link tracking", (
            f"{host} points at {served}, Customer.io's {other.upper()} link tracking, but the stack's region is "
            f"{target.region.upper()} (expects {expected}): tracked links break or route through the wrong "
            f"region; point the CNAME at {expected}"), SECTION)]
    return [failed("link tracking", f"{host} points at {served}, not Customer.io's {target.region.upper()} link "
                                    f"tracking host {expected}: point the CNAME at {expected}", SECTION)]


# --- The checks ------------------------------------------------------------------------------------


def _guard(name: str, server: Server, body: Callable[[], list[AuditResult]]) -> Callable[[], list[AuditResult]]:
    def run() -> list[AuditResult]:
        try:
            return body()
        except (dns.exception.DNSException, OSError) as err:
            # A lookup made outside `lookup` (inside checkdmarc) that escaped it: still say which kind.
            _, reason = _classify(err, "", server)
            return [failed(name, f"the check stopped on a DNS error: {reason}", SECTION)]

    return run


def checks(target: AuditTarget) -> list[Check]:
    """The live-DNS checks of §3. Nothing is asked until a check runs; each makes its own resolver
    (target.endpoints.dns_server/dns_port, or the system's) with target.endpoints.timeout per lookup."""
    server = server_for(target)
    found = [
        Check("spf", SECTION, _guard("spf", server, lambda: _spf(target, server))),
        Check("dkim", SECTION, _guard("dkim", server, lambda: _dkim(target, server))),
        Check("return-path mx", SECTION, _guard("return-path mx", server, lambda: _mx(target, server))),
        Check("dmarc", SECTION, _guard("dmarc", server, lambda: _dmarc(target, server))),
    ]
    host = target.link_tracking_host
    if host:
        run = _guard("link tracking", server, lambda: _link_tracking(target, server, host))
        found.append(Check("link tracking", SECTION, run))
    return found


# --- What DNS serves against what Route53 holds --------------------------------------------------------


def _name(value: Any) -> str:
    # Route53 writes `*` and other specials as \ooo octal escapes; the names compared here have none.
    return emailauth.normalize_name(str(value or ""))


def _held(record: Mapping[str, Any]) -> set[str]:
    """A Route53 record set's values in the form `_served` gives DNS answers."""
    rtype = str(record.get("Type", "")).upper()
    values = [str(v.get("Value", "")) for v in record.get("ResourceRecords") or []]
    if rtype == "TXT":
        return {"".join(emailauth.txt_strings(v)) for v in values}
    if rtype == "MX":
        held = set()
        for v in values:
            parts = v.split()
            held.add(f"{parts[0]} {_name(parts[-1])}" if len(parts) >= 2 else v.strip())
        return held
    return {_name(v) for v in values}


def _served(found: Lookup) -> set[str]:
    if found.rrset is None:
        return set()
    if found.rdtype == "TXT":
        return set(found.texts())
    if found.rdtype == "MX":
        return {f"{r.preference} {_name(r.exchange.to_text())}" for r in found.rrset}
    return {_name(r.to_text()) for r in found.rrset}


def _show(values: Iterable[str]) -> str:
    shown = sorted(f"`{_short(v)}`" for v in values)
    return ", ".join(shown) if shown else "nothing"


def _relevant(target: AuditTarget, held: Mapping[tuple[str, str], Any]) -> list[tuple[str, str, str]]:
    """(check name, DNS name, type) for every record the checklist rests on."""
    dkim = _name(f"{target.dkim_selector}._domainkey.{target.subdomain}")
    dkim_type = "CNAME" if (dkim, "CNAME") in held else "TXT"
    pairs = [
        ("route53 spf", _name(target.subdomain), "TXT"),
        ("route53 mx", _name(target.subdomain), "MX"),
        ("route53 dkim", dkim, dkim_type),
        ("route53 dmarc", _name(f"_dmarc.{emailauth.organizational_domain(target.domain)}"), "TXT"),
    ]
    if target.link_tracking_host:
        pairs.append(("route53 link tracking", _name(target.link_tracking_host), "CNAME"))
    return pairs


def compare_with_route53(target: AuditTarget, route53_records: Sequence[Mapping[str, Any]]) -> list[AuditResult]:
    """What DNS serves, record by record, against what the hosted zone holds.

    `route53_records` is ListResourceRecordSets output (dicts with Name, Type, TTL, ResourceRecords[{Value}]),
    e.g. golive.operations.audit.route53.route53_records(target). Compared: the SPF TXT and MX at the
    subdomain, the DKIM TXT (its strings joined) or CNAME, the DMARC TXT and the link-tracking CNAME, as
    sets of values. A record the zone does not hold is compared only when its name is inside the zone
    (the SOA's name): DNS serving it then means DNS is not reading this zone. Alias records hold no
    values and are skipped.
    """
    held: dict[tuple[str, str], set[str]] = {}
    ttls: dict[tuple[str, str], Any] = {}
    apex: str | None = None
    for record in route53_records:
        rtype = str(record.get("Type", "")).upper()
        name = _name(record.get("Name"))
        if rtype == "SOA":
            apex = name
        if not record.get("ResourceRecords"):
            continue
        held.setdefault((name, rtype), set()).update(_held(record))
        ttls[(name, rtype)] = record.get("TTL")
    server = server_for(target)
    resolver = server.resolver()
    out: list[AuditResult] = []
    for check, name, rtype in _relevant(target, held):
        in_zone = (name, rtype) in held
        if not in_zone and (apex is None or not emailauth.is_under(name, apex)):
            continue  # another zone's record: this comparison cannot say what it should be
        found = lookup(server, name, rtype, resolver=resolver, follow=False)
        if not found.found and not found.absent:
            out.append(failed(check, f"could not compare {rtype} at {name} with Route53: {found.reason}", SECTION))
            continue
        expected = held.get((name, rtype), set())
        # An answer reached through a CNAME is not a record of this type at this name.
        serving = {f"a CNAME to {found.canonical}"} if found.canonical else _served(found)
        if not expected and not serving:
            continue  # neither has it; the live checks report the missing record
        if serving == expected:
            out.append(passed(check, f"{rtype} at {name}: DNS serves what Route53 holds ({_show(expected)})",
                              SECTION))
            continue
        served_text = _show(serving) if serving else f"nothing ({found.kind}: {found.reason})"
        ttl = ttls.get((name, rtype))
        wait = f"; a change made less than its TTL ({ttl} s) ago may still be propagating" if ttl else ""
        out.append(failed(check, (
            f"{rtype} at {name}: DNS serves {served_text} but Route53 holds {_show(expected)}: the world is "
            "not reading this hosted zone (compare the registrar's NS records with the zone's name servers) "
            f"or the record was changed outside Pulumi (run `pulumi refresh` then `pulumi up`){wait}"), SECTION))
    if not out:
        # A check that returns no line reads as a broken check; say why there was nothing to compare.
        zone = f"the hosted zone {apex}" if apex else "the hosted zone"
        out.append(warned("route53 match", (
            f"nothing to compare: {zone} holds none of the records §3 rests on (SPF, MX, DKIM, DMARC, link "
            f"tracking for {target.subdomain}) and DNS serves none of them there; check that it is the zone "
            "`pulumi up` writes to"), SECTION))
    return out


def route53_check(target: AuditTarget, read_records: Callable[[], Sequence[Mapping[str, Any]]]) -> Check:
    """A Check that reads the hosted zone with `read_records` (e.g. `lambda: route53.route53_records(target)`)
    and compares it with DNS. A GoliveError from the read (no zone, AWS refused) becomes one FAIL line."""

    def run() -> list[AuditResult]:
        try:
            records = read_records()
        except GoliveError as err:
            return [failed("route53 match", f"could not read the hosted zone to compare with DNS: {err}", SECTION)]
        return compare_with_route53(target, records)

    return Check("route53 match", SECTION, _guard("route53 match", server_for(target), run))
