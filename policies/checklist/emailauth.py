"""Pure parsers for the e-mail authentication records the checklist checks: SPF, DKIM, DMARC.

In the style of checkdmarc: one plain function per record type, returning a frozen dataclass or
raising an exception that carries the record and the offending part. Nothing here touches DNS;
SPF includes in particular are never resolved, so lookup counts cover the record itself only.

Also the Route53 TXT quoting rules, shared with the components: the AWS provider wraps each
element of a record's `records` list in double quotes (unless it already starts with one), so
one element `abc""def` is one TXT record of two character-strings, `abc` and `def`, while two
list elements are two TXT records (pulumi/pulumi-aws#5451).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import threading
from dataclasses import dataclass, field

from .catalog import TXT_MAX_STRING

__all__ = [
    "DKIMKeyError",
    "DKIMRecord",
    "DMARCRecord",
    "DMARCReportURI",
    "DMARCSyntaxError",
    "EmailAuthError",
    "SPFMechanism",
    "SPFRecord",
    "SPFSyntaxError",
    "check_include_target",
    "is_dkim_name",
    "is_under",
    "looks_like_dmarc",
    "looks_like_spf",
    "normalize_name",
    "organizational_domain",
    "parse_dkim",
    "parse_dmarc",
    "parse_spf",
    "split_txt",
    "txt_strings",
]


# --- Errors -------------------------------------------------------------------------------------


class EmailAuthError(ValueError):
    """A record that does not parse. `record` is the text, `reason` says what is wrong."""

    def __init__(self, record: str, reason: str) -> None:
        self.record = record
        self.reason = reason
        super().__init__(reason)


class SPFSyntaxError(EmailAuthError):
    """An SPF record that RFC 7208 makes a permerror; `term` is the offending term (or "")."""

    def __init__(self, record: str, term: str, reason: str) -> None:
        self.term = term
        super().__init__(record, reason)


class DKIMKeyError(EmailAuthError):
    """A DKIM key record (RFC 6376 §3.6.1) whose tags are malformed or whose key is unusable;
    `tag` is the offending tag name ("" when the tag-list as a whole is at fault)."""

    def __init__(self, record: str, tag: str, reason: str) -> None:
        self.tag = tag
        super().__init__(record, reason)


class DMARCSyntaxError(EmailAuthError):
    """A DMARC record (RFC 7489 §6.3) that receivers would ignore or misread; `tag` as for DKIM."""

    def __init__(self, record: str, tag: str, reason: str) -> None:
        self.tag = tag
        super().__init__(record, reason)


# --- Names --------------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """The comparable form of a DNS name: lowercase, no surrounding spaces, no trailing dot."""
    return name.strip().rstrip(".").lower()


def is_under(name: str, domain: str) -> bool:
    """True when `name` is `domain` or a name below it (on a label boundary)."""
    name, domain = normalize_name(name), normalize_name(domain)
    return bool(domain) and (name == domain or name.endswith("." + domain))


def is_dkim_name(name: str) -> str | None:
    """The signing domain of a `<selector>._domainkey.<domain>` name, or None for any other name.

    Selectors may themselves contain dots (RFC 6376 §3.1), so the domain is what follows the
    first `._domainkey.`.
    """
    name = normalize_name(name)
    selector, sep, domain = name.partition("._domainkey.")
    if not sep or not selector or not domain:
        return None
    return domain


_psl_lock = threading.Lock()
_psl_list = None


def _psl():  # type: ignore[no-untyped-def]
    # Loading the list parses a ~250 kB file; do it once, when a rule needs it or `preload` runs.
    global _psl_list
    if _psl_list is None:
        with _psl_lock:
            if _psl_list is None:
                from publicsuffixlist import PublicSuffixList

                _psl_list = PublicSuffixList()
    return _psl_list


def preload() -> None:
    """Load now what the DMARC and DKIM checks would load on first use: the public suffix list and
    the cryptography modules (slow to import). A pack calls it while it waits for its first call."""
    _psl()
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: F401
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa  # noqa: F401
    from cryptography.hazmat.primitives.serialization import load_der_public_key  # noqa: F401


def organizational_domain(name: str) -> str:
    """The registrable domain of `name` (RFC 7489 §3.2): `cio123.example.com` → `example.com`.

    A name that is itself a public suffix (or unknown to the list and single-label) is returned
    unchanged, since there is nothing above it to look up.
    """
    name = normalize_name(name)
    return _psl().privatesuffix(name) or name


# --- Route53 TXT values -------------------------------------------------------------------------


def txt_strings(element: str) -> list[str]:
    """The character-strings of one Route53 TXT `records` element.

    The provider leaves an element that starts with `"` as it is and wraps any other in quotes,
    then Route53 reads zone-file syntax: quoted strings (adjacent or space-separated), `\\"` and
    `\\\\` escapes, and `\\ddd` octal escapes. Text outside quotes is tolerated as strings split on
    whitespace, as Route53 does.
    """
    text = element if element.startswith('"') else f'"{element}"'
    strings: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        quoted = ch == '"'
        if quoted:
            i += 1
        buf: list[str] = []
        while i < n:
            ch = text[i]
            if quoted and ch == '"':
                i += 1
                break
            if not quoted and (ch.isspace() or ch == '"'):
                break
            if ch == "\\" and i + 1 < n:
                octal = text[i + 1 : i + 4]
                if len(octal) == 3 and all(c in "01234567" for c in octal):
                    buf.append(chr(int(octal, 8)))
                    i += 4
                else:
                    buf.append(text[i + 1])
                    i += 2
                continue
            buf.append(ch)
            i += 1
        strings.append("".join(buf))
    return strings or [""]


def _escape(chunk: str) -> str:
    return chunk.replace("\\", "\\\\").replace('"', '\\"')


def split_txt(value: str, size: int = TXT_MAX_STRING) -> str:
    """One Route53 `records` element holding `value` as `size`-character strings:
    `<first 255>""<next 255>…`. The provider adds the outer quotes; quotes and backslashes inside
    `value` are escaped, so `"".join(txt_strings(split_txt(v))) == v` for every `v`."""
    if size < 1:
        raise ValueError("size must be positive")
    chunks = [value[i : i + size] for i in range(0, len(value), size)] or [""]
    return '""'.join(_escape(c) for c in chunks)


# --- SPF (RFC 7208) -----------------------------------------------------------------------------

SPF_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
SPF_LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})  # §4.6.4
SPF_QUALIFIERS = "+-~?"

_SPF_VERSION = re.compile(r"v=spf1(?= |$)", re.IGNORECASE)
_MODIFIER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9\-_.]*")
_MACRO = re.compile(r"%\{[slodiphcrtv][0-9]*r?[.\-+,/_=]*\}|%%|%_|%-", re.IGNORECASE)
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,61}[A-Za-z0-9_])?")
_TOPLABEL = re.compile(r"(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9])")


def looks_like_spf(text: str) -> bool:
    """A TXT value meant as SPF: it starts with `v=spf1`, in any case (RFC 7208 §4.5).

    Deliberately looser than record selection (which also wants a space after it) so that
    `v=spf1include:…` is reported as broken instead of silently not being SPF.
    """
    return text.lstrip().lower().startswith("v=spf1")


@dataclass(frozen=True)
class SPFMechanism:
    qualifier: str  # one of + - ~ ?; "+" when the term had none
    name: str  # lowercase mechanism name
    domain: str | None = None  # domain-spec, or the network for ip4/ip6
    cidr4: int | None = None
    cidr6: int | None = None
    explicit_qualifier: bool = False

    def __str__(self) -> str:
        text = (self.qualifier if self.explicit_qualifier else "") + self.name
        if self.domain is not None:
            text += ":" + self.domain
        if self.name in ("ip4", "ip6"):
            cidr = self.cidr4 if self.name == "ip4" else self.cidr6
            return text + (f"/{cidr}" if cidr is not None else "")
        if self.cidr4 is not None:
            text += f"/{self.cidr4}"
        if self.cidr6 is not None:
            text += f"//{self.cidr6}"
        return text


@dataclass(frozen=True)
class SPFRecord:
    text: str
    terms: tuple[str, ...]
    mechanisms: tuple[SPFMechanism, ...]
    modifiers: dict[str, str] = field(default_factory=dict)  # lowercase name → value
    dns_lookup_count: int = 0
    all_qualifier: str | None = None  # qualifier of the first `all`, None without one

    @property
    def includes(self) -> tuple[str, ...]:
        """Domains this record hands evaluation to: include targets, then the redirect."""
        found = [m.domain for m in self.mechanisms if m.name == "include" and m.domain]
        if "redirect" in self.modifiers:
            found.append(self.modifiers["redirect"])
        return tuple(found)


def _check_domain_spec(record: str, term: str, spec: str) -> None:
    """RFC 7208 §7.1: a macro-string ending in `.toplabel` (optionally `.`) or in a macro."""
    if not spec:
        raise SPFSyntaxError(record, term, f"{term!r} has an empty domain-spec")
    if any(not 0x21 <= ord(c) <= 0x7E for c in spec):
        raise SPFSyntaxError(record, term, f"{term!r} has a character outside visible ASCII")
    if "%" in _MACRO.sub("", spec):
        raise SPFSyntaxError(record, term, f"{term!r} has a malformed macro")
    name = spec[:-1] if spec.endswith(".") else spec
    ends_in_macro = bool(re.search(f"(?:{_MACRO.pattern})$", spec, re.IGNORECASE))
    labels = name.split(".")
    if not ends_in_macro:
        if len(labels) < 2:
            raise SPFSyntaxError(record, term, f"{term!r} does not name a fully qualified domain")
        if not _TOPLABEL.fullmatch(labels[-1]):
            raise SPFSyntaxError(record, term, f"{term!r} does not end in a valid top-level label")
    if not _MACRO.search(spec) and len(name) > 253:
        raise SPFSyntaxError(record, term, f"{term!r} names a domain over 253 characters")
    for label in labels:
        if not label or not (_MACRO.search(label) or _LABEL.fullmatch(label)):
            raise SPFSyntaxError(record, term, f"{term!r} has a malformed domain label {label!r}")


def check_include_target(spec: str) -> None:
    """Raise SPFSyntaxError unless `spec` may follow `include:` (a domain-spec, RFC 7208 §5.2 and §7.1).

    Labels may hold underscores (`_spf.example.com`, a common name for an include target): the
    domain-spec's labels are macro-strings, not host names. The name must be fully qualified, end in
    a top-level label with a letter, and hold nothing but visible ASCII.
    """
    _check_domain_spec(f"v=spf1 include:{spec}", f"include:{spec}", spec)


def _cidr(record: str, term: str, text: str, maximum: int) -> int:
    if not text.isdigit() or (len(text) > 1 and text[0] == "0") or int(text) > maximum:
        raise SPFSyntaxError(record, term, f"{term!r} has a CIDR length outside 0-{maximum}")
    return int(text)


def _split_dual_cidr(record: str, term: str, arg: str) -> tuple[str, int | None, int | None]:
    cidr4 = cidr6 = None
    if "//" in arg:
        arg, six = arg.split("//", 1)
        cidr6 = _cidr(record, term, six, 128)
    if "/" in arg:
        arg, four = arg.split("/", 1)
        cidr4 = _cidr(record, term, four, 32)
    return arg, cidr4, cidr6


def _parse_mechanism(record: str, term: str) -> SPFMechanism:
    qualifier, body, explicit = "+", term, False
    if term[0] in SPF_QUALIFIERS:
        qualifier, body, explicit = term[0], term[1:], True
    match = re.match(r"[A-Za-z0-9]*", body)
    name = match.group(0).lower() if match else ""
    rest = body[len(name) :]
    if name not in SPF_MECHANISMS:
        if not name and body[:1] in SPF_QUALIFIERS:
            raise SPFSyntaxError(record, term, f"{term!r} has more than one qualifier")
        if not name:
            raise SPFSyntaxError(record, term, f"{term!r} has a bad qualifier or is not a mechanism")
        raise SPFSyntaxError(record, term, f"unknown mechanism {name!r} in {term!r}")
    if rest and rest[0] not in ":/":
        raise SPFSyntaxError(record, term, f"unknown mechanism {body!r}")
    mech = {"qualifier": qualifier, "name": name, "explicit_qualifier": explicit}
    if name == "all":
        if rest:
            raise SPFSyntaxError(record, term, "`all` takes no argument")
        return SPFMechanism(**mech)
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise SPFSyntaxError(record, term, f"`{name}` needs `:domain`")
        _check_domain_spec(record, term, rest[1:])
        return SPFMechanism(**mech, domain=rest[1:])
    if name == "ptr":
        if rest.startswith("/"):
            raise SPFSyntaxError(record, term, "`ptr` takes no CIDR length")
        domain = rest[1:] if rest else None
        if domain is not None:
            _check_domain_spec(record, term, domain)
        return SPFMechanism(**mech, domain=domain)
    if name in ("a", "mx"):
        arg, cidr4, cidr6 = _split_dual_cidr(record, term, rest)
        domain = None
        if arg:
            if not arg.startswith(":"):
                raise SPFSyntaxError(record, term, f"malformed `{name}` term {term!r}")
            domain = arg[1:]
            _check_domain_spec(record, term, domain)
        return SPFMechanism(**mech, domain=domain, cidr4=cidr4, cidr6=cidr6)
    # ip4 / ip6
    if not rest.startswith(":"):
        raise SPFSyntaxError(record, term, f"`{name}` needs `:network`")
    network, _, length = rest[1:].partition("/")
    maximum = 32 if name == "ip4" else 128
    cidr = _cidr(record, term, length, maximum) if "/" in rest[1:] else None
    try:
        address = ipaddress.ip_address(network)
    except ValueError:
        raise SPFSyntaxError(record, term, f"{network!r} is not an IPv{name[-1]} address") from None
    if address.version != int(name[-1]):
        raise SPFSyntaxError(record, term, f"{network!r} is not an IPv{name[-1]} address")
    if name == "ip4":
        return SPFMechanism(**mech, domain=network, cidr4=cidr)
    return SPFMechanism(**mech, domain=network, cidr6=cidr)


def parse_spf(text: str) -> SPFRecord:
    """Parse one SPF record (the character-strings already concatenated, RFC 7208 §3.3).

    `dns_lookup_count` counts the record's own include/a/mx/ptr/exists/redirect terms (a
    redirect too when an `all` makes receivers skip it: such a record is suspect anyway); what
    the included records add is only known by resolving them, which this module never does.
    """
    record = text.strip()
    if not _SPF_VERSION.match(record):
        raise SPFSyntaxError(text, record.split(" ", 1)[0], "an SPF record starts with `v=spf1` and a space")
    terms = tuple(record.split()[1:])
    mechanisms: list[SPFMechanism] = []
    modifiers: dict[str, str] = {}
    for term in terms:
        head = re.match(r"[^:/=]*", term)
        assert head is not None
        if term[len(head.group(0)) : len(head.group(0)) + 1] == "=":
            name, value = term.split("=", 1)
            lowered = name.lower()
            if lowered.lstrip(SPF_QUALIFIERS) in SPF_MECHANISMS:
                # Syntactically an unknown modifier that receivers ignore, so the senders it was
                # meant to authorize silently fail SPF: report the evident typo.
                fixed = name.lstrip(SPF_QUALIFIERS)
                raise SPFSyntaxError(text, term, f"{term!r} writes a mechanism with `=`; use `{fixed}:`")
            if not _MODIFIER_NAME.fullmatch(name):
                raise SPFSyntaxError(text, term, f"{term!r} is neither a mechanism nor a modifier")
            if lowered in ("redirect", "exp"):
                if lowered in modifiers:
                    raise SPFSyntaxError(text, term, f"more than one `{lowered}` modifier")
                _check_domain_spec(text, term, value)
            elif _MACRO.sub("", value).count("%"):
                raise SPFSyntaxError(text, term, f"{term!r} has a malformed macro")
            modifiers[lowered] = value
            continue
        mechanisms.append(_parse_mechanism(text, term))
    lookups = sum(1 for m in mechanisms if m.name in SPF_LOOKUP_TERMS) + ("redirect" in modifiers)
    all_qualifier = next((m.qualifier for m in mechanisms if m.name == "all"), None)
    return SPFRecord(
        text=text,
        terms=terms,
        mechanisms=tuple(mechanisms),
        modifiers=modifiers,
        dns_lookup_count=lookups,
        all_qualifier=all_qualifier,
    )


# --- Tag lists (DKIM and DMARC share the syntax, RFC 6376 §3.2) --------------------------------

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _tag_list(text: str, error: type[DKIMKeyError] | type[DMARCSyntaxError]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue  # a trailing `;` (or an empty spec between two) is allowed
        if "=" not in part:
            raise error(text, part.strip(), f"{part.strip()!r} is not a `tag=value` pair")
        name, value = (s.strip() for s in part.split("=", 1))
        if not _TAG_NAME.fullmatch(name):
            raise error(text, name, f"{name!r} is not a valid tag name")
        key = name.lower()
        if key in tags:
            raise error(text, key, f"tag `{key}` appears more than once")
        tags[key] = value
    return tags


# --- DKIM (RFC 6376 §3.6.1, RFC 8463) -----------------------------------------------------------

DKIM_KEY_TYPES = ("rsa", "ed25519")


@dataclass(frozen=True)
class DKIMRecord:
    text: str
    tags: dict[str, str]
    version: str | None
    key_type: str  # rsa | ed25519
    key_bits: int | None  # None when revoked
    testing: bool  # t=y
    revoked: bool  # p= empty
    flags: tuple[str, ...] = ()
    public_key: bytes = b""


def _der_length(der: bytes, i: int) -> tuple[int, int]:
    first = der[i]
    i += 1
    if first < 0x80:
        return first, i
    count = first & 0x7F
    if count == 0 or count > 4 or i + count > len(der):
        raise ValueError("bad DER length")
    return int.from_bytes(der[i : i + count], "big"), i + count


def _der_integer(der: bytes, i: int) -> tuple[int, int]:
    if der[i] != 0x02:
        raise ValueError("expected INTEGER")
    length, i = _der_length(der, i + 1)
    if length == 0 or i + length > len(der):
        raise ValueError("bad INTEGER")
    return int.from_bytes(der[i : i + length], "big", signed=True), i + length


def _pkcs1_rsa(der: bytes) -> tuple[int, int]:
    """(n, e) of a PKCS#1 RSAPublicKey: SEQUENCE { modulus INTEGER, publicExponent INTEGER }."""
    if not der or der[0] != 0x30:
        raise ValueError("expected SEQUENCE")
    length, i = _der_length(der, 1)
    if i + length != len(der):
        raise ValueError("trailing data")
    n, i = _der_integer(der, i)
    e, i = _der_integer(der, i)
    if i != len(der) or n <= 0 or e <= 1:
        raise ValueError("not an RSA public key")
    return n, e


def _rsa_bits(record: str, der: bytes) -> int:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None  # older cryptography releases read only SubjectPublicKeyInfo here
    if key is not None:
        if not isinstance(key, rsa.RSAPublicKey):
            raise DKIMKeyError(record, "p", f"p= holds {type(key).__name__}, not an RSA key (k=rsa)")
        return key.key_size
    try:
        n, e = _pkcs1_rsa(der)
        return rsa.RSAPublicNumbers(e, n).public_key().key_size
    except (ValueError, IndexError):
        raise DKIMKeyError(
            record, "p", "p= is not an RSA SubjectPublicKeyInfo or RSAPublicKey in DER"
        ) from None


def parse_dkim(text: str) -> DKIMRecord:
    """Parse a DKIM key record (the character-strings already concatenated).

    Raises DKIMKeyError for a malformed tag-list, a wrong `v=`, an unknown `k=`, a `p=` that is
    not base64, or a key that is not what `k=` says.
    """
    tags = _tag_list(text, DKIMKeyError)
    version = tags.get("v")
    if version is not None:
        if next(iter(tags)) != "v":
            raise DKIMKeyError(text, "v", "`v=` must be the first tag")
        if version != "DKIM1":
            raise DKIMKeyError(text, "v", f"v={version} is not DKIM1")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in DKIM_KEY_TYPES:
        raise DKIMKeyError(text, "k", f"unknown key type k={key_type}")
    if "p" not in tags:
        raise DKIMKeyError(text, "p", "the required `p=` tag is missing")
    flags = tuple(f.strip().lower() for f in tags.get("t", "").split(":") if f.strip())
    encoded = re.sub(r"\s+", "", tags["p"])
    if not encoded:
        return DKIMRecord(text, tags, version, key_type, None, "y" in flags, True, flags)
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise DKIMKeyError(text, "p", "p= is not valid base64") from None
    if key_type == "ed25519":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(der)
        except ValueError:
            raise DKIMKeyError(text, "p", "p= is not a 32-byte Ed25519 public key") from None
        bits = 256
    else:
        bits = _rsa_bits(text, der)
    return DKIMRecord(text, tags, version, key_type, bits, "y" in flags, False, flags, der)


# --- DMARC (RFC 7489 §6.3, RFC 9989) ------------------------------------------------------------

DMARC_POLICIES = ("none", "quarantine", "reject")
_MAILTO = re.compile(r"mailto:([^\s,!]+@[^\s,!]+?)(?:!(\d+)([kmgt]?))?", re.IGNORECASE)


def looks_like_dmarc(text: str) -> bool:
    """A TXT value meant as DMARC: it starts with `v=DMARC1` in any case, spaces allowed."""
    return re.match(r"\s*v\s*=\s*dmarc1\b", text, re.IGNORECASE) is not None


@dataclass(frozen=True)
class DMARCReportURI:
    address: str  # the mailbox, without `mailto:`
    size_limit: str | None = None  # e.g. "10m", as written


@dataclass(frozen=True)
class DMARCRecord:
    text: str
    tags: dict[str, str]
    policy: str
    subdomain_policy: str | None = None
    nonexistent_policy: str | None = None
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100
    rua: tuple[DMARCReportURI, ...] = ()
    ruf: tuple[DMARCReportURI, ...] = ()
    fo: tuple[str, ...] = ("0",)
    rf: tuple[str, ...] = ("afrf",)
    ri: int = 86400


def _uris(text: str, tag: str, value: str) -> tuple[DMARCReportURI, ...]:
    uris = []
    for item in value.split(","):
        item = item.strip()
        match = _MAILTO.fullmatch(item)
        if not match:
            raise DMARCSyntaxError(text, tag, f"{tag}= entry {item!r} is not a `mailto:` URI")
        size = (match.group(2) + match.group(3).lower()) if match.group(2) else None
        uris.append(DMARCReportURI(match.group(1), size))
    return tuple(uris)


def _choice(text: str, tags: dict[str, str], tag: str, allowed: tuple[str, ...]) -> str | None:
    if tag not in tags:
        return None
    value = tags[tag].lower()
    if value not in allowed:
        raise DMARCSyntaxError(text, tag, f"{tag}={tags[tag]} is not one of {', '.join(allowed)}")
    return value


def parse_dmarc(text: str) -> DMARCRecord:
    """Parse a DMARC record. `v=DMARC1` must come first and `p=` is required (a record without
    it is ignored by receivers that do not apply RFC 7489's rua fallback); unknown tags are
    kept in `tags` and otherwise ignored, as the RFC asks."""
    tags = _tag_list(text, DMARCSyntaxError)
    if not tags or next(iter(tags)) != "v":
        raise DMARCSyntaxError(text, "v", "a DMARC record starts with `v=DMARC1`")
    if tags["v"] != "DMARC1":
        raise DMARCSyntaxError(text, "v", f"v={tags['v']} must be exactly DMARC1")
    if "p" not in tags:
        raise DMARCSyntaxError(text, "p", "the required `p=` tag is missing")
    policy = _choice(text, tags, "p", DMARC_POLICIES)
    assert policy is not None
    sp = _choice(text, tags, "sp", DMARC_POLICIES)
    np = _choice(text, tags, "np", DMARC_POLICIES)
    adkim = _choice(text, tags, "adkim", ("r", "s")) or "r"
    aspf = _choice(text, tags, "aspf", ("r", "s")) or "r"
    pct = 100
    if "pct" in tags:
        if not tags["pct"].isdigit() or not 0 <= int(tags["pct"]) <= 100:
            raise DMARCSyntaxError(text, "pct", f"pct={tags['pct']} is not an integer from 0 to 100")
        pct = int(tags["pct"])
    ri = 86400
    if "ri" in tags:
        if not tags["ri"].isdigit() or int(tags["ri"]) >= 2**32:
            raise DMARCSyntaxError(text, "ri", f"ri={tags['ri']} is not a number of seconds")
        ri = int(tags["ri"])
    fo: tuple[str, ...] = ("0",)
    if "fo" in tags:
        fo = tuple(f.strip().lower() for f in tags["fo"].split(":"))
        if not fo or any(f not in ("0", "1", "d", "s") for f in fo):
            raise DMARCSyntaxError(text, "fo", f"fo={tags['fo']} is not a `:`-list of 0, 1, d, s")
    rf: tuple[str, ...] = ("afrf",)
    if "rf" in tags:
        rf = tuple(f.strip().lower() for f in tags["rf"].split(":"))
        if any(f not in ("afrf", "iodef") for f in rf):
            raise DMARCSyntaxError(text, "rf", f"rf={tags['rf']} is not a `:`-list of afrf, iodef")
    for flag, allowed in (("psd", ("y", "n", "u")), ("t", ("y", "n"))):
        _choice(text, tags, flag, allowed)
    rua = _uris(text, "rua", tags["rua"]) if "rua" in tags else ()
    ruf = _uris(text, "ruf", tags["ruf"]) if "ruf" in tags else ()
    return DMARCRecord(text, tags, policy, sp, np, adkim, aspf, pct, rua, ruf, fo, rf, ri)
