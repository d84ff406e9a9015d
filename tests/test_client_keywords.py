"""The everyday keywords of ``Client`` (SPEC §1, §6, §7), against real loopback TLS servers:
``params``, ``body`` (streamed), ``json``, ``auth`` and URL userinfo, ``headers`` and the
default ``User-Agent``, ``cookies``, ``pool_size``; credentials kept to their origin across
redirects; arguments checked when they are given.
"""

from __future__ import annotations

import base64
import http.cookiejar
import http.server
import io
import json
import os
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import securehttp
from securehttp import Client, Policy, URLError

from .tlsserver import Handler, TLSServer, server_context

# --- a server that shows what arrived --------------------------------------------------------


class Recorded:
    """One request as the server read it."""

    def __init__(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes, chunked: bool
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.chunked = chunked

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


class EchoHandler(Handler):
    """``/redirect?to=URL&code=N`` redirects; ``/drop`` reads the request and closes the
    connection without an answer; ``set=COOKIE`` in any query adds a
    ``Set-Cookie``; everything else answers 200.  Chunked request bodies are decoded, and
    ``server.first_chunk`` is set when the first chunk has arrived."""

    server: EchoServer

    def _body(self) -> tuple[bytes, bool]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            pieces: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return b"".join(pieces), True
                pieces.append(self.rfile.read(size))
                self.rfile.readline()
                self.server.first_chunk.set()
        length = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(length) if length else b""), False

    def _echo(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        body, chunked = self._body()
        with self.server.lock:
            self.server.seen.append(
                Recorded(self.command, self.path, list(self.headers.items()), body, chunked)
            )
        if parts.path == "/drop":
            self.close_connection = True  # the whole request was read; no answer
            return
        extra = [("Set-Cookie", cookie) for cookie in query.get("set", [])]
        if parts.path == "/redirect":
            status = int(query.get("code", ["302"])[0])
            extra.append(("Location", query["to"][0]))
            payload = b""
        else:
            status, payload = 200, b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _echo


class EchoServer(TLSServer):
    def __init__(self, tls: ssl.SSLContext) -> None:
        self.seen: list[Recorded] = []
        self.first_chunk = threading.Event()
        super().__init__(("127.0.0.1", 0), tls, __import__("socket").AF_INET)
        self.RequestHandlerClass = EchoHandler

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.server_address[1]}{path}"

    @property
    def last(self) -> Recorded:
        with self.lock:
            return self.seen[-1]


@contextmanager
def echo_server(cert: Any) -> Iterator[EchoServer]:
    server = EchoServer(server_context(cert))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def server(localhost_cert: Any) -> Iterator[EchoServer]:
    with echo_server(localhost_cert) as s:
        yield s


@pytest.fixture
def other_port(localhost_cert: Any) -> Iterator[EchoServer]:
    """A second server on the same host: another origin (the port differs), same domain."""
    with echo_server(localhost_cert) as s:
        yield s


@pytest.fixture
def client(trusting: Policy) -> Iterator[Client]:
    with Client(trusting) as c:
        yield c


def redirect(server: EchoServer, to: str, code: int = 302, **query: str) -> str:
    return server.url("/redirect?" + urllib.parse.urlencode({"to": to, "code": code, **query}))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def send(client: Client, *args: Any, **kwargs: Any) -> None:
    with client.request(*args, **kwargs) as response:
        response.read()


# --- params ------------------------------------------------------------------------------------


def test_params_are_added_after_the_existing_query(client: Client, server: EchoServer) -> None:
    url = server.url("/p?a=1#fragment")
    with client.get(url, params={"b": "two words", "c": ["x", "é"], "n": 3, "skip": None}) as r:
        assert r.url == server.url("/p?a=1&b=two+words&c=x&c=%C3%A9&n=3#fragment")
    assert server.last.path == "/p?a=1&b=two+words&c=x&c=%C3%A9&n=3"
    client.get(server.url("/p"), params=[("k", "1"), ("k", "2")]).close()
    assert server.last.path == "/p?k=1&k=2"


def test_no_params_leaves_the_url_alone(client: Client, server: EchoServer) -> None:
    client.get(server.url("/p?a=1&a=1"), params={}).close()
    assert server.last.path == "/p?a=1&a=1"
    client.get(server.url("/p")).close()
    assert server.last.path == "/p"


@pytest.mark.parametrize("params", ["a=1", 42, [("a",)], [(1, "a")], {"a": object()}])
def test_params_of_the_wrong_shape_are_refused_before_sending(
    client: Client, server: EchoServer, params: Any
) -> None:
    with pytest.raises(TypeError, match="params="):
        client.get(server.url("/p"), params=params)
    assert server.seen == []


# --- json --------------------------------------------------------------------------------------


def test_json_is_serialised_with_its_content_type(client: Client, server: EchoServer) -> None:
    value = {"name": "é", "items": [1, 2.5, None, True]}
    send(client, "POST", server.url("/j"), json=value)
    assert json.loads(server.last.body) == value
    assert server.last.header("Content-Type") == "application/json"
    assert server.last.header("Content-Length") == str(len(server.last.body))
    send(client, "PATCH", server.url("/j"), json=[], headers={"content-type": "application/x+json"})
    assert (server.last.body, server.last.header("Content-Type")) == (b"[]", "application/x+json")


def test_json_that_is_not_json_is_refused(client: Client, server: EchoServer) -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        client.post(server.url("/j"), json={"x": float("nan")})
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.post(server.url("/j"), json={"x": object()})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="body= or json="):
        client.post(server.url("/j"), b"x", json={})
    assert server.seen == []


# --- body --------------------------------------------------------------------------------------


def test_generator_body_is_streamed_chunked_and_arrives_whole(
    client: Client, server: EchoServer
) -> None:
    def pieces() -> Iterator[bytes]:
        yield b"first "
        # Only a client that sends while it reads gets past this: one that read the whole
        # generator first would still be waiting here when the wait ends.
        assert server.first_chunk.wait(10), "the first piece was not sent before the next"
        yield b""  # empty pieces are skipped: they would end a chunked body
        yield b"second " * 10_000

    send(client, "PUT", server.url("/up"), body=pieces())
    assert server.last.chunked
    assert server.last.header("Content-Length") is None
    assert server.last.body == b"first " + b"second " * 10_000


def test_bytes_str_and_files_go_with_a_content_length(
    client: Client, server: EchoServer, tmp_path: Path
) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(b"skip" + b"data" * 50_000)
    cases: list[tuple[Any, bytes]] = [
        (b"raw", b"raw"),
        ("é", "é".encode()),
        (bytearray(b"ba"), b"ba"),
        (io.BytesIO(b"from memory"), b"from memory"),
    ]
    for body, expected in cases:
        send(client, "POST", server.url("/up"), body=body)
        assert (server.last.body, server.last.chunked) == (expected, False)
        assert server.last.header("Content-Length") == str(len(expected))
    with path.open("rb") as file:
        file.read(4)  # a file is sent from where it stands
        send(client, "POST", server.url("/up"), body=file)
    assert server.last.body == b"data" * 50_000
    assert server.last.header("Content-Length") == "200000"


def test_a_pipe_is_streamed_chunked(client: Client, server: EchoServer) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"through a pipe")
    os.close(write_end)
    with open(read_end, "rb") as pipe:
        send(client, "POST", server.url("/up"), body=pipe)
    assert (server.last.body, server.last.chunked) == (b"through a pipe", True)


def test_bodies_of_the_wrong_kind_are_refused_before_sending(
    client: Client, server: EchoServer, tmp_path: Path
) -> None:
    (tmp_path / "t.txt").write_text("text")
    with (tmp_path / "t.txt").open() as text, pytest.raises(TypeError, match="binary mode"):
        client.post(server.url("/up"), text)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="for JSON pass json="):
        client.post(server.url("/up"), {"a": "b"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="not int"):
        client.post(server.url("/up"), 42)  # type: ignore[arg-type]
    assert server.seen == []


def test_a_failing_body_raises_the_callers_own_error(client: Client, server: EchoServer) -> None:
    def broken() -> Iterator[bytes]:
        yield b"start"
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away") as caught:
        client.put(server.url("/up"), broken())
    assert not isinstance(caught.value, URLError)
    with pytest.raises(TypeError, match="must yield bytes"):
        client.put(server.url("/up"), iter(["text"]))  # type: ignore[arg-type]
    send(client, "GET", server.url("/after"))  # the client is still usable
    assert server.last.path == "/after"


# --- retries and redirects with a streamed body ---------------------------------------------


def one_shot() -> Iterator[bytes]:
    yield b"charge "
    yield b"the card"


def drops(server: EchoServer) -> list[Recorded]:
    with server.lock:
        return [r for r in server.seen if r.path == "/drop"]


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_started_generator_body_is_never_retried(
    client: Client, server: EchoServer, method: str
) -> None:
    with pytest.raises(URLError, match="closed connection"):
        client.request(method, server.url("/drop"), body=one_shot())
    assert [(r.body, r.chunked) for r in drops(server)] == [(b"charge the card", True)]


@pytest.mark.parametrize("body", [b"charge the card", [b"charge ", b"the card"]])
def test_a_body_that_can_be_sent_again_is_retried(
    client: Client, server: EchoServer, body: Any
) -> None:
    with pytest.raises(URLError, match="closed connection"):
        client.put(server.url("/drop"), body)
    # the first try and 2 retries (PUT is idempotent), each with the whole body
    assert [r.body for r in drops(server)] == [b"charge the card"] * 3


def test_307_resends_a_replayable_body_and_refuses_a_spent_generator(
    client: Client, server: EchoServer
) -> None:
    target = server.url("/landed")
    for body in ([b"a", b"b"], io.BytesIO(b"ab"), b"ab"):
        send(client, "POST", redirect(server, target, 307), body=body)
        assert (server.last.method, server.last.path, server.last.body) == (
            "POST",
            "/landed",
            b"ab",
        )
    with pytest.raises(URLError, match="one-shot stream"):
        client.post(redirect(server, target, 308), one_shot())
    assert server.last.path.startswith("/redirect")
    send(client, "POST", redirect(server, target, 303), body=one_shot())
    assert (server.last.method, server.last.body, server.last.header("Content-Type")) == (
        "GET",
        b"",
        None,
    )
    assert server.last.header("Transfer-Encoding") is None


# --- auth and URL userinfo ---------------------------------------------------------------------


def test_auth_is_basic_and_userinfo_is_decoded(client: Client, server: EchoServer) -> None:
    send(client, "GET", server.url("/a"), auth=("user", "pässword"))
    assert server.last.header("Authorization") == basic("user", "pässword")
    port = server.server_address[1]
    url = f"https://us%40er:p%3Ass%2Fw@127.0.0.1:{port}/a"
    with client.get(url) as response:
        assert response.url == server.url("/a")  # no userinfo in what the caller sees
    assert server.last.header("Authorization") == basic("us@er", "p:ss/w")
    send(client, "GET", f"https://token@127.0.0.1:{port}/a")
    assert server.last.header("Authorization") == basic("token", "")


def test_no_credentials_no_authorization(client: Client, server: EchoServer) -> None:
    send(client, "GET", server.url("/a"))
    assert server.last.header("Authorization") is None


def test_the_most_specific_credentials_win(trusting: Policy, server: EchoServer) -> None:
    port = server.server_address[1]
    with Client(trusting, auth=("client", "1")) as client:
        send(client, "GET", server.url("/a"))
        assert server.last.header("Authorization") == basic("client", "1")
        send(client, "GET", f"https://url:2@127.0.0.1:{port}/a")
        assert server.last.header("Authorization") == basic("url", "2")
        send(client, "GET", server.url("/a"), headers={"authorization": "Bearer 3"})
        assert server.last.header("Authorization") == "Bearer 3"
        send(client, "GET", server.url("/a"), headers={"Authorization": "x"}, auth=("call", "4"))
        assert server.last.header("Authorization") == basic("call", "4")


def credentials_client(trusting: Policy) -> Client:
    return Client(trusting, auth=("client", "secret"), headers={"Cookie": "by=hand"})


@pytest.mark.parametrize("where", ["same path", "another path"])
def test_credentials_are_kept_on_a_same_origin_redirect(
    trusting: Policy, server: EchoServer, where: str
) -> None:
    target = server.url("/a" if where == "same path" else "/elsewhere?x=1")
    with credentials_client(trusting) as client:
        send(client, "GET", redirect(server, target))
    assert server.last.path == urllib.parse.urlsplit(target).path + (
        "?x=1" if "?" in target else ""
    )
    assert server.last.header("Authorization") == basic("client", "secret")
    assert server.last.header("Cookie") == "by=hand"


@pytest.mark.parametrize("change", ["host", "port"])
def test_credentials_are_dropped_on_a_redirect_to_another_origin(
    trusting: Policy, server: EchoServer, other_port: EchoServer, change: str
) -> None:
    target = server.url("/a", host="localhost") if change == "host" else other_port.url("/a")
    landed = server if change == "host" else other_port
    with credentials_client(trusting) as client:
        send(client, "GET", redirect(server, target))
        assert server.seen[0].header("Authorization") == basic("client", "secret")
        assert landed.last.path == "/a"
        for name in ("Authorization", "Cookie"):
            assert landed.last.header(name) is None, name
        send(client, "GET", redirect(server, target), auth=("call", "pw"))
        assert landed.last.header("Authorization") is None
        send(client, "GET", redirect(server, target).replace("https://", "https://u:pw@"))
        redirects = [r for r in server.seen if r.path.startswith("/redirect")]
        assert redirects[-1].header("Authorization") == basic("u", "pw")
        assert landed.last.header("Authorization") is None


def test_userinfo_is_dropped_across_hosts_and_a_redirect_back_does_not_restore_it(
    client: Client, server: EchoServer
) -> None:
    back = server.url("/back")
    away = redirect(server, back).replace("https://127.0.0.1", "https://localhost")
    send(client, "GET", redirect(server, away).replace("https://", "https://u:pw@"))
    hops = [
        (r.path.split("?")[0], (r.header("Host") or "").split(":")[0], r.header("Authorization"))
        for r in server.seen
    ]
    assert hops == [
        ("/redirect", "127.0.0.1", basic("u", "pw")),
        ("/redirect", "localhost", None),
        ("/back", "127.0.0.1", None),
    ]


def test_userinfo_in_a_location_is_never_sent(client: Client, server: EchoServer) -> None:
    port = server.server_address[1]
    send(client, "GET", redirect(server, f"https://evil:stolen@127.0.0.1:{port}/landed"))
    assert server.last.path == "/landed"
    assert server.last.header("Authorization") is None


def test_credentials_never_appear_in_errors(trusting: Policy) -> None:
    with Client(trusting, auth=("user", "hunter2"), retries=0) as client:
        with pytest.raises(URLError) as caught:
            client.get("https://someone:pa55word@127.0.0.1:1/", auth=("u", "s3cr3t"))
        text = f"{caught.value} {caught.value!r} {client!r}"
    for secret in ("hunter2", "pa55word", "s3cr3t", basic("u", "s3cr3t")[6:]):
        assert secret not in text


# --- headers and User-Agent -----------------------------------------------------------------


def test_user_agent_is_securehttps_unless_set(trusting: Policy, server: EchoServer) -> None:
    with Client(trusting) as client:
        send(client, "GET", server.url("/"))
        assert server.last.header("User-Agent") == f"securehttp/{securehttp.__version__}"
        send(client, "GET", server.url("/"), headers={"user-agent": "mine/1"})
        assert server.last.header("User-Agent") == "mine/1"
    with Client(trusting, headers={"User-Agent": "fleet/2", "X-Team": "a"}) as client:
        send(client, "GET", server.url("/"), headers={"x-team": "b"})
    assert server.last.header("User-Agent") == "fleet/2"
    assert server.last.header("X-Team") == "b"  # one header, the request's value


def test_urlopen_style_calls_pass_their_own_user_agent(client: Client, server: EchoServer) -> None:
    agent = "Python-urllib/3.x"
    request = urllib.request.Request(server.url("/u"), headers={"User-Agent": agent})  # noqa: S310
    with client.urlopen(request) as response:
        response.read()
    assert server.last.header("User-Agent") == agent


# --- cookies -----------------------------------------------------------------------------------


def test_cookies_set_by_one_response_go_with_the_next(trusting: Policy, server: EchoServer) -> None:
    with Client(trusting, cookies=True) as client:
        send(client, "GET", server.url("/login"), params={"set": "session=abc; Path=/"})
        send(client, "GET", server.url("/next"))
        assert server.last.header("Cookie") == "session=abc"
        assert client.cookies is not None
        assert [c.name for c in client.cookies] == ["session"]


def test_without_a_jar_no_cookie_is_kept(client: Client, server: EchoServer) -> None:
    send(client, "GET", server.url("/login"), params={"set": "session=abc; Path=/"})
    send(client, "GET", server.url("/next"))
    assert server.last.header("Cookie") is None
    assert client.cookies is None


def test_jar_cookies_follow_redirects_within_their_domain(
    trusting: Policy, server: EchoServer, other_port: EchoServer
) -> None:
    jar = http.cookiejar.CookieJar()
    with Client(trusting, cookies=jar) as client:
        # Set by the redirect itself; sent to another port of the same host, by the jar's
        # rules (a cookie is not bound to a port), while a hand-set Cookie is not.
        send(
            client,
            "GET",
            redirect(server, other_port.url("/landed"), set="s=1; Path=/"),
            headers={"Cookie": "by=hand"},
        )
        assert other_port.last.header("Cookie") == "s=1"
        send(client, "GET", server.url("/again"))
        assert server.last.header("Cookie") == "s=1"
    assert [c.name for c in jar] == ["s"]


def test_jar_cookies_do_not_follow_redirects_to_another_domain(
    trusting: Policy, server: EchoServer
) -> None:
    with Client(trusting, cookies=True) as client:
        send(client, "GET", server.url("/login"), params={"set": "s=1; Path=/"})
        send(client, "GET", redirect(server, server.url("/landed", host="localhost")))
    assert server.seen[1].header("Cookie") == "s=1"  # the redirect, on the cookie's host
    assert server.last.path == "/landed"
    assert server.last.header("Cookie") is None


def test_a_hand_set_cookie_wins_over_the_jar(trusting: Policy, server: EchoServer) -> None:
    with Client(trusting, cookies=True) as client:
        send(client, "GET", server.url("/login"), params={"set": "s=1; Path=/"})
        send(client, "GET", server.url("/next"), headers={"Cookie": "mine=2"})
    assert server.last.header("Cookie") == "mine=2"


def test_the_jars_policy_decides(trusting: Policy, server: EchoServer) -> None:
    policy = http.cookiejar.DefaultCookiePolicy(blocked_domains=["127.0.0.1"])
    with Client(trusting, cookies=http.cookiejar.CookieJar(policy)) as client:
        send(client, "GET", server.url("/login"), params={"set": "s=1; Path=/"})
        send(client, "GET", server.url("/next"))
    assert server.last.header("Cookie") is None


# --- pool_size ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("pool_size", "connections"), [(1, 3), (2, 2)])
def test_pool_size_is_how_many_connections_are_kept(
    trusting: Policy, server: EchoServer, pool_size: int, connections: int
) -> None:
    with Client(trusting, pool_size=pool_size) as client:
        for _ in range(2):
            held = [client.get(server.url("/")) for _ in range(2)]  # two at once
            for response in held:
                response.read()  # read to the end: the connection goes back to the pool
        # pool_size=1 keeps one of the first two connections, so the second pair needs a
        # new one; pool_size=2 keeps both.
        assert server.connections == connections


# --- arguments are checked when given --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"retries": -5}, ValueError, r"retries=.*0 or more"),
        ({"retries": {"total": 3}}, TypeError, r"retries=.*whole number"),
        ({"retries": True}, TypeError, r"retries="),
        ({"timeout": "5"}, TypeError, r"timeout=.*seconds or a securehttp.Timeout"),
        ({"timeout": -1}, ValueError, r"above 0"),
        ({"timeout": float("inf")}, ValueError, r"finite"),
        ({"max_body": -1}, ValueError, r"max_body="),
        ({"max_body": 1.5}, TypeError, r"max_body="),
        ({"pool_size": 0}, ValueError, r"pool_size=.*1 or more"),
        ({"pool_size": "10"}, TypeError, r"pool_size="),
        ({"pools": 0}, ValueError, r"pools="),
        ({"headers": [("X-A", "1")]}, TypeError, r"headers=.*mapping"),
        ({"headers": {"X-A": 1}}, TypeError, r"headers=.*str"),
        ({"headers": {"X A": "1"}}, ValueError, r"invalid header name"),
        ({"cookies": "yes"}, TypeError, r"cookies=.*CookieJar"),
        ({"cookies": {"a": "1"}}, TypeError, r"cookies="),
        ({"auth": ("user",)}, TypeError, r"auth=.*\(user, password\)"),
        ({"auth": "user:pw"}, TypeError, r"auth="),
        ({"auth": ("us:er", "pw")}, ValueError, r"cannot contain ':'"),
        ({"policy": "policy.yaml"}, TypeError, r"load_policy"),
        ({"tls_resumption": "no"}, TypeError, r"tls_resumption="),
    ],
)
def test_bad_client_arguments_fail_at_construction(
    kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        Client(**kwargs)


def test_good_client_arguments_construct(trusting: Policy) -> None:
    with Client(
        trusting,
        timeout=securehttp.Timeout(connect=1, read=2, total=3),
        retries=0,
        headers={"X-A": "1"},
        max_body=0,
        auth=("user", "pw"),
        cookies=http.cookiejar.CookieJar(),
        pool_size=1,
        pools=1,
        tls_resumption=False,
    ) as client:
        assert "pw" not in repr(client)
    Client(timeout=5, cookies=False).close()


VERBS: list[tuple[str, Callable[..., Any]]] = [
    (name, getattr(Client, name))
    for name in ("request", "get", "head", "post", "put", "patch", "delete", "options")
]


@pytest.mark.parametrize(("name", "verb"), VERBS)
def test_a_misspelt_keyword_is_a_type_error_on_every_verb(
    client: Client, server: EchoServer, name: str, verb: Callable[..., Any]
) -> None:
    args = (client, "GET", server.url("/")) if name == "request" else (client, server.url("/"))
    with pytest.raises(TypeError, match="parms"):
        verb(*args, parms={"a": "1"})
    assert server.seen == []
    with verb(*args, params={"a": "1"}) as response:
        response.read()
    assert server.last.path == "/?a=1"


def test_bad_request_arguments_fail_before_sending(client: Client, server: EchoServer) -> None:
    url = server.url("/")
    with pytest.raises(TypeError, match=r"seconds or a securehttp\.Timeout"):
        client.get(url, timeout="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ssl\.SSLContext"):
        client.get(url, context="strict")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="load_policy"):
        client.get(url, policy="p.yaml")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"auth="):
        client.get(url, auth=("user", "pw", "x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="headers="):
        client.get(url, headers={"X-A": b"1"})  # type: ignore[dict-item]
    assert server.seen == []
