"""Stage 4: the engine's diagnostics joined with the graph, ready for the reporters.

Every diagnostic is kept, the SDK's "can't run policy ... during preview" ones included: they are what
the engine shows, and the SDK sends them at ADVISORY even for a mandatory policy, which a report must
make visible rather than hide.

Waivers: the analyzer protocol carries only a message and a level, so the pack marks a waived finding
with a first message line `[waived until YYYY-MM-DD by OWNER: REASON]` (policies/checklist/waivers.py)
and what it says about a waiver itself with `[waiver NAME: expired|stale|not applied]`. `Finding.waived`
and `Finding.waiver_notice` read those back for the reporters; `detail` leaves the waived line out, so
a finding reads (and fingerprints, and baselines) the same whether or not it is waived.

Production: the pack opens a finding that blocks because the stack is production with a line
`[production: WHY]` (under any waived line), and one that a `productionStacks` list kept from blocking
with `[not production: WHY]` (policies/checklist/pack.py). `Finding.production` reads it back; `detail`
leaves it out too, so a finding is the same whichever signal made the stack production.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from golive.analysis.policyconfig import PackInfo
from golive.analysis.protocol import Diagnostic, Remediation, root_stack_urn
from golive.preview import urns
from golive.preview.graph import InvokeRecord, ResourceGraph, SourcePosition
from golive.preview.project import scalar_text
from golive.preview.wire import is_unknown, signature

# The CLI's own orders (pkg/backend/display/progress.go enforcementRank, severityRank).
LEVEL_RANK = {"remediate": 0, "mandatory": 1, "advisory": 2, "disabled": 3}
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "": 4}

# The pack's markers (checklist/waivers.py `Waiver.marker` and `notices`); tests hold the two together.
_WAIVED = re.compile(r"\[waived until (?P<expires>[0-9]{4}-[0-9]{2}-[0-9]{2}) by (?P<owner>[^:\n]+): (?P<reason>.*)\]")
_NOTICE = re.compile(r"\[waiver (?P<name>[^\s:\]]+): (?P<status>expired|stale|not applied)\]")
_PRODUCTION = re.compile(r"\[(?P<not>not )?production: (?P<signal>[^\n]*)\]")


@dataclass(frozen=True)
class Waived:
    """The waiver that turned a finding into advice."""

    expires: str  # YYYY-MM-DD, the last day it applies (UTC)
    owner: str
    reason: str


@dataclass(frozen=True)
class ProductionSignal:
    """Whether the pack took the stack for production, and the signal that decided it."""

    production: bool
    signal: str


@dataclass(frozen=True)
class WaiverNotice:
    """A finding about a waiver itself: `expired`, `stale` or `not applied`."""

    waiver: str  # its id, or "#<n>" by its place in the policy's list
    status: str


@dataclass(frozen=True)
class ConfigSource:
    """A stack config value a finding quotes, which its resource carries: where it came from."""

    key: str  # "golive:rotationDays", or a path into an object or list value: "golive:thresholds.bounce_rate"
    value: str  # the value as the config gives it (never a secret one)
    prop: str  # the resource property holding it: "rotationRules.automaticallyAfterDays"
    file: str = ""  # the stack file, relative to the program folder when inside it; "" when --config set it
    line: int = 0  # the key's line in `file` (0 when not known)

    @property
    def where(self) -> str:
        if not self.file:
            return "--config"
        return f"{self.file}:{self.line}" if self.line else self.file

    def describe(self) -> str:
        value = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        origin = f"stack config {self.key} ({self.where})" if self.file else f"--config {self.key}"
        return f"{self.prop} = {value} from {origin}"


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
    config: tuple[ConfigSource, ...] = ()  # stack config values the message quotes, where they came from

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level == "mandatory"

    @property
    def _body(self) -> str:
        if self.description and self.message.startswith(self.description):
            return self.message[len(self.description) :].lstrip("\n")
        return self.message

    @property
    def _markers(self) -> tuple[re.Match[str] | None, re.Match[str] | None, str]:
        """The waived line, the production line (each in its place, or None) and the rest of the body."""
        body = self._body
        first, _, rest = body.partition("\n")
        waived = _WAIVED.fullmatch(first)
        if waived:
            body = rest
            first, _, rest = body.partition("\n")
        production = _PRODUCTION.fullmatch(first)
        return waived, production, rest if production else body

    @property
    def detail(self) -> str:
        """The message without the description the SDK puts in front of it, nor a waived or production
        marker."""
        return self._markers[2]

    @property
    def waived(self) -> Waived | None:
        match = self._markers[0]
        return Waived(match["expires"], match["owner"], match["reason"]) if match else None

    @property
    def production(self) -> ProductionSignal | None:
        match = self._markers[1]
        return ProductionSignal(not match["not"], match["signal"]) if match else None

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
    preview: bool = True  # False: a stack's state was checked (`--state`), as deployed, not a preview

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

    def verdict(self) -> str:
        """What the mandatory findings mean for what was checked: a preview, or a stack as deployed."""
        if self.preview:
            return "the preview would fail" if self.mandatory else "the preview would pass"
        return "the stack as deployed fails" if self.mandatory else "the stack as deployed passes"


def _type_and_name(urn: str) -> tuple[str, str]:
    parsed = urns.parse(urn)
    return (parsed.type, parsed.name) if parsed else ("", "")


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
    preview: bool = True,
) -> CheckResult:
    infos = [info] if isinstance(info, PackInfo) else list(info)
    nodes = graph.by_urn()
    root = root_stack_urn(graph)
    findings = []
    sources = _ConfigValues(graph)
    for d in diagnostics:
        urn = d.urn or root  # the engine attributes an unnamed stack-level diagnostic to the root stack
        node = nodes.get(urn)
        rtype, rname = (node.type, node.name) if node else _type_and_name(urn)
        finding = Finding(
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
        if node is not None and node.inputs:
            finding = replace(finding, config=sources.quoted(finding.detail, node.inputs))
        findings.append(finding)
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
        preview=preview,
    )


# A number as a message writes it: not part of a name (cio12345), a version (v1.2) or a longer number.
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w]|\.\d)")
_NUMBER_TEXT = re.compile(r"[-+]?\d+(?:\.\d+)?")


def message_numbers(text: str) -> list[float]:
    """The numbers a message states, in order (180 and 90 in "rotates every 180 days; at most 90"),
    leaving out digits inside names such as cio12345."""
    return [float(m.group()) for m in _NUMBER.finditer(text)]


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return float(value)
    return None


def _leaves(value: object, path: str) -> Iterator[tuple[str, object]]:
    """(path, scalar) of every value inside `value`: `a.b`, `a[0]`, as config_lines names them."""
    if isinstance(value, dict):
        if signature(value) is not None:
            return  # a secret, asset or reference: nothing a report may quote
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _leaves(inner, f"{path}[{i}]")
    elif value is not None and not isinstance(value, bool) and not is_unknown(value):
        yield path, value


class _ConfigValues:
    """The stack's non-secret config values, to tell which of them a finding's resource carries.

    A value is named only when all three agree exactly: the message quotes it (a number, or the
    whole text as a word of its own), a property of the finding's resource holds it, and a config
    key (or a value inside an object or list value) has it. Booleans and empty values are left out:
    too common to say where they came from. Secret keys are never looked at."""

    def __init__(self, graph: ResourceGraph) -> None:
        self.graph = graph
        self._values: list[tuple[str, str, object]] | None = None
        self._lines: dict[str, int] = {}

    def _load(self) -> list[tuple[str, str, object]]:
        if self._values is not None:
            return self._values
        graph = self.graph
        found: list[tuple[str, str, object]] = []  # (key path, top key, value)
        secret = set(graph.secret_keys)
        for key, text in graph.config.items():
            if key in secret or not text:
                continue
            value: object = text
            if text[:1] in "[{":
                try:
                    value = json.loads(text)
                except ValueError:
                    pass
            found.extend((path, key, leaf) for path, leaf in _leaves(value, key) if leaf != "")
        if graph.config_file and found:
            from golive.preview.project import config_lines

            self._lines = config_lines(Path(graph.config_file), graph.project)
        self._values = found
        return found

    def quoted(self, message: str, inputs: dict[str, object]) -> tuple[ConfigSource, ...]:
        values = self._load()
        if not values:
            return ()
        numbers = set(message_numbers(message))
        props = list(_leaves(inputs, ""))
        out: list[ConfigSource] = []
        for path, key, value in values:
            number = _as_number(value)
            if number is not None:
                if number not in numbers:
                    continue
                prop = next((p for p, v in props if _as_number(v) == number), None)
            else:
                text = str(value)
                if not _quotes(message, text):
                    continue
                prop = next((p for p, v in props if v == text), None)
            if prop is not None:
                out.append(self._source(path, key, scalar_text(value), prop))
        return tuple(out)

    def _source(self, path: str, key: str, value: str, prop: str) -> ConfigSource:
        graph = self.graph
        if key in graph.config_overrides or not graph.config_file:
            return ConfigSource(path, value, prop)
        file = Path(graph.config_file)
        try:
            shown = file.relative_to(graph.program_dir).as_posix() if graph.program_dir else file.name
        except ValueError:
            shown = str(file)
        return ConfigSource(path, value, prop, shown, self._lines.get(path, 0))


def _quotes(message: str, text: str) -> bool:
    """Whether `text` is in `message` as a whole: not part of a longer name, domain, path or word."""
    start = message.find(text)
    while start >= 0:
        end = start + len(text)
        before = message[start - 1] if start else " "
        after, then = message[end:end + 1] or " ", message[end + 1:end + 2] or " "
        if not (before.isalnum() or before in "_.-/@:") and not (
                after.isalnum() or after in "_-/@" or (after in ".:" and (then.isalnum() or then == "_"))):
            return True
        start = message.find(text, start + 1)
    return False


__all__ = [
    "LEVEL_RANK",
    "SEVERITY_RANK",
    "CheckResult",
    "ConfigSource",
    "Finding",
    "PackSummary",
    "Waived",
    "WaiverNotice",
    "build_result",
    "message_numbers",
    "sort_key",
]
