"""Provider functions (data sources) answered offline.

Under the CLI an invoke such as `aws.route53.get_zone(name=...)` runs for real even in preview.
Offline it cannot, and neither an unknown nor an empty result will do: the generated result class
type-checks its fields and programs index and iterate them. So each invoke is answered with values
of its *declared* result type, read from the installed provider package (golive/preview/
provider_schema.py: `pulumi_aws/route53/get_zone.py` → `GetZoneResult`): strings become plausible
placeholders, numbers 0, booleans False, lists three elements, maps empty. Results the user supplies
(`--invoke-results`, golive/preview/invoke_results.py) win.
"""

from __future__ import annotations

import collections.abc
import enum
import json
import os
import re
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from golive.preview.project import go_escape, scalar_text
from golive.preview.provider_schema import (
    function_info,
    is_output_type,
    name_key,
    properties,
    split_token,
    unwrap,
    wire_names,
)
from golive.preview.wire import SECRET_SIG, SIG, is_unknown, signature

if TYPE_CHECKING:
    from golive.preview.invoke_results import InvokeResults

PLACEHOLDER = "placeholder"
RESULTS_FILE = "results-file"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
POLICY_DOCUMENT = "aws:iam/getPolicyDocument:getPolicyDocument"
ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"
LIST_LENGTH = 3
MAX_DEPTH = 4


@dataclass
class _Context:
    token: str
    pkg: str
    module: str
    member: str
    args: dict[str, Any]
    region: str
    params: frozenset[str] = frozenset()


class OfflineProviders:
    """Answers provider functions offline and knows what resources declare."""

    def __init__(self, config: dict[str, str] | None = None, results: InvokeResults | None = None) -> None:
        self.config = dict(config or {})
        self.results = results

    def region(self, pkg: str) -> str:
        return self.config.get(f"{pkg}:region") or os.environ.get("AWS_REGION") or DEFAULT_REGION

    def answer(self, token: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The wire-form result of a function and how it was answered (placeholder or results-file)."""
        pkg, module, member = split_token(token)
        cls, params = function_info(token)
        ctx = _Context(token, pkg, module, member, args, self.region(pkg), params)
        placeholder = _object(cls, ctx, depth=0, top=True) if cls is not None else {}
        if token == POLICY_DOCUMENT and cls is not None:
            placeholder.update(_policy_document(args))
        if self.results is not None:
            hit, supplied = self.results.match(token, args)
            if hit:
                if not isinstance(supplied, dict):
                    return {"result": supplied}, RESULTS_FILE
                names = wire_names(cls) if cls is not None else {}
                merged = dict(placeholder)
                for key, value in supplied.items():
                    merged[names.get(name_key(str(key)), str(key))] = value
                return merged, RESULTS_FILE
        return placeholder, PLACEHOLDER

    def stack_reference(self, name: str) -> tuple[dict[str, Any], str]:
        """The outputs of another stack: none offline unless the results file gives them."""
        if self.results is not None:
            hit, supplied = self.results.match(STACK_REFERENCE, {"name": name})
            if hit and isinstance(supplied, dict):
                outputs = supplied.get("outputs", supplied)
                secret = supplied.get("secretOutputNames", []) if "outputs" in supplied else []
                return {"name": name, "outputs": outputs, "secretOutputNames": secret}, RESULTS_FILE
        return {"name": name, "outputs": {}, "secretOutputNames": []}, PLACEHOLDER


def _object(cls: type, ctx: _Context, depth: int, top: bool = False,
            given: dict[str, Any] | None = None) -> dict[str, Any]:
    """A result object of class `cls`: the function's arguments (`top`) or an argument's own
    object (`given`) echoed where a field has their name, placeholders elsewhere."""
    out: dict[str, Any] = {}
    if depth > MAX_DEPTH:
        return out
    supplied = ctx.args if top else given
    for py_name, wire, hint in properties(cls):
        if supplied is not None:
            value = supplied.get(wire, supplied.get(py_name))
            if value is not None:
                # What the function was asked for is what it reports back, in the type it declares.
                out[wire] = _echo(value, hint, wire, ctx, depth)
                continue
            if (py_name in ctx.params or not top) and unwrap(hint)[1]:
                out[wire] = None  # an optional argument the program left out comes back null
                continue
        out[wire] = _value(hint, wire, ctx, depth)
    return out


_NO_FORM = object()  # a value that has no form of the declared type
_SEQUENCES = (list, collections.abc.Sequence, tuple)
_TRUE, _FALSE = ("1", "t", "T", "TRUE", "true", "True"), ("0", "f", "F", "FALSE", "false", "False")


def _echo(value: Any, hint: Any, wire: str, ctx: _Context, depth: int, index: int | None = None) -> Any:
    """An argument reported back in a result field declared `hint`, converted as the provider's
    schema converts it (`most_recent="true"` comes back as the bool true, a number given for a
    string as its text); a value with no form of that type becomes the field's typed placeholder.

    The result class type-checks its fields, so an argument echoed as given would fail the program
    where the real provider answers."""
    if signature(value) == SECRET_SIG:
        return {SIG: SECRET_SIG, "value": _echo(value.get("value"), hint, wire, ctx, depth, index)}
    bare, optional = unwrap(hint)
    if value is None and optional:
        return None
    if bare is Any and value is not None and not is_unknown(value):
        return value
    origin = typing.get_origin(bare)
    if origin in _SEQUENCES or bare in (list, typing.Sequence):
        if isinstance(value, list):
            element = (typing.get_args(bare) or (str,))[0]
            return [_echo(v, element, wire, ctx, depth + 1, i) for i, v in enumerate(value)]
    elif origin in (dict, collections.abc.Mapping) or bare in (dict, typing.Mapping):
        if isinstance(value, dict):
            types = typing.get_args(bare)
            element = types[1] if len(types) == 2 else Any
            return {str(k): _echo(v, element, wire, ctx, depth + 1) for k, v in value.items()}
    elif isinstance(bare, type) and is_output_type(bare):
        if isinstance(value, dict):
            return _object(bare, ctx, depth + 1, given=value)
    else:
        converted = _scalar(value, bare)
        if converted is not _NO_FORM:
            return converted
    return _value(hint, wire, ctx, depth, index)


def _scalar(value: Any, hint: Any) -> Any:
    """`value` as a `hint` (bool, int, float, str or an enum), converted the way the Terraform
    bridge's weak decoding does (strconv.ParseBool and friends); _NO_FORM when it has none."""
    if is_unknown(value):
        return _NO_FORM
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return True if value in _TRUE else False if value in _FALSE or value == "" else _NO_FORM
        if isinstance(value, (int, float)):
            return value != 0
        return _NO_FORM
    if hint is int or hint is float:
        number: Any = _NO_FORM
        if isinstance(value, bool):
            number = int(value)
        elif isinstance(value, (int, float)):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip(), 10) if hint is int else float(value.strip())
            except ValueError:
                return _NO_FORM
        if number is _NO_FORM or (hint is int and isinstance(number, float) and not number.is_integer()):
            return _NO_FORM
        return int(number) if hint is int else float(number)
    if hint is str:
        if isinstance(value, (str, bool, int, float)):
            return value if isinstance(value, str) else scalar_text(value)
        return _NO_FORM
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        known = {member.value for member in hint}
        return value if not isinstance(value, bool) and value in known else _NO_FORM
    return _NO_FORM


def _value(hint: Any, wire: str, ctx: _Context, depth: int, index: int | None = None) -> Any:
    hint, _ = unwrap(hint)
    origin = typing.get_origin(hint)
    if origin in (list, collections.abc.Sequence, tuple) or hint in (list, typing.Sequence):
        args = typing.get_args(hint)
        element = args[0] if args else str
        special = _special(wire, ctx, many=True)
        if special is not None:
            return special
        return [_value(element, wire, ctx, depth + 1, index=i) for i in range(LIST_LENGTH)]
    if origin in (dict, collections.abc.Mapping) or hint in (dict, typing.Mapping):
        return {}
    if hint is bool:
        return False
    if hint is int or hint is float:
        return 0
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        first = next(iter(hint), None)
        return first.value if first is not None else _string(wire, ctx, index)
    if isinstance(hint, type) and is_output_type(hint):
        return _object(hint, ctx, depth + 1)
    return _string(wire, ctx, index)


def _special(wire: str, ctx: _Context, many: bool = False) -> Any:
    """A few well-known AWS answers whose shape programs rely on (zone names, account ids)."""
    if not ctx.pkg.startswith("aws"):
        return None
    low = wire.lower()
    if many and ctx.member == "getAvailabilityZones" and low == "names":
        return [f"{ctx.region}{letter}" for letter in "abc"[:LIST_LENGTH]]
    if many:
        return None
    if low.endswith("accountid") or (ctx.member == "getCallerIdentity" and low == "id"):
        return ACCOUNT_ID
    if low == "region" or (ctx.member == "getRegion" and low in ("name", "id")):
        return ctx.region
    if low == "partition":
        return "aws"
    if low == "dnssuffix":
        return "amazonaws.com"
    if ctx.member == "getCallerIdentity" and low == "arn":
        return f"arn:aws:iam::{ACCOUNT_ID}:user/offline"
    return None


def _policy_document(args: dict[str, Any]) -> dict[str, str]:
    """`json` and `minifiedJson` of aws.iam.get_policy_document, rendered from its statements as the
    provider renders them (data_source_iam_policy_document.go): programs parse the document or hand
    it to a resource whose policy the pack reads. {} (placeholders) when a part is secret or unknown,
    or when it merges other documents, which only the provider can do."""
    if any(args.get(k) for k in ("sourcePolicyDocuments", "overridePolicyDocuments")) or _opaque(args):
        return {}

    def strings(values: Any) -> Any:
        items = [str(v) for v in values or ()]
        return items[0] if len(items) == 1 else sorted(items, reverse=True)

    def principals(entries: Any) -> Any:
        found: dict[str, Any] = {}
        for entry in entries or ():
            kind, ids = entry.get("type", ""), entry.get("identifiers") or []
            if kind == "*" and list(ids) == ["*"]:
                return "*"
            found[kind] = strings(ids)
        return found

    statements = []
    for raw in args.get("statements") or ():
        statement: dict[str, Any] = {}
        if raw.get("sid"):
            statement["Sid"] = raw["sid"]
        statement["Effect"] = raw.get("effect") or "Allow"
        for key, name in (("actions", "Action"), ("notActions", "NotAction"), ("resources", "Resource"),
                          ("notResources", "NotResource")):
            if raw.get(key):
                statement[name] = strings(raw[key])
        for key, name in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if raw.get(key):
                statement[name] = principals(raw[key])
        conditions: dict[str, dict[str, Any]] = {}
        for condition in raw.get("conditions") or ():
            conditions.setdefault(condition.get("test", ""), {})[condition.get("variable", "")] = strings(
                condition.get("values"))
        if conditions:
            statement["Condition"] = conditions
        statements.append(statement)
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        document["Id"] = args["policyId"]
    document["Statement"] = statements
    return {"json": go_escape(json.dumps(document, indent=2, ensure_ascii=False)),
            "minifiedJson": go_escape(json.dumps(document, separators=(",", ":"), ensure_ascii=False))}


def _opaque(value: Any) -> bool:
    if isinstance(value, dict):
        return signature(value) is not None or any(_opaque(v) for v in value.values())
    if isinstance(value, list):
        return any(_opaque(v) for v in value)
    return is_unknown(value)


_ARN_NAME = re.compile(r"(?:^arn|Arn)s?(?:$|[A-Z])")  # arn, roleArn, kmsKeyArns, arnSuffix; not "warnings"


def _string(wire: str, ctx: _Context, index: int | None) -> str:
    special = _special(wire, ctx)
    if special is not None and index is None:
        return str(special)
    suffix = "" if index is None else f"-{index}"
    if ctx.pkg.startswith("aws") and _ARN_NAME.search(wire):
        service = ctx.module if ctx.module not in ("", "index") else "iam"
        return f"arn:aws:{service}:{ctx.region}:{ACCOUNT_ID}:offline-{wire}{suffix}"
    return f"offline-{wire}{suffix}"

