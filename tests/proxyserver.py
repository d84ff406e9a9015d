"""A recording forward proxy for the tests: CONNECT tunnels and absolute-form HTTP, on loopback.

One thread per connection, like ``tlsserver``.  It records every request head it receives (the
request line and the headers, in order, duplicates kept) before it answers, so by the time a
client has its response the record is there.  It only ever connects to loopback: a literal
loopback address, ``localhost``, or a name the test maps to one in ``hosts`` (no DNS lookups);
anything else is a 502, so a test that forgets to map a name cannot reach the network.

The proxy cannot see inside a CONNECT tunnel; what the origin received is recorded by the origin
(``tlsserver.TLSServer.requests``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import http.client
import ipaddress
import selectors
import socket
import socketserver
import ssl
import threading
import time
import urllib.parse
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

MAX_HEAD = 64 * 1024
IO_TIMEOUT = 10.0
REALM = "proxyserver"

# Headers that describe one hop (RFC 9110 §7.6.1): the proxy consumes them, never forwards them.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

Failure = Literal["close", "reset"]


@dataclass(frozen=True)
class ProxyRequest:
    """One request head as the proxy received it."""

    line: str
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def header_names(self) -> set[str]:
        return {key.lower() for key, _ in self.headers}


class ProxyHTTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        family: int,
        *,
        tls: ssl.SSLContext | None,
        credentials: tuple[str, str] | None,
        refuse_ports: Collection[int],
        refuse_hosts: Collection[str],
        fail: Failure | None,
        hosts: Mapping[str, str],
    ) -> None:
        self.address_family = family
        self.tls = tls
        self.credentials = credentials
        self.refuse_ports = frozenset(refuse_ports)
        self.refuse_hosts = frozenset(_bare(host) for host in refuse_hosts)
        self.fail = fail
        self.hosts = {_bare(name): address for name, address in hosts.items()}
        self.lock = threading.Lock()
        self.requests: list[ProxyRequest] = []
        self.connections = 0
        self.handshakes = 0
        self.tunnels = 0
        self.forwarded = 0
        self.active = 0
        super().__init__(address, ProxyHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that reject the proxy's certificate or hang up mid-tunnel do so on purpose.
        pass


class ProxyHandler(socketserver.BaseRequestHandler):
    server: ProxyHTTPServer
    request: socket.socket

    def setup(self) -> None:
        with self.server.lock:
            self.server.connections += 1
            self.server.active += 1
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.settimeout(IO_TIMEOUT)
        if self.server.tls is not None:
            # In this thread, not in accept: a client that fails verification stalls nobody.
            try:
                self.request = self.server.tls.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                self.request.close()
                with self.server.lock:
                    self.server.active -= 1
                raise
            with self.server.lock:
                self.server.handshakes += 1

    def finish(self) -> None:
        # socketserver closes the socket it accepted, which wrap_socket detached.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.close()
        with self.server.lock:
            self.server.active -= 1

    def handle(self) -> None:
        pending = b""
        while True:
            head, pending = _read_head(self.request, pending)
            if head is None:
                return
            request = _parse_head(head)
            if request is None:
                self._reply(400, "Bad Request")
                return
            with self.server.lock:
                self.server.requests.append(request)
            if self.server.fail is not None:
                self._fail(self.server.fail)
                return
            if not self._authorized(request):
                challenge = {"Proxy-Authenticate": f'Basic realm="{REALM}"'}
                self._reply(407, "Proxy Authentication Required", challenge)
                return
            if request.method == "CONNECT":
                self._tunnel(request, pending)
                return
            keep_alive, pending = self._forward(request, pending)
            if not keep_alive:
                return

    # --- answers ----------------------------------------------------------------------------

    def _reply(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        body = f"{status} {reason}\n".encode()
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.request.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _fail(self, how: Failure) -> None:
        if how == "reset":
            # Linger 0: close() sends RST instead of FIN.
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        self.request.close()

    def _authorized(self, request: ProxyRequest) -> bool:
        if self.server.credentials is None:
            return True
        scheme, _, encoded = (request.header("Proxy-Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            return False
        user, password = self.server.credentials
        return hmac.compare_digest(given, f"{user}:{password}".encode())

    # --- CONNECT ----------------------------------------------------------------------------

    def _tunnel(self, request: ProxyRequest, pending: bytes) -> None:
        target = _split_authority(request.target)
        if target is None:
            self._reply(400, "Bad Request")
            return
        host, port = target
        if port in self.server.refuse_ports or host in self.server.refuse_hosts:
            self._reply(403, "Forbidden")
            return
        upstream = self._connect(host, port)
        if upstream is None:
            return
        with upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with self.server.lock:
                self.server.tunnels += 1
            if pending:
                upstream.sendall(pending)
            _relay(self.request, upstream)

    def _connect(self, host: str, port: int) -> socket.socket | None:
        address = self.server.hosts.get(host, host)
        if not _is_loopback(address):
            self._reply(502, "Bad Gateway (not a loopback target)")
            return None
        try:
            upstream = socket.create_connection((address, port), timeout=IO_TIMEOUT)
        except OSError:
            self._reply(502, "Bad Gateway")
            return None
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return upstream

    # --- absolute-form ----------------------------------------------------------------------

    def _forward(self, request: ProxyRequest, pending: bytes) -> tuple[bool, bytes]:
        """Forward one absolute-form request; (keep the client connection, unread bytes)."""
        parts = urllib.parse.urlsplit(request.target)
        if parts.scheme != "http" or not parts.hostname:
            # Origin-form sent to a proxy, or https:// forwarding, which this proxy does not do.
            self._reply(*((501, "Not Implemented") if parts.scheme else (400, "Bad Request")))
            return False, b""
        if request.header("Transfer-Encoding") is not None:
            self._reply(501, "Not Implemented (chunked request body)")
            return False, b""
        length = int(request.header("Content-Length") or 0)
        while len(pending) < length:
            chunk = self.request.recv(65536)
            if not chunk:
                return False, b""
            pending += chunk
        body, pending = pending[:length], pending[length:]
        host = _bare(parts.hostname)
        address = self.server.hosts.get(host, host)
        if not _is_loopback(address):
            self._reply(502, "Bad Gateway (not a loopback target)")
            return False, b""
        headers = {k: v for k, v in request.headers if k.lower() not in HOP_BY_HOP}
        if not any(k.lower() == "host" for k in headers):
            headers["Host"] = parts.netloc.rpartition("@")[2]
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        origin = http.client.HTTPConnection(address, parts.port or 80, timeout=IO_TIMEOUT)
        try:
            origin.request(request.method, path, body or None, headers)
            response = origin.getresponse()
            payload = response.read()
        except OSError:
            self._reply(502, "Bad Gateway")
            return False, b""
        finally:
            origin.close()
        with self.server.lock:
            self.server.forwarded += 1
        keep_alive = _client_keeps_alive(request)
        self.request.sendall(_response_bytes(request.method, response, payload, keep_alive))
        return keep_alive, pending


def _response_bytes(
    method: str, response: http.client.HTTPResponse, payload: bytes, keep_alive: bool
) -> bytes:
    bodiless = method == "HEAD" or response.status in (204, 304) or response.status < 200
    lines = [f"HTTP/1.1 {response.status} {response.reason}"]
    for name, value in response.getheaders():
        lowered = name.lower()
        if lowered in HOP_BY_HOP or (lowered == "content-length" and not bodiless):
            continue
        lines.append(f"{name}: {value}")
    if not bodiless:
        lines.append(f"Content-Length: {len(payload)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if bodiless else head + payload


def _client_keeps_alive(request: ProxyRequest) -> bool:
    tokens = ",".join(
        value for key, value in request.headers if key.lower() in ("connection", "proxy-connection")
    ).lower()
    if request.version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes or both stay idle for IO_TIMEOUT."""
    peers = {client: upstream, upstream: client}
    with selectors.DefaultSelector() as selector:
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ, data=sock)
        while True:
            # TLS to the proxy: decrypted bytes can wait inside the SSL object, where select
            # cannot see them.
            ready: list[socket.socket] = [
                s for s in peers if isinstance(s, ssl.SSLSocket) and s.pending()
            ]
            if not ready:
                ready = [key.data for key, _ in selector.select(IO_TIMEOUT)]
            if not ready:
                return
            for sock in ready:
                try:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
                except OSError:
                    return


def _read_head(sock: socket.socket, pending: bytes) -> tuple[bytes | None, bytes]:
    """(the head up to the blank line, the bytes after it); (None, b"") on EOF or overflow."""
    data = pending
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            return None, b""
        try:
            chunk = sock.recv(65536)
        except OSError:
            return None, b""
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _parse_head(head: bytes) -> ProxyRequest | None:
    line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3:
        return None
    headers: list[tuple[str, str]] = []
    for header_line in header_lines:
        name, sep, value = header_line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        headers.append((name, value.strip()))
    method, target, version = parts
    return ProxyRequest(line, method, target, version, tuple(headers))


def _split_authority(target: str) -> tuple[str, int] | None:
    """``host:port`` or ``[v6]:port`` as written in a CONNECT line.  An unbracketed IPv6
    address is accepted too (http.client before 3.12 writes ``::1:443``); the recorded request
    line shows which form the client used."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return None
    if ":" in host and not host.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    return _bare(host), int(port)


def _bare(host: str) -> str:
    return host.strip("[]").lower()


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass
class Proxy:
    host: str
    port: int
    scheme: str
    credentials: tuple[str, str] | None
    httpd: ProxyHTTPServer = field(repr=False)

    def url(self, credentials: tuple[str, str] | None = None, *, userinfo: bool = False) -> str:
        """The proxy's URL; with ``userinfo=True`` its own credentials (or ``credentials``) in it."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        given = credentials or (self.credentials if userinfo else None)
        if given is not None:
            user, password = (urllib.parse.quote(part, safe="") for part in given)
            name = f"{user}:{password}@{name}"
        return f"{self.scheme}://{name}:{self.port}"

    def authorization(self, credentials: tuple[str, str] | None = None) -> str:
        """A ``Proxy-Authorization`` value for ``credentials`` (default: the proxy's own)."""
        user, password = credentials or self.credentials or ("", "")
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    @property
    def requests(self) -> list[ProxyRequest]:
        with self.httpd.lock:
            return list(self.httpd.requests)

    @property
    def connects(self) -> list[ProxyRequest]:
        """The CONNECT requests received, in order."""
        return [request for request in self.requests if request.method == "CONNECT"]

    @property
    def connections(self) -> int:
        """Accepted TCP connections, whether or not a TLS handshake completed."""
        return self.httpd.connections

    @property
    def handshakes(self) -> int:
        """Completed TLS handshakes with an ``https://`` proxy."""
        return self.httpd.handshakes

    @property
    def tunnels(self) -> int:
        """CONNECT requests answered 200."""
        return self.httpd.tunnels

    @property
    def forwarded(self) -> int:
        """Absolute-form requests forwarded to their origin and answered."""
        return self.httpd.forwarded

    def settle(self, connections: int, timeout: float = 10.0) -> None:
        """Wait until ``connections`` were accepted and every one of them was handled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.httpd.lock:
                if self.httpd.connections >= connections and self.httpd.active == 0:
                    return
            time.sleep(0.01)


@contextmanager
def serve_proxy(
    host: str = "127.0.0.1",
    *,
    tls: ssl.SSLContext | None = None,
    credentials: tuple[str, str] | None = None,
    refuse_ports: Collection[int] = (),
    refuse_hosts: Collection[str] = (),
    fail: Failure | None = None,
    hosts: Mapping[str, str] | None = None,
) -> Iterator[Proxy]:
    """Run a proxy on ``host`` port 0 until the block ends.

    ``tls``: a server context makes it an ``https://`` proxy.  ``credentials``: (user, password)
    required as Basic ``Proxy-Authorization``, else 407.  ``refuse_ports`` / ``refuse_hosts``:
    CONNECT targets answered 403.  ``fail``: after recording the request head, close the
    connection without an answer (``"close"``) or reset it (``"reset"``).  ``hosts``: names the
    proxy resolves, each to a loopback address.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    httpd = ProxyHTTPServer(
        (host, 0),
        family,
        tls=tls,
        credentials=credentials,
        refuse_ports=refuse_ports,
        refuse_hosts=refuse_hosts,
        fail=fail,
        hosts=hosts or {},
    )
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield Proxy(host, httpd.server_address[1], "https" if tls else "http", credentials, httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
