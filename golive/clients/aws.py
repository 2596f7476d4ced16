"""golive's AWS clients: how each is made (timeouts and bounded retries, every one alike), whose
credentials they use (boto3's chain, a named profile, or a role assumed in another account: Identity),
and what to do about a failed call, in one phrase built from the error's class and AWS's code.

Never from the error's message text: AWS and botocore may echo request parameters there.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from golive.errors import GoliveError

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


# --- whose credentials: boto3's chain, a named profile, a role assumed in another account ---------------

# What STS accepts as a role session name; CloudTrail shows it beside every call the session makes.
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
ROLE_DURATION = 3600  # seconds: STS's default and the shortest maximum a role can have; an audit takes seconds


class IdentityError(GoliveError):
    """A profile or role that cannot be used; the message names the option and value, never a key."""


@dataclass(frozen=True)
class Credentials:
    """A role's temporary credentials. Never printed: repr shows only the account they belong to."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    token: str = field(repr=False)
    account: str = ""


@dataclass(frozen=True)
class Identity:
    """Whose credentials every AWS client of a command uses: boto3's chain when nothing is given, a named
    profile of the shared config files (`--profile`), and/or a role assumed with those (`--role-arn`),
    once, before any other call (`assume`)."""

    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    session_name: str | None = None
    credentials: Credentials | None = None  # the role's, once assumed

    def session(self, botocore_session: Any = None) -> boto3.session.Session:
        """A boto3 session with this identity's credentials (raises botocore's ProfileNotFound as it is)."""
        if self.credentials is not None:
            c = self.credentials
            return boto3.session.Session(aws_access_key_id=c.access_key, aws_secret_access_key=c.secret_key,
                                         aws_session_token=c.token, botocore_session=botocore_session)
        return boto3.session.Session(profile_name=self.profile, botocore_session=botocore_session)


def add_identity_options(parser: argparse.ArgumentParser) -> None:
    """`--profile`, `--role-arn`, `--external-id`, `--role-session-name`: one runner, many accounts."""
    parser.add_argument("--profile", metavar="NAME",
                        help="AWS named profile (shared config files) whose credentials to use")
    parser.add_argument("--role-arn", metavar="ARN",
                        help="IAM role to assume (STS AssumeRole) for every AWS call, e.g. the audit role of "
                             "another account; assumed with the --profile's or the environment's credentials")
    parser.add_argument("--external-id", metavar="ID", help="external ID the role's trust policy requires")
    parser.add_argument("--role-session-name", metavar="NAME",
                        help="role session name CloudTrail records (default: golive-COMMAND-STACK)")


def identity_from(args: object, command: str) -> Identity:
    """The identity the options ask for, not yet assumed; checked here so that no call is made for a
    role ARN or session name STS would refuse."""
    role, external, name = (getattr(args, key, None) for key in ("role_arn", "external_id", "role_session_name"))
    if (external or name) and not role:
        raise IdentityError(f"{'--external-id' if external else '--role-session-name'} needs --role-arn")
    if role and not _ROLE_ARN.fullmatch(role):
        raise IdentityError(f"--role-arn {role}: expected arn:aws:iam::ACCOUNT:role/NAME (12-digit account)")
    if name and not _SESSION_NAME.fullmatch(name):
        raise IdentityError(f"--role-session-name {name}: 2 to 64 of letters, digits and +=,.@_-")
    if external is not None and not 2 <= len(external) <= 1224:
        raise IdentityError("--external-id: expected 2 to 1224 characters")
    if role and not name:
        stack = re.sub(r"[^\w+=,.@-]", "-", str(getattr(args, "stack", "") or ""))
        name = f"golive-{command}" + (f"-{stack}" if stack else "")
        name = name[:64]
    return Identity(profile=getattr(args, "profile", None), role_arn=role, external_id=external,
                    session_name=name)


def assume(identity: Identity, *, endpoint_url: str | None, region: str | None, timeout: float) -> Identity:
    """`identity` with the role's temporary credentials (STS AssumeRole with the profile's or the chain's
    credentials), or as it is when it names no role; a profile is checked to exist either way.
    Raises IdentityError naming the option, the role and AWS's error code (never its message text)."""
    try:
        base = Identity(profile=identity.profile).session()
    except ProfileNotFound:
        raise IdentityError(f"--profile {identity.profile}: no such profile in the AWS config files "
                            "(AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)") from None
    if not identity.role_arn:
        return identity
    params: dict[str, Any] = {"RoleArn": identity.role_arn, "RoleSessionName": identity.session_name,
                              "DurationSeconds": ROLE_DURATION}
    if identity.external_id is not None:
        params["ExternalId"] = identity.external_id
    try:
        sts = client("sts", endpoint_url=endpoint_url, region=region, timeout=timeout, session=base)
        answer = sts.assume_role(**params)
    except (ClientError, BotoCoreError) as err:
        code = str(err.response.get("Error", {}).get("Code") or "error") if isinstance(err, ClientError) \
            else type(err).__name__
        why = hint(err, "sts:AssumeRole", code, timeout,
                   denied_fix="the role's trust policy must allow it (and the external ID must match)")
        raise IdentityError(f"--role-arn {identity.role_arn}: cannot assume the role ({code}; {why})") from None
    given = answer.get("Credentials") or {}
    if not all(given.get(key) for key in ("AccessKeyId", "SecretAccessKey", "SessionToken")):
        raise IdentityError(f"--role-arn {identity.role_arn}: STS answered without credentials")
    account = str((answer.get("AssumedRoleUser") or {}).get("Arn", "")).split(":")[4:5]
    return replace(identity, credentials=Credentials(given["AccessKeyId"], given["SecretAccessKey"],
                                                     given["SessionToken"], account[0] if account else ""))
