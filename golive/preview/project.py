"""Stage 1: a Pulumi project folder and one stack's config, read the way the Pulumi CLI reads them.

`Pulumi.yaml` gives the project name, the runtime (and its virtualenv) and `main`; the stack file
`Pulumi.<stack>.yaml` gives the config. Config reaches the program as the CLI hands it to the
language host: a flat map `namespace:key` → string, where scalars are their text (`true`, `42`)
and objects or lists are JSON as Go's `json.Marshal` writes it. `secure:` values cannot be
decrypted offline unless the stack uses the passphrase provider and the passphrase is set
(golive/preview/passphrase.py); otherwise the program gets `SECRET_PLACEHOLDER`. Either way the key is
listed as secret.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from golive import loading
from golive.errors import GoliveError
from golive.preview import urns

if TYPE_CHECKING:
    from golive.preview.passphrase import Decrypt  # the module itself only when a stack has secrets to decrypt

SECRET_PLACEHOLDER = "golive-offline-secret"
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
_TYPE_KEYS = {"type", "description", "items", "default", "value", "secret"}


class ProjectError(GoliveError):
    """Pulumi.yaml or a stack file is missing or wrong; the message names the file and key."""


class Project(NamedTuple):
    # Named tuples, not dataclasses: these are read before the program's process can start, and
    # `dataclasses` (with the `inspect` it imports) would add to that wait.
    name: str
    root: Path  # the folder holding Pulumi.yaml
    file: Path
    pwd: Path  # the program's working directory: root, or the folder `main` names or lies in
    entry: str  # the PROGRAM argument of the language host: "." or the name of `main`'s file
    runtime: str
    options: dict[str, Any]
    config_types: dict[str, Any]  # the `config:` section of Pulumi.yaml
    stack_config_dir: Path | None = None

    @property
    def program(self) -> Path:
        return self.pwd if self.entry == "." else self.pwd / self.entry

    def stack_file(self, stack: str) -> Path:
        folder = self.stack_config_dir or self.root
        for suffix in (".yaml", ".yml"):
            candidate = folder / f"Pulumi.{stack}{suffix}"
            if candidate.is_file():
                return candidate
        return folder / f"Pulumi.{stack}.yaml"


class StackConfig(NamedTuple):
    stack: str
    organization: str
    file: Path | None
    values: dict[str, str]  # "ns:key" -> string, as PULUMI_CONFIG carries it
    secret_keys: list[str]
    # "no Pulumi.<stack>.yaml in DIR (stack files here: …)" when the stack has no file, else "".
    missing: str = ""
    overridden: tuple[str, ...] = ()  # keys --config set, over the file's values
    # The secure values inside object and list values, by path (`ns:key.field`, `ns:key[0]`), as the
    # stack file records them: a key in `secret_keys` holds at least one, and its other values are plain.
    secret_paths: tuple[str, ...] = ()


def read_yaml(path: Path) -> Any:
    """Parse a YAML file (golive/loading.py); errors name the file and line."""
    return loading.load_yaml(path, label=path.name, error=ProjectError)


def load_project(project_dir: str | os.PathLike[str]) -> Project:
    """Read Pulumi.yaml in `project_dir` and resolve `main` as the CLI does (pkg/engine/project.go)."""
    root = Path(project_dir).resolve()
    if not root.is_dir():
        raise ProjectError(f"{project_dir}: not a folder")
    file = next((root / name for name in PROJECT_FILES if (root / name).is_file()), None)
    if file is None:
        raise ProjectError(f"no Pulumi.yaml in {root}")
    data = read_yaml(file)
    if not isinstance(data, dict):
        raise ProjectError(f"{file.name}: expected a mapping at the top level")

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProjectError(f"{file.name}: 'name' is missing or not a string")

    runtime, options = _runtime(file, data.get("runtime"))
    pwd, entry = _pwd_main(file, root, data.get("main"))

    config_types = data.get("config") or {}
    if not isinstance(config_types, dict):
        raise ProjectError(f"{file.name}: 'config' must be a mapping")

    stack_dir = data.get("stackConfigDir")
    stack_config_dir = None
    if stack_dir is not None:
        if not isinstance(stack_dir, str):
            raise ProjectError(f"{file.name}: 'stackConfigDir' must be a string")
        stack_config_dir = (root / stack_dir).resolve()
    return Project(name=name, root=root, file=file, pwd=pwd, entry=entry, runtime=runtime, options=options,
                   config_types=config_types, stack_config_dir=stack_config_dir)


def _runtime(file: Path, raw: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(raw, str):
        name, options = raw, {}
    elif isinstance(raw, dict):
        name, options = raw.get("name"), raw.get("options") or {}
        if not isinstance(options, dict):
            raise ProjectError(f"{file.name}: 'runtime.options' must be a mapping")
    else:
        raise ProjectError(f"{file.name}: 'runtime' is missing (expected python)")
    if name != "python":
        raise ProjectError(f"{file.name}: runtime {name!r} is not supported; golive runs Python programs")
    return name, dict(options)


def _pwd_main(file: Path, root: Path, main: Any) -> tuple[Path, str]:
    if main in (None, ""):
        return root, "."
    if not isinstance(main, str):
        raise ProjectError(f"{file.name}: 'main' must be a string")
    # Stricter than the CLI (getPwdMain joins and stats whatever it is given): golive runs what `main`
    # names, and a project file that points it at /etc or a sibling folder is not checking this project.
    if os.path.isabs(main):
        raise ProjectError(f"{file.name}: 'main' must be a path relative to the project folder, inside it")
    target = Path(os.path.normpath(root / main))
    if not _inside(Path(os.path.realpath(target)), root):
        raise ProjectError(f"{file.name}: 'main' leads outside the project folder {root} (through '..' or a "
                           "symbolic link); it must name a file or folder inside it")
    if not target.exists():
        raise ProjectError(f"{file.name}: 'main' {main!r} does not exist ({target})")
    if target.is_dir():
        return target, "."
    return target.parent, target.name


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def program_python(project: Project) -> str:
    """The interpreter the language host would use: the project's virtualenv when it exists."""
    venv = project.options.get("virtualenv")
    if venv is None and project.options.get("toolchain") == "uv":
        venv = ".venv"  # uv's default environment
    if isinstance(venv, str) and venv:
        base = Path(venv) if os.path.isabs(venv) else project.root / venv
        for candidate in (base / "bin" / "python", base / "Scripts" / "python.exe"):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return sys.executable


def parse_config_key(key: str, project_name: str, *, where: str) -> str:
    """`ns:name`, legacy `ns:config:name`, or a bare name that belongs to the project."""
    if not isinstance(key, str) or not key:
        raise ProjectError(f"{where}: config key {key!r} is not a string")
    colons = key.count(":")
    if colons == 0:
        return f"{project_name}:{key}"
    if colons == 1 and not key.startswith(":") and not key.endswith(":"):
        return key
    parts = key.split(":")
    if colons == 2 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    raise ProjectError(f"{where}: config key {key!r} is not of the form <namespace>:<name>")


def parse_override(item: str, project_name: str) -> tuple[str, str]:
    """`--config KEY=VALUE` as (full key, value). An error names the key at most, never the value: a
    `--config` is often a credential, and errors end up in CI logs."""
    if "=" not in item:
        raise ProjectError("--config: expected KEY=VALUE, given a value without '=' (not shown: it may be secret)")
    key, value = item.split("=", 1)
    return parse_config_key(key.strip(), project_name, where="--config"), value


def go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes it: compact, map keys sorted, HTML characters escaped."""
    return go_escape(json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False,
                                default=_json_default))


def go_escape(text: str) -> str:
    """JSON text with the characters Go's encoding/json escapes (HTML, line separators) escaped."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _json_default(value: Any) -> Any:
    raise TypeError(f"value of type {type(value).__name__} cannot be config")


def scalar_text(value: Any) -> str:
    """A scalar as Pulumi config and the Terraform bridge write it: `true`, `42`, `1.5`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def _plaintext(value: Any, where: str, decrypt: Decrypt | None = None, path: str = "",
               paths: list[str] | None = None) -> tuple[Any, bool]:
    """The decrypted form of a stack config value and whether any part was secure; the path of each
    secure part is added to `paths`. Without a decrypter (no passphrase, or a cloud secrets provider) a
    secure value becomes the placeholder."""
    if _is_secure(value):
        if paths is not None:
            paths.append(path)
        return (decrypt(value["secure"], where) if decrypt else SECRET_PLACEHOLDER), True
    if isinstance(value, dict):
        out, secret = {}, False
        for k, v in value.items():
            out[str(k)], s = _plaintext(v, where, decrypt, f"{path}.{k}", paths)
            secret = secret or s
        return out, secret
    if isinstance(value, list):
        items = [_plaintext(v, where, decrypt, f"{path}[{i}]", paths) for i, v in enumerate(value)]
        return [v for v, _ in items], any(s for _, s in items)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProjectError(f"{where}: {value!r} is not a number JSON can carry")
    return value, False


def config_text(value: Any, where: str, decrypt: Decrypt | None = None, key: str = "",
                paths: list[str] | None = None) -> tuple[str, bool]:
    """The string the program receives for one stack config value `key`, and whether it is secret;
    the paths of the secure values inside an object or list value are added to `paths`."""
    if _is_secure(value):
        return (decrypt(value["secure"], where) if decrypt else SECRET_PLACEHOLDER), True
    if isinstance(value, (dict, list)) or value is None:
        plain, secret = _plaintext(value, where, decrypt, key, paths)
        return go_json(plain), secret
    return scalar_text(value), False


def load_stack_config(project: Project, stack: str, overrides: Iterable[str] = (),
                      *, require_file: bool = False) -> StackConfig:
    """The stack's config as the CLI passes it to the program, project defaults and overrides applied.

    A stack has no Pulumi.<stack>.yaml until its first `pulumi config set`, and the CLI runs it
    with empty config; `require_file` is for callers that want a mistyped stack name caught."""
    organization, stack_name = _split_stack(stack)
    file = project.stack_file(stack_name)
    raw: Any = None
    if file.is_file():
        raw = read_yaml(file)
    elif require_file:
        raise ProjectError(_missing_file(project, file))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ProjectError(f"{file.name}: expected a mapping at the top level")
    section = raw.get("config") or {}
    if not isinstance(section, dict):
        raise ProjectError(f"{file.name}: 'config' must be a mapping")
    decrypt = None
    salt = raw.get("encryptionsalt")
    if isinstance(salt, str) and salt and not raw.get("secretsprovider"):
        from golive.preview import passphrase

        decrypt = passphrase.decrypter(salt, file.name)

    values: dict[str, str] = {}
    secrets: set[str] = set()
    paths: list[str] = []
    raw_values: dict[str, Any] = {}
    for key, value in section.items():
        full = parse_config_key(key, project.name, where=file.name)
        where = f"{file.name}: config key '{full}'"
        if full in values:
            raise ProjectError(f"{where} is given twice")
        values[full], secret = config_text(value, where, decrypt, full, paths)
        raw_values[full] = value
        if secret:
            secrets.add(full)

    _apply_project_config(project, stack_name, file, values, raw_values, secrets, paths)

    overridden: dict[str, None] = {}
    for item in overrides:
        full, value = parse_override(item, project.name)
        values[full] = value
        secrets.discard(full)
        paths = [p for p in paths if not p.startswith((f"{full}.", f"{full}["))]
        overridden[full] = None
    found = file.is_file()
    return StackConfig(stack=stack_name, organization=organization, file=file if found else None,
                       values=values, secret_keys=sorted(secrets),
                       missing="" if found else _missing_file(project, file), overridden=tuple(overridden),
                       secret_paths=tuple(sorted(paths)))


def config_lines(file: Path, project_name: str) -> dict[str, int]:
    """The line of each config key in a stack file, and of each value inside an object or list
    value (`ns:key.field`, `ns:key[0]`), for reports that point at the line a value came from.
    {} when the file cannot be read; loading it already said what is wrong with it."""
    try:
        root = loading.compose_yaml(file.read_text(encoding="utf-8"), file.name)
    except (OSError, UnicodeDecodeError, GoliveError):
        return {}
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    lines.setdefault(f"{path}.{key.value}", key.start_mark.line + 1)
                    walk(value, f"{path}.{key.value}")
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines.setdefault(f"{path}[{i}]", item.start_mark.line + 1)
                walk(item, f"{path}[{i}]")

    if not isinstance(root, yaml.MappingNode):
        return {}
    section = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "config"), None)
    if not isinstance(section, yaml.MappingNode):
        return {}
    for key, value in section.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        try:
            full = parse_config_key(key.value, project_name, where=file.name)
        except ProjectError:
            continue
        lines[full] = key.start_mark.line + 1
        walk(value, full)
    return lines


def _missing_file(project: Project, file: Path) -> str:
    """What a mistyped stack name looks like: the file it has not, and the stacks that have one."""
    present = sorted(p.name[len("Pulumi."):].rsplit(".", 1)[0]
                     for p in (project.stack_config_dir or project.root).glob("Pulumi.*.y*ml"))
    hint = f" (stack files here: {', '.join(present)})" if present else ""
    return f"no {file.name} in {file.parent}{hint}"


def _split_stack(stack: str) -> tuple[str, str]:
    try:
        organization, _, name = urns.split_stack(stack)
    except ValueError as err:
        raise ProjectError(str(err)) from None
    return organization, name


def _apply_project_config(project: Project, stack: str, stack_file: Path, values: dict[str, str],
                          raw_values: dict[str, Any], secrets: set[str], paths: list[str]) -> None:
    """Project-level config (pkg/workspace/config.go mergeConfig): defaults fill gaps, required keys
    of the project's namespace must be set, and typed keys are checked."""
    missing: list[str] = []
    for key in sorted(project.config_types):
        spec = project.config_types[key]
        full = parse_config_key(key, project.name, where=project.file.name)
        where = f"{project.file.name}: config key '{full}'"
        if isinstance(spec, dict) and spec and set(spec) <= _TYPE_KEYS:
            schema = spec
        elif full.split(":", 1)[0] == project.name:
            schema = {"default": spec}  # shorthand: a project key with a default value
        else:
            schema = {"value": spec}
        default = schema.get("default", schema.get("value"))
        if full not in values:
            if default is None:
                if full.split(":", 1)[0] == project.name:
                    missing.append(key)
                continue
            values[full], secret = config_text(default, where, key=full, paths=paths)
            raw_values[full] = default
            if secret:
                secrets.add(full)
            continue
        type_name = schema.get("type")
        if type_name is None:
            continue
        stack_where = f"{stack_file.name}: config key '{full}'"
        if schema.get("secret") and full not in secrets:
            raise ProjectError(f"{stack_where} must be encrypted (secure:) as {project.file.name} "
                               "marks it secret")
        value = raw_values[full]
        if full in secrets:
            continue  # the plaintext is not available offline, so its type cannot be checked
        if not _type_ok(type_name, schema.get("items"), value):
            label = _type_label(type_name, schema.get("items"))
            raise ProjectError(f"{stack_where} must be of type '{label}'")
    if missing:
        listed = ", ".join(f"'{k}'" for k in missing)
        raise ProjectError(f"{stack_file.name}: stack '{stack}' is missing configuration "
                           f"value{'s' if len(missing) > 1 else ''} {listed} required by {project.file.name}")


def _type_label(type_name: Any, items: Any) -> str:
    if isinstance(items, dict):
        return f"array<{_type_label(items.get('type'), items.get('items'))}>"
    return str(type_name)


def _type_ok(type_name: Any, items: Any, value: Any) -> bool:
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value == int(value)):
            return True
        return isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value) is not None
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or not isinstance(items, dict):
        return False
    return all(_type_ok(items.get("type"), items.get("items"), v) for v in value)
