"""Real TLS servers on loopback for the tests: trustme certificates, port 0, one thread each.

The handshake runs in the per-connection thread (not in ``accept``), so a client that fails
verification never stalls the server; ``handshakes`` counts completed handshakes, which is
how tests see whether connections were reused.
"""

from __future__ import annotations

import datetime
import http.server
import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TLSServer

    def setup(self) -> None:
        with self.server.lock:
            self.server.connections += 1
            self.server.active += 1
        # Headers and body go out in separate writes: without this, delayed ACKs stall each one.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.tls is not None:
            self.request.settimeout(10)
            try:
                self.request = self.server.tls.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                self.request.close()
                with self.server.lock:
                    self.server.active -= 1
                raise
            with self.server.lock:
                self.server.handshakes += 1
                self.server.resumed += bool(self.request.session_reused)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            # socketserver closes the socket it accepted, which wrap_socket detached.
            if isinstance(self.request, ssl.SSLSocket):
                self.request.close()
            with self.server.lock:
                self.server.active -= 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.requests.append((self.command, self.path, dict(self.headers.items())))
        if parts.path == "/echo":
            payload = {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode("latin-1"),
                "client_cert": self._client_subject(),
            }
            self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        elif parts.path.startswith("/status/"):
            code = int(parts.path.rsplit("/", 1)[1])
            self._send(code, f"status {code}\n".encode(), {"X-Test": "yes"})
        elif parts.path == "/redirect":
            self._send(int(query.get("code", "302")), b"", {"Location": query["to"]})
        elif parts.path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif parts.path == "/lines":
            self._send(200, b"one\ntwo\nthree\n", {"Content-Type": "text/plain"})
        elif parts.path == "/RPC2":
            # Any XML-RPC call answers "pong": enough for xmlrpc.client to succeed.
            pong = b"<?xml version='1.0'?><methodResponse><params><param><value>"
            pong += b"<string>pong</string></value></param></params></methodResponse>"
            self._send(200, pong, {"Content-Type": "text/xml"})
        elif parts.path == "/close":
            # The server ends the connection and says so: http.client lets go of the socket.
            self.close_connection = True
            self._send(200, b"bye\n", {"Connection": "close"})
        elif parts.path == "/big":
            self._send(200, b"x" * int(query.get("size", "65536")))
        else:
            self._send(200, b"hello\n", {"Content-Type": "text/plain", "Set-Cookie": "a=1"})

    def _client_subject(self) -> str | None:
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        cert = self.connection.getpeercert()
        if not cert:
            return None
        for rdn in cert["subject"]:
            for key, value in rdn:  # type: ignore[str-unpack]
                if key == "commonName":
                    return str(value)
        return None

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _route


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext | None, family: int) -> None:
        self.address_family = family
        self.tls = tls
        self.lock = threading.Lock()
        self.handshakes = 0
        self.resumed = 0  # handshakes that resumed a TLS session
        self.connections = 0
        self.active = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that fail verification abort handshakes on purpose: not a server error.
        pass


@dataclass
class Server:
    host: str
    port: int
    scheme: str
    httpd: TLSServer = field(repr=False)

    def url(self, path: str = "/", host: str | None = None) -> str:
        name = host or self.host
        if ":" in name:
            name = f"[{name}]"
        return f"{self.scheme}://{name}:{self.port}{path}"

    @property
    def handshakes(self) -> int:
        """Completed TLS handshakes."""
        return self.httpd.handshakes

    def settle(self, connections: int, timeout: float = 10.0) -> None:
        """Wait until ``connections`` were accepted and every one of them was handled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.httpd.lock:
                if self.httpd.connections >= connections and self.httpd.active == 0:
                    return
            time.sleep(0.01)

    @property
    def connections(self) -> int:
        """Accepted TCP connections, whether or not their handshake completed."""
        return self.httpd.connections


@contextmanager
def serve(
    tls: ssl.SSLContext | None, host: str = "127.0.0.1", name: str | None = None
) -> Iterator[Server]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    httpd = TLSServer((host, 0), tls, family)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Server(name or host, httpd.server_address[1], "https" if tls else "http", httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def server_context(
    cert: trustme.LeafCert,
    *,
    max_tls: ssl.TLSVersion | None = None,
    client_ca: trustme.CA | None = None,
    chain: bool = True,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if chain:
        cert.configure_cert(ctx)
    else:
        # Leaf only: the server "forgets" its intermediate certificate.
        with cert.cert_chain_pems[0].tempfile() as leaf, cert.private_key_pem.tempfile() as key:
            ctx.load_cert_chain(leaf, key)
    if max_tls is not None:
        ctx.maximum_version = max_tls
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(ctx)
    return ctx


def cn_only_cert(
    ca: trustme.CA,
    common_name: str,
    dns_names: tuple[str, ...] = (),
    other_names: tuple[x509.GeneralName, ...] = (),
) -> tuple[bytes, bytes]:
    """A leaf signed by ``ca`` with a common name and, if given, these DNS names taken as
    written (trustme refuses odd ones such as ``ba*.ex.test``) and other subjectAltName
    entries (e-mail, URI, IP): (cert PEM, key PEM)."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if dns_names or other_names:
        names = [x509.DNSName(name) for name in dns_names] + list(other_names)
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def spki_pin(cert_pem: bytes) -> str:
    import base64
    import hashlib

    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
