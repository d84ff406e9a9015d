"""securehttp.policy_context(): one ssl.SSLContext that decides per connection, handed to
clients that never import securehttp's client - urllib, http.client, xmlrpc.client, asyncio
streams, urllib3 (and httpx when it is installed) - against real TLS servers on loopback."""

from __future__ import annotations

import asyncio
import http.client
import logging
import socket
import ssl
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import securehttp
from securehttp import CertificateError, InsecureRequestWarning, PinMismatchError, Policy
from securehttp._verification import contexts
from securehttp._verification.dispatch import STDLIB_CONTEXT, PolicyContext

WRONG_PIN = "sha256/" + "A" * 43 + "="
LATER = "2099-01-01"


@pytest.fixture
def untrusted_server(make_server: Callable[..., Any], other_ca: Any) -> Any:
    """A server whose certificate comes from a CA no test policy trusts."""
    return make_server(other_ca.issue_cert("localhost", "127.0.0.1", "::1"))


def urllib_get(url: str, ctx: ssl.SSLContext) -> bytes:
    with urllib.request.urlopen(url, context=ctx, timeout=10) as response:  # noqa: S310
        body: bytes = response.read()
    return body


def http_client_get(server: Any, ctx: ssl.SSLContext, host: str = "localhost") -> bytes:
    conn = http.client.HTTPSConnection(host, server.port, context=ctx, timeout=10)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read()
    finally:
        conn.close()


def xmlrpc_ping(server: Any, ctx: ssl.SSLContext) -> Any:
    with xmlrpc.client.ServerProxy(server.url("/RPC2"), context=ctx) as proxy:
        return proxy.ping()


async def asyncio_get(server: Any, ctx: ssl.SSLContext, name: str = "localhost") -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=ctx, server_hostname=name
    )
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


def reason(exc: BaseException) -> BaseException:
    """urllib wraps what the context raised in a URLError; xmlrpc and http.client do not."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, securehttp.URLError):
        return exc.reason  # type: ignore[return-value]
    return exc


# --- per host, through every standard-library client ----------------------------------------


def test_standard_library_clients_follow_the_policy_per_host(
    good_server: Any, untrusted_server: Any, trusting: Policy
) -> None:
    ctx = securehttp.policy_context(trusting)
    assert isinstance(ctx, ssl.SSLContext)
    assert urllib_get(good_server.url("/"), ctx) == b"hello\n"
    assert http_client_get(good_server, ctx) == b"hello\n"
    assert xmlrpc_ping(good_server, ctx) == "pong"
    for attempt in (
        lambda: urllib_get(untrusted_server.url("/"), ctx),
        lambda: http_client_get(untrusted_server, ctx),
        lambda: xmlrpc_ping(untrusted_server, ctx),
    ):
        with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED") as info:
            attempt()
        assert isinstance(reason(info.value), ssl.SSLCertVerificationError)
    assert untrusted_server.httpd.requests == []


def test_one_context_decides_each_host_by_its_own_rule(
    good_server: Any, untrusted_server: Any, other_ca: Any, tmp_path: Path, ca_pem: Path
) -> None:
    other_pem = tmp_path / "other.pem"
    other_ca.cert_pem.write_to_path(str(other_pem))
    # Both servers are 127.0.0.1: their rules differ by port, known from the socket's peer.
    policy = Policy.from_dict(
        {
            "defaults": {"trust": str(ca_pem)},
            "hosts": {f"127.0.0.1:{untrusted_server.port}": {"trust": str(other_pem)}},
        }
    )
    ctx = securehttp.policy_context(policy)
    assert urllib_get(untrusted_server.url("/"), ctx) == b"hello\n"
    assert urllib_get(good_server.url("/"), ctx) == b"hello\n"
    # The twin: the same rule names the good server's port, so it now trusts the wrong CA.
    swapped = Policy.from_dict(
        {
            "defaults": {"trust": str(ca_pem)},
            "hosts": {f"127.0.0.1:{good_server.port}": {"trust": str(other_pem)}},
        }
    )
    with pytest.raises(urllib.error.URLError) as info:
        urllib_get(good_server.url("/"), securehttp.policy_context(swapped))
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)


def test_asyncio_streams_follow_the_policy(
    good_server: Any, untrusted_server: Any, trusting: Policy
) -> None:
    ctx = securehttp.policy_context(trusting)
    assert asyncio.run(asyncio_get(good_server, ctx)).endswith(b"hello\n")
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(asyncio_get(untrusted_server, ctx))
    assert untrusted_server.httpd.requests == []


def test_urllib3_with_a_policy_context(good_server: Any, trusting: Policy, ca_pem: Path) -> None:
    import urllib3

    with urllib3.PoolManager(ssl_context=securehttp.policy_context(trusting)) as pool:
        assert pool.request("GET", good_server.url("/")).data == b"hello\n"
    pinned = Policy.from_dict({"defaults": {"trust": str(ca_pem), "pins": [WRONG_PIN]}})
    with (
        urllib3.PoolManager(ssl_context=securehttp.policy_context(pinned), retries=False) as pool,
        pytest.raises(urllib3.exceptions.HTTPError) as info,
    ):
        pool.request("GET", good_server.url("/"))
    assert "no certificate matches the pinned keys" in str(info.value)
    assert len(good_server.httpd.requests) == 1


def test_httpx_verify_takes_a_policy_context(
    good_server: Any, untrusted_server: Any, trusting: Policy
) -> None:
    httpx = pytest.importorskip("httpx")
    with httpx.Client(verify=securehttp.policy_context(trusting)) as client:
        assert client.get(good_server.url("/")).content == b"hello\n"
        with pytest.raises(httpx.ConnectError):
            client.get(untrusted_server.url("/"))


# --- pins inside the handshake --------------------------------------------------------------


def test_a_wrong_pin_is_refused_before_the_server_receives_a_byte(
    good_server: Any, ca_pem: Path, localhost_cert: Any
) -> None:
    pinned = Policy.from_dict({"defaults": {"trust": str(ca_pem), "pins": [WRONG_PIN]}})
    ctx = securehttp.policy_context(pinned)
    for attempt in (
        lambda: urllib_get(good_server.url("/"), ctx),
        lambda: http_client_get(good_server, ctx),
        lambda: xmlrpc_ping(good_server, ctx),
        lambda: asyncio.run(asyncio_get(good_server, ctx)),
    ):
        with pytest.raises(OSError, match="no certificate matches the pinned keys") as info:
            attempt()
        error = reason(info.value)
        assert isinstance(error, PinMismatchError), error
        assert error.presented  # the handshake was complete: the server's key was seen ...
    good_server.settle(4)
    assert good_server.connections == 4
    assert good_server.httpd.requests == []  # ... and no request byte followed it

    from .tlsserver import spki_pin

    right = Policy.from_dict(
        {
            "defaults": {
                "trust": str(ca_pem),
                "pins": [spki_pin(localhost_cert.cert_chain_pems[0].bytes())],
            }
        }
    )
    assert urllib_get(good_server.url("/"), securehttp.policy_context(right)) == b"hello\n"
    assert asyncio.run(asyncio_get(good_server, securehttp.policy_context(right)))


def test_a_socket_wrapped_before_it_connects_is_checked_when_it_connects(
    good_server: Any, ca_pem: Path
) -> None:
    pinned = Policy.from_dict({"defaults": {"trust": str(ca_pem), "pins": [WRONG_PIN]}})
    for policy, expected in ((pinned, PinMismatchError), (Policy.from_dict({}), ssl.SSLError)):
        conn = securehttp.policy_context(policy).wrap_socket(
            socket.socket(), server_hostname="localhost"
        )
        conn.settimeout(10)
        with conn, pytest.raises(expected):
            conn.connect(("127.0.0.1", good_server.port))
    trusting = Policy.from_dict({"defaults": {"trust": str(ca_pem)}})
    with securehttp.policy_context(trusting).wrap_socket(
        socket.socket(), server_hostname="localhost"
    ) as conn:
        conn.settimeout(10)
        conn.connect(("127.0.0.1", good_server.port))
        conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert b"hello" in conn.recv(4096) + conn.recv(4096)


# --- report-only ----------------------------------------------------------------------------


def test_report_only_reconnects_unverified_and_records_the_failure(
    untrusted_server: Any, ca_pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warn = Policy.from_dict(
        {
            "defaults": {
                "trust": str(ca_pem),
                "verify": "warn",
                "expires": LATER,
                "reason": "rollout",
            }
        }
    )
    ctx = securehttp.policy_context(warn)
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    conn = http.client.HTTPSConnection("localhost", untrusted_server.port, context=ctx, timeout=10)
    try:
        with pytest.warns(InsecureRequestWarning, match="connected anyway because verify=warn"):
            conn.request("POST", "/echo", body=b"once")
        assert b'"body": "once"' in conn.getresponse().read()
    finally:
        conn.close()
    assert [r[0] for r in untrusted_server.httpd.requests] == ["POST"]  # sent once
    events = [r.securehttp_audit for r in caplog.records if hasattr(r, "securehttp_audit")]
    assert [e["event"] for e in events] == ["report_only_failure"]
    assert events[0]["action"].startswith("connected without verification (report-only)")
    assert "unable to get local issuer certificate" in events[0]["reason"]
    # The twin: the same server under strict verification is refused, and nothing is sent.
    strict = Policy.from_dict({"defaults": {"trust": str(ca_pem)}})
    with pytest.raises(ssl.SSLCertVerificationError):
        http_client_get(untrusted_server, securehttp.policy_context(strict))
    assert len(untrusted_server.httpd.requests) == 1


def test_report_only_fails_closed_where_tls_runs_in_memory(
    untrusted_server: Any, ca_pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warn = Policy.from_dict(
        {
            "defaults": {
                "trust": str(ca_pem),
                "verify": "warn",
                "expires": LATER,
                "reason": "rollout",
            }
        }
    )
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    with pytest.raises(CertificateError, match="refused instead") as info:
        asyncio.run(asyncio_get(untrusted_server, securehttp.policy_context(warn)))
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    assert untrusted_server.httpd.requests == []
    events = [r.securehttp_audit for r in caplog.records if hasattr(r, "securehttp_audit")]
    assert [e["action"] for e in events] == ["refused: report-only cannot reconnect here"]


# --- the process default and its runtime switch ---------------------------------------------


def test_the_process_default_is_read_at_each_connection(
    good_server: Any, monkeypatch: pytest.MonkeyPatch, ca_pem: Path
) -> None:
    ctx = securehttp.policy_context()  # made once, before the switch
    with pytest.raises(urllib.error.URLError):
        urllib_get(good_server.url("/"), ctx)
    securehttp.https_verify_certificates(False)
    with pytest.warns(InsecureRequestWarning, match=r"https_verify_certificates\(False\)"):
        assert urllib_get(good_server.url("/"), ctx) == b"hello\n"
    securehttp.https_verify_certificates(True)
    with pytest.raises(urllib.error.URLError):
        urllib_get(good_server.url("/"), ctx)


def test_a_broken_process_policy_fails_closed(
    good_server: Any, monkeypatch: pytest.MonkeyPatch, ca_pem: Path
) -> None:
    monkeypatch.setenv("SECUREHTTP_VERIFY", "maybe")
    with pytest.raises(securehttp.PolicyError, match="SECUREHTTP_VERIFY"):
        urllib_get(good_server.url("/"), securehttp.policy_context())
    assert good_server.httpd.requests == []
    monkeypatch.setenv("SECUREHTTP_VERIFY", "strict")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_pem))
    securehttp._process.reset_process_state()
    assert urllib_get(good_server.url("/"), securehttp.policy_context()) == b"hello\n"


# --- the object itself ----------------------------------------------------------------------


def test_writes_that_would_choose_verification_are_refused(ca_pem: Path) -> None:
    ctx = securehttp.policy_context()
    refused: list[Callable[[], object]] = [
        lambda: ctx.load_verify_locations(cafile=str(ca_pem)),
        lambda: ctx.load_cert_chain(str(ca_pem)),
        lambda: ctx.load_default_certs(),
        lambda: ctx.set_default_verify_paths(),
        lambda: ctx.set_ciphers("ALL"),
        lambda: setattr(ctx, "verify_mode", ssl.CERT_NONE),
        lambda: setattr(ctx, "check_hostname", False),
        lambda: setattr(ctx, "minimum_version", ssl.TLSVersion.TLSv1),
        lambda: setattr(ctx, "hostname_checks_common_name", True),
    ]
    for write in refused:
        with pytest.raises(RuntimeError, match="takes its TLS settings from the policy"):
            write()
    # What http.client, urllib and httpcore write on every context they are given.
    ctx.set_alpn_protocols(["http/1.1", "h2"])
    ctx.post_handshake_auth = True
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    assert (ctx.verify_mode, ctx.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_connections_reuse_the_sealed_contexts(good_server: Any, trusting: Policy) -> None:
    ctx = securehttp.policy_context(trusting)
    urllib_get(good_server.url("/"), ctx)
    builds = contexts.builds
    for _ in range(3):
        assert urllib_get(good_server.url("/"), ctx) == b"hello\n"
        assert http_client_get(good_server, securehttp.policy_context(trusting)) == b"hello\n"
    assert contexts.builds == builds


def test_a_server_name_is_required_and_servers_are_refused() -> None:
    ctx = securehttp.policy_context()
    with socket.socket() as sock, pytest.raises(ValueError, match="server_hostname"):
        ctx.wrap_socket(sock)
    with socket.socket() as sock, pytest.raises(ValueError, match="client side only"):
        ctx.wrap_socket(sock, server_side=True)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    with pytest.raises(ValueError, match="server_hostname"):
        ctx.wrap_bio(incoming, outgoing)
    assert ctx.wrap_bio(incoming, outgoing, server_hostname="example.com") is not None


def test_it_is_the_standard_library_class_and_explains_itself(trusting: Policy) -> None:
    ctx = securehttp.policy_context(trusting)
    assert isinstance(ctx, PolicyContext)
    assert STDLIB_CONTEXT is ssl.SSLContext
    assert "test-policy" in repr(ctx)
    assert ctx.decide("localhost", 8443).trust == trusting.resolve("localhost").trust
