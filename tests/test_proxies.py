"""Proxies through the client against real servers on loopback (SPEC §9): a recording proxy
(tests/proxyserver.py), Debian's tinyproxy, real TLS origins.  Each success has its twin.

What the proxy recorded is the evidence of what went where: the CONNECT line and its headers,
absolute-form requests, TCP connections and TLS handshakes.  What the origin received is
recorded by the origin.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import securehttp
from securehttp import (
    CertificateError,
    Client,
    InsecureRequestWarning,
    PinMismatchError,
    Policy,
    PolicyError,
    ProxyError,
    URLError,
)

from .proxy_fixtures import PROXY_CREDENTIALS
from .proxyserver import Proxy
from .tinyproxy import Tinyproxy
from .tlsserver import Server, server_context, spki_pin

FUTURE = (datetime.date.today() + datetime.timedelta(days=200)).isoformat()
SECRET = PROXY_CREDENTIALS[1]
WRONG_PIN = "sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s="


def policy(ca_pem: Path, **hosts: dict[str, Any]) -> Policy:
    data: dict[str, Any] = {"defaults": {"trust": str(ca_pem)}}
    if hosts:
        data["hosts"] = hosts
    return Policy.from_dict(data, source="test-policy")


def through(proxy: Proxy | Tinyproxy, *, userinfo: bool = False) -> dict[str, str]:
    url = proxy.url(userinfo=userinfo)
    return {"https": url, "http": url}


def origin_saw(server: Server) -> list[tuple[str, str, dict[str, str]]]:
    with server.httpd.lock:
        return list(server.httpd.requests)


@pytest.fixture
def plain_server(make_server: Callable[..., Server]) -> Server:
    """An http:// origin on 127.0.0.1."""
    return make_server()


@pytest.fixture
def other_cert(other_ca: Any) -> Any:
    return other_ca.issue_cert("localhost", "127.0.0.1", "::1")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that accepts TCP and answers nothing: where a SOCKS proxy would be."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


# --- CONNECT: the origin verified end to end by its own Decision ----------------------------


def test_https_goes_through_connect_and_the_proxy_sees_only_the_connect(
    proxy: Proxy, good_server: Server, ca_pem: Path
) -> None:
    url = good_server.url("/echo", host="localhost")
    with Client(policy(ca_pem), proxies=through(proxy)) as client, client.get(url) as response:
        assert response.status == 200
        assert json.loads(response.read())["path"] == "/echo"
        assert response.decision.proxy == proxy.url()
        assert response.decision.sources["proxy"] == 'Client(proxies=...)["https"]'
    # http.client writes CONNECT as HTTP/1.0 before Python 3.12 and as HTTP/1.1 since.
    assert [r.line.rpartition(" ")[0] for r in proxy.requests] == [
        f"CONNECT localhost:{good_server.port}"
    ]
    assert proxy.tunnels == 1
    assert [path for _, path, _ in origin_saw(good_server)] == ["/echo"]


def test_origin_with_an_untrusted_ca_fails_through_the_tunnel(
    proxy: Proxy, make_server: Callable[..., Server], other_cert: Any, ca_pem: Path
) -> None:
    server = make_server(other_cert)
    url = server.url("/echo", host="localhost")
    with (
        Client(policy(ca_pem), proxies=through(proxy)) as client,
        pytest.raises(CertificateError) as info,
    ):
        client.get(url)
    assert not isinstance(info.value, ProxyError)
    assert (info.value.host, info.value.port) == ("localhost", server.port)
    assert "unable to get local issuer certificate" in info.value.verify_reason
    assert [r.method for r in proxy.requests] == ["CONNECT"]
    assert origin_saw(server) == []


def test_origin_pin_is_checked_through_the_tunnel(
    proxy: Proxy, good_server: Server, localhost_cert: Any, ca_pem: Path
) -> None:
    pin = spki_pin(localhost_cert.cert_chain_pems[0].bytes())
    url = good_server.url("/echo", host="localhost")
    right = policy(ca_pem, localhost={"pins": [pin]})
    with Client(right, proxies=through(proxy)) as client, client.get(url) as response:
        assert response.status == 200
    wrong = policy(ca_pem, localhost={"pins": [WRONG_PIN]})
    with Client(wrong, proxies=through(proxy)) as client, pytest.raises(PinMismatchError):
        client.get(url)
    assert [r.method for r in proxy.requests] == ["CONNECT", "CONNECT"]
    assert [path for _, path, _ in origin_saw(good_server)] == ["/echo"]


def test_report_only_fallback_keeps_the_tunnel(
    proxy: Proxy, make_server: Callable[..., Server], other_cert: Any, ca_pem: Path
) -> None:
    # Strict fails, the fallback connects again: through the proxy again, never directly.
    server = make_server(other_cert)
    warn = policy(ca_pem, localhost={"verify": "warn", "expires": FUTURE, "reason": "test"})
    with (
        Client(warn, proxies=through(proxy)) as client,
        pytest.warns(InsecureRequestWarning),
        client.get(server.url("/", host="localhost")),
    ):
        pass
    assert [r.method for r in proxy.requests] == ["CONNECT", "CONNECT"]
    assert [path for _, path, _ in origin_saw(server)] == ["/"]


# --- an https:// proxy: verified by the Decision for the proxy's own host -------------------


def test_https_proxy_trusted_by_its_own_rule(
    tls_proxy: Proxy, good_server: Server, plain_server: Server, ca_pem: Path
) -> None:
    with (
        Client(policy(ca_pem), proxies=through(tls_proxy)) as client,
        client.get(good_server.url("/echo", host="localhost")) as response,
    ):
        assert response.status == 200
        assert response.decision.proxy == tls_proxy.url()
        with client.get(plain_server.url("/echo")) as response:
            assert json.loads(response.read())["path"] == "/echo"
    assert [r.method for r in tls_proxy.requests] == ["CONNECT", "GET"]
    assert tls_proxy.handshakes == 2
    assert tls_proxy.forwarded == 1


def test_https_proxy_not_trusted_by_its_rule_fails_before_any_request(
    tls_proxy: Proxy, good_server: Server, plain_server: Server, ca_pem: Path, other_ca: Any
) -> None:
    other = Path(str(ca_pem) + ".other")
    other_ca.cert_pem.write_to_path(str(other))
    # The origin (localhost) is trusted; the proxy's host (127.0.0.1) is not.
    split = policy(ca_pem, **{"127.0.0.1": {"trust": str(other)}})
    with Client(split, proxies=through(tls_proxy)) as client:
        for url in (good_server.url("/", host="localhost"), plain_server.url("/")):
            with pytest.raises(CertificateError) as info:
                client.get(url)
            assert isinstance(info.value, ProxyError)
            assert (info.value.host, info.value.port) == ("127.0.0.1", tls_proxy.port)
            assert "proxy" in str(info.value)
            assert info.value.decision.sources["trust"] == 'test-policy hosts."127.0.0.1"'
    assert tls_proxy.requests == []
    assert tls_proxy.handshakes == 0
    assert origin_saw(good_server) == []
    assert origin_saw(plain_server) == []


def test_https_proxy_pins_are_its_own(
    make_proxy: Callable[..., Proxy], localhost_cert: Any, good_server: Server, ca_pem: Path
) -> None:
    tls_proxy = make_proxy(tls=server_context(localhost_cert), credentials=PROXY_CREDENTIALS)
    pin = spki_pin(localhost_cert.cert_chain_pems[0].bytes())
    url = good_server.url("/", host="localhost")
    right = policy(ca_pem, **{"127.0.0.1": {"pins": [pin]}})
    with Client(right, proxies=through(tls_proxy, userinfo=True)) as client, client.get(url):
        pass
    wrong = policy(ca_pem, **{"127.0.0.1": {"pins": [WRONG_PIN]}})
    with (
        Client(wrong, proxies=through(tls_proxy, userinfo=True)) as client,
        pytest.raises(CertificateError) as info,
    ):
        client.get(url)
    assert isinstance(info.value, ProxyError)
    assert "no certificate matches the pinned keys" in str(info.value)
    # The credentials went out once: to the proxy whose pin matched.
    assert [r.header("Proxy-Authorization") for r in tls_proxy.requests] == [
        tls_proxy.authorization()
    ]


# --- NO_PROXY and the variables ---------------------------------------------------------------


def test_no_proxy_goes_direct_and_the_proxy_records_nothing(
    proxy: Proxy, good_server: Server, ca_pem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", proxy.url())
    monkeypatch.setenv("no_proxy", "example.org, localhost")
    url = good_server.url("/", host="localhost")
    with Client(policy(ca_pem)) as client, client.get(url) as response:
        assert response.decision.proxy == "direct"
        assert response.decision.sources["proxy"] == 'env no_proxy "localhost"'
    assert proxy.connections == 0
    assert len(origin_saw(good_server)) == 1


def test_without_a_matching_no_proxy_entry_the_variable_routes_through_the_proxy(
    proxy: Proxy, good_server: Server, ca_pem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    monkeypatch.setenv("no_proxy", "example.org,.localhost.example")
    with (
        Client(policy(ca_pem)) as client,
        client.get(good_server.url("/", host="localhost")) as response,
    ):
        assert response.decision.sources["proxy"] == "env HTTPS_PROXY"
    assert [r.method for r in proxy.requests] == ["CONNECT"]


def test_socks_proxy_is_a_proxy_error_and_never_direct(
    good_server: Server, listener: socket.socket, ca_pem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = listener.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"socks5://user:{SECRET}@127.0.0.1:{port}")
    with Client(policy(ca_pem)) as client, pytest.raises(ProxyError) as info:
        client.get(good_server.url("/", host="localhost"))
    assert "socks" in str(info.value)
    assert "never connected directly" in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert good_server.connections == 0
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing tried to speak to the SOCKS port either


def test_socks_for_https_leaves_http_working(
    plain_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", "socks5h://127.0.0.1:1080")
    with Client() as client, client.get(plain_server.url("/")) as response:
        assert response.status == 200
        assert response.decision.proxy == "direct"


def test_unreachable_proxy_is_a_proxy_error(good_server: Server, ca_pem: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    with (
        Client(policy(ca_pem), proxies={"https": f"http://127.0.0.1:{port}"}) as client,
        pytest.raises(ProxyError) as info,
    ):
        client.get(good_server.url("/", host="localhost"))
    assert f"the proxy http://127.0.0.1:{port}" in str(info.value)
    assert isinstance(info.value.reason, ConnectionRefusedError)
    assert good_server.connections == 0


# --- credentials: to the proxy only -----------------------------------------------------------


def test_proxy_authorization_reaches_the_proxy_and_never_the_origin(
    auth_proxy: Proxy, good_server: Server, plain_server: Server, ca_pem: Path
) -> None:
    with (
        Client(policy(ca_pem), proxies=through(auth_proxy, userinfo=True)) as client,
        client.get(good_server.url("/echo", host="localhost")) as response,
    ):
        assert "Proxy-Authorization" not in json.loads(response.read())["headers"]
        assert SECRET not in str(response.decision)
        assert SECRET not in repr(client)
        assert response.decision.proxy == f"http://***@127.0.0.1:{auth_proxy.port}"
        with client.get(plain_server.url("/echo")) as response:
            assert "Proxy-Authorization" not in json.loads(response.read())["headers"]
    assert [r.header("Proxy-Authorization") for r in auth_proxy.requests] == [
        auth_proxy.authorization()
    ] * 2
    assert [r.method for r in auth_proxy.requests] == ["CONNECT", "GET"]


def test_wrong_proxy_credentials_are_a_proxy_error_without_the_secret(
    auth_proxy: Proxy, good_server: Server, ca_pem: Path
) -> None:
    wrong = auth_proxy.url(("proxy-user", "not-" + SECRET))
    with (
        Client(policy(ca_pem), proxies={"https": wrong}) as client,
        pytest.raises(ProxyError) as info,
    ):
        client.get(good_server.url("/", host="localhost"))
    assert "407" in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert origin_saw(good_server) == []


def test_proxy_authorization_follows_redirects_only_to_the_proxy(
    auth_proxy: Proxy,
    good_server: Server,
    make_server: Callable[..., Server],
    localhost_cert: Any,
    plain_server: Server,
    ca_pem: Path,
) -> None:
    # http (forwarded) -> https localhost (tunnel) -> https 127.0.0.1, another host (tunnel).
    other = make_server(localhost_cert)
    last = other.url("/echo", host="127.0.0.1")
    middle = good_server.url(f"/redirect?to={last}", host="localhost")
    first = plain_server.url(f"/redirect?to={middle}")
    with (
        Client(policy(ca_pem), proxies=through(auth_proxy, userinfo=True)) as client,
        client.get(first) as response,
    ):
        assert json.loads(response.read())["path"] == "/echo"
    # Each hop's route is worked out again: the credentials go with it, to the proxy only.
    assert [r.method for r in auth_proxy.requests] == ["GET", "CONNECT", "CONNECT"]
    assert [r.header("Proxy-Authorization") for r in auth_proxy.requests] == [
        auth_proxy.authorization()
    ] * 3
    for server in (good_server, other, plain_server):
        for _, _, headers in origin_saw(server):
            assert not {name.lower() for name in headers} & {"proxy-authorization"}


def test_a_caller_proxy_authorization_never_reaches_an_origin_directly(
    good_server: Server, ca_pem: Path
) -> None:
    with Client(policy(ca_pem), proxies=None) as client:
        headers = {"Proxy-Authorization": "Basic c2VjcmV0", "X-Other": "kept"}
        with client.get(good_server.url("/echo"), headers=headers) as response:
            sent = json.loads(response.read())["headers"]
    assert "Proxy-Authorization" not in sent
    assert sent["X-Other"] == "kept"


# --- pools: direct and proxied connections never share ---------------------------------------


def test_direct_and_proxied_requests_to_one_origin_never_share_a_connection(
    proxy: Proxy, good_server: Server, ca_pem: Path
) -> None:
    direct = Policy.from_dict({"defaults": {"trust": str(ca_pem), "proxy": "direct"}})
    proxied = Policy.from_dict({"defaults": {"trust": str(ca_pem), "proxy": proxy.url()}})
    url = good_server.url("/", host="localhost")
    with Client() as client:
        for chosen in (direct, proxied, direct, proxied, direct):
            with client.get(url, policy=chosen) as response:
                response.read()
        # Two pools, each reusing its own keep-alive connection: one handshake each (counted
        # by the server before it answered).
        assert good_server.handshakes == 2
        assert good_server.connections == 2
        assert len(client._transport) == 2
    assert proxy.tunnels == 1


def test_a_tunnel_opened_as_one_proxy_user_never_serves_another(
    auth_proxy: Proxy, good_server: Server, ca_pem: Path
) -> None:
    url = good_server.url("/", host="localhost")
    right = {"Proxy-Authorization": auth_proxy.authorization()}
    with Client(policy(ca_pem), proxies={"https": auth_proxy.url()}) as client:
        for _ in range(2):
            with client.get(url, headers=right) as response:
                response.read()
        with pytest.raises(ProxyError):
            client.get(url, headers={"Proxy-Authorization": "Basic d3Jvbmc6dXNlcg=="})
    # The second request rode the first tunnel; other credentials asked for a new one.
    assert [r.header("Proxy-Authorization") for r in auth_proxy.connects] == [
        auth_proxy.authorization(),
        "Basic d3Jvbmc6dXNlcg==",
    ]
    assert len(origin_saw(good_server)) == 2


# --- precedence: Client(proxies=...) > policy in code > variables > policy file -------------


def test_a_policy_file_proxy_is_beaten_by_the_variables(
    proxy: Proxy,
    make_proxy: Callable[..., Proxy],
    good_server: Server,
    ca_pem: Path,
    write_policy: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from_file = make_proxy()
    path = write_policy(f"defaults:\n  trust: {ca_pem}\n  proxy: {from_file.url()}\n")
    monkeypatch.setenv("SECUREHTTP_POLICY", str(path))
    url = good_server.url("/", host="localhost")
    with Client() as client, client.get(url) as response:
        assert response.decision.sources["proxy"] == f"{path}:3 defaults"
    monkeypatch.setenv("https_proxy", proxy.url())
    decision = securehttp.explain(url)
    assert (decision.proxy, decision.sources["proxy"]) == (proxy.url(), "env https_proxy")
    with Client() as client, client.get(url) as response:
        assert response.decision.sources["proxy"] == "env https_proxy"
    assert (len(from_file.connects), len(proxy.connects)) == (1, 1)


def test_a_policy_in_code_beats_the_variables_and_proxies_beats_both(
    proxy: Proxy,
    make_proxy: Callable[..., Proxy],
    good_server: Server,
    ca_pem: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_code = make_proxy()
    explicit = make_proxy()
    monkeypatch.setenv("https_proxy", proxy.url())
    coded = Policy.from_dict(
        {"defaults": {"trust": str(ca_pem)}, "hosts": {"localhost": {"proxy": in_code.url()}}},
        source="code",
    )
    url = good_server.url("/", host="localhost")
    with Client(coded) as client, client.get(url) as response:
        assert response.decision.sources["proxy"] == "code hosts.localhost"
    with Client(coded, proxies={"https": explicit.url()}) as client, client.get(url):
        pass
    with Client(coded, proxies=None) as client, client.get(url) as response:
        assert (response.decision.proxy, response.decision.sources["proxy"]) == (
            "direct",
            "Client(proxies=None)",
        )
    # A policy in code that says nothing about proxies leaves the variables in charge.
    with Client(policy(ca_pem)) as client, client.get(url):
        pass
    counts = [len(p.connects) for p in (proxy, in_code, explicit)]
    assert counts == [1, 1, 1]
    assert len(origin_saw(good_server)) == 4


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("socks5://proxy.corp:1080", "socks proxies are not supported"),
        (f"http://user:{SECRET}@proxy.corp:3128", "takes no credentials"),
        ("Direct", 'expected "direct" or http(s)://host:port'),
        ("http://proxy.corp:3128/path", "path"),
        (3128, "non-empty string"),
    ],
)
def test_the_policy_proxy_setting_is_checked_when_loaded(value: object, problem: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict({"hosts": {"a.example": {"proxy": value}}}, source="p")
    assert problem in str(info.value)
    assert info.value.key_path == 'hosts."a.example".proxy'
    assert SECRET not in str(info.value)


def test_the_policy_proxy_setting_is_canonical() -> None:
    decision = Policy.from_dict({"defaults": {"proxy": "HTTPS://Proxy.Corp"}}).resolve("a.example")
    assert decision.proxy == "https://proxy.corp:443"
    assert Policy().resolve("a.example").proxy is None


# --- explain: the route and where it came from, never the credentials ------------------------


def test_explain_shows_the_route_and_its_source(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:{SECRET}@proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", ".internal.example")
    routed = securehttp.explain("https://api.example.com/")
    assert (routed.proxy, routed.sources["proxy"]) == (
        "http://***@proxy.corp:3128",
        "env HTTPS_PROXY",
    )
    assert "  proxy=http://***@proxy.corp:3128  (env HTTPS_PROXY)" in str(routed)
    bypassed = securehttp.explain("https://db.internal.example/")
    assert (bypassed.proxy, bypassed.sources["proxy"]) == (
        "direct",
        'env NO_PROXY ".internal.example"',
    )
    assert SECRET not in str(routed) + repr(routed)
    monkeypatch.delenv("HTTPS_PROXY")
    plain = securehttp.explain("https://api.example.com/")
    assert (plain.proxy, plain.sources["proxy"]) == ("direct", "default (no proxy variables)")


def test_cli_explain_shows_the_route_without_credentials(
    tmp_path: Path, write_policy: Callable[..., Path]
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HTTPS_PROXY": f"http://user:{SECRET}@proxy.corp:3128",
        "SECUREHTTP_PEP493_CONFIG": str(tmp_path / "none.cfg"),
    }
    run = [sys.executable, "-m", "securehttp", "explain", "https://api.example.com/"]
    text = subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout
    assert "  proxy=http://***@proxy.corp:3128  (env HTTPS_PROXY)" in text
    data = json.loads(
        subprocess.run([*run, "--json"], env=env, capture_output=True, text=True, check=True).stdout
    )
    assert (data["proxy"], data["sources"]["proxy"]) == (
        "http://***@proxy.corp:3128",
        "env HTTPS_PROXY",
    )
    path = write_policy("defaults:\n  proxy: direct\n")
    coded = subprocess.run(
        [*run, "--policy", str(path)], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f"  proxy=direct  ({path}:2 defaults)" in coded
    assert SECRET not in text + json.dumps(data) + coded


# --- tinyproxy: a real proxy from the distribution --------------------------------------------


def test_tinyproxy_tunnels_to_a_verified_origin(
    make_tinyproxy: Callable[..., Tinyproxy], good_server: Server, ca_pem: Path
) -> None:
    tiny = make_tinyproxy(credentials=("tiny-user", "tiny-secret"))
    url = good_server.url("/echo", host="localhost")
    with (
        Client(policy(ca_pem), proxies=through(tiny, userinfo=True)) as client,
        client.get(url) as response,
    ):
        assert "Proxy-Authorization" not in json.loads(response.read())["headers"]
    assert f"CONNECT localhost:{good_server.port}" in tiny.log_text()


def test_tinyproxy_refuses_wrong_credentials_and_the_origin_sees_nothing(
    make_tinyproxy: Callable[..., Tinyproxy], good_server: Server, ca_pem: Path
) -> None:
    tiny = make_tinyproxy(credentials=("tiny-user", "tiny-secret"))
    wrong = {"https": tiny.url(("tiny-user", "wrong"))}
    with Client(policy(ca_pem), proxies=wrong) as client, pytest.raises(ProxyError) as info:
        client.get(good_server.url("/", host="localhost"))
    # tinyproxy answers wrong credentials with 401 (missing ones with 407).
    assert "401" in str(info.value) or "407" in str(info.value)
    assert origin_saw(good_server) == []


def test_tinyproxy_with_an_untrusted_origin_fails_verification(
    make_tinyproxy: Callable[..., Tinyproxy],
    make_server: Callable[..., Server],
    other_cert: Any,
    ca_pem: Path,
) -> None:
    tiny = make_tinyproxy()
    server = make_server(other_cert)
    with Client(policy(ca_pem), proxies=through(tiny)) as client, pytest.raises(CertificateError):
        client.get(server.url("/", host="localhost"))
    assert origin_saw(server) == []


def test_url_errors_keep_urllib_reasons(good_server: Server) -> None:
    with Client() as client, pytest.raises(URLError) as info:
        client.get(good_server.url("/"))
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
    assert str(info.value).startswith("certificate verification failed for 127.0.0.1")


# --- securehttp get --proxy -------------------------------------------------------------------


def cli_get(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SECUREHTTP_PEP493_CONFIG": "/nonexistent/pep493.cfg"}
    return subprocess.run(
        [sys.executable, "-m", "securehttp", "get", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_get_goes_through_the_proxy_it_is_given(
    auth_proxy: Proxy, good_server: Server, ca_pem: Path
) -> None:
    url = good_server.url("/echo", host="localhost")
    done = cli_get(url, "--cacert", str(ca_pem), "--proxy", auth_proxy.url(userinfo=True))
    assert done.returncode == 0, done.stderr
    assert "Proxy-Authorization" not in json.loads(done.stdout)["headers"]
    assert [r.header("Proxy-Authorization") for r in auth_proxy.connects] == [
        auth_proxy.authorization()
    ]


def test_cli_get_through_a_proxy_still_verifies_the_origin(
    auth_proxy: Proxy, good_server: Server, other_ca: Any, tmp_path: Path
) -> None:
    wrong = tmp_path / "other.pem"
    other_ca.cert_pem.write_to_path(str(wrong))
    url = good_server.url("/", host="localhost")
    done = cli_get(url, "--cacert", str(wrong), "--proxy", auth_proxy.url(userinfo=True))
    assert done.returncode == 1
    assert "certificate verification failed for localhost" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert [r.method for r in auth_proxy.requests] == ["CONNECT"]
    assert origin_saw(good_server) == []


# --- urlopen reads the variables as urllib's default opener does ------------------------------


def test_urlopen_goes_through_the_variables_proxy(
    proxy: Proxy,
    good_server: Server,
    ca_pem: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECUREHTTP_EXTRA_CA_CERTS", str(ca_pem))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    with securehttp.urlopen(good_server.url("/", host="localhost")) as response:
        assert response.decision.sources["proxy"] == "env HTTPS_PROXY"
    assert [r.method for r in proxy.requests] == ["CONNECT"]


def test_urlopen_with_a_socks_variable_sends_nothing(
    good_server: Server, ca_pem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECUREHTTP_EXTRA_CA_CERTS", str(ca_pem))
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ProxyError):
        securehttp.urlopen(good_server.url("/", host="localhost"))
    assert good_server.connections == 0


def test_ipv6_proxy_and_origin(
    make_proxy: Callable[..., Proxy],
    make_server: Callable[..., Server],
    localhost_cert: Any,
    ca_pem: Path,
) -> None:
    v6_proxy = make_proxy(host="::1")
    server = make_server(localhost_cert, host="::1")
    with (
        Client(policy(ca_pem), proxies=through(v6_proxy)) as client,
        client.get(server.url("/echo")) as response,
    ):
        assert json.loads(response.read())["path"] == "/echo"
        assert response.decision.proxy == f"http://[::1]:{v6_proxy.port}"
    assert [r.target for r in v6_proxy.connects] == [f"[::1]:{server.port}"]
