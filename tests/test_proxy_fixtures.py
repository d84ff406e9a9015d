"""The proxy fixtures work, shown with the standard library as the client.

urllib.request (ProxyHandler) and http.client (set_tunnel) are the reference clients: if they
get through a fixture proxy, and get the expected refusals from it, the proxy tests of
securehttp can trust what the fixtures record.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .proxy_fixtures import PROXY_CREDENTIALS
from .proxyserver import Proxy
from .tinyproxy import Tinyproxy, find_tinyproxy, run_tinyproxy
from .tlsserver import Server

WRONG_CREDENTIALS = ("proxy-user", "not-the-secret")


def trusting_context(ca: Any) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(context)
    return context


def opener(proxies: dict[str, str], ca: Any) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),
        urllib.request.HTTPSHandler(context=trusting_context(ca)),
    )


def tunnel_get(
    proxy: Proxy | Tinyproxy, origin: Server, ca: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """GET /echo from ``origin`` through a CONNECT tunnel, with http.client."""
    connection = http.client.HTTPSConnection(
        proxy.host, proxy.port, context=trusting_context(ca), timeout=10
    )
    connection.set_tunnel("localhost", origin.port, headers=headers)
    try:
        connection.request("GET", "/echo")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def exchange(proxy: Proxy, data: bytes) -> bytes:
    """Send raw bytes to a plain proxy and return everything it answers before closing."""
    with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def origin_headers(origin: Server) -> list[set[str]]:
    """The header names (lowercase) of each request the origin received."""
    return [{name.lower() for name in headers} for _, _, headers in origin.httpd.requests]


# --- CONNECT through the recording proxy ----------------------------------------------------


def test_connect_records_proxy_authorization_which_the_origin_never_sees(
    auth_proxy: Proxy, good_server: Server, ca: Any
) -> None:
    proxies = {"https": auth_proxy.url(userinfo=True)}
    with opener(proxies, ca).open(good_server.url("/echo"), timeout=10) as response:
        echoed = json.loads(response.read())
    assert response.status == 200
    [connect] = auth_proxy.connects
    assert connect.target == f"127.0.0.1:{good_server.port}"
    assert connect.line.startswith(f"CONNECT 127.0.0.1:{good_server.port} HTTP/1.")
    assert connect.header("proxy-authorization") == auth_proxy.authorization()
    assert auth_proxy.tunnels == 1
    assert auth_proxy.connections == 1
    assert "proxy-authorization" not in {name.lower() for name in echoed["headers"]}
    assert origin_headers(good_server) == [{name.lower() for name in echoed["headers"]}]


@pytest.mark.parametrize("credentials", [None, WRONG_CREDENTIALS])
def test_connect_without_the_right_credentials_is_407_and_never_reaches_the_origin(
    auth_proxy: Proxy, good_server: Server, ca: Any, credentials: tuple[str, str] | None
) -> None:
    proxies = {"https": auth_proxy.url(credentials)}
    with pytest.raises(urllib.error.URLError, match="407"):
        opener(proxies, ca).open(good_server.url("/echo"), timeout=10)
    [connect] = auth_proxy.connects
    expected = None if credentials is None else auth_proxy.authorization(credentials)
    assert connect.header("Proxy-Authorization") == expected
    assert auth_proxy.tunnels == 0
    assert good_server.connections == 0


def test_407_carries_a_basic_challenge(auth_proxy: Proxy) -> None:
    answer = exchange(auth_proxy, b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n")
    head = answer.split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert head[0] == "HTTP/1.1 407 Proxy Authentication Required"
    assert 'Proxy-Authenticate: Basic realm="proxyserver"' in head


def test_http_client_tunnel_reaches_the_origin(proxy: Proxy, good_server: Server, ca: Any) -> None:
    status, echoed = tunnel_get(proxy, good_server, ca)
    assert (status, echoed["path"]) == (200, "/echo")
    assert [request.target for request in proxy.connects] == [f"localhost:{good_server.port}"]
    assert good_server.handshakes == 1


def test_refused_connect_target_is_403_and_never_reaches_the_origin(
    make_proxy: Callable[..., Proxy], good_server: Server, ca: Any
) -> None:
    proxy = make_proxy(refuse_ports={good_server.port})
    with pytest.raises(OSError, match="Tunnel connection failed: 403"):
        tunnel_get(proxy, good_server, ca)
    assert len(proxy.connects) == 1
    assert good_server.connections == 0


@pytest.mark.parametrize("fail", ["close", "reset"])
def test_failing_proxy_records_then_drops_the_connection(
    make_proxy: Callable[..., Proxy], good_server: Server, ca: Any, fail: str
) -> None:
    proxy = make_proxy(fail=fail)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        tunnel_get(proxy, good_server, ca)
    assert len(proxy.connects) == 1
    assert good_server.connections == 0


def test_connect_to_a_name_that_is_not_loopback_is_502(proxy: Proxy) -> None:
    answer = exchange(proxy, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 502 ")
    assert proxy.tunnels == 0


def test_mapped_name_reaches_the_origin(
    make_proxy: Callable[..., Proxy], make_server: Callable[..., Server], ca: Any
) -> None:
    origin = make_server(ca.issue_cert("origin.test"), name="origin.test")
    proxy = make_proxy(hosts={"origin.test": "127.0.0.1"})
    connection = http.client.HTTPSConnection(
        proxy.host, proxy.port, context=trusting_context(ca), timeout=10
    )
    connection.set_tunnel("origin.test", origin.port)
    try:
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert [request.target for request in proxy.connects] == [f"origin.test:{origin.port}"]


def test_ipv6_proxy_tunnels(make_proxy: Callable[..., Proxy], good_server: Server, ca: Any) -> None:
    proxy = make_proxy(host="::1")
    status, _ = tunnel_get(proxy, good_server, ca)
    assert status == 200
    assert proxy.url() == f"http://[::1]:{proxy.port}"
    assert len(proxy.connects) == 1


# --- absolute-form requests -----------------------------------------------------------------


def test_absolute_form_get_is_recorded_and_forwarded_without_proxy_authorization(
    auth_proxy: Proxy, make_server: Callable[..., Server], ca: Any
) -> None:
    origin = make_server()  # plain http://
    proxies = {"http": auth_proxy.url(userinfo=True)}
    with opener(proxies, ca).open(origin.url("/echo?x=1"), timeout=10) as response:
        echoed = json.loads(response.read())
    [request] = auth_proxy.requests
    assert request.line == f"GET {origin.url('/echo?x=1')} HTTP/1.1"
    assert request.header("Proxy-Authorization") == auth_proxy.authorization()
    assert echoed["path"] == "/echo?x=1"
    assert "proxy-authorization" not in {name.lower() for name in echoed["headers"]}
    assert auth_proxy.forwarded == 1
    assert auth_proxy.connects == []


def test_absolute_form_with_wrong_credentials_is_407_and_never_reaches_the_origin(
    auth_proxy: Proxy, make_server: Callable[..., Server], ca: Any
) -> None:
    origin = make_server()
    proxies = {"http": auth_proxy.url(WRONG_CREDENTIALS)}
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener(proxies, ca).open(origin.url("/echo"), timeout=10)
    caught.value.close()
    assert caught.value.code == 407
    assert caught.value.headers["Proxy-Authenticate"] == 'Basic realm="proxyserver"'
    assert len(auth_proxy.requests) == 1
    assert origin.connections == 0


def test_absolute_form_keeps_the_client_connection_alive(
    proxy: Proxy, make_server: Callable[..., Server]
) -> None:
    origin = make_server()
    connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
    try:
        for path in ("/echo", "/status/404"):
            connection.request("GET", origin.url(path))
            response = connection.getresponse()
            response.read()
        assert response.status == 404
    finally:
        connection.close()
    assert proxy.connections == 1
    assert proxy.forwarded == 2


def test_origin_form_sent_to_the_proxy_is_400(proxy: Proxy) -> None:
    answer = exchange(proxy, b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert proxy.forwarded == 0


# --- https:// proxy (TLS to the proxy) ------------------------------------------------------


def _read_response(read: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """(head, body) of one response with a Content-Length, from a source of chunks."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += read()
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += read()
    return head, body


def tls_in_tls_get(
    proxy: Proxy, proxy_tls: ssl.SSLContext, origin: Server, origin_tls: ssl.SSLContext
) -> tuple[bytes, bytes]:
    """GET /echo from ``origin`` over TLS inside a CONNECT tunnel inside TLS to the proxy, as
    urllib3 does for an https:// proxy (http.client cannot)."""
    with (
        socket.create_connection((proxy.host, proxy.port), timeout=10) as raw,
        proxy_tls.wrap_socket(raw, server_hostname="localhost") as outer,
    ):
        target = f"localhost:{origin.port}"
        outer.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += outer.recv(1)  # byte by byte: the tunnel starts right after the head
        assert answer.startswith(b"HTTP/1.1 200 ")
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        inner = origin_tls.wrap_bio(incoming, outgoing, server_hostname="localhost")

        def pump(step: Callable[[], Any]) -> Any:
            while True:
                try:
                    result = step()
                except ssl.SSLWantReadError:
                    outer.sendall(outgoing.read())
                    incoming.write(outer.recv(65536))
                    continue
                outer.sendall(outgoing.read())
                return result

        pump(inner.do_handshake)
        request = f"GET /echo HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
        pump(lambda: inner.write(request.encode()))
        return _read_response(lambda: bytes(pump(lambda: inner.read(65536))))


def test_https_proxy_carries_tls_inside_tls(tls_proxy: Proxy, good_server: Server, ca: Any) -> None:
    head, body = tls_in_tls_get(tls_proxy, trusting_context(ca), good_server, trusting_context(ca))
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["path"] == "/echo"
    assert tls_proxy.url() == f"https://127.0.0.1:{tls_proxy.port}"
    assert (tls_proxy.handshakes, tls_proxy.tunnels, good_server.handshakes) == (1, 1, 1)


def test_https_proxy_with_the_wrong_ca_fails_before_any_request(
    tls_proxy: Proxy, good_server: Server, ca: Any, other_ca: Any
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_in_tls_get(tls_proxy, trusting_context(other_ca), good_server, trusting_context(ca))
    tls_proxy.settle(1)
    assert (tls_proxy.connections, tls_proxy.handshakes) == (1, 0)
    assert tls_proxy.requests == []
    assert good_server.connections == 0


def test_https_proxy_forwards_absolute_form(
    tls_proxy: Proxy, make_server: Callable[..., Server], ca: Any
) -> None:
    origin = make_server()
    connection = http.client.HTTPSConnection(
        "localhost", tls_proxy.port, context=trusting_context(ca), timeout=10
    )
    try:
        connection.request("GET", origin.url("/echo"))
        response = connection.getresponse()
        assert json.loads(response.read())["path"] == "/echo"
    finally:
        connection.close()
    assert [request.target for request in tls_proxy.requests] == [origin.url("/echo")]


# --- tinyproxy ------------------------------------------------------------------------------


def test_tinyproxy_tunnels_with_credentials(
    make_tinyproxy: Callable[..., Tinyproxy], good_server: Server, ca: Any
) -> None:
    tinyproxy = make_tinyproxy(connect_ports={good_server.port}, credentials=PROXY_CREDENTIALS)
    proxies = {"https": tinyproxy.url(userinfo=True)}
    with opener(proxies, ca).open(good_server.url("/echo"), timeout=10) as response:
        echoed = json.loads(response.read())
    assert echoed["path"] == "/echo"
    assert "proxy-authorization" not in {name.lower() for name in echoed["headers"]}
    assert good_server.handshakes == 1


# tinyproxy 1.11.1 answers missing credentials with 407 but wrong ones with 401 and a
# WWW-Authenticate challenge: a real proxy's quirk that proxy code must treat as a refusal too.
@pytest.mark.parametrize(
    ("credentials", "status"), [(None, 407), (WRONG_CREDENTIALS, 401)], ids=["missing", "wrong"]
)
def test_tinyproxy_without_the_right_credentials_refuses_the_tunnel(
    make_tinyproxy: Callable[..., Tinyproxy],
    good_server: Server,
    ca: Any,
    credentials: tuple[str, str] | None,
    status: int,
) -> None:
    tinyproxy = make_tinyproxy(credentials=PROXY_CREDENTIALS)
    headers = (
        {} if credentials is None else {"Proxy-Authorization": tinyproxy.authorization(credentials)}
    )
    with pytest.raises(OSError, match=f"Tunnel connection failed: {status}"):
        tunnel_get(tinyproxy, good_server, ca, headers)
    assert good_server.connections == 0


def test_tinyproxy_refuses_a_port_it_does_not_allow(
    make_tinyproxy: Callable[..., Tinyproxy], good_server: Server, ca: Any
) -> None:
    tinyproxy = make_tinyproxy(connect_ports={443})
    with pytest.raises(OSError, match="Tunnel connection failed: 403"):
        tunnel_get(tinyproxy, good_server, ca)
    assert good_server.connections == 0
    assert f"localhost:{good_server.port}" in tinyproxy.log_text()


def test_tinyproxy_is_gone_after_its_block(tmp_path: Path) -> None:
    binary = find_tinyproxy()
    if binary is None:
        pytest.skip("tinyproxy is not installed (Debian: apt-get install tinyproxy)")
    with run_tinyproxy(binary, tmp_path) as tinyproxy:
        socket.create_connection(("127.0.0.1", tinyproxy.port), timeout=10).close()
        assert tinyproxy.process.poll() is None
    assert tinyproxy.process.returncode is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", tinyproxy.port), timeout=10)
