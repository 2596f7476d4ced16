"""How the audit talks to AWS: sessions that share one parsed copy of the service models, clients
shared by every check, calls and listings whose failures carry AWS's error code and a hint but never
the error's message text, and the guard that turns what stopped a check into a FAIL line."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader, create_loader

from golive.clients.aws import Identity, hint
from golive.clients.aws import client as new_client
from golive.errors import GoliveError
from golive.operations.audit.result import AuditResult, failed
from golive.operations.audit.target import AuditTarget

__all__ = ["AwsAuditError", "AwsCalls", "CallFailure", "SessionFactory", "aws_hint", "guarded", "new_session",
           "sessions_of", "shared_client"]

_MAX_PAGES = 100  # a listing that never ends (a server bug) must not hang the audit

SessionFactory = Callable[[], boto3.session.Session]

_NOT_FOUND = {"ResourceNotFoundException", "ParameterNotFound", "NotFound", "NoSuchHostedZone"}


class AwsAuditError(GoliveError):
    """An AWS read the audit needs failed; the message names the resource and AWS's error code."""


_LOADER_LOCK = threading.Lock()
_loader: Loader | None = None


def new_session(identity: Identity | None = None) -> boto3.session.Session:
    """A fresh boto3 session with `identity`'s credentials (default: boto3's credential chain, as
    `boto3.session.Session()` gives it) that shares one loader of AWS's service models with the others.

    Each check needs a session of its own (sessions are not thread-safe), and parsing a service's
    model again for every session is slow; the models are read-only, so one parsed copy serves them all.
    """
    global _loader
    with _LOADER_LOCK:
        first = _loader is None
        if _loader is None:
            _loader = create_loader()
        before = len(_loader.search_paths)
        session = (identity or Identity()).session(_core_session(_loader))
        session._golive_shared = True  # type: ignore[attr-defined]  # its clients may be shared (below)
        if not first:
            # boto3 appends its data path on every session; keep the first, so the list does not grow.
            del _loader.search_paths[before:]
    return session


def _core_session(loader: Loader) -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", loader)
    return core


class CallFailure(Exception):
    """A failed AWS call, described without the error's message text (only AWS's code and our hint)."""

    def __init__(self, resource: str, code: str, hint: str) -> None:
        super().__init__(f"{resource}: {code}")
        self.resource = resource
        self.code = code
        self.hint = hint

    @property
    def detail(self) -> str:
        return f"{self.resource}: {self.code}; {self.hint}"

    @property
    def not_found(self) -> bool:
        return self.code in _NOT_FOUND


# Clients are thread-safe where sessions are not: the checks of one audit share one client per service
# and endpoint instead of each building its own (CPU-bound work, which concurrent checks queue for).
_CLIENTS: dict[tuple[str, str | None, str | None, float, Identity], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def shared_client(target: AuditTarget, service: str) -> Any:
    """A client for `service` at the target's endpoint, shared by every check of the process.
    Raises botocore's errors (NoRegionError, …) as they are; the caller reports them."""
    endpoints = target.endpoints
    key = (service, endpoints.aws_url, endpoints.aws_region, endpoints.timeout, endpoints.identity)
    if (cached := _CLIENTS.get(key)) is not None:
        return cached
    session = new_session(endpoints.identity)
    with _CLIENTS_LOCK:
        client = new_client(service, endpoint_url=endpoints.aws_url, region=endpoints.aws_region,
                            timeout=endpoints.timeout, session=session)
        return _CLIENTS.setdefault(key, client)


@dataclass(frozen=True)
class AwsCalls:
    """One check's clients: its own session (sessions are not thread-safe), the target's endpoint."""

    target: AuditTarget
    session: boto3.session.Session

    def client(self, service: str) -> Any:
        endpoints = self.target.endpoints
        key = (service, endpoints.aws_url, endpoints.aws_region, endpoints.timeout, endpoints.identity)
        shared = getattr(self.session, "_golive_shared", False)
        if shared and (cached := _CLIENTS.get(key)) is not None:
            return cached
        try:
            with _CLIENTS_LOCK:
                client = new_client(service, endpoint_url=endpoints.aws_url, region=endpoints.aws_region,
                                    timeout=endpoints.timeout, session=self.session)
                if shared:
                    client = _CLIENTS.setdefault(key, client)
            return client
        except BotoCoreError as err:
            raise CallFailure(service, type(err).__name__, aws_hint(err, service, "", endpoints.timeout)) from None


    def call(self, client: Any, operation: str, resource: str, **params: Any) -> dict[str, Any]:
        try:
            return getattr(client, operation)(**params)
        except (ClientError, BotoCoreError) as err:
            raise self._failure(err, client, operation, resource) from None

    def pages(self, client: Any, operation: str, resource: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if not client.can_paginate(operation):
            # botocore has no paginator for some listings (ListSecretVersionIds): follow NextToken by hand.
            token = None
            for _ in range(_MAX_PAGES):
                page = self.call(client, operation, resource, **params, **({"NextToken": token} if token else {}))
                items.extend(page.get(key, []))
                token = page.get("NextToken")
                if not token:
                    break
            return items
        try:
            for page in client.get_paginator(operation).paginate(**params):
                items.extend(page.get(key, []))
        except (ClientError, BotoCoreError) as err:
            raise self._failure(err, client, operation, resource) from None
        return items

    def _failure(self, err: Exception, client: Any, operation: str, resource: str) -> CallFailure:
        service = client.meta.service_model.service_id.lower().replace(" ", "")
        action = "".join(part.title() for part in operation.split("_"))
        if isinstance(err, ClientError):
            code = str(err.response.get("Error", {}).get("Code") or "error")
            if code.isdigit():
                # An error body botocore could not parse leaves only the HTTP status.
                code = f"HTTP {code}"
        else:
            code = type(err).__name__
        return CallFailure(resource, code, aws_hint(err, f"{service}:{action}", code, self.target.endpoints.timeout))


def aws_hint(err: Exception, action: str, code: str, timeout: float) -> str:
    return hint(err, action, code, timeout, denied_fix="grant the auditing identity read access")


def guarded(name: str, section: str, body: Callable[[list[AuditResult]], None]) -> Callable[[], list[AuditResult]]:
    """A check's run: the lines the body produced, plus a FAIL line for whatever stopped it."""

    def run() -> list[AuditResult]:
        out: list[AuditResult] = []
        try:
            body(out)
        except CallFailure as failure:
            out.append(failed(name, failure.detail, section))
        except Exception as err:
            # Only the type: an unexpected error's text could hold anything, a value included.
            out.append(failed(name, f"the check stopped on an unexpected {type(err).__name__}", section))
        return out

    return run


def sessions_of(target: AuditTarget) -> SessionFactory:
    """Sessions with the target's AWS identity (a profile or an assumed role, else boto3's chain)."""
    return lambda: new_session(target.endpoints.identity)
