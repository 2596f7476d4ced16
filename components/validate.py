"""Shape checks for component inputs: wrong shapes fail at preview with the input's name.

Checklist policy (is 120 days too long?) is the pack's job, so these only reject values that
cannot mean anything, and let non-compliant but meaningful values through to be blocked there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pulumi

from checklist import emailauth

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$")


class InputError(pulumi.RunError, ValueError):
    """A component input or config key of the wrong shape; the message names it.

    A RunError, so the CLI prints the message alone instead of a traceback."""


def require_choice(name: str, value: Any, choices: Iterable[str]) -> None:
    options = tuple(choices)
    if value not in options:
        raise InputError(f"{name}: expected one of {', '.join(options)}, got {value!r}")


def require_int_range(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name}: expected a whole number from {low} to {high}, got {value!r}")


def require_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name}: expected a number, got {value!r}")
    return float(value)


def require_spf_include(name: str, value: Any) -> str:
    """A domain SPF may `include:`. Looser than `require_domain` where RFC 7208 is: labels may hold
    underscores, as `_spf.example.com` does; the pack's own SPF parser judges it."""
    if not isinstance(value, str):
        raise InputError(f"{name}: expected a domain to include in SPF like _spf.example.com, got {value!r}")
    try:
        emailauth.check_include_target(value)
    except emailauth.SPFSyntaxError as err:
        raise InputError(f"{name}: expected a domain to include in SPF like _spf.example.com, got {value!r}: "
                         f"{err.reason}") from None
    return value.lower().rstrip(".") if "%" not in value else value  # macros keep their letters' case


def require_domain(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _DOMAIN.match(value.lower().rstrip(".")):
        raise InputError(f"{name}: expected a domain name like mail.example.com, got {value!r}")
    return value.lower().rstrip(".")
