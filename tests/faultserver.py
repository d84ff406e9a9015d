"""A misbehaving HTTPS server built from raw sockets, one fault per path.

``/ok`` answers normally and keeps the connection alive, so a test can show the client's pool
is still usable after a fault on the same host.  Every loop is bounded and every socket has a
timeout; the server stops when the test ends.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class FaultServer:
    port: int
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    written: dict[str, int] = field(default_factory=dict)  # body bytes the client took, by path

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for p in self.requests if p == path)


BOMB = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)


def _read_head(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return method, path, headers, rest


def _ok(body: bytes = b"ok\n", extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def json_lines(size: int) -> bytes:
    """A JSON array of about ``size`` bytes, one 64-byte element a line."""
    line = b'"' + b"x" * 60 + b'",\n'
    return b"[\n" + line * max(0, (size - 6) // len(line)) + b"0\n]\n"


def json_flat(size: int) -> bytes:
    """A JSON string of ``size`` bytes with no newline anywhere (for ``readline``)."""
    return b'"' + b"x" * max(0, size - 2) + b'"'


def _chunked(body: bytes, size: int = 16384) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def _gzip_with_length(compressed: bytes) -> bytes:
    head = f"Content-Encoding: gzip\r\nContent-Length: {len(compressed)}\r\n\r\n"
    return head.encode() + compressed


# How a body is framed on the wire, one spelling per name: ``/framing/<name>/<size>`` answers
# with a ``json_lines(size)`` body (``<size>-flat``: ``json_flat(size)``) framed that way, then
# closes the connection.  The names with "+" carry a Content-Length that contradicts the real
# framing.
FRAMINGS: dict[str, Callable[[bytes], bytes]] = {
    "length": lambda b: f"Content-Length: {len(b)}\r\n\r\n".encode() + b,
    "chunked": lambda b: b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(b),
    "close": lambda b: b"Connection: close\r\n\r\n" + b,
    "gzip": lambda b: _gzip_with_length(gzip.compress(b)),
    "gzip-chunked": lambda b: (
        b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(gzip.compress(b))
    ),
    "huge-chunk": lambda b: b"Transfer-Encoding: chunked\r\n\r\n10000000000\r\n" + b,
    "length+chunked": lambda b: (
        b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(b)
    ),
    "chunked+length": lambda b: (
        b"Transfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n" + _chunked(b)
    ),
    "length+Chunked": lambda b: (
        b"Content-Length: 10\r\nTransfer-Encoding: Chunked\r\n\r\n" + _chunked(b)
    ),
    "length+chunked-spaced": lambda b: (
        b"Content-Length: 10\r\nTransfer-Encoding:   CHUNKED  \r\n\r\n" + _chunked(b)
    ),
    "length+huge-chunk": lambda b: (
        b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n10000000000\r\n" + b
    ),
    "two-lengths": lambda b: f"Content-Length: 10\r\nContent-Length: {len(b)}\r\n\r\n".encode() + b,
    "chunked-spaced": lambda b: b"Transfer-Encoding: chunked \r\n\r\n" + _chunked(b),
    "length-repeated": lambda b: (
        f"Content-Length: {len(b)}\r\nContent-Length: {len(b)}\r\n\r\n".encode() + b
    ),
    "length-listed": lambda b: f"Content-Length: {len(b)}, {len(b)}\r\n\r\n".encode() + b,
    "length-invalid": lambda b: b"Content-Length: 1e3\r\n\r\n" + b,
}


def _framed(path: str) -> bytes:
    _, _, name, spec = path.split("/", 3)
    size, _, shape = spec.partition("-")
    body = json_flat(int(size)) if shape == "flat" else json_lines(int(size))
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + FRAMINGS[name](body)


def _serve_connection(server: FaultServer, conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        while not stop.is_set():
            request = _read_head(conn)
            if request is None:
                return
            _, path, _, _ = request
            with server.lock:
                server.requests.append(path)
            if path == "/ok":
                conn.sendall(_ok())
                continue
            if path == "/truncated":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
                return
            if path == "/drip":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                for _ in range(200):  # at most 40 s; the client must give up long before
                    if stop.wait(0.2):
                        return
                    try:
                        conn.sendall(b"x")
                    except OSError:
                        return
                return
            if path == "/close-after-request":
                return
            if path == "/idle-close":
                conn.sendall(_ok(extra="Connection: keep-alive\r\n"))
                time.sleep(0.05)
                return  # closes the kept-alive connection while it idles in the client's pool
            if path == "/bad-status":
                conn.sendall(b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n")
                return
            if path in ("/endless-headers", "/continue-endless-headers"):
                if path.startswith("/continue"):
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for i in range(100_000):  # bounded: the client must stop reading first
                    try:
                        conn.sendall(f"X-Header-{i}: {'v' * 50}\r\n".encode())
                    except OSError:
                        return
                return
            if path == "/gzip-bomb":
                conn.sendall(
                    f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(BOMB)}\r\n\r\n".encode()
                    + BOMB
                )
                continue
            if path == "/stacked-encodings":
                body = b"hi"
                for _ in range(6):
                    body = gzip.compress(body)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip, gzip, gzip, gzip, gzip\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                continue
            if path == "/redirect-bomb":
                conn.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Encoding: gzip\r\n"
                    + f"Content-Length: {len(BOMB)}\r\n\r\n".encode()
                    + BOMB
                )
                continue
            if path == "/redirect-far":
                conn.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: https://"
                    + b"a" * 60_000
                    + b".test/\r\nContent-Length: 0\r\n\r\n"
                )
                continue
            if path == "/redirect-ats":
                conn.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: https://"
                    + b"@" * 60_000
                    + b"127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n"
                )
                continue
            if path == "/redirect-file":
                conn.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n"
                )
                continue
            if path == "/huge-length":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9000000000000\r\n\r\nshort")
                return
            if path == "/redirect-length-chunked":
                # A small Content-Length beside a 64 MiB chunked body: whoever trusts the
                # length and then reads "all of it" takes 64 MiB.
                conn.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 10\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                piece, sent = b"10000\r\n" + b"x" * 65536 + b"\r\n", 0
                with contextlib.suppress(OSError):
                    for _ in range(1024):
                        conn.sendall(piece)
                        sent += 65536
                    conn.sendall(b"0\r\n\r\n")
                with server.lock:
                    server.written[path] = sent
                return
            if path.startswith("/body/"):  # /body/<hex>: exactly these bytes, kept alive
                conn.sendall(_ok(bytes.fromhex(path[len("/body/") :])))
                continue
            if path.startswith("/framing/"):
                conn.sendall(_framed(path))
                return
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


@contextmanager
def fault_server(
    tls: ssl.SSLContext | None, *, stall_handshake: bool = False
) -> Iterator[FaultServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    server = FaultServer(listener.getsockname()[1])
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(30)
            if stall_handshake:
                held.append(conn)  # accepted, never answered
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def handle(conn: socket.socket) -> None:
        try:
            wrapped = tls.wrap_socket(conn, server_side=True) if tls is not None else conn
        except (ssl.SSLError, OSError):
            conn.close()
            return
        with contextlib.suppress(OSError, ValueError):
            _serve_connection(server, wrapped, stop)

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in held:
            conn.close()
