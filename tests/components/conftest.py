"""Fixtures for the components' tests: the Customer.io stand-in over real TLS (tests/fakes)."""

from tests.fakes.customerio import customerio_server, customerio_session, customerio_tls

__all__ = ["customerio_server", "customerio_session", "customerio_tls"]
