"""Argument types shared by the commands' parsers: a value argparse refuses at parse time, with the
command's usage line and exit status 2, before anything runs or connects."""

from __future__ import annotations

import argparse
import math
from urllib.parse import urlsplit


def seconds(text: str) -> float:
    """A finite number of seconds above zero: `inf` would never time out, `nan` never compares, and
    `-5` would end the run before it starts (and be reported as a run that did not finish)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number of seconds above 0")
    return value


def endpoint_url(text: str) -> str:
    """An http(s) URL with a host, as boto3 and requests need it (otherwise a traceback from inside them)."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL with a host")
    return text
