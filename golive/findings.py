"""Stage 4: the engine's diagnostics joined with the graph, ready for the reporters.

Every diagnostic is kept, the SDK's "can't run policy ... during preview" ones included: they are what
the engine shows, and the SDK sends them at ADVISORY even for a mandatory policy, which a report must
make visible rather than hide.

Waivers: the analyzer protocol carries only a message and a level, so the pack marks a waived finding
with a first message line `[waived until YYYY-MM-DD by OWNER: REASON]` (policies/checklist/waivers.py)
and what it says about a waiver itself with `[waiver NAME: expired|stale|not applied]`. `Finding.waived`
and `Finding.waiver_notice` read those back for the reporters; `detail` leaves the waived line out, so
a finding reads (and fingerprints, and baselines) the same whether or not it is waived.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .analyzer import Diagnostic, PackInfo, Remediation, root_stack_urn
from .graph import InvokeRecord, ResourceGraph, SourcePosition

# The CLI's own orders (pkg/backend/display/progress.go enforcementRank, severityRank).
LEVEL_RANK = {"remediate": 0, "mandatory": 1, "advisory": 2, "disabled": 3}
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "": 4}

# The pack's markers (checklist/waivers.py `Waiver.marker` and `notices`); tests hold the two together.
_WAIVED = re.compile(r"\[waived until (?P<expires>[0-9]{4}-[0-9]{2}-[0-9]{2}) by (?P<owner>[^:\n]+): (?P<reason>.*)\]")
_NOTICE = re.compile(r"\[waiver (?P<name>[^\s:\]]+): (?P<status>expired|stale|not applied)\]")


@dataclass(frozen=True)
class Waived:
    """The waiver that turned a finding into advice."""

    expires: str  # YYYY-MM-DD, the last day it applies (UTC)
    owner: str
    reason: str


@dataclass(frozen=True)
class WaiverNotice:
    """A finding about a waiver itself: `expired`, `stale` or `not applied`."""

    waiver: str  # its id, or "#<n>" by its place in the policy's list
    status: str


@dataclass(frozen=True)
class Finding:
    policy_name: str
    policy_pack_name: str
    policy_pack_version: str
    enforcement_level: str  # advisory|mandatory|disabled (remediate is shown as mandatory)
    severity: str  # low|medium|high|critical, "" when unspecified
    message: str  # as the pack sent it: the policy's description, then its message
    description: str
    resource_urn: str
    resource_type: str
    resource_name: str
    source: SourcePosition | None = None

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level == "mandatory"

    @property
    def _body(self) -> str:
        if self.description and self.message.startswith(self.description):
            return self.message[len(self.description) :].lstrip("\n")
        return self.message

    @property
    def detail(self) -> str:
        """The message without the description the SDK puts in front of it, nor a waived marker."""
        body = self._body
        first, _, rest = body.partition("\n")
        return rest if _WAIVED.fullmatch(first) else body

    @property
    def waived(self) -> Waived | None:
        match = _WAIVED.fullmatch(self._body.partition("\n")[0])
        return Waived(match["expires"], match["owner"], match["reason"]) if match else None

    @property
    def waiver_notice(self) -> WaiverNotice | None:
        match = _NOTICE.match(self._body)
        return WaiverNotice(match["name"], match["status"]) if match else None


@dataclass(frozen=True)
class PackSummary:
    name: str
    version: str
    info: PackInfo | None = None


@dataclass
class CheckResult:
    project: str
    stack: str
    packs: list[PackSummary]
    resource_count: int
    findings: list[Finding]
    invokes: list[InvokeRecord] = field(default_factory=list)  # provider functions answered offline
    pack_python: str = ""  # which interpreter ran the pack(s), and why
    program_dir: str = ""
    source_root: str = ""  # what SARIF paths are relative to (the repository); program_dir when ""
    remediations: list[Remediation] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.enforcement_level == "mandatory"]

    @property
    def advisory(self) -> list[Finding]:
        return [f for f in self.findings if f.enforcement_level == "advisory"]

    @property
    def waived(self) -> list[Finding]:
        return [f for f in self.findings if f.waived is not None]

    def exit_code(self) -> int:
        """1 when anything mandatory fired (the CLI fails the preview then), else 0."""
        return 1 if self.mandatory else 0


def _type_and_name(urn: str) -> tuple[str, str]:
    # urn:pulumi:STACK::PROJECT::PARENT$TYPE::NAME; the name may itself contain "::".
    parts = urn.split("::", 3)
    if len(parts) < 4:
        return "", ""
    return parts[2].rsplit("$", 1)[-1], parts[3]


def _program_source(source: SourcePosition | None) -> SourcePosition | None:
    """The declaring line when it is the program's own; the SDK's file (the Stack, an explicit
    provider, a `.get`) tells a reviewer nothing, so those findings point at the project instead."""
    if source is None or Path(source.file).is_absolute() or "site-packages" in Path(source.file).parts:
        return None
    return source


def sort_key(f: Finding) -> tuple[object, ...]:
    return (
        f.policy_pack_name,
        LEVEL_RANK.get(f.enforcement_level, 99),
        SEVERITY_RANK.get(f.severity, 99),
        f.policy_name,
        f.resource_urn,
        f.message,
    )


def build_result(
    graph: ResourceGraph,
    info: PackInfo | Sequence[PackInfo],
    diagnostics: Iterable[Diagnostic],
    *,
    pack_python: str = "",
    remediations: Iterable[Remediation] = (),
    source_root: str = "",
) -> CheckResult:
    infos = [info] if isinstance(info, PackInfo) else list(info)
    nodes = graph.by_urn()
    root = root_stack_urn(graph)
    findings = []
    for d in diagnostics:
        urn = d.urn or root  # the engine attributes an unnamed stack-level diagnostic to the root stack
        node = nodes.get(urn)
        rtype, rname = (node.type, node.name) if node else _type_and_name(urn)
        findings.append(
            Finding(
                policy_name=d.policy_name,
                policy_pack_name=d.policy_pack_name,
                policy_pack_version=d.policy_pack_version,
                enforcement_level=d.enforcement_level,
                severity=d.severity,
                message=d.message,
                description=d.description,
                resource_urn=urn,
                resource_type=rtype,
                resource_name=rname,
                source=_program_source(node.source) if node else None,
            )
        )
    findings.sort(key=sort_key)
    return CheckResult(
        project=graph.project,
        stack=graph.stack,
        packs=[PackSummary(i.name, i.version, i) for i in infos],
        resource_count=sum(1 for r in graph.resources if not r.external),  # what the pack was shown
        findings=findings,
        invokes=list(graph.invokes),
        pack_python=pack_python,
        program_dir=graph.program_dir,
        source_root=source_root,
        remediations=list(remediations),
    )


__all__ = [
    "LEVEL_RANK",
    "SEVERITY_RANK",
    "CheckResult",
    "Finding",
    "PackSummary",
    "Waived",
    "WaiverNotice",
    "build_result",
    "sort_key",
]
