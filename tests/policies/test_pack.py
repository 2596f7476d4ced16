"""The pack adapter over the pinned pulumi-policy SDK: hooks, one shared stack, and linear cost."""

from __future__ import annotations

import gc
import json

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import policy as sdk

from bench.synthetic import synthetic_graph
from checklist import emailauth
from checklist import pack as checklist_pack
from checklist.model import Resource, Stack, plain
from checklist.rules import run
from tests.policies.sdk_servicer import pack_servicer


def _request(graph) -> proto.AnalyzeStackRequest:
    resources = []
    for node in graph.resources:
        props = struct_pb2.Struct()
        props.update(node.outputs)
        resources.append(proto.AnalyzerResource(
            type=node.type, name=node.name, urn=node.urn, properties=props, parent=node.parent or "",
            dependencies=node.dependencies,
            propertyDependencies={k: proto.AnalyzerPropertyDependencies(urns=v)
                                  for k, v in node.property_dependencies.items() if v},
        ))
    return proto.AnalyzeStackRequest(resources=resources)


@pytest.fixture
def servicer(monkeypatch):
    return pack_servicer(monkeypatch, "estate")


def test_analyze_stack_reports_what_the_rules_find_and_the_sdk_builds_no_copies(servicer, monkeypatch):
    graph = synthetic_graph(2000)
    seen_by_sdk = []
    validate = sdk.StackValidationPolicy.validate

    def spy(self, args, report_violation):
        seen_by_sdk.append(len(args.resources))
        return validate(self, args, report_violation)

    monkeypatch.setattr(sdk.StackValidationPolicy, "validate", spy)
    response = servicer.AnalyzeStack(_request(graph), None)
    assert seen_by_sdk and set(seen_by_sdk) == {0}  # the SDK's per-policy copies are not built

    stack = Stack(name="production", project="estate", resources=[
        Resource(type=n.type, name=n.name, urn=n.urn, props=plain(json_format.MessageToDict(_struct(n.outputs))),
                 parent=n.parent, dependencies=tuple(n.dependencies),
                 property_dependencies={k: tuple(v) for k, v in n.property_dependencies.items()})
        for n in graph.resources
    ])
    expected = sorted((spec.name, f.urn or "", f.message) for spec in checklist_pack.POLICIES
                      for f in run(spec.name, stack))
    # The SDK puts the policy's description in front of the message; the pack, what made the stack
    # production in front of each finding that blocks because it is.
    marker = "[production: its name production matches 'production']\n"
    bodies = [d.message.split("\n", 1)[-1] for d in response.diagnostics]
    assert all(b.startswith(marker) == (d.enforcementLevel == proto.MANDATORY)
               for b, d in zip(bodies, response.diagnostics, strict=True))
    got = sorted((d.policyName, d.urn, b.removeprefix(marker)) for b, d in zip(bodies, response.diagnostics,
                                                                               strict=True))
    assert got == expected and got  # the synthetic estate breaks a few items


def _struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def test_collection_is_paused_during_the_call_and_restored(servicer, monkeypatch):
    states = []
    original = checklist_pack._current_stack

    def spy():
        states.append(gc.isenabled())
        return original()

    monkeypatch.setattr(checklist_pack, "_current_stack", spy)
    assert gc.isenabled()
    servicer.AnalyzeStack(_request(synthetic_graph(100)), None)
    assert states and not any(states)
    assert gc.isenabled()
    gc.disable()
    try:
        servicer.AnalyzeStack(_request(synthetic_graph(100)), None)
        assert not gc.isenabled()  # a caller's choice is left as it was
    finally:
        gc.enable()


def test_of_type_keeps_registration_order_across_types():
    resources = [Resource("a:b:C", "c1"), Resource("a:b:D", "d1"), Resource("a:b:C", "c2"), Resource("a:b:E", "e1"),
                 Resource("a:b:D", "d2")]
    stack = Stack(resources=resources)
    assert [r.name for r in stack.of_type("a:b:D", "a:b:C")] == ["c1", "d1", "c2", "d2"]
    assert [r.name for r in stack.of_type("a:b:C", "a:b:C")] == ["c1", "c2"]
    assert [r.name for r in stack.of_type("a:b:X")] == []
    assert [r.name for r in stack.of_type("a:b:E")] == ["e1"]


def test_preload_loads_the_public_suffix_list_once():
    emailauth.preload()
    first = emailauth._psl()
    emailauth.preload()
    assert emailauth._psl() is first
    assert emailauth.organizational_domain("cio123.mail.example.co.uk") == "example.co.uk"


def test_stack_context_reaches_the_rules_from_configure_stack(servicer):
    request = proto.AnalyzerStackConfigureRequest(stack="staging", project="p", config={"a:b": "c"},
                                                  config_secret_keys=["a:b"])
    servicer.ConfigureStack(request, None)
    assert checklist_pack._stack_context["secret_keys"] == frozenset({"a:b"})
    assert json.loads(json.dumps(checklist_pack._stack_context["config"])) == {"a:b": "c"}


def test_configure_keeps_the_whole_config_and_runs_the_guard_at_its_level(servicer, monkeypatch):
    monkeypatch.setattr(checklist_pack, "_pack_config", {})
    props = struct_pb2.Struct()
    props.update({"maxDays": 365})
    request = proto.ConfigureAnalyzerRequest(policyConfig={
        "customerio-secret-rotation": proto.PolicyConfig(enforcementLevel=proto.ADVISORY, properties=props),
        "pack-config-not-looser": proto.PolicyConfig(enforcementLevel=proto.DISABLED),
    })
    servicer.Configure(request, None)
    assert checklist_pack._pack_config == {
        "customerio-secret-rotation": {"enforcementLevel": "advisory", "maxDays": 365},
        "pack-config-not-looser": {"enforcementLevel": "disabled"},
    }
    levels = servicer._PolicyAnalyzerServicer__policy_pack_config_enforcement_level  # the SDK's own
    assert levels["pack-config-not-looser"] == sdk.EnforcementLevel.MANDATORY
    assert levels["customerio-secret-rotation"] == sdk.EnforcementLevel.ADVISORY
    assert request.policyConfig["pack-config-not-looser"].enforcementLevel == proto.DISABLED  # left as sent
