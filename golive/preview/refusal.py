"""The offline engine's one error, kept apart so that its value, URN, duration and version modules can
raise it below the deployment; `services` turns it into the RPC's status."""

from __future__ import annotations

import grpc


class MonitorError(Exception):
    """A request the engine would refuse; the message reaches the program as the RPC's error."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN) -> None:
        super().__init__(message)
        self.code = code
