"""TLS session resumption (SPEC §12): resumed only for the same host name, port and
settings; never from the report-only fallback; never across a policy change; pins still
checked on a resumed connection; off with Client(tls_resumption=False); a server that
declines is handled silently.  The server counts the handshakes that resumed."""

from __future__ import annotations

import contextlib
import ssl
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from securehttp import Client, InsecureRequestWarning, PinMismatchError, Policy
from securehttp._verification.sessions import sessions

from .tlsserver import server_context, spki_pin


@pytest.fixture(autouse=True)
def no_sessions() -> Iterator[None]:
    sessions.forget()
    yield
    sessions.forget()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # The warning is shown once per host and reason: later requests are silent.
    yield


def trust(ca_pem: Path, **hosts: Any) -> Policy:
    return Policy.from_dict({"defaults": {"trust": str(ca_pem)}, "hosts": hosts})


def fetch(client: Client, url: str) -> None:
    # Connection: close makes every request a new connection (and a new handshake).
    with client.get(url, headers={"Connection": "close"}) as response:
        assert response.status == 200
        response.read()


def test_a_new_connection_resumes_the_session_of_the_last(good_server: Any, ca_pem: Path) -> None:
    with Client(trust(ca_pem)) as client:
        for _ in range(3):
            fetch(client, good_server.url("/"))
    good_server.settle(3)
    assert good_server.handshakes == 3
    assert good_server.httpd.resumed == 2


def test_a_server_that_closes_the_connection_still_gives_its_session(
    good_server: Any, ca_pem: Path
) -> None:
    # "Connection: close" from the server makes http.client drop the socket as soon as the
    # headers are in - before the session could be taken from it (nginx's usual answer).
    with Client(trust(ca_pem)) as client:
        for _ in range(3):
            with client.get(good_server.url("/close")) as response:
                assert response.read() == b"bye\n"
    good_server.settle(3)
    assert good_server.handshakes == 3
    assert good_server.httpd.resumed == 2


def test_twin_tls_resumption_false_never_resumes(good_server: Any, ca_pem: Path) -> None:
    with Client(trust(ca_pem), tls_resumption=False) as client:
        for _ in range(3):
            fetch(client, good_server.url("/"))
    good_server.settle(3)
    assert good_server.httpd.resumed == 0
    assert len(sessions) == 0


def test_tls_1_2_resumes_too(
    make_server: Callable[..., Any], localhost_cert: Any, ca_pem: Path
) -> None:
    server = make_server(localhost_cert, max_tls=ssl.TLSVersion.TLSv1_2)
    with Client(trust(ca_pem)) as client:
        for _ in range(3):
            fetch(client, server.url("/"))
    server.settle(3)
    assert server.httpd.resumed == 2


def test_a_session_is_never_offered_under_another_host_name(good_server: Any, ca_pem: Path) -> None:
    # localhost and 127.0.0.1 are the same server and port and the same settings.
    with Client(trust(ca_pem)) as client:
        fetch(client, good_server.url("/", host="localhost"))
        fetch(client, good_server.url("/", host="127.0.0.1"))
        fetch(client, good_server.url("/", host="localhost"))
    good_server.settle(3)
    assert good_server.httpd.resumed == 1  # only the second visit to localhost


def test_a_policy_change_never_resumes_an_old_session(good_server: Any, ca_pem: Path) -> None:
    first = trust(ca_pem)
    stricter = Policy.from_dict({"defaults": {"trust": str(ca_pem), "min_tls": "1.3"}})
    with Client(first) as client:
        fetch(client, good_server.url("/"))
    with Client(stricter) as client:
        fetch(client, good_server.url("/"))
    good_server.settle(2)
    assert good_server.httpd.resumed == 0


def test_pins_are_checked_on_a_resumed_connection(
    good_server: Any, ca_pem: Path, localhost_cert: Any
) -> None:
    wrong = spki_pin(trustme.CA().issue_cert("x.test").cert_chain_pems[0].bytes())
    right = spki_pin(localhost_cert.cert_chain_pems[0].bytes())
    url = good_server.url("/", host="localhost")
    with Client(trust(ca_pem)) as client:
        fetch(client, url)  # keeps a session for this host and setting
    with (
        Client(trust(ca_pem, localhost={"pins": [wrong]})) as client,
        pytest.raises(PinMismatchError),
    ):
        client.get(url)
    with Client(trust(ca_pem, localhost={"pins": [right]})) as client:
        fetch(client, url)
    assert good_server.httpd.resumed >= 1  # the pinned connections did resume
    assert len(good_server.httpd.requests) == 2  # the wrong pin's request was never sent


def test_nothing_is_kept_from_the_report_only_fallback(
    make_server: Callable[..., Any], ca_pem: Path
) -> None:
    untrusted = make_server(trustme.CA().issue_cert("localhost"))
    policy = Policy.from_dict(
        {
            "defaults": {
                "trust": str(ca_pem),
                "verify": "warn",
                "expires": "2999-01-01",
                "reason": "test",
            }
        }
    )
    with Client(policy) as client:
        for _ in range(3):
            with pytest.warns(InsecureRequestWarning) if not _ else _quiet():
                fetch(client, untrusted.url("/"))
    untrusted.settle(6)
    assert untrusted.httpd.resumed == 0
    assert len(sessions) == 0


def test_a_server_that_declines_is_handled_silently(
    good_server: Any, ca_pem: Path, localhost_cert: Any
) -> None:
    with Client(trust(ca_pem)) as client:
        fetch(client, good_server.url("/"))
        # New ticket keys: the kept session cannot be resumed any more.
        good_server.httpd.tls = server_context(localhost_cert)
        for _ in range(5):
            fetch(client, good_server.url("/"))
    good_server.settle(6)
    assert good_server.handshakes == 6
    assert good_server.httpd.resumed == 4  # declined once, then resumed with the new session


@pytest.mark.skipif(sys.version_info < (3, 13), reason="Python < 3.13 exposes only the leaf")
def test_a_ca_pin_matches_on_a_resumed_connection(good_server: Any, ca_pem: Path, ca: Any) -> None:
    # A resumed handshake exchanges no certificates: the pin is checked against the chain
    # verified when the session was made.
    ca_pin = spki_pin(ca.cert_pem.bytes())
    url = good_server.url("/", host="localhost")
    with Client(trust(ca_pem, localhost={"pins": [ca_pin]})) as client:
        for _ in range(3):
            fetch(client, url)
    good_server.settle(3)
    assert good_server.httpd.resumed == 2
