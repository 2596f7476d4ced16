"""What every reporter shares: the registry of formats, and how a type, a place and a count read."""

from __future__ import annotations

from collections.abc import Callable

from golive.analysis.findings import CheckResult
from golive.preview.graph import SourcePosition

Renderer = Callable[[CheckResult], str]
_RENDERERS: dict[str, Renderer] = {}


def register(name: str) -> Callable[[Renderer], Renderer]:
    def add(renderer: Renderer) -> Renderer:
        _RENDERERS[name] = renderer
        return renderer

    return add


def formats() -> tuple[str, ...]:
    return tuple(_RENDERERS)


def render(format: str, result: CheckResult) -> str:
    """The report in `format` (text, json, sarif, junit, markdown); ends with a newline."""
    try:
        renderer = _RENDERERS[format]
    except KeyError:
        raise ValueError(f"unknown report format {format!r} (one of {', '.join(_RENDERERS)})") from None
    report = renderer(result)
    return report if report.endswith("\n") else report + "\n"


def display_type(token: str) -> str:
    """tokens.Type.DisplayName: `aws:s3/bucket:Bucket` reads `aws:s3:Bucket`, as the CLI shows it."""
    parts = token.split(":")
    if len(parts) != 3 or not parts[2] or "/" not in parts[1]:
        return token
    module, _, file = parts[1].rpartition("/")
    if file != parts[2][:1].lower() + parts[2][1:]:
        return token
    return f"{parts[0]}:{module}:{parts[2]}"


def location(source: SourcePosition | None) -> str:
    return f"{source.file}:{source.line}" if source else ""


# What each way of answering a data source offline means (InvokeRecord.answered).
ANSWERED = {
    "placeholder": "values of the declared types",
    "results-file": "the values --invoke-results gives, the declared types' for other fields",
}


def invoke_legend(result: CheckResult) -> str:
    """What the `answered` labels of this result's data sources mean: only the labels it uses."""
    used = {i.answered for i in result.invokes}
    labels = [label for label in ANSWERED if label in used] + sorted(used - set(ANSWERED))
    return "; ".join(f"{label}: {ANSWERED.get(label, label)}" for label in labels)


def counts(result: CheckResult) -> tuple[int, int]:
    return len(result.mandatory), len(result.advisory)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


__all__ = ["ANSWERED", "Renderer", "counts", "display_type", "formats", "invoke_legend", "location", "plural",
           "register", "render"]
