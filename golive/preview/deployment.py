"""The engine side of an offline preview: the deployment that a program's ResourceMonitor and Engine
calls act on (`services` serves them over gRPC).

It answers as the engine does in a preview of a stack that does not exist yet
(pkg/resource/deploy/source_eval.go at 3.260): every custom resource is a create, whose id is unknown ("")
and whose outputs are its inputs with the provider's computed outputs unknown; components get their URN
and no outputs; custom resources without an explicit provider get the engine's default provider for
their package. Transforms run through the program's callback server as the engine runs them. Every
registration is recorded, in order, as a `ResourceNode` of the `ResourceGraph`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import grpc

from golive.preview import _proto, urns

if TYPE_CHECKING:
    from pulumi.runtime.proto import alias_pb2, callback_pb2, callback_pb2_grpc, resource_pb2
else:
    alias_pb2 = _proto.load("alias_pb2")
    callback_pb2 = _proto.load("callback_pb2")
    callback_pb2_grpc = _proto.load("callback_pb2_grpc")
    resource_pb2 = _proto.load("resource_pb2")

from golive.preview.durations import duration_seconds
from golive.preview.graph import (
    CustomTimeouts,
    InvokeRecord,
    LogMessage,
    ResourceGraph,
    ResourceNode,
    ResourceOptions,
    SourcePosition,
)
from golive.preview.invokes import STACK_REFERENCE, OfflineProviders
from golive.preview.provider_schema import computed_outputs
from golive.preview.refusal import MonitorError
from golive.preview.structs import add_property_dependencies, check_assets, strip_secrets, to_dict, to_struct
from golive.preview.urns import (
    PROVIDER_PREFIX,
    STACK_TYPE,
    create_urn,
    default_provider_name,
    is_type_token,
    make_urn,
    package_of,
    qualified_type,
    urn_parts,
)
from golive.preview.wire import (
    SECRET_SIG,
    SIG,
    UNKNOWN,
    contains_unknowns,
    downgrade_outputs,
    engine_view,
    output_dependencies,
    upgrade_to_outputs,
)
from golive.preview.wire import signature as _sig

# source_eval.go supportsFeatureID: the string ids older SDKs probe with SupportsFeature.
SUPPORTED_FEATURE_IDS = frozenset({
    "secrets", "resourceReferences", "outputValues", "aliasSpecs", "replacementTrigger", "deletedWith",
    "replaceWith", "transforms", "invokeTransforms", "parameterization", "resourceHooks", "errorHooks",
    "sendsOptionsToHooks",
})
# source_eval.go supportedMonitorFeatures: the same, plus byte strings and invoke dependsOn/parent,
# for SDKs that ask GetDeploymentInfo (state migrations stay off, as in a default deployment).
SUPPORTED_FEATURES = (
    resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
    resource_pb2.RESOURCE_MONITOR_FEATURE_OUTPUT_VALUES,
    resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER,
    resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
    resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACE_WITH,
    resource_pb2.RESOURCE_MONITOR_FEATURE_TRANSFORMS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_TRANSFORMS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_PARAMETERIZATION,
    resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_HOOKS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_ERROR_HOOKS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_SENDS_OPTIONS_TO_HOOKS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_BYTE_STRING,
    resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON,
    resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_PARENT,
)


@dataclass
class _Goal:
    custom: bool
    protect: bool | None
    retain_on_delete: bool | None
    deleted_with: str
    provider: str  # provider reference `urn::id`, "" if none


@dataclass
class _Hook:
    name: str
    callback: callback_pb2.Callback
    on_dry_run: bool
    ignore_errors: bool = False


@dataclass
class Preview:
    """The state of one offline preview, shared by the ResourceMonitor and Engine services."""

    project: str
    stack: str
    organization: str
    root_dir: Path  # project folder: source positions are made relative to it
    pwd: Path  # the program's working directory: relative asset paths resolve against it
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)
    providers: OfflineProviders = field(default_factory=OfflineProviders)
    parallel: int = 8
    callback_timeout: float = 120.0
    # Called with each resource as it is recorded, in registration order (under the lock: be quick).
    on_register: Callable[[ResourceNode], None] | None = None
    # Called once with the graph when the program signals that it has registered everything
    # (SignalAndWaitForShutdown); its process may still be ending, and its run may still fail.
    on_shutdown: Callable[[ResourceGraph], None] | None = None

    def __post_init__(self) -> None:
        self.graph = ResourceGraph(project=self.project, stack=self.stack, organization=self.organization,
                                   config=dict(self.config), secret_keys=list(self.secret_keys),
                                   program_dir=str(self.root_dir))
        self.lock = threading.RLock()
        self.nodes: dict[str, ResourceNode] = {}
        self.goals: dict[str, _Goal] = {}
        self.parents: dict[str, str] = {}
        self.resource_transforms: dict[str, list[callback_pb2.Callback]] = {}
        self.stack_transforms: list[callback_pb2.Callback] = []
        self.stack_invoke_transforms: list[callback_pb2.Callback] = []
        self.component_providers: dict[str, dict[str, str]] = {}
        self.default_providers: dict[tuple[str, str, str], str] = {}
        self.packages: dict[str, tuple[str, str, str]] = {}
        self.hooks: dict[str, _Hook] = {}
        self.root_urn = ""
        self._channels: dict[str, grpc.Channel] = {}
        self._source_files: dict[str, str] = {}  # source position URI -> file as reported
        self.shutdown_signalled = False

    def signal_shutdown(self) -> bool:
        """The program has registered everything; False if it had said so already."""
        with self.lock:
            if self.shutdown_signalled:
                return False
            self.shutdown_signalled = True
        if self.on_shutdown is not None:
            self.on_shutdown(self.graph)
        return True

    # -- diagnostics --

    def log(self, severity: str, message: str, urn: str = "") -> None:
        with self.lock:
            self.graph.messages.append(LogMessage(severity=severity, message=message, urn=urn))

    def close(self) -> None:
        with self.lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()

    # -- helpers --

    def _source(self, pos: Any) -> SourcePosition | None:
        """sourcePositions.parseSourcePosition: file:// URIs, relative to the project folder."""
        if pos is None or not pos.uri:
            return None
        file = self._source_files.get(pos.uri)
        if file is None:
            parsed = urlparse(pos.uri)
            if parsed.scheme != "file":
                return None
            path = Path(unquote(parsed.path))
            try:
                file = path.resolve().relative_to(self.root_dir).as_posix()
            except ValueError:
                file = str(path)
            self._source_files[pos.uri] = file  # most resources are declared in the same few files
        return SourcePosition(file=file, line=int(pos.line), column=int(pos.column))

    def _callback_stub(self, target: str) -> callback_pb2_grpc.CallbacksStub:
        with self.lock:
            channel = self._channels.get(target)
            if channel is None:
                channel = self._channels[target] = grpc.insecure_channel(target)
        return callback_pb2_grpc.CallbacksStub(channel)

    def _call_back(self, callback: callback_pb2.Callback, request: bytes) -> bytes:
        stub = self._callback_stub(callback.target)
        try:
            response = stub.Invoke(callback_pb2.CallbackInvokeRequest(token=callback.token, request=request),
                                   timeout=self.callback_timeout)
        except grpc.RpcError as err:
            raise MonitorError(err.details() or str(err.code())) from None
        return response.response

    def _transform(self, callback: callback_pb2.Callback, name: str, typ: str, custom: bool, parent: str,
                   props: dict[str, Any], opts: resource_pb2.TransformResourceOptions,
                   ) -> tuple[dict[str, Any], resource_pb2.TransformResourceOptions]:
        request = resource_pb2.TransformRequest(name=name, type=typ, custom=custom, parent=parent,
                                                properties=to_struct(props), options=opts)
        response = resource_pb2.TransformResponse.FromString(
            self._call_back(callback, request.SerializeToString()))
        new_opts = response.options if response.HasField("options") else opts
        new_props = to_dict(response.properties) if response.HasField("properties") else props
        return new_props, new_opts

    def _resolve_provider(self, provider: str, providers: Any, parent: str, pkg: str) -> str:
        if provider:
            return provider
        if pkg in providers:
            return providers[pkg]
        if parent:
            with self.lock:
                inherited = self.component_providers.get(parent, {})
            if pkg in inherited:
                return inherited[pkg]
        return ""

    def _denied(self, pkg: str) -> bool:
        if pkg == "pulumi":
            return False
        raw = self.config.get("pulumi:disable-default-providers")
        if not raw:
            return False
        try:
            barred = json.loads(raw)
        except ValueError:
            raise MonitorError(f"Failed to parse {raw}") from None
        if not isinstance(barred, list):
            raise MonitorError("Unexpected encoding of pulumi:disable-default-providers")
        return any(isinstance(b, str) and b.strip() in ("*", pkg) for b in barred)

    def _default_provider(self, pkg: str, version: str, url: str, typ: str, operation: str = "") -> str:
        """default_providers.go: one provider resource per package, version and download URL, registered
        the first time a resource or invoke needs it; its inputs are the package's stack config."""
        if self._denied(pkg):
            raise MonitorError(f"Default provider for '{pkg}' disabled. "
                               f"'{typ}' must use an explicit provider.")
        key = (pkg, version, url)
        with self.lock:
            ref = self.default_providers.get(key)
            if ref is not None:
                return ref
            inputs: dict[str, Any] = {}
            for config_key, value in sorted(self.config.items()):
                ns, _, name = config_key.partition(":")
                if ns == pkg:
                    secret = config_key in self.secret_keys
                    inputs[name] = {SIG: SECRET_SIG, "value": value} if secret else value
            if version:
                inputs["__internal"] = {}
                inputs["version"] = version
            if url:
                inputs.setdefault("__internal", {})["pluginDownloadURL"] = url
            name = default_provider_name(version)
            urn = make_urn(self.stack, self.project, "", PROVIDER_PREFIX + pkg, name)
            node = ResourceNode(urn=urn, type=PROVIDER_PREFIX + pkg, name=name,
                                custom=True, inputs=inputs,
                                outputs={k: v for k, v in inputs.items() if k != "__internal"}, id=UNKNOWN)
            self._add(node)
            self.goals[urn] = _Goal(custom=True, protect=None, retain_on_delete=None, deleted_with="",
                                    provider="")
            ref = f"{urn}::{UNKNOWN}"
            self.default_providers[key] = ref
            return ref

    def _add(self, node: ResourceNode) -> None:
        if node.urn in self.nodes:
            self.log("error", f"Duplicate resource URN '{node.urn}'; try giving it a unique name", node.urn)
            raise MonitorError(f"Duplicate resource URN '{node.urn}'; try giving it a unique name")
        self.nodes[node.urn] = node
        self.graph.resources.append(node)
        if self.on_register is not None:
            self.on_register(node)

    def _provider_request(self, typ: str, version: str, url: str, package_ref: str) -> tuple[str, str, str]:
        if package_ref:
            with self.lock:
                found = self.packages.get(package_ref)
            if found is None:
                raise MonitorError(f"unknown provider package '{package_ref}'")
            return found
        return package_of(typ), version, url

    def _alias_urns(self, aliases: Iterable[alias_pb2.Alias], name: str, typ: str, parent: str) -> list[str]:
        """stepGenerator.collapseAliasToUrn for each alias spec, de-duplicated."""
        found: dict[str, None] = {}
        for alias in aliases:
            if alias.WhichOneof("alias") == "urn":
                found[alias.urn] = None
                continue
            spec = alias.spec
            alias_parent = parent
            which = spec.WhichOneof("parent")
            if which == "parentUrn" and spec.parentUrn:
                alias_parent = spec.parentUrn
            no_parent = which == "noParent" and spec.noParent
            if no_parent or (alias_parent and qualified_type(alias_parent) == STACK_TYPE):
                alias_parent = ""
            found[create_urn(spec.name or name, spec.type or typ, alias_parent, spec.project or self.project,
                              spec.stack or self.stack)] = None
        return list(found)

    # -- ResourceMonitor --

    def _refuse_after_shutdown(self, what: str) -> None:
        # The engine has ended its source of events and analyzed the stack by then.
        if self.shutdown_signalled:
            raise MonitorError(f"{what} after the program signalled that it had registered everything "
                               "(SignalAndWaitForShutdown)", grpc.StatusCode.FAILED_PRECONDITION)

    def register_resource(self, req: resource_pb2.RegisterResourceRequest,
                          ) -> resource_pb2.RegisterResourceResponse:
        self._refuse_after_shutdown(f"{req.type} {req.name!r} was registered")
        if req.state_migrations:
            raise MonitorError("state migrations are not supported by this deployment",
                               grpc.StatusCode.FAILED_PRECONDITION)
        name, typ, custom, remote, parent = req.name, req.type, req.custom, req.remote, req.parent
        if parent:
            urn_parts(parent)
        if (custom or remote) and not is_type_token(typ):
            raise MonitorError(f"{typ!r} is not a valid type token (expected pkg:module:Type)",
                               grpc.StatusCode.INVALID_ARGUMENT)
        if req.envVarMappings and not typ.startswith(PROVIDER_PREFIX):
            raise MonitorError("envVarMappings can only be used with provider resources",
                               grpc.StatusCode.INVALID_ARGUMENT)

        protect: bool | None = req.protect if req.HasField("protect") else None
        retain: bool | None = req.retainOnDelete if req.HasField("retainOnDelete") else None
        deleted_with, provider = req.deletedWith, req.provider
        with self.lock:
            parent_goal = self.goals.get(parent)
        if parent_goal is not None:  # source_eval.go inheritFromParent
            deleted_with = deleted_with or parent_goal.deleted_with
            protect = parent_goal.protect if protect is None else protect
            retain = parent_goal.retain_on_delete if retain is None else retain
            if not provider and parent_goal.provider:
                parent_pkg = package_of(qualified_type(urns.provider_urn(parent_goal.provider)).split("$")[-1])
                if (not remote and not custom) or parent_pkg == package_of(typ):
                    provider = parent_goal.provider

        aliases = [alias_pb2.Alias(urn=u) for u in req.aliasURNs] + list(req.aliases)
        dbr = req.deleteBeforeReplace if (req.deleteBeforeReplaceDefined or req.deleteBeforeReplace) else None

        props = to_dict(req.object) if req.HasField("object") else {}
        props = upgrade_to_outputs(check_assets(props, self.pwd))
        dependencies = list(dict.fromkeys(req.dependencies))
        property_deps: dict[str, list[str]] = {}
        if not req.propertyDependencies and not remote:
            property_deps = {key: list(dependencies) for key in props}
        else:
            property_deps = {key: list(dict.fromkeys(deps.urns))
                             for key, deps in req.propertyDependencies.items()}
        if req.transforms:
            props = add_property_dependencies(props, property_deps)

        pkg = package_of(typ)
        if custom or remote:
            provider = self._resolve_provider(provider, req.providers, parent, pkg)
        opts = resource_pb2.TransformResourceOptions(
            depends_on=req.dependencies, protect=protect, ignore_changes=req.ignoreChanges,
            replace_on_changes=req.replaceOnChanges, version=req.version, aliases=aliases, provider=provider,
            providers=dict(req.providers), hide_diff=req.hideDiffs, plugin_download_url=req.pluginDownloadURL,
            retain_on_delete=retain, deleted_with=deleted_with, replace_with=req.replace_with,
            delete_before_replace=dbr, additional_secret_outputs=req.additionalSecretOutputs,
            plugin_checksums=dict(req.pluginChecksums))
        if req.HasField("customTimeouts"):
            opts.custom_timeouts.CopyFrom(req.customTimeouts)
        if req.HasField("hooks"):
            opts.hooks.CopyFrom(req.hooks)
        if req.HasField("replacement_trigger"):
            opts.replacement_trigger.CopyFrom(req.replacement_trigger)

        # Own transforms first, then each ancestor's, then the stack's, as the engine runs them.
        transforms = list(req.transforms)
        with self.lock:
            current = parent
            while current:
                transforms.extend(self.resource_transforms.get(current, ()))
                current = self.parents.get(current, "")
            transforms.extend(self.stack_transforms)
        for callback in transforms:
            props, opts = self._transform(callback, name, typ, custom, parent, props, opts)

        providers = dict(opts.providers)
        if not custom and parent:
            with self.lock:
                for k, v in self.component_providers.get(parent, {}).items():
                    providers.setdefault(k, v)

        provider_ref = ""
        if (custom and not typ.startswith(PROVIDER_PREFIX)) or remote:
            req_pkg, version, url = self._provider_request(typ, opts.version, opts.plugin_download_url,
                                                           req.packageRef)
            provider_ref = opts.provider or self._default_provider(req_pkg, version, url, typ)

        alias_urns = self._alias_urns(opts.aliases, name, typ, parent)
        if req.transforms:
            dependencies = list(dict.fromkeys(opts.depends_on))
            property_deps = {}
            for key, value in props.items():
                deps = list(output_dependencies(value))
                property_deps[key] = deps
                dependencies.extend(d for d in deps if d not in dependencies)
        else:
            for key, value in props.items():
                merged = dict.fromkeys(property_deps.get(key, []))
                merged.update(output_dependencies(value))
                property_deps[key] = list(merged)

        if typ.startswith(PROVIDER_PREFIX):
            if opts.version:
                props.setdefault("__internal", {})
                props["version"] = opts.version
            if opts.plugin_download_url:
                internal = props.setdefault("__internal", {})
                if isinstance(internal, dict):
                    internal["pluginDownloadURL"] = opts.plugin_download_url
        if not remote:
            props = downgrade_outputs(props)

        timeouts = None
        if opts.HasField("custom_timeouts"):
            ct = opts.custom_timeouts
            timeouts = CustomTimeouts(create=duration_seconds(ct.create), update=duration_seconds(ct.update),
                                      delete=duration_seconds(ct.delete))
        options = ResourceOptions(
            protect=bool(opts.protect),
            ignore_changes=list(opts.ignore_changes),
            delete_before_replace=(opts.delete_before_replace if opts.HasField("delete_before_replace")
                                   else None),
            additional_secret_outputs=list(opts.additional_secret_outputs),
            aliases=alias_urns,
            custom_timeouts=timeouts,
        )
        inputs = engine_view(props)
        urn = make_urn(self.stack, self.project, parent, typ, name)
        node_id = ""
        if remote:
            outputs: dict[str, Any] = {}
        elif not custom:
            outputs = {}
        elif typ.startswith(PROVIDER_PREFIX):
            outputs = {k: v for k, v in inputs.items() if k != "__internal"}
            node_id = UNKNOWN
        else:
            outputs = self._create_outputs(typ, inputs, list(opts.additional_secret_outputs))

        node = ResourceNode(
            urn=urn, type=typ, name=name, custom=custom, inputs=inputs, outputs=outputs,
            parent=parent or None, dependencies=dependencies, property_dependencies=property_deps,
            provider=urns.provider_urn(provider_ref) if provider_ref else None, options=options,
            source=self._source(req.sourcePosition if req.HasField("sourcePosition") else None), id=node_id)
        with self.lock:
            self._add(node)
            self.goals[urn] = _Goal(
                custom=custom, protect=opts.protect if opts.HasField("protect") else None,
                retain_on_delete=opts.retain_on_delete if opts.HasField("retain_on_delete") else None,
                deleted_with=opts.deleted_with, provider=provider_ref)
            self.parents[urn] = parent
            self.resource_transforms[urn] = list(req.transforms)
            if not custom:
                self.component_providers[urn] = providers
            if typ == STACK_TYPE and not parent and not self.root_urn:
                self.root_urn = urn
        if opts.HasField("hooks") and not typ.startswith(PROVIDER_PREFIX):
            self._run_hooks("before", opts.hooks.before_create, node)
            self._run_hooks("after", opts.hooks.after_create, node)
        if remote:
            self.log("warning", f"{typ} '{name}' is a remote component: its provider plugin constructs it, "
                                "so its child resources are not in the offline preview", urn)

        response_object = outputs if custom else {}
        if not req.supportsPartialValues:
            response_object = {k: v for k, v in response_object.items() if not contains_unknowns(v)}
        if not req.acceptSecrets:
            response_object = strip_secrets(response_object)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=node_id, object=to_struct(response_object),
                                                     result=resource_pb2.SUCCESS)

    def _create_outputs(self, typ: str, inputs: dict[str, Any], secret_outputs: list[str]) -> dict[str, Any]:
        """A provider's preview of a create: the inputs, with the outputs it computes still unknown."""
        outputs = dict(inputs)
        for name in computed_outputs(typ):
            outputs.setdefault(name, UNKNOWN)
        for name in secret_outputs:
            if name in outputs and _sig(outputs[name]) != SECRET_SIG:
                outputs[name] = {SIG: SECRET_SIG, "value": outputs[name]}
        return outputs

    def register_resource_outputs(self, req: resource_pb2.RegisterResourceOutputsRequest) -> None:
        self._refuse_after_shutdown(f"outputs of {req.urn} were registered")
        urn_parts(req.urn)
        outputs = engine_view(to_dict(req.outputs) if req.HasField("outputs") else {})
        with self.lock:
            node = self.nodes.get(req.urn)
            if node is None:
                raise MonitorError(f"cannot register outputs of unknown resource {req.urn}")
            node.outputs = outputs

    def read_resource(self, req: resource_pb2.ReadResourceRequest) -> resource_pb2.ReadResourceResponse:
        self._refuse_after_shutdown(f"{req.type} {req.name!r} was read")
        if not is_type_token(req.type):
            raise MonitorError(f"{req.type!r} is not a valid type token", grpc.StatusCode.INVALID_ARGUMENT)
        parent = req.parent
        provider = req.provider
        if not req.type.startswith(PROVIDER_PREFIX) and not provider:
            pkg, version, url = self._provider_request(req.type, req.version, req.pluginDownloadURL,
                                                       req.packageRef)
            provider = self._default_provider(pkg, version, url, req.type, "Read")
        raw = to_dict(req.properties) if req.HasField("properties") else {}
        props = engine_view(check_assets(raw, self.pwd))
        if req.type == STACK_REFERENCE:
            state, how = self.providers.stack_reference(str(props.get("name", req.id)))
            self._record_invoke(STACK_REFERENCE, how, req.sourcePosition if req.HasField("sourcePosition")
                                else None)
        else:
            state = dict(props)
        for name in req.additionalSecretOutputs:
            if name in state and _sig(state[name]) != SECRET_SIG:
                state[name] = {SIG: SECRET_SIG, "value": state[name]}
        urn = make_urn(self.stack, self.project, parent, req.type, req.name)
        node = ResourceNode(
            urn=urn, type=req.type, name=req.name, custom=True, inputs=props, outputs=state,
            parent=parent or None, dependencies=list(dict.fromkeys(req.dependencies)),
            provider=urns.provider_urn(provider) if provider else None,
            options=ResourceOptions(additional_secret_outputs=list(req.additionalSecretOutputs)),
            source=self._source(req.sourcePosition if req.HasField("sourcePosition") else None),
            id=req.id, external=True)
        with self.lock:
            self._add(node)
            self.goals[urn] = _Goal(custom=True, protect=None, retain_on_delete=None, deleted_with="",
                                    provider=provider)
            self.parents[urn] = parent
        obj = state if req.acceptSecrets else strip_secrets(state)
        return resource_pb2.ReadResourceResponse(urn=urn, properties=to_struct(obj), id=req.id)

    def _record_invoke(self, token: str, how: str, pos: Any) -> None:
        with self.lock:
            self.graph.invokes.append(InvokeRecord(token=token, answered=how, source=self._source(pos)))

    def _pending(self, urns: Iterable[str]) -> bool:
        """registrations.HasUnresolved: a dependency (or any resource beneath it) not created yet.
        In a preview no new custom resource is ever created."""
        with self.lock:
            todo = list(urns)
            seen = set()
            while todo:
                urn = todo.pop()
                if urn in seen:
                    continue
                seen.add(urn)
                node = self.nodes.get(urn)
                if node is None:
                    return True
                if node.custom and not node.id:
                    return True
                todo.extend(u for u, p in self.parents.items() if p == urn)
            return False

    def invoke(self, req: resource_pb2.ResourceInvokeRequest) -> resource_pb2.ResourceInvokeResponse:
        tok = req.tok
        args = to_dict(req.args) if req.HasField("args") else {}
        parent = req.parent
        provider = req.provider
        if not provider and parent:  # INVOKE_PARENT: the parent's provider for this package
            provider = self._resolve_provider("", {}, parent, package_of(tok))
            with self.lock:
                goal = self.goals.get(parent)
            if not provider and goal is not None and goal.provider:
                ptype = qualified_type(urns.provider_urn(goal.provider)).split("$")[-1]
                if package_of(ptype) == package_of(tok):
                    provider = goal.provider
        version, url = req.version, req.pluginDownloadURL
        if self.stack_invoke_transforms:
            opts = resource_pb2.TransformInvokeOptions(provider=provider, version=version,
                                                       plugin_download_url=url,
                                                       plugin_checksums=dict(req.pluginChecksums))
            args = upgrade_to_outputs(args)
            for callback in list(self.stack_invoke_transforms):
                request = resource_pb2.TransformInvokeRequest(token=tok, args=to_struct(args), options=opts)
                response = resource_pb2.TransformInvokeResponse.FromString(
                    self._call_back(callback, request.SerializeToString()))
                if response.HasField("args"):
                    args = to_dict(response.args)
                if response.HasField("options"):
                    opts = response.options
            args = strip_secrets(downgrade_outputs(args))
            provider, version, url = opts.provider, opts.version, opts.plugin_download_url
        if not provider:
            pkg, version, url = self._provider_request(tok, version, url, req.packageRef)
            self._default_provider(pkg, version, url, tok, "Invoke")
        if req.dependsOn and self._pending(req.dependsOn):
            return resource_pb2.ResourceInvokeResponse(unknown=True)
        if tok == "pulumi:pulumi:getResource":  # the builtin provider: a resource registered in this run
            with self.lock:
                node = self.nodes.get(str(args.get("urn", "")))
            if node is None:
                raise MonitorError(f"unknown resource {args.get('urn', '')}")
            result = {"urn": node.urn, "id": node.id, "state": node.outputs}
            return resource_pb2.ResourceInvokeResponse(**{"return": to_struct(result)})
        result, how = self.providers.answer(tok, args)
        self._record_invoke(tok, how, req.sourcePosition if req.HasField("sourcePosition") else None)
        return resource_pb2.ResourceInvokeResponse(**{"return": to_struct(result)})

    def register_stack_transform(self, callback: callback_pb2.Callback, invoke: bool = False) -> None:
        if not callback.target:
            raise MonitorError("target must be specified")
        with self.lock:
            (self.stack_invoke_transforms if invoke else self.stack_transforms).append(callback)

    def register_hook(self, name: str, callback: callback_pb2.Callback, on_dry_run: bool,
                      ignore_errors: bool = False) -> None:
        with self.lock:
            self.hooks[name] = _Hook(name=name, callback=callback, on_dry_run=on_dry_run,
                                     ignore_errors=ignore_errors)

    def _run_hooks(self, kind: str, names: Iterable[str], node: ResourceNode) -> None:
        """Deployment.RunHooks for a create step: in a preview only hooks registered with on_dry_run run."""
        for hook_name in names:
            with self.lock:
                hook = self.hooks.get(hook_name)
            if hook is None:
                raise MonitorError(f"hook {hook_name!r} was not registered")
            if not hook.on_dry_run:
                continue
            request = resource_pb2.ResourceHookRequest(
                urn=node.urn, id=node.id, name=node.name, type=node.type, new_inputs=to_struct(node.inputs),
                new_outputs=to_struct(node.outputs) if kind == "after" else None)
            try:
                response = resource_pb2.ResourceHookResponse.FromString(
                    self._call_back(hook.callback, request.SerializeToString()))
                error = response.error
            except MonitorError as err:
                error = str(err)
            if not error:
                continue
            if hook.ignore_errors:
                self.log("warning", f"{kind}-create hook {hook_name!r} failed: {error}", node.urn)
                continue
            raise MonitorError(f"{kind} hook {hook_name!r} failed: {error}")

    def register_package(self, req: resource_pb2.RegisterPackageRequest) -> str:
        name = req.name
        version = req.version
        if req.HasField("parameterization"):
            name, version = req.parameterization.name, req.parameterization.version
        with self.lock:
            for ref, found in self.packages.items():
                if found == (name, version, req.download_url):
                    return ref
            ref = str(uuid.uuid4())
            self.packages[ref] = (name, version, req.download_url)
            return ref

    def deployment_info(self) -> resource_pb2.DeploymentInfo:
        return resource_pb2.DeploymentInfo(
            project=self.project, stack=self.stack, organization=self.organization, config=self.config,
            configSecretKeys=self.secret_keys, dryRun=True, parallel=self.parallel,
            supportedFeatures=SUPPORTED_FEATURES)
