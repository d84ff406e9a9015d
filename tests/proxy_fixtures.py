"""Proxy fixtures, registered by ``pytest_plugins`` in conftest.py.

``make_proxy(...)`` starts a recording proxy (``proxyserver.serve_proxy``) that stops with the
test; ``proxy``, ``auth_proxy`` and ``tls_proxy`` are the common cases.  A real proxy from the
distribution is ``make_tinyproxy`` (tests/tinyproxy.py).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from .proxyserver import Proxy, serve_proxy
from .tlsserver import server_context

PROXY_CREDENTIALS = ("proxy-user", "proxy-secret")


@pytest.fixture
def make_proxy() -> Iterator[Callable[..., Proxy]]:
    """Start a recording proxy: ``make_proxy(host=..., tls=..., credentials=...,
    refuse_ports=..., refuse_hosts=..., fail=..., hosts=...)``; see ``serve_proxy``.
    ``host="::1"`` skips the test where IPv6 loopback is not available."""
    with ExitStack() as stack:

        def start(host: str = "127.0.0.1", **kwargs: Any) -> Proxy:
            if ":" in host and not ipv6_loopback():
                pytest.skip("::1 is not configured here")
            return stack.enter_context(serve_proxy(host, **kwargs))

        yield start


@pytest.fixture
def proxy(make_proxy: Callable[..., Proxy]) -> Proxy:
    """A plain ``http://`` proxy on 127.0.0.1 that asks for no credentials."""
    return make_proxy()


@pytest.fixture
def auth_proxy(make_proxy: Callable[..., Proxy]) -> Proxy:
    """An ``http://`` proxy requiring Basic ``PROXY_CREDENTIALS`` (407 otherwise)."""
    return make_proxy(credentials=PROXY_CREDENTIALS)


@pytest.fixture
def tls_proxy(make_proxy: Callable[..., Proxy], localhost_cert: Any) -> Proxy:
    """An ``https://`` proxy on 127.0.0.1 whose certificate (localhost, 127.0.0.1, ::1) the
    session's test CA (``ca`` / ``ca_pem``) issued."""
    return make_proxy(tls=server_context(localhost_cert))


def ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
