"""Stage 2 of the pipeline: the resource graph a preview produced, as the engine would hold it.

The program runner (`golive.preview.program`) fills it from the ResourceMonitor calls of a real program
run; the analyzer session (`golive.analysis.analyzer`) turns it into Analyze and AnalyzeStack requests.
Property values stay in wire form (JSON-like dicts as `json_format.MessageToDict` gives them:
unknowns as the engine's sentinel strings, secrets as `{sig: secret, value: …}`), so what the
pack receives is byte-for-byte what the program sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourcePosition:
    file: str  # path relative to the program folder when it lies inside it
    line: int
    column: int = 0


@dataclass(frozen=True)
class CustomTimeouts:
    create: float = 0.0
    update: float = 0.0
    delete: float = 0.0


@dataclass
class ResourceOptions:
    protect: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool | None = None
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    custom_timeouts: CustomTimeouts | None = None


@dataclass
class ResourceNode:
    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]  # wire form, after what the engine's Check would leave
    outputs: dict[str, Any]  # wire form, what a preview knows of the outputs
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider: str | None = None  # URN of the provider resource (explicit or default)
    options: ResourceOptions = field(default_factory=ResourceOptions)
    source: SourcePosition | None = None
    id: str = ""  # "" while unknown (every custom resource in a first preview)
    # Read with `Resource.get` (ReadResource): the engine neither analyzes it nor lists it in AnalyzeStack.
    external: bool = False

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")


@dataclass(frozen=True)
class InvokeRecord:
    token: str
    answered: str  # "placeholder" (values of the declared result type) or "results-file"
    source: SourcePosition | None = None


@dataclass(frozen=True)
class LogMessage:
    severity: str  # "debug", "info", "warning" or "error", as the program logged it to the engine
    message: str
    urn: str = ""


@dataclass
class ResourceGraph:
    project: str
    stack: str
    organization: str = "organization"
    resources: list[ResourceNode] = field(default_factory=list)  # registration order
    invokes: list[InvokeRecord] = field(default_factory=list)
    config: dict[str, str] = field(default_factory=dict)  # "ns:key" -> value, as PULUMI_CONFIG carries it
    secret_keys: list[str] = field(default_factory=list)
    # Within an object or list value of a secret key, the paths of its secure values (StackConfig's):
    # the pack judges each value of such a key by its own secrecy.
    secret_paths: list[str] = field(default_factory=list)
    program_dir: str = ""  # the project folder (Pulumi.yaml); source positions are relative to it
    config_file: str = ""  # the Pulumi.<stack>.yaml `config` was read from; "" when the stack has none
    config_overrides: list[str] = field(default_factory=list)  # keys of `config` that --config set
    messages: list[LogMessage] = field(default_factory=list)  # engine log: pulumi.log.* and golive's notes

    def by_urn(self) -> dict[str, ResourceNode]:
        return {r.urn: r for r in self.resources}
