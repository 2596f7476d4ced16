"""`html`: one self-contained review page, for one stack or many (`golive check --all-stacks`, `golive merge`).

A static file a reviewer opens from disk: the styles and the few lines of script are inline, and its
Content-Security-Policy forbids loading anything else (no fonts, images or scripts from anywhere), so it
reads the same offline, in a CI artifact or attached to a ticket. It shows the totals, a stacks ×
policies grid coloured by the worst level in each cell (a click filters the findings to that cell), each
finding with its resource, declaring line, message, the checklist's rationale and remediation, and its
waiver with the days left, filters by level, policy, stack (and change), and with a previous report what
is new, fixed or unchanged.

Every string from a report (resource names, messages, reasons: a program or a pack chose them) is
HTML-escaped where it is written; the script only shows and hides rows, never writes markup.

Not one of the per-result renderers of `report.render`: the page is a merged report's, of one stack or
many, and `golive check --format html` builds it through `stack_report`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from golive.analysis.findings import CheckResult
from golive.analysis.report.base import display_type, plural

if TYPE_CHECKING:
    from golive.analysis.report.merged import MergedReport, Row, StackReport

# Worst first, for the grid's colour of a cell.
_LEVELS = ("mandatory", "advisory", "waived")

_STYLE = """
:root{--bad:#b71c1c;--bad-bg:#fdecea;--warn:#8a5a00;--warn-bg:#fff4d6;--waived:#37474f;--waived-bg:#e8eef2;
--ok:#1b5e20;--ok-bg:#e6f4ea;--err:#fff;--err-bg:#4a148c;--line:#d0d7de;--muted:#57606a}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#fff}
header,main{padding:0 24px}header{border-bottom:1px solid var(--line);padding-bottom:8px}
h1{font-size:20px;margin:16px 0 4px}h2{font-size:16px;margin:24px 0 8px}.muted{color:var(--muted)}
.totals{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.total{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:90px}
.total b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%}th,td{border:1px solid var(--line);padding:4px 6px;vertical-align:top;
text-align:left}th{background:#f6f8fa;position:sticky;top:0}
.grid td.cell{text-align:center;cursor:pointer;min-width:28px}.grid th.policy{font-size:12px;font-weight:600}
.lvl-mandatory,.st-fail{background:var(--bad-bg);color:var(--bad)}
.lvl-advisory,.st-warn{background:var(--warn-bg);color:var(--warn)}
.lvl-waived{background:var(--waived-bg);color:var(--waived)}.st-pass{background:var(--ok-bg);color:var(--ok)}
.st-error{background:var(--err-bg);color:var(--err)}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:8px 0}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.badge.new{background:#ddf4ff;color:#0550ae}.badge.fixed{background:var(--ok-bg);color:var(--ok)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.msg{white-space:pre-wrap}details summary{cursor:pointer;color:var(--muted)}
tr[hidden]{display:none}
"""

_SCRIPT = """
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("#findings tr.finding"));
  var keys = ["level", "policy", "stack", "change"];
  var selects = keys.map(function (k) { return document.getElementById("f-" + k); });
  var shown = document.getElementById("shown");
  function apply() {
    var n = 0;
    rows.forEach(function (row) {
      var ok = keys.every(function (k, i) {
        var s = selects[i];
        return !s || !s.value || row.dataset[k] === s.value;
      });
      row.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length + " findings shown";
  }
  selects.forEach(function (s) { if (s) { s.addEventListener("change", apply); } });
  Array.prototype.forEach.call(document.querySelectorAll("td.cell[data-stack]"), function (cell) {
    cell.addEventListener("click", function () {
      selects[0].value = "";
      selects[1].value = cell.dataset.policy;
      selects[2].value = cell.dataset.stack;
      if (selects[3]) { selects[3].value = ""; }
      apply();
      document.getElementById("findings").scrollIntoView();
    });
  });
  apply();
}());
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _level(row: Row) -> str:
    return "waived" if row.waived is not None else row.level


def _days(expires: str, today: date) -> str:
    try:
        delta = (date.fromisoformat(expires) - today).days
    except ValueError:
        return ""
    if delta < 0:
        return f"expired {plural(-delta, 'day')} ago"
    return "expires today" if delta == 0 else f"{plural(delta, 'day')} left"


def _options(name: str, label: str, values: Sequence[tuple[str, str]]) -> str:
    options = "".join(f'<option value="{_e(v)}">{_e(t)}</option>' for v, t in values)
    return (f'<label>{_e(label)} <select id="f-{name}"><option value="">all</option>{options}</select></label>')


def _grid(merged: MergedReport, policies: Sequence[str]) -> str:
    cells = merged.grid()
    head = "".join(f'<th class="policy" title="{_e(p)}">{_e(p)}</th>' for p in policies)
    out = [f'<table class="grid" id="grid"><thead><tr><th>Stack</th><th>Status</th>{head}</tr></thead><tbody>']
    from golive.analysis.report.merged import STATUS_RANK

    for s in sorted(merged.stacks, key=lambda s: (STATUS_RANK[s.status], s.key)):
        tds = []
        for p in policies:
            rows = cells.get((s.key, p), [])
            if not rows:
                tds.append('<td class="cell empty"></td>')
                continue
            worst = next(lv for lv in _LEVELS if any(_level(r) == lv for r in rows))
            tds.append(f'<td class="cell lvl-{worst}" data-stack="{_e(s.key)}" data-policy="{_e(p)}" '
                       f'title="{_e(plural(len(rows), worst + " finding"))}">{len(rows)}</td>')
        out.append(f'<tr data-stack="{_e(s.key)}"><th class="mono">{_e(s.key)}</th>'
                   f'<td class="st-{s.status}" title="{_e(s.error)}">{_e(s.status)}</td>{"".join(tds)}</tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _finding(row: Row, change: str, today: date) -> str:
    from golive.analysis.report.merged import policy_docs

    docs = policy_docs(row.policy)
    level = _level(row)
    resource = _e(row.resource or "(the stack)")
    if row.resource_type:
        resource += f'<br><code>{_e(display_type(row.resource_type))}</code>'
    location = f"<code>{_e(row.location)}</code>" if row.location else '<span class="muted">-</span>'
    if row.config:
        location += "".join(f"<br><code>{_e(c)}</code>" for c in row.config)
    about = ""
    if docs:
        about = (f'<details><summary>why and how to fix</summary><p class="rationale"><b>Why:</b> '
                 f'{_e(docs["rationale"])}</p><p class="remediation"><b>Fix:</b> {_e(docs["remediation"])}</p>'
                 "</details>")
    waiver = '<span class="muted">-</span>'
    if row.waived is not None:
        w = row.waived
        waiver = (f'<span class="waiver">until {_e(w["expires"])} ({_e(_days(w["expires"], today))}) by '
                  f'{_e(w["owner"])}: {_e(w["reason"])}</span>')
    badge = ' <span class="badge new">new</span>' if change == "new" else ""
    return (f'<tr class="finding lvl-{level}" data-level="{level}" data-policy="{_e(row.policy)}" '
            f'data-stack="{_e(row.stack)}" data-change="{change}" title="{_e(row.urn)}">'
            f"<td>{_e(level)}{badge}</td><td class=\"mono\">{_e(row.stack)}</td><td><code>{_e(row.policy)}</code>"
            f'</td><td class="resource">{resource}</td><td>{location}</td>'
            f'<td><div class="msg">{_e(row.message)}</div>{about}</td><td>{waiver}</td></tr>')


def render_merged(merged: MergedReport) -> str:
    from checklist.waivers import today as checklist_today
    from golive.analysis.report.merged import verdict

    try:
        today = checklist_today()
    except ValueError:  # a bad GOLIVE_TODAY: golive check refuses it before any report is written
        today = date.today()
    totals = merged.totals()
    code = merged.exit_code()
    title = "golive: " + verdict(merged)
    rows = sorted(merged.rows, key=lambda r: (_LEVELS.index(_level(r)) if _level(r) in _LEVELS else 9,
                                              r.stack, r.policy, r.resource))
    policies = merged.policies()
    stacks = sorted(s.key for s in merged.stacks)
    changes = merged.changes
    cards = [("stacks", totals["stacks"]), ("failing", totals["fail"]), ("not checked", totals["error"]),
             ("mandatory", totals["mandatory"]), ("advisory", totals["advisory"] - totals["waived"]),
             ("waived", totals["waived"]), ("resources", totals["resources"])]
    if changes is not None:
        cards += [("new", len(changes.new)), ("fixed", len(changes.fixed)), ("unchanged", len(changes.unchanged))]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing but this file: no request leaves the page, whatever a report's strings hold.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
        "script-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f'<header><h1 class="{"st-error" if code == 2 else "st-fail" if code == 1 else "st-pass"}">{_e(title)}</h1>',
        f'<p class="muted">As of {today.isoformat()} (UTC). Exit status {code}: '
        f"{_e(['every stack passes', 'a stack has a mandatory finding', 'a stack could not be checked'][code])}.</p>",
        '<div class="totals" id="totals">'
        + "".join(f'<div class="total" data-total="{_e(k)}"><b>{v}</b>{_e(k)}</div>' for k, v in cards)
        + "</div></header><main>",
    ]
    unchecked = [s for s in merged.stacks if s.status == "error"]
    if unchecked:
        out.append('<h2>Not checked</h2><ul id="unchecked">'
                   + "".join(f"<li><code>{_e(s.key)}</code>: {_e(s.error)}</li>" for s in unchecked) + "</ul>")
    out += ["<h2>Stacks × policies</h2>", _grid(merged, policies) if merged.stacks else "<p>No stacks.</p>"]
    if changes is not None:
        out.append(_changes(changes))
    filters = [_options("level", "Level", [(lv, lv) for lv in _LEVELS]),
               _options("policy", "Policy", [(p, p) for p in policies]),
               _options("stack", "Stack", [(s, s) for s in stacks])]
    if changes is not None:
        filters.append(_options("change", "Change", [("new", "new"), ("unchanged", "unchanged")]))
    out += [
        '<h2>Findings</h2><div class="filters">', *filters, '<span id="shown" class="muted"></span></div>',
        '<table id="findings"><thead><tr><th>Level</th><th>Stack</th><th>Policy</th><th>Resource</th>'
        "<th>Declared at</th><th>Message</th><th>Waiver</th></tr></thead><tbody>",
        *(_finding(r, changes.state(r) if changes is not None else "", today) for r in rows),
        "</tbody></table>",
        f"</main><script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(out) + "\n"


def _changes(changes: object) -> str:
    from golive.analysis.report.merged import Changes

    assert isinstance(changes, Changes)
    out = [f'<h2>Changes against <code>{_e(changes.previous)}</code></h2><section id="changes">',
           f"<p>{len(changes.new)} new, {len(changes.fixed)} fixed, {len(changes.unchanged)} unchanged.</p>"]
    if changes.stacks_added or changes.stacks_removed:
        out.append(f"<p>Stacks added: {_e(', '.join(changes.stacks_added) or 'none')}; removed: "
                   f"{_e(', '.join(changes.stacks_removed) or 'none')}.</p>")
    if changes.fixed:
        out.append('<table id="fixed"><thead><tr><th></th><th>Stack</th><th>Policy</th><th>Resource</th>'
                   "<th>Message</th></tr></thead><tbody>")
        out += [f'<tr class="fixed"><td><span class="badge fixed">fixed</span></td><td class="mono">{_e(r.stack)}'
                f"</td><td><code>{_e(r.policy)}</code></td><td>{_e(r.resource or '(the stack)')}</td>"
                f'<td class="msg">{_e(r.message)}</td></tr>' for r in changes.fixed]
        out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def stack_report(result: CheckResult, source: str = "") -> StackReport:
    from golive.analysis.report import jsonreport
    from golive.analysis.report.merged import StackReport

    return StackReport(result.project, result.stack, source or result.program_dir, "check",
                       jsonreport.document(result))

