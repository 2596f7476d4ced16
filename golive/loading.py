"""Every JSON and YAML file golive reads goes through here, so that every way a file can be malformed
ends the same way: one `GoliveError` naming the file (and the key, where there is one), never a
traceback, a hang or a value that breaks a later stage.

What is refused, beyond syntax:
- nesting deeper than MAX_DEPTH (Python's parsers would raise RecursionError a few hundred levels
  further down, and protobuf, which carries values to the pack, stops at 100);
- an integer too long for `int()` (ValueError past 4,300 digits), and in JSON NaN, Infinity and numbers
  that overflow a double: Go's encoding/json, which reads these files in the Pulumi CLI, refuses them;
- a string holding a lone surrogate (`"\\ud800"`), which no later UTF-8 encoding can write;
- text that is not UTF-8;
- YAML aliases beyond what yaml.v3 (the Pulumi CLI's YAML library) allows: an anchor that contains
  itself, and a document that is mostly alias expansion ("billion laughs"), by yaml.v3's own measure
  (decode.go `allowedAliasRatio`). PyYAML shares an anchor's value between its aliases; golive then
  writes the value out (config reaches the program as JSON), and a 1 KB document became gigabytes.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from golive.errors import GoliveError, InputError

# Deeper than any Pulumi file, state or pack config needs, and under protobuf's recursion limit.
MAX_DEPTH = 100
# A JSON string escape that may stand for half a surrogate pair; only then are strings walked for one.
_SURROGATE_ESCAPE = re.compile(r"\\[uU]0{0,4}[dD][89a-fA-F]")


def read_text(path: str | os.PathLike[str], *, label: str = "", error: type[GoliveError] = InputError) -> str:
    """The file's text; `label` (an option such as `--state FILE`) prefixes the name where given."""
    name = label or str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise error(f"{name}: cannot read: {err.strerror or err}") from None
    return decode(data, name, error=error)


def decode(data: bytes, name: str, *, error: type[GoliveError] = InputError) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{name}: not UTF-8 text (byte {err.start + 1})") from None


def _bad_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]}{'...' if len(text) > 20 else ''} is too large for a JSON number")
    return value


def parse_json(text: str | bytes, name: str, *, error: type[GoliveError] = InputError) -> Any:
    """One JSON document, checked as the module docstring says; `name` is the file as the user gave it."""
    if isinstance(text, bytes):
        text = decode(text, name, error=error)
    try:
        data = json.loads(text, parse_constant=_bad_constant, parse_float=_float)
    except json.JSONDecodeError as err:
        raise error(f"{name}: not JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    except RecursionError:
        raise error(f"{name}: nested more than {MAX_DEPTH} deep") from None
    except ValueError as err:  # NaN, Infinity, an overflowing float, an integer past int()'s digit limit
        raise error(f"{name}: not JSON golive accepts: {_first_line(err)}") from None
    check_tree(data, name, strings=bool(_SURROGATE_ESCAPE.search(text)), error=error)
    return data


def load_json(path: str | os.PathLike[str], *, label: str = "", empty: Any = ...,
              error: type[GoliveError] = InputError) -> Any:
    """Read and parse a JSON file; `empty`, when given, is the result for blank content."""
    name = label or str(path)
    text = read_text(path, label=name, error=error)
    if empty is not ... and not text.strip():
        return empty
    return parse_json(text, name, error=error)


def check_tree(data: Any, name: str, *, strings: bool = True, error: type[GoliveError] = InputError) -> None:
    """Refuse nesting past MAX_DEPTH and (with `strings`) lone surrogates; iterative, so any depth is safe."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                raise error(f"{name}: {_short(where)}: nested more than {MAX_DEPTH} deep")
            for key, item in value.items():
                if strings and isinstance(key, str) and not _encodable(key):
                    raise error(f"{name}: {where or 'the document'}: a key holds a lone surrogate "
                                "(half of a UTF-16 pair), which is not text")
                if isinstance(item, (dict, list)) or (strings and isinstance(item, str)):
                    stack.append((item, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(value, list):
            if depth >= MAX_DEPTH:
                raise error(f"{name}: {_short(where)}: nested more than {MAX_DEPTH} deep")
            for i, item in enumerate(value):
                if isinstance(item, (dict, list)) or (strings and isinstance(item, str)):
                    stack.append((item, f"{where}[{i}]", depth + 1))
        elif isinstance(value, str) and not _encodable(value):
            raise error(f"{name}: {where or 'the document'}: holds a lone surrogate (half of a UTF-16 pair), "
                        "which is not text")


def _short(where: str) -> str:
    return "the document" if not where else where if len(where) <= 60 else where[:57] + "..."


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_line(err: BaseException) -> str:
    if "integer string conversion" in str(err):
        return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    lines = str(err).splitlines()
    return lines[0] if lines else type(err).__name__


# --- YAML ----------------------------------------------------------------------------------------------


class _AliasedNode:
    """Marks a node that an alias (`*name`) put in its parent's place; see `Loader.compose_node`."""

    target: yaml.Node
    alias: str


class _AliasedScalar(_AliasedNode, yaml.ScalarNode):
    pass


class _AliasedSequence(_AliasedNode, yaml.SequenceNode):
    pass


class _AliasedMapping(_AliasedNode, yaml.MappingNode):
    pass


_ALIASED: dict[type, type] = {yaml.ScalarNode: _AliasedScalar, yaml.SequenceNode: _AliasedSequence,
                              yaml.MappingNode: _AliasedMapping}


class Loader(yaml.SafeLoader):
    """YAML as Go's yaml.v3 reads Pulumi files: only true/false are booleans, dates stay strings, a key
    given twice is an error rather than silently the last one, and aliases are bounded as yaml.v3 bounds
    them. Each alias becomes its own node (of the target's class, which constructors dispatch on) that
    `_check_aliases` measures through its `target` before anything is constructed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self.aliased = False

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = super().compose_node(parent, index)
            self.aliased = True
            value = target.value if isinstance(target, yaml.ScalarNode) else list(target.value)
            copy = _ALIASED[type(target)](target.tag, value, event.start_mark, event.end_mark)
            copy.target = target
            copy.alias = event.anchor
            return copy
        self._depth += 1
        try:  # block nesting; flow nesting is refused earlier, by the scanner (below)
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


    def fetch_flow_collection_start(self, token_class: type) -> None:
        # PyYAML's scanner rescans every open flow level per token: 5,000 `[` took most of a second.
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(None, None, f"nested more than {MAX_DEPTH} deep", self.get_mark())
        super().fetch_flow_collection_start(token_class)


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _construct_mapping(loader: Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - own  # flatten_mapping puts what `<<` merges first; the mapping's own keys win
    result: dict[Any, Any] = {}
    seen: set[Any] = set()  # the mapping's own keys: one given twice is an error, as in yaml.v3
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:  # a list or mapping as a key, which yaml.v3 refuses too
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a string or number", key_node.start_mark) from None
        if index >= merged:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# yaml.v3's bounds (decode.go): past 1,000 nodes and 100 aliased ones, at most 99% of what is decoded may
# come from alias expansion, falling to 10% as the document grows from 400,000 to 4,000,000 nodes.
_ALIAS_RATIO_LOW, _ALIAS_RATIO_HIGH = 400_000, 4_000_000


def _allowed_alias_ratio(count: int) -> float:
    if count <= _ALIAS_RATIO_LOW:
        return 0.99
    if count >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (count - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _real(node: yaml.Node) -> yaml.Node:
    return node.target if isinstance(node, _AliasedNode) else node


def _check_aliases(root: yaml.Node) -> None:
    """yaml.v3's alias checks on a composed document, without expanding it.

    yaml.v3 counts every node it decodes, aliases expanded, and fails once the share decoded inside
    an alias passes `_allowed_alias_ratio`. Within one alias expansion both counts grow together, so
    that share only rises while the allowance only falls: checking after each expansion, with the
    expansion's size computed once per anchor, finds every document yaml.v3 refuses."""
    sizes: dict[int, int] = {}  # id(node) -> nodes yaml.v3 decodes for it, its aliases expanded
    depths: dict[int, int] = {}
    open_: set[int] = set()

    def measure(node: yaml.Node) -> None:
        stack: list[tuple[yaml.Node, bool]] = [(_real(node), False)]
        while stack:
            current, done = stack.pop()
            key = id(current)
            if done:
                open_.discard(key)
                kids = _children(current)
                # An alias is one node decoded, then its target's expansion.
                sizes[key] = 1 + sum(sizes[id(_real(k))] + isinstance(k, _AliasedNode) for k in kids)
                depths[key] = 1 + max((depths[id(_real(k))] for k in kids), default=0)
                continue
            if key in sizes:
                continue
            if key in open_:
                raise yaml.composer.ComposerError(None, None, "an anchor's value contains itself", current.start_mark)
            open_.add(key)
            stack.append((current, True))
            for kid in _children(current):
                real = _real(kid)
                if id(real) in open_:
                    raise yaml.composer.ComposerError(
                        None, None, f"anchor {getattr(kid, 'alias', '?')!r} value contains itself", kid.start_mark)
                stack.append((real, False))

    def excessive(decoded: int, aliased: int) -> bool:
        return aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded)

    decoded, aliased = 1, 0  # the document node counts
    walk = [root]
    while walk:
        node = walk.pop()
        decoded += 1
        if isinstance(node, _AliasedNode):
            measure(node)
            size = sizes[id(node.target)]
            decoded += size
            aliased += size
        else:
            walk.extend(reversed(_children(node)))
        if excessive(decoded, aliased):
            raise yaml.composer.ComposerError(None, None, "document contains excessive aliasing", node.start_mark)
    measure(root)
    if depths[id(_real(root))] > MAX_DEPTH:
        raise yaml.composer.ComposerError(
            None, None, f"nested more than {MAX_DEPTH} deep, its aliases expanded", root.start_mark)


def compose_yaml(text: str, name: str, *, error: type[GoliveError] = InputError) -> yaml.Node | None:
    """The document's node tree, checked; None for an empty document."""
    return _load(text, name, error, construct=False)


def parse_yaml(text: str, name: str, *, error: type[GoliveError] = InputError) -> Any:
    """One YAML document as yaml.v3 decodes it (see Loader), checked as the module docstring says."""
    data = _load(text, name, error, construct=True)
    check_tree(data, name, strings="\\" in text, error=error)
    return data


def _load(text: str, name: str, error: type[GoliveError], *, construct: bool) -> Any:
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if loader.aliased:
            _check_aliases(root)
        return loader.construct_document(root) if construct else root
    except yaml.YAMLError as err:
        raise _yaml_error(err, name, error) from None
    except RecursionError:
        raise error(f"{name}: malformed YAML: nested more than {MAX_DEPTH} deep") from None
    except ValueError as err:  # an integer past int()'s digit limit
        raise error(f"{name}: malformed YAML: {_first_line(err)}") from None
    finally:
        loader.dispose()


def load_yaml(path: str | os.PathLike[str], *, label: str = "", error: type[GoliveError] = InputError) -> Any:
    name = label or str(path)
    return parse_yaml(read_text(path, label=name, error=error), name, error=error)


def _yaml_error(err: yaml.YAMLError, name: str, error: type[GoliveError]) -> GoliveError:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return error(f"{name}: malformed YAML{where}: {err.problem or err.context}")
    return error(f"{name}: malformed YAML: {_first_line(err)}")
