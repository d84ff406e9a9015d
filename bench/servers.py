"""The benchmark's HTTPS servers on 127.0.0.1: nginx when installed, otherwise Python servers.

Three listeners:
- the main one (TLS 1.3, keep-alive): /small, /64k, /close (the server closes after each
  response), /big (a large file with Content-Length) and /big-chunked (the same bytes, chunked);
- two for session resumption, TLS 1.3 only and TLS 1.2 only, with session tickets and a
  session cache, serving /close.  Each records every request's ``?c=`` tag and whether its TLS
  session was resumed, which is how the resumption scenario learns what a client really did:
  the server's view is the same for every client, whatever the client exposes.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme


@dataclass
class Material:
    directory: Path
    ca_file: Path
    bundle_file: Path
    cert_file: Path
    key_file: Path
    big_size: int


def make_material(directory: Path, big_size: int) -> Material:
    import certifi

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost", "*.bench.test")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    bundle = directory / "bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + ca.cert_pem.bytes())
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert_file))
    leaf.private_key_pem.write_to_path(str(key_file))
    (directory / "64k.bin").write_bytes(os.urandom(65536))
    # Incompressible bytes without "<": nginx's SSI filter (how /big-chunked loses its
    # Content-Length) then finds no directive to act on and passes the body through unchanged.
    block = os.urandom(1 << 20).replace(b"<", b">")
    with (directory / "big.bin").open("wb") as out:
        for offset in range(0, big_size, len(block)):
            out.write(block[: big_size - offset])
    for path in directory.iterdir():
        path.chmod(0o644)
    directory.chmod(0o755)  # nginx's worker may run as another user
    return Material(directory, ca_file, bundle, cert_file, key_file, big_size)


@dataclass
class Endpoints:
    kind: str  # "nginx" or "Python fallback"
    base: str  # the main listener
    resume: dict[str, str]  # "TLS 1.3" / "TLS 1.2" -> the resumption listener
    handshakes: Callable[[str], list[bool]]  # ?c= tag -> per request: was the session resumed?


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60;
    log_format resume '$arg_c $ssl_protocol $ssl_session_reused';
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.3;
        add_header X-Conn $connection always;
        location = /small {{ default_type text/plain; return 200 "ok\\n"; }}
        location = /64k {{ default_type application/octet-stream; alias {d}/64k.bin; }}
        location = /close {{ keepalive_timeout 0; default_type text/plain; return 200 "ok\\n"; }}
        location = /big {{ default_type application/octet-stream; alias {d}/big.bin; }}
        location = /big-chunked {{
            default_type application/octet-stream;
            alias {d}/big.bin;
            ssi on;  # the SSI filter drops Content-Length, so nginx sends chunks
            ssi_types *;
        }}
    }}
{resume}
}}
"""

NGINX_RESUME = """
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols {protocol};
        ssl_session_tickets on;
        ssl_session_cache shared:{name}:1m;
        ssl_session_timeout 10m;
        access_log {log} resume;
        location = /close {{ keepalive_timeout 0; default_type text/plain; return 200 "ok\\n"; }}
    }}
"""

PROTOCOLS = {
    "TLS 1.3": ("TLSv1.3", ssl.TLSVersion.TLSv1_3),
    "TLS 1.2": ("TLSv1.2", ssl.TLSVersion.TLSv1_2),
}


def _log_reader(logs: list[Path]) -> Callable[[str], list[bool]]:
    def handshakes(tag: str) -> list[bool]:
        seen = []
        for log in logs:
            if log.exists():
                for line in log.read_text().splitlines():
                    fields = line.split()
                    if len(fields) == 3 and fields[0] == tag:
                        seen.append(fields[2] == "r")
        return seen

    return handshakes


@contextlib.contextmanager
def nginx_server(material: Material) -> Iterator[Endpoints]:
    port = free_port()
    d, cert, key = material.directory, material.cert_file, material.key_file
    resume, logs, ports = [], [], {}
    for label, (protocol, _) in PROTOCOLS.items():
        ports[label] = free_port()
        name = "RESUME" + protocol[-3:].replace(".", "")
        logs.append(d / f"{name}.log")
        resume.append(
            NGINX_RESUME.format(
                port=ports[label], cert=cert, key=key, protocol=protocol, name=name, log=logs[-1]
            )
        )
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF.format(d=d, port=port, cert=cert, key=key, resume="".join(resume)))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen(
        [nginx, "-p", str(d), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for listening in (port, *ports.values()):
            wait_for_port(listening, process)
        yield Endpoints(
            "nginx",
            f"https://127.0.0.1:{port}",
            {label: f"https://127.0.0.1:{p}" for label, p in ports.items()},
            _log_reader(logs),
        )
    finally:
        process.terminate()
        process.wait(10)


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"server exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counter = 0
    lock = threading.Lock()
    server: _QuietServer

    def setup(self) -> None:
        # Headers and body go out in separate writes: without this, delayed ACKs stall each one.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        with _Handler.lock:
            _Handler.counter += 1
            self.conn_id = _Handler.counter
        super().setup()

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/big-chunked":
            self._send_chunked(self.server.big)
            return
        body = {"/64k": self.server.small64k, "/big": self.server.big}.get(path, b"ok\n")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Conn", str(self.conn_id))
        if path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        if path == "/close" and self.server.log is not None:
            tag = urllib.parse.parse_qs(query).get("c", [""])[0]
            with _Handler.lock:
                self.server.log.append((tag, self.request.session_reused))

    def _send_chunked(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Conn", str(self.conn_id))
        self.end_headers()
        view = memoryview(body)
        for offset in range(0, len(body), 65536):
            piece = view[offset : offset + 65536]
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext
    small64k: bytes = b""
    big: bytes = b""
    log: list[tuple[str, bool]] | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _serve(tls: ssl.SSLContext, **attributes: Any) -> tuple[_QuietServer, threading.Thread]:
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    httpd.tls = tls
    for name, value in attributes.items():
        setattr(httpd, name, value)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread


def _server_context(material: Material, version: ssl.TLSVersion) -> ssl.SSLContext:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = tls.maximum_version = version
    tls.load_cert_chain(material.cert_file, material.key_file)
    return tls  # session tickets are on by default


@contextlib.contextmanager
def python_server(material: Material) -> Iterator[Endpoints]:
    log: list[tuple[str, bool]] = []
    main, _ = _serve(
        _server_context(material, ssl.TLSVersion.TLSv1_3),
        small64k=(material.directory / "64k.bin").read_bytes(),
        big=(material.directory / "big.bin").read_bytes(),
    )
    resume = {
        label: _serve(_server_context(material, version), log=log)[0]
        for label, (_, version) in PROTOCOLS.items()
    }

    def handshakes(tag: str) -> list[bool]:
        with _Handler.lock:
            return [reused for seen, reused in log if seen == tag]

    try:
        yield Endpoints(
            "Python fallback",
            f"https://127.0.0.1:{main.server_address[1]}",
            {label: f"https://127.0.0.1:{s.server_address[1]}" for label, s in resume.items()},
            handshakes,
        )
    finally:
        for httpd in (main, *resume.values()):
            httpd.shutdown()
            httpd.server_close()
