"""Pulumi URNs, provider references and stack names, read by the engine's rules: their one home.

A URN is `urn:pulumi:STACK::PROJECT::QUALIFIED_TYPE::NAME`, valid when it has the prefix and four
parts split on the first three "::" (resource.URN.IsValid): the name may itself hold "::". A
provider reference is `URN::ID`, split at its last "::" (providers.ParseReference).
"""

from __future__ import annotations

import re
from operator import itemgetter

PREFIX = "urn:pulumi:"
DELIMITER = "::"
STACK_TYPE = "pulumi:pulumi:Stack"  # the root resource's type: URNs of its children leave it out
PROVIDER_PREFIX = "pulumi:providers:"
DEFAULT_ORGANIZATION = "organization"  # what a stack named without one belongs to, offline
STACK_FORMS = "NAME, ORG/NAME or ORG/PROJECT/NAME"


class Urn(tuple):
    """(stack, project, qualified type, name). A tuple with named fields, but not a NamedTuple: making
    that class would be most of what importing this module costs `golive check` at start-up."""

    __slots__ = ()

    def __new__(cls, stack: str, project: str, qualified_type: str, name: str) -> Urn:
        return tuple.__new__(cls, (stack, project, qualified_type, name))

    stack = property(itemgetter(0))
    project = property(itemgetter(1))
    qualified_type = property(itemgetter(2))  # parent types joined by `$`, then the resource's own
    name = property(itemgetter(3))

    @property
    def type(self) -> str:
        """The resource's own type token, without its parents'."""
        return self.qualified_type.rsplit("$", 1)[-1]


def parse(urn: str) -> Urn | None:
    """The parts of a URN, or None when the engine would not take it for one."""
    if not urn.startswith(PREFIX):
        return None
    parts = urn[len(PREFIX):].split(DELIMITER, 3)
    return Urn(*parts) if len(parts) == 4 else None


def provider_urn(ref: str) -> str:
    """The URN of a provider reference `URN::ID`; a string without "::" is returned whole."""
    return ref.rsplit(DELIMITER, 1)[0] if DELIMITER in ref else ref


def split_stack(stack: str) -> tuple[str, str | None, str]:
    """(organization, project or None, name) of `--stack NAME|ORG/NAME|ORG/PROJECT/NAME`; ValueError,
    with the words to show, for anything else."""
    if not stack or not stack.strip():
        raise ValueError("--stack: empty stack name")
    parts = stack.split("/")
    if not all(parts) or len(parts) > 3:
        raise ValueError(f"--stack {stack!r}: expected {STACK_FORMS}")
    if len(parts) == 1:
        return DEFAULT_ORGANIZATION, None, parts[0]
    if len(parts) == 2:
        return parts[0], None, parts[1]
    return parts[0], parts[1], parts[2]


# --- URNs as the engine builds them ----------------------------------------------------------

def urn_parts(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name) of `urn:pulumi:STACK::PROJECT::TYPE::NAME`."""
    parsed = parse(urn)
    if parsed is None:
        # Imported only here: `golive check` loads this module at start-up, and grpc much later.
        import grpc

        from golive.preview.refusal import MonitorError

        raise MonitorError(f"invalid URN {urn!r}", grpc.StatusCode.INVALID_ARGUMENT)
    return parsed.stack, parsed.project, parsed.qualified_type, parsed.name


def qualified_type(urn: str) -> str:
    return urn_parts(urn)[2]


def make_urn(stack: str, project: str, parent: str, typ: str, name: str) -> str:
    """deployment.go generateURN: parent types joined by `$`, except under the root Stack."""
    qualified = typ
    if parent:
        parent_type = qualified_type(parent)
        if parent_type != STACK_TYPE:
            qualified = f"{parent_type}${typ}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def create_urn(name: str, typ: str, parent: str, project: str, stack: str) -> str:
    """resource.CreateURN, used for alias specs."""
    if not parent:
        return f"urn:pulumi:{stack}::{project}::{typ}::{name}"
    return f"{parent[:parent.rindex('::')]}${typ}::{name}"


def is_type_token(typ: str) -> bool:
    parts = typ.split(":")
    return len(parts) == 3 and all(parts)


def package_of(typ: str) -> str:
    if typ.startswith(PROVIDER_PREFIX):
        return typ[len(PROVIDER_PREFIX):]
    return typ.split(":")[0]


def default_provider_name(version: str) -> str:
    """providers.ProviderRequest.DefaultName: `default`, or `default_7_51_1` for version 7.51.1."""
    if not version:
        return "default"
    core, _, build = version.partition("+")
    core, _, pre = core.partition("-")
    name = "default_" + "_".join(core.split("."))
    for extra in (pre, build):
        if extra:
            name += "_" + re.sub(r"[^A-Za-z0-9_]", "_", extra)
    return name
