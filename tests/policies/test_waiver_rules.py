"""Waivers as pure functions (matching, expiry, staleness), their schema, and the pack adapter applying them."""

from __future__ import annotations

from datetime import date, timedelta

import jsonschema
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import proto

from checklist import pack as checklist_pack
from checklist import waivers
from checklist.catalog import CREDENTIAL_TAG, POLICIES, WAIVERS_SCHEMA
from checklist.model import Resource, RuleFinding, Stack
from checklist.recognize import SECRET
from checklist.waivers import Target, WaiverError, apply, evaluate, parse_waiver, parse_waivers
from tests.policies.sdk_servicer import pack_servicer

POLICY = "customerio-secret-rotation"
EXPIRES = date(2026, 12, 31)
PREFIX = "urn:pulumi:production::shop::"
ROOT = Resource("pulumi:pulumi:Stack", "shop-production", urn=f"{PREFIX}pulumi:pulumi:Stack::shop-production")
SECRET_A = Resource(SECRET, "cio-site-id", urn=f"{PREFIX}aws:secretsmanager/secret:Secret::cio-site-id")
SECRET_B = Resource(SECRET, "cio-track", urn=f"{PREFIX}aws:secretsmanager/secret:Secret::cio-track")
STACK = Stack(name="production", project="shop", resources=[ROOT, SECRET_A, SECRET_B])


def raw(**overrides) -> dict:
    return {"reason": "Legacy rotation until CIO-123", "owner": "@payments", "expires": EXPIRES.isoformat(),
            **overrides}


def waiver(**overrides) -> waivers.Waiver:
    return parse_waiver(POLICY, 0, raw(**overrides))


def target(resource: Resource) -> Target:
    return Target(resource.urn, resource.type, resource.name)


# --- parsing -----------------------------------------------------------------------------------------


def test_parse_fills_the_defaults_and_names_by_id_or_place():
    w = waiver()
    assert (w.name, w.stacks, w.resources, w.expires, w.owner) == ("#1", ("*",), ("*",), EXPIRES, "@payments")
    assert parse_waiver(POLICY, 3, raw(id="legacy")).name == "legacy"
    assert parse_waiver(POLICY, 3, raw()).name == "#4"
    assert waiver(stacks=["prod*"]).to_json() == {**raw(), "stacks": ["prod*"]}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"reason": None}, "needs a reason"),
        ({"reason": "   "}, "needs a reason"),
        ({"owner": None}, "needs an owner"),
        ({"owner": "team: payments"}, "owner cannot hold a colon"),
        ({"expires": None}, "needs an expiry date"),
        ({"expires": "2026-02-30"}, "expires: '2026-02-30' is not a date (YYYY-MM-DD)"),
        ({"expires": "20261231"}, "is not a date"),
        ({"expires": "31/12/2026"}, "is not a date"),
        ({"resource": ["x"]}, "unknown key 'resource'"),
        ({"stacks": "production"}, 'stacks must be a list of patterns, such as ["production"]'),
        ({"resources": []}, "resources needs at least one pattern"),
        ({"resources": [""]}, "resources.0: a pattern must be a non-empty string"),
        ({"id": "two words"}, "id must be letters"),
    ],
)
def test_malformed_waivers_name_policy_waiver_and_problem(changes, problem):
    item = {k: v for k, v in raw(**changes).items() if v is not None}
    with pytest.raises(WaiverError) as err:
        parse_waiver(POLICY, 1, item)
    assert str(err.value).startswith(f"{POLICY} waiver #2: ") and problem in str(err.value)


def test_parse_waivers_keeps_the_good_ones_and_reports_the_rest():
    good, errors = parse_waivers(POLICY, [raw(id="a"), raw(reason=""), raw(id="a"), "nope"])
    assert [w.name for w in good] == ["a"]
    assert [str(e) for e in errors] == [
        f"{POLICY} waiver #2: needs a reason",
        f"{POLICY} waiver #3: id 'a' is used twice",
        f"{POLICY} waiver #4: must be an object with reason, owner and expires",
    ]
    assert str(parse_waivers(POLICY, {"reason": "x"})[1][0]) == f"{POLICY}: waivers must be a list of waivers"
    assert parse_waivers(POLICY, None) == ([], [])


def test_today_is_utc_or_golive_today():
    assert waivers.today({"GOLIVE_TODAY": "2027-01-01"}) == date(2027, 1, 1)
    with pytest.raises(ValueError, match="GOLIVE_TODAY: 'tomorrow' is not a date"):
        waivers.today({"GOLIVE_TODAY": "tomorrow"})
    assert abs((waivers.today({}) - date.today()).days) <= 1


def test_schema_accepts_good_waivers_and_catches_what_the_engine_can():
    validator = jsonschema.Draft7Validator(WAIVERS_SCHEMA)
    assert not list(validator.iter_errors([raw(), raw(id="x.y-1", stacks=["prod"], resources=["*"])]))
    for bad in (
        [{k: v for k, v in raw().items() if k != "reason"}],
        [raw(reason=" ")],
        [raw(owner="a:b")],
        [raw(expires="tomorrow")],
        [raw(resource=["typo"])],
        [raw(stacks=[])],
        [raw(id="-x")],
    ):
        assert list(validator.iter_errors(bad)), bad


def test_every_policy_declares_waivers():
    for spec in POLICIES:
        assert spec.schema()["waivers"] is WAIVERS_SCHEMA
    for policy in checklist_pack.build_policies():
        assert "waivers" in policy.config_schema.properties


# --- expiry and matching -------------------------------------------------------------------------------


def test_expiry_applies_through_the_day_and_not_the_day_after():
    w = waiver()
    t = [target(SECRET_A)]
    assert evaluate([w], t, "production", EXPIRES).waived_by == [w]
    assert evaluate([w], t, "production", EXPIRES - timedelta(days=90)).waived_by == [w]
    after = evaluate([w], t, "production", EXPIRES + timedelta(days=1))
    assert after.waived_by == [None]
    assert (after.verdicts[0].status, after.verdicts[0].unwaived) == ("expired", 1)


def test_more_than_90_days_ahead_is_not_applied():
    w = waiver()
    ev = evaluate([w], [target(SECRET_A)], "production", EXPIRES - timedelta(days=91))
    assert ev.waived_by == [None]
    assert ev.verdicts[0].status == "invalid"
    assert "more than 90 days ahead (at most 2026-12-30)" in ev.verdicts[0].problem


@pytest.mark.parametrize(
    ("pattern", "hits"),
    [
        ("*", {"cio-site-id", "cio-track"}),
        ("cio-site-*", {"cio-site-id"}),  # the name
        ("aws:secretsmanager/secret:Secret", {"cio-site-id", "cio-track"}),  # the type
        ("urn:pulumi:production::shop::*::cio-track", {"cio-track"}),  # the URN
        ("CIO-TRACK", set()),  # resource patterns are case-sensitive
        ("aws:s3*", set()),
    ],
)
def test_resource_patterns_match_urn_type_or_name(pattern, hits):
    w = waiver(resources=[pattern])
    assert {t.name for t in (target(SECRET_A), target(SECRET_B)) if w.matches(t)} == hits


@pytest.mark.parametrize(
    ("patterns", "stack", "applies"),
    [
        (["production"], "production", True),
        (["PROD*"], "acme/shop/production", True),  # the stack's own name, case-insensitive
        (["staging"], "production", False),
        (["*"], "anything", True),
    ],
)
def test_stack_patterns(patterns, stack, applies):
    assert waiver(stacks=patterns).for_stack(stack) is applies


def test_first_active_waiver_takes_a_finding_and_others_are_not_stale_for_matching_it():
    first, second = waiver(id="one"), waiver(id="two")
    ev = evaluate([first, second], [target(SECRET_A)], "production", EXPIRES)
    assert ev.waived_by == [first]
    assert [(v.status, v.matched, v.waived) for v in ev.verdicts] == [("active", 1, 1), ("active", 1, 0)]


def test_an_active_waiver_takes_over_from_an_expired_one():
    old, new = waiver(id="old", expires="2026-11-30"), waiver(id="new")
    ev = evaluate([old, new], [target(SECRET_A)], "production", date(2026, 12, 1))
    assert ev.waived_by == [new]
    assert (ev.verdicts[0].status, ev.verdicts[0].unwaived) == ("expired", 0)


# --- apply: what the pack reports ----------------------------------------------------------------------


def findings() -> list[RuleFinding]:
    return [RuleFinding("secret A is not rotated", SECRET_A.urn), RuleFinding("secret B is not rotated", SECRET_B.urn)]


def test_a_waived_finding_is_advisory_and_marked_and_the_rest_untouched():
    out = apply(POLICY, findings(), [raw(resources=["cio-site-*"])], STACK, EXPIRES)
    assert out == [
        RuleFinding(
            "[waived until 2026-12-31 by @payments: Legacy rotation until CIO-123]\nsecret A is not rotated",
            SECRET_A.urn,
            advisory=True,
        ),
        findings()[1],
    ]


def test_the_day_after_expiry_the_finding_is_back_and_the_waiver_reported():
    out = apply(POLICY, findings(), [raw(resources=["cio-site-*"])], STACK, EXPIRES + timedelta(days=1))
    assert out[:2] == findings()
    [notice] = out[2:]
    assert notice.advisory and notice.urn is None
    assert notice.message.startswith("[waiver #1: expired] It expired on 2026-12-31 (owner @payments: ")
    assert "the 1 finding it matched is no longer waived" in notice.message


def test_a_waiver_matching_nothing_is_reported_stale():
    out = apply(POLICY, findings(), [raw(id="ghost", resources=["nothing-*"])], STACK, EXPIRES)
    assert out[:2] == findings()
    assert out[2].message.startswith("[waiver ghost: stale] It matches no finding of this policy in stack production")
    assert apply(POLICY, [], [raw()], STACK, EXPIRES)[0].message.startswith("[waiver #1: stale]")


def test_waivers_for_other_stacks_stay_silent_and_unusable_ones_are_reported():
    assert apply(POLICY, findings(), [raw(stacks=["staging"])], STACK, EXPIRES) == findings()
    out = apply(POLICY, findings(), [raw(expires="2027-06-01"), raw(reason="")], STACK, EXPIRES)
    assert out[:2] == findings()
    assert [n.message for n in out[2:]] == [
        "[waiver #1: not applied] Its findings are not waived: it expires 2027-06-01, more than 90 days ahead "
        "(at most 2027-03-31).",
        "[waiver #2: not applied] Its findings are not waived: needs a reason.",
    ]


def test_stack_level_findings_match_the_root_stack():
    stack_finding = [RuleFinding("no App API key")]
    assert apply(POLICY, stack_finding, [raw(resources=["pulumi:pulumi:Stack"])], STACK, EXPIRES)[0].advisory
    bare = Stack(name="acme/shop/production", project="shop")  # no root resource in the request: the engine's name
    assert waivers.root_target(bare) == Target(
        "urn:pulumi:production::shop::pulumi:pulumi:Stack::shop-production", "pulumi:pulumi:Stack", "shop-production"
    )
    assert apply(POLICY, stack_finding, [raw(resources=["shop-production"])], bare, EXPIRES)[0].advisory


def test_reason_on_several_lines_makes_a_one_line_marker():
    w = waiver(reason="first line\n  second line")
    assert w.marker() == "[waived until 2026-12-31 by @payments: first line second line]"


# --- the pack adapter, through the SDK's servicer ------------------------------------------------------


def _resource(r: Resource) -> proto.AnalyzerResource:
    props = struct_pb2.Struct()
    props.update(dict(r.props))
    return proto.AnalyzerResource(type=r.type, name=r.name, urn=r.urn, properties=props)


@pytest.fixture
def servicer(monkeypatch):
    return pack_servicer(monkeypatch, "shop")


def _analyze(servicer, waivers_config, today: str, monkeypatch) -> list:
    monkeypatch.setenv("GOLIVE_TODAY", today)
    config = struct_pb2.Struct()
    config.update({"waivers": waivers_config})
    servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
        POLICY: proto.PolicyConfig(enforcementLevel=proto.MANDATORY, properties=config)}), None)
    secret = Resource(SECRET, "cio-track", {"name": "customerio/production/track-api-key",
                                            "tags": {CREDENTIAL_TAG: "track-api-key"}},
                      urn="urn:pulumi:production::shop::aws:secretsmanager/secret:Secret::cio-track")
    response = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[_resource(ROOT), _resource(secret)]), None)
    return [d for d in response.diagnostics if d.policyName == POLICY]


def test_the_pack_sends_a_waived_finding_at_advisory_with_its_marker(servicer, monkeypatch):
    [plain] = _analyze(servicer, [], "2026-12-31", monkeypatch)
    assert plain.enforcementLevel == proto.MANDATORY
    [waived] = _analyze(servicer, [raw(resources=["cio-track"])], "2026-12-31", monkeypatch)
    assert waived.enforcementLevel == proto.ADVISORY
    _description, marker, message = waived.message.split("\n", 2)
    assert marker == "[waived until 2026-12-31 by @payments: Legacy rotation until CIO-123]"
    assert message == plain.message.split("\n", 1)[1]


def _levels(found) -> list[tuple[int, str]]:
    """(level, the first line of the policy's message up to its first space after a bracket)."""
    return sorted((d.enforcementLevel, d.message.split("\n")[1].split("] ")[0]) for d in found)


def test_the_pack_blocks_again_the_day_after_and_reports_the_waiver(servicer, monkeypatch):
    found = _analyze(servicer, [raw(resources=["cio-track"])], "2027-01-01", monkeypatch)
    assert [level for level, _ in _levels(found)] == [proto.ADVISORY, proto.MANDATORY]
    assert _levels(found)[0][1] == "[waiver #1: expired"
    assert "[waived" not in "".join(d.message for d in found)


def test_the_pack_does_not_apply_a_waiver_beyond_90_days(servicer, monkeypatch):
    # The engine cannot check a date against today when it reads the config; the pack does.
    found = _analyze(servicer, [raw(resources=["cio-track"], expires="2027-06-01")], "2026-12-01", monkeypatch)
    assert [level for level, _ in _levels(found)] == [proto.ADVISORY, proto.MANDATORY]
    assert _levels(found)[0][1] == "[waiver #1: not applied"
