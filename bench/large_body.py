"""A large body, read whole and streamed: client CPU seconds and peak memory per client.

Every measurement runs in a fresh process (this file, run as a script with ``--child``), so
one client's allocations, caches and freed-but-kept memory never show up in another's
figures.  The child imports its client, makes one small request on the same connection (so
imports, the handshake and first-use costs are outside the measurement), then measures one
GET of the large body:
- CPU: getrusage(RUSAGE_SELF) user + system seconds, before and after;
- memory: the peak resident set above the resident set just before the request.  On Linux
  the peak is reset to the current size first (``/proc/self/clear_refs``), so an earlier,
  higher peak (imports) cannot hide the request's; elsewhere ru_maxrss is used, said so.
Whole reads are compared with raw urllib3's ``.data`` and streamed reads with its
``stream(65536)``, in the same repetition; the body is served with Content-Length and chunked.
"""

from __future__ import annotations

import gc
import json
import resource
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHUNK = 65536
BASELINE = "urllib3"
VARIANTS = {"Content-Length": "/big", "chunked": "/big-chunked"}

# --- the clients (imported only in the child that runs them) --------------------------------

Make = Callable[[str], Any]  # CA file -> session
Fetch = Callable[[Any, str], int]  # session, URL -> bytes received


def _securehttp(ca: str) -> Any:
    import securehttp

    return securehttp.Client(securehttp.Policy.from_dict({"defaults": {"trust": ca}}))


def _sh_whole(client: Any, url: str) -> int:
    with client.get(url) as response:
        return len(response.read())


def _sh_stream(client: Any, url: str) -> int:
    received = 0
    with client.get(url) as response:
        while chunk := response.read(CHUNK):
            received += len(chunk)
    return received


def _sh_iter_bytes(client: Any, url: str) -> int:
    with client.get(url) as response:
        return sum(len(chunk) for chunk in response.iter_bytes(CHUNK))


def _urllib3(ca: str) -> Any:
    import urllib3

    return urllib3.PoolManager(ca_certs=ca)


def _u3_whole(pool: Any, url: str) -> int:
    return len(pool.request("GET", url).data)


def _u3_stream(pool: Any, url: str) -> int:
    response = pool.request("GET", url, preload_content=False)
    received = sum(len(chunk) for chunk in response.stream(CHUNK))
    response.release_conn()
    return received


def _requests(ca: str) -> Any:
    import requests

    session = requests.Session()
    session.verify = ca
    return session


def _rq_whole(session: Any, url: str) -> int:
    return len(session.get(url).content)


def _rq_stream(session: Any, url: str) -> int:
    with session.get(url, stream=True) as response:
        return sum(len(chunk) for chunk in response.iter_content(CHUNK))


def _httpx(ca: str) -> Any:
    import httpx

    return httpx.Client(verify=ssl.create_default_context(cafile=ca))


def _hx_whole(client: Any, url: str) -> int:
    return len(client.get(url).content)


def _hx_stream(client: Any, url: str) -> int:
    with client.stream("GET", url) as response:
        return sum(len(chunk) for chunk in response.iter_bytes(CHUNK))


def _urllib_request(ca: str) -> Any:
    return ssl.create_default_context(cafile=ca)


def _ul_whole(context: Any, url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url, context=context) as response:  # noqa: S310 - loopback https
        return len(response.read())


def _ul_stream(context: Any, url: str) -> int:
    import urllib.request

    received = 0
    with urllib.request.urlopen(url, context=context) as response:  # noqa: S310 - loopback https
        while chunk := response.read(CHUNK):
            received += len(chunk)
    return received


# (client, mode) -> how to make it, how it reads, and what the table calls it
CLIENTS: dict[tuple[str, str], tuple[Make, Fetch, str]] = {
    ("securehttp", "whole"): (_securehttp, _sh_whole, "securehttp Client .read()"),
    ("securehttp", "streamed"): (_securehttp, _sh_stream, "securehttp Client read(65536) loop"),
    ("securehttp-iter", "streamed"): (_securehttp, _sh_iter_bytes, "securehttp iter_bytes(65536)"),
    ("urllib3", "whole"): (_urllib3, _u3_whole, "urllib3 .data"),
    ("urllib3", "streamed"): (_urllib3, _u3_stream, "urllib3 stream(65536)"),
    ("requests", "whole"): (_requests, _rq_whole, "requests .content"),
    ("requests", "streamed"): (_requests, _rq_stream, "requests iter_content(65536)"),
    ("httpx", "whole"): (_httpx, _hx_whole, "httpx .content"),
    ("httpx", "streamed"): (_httpx, _hx_stream, "httpx iter_bytes(65536)"),
    ("urllib", "whole"): (_urllib_request, _ul_whole, "urllib.request .read()"),
    ("urllib", "streamed"): (_urllib_request, _ul_stream, "urllib.request read(65536) loop"),
}


# --- the child ------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def child(client: str, mode: str, base: str, path: str, ca: str) -> dict[str, Any]:
    make, fetch, _ = CLIENTS[(client, mode)]
    session = make(ca)
    fetch(session, base + "/small")  # warm-up: imports, handshake, first-use costs
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # peak := current (Linux ≥ 4.0)
        before, peak_source = _status_kib("VmRSS") * 1024, "VmHWM"
    except OSError:
        before, peak_source = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss"
    usage, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    received = fetch(session, base + path)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    if peak_source == "VmHWM":
        peak = _status_kib("VmHWM") * 1024
    else:
        peak = after.ru_maxrss * 1024 if sys.platform != "darwin" else after.ru_maxrss
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {
        "cpu": cpu,
        "wall": wall,
        "peak_above_before": max(0, peak - before),
        "peak_source": peak_source,
        "bytes": received,
    }


def available(client: str) -> bool:
    if client == "securehttp-iter":
        from securehttp import Response

        return hasattr(Response, "iter_bytes")
    module = {"securehttp": "securehttp", "urllib": "urllib.request"}.get(client, client)
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# --- the parent -----------------------------------------------------------------------------


def _run_child(client: str, mode: str, base: str, path: str, ca: Path, size: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", client, mode, base, path, str(ca)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{client} {mode} {path}: {result.stderr.strip()[-2000:]}")
    figures: dict[str, Any] = json.loads(result.stdout)
    if figures["bytes"] != size:
        raise RuntimeError(f"{client} {mode} {path}: {figures['bytes']} bytes, not {size}")
    return figures


def check_variants(base: str, ca: Path) -> None:
    """The two variants are what they claim: one announces its length, the other is chunked."""
    import urllib3

    pool = urllib3.PoolManager(ca_certs=str(ca))
    for variant, path in VARIANTS.items():
        response = pool.request("GET", base + path, preload_content=False)
        chunked = "chunked" in response.headers.get("Transfer-Encoding", "").lower()
        response.close()
        if chunked != (variant == "chunked") or chunked == ("Content-Length" in response.headers):
            raise RuntimeError(f"{path} is not served as {variant}: {dict(response.headers)}")
    pool.clear()


def run(base: str, ca: Path, size: int, reps: int) -> dict[str, Any]:
    """Medians over ``reps`` repetitions; clients rotate their order in each one."""
    check_variants(base, ca)
    keys = [key for key in CLIENTS if available(key[0])]
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    peak_sources = set()
    for rep in range(reps):
        order = keys[rep % len(keys) :] + keys[: rep % len(keys)]
        for variant, path in VARIANTS.items():
            measured = {key: _run_child(*key, base, path, ca, size) for key in order}
            for (client, mode), figures in measured.items():
                baseline = measured[(BASELINE, mode)]
                peak_sources.add(figures["peak_source"])
                cell = samples.setdefault(f"{variant}, {mode}", {}).setdefault(
                    CLIENTS[(client, mode)][2], {}
                )
                for name, value in (
                    ("cpu_s", figures["cpu"]),
                    ("cpu_ratio", figures["cpu"] / baseline["cpu"]),
                    ("wall_s", figures["wall"]),
                    ("peak_mib", figures["peak_above_before"] / 2**20),
                    ("peak_per_body", figures["peak_above_before"] / size),
                ):
                    cell.setdefault(name, []).append(value)
    return {
        "body_bytes": size,
        "repetitions": reps,
        "peak_measured_with": sorted(peak_sources),
        "results": {
            scenario: {
                client: {name: statistics.median(values) for name, values in cell.items()}
                for client, cell in row.items()
            }
            for scenario, row in samples.items()
        },
    }


def render(figures: dict[str, Any]) -> str:
    size = figures["body_bytes"]
    label = f"{size // 2**20} MiB" if size >= 2**20 else f"{size // 1024} KiB"
    lines = [
        f"large body ({label}; one fresh process per measurement; median of "
        f"{figures['repetitions']}): client CPU (ratio to urllib3's in the same read mode and "
        f"repetition), and peak memory above the process's size before the request "
        f"(as a multiple of the body; measured with {', '.join(figures['peak_measured_with'])})",
        "",
        "| scenario | client | CPU | peak memory | wall |",
        "|---|---|---|---|---|",
    ]
    for scenario, row in figures["results"].items():
        for client, cell in row.items():
            lines.append(
                f"| {scenario} | {client} | {cell['cpu_s'] * 1e3:.0f} ms ({cell['cpu_ratio']:.2f}×) "
                f"| {cell['peak_mib']:.1f} MiB ({cell['peak_per_body']:.2f}× body) "
                f"| {cell['wall_s'] * 1e3:.0f} ms |"
            )
    return "\n".join(lines)


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    print(json.dumps(child(*sys.argv[2:7])))
elif __name__ == "__main__":
    sys.exit("run by bench/run.py: ./scripts/bench [--quick]")
