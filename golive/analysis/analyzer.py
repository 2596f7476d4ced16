"""Stage 3: drive a CrossGuard policy pack over the real analyzer gRPC protocol, as the engine does.

What the engine does, and so what this does (pulumi/pulumi 3.260: pkg/resource/plugin/analyzer_plugin.go,
pkg/resource/deploy/step_generator.go). The pack's process is `golive.analysis.packprocess`'s; the
protocol's messages, as golive's values, are `golive.analysis.protocol`'s.

- Handshake (the Python SDK leaves it unimplemented), ConfigureStack, GetAnalyzerInfo (once; the engine
  caches it), Configure with every policy (`golive.analysis.policyconfig.reconcile`), then for every registered
  resource - custom, component, provider (default ones too) and the root stack - Remediate and then
  Analyze on its inputs, and at the end one AnalyzeStack with every resource and its outputs.
- The engine loads its packs before the program runs and analyzes each resource when the program
  registers it, one resource at a time (its errgroup runs the *packs* of one resource in parallel,
  not resources); AnalyzeStack comes once the program is done. `AnalyzerSession.launch`/`connect`/
  `configure`/`analyze`/`finish` follow that rhythm; `start` and `run` do it over a finished graph.
- The engine calls Remediate and Analyze for every resource whatever the pack's policies (3.260
  step_generator.go: it fetches GetAnalyzerInfo there only to build each resource's policy summary,
  which counts POLICY_TYPE_RESOURCE policies alone). golive leaves both calls out when every policy
  the pack declares in GetAnalyzerInfo is POLICY_TYPE_STACK: per the protocol such a policy validates
  the stack, in AnalyzeStack; pulumi-policy (1.21, policy.py) runs only ResourceValidationPolicy in
  Analyze and Remediate, so both would answer empty, and the engine's summary for the resource would
  list no policy. A policy of type RESOURCE or UNKNOWN (packs older than the field) keeps every call.
- Resources read with `.get` (ReadResource) are neither analyzed nor listed in AnalyzeStack.
- Top-level `__` keys (a provider's `__internal`) are hidden from Analyze and AnalyzeStack, not from
  Remediate; resource references collapse to their id (unknown while the id is) or URN, output values
  to their element; unknown sentinels and secret envelopes stay as they are.
- A per-resource diagnostic is attributed to the analyzed resource whatever URN the pack put in it; an
  AnalyzeStack one to its own URN when that names a resource of the stack, else to the root stack.
  Level `remediate` in a diagnostic is shown as `mandatory`; a diagnostic without severity takes its
  policy's; the version in PulumiPolicy.yaml replaces the one the SDK reports ("0.0.1").
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2

from golive.analysis.packprocess import (
    PackError,
    PackProcess,
    PackProject,
    PackPython,
    choose_python,
    load_pack_project,
    pack_environment,
)
from golive.analysis.policyconfig import ConfigError, PackInfo, PolicyConfig, configure_request, reconcile
from golive.analysis.protocol import (
    LEVELS,
    SEVERITIES,
    Diagnostic,
    Remediation,
    RequestParts,
    pack_info_from_proto,
    root_stack_urn,
    to_struct,
    urn_name,
)
from golive.preview import _proto
from golive.preview.graph import ResourceGraph, ResourceNode

if TYPE_CHECKING:
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
else:
    analyzer_pb2 = _proto.load("analyzer_pb2")
    analyzer_pb2_grpc = _proto.load("analyzer_pb2_grpc")


# Nothing listens here and the Python SDK never dials it; the argument only has to be present.
DEFAULT_ENGINE_ADDRESS = "127.0.0.1:0"
# As the SDK's own server: the engine's messages for a large stack exceed gRPC's 4 MiB default.
_MAX_MESSAGE = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    # No call is ever retried (no service config asks for it), and the retry filter makes each of the
    # two calls per resource dearer (docs/benchmarks.md).
    ("grpc.enable_retries", 0),
]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the requests are built and sent: they make no reference
    cycles, and each full collection would walk the whole graph again (quadratic in its size)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class AnalyzerSession:
    """One running policy pack. Use as a context manager: the process group is always ended and reaped.

    with AnalyzerSession.start(pack_dir, graph) as session:
        config = policyconfig.reconcile(session.info, policyconfig.load(path), source=path)
        diagnostics = session.run(config)

    The engine loads its policy packs before the program runs: the pack needs only the stack's
    identity and config, all known from the project and stack files. `launch` starts the process
    and returns at once; `connect` waits for its port and sends Handshake, ConfigureStack and
    GetAnalyzerInfo; `configure` sends Configure; `analyze` sends one resource to Remediate and
    Analyze as the program registers it; `finish` analyzes what is left and sends AnalyzeStack:

    with AnalyzerSession.launch(pack_dir, stack) as session:   # stack: a ResourceGraph, no resources yet
        session.configure(config)                              # connects first
        for node in registrations_as_they_come():
            session.analyze(node, nodes_so_far)
        diagnostics = session.finish(graph)
    """

    def __init__(
        self,
        project: PackProject,
        graph: ResourceGraph,
        python: PackPython,
        *,
        call_timeout: float,
        engine_address: str,
    ) -> None:
        self.project = project
        # Until `run` is given the program's graph, this one only names the stack and its config.
        self.graph = graph
        self.python = python
        self.call_timeout = call_timeout
        self.engine_address = engine_address
        self.info: PackInfo | None = None
        self.calls: list[str] = []  # the RPCs sent, in order
        self.remediations: list[Remediation] = []
        self._process: PackProcess | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._serialized: dict[str, Any] = {}
        self._tags: dict[str, str] = {}
        self._connected: bool | BaseException | None = None  # True, or what went wrong
        self._configured = False
        self._analyzed: set[str] = set()  # URNs already sent to Remediate and Analyze
        self._per_resource = True  # whether Remediate and Analyze can answer anything (see the docstring)
        self._diagnostics: list[Diagnostic] = []
        self._parts: RequestParts | None = None
        self._ran = False
        self._closed = False
        self._close_lock = threading.Lock()  # the pack's own thread may end it while the caller does too

    # -- starting -------------------------------------------------------------------------------------
    @classmethod
    def start(cls, pack_dir: str | os.PathLike[str], graph: ResourceGraph, **options: Any) -> AnalyzerSession:
        """Start the pack, then Handshake, ConfigureStack and GetAnalyzerInfo (`self.info`).
        `options` are `launch`'s keyword arguments."""
        session = cls.launch(pack_dir, graph, **options)
        try:
            session.connect()
        except BaseException:
            session.close()
            raise
        return session

    @classmethod
    def launch(
        cls,
        pack_dir: str | os.PathLike[str],
        graph: ResourceGraph,
        *,
        start_timeout: float = 30.0,
        call_timeout: float = 120.0,
        tags: Mapping[str, str] | None = None,
        engine_address: str = DEFAULT_ENGINE_ADDRESS,
        environment: Mapping[str, str] | None = None,
    ) -> AnalyzerSession:
        """Start the pack's process and return without waiting for it; `connect` completes the start.

        `graph` may have no resources yet: the pack's environment and ConfigureStack take only its
        project, stack, organization, config and secret keys. `start_timeout` counts from here.
        `environment` is added to the pack's (`pack_environment`).
        """
        project = load_pack_project(pack_dir)
        if project.runtime != "python":
            raise PackError(
                f"{project.dir / 'PulumiPolicy.yaml'}: runtime {project.runtime!r}: golive runs "
                "Python policy packs only"
            )
        session = cls(
            project, graph, choose_python(project), call_timeout=call_timeout, engine_address=engine_address
        )
        session._tags = dict(tags or {})
        try:
            session._process = PackProcess.spawn(
                project,
                session.python,
                engine_address=engine_address,
                environment=pack_environment(graph, session.python, added=environment),
                start_timeout=start_timeout,
            )
        except BaseException:
            session.close()
            raise
        return session

    def connect(self) -> None:
        """Wait for the launched pack's port, then Handshake, ConfigureStack and GetAnalyzerInfo.
        Done once; a failure is raised again by later calls."""
        if self._connected is not None:
            if self._connected is not True:
                raise self._connected
            return
        if self._process is None or self._closed:
            raise RuntimeError("AnalyzerSession.connect needs a launched, open session")
        try:
            self._open_channel(self._process.port())
            self._handshake_and_configure_stack(self._tags)
            self.info = pack_info_from_proto(self._call("GetAnalyzerInfo", empty_pb2.Empty()), self.project)
        except BaseException as err:
            self._connected = err
            raise
        self._connected = True

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def stderr(self) -> str:
        return self._process.stderr if self._process else ""

    @property
    def stdout(self) -> Sequence[str]:
        """What the pack printed after its port (the CLI passes it on to its own output)."""
        return self._process.stdout if self._process else ()

    def _open_channel(self, port: int) -> None:
        # No channel_ready_future: its connectivity watch makes channel.close() wait (docs/benchmarks.md).
        # The first call waits for the connection instead (wait_for_ready), watching the process meanwhile.
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        # AnalyzeStack with a request already serialized (bytes pass through a call with no serializer).
        self._serialized = {"AnalyzeStack": self._channel.unary_unary(
            "/pulumirpc.Analyzer/AnalyzeStack", response_deserializer=analyzer_pb2.AnalyzeResponse.FromString)}

    def _fail(self, what: str) -> NoReturn:
        assert self._process is not None
        self._process.fail(what)

    # -- calling ----------------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        request: Any,
        *,
        target: str = "",
        tolerate_unimplemented: bool = False,
        first: bool = False,
    ) -> Any:
        assert self._stub is not None
        self.calls.append(method)
        try:
            if first:
                return self._first_call(method, request)
            call = self._serialized[method] if isinstance(request, bytes) else getattr(self._stub, method)
            return call(request, timeout=self.call_timeout)
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else None
            if tolerate_unimplemented and code == grpc.StatusCode.UNIMPLEMENTED:
                return None
            where = f"{method}({target})" if target else method
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                self._fail(f"did not answer {where} within {self.call_timeout:g} s")
            # A dead process shows as UNAVAILABLE a moment before its exit status can be read.
            assert self._process is not None
            status = self._process.wait_exit(1.0 if code == grpc.StatusCode.UNAVAILABLE else 0.0)
            if status is not None:
                self._process.wait_stderr_eof()
                self._fail(f"exited (status {status}) during {where}")
            details = (err.details() if hasattr(err, "details") else "") or str(code)
            self._fail(f"failed {where}: {details.strip().splitlines()[-1] if details.strip() else code}")
        raise AssertionError("unreachable")

    def _first_call(self, method: str, request: Any) -> Any:
        """The first call waits for the connection (the pack listens before it prints its port) and
        fails as soon as the process is gone rather than at the deadline."""
        assert self._stub is not None and self._process is not None
        future = getattr(self._stub, method).future(request, timeout=self.call_timeout, wait_for_ready=True)
        while True:
            try:
                return future.result(timeout=0.02)
            except grpc.FutureTimeoutError:
                status = self._process.exit_status()
                if status is not None:
                    future.cancel()
                    self._process.wait_stderr_eof()
                    self._fail(f"exited (status {status}) during {method}")

    def _handshake_and_configure_stack(self, tags: dict[str, str]) -> None:
        directory = str(self.project.dir)
        self._call(
            "Handshake",
            analyzer_pb2.AnalyzerHandshakeRequest(
                engine_address=self.engine_address,
                root_directory=directory,
                program_directory=directory,
            ),
            tolerate_unimplemented=True,
            first=True,
        )
        self._call(
            "ConfigureStack",
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.graph.stack,
                project=self.graph.project,
                organization=self.graph.organization,
                dry_run=True,
                config=dict(self.graph.config),
                # The engine lists secret keys only; golive adds the paths of the secure values inside
                # them (`ns:key.field`), which the pack reads as the stack file records them, per value.
                config_secret_keys=sorted({*self.graph.secret_keys, *self.graph.secret_paths}),
                tags=tags,
            ),
            tolerate_unimplemented=True,
        )

    def run(
        self, policy_config: Mapping[str, PolicyConfig] | None = None, graph: ResourceGraph | None = None
    ) -> list[Diagnostic]:
        """Configure, then Remediate + Analyze per resource, then AnalyzeStack; the engine's diagnostics.

        `policy_config` is what `policyconfig.reconcile` returns; None reconciles without a config file
        (schema defaults and the pack's initial config), as the engine does when given no file.
        `graph` is the program's graph when the session was launched before it existed; it must be of
        the stack the pack was started for.
        """
        if self._ran:
            raise RuntimeError("AnalyzerSession.run may be called once")
        self.configure(policy_config)
        return self.finish(graph)

    # The engine's own rhythm, for a caller that follows the program as it runs: `configure` when the
    # pack is loaded, `analyze` for each resource as the program registers it, `finish` once the
    # program is done. `run` is the three at once, over a graph that is already complete.
    def configure(self, policy_config: Mapping[str, PolicyConfig] | None = None) -> None:
        """Connect if need be, then send Configure (once); see `run` for `policy_config`."""
        if self._configured:
            raise RuntimeError("AnalyzerSession.configure may be called once")
        self.connect()
        assert self.info is not None
        self._configured = True
        config = reconcile(self.info, None) if policy_config is None else dict(policy_config)
        self._configure(config)
        self._per_resource = any(p.policy_type != "stack" for p in self.info.policies)

    def analyze(self, node: ResourceNode, nodes: Mapping[str, ResourceNode]) -> None:
        """Remediate, then Analyze one resource the program registered, as the engine does at once.

        Resources must come in registration order; `nodes` (URN → resource) must hold the resource's
        provider, which is always registered first. Resources read with `.get` are skipped.
        """
        if not self._configured or self._ran:
            raise RuntimeError("AnalyzerSession.analyze needs a configured session that has not finished")
        if node.external or node.urn in self._analyzed:
            return
        if self._parts is None or self._parts.nodes is not nodes:
            self._parts = RequestParts(nodes)
        self._analyze_one(node, self._parts)

    def finish(self, graph: ResourceGraph | None = None) -> list[Diagnostic]:
        """Remediate + Analyze the resources not analyzed yet, then AnalyzeStack over the whole graph;
        every diagnostic of the session, in the engine's order."""
        if self._ran:
            raise RuntimeError("AnalyzerSession.run may be called once")
        if not self._configured:
            raise RuntimeError("AnalyzerSession.finish needs a configured session")
        if graph is not None:
            self._adopt(graph)
        self._ran = True
        with _collector_paused():
            return self._analyze_all()

    def _adopt(self, graph: ResourceGraph) -> None:
        def identity(g: ResourceGraph) -> tuple[Any, ...]:
            return g.project, g.stack, g.organization, dict(g.config), sorted(g.secret_keys)

        if identity(graph) != identity(self.graph):
            raise ValueError(
                f"the graph of {graph.organization}/{graph.project}/{graph.stack} is not of the stack the "
                f"pack was started for ({self.graph.organization}/{self.graph.project}/{self.graph.stack}, "
                "with the same config)"
            )
        self.graph = graph

    def _analyze_all(self) -> list[Diagnostic]:
        # Resources read with `.get` take the engine's read path: neither analyzed nor in AnalyzeStack.
        analyzed = [n for n in self.graph.resources if not n.external]
        nodes = {n.urn: n for n in analyzed}
        requests = RequestParts(self.graph.by_urn())
        for node in analyzed:
            if node.urn not in self._analyzed:
                self._analyze_one(node, requests)

        # The request is sent as it is serialized, one resource at a time: serialized messages of one
        # type concatenated parse as one message whose repeated fields hold all their elements, and
        # the bytes of a resource take a fraction of its message's memory. A whole AnalyzeStackRequest
        # held every resource's message at once, then its serialization besides: golive's peak.
        # Written to one buffer whose bytes getvalue() hands over: b"".join would hold every part as well.
        single, buffer = analyzer_pb2.AnalyzeStackRequest, io.BytesIO()
        for node in analyzed:
            buffer.write(single(resources=[self._stack_resource(node, requests)]).SerializeToString())
        stack_request = buffer.getvalue()
        del buffer
        diagnostics = self._diagnostics
        response = self._call("AnalyzeStack", stack_request, tolerate_unimplemented=True)
        if response is not None:
            root = root_stack_urn(self.graph)
            for d in response.diagnostics:
                diagnostics.append(self._convert(d, d.urn if d.urn in nodes else root, "analyzeStack"))
        return list(diagnostics)

    def _analyze_one(self, node: ResourceNode, requests: RequestParts) -> None:
        self._analyzed.add(node.urn)
        if not self._per_resource:
            return
        diagnostics = self._diagnostics
        everything = to_struct(node.inputs, skip_internal=False)
        inputs = self._remediate(node, everything, requests, diagnostics)
        # Unremediated inputs with no top-level `__` key marshal the same way for both calls.
        same = inputs is node.inputs and not any(k.startswith("__") for k in inputs)
        request = analyzer_pb2.AnalyzeRequest(
            type=node.type,
            properties=everything if same else to_struct(inputs),
            urn=node.urn,
            name=urn_name(node.urn, node.name),
            options=requests.options(node),
            provider=requests.provider(node),
        )
        response = self._call("Analyze", request, target=node.urn)
        diagnostics.extend(self._convert(d, node.urn, "analyze") for d in response.diagnostics)

    def _configure(self, config: Mapping[str, PolicyConfig]) -> None:
        assert self.info is not None
        if not config:
            return  # the engine returns early on an empty map
        try:
            request = configure_request(config)
        except ConfigError as err:
            raise ConfigError(
                f"configuring policy pack {self.info.name!r} at {str(self.project.dir)!r}: {err}"
            ) from None
        self._call("Configure", request)
        # The engine updates its cached info with the configured levels; reports read them from there.
        policies = tuple(
            replace(p, enforcement_level=config[p.name].enforcement_level)
            if p.name in config and config[p.name].enforcement_level
            else p
            for p in self.info.policies
        )
        self.info = replace(self.info, policies=policies)

    def _remediate(
        self,
        node: ResourceNode,
        properties: struct_pb2.Struct,
        requests: RequestParts,
        diagnostics: list[Diagnostic],
    ) -> dict[str, Any]:
        """Remediate `node` (`properties`: its inputs, `__` keys included); the inputs Analyze gets,
        `node.inputs` itself when no policy changed them."""
        assert self.info is not None
        inputs: dict[str, Any] = node.inputs
        request = analyzer_pb2.AnalyzeRequest(
            type=node.type,
            properties=properties,
            urn=node.urn,
            name=urn_name(node.urn, node.name),
            options=requests.options(node),
            provider=requests.provider(node),
        )
        response = self._call("Remediate", request, target=node.urn, tolerate_unimplemented=True)
        if response is None:
            return inputs
        for r in response.remediations:
            version = self.project.version or r.policyPackVersion
            if r.diagnostic:
                diagnostics.append(
                    Diagnostic(
                        policy_name=r.policyName,
                        policy_pack_name=r.policyPackName,
                        policy_pack_version=version,
                        description=r.description,
                        message=r.diagnostic,
                        enforcement_level="advisory",
                        severity="",  # the engine builds this diagnostic without one
                        urn=node.urn,
                        reported_urn="",
                        phase="remediate",
                    )
                )
            else:
                # Later analyzers and Analyze see the remediated inputs. (AnalyzeStack keeps the graph's
                # outputs: a real preview would re-derive them from the provider, which offline we cannot.)
                inputs = json_format.MessageToDict(r.properties)
                self.remediations.append(Remediation(r.policyName, r.policyPackName, version, node.urn))
        return inputs

    def _stack_resource(self, node: ResourceNode, requests: RequestParts) -> analyzer_pb2.AnalyzerResource:
        return analyzer_pb2.AnalyzerResource(
            type=node.type,
            properties=to_struct(node.outputs),
            urn=node.urn,
            name=urn_name(node.urn, node.name),
            options=requests.options(node),
            provider=requests.provider(node),
            parent=node.parent or "",
            dependencies=list(node.dependencies),
            propertyDependencies={
                k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                for k, v in node.property_dependencies.items()
                if v
            },
        )

    def _severity(self, policy_name: str, severity: str) -> str:
        if severity or self.info is None:
            return severity
        policy = self.info.policy(policy_name)
        return policy.severity if policy else ""

    def _convert(self, d: analyzer_pb2.AnalyzeDiagnostic, urn: str, phase: str) -> Diagnostic:
        level = LEVELS.get(d.enforcementLevel)
        if level is None:
            self._fail(f"sent an unknown enforcement level {d.enforcementLevel} for policy {d.policyName!r}")
        return Diagnostic(
            policy_name=d.policyName,
            policy_pack_name=d.policyPackName,
            policy_pack_version=self.project.version or d.policyPackVersion,
            description=d.description,
            message=d.message,
            enforcement_level="mandatory" if level == "remediate" else str(level),
            severity=self._severity(d.policyName, SEVERITIES.get(d.severity, "")),
            urn=urn,
            reported_urn=d.urn,
            phase=phase,
        )

    # -- ending -----------------------------------------------------------------------------------------
    def close(self) -> None:
        """End the pack's process group and reap it; safe to call more than once, from any thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        if self._channel is not None:
            self._channel.close()
        if self._process is not None:
            self._process.terminate()

    def __enter__(self) -> AnalyzerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__: Sequence[str] = ("DEFAULT_ENGINE_ADDRESS", "AnalyzerSession")
