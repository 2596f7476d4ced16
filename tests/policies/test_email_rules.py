"""The four §3 rules over plain Stack objects: a compliant Customer.io layout, each violation,
first previews with unknown values, and stacks whose mail is not Customer.io's."""

from __future__ import annotations

import base64
import itertools

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from checklist.emailauth import split_txt
from checklist.model import UNKNOWN, Resource, RuleFinding, Stack
from checklist.recognize import ROUTE53_RECORD, ROUTE53_ZONE, SECRET, is_customerio_stack
from checklist.rules import run

SPF, DKIM, DMARC, RETURN_PATH = (
    "email-spf-record",
    "email-dkim-record",
    "email-dmarc-record",
    "email-return-path",
)
ALL_RULES = (SPF, DKIM, DMARC, RETURN_PATH)
SUB = "cio123.example.com"
DKIM_NAME = f"krs._domainkey.{SUB}"

_names = itertools.count()


def _p(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _p_512() -> str:
    # cryptography will not generate a 512-bit key; any odd 512-bit modulus is a parseable public key.
    n = (1 << 511) | 0x1234567 | 1
    der = (
        rsa.RSAPublicNumbers(65537, n)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


KEY_2048 = _p(2048)
KEY_1024 = _p(1024)


def zone(name: str = "example.com", zone_id: object = "Z0123456789") -> Resource:
    return Resource(type=ROUTE53_ZONE, name=f"zone-{next(_names)}", props={"name": name, "zoneId": zone_id})


def record(name: object, rtype: object, values: object, *, in_zone: Resource | None = None) -> Resource:
    """A Route53 record; with `in_zone` the record's zoneId is unknown and linked, as in a first preview."""
    props = {"name": name, "type": rtype, "records": values, "ttl": 300}
    deps = {}
    if in_zone is not None:
        props["zoneId"] = UNKNOWN
        deps["zoneId"] = (in_zone.urn,)
    else:
        props["zoneId"] = "Z0123456789"
    return Resource(type=ROUTE53_RECORD, name=f"rec-{next(_names)}", props=props, property_dependencies=deps)


CIO_SECRET = Resource(
    type=SECRET, name="cio-track-key", props={"tags": {"customerio:credential": "track-api-key"}}
)


def stack(*resources: Resource, customerio: bool = True) -> Stack:
    return Stack(resources=[CIO_SECRET, *resources] if customerio else list(resources))


def layout(
    *,
    mx: bool = True,
    spf: str | None = "v=spf1 include:mailgun.org ~all",
    dkim: list[str] | None = None,
    dmarc: str | None = "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com",
) -> list[Resource]:
    """Customer.io's documented records for cio123.example.com, fully qualified names."""
    found = []
    if mx:
        found.append(record(SUB, "MX", ["10 mxa.mailgun.org", "10 mxb.mailgun.org"]))
    if spf is not None:
        found.append(record(SUB, "TXT", [spf]))
    found.append(record(DKIM_NAME, "TXT", dkim if dkim is not None else [split_txt(f"k=rsa; p={KEY_2048}")]))
    if dmarc is not None:
        found.append(record("_dmarc.example.com", "TXT", [dmarc]))
    return found


def findings(
    name: str, *resources: Resource, cfg: dict | None = None, customerio: bool = True
) -> list[RuleFinding]:
    return run(name, stack(*resources, customerio=customerio), cfg)


def only(found: list[RuleFinding]) -> RuleFinding:
    assert len(found) == 1, [f.message for f in found]
    return found[0]


# --- compliant layouts --------------------------------------------------------------------------


@pytest.mark.parametrize("rule_name", ALL_RULES)
def test_compliant_customerio_layout(rule_name: str) -> None:
    assert findings(rule_name, *layout()) == []


@pytest.mark.parametrize("rule_name", ALL_RULES)
def test_compliant_first_preview_relative_names_and_unknown_zone_id(rule_name: str) -> None:
    z = zone("example.com.", zone_id=UNKNOWN)
    resources = [
        z,
        record("cio123", "MX", ["10 mxa.mailgun.org", "10 mxb.mailgun.org"], in_zone=z),
        record("cio123", "TXT", ["v=spf1 include:mailgun.org ~all"], in_zone=z),
        record("krs._domainkey.cio123", "TXT", [split_txt(f"k=rsa; p={KEY_2048}")], in_zone=z),
        record("_dmarc", "TXT", ["v=DMARC1; p=reject"], in_zone=z),
    ]
    assert findings(rule_name, *resources) == []


def test_first_preview_messages_name_the_full_record_name() -> None:
    z = zone("example.com", zone_id=UNKNOWN)
    resources = [z, record("cio123", "MX", ["10 mxa.mailgun.org"], in_zone=z)]
    for rule_name, expected in [
        (SPF, f"No SPF record at {SUB} "),
        (DKIM, f"No DKIM key for {SUB} "),
        (DMARC, f"No DMARC record covers {SUB} "),
    ]:
        assert expected in only(findings(rule_name, *resources)).message
    assert findings(RETURN_PATH, *resources) == []


def test_relative_names_without_a_zone_are_taken_as_fully_qualified() -> None:
    # Without the zone `cio123` is a name of its own: no record lands on cio123.example.com.
    resources = [record("cio123", "MX", ["10 mxa.mailgun.org"])]
    found = findings(SPF, *resources, cfg={"sendingDomains": [SUB]})
    assert any(f"No SPF record at {SUB}" in f.message for f in found)
    assert any("No SPF record at cio123 " in f.message for f in found)


def test_zone_found_by_known_zone_id_without_dependency() -> None:
    z = zone("example.com", zone_id="ZKNOWN")
    spf_record = Resource(
        type=ROUTE53_RECORD,
        name="spf-by-id",
        props={
            "name": "cio123",
            "type": "TXT",
            "records": ["v=spf1 include:mailgun.org ~all"],
            "zoneId": "ZKNOWN",
        },
    )
    assert findings(SPF, z, spf_record, cfg={"sendingDomains": [SUB]}) == []


def test_cname_delegated_dkim_is_accepted() -> None:
    resources = [r for r in layout() if r.get("name") != DKIM_NAME]
    resources.append(record(DKIM_NAME, "CNAME", ["krs.dkim.customeriomail.com"]))
    assert findings(DKIM, *resources) == []


def test_dmarc_at_the_sending_subdomain_itself_is_accepted() -> None:
    resources = [*layout(dmarc=None), record(f"_dmarc.{SUB}", "TXT", ["v=DMARC1; p=reject"])]
    assert findings(DMARC, *resources) == []


def test_long_spf_split_correctly_passes() -> None:
    ips = " ".join(f"ip4:192.0.2.{i}" for i in range(30))
    value = f"v=spf1 include:mailgun.org {ips} ~all"
    assert len(value) > 255
    resources = [*layout(spf=None), record(SUB, "TXT", [split_txt(value)])]
    assert findings(SPF, *resources) == []


# --- which stacks and domains the rules look at -------------------------------------------------


@pytest.mark.parametrize("rule_name", ALL_RULES)
def test_not_a_customerio_stack(rule_name: str) -> None:
    # Another provider's mail, broken: its SPF and DKIM never make the stack Customer.io's.
    broken = [
        record("example.com", "TXT", ["v=spf1 include:_spf.google.com +all"]),
        record("google._domainkey.example.com", "TXT", [f"k=rsa; p={_p_512()}"]),
    ]
    assert findings(rule_name, *broken, customerio=False) == []
    assert findings(rule_name, *broken, customerio=True) != []


@pytest.mark.parametrize(
    ("records", "rule_name", "expected"),
    [
        ([record(SUB, "TXT", ["v=spf1 include:mailgun.org +all"])], SPF, "ends in `+all`"),
        ([record(SUB, "TXT", ["v=spf1 include:customeriomail.com -all"])], SPF, None),
        ([record(SUB, "MX", ["10 mxa.mailgun.org"])], SPF, f"No SPF record at {SUB} (a sending domain: its MX"),
        ([record(DKIM_NAME, "TXT", [f"k=rsa; p={_p_512()}"])], DKIM, "is 512 bits"),
        ([record(DKIM_NAME, "TXT", [f"k=rsa; p={KEY_2048}"])], SPF, f"No SPF record at {SUB} (a sending domain: "
         f"it has a DKIM record at {DKIM_NAME})"),
        ([record(SUB, "MX", ["10 mx.example.net"])], SPF, f"No SPF record at {SUB} (a sending domain: "
         "it is a Customer.io cio<digits> subdomain)"),
        ([record("links.example.com", "CNAME", ["e.customeriomail.com"]),
          record("krs._domainkey.mail.example.com", "TXT", [f"k=rsa; p={KEY_2048}"])],
         SPF, "No SPF record at mail.example.com"),
    ],
    ids=["spf-include-mailgun", "spf-include-customeriomail", "mx-mailgun", "cio-subdomain-dkim",
         "cio-subdomain-no-spf", "cio-subdomain-only", "cname-customeriomail"],
)
def test_customerio_dns_alone_makes_a_customerio_stack(records, rule_name, expected) -> None:
    found = findings(rule_name, *records, customerio=False)
    if expected is None:
        assert found == []
    else:
        assert expected in only(found).message


def test_the_reason_a_domain_sends_does_not_depend_on_registration_order() -> None:
    records = [record(DKIM_NAME, "TXT", [split_txt(f"k=rsa; p={KEY_2048}")]), record(SUB, "MX", ["10 mxa.mailgun.org"])]
    first, second = (only(findings(SPF, *rs)).message for rs in (records, records[::-1]))
    assert first == second and "its MX points at mxa.mailgun.org" in first


def test_unrelated_records_do_not_make_a_customerio_stack() -> None:
    resources = [
        record("example.com", "MX", ["1 smtp.google.com"]),
        record("example.com", "TXT", ["v=spf1 include:_spf.google.com ~all"]),
        record("links.example.com", "CNAME", ["example.sendgrid.net"]),
        record("cio.example.com", "A", ["192.0.2.1"]),
    ]
    assert not is_customerio_stack(stack(*resources, customerio=False), {"espDomains": ["mailgun.org"]})
    assert is_customerio_stack(stack(*resources, customerio=False), {"espDomains": ["sendgrid.net"]})


def test_spf_only_on_an_unrelated_root_domain_is_not_a_sending_domain() -> None:
    resources = [record("example.com", "TXT", ["v=spf1 include:_spf.google.com ~all"])]
    for rule_name in ALL_RULES:
        assert findings(rule_name, *resources) == [], rule_name


def test_unrelated_spf_records_are_still_checked() -> None:
    resources = [record("example.com", "TXT", ["v=spf1 include:_spf.google.com +all"])]
    assert "+all" in only(findings(SPF, *resources)).message
    assert findings(DKIM, *resources) == []


def test_configured_sending_domain_with_nothing_published() -> None:
    cfg = {"sendingDomains": ["CIO9.Example.com."]}
    spf = only(run(SPF, stack(customerio=False), cfg))
    assert spf.urn is None
    assert "No SPF record at cio9.example.com" in spf.message
    assert "listed in sendingDomains" in spf.message
    assert "cio9.example.com" in only(run(DKIM, stack(customerio=False), cfg)).message
    assert "_dmarc.example.com" in only(run(DMARC, stack(customerio=False), cfg)).message
    assert "No MX record at cio9.example.com" in only(run(RETURN_PATH, stack(customerio=False), cfg)).message


def test_sending_domain_found_through_spf_include() -> None:
    resources = [record(SUB, "TXT", ["v=spf1 include:mailgun.org ~all"])]
    found = only(findings(RETURN_PATH, *resources))
    assert f"No MX record at {SUB}" in found.message
    assert "its SPF includes mailgun.org" in found.message


def test_sending_domain_found_through_mx_host() -> None:
    resources = [record(SUB, "MX", ["10 mxa.mailgun.org."])]
    found = only(findings(SPF, *resources))
    assert f"No SPF record at {SUB}" in found.message
    assert "MX points at mxa.mailgun.org" in found.message
    assert found.urn is None


def test_sending_domain_found_through_dkim_record() -> None:
    resources = [record("google._domainkey.example.org", "TXT", [split_txt(f"k=rsa; p={KEY_2048}")])]
    found = only(findings(RETURN_PATH, *resources))
    assert "No MX record at example.org" in found.message


def test_esp_domains_are_configurable() -> None:
    resources = [record("mail.example.com", "MX", ["10 inbound.example-esp.net"])]
    assert findings(SPF, *resources) == []
    found = only(findings(SPF, *resources, cfg={"espDomains": ["example-esp.net"]}))
    assert "No SPF record at mail.example.com" in found.message


# --- SPF violations -----------------------------------------------------------------------------


def test_spf_missing_on_the_sending_domain() -> None:
    found = only(findings(SPF, *layout(spf=None)))
    assert f"No SPF record at {SUB}" in found.message
    assert found.urn is None
    assert not found.advisory


def test_two_spf_records_in_one_resource() -> None:
    resources = [*layout(spf=None), record(SUB, "TXT", ["v=spf1 include:mailgun.org ~all", "v=spf1 -all"])]
    found = only(findings(SPF, *resources))
    assert f"2 SPF records at {SUB}" in found.message
    assert found.urn == resources[-1].urn


def test_two_spf_records_in_two_resources() -> None:
    second = record(SUB, "TXT", ["v=spf1 include:_spf.google.com ~all"])
    found = only(findings(SPF, *layout(), second))
    assert "2 SPF records" in found.message
    assert found.urn == second.urn


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("v=spf1 include:mailgun.org +all", "`+all`"),
        ("v=spf1 include:mailgun.org all", "`+all`"),
        ("v=spf1 include:mailgun.org ?all", "`?all`"),
        ("v=spf1 include:mailgun.org", "neither `all` nor `redirect=`"),
        ("v=spf1 include:mailgun.org ~al", "invalid (unknown mechanism"),
        ("v=spf1 include=mailgun.org ~all", "invalid"),
        ("v=spf1 ip4:10.0.0.0/40 include:mailgun.org ~all", "CIDR"),
    ],
)
def test_spf_value_violations(value: str, expected: str) -> None:
    resources = layout(spf=value)
    found = only(findings(SPF, *resources))
    assert expected in found.message
    assert SUB in found.message
    assert found.urn == resources[1].urn


def test_spf_redirect_without_all_is_fine() -> None:
    assert findings(SPF, *layout(spf="v=spf1 redirect=mailgun.org")) == []


def test_spf_lookup_limit() -> None:
    includes = [f"include:s{i}.example.net" for i in range(9)]
    ok = "v=spf1 include:mailgun.org " + " ".join(includes) + " ~all"
    assert findings(SPF, *layout(spf=ok)) == []
    too_many = "v=spf1 include:mailgun.org mx " + " ".join(includes) + " ~all"
    found = only(findings(SPF, *layout(spf=too_many)))
    assert "11 DNS-querying terms" in found.message


def test_spf_character_string_over_255() -> None:
    ips = " ".join(f"ip4:192.0.2.{i}" for i in range(30))
    value = f"v=spf1 include:mailgun.org {ips} ~all"
    found = only(findings(SPF, *layout(spf=value)))
    assert f"character-string of {len(value)} characters" in found.message


# --- DKIM violations ----------------------------------------------------------------------------


def test_dkim_missing() -> None:
    resources = [r for r in layout() if r.get("name") != DKIM_NAME]
    found = only(findings(DKIM, *resources))
    assert f"No DKIM key for {SUB}" in found.message
    assert f"<selector>._domainkey.{SUB}" in found.message
    assert found.urn is None
    assert not found.advisory


def test_dkim_record_with_no_values() -> None:
    found = only(findings(DKIM, *layout(dkim=[])))
    assert f"{DKIM_NAME} has no key" in found.message


def test_dkim_weak_key_against_configured_minimum() -> None:
    resources = layout(dkim=[split_txt(f"k=rsa; p={KEY_1024}")])
    assert findings(DKIM, *resources) == []
    found = only(findings(DKIM, *resources, cfg={"minKeyBits": 2048}))
    assert "1024 bits" in found.message and "2048" in found.message
    assert found.urn == resources[2].urn


def test_dkim_512_bit_key() -> None:
    found = only(findings(DKIM, *layout(dkim=[f"k=rsa; p={_p_512()}"])))
    assert "512 bits" in found.message
    assert DKIM_NAME in found.message


def test_dkim_revoked() -> None:
    found = only(findings(DKIM, *layout(dkim=["v=DKIM1; k=rsa; p="])))
    assert "revoked" in found.message


def test_dkim_key_that_does_not_parse() -> None:
    found = only(findings(DKIM, *layout(dkim=["k=rsa; p=bm90IGEga2V5"])))
    assert "invalid" in found.message and DKIM_NAME in found.message


def test_dkim_testing_flag_is_advice() -> None:
    found = only(findings(DKIM, *layout(dkim=[split_txt(f"v=DKIM1; k=rsa; t=y; p={KEY_2048}")])))
    assert "t=y" in found.message
    assert found.advisory


def test_dkim_unsplit_long_string() -> None:
    value = f"k=rsa; p={KEY_2048}"
    found = only(findings(DKIM, *layout(dkim=[value])))
    assert f"character-string of {len(value)} characters" in found.message
    assert "pulumi/pulumi-aws#5451" in found.message
    assert '""' in found.message


def test_dkim_key_spread_over_two_elements() -> None:
    value = f"k=rsa; p={KEY_2048}"
    resources = layout(dkim=[value[:255], value[255:]])
    found = only(findings(DKIM, *resources))
    assert "spread over 2 elements" in found.message
    assert "ONE element" in found.message
    assert "pulumi/pulumi-aws#5451" in found.message
    assert found.urn == resources[2].urn


def test_dkim_key_spread_over_two_resources_where_every_fragment_has_a_tag() -> None:
    # Each fragment carries a tag, but the first alone does not parse and the two together do.
    first = record(DKIM_NAME, "TXT", [f"v=DKIM1; p={KEY_2048[:150]}"])
    second = record(DKIM_NAME, "TXT", [f"{KEY_2048[150:]}; k=rsa"])
    resources = [r for r in layout() if r.get("name") != DKIM_NAME]
    found = only(findings(DKIM, *resources, first, second))
    assert "spread over 2 elements" in found.message
    assert found.urn == first.urn


def test_dkim_split_wrong_and_weak_reports_both() -> None:
    value = f"k=rsa; p={KEY_1024}"
    found = findings(DKIM, *layout(dkim=[value[:100], value[100:]]), cfg={"minKeyBits": 2048})
    assert len(found) == 2
    assert "spread over" in found[0].message and "1024 bits" in found[1].message


def test_two_complete_dkim_keys_at_one_name_are_each_checked() -> None:
    resources = layout(dkim=[split_txt(f"k=rsa; p={KEY_2048}"), split_txt(f"k=rsa; p={KEY_1024}")])
    assert findings(DKIM, *resources) == []
    assert "1024 bits" in only(findings(DKIM, *resources, cfg={"minKeyBits": 2048})).message


# --- DMARC violations ---------------------------------------------------------------------------


def test_dmarc_missing() -> None:
    found = only(findings(DMARC, *layout(dmarc=None)))
    assert f"No DMARC record covers {SUB}" in found.message
    assert f"_dmarc.{SUB} or _dmarc.example.com" in found.message
    assert found.urn is None


def test_dmarc_p_none_is_monitoring_only() -> None:
    resources = layout(dmarc="v=DMARC1; p=none; rua=mailto:dmarc@example.com")
    found = only(findings(DMARC, *resources))
    assert "monitoring only" in found.message
    assert found.urn == resources[-1].urn


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("v=DMARC1; p=block", "none, quarantine, reject"),
        ("v=DMARC1; rua=mailto:d@example.com", "`p=` tag is missing"),
        ("v=DMARC1; p=reject; rua=d@example.com", "mailto:"),
        ("v=dmarc1; p=reject", "exactly DMARC1"),
    ],
)
def test_dmarc_syntax_errors(value: str, expected: str) -> None:
    found = only(findings(DMARC, *layout(dmarc=value)))
    assert "_dmarc.example.com is invalid" in found.message
    assert expected in found.message


def test_txt_at_dmarc_name_without_version_is_ignored_by_receivers() -> None:
    found = findings(DMARC, *layout(dmarc="p=reject; rua=mailto:d@example.com"))
    assert len(found) == 2
    assert "does not start with `v=DMARC1`" in found[0].message
    assert "No DMARC record covers" in found[1].message


def test_two_dmarc_records() -> None:
    extra = record("_dmarc.example.com", "TXT", ["v=DMARC1; p=none"])
    found = only(findings(DMARC, *layout(), extra))
    assert "2 DMARC records at _dmarc.example.com" in found.message
    assert found.urn == extra.urn


def test_dmarc_subdomain_policy_none_leaves_the_sending_subdomain_monitored() -> None:
    found = only(findings(DMARC, *layout(dmarc="v=DMARC1; p=reject; sp=none")))
    assert "sp=none" in found.message and SUB in found.message


def test_dmarc_at_subdomain_takes_precedence_over_organizational() -> None:
    resources = [
        *layout(dmarc="v=DMARC1; p=reject; sp=none"),
        record(f"_dmarc.{SUB}", "TXT", ["v=DMARC1; p=reject"]),
    ]
    assert findings(DMARC, *resources) == []


# --- Return path --------------------------------------------------------------------------------


def test_return_path_missing() -> None:
    found = only(findings(RETURN_PATH, *layout(mx=False)))
    assert f"No MX record at {SUB}" in found.message
    assert found.urn is None


def test_mx_elsewhere_does_not_count() -> None:
    resources = [*layout(mx=False), record("example.com", "MX", ["10 mx.example.com"])]
    assert f"No MX record at {SUB}" in only(findings(RETURN_PATH, *resources)).message


# --- unknown values -----------------------------------------------------------------------------


def test_unknown_spf_value_cannot_be_verified() -> None:
    unknown = record(SUB, "TXT", UNKNOWN)
    found = only(findings(SPF, *layout(spf=None), unknown))
    assert "cannot be verified at preview" in found.message
    assert found.urn == unknown.urn
    assert found.advisory


def test_unknown_element_inside_records_cannot_be_verified() -> None:
    unknown = record(SUB, "TXT", [UNKNOWN])
    found = only(findings(SPF, *layout(spf=None), unknown))
    assert "cannot be verified at preview" in found.message


def test_unknown_dkim_name_cannot_be_verified() -> None:
    resources = [r for r in layout() if r.get("name") != DKIM_NAME]
    unknown = record(UNKNOWN, "TXT", [split_txt(f"k=rsa; p={KEY_2048}")])
    found = only(findings(DKIM, *resources, unknown))
    assert "cannot be verified at preview" in found.message
    assert "name" in found.message
    assert found.urn == unknown.urn and found.advisory


def test_unknown_dkim_value_cannot_be_verified() -> None:
    found = only(findings(DKIM, *layout(dkim=UNKNOWN)))
    assert "cannot be verified at preview" in found.message
    assert "value" in found.message


def test_weak_key_at_unknown_name_is_still_reported() -> None:
    unknown = record(UNKNOWN, "TXT", [f"v=DKIM1; k=rsa; p={_p_512()}"])
    found = [f for f in findings(DKIM, *layout(), unknown) if not f.advisory]
    assert "512 bits" in only(found).message
    assert "name not known at preview" in found[0].message


def test_unknown_records_do_not_matter_when_a_verifiable_one_exists() -> None:
    extras = [record(UNKNOWN, "TXT", UNKNOWN), record(UNKNOWN, "MX", UNKNOWN), record(SUB, "TXT", UNKNOWN)]
    for rule_name in ALL_RULES:
        assert findings(rule_name, *layout(), *extras) == [], rule_name


def test_unknown_name_unrelated_content_does_not_mask_a_missing_record() -> None:
    unrelated = record(UNKNOWN, "TXT", ["google-site-verification=abc"])
    found = only(findings(SPF, *layout(spf=None), unrelated))
    assert f"No SPF record at {SUB}" in found.message
    assert not found.advisory


def test_unknown_mx_name_cannot_be_verified() -> None:
    unknown = record(UNKNOWN, "MX", ["10 mxa.mailgun.org"])
    found = only(findings(RETURN_PATH, *layout(mx=False), unknown))
    assert "cannot be verified at preview" in found.message


def test_unknown_dmarc_value_cannot_be_verified() -> None:
    unknown = record("_dmarc.example.com", "TXT", UNKNOWN)
    found = only(findings(DMARC, *layout(dmarc=None), unknown))
    assert "cannot be verified at preview" in found.message


@pytest.mark.parametrize("rule_name", ALL_RULES)
def test_everything_unknown_never_raises(rule_name: str) -> None:
    resources = [
        record(UNKNOWN, UNKNOWN, UNKNOWN),
        record(SUB, UNKNOWN, [UNKNOWN, "v=spf1 -all"]),
        Resource(type=ROUTE53_RECORD, name="bare", props={}),
        Resource(type=ROUTE53_RECORD, name="alias", props={"name": SUB, "type": "A", "aliases": UNKNOWN}),
        zone(UNKNOWN, zone_id=UNKNOWN),
    ]
    result = findings(rule_name, *resources, cfg={"sendingDomains": [SUB]})
    assert all(isinstance(f, RuleFinding) for f in result)
    assert result  # the sending domain is left without anything verifiable
