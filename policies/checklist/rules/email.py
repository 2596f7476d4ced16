"""§3 Email deliverability: SPF, DKIM, DMARC and the return path, read from the stack's Route53 records.

Everything is decided offline from the records the program declares. Two consequences:
- SPF `include:` targets are never resolved, so the 10-lookup limit is checked on each record's own
  terms only; what the included records add is for the live audit.
- A DKIM selector delegated by CNAME (Customer.io-hosted keys) is accepted as published; its key
  is checked by the live audit, not here.

Which domains send is read from the stack too: the pack's `sendingDomains`, Customer.io's `cio<digits>`
subdomains, any domain with a `<selector>._domainkey` record, and any name whose SPF includes, or whose MX
points at, one of the `espDomains`. The rules run only in a Customer.io stack
(`recognize.is_customerio_stack`): a stack whose mail is another provider's is never judged.

Values not known at preview never raise: a record whose name or value is unknown only produces an
advisory "cannot be verified at preview" when it is all that stands between a sending domain and a
missing record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog import SPF_MAX_DNS_LOOKUPS, TXT_MAX_STRING
from ..emailauth import (
    DKIMKeyError,
    DMARCSyntaxError,
    SPFSyntaxError,
    is_dkim_name,
    is_under,
    looks_like_dmarc,
    looks_like_spf,
    normalize_name,
    organizational_domain,
    parse_dkim,
    parse_dmarc,
    parse_spf,
    txt_strings,
)
from ..model import UNKNOWN, Resource, RuleFinding, Stack
from ..recognize import ROUTE53_RECORD, ROUTE53_ZONE, esp_host, sending_subdomain
from .registry import rule

ISSUE_5451 = "pulumi/pulumi-aws#5451"
_SPLIT_ADVICE = (
    'Put the whole value in ONE element of `records`, cut into 255-character strings with `""` between '
    'them (`<first 255>""<next 255>…`; the provider adds the outer quotes)'
)
_DKIM_TAG = re.compile(r"(?:^|;)\s*(?:p|k|v)\s*=", re.IGNORECASE)
_DKIM_START = re.compile(r"\s*(?:v\s*=\s*DKIM1|k\s*=\s*(?:rsa|ed25519)\b|p\s*=)", re.IGNORECASE)


# --- The stack's DNS, as plain records ----------------------------------------------------------


@dataclass(frozen=True)
class DnsRecord:
    """One Route53 Record resource: each known element of `values` is one DNS record."""

    resource: Resource
    name: str | None  # fully qualified and normalized; None when not known at preview
    type: str | None  # upper case; None when not known at preview
    values: tuple[str, ...] | None  # None when `records` as a whole is unknown
    partial: bool = False  # some elements of `records` are unknown

    @property
    def urn(self) -> str:
        return self.resource.urn

    @property
    def where(self) -> str:
        return self.name or f"(name not known at preview; resource {self.resource.name})"

    @property
    def content_known(self) -> bool:
        return self.values is not None and not self.partial

    def texts(self) -> list[tuple[str, list[str]]]:
        """Each known TXT element as (joined text, its character-strings)."""
        result = []
        for element in self.values or ():
            strings = txt_strings(element)
            result.append(("".join(strings), strings))
        return result


def _zone_name(stack: Stack, record: Resource) -> str | None:
    # At a first preview zoneId is unknown: the property dependency is the only link to the zone.
    for zone in stack.linked(record, "zoneId"):
        if zone.type == ROUTE53_ZONE and isinstance(zone.get("name"), str):
            return normalize_name(zone.get("name"))
    zone_id = record.get("zoneId")
    if isinstance(zone_id, str):
        for zone in stack.of_type(ROUTE53_ZONE):
            if zone_id == zone.get("zoneId") and isinstance(zone.get("name"), str):
                return normalize_name(zone.get("name"))
    return None


def _full_name(name: str, zone: str | None) -> str:
    name = normalize_name(name)
    if zone is None:
        return name
    if not name:
        return zone
    return name if is_under(name, zone) else f"{name}.{zone}"


def dns_records(stack: Stack) -> list[DnsRecord]:
    """The stack's Route53 records with full names; a relative name gets its zone's name appended."""
    found = []
    for resource in stack.of_type(ROUTE53_RECORD):
        raw_name, raw_type, raw_values = resource.get("name"), resource.get("type"), resource.get("records")
        name = _full_name(raw_name, _zone_name(stack, resource)) if isinstance(raw_name, str) else None
        rtype = raw_type.upper() if isinstance(raw_type, str) else None
        values: tuple[str, ...] | None
        partial = False
        if raw_values is UNKNOWN:
            values = None
        elif isinstance(raw_values, list):
            values = tuple(v for v in raw_values if isinstance(v, str))
            partial = any(v is UNKNOWN for v in raw_values)
        else:
            values = ()
        found.append(DnsRecord(resource, name, rtype, values, partial))
    return found


class _Dns:
    def __init__(self, stack: Stack) -> None:
        self.records = dns_records(stack)

    def at(self, name: str, *types: str) -> list[DnsRecord]:
        return [r for r in self.records if r.name == name and r.type in types]

    def txt_values(self, name: str) -> list[tuple[DnsRecord, str, list[str]]]:
        return [(r, text, strings) for r in self.at(name, "TXT") for text, strings in r.texts()]

    def unverifiable(
        self, names: Iterable[str], types: tuple[str, ...], looks: Callable[[str], bool] | None = None
    ) -> list[DnsRecord]:
        """Records that might be the missing one at `names`, but whose name or value is unknown.

        A record at one of `names` with an unknown value counts; so does a record of an unknown
        name whose value is unknown or, when `looks` is given, looks like the record sought.
        """
        wanted = set(names)
        found = []
        for r in self.records:
            if r.type is not None and r.type not in types:
                continue
            if r.name in wanted and not r.content_known:
                found.append(r)
            elif r.name is None and (
                not r.content_known or looks is None or any(looks(text) for text, _ in r.texts())
            ):
                found.append(r)
        return found


def _strings(cfg: Mapping[str, Any], key: str) -> list[str]:
    value = cfg.get(key) or []
    return [normalize_name(v) for v in value if isinstance(v, str) and v.strip()]


def sending_domains(dns: _Dns, cfg: Mapping[str, Any]) -> dict[str, str]:
    """Sending domain → why the checklist treats it as one (for messages)."""
    esps = _strings(cfg, "espDomains")
    domains: dict[str, str] = {d: "listed in sendingDomains" for d in _strings(cfg, "sendingDomains")}

    subdomains: list[str] = []
    # By name, not registration order, which the engine does not fix: the same stack gives the same
    # reasons (and the same findings, for baselines) on every run.
    for r in sorted(dns.records, key=lambda r: (r.name or "", r.type or "")):
        if r.name is None:
            continue
        subdomain = sending_subdomain(r.name)
        if subdomain:
            subdomains.append(subdomain)
        if r.type in ("TXT", "CNAME"):
            domain = is_dkim_name(r.name)
            if domain:
                domains.setdefault(domain, f"it has a DKIM record at {r.name}")
        if r.type == "TXT":
            for text, _ in r.texts():
                if esp := esp_host("TXT", text, esps):
                    domains.setdefault(r.name, f"its SPF includes {esp}")
        if r.type == "MX":
            for value in r.values or ():
                if host := esp_host("MX", value, esps):
                    domains.setdefault(r.name, f"its MX points at {host}")
    # Last: a record that points at Customer.io says more than the name it sits on.
    for subdomain in subdomains:
        domains.setdefault(subdomain, "it is a Customer.io cio<digits> subdomain")
    return domains


def _label(domain: str, why: str) -> str:
    return f"{domain} (a sending domain: {why})"


def _cannot_verify(what: str, domain: str, why: str, candidates: list[DnsRecord]) -> RuleFinding:
    r = candidates[0]
    unknown = "name" if r.name is None else "value"
    return RuleFinding(
        f"{what} for {_label(domain, why)} cannot be verified at preview: the {unknown} of "
        f"{r.resource.type.split(':')[-1]} `{r.resource.name}` is not known until apply. "
        "The check runs again on the deployed values.",
        r.urn,
        advisory=True,
    )


def _long_strings(strings: list[str]) -> list[int]:
    return [len(s) for s in strings if len(s) > TXT_MAX_STRING]


# --- SPF ----------------------------------------------------------------------------------------


def _check_spf_value(where: str, urn: str, text: str, strings: list[str]) -> Iterator[RuleFinding]:
    long = _long_strings(strings)
    if long:
        yield RuleFinding(
            f"SPF record at {where} has a character-string of {max(long)} characters; DNS allows "
            f"{TXT_MAX_STRING}. Split it into strings of at most {TXT_MAX_STRING} inside the one value "
            '(`<first 255>""<rest>`); receivers join them without spaces.',
            urn,
        )
    try:
        spf = parse_spf(text)
    except SPFSyntaxError as e:
        yield RuleFinding(
            f"SPF record at {where} is invalid ({e.reason}); receivers treat it as a permerror and "
            f"fail SPF for all mail. Fix the term {e.term!r}.",
            urn,
        )
        return
    if spf.all_qualifier == "+":
        yield RuleFinding(
            f"SPF record at {where} ends in `+all` (a bare `all` means the same): it authorizes every "
            "host on the internet to send as the domain. End it with `~all` or `-all`.",
            urn,
        )
    elif spf.all_qualifier == "?":
        yield RuleFinding(
            f"SPF record at {where} ends in `?all` (neutral), which protects nothing. End it with "
            "`~all` or `-all`.",
            urn,
        )
    elif spf.all_qualifier is None and "redirect" not in spf.modifiers:
        # RFC 7208 §4.7: without `all` or a redirect the result is neutral, exactly like `?all`.
        yield RuleFinding(
            f"SPF record at {where} has neither `all` nor `redirect=`, so unlisted senders get "
            "neutral (like `?all`). End it with `~all` or `-all`.",
            urn,
        )
    if spf.dns_lookup_count > SPF_MAX_DNS_LOOKUPS:
        yield RuleFinding(
            f"SPF record at {where} has {spf.dns_lookup_count} DNS-querying terms (include, a, mx, ptr, "
            f"exists, redirect) before counting its includes; RFC 7208 allows {SPF_MAX_DNS_LOOKUPS} and "
            "receivers return permerror beyond that. Remove or flatten terms.",
            urn,
        )


@rule("email-spf-record", customerio_only=True)
def spf_record(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[RuleFinding]:
    """Each sending domain has exactly one SPF record, and every SPF record in the stack is valid.

    Includes cannot be resolved offline, so the 10-lookup limit is checked against each record's
    own include/a/mx/ptr/exists/redirect terms; the live audit counts through the includes.
    """
    dns = _Dns(stack)
    spf_at: dict[str | None, list[tuple[DnsRecord, str, list[str]]]] = {}
    for r in dns.records:
        if r.type != "TXT":
            continue
        for text, strings in r.texts():
            if looks_like_spf(text):
                spf_at.setdefault(r.name, []).append((r, text, strings))

    for domain, why in sending_domains(dns, cfg).items():
        if spf_at.get(domain):
            continue
        candidates = dns.unverifiable([domain], ("TXT",), looks_like_spf)
        if candidates:
            yield _cannot_verify("SPF", domain, why, candidates)
        else:
            yield RuleFinding(
                f"No SPF record at {_label(domain, why)}. Publish one TXT `v=spf1 include:mailgun.org "
                f"~all` at {domain} (merge any other senders into that one record)."
            )

    for name, found in spf_at.items():
        # Two SPF records at one name is a permerror whatever the name (RFC 7208 §4.5).
        if name is not None and len(found) > 1:
            yield RuleFinding(
                f"{len(found)} SPF records at {name}; receivers return permerror and fail SPF. Merge "
                "them into one `v=spf1 … ~all` record.",
                found[1][0].urn,
            )
        for r, text, strings in found:
            yield from _check_spf_value(r.where, r.urn, text, strings)


# --- DKIM ---------------------------------------------------------------------------------------


def _check_dkim_key(where: str, urn: str, text: str, min_bits: int) -> Iterator[RuleFinding]:
    try:
        key = parse_dkim(text)
    except DKIMKeyError as e:
        yield RuleFinding(
            f"DKIM record at {where} is invalid ({e.reason}); every signature with this selector "
            "fails. Publish the key exactly as Customer.io shows it: `k=rsa; p=<key>`.",
            urn,
        )
        return
    if key.revoked:
        yield RuleFinding(
            f"DKIM key at {where} is revoked (empty `p=`); every signature with this selector fails. "
            "Publish the current key or drop the selector.",
            urn,
        )
    elif key.key_type == "rsa" and key.key_bits is not None and key.key_bits < min_bits:
        yield RuleFinding(
            f"DKIM key at {where} is {key.key_bits} bits; at least {min_bits} are required (RFC 8301; "
            "2048 recommended). Generate a new key and publish it.",
            urn,
        )
    if key.testing:
        yield RuleFinding(
            f"DKIM key at {where} is in test mode (`t=y`); drop the flag before sending for real.",
            urn,
            advisory=True,
        )


def _looks_like_dkim_fragment(text: str) -> bool:
    return bool(_DKIM_TAG.search(text))


def _check_dkim_name(
    name: str | None, values: list[tuple[DnsRecord, str, list[str]]], min_bits: int
) -> Iterator[RuleFinding]:
    for r, _text, strings in values:
        long = _long_strings(strings)
        if long:
            yield RuleFinding(
                f"DKIM record at {r.where} has a character-string of {max(long)} characters; DNS allows "
                f"{TXT_MAX_STRING} and Route53 rejects it. {_SPLIT_ADVICE} "
                f"({ISSUE_5451}).",
                r.urn,
            )
    if name is not None and len(values) > 1:
        texts = [text for _, text, _ in values]
        joined = "".join(texts)
        split_wrong = not all(_looks_like_dkim_fragment(t) for t in texts) or (
            not _parses(texts[0]) and _parses(joined)
        )
        if split_wrong:
            yield RuleFinding(
                f"The DKIM key at {name} is spread over {len(values)} elements of `records`: Route53 "
                f"publishes each element as a separate TXT record, so no receiver ever sees the whole "
                f"key and every signature fails. {_SPLIT_ADVICE} "
                f"({ISSUE_5451}).",
                values[0][0].urn,
            )
            if _parses(joined):
                yield from (
                    f for f in _check_dkim_key(name, values[0][0].urn, joined, min_bits) if not f.advisory
                )
            return
    for r, text, _ in values:
        yield from _check_dkim_key(r.where, r.urn, text, min_bits)


def _may_be_dkim(r: DnsRecord) -> bool:
    # A CNAME of unknown name may be a delegated selector; a TXT only if its value could be a key.
    return r.type == "CNAME" or not r.content_known or any(_DKIM_START.match(t) for t, _ in r.texts())


def _parses(text: str) -> bool:
    try:
        parse_dkim(text)
    except DKIMKeyError:
        return False
    return True


@rule("email-dkim-record", customerio_only=True)
def dkim_record(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[RuleFinding]:
    """Each sending domain has a DKIM record; every DKIM key in the stack is usable and split right.

    A selector delegated by CNAME is accepted: its key lives in Customer.io's DNS and is checked by
    the live audit.
    """
    dns = _Dns(stack)
    min_bits = int(cfg.get("minKeyBits") or 1024)
    by_name: dict[str | None, list[tuple[DnsRecord, str, list[str]]]] = {}
    for r in dns.records:
        if r.type != "TXT":
            continue
        at_dkim_name = r.name is not None and is_dkim_name(r.name) is not None
        for text, strings in r.texts():
            # A TXT whose name is unknown is checked as DKIM only when it plainly is one.
            if at_dkim_name or (r.name is None and _DKIM_START.match(text)):
                by_name.setdefault(r.name, []).append((r, text, strings))

    for domain, why in sending_domains(dns, cfg).items():
        at_domain = [
            r
            for r in dns.records
            if r.name is not None and r.type in ("TXT", "CNAME") and is_dkim_name(r.name) == domain
        ]
        if any(r.type == "CNAME" or (r.content_known and r.values) for r in at_domain):
            continue
        names = [r.name for r in at_domain if r.name]
        candidates = [r for r in at_domain if not r.content_known] + [
            r
            for r in dns.records
            if (r.name is None and r.type in (None, "TXT", "CNAME") and _may_be_dkim(r))
            or (r.name is not None and r.type is None and is_dkim_name(r.name) == domain)
        ]
        if candidates:
            yield _cannot_verify("DKIM", domain, why, candidates)
        else:
            where = (
                f"{names[0]} has no key" if names else f"there is no `<selector>._domainkey.{domain}` record"
            )
            yield RuleFinding(
                f"No DKIM key for {_label(domain, why)}: {where}. Publish the key Customer.io shows as one "
                f"TXT `k=rsa; p=<key>` at `<selector>._domainkey.{domain}` (its selector, e.g. krs).",
            )

    for name, values in by_name.items():
        yield from _check_dkim_name(name, values, min_bits)


# --- DMARC --------------------------------------------------------------------------------------


@rule("email-dmarc-record", customerio_only=True)
def dmarc_record(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[RuleFinding]:
    """A valid DMARC record covers each sending domain, at `_dmarc.<domain>` or, failing that,
    `_dmarc.<organizational domain>` (RFC 7489 §6.6.3); `p=none` only monitors. Every DMARC record
    in the stack is syntax-checked."""
    dns = _Dns(stack)
    parsed: dict[str, Any] = {}  # name → DMARCRecord, or None when broken or ambiguous
    dmarc_names = sorted(
        {r.name for r in dns.records if r.type == "TXT" and r.name and r.name.startswith("_dmarc.")}
    )
    for name in dmarc_names:
        values = dns.txt_values(name)
        dmarc = [(r, text) for r, text, _ in values if looks_like_dmarc(text)]
        for r, text, _ in values:
            if not looks_like_dmarc(text) and text.strip().lower().startswith(("p=", "v=")):
                yield RuleFinding(
                    f"TXT at {name} looks like DMARC but does not start with `v=DMARC1`; receivers ignore "
                    "it. Start the value with `v=DMARC1; p=…`.",
                    r.urn,
                )
        if not dmarc:
            continue
        if len(dmarc) > 1:
            parsed[name] = None
            yield RuleFinding(
                f"{len(dmarc)} DMARC records at {name}; receivers then apply none of them (RFC 7489 "
                "§6.6.3). Keep one.",
                dmarc[1][0].urn,
            )
            continue
        r, text = dmarc[0]
        try:
            record = parse_dmarc(text)
        except DMARCSyntaxError as e:
            parsed[name] = None
            yield RuleFinding(f"DMARC record at {name} is invalid ({e.reason}); fix the `{e.tag}` tag.", r.urn)
            continue
        parsed[name] = (r, record)
        if record.policy == "none":
            yield RuleFinding(
                f"DMARC at {name} has `p=none`: monitoring only, so receivers deliver mail that fails "
                "SPF and DKIM. Move to `p=quarantine` (then `reject`) once the reports are clean.",
                r.urn,
            )

    for domain, why in sending_domains(dns, cfg).items():
        org = organizational_domain(domain)
        names = list(dict.fromkeys([f"_dmarc.{domain}", f"_dmarc.{org}"]))
        covering = next((n for n in names if n in parsed), None)
        if covering is None:
            candidates = dns.unverifiable(names, ("TXT",), looks_like_dmarc)
            if candidates:
                yield _cannot_verify("DMARC", domain, why, candidates)
            else:
                yield RuleFinding(
                    f"No DMARC record covers {_label(domain, why)}: nothing at {' or '.join(names)}. "
                    f"Publish TXT `v=DMARC1; p=quarantine; rua=mailto:…` at _dmarc.{org}."
                )
            continue
        entry = parsed[covering]
        if entry is None:
            continue  # reported above, where the record is
        r, record = entry
        inherited = covering != f"_dmarc.{domain}"
        if inherited and record.policy != "none" and record.subdomain_policy == "none":
            yield RuleFinding(
                f"DMARC at {covering} sets `sp=none`, so {_label(domain, why)} is only monitored. "
                "Drop `sp=` or set it to quarantine or reject.",
                r.urn,
            )


# --- Return path --------------------------------------------------------------------------------


@rule("email-return-path", customerio_only=True)
def return_path(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[RuleFinding]:
    """Each sending domain has at least one MX record at that very name: bounces return through it."""
    dns = _Dns(stack)
    for domain, why in sending_domains(dns, cfg).items():
        if dns.at(domain, "MX"):
            continue
        candidates = dns.unverifiable([domain], ("MX",))
        if candidates:
            yield _cannot_verify("The return path (MX)", domain, why, candidates)
        else:
            yield RuleFinding(
                f"No MX record at {_label(domain, why)}: bounces have nowhere to go and the return "
                f"path fails SPF alignment. Publish the MX records Customer.io shows (priority 10, "
                f"e.g. mxa.mailgun.org and mxb.mailgun.org) at {domain}."
            )
