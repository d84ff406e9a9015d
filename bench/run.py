"""securehttp against its peers on a local HTTPS server, as ratios to raw urllib3 in one run.

    ./scripts/bench                 # full run (installs nginx where it can), Markdown table
    ./scripts/bench --quick         # seconds; what the test suite's smoke test runs
    ./scripts/bench --json out.json

The server is nginx when installed (one worker, TLS 1.3, keep-alive; /small, /64k, and /close
with keepalive_timeout 0), otherwise a Python server, said loudly.  Only 127.0.0.1 is ever
contacted: the 1,000-hostname scenario maps *.bench.test to 127.0.0.1 inside this process.
Clients are interleaved within each repetition (the order rotates) and every figure is also a
ratio to raw urllib3 measured in the same repetition; the table shows medians.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.server
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

# --- the server -----------------------------------------------------------------------------


@dataclass
class Material:
    directory: Path
    ca_file: Path
    bundle_file: Path
    cert_file: Path
    key_file: Path


def make_material(directory: Path) -> Material:
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
    for path in directory.iterdir():
        path.chmod(0o644)
    directory.chmod(0o755)  # nginx's worker may run as another user
    return Material(directory, ca_file, bundle, cert_file, key_file)


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
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.3;
        add_header X-Conn $connection always;
        location = /small {{ default_type text/plain; return 200 "ok\\n"; }}
        location = /64k {{ default_type application/octet-stream; alias {d}/64k.bin; }}
        location = /close {{ keepalive_timeout 0; default_type text/plain; return 200 "ok\\n"; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_server(material: Material) -> Iterator[str]:
    port = free_port()
    conf = material.directory / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            d=material.directory, port=port, cert=material.cert_file, key=material.key_file
        )
    )
    process = subprocess.Popen(
        [
            shutil.which("nginx") or "/usr/sbin/nginx",
            "-p",
            str(material.directory),
            "-c",
            str(conf),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process)
        yield f"https://127.0.0.1:{port}"
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
    server: Any

    def setup(self) -> None:
        # Headers and body go out in separate writes: without this, delayed ACKs stall each one.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        with _Handler.lock:
            _Handler.counter += 1
            self.conn_id = _Handler.counter
        super().setup()

    def do_GET(self) -> None:
        body = self.server.big if self.path == "/64k" else b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Conn", str(self.conn_id))
        if self.path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext
    big: bytes

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextlib.contextmanager
def python_server(material: Material) -> Iterator[str]:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_3
    tls.load_cert_chain(material.cert_file, material.key_file)
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    httpd.tls = tls
    httpd.big = (material.directory / "64k.bin").read_bytes()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- the clients ----------------------------------------------------------------------------


@dataclass
class Adapter:
    name: str
    make: Callable[[Path], Any]  # CA file -> session
    get: Callable[[Any, str], tuple[bytes, str]]  # -> (body, X-Conn)
    close: Callable[[Any], None] = lambda session: None
    cold: str = ""  # code for the cold-start process; {ca} and {url} are filled in


def adapters() -> tuple[list[Adapter], list[str]]:
    import urllib.request

    import urllib3

    import securehttp

    found: list[Adapter] = []
    skipped: list[str] = []

    def sh_make(ca: Path) -> Any:
        return securehttp.Client(securehttp.Policy.from_dict({"defaults": {"trust": str(ca)}}))

    def sh_get(client: Any, url: str) -> tuple[bytes, str]:
        with client.get(url) as response:
            return response.read(), response.headers.get("X-Conn", "")

    found.append(
        Adapter(
            "securehttp Client",
            sh_make,
            sh_get,
            lambda c: c.close(),
            "import securehttp\n"
            "c = securehttp.Client(securehttp.Policy.from_dict({{'defaults': {{'trust': {ca!r}}}}}))\n"
            "c.get({url!r}).read()",
        )
    )

    def urlopen_make(ca: Path) -> Any:
        return securehttp.Policy.from_dict({"defaults": {"trust": str(ca)}})

    def urlopen_get(policy: Any, url: str) -> tuple[bytes, str]:
        with securehttp.urlopen(url, policy=policy) as response:
            return response.read(), response.headers.get("X-Conn", "")

    found.append(Adapter("securehttp.urlopen", urlopen_make, urlopen_get))

    def u3_get(pool: Any, url: str) -> tuple[bytes, str]:
        response = pool.request("GET", url)
        return response.data, response.headers.get("X-Conn", "")

    found.append(
        Adapter(
            "urllib3 PoolManager",
            lambda ca: urllib3.PoolManager(ca_certs=str(ca)),
            u3_get,
            lambda p: p.clear(),
            "import urllib3\np = urllib3.PoolManager(ca_certs={ca!r})\np.request('GET', {url!r}).data",
        )
    )
    found.append(
        Adapter(
            "urllib3 + one SSLContext",
            lambda ca: urllib3.PoolManager(ssl_context=ssl.create_default_context(cafile=str(ca))),
            u3_get,
            lambda p: p.clear(),
        )
    )
    try:
        import requests

        def rq_make(ca: Path) -> Any:
            session = requests.Session()
            session.verify = str(ca)
            return session

        def rq_get(session: Any, url: str) -> tuple[bytes, str]:
            response = session.get(url)
            return response.content, response.headers.get("X-Conn", "")

        found.append(
            Adapter(
                "requests Session",
                rq_make,
                rq_get,
                lambda s: s.close(),
                "import requests\ns = requests.Session()\ns.get({url!r}, verify={ca!r}).content",
            )
        )
    except ImportError:
        skipped.append("requests (not installed)")
    try:
        import httpx

        def hx_get(client: Any, url: str) -> tuple[bytes, str]:
            response = client.get(url)
            return response.content, response.headers.get("X-Conn", "")

        found.append(
            Adapter(
                "httpx Client",
                lambda ca: httpx.Client(verify=ssl.create_default_context(cafile=str(ca))),
                hx_get,
                lambda c: c.close(),
                "import httpx, ssl\nc = httpx.Client(verify=ssl.create_default_context(cafile={ca!r}))\n"
                "c.get({url!r}).content",
            )
        )
    except ImportError:
        skipped.append("httpx (not installed)")

    def ul_get(ctx: Any, url: str) -> tuple[bytes, str]:
        with urllib.request.urlopen(url, context=ctx) as response:  # noqa: S310 - https on loopback
            return response.read(), response.headers.get("X-Conn", "")

    found.append(
        Adapter(
            "urllib.request.urlopen",
            lambda ca: ssl.create_default_context(cafile=str(ca)),
            ul_get,
            cold="import ssl, urllib.request\n"
            "urllib.request.urlopen({url!r}, context=ssl.create_default_context(cafile={ca!r})).read()",
        )
    )
    return found, skipped


BASELINE = "urllib3 PoolManager"

# --- scenarios ------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    path: str
    count: int
    trust: str  # "ca" or "bundle"
    reuse: bool  # pooled clients should keep one connection
    threads: int = 1
    notes: dict[str, str] = field(default_factory=dict)


def scenarios(quick: bool) -> list[Scenario]:
    scale = 0.1 if quick else 1.0

    def n(count: int) -> int:
        return max(3, int(count * scale))

    return [
        Scenario("keep-alive small GET", "/small", n(400), "ca", True),
        Scenario("keep-alive 64 KiB GET", "/64k", n(200), "ca", True),
        Scenario("new connection, test CA only", "/close", n(60), "ca", False),
        Scenario("new connection, certifi + test CA", "/close", n(30), "bundle", False),
        Scenario("8 threads, one client", "/small", n(50), "ca", True, threads=8),
    ]


def check_connections(adapter: Adapter, session: Any, url: str, scenario: Scenario) -> str:
    """Warm up, and make sure the scenario measures what it says it measures."""
    ids = [adapter.get(session, url)[1] for _ in range(4)]
    if adapter.name == "urllib.request.urlopen":
        return ""  # never pools: every request is a new connection by design
    if scenario.reuse and len(set(ids)) != 1:
        return "connections NOT reused"
    if not scenario.reuse and len(set(ids)) != len(ids):
        return "connection reused (scenario invalid)"
    return ""


def run_scenario(
    adapter: Adapter, base: str, scenario: Scenario, material: Material
) -> tuple[float, float, str]:
    """Wall and client-CPU seconds per request, and a note if the warm-up check failed.

    CPU time counts only this process (all its threads): the client's own work, steadier
    than wall time on a shared machine, since the server runs in another process.
    """
    ca = material.ca_file if scenario.trust == "ca" else material.bundle_file
    session = adapter.make(ca)
    url = base + scenario.path
    try:
        note = check_connections(adapter, session, url, scenario)
        if scenario.threads == 1:
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(scenario.count):
                adapter.get(session, url)
            wall, used = time.perf_counter() - started, time.process_time() - cpu
            return wall / scenario.count, used / scenario.count, note

        barrier = threading.Barrier(scenario.threads + 1)

        def work() -> None:
            barrier.wait()
            for _ in range(scenario.count):
                adapter.get(session, url)

        workers = [threading.Thread(target=work) for _ in range(scenario.threads)]
        for worker in workers:
            worker.start()
        barrier.wait()
        started, cpu = time.perf_counter(), time.process_time()
        for worker in workers:
            worker.join()
        total = scenario.count * scenario.threads
        return (time.perf_counter() - started) / total, (time.process_time() - cpu) / total, note
    finally:
        adapter.close(session)


def cold_start(adapter: Adapter, base: str, material: Material) -> float:
    code = adapter.cold.format(ca=str(material.ca_file), url=base + "/small")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SSL_CERT", "SECUREHTTP", "REQUESTS_CA", "CURL_CA"))
    }
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, capture_output=True, timeout=60
    )
    return time.perf_counter() - started


def contexts_for_hostnames(adapter: Adapter, base: str, material: Material, hosts: int) -> int:
    """SSLContexts alive after one request to each of ``hosts`` names sharing one setting."""
    port = base.rsplit(":", 1)[1]
    real = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".bench.test"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    from securehttp._verification import contexts

    contexts.clear()  # count securehttp's context from zero, like every other client's
    gc.collect()
    before = sum(isinstance(o, ssl.SSLContext) for o in gc.get_objects())
    session = adapter.make(material.ca_file)
    socket.getaddrinfo = loopback_only
    try:
        for i in range(hosts):
            adapter.get(session, f"https://h{i}.bench.test:{port}/small")
        gc.collect()
        return sum(isinstance(o, ssl.SSLContext) for o in gc.get_objects()) - before
    finally:
        socket.getaddrinfo = real
        adapter.close(session)


# --- the run --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts, one repetition")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    args = parser.parse_args(argv)
    reps = 1 if args.quick else args.reps
    warnings.simplefilter("ignore")  # peers' deprecation notices are not results
    # Each client must see only the trust it is given: requests lets REQUESTS_CA_BUNDLE beat
    # session.verify (psf/requests#3829), and these machines export it.
    for name in list(os.environ):
        if (
            name.startswith(("SSL_CERT_", "SECUREHTTP_"))
            or name.endswith("_CA_BUNDLE")
            or name == "PYTHONHTTPSVERIFY"
        ):
            del os.environ[name]

    found, skipped = adapters()
    names = [a.name for a in found]
    results: dict[str, dict[str, list[float]]] = {}
    ratios: dict[str, dict[str, list[float]]] = {}
    cpu_ratios: dict[str, dict[str, list[float]]] = {}
    cpu_times: dict[str, dict[str, list[float]]] = {}
    notes: dict[tuple[str, str], str] = {}
    with tempfile.TemporaryDirectory(prefix="securehttp-bench-") as tmp:
        material = make_material(Path(tmp))
        use_nginx = args.server == "nginx" or (args.server == "auto" and shutil.which("nginx"))
        server = nginx_server(material) if use_nginx else python_server(material)
        if not use_nginx:
            print(
                "!!! nginx is not installed: using the fallback Python server. Figures are far noisier",
                file=sys.stderr,
            )
            print(
                "!!! and dominated by the server; install nginx for meaningful ratios.",
                file=sys.stderr,
            )
        with server as base:
            for rep in range(reps):
                order = found[rep % len(found) :] + found[: rep % len(found)]
                for scenario in scenarios(args.quick):
                    row = results.setdefault(scenario.name, {})
                    measured: dict[str, float] = {}
                    cpu: dict[str, float] = {}
                    for adapter in order:
                        seconds, used, note = run_scenario(adapter, base, scenario, material)
                        measured[adapter.name] = seconds
                        cpu[adapter.name] = used
                        row.setdefault(adapter.name, []).append(seconds)
                        if note:
                            notes[(scenario.name, adapter.name)] = note
                    for name, seconds in measured.items():
                        ratios.setdefault(scenario.name, {}).setdefault(name, []).append(
                            seconds / measured[BASELINE]
                        )
                        cpu_ratios.setdefault(scenario.name, {}).setdefault(name, []).append(
                            cpu[name] / cpu[BASELINE]
                        )
                        cpu_times.setdefault(scenario.name, {}).setdefault(name, []).append(
                            cpu[name]
                        )
                cold = [a for a in order if a.cold]
                measured = {a.name: cold_start(a, base, material) for a in cold}
                for name, seconds in measured.items():
                    results.setdefault("cold start (fresh process)", {}).setdefault(
                        name, []
                    ).append(seconds)
                    ratios.setdefault("cold start (fresh process)", {}).setdefault(name, []).append(
                        seconds / measured[BASELINE]
                    )
            hosts = 20 if args.quick else 1000
            alive = {
                a.name: contexts_for_hostnames(a, base, material, hosts)
                for a in found
                if a.name
                in ("securehttp Client", "urllib3 PoolManager", "requests Session", "httpx Client")
            }
        server_name = "nginx" if use_nginx else "Python fallback"

    lookup = policy_lookup(args.quick)
    report = render(names, results, ratios, notes, alive, hosts, lookup, reps, server_name, skipped)
    print(report)
    print()
    print(render_cpu(names, cpu_times, cpu_ratios))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "server": server_name,
                    "repetitions": reps,
                    "seconds_per_request": {
                        s: {n: statistics.median(v) for n, v in r.items()}
                        for s, r in results.items()
                    },
                    "client_cpu_seconds_per_request": {
                        sc: {n: statistics.median(v) for n, v in r.items()}
                        for sc, r in cpu_times.items()
                    },
                    "client_cpu_ratio_to_urllib3": {
                        sc: {n: statistics.median(v) for n, v in r.items()}
                        for sc, r in cpu_ratios.items()
                    },
                    "ratio_to_urllib3": {
                        s: {n: statistics.median(v) for n, v in r.items()}
                        for s, r in ratios.items()
                    },
                    "notes": {f"{s} / {n}": v for (s, n), v in notes.items()},
                    "contexts_after_hostnames": {"hosts": hosts, **alive},
                    "policy_lookup_us": lookup,
                    "skipped": skipped,
                },
                indent=2,
            )
        )
    return (
        1
        if any(
            "NOT" in n or "invalid" in n
            for (s, a), n in notes.items()
            if a.startswith("securehttp")
        )
        else 0
    )


def policy_lookup(quick: bool) -> dict[str, float]:
    import bench_resolve

    if quick:
        return bench_resolve.measure(rules=1000, lookups=2000, repeats=1)
    return bench_resolve.measure(rules=10_000, lookups=20_000, repeats=5)


def render_cpu(
    names: list[str],
    cpu_times: dict[str, dict[str, list[float]]],
    cpu_ratios: dict[str, dict[str, list[float]]],
) -> str:
    lines = [
        "client CPU per request (this process only, all threads; the server's work excluded), "
        "and its ratio to raw urllib3's in the same repetition:",
        "",
        "| scenario | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for scenario, row in cpu_times.items():
        cells = []
        for name in names:
            seconds = statistics.median(row[name])
            ratio = statistics.median(cpu_ratios[scenario][name])
            cells.append(f"{seconds * 1e6:.0f} µs ({ratio:.2f}×)")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(
    names: list[str],
    results: dict[str, dict[str, list[float]]],
    ratios: dict[str, dict[str, list[float]]],
    notes: dict[tuple[str, str], str],
    alive: dict[str, int],
    hosts: int,
    lookup: dict[str, float],
    reps: int,
    server: str,
    skipped: list[str],
) -> str:
    lines = [
        f"server: {server}; Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}; "
        f"median of {reps} repetition(s); ratio = time / raw urllib3 PoolManager's in the same repetition",
        "",
        "| scenario | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for scenario, row in results.items():
        cells = []
        for name in names:
            if name not in row:
                cells.append("n/a")
                continue
            seconds = statistics.median(row[name])
            ratio = statistics.median(ratios[scenario][name])
            unit = f"{seconds * 1e3:.1f} ms" if seconds >= 0.01 else f"{seconds * 1e6:.0f} µs"
            note = notes.get((scenario, name))
            cells.append(f"{unit} ({ratio:.2f}×)" + (f" **{note}**" if note else ""))
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    lines.append(
        f"| SSLContexts alive after {hosts} hostnames, one setting | "
        + " | ".join(str(alive[n]) if n in alive else "n/a" for n in names)
        + " |"
    )
    lines.append("")
    lines.append(
        f"policy lookup, {int(lookup['rules'])} rules: {lookup['cached_us']:.2f} µs cached, "
        f"{lookup['cold_us']:.2f} µs uncached (first host of its rule), "
        f"{lookup['uncached_us']:.2f} µs uncached (rule merged before)"
    )
    if skipped:
        lines.append("skipped: " + ", ".join(skipped))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
