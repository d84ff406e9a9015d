"""A new connection per request against servers with session tickets, TLS 1.3 and TLS 1.2.

The servers close the connection after every response (/close), so each request is a full or
resumed handshake.  Whether a handshake resumed a session is counted by the server (nginx's
``$ssl_session_reused`` in an access log, or the Python fallback's ``session_reused``): the
same evidence for every client, whatever the client exposes.  Each request carries a ``?c=``
tag naming the client and repetition, so the counts cannot mix.

Compared: securehttp's Client as it is, and with ``tls_resumption=True``/``False`` when it
accepts that keyword; raw urllib3 (the baseline: a new SSLContext per connection), urllib3
with one prebuilt SSLContext, and a reference that resumes by hand with the standard
library's ``session=``, to show what resumption can save on this machine.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import statistics
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import Endpoints

BASELINE = "urllib3 PoolManager"
NOT_IMPLEMENTED = "n/a (not implemented)"


@dataclass
class Contender:
    name: str
    make: Callable[[Path], Any]  # CA file -> session
    get: Callable[[Any, str], bytes]
    close: Callable[[Any], None] = lambda session: None


class ByHand:
    """http.client over a socket wrapped with the last connection's TLS session."""

    def __init__(self, ca: Path) -> None:
        self.context = ssl.create_default_context(cafile=str(ca))
        self.session: ssl.SSLSession | None = None

    def get(self, url: str) -> bytes:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port or 443
        raw = socket.create_connection((host, port))
        # As urllib3 and http.client do: otherwise Nagle holds the request behind TLS 1.2's
        # last handshake flight until the server's delayed ACK, 40 ms later.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with (
            raw,
            self.context.wrap_socket(raw, server_hostname=host, session=self.session) as tls,
        ):
            request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            tls.sendall(request.encode("ascii") + b"Connection: close\r\n\r\n")
            response = http.client.HTTPResponse(tls)
            response.begin()
            body = response.read()
            # TLS 1.3 tickets arrive after the handshake: only now does the session carry one.
            self.session = tls.session
        return body


def contenders() -> tuple[list[Contender], list[str]]:
    import urllib3

    import securehttp

    def policy(ca: Path) -> Any:
        return securehttp.Policy.from_dict({"defaults": {"trust": str(ca)}})

    def sh_get(client: Any, url: str) -> bytes:
        with client.get(url) as response:
            return bytes(response.read())

    def u3_get(pool: Any, url: str) -> bytes:
        return bytes(pool.request("GET", url).data)

    # Untyped on purpose: tls_resumption= may or may not exist in the securehttp measured.
    client_class: Any = securehttp.Client

    def sh_make(**settings: bool) -> Callable[[Path], Any]:
        return lambda ca: client_class(policy(ca), **settings)

    found = [Contender("securehttp Client", sh_make(), sh_get, lambda c: c.close())]
    missing = []
    for setting in (True, False):
        name = f"securehttp Client, tls_resumption={setting}"
        try:
            client_class(tls_resumption=setting).close()
        except TypeError:  # this securehttp does not have the setting (yet)
            missing.append(name)
        else:
            found.append(
                Contender(name, sh_make(tls_resumption=setting), sh_get, lambda c: c.close())
            )
    found += [
        Contender(BASELINE, lambda ca: urllib3.PoolManager(ca_certs=str(ca)), u3_get),
        Contender(
            "urllib3 + one SSLContext",
            lambda ca: urllib3.PoolManager(ssl_context=ssl.create_default_context(cafile=str(ca))),
            u3_get,
        ),
        Contender("ssl session= by hand (reference)", ByHand, lambda by, url: by.get(url)),
    ]
    return found, missing


def _server_saw(endpoints: Endpoints, tag: str, count: int) -> list[bool]:
    """The server's record for ``tag``, once all ``count`` requests are in it (logs lag)."""
    deadline = time.monotonic() + 10
    while len(seen := endpoints.handshakes(tag)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return seen


def measure(
    contender: Contender, endpoints: Endpoints, url: str, ca: Path, count: int, tag: str
) -> dict[str, float]:
    session = contender.make(ca)
    try:
        for _ in range(3):  # warm-up: imports, first context, and a session to resume
            contender.get(session, f"{url}/close?c=warm-{tag}")
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            contender.get(session, f"{url}/close?c={tag}")
        wall, used = time.perf_counter() - started, time.process_time() - cpu
    finally:
        contender.close(session)
    seen = _server_saw(endpoints, tag, count)
    if len(seen) != count:
        raise RuntimeError(f"{contender.name}: the server saw {len(seen)} of {count} requests")
    return {"wall": wall / count, "cpu": used / count, "resumed": sum(seen) / count}


def median_cells(cell: dict[str, list[float]]) -> dict[str, float]:
    return {key: statistics.median(values) for key, values in cell.items()}


def run(endpoints: Endpoints, ca: Path, count: int, reps: int) -> dict[str, Any]:
    found, missing = contenders()
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    for rep in range(reps):
        order = found[rep % len(found) :] + found[: rep % len(found)]
        for label, url in endpoints.resume.items():
            measured = {
                c.name: measure(
                    c, endpoints, url, ca, count, f"{found.index(c)}-{rep}-{label[-3:]}"
                )
                for c in order
            }
            for name, figures in measured.items():
                cell = samples.setdefault(label, {}).setdefault(name, {})
                for key, value in (
                    ("seconds", figures["wall"]),
                    ("ratio", figures["wall"] / measured[BASELINE]["wall"]),
                    ("cpu_s", figures["cpu"]),
                    ("cpu_ratio", figures["cpu"] / measured[BASELINE]["cpu"]),
                    ("resumed", figures["resumed"]),
                ):
                    cell.setdefault(key, []).append(value)
    return {
        "requests_per_measurement": count,
        "repetitions": reps,
        "results": {
            label: {
                "securehttp Client": median_cells(row.pop("securehttp Client")),
                **dict.fromkeys(missing, NOT_IMPLEMENTED),
                **{name: median_cells(cell) for name, cell in row.items()},
            }
            for label, row in samples.items()
        },
    }


def render(figures: dict[str, Any], server: str) -> str:
    lines = [
        f"new connection per request, session tickets on ({server}; {figures['requests_per_measurement']} "
        f"requests, median of {figures['repetitions']}): time and client CPU per request (ratio to "
        "raw urllib3's in the same repetition); resumed = handshakes the server saw resume a session",
        "",
        "| server | client | per request | client CPU | resumed |",
        "|---|---|---|---|---|",
    ]
    for label, row in figures["results"].items():
        for name, cell in row.items():
            if cell == NOT_IMPLEMENTED:
                lines.append(f"| {label} | {name} | {cell} | | |")
                continue
            lines.append(
                f"| {label} | {name} | {cell['seconds'] * 1e3:.2f} ms ({cell['ratio']:.2f}×) "
                f"| {cell['cpu_s'] * 1e3:.2f} ms ({cell['cpu_ratio']:.2f}×) | {cell['resumed']:.0%} |"
            )
    return "\n".join(lines)
