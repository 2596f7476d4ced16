"""A stand-in for Customer.io's Track and App APIs: a threaded HTTPS server on 127.0.0.1.

It serves real TLS with a certificate for 127.0.0.1/localhost issued by a `trustme` test CA, so
clients keep verification on and trust the CA bundle (`ca_bundle`) instead. One server answers both
APIs, told apart by path as Customer.io's hosts are:

- Track API (HTTP Basic `site_id:track_key`): `GET /api/v1/accounts/region` → `{url, region,
  environment_id}`, `PUT /api/v1/customers/{id}`, `DELETE /api/v1/customers/{id}`.
- App API (`Authorization: Bearer KEY`): `GET /v1/campaigns`, `/v1/campaigns/{id}`,
  `/v1/campaigns/{id}/actions`, `/v1/sender_identities`.

Anything that suppresses (a `suppress` path segment, or a v2 `entity`/`batch` call whose action is
`suppress`) is answered like Customer.io would but recorded in `violations`: suppression deletes a
profile and blocks its identifier for good, so nothing of ours may ever call it, and the
`customerio_server` fixture fails a test that did unless the test called `expect_violations()`.

Faults: `fail_next(count, status)` (429s, 5xx), `redirect_next(count, location)`, `slow(seconds)`,
`plan_limited` (App API 403).
Requests are recorded as method, path, API and whether the credentials were valid; the
Authorization header itself is never kept.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

TRACK_HOSTS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}


@dataclass(frozen=True)
class Recorded:
    """One request as the stand-in saw it: never the credentials, only whether they were valid."""

    method: str
    path: str
    api: str  # "track", "app" or "other"
    authenticated: bool
    status: int


@dataclass
class Workspace:
    region: str = "us"
    environment_id: int = 1


@dataclass
class _Fault:
    status: int
    remaining: int
    api: str | None
    retry_after: int | None
    location: str | None = None


@dataclass
class TlsFiles:
    ca: trustme.CA
    ca_bundle: Path
    server_cert: trustme.LeafCert


POSTAL_ADDRESS = "Example Inc., 1 Main Street, Springfield, OR 97477, USA"
# An email body as CAN-SPAM wants it: an unsubscribe link (Customer.io's Liquid tag) and the postal address.
COMPLIANT_BODY = ("<p>Hello {{ customer.first_name }}</p><footer>Example Inc.<br>1 Main Street<br>"
                  "Springfield, OR 97477, USA<br><a href=\"{% unsubscribe_url %}\">Unsubscribe</a></footer>")


def _default_campaigns() -> dict[int, dict[str, Any]]:
    return {1: {"id": 1, "name": "Welcome", "active": True, "state": "running"},
            2: {"id": 2, "name": "Win-back", "active": False, "state": "draft"}}


@dataclass
class _State:
    track: dict[tuple[str, str], Workspace] = field(default_factory=dict)
    app: dict[str, Workspace] = field(default_factory=dict)
    faults: list[_Fault] = field(default_factory=list)
    delay: float = 0.0
    plan_limited: bool = False
    campaigns: dict[int, dict[str, Any]] = field(default_factory=_default_campaigns)
    actions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # campaign id -> its actions
    sender_identities: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": 1, "email": "hello@cio123.example.com", "name": "Example"}])
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    violations_expected: bool = False
    # Set when the test that owned this state ends, so slow answers still pending give up.
    cancelled: threading.Event = field(default_factory=threading.Event)


class CustomerIoStandIn:
    """The server and its knobs; `url` is the base for both CUSTOMERIO_TRACK_URL and CUSTOMERIO_API_URL."""

    def __init__(self, tls: TlsFiles) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> CustomerIoStandIn:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.server_cert.configure_cert(context)
        server = _Server(("127.0.0.1", 0), _make_handler(self), context)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.cancelled.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self._state.cancelled.set()
            self._state = _State()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def ca_bundle(self) -> Path:
        return self.tls.ca_bundle

    # --- configuration ---------------------------------------------------------------------------
    def allow_track(self, site_id: str, track_key: str, *, region: str = "us", environment_id: int = 1) -> None:
        """Make a Track API pair valid, for a workspace in `region` with id `environment_id`."""
        with self._lock:
            self._state.track[(site_id, track_key)] = Workspace(region, environment_id)

    def revoke_track(self, site_id: str, track_key: str) -> None:
        with self._lock:
            self._state.track.pop((site_id, track_key), None)

    def allow_app(self, key: str, *, region: str = "us", environment_id: int = 1) -> None:
        with self._lock:
            self._state.app[key] = Workspace(region, environment_id)

    def revoke_app(self, key: str) -> None:
        with self._lock:
            self._state.app.pop(key, None)

    def fail_next(self, count: int, status: int = 429, *, api: str | None = None,
                  retry_after: int | None = None) -> None:
        """Answer the next `count` requests (to `api`, or any) with `status` before looking at them."""
        with self._lock:
            self._state.faults.append(_Fault(status, count, api, retry_after))

    def redirect_next(self, count: int, location: str, status: int = 302) -> None:
        """Answer the next `count` requests with a redirect to `location`."""
        with self._lock:
            self._state.faults.append(_Fault(status, count, None, None, location))

    def clear_faults(self) -> None:
        with self._lock:
            self._state.faults.clear()

    def slow(self, seconds: float) -> None:
        """Delay every answer by `seconds` (0 turns it off)."""
        with self._lock:
            self._state.delay = seconds

    @property
    def plan_limited(self) -> bool:
        return self._state.plan_limited

    @plan_limited.setter
    def plan_limited(self, value: bool) -> None:
        with self._lock:
            self._state.plan_limited = value

    def expect_violations(self) -> None:
        """For tests of the stand-in itself: the fixture will not fail the test over a suppress call."""
        with self._lock:
            self._state.violations_expected = True

    # --- what happened ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.requests)

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._state.violations)

    @property
    def suppress_called(self) -> bool:
        return bool(self.violations)

    @property
    def customers(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._state.customers.items()}

    def set_campaigns(self, campaigns: list[dict[str, Any]], actions: dict[int, list[dict[str, Any]]]) -> None:
        """Replace the workspace's campaigns and their actions (each action: id, type, name, body)."""
        with self._lock:
            self._state.campaigns = {c["id"]: dict(c) for c in campaigns}
            self._state.actions = {k: [dict(a) for a in v] for k, v in actions.items()}

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    # --- serving ---------------------------------------------------------------------------------
    def _answer(self, method: str, path: str, authorization: str | None, body: bytes) -> tuple[int, Any, dict]:
        # Work on the state of the test that sent the request: a slow answer may outlive its test.
        with self._lock:
            state = self._state
        plain = path.split("?", 1)[0]
        api = "track" if plain.startswith("/api/") else "app" if plain.startswith("/v1/") else "other"
        self._check_suppress(state, method, plain, body)
        if state.delay and state.cancelled.wait(state.delay):
            return 503, {"meta": {"error": "shutting down"}}, {}
        workspace = self._authenticate(state, api, authorization)
        headers: dict[str, str] = {}
        fault = self._take_fault(state, api)
        if fault:
            status, payload = fault.status, {"meta": {"error": f"injected {fault.status}"}}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            if fault.location is not None:
                headers["Location"] = fault.location
        else:
            status, payload = self._route(state, method, plain, api, workspace, body)
        with self._lock:
            state.requests.append(Recorded(method, plain, api, workspace is not None, status))
        return status, payload, headers

    def _take_fault(self, state: _State, api: str) -> _Fault | None:
        with self._lock:
            for fault in state.faults:
                if fault.remaining > 0 and fault.api in (None, api):
                    fault.remaining -= 1
                    return fault
        return None

    def _check_suppress(self, state: _State, method: str, path: str, body: bytes) -> None:
        segments = path.strip("/").split("/")
        suppressing = "suppress" in segments
        if not suppressing and method == "POST" and path in ("/api/v2/entity", "/api/v2/batch"):
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                payload = {}
            items = payload.get("batch", []) if isinstance(payload, dict) and path.endswith("batch") else [payload]
            suppressing = any(isinstance(i, dict) and i.get("action") == "suppress" for i in items)
        if suppressing:
            with self._lock:
                state.violations.append(f"{method} {path}")

    def _authenticate(self, state: _State, api: str, authorization: str | None) -> Workspace | None:
        scheme, _, credential = (authorization or "").partition(" ")
        with self._lock:
            if api == "track" and scheme.lower() == "basic":
                try:
                    site_id, _, key = base64.b64decode(credential, validate=True).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    return None
                return state.track.get((site_id, key))
            if api == "app" and scheme.lower() == "bearer":
                return state.app.get(credential)
        return None

    def _route(self, state: _State, method: str, path: str, api: str, workspace: Workspace | None,
               body: bytes) -> tuple[int, Any]:
        if api == "other":
            return 404, {"meta": {"error": "not found"}}
        if workspace is None:
            return 401, {"meta": {"error": "Unauthorized request"}}
        if api == "track":
            return self._track(state, method, path, workspace, body)
        if state.plan_limited:
            return 403, {"meta": {"error": "This feature is not available on your plan"}}
        return self._app(state, method, path)

    def _track(self, state: _State, method: str, path: str, workspace: Workspace, body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/api/v1/accounts/region":
            return 200, {"url": TRACK_HOSTS.get(workspace.region, TRACK_HOSTS["us"]), "region": workspace.region,
                         "environment_id": workspace.environment_id}
        customer = re.fullmatch(r"/api/v1/customers/([^/]+)", path)
        if customer and method == "PUT":
            try:
                attributes = json.loads(body or b"{}")
            except ValueError:
                return 400, {"meta": {"error": "invalid JSON"}}
            with self._lock:
                state.customers.setdefault(customer.group(1), {}).update(attributes)
            return 200, {}
        if customer and method == "DELETE":
            with self._lock:
                state.customers.pop(customer.group(1), None)
            return 200, {}
        if re.fullmatch(r"/api/v1/customers/[^/]+/suppress", path) and method == "POST":
            return 200, {}
        if path in ("/api/v2/entity", "/api/v2/batch") and method == "POST":
            return 200, {}
        return 404, {"meta": {"error": "not found"}}

    def _app(self, state: _State, method: str, path: str) -> tuple[int, Any]:
        if method != "GET":
            return 404, {"meta": {"error": "not found"}}
        if path == "/v1/campaigns":
            return 200, {"campaigns": list(state.campaigns.values())}
        if path == "/v1/sender_identities":
            return 200, {"sender_identities": list(state.sender_identities)}
        match = re.fullmatch(r"/v1/campaigns/(\d+)(/actions)?", path)
        if match and int(match.group(1)) in state.campaigns:
            campaign = state.campaigns[int(match.group(1))]
            if match.group(2):
                actions = state.actions.get(campaign["id"])
                if actions is None:
                    actions = [{"id": 10 * campaign["id"] + 1, "campaign_id": campaign["id"], "type": "email",
                                "name": "First email", "body": COMPLIANT_BODY}]
                return 200, {"actions": actions}
            return 200, {"campaign": campaign}
        return 404, {"meta": {"error": "not found"}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.context = context

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow answer leaves a broken pipe; that is the point of the test.
        pass

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake happens here, in the request's own thread, so a client that never finishes it
        # (or a plain-HTTP client) cannot stall the accept loop.
        request.settimeout(10)
        # Headers and body leave in separate writes; with Nagle's algorithm the body would wait for the
        # client's delayed ACK (~40 ms a response), a delay no real API adds.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


def _make_handler(standin: CustomerIoStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "customerio-standin"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload, headers = standin._answer(self.command, self.path, self.headers.get("Authorization"),
                                                       body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            # The default writes to stderr; tests read the record instead.
            pass

    return Handler


@pytest.fixture(scope="session")
def customerio_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A test CA, its PEM bundle on disk, and a server certificate for 127.0.0.1 and localhost."""
    ca = trustme.CA()
    bundle = tmp_path_factory.mktemp("customerio-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return TlsFiles(ca, bundle, ca.issue_cert("127.0.0.1", "localhost"))


@pytest.fixture(scope="session")
def customerio_session(customerio_tls: TlsFiles) -> Iterator[CustomerIoStandIn]:
    """One running stand-in for the session; use `customerio_server` for a clean one per test."""
    standin = CustomerIoStandIn(customerio_tls).start()
    yield standin
    standin.stop()


@pytest.fixture
def customerio_server(customerio_session: CustomerIoStandIn) -> Iterator[CustomerIoStandIn]:
    """The stand-in with no credentials, faults or records; fails the test if anything suppressed."""
    customerio_session.reset()
    yield customerio_session
    state = customerio_session._state
    state.cancelled.set()
    if state.violations and not state.violations_expected:
        pytest.fail(f"Customer.io suppression was called: {state.violations}")
