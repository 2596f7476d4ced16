"""The pure e-mail authentication parsers: SPF, DKIM, DMARC, Route53 TXT quoting and names."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from checklist import emailauth
from checklist.emailauth import (
    DKIMKeyError,
    DMARCSyntaxError,
    EmailAuthError,
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
    split_txt,
    txt_strings,
)

# --- keys ---------------------------------------------------------------------------------------


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 4:
        return n in (2, 3)
    if n % 2 == 0:
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(32):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, rng: random.Random) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if _is_probable_prime(candidate, rng) and (candidate - 1) % 65537:
            return candidate


def rsa_public_key(bits: int) -> rsa.RSAPublicKey:
    """A real RSA public key of `bits` bits. cryptography refuses to generate keys under 1024
    bits, so weak ones are built from two primes found here."""
    if bits >= 1024:
        return rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    rng = random.Random(bits)
    while True:
        n = _prime(bits // 2, rng) * _prime(bits - bits // 2, rng)
        if n.bit_length() == bits:
            return rsa.RSAPublicNumbers(65537, n).public_key()


def p_value(key, fmt=serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.DER, fmt)).decode()


@pytest.fixture(scope="module")
def keys() -> dict[int, rsa.RSAPublicKey]:
    return {bits: rsa_public_key(bits) for bits in (512, 1024, 2048)}


# --- Route53 TXT quoting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "strings"),
    [
        ("v=spf1 include:mailgun.org ~all", ["v=spf1 include:mailgun.org ~all"]),
        ('abc""def', ["abc", "def"]),
        ('"abc" "def"', ["abc", "def"]),
        ('"abc""def"', ["abc", "def"]),
        ('"one string with spaces"', ["one string with spaces"]),
        (r"say \"hi\"", ['say "hi"']),
        (r"back\\slash", ["back\\slash"]),
        (r"octal\101", ["octalA"]),
        ("", [""]),
    ],
)
def test_txt_strings(element: str, strings: list[str]) -> None:
    assert txt_strings(element) == strings


def test_split_txt_cuts_at_255_and_the_provider_form_reads_back() -> None:
    value = "k=rsa; p=" + "A" * 400
    element = split_txt(value)
    assert element == value[:255] + '""' + value[255:]
    assert [len(s) for s in txt_strings(element)] == [255, 154]


def test_split_txt_short_value_is_unchanged_and_size_is_honoured() -> None:
    assert split_txt("v=spf1 -all") == "v=spf1 -all"
    assert split_txt("abcdef", size=4) == 'abcd""ef'
    with pytest.raises(ValueError):
        split_txt("abc", size=0)


def test_split_txt_escapes_quotes_so_they_survive() -> None:
    value = 'a"b\\c' * 100
    strings = txt_strings(split_txt(value))
    assert "".join(strings) == value
    assert all(len(s) <= 255 for s in strings)


_BASE64ISH = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=; -", max_size=4000
)


@settings(max_examples=200, deadline=None)
@given(_BASE64ISH)
def test_split_txt_property_base64ish(value: str) -> None:
    strings = txt_strings(split_txt(value))
    assert all(len(s) <= 255 for s in strings)
    assert "".join(strings) == value


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=1200))
def test_split_txt_property_any_printable_ascii(value: str) -> None:
    strings = txt_strings(split_txt(value))
    assert all(len(s) <= 255 for s in strings)
    assert "".join(strings) == value


# --- names --------------------------------------------------------------------------------------


def test_names() -> None:
    assert normalize_name(" Krs._DomainKey.CIO123.Example.com. ") == "krs._domainkey.cio123.example.com"
    assert is_dkim_name("krs._domainkey.cio123.example.com.") == "cio123.example.com"
    assert is_dkim_name("s1.k2._domainkey.example.com") == "example.com"
    assert is_dkim_name("_domainkey.example.com") is None
    assert is_dkim_name("_dmarc.example.com") is None
    assert is_under("mxa.mailgun.org", "mailgun.org")
    assert is_under("Mailgun.org.", "mailgun.org")
    assert not is_under("notmailgun.org", "mailgun.org")
    assert not is_under("example.com", "")


@pytest.mark.parametrize(
    ("name", "org"),
    [
        ("cio123.example.com", "example.com"),
        ("CIO123.Example.COM.", "example.com"),
        ("example.com", "example.com"),
        ("mail.shop.example.co.uk", "example.co.uk"),
        ("a.b.myapp.github.io", "myapp.github.io"),
        ("com", "com"),
    ],
)
def test_organizational_domain(name: str, org: str) -> None:
    assert organizational_domain(name) == org


# --- SPF ----------------------------------------------------------------------------------------


def test_spf_customerio_record() -> None:
    spf = parse_spf("v=spf1 include:mailgun.org ~all")
    assert spf.terms == ("include:mailgun.org", "~all")
    assert [(m.qualifier, m.name, m.domain) for m in spf.mechanisms] == [
        ("+", "include", "mailgun.org"),
        ("~", "all", None),
    ]
    assert spf.dns_lookup_count == 1
    assert spf.all_qualifier == "~"
    assert spf.includes == ("mailgun.org",)


def test_spf_full_grammar() -> None:
    spf = parse_spf(
        "v=spf1 +a mx/24 a:mail.example.com/28//64 ptr:example.com exists:%{i}._spf.%{d} "
        "ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.google.com -ip4:198.51.100.7 "
        "redirect=_spf.example.com exp=explain._spf.%{d} x-custom=anything -all"
    )
    assert spf.dns_lookup_count == 7  # a, mx, a, ptr, exists, include, redirect
    assert spf.all_qualifier == "-"
    assert spf.modifiers == {
        "redirect": "_spf.example.com",
        "exp": "explain._spf.%{d}",
        "x-custom": "anything",
    }
    mx = spf.mechanisms[1]
    assert (mx.name, mx.domain, mx.cidr4) == ("mx", None, 24)
    a = spf.mechanisms[2]
    assert (a.domain, a.cidr4, a.cidr6) == ("mail.example.com", 28, 64)
    assert str(a) == "a:mail.example.com/28//64"
    assert spf.includes == ("_spf.google.com", "_spf.example.com")


def test_spf_is_case_insensitive_and_tolerates_spaces() -> None:
    spf = parse_spf("  V=SPF1   INCLUDE:Mailgun.org   -ALL ")
    assert spf.all_qualifier == "-"
    assert spf.mechanisms[0].name == "include"


def test_spf_without_all() -> None:
    assert parse_spf("v=spf1 redirect=_spf.example.com").all_qualifier is None
    assert parse_spf("v=spf1").mechanisms == ()


@pytest.mark.parametrize(
    ("record", "term", "reason"),
    [
        ("spf1 include:mailgun.org ~all", "spf1", "v=spf1"),
        ("v=spf10 include:mailgun.org", "v=spf10", "v=spf1"),
        ("v=spf1include:mailgun.org", "v=spf1include:mailgun.org", "v=spf1"),
        ("v=spf1 include:mailgun.org ~al", "~al", "unknown mechanism"),
        ("v=spf1 ip:192.0.2.1", "ip:192.0.2.1", "unknown mechanism"),
        ("v=spf1 *all", "*all", "qualifier"),
        ("v=spf1 +-all", "+-all", "qualifier"),
        ("v=spf1 include=mailgun.org ~all", "include=mailgun.org", "mechanism with `=`"),
        ("v=spf1 include: ~all", "include:", "empty domain-spec"),
        ("v=spf1 include ~all", "include", "needs"),
        ("v=spf1 include:mailgun..org", "include:mailgun..org", "malformed domain label"),
        ("v=spf1 include:localhost", "include:localhost", "fully qualified"),
        ("v=spf1 include:example.123", "include:example.123", "top-level label"),
        ("v=spf1 exists:%{z}.example.com", "exists:%{z}.example.com", "macro"),
        ("v=spf1 ip4:192.0.2.300", "ip4:192.0.2.300", "IPv4"),
        ("v=spf1 ip4:2001:db8::1", "ip4:2001:db8::1", "IPv4"),
        ("v=spf1 ip6:192.0.2.1", "ip6:192.0.2.1", "IPv6"),
        ("v=spf1 ip4:192.0.2.0/33", "ip4:192.0.2.0/33", "CIDR"),
        ("v=spf1 ip4:192.0.2.0/", "ip4:192.0.2.0/", "CIDR"),
        ("v=spf1 ip6:2001:db8::/129", "ip6:2001:db8::/129", "CIDR"),
        ("v=spf1 a/33", "a/33", "CIDR"),
        ("v=spf1 mx//129", "mx//129", "CIDR"),
        ("v=spf1 all:example.com", "all:example.com", "no argument"),
        ("v=spf1 redirect=a.example.com redirect=b.example.com", "redirect=b.example.com", "more than one"),
        ("v=spf1 exp=a.example.com exp=b.example.com", "exp=b.example.com", "more than one"),
        ("v=spf1 redirect=", "redirect=", "empty domain-spec"),
    ],
)
def test_spf_syntax_errors(record: str, term: str, reason: str) -> None:
    with pytest.raises(SPFSyntaxError) as info:
        parse_spf(record)
    assert info.value.record == record
    assert info.value.term == term
    assert reason in info.value.reason
    assert isinstance(info.value, EmailAuthError) and isinstance(info.value, ValueError)


_QUERYING = [
    "include:_spf.example.com",
    "a",
    "mx",
    "ptr",
    "exists:%{i}.x.example.com",
    "a:mail.example.com/24",
]
_NON_QUERYING = ["ip4:192.0.2.0/24", "ip6:2001:db8::1", "-ip4:198.51.100.1", "x-note=hello"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(_QUERYING + _NON_QUERYING), max_size=25),
    st.sampled_from(["", "+", "-", "~", "?"]),
    st.booleans(),
    st.sampled_from(["", "~all", "-all"]),
)
def test_spf_lookup_count_property(terms: list[str], qualifier: str, redirect: bool, last: str) -> None:
    qualified = [qualifier + t if "=" not in t and t[0] not in "+-~?" else t for t in terms]
    tail = (["redirect=_spf.example.com"] if redirect else []) + ([last] if last else [])
    spf = parse_spf(" ".join(["v=spf1", *qualified, *tail]))
    expected = sum(1 for t in terms if t in _QUERYING) + redirect
    assert spf.dns_lookup_count == expected


def test_looks_like_spf() -> None:
    assert looks_like_spf("V=SPF1 -all")
    assert looks_like_spf("v=spf1include:x")  # reported as broken rather than ignored
    assert not looks_like_spf("google-site-verification=abc")


# --- DKIM ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [512, 1024, 2048])
def test_dkim_rsa_key_sizes(keys, bits: int) -> None:
    key = parse_dkim(f"v=DKIM1; k=rsa; p={p_value(keys[bits])}")
    assert key.key_bits == bits
    assert key.key_type == "rsa"
    assert key.version == "DKIM1"
    assert not key.revoked and not key.testing


def test_dkim_customerio_form_and_pkcs1(keys) -> None:
    spki = parse_dkim(f"k=rsa; p={p_value(keys[2048])}")
    pkcs1 = parse_dkim(f"k=rsa; p={p_value(keys[2048], serialization.PublicFormat.PKCS1)}")
    assert spki.key_bits == pkcs1.key_bits == 2048
    assert spki.version is None


def test_dkim_pkcs1_fallback_when_cryptography_reads_only_spki(keys, monkeypatch) -> None:
    def spki_only(data: bytes):
        raise ValueError("could not deserialize")

    monkeypatch.setattr(serialization, "load_der_public_key", spki_only)
    pkcs1 = p_value(keys[1024], serialization.PublicFormat.PKCS1)
    assert parse_dkim(f"p={pkcs1}").key_bits == 1024
    with pytest.raises(DKIMKeyError, match="RSAPublicKey"):
        parse_dkim("p=" + base64.b64encode(b"\x30\x03\x02\x01\x05").decode())


def test_dkim_key_with_folding_whitespace(keys) -> None:
    p = p_value(keys[1024])
    folded = " ".join(p[i : i + 60] for i in range(0, len(p), 60))
    assert parse_dkim(f"v=DKIM1; k=rsa;\r\n p={folded};").key_bits == 1024


def test_dkim_revoked_and_testing() -> None:
    revoked = parse_dkim("v=DKIM1; k=rsa; p=")
    assert revoked.revoked and revoked.key_bits is None
    testing = parse_dkim("v=DKIM1; p=; t=y:s")
    assert testing.testing and testing.flags == ("y", "s")
    assert not parse_dkim("p=; t=s").testing


def test_dkim_ed25519() -> None:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    key = parse_dkim(f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}")
    assert key.key_type == "ed25519"
    assert key.key_bits == 256
    with pytest.raises(DKIMKeyError, match="Ed25519"):
        parse_dkim("k=ed25519; p=" + base64.b64encode(raw[:16]).decode())


def test_dkim_non_rsa_key_under_k_rsa() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(DKIMKeyError) as info:
        parse_dkim(f"k=rsa; p={p_value(ec_key)}")
    assert info.value.tag == "p"
    assert "not an RSA key" in info.value.reason


@pytest.mark.parametrize(
    ("record", "tag", "reason"),
    [
        ("k=rsa; p=!!!notbase64", "p", "base64"),
        ("k=rsa; p=QUJ", "p", "base64"),
        ("k=rsa; p=QUJD", "p", "DER"),
        ("k=rsa", "p", "missing"),
        ("k=dsa; p=", "k", "unknown key type"),
        ("v=DKIM2; p=", "v", "DKIM1"),
        ("k=rsa; v=DKIM1; p=", "v", "first"),
        ("k=rsa; k=rsa; p=", "k", "more than once"),
        ("k=rsa; garbage; p=", "garbage", "tag=value"),
        ("1k=rsa; p=", "1k", "tag name"),
    ],
)
def test_dkim_errors(record: str, tag: str, reason: str) -> None:
    with pytest.raises(DKIMKeyError) as info:
        parse_dkim(record)
    assert info.value.record == record
    assert info.value.tag == tag
    assert reason in info.value.reason


# --- DMARC --------------------------------------------------------------------------------------


def test_dmarc_minimal_and_defaults() -> None:
    dmarc = parse_dmarc("v=DMARC1; p=none")
    assert dmarc.policy == "none"
    assert (dmarc.adkim, dmarc.aspf, dmarc.pct, dmarc.ri) == ("r", "r", 100, 86400)
    assert dmarc.subdomain_policy is None and dmarc.rua == ()


def test_dmarc_every_tag() -> None:
    dmarc = parse_dmarc(
        "v=DMARC1; p=Reject; sp=quarantine; np=reject; adkim=s; aspf=r; pct=50; "
        "rua=mailto:dmarc@example.com,mailto:agg@reports.example.net!10m; ruf=mailto:f@example.com; "
        "fo=1:d; rf=afrf; ri=3600; psd=n; t=n; future=ignored;"
    )
    assert dmarc.policy == "reject"
    assert dmarc.subdomain_policy == "quarantine"
    assert dmarc.nonexistent_policy == "reject"
    assert (dmarc.adkim, dmarc.aspf, dmarc.pct, dmarc.ri) == ("s", "r", 50, 3600)
    assert [(u.address, u.size_limit) for u in dmarc.rua] == [
        ("dmarc@example.com", None),
        ("agg@reports.example.net", "10m"),
    ]
    assert dmarc.ruf[0].address == "f@example.com"
    assert dmarc.fo == ("1", "d")
    assert dmarc.tags["future"] == "ignored"


@pytest.mark.parametrize(
    ("record", "tag", "reason"),
    [
        ("p=none; v=DMARC1", "v", "starts with"),
        ("v=dmarc1; p=none", "v", "exactly DMARC1"),
        ("v=DMARC1", "p", "missing"),
        ("v=DMARC1; rua=mailto:a@example.com", "p", "missing"),
        ("v=DMARC1; p=block", "p", "none, quarantine, reject"),
        ("v=DMARC1; p=none; sp=drop", "sp", "none, quarantine, reject"),
        ("v=DMARC1; p=none; adkim=strict", "adkim", "r, s"),
        ("v=DMARC1; p=none; aspf=x", "aspf", "r, s"),
        ("v=DMARC1; p=none; pct=101", "pct", "0 to 100"),
        ("v=DMARC1; p=none; pct=-1", "pct", "0 to 100"),
        ("v=DMARC1; p=none; rua=dmarc@example.com", "rua", "mailto:"),
        ("v=DMARC1; p=none; rua=https://example.com/r", "rua", "mailto:"),
        ("v=DMARC1; p=none; rua=mailto:a@example.com,", "rua", "mailto:"),
        ("v=DMARC1; p=none; ruf=mailto:nobody", "ruf", "mailto:"),
        ("v=DMARC1; p=none; fo=2", "fo", "0, 1, d, s"),
        ("v=DMARC1; p=none; rf=xml", "rf", "afrf"),
        ("v=DMARC1; p=none; ri=soon", "ri", "seconds"),
        ("v=DMARC1; p=none; p=reject", "p", "more than once"),
        ("v=DMARC1; p=none; nonsense", "nonsense", "tag=value"),
    ],
)
def test_dmarc_errors(record: str, tag: str, reason: str) -> None:
    with pytest.raises(DMARCSyntaxError) as info:
        parse_dmarc(record)
    assert info.value.record == record
    assert info.value.tag == tag
    assert reason in info.value.reason


def test_looks_like_dmarc() -> None:
    assert looks_like_dmarc("v=DMARC1; p=none")
    assert looks_like_dmarc(" v = dmarc1;p=none")
    assert not looks_like_dmarc("v=spf1 -all")
    assert not looks_like_dmarc("p=none")


def test_module_exports_what_components_use() -> None:
    assert {"split_txt", "txt_strings", "parse_spf", "parse_dkim", "parse_dmarc"} <= set(emailauth.__all__)
