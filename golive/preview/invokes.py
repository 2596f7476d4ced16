"""Provider functions (data sources) answered offline, and what a provider package declares.

Under the CLI an invoke such as `aws.route53.get_zone(name=...)` runs for real even in preview.
Offline it cannot, and neither an unknown nor an empty result will do: the generated result class
type-checks its fields and programs index and iterate them. So each invoke is answered with values
of its *declared* result type, read from the installed provider package (`pulumi_aws/route53/
get_zone.py` → `GetZoneResult`): strings become plausible placeholders, numbers 0, booleans False,
lists three elements, maps empty. Results the user supplies (`--invoke-results`) win.

The same introspection tells the monitor which outputs of a resource are computed, so a preview's
outputs carry unknowns where the provider would report them.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import re
import sys
import threading
import typing
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from golive.errors import GoliveError
from golive.preview.project import go_escape, scalar_text
from golive.preview.wire import SECRET_SIG, SIG, is_unknown, signature

PLACEHOLDER = "placeholder"
RESULTS_FILE = "results-file"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
POLICY_DOCUMENT = "aws:iam/getPolicyDocument:getPolicyDocument"
ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"
LIST_LENGTH = 3
MAX_DEPTH = 4


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
            if rule.args is None or _args_match(rule.args, args):
                return True, rule.result
        return False, None


def load_invoke_results(path: str | os.PathLike[str]) -> InvokeResults:
    """Read a JSON or YAML file mapping token → result, or token → [{args: {...}, result: {...}}]."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise InvokeResultsError(f"{path}: cannot read: {err.strerror}") from None
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise InvokeResultsError(f"{file.name}: malformed {'JSON' if file.suffix == '.json' else 'YAML'}: "
                                 f"{str(err).splitlines()[0]}") from None
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


def _norm(key: str) -> str:
    return key.replace("_", "").lower()


def _loose_equal(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(want) == float(got)
    if isinstance(want, dict) and isinstance(got, dict):
        g = {_norm(k): v for k, v in got.items()}
        return len(want) == len(got) and all(_norm(k) in g and _loose_equal(v, g[_norm(k)])
                                              for k, v in want.items())
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_loose_equal(a, b) for a, b in zip(want, got, strict=True))
    return bool(want == got)


def _args_match(want: dict[str, Any], got: dict[str, Any]) -> bool:
    g = {_norm(k): v for k, v in got.items()}
    return all(_norm(k) in g and _loose_equal(v, g[_norm(k)]) for k, v in want.items())


# --- what an installed provider package declares ----------------------------------------------

def split_token(token: str) -> tuple[str, str, str]:
    """`aws:route53/getZone:getZone` → ("aws", "route53", "getZone")."""
    parts = token.split(":")
    if len(parts) != 3:
        return parts[0], "", parts[-1]
    return parts[0], parts[1].split("/")[0], parts[2]


def python_package(pkg: str) -> str:
    return "pulumi_" + pkg.replace("-", "_")


@functools.cache
def _registry(pkg: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]] | None:
    """Module → Python package, and resource token → (Python package, class), from the provider
    package's own registration table (what `_utilities.register` hands to the SDK)."""
    found = _registration_table(pkg)
    if found is None:
        return None
    top, entries = found
    modules: dict[str, str] = {"index": top, "": top}
    classes: dict[str, tuple[str, str]] = {}
    for entry in entries:
        mod, fqn = entry.get("mod", ""), entry.get("fqn", "")
        if fqn:
            modules.setdefault(mod.split("/")[0], fqn)
            for tok, cls in (entry.get("classes") or {}).items():
                classes[tok] = (fqn, cls)
    return modules, classes


@functools.cache
def _resource_module_names(pkg: str) -> dict[str, str]:
    """Resource token → the codegen's module name for it (`aws:cloudwatch/metricAlarm:…` → `metricAlarm`)."""
    found = _registration_table(pkg)
    names: dict[str, str] = {}
    for entry in found[1] if found else ():
        for tok in entry.get("classes") or {}:
            names[tok] = str(entry.get("mod", "")).split("/")[-1]
    return names


@functools.cache
def _registration_table(pkg: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The provider package's name and the entries of its `resource_modules` table; None when the
    package is not installed. Found without importing the package (find_spec imports nothing of it)."""
    found = _registration_source(pkg)
    if found is None:
        return None
    top, table = found
    try:
        loaded = json.loads(table) if table else []
    except ValueError:
        loaded = []
    return top, [e for e in loaded if isinstance(e, dict)] if isinstance(loaded, list) else []


@functools.cache
def _registration_source(pkg: str) -> tuple[str, str] | None:
    """The provider package's name and the JSON text of its `resource_modules` table ("" if none)."""
    top = python_package(pkg)
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    try:
        text = Path(spec.origin).read_text(encoding="utf-8")
    except OSError:
        return top, ""
    # `resource_modules="""[...]"""`: the table is near the end of a large file; find it by plain
    # search (a regular expression scanning the whole file takes several times longer).
    at = text.find("resource_modules")
    while at >= 0:
        found = _TABLE_START.match(text, at)
        if found:
            end = text.find('"""', found.end())
            return top, text[found.end():end] if end >= 0 else ""
        at = text.find("resource_modules", at + 1)
    return top, ""


_TABLE_START = re.compile(r'resource_modules\s*=\s*"""')


@functools.cache
def _resource_entry(token: str) -> tuple[str, str, str] | None:
    """(Python package, class, codegen module name) of a resource token, from its one entry of the
    registration table: parsing the whole table (1,748 entries for aws) is most of the time a first
    registration takes. None when the entry cannot be isolated; the caller then parses it all."""
    found = _registration_source(token.split(":")[0])
    if found is None:
        return None
    table = found[1]
    at = table.find(json.dumps(token) + ":")
    start, end = table.rfind("\n {", 0, at), table.find("\n }", at)
    if at < 0 or start < 0 or end < 0:
        return None
    try:
        entry = json.loads(table[start + 1:end + 3])
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("classes"), dict) or not entry.get("fqn"):
        return None
    cls = entry["classes"].get(token)
    if not isinstance(cls, str):
        return None
    return str(entry["fqn"]), cls, str(entry.get("mod", "")).split("/")[-1]


_IMPORT_LOCK = threading.Lock()


def _import(name: str) -> Any:
    # Provider packages warn about deprecated resources when imported; those warnings are the
    # program's business, not golive's. catch_warnings is process-wide, hence the lock.
    with _IMPORT_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = importlib.import_module(name)
            hasattr(module, "_golive_force_load")  # provider packages import lazily: load it here, quietly
            return module
        except Exception:  # a provider package that fails to import just has no types offline
            return None


def function_result_type(token: str) -> type | None:
    """The @output_type class a provider function returns, e.g. pulumi_aws.route53.get_zone.GetZoneResult."""
    return _function(token)[0]


@functools.cache
def _function(token: str) -> tuple[type | None, frozenset[str]]:
    """The function's result class and the python names of its parameters."""
    pkg, module, member = split_token(token)
    registry = _registry(pkg)
    if registry is None:
        return None, frozenset()
    fqn = registry[0].get(module) or f"{python_package(pkg)}.{module}"
    parent = _import(fqn)
    if parent is None or not hasattr(parent, "__path__"):
        return None, frozenset()
    wanted = _norm(member)
    names = [m.name for m in pkgutil.iter_modules(parent.__path__) if _norm(m.name) == wanted]
    for name in names:
        mod = _import(f"{fqn}.{name}")
        if mod is None:
            continue
        params: frozenset[str] = frozenset()
        func = getattr(mod, name, None)
        if callable(func):
            try:
                params = frozenset(p for p in inspect.signature(func).parameters if p != "opts")
            except (TypeError, ValueError):
                pass
        exact = getattr(mod, member[:1].upper() + member[1:] + "Result", None)
        if isinstance(exact, type) and _is_output_type(exact):
            return exact, params
        for value in vars(mod).values():
            if (isinstance(value, type) and _is_output_type(value) and value.__module__ == mod.__name__
                    and value.__name__.endswith("Result") and not value.__name__.startswith("Awaitable")):
                return value, params
    return None, frozenset()


@functools.cache
def resource_class(token: str) -> type | None:
    pkg = token.split(":")[0]
    registry = _registry(pkg)
    if registry is None or token not in registry[1]:
        return None
    fqn, name = registry[1][token]
    mod = _import(fqn)
    cls = getattr(mod, name, None) if mod is not None else None
    return cls if isinstance(cls, type) else None


def _is_output_type(cls: type) -> bool:
    return hasattr(cls, "_pulumi_output_type")


def _properties(cls: type) -> list[tuple[str, str, Any]]:
    """(python name, wire name, return annotation) of each @pulumi.getter property of `cls`."""
    module = sys.modules.get(cls.__module__)
    globalns = dict(vars(module)) if module is not None else {}
    try:
        import pulumi

        localns = {"Output": pulumi.Output, "T": type(None)}
    except ImportError:  # pragma: no cover — golive itself depends on pulumi
        localns = {}
    found = []
    seen = set()
    for base in reversed(cls.__mro__):
        for py_name, value in vars(base).items():
            if not isinstance(value, property) or value.fget is None:
                continue
            wire = getattr(value.fget, "_pulumi_name", None)
            if not isinstance(wire, str) or wire in seen:
                continue
            seen.add(wire)
            try:
                hints = typing.get_type_hints(value.fget, globalns=globalns, localns=localns)
                hint = hints.get("return", Any)
            except Exception:
                hint = Any
            found.append((py_name, wire, hint))
    return found


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """Strip Output[...] / Input[...] / Optional[...]; report whether None was allowed."""
    optional = False
    for _ in range(6):
        origin = typing.get_origin(hint)
        args = [a for a in typing.get_args(hint)]
        if origin is typing.Union:
            non_none = [a for a in args if a is not type(None)]
            optional = optional or len(non_none) < len(args)
            hint = non_none[0] if non_none else Any
            continue
        wrapper = getattr(origin, "__name__", "") if origin is not None else ""
        if wrapper in ("Output", "Input", "Awaitable") and args:
            hint = args[0]
            continue
        break
    return hint, optional


@functools.cache
def computed_outputs(token: str) -> tuple[str, ...]:
    """Wire names of a resource's outputs that are always set (not Optional): the ones a provider
    reports as unknown in a preview of a create when the program did not set them.

    Read from the generated source of the resource's class when it has the generated form: importing
    a provider module to introspect it costs tens of milliseconds each (pulumi_aws: ~300 ms for a
    small program), on the path of every registration. Otherwise from the imported class."""
    static = _computed_outputs_from_source(token)
    if static is not None:
        return static
    return _computed_outputs_from_class(token)


def _computed_outputs_from_class(token: str) -> tuple[str, ...]:
    cls = resource_class(token)
    if cls is None:
        return ()
    names = []
    for _, wire, hint in _properties(cls):
        _, optional = _unwrap(hint)
        if not optional:
            names.append(wire)
    return tuple(names)


# The generated form of a resource's output property (pulumi-language-python codegen):
#     @_builtins.property            (or @property)
#     @pulumi.getter(name="tagsAll")  (or @pulumi.getter: the wire name is the function's)
#     def tags_all(self) -> pulumi.Output[Mapping[str, _builtins.str]]:
_GETTER = re.compile(
    r'^    @pulumi\.getter(?:\(name="(?P<wire>[^"\\]+)"\))?[ \t]*\n'
    r'(?:    @_utilities\.deprecated\("""[^\n]*"""\)[ \t]*\n)*'
    r"    def (?P<py>[A-Za-z_][A-Za-z0-9_]*)\(self\)[ \t]*->[ \t]*(?P<hint>[^\n]*?):[ \t]*$",
    re.M,
)
_PROPERTY_LINE = re.compile(r"^    @(?:_builtins\.)?property[ \t]*$")
_DEPRECATED_LINE = re.compile(r'^    @_utilities\.deprecated\("""[^\n]*"""\)[ \t]*$')
# An Output annotation whose top level we can read: Optional[...] inside, or a plain type.
_OUTPUT_HINT = re.compile(r"^pulumi\.Output\[(?P<inner>.*)\]$")


def _snake(name: str) -> str:
    """The codegen's module name for a resource (`metricAlarm` → `metric_alarm`), a first guess only."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _package_dir(fqn: str) -> Path | None:
    top, _, rest = fqn.partition(".")
    base = _top_package_dir(top)
    if base is None:
        return None
    return base.joinpath(*rest.split(".")) if rest else base


@functools.cache
def _top_package_dir(top: str) -> Path | None:
    """Where package `top` is: asked once per package, not once per module of it (find_spec takes
    the import system's lock, which registrations from several threads then queue for)."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _class_source(directory: Path, module: str, cls: str) -> str | None:
    """The text of `class cls(...)` (up to the next top-level statement) in the module that
    defines it: the codegen's file for `module` first, then the files the package re-exports."""
    headers = [f"\nclass {cls}(pulumi.{base}):" for base in ("CustomResource", "ProviderResource")]

    def candidates() -> Iterator[Path]:
        if module:
            yield directory / f"{_snake(module)}.py"
        try:
            init = (directory / "__init__.py").read_text(encoding="utf-8")
        except OSError:
            return
        yield from (directory / f"{m}.py" for m in re.findall(r"^from \.(\w+) import \*", init, re.M))

    seen: set[Path] = set()
    for path in candidates():
        if path in seen:
            continue
        seen.add(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        for header in headers:
            at = text.find(header)
            if at >= 0 and text.startswith("\n", at + len(header)):
                end = _TOP_LEVEL.search(text, at + len(header))
                return text[at + len(header):end.start() if end else len(text)]
    return None


_TOP_LEVEL = re.compile(r"^\S", re.M)


def _line_before(text: str, pos: int) -> tuple[str, int]:
    """The line that ends just before offset `pos` (the start of a line), and where it starts."""
    start = text.rfind("\n", 0, max(pos - 1, 0)) + 1
    return text[start:max(pos - 1, start)], start


def _computed_outputs_from_source(token: str) -> tuple[str, ...] | None:
    """computed_outputs from the generated source; None when it is not in the generated form, so
    the caller imports the class instead."""
    entry = _resource_entry(token)
    if entry is not None:
        fqn, cls, module = entry
    else:
        registry = _registry(token.split(":")[0])
        if registry is None or token not in registry[1]:
            return ()  # no provider package, or not one of its resources: resource_class finds no class either
        fqn, cls = registry[1][token]
        module = _resource_module_names(token.split(":")[0]).get(token, "")
    directory = _package_dir(fqn)
    body = _class_source(directory, module, cls) if directory is not None else None
    if body is None:
        return None
    names: list[str] = []
    seen: set[str] = set()
    getters = 0
    for match in _GETTER.finditer(body):
        getters += 1
        line, start = _line_before(body, match.start())
        while start > 0 and _DEPRECATED_LINE.match(line):
            line, start = _line_before(body, start)  # @_utilities.deprecated keeps name and annotations
        if not _PROPERTY_LINE.match(line):
            return None
        hint = _OUTPUT_HINT.match(match.group("hint").strip())
        if hint is None:
            return None
        inner = hint.group("inner")
        wire = match.group("wire") or match.group("py")
        if wire in seen:
            continue
        seen.add(wire)
        if "Optional[" in inner:
            if not inner.startswith("Optional[") or not inner.endswith("]"):
                return None  # Optional nested inside: read the types for real
            continue
        if "None" in inner or "Union[" in inner:
            return None
        names.append(wire)
    # Every property of the class must have been understood: a getter the pattern missed would
    # silently drop an output.
    if body.count("@pulumi.getter") != getters:
        return None
    return tuple(names)


def wire_names(cls: type) -> dict[str, str]:
    """Normalized python or wire name → wire name, so users may write either in a results file."""
    table = {}
    for py_name, wire, _ in _properties(cls):
        table[_norm(py_name)] = wire
        table[_norm(wire)] = wire
    return table


# --- placeholders ----------------------------------------------------------------------------

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
        cls, params = _function(token)
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
                    merged[names.get(_norm(str(key)), str(key))] = value
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
    for py_name, wire, hint in _properties(cls):
        if supplied is not None:
            value = supplied.get(wire, supplied.get(py_name))
            if value is not None:
                # What the function was asked for is what it reports back, in the type it declares.
                out[wire] = _echo(value, hint, wire, ctx, depth)
                continue
            if (py_name in ctx.params or not top) and _unwrap(hint)[1]:
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
    bare, optional = _unwrap(hint)
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
    elif isinstance(bare, type) and _is_output_type(bare):
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
    hint, _ = _unwrap(hint)
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
    if isinstance(hint, type) and _is_output_type(hint):
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
