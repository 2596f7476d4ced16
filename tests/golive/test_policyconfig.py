"""`--policy-pack-config`: parsed, reconciled and validated as pkg/resource/analyzer/config.go does."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime.proto import analyzer_pb2

from checklist import catalog
from golive.analysis import policyconfig
from golive.analysis.policyconfig import (
    ConfigError,
    PackInfo,
    PolicyConfig,
    PolicyInfo,
    configure_request,
    load,
    parse,
    reconcile,
    validate,
)

SCHEMA = {
    "maxBuckets": {"type": "integer", "minimum": 0, "default": 10.0},  # Struct numbers arrive as floats
    "label": {"type": "string", "default": "from-schema"},
    "modes": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
}


def pack(initial=None, supports_config=True) -> PackInfo:
    return PackInfo(
        name="fixture",
        version="1.2.3",
        description="",
        supports_config=supports_config,
        policies=(
            PolicyInfo(
                "bucket-versioning",
                "Buckets keep versions.",
                "mandatory",
                "high",
                "resource",
                config_schema=SCHEMA,
            ),
            PolicyInfo(
                "needs-owner",
                "Owner is set.",
                "advisory",
                "",
                "stack",
                config_schema={"owner": {"type": "string"}},
                required=("owner",),
            ),
            PolicyInfo("plain", "No config.", "mandatory", "", "stack"),
        ),
        initial_config=initial or {},
    )


OWNER = {"needs-owner": PolicyConfig("", {"owner": "team-a"})}


def write(tmp_path, data) -> str:
    path = tmp_path / "policy-config.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_parse_levels_and_objects():
    parsed = parse(
        {
            "plain": "advisory",
            "bucket-versioning": {"enforcementLevel": "disabled", "maxBuckets": 2},
            "needs-owner": {"owner": "x"},
            "empty": {},
        }
    )
    assert parsed == {
        "plain": PolicyConfig("advisory"),
        "bucket-versioning": PolicyConfig("disabled", {"maxBuckets": 2}),
        "needs-owner": PolicyConfig("", {"owner": "x"}),
    }  # empty entries are dropped


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"plain": "blocking"},
            "parsing enforcement level for 'plain': 'blocking' is not a valid enforcement level",
        ),
        (
            {"plain": {"enforcementLevel": 3}},
            "parsing enforcement level for 'plain': 3 is not a valid enforcement level; must be a string",
        ),
        ({"plain": {"enforcementLevel": "loud"}}, "'loud' is not a valid enforcement level"),
        ({"plain": 7}, "parsing 'plain': a int is not a valid value; must be a string or object"),
        ([1, 2], "must be a JSON object"),
        ({"environments": ["org/env"]}, "ESC environments cannot be resolved offline"),
    ],
)
def test_parse_errors_name_the_file_and_key(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).startswith(path + ": ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_load_handles_missing_empty_and_broken_files(tmp_path):
    assert load(None) is None
    assert load(write(tmp_path, "  \n")) == {}
    with pytest.raises(ConfigError, match=r"not JSON: .* at line 1"):
        load(write(tmp_path, "{nope"))
    with pytest.raises(ConfigError, match=r"nothing\.json: cannot read"):
        load(tmp_path / "nothing.json")


def test_precedence_defaults_then_initial_config_then_file():
    initial = {"bucket-versioning": PolicyConfig("mandatory", {"maxBuckets": 5.0})}
    only_defaults = reconcile(pack(), OWNER)
    assert only_defaults["bucket-versioning"] == PolicyConfig(
        "mandatory", {"maxBuckets": 10.0, "label": "from-schema"}
    )
    with_initial = reconcile(pack(initial), OWNER)
    assert with_initial["bucket-versioning"].properties == {"maxBuckets": 5.0, "label": "from-schema"}
    with_file = reconcile(pack(initial), {**OWNER, "bucket-versioning": PolicyConfig("", {"maxBuckets": 3})})
    assert with_file["bucket-versioning"] == PolicyConfig(
        "mandatory", {"maxBuckets": 3, "label": "from-schema"}
    )
    # Configure gets every policy, each with its own level when nothing overrides it.
    assert with_file["plain"] == PolicyConfig("mandatory", None)
    assert with_file["needs-owner"] == PolicyConfig("advisory", {"owner": "team-a"})


def test_all_sets_every_level_and_is_passed_on():
    result = reconcile(pack(), {**OWNER, "all": PolicyConfig("advisory"), "plain": PolicyConfig("disabled")})
    assert {k: v.enforcement_level for k, v in result.items()} == {
        "bucket-versioning": "advisory",
        "needs-owner": "advisory",
        "plain": "disabled",
        "all": "advisory",
    }


def test_all_without_a_level_is_refused():
    with pytest.raises(ConfigError, match='"all": needs an enforcementLevel'):
        reconcile(pack(), {"all": PolicyConfig("", {"x": 1})}, source="cfg.json")


def test_unknown_policy_names_it_and_the_file():
    with pytest.raises(ConfigError) as err:
        reconcile(pack(), {**OWNER, "bucket-versoning": PolicyConfig("advisory")}, source="cfg.json")
    message = str(err.value)
    assert message.startswith("cfg.json: 'bucket-versoning' is not a policy of pack fixture@v1.2.3")
    assert "bucket-versioning, needs-owner, plain" in message


def test_schema_violation_names_policy_property_and_complaint_not_the_value():
    with pytest.raises(ConfigError) as err:
        reconcile(
            pack(),
            {**OWNER, "bucket-versioning": PolicyConfig("", {"maxBuckets": "s3cr3t-value"})},
            source="cfg.json",
        )
    message = str(err.value)
    assert message == (
        "cfg.json: validating policy config: fixture 1.2.3  "
        "bucket-versioning: maxBuckets: expected integer, given string"
    )
    assert "s3cr3t-value" not in message


def test_every_violation_is_reported_on_one_line():
    with pytest.raises(ConfigError) as err:
        reconcile(
            pack(),
            {"bucket-versioning": PolicyConfig("", {"maxBuckets": -1, "modes": ["a", "z"]})},
            source="cfg.json",
        )
    message = str(err.value)
    assert "\n" not in message
    assert "bucket-versioning: maxBuckets: must be >= 0" in message
    assert 'bucket-versioning: modes.1: must be one of ["a", "b"]' in message
    assert "needs-owner: 'owner' is a required property" in message  # required even with no file entry


def test_validate_accepts_the_floats_a_struct_turns_integers_into():
    config = reconcile(pack(), OWNER)
    assert validate(pack(), config) == []


def test_pack_without_config_support():
    assert reconcile(pack(supports_config=False), None) == {}
    with pytest.raises(ConfigError, match="does not support config"):
        reconcile(pack(supports_config=False), {"plain": PolicyConfig("advisory")}, source="cfg.json")


def test_configure_request_wire_form():
    request = configure_request(
        {"bucket-versioning": PolicyConfig("remediate", {"maxBuckets": 3}), "plain": PolicyConfig("disabled")}
    )
    assert isinstance(request, analyzer_pb2.ConfigureAnalyzerRequest)
    assert json_format.MessageToDict(request) == {
        "policyConfig": {
            "bucket-versioning": {"enforcementLevel": "REMEDIATE", "properties": {"maxBuckets": 3.0}},
            "plain": {"enforcementLevel": "DISABLED", "properties": {}},
        }
    }
    with pytest.raises(ConfigError, match="invalid enforcement level ''"):
        configure_request({"ghost": PolicyConfig("")})


# --- validation's quick path (fastjsonschema) never disagrees with the one that reports (jsonschema) ----

def as_struct(value):
    """What a value becomes on the wire: a protobuf Struct, whose numbers are all floats."""
    return json_format.MessageToDict(json_format.ParseDict({"v": value}, struct_pb2.Struct()))["v"]


def real_pack() -> PackInfo:
    """This repository's pack as the engine receives it: every schema through a Struct."""
    return PackInfo(
        name="golive-customerio", version="0.1.0", description="", supports_config=True,
        policies=tuple(PolicyInfo(spec.name, spec.description, spec.level, spec.severity, "resource",
                                  config_schema=as_struct(spec.schema())) for spec in catalog.POLICIES),
        initial_config={},
    )


def test_the_real_packs_defaults_take_the_quick_path():
    info = real_pack()
    defaults = reconcile(info, None)
    assert policyconfig._valid_at_a_glance(info, defaults)
    assert policyconfig._validation_errors(info, defaults) == []


def test_an_invalid_value_is_reported_by_jsonschema_with_its_message():
    info = real_pack()
    config = {"customerio-secret-rotation": PolicyConfig("", {"maxDays": "ninety"})}
    assert not policyconfig._valid_at_a_glance(info, config)
    assert validate(info, config) == ["customerio-secret-rotation: maxDays: expected number, given string"]


def test_production_stacks_must_be_names():
    info = real_pack()
    config = {"customerio-region": PolicyConfig("", {"productionStacks": ["prd", ""]}),
              "email-spf-record": PolicyConfig("", {"productionStacks": "prd"})}
    region, spf = validate(info, config)
    assert region.startswith("customerio-region: productionStacks.1: does not satisfy minLength")
    assert spf == "email-spf-record: productionStacks: expected array, given string"
    assert validate(info, {"pack-config-not-looser": PolicyConfig("", {"productionStacks": ["prd"]})}) == []


def test_validation_leaves_the_config_as_it_was():
    # fastjsonschema would write nested defaults into the value it checks, and the pack would get them.
    info = PackInfo(name="nested", version="1", description="", supports_config=True, initial_config={},
                    policies=(PolicyInfo("p", "", "mandatory", "", "resource", config_schema={
                        "limits": {"type": "object", "properties": {"max": {"type": "number", "default": 5}}},
                        "when": {"type": "string", "format": "date"}}),))
    config = {"p": PolicyConfig("", {"limits": {}, "when": "not a date"})}
    assert policyconfig._valid_at_a_glance(info, config)  # formats are annotations, as for jsonschema
    assert validate(info, config) == []
    assert config["p"].properties == {"limits": {}, "when": "not a date"}


def test_a_missing_required_property_is_not_valid_at_a_glance():
    config = {**reconcile(pack(), OWNER), "needs-owner": PolicyConfig("", {})}
    assert not policyconfig._valid_at_a_glance(pack(), config)
    assert validate(pack(), config) == ["needs-owner: 'owner' is a required property"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 200) | st.floats(-3, 200, allow_nan=False).map(lambda f: round(f, 1))
    | st.text("ab1-*. ", max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abcdeimnorstxyz_", max_size=10), inner,
                                                                max_size=3),
    max_leaves=6,
)


@st.composite
def configs(draw, info: PackInfo):
    out = {}
    for policy in draw(st.lists(st.sampled_from(info.policies), max_size=3, unique_by=lambda p: p.name)):
        names = [*sorted(policy.config_schema or {}), "enforcementLevel"]
        props = draw(st.dictionaries(st.sampled_from(names), JSON, max_size=3))
        out[policy.name] = PolicyConfig("", props)
    return out


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_quick_path_agrees_with_jsonschema(data):
    for info in (pack(), real_pack()):
        base = reconcile(info, OWNER if info.name == "fixture" else None)
        config = {**base, **data.draw(configs(info))}
        quick = policyconfig._valid_at_a_glance(info, config)
        assert quick == (policyconfig._validation_errors(info, config) == []), config
