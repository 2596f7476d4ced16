"""Shared test set-up: AWS credentials that reach only moto, and moto itself."""

import os

import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto in server mode: a real HTTP endpoint that boto3 reaches with `endpoint_url`."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint):
    """A clean moto state per test."""
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=5)
    return moto_endpoint


# A real authoritative DNS server (NSD) and a never-answering address, for the live-DNS audit tests.
from tests.fakes.customerio import customerio_server, customerio_session, customerio_tls  # noqa: E402, F401
from tests.fakes.nsd import dns_blackhole, nsd, nsd_server  # noqa: E402, F401
