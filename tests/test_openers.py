"""urllib's opener machinery on securehttp (SPEC §1 "Openers", §7): build_opener,
install_opener, the handlers, urllib's installed opener, and the redirect rules through all
of them - against real servers on loopback.  Each success has its twin."""

from __future__ import annotations

import base64
import datetime
import http.cookiejar
import http.server
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import securehttp
from securehttp import CertificateError, HTTPError, Policy, ProxyError, URLError

from .proxyserver import Proxy

FUTURE = (datetime.date.today() + datetime.timedelta(days=200)).isoformat()
USER, PASSWORD = "opener-user", "opener-Pa55"


class App(http.server.BaseHTTPRequestHandler):
    """Routes that need the opener's handlers: a login that sets a cookie and redirects,
    Basic auth, redirects anywhere, and an echo of what arrived."""

    protocol_version = "HTTP/1.1"
    server: AppServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        with self.server.lock:
            self.server.seen.append((parts.path, dict(self.headers.items())))
        if parts.path == "/login":
            self._send(302, b"", {"Location": "/home", "Set-Cookie": "session=s1; Path=/"})
        elif parts.path == "/redirect":
            self._send(int(query.get("code", "302")), b"", {"Location": query["to"]})
        elif parts.path == "/auth":
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {token}":
                self._echo()
            else:
                self._send(401, b"who?\n", {"WWW-Authenticate": 'Basic realm="app"'})
        elif parts.path == "/missing":
            self._send(404, b"not here\n", {"X-Test": "yes"})
        else:
            self._echo()

    def _echo(self) -> None:
        body = json.dumps({"path": self.path, "headers": dict(self.headers.items())}).encode()
        self._send(200, body, {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class AppServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        self.lock = threading.Lock()
        self.seen: list[tuple[str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), App)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake in the connection's thread: a client that refuses stalls nobody.
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with wrapped:  # socketserver closes the socket it accepted, which wrapping detached
            super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.server_address[1]}{path}"

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.seen]

    def headers(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [headers for seen, headers in self.seen if seen == path]


@pytest.fixture
def make_app(localhost_cert: Any) -> Iterator[Callable[..., AppServer]]:
    from .tlsserver import server_context

    servers: list[AppServer] = []

    def start(*, tls: bool = True) -> AppServer:
        server = AppServer(server_context(localhost_cert) if tls else None)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def app(make_app: Callable[..., AppServer]) -> AppServer:
    return make_app()


@pytest.fixture
def trusting_env(ca_pem: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process default policy trusts the test CA (as an operator would set it)."""
    monkeypatch.setenv("SECUREHTTP_EXTRA_CA_CERTS", str(ca_pem))


@pytest.fixture
def urllib_opener() -> Iterator[Callable[[urllib.request.OpenerDirector], None]]:
    """Install an opener with ``urllib.request.install_opener``, removed after the test."""
    yield urllib.request.install_opener
    urllib.request.install_opener(None)


def secure_opener(*handlers: Any, policy: Policy | None = None) -> urllib.request.OpenerDirector:
    opener: urllib.request.OpenerDirector = securehttp.build_opener(
        securehttp.HTTPSHandler(policy), *handlers
    )
    return opener


def read_json(response: Any) -> Any:
    with response:
        return json.loads(response.read())


# --- the program's handlers keep working ------------------------------------------------------


def test_cookies_are_kept_across_each_hop(app: AppServer, trusting: Policy) -> None:
    jar = http.cookiejar.CookieJar()
    opener = secure_opener(urllib.request.HTTPCookieProcessor(jar), policy=trusting)
    echoed = read_json(opener.open(app.url("/login", host="localhost")))
    assert echoed["path"] == "/home"
    assert echoed["headers"]["Cookie"] == "session=s1"
    assert [cookie.name for cookie in jar] == ["session"]
    # Twin: without a cookie processor, the redirect's cookie is not sent on.
    echoed = read_json(secure_opener(policy=trusting).open(app.url("/login", host="localhost")))
    assert "Cookie" not in echoed["headers"]


def test_basic_auth_handler_answers_the_challenge(app: AppServer, trusting: Policy) -> None:
    url = app.url("/auth", host="localhost")
    auth = urllib.request.HTTPBasicAuthHandler()
    auth.add_password("app", url, USER, PASSWORD)
    assert read_json(secure_opener(auth, policy=trusting).open(url))["path"] == "/auth"
    wrong = urllib.request.HTTPBasicAuthHandler()
    wrong.add_password("app", url, USER, "not-" + PASSWORD)
    with pytest.raises(HTTPError) as info:
        secure_opener(wrong, policy=trusting).open(url)
    assert (info.value.code, info.value.msg, str(info.value)) == (
        401,
        "Unauthorized",
        "HTTP Error 401: Unauthorized",
    )
    assert isinstance(info.value, urllib.error.HTTPError)
    assert info.value.read() == b"who?\n"


def test_handlers_verify_by_the_policy(app: AppServer, trusting: Policy) -> None:
    url = app.url("/echo", host="localhost")
    with secure_opener(policy=trusting).open(url) as response:
        assert response.decision.sources["trust"] == "test-policy defaults"
    # The process default (certifi) does not trust the test CA.
    with pytest.raises(CertificateError) as info:
        securehttp.build_opener().open(url)
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
    assert app.paths() == ["/echo"]


def test_urllibs_own_https_handler_is_replaced_and_its_context_kept(
    app: AppServer, ca_pem: Path
) -> None:
    url = app.url("/echo", host="localhost")
    trusting_context = ssl.create_default_context(cafile=str(ca_pem))
    opener = securehttp.build_opener(urllib.request.HTTPSHandler(context=trusting_context))
    with opener.open(url) as response:
        assert response.decision.sources["verify"] == "request context="
    # Twin: urllib's handler without a context is securehttp's, under the process policy.
    with pytest.raises(CertificateError):
        securehttp.build_opener(urllib.request.HTTPSHandler()).open(url)


# --- install_opener and urllib's installed opener ---------------------------------------------


def test_install_opener_is_what_urlopen_uses(app: AppServer, trusting: Policy) -> None:
    url = app.url("/auth", host="localhost")
    auth = urllib.request.HTTPBasicAuthHandler()
    auth.add_password("app", url, USER, PASSWORD)
    securehttp.install_opener(secure_opener(auth, policy=trusting))
    try:
        assert read_json(securehttp.urlopen(url))["path"] == "/auth"
    finally:
        securehttp.install_opener(None)
    with pytest.raises(CertificateError):
        securehttp.urlopen(url)  # the default again: the process policy, no auth


def test_urllibs_installed_opener_keeps_its_handlers_under_the_policy(
    app: AppServer,
    trusting_env: None,
    urllib_opener: Callable[[urllib.request.OpenerDirector], None],
) -> None:
    url = app.url("/auth", host="localhost")
    auth = urllib.request.HTTPBasicAuthHandler()
    auth.add_password("app", url, USER, PASSWORD)
    theirs = urllib.request.build_opener(auth)
    urllib_opener(theirs)
    with securehttp.urlopen(url) as response:
        assert response.status == 200
        assert "extra_ca" in response.decision.sources
        assert response.decision.sources["extra_ca"].startswith("env SECUREHTTP_EXTRA_CA_CERTS")
    # The program's own opener is left as it was: its handlers still answer to it.
    assert auth.parent is theirs
    assert not any(isinstance(h, securehttp.HTTPSHandler) for h in theirs.handlers)  # type: ignore[attr-defined]


def test_urllibs_installed_opener_cannot_skip_verification(
    app: AppServer, urllib_opener: Callable[[urllib.request.OpenerDirector], None]
) -> None:
    # No trust for the test CA: urllib's installed opener carries HTTPS with securehttp's
    # handler, and so fails as the policy says.
    urllib_opener(urllib.request.build_opener(urllib.request.HTTPCookieProcessor()))
    with pytest.raises(CertificateError):
        securehttp.urlopen(app.url("/", host="localhost"))
    assert app.paths() == []


def test_context_in_the_call_bypasses_the_installed_opener(
    app: AppServer, ca_pem: Path, urllib_opener: Callable[[urllib.request.OpenerDirector], None]
) -> None:
    # As urllib.request.urlopen: a context= of its own means an opener of its own.
    urllib_opener(urllib.request.build_opener(urllib.request.HTTPCookieProcessor()))
    context = ssl.create_default_context(cafile=str(ca_pem))
    with securehttp.urlopen(app.url("/", host="localhost"), context=context) as response:
        assert response.status == 200


# --- redirect rules hold through openers ------------------------------------------------------


def test_https_to_http_is_refused_through_an_opener(
    make_app: Callable[..., AppServer], ca_pem: Path
) -> None:
    secure = make_app()
    plain = make_app(tls=False)
    url = secure.url(f"/redirect?to={plain.url('/echo')}", host="localhost")
    strict = Policy.from_dict({"defaults": {"trust": str(ca_pem)}})
    with pytest.raises(URLError) as info:
        secure_opener(policy=strict).open(url)
    assert "refused redirect" in str(info.value)
    assert plain.paths() == []
    allowing = Policy.from_dict(
        {"defaults": {"trust": str(ca_pem), "allow_https_to_http_redirect": True}}
    )
    assert read_json(secure_opener(policy=allowing).open(url))["path"] == "/echo"


def test_https_to_http_is_refused_through_urllibs_installed_opener(
    make_app: Callable[..., AppServer],
    trusting_env: None,
    urllib_opener: Callable[[urllib.request.OpenerDirector], None],
) -> None:
    secure, plain = make_app(), make_app(tls=False)
    urllib_opener(urllib.request.build_opener(urllib.request.HTTPCookieProcessor()))
    with pytest.raises(URLError) as info:
        securehttp.urlopen(secure.url(f"/redirect?to={plain.url('/')}", host="localhost"))
    assert "refused redirect" in str(info.value)
    assert plain.paths() == []


def test_credentials_are_dropped_on_a_redirect_to_another_origin(
    app: AppServer, make_app: Callable[..., AppServer], trusting: Policy
) -> None:
    other = make_app()
    secret = {"Authorization": "Bearer t0ken", "Cookie": "c=1", "X-Kept": "yes"}
    elsewhere = app.url("/redirect?to=" + other.url("/echo", host="localhost"), host="localhost")
    request = urllib.request.Request(elsewhere, headers=secret)  # noqa: S310 - loopback
    echoed = read_json(secure_opener(policy=trusting).open(request))["headers"]
    assert "Authorization" not in echoed
    assert "Cookie" not in echoed
    assert echoed["X-Kept"] == "yes"
    # Twin: a redirect within the origin keeps them.
    same = app.url("/redirect?to=/echo", host="localhost")
    request = urllib.request.Request(same, headers=secret)  # noqa: S310 - loopback
    echoed = read_json(secure_opener(policy=trusting).open(request))["headers"]
    assert (echoed["Authorization"], echoed["Cookie"]) == ("Bearer t0ken", "c=1")


def test_a_programs_redirect_handler_keeps_its_behaviour_under_the_rules(
    make_app: Callable[..., AppServer], ca_pem: Path
) -> None:
    class Recording(urllib.request.HTTPRedirectHandler):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def redirect_request(
            self, req: Any, fp: Any, code: Any, msg: Any, hdrs: Any, newurl: str
        ) -> Any:
            self.seen.append(newurl)
            return super().redirect_request(req, fp, code, msg, hdrs, newurl)

    secure, plain = make_app(), make_app(tls=False)
    recording = Recording()
    strict = Policy.from_dict({"defaults": {"trust": str(ca_pem)}})
    opener = secure_opener(recording, policy=strict)
    assert read_json(opener.open(secure.url("/redirect?to=/echo", host="localhost")))
    with pytest.raises(URLError):
        opener.open(secure.url(f"/redirect?to={plain.url('/')}", host="localhost"))
    # The program's handler saw both redirects (the copy in the opener shares its list).
    assert [url.rsplit("/", 1)[1] for url in recording.seen] == ["echo", ""]
    assert plain.paths() == []


def test_the_policy_is_resolved_again_on_each_hop(
    make_app: Callable[..., AppServer], ca_pem: Path
) -> None:
    trusted = make_app()
    untrusted_name = make_app()
    # Only "localhost" trusts the test CA; 127.0.0.1 gets certifi's roots.
    per_host = Policy.from_dict({"hosts": {"localhost": {"trust": str(ca_pem)}}})
    target = untrusted_name.url("/echo", host="127.0.0.1")
    with pytest.raises(CertificateError) as info:
        secure_opener(policy=per_host).open(trusted.url(f"/redirect?to={target}", host="localhost"))
    assert info.value.host == "127.0.0.1"
    assert trusted.paths() == ["/redirect"]
    assert untrusted_name.paths() == []


# --- proxies through openers ------------------------------------------------------------------


def test_build_opener_reads_the_proxy_variables_as_securehttp_does(
    app: AppServer, proxy: Proxy, trusting: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", proxy.url())
    with secure_opener(policy=trusting).open(app.url("/", host="localhost")) as response:
        assert response.decision.sources["proxy"] == "env https_proxy"
    assert [r.method for r in proxy.requests] == ["CONNECT"]
    monkeypatch.setenv("https_proxy", "socks5://127.0.0.1:1080")
    with pytest.raises(ProxyError):
        secure_opener(policy=trusting).open(app.url("/", host="localhost"))
    assert len(app.paths()) == 1


def test_a_programs_proxy_handler_chooses_the_proxy_and_securehttp_verifies(
    app: AppServer, auth_proxy: Proxy, trusting: Policy, make_app: Callable[..., AppServer]
) -> None:
    plain = make_app(tls=False)
    handler = urllib.request.ProxyHandler(
        {"https": auth_proxy.url(userinfo=True), "http": auth_proxy.url(userinfo=True)}
    )
    opener = secure_opener(handler, policy=trusting)
    with opener.open(app.url("/echo", host="localhost")) as response:
        assert "Proxy-Authorization" not in json.loads(response.read())["headers"]
        assert response.decision.sources["proxy"] == "urllib.request.ProxyHandler"
    assert read_json(opener.open(plain.url("/echo")))["path"] == "/echo"
    assert [(r.method, r.header("Proxy-Authorization")) for r in auth_proxy.requests] == [
        ("CONNECT", auth_proxy.authorization()),
        ("GET", auth_proxy.authorization()),
    ]
    # Twin: an empty ProxyHandler sends both directly; the proxy sees nothing more.
    direct = secure_opener(urllib.request.ProxyHandler({}), policy=trusting)
    read_json(direct.open(app.url("/echo", host="localhost")))
    assert len(auth_proxy.requests) == 2


def test_urllibs_own_default_context_is_the_policys(app: AppServer) -> None:
    # From Python 3.12 urllib's HTTPSHandler() makes the interpreter's default context itself;
    # that is no choice made in code, so the policy decides (here: certifi, no test CA).
    handler = urllib.request.HTTPSHandler(context=ssl._create_default_https_context())
    with pytest.raises(CertificateError) as info:
        securehttp.build_opener(handler).open(app.url("/", host="localhost"))
    assert info.value.decision.sources["verify"] == "default"
    # Twin: an unverified context is a choice made in code (PEP 476), used as given.
    unverified = ssl._create_unverified_context()  # noqa: S323 - the test is about it
    opener = securehttp.build_opener(urllib.request.HTTPSHandler(context=unverified))
    with pytest.warns(securehttp.InsecureRequestWarning), opener.open(app.url("/")) as response:
        assert response.decision.sources["verify"] == "request context="
