"""`markdown`: a pull-request comment or `$GITHUB_STEP_SUMMARY`: a verdict headline, then one table row per
finding (level, severity, policy, resource, file:line, message).

A waived finding's level reads `🔕 waived` and its message opens with the waiver's expiry, owner and
reason; the headline counts the waived ones among the advisory. A finding that blocks because the stack
is production opens with the signal that made it so (**Production**: …)."""

from __future__ import annotations

import html

from golive.analysis.findings import CheckResult, Finding
from golive.analysis.report.base import counts, display_type, invoke_legend, location, plural, register

_ICON = {"mandatory": "❌", "advisory": "⚠️", "disabled": "⏸️"}


def _cell(text: str) -> str:
    # Table cells are one line; raw HTML from a pack's message must not render.
    return html.escape(text.strip(), quote=False).replace("|", "\\|").replace("\n", "<br>")


def _code(text: str) -> str:
    return f"`{text.replace('`', '')}`" if text else ""


def _row(f: Finding) -> str:
    resource = f"{_code(display_type(f.resource_type))} {_cell(f.resource_name)}" if f.resource_type else ""
    level = f"{_ICON.get(f.enforcement_level, '')} {f.enforcement_level}"
    message = _cell(f.detail or f.description)
    if (production := f.production) is not None:
        said = "Production" if production.production else "Not production"
        message = f"**{said}**: {_cell(production.signal)}<br>{message}"
    if (waived := f.waived) is not None:
        level = "🔕 waived"
        message = f"**Waived until {waived.expires} by {_cell(waived.owner)}**: {_cell(waived.reason)}<br>{message}"
    return (
        "| "
        + " | ".join(
            [
                level,
                f.severity or "",
                _code(f.policy_name),
                resource,
                "<br>".join([_code(location(f.source)),
                             *(f"{_code(c.key)} in {_code(c.where)}" for c in f.config)]).removeprefix("<br>"),
                message,
            ]
        )
        + " |"
    )


@register("markdown")
def render(result: CheckResult) -> str:
    mandatory, advisory = counts(result)
    target = f"`{result.project}` / `{result.stack}`"
    waived = f" ({len(result.waived)} waived)" if result.waived else ""
    if not result.preview:
        target += " as deployed"
    if mandatory:
        blocked = "would be blocked" if result.preview else "fails"
        headline = f"## ❌ golive: {target} {blocked} — {mandatory} mandatory, {advisory} advisory{waived}"
    elif advisory:
        headline = f"## ⚠️ golive: {target} passes with {plural(advisory, 'advisory finding')}{waived}"
    else:
        headline = f"## ✅ golive: {target} passes every policy"
    packs = ", ".join(f"`{p.name}@v{p.version}`" for p in result.packs)
    what = plural(result.resource_count, "resource")
    checked = f"Preview of {what}" if result.preview else f"State of {what}, as last deployed,"
    out = [
        headline,
        "",
        f"{checked} checked offline by {packs}.",
        "",
    ]
    if result.findings:
        out += ["| Level | Severity | Policy | Resource | Location | Message |", "|---|---|---|---|---|---|"]
        out += [_row(f) for f in result.findings]
        out.append("")
    if result.invokes:
        out += [
            f"<details><summary>{plural(len(result.invokes), 'data source')} answered offline, "
            "not by the cloud</summary>",
            "",
            f"{_cell(invoke_legend(result))}.",
            "",
        ]
        for invoke in result.invokes:
            where = f" at {_code(location(invoke.source))}" if invoke.source else ""
            out.append(f"- {_code(invoke.token)} ({invoke.answered}){where}")
        out += ["", "</details>", ""]
    return "\n".join(out)
