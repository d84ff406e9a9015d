"""curl's habits in ``securehttp get``, ``--version`` and ``policies``: real ``python -m
securehttp`` processes (with the environment cleared as the autouse fixture clears it) against
real loopback TLS servers.  Where a terminal matters, the process runs on a pseudo-terminal."""

from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import platform
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import securehttp
from securehttp._cli.common import escape, redact_url, scrub
from securehttp._sources import env

from .conftest import _CLEARED, POLICIES
from .faultserver import fault_server
from .tlsserver import server_context

PASSWORD = "Pa55-w0rd-not-for-output"
TOKEN = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


class Result(NamedTuple):
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def shows(self, secret: str) -> bool:
        return secret in self.text or secret in self.err


def _environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not (_CLEARED.match(name) or name in env.VARIABLES)
    }


def cli(*argv: str, stdin: bytes | None = None) -> Result:
    done = subprocess.run(
        [sys.executable, "-m", "securehttp", *argv],
        env=_environment(),
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


# pty.fork() in a helper process of its own (one thread, so forking is safe): the command
# gets a controlling terminal, so getpass() can ask and isatty() is true.  The helper types
# ANSWER when a password prompt appears, then prints everything the terminal showed.
_ON_A_TERMINAL = r"""
import os, pty, sys
answer = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "securehttp", *sys.argv[2:]])
seen = b""
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
    if answer and b"password for user" in seen:
        os.write(fd, answer + b"\n")
        answer = b""
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def cli_on_a_terminal(*argv: str, answer: str = "") -> Result:
    done = subprocess.run(
        [sys.executable, "-c", _ON_A_TERMINAL, answer, *argv],
        env=_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def other_ca_pem(other_ca: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("other") / "other-ca.pem"
    other_ca.cert_pem.write_to_path(str(path))
    return path


def seen_by(server: Any) -> list[tuple[str, str, dict[str, str]]]:
    with server.httpd.lock:
        return list(server.httpd.requests)


# --- --cacert -----------------------------------------------------------------------------------


def test_cacert_trusts_that_file_and_verbose_names_it(good_server: Any, ca_pem: Path) -> None:
    result = cli("get", good_server.url("/"), "--cacert", str(ca_pem), "-v")
    path = ca_pem.resolve()
    assert (result.code, result.out) == (0, b"hello\n")
    assert f"trust=[{path}]  (--cacert {path})" in result.err
    assert f"extra_ca=[]  (--cacert {path})" in result.err


def test_cacert_with_another_ca_fails_with_a_probe_hint(
    good_server: Any, other_ca_pem: Path
) -> None:
    result = cli("get", good_server.url("/"), "--cacert", str(other_ca_pem))
    error, hint = result.err.splitlines()
    assert (result.code, result.out) == (1, b"")
    assert error.startswith("securehttp: certificate verification failed for 127.0.0.1:")
    assert f"(--cacert {other_ca_pem.resolve()})" in error
    assert hint.startswith(
        f"securehttp: hint: `securehttp probe https://127.0.0.1:{good_server.port}/`"
    )


def test_cacert_wins_over_the_policy_trust(
    good_server: Any, write_policy: Any, ca_pem: Path, other_ca_pem: Path
) -> None:
    # The policy alone would pass (test_cli covers it); --cacert replaces its trust.
    trusting = write_policy(f"version: 1\ndefaults:\n  trust: {ca_pem}\n")
    result = cli(
        "get", good_server.url("/"), "--policy", str(trusting), "--cacert", str(other_ca_pem)
    )
    assert result.code == 1
    assert f"(--cacert {other_ca_pem.resolve()})" in result.err
    assert seen_by(good_server) == []


def test_cacert_replaces_trust_in_every_rule_and_keeps_the_rest(
    write_policy: Any, ca_pem: Path, other_ca_pem: Path
) -> None:
    from securehttp._cli.get import _with_cacert

    pin = "sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s="
    path = write_policy(
        f"version: 1\nhosts:\n  a.example:\n    extra_ca: {ca_pem}\n    trust: system\n"
        f'    min_tls: "1.3"\n    pins: ["{pin}"]\n'
    )
    policy = securehttp.load_policy(path)
    before = policy.resolve("https://a.example/")
    after = _with_cacert(policy, str(other_ca_pem)).resolve("https://a.example/")
    source = f"--cacert {other_ca_pem.resolve()}"
    assert (before.trust, before.extra_ca) == (("system",), (str(ca_pem.resolve()),))
    assert (after.trust, after.extra_ca) == ((str(other_ca_pem.resolve()),), ())
    assert (after.sources["trust"], after.sources["extra_ca"]) == (source, source)
    assert (after.min_tls, after.pins, after.rule) == ("1.3", (pin,), "a.example")


def test_cacert_that_is_not_a_certificate_is_a_usage_error(
    good_server: Any, tmp_path: Path
) -> None:
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    result = cli("get", good_server.url("/"), "--cacert", str(not_pem))
    assert result.code == 2
    assert result.err == f"securehttp: error: --cacert {not_pem}: no PEM certificate in the file\n"
    assert good_server.connections == 0


# --- credentials ---------------------------------------------------------------------------------


def test_user_sends_basic_and_is_never_shown(good_server: Any, ca_pem: Path) -> None:
    result = cli(
        "get", good_server.url("/"), "--cacert", str(ca_pem), "-u", f"alice:{PASSWORD}", "-v", "-i"
    )
    [(_, _, headers)] = seen_by(good_server)
    assert result.code == 0
    assert headers["Authorization"] == f"Basic {TOKEN}"
    assert "> Authorization: ***" in result.err
    assert result.text.startswith("HTTP/1.1 200 OK\r\n")
    assert not result.shows(PASSWORD)
    assert not result.shows(TOKEN)


def test_url_userinfo_is_sent_as_basic_and_hidden_on_an_http_error(
    good_server: Any, ca_pem: Path
) -> None:
    url = good_server.url("/status/401").replace("://", f"://alice:{PASSWORD}@")
    result = cli("get", url, "--cacert", str(ca_pem), "-v", "-i")
    [(_, _, headers)] = seen_by(good_server)
    assert result.code == 1
    assert headers["Authorization"] == f"Basic {TOKEN}"
    assert f"HTTP 401 Unauthorized from {good_server.url('/status/401')}" in result.err
    assert not result.shows(PASSWORD)
    assert not result.shows(TOKEN)


def test_credentials_are_hidden_in_a_verbose_traceback(
    good_server: Any, other_ca_pem: Path
) -> None:
    url = good_server.url("/").replace("://", "://bob:url-secret-value@")
    result = cli("get", url, "--cacert", str(other_ca_pem), "-u", f"alice:{PASSWORD}", "--verbose")
    assert result.code == 1
    assert result.err.startswith("* decision:")
    assert "Traceback (most recent call last):" in result.err
    assert "securehttp: hint: `securehttp probe" in result.err
    for secret in (PASSWORD, TOKEN, "url-secret-value", "bob:"):
        assert not result.shows(secret), secret


def test_credentials_stay_with_their_origin_across_a_redirect(
    good_server: Any, ca_pem: Path
) -> None:
    # 127.0.0.1 -> localhost: the same server, but another origin.
    elsewhere = good_server.url("/", host="localhost")
    result = cli(
        "get",
        good_server.url(f"/redirect?to={elsewhere}"),
        "-L",
        "--cacert",
        str(ca_pem),
        "-u",
        f"alice:{PASSWORD}",
    )
    first, second = seen_by(good_server)
    assert (result.code, result.out) == (0, b"hello\n")
    assert first[2]["Authorization"] == f"Basic {TOKEN}"
    assert "Authorization" not in second[2]


def test_user_without_password_asks_on_a_terminal(
    good_server: Any, ca_pem: Path, tmp_path: Path
) -> None:
    target = tmp_path / "body"
    result = cli_on_a_terminal(
        "get",
        good_server.url("/"),
        "--cacert",
        str(ca_pem),
        "-u",
        "alice",
        "-o",
        str(target),
        answer=PASSWORD,
    )
    [(_, _, headers)] = seen_by(good_server)
    assert result.code == 0, result.text
    assert "Enter host password for user 'alice':" in result.text
    assert headers["Authorization"] == f"Basic {TOKEN}"
    assert not result.shows(PASSWORD)  # getpass turns the echo off
    assert target.read_bytes() == b"hello\n"
    assert "[##############################] 100%" in result.text  # stderr is a terminal


def test_user_without_password_and_no_terminal_is_a_usage_error(good_server: Any) -> None:
    result = cli("get", good_server.url("/"), "-u", "alice")
    assert result.code == 2
    assert result.err.startswith(
        "securehttp: error: -u 'alice' has no password and there is no terminal to ask for it\n"
    )
    assert good_server.connections == 0


# --- -k, -s, body and header escaping -----------------------------------------------------------


def test_insecure_is_refused_and_points_to_probe_and_waivers(good_server: Any) -> None:
    result = cli("get", "-k", good_server.url("/").replace("://", "://bob:pw-in-url@"))
    error, hint = result.err.splitlines()
    assert result.code == 2
    assert (
        error
        == "securehttp: error: -k/--insecure is refused: securehttp has no unreviewed off switch"
    )
    assert f"`securehttp probe {good_server.url('/')}`" in hint
    assert "verify: disabled, expires: YYYY-MM-DD, reason:" in hint
    assert "usage:" not in result.err
    assert not result.shows("pw-in-url")
    assert good_server.connections == 0


def test_silent_hides_the_progress_bar_only(good_server: Any, ca_pem: Path, tmp_path: Path) -> None:
    target = tmp_path / "body"
    result = cli_on_a_terminal(
        "get", good_server.url("/big?size=100000"), "--cacert", str(ca_pem), "-s", "-o", str(target)
    )
    assert (result.code, result.out) == (0, b"")
    assert target.read_bytes() == b"x" * 100000


@contextmanager
def raw_server(tls: ssl.SSLContext, response: bytes) -> Iterator[int]:
    """Answer every request with these exact bytes (what tlsserver's handler cannot send)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(10)
            try:
                with tls.wrap_socket(conn, server_side=True) as sock:
                    head = b""
                    while b"\r\n\r\n" not in head and len(head) < 65536:
                        head += sock.recv(4096) or b"\r\n\r\n"
                    sock.sendall(response)
            except OSError:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


HOSTILE = (
    b"HTTP/1.1 200 OK\x1b[2J\r\nX-Title: a\x1b]0;owned\x07b\r\nContent-Length: 13\r\n"
    + f"X-Echo: Basic {TOKEN}\r\n".encode()  # a server that repeats the credential it got
    + b"Connection: close\r\n\r\nbody\x1b[31mred\n"
)


def test_control_characters_from_the_server_are_escaped(localhost_cert: Any, ca_pem: Path) -> None:
    with raw_server(server_context(localhost_cert), HOSTILE) as port:
        url = f"https://127.0.0.1:{port}/"
        piped = cli("get", url, "--cacert", str(ca_pem), "-i", "-v", "-u", f"alice:{PASSWORD}")
        on_terminal = cli_on_a_terminal("get", url, "--cacert", str(ca_pem))
    assert piped.code == 0
    assert "X-Title: a\\x1b]0;owned\\x07b\r\n" in piped.text
    assert "< X-Title: a\\x1b]0;owned\\x07b\n" in piped.err
    assert piped.out.endswith(b"\r\n\r\nbody\x1b[31mred\n")  # piped: the body as sent
    assert "\x1b" not in piped.err
    assert "X-Echo: Basic ***\r\n" in piped.text
    assert not piped.shows(TOKEN)
    assert on_terminal.code == 0
    assert b"body\\x1b[31mred" in on_terminal.out  # a terminal never gets a raw ESC
    assert b"\x1b" not in on_terminal.out


# --- --json, -d, -I, -i ---------------------------------------------------------------------------


def test_json_posts_with_json_headers(good_server: Any, ca_pem: Path) -> None:
    result = cli("get", good_server.url("/echo"), "--cacert", str(ca_pem), "--json", '{"a": 1}')
    echo = json.loads(result.out)
    assert result.code == 0
    assert (echo["method"], echo["body"]) == ("POST", '{"a": 1}')
    assert echo["headers"]["Content-Type"] == "application/json"
    assert echo["headers"]["Accept"] == "application/json"


def test_json_from_stdin_with_another_method_and_accept(good_server: Any, ca_pem: Path) -> None:
    result = cli(
        "get", good_server.url("/echo"), "--cacert", str(ca_pem), "-X", "PUT", "--json", "@-",
        "-H", "Accept: application/problem+json", stdin=b'{"b": 2}',
    )  # fmt: skip
    echo = json.loads(result.out)
    assert (echo["method"], echo["body"]) == ("PUT", '{"b": 2}')
    assert echo["headers"]["Accept"] == "application/problem+json"


def test_json_and_data_are_refused_together_and_missing_files_too(
    good_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from securehttp._cli import main

    with pytest.raises(SystemExit) as both:
        main(["get", good_server.url("/"), "--json", "{}", "-d", "x"])
    missing = cli("get", good_server.url("/"), "--json", "@/nonexistent/body.json")
    assert both.value.code == 2
    assert "argument -d/--data: not allowed with argument --json" in capsys.readouterr().err
    assert missing.code == 2
    assert missing.err == (
        "securehttp: error: --json @/nonexistent/body.json: cannot read the file: "
        "No such file or directory\n"
    )
    assert good_server.connections == 0


def test_head_prints_the_headers_only(good_server: Any, ca_pem: Path) -> None:
    result = cli("get", "-I", good_server.url("/"), "--cacert", str(ca_pem), "--timeout", "5")
    [(method, _, _)] = seen_by(good_server)
    assert (result.code, method) == (0, "HEAD")
    assert result.text.startswith("HTTP/1.1 200 OK\r\n")
    assert "Content-Type: text/plain\r\n" in result.text
    assert result.text.endswith("\r\n\r\n")
    assert "hello" not in result.text


def test_head_with_a_body_is_a_usage_error(good_server: Any) -> None:
    result = cli("get", "-I", "-d", "x", good_server.url("/"))
    assert result.code == 2
    assert "-I/--head sends HEAD, which has no body" in result.err
    assert good_server.connections == 0


def test_include_puts_the_headers_before_the_body(good_server: Any, ca_pem: Path) -> None:
    result = cli("get", "-i", good_server.url("/"), "--cacert", str(ca_pem), "-d", "a=1")
    [(method, _, headers)] = seen_by(good_server)
    head, _, body = result.text.partition("\r\n\r\n")
    assert (result.code, method, body) == (0, "POST", "hello\n")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    assert "\r\nSet-Cookie: a=1" in head


# --- --timeout, --proxy ---------------------------------------------------------------------------


def test_timeout_gives_up_on_a_stalled_server(localhost_cert: Any, ca_pem: Path) -> None:
    with fault_server(server_context(localhost_cert), stall_handshake=True) as stalled:
        result = cli("get", stalled.url("/ok"), "--cacert", str(ca_pem), "--timeout", "0.5")
    assert result.code == 1
    assert result.err.startswith("securehttp: timed out")
    assert "Traceback" not in result.err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon"])
def test_timeout_must_be_positive_seconds(value: str) -> None:
    from securehttp._cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["get", "https://127.0.0.1:1/", "--timeout", value])
    assert exit_.value.code == 2


def test_proxy_is_used_never_ignored(good_server: Any, ca_pem: Path) -> None:
    # A proxy that is not listening: the request fails, and the origin is never contacted
    # directly.  (Through a working proxy: tests/test_proxies.py.)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://carol:proxy-secret@127.0.0.1:{closed.getsockname()[1]}"
    result = cli("get", good_server.url("/"), "--cacert", str(ca_pem), "--proxy", proxy)
    assert result.code == 1
    assert "proxy" in result.err
    assert not result.shows("proxy-secret")
    assert good_server.connections == 0


# --- --version, policies --------------------------------------------------------------------------


def test_version_names_every_part() -> None:
    result = cli("--version")
    urllib3 = importlib.metadata.version("urllib3")
    assert (result.code, result.err) == (0, "")
    assert result.text == (
        f"securehttp {securehttp.__version__} (Python {platform.python_version()}, "
        f"{ssl.OPENSSL_VERSION}, urllib3 {urllib3})\n"
    )


def test_policies_lists_every_shipped_file_with_its_first_comment() -> None:
    result = cli("policies")
    shipped = sorted(p for p in POLICIES.iterdir() if p.suffix in (".yaml", ".pem"))
    lines = result.text.splitlines()
    assert result.code == 0
    assert len(shipped) >= 7
    for path, line in zip(shipped, lines, strict=False):
        assert line.startswith(path.name)
        if path.suffix == ".yaml":
            first = path.read_text().splitlines()[0].lstrip("# ")
            assert line.endswith(first)
        else:
            assert "CA certificate (named by " in line
    assert lines[len(shipped) + 1].endswith(f"they are in {POLICIES}")


def test_policies_prints_a_policy_and_a_ca_file() -> None:
    policy = cli("policies", "migration")
    ca = cli("policies", "dev-ca.pem")
    path = cli("policies", "--path", "strict.yaml")
    assert (policy.code, policy.text) == (0, (POLICIES / "migration.yaml").read_text())
    assert (ca.code, ca.text) == (0, (POLICIES / "dev-ca.pem").read_text())
    assert (path.code, path.text) == (0, f"{POLICIES / 'strict.yaml'}\n")


def test_policies_unknown_name_lists_the_names() -> None:
    result = cli("policies", "dev-ca")  # a CA file is named with its suffix
    error, hint = result.err.splitlines()
    assert (result.code, result.out) == (2, b"")
    assert error == "securehttp: error: no ready policy or CA file named 'dev-ca'"
    assert "dev-ca.pem" in hint
    assert "migration.yaml" in hint


# --- the helpers, in-process ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "multiline"),
    [
        ("plain text", "plain text", "plain text"),
        ("a\x1b[2Jb", "a\\x1b[2Jb", "a\\x1b[2Jb"),
        ("tab\there\r\nnext", "tab\\x09here\\x0d\\x0anext", "tab\there\r\nnext"),
        ("c1\x9b31m del\x7f", "c1\\x9b31m del\\x7f", "c1\\x9b31m del\\x7f"),
        ("bidi\u202egnp.exe", "bidi\\u202egnp.exe", "bidi\\u202egnp.exe"),
        ("café ✓", "café ✓", "café ✓"),
    ],
)
def test_escape(text: str, line: str, multiline: str) -> None:
    assert escape(text) == line
    assert escape(text, multiline=True) == multiline


def test_scrub_hides_long_secrets_anywhere_and_short_ones_standing_alone() -> None:
    secrets = ["b", "a:b", "hunter2-long"]
    assert scrub("built by b, a:b, xhunter2-longx", secrets) == "built by ***, ***, x***x"
    assert scrub("no secrets here", []) == "no secrets here"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@h.example:8443/x?q=1", "https://***@h.example:8443/x?q=1"),
        ("https://u@h.example/", "https://***@h.example/"),
        ("https://h.example/a@b", "https://h.example/a@b"),
        ("http://[::1/", "http://[::1/"),
        ("http://u:p@[::1/", "http://***@[::1/"),
        ("https://user:pa/ss@h.example/", "https://***@h.example/"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
