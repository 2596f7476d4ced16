"""The Pulumi version the offline engine answers as, and the version ranges a program requires of it."""

from __future__ import annotations

import re

import grpc

from golive.preview.refusal import MonitorError

# What RequirePulumiVersion compares against: the CLI is at least as new as the SDK it runs.
ENGINE_VERSION = "3.272.0"


def _version_tuple(text: str) -> tuple[int, int, int]:
    nums = [int(n) for n in re.findall(r"\d+", text.split("-")[0])[:3]]
    return tuple([*nums, 0, 0, 0][:3])  # type: ignore[return-value]


def version_in_range(version: str, spec: str) -> bool:
    """blang/semver ParseRange as RequirePulumiVersion uses it: `>=3.0.0 <4.0.0 || =5.0.0`."""
    have = _version_tuple(version)
    for alternative in spec.split("||"):
        ok = True
        for part in alternative.split():
            match = re.fullmatch(r"(>=|<=|!=|>|<|=|!)?v?(\d+(?:\.\d+){0,2}(?:[-+][0-9A-Za-z.-]+)?)", part)
            if match is None:
                raise MonitorError(f"invalid version range {spec!r}", grpc.StatusCode.INVALID_ARGUMENT)
            op, want = match.group(1) or "=", _version_tuple(match.group(2))
            ok = ok and {">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want,
                         "=": have == want, "!=": have != want, "!": have != want}[op]
        if ok:
            return True
    return False
