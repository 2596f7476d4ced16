"""Pulumi URNs, provider references and stack names, read by the engine's rules: their one home.

A URN is `urn:pulumi:STACK::PROJECT::QUALIFIED_TYPE::NAME`, valid when it has the prefix and four
parts split on the first three "::" (resource.URN.IsValid): the name may itself hold "::". A
provider reference is `URN::ID`, split at its last "::" (providers.ParseReference).
"""

from __future__ import annotations

from operator import itemgetter

PREFIX = "urn:pulumi:"
DELIMITER = "::"
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
