"""Argument types shared by the commands' parsers: a value argparse refuses at parse time, in one line
with exit status 2, before anything runs or connects; and the endpoint options several commands share."""

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


def add_aws_endpoint(parser: argparse.ArgumentParser, *, region_default: str) -> None:
    """--aws-endpoint and --aws-region, for a command that calls AWS."""
    parser.add_argument("--aws-endpoint", type=endpoint_url, help="AWS endpoint URL (tests, private setups)")
    parser.add_argument("--aws-region", help=f"AWS region (default: {region_default})")


def add_customerio_endpoints(parser: argparse.ArgumentParser) -> None:
    """--customerio-track-url, --customerio-api-url and --ca-bundle, for a command that calls Customer.io."""
    parser.add_argument("--customerio-track-url", type=endpoint_url, help="Track API base URL (default: the region's)")
    parser.add_argument("--customerio-api-url", type=endpoint_url, help="App API base URL (default: the region's)")
    parser.add_argument("--ca-bundle", metavar="FILE",
                        help="PEM CA certificates to trust for Customer.io in addition to the default store "
                             "(verification stays on)")
