"""What an installed provider package declares, read without running the provider: the result type
and parameters of a function, a resource's class and the outputs a provider always sets.

The registration table and the generated source are read where they can be (importing a provider
module to introspect it is slow, and on the path of every registration); the imported classes are
the fallback when the source does not have the generated form.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import pkgutil
import re
import sys
import threading
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def name_key(key: str) -> str:
    """A python or wire name as results files and function members are matched: `dns_name` ~ `dnsName`."""
    return key.replace("_", "").lower()



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
    return function_info(token)[0]


@functools.cache
def function_info(token: str) -> tuple[type | None, frozenset[str]]:
    """The function's result class and the python names of its parameters."""
    pkg, module, member = split_token(token)
    registry = _registry(pkg)
    if registry is None:
        return None, frozenset()
    fqn = registry[0].get(module) or f"{python_package(pkg)}.{module}"
    parent = _import(fqn)
    if parent is None or not hasattr(parent, "__path__"):
        return None, frozenset()
    wanted = name_key(member)
    names = [m.name for m in pkgutil.iter_modules(parent.__path__) if name_key(m.name) == wanted]
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
        if isinstance(exact, type) and is_output_type(exact):
            return exact, params
        for value in vars(mod).values():
            if (isinstance(value, type) and is_output_type(value) and value.__module__ == mod.__name__
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


def is_output_type(cls: type) -> bool:
    return hasattr(cls, "_pulumi_output_type")


def properties(cls: type) -> list[tuple[str, str, Any]]:
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


def unwrap(hint: Any) -> tuple[Any, bool]:
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
    a provider module to introspect it is slow (for pulumi_aws, more than a small program's whole
    run), on the path of every registration. Otherwise from the imported class."""
    static = _computed_outputs_from_source(token)
    if static is not None:
        return static
    return _computed_outputs_from_class(token)


def _computed_outputs_from_class(token: str) -> tuple[str, ...]:
    cls = resource_class(token)
    if cls is None:
        return ()
    names = []
    for _, wire, hint in properties(cls):
        _, optional = unwrap(hint)
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
    for py_name, wire, _ in properties(cls):
        table[name_key(py_name)] = wire
        table[name_key(wire)] = wire
    return table


# --- placeholders ----------------------------------------------------------------------------
