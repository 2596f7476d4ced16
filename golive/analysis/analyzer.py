"""Stage 3: drive a CrossGuard policy pack over the real analyzer gRPC protocol, as the engine does.

What the engine does, and so what this does (pulumi/pulumi 3.260: pkg/resource/plugin/analyzer_plugin.go,
pkg/resource/deploy/step_generator.go, sdk/python/cmd/pulumi-language-python/main.go, sdk/policy_proxy.go):

- The pack runs as `<python> -u -m pulumi.policy <engineAddr> <DIR>` with DIR as working directory (golive
  starts the module through `golive/preview/_guard.py`, which runs it as -m does, guarded); the
  python is the virtualenv named in PulumiPolicy.yaml, activated (VIRTUAL_ENV, PATH). The language host
  adds PULUMI_ORGANIZATION, PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN and PULUMI_CONFIG (skipping empty
  ones) and NOT PULUMI_CONFIG_SECRET_KEYS: a pack learns the secret keys from ConfigureStack only.
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

import collections
import contextlib
import gc
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2

from golive import loading
from golive.analysis.policyconfig import ConfigError, PackInfo, PolicyConfig, PolicyInfo, configure_request, reconcile
from golive.errors import GoliveError
from golive.preview import _proto, urns
from golive.preview.graph import ResourceGraph, ResourceNode
from golive.preview.process import GUARD_SCRIPT, LIFELINE_ENV, end_descendants, lifeline, wait_exited
from golive.preview.urns import STACK_TYPE
from golive.preview.wire import engine_view

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
    # No call is ever retried (no service config asks for it); without the retry filter each of the
    # two calls per resource is ~10% cheaper.
    ("grpc.enable_retries", 0),
]
_ENV_WE_SET = (
    "PULUMI_ORGANIZATION",
    "PULUMI_PROJECT",
    "PULUMI_STACK",
    "PULUMI_DRY_RUN",
    "PULUMI_CONFIG",
    "PULUMI_CONFIG_SECRET_KEYS",
)

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


class PackError(GoliveError):
    """The pack would not start, crashed, or did not answer in time; carries the tail of its stderr."""


@dataclass(frozen=True)
class PackProject:
    """What PulumiPolicy.yaml says that matters for starting the pack."""

    dir: Path
    runtime: str
    virtualenv: str | None
    toolchain: str
    version: str
    description: str


@dataclass(frozen=True)
class PackPython:
    executable: str
    virtualenv: Path | None  # activated for the pack when not None
    note: str  # for the report: which interpreter ran the pack, and why


@dataclass(frozen=True)
class Diagnostic:
    """An AnalyzeDiagnostic as the engine shows it (see the module docstring for what it changes)."""

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


def load_pack_project(pack_dir: str | os.PathLike[str]) -> PackProject:
    """Read DIR/PulumiPolicy.yaml; PackError naming the file when it is missing or unusable."""
    directory = Path(pack_dir).resolve()
    path = directory / "PulumiPolicy.yaml"
    if not path.exists():
        raise PackError(f"{path}: not found (a policy pack folder holds PulumiPolicy.yaml)")
    data = loading.load_yaml(path, error=PackError)
    if not isinstance(data, dict):
        raise PackError(f"{path}: must be a YAML mapping")
    runtime = data.get("runtime")
    options: dict[str, Any] = {}
    if isinstance(runtime, dict):
        options = runtime.get("options") or {}
        runtime = runtime.get("name")
    if not isinstance(runtime, str) or not runtime:
        raise PackError(f"{path}: runtime: missing or not a string")
    if not isinstance(options, dict):
        raise PackError(f"{path}: runtime.options: must be a mapping")
    virtualenv = options.get("virtualenv")
    version = data.get("version")
    return PackProject(
        dir=directory,
        runtime=runtime,
        virtualenv=str(virtualenv) if virtualenv else None,
        toolchain=str(options.get("toolchain") or "pip"),
        # YAML reads `version: 1.0` as a float; the CLI reads it as the string it is written as.
        version="" if version is None else str(version),
        description=str(data.get("description") or ""),
    )


def choose_python(project: PackProject) -> PackPython:
    """The pack's own virtualenv when it exists (as the CLI), else the interpreter golive runs on."""
    venv_name = project.virtualenv
    if venv_name is None and project.toolchain == "uv":
        venv_name = ".venv"  # uv's default, which the language host also assumes
    if venv_name is not None:
        venv = Path(venv_name) if Path(venv_name).is_absolute() else project.dir / venv_name
        python = venv / "bin" / "python"
        if python.exists():
            return PackPython(str(python), venv, f"the pack's virtualenv {venv}")
        return PackPython(
            sys.executable,
            None,
            f"golive's interpreter {sys.executable}: PulumiPolicy.yaml names virtualenv {venv_name!r}, "
            f"which does not exist (`pulumi install` in {project.dir} creates it)",
        )
    return PackPython(
        sys.executable, None, f"golive's interpreter {sys.executable}: PulumiPolicy.yaml names no virtualenv"
    )


def pack_environment(
    graph: ResourceGraph,
    python: PackPython,
    base: Mapping[str, str] | None = None,
    added: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment the language host gives the pack, plus `added` (what golive alone knows, such as
    the pack config's file); an empty value in `added` removes the variable."""
    ours = {*_ENV_WE_SET, *(added or {})}
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in ours}
    if python.virtualenv is not None:
        # toolchain.ActivateVirtualEnv: venv/bin first on PATH, PYTHONHOME dropped, VIRTUAL_ENV set.
        env.pop("PYTHONHOME", None)
        env["PATH"] = os.pathsep.join(p for p in (str(python.virtualenv / "bin"), env.get("PATH", "")) if p)
        env["VIRTUAL_ENV"] = str(python.virtualenv)
    extra = {
        "PULUMI_ORGANIZATION": graph.organization,
        "PULUMI_PROJECT": graph.project,
        "PULUMI_STACK": graph.stack,
        "PULUMI_DRY_RUN": "true",
        # Go's json.Marshal of a nil map is never reached: an empty config map arrives as nil and is skipped.
        "PULUMI_CONFIG": json.dumps(dict(sorted(graph.config.items())), separators=(",", ":"))
        if graph.config
        else "",
    }
    env.update({k: v for k, v in {**extra, **(added or {})}.items() if v})
    return env


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


def _urn_name(urn: str, fallback: str) -> str:
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
        name=_urn_name(provider.urn, provider.name),
        urn=provider.urn,
        properties=to_struct(provider.inputs),
    )


class _RequestParts:
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


def _tail(lines: Iterable[str], max_lines: int = 40, max_chars: int = 4000) -> str:
    text = "\n".join(list(lines)[-max_lines:]).strip()
    return text if len(text) <= max_chars else "…" + text[-max_chars:]


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
        # What the pack printed after its port (the CLI passes it on to its own output).
        self.stdout: collections.deque[str] = collections.deque(maxlen=200)
        self._stderr: collections.deque[str] = collections.deque(maxlen=400)
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._threads: list[threading.Thread] = []
        self._first_line: queue.Queue[str | None] = queue.Queue(maxsize=1)
        self._start_timeout = 30.0
        self._start_deadline = 0.0
        self._tags: dict[str, str] = {}
        self._environment: dict[str, str] = {}
        self._connected: bool | BaseException | None = None  # True, or what went wrong
        self._configured = False
        self._analyzed: set[str] = set()  # URNs already sent to Remediate and Analyze
        self._per_resource = True  # whether Remediate and Analyze can answer anything (see the docstring)
        self._diagnostics: list[Diagnostic] = []
        self._parts: _RequestParts | None = None
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
        session._environment = dict(environment or {})
        try:
            session._spawn(start_timeout)
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
        if self._proc is None or self._closed:
            raise RuntimeError("AnalyzerSession.connect needs a launched, open session")
        try:
            self._await_port()
            self._handshake_and_configure_stack(self._tags)
            self.info = pack_info_from_proto(self._call("GetAnalyzerInfo", empty_pb2.Empty()), self.project)
        except BaseException as err:
            self._connected = err
            raise
        self._connected = True

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def stderr(self) -> str:
        return "\n".join(self._stderr)

    def _spawn(self, start_timeout: float) -> None:
        argv = [
            self.python.executable,
            "-u",
            GUARD_SCRIPT,  # -m, and the pack's descendants end with it, or with golive's process
            "pulumi.policy",
            self.engine_address,
            str(self.project.dir),
        ]
        self._start_timeout = start_timeout
        self._start_deadline = time.monotonic() + start_timeout
        line = lifeline()
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=self.project.dir,
                env={**pack_environment(self.graph, self.python, added=self._environment), LIFELINE_ENV: str(line)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so close() ends whatever it started too
                pass_fds=(line,),
            )
        except OSError as err:
            raise PackError(
                f"policy pack {self.project.dir}: cannot run {self.python.executable}: {err.strerror or err}"
            ) from None
        self._threads = [
            threading.Thread(target=self._read_stdout, args=(self._first_line,), daemon=True, name="pack-stdout"),
            threading.Thread(target=self._read_stderr, daemon=True, name="pack-stderr"),
        ]
        for t in self._threads:
            t.start()

    def _await_port(self) -> None:
        line = self._port_line()
        if line is None:
            self._wait_stderr_eof()
            status = self._wait_exit(2.0)
            self._fail(
                "exited before printing its port" + (f" (status {status})" if status is not None else "")
            )
        try:
            port = int(line.strip())
        except ValueError:
            # The CLI reads the port with Fscanf("%d\n") from the first line and fails the same way.
            self._fail(
                f"printed {line.strip()[:200]!r} where its port belongs (the Pulumi CLI reads the port "
                "from the first line of standard output)"
            )
        # No channel_ready_future: its connectivity watch makes channel.close() wait up to 0.2 s. The
        # first call waits for the connection instead (wait_for_ready), watching the process meanwhile.
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def _port_line(self) -> str | None:
        """The first line of the pack's stdout, or None once the pack has exited without one: its exit is
        watched, not only its stdout's end, which a descendant of the pack (a daemon) may hold off."""
        while True:
            remaining = self._start_deadline - time.monotonic()
            try:
                return self._first_line.get(timeout=max(0.0, min(remaining, 0.1)))
            except queue.Empty:
                pass
            if self._exit_status() is not None:
                try:  # what it printed before it exited is in the pipe: read at once
                    return self._first_line.get(timeout=0.5)
                except queue.Empty:
                    return None
            if remaining <= 0:
                self._fail(f"did not print its port within {self._start_timeout:g} s")

    def _read_stdout(self, first_line: queue.Queue[str | None]) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        got_first = False
        with self._proc.stdout:  # closed here, not by close(): closing waits for a read in progress
            for raw in self._proc.stdout:
                text = raw.decode("utf-8", errors="replace").rstrip("\n")
                if not got_first:
                    got_first = True
                    first_line.put(text)
                else:
                    self.stdout.append(text)
        if not got_first:
            first_line.put(None)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        with self._proc.stderr:
            for raw in self._proc.stderr:
                self._stderr.append(raw.decode("utf-8", errors="replace").rstrip("\n"))

    def _wait_stderr_eof(self) -> None:
        # The process has closed stdout; give its stderr a moment to drain so the message shows the cause.
        if len(self._threads) > 1:
            self._threads[1].join(timeout=2.0)

    def _wait_exit(self, seconds: float) -> int | None:
        if self._proc is not None and seconds > 0:
            wait_exited(self._proc, seconds)
        return self._exit_status()

    def _exit_status(self) -> int | None:
        """Exit status without reaping, so the process group id stays ours until close()."""
        if self._proc is None:
            return None
        if self._proc.returncode is not None:
            return self._proc.returncode
        try:
            info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self._proc.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def _fail(self, what: str) -> NoReturn:
        stderr = _tail(self._stderr)
        message = f"policy pack {self.project.dir} {what}"
        raise PackError(message + (f"; its stderr:\n{stderr}" if stderr else "; it wrote nothing to stderr"))

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
            return getattr(self._stub, method)(request, timeout=self.call_timeout)
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else None
            if tolerate_unimplemented and code == grpc.StatusCode.UNIMPLEMENTED:
                return None
            where = f"{method}({target})" if target else method
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                self._fail(f"did not answer {where} within {self.call_timeout:g} s")
            # A dead process shows as UNAVAILABLE a moment before its exit status can be read.
            status = self._wait_exit(1.0 if code == grpc.StatusCode.UNAVAILABLE else 0.0)
            if status is not None:
                self._wait_stderr_eof()
                self._fail(f"exited (status {status}) during {where}")
            details = (err.details() if hasattr(err, "details") else "") or str(code)
            self._fail(f"failed {where}: {details.strip().splitlines()[-1] if details.strip() else code}")
        raise AssertionError("unreachable")

    def _first_call(self, method: str, request: Any) -> Any:
        """The first call waits for the connection (the pack listens before it prints its port) and
        fails as soon as the process is gone rather than at the deadline."""
        assert self._stub is not None
        future = getattr(self._stub, method).future(request, timeout=self.call_timeout, wait_for_ready=True)
        while True:
            try:
                return future.result(timeout=0.02)
            except grpc.FutureTimeoutError:
                status = self._exit_status()
                if status is not None:
                    future.cancel()
                    self._wait_stderr_eof()
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
            self._parts = _RequestParts(nodes)
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
        requests = _RequestParts(self.graph.by_urn())
        for node in analyzed:
            if node.urn not in self._analyzed:
                self._analyze_one(node, requests)

        stack_request = analyzer_pb2.AnalyzeStackRequest(
            resources=[self._stack_resource(n, requests) for n in analyzed]
        )
        diagnostics = self._diagnostics
        response = self._call("AnalyzeStack", stack_request, tolerate_unimplemented=True)
        if response is not None:
            root = root_stack_urn(self.graph)
            for d in response.diagnostics:
                diagnostics.append(self._convert(d, d.urn if d.urn in nodes else root, "analyzeStack"))
        return list(diagnostics)

    def _analyze_one(self, node: ResourceNode, requests: _RequestParts) -> None:
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
            name=_urn_name(node.urn, node.name),
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
        requests: _RequestParts,
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
            name=_urn_name(node.urn, node.name),
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

    def _stack_resource(self, node: ResourceNode, requests: _RequestParts) -> analyzer_pb2.AnalyzerResource:
        return analyzer_pb2.AnalyzerResource(
            type=node.type,
            properties=to_struct(node.outputs),
            urn=node.urn,
            name=_urn_name(node.urn, node.name),
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
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            # Its descendants first, while it keeps them in its tree: the ones that left its group too.
            end_descendants(proc.pid)
            # The engine kills its plugins once the last call is answered; the pack has nothing to flush.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self._wait_exit(2.0)
            # The leader is at worst a zombie until wait() below, so the group id cannot have been reused.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        # Bounded: a descendant that escaped the tree may hold the pipes open; the readers close them.
        for t in self._threads:
            t.join(timeout=2.0)

    def __enter__(self) -> AnalyzerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__: Sequence[str] = (
    "AnalyzerSession",
    "Diagnostic",
    "PackError",
    "PackInfo",
    "PackProject",
    "PackPython",
    "PolicyInfo",
    "Remediation",
    "choose_python",
    "engine_view",
    "load_pack_project",
    "pack_environment",
    "pack_info_from_proto",
    "root_stack_urn",
    "to_struct",
)
