"""golive.preview.urns: URNs, provider references and stack names by the engine's rules, checked against
a `pulumi stack export` file and against what the program path and the state path make of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golive.analysis.findings import _type_and_name
from golive.errors import GoliveError
from golive.preview import urns
from golive.preview.project import load_project, load_stack_config
from golive.preview.state import load_state

EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "state" / "shop-production.json"
ROOT = Path(__file__).resolve().parents[2]


def _resources() -> list[dict]:
    return json.loads(EXPORT.read_text(encoding="utf-8"))["deployment"]["resources"]


def test_every_urn_of_an_export_parses_back_into_itself():
    for resource in _resources():
        parsed = urns.parse(resource["urn"])
        assert parsed is not None, resource["urn"]
        assert (parsed.stack, parsed.project) == ("production", "shop")
        assert f"urn:pulumi:{parsed.stack}::{parsed.project}::{parsed.qualified_type}::{parsed.name}" == resource["urn"]
        assert parsed.type == resource["type"]  # the export's type is the URN's own, without parents'
        assert urns.urn_parts(resource["urn"]) == tuple(parsed)  # the program path reads it the same way


def test_a_provider_reference_of_an_export_names_its_provider_and_id():
    by_urn = {r["urn"]: r for r in _resources()}
    references = [r["provider"] for r in _resources() if r.get("provider")]
    assert references
    for ref in references:
        provider = by_urn[urns.provider_urn(ref)]
        assert provider["type"].startswith("pulumi:providers:")
        assert ref == f"{provider['urn']}::{provider['id']}"
    # ... and the state path keeps the URN, as the program path's graph does
    graph = load_state(EXPORT).graph
    assert {n.provider for n in graph.resources if n.provider} == {urns.provider_urn(ref) for ref in references}


def test_a_name_may_hold_the_delimiter():
    urn = "urn:pulumi:dev::app::aws:s3/bucket:Bucket::odd::name"
    assert urns.parse(urn) == urns.Urn("dev", "app", "aws:s3/bucket:Bucket", "odd::name")
    assert urns.provider_urn("urn:pulumi:dev::app::pulumi:providers:aws::a::b::0123") == (
        "urn:pulumi:dev::app::pulumi:providers:aws::a::b")
    assert _type_and_name("urn:pulumi:dev::app::my:comp:Comp$aws:s3/bucket:Bucket::x::y") == (
        "aws:s3/bucket:Bucket", "x::y")


@pytest.mark.parametrize("urn", ["", "arn:aws:s3:::bucket", "urn:pulumi:dev::app::aws:s3/bucket:Bucket",
                                 "urn:other:dev::app::t::n"])
def test_what_is_not_a_urn(urn):
    assert urns.parse(urn) is None
    assert _type_and_name(urn) == ("", "")


@pytest.mark.parametrize(("stack", "parts"), [
    ("prod", ("organization", None, "prod")),
    ("acme/prod", ("acme", None, "prod")),
    ("acme/shop/prod", ("acme", "shop", "prod")),
])
def test_the_three_forms_of_a_stack_name(stack, parts):
    assert urns.split_stack(stack) == parts


@pytest.mark.parametrize("stack", ["a/b/c/d", "a//b", "/prod", "prod/"])
def test_a_stack_name_of_no_form_is_refused_alike_by_the_program_and_the_state_paths(stack):
    with pytest.raises(ValueError, match=r"expected NAME, ORG/NAME or ORG/PROJECT/NAME"):
        urns.split_stack(stack)
    with pytest.raises(GoliveError) as by_program:
        load_stack_config(load_project(ROOT), stack)
    with pytest.raises(GoliveError) as by_state:
        load_state(EXPORT, stack=stack)
    expected = f"--stack {stack!r}: expected NAME, ORG/NAME or ORG/PROJECT/NAME"
    assert str(by_program.value) == str(by_state.value) == expected
