"""golive.clients.customerio against the Customer.io stand-in over real TLS (tests/fakes/customerio.py)."""

from __future__ import annotations

import socket
import time

import pytest

from golive.clients import customerio
from golive.clients.customerio import CustomerIo
from tests.fakes.customerio import CustomerIoStandIn

SITE = "c0ffee5173a9e2d4b6"
TRACK = "trk-51d3e0a7c9b2f846"
APP = "app-8e4b1c07d2f9a635"
VALUES = (SITE, TRACK, APP)


def clean(text: str) -> None:
    """No credential in `text`, and a site ID only as its first four characters."""
    for value in VALUES:
        assert value not in text
        assert value[:8] not in text, "more than 4 characters of a credential"


def client(cio: CustomerIoStandIn, sleeps: list[float] | None = None, **options) -> CustomerIo:
    options.setdefault("backoff", 0.01)
    return CustomerIo(track_url=cio.url, api_url=cio.url, verify=cio.ca_bundle,
                      sleep=(sleeps.append if sleeps is not None else time.sleep), **options)


def test_default_hosts_by_region() -> None:
    assert (CustomerIo("us").track_url, CustomerIo("us").api_url) == (
        "https://track.customer.io", "https://api.customer.io")
    assert (CustomerIo("eu").track_url, CustomerIo("eu").api_url) == (
        "https://track-eu.customer.io", "https://api-eu.customer.io")
    with pytest.raises(customerio.ClientConfigError, match="region 'ap'"):
        CustomerIo("ap")


def test_region_probe_answers_region_and_environment(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_track(SITE, TRACK, region="eu", environment_id=42)
    with client(customerio_server) as cio:
        account = cio.track_region(SITE, TRACK)
    assert (account.region, account.environment_id, account.url) == ("eu", 42, "https://track-eu.customer.io")
    [request] = customerio_server.requests
    assert (request.method, request.path, request.authenticated) == ("GET", "/api/v1/accounts/region", True)


def test_unauthorized_carries_data_and_no_credential(customerio_server: CustomerIoStandIn) -> None:
    with client(customerio_server) as cio, pytest.raises(customerio.Unauthorized) as caught:
        cio.track_region(SITE, TRACK)
    err = caught.value
    assert (err.status, err.api, err.path) == (401, "track", "/api/v1/accounts/region")
    assert "c0ff…" in str(err)
    clean(str(err) + repr(err.args))
    assert len(customerio_server.requests) == 1  # a 401 is an answer, not retried


def test_app_key_ok_and_plan_limited_counts_as_authenticated(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_app(APP)
    with client(customerio_server) as cio:
        assert cio.check_app_key(APP).plan_limited is False
        assert [c["id"] for c in cio.app_get(APP, "/v1/campaigns")["campaigns"]] == [1, 2]
        customerio_server.plan_limited = True
        assert cio.check_app_key(APP).plan_limited is True
        with pytest.raises(customerio.PlanLimited) as caught:
            cio.app_get(APP, "/v1/campaigns")
        assert (caught.value.status, caught.value.api) == (403, "app")
        customerio_server.revoke_app(APP)
        with pytest.raises(customerio.Unauthorized) as rejected:
            cio.check_app_key(APP)
    clean(str(caught.value) + str(rejected.value))


def test_429_then_success_backs_off(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_track(SITE, TRACK)
    customerio_server.fail_next(2, 429)
    sleeps: list[float] = []
    with client(customerio_server, sleeps, backoff=0.25) as cio:
        assert cio.track_region(SITE, TRACK).region == "us"
    assert sleeps == [0.25, 0.5]
    assert [r.status for r in customerio_server.requests] == [429, 429, 200]


def test_retry_after_is_honoured_up_to_a_cap(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_app(APP)
    customerio_server.fail_next(1, 429, retry_after=120)
    sleeps: list[float] = []
    with client(customerio_server, sleeps, backoff=0.01, max_retry_after=0.05) as cio:
        cio.check_app_key(APP)
    assert sleeps == [0.05]


@pytest.mark.parametrize(("status", "error"), [(429, customerio.Throttled), (503, customerio.Unavailable)])
def test_retries_are_bounded(customerio_server: CustomerIoStandIn, status: int, error: type) -> None:
    customerio_server.allow_track(SITE, TRACK)
    customerio_server.fail_next(10, status)
    sleeps: list[float] = []
    with client(customerio_server, sleeps, attempts=3) as cio, pytest.raises(error) as caught:
        cio.track_region(SITE, TRACK)
    assert caught.value.status == status and len(sleeps) == 2
    assert len(customerio_server.requests) == 3
    clean(str(caught.value))


def test_slow_answer_is_a_timeout_within_the_read_timeout(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_track(SITE, TRACK)
    customerio_server.slow(3)
    started = time.monotonic()
    with client(customerio_server, read_timeout=0.3) as cio, pytest.raises(customerio.Timeout) as caught:
        cio.track_region(SITE, TRACK)
    assert time.monotonic() - started < 1.5  # one attempt: a person is waiting
    assert caught.value.status is None and "0.3 s to answer" in str(caught.value)
    clean(str(caught.value))


def test_redirect_to_another_host_is_not_followed(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_track(SITE, TRACK)
    port = customerio_server.url.rsplit(":", 1)[1]
    # The same server under another name: reachable, so only the client's refusal keeps the credentials home.
    customerio_server.redirect_next(1, f"https://localhost:{port}/api/v1/accounts/region")
    with client(customerio_server) as cio, pytest.raises(customerio.UnexpectedResponse) as caught:
        cio.track_region(SITE, TRACK)
    assert caught.value.status == 302 and "localhost" in str(caught.value)
    assert len(customerio_server.requests) == 1
    clean(str(caught.value))


def test_redirect_on_the_same_host_is_followed(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_track(SITE, TRACK)
    customerio_server.redirect_next(1, "/api/v1/accounts/region")
    with client(customerio_server) as cio:
        assert cio.track_region(SITE, TRACK).region == "us"
    assert [(r.status, r.authenticated) for r in customerio_server.requests] == [(302, True), (200, True)]


def test_untrusted_certificate_is_a_tls_failure(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_track(SITE, TRACK)
    with CustomerIo(track_url=customerio_server.url) as cio, pytest.raises(customerio.TlsFailure) as caught:
        cio.track_region(SITE, TRACK)
    clean(str(caught.value))


def test_refused_connection_is_unavailable_after_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    with CustomerIo(api_url=f"https://127.0.0.1:{port}", sleep=sleeps.append, backoff=0) as cio, \
            pytest.raises(customerio.Unavailable) as caught:
        cio.check_app_key(APP)
    assert caught.value.status is None and len(sleeps) == 2
    clean(str(caught.value))


def test_other_status_is_unexpected(customerio_server: CustomerIoStandIn) -> None:
    customerio_server.allow_app(APP)
    with client(customerio_server) as cio, pytest.raises(customerio.UnexpectedResponse) as caught:
        cio.app_get(APP, "/v1/campaigns/999")
    assert (caught.value.status, caught.value.path) == (404, "/v1/campaigns/999")


def test_settings_and_values_that_cannot_be_sent(customerio_server: CustomerIoStandIn) -> None:
    with pytest.raises(customerio.ClientConfigError, match="https://"):
        CustomerIo(track_url="http://track.customer.io")
    with pytest.raises(customerio.ClientConfigError, match="CA bundle"):
        CustomerIo(verify="/nonexistent/ca.pem")
    with client(customerio_server) as cio:
        with pytest.raises(customerio.ClientConfigError) as caught:
            cio.track_region(SITE, TRACK + "\nX-Injected: 1")
        assert f"character {len(TRACK) + 1}" in str(caught.value)
        clean(str(caught.value))
        with pytest.raises(customerio.ClientConfigError, match="suppression"):
            cio.app_get(APP, "/v1/customers/1/suppress")
    assert customerio_server.requests == []  # nothing was sent


def test_site_id_hint_never_shows_more_than_four_characters() -> None:
    assert customerio.site_id_hint("abcdef123456") == "abcd…"
    assert customerio.site_id_hint("abc") == "a…"
