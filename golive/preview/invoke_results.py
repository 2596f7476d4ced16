"""The `--invoke-results` file: results the user supplies for provider functions, by token, which win
over the placeholders an offline preview answers with (golive/preview/invokes.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golive import loading
from golive.errors import GoliveError
from golive.preview.provider_schema import name_key


class InvokeResultsError(GoliveError):
    """The --invoke-results file is unreadable or malformed; the message names the file and token."""


@dataclass
class _Rule:
    args: dict[str, Any] | None
    result: Any


@dataclass
class InvokeResults:
    """User-supplied results by token: each token has rules tried in order, first match wins."""

    rules: dict[str, list[_Rule]] = field(default_factory=dict)
    source: str = ""

    def match(self, token: str, args: dict[str, Any]) -> tuple[bool, Any]:
        for rule in self.rules.get(token, ()):
            if rule.args is None or args_match(rule.args, args):
                return True, rule.result
        return False, None


def load_invoke_results(path: str | os.PathLike[str]) -> InvokeResults:
    """Read a JSON or YAML file mapping token → result, or token → [{args: {...}, result: {...}}]."""
    file = Path(path)
    text = loading.read_text(file, label=str(path), error=InvokeResultsError)
    if file.suffix == ".json":
        data = loading.parse_json(text, file.name, error=InvokeResultsError)
    else:
        data = loading.parse_yaml(text, file.name, error=InvokeResultsError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvokeResultsError(f"{file.name}: expected a mapping of function token to result")
    results = InvokeResults(source=str(file))
    for token, entry in data.items():
        if not isinstance(token, str) or token.count(":") < 2:
            raise InvokeResultsError(f"{file.name}: {token!r} is not a function token "
                                     "(like aws:route53/getZone:getZone)")
        entries = entry if isinstance(entry, list) else [entry]
        rules = []
        for i, item in enumerate(entries):
            where = f"{file.name}: {token}" + (f"[{i}]" if isinstance(entry, list) else "")
            if isinstance(item, dict) and "result" in item and set(item) <= {"args", "result"}:
                args = item.get("args")
                if args is not None and not isinstance(args, dict):
                    raise InvokeResultsError(f"{where}: 'args' must be a mapping")
                rules.append(_Rule(args=args, result=item["result"]))
            elif isinstance(entry, list):
                raise InvokeResultsError(f"{where}: expected {{args: ..., result: ...}}")
            else:
                rules.append(_Rule(args=None, result=item))
        results.rules[token] = rules
    return results



def _loose_equal(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(want) == float(got)
    if isinstance(want, dict) and isinstance(got, dict):
        g = {name_key(k): v for k, v in got.items()}
        return len(want) == len(got) and all(name_key(k) in g and _loose_equal(v, g[name_key(k)])
                                              for k, v in want.items())
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_loose_equal(a, b) for a, b in zip(want, got, strict=True))
    return bool(want == got)


def args_match(want: dict[str, Any], got: dict[str, Any]) -> bool:
    g = {name_key(k): v for k, v in got.items()}
    return all(name_key(k) in g and _loose_equal(v, g[name_key(k)]) for k, v in want.items())
