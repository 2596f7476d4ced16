"""The one place the checklist meets `pulumi_policy`: every catalog entry becomes a stack policy.

Why stack policies only: the engine sends AnalyzeStack the whole graph with parents, dependencies
and property dependencies, which is how a rotation finds its secret or an alarm its topic while
ids and ARNs are still unknown. The SDK deserializes the stack once per policy; we build our plain
`Stack` once per AnalyzeStack call from the raw request and share it between the policies.

Four SDK hooks, all guarded by tests against the pinned pulumi-policy version:
- ConfigureStack carries the stack name, its config, which config keys are secret and the stack's
  tags; the SDK keeps only the tags, per policy, and the credentials rule needs the secret keys.
- Configure carries every policy's level and properties; the SDK hands each policy only its own. The
  whole of it is kept, because production (`productionStacks`) and `pack-config-not-looser` are about
  the whole config; and that policy is always run at its catalog level, so that lowering or disabling
  it is one more loosening it reports instead of a way to silence it.
- AnalyzeStack keeps the raw request for `_current_stack` and hands the SDK the request without
  its resources: the SDK's own per-policy copies (`args.resources`) are never read here, and
  building them was most of the call's time on a large stack.
- A finding may be advice (`RuleFinding.advisory`), and every finding in a non-production stack is:
  the diagnostic is then sent at ADVISORY whatever the policy's level. Levels only go down.

Waivers (`checklist/waivers.py`) are applied here and nowhere else, once per policy, between the rule
and the report: a waived finding is advice like any other, so it reaches the engine through the same
hook and is shown, marked, instead of dropped.

Production (`recognize.production`) is decided here too, once per call and set of patterns, and said in
the findings it makes block: their message opens with `[production: WHY]` (under any waiver marker),
so the CLI, `pulumi preview` and every golive report show which signal made the stack production. When
`productionStacks` overrules the other signals, the (advisory) findings open with `[not production: WHY]`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import grpc
from google.protobuf import json_format
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as _sdk

from . import emailauth, waivers
from .catalog import (
    CHECKLIST,
    PACK_CONFIG_FILE_ENV,
    PACK_CONFIG_POLICY,
    POLICIES,
    POLICY_BY_NAME,
    PRODUCTION_PATTERNS_SCHEMA,
    PolicySpec,
)
from .model import Resource, RuleFinding, Stack, plain
from .recognize import Production, production
from .rules import RULES, run

PACK_NAME = "golive-customerio"

_local = threading.local()
_NO_RESOURCES = proto.AnalyzeStackRequest()
_stack_context: dict[str, Any] = {}
# Configure's policy config in the file's shape: name (or `all`) to {"enforcementLevel", properties...}.
_pack_config: dict[str, dict[str, Any]] = {}
_LEVEL_NAMES = {
    proto.ADVISORY: "advisory",
    proto.MANDATORY: "mandatory",
    proto.REMEDIATE: "remediate",
    proto.DISABLED: "disabled",
}


def _context_from_env() -> dict[str, Any]:
    """What the CLI puts in the pack's environment, for engines that skip ConfigureStack."""
    config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    secret_keys = json.loads(os.environ.get("PULUMI_CONFIG_SECRET_KEYS") or "[]")
    return {
        "stack": os.environ.get("PULUMI_STACK", ""),
        "project": os.environ.get("PULUMI_PROJECT", ""),
        "config": {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()},
        "secret_keys": frozenset(secret_keys),
        "tags": {},
    }


def _stack_from_request(request: Any) -> Stack:
    context = _stack_context or _context_from_env()
    resources = [
        Resource(
            type=r.type,
            name=r.name,
            urn=r.urn,
            props=plain(json_format.MessageToDict(r.properties)),
            ignore_changes=tuple(r.options.ignoreChanges),
            parent=r.parent or None,
            dependencies=tuple(r.dependencies),
            property_dependencies={k: tuple(v.urns) for k, v in r.propertyDependencies.items()},
        )
        for r in request.resources
    ]
    return Stack(
        name=context["stack"],
        project=context["project"],
        resources=resources,
        config=context["config"],
        secret_keys=context["secret_keys"],
        tags=context.get("tags") or {},
        pack_config=_pack_config,
        pack_config_source=os.environ.get(PACK_CONFIG_FILE_ENV, ""),
    )


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = True


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during an AnalyzeStack call.

    The SDK turns every resource into dicts and proxies once per policy, and keeps a policy's copy
    alive while the policy runs; each automatic full collection walks all of it again, which makes
    the call grow faster than the stack (5,000 → 20,000 resources: 5x the time with collection, 4.1x
    without). None of it forms reference cycles (a resource points to its parent and dependencies,
    not back), so reference counting frees each policy's copy as the next one is built. Calls may
    overlap on the server's threads: collection resumes when the last one ends.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def _unknown_properties(config: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`policy: 'key' is not one of its properties` for every property no policy's schema names."""
    problems = []
    for name, entry in config.items():
        spec = POLICY_BY_NAME.get(name)
        if spec is None:
            continue  # `all`, or a key the engine passes on as given
        known = spec.schema()
        problems += [f"{name}: {key!r} is not one of its properties ({', '.join(sorted(known))})"
                     for key in entry if key != "enforcementLevel" and key not in known]
    return problems


def _install_sdk_hooks() -> None:
    servicer = _sdk._PolicyAnalyzerServicer
    if getattr(servicer, "_golive_hooked", False):
        return
    configure_stack = servicer.ConfigureStack
    configure = servicer.Configure
    analyze_stack = servicer.AnalyzeStack
    create_report = servicer._create_report_violation

    def ConfigureStack(self: Any, request: Any, context: Any) -> Any:
        _stack_context.update(
            stack=request.stack,
            project=request.project,
            config=dict(request.config),
            secret_keys=frozenset(request.config_secret_keys),
            tags=dict(request.tags),
        )
        return configure_stack(self, request, context)

    def Configure(self: Any, request: Any, context: Any) -> Any:
        _pack_config.clear()
        for name, entry in request.policyConfig.items():
            level = _LEVEL_NAMES.get(entry.enforcementLevel)
            _pack_config[name] = {
                **json_format.MessageToDict(entry.properties),
                **({"enforcementLevel": level} if level else {}),
            }
        unknown = _unknown_properties(_pack_config)
        if unknown:
            # The engine validates each policy's config against its schema, which it cannot close (it
            # builds the object schema from `properties` and `required` alone): a typo such as
            # `maxDayz` would pass and leave `maxDays` at its default. Refused here, so `pulumi
            # preview` fails as `golive check` does.
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid policy config: {'; '.join(unknown)}")
        if PACK_CONFIG_POLICY in request.policyConfig:
            request = _with_level(request, PACK_CONFIG_POLICY, proto.MANDATORY)
        return configure(self, request, context)

    def AnalyzeStack(self: Any, request: Any, context: Any) -> Any:
        _local.request, _local.stack, _local.production = request, None, {}
        try:
            with _collector_paused():
                # The policies read the stack from the raw request, once, shared (`_current_stack`). The
                # SDK would also turn every resource into a `PolicyResource` once per policy for
                # `args.resources`, which no policy here reads: 12 copies of the stack, most of the
                # call's time. Its levels, config, reporting and error handling are all kept.
                return analyze_stack(self, _NO_RESOURCES, context)
        finally:
            _local.request = _local.stack = _local.production = None

    def _create_report_violation(self: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        report = create_report(self, response, *args, **kwargs)

        def report_at_level(message: str, urn: str | None = None, advisory: bool = False) -> None:
            report(message, urn)
            if advisory:
                response.diagnostics[-1].enforcementLevel = proto.ADVISORY

        return report_at_level

    servicer.ConfigureStack = ConfigureStack
    servicer.Configure = Configure
    servicer.AnalyzeStack = AnalyzeStack
    servicer._create_report_violation = _create_report_violation
    servicer._golive_hooked = True


def _with_level(request: Any, name: str, level: int) -> Any:
    patched = type(request)()
    patched.CopyFrom(request)
    patched.policyConfig[name].enforcementLevel = level
    return patched


def _current_stack() -> Stack:
    if getattr(_local, "stack", None) is None:
        _local.stack = _stack_from_request(_local.request)
    return _local.stack


def _today() -> date:
    try:
        return waivers.today()
    except ValueError:
        # A malformed GOLIVE_TODAY is an operator's slip (golive refuses it before the pack runs); the
        # real date is the honest reading.
        return datetime.now(UTC).date()


def _production_stacks() -> tuple[str, ...]:
    """`productionStacks` as the whole config gives it: the lists of every policy, merged, since a stack
    is production or not for all policies at once."""
    listed: dict[str, None] = {}
    for entry in _pack_config.values():
        names = entry.get("productionStacks")
        if isinstance(names, list):
            listed.update((n, None) for n in names if isinstance(n, str) and n.strip())
    return tuple(listed)


def _production(stack: Stack, patterns: tuple[str, ...]) -> Production:
    """Once per AnalyzeStack call and set of patterns: most policies share the default ones."""
    known: dict[tuple[str, ...], Production] | None = getattr(_local, "production", None)
    if known is None:
        return production(stack, patterns, _production_stacks())
    if patterns not in known:
        known[patterns] = production(stack, patterns, _production_stacks())
    return known[patterns]


def _level(spec: PolicySpec) -> str:
    if spec.name == PACK_CONFIG_POLICY:
        return spec.level  # run at its catalog level whatever the config says (see Configure)
    return (_pack_config.get(spec.name) or {}).get("enforcementLevel") or spec.level


def _said(findings: list[RuleFinding], verdict: Production, blocking: bool) -> list[RuleFinding]:
    """Findings opened with the signal that made them block, or with the list that kept them from it."""
    if verdict.production and blocking:
        marker = f"[production: {verdict.signal}]"
    elif not verdict.production and verdict.signal:
        marker = f"[not production: {verdict.signal}]"
    else:
        return findings
    return [f if f.advisory else replace(f, message=f"{marker}\n{f.message}") for f in findings]


def _validation(spec: PolicySpec) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config: Mapping[str, Any] = args.get_config() or {}
        stack = _current_stack()
        patterns = tuple(config.get("productionStackPatterns") or PRODUCTION_PATTERNS_SCHEMA["default"])
        verdict = _production(stack, patterns)
        stack = replace(stack, production=verdict.production)
        findings = run(spec.name, stack, {k: v for k, v in config.items() if k != "waivers"})
        findings = _said(findings, verdict, _level(spec) in ("mandatory", "remediate"))
        if config.get("waivers"):
            findings = waivers.apply(spec.name, findings, config["waivers"], stack, _today())
        for finding in findings:
            report_violation(finding.message, finding.urn, finding.advisory or not verdict.production)  # type: ignore[call-arg]

    return validate


def build_policies() -> list[StackValidationPolicy]:
    policies = []
    for spec in POLICIES:
        name = RULES[spec.name].spec.name  # a catalog entry without a rule fails here, at start-up
        schema = spec.schema()
        policies.append(
            StackValidationPolicy(
                name=name,
                description=spec.description,
                validate=_validation(spec),
                enforcement_level=EnforcementLevel(spec.level),
                config_schema=PolicyConfigSchema(properties=schema),
                severity=Severity(spec.severity),
                tags=[CHECKLIST, spec.section],
                remediation_steps=spec.remediation,
            )
        )
    return policies


def _preload() -> None:
    try:
        emailauth.preload()
    except Exception:  # only a head start: the rules load it again when they need it
        pass


def serve() -> None:
    """Start the pack's gRPC server; blocks. Called by the pack's `__main__.py`."""
    _install_sdk_hooks()
    # The engine starts the pack before the program runs, so there is time to spare before the
    # first AnalyzeStack: load what its first call would otherwise load.
    threading.Thread(target=_preload, name="golive-preload", daemon=True).start()
    PolicyPack(
        name=PACK_NAME,
        policies=build_policies(),
        description="The Customer.io production checklist as a CrossGuard policy pack.",
    )
