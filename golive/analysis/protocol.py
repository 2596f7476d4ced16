"""The analyzer protocol's messages as golive's values, and golive's values as its messages.

A resource's options, provider and inputs become the AnalyzerResourceOptions, AnalyzerProviderResource
and Struct the engine sends (pkg/resource/plugin/analyzer_plugin.go, pulumi/pulumi 3.260); AnalyzerInfo
becomes a `PackInfo`, and golive keeps the pack's answers as `Diagnostic` and `Remediation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format, struct_pb2

from golive.analysis.policyconfig import PackInfo, PolicyConfig, PolicyInfo
from golive.preview import _proto, urns
from golive.preview.graph import ResourceGraph, ResourceNode
from golive.preview.urns import STACK_TYPE
from golive.preview.wire import engine_view

if TYPE_CHECKING:
    from pulumi.runtime.proto import analyzer_pb2

    from golive.analysis.packprocess import PackProject
else:
    analyzer_pb2 = _proto.load("analyzer_pb2")


LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
SEVERITIES = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
POLICY_TYPES = {
    analyzer_pb2.POLICY_TYPE_UNKNOWN: "",
    analyzer_pb2.POLICY_TYPE_RESOURCE: "resource",
    analyzer_pb2.POLICY_TYPE_STACK: "stack",
}


@dataclass(frozen=True)
class Diagnostic:
    """An AnalyzeDiagnostic as the engine shows it (what that changes: `golive.analysis.analyzer`'s docstring)."""

    policy_name: str
    policy_pack_name: str
    policy_pack_version: str
    description: str
    message: str
    enforcement_level: str
    severity: str
    urn: str  # the resource the engine attributes it to
    reported_urn: str  # what the pack put in the diagnostic ("" for none)
    phase: str  # "remediate" | "analyze" | "analyzeStack"


@dataclass(frozen=True)
class Remediation:
    policy_name: str
    policy_pack_name: str
    policy_pack_version: str
    urn: str


def to_struct(props: Mapping[str, Any], *, skip_internal: bool = True) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    # SkipInternalKeys drops only the top level: nested `__` keys reach the pack.
    s.update({k: engine_view(v) for k, v in props.items() if not (skip_internal and k.startswith("__"))})
    return s


def root_stack_urn(graph: ResourceGraph) -> str:
    for node in graph.resources:
        if node.type == STACK_TYPE and not node.parent:
            return node.urn
    # resource.DefaultRootStackURN; the Python SDK names the stack resource "<project>-<stack>".
    return f"urn:pulumi:{graph.stack}::{graph.project}::{STACK_TYPE}::{graph.project}-{graph.stack}"


def _options(node: ResourceNode) -> analyzer_pb2.AnalyzerResourceOptions:
    opts = node.options
    timeouts = opts.custom_timeouts
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=opts.protect,
        ignoreChanges=list(opts.ignore_changes),
        deleteBeforeReplace=bool(opts.delete_before_replace),
        deleteBeforeReplaceDefined=opts.delete_before_replace is not None,
        additionalSecretOutputs=list(opts.additional_secret_outputs),
        aliases=list(opts.aliases),
        # The engine always sends the message, zeros when the resource sets none.
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=timeouts.create if timeouts else 0.0,
            update=timeouts.update if timeouts else 0.0,
            delete=timeouts.delete if timeouts else 0.0,
        ),
        parent=node.parent or "",
    )


def urn_name(urn: str, fallback: str) -> str:
    # The engine sends URN.Name(), which may itself hold "::".
    parsed = urns.parse(urn)
    return parsed.name if parsed else fallback


def _provider(
    node: ResourceNode, nodes: Mapping[str, ResourceNode]
) -> analyzer_pb2.AnalyzerProviderResource | None:
    if not node.provider or node.is_provider:
        return None
    # A provider reference is "URN::ID"; the graph may keep either.
    provider = nodes.get(node.provider) or nodes.get(urns.provider_urn(node.provider))
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type,
        name=urn_name(provider.urn, provider.name),
        urn=provider.urn,
        properties=to_struct(provider.inputs),
    )


class RequestParts:
    """The parts of a resource's requests that Remediate, Analyze and AnalyzeStack share, built once:
    its options, and its provider (one message per provider, however many resources use it)."""

    def __init__(self, nodes: Mapping[str, ResourceNode]) -> None:
        self.nodes = nodes
        self._providers: dict[str, analyzer_pb2.AnalyzerProviderResource | None] = {}
        self._options: dict[str, analyzer_pb2.AnalyzerResourceOptions] = {}

    def options(self, node: ResourceNode) -> analyzer_pb2.AnalyzerResourceOptions:
        found = self._options.get(node.urn)
        if found is None:
            found = self._options[node.urn] = _options(node)
        return found

    def provider(self, node: ResourceNode) -> analyzer_pb2.AnalyzerProviderResource | None:
        if not node.provider or node.is_provider:
            return None
        if node.provider not in self._providers:
            self._providers[node.provider] = _provider(node, self.nodes)
        return self._providers[node.provider]


def pack_info_from_proto(info: analyzer_pb2.AnalyzerInfo, project: PackProject | None = None) -> PackInfo:
    policies = []
    for p in info.policies:
        schema = json_format.MessageToDict(p.configSchema.properties) if p.HasField("configSchema") else {}
        policies.append(
            PolicyInfo(
                name=p.name,
                description=p.description,
                enforcement_level=LEVELS.get(p.enforcementLevel, ""),
                severity=SEVERITIES.get(p.severity, ""),
                policy_type=POLICY_TYPES.get(p.policy_type, ""),
                config_schema=schema,
                required=tuple(p.configSchema.required),
                tags=tuple(p.tags),
                remediation_steps=p.remediation_steps,
                url=p.url,
                display_name=p.displayName,
            )
        )
    policies.sort(key=lambda p: p.name)
    # convertPolicyConfig: an entry that names no level arrives as ADVISORY (the enum's zero), so the
    # engine applies "advisory" to it; properties arrive as a map, empty when none.
    initial = {
        k: PolicyConfig(LEVELS.get(v.enforcementLevel, ""), json_format.MessageToDict(v.properties))
        for k, v in info.initialConfig.items()
    }
    return PackInfo(
        name=info.name,
        version=(project.version if project and project.version else info.version),
        description=info.description or (project.description if project else ""),
        supports_config=info.supportsConfig,
        policies=tuple(policies),
        initial_config=initial,
        display_name=info.displayName,
        tags=tuple(info.tags),
        repository=info.repository,
    )


__all__ = [
    "LEVELS",
    "POLICY_TYPES",
    "SEVERITIES",
    "Diagnostic",
    "Remediation",
    "RequestParts",
    "pack_info_from_proto",
    "root_stack_urn",
    "to_struct",
    "urn_name",
]
