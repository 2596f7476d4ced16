"""Durations as the engine reads custom timeouts: Go's time.ParseDuration."""

from __future__ import annotations

import re

import grpc

from golive.preview.refusal import MonitorError

_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """Go's time.ParseDuration, in seconds, as generateTimeoutInSeconds uses it."""
    if not text:
        return 0.0
    sign, body = (-1.0, text[1:]) if text.startswith("-") else (1.0, text.lstrip("+"))
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _DURATION.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body) or pos == 0:
        raise MonitorError(f'time: invalid duration "{text}"', grpc.StatusCode.INVALID_ARGUMENT)
    return sign * total
