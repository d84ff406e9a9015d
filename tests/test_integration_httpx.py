"""securehttp.integrations.httpx against real TLS servers and proxies on loopback."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import securehttp
from securehttp import CertificateError, InsecureRequestWarning, PinMismatchError, Policy
from securehttp.integrations.httpx import AsyncPolicyTransport, PolicyTransport

from .proxy_fixtures import PROXY_CREDENTIALS
from .proxyserver import Proxy
from .tlsserver import spki_pin

WRONG_PIN = "sha256/" + "A" * 43 + "="
LATER = "2099-01-01"


@pytest.fixture
def untrusted_server(make_server: Callable[..., Any], other_ca: Any) -> Any:
    return make_server(other_ca.issue_cert("localhost", "127.0.0.1", "::1"))


@pytest.fixture
def client(trusting: Policy) -> Iterator[httpx.Client]:
    with httpx.Client(transport=PolicyTransport(trusting)) as client:
        yield client


def policy(ca_pem: Path, **defaults: Any) -> Policy:
    return Policy.from_dict({"defaults": {"trust": str(ca_pem), **defaults}}, source="test-policy")


def audit_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.securehttp_audit for r in caplog.records if hasattr(r, "securehttp_audit")]


async def async_get(transport: AsyncPolicyTransport, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.request(kwargs.pop("method", "GET"), url, **kwargs)
        await response.aread()
        return response


# --- per-host decisions and httpx's own error types -----------------------------------------


def test_each_host_is_verified_by_the_policy_and_errors_stay_httpx_own(
    client: httpx.Client, good_server: Any, untrusted_server: Any
) -> None:
    assert client.get(good_server.url("/")).text == "hello\n"
    with pytest.raises(httpx.ConnectError) as info:
        client.get(untrusted_server.url("/"))
    cause = info.value.__cause__
    assert isinstance(cause, CertificateError)
    assert (cause.host, cause.port) == ("127.0.0.1", untrusted_server.port)
    assert "unable to get local issuer certificate" in cause.verify_reason
    assert "test-policy" in str(cause)
    assert untrusted_server.httpd.requests == []


def test_async_each_host_is_verified_by_the_policy(
    good_server: Any, untrusted_server: Any, trusting: Policy
) -> None:
    transport = AsyncPolicyTransport(trusting)
    assert asyncio.run(async_get(transport, good_server.url("/"))).text == "hello\n"
    with pytest.raises(httpx.ConnectError) as info:
        asyncio.run(async_get(AsyncPolicyTransport(trusting), untrusted_server.url("/")))
    cause = info.value.__cause__
    assert isinstance(cause, CertificateError)
    assert (cause.host, cause.port) == ("127.0.0.1", untrusted_server.port)
    assert untrusted_server.httpd.requests == []


def test_connections_are_reused_until_the_decision_changes(
    good_server: Any, ca_pem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECUREHTTP_EXTRA_CA_CERTS", str(ca_pem))
    with httpx.Client(transport=PolicyTransport()) as client:
        for _ in range(3):
            assert client.get(good_server.url("/")).status_code == 200
        assert good_server.handshakes == 1
        # The runtime switch changes the decision: the verified connection is not reused ...
        securehttp.https_verify_certificates(False)
        with pytest.warns(InsecureRequestWarning, match="runtime"):
            client.get(good_server.url("/"))
        assert good_server.handshakes == 2
        # ... and the unverified one never serves a verified request: back to strict (now
        # decided by the switch), a new connection is checked, and then reused.
        securehttp.https_verify_certificates(True)
        for _ in range(2):
            client.get(good_server.url("/"))
        assert good_server.handshakes == 3


# --- pins, before any request byte ---------------------------------------------------------


def test_a_wrong_pin_is_refused_before_the_server_receives_a_byte(
    good_server: Any, ca_pem: Path, localhost_cert: Any
) -> None:
    pinned = policy(ca_pem, pins=[WRONG_PIN])
    with httpx.Client(transport=PolicyTransport(pinned)) as client:
        with pytest.raises(httpx.ConnectError) as info:
            client.post(good_server.url("/echo"), content=b"secret")
        assert isinstance(info.value.__cause__, PinMismatchError)
    with pytest.raises(httpx.ConnectError) as async_info:
        asyncio.run(async_get(AsyncPolicyTransport(pinned), good_server.url("/echo")))
    cause = async_info.value.__cause__
    assert isinstance(cause, PinMismatchError)
    assert cause.port == good_server.port
    good_server.settle(2)
    # The sync handshake completed (the server saw it); anyio had not yet flushed the
    # client's last handshake message when the check refused the connection.
    assert good_server.connections == 2
    assert good_server.handshakes >= 1
    assert good_server.httpd.requests == []
    right = policy(ca_pem, pins=[spki_pin(localhost_cert.cert_chain_pems[0].bytes())])
    with httpx.Client(transport=PolicyTransport(right)) as client:
        assert client.post(good_server.url("/echo"), content=b"x").json()["body"] == "x"
    response = asyncio.run(async_get(AsyncPolicyTransport(right), good_server.url("/")))
    assert response.status_code == 200


# --- report-only ----------------------------------------------------------------------------


def test_report_only_connects_once_warns_and_records_the_failure(
    untrusted_server: Any, ca_pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    warn = policy(ca_pem, verify="warn", expires=LATER, reason="rollout")
    with httpx.Client(transport=PolicyTransport(warn)) as client:
        with pytest.warns(InsecureRequestWarning, match="connected anyway because verify=warn"):
            response = client.post(untrusted_server.url("/echo"), content=b"once")
        assert response.json()["body"] == "once"
    response = asyncio.run(
        async_get(
            AsyncPolicyTransport(warn), untrusted_server.url("/echo"), method="POST", content=b"2"
        )
    )
    assert response.json()["body"] == "2"
    assert [r[0] for r in untrusted_server.httpd.requests] == ["POST", "POST"]  # once each
    events = audit_events(caplog)
    assert len(events) == 2
    for event in events:
        assert (event["host"], event["port"]) == ("127.0.0.1", untrusted_server.port)
        assert "unable to get local issuer certificate" in event["reason"]
        assert event["source"] == "test-policy defaults"
    # The twin: strict, the same server is refused and nothing is sent.
    with (
        httpx.Client(transport=PolicyTransport(policy(ca_pem))) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.post(untrusted_server.url("/echo"), content=b"3")
    assert len(untrusted_server.httpd.requests) == 2


# --- proxies from the environment, by securehttp's rules ------------------------------------


def test_environment_proxies_are_used_although_a_transport_is_given(
    good_server: Any, trusting: Policy, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", proxy.url())
    with httpx.Client(transport=PolicyTransport(trusting)) as client:
        assert client.get(good_server.url("/")).status_code == 200
    assert [r.target for r in proxy.connects] == [f"127.0.0.1:{good_server.port}"]
    response = asyncio.run(async_get(AsyncPolicyTransport(trusting), good_server.url("/")))
    assert response.status_code == 200
    assert len(proxy.connects) == 2
    # The twin (encode/httpx#1122): httpx's own transport ignores the variable.
    ctx = securehttp.policy_context(trusting)
    with httpx.Client(transport=httpx.HTTPTransport(verify=ctx)) as plain:
        assert plain.get(good_server.url("/")).status_code == 200
    assert len(proxy.connects) == 2


def test_no_proxy_means_what_curl_means_and_never_crashes(
    good_server: Any, trusting: Policy, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", proxy.url())
    monkeypatch.setenv("no_proxy", "fd00::/8, .localhost, 127.0.0.0/8")
    with httpx.Client(transport=PolicyTransport(trusting)) as client:
        assert client.get(good_server.url("/")).status_code == 200
        assert client.get(good_server.url("/", host="localhost")).status_code == 200
    assert proxy.requests == []
    # The twin: what the list does not cover goes through the proxy.
    monkeypatch.setenv("no_proxy", "fd00::/8")
    with httpx.Client(transport=PolicyTransport(trusting)) as client:
        assert client.get(good_server.url("/")).status_code == 200
    assert len(proxy.connects) == 1


def test_an_unsupported_proxy_is_refused_never_bypassed(
    good_server: Any, trusting: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", "socks5://127.0.0.1:1080")
    with (
        httpx.Client(transport=PolicyTransport(trusting)) as client,
        pytest.raises(httpx.ProxyError, match="socks"),
    ):
        client.get(good_server.url("/"))
    assert good_server.connections == 0
    # The twin: proxies=None goes direct whatever the variables say.
    with httpx.Client(transport=PolicyTransport(trusting, proxies=None)) as client:
        assert client.get(good_server.url("/")).status_code == 200


def test_proxy_credentials_reach_the_proxy_only(
    good_server: Any, trusting: Policy, auth_proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", auth_proxy.url(userinfo=True))
    with httpx.Client(transport=PolicyTransport(trusting)) as client:
        assert client.get(good_server.url("/echo")).status_code == 200
    (connect,) = auth_proxy.connects
    assert connect.header("Proxy-Authorization") == auth_proxy.authorization(PROXY_CREDENTIALS)
    (_, _, headers) = good_server.httpd.requests[0]
    assert "Proxy-Authorization" not in headers
    # The twin: without the credentials the proxy refuses the tunnel.
    with (
        httpx.Client(transport=PolicyTransport(trusting, proxies={"https": auth_proxy.url()})) as c,
        pytest.raises(httpx.ProxyError),
    ):
        c.get(good_server.url("/echo"))


def test_an_https_proxy_is_verified_by_the_decision_for_its_own_host(
    good_server: Any, tls_proxy: Proxy, ca_pem: Path, tmp_path: Path, other_ca: Any
) -> None:
    other = tmp_path / "other.pem"
    other_ca.cert_pem.write_to_path(str(other))
    origin = good_server.url("/", host="localhost")
    proxies = {"https": tls_proxy.url()}
    trusted = Policy.from_dict(
        {"hosts": {"localhost": {"trust": str(ca_pem)}, "127.0.0.1": {"trust": str(ca_pem)}}}
    )
    with httpx.Client(transport=PolicyTransport(trusted, proxies=proxies)) as client:
        assert client.get(origin).text == "hello\n"
    assert len(tls_proxy.connects) == 1
    # The twins: the proxy's rule trusts another CA, or pins another key - the proxy's TLS
    # fails and no CONNECT line (which may carry credentials) is sent.
    wrong = Policy.from_dict(
        {"hosts": {"localhost": {"trust": str(ca_pem)}, "127.0.0.1": {"trust": str(other)}}}
    )
    pinned = Policy.from_dict(
        {"defaults": {"trust": str(ca_pem)}, "hosts": {"127.0.0.1": {"pins": [WRONG_PIN]}}}
    )
    for refused, kind in ((wrong, CertificateError), (pinned, PinMismatchError)):
        with (
            httpx.Client(transport=PolicyTransport(refused, proxies=proxies)) as client,
            pytest.raises(httpx.ConnectError) as info,
        ):
            client.get(origin)
        cause = info.value.__cause__
        assert isinstance(cause, kind)
        assert (cause.host, cause.port) == ("127.0.0.1", tls_proxy.port)
    assert len(tls_proxy.requests) == 1


# --- pool keys ------------------------------------------------------------------------------


def test_sixteen_threads_with_two_policies_never_share_a_connection(
    good_server: Any, trusting: Policy, ca_pem: Path, localhost_cert: Any
) -> None:
    """Two policies that share a sealed context (the same trust) but not their pins: each
    connection only ever serves the policy it was opened and checked under."""
    pinned = policy(ca_pem, pins=[spki_pin(localhost_cert.cert_chain_pems[0].bytes())])
    clients = [httpx.Client(transport=PolicyTransport(p)) for p in (trusting, pinned)]
    seen: list[set[int]] = [set(), set()]
    contexts: list[set[int]] = [set(), set()]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(which: int) -> None:
        try:
            for _ in range(5):
                response = clients[which].get(good_server.url("/"))
                tls = response.extensions["network_stream"].get_extra_info("ssl_object")
                with lock:
                    seen[which].add(id(tls))
                    contexts[which].add(id(tls.context))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i % 2,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for client in clients:
        client.close()
    assert errors == []
    assert seen[0]
    assert seen[1]
    assert not seen[0] & seen[1]
    assert contexts[0] == contexts[1]  # one sealed context for one TLS setting ...
    assert len(contexts[0]) == 1  # ... and still no shared connection


def test_plain_http_goes_through_the_http_proxy_variable(
    make_server: Callable[..., Any], trusting: Policy, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = make_server()
    monkeypatch.setenv("http_proxy", proxy.url())
    with httpx.Client(transport=PolicyTransport(trusting)) as client:
        assert client.get(plain.url("/")).text == "hello\n"
    (forwarded,) = proxy.requests
    assert forwarded.target == plain.url("/")  # absolute form, to the proxy
    # The twin: https_proxy alone does not carry plain http.
    monkeypatch.delenv("http_proxy")
    monkeypatch.setenv("https_proxy", proxy.url())
    with httpx.Client(transport=PolicyTransport(trusting)) as client:
        assert client.get(plain.url("/")).status_code == 200
    assert len(proxy.requests) == 1


def test_ipv6_literals_are_decided_by_their_canonical_form(
    make_server: Callable[..., Any], localhost_cert: Any, ca_pem: Path
) -> None:
    from .proxy_fixtures import ipv6_loopback

    if not ipv6_loopback():
        pytest.skip("::1 is not configured here")
    server = make_server(localhost_cert, host="::1")
    rules = Policy.from_dict({"hosts": {"[::1]": {"trust": str(ca_pem)}}})
    with httpx.Client(transport=PolicyTransport(rules)) as client:
        assert client.get(server.url("/")).status_code == 200
        assert client.get(f"https://[0:0::1]:{server.port}/").status_code == 200
    # The twin: a rule for another address does not apply; certifi does not know the test CA.
    other = Policy.from_dict({"hosts": {"[::2]": {"trust": str(ca_pem)}}})
    with (
        httpx.Client(transport=PolicyTransport(other)) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(server.url("/"))
    assert isinstance(info.value.__cause__, CertificateError)


def test_verify_and_cert_belong_to_the_policy() -> None:
    with pytest.raises(TypeError):
        PolicyTransport(verify=False)  # type: ignore[call-arg]
    assert "PolicyTransport deciding by" in repr(PolicyTransport())
