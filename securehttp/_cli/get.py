"""``securehttp get URL``: fetch a URL, verified as the policy says, with curl's habits.

What curl users type works (``-H``, ``-X``, ``-d``, ``--json``, ``-u``, ``-i``, ``-I``, ``-L``,
``-s``, ``-v``, ``--cacert``, ``--proxy``), except ``-k``: verification is never switched off
from a command line, only by a reviewed, expiring waiver in a policy.
"""

from __future__ import annotations

import argparse
import base64
import codecs
import contextlib
import math
import sys
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .._policy import Policy, load_policy
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    UsageError,
    add_policy_option,
    escape,
    redact_url,
    scrub,
)

if TYPE_CHECKING:
    from .._response import Response

__all__ = ["register"]

# Request headers whose values are credentials: shown as *** by --verbose.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

_EPILOG = """\
Redirects are always followed (up to 10), each hop verified by its own decision; -L is
accepted for curl habits.  Credentials (-u, URL userinfo, Authorization) go to the origin
they were given for only, and are never printed.  There is no -k: see
`securehttp probe URL` and grant an expiring waiver in a policy instead.
"""


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "get",
        help="fetch a URL, verified as the policy says (curl's -H -X -d --json -u -i -I ...)",
        description="Fetch a URL; the body goes to stdout (or -o FILE).",
        epilog=_EPILOG,
    )
    p.add_argument("url")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write the body to FILE (progress bar on a terminal)"
    )
    add_policy_option(p)
    p.add_argument(
        "--cacert",
        metavar="FILE",
        help="trust exactly the CA certificates in this PEM file (over the policy's trust)",
    )
    p.add_argument(
        "-H", "--header", action="append", default=[], metavar="'Name: value'", help="repeatable"
    )
    p.add_argument("-X", "--request", "--method", dest="method", metavar="METHOD")
    body = p.add_mutually_exclusive_group()
    body.add_argument(
        "-d",
        "--data",
        metavar="DATA|@FILE",
        help="request body, sent as is (@FILE reads a file, @- stdin); POST unless -X says "
        "otherwise; Content-Type: application/x-www-form-urlencoded unless -H sets one",
    )
    body.add_argument(
        "--json",
        metavar="DATA|@FILE",
        help="JSON request body with Content-Type and Accept: application/json; POST unless "
        "-X says otherwise",
    )
    p.add_argument(
        "-u",
        "--user",
        metavar="USER[:PASSWORD]",
        help="Basic authentication; without :PASSWORD it is asked for on the terminal",
    )
    p.add_argument(
        "-i", "--include", action="store_true", help="status line and headers before the body"
    )
    p.add_argument(
        "-I", "--head", action="store_true", help="send HEAD; print the status line and headers"
    )
    p.add_argument(
        "-L",
        "--location",
        action="store_true",
        help="accepted for curl habits: redirects are followed by default",
    )
    p.add_argument(
        "-s",
        "--silent",
        action="store_true",
        help="no progress bar (errors and warnings about weakened verification still show)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="the decision, request and response headers on stderr; tracebacks on errors",
    )
    p.add_argument("--proxy", metavar="URL", help="send the request through this proxy")
    p.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="connect and read timeout (default 10 and 30; the whole request stops at 300)",
    )
    p.add_argument(
        "-k",
        "--insecure",
        action="store_true",
        help="refused: there is no unreviewed off switch (see `securehttp probe`)",
    )
    p.set_defaults(func=_cmd_get)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _cmd_get(args: argparse.Namespace) -> int:
    from .._client import Client

    secrets: list[str] = args.secrets
    url, userinfo = _split_userinfo(args.url, secrets)
    if args.insecure:
        raise _insecure_refused(url)
    headers = _headers(args.header, secrets)
    method, body = _method_and_body(args, headers)
    credentials = args.user if args.user is not None else userinfo
    if credentials is not None:
        if any(name.lower() == "authorization" for name in headers):
            raise UsageError("give credentials once: -u or an Authorization header, not both")
        headers["Authorization"] = _basic(credentials, secrets)
    policy = _policy(args)
    options: dict[str, Any] = {"timeout": args.timeout}
    if args.proxy is not None:
        options["proxies"] = _proxies(args.proxy, secrets)
    with Client(policy, **options) as client:
        if args.verbose:
            _show_request(client.decide(url), method, url, headers, secrets)
        with client.request(method, url, body=body, headers=headers) as response:
            return _output(args, response, secrets)


def _output(args: argparse.Namespace, response: Response, secrets: list[str]) -> int:
    head = _head_lines(response, secrets)
    if args.verbose:
        for line in head:
            shown = line
            if line.split(":", 1)[0].lower() in _SECRET_HEADERS:
                shown = line.split(":", 1)[0] + ": ***"
            print(f"< {shown}", file=sys.stderr)
    with _destination(args.output) as out:
        if args.include or args.head:
            out.write("".join(f"{line}\r\n" for line in (*head, "")).encode())
        if not args.head:
            to_terminal = args.output is None and sys.stdout.isatty()
            progress = args.output is not None and not args.silent and sys.stderr.isatty()
            _copy(response, out, escaped=to_terminal, progress=progress)
        out.flush()
    if response.status >= 400:
        print(
            f"securehttp: HTTP {response.status} {escape(response.reason)} "
            f"from {redact_url(response.url)}",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


# --- building the request ---------------------------------------------------------------------


def _split_userinfo(url: str, secrets: list[str]) -> tuple[str, str | None]:
    """The URL without userinfo, and the userinfo (``user:password``, decoded), if any.

    The CLI turns URL userinfo into a Basic header itself, as curl does, so that the URL it
    passes on and prints never holds a credential.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url, None  # the client refuses it with a message of its own
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    secrets.append(userinfo)
    user, sep, password = userinfo.partition(":")
    decoded = urllib.parse.unquote(user) + sep + urllib.parse.unquote(password)
    secrets.append(urllib.parse.unquote(password))
    return urllib.parse.urlunsplit(parts._replace(netloc=hostport)), decoded


def _headers(given: Iterable[str], secrets: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for header in given:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            # The whole argument is not shown: it may be a credential with a typo.
            raise UsageError(f"-H {name.strip()[:40]!r}...: expected 'Name: value'")
        name, value = name.strip(), value.strip()
        if name.lower() in _SECRET_HEADERS:
            secrets.append(value)
            secrets.append(value.partition(" ")[2])  # the token without its scheme
        headers[name] = value
    return headers


def _has(headers: dict[str, str], name: str) -> bool:
    return any(key.lower() == name.lower() for key in headers)


def _method_and_body(args: argparse.Namespace, headers: dict[str, str]) -> tuple[str, bytes | None]:
    body: bytes | None = None
    if args.data is not None:
        body = _read_argument("--data", args.data)
        if not _has(headers, "Content-Type"):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif args.json is not None:
        body = _read_argument("--json", args.json)
        for name in ("Content-Type", "Accept"):
            if not _has(headers, name):
                headers[name] = "application/json"
    if args.head:
        if body is not None:
            raise UsageError("-I/--head sends HEAD, which has no body: drop -d/--json")
        if args.method is not None and args.method.upper() != "HEAD":
            raise UsageError(f"-I/--head sends HEAD, not {args.method}")
        return "HEAD", None
    method = args.method or ("POST" if body is not None else "GET")
    return method, body


def _read_argument(option: str, value: str) -> bytes:
    if not value.startswith("@"):
        return value.encode("utf-8")
    name = value[1:]
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"{option} @{name}: cannot read the file: {exc.strerror}") from None


def _basic(credentials: str, secrets: list[str]) -> str:
    user, sep, password = credentials.partition(":")
    if not sep:
        password = _ask_password(user)
    secrets.extend((credentials, password))
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    secrets.append(token)
    return f"Basic {token}"


def _ask_password(user: str) -> str:
    if not sys.stdin.isatty():
        raise UsageError(
            f"-u {user!r} has no password and there is no terminal to ask for it",
            hint="give -u USER:PASSWORD (or put it in the URL), or run from a terminal",
        )
    import getpass

    return getpass.getpass(f"Enter host password for user {user!r}: ")


def _policy(args: argparse.Namespace) -> Policy | None:
    policy = load_policy(args.policy) if args.policy else None
    if args.cacert is not None:
        policy = _with_cacert(policy, args.cacert)
    return policy


def _with_cacert(base: Policy | None, cafile: str) -> Policy:
    """``base`` (or the built-in defaults) with the trust replaced by ``cafile`` everywhere.

    curl's ``--cacert`` means "verify with these CAs", so host rules lose their own ``trust``
    and ``extra_ca`` too; everything else (level, pins, TLS versions) stays as the policy
    says.  Both settings name the file as their source, so ``--verbose`` and error messages
    show where the trust came from.
    """
    from .._frozen import FrozenDict
    from .._policy import Block, Setting

    path = Path(cafile).expanduser().resolve()
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise UsageError(f"--cacert {cafile}: cannot read the file: {exc.strerror}") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise UsageError(f"--cacert {cafile}: no PEM certificate in the file")
    source = f"--cacert {path}"
    trust = Setting((str(path),), source)
    no_extra = Setting((), source)

    def replaced(block: Block, settings: dict[str, Setting]) -> Block:
        kept = {k: v for k, v in block.settings.items() if k not in ("trust", "extra_ca")}
        return Block(
            block.path,
            FrozenDict({**kept, **settings}),
            block.pattern,
            block.expires,
            block.reason,
            block.source,
        )

    if base is None:
        defaults = Block("defaults", FrozenDict({"trust": trust, "extra_ca": no_extra}))
        return Policy(source=source, defaults=defaults)
    return Policy(
        source=base.source,
        version=base.version,
        lock=base.lock,
        defaults=replaced(base.defaults, {"trust": trust, "extra_ca": no_extra}),
        hosts=tuple(replaced(block, {}) for block in base.hosts),
    )


def _proxies(proxy: str, secrets: list[str]) -> dict[str, str]:
    parts = urllib.parse.urlsplit(proxy)
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        secrets.extend((userinfo, urllib.parse.unquote(userinfo.partition(":")[2])))
    # Client(proxies=...): beats the proxy variables and the policy; no no_proxy applies.
    return {"https": proxy, "http": proxy}


def _insecure_refused(url: str) -> UsageError:
    try:
        host = urllib.parse.urlsplit(url).hostname or "host.example"
    except ValueError:
        host = "host.example"
    return UsageError(
        "-k/--insecure is refused: securehttp has no unreviewed off switch",
        hint=(
            f"`securehttp probe {redact_url(url)}` shows why verification fails and what "
            "would fix it; to reach the host before it is fixed, grant a waiver in a policy "
            f'(hosts: {{"{host}": {{verify: disabled, expires: YYYY-MM-DD, reason: "ticket"}}}}) '
            "and pass it with --policy FILE"
        ),
    )


# --- showing the exchange ---------------------------------------------------------------------


def _show_request(
    decision: object, method: str, url: str, headers: dict[str, str], secrets: list[str]
) -> None:
    shown = str(decision).replace("\n  ", "\n*   ")
    print(f"* decision: {shown}", file=sys.stderr)
    print(f"> {method} {redact_url(url)}", file=sys.stderr)
    for name, value in headers.items():
        shown = "***" if name.lower() in _SECRET_HEADERS else scrub(value, secrets)
        print(f"> {name}: {shown}", file=sys.stderr)


def _head_lines(response: Response, secrets: list[str]) -> list[str]:
    # The transport speaks HTTP/1.1 (http.client under urllib3).
    lines = [f"HTTP/1.1 {response.status} {escape(response.reason)}"]
    for name, value in response.headers.items():
        # A server may echo a credential back in a header: scrub() hides it there too.
        lines.append(f"{escape(name)}: {scrub(value, secrets)}")
    return lines


@contextlib.contextmanager
def _destination(output: str | None) -> Iterator[IO[bytes]]:
    """stdout's bytes, or the -o file (closed afterwards)."""
    if output is None:
        yield sys.stdout.buffer
        return
    with Path(output).open("wb") as file:
        yield file


def _copy(response: Response, out: IO[bytes], *, escaped: bool, progress: bool) -> None:
    length = response.headers.get("Content-Length", "")
    total = int(length) if progress and length.isdigit() else 0
    decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")
    done = 0
    while chunk := response.read(65536):
        if escaped:
            # A terminal acts on escape sequences: a server's body must not drive it.
            out.write(escape(decoder.decode(chunk), multiline=True).encode())
        else:
            out.write(chunk)
        done += len(chunk)
        if progress:
            print("\r" + _progress(done, total), end="", file=sys.stderr, flush=True)
    if escaped:
        out.write(escape(decoder.decode(b"", final=True), multiline=True).encode())
    if progress:
        print(file=sys.stderr)


def _progress(done: int, total: int, width: int = 30) -> str:
    if total <= 0:
        return f"{done / 1024:,.0f} KiB"
    filled = min(width, done * width // total)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done * 100 // total:3d}% {done / 1024:,.0f} KiB"
    )
