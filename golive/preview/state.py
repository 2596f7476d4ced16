"""`golive check --state FILE`: a `pulumi stack export` file as the resource graph a program run gives.

What `pulumi policy analyze --file` does, offline: the stack's resources as last deployed go through the
same pack, with no program run. The file is what `pulumi stack export` writes (apitype.UntypedDeployment
at deployment version 3): `{"version": 3, "deployment": {"manifest", "secrets_providers", "resources":
[ResourceV3...], "pending_operations"}}`. Each resource becomes the `ResourceNode` the program path would
have recorded for it, so the analyzer session, findings and reports run unchanged:

- inputs and outputs are known values; a secret is `{sig: secret, "ciphertext": ...}` (decrypted here
  when the stack uses the passphrase provider and PULUMI_CONFIG_PASSPHRASE(_FILE) is set, as the CLI
  would; otherwise it reaches the pack as a secret of unknown value, never as a guess) or, in an
  export made with `--show-secrets`, `{sig: secret, "plaintext": <the value as JSON text>}`;
- `provider` is a reference `URN::ID` (the graph keeps the URN, as the program path does);
- resources marked `delete: true` are old copies waiting to be deleted (a replacement that has not
  finished): not part of the stack the program declares, so skipped; `pending_operations` likewise;
- resources read with `.get` (`external: true`) stay in the graph, and the analyzer skips them as the
  engine does;
- `sourcePosition` (`project:///__main__.py#12,5`) gives the declaring line, relative to the project.

FILE `-` reads the export from standard input (`pulumi stack export | golive check --state -`).

The stack and project come from the URNs (the root `pulumi:pulumi:Stack`'s, else any resource's), since
an export names them nowhere else. `--stack`, when given, must name the same stack: a state's URNs carry
its stack name, so checking it "as" another stack would give findings on URNs that do not exist there.
Its organization part (`ORG/NAME`) is used, as the export does not record one. Config for the pack comes
from `Pulumi.<stack>.yaml` when a program folder is given, plus `--config`; without a folder it is only
`--config` (the export holds no config).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from golive import loading
from golive.errors import GoliveError
from golive.preview import passphrase, urns
from golive.preview.graph import (
    CustomTimeouts,
    ResourceGraph,
    ResourceNode,
    ResourceOptions,
    SourcePosition,
)
from golive.preview.urns import STACK_TYPE
from golive.preview.wire import SECRET_SIG, SIG, UNKNOWN

DEPLOYMENT_VERSION = 3


class StateError(GoliveError):
    """The state file is unreadable or not a version-3 stack export; names the file and the resource."""


@dataclass
class LoadedState:
    graph: ResourceGraph
    file: str
    secrets_provider: str  # the export's secrets_providers.type ("" when it has none)
    undecrypted_secrets: int = 0  # ciphertexts the pack saw as unknown values
    pending_deletes: int = 0  # resources with `delete: true`, left out
    notes: list[str] = field(default_factory=list)


class _BadValue(Exception):
    """A malformed secret inside a property value; the path is filled in as it unwinds."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


class _Secrets:
    """Turns the export's secret envelopes into the wire form the program path has."""

    def __init__(self, provider: Any, where: str) -> None:
        self.where = where
        self.type = provider.get("type", "") if isinstance(provider, dict) else ""
        self.state = provider.get("state") if isinstance(provider, dict) else None
        self.undecrypted = 0
        self._decrypt: passphrase.Decrypt | None = None
        self._decrypt_ready = False

    def _decrypter(self) -> passphrase.Decrypt | None:
        # Derived on the first ciphertext only: the key costs a million PBKDF2 rounds.
        if not self._decrypt_ready:
            self._decrypt_ready = True
            if self.type == "passphrase":
                salt = self.state.get("salt") if isinstance(self.state, dict) else None
                if not isinstance(salt, str) or not salt:
                    raise StateError(f"{self.where}: secrets_providers.state.salt: missing for a passphrase stack")
                self._decrypt = passphrase.decrypter(salt, f"{self.where}: secrets_providers")
        return self._decrypt

    def open(self, envelope: dict[str, Any]) -> Any:
        if "plaintext" in envelope:
            text = envelope["plaintext"]
        elif "ciphertext" in envelope:
            ciphertext = envelope["ciphertext"]
            if not isinstance(ciphertext, str):
                raise _BadValue("a secret's ciphertext must be a string")
            text = self._open(ciphertext)
            if text is None:
                self.undecrypted += 1
                return UNKNOWN
        elif "value" in envelope:  # already in wire form (a state written by a tool, not the engine)
            return envelope["value"]
        else:
            raise _BadValue("a secret with neither ciphertext nor plaintext")
        if not isinstance(text, str):
            raise _BadValue("a secret's plaintext must be a string (the value as JSON text)")
        try:
            return json.loads(text)
        except ValueError:
            raise _BadValue("a secret's plaintext is not JSON text") from None

    def _open(self, ciphertext: str) -> str | None:
        if self.type == "b64":  # the engine's unencrypted test provider
            try:
                return base64.b64decode(ciphertext, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                raise _BadValue("a b64 secret that is not base64 text") from None
        decrypt = self._decrypter()
        if decrypt is None:
            return None
        return decrypt(ciphertext, f"{self.where}: a secret value")


def _wire(value: Any, secrets: _Secrets) -> Any:
    """A state property value in the wire form the analyzer sends on: secrets as `{sig, value}`."""
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            try:
                out.append(_wire(v, secrets))
            except _BadValue as err:
                err.path.insert(0, f"[{i}]")
                raise
        return out
    if not isinstance(value, dict):
        return value
    if value.get(SIG) == SECRET_SIG:
        return {SIG: SECRET_SIG, "value": _wire(secrets.open(value), secrets)}
    result = {}
    for k, v in value.items():
        try:
            result[k] = _wire(v, secrets)
        except _BadValue as err:
            err.path.insert(0, f".{k}")
            raise
    return result


def parse_source(text: Any) -> SourcePosition | None:
    """`project:///path/in/project.py#LINE,COLUMN`, as the engine records a registration's position.
    A position golive cannot read only costs the report its line, so it is dropped, not refused."""
    if not isinstance(text, str) or not text.startswith("project:"):
        return None
    path, _, fragment = text[len("project:"):].partition("#")
    path = unquote(path.lstrip("/"))
    line_text, _, column_text = fragment.partition(",")
    try:
        line, column = int(line_text), int(column_text) if column_text else 0
    except ValueError:
        return None
    if not path or line <= 0 or column < 0:
        return None
    return SourcePosition(file=path, line=line, column=column)


def urn_identity(urn: str) -> tuple[str, str] | None:
    """(stack, project) of `urn:pulumi:STACK::PROJECT::TYPE::NAME`, None when it is not such a URN."""
    parsed = urns.parse(urn)
    if parsed is None or not all(parsed):  # a state's stack and project are named: none may be empty
        return None
    return parsed.stack, parsed.project


class _Resource:
    """Field access on one state resource, each error naming the file, the index and the URN."""

    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def fail(self, message: str) -> StateError:
        return StateError(f"{self.where}: {message}")

    def text(self, key: str, *, required: bool = False) -> str:
        value = self.raw.get(key)
        if value is None or value == "":
            if required:
                raise self.fail(f'no "{key}"')
            return ""
        if not isinstance(value, str):
            raise self.fail(f'"{key}" must be a string')
        return value

    def flag(self, key: str) -> bool:
        value = self.raw.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(f'"{key}" must be true or false')
        return value

    def strings(self, key: str) -> list[str]:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f'"{key}" must be a list of strings')
        return list(value)

    def props(self, key: str, secrets: _Secrets) -> dict[str, Any]:
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f'"{key}" must be an object')
        try:
            return _wire(value, secrets)
        except _BadValue as err:
            raise self.fail(f"{key}{''.join(err.path)}: {err.reason}") from None

    def property_dependencies(self) -> dict[str, list[str]]:
        value = self.raw.get("propertyDependencies")
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(v, list) and all(isinstance(u, str) for u in v) for v in value.values()
        ):
            raise self.fail('"propertyDependencies" must map property names to lists of URNs')
        return {k: list(v) for k, v in value.items()}

    def options(self) -> ResourceOptions:
        timeouts = self.raw.get("customTimeouts")
        custom_timeouts = None
        if timeouts is not None:
            if not isinstance(timeouts, dict) or not all(
                isinstance(timeouts.get(k, 0), (int, float)) and not isinstance(timeouts.get(k, 0), bool)
                for k in ("create", "update", "delete")
            ):
                raise self.fail('"customTimeouts" must be {"create", "update", "delete"} in seconds')
            custom_timeouts = CustomTimeouts(*(float(timeouts.get(k, 0)) for k in ("create", "update", "delete")))
        dbr = self.raw.get("deleteBeforeReplace")
        if dbr is not None and not isinstance(dbr, bool):
            raise self.fail('"deleteBeforeReplace" must be true or false')
        return ResourceOptions(
            protect=self.flag("protect"),
            ignore_changes=self.strings("ignoreChanges"),
            # The state keeps only `true`; an unset option and an explicit false look the same there.
            delete_before_replace=True if dbr else None,
            additional_secret_outputs=self.strings("additionalSecretOutputs"),
            aliases=self.strings("aliases"),
            custom_timeouts=custom_timeouts,
        )


def _read(path: str) -> Any:
    try:
        if path == "-":  # `pulumi stack export | golive check --state -`
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as err:
        raise StateError(f"--state {path}: {err.strerror or err}") from None
    return loading.parse_json(data, path, error=StateError)


def _deployment(data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise StateError(f"{path}: not a `pulumi stack export` file (expected a JSON object)")
    if "checkpoint" in data and "deployment" not in data:
        raise StateError(f"{path}: a backend checkpoint, not an export: use `pulumi stack export --file FILE`")
    if "version" not in data:
        raise StateError(f'{path}: not a `pulumi stack export` file (no "version")')
    version = data["version"]
    if version != DEPLOYMENT_VERSION or isinstance(version, bool):
        raise StateError(
            f"{path}: deployment version {json.dumps(version)}; golive reads version {DEPLOYMENT_VERSION}, what "
            "`pulumi stack export` writes (export it again with a current Pulumi CLI)"
        )
    deployment = data.get("deployment")
    if not isinstance(deployment, dict):
        raise StateError(f'{path}: no "deployment" object')
    resources = deployment.get("resources")
    if resources is None:
        raise StateError(f'{path}: no "deployment.resources": the stack has no resources (never deployed, or '
                         "destroyed), so there is nothing to check")
    if not isinstance(resources, list):
        raise StateError(f'{path}: "deployment.resources" must be a list')
    return deployment


def _split_stack(stack: str) -> tuple[str, str | None, str]:
    try:
        return urns.split_stack(stack)
    except ValueError as err:
        raise StateError(str(err)) from None


def load_state(
    path: str | os.PathLike[str],
    *,
    stack: str | None = None,
    program_dir: str | os.PathLike[str] | None = None,
    config_overrides: Iterable[str] = (),
) -> LoadedState:
    """Read a `pulumi stack export` file into the graph a program run would give; StateError (or a
    ProjectError for the program folder's files) naming the file, the resource and the field."""
    path = os.fspath(path)
    deployment = _deployment(_read(path), path)
    secrets = _Secrets(deployment.get("secrets_providers"), path)

    nodes: list[ResourceNode] = []
    seen: dict[str, int] = {}
    identity: tuple[str, str] | None = None
    root_identity: tuple[str, str] | None = None
    pending_deletes = 0
    for index, raw in enumerate(deployment["resources"]):
        where = f"{path}: deployment.resources[{index}]"
        if not isinstance(raw, dict):
            raise StateError(f"{where}: must be an object")
        resource = _Resource(raw, where)
        urn = resource.text("urn", required=True)
        resource.where = where = f"{where} ({urn})"
        rtype = resource.text("type", required=True)
        found_urn = urns.parse(urn)
        found = urn_identity(urn)
        if found is None or found_urn is None:
            raise resource.fail("not a URN (urn:pulumi:STACK::PROJECT::TYPE::NAME)")
        if identity is None:
            identity = found
        elif found != identity:
            raise resource.fail(
                f"of stack {found[0]!r} in project {found[1]!r}, where the resources before it are of "
                f"{identity[0]!r} in {identity[1]!r}: one export holds one stack"
            )
        if resource.flag("delete"):
            pending_deletes += 1
            continue
        if urn in seen:
            raise resource.fail(f"the same URN as deployment.resources[{seen[urn]}]")
        seen[urn] = index
        parent = resource.text("parent")
        if rtype == STACK_TYPE and not parent:
            root_identity = found
        provider_ref = resource.text("provider")
        nodes.append(
            ResourceNode(
                urn=urn,
                type=rtype,
                name=found_urn.name,
                custom=resource.flag("custom"),
                inputs=resource.props("inputs", secrets),
                outputs=resource.props("outputs", secrets),
                parent=parent or None,
                dependencies=resource.strings("dependencies"),
                property_dependencies=resource.property_dependencies(),
                provider=urns.provider_urn(provider_ref) or None,  # the program path's graph keeps the URN
                options=resource.options(),
                source=parse_source(raw.get("sourcePosition")),
                id=resource.text("id"),
                external=resource.flag("external"),
            )
        )
    if not nodes:
        raise StateError(f"{path}: no resources but ones pending deletion: there is nothing to check")
    assert identity is not None
    state_stack, project_name = root_identity or identity

    organization = urns.DEFAULT_ORGANIZATION
    if stack is not None:
        organization, named_project, name = _split_stack(stack)
        if name != state_stack:
            raise StateError(
                f"--stack {stack}: {path} is the state of stack {state_stack!r} (its URNs name it); "
                "leave --stack out or name that stack"
            )
        if named_project is not None and named_project != project_name:
            raise StateError(f"--stack {stack}: {path} is a state of project {project_name!r}")

    graph = ResourceGraph(project=project_name, stack=state_stack, organization=organization, resources=nodes)
    missing = _apply_config(graph, program_dir, path, list(config_overrides))
    loaded = LoadedState(graph=graph, file=path, secrets_provider=secrets.type,
                         undecrypted_secrets=secrets.undecrypted, pending_deletes=pending_deletes)
    if missing:
        loaded.notes.append(f"Stack config: {missing}; the pack got empty config (and --config).")
    if pending_deletes:
        loaded.notes.append(
            f"{pending_deletes} resource{'s' if pending_deletes != 1 else ''} pending deletion (`delete: true`, "
            "an old copy left by a replacement) left out."
        )
    if secrets.undecrypted:
        how = ("set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to decrypt them"
               if secrets.type == "passphrase" else "export with `pulumi stack export --show-secrets` to check them")
        loaded.notes.append(
            f"{secrets.undecrypted} secret value{'s' if secrets.undecrypted != 1 else ''} in the state "
            f"{'are' if secrets.undecrypted != 1 else 'is'} encrypted by its secrets provider "
            f"({secrets.type or 'unknown'}) and reached the pack as unknown; {how}."
        )
    return loaded


def _apply_config(graph: ResourceGraph, program_dir: str | os.PathLike[str] | None, path: str,
                  overrides: list[str]) -> str:
    """The pack's config, from the folder's stack file when a folder is given; returns what
    StackConfig.missing says when that folder has no file for the stack."""
    from golive.preview.project import load_project, load_stack_config, parse_override

    if program_dir is not None:
        project = load_project(program_dir)
        if project.name != graph.project:
            raise StateError(
                f"{project.file}: project {project.name!r}, but {path} is a state of project {graph.project!r}"
            )
        config = load_stack_config(project, f"{graph.organization}/{graph.stack}", overrides)
        graph.config, graph.secret_keys = dict(config.values), list(config.secret_keys)
        graph.secret_paths = list(config.secret_paths)
        graph.config_file, graph.config_overrides = str(config.file or ""), list(config.overridden)
        graph.program_dir = str(project.root)
        return config.missing
    for item in overrides:
        full, value = parse_override(item, graph.project)
        graph.config[full] = value
        graph.config_overrides.append(full)
    # Source positions in the state are relative to the project folder, which is unknown without one;
    # the export's own folder is the best guess (an export usually sits beside Pulumi.yaml in CI).
    graph.program_dir = str(Path.cwd() if path == "-" else Path(path).resolve().parent)
    return ""


__all__ = ["LoadedState", "StateError", "load_state", "parse_source", "urn_identity"]
