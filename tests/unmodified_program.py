"""A program written for the standard library alone: it never imports securehttp.

``python unmodified_program.py LABEL=https://host:port ...`` fetches each URL with
``urllib.request.urlopen``, ``http.client`` and ``xmlrpc.client`` (all without a context, as
most programs do) and prints one line per attempt: ``LABEL CLIENT ok`` or
``LABEL CLIENT refused ERRORTYPE``.  The tests run it unchanged under ``install()``,
``securehttp run`` and the startup hook.
"""

from __future__ import annotations

import http.client
import sys
import urllib.error
import urllib.parse
import urllib.request
import xmlrpc.client
from collections.abc import Callable


def via_urllib(url: str) -> None:
    with urllib.request.urlopen(url + "/", timeout=10) as response:  # noqa: S310 - test URLs
        assert response.read() == b"hello\n"


def via_http_client(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"hello\n"
    finally:
        conn.close()


def via_xmlrpc(url: str) -> None:
    with xmlrpc.client.ServerProxy(url + "/RPC2") as proxy:
        assert proxy.ping() == "pong"


CLIENTS = (("urllib", via_urllib), ("http.client", via_http_client), ("xmlrpc", via_xmlrpc))


def outcome(fetch: Callable[[str], None], url: str) -> str:
    try:
        fetch(url)
    except Exception as exc:
        error: BaseException = exc
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
            error = exc.reason
        return f"refused {type(error).__name__}"
    return "ok"


def main(argv: list[str]) -> None:
    for arg in argv:
        label, url = arg.split("=", 1)
        for name, fetch in CLIENTS:
            print(label, name, outcome(fetch, url), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
