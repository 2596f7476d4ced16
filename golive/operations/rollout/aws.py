"""AWS clients for `golive rollout`, and AWS errors as one line that names the resource and AWS's code.

Every client has connect and read timeouts and a bounded number of attempts. An error is described
by its class and AWS's error code only, never its message text (which may echo request parameters).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from golive.clients.aws import Identity, client, hint
from golive.errors import GoliveError

NOT_FOUND = {"ParameterNotFound", "ResourceNotFound", "ResourceNotFoundException"}


class AwsError(GoliveError):
    """An AWS call failed; the message names the resource, AWS's error code and what to do."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code

    @property
    def not_found(self) -> bool:
        return self.code in NOT_FOUND


class Clients:
    """One command's clients (SSM, CloudWatch), made once each from one boto3 session: a session parses
    a service's model for each client it makes otherwise, and a command runs on one thread."""

    def __init__(self, endpoint_url: str | None, region: str | None, timeout: float,
                 identity: Identity | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.identity = identity or Identity()
        self.region = region
        self.timeout = timeout
        self._session: boto3.session.Session | None = None
        self._made: dict[str, Any] = {}

    def get(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self.make(service)
        return self._made[service]

    def make(self, service: str) -> Any:
        try:
            self._session = self._session or self.identity.session()
            return client(service, endpoint_url=self.endpoint_url, region=self.region, timeout=self.timeout,
                          session=self._session)
        except BotoCoreError as err:
            raise AwsError(f"{service}: {hint(err, service, '', self.timeout)}", type(err).__name__) from None


def call(client: Any, operation: str, resource: str, timeout: float, **params: Any) -> dict[str, Any]:
    try:
        return getattr(client, operation)(**params)
    except (ClientError, BotoCoreError) as err:
        raise failure(err, client, operation, resource, timeout) from None


def pages(client: Any, operation: str, resource: str, key: str, timeout: float, *, max_pages: int = 100,
          **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    try:
        for number, page in enumerate(client.get_paginator(operation).paginate(**params)):
            if number >= max_pages:  # a listing that never ends (a server bug) must not hang the command
                break
            items.extend(page.get(key, []))
    except (ClientError, BotoCoreError) as err:
        raise failure(err, client, operation, resource, timeout) from None
    return items


def failure(err: Exception, client: Any, operation: str, resource: str, timeout: float) -> AwsError:
    service = client.meta.service_model.signing_name
    action = f"{service}:{''.join(part.title() for part in operation.split('_'))}"
    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code") or "error")
    else:
        code = type(err).__name__
    return AwsError(f"{resource}: {code}; {hint(err, action, code, timeout)}", code)
