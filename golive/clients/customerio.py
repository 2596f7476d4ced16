"""Read-only calls to Customer.io's Track and App APIs, for `golive credentials` and the audit.

Two probes of a credential, both documented reads:
- Track API `GET /api/v1/accounts/region` with HTTP Basic `site_id:track_api_key` authenticates the
  pair and names the workspace's region and environment id.
- App API `GET /v1/campaigns` with `Authorization: Bearer` authenticates an App API key; a 403 there
  is a plan limit on a key that did authenticate, not a bad key.

The client only ever sends GET, so it cannot suppress (which deletes a profile and blocks its
identifier for good) or write anything. Every request has a connect and a read timeout; 429s, 5xx
answers and dropped connections are retried a bounded number of times with a short backoff; a
redirect is followed only to the same scheme, host and port, so credentials never travel to
another host. Errors are `CustomerIoError` subclasses carrying the API, the path and the status;
their text never holds a key, and a site ID shows at most its first four characters.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.parse
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3
from requests.auth import AuthBase, HTTPBasicAuth

from golive.errors import GoliveError

TRACK_URLS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
API_URLS = {"us": "https://api.customer.io", "eu": "https://api-eu.customer.io"}
REGION_PATH = "/api/v1/accounts/region"
CAMPAIGNS_PATH = "/v1/campaigns"
API_NAMES = {"track": "Track API", "app": "App API"}

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the first retry; doubled for each further one
MAX_RETRY_AFTER = 5.0  # a person is waiting: a longer Retry-After is cut to this
MAX_REDIRECTS = 3
MAX_BODY = 1 << 20


class CustomerIoError(GoliveError):
    """A Customer.io call that did not give an answer to use. The text never holds a credential."""

    def __init__(self, message: str, *, api: str, path: str, status: int | None = None) -> None:
        super().__init__(message)
        self.api = api  # "track" or "app"
        self.path = path
        self.status = status  # the HTTP status, None when no answer came


class Unauthorized(CustomerIoError):
    """401: Customer.io does not accept the credential."""


class PlanLimited(CustomerIoError):
    """403 from the App API: the key authenticated, but the account's plan does not allow the call."""


class Throttled(CustomerIoError):
    """429 on every attempt."""


class Unavailable(CustomerIoError):
    """5xx on every attempt, or no connection could be made."""


class Timeout(CustomerIoError):
    """No connection or no answer within the timeout."""


class TlsFailure(CustomerIoError):
    """The server's certificate did not verify; not retried, since retrying cannot fix it."""


class UnexpectedResponse(CustomerIoError):
    """Any other status, a body that is not the documented JSON, or a redirect to another host."""


class ClientConfigError(GoliveError):
    """A base URL, region, CA bundle or credential that cannot be used; names the setting, never a value."""


@dataclass(frozen=True)
class TrackAccount:
    """The Track API's answer to the region probe."""

    region: str  # "us" | "eu"
    environment_id: int | None
    url: str | None


@dataclass(frozen=True)
class AppKeyCheck:
    """The App API's answer to a key: it authenticated; `plan_limited` when the answer was a 403."""

    plan_limited: bool


def site_id_hint(site_id: str) -> str:
    """Enough of a site ID to tell two apart in a message: at most its first 4 characters."""
    return site_id[: min(4, len(site_id) // 2)] + "…"


def check_ca_bundle(path: str | Path, setting: str = "CA bundle") -> None:
    """A CA bundle golive can add to its trust: a file holding PEM certificates."""
    import ssl

    if not Path(path).is_file():
        raise ClientConfigError(f"{setting} {path}: no such file")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, UnicodeDecodeError) as err:
        raise ClientConfigError(f"{setting} {path}: no PEM certificates could be read from it "
                                f"({type(err).__name__})") from None


def default_trust() -> list[Path]:
    """What requests verifies with when given nothing: the file or folder REQUESTS_CA_BUNDLE (or
    CURL_CA_BUNDLE) names, else certifi's bundle."""
    named = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    path = Path(named) if named else Path(requests.certs.where())
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    return [path] if path.is_file() else []


class TrustBundle:
    """A CA file for requests' `verify`: the default trust store, then the extra certificates.

    requests trusts a `verify=<file>` alone, which would make a private CA for a proxy or a stand-in
    stop the real Customer.io hosts from verifying. golive's --ca-bundle adds to the default store
    instead, so the two are written into one temporary file, removed on close() (or at exit)."""

    def __init__(self, extra: str | Path) -> None:
        check_ca_bundle(extra)
        parts = [p.read_bytes() for p in (*default_trust(), Path(extra))]
        fd, name = tempfile.mkstemp(prefix="golive-ca-", suffix=".pem")
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"\n".join(part.rstrip(b"\n") for part in parts) + b"\n")
        self.path = Path(name)
        self._remove = weakref.finalize(self, self.path.unlink, missing_ok=True)

    def close(self) -> None:
        self._remove()


def check_credential(label: str, value: str) -> None:
    """Refuse a value that cannot go into a header as is. requests would echo it in its exception
    text, so this check comes first and names only the position."""
    if not value:
        raise ClientConfigError(f"the {label} is empty")
    for position, char in enumerate(value, 1):
        if not 33 <= ord(char) <= 126:
            raise ClientConfigError(f"the {label} has whitespace, a control or a non-ASCII character "
                                    f"(at character {position}); keys are printable ASCII")


class _Bearer(AuthBase):
    # As an auth object rather than a plain header, so requests does not replace it with a ~/.netrc login.
    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.key}"
        return request


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"https": 443, "http": 80}.get(scheme)


def _base_url(url: str, setting: str) -> str:
    url = url.rstrip("/")
    parts = urllib.parse.urlsplit(url)
    # Credentials travel in headers: never over plain HTTP.
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ClientConfigError(f"{setting} {url!r}: expected an https:// URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ClientConfigError(f"{setting}: expected a base URL without user info, query or fragment")
    return url


class CustomerIo:
    """Read-only Customer.io client for one account region; credentials are passed per call."""

    def __init__(self, region: str = "us", *, track_url: str | None = None, api_url: str | None = None,
                 verify: str | Path | None = None, connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT, attempts: int = ATTEMPTS, backoff: float = BACKOFF,
                 max_retry_after: float = MAX_RETRY_AFTER, sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None) -> None:
        if region not in TRACK_URLS:
            raise ClientConfigError(f"Customer.io region {region!r}: expected one of {', '.join(TRACK_URLS)}")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ClientConfigError("Customer.io timeouts must be positive")
        self.region = region
        self.track_url = _base_url(track_url or TRACK_URLS[region], "Track API URL")
        self.api_url = _base_url(api_url or API_URLS[region], "App API URL")
        # Verification stays on: a CA bundle adds trust in a private CA to the default store, it never
        # replaces the store nor turns checking off.
        self._trust = TrustBundle(verify) if verify is not None else None
        self.verify: str | bool = str(self._trust.path) if self._trust is not None else True
        self.timeout = (connect_timeout, read_timeout)
        self.attempts = max(1, attempts)
        self.backoff = max(0.0, backoff)
        self.max_retry_after = max(0.0, max_retry_after)
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": "golive", "Accept": "application/json"})

    def close(self) -> None:
        self.session.close()
        if self._trust is not None:
            self._trust.close()

    def __enter__(self) -> CustomerIo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the probes ------------------------------------------------------------------------------
    def track_region(self, site_id: str, track_key: str) -> TrackAccount:
        """The region probe: raises Unauthorized when Customer.io refuses the pair."""
        check_credential("site ID", site_id)
        check_credential("Track API key", track_key)
        if ":" in site_id:
            raise ClientConfigError("the site ID has a ':', which HTTP Basic cannot carry; site IDs do not")
        body = self._get("track", self.track_url, REGION_PATH, HTTPBasicAuth(site_id, track_key),
                         subject=f" for site ID {site_id_hint(site_id)}")
        region = body.get("region") if isinstance(body, dict) else None
        if region not in TRACK_URLS:
            raise UnexpectedResponse(f"Track API: GET {REGION_PATH} answered without a known region",
                                     api="track", path=REGION_PATH, status=200)
        environment = body.get("environment_id")
        url = body.get("url")
        return TrackAccount(region=region,
                            environment_id=environment if isinstance(environment, int) else None,
                            url=url if isinstance(url, str) else None)

    def check_app_key(self, key: str) -> AppKeyCheck:
        """An App API read that proves the key authenticates; a 403 plan limit counts as authenticated."""
        try:
            self.app_get(key, CAMPAIGNS_PATH)
        except PlanLimited:
            return AppKeyCheck(plan_limited=True)
        return AppKeyCheck(plan_limited=False)

    def app_get(self, key: str, path: str, params: dict[str, str] | None = None) -> Any:
        """The parsed JSON of an App API GET (e.g. `/v1/campaigns`, `/v1/sender_identities`)."""
        check_credential("App API key", key)
        if not path.startswith("/"):
            raise ClientConfigError(f"App API path {path!r}: expected an absolute path")
        if "suppress" in path.lower().split("?", 1)[0].split("/"):
            # Suppression deletes a profile and blocks its identifier for good; nothing here may go near it.
            raise ClientConfigError(f"App API path {path!r}: this client never calls suppression endpoints")
        return self._get("app", self.api_url, path, _Bearer(key), params=params)

    # --- one GET, with retries -------------------------------------------------------------------
    def _get(self, api: str, base: str, path: str, auth: AuthBase, *, params: dict[str, str] | None = None,
             subject: str = "") -> Any:
        name = API_NAMES[api]
        url = base + path
        origin = _origin(url)
        redirects = 0
        attempt = 0
        while True:
            attempt += 1
            failure: CustomerIoError
            retry_after: str | None = None
            try:
                response = self.session.get(url, params=params, auth=auth, timeout=self.timeout, verify=self.verify,
                                            allow_redirects=False, stream=True)
            except requests.exceptions.SSLError:
                raise TlsFailure(f"{name}: the TLS certificate of {origin[1]} did not verify (GET {path})",
                                 api=api, path=path) from None
            except requests.exceptions.Timeout:
                raise Timeout(f"{name}: no answer from {origin[1]} within {self._timeout_text()} (GET {path})",
                              api=api, path=path) from None
            except requests.exceptions.ConnectionError:
                failure = Unavailable(f"{name}: could not connect to {origin[1]} (GET {path})", api=api, path=path)
            except requests.exceptions.RequestException as err:
                # The exception's own text may quote the request; only its type is reported.
                raise UnexpectedResponse(f"{name}: GET {path} failed ({type(err).__name__})",
                                         api=api, path=path) from None
            else:
                with response:
                    status = response.status_code
                    if response.is_redirect:
                        target = urllib.parse.urljoin(url, response.headers.get("Location", ""))
                        if _origin(target) != origin:
                            raise UnexpectedResponse(
                                f"{name}: GET {path} was redirected to {_origin(target)[1] or 'elsewhere'}; "
                                f"credentials are only sent to {origin[1]}", api=api, path=path, status=status)
                        redirects += 1
                        if redirects > MAX_REDIRECTS:
                            raise UnexpectedResponse(f"{name}: GET {path}: too many redirects",
                                                     api=api, path=path, status=status)
                        # The Location already carries any query; a redirect does not use up an attempt.
                        url, params, attempt = target, None, attempt - 1
                        continue
                    if 200 <= status < 300:
                        return self._json(response, name, api, path, status)
                    if status == 401:
                        raise Unauthorized(f"{name}: 401 Unauthorized{subject} (GET {path})",
                                           api=api, path=path, status=status)
                    if status == 403 and api == "app":
                        raise PlanLimited(f"{name}: 403, a plan limit: the key authenticated but the plan does "
                                          f"not allow GET {path}", api=api, path=path, status=status)
                    if status == 429:
                        failure = Throttled(f"{name}: 429 Too Many Requests on each of {self.attempts} attempts "
                                            f"(GET {path})", api=api, path=path, status=status)
                    elif status >= 500:
                        failure = Unavailable(f"{name}: {status} on each of {self.attempts} attempts (GET {path})",
                                              api=api, path=path, status=status)
                    else:
                        raise UnexpectedResponse(f"{name}: GET {path} answered {status}{subject}",
                                                 api=api, path=path, status=status)
                    retry_after = response.headers.get("Retry-After")
            if attempt >= self.attempts:
                raise failure
            self.sleep(self._delay(attempt, retry_after))

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.backoff * 2 ** (attempt - 1)
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after.strip()), self.max_retry_after))
        return delay

    def _timeout_text(self) -> str:
        connect, read = self.timeout
        return f"{connect:g} s to connect and {read:g} s to answer"

    def _json(self, response: requests.Response, name: str, api: str, path: str, status: int) -> Any:
        # The body is read here rather than by requests, so that a slow body is a Timeout like a slow
        # header and an endless one stops at MAX_BODY.
        try:
            data = response.raw.read(MAX_BODY + 1, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            raise Timeout(f"{name}: the answer to GET {path} stalled for more than {self.timeout[1]:g} s",
                          api=api, path=path, status=status) from None
        except (urllib3.exceptions.HTTPError, OSError):
            raise Unavailable(f"{name}: the answer to GET {path} was cut off", api=api, path=path,
                              status=status) from None
        if len(data) > MAX_BODY:
            raise UnexpectedResponse(f"{name}: the answer to GET {path} is larger than {MAX_BODY} bytes",
                                     api=api, path=path, status=status)
        try:
            return json.loads(data) if data else None
        except ValueError:
            raise UnexpectedResponse(f"{name}: the answer to GET {path} is not JSON", api=api, path=path,
                                     status=status) from None
