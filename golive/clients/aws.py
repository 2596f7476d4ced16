"""golive's AWS clients: how each is made (timeouts and bounded retries, every one alike), and what to do
about a failed call, in one phrase built from the error's class and AWS's code.

Never from the error's message text: AWS and botocore may echo request parameters there.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

ATTEMPTS = 3  # botocore's standard retry mode, as every golive client is configured
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
             "TooManyUpdates"}
_DENIED = {"UnauthorizedOperation", "AuthorizationError", "HTTP 403"}
_BAD_CREDENTIALS = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException",
                    "InvalidSignatureException"}


def hint(err: Exception, action: str, code: str, timeout: float, *, denied_fix: str = "") -> str:
    """`action` is the IAM action (`ssm:PutParameter`) or the service; `code` AWS's error code, if any."""
    if code.startswith("AccessDenied") or code in _DENIED:
        return f"the identity in use may not call {action}" + (f": {denied_fix}" if denied_fix else "")
    if code in THROTTLED:
        return "AWS throttled the calls; try again in a minute"
    if code in _BAD_CREDENTIALS:
        return "the AWS credentials are not valid: refresh them"
    if isinstance(err, (ConnectTimeoutError, ReadTimeoutError)):
        return f"AWS did not answer within {timeout:g}s ({ATTEMPTS} attempts)"
    if isinstance(err, EndpointConnectionError):
        return "could not connect to the AWS endpoint; check the network and the endpoint URL (--aws-endpoint)"
    if isinstance(err, (NoCredentialsError, PartialCredentialsError)):
        return "no AWS credentials found: set AWS_PROFILE or the AWS_* credential variables"
    if isinstance(err, NoRegionError):
        return "no AWS region: set aws:region in the stack config, --aws-region or AWS_REGION"
    if isinstance(err, BotoCoreError):
        return "the call failed before AWS answered"
    return "AWS refused the call"


def config(timeout: float, read_timeout: float | None = None) -> Config:
    """Every golive client's configuration: connect and read timeouts, ATTEMPTS tries in standard mode."""
    return Config(connect_timeout=timeout, read_timeout=timeout if read_timeout is None else read_timeout,
                  retries={"max_attempts": ATTEMPTS, "mode": "standard"})


def client(service: str, *, endpoint_url: str | None, region: str | None, timeout: float,
           read_timeout: float | None = None, session: boto3.session.Session | None = None) -> Any:
    """A client for `service` from `session`, or from boto3's default session; botocore's errors
    (NoRegionError, ...) are raised as they are, for the caller to report."""
    maker = session.client if session is not None else boto3.client
    return maker(service, endpoint_url=endpoint_url, region_name=region, config=config(timeout, read_timeout))
