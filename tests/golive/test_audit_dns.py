"""`golive audit`'s live-DNS checks against a real authoritative server (NSD, tests/fakes/nsd.py).

The compliant seed is what components/sending_domain.py creates for Pulumi.production.yaml: the same
helpers build the values (spf_value, dmarc_value, the pack's split_txt for the 2048-bit DKIM key in
255-character strings), plus the zones an SPF include reaches (mailgun.org) since NSD refuses names
it does not serve. It passes every check; each fault then fails (or warns on) exactly its check.
Route53 drift is checked against moto in server mode holding the same records.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components.sending_domain import DmarcArgs, dmarc_value
from golive.errors import GoliveError
from golive.operations.audit import dns as audit_dns
from golive.operations.audit.result import AuditResult, Check, Status
from golive.operations.audit.target import AuditTarget, Endpoints, build
from golive.preview.project import load_project, load_stack_config
from tests.fakes import nsd as fake_nsd
from tests.fakes.dns_seed import SUB, compliant, dkim_strings, route53_seed
from tests.fakes.nsd import Blackhole, NsdServer, Zone

ROOT = Path(__file__).resolve().parents[2]
EVERY_CHECK = ("spf", "dkim", "return-path mx", "dmarc", "link tracking")


@pytest.fixture(scope="module")
def production() -> AuditTarget:
    """The audit target `golive audit --stack production` builds from this repository's stack file."""
    config = load_stack_config(load_project(ROOT), "production")
    target = build("production", config.values, "Pulumi.production.yaml")
    assert (target.domain, target.subdomain, target.region) == ("example.com", f"{SUB}.example.com", "us")
    return target


def at(target: AuditTarget, server: NsdServer | Blackhole, timeout: float = 2.0, **changes: Any) -> AuditTarget:
    host, port = server.address
    return replace(target, endpoints=Endpoints(dns_server=host, dns_port=port, timeout=timeout), **changes)


def run(target: AuditTarget, checks: list[Check] | None = None) -> dict[str, list[AuditResult]]:
    """Run the checks concurrently, as the audit does; check name → its lines."""
    checks = checks if checks is not None else audit_dns.checks(target)
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = list(pool.map(lambda c: c.run(), checks))
    return {c.name: lines for c, lines in zip(checks, results, strict=True)}


def worst(lines: list[AuditResult]) -> Status:
    order = [Status.PASS, Status.WARN, Status.FAIL]
    return max((line.status for line in lines), key=order.index)


def show(results: dict[str, list[AuditResult]]) -> str:
    return "\n".join(line.line() for lines in results.values() for line in lines)


def assert_only(results: dict[str, list[AuditResult]], check: str, status: Status, *needles: str) -> None:
    """`check` has a line of `status` holding every needle; every other check passes."""
    everything = show(results)
    for name, lines in results.items():
        assert lines, f"{name} returned no line"
        if name == check:
            assert worst(lines) == status, everything
            hits = [line for line in lines if line.status == status and all(n in line.detail for n in needles)]
            assert hits, f"no {status.value} line of {check} holds {needles}:\n{everything}"
        else:
            assert worst(lines) == Status.PASS, everything
    for lines in results.values():
        for line in lines:
            assert line.section == audit_dns.SECTION
            assert line.line().startswith(f"[{line.status.value}] {line.name}: ")


# --- the compliant setup ---------------------------------------------------------------------------


def test_compliant_setup_passes_every_check(nsd: NsdServer, production: AuditTarget) -> None:
    nsd.serve(*compliant(production).values())
    results = run(at(production, nsd))
    assert tuple(results) == EVERY_CHECK
    assert all(worst(lines) == Status.PASS and len(lines) == 1 for lines in results.values()), show(results)
    detail = {name: lines[0].detail for name, lines in results.items()}
    assert "includes mailgun.org; 2/10 DNS lookups and 0/2 void lookups" in detail["spf"]
    assert detail["dkim"] == f"2048-bit rsa key at krs._domainkey.{SUB}.example.com, the stack's key"
    assert "10 mxa.mailgun.org, 10 mxb.mailgun.org" in detail["return-path mx"]
    assert "`p=quarantine` at _dmarc.example.com" in detail["dmarc"]
    assert detail["link tracking"] == "links.example.com → e.customeriomail.com (US)"
    assert production.dkim_public_key and len(production.dkim_public_key) > 255  # really served as 2 strings


def test_zone_builder_serves_several_character_strings(nsd: NsdServer) -> None:
    nsd.serve(Zone("example.com").txt("multi", "one", 'two "quoted" \\ back', "").txt_value("long", "x" * 600))
    answer = nsd.query("multi.example.com", "TXT").answer[0][0]
    assert answer.strings == (b"one", b'two "quoted" \\ back', b"")
    long = nsd.query("long.example.com", "TXT").answer[0][0]
    assert [len(s) for s in long.strings] == [255, 255, 90]


def test_rewriting_zones_is_fast_and_never_stale(nsd: NsdServer) -> None:
    zones = [Zone("example.com").txt("v", "first"), Zone("mailgun.org")]
    nsd.serve(*zones)
    reloads, restarts = nsd.reloads, nsd.restarts
    started = time.monotonic()
    for i in range(5):
        nsd.serve(Zone("example.com").txt("v", f"value {i}"), zones[1])
        assert nsd.query("v.example.com", "TXT").answer[0][0].strings == (f"value {i}".encode(),)
    assert (nsd.reloads - reloads, nsd.restarts - restarts) == (5, 0)  # same zones: SIGHUP, no restart
    assert time.monotonic() - started < 1.0


def test_missing_nsd_fails_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake_nsd.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(pytest.fail.Exception, match=r"NSD is not installed .*`\.ci/run` installs it"):
        fake_nsd.NsdServer(Path("/nonexistent"))


# --- SPF -------------------------------------------------------------------------------------------

Fault = Callable[[dict[str, Zone]], None]


def spf(record: str) -> Fault:
    def change(zones: dict[str, Zone]) -> None:
        zones["example.com"].remove(SUB, "TXT").txt(SUB, record)

    return change


def lookups_over_ten(zones: dict[str, Zone]) -> None:
    # Each record has at most 10 terms of its own (the pack's offline check passes it); only the
    # tree counts 12: mailgun.org (2) + include:_spf (1) + nine a: terms.
    example = zones["example.com"].remove(SUB, "TXT")
    example.txt(SUB, "v=spf1 include:mailgun.org include:_spf.example.com ~all")
    example.txt("_spf", "v=spf1 " + " ".join(f"a:h{i}.example.com" for i in range(1, 10)) + " ~all")
    for i in range(1, 10):
        example.a(f"h{i}", f"192.0.2.{100 + i}")


@pytest.mark.parametrize(("fault", "needles"), [
    pytest.param(lambda z: z["example.com"].remove(SUB, "TXT"),
                 [f"no TXT at {SUB}.example.com (NOANSWER: the name exists but has no TXT record)",
                  "publish one TXT `v=spf1 include:mailgun.org ~all`"], id="missing"),
    pytest.param(lambda z: z["example.com"].txt(SUB, "v=spf1 include:sendgrid.net ~all"),
                 ["2 SPF records at", "merge them into one"], id="two-records"),
    pytest.param(spf("v=spf1 include:mailgun.org +all"), ["ends in `+all`", "end it with `~all` or `-all`"],
                 id="plus-all"),
    pytest.param(spf("v=spf1 include:mailgun.org ?all"), ["ends in `?all`"], id="neutral-all"),
    pytest.param(lookups_over_ten, ["DNS lookups through its include tree; RFC 7208 allows 10"], id="over-10-lookups"),
    pytest.param(spf(f"v=spf1 include:mailgun.org a:gone1.{SUB}.example.com a:gone2.example.com "
                     "a:gone3.example.com ~all"), ["3 void lookups", "allows 2"], id="void-lookups"),
    pytest.param(spf("v=spf1 ip4:192.0.2.0/24 ~all"), ["does not include Customer.io's sender (mailgun.org)",
                                                        "add `include:mailgun.org`"], id="no-esp"),
    pytest.param(spf("v=spf1 include:mailgun.org include:gone.example.com ~all"),
                 ["includes gone.example.com, which has no SPF record", "permerror"], id="include-missing"),
])
def test_spf_fault_fails_only_spf(nsd: NsdServer, production: AuditTarget, fault: Fault, needles: list[str]) -> None:
    zones = compliant(production)
    fault(zones)
    nsd.serve(*zones.values())
    assert_only(run(at(production, nsd)), "spf", Status.FAIL, *needles)


# --- DKIM ------------------------------------------------------------------------------------------


def rsa_key(bits: int) -> str:
    # cryptography refuses to generate keys under 1024 bits, so build the public numbers directly: the
    # check only reads the key's size, as receivers do before they refuse it.
    modulus = (1 << (bits - 1)) | (0x1234567 << (bits // 3)) | 1
    key = rsa.RSAPublicNumbers(65537, modulus).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def dkim(*strings: str) -> Fault:
    def change(zones: dict[str, Zone]) -> None:
        zones["example.com"].remove(f"krs._domainkey.{SUB}", "TXT").txt(f"krs._domainkey.{SUB}", *strings)

    return change


def test_dkim_512_bit_key_fails(nsd: NsdServer, production: AuditTarget) -> None:
    weak = rsa_key(512)
    zones = compliant(production)
    dkim(*dkim_strings(weak))(zones)
    nsd.serve(*zones.values())
    results = run(at(production, nsd, dkim_public_key=weak))
    assert_only(results, "dkim", Status.FAIL, "is 512 bits", "under 1024", "generate a new key")
    assert len(results["dkim"]) == 1


def test_dkim_revoked_key_fails(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    dkim("k=rsa; p=")(zones)
    nsd.serve(*zones.values())
    assert_only(run(at(production, nsd)), "dkim", Status.FAIL, "is revoked (empty `p=`)", "publish the key")


def test_dkim_test_mode_warns_in_production_and_in_staging(nsd: NsdServer, production: AuditTarget) -> None:
    # Advice, as the pack's DKIM rule reports it (a Finding marked advisory) at `golive check`.
    assert production.dkim_public_key
    zones = compliant(production)
    dkim(*dkim_strings(production.dkim_public_key, extra="v=DKIM1; t=y; "))(zones)
    nsd.serve(*zones.values())
    assert_only(run(at(production, nsd)), "dkim", Status.WARN, "test mode (`t=y`)", "before going live")
    staging = at(production, nsd, stack="staging", environment="staging", production=False)
    assert_only(run(staging), "dkim", Status.WARN, "test mode (`t=y`)", "before production")


def test_dkim_key_other_than_the_stacks_fails(nsd: NsdServer, production: AuditTarget) -> None:
    other = rsa_key(2048)
    zones = compliant(production)
    dkim(*dkim_strings(other))(zones)
    nsd.serve(*zones.values())
    assert_only(run(at(production, nsd)), "dkim", Status.FAIL, "different key", "golive:dkimPublicKey")


def test_dkim_split_into_two_records_fails(nsd: NsdServer, production: AuditTarget) -> None:
    # pulumi/pulumi-aws#5451: two `records` elements are two TXT records, not one of two strings.
    assert production.dkim_public_key
    first, second = dkim_strings(production.dkim_public_key)
    zones = compliant(production)
    zones["example.com"].remove(f"krs._domainkey.{SUB}", "TXT")
    zones["example.com"].txt(f"krs._domainkey.{SUB}", first).txt(f"krs._domainkey.{SUB}", second)
    nsd.serve(*zones.values())
    assert_only(run(at(production, nsd)), "dkim", Status.FAIL, "2 TXT records", "pulumi-aws#5451")


def test_dkim_cname_chain_into_another_zone_is_followed(nsd: NsdServer, production: AuditTarget) -> None:
    assert production.dkim_public_key
    hosted = f"krs._domainkey.{SUB}.customeriomail.com"
    zones = compliant(production)
    zones["example.com"].remove(f"krs._domainkey.{SUB}", "TXT").cname(f"krs._domainkey.{SUB}", hosted)
    zones["customeriomail.com"].txt(hosted, *dkim_strings(production.dkim_public_key))
    nsd.serve(*zones.values())
    results = run(at(production, nsd))
    assert_only(results, "dkim", Status.PASS, f"(via CNAME to {hosted})", "the stack's key")


# --- Return path, DMARC, link tracking ---------------------------------------------------------------


def test_missing_mx_fails_the_return_path(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    zones["example.com"].remove(SUB, "MX")
    nsd.serve(*zones.values())
    assert_only(run(at(production, nsd)), "return-path mx", Status.FAIL,
                f"no MX at {SUB}.example.com (NOANSWER", "publish the two MX records")


def dmarc(**changes: Any) -> Fault:
    def change(zones: dict[str, Zone]) -> None:
        args = DmarcArgs(**{"policy": "quarantine", "rua": ["dmarc-reports@example.com"], **changes})
        zones["example.com"].remove("_dmarc", "TXT").txt("_dmarc", dmarc_value(args))

    return change


def test_dmarc_p_none_warns(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    dmarc(policy="none")(zones)
    nsd.serve(*zones.values())
    results = run(at(production, nsd))
    assert_only(results, "dmarc", Status.WARN, "`p=none`", "move to `p=quarantine`")
    assert any("golive:dmarc.policy is quarantine" in line.detail for line in results["dmarc"])


def reports_zone(authorized: bool) -> Zone:
    zone = Zone("example.net").mx("reports", 10, "mx.example.net").a("mx", "192.0.2.30")
    if authorized:
        zone.txt("example.com._report._dmarc.reports", "v=DMARC1")
    return zone


def test_dmarc_unauthorized_external_rua_fails(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    dmarc(rua=["dmarc-reports@example.com", "agg@reports.example.net"])(zones)
    nsd.serve(*zones.values(), reports_zone(authorized=False))
    assert_only(run(at(production, nsd)), "dmarc", Status.FAIL, "agg@reports.example.net, outside example.com",
                "example.com._report._dmarc.reports.example.net: NXDOMAIN",
                "publish TXT `v=DMARC1` at example.com._report._dmarc.reports.example.net")


def test_dmarc_authorized_external_rua_passes(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    dmarc(rua=["dmarc-reports@example.com", "agg@reports.example.net"])(zones)
    nsd.serve(*zones.values(), reports_zone(authorized=True))
    results = run(at(production, nsd))
    assert all(worst(lines) == Status.PASS for lines in results.values()), show(results)
    assert "agg@reports.example.net" in results["dmarc"][0].detail


def test_link_tracking_to_the_other_regions_host_fails_naming_both(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    zones["example.com"].remove("links", "CNAME").cname("links", "e-eu.customeriomail.com")
    nsd.serve(*zones.values())
    assert_only(run(at(production, nsd)), "link tracking", Status.FAIL,
                "points at e-eu.customeriomail.com, Customer.io's EU link tracking", "region is US",
                "point the CNAME at e.customeriomail.com")


def test_no_link_tracking_host_means_no_link_check(nsd: NsdServer, production: AuditTarget) -> None:
    nsd.serve(*compliant(production).values())
    assert "link tracking" not in run(at(production, nsd, link_tracking_host=None))


# --- What kind of "nothing": NXDOMAIN, NOANSWER, SERVFAIL, REFUSED, timeout ---------------------------


def test_nxdomain_and_noanswer_are_told_apart(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    zones["example.com"].remove("_dmarc")
    nsd.serve(*zones.values())
    assert_only(run(at(production, nsd)), "dmarc", Status.FAIL,
                "no TXT at _dmarc.example.com (NXDOMAIN: the name does not exist)",
                "publish TXT `v=DMARC1; p=quarantine; rua=mailto:…` at _dmarc.example.com")


def test_servfail_names_the_server(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    del zones["example.com"]
    nsd.serve(*zones.values(), broken=["example.com"])
    results = run(at(production, nsd))
    label = f"127.0.0.1:{nsd.port}"
    for name in EVERY_CHECK:
        assert worst(results[name]) == Status.FAIL, show(results)
        assert f"SERVFAIL from {label}" in results[name][0].detail, show(results)
        assert "could not read" in results[name][0].detail


def test_refused_when_the_server_does_not_serve_the_zone(nsd: NsdServer, production: AuditTarget) -> None:
    zones = compliant(production)
    del zones["example.com"]
    nsd.serve(*zones.values())
    results = run(at(production, nsd))
    for name in EVERY_CHECK:
        assert f"REFUSED by 127.0.0.1:{nsd.port}: it does not serve this zone" in results[name][0].detail


def test_timeout_says_how_long_and_whom(dns_blackhole: Blackhole, production: AuditTarget) -> None:
    started = time.monotonic()
    results = run(at(production, dns_blackhole, timeout=0.3))
    assert time.monotonic() - started < 3.0  # the checks run concurrently and stop at the first timeout
    for name in EVERY_CHECK:
        line = results[name][0]
        assert line.status == Status.FAIL
        assert f"DNS timed out after 0.3 s asking 127.0.0.1:{dns_blackhole.port}" in line.detail, show(results)


def test_spf_include_that_cannot_be_resolved_is_not_called_a_missing_record(
        nsd: NsdServer, production: AuditTarget) -> None:
    # Nobody serves the include target's zone here (REFUSED): a lookup failure, not a permerror.
    zones = compliant(production)
    del zones["mailgun.org"]
    nsd.serve(*zones.values())
    results = run(at(production, nsd))
    spf_lines = [line.detail for line in results["spf"] if line.status == Status.FAIL]
    assert any("could not resolve include:mailgun.org" in d and "REFUSED" in d for d in spf_lines), show(results)


# --- DNS against Route53 -----------------------------------------------------------------------------


def by_name(lines: list[AuditResult]) -> dict[str, AuditResult]:
    assert len({line.name for line in lines}) == len(lines)
    return {line.name: line for line in lines}


def test_dns_matches_route53(aws: str, nsd: NsdServer, production: AuditTarget) -> None:
    held = route53_seed(aws, production)
    assert any(r["Type"] == "SOA" for r in held)
    nsd.serve(*compliant(production).values())
    lines = by_name(audit_dns.compare_with_route53(at(production, nsd), held))
    assert set(lines) == {"route53 spf", "route53 mx", "route53 dkim", "route53 dmarc", "route53 link tracking"}
    assert all(line.status == Status.PASS for line in lines.values()), [line.line() for line in lines.values()]
    assert "DNS serves what Route53 holds" in lines["route53 dkim"].detail


def test_drift_from_route53_fails_the_drifted_records(aws: str, nsd: NsdServer, production: AuditTarget) -> None:
    held = route53_seed(aws, production)
    zones = compliant(production)
    spf("v=spf1 include:mailgun.org include:sendgrid.net ~all")(zones)
    dkim(*dkim_strings(rsa_key(2048)))(zones)
    zones["example.com"].remove("links")
    nsd.serve(*zones.values())
    lines = by_name(audit_dns.compare_with_route53(at(production, nsd), held))
    failing = {name for name, line in lines.items() if line.status == Status.FAIL}
    assert failing == {"route53 spf", "route53 dkim", "route53 link tracking"}, [x.line() for x in lines.values()]
    assert "include:sendgrid.net" in lines["route53 spf"].detail
    assert "registrar's NS records" in lines["route53 spf"].detail
    assert "DNS serves nothing (NXDOMAIN: the name does not exist) but Route53 holds `e.customeriomail.com`" in \
        lines["route53 link tracking"].detail


def test_a_record_route53_lacks_but_dns_serves_is_drift(aws: str, nsd: NsdServer,
                                                           production: AuditTarget) -> None:
    held = [r for r in route53_seed(aws, production) if r["Type"] != "MX"]
    nsd.serve(*compliant(production).values())
    lines = by_name(audit_dns.compare_with_route53(at(production, nsd), held))
    assert lines["route53 mx"].status == Status.FAIL
    assert "Route53 holds nothing" in lines["route53 mx"].detail


def test_nothing_to_compare_is_one_warning_not_an_empty_result(nsd: NsdServer, production: AuditTarget) -> None:
    nsd.serve(Zone("example.com"))
    soa_only = [{"Name": "example.com.", "Type": "SOA", "TTL": 900,
                 "ResourceRecords": [{"Value": "ns.example.com. hostmaster.example.com. 1 7200 900 1209600 86400"}]}]
    [line] = audit_dns.compare_with_route53(at(production, nsd), soa_only)
    assert (line.status, line.name) == (Status.WARN, "route53 match")
    assert "nothing to compare: the hosted zone example.com holds none" in line.detail


def test_route53_check_turns_a_read_error_into_one_line(nsd: NsdServer, production: AuditTarget) -> None:
    def unreadable() -> list[dict[str, Any]]:
        raise GoliveError("no Route53 hosted zone in this account holds cio12345.example.com")

    check = audit_dns.route53_check(at(production, nsd), unreadable)
    [line] = check.run()
    assert (line.status, line.name) == (Status.FAIL, "route53 match")
    assert "no Route53 hosted zone" in line.detail
