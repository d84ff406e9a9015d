"""securehttp against its peers on local HTTPS servers, as ratios to raw urllib3 in one run.

    ./scripts/bench                 # full run (installs nginx where it can), Markdown tables
    ./scripts/bench --quick         # seconds; what the test suite's smoke test runs
    ./scripts/bench --json out.json
    ./scripts/bench --only large-body   # or: requests, resumption (repeatable)

The servers (bench/servers.py) are nginx when installed, otherwise Python servers, said
loudly.  Only 127.0.0.1 is ever contacted: the 1,000-hostname scenario maps *.bench.test to
127.0.0.1 inside this process.  Clients are interleaved within each repetition (the order
rotates) and every figure is also a ratio to raw urllib3 measured in the same repetition; the
tables show medians.  The large-body scenario is bench/large_body.py (a fresh process per
client); the session-resumption scenario is bench/resumption.py.
"""

from __future__ import annotations

import argparse
import gc
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import large_body
import resumption
from servers import Material, make_material, nginx_server, python_server

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

Samples = dict[str, dict[str, list[float]]]  # scenario -> client -> one figure per repetition


def medians(samples: Samples) -> dict[str, dict[str, float]]:
    return {s: {n: statistics.median(v) for n, v in row.items()} for s, row in samples.items()}


@dataclass
class Core:
    """The request scenarios: per-request seconds and client CPU, and their ratios."""

    seconds: Samples = field(default_factory=dict)
    ratios: Samples = field(default_factory=dict)
    cpu: Samples = field(default_factory=dict)
    cpu_ratios: Samples = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    alive: dict[str, int] = field(default_factory=dict)
    hosts: int = 0

    def add(self, scenario: str, seconds: dict[str, float], cpu: dict[str, float] | None) -> None:
        for name, value in seconds.items():
            self.seconds.setdefault(scenario, {}).setdefault(name, []).append(value)
            self.ratios.setdefault(scenario, {}).setdefault(name, []).append(
                value / seconds[BASELINE]
            )
            if cpu is not None:
                self.cpu.setdefault(scenario, {}).setdefault(name, []).append(cpu[name])
                self.cpu_ratios.setdefault(scenario, {}).setdefault(name, []).append(
                    cpu[name] / cpu[BASELINE]
                )


def run_core(found: list[Adapter], base: str, material: Material, quick: bool, reps: int) -> Core:
    core = Core()
    for rep in range(reps):
        order = found[rep % len(found) :] + found[: rep % len(found)]
        for scenario in scenarios(quick):
            seconds: dict[str, float] = {}
            cpu: dict[str, float] = {}
            for adapter in order:
                seconds[adapter.name], cpu[adapter.name], note = run_scenario(
                    adapter, base, scenario, material
                )
                if note:
                    core.notes[(scenario.name, adapter.name)] = note
            core.add(scenario.name, seconds, cpu)
        cold = {a.name: cold_start(a, base, material) for a in order if a.cold}
        core.add("cold start (fresh process)", cold, None)
    core.hosts = 20 if quick else 1000
    core.alive = {
        a.name: contexts_for_hostnames(a, base, material, core.hosts)
        for a in found
        if a.name in ("securehttp Client", BASELINE, "requests Session", "httpx Client")
    }
    return core


PARTS = ("requests", "large-body", "resumption")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts and body, one repetition")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    parser.add_argument("--big-mib", type=int, help="large body size (default 100, quick 1)")
    args = parser.parse_args(argv)
    reps = 1 if args.quick else args.reps
    parts = args.only or PARTS
    big = (args.big_mib or (1 if args.quick else 100)) * 2**20
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
    out: dict[str, Any] = {"repetitions": reps, "skipped": skipped}
    tables = []
    core = Core()
    with tempfile.TemporaryDirectory(prefix="securehttp-bench-") as tmp:
        material = make_material(Path(tmp), big if "large-body" in parts else 1)
        use_nginx = args.server == "nginx" or (args.server == "auto" and shutil.which("nginx"))
        if not use_nginx:
            print(
                "!!! nginx is not installed: using the fallback Python server. Figures are far noisier\n"
                "!!! and dominated by the server; install nginx for meaningful ratios.",
                file=sys.stderr,
            )
        with nginx_server(material) if use_nginx else python_server(material) as endpoints:
            out["server"] = endpoints.kind
            if "requests" in parts:
                core = run_core(found, endpoints.base, material, args.quick, reps)
                lookup = policy_lookup(args.quick)
                tables += [render(found, core, lookup, reps, endpoints.kind, skipped)]
                tables += [render_cpu([a.name for a in found], core)]
                out.update(core_json(core, lookup))
            if "large-body" in parts:
                out["large_body"] = large_body.run(endpoints.base, material.ca_file, big, reps)
                tables.append(large_body.render(out["large_body"]))
            if "resumption" in parts:
                count = 5 if args.quick else 100
                out["resumption"] = resumption.run(endpoints, material.ca_file, count, reps)
                tables.append(resumption.render(out["resumption"], endpoints.kind))
    print("\n\n".join(tables))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    # A securehttp client that failed its warm-up check measured something else: not a result.
    failed = [n for (_, a), n in core.notes.items() if a.startswith("securehttp")]
    return 1 if any("NOT" in n or "invalid" in n for n in failed) else 0


def core_json(core: Core, lookup: dict[str, float]) -> dict[str, Any]:
    return {
        "seconds_per_request": medians(core.seconds),
        "client_cpu_seconds_per_request": medians(core.cpu),
        "client_cpu_ratio_to_urllib3": medians(core.cpu_ratios),
        "ratio_to_urllib3": medians(core.ratios),
        "notes": {f"{s} / {n}": v for (s, n), v in core.notes.items()},
        "contexts_after_hostnames": {"hosts": core.hosts, **core.alive},
        "policy_lookup_us": lookup,
    }


def policy_lookup(quick: bool) -> dict[str, float]:
    import bench_resolve

    if quick:
        return bench_resolve.measure(rules=1000, lookups=2000, repeats=1)
    return bench_resolve.measure(rules=10_000, lookups=20_000, repeats=5)


def render_cpu(names: list[str], core: Core) -> str:
    lines = [
        "client CPU per request (this process only, all threads; the server's work excluded), "
        "and its ratio to raw urllib3's in the same repetition:",
        "",
        "| scenario | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    ratios = medians(core.cpu_ratios)
    for scenario, row in medians(core.cpu).items():
        cells = [f"{row[name] * 1e6:.0f} µs ({ratios[scenario][name]:.2f}×)" for name in names]
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(
    found: list[Adapter],
    core: Core,
    lookup: dict[str, float],
    reps: int,
    server: str,
    skipped: list[str],
) -> str:
    names = [a.name for a in found]
    lines = [
        f"server: {server}; Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}; "
        f"median of {reps} repetition(s); ratio = time / raw urllib3 PoolManager's in the same repetition",
        "",
        "| scenario | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    ratios = medians(core.ratios)
    for scenario, row in medians(core.seconds).items():
        cells = []
        for name in names:
            if name not in row:
                cells.append("n/a")
                continue
            seconds, ratio = row[name], ratios[scenario][name]
            unit = f"{seconds * 1e3:.1f} ms" if seconds >= 0.01 else f"{seconds * 1e6:.0f} µs"
            note = core.notes.get((scenario, name))
            cells.append(f"{unit} ({ratio:.2f}×)" + (f" **{note}**" if note else ""))
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    lines.append(
        f"| SSLContexts alive after {core.hosts} hostnames, one setting | "
        + " | ".join(str(core.alive[n]) if n in core.alive else "n/a" for n in names)
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
