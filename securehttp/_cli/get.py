"""``securehttp get URL``: fetch a URL, verified as the policy says."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._policy import load_policy
from .common import EXIT_FAILURE, EXIT_OK, add_policy_option

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("get", help="fetch a URL, verified as the policy says")
    p.add_argument("url")
    p.add_argument("-o", "--output", metavar="FILE", help="write the body to FILE")
    add_policy_option(p)
    p.add_argument("-H", "--header", action="append", default=[], metavar="'Name: value'")
    p.add_argument("-X", "--method", metavar="METHOD")
    p.add_argument(
        "--data", metavar="DATA|@FILE", help="request body (POST unless -X says otherwise)"
    )
    p.add_argument(
        "--verbose", action="store_true", help="status, headers and decision on stderr; tracebacks"
    )
    p.set_defaults(func=_cmd_get)


def _cmd_get(args: argparse.Namespace) -> int:
    from .._client import Client

    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"-H {header!r}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    body = None
    if args.data is not None:
        body = Path(args.data[1:]).read_bytes() if args.data.startswith("@") else args.data.encode()
    method = args.method or ("POST" if body is not None else "GET")
    policy = load_policy(args.policy) if args.policy else None
    with (
        Client(policy) as client,
        client.request(method, args.url, body=body, headers=headers) as response,
    ):
        if args.verbose:
            print(f"{response.status} {response.reason}  {response.url}", file=sys.stderr)
            for name, value in response.headers.items():
                print(f"{name}: {value}", file=sys.stderr)
            print(str(response.decision), file=sys.stderr)
        if args.output:
            _download(response, Path(args.output))
        else:
            out = sys.stdout.buffer
            while chunk := response.read(65536):
                out.write(chunk)
            out.flush()
        if response.status >= 400:
            print(
                f"securehttp: HTTP {response.status} {response.reason} from {response.url}",
                file=sys.stderr,
            )
            return EXIT_FAILURE
    return EXIT_OK


def _download(response: object, path: Path) -> None:
    from .._response import Response

    assert isinstance(response, Response)
    total = int(response.headers.get("Content-Length") or 0)
    show = sys.stderr.isatty()
    done = 0
    with path.open("wb") as out:
        while chunk := response.read(65536):
            out.write(chunk)
            done += len(chunk)
            if show:
                print("\r" + _progress(done, total), end="", file=sys.stderr, flush=True)
    if show:
        print(file=sys.stderr)


def _progress(done: int, total: int, width: int = 30) -> str:
    if total <= 0:
        return f"{done / 1024:,.0f} KiB"
    filled = min(width, done * width // total)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done * 100 // total:3d}% {done / 1024:,.0f} KiB"
    )
