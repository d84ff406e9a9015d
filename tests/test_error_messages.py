"""Errors and warnings that say what to do (issue 14): each case from a new user's trial,
against real servers on loopback, with its twin that works.

- ``https://`` to a plain-HTTP port says so (and not "TLS version mismatch");
- a name mismatch says which names the certificate covers, and no trust variables;
- a timeout names its phase (connect, TLS handshake, headers, body, total) and its limit;
- warnings point at the caller's line, not at securehttp's.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import ssl
import threading
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import securehttp
from securehttp import CertificateError, Client, Policy, Timeout, TimeoutError, URLError

from .tlsserver import cn_only_cert, server_context

HERE = os.path.abspath(__file__)


def trusting(ca_pem: Path, **settings: Any) -> Policy:
    return Policy.from_dict({"defaults": {"trust": str(ca_pem), **settings}}, source="test")


@contextlib.contextmanager
def raw_server(
    handle: Callable[[socket.socket], None], tls: ssl.SSLContext | None = None
) -> Iterator[int]:
    """A loopback server that runs ``handle`` on each accepted (and, with ``tls``, wrapped)
    connection; the connection is closed when the test ends, not before."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(10)
            held.append(conn)
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    def run(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
                held.append(conn)
            handle(conn)
        stop.wait(20)  # keep the connection open until the test is over

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            with contextlib.suppress(OSError):
                conn.close()
        listener.close()


def answer_http_400(conn: socket.socket) -> None:
    """What nginx and most HTTP servers do with a TLS ClientHello: a 400 at once."""
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


# --- https:// to a plain-HTTP port --------------------------------------------------------


def test_https_to_a_plain_http_port_says_so(ca_pem: Path) -> None:
    with (
        raw_server(answer_http_400) as port,
        Client(trusting(ca_pem)) as client,
        pytest.raises(URLError) as info,
    ):
        client.get(f"https://127.0.0.1:{port}/")
    message = str(info.value)
    assert "did not answer with TLS: is this a plain-HTTP port?" in message
    assert "TLS version mismatch" not in message
    assert "lowering min_tls does not help" in message
    assert not isinstance(info.value, CertificateError)


def test_a_real_version_mismatch_is_still_called_one(
    make_server: Callable[..., Any], localhost_cert: Any, ca_pem: Path
) -> None:
    server = make_server(localhost_cert, max_tls=ssl.TLSVersion.TLSv1_2)
    with Client(trusting(ca_pem, min_tls="1.3")) as client, pytest.raises(URLError) as info:
        client.get(server.url("/"))
    assert "TLS version mismatch" in str(info.value)
    assert "plain-HTTP" not in str(info.value)


def test_urlopen_to_a_plain_http_port_says_so_too() -> None:
    with raw_server(answer_http_400) as port, pytest.raises(URLError) as info:
        securehttp.urlopen(f"https://127.0.0.1:{port}/")
    assert "is this a plain-HTTP port?" in str(info.value)


def test_probe_of_a_plain_http_port_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from securehttp._cli import main

    with raw_server(answer_http_400) as port:
        code = main(["probe", f"https://127.0.0.1:{port}/"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "the server did not answer with TLS: is this a plain-HTTP port?" in err
    assert "passed" not in out


# --- a name mismatch names what the certificate covers ------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_name_mismatch_names_the_certificate_s_names_and_not_the_trust(
    make_server: Callable[..., Any],
    ca: trustme.CA,
    ca_pem: Path,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
) -> None:
    # The trust comes from the environment, as on the machine of issue 14's report.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_pem))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_pem))
    securehttp._process.reset_process_state()
    server = make_server(ca.issue_cert("other.example", "www.other.example"), name=host)
    with pytest.raises(CertificateError) as info:
        securehttp.urlopen(server.url("/"))
    message = str(info.value)
    assert "mismatch, certificate is not valid for" in message
    assert "the certificate covers DNS:other.example, DNS:www.other.example" in message
    assert "SSL_CERT_FILE" not in message
    assert "REQUESTS_CA_BUNDLE" not in message
    assert "trust=" not in message
    assert ".;" not in message
    assert "required by verify=strict (default)" in message


def test_an_untrusted_issuer_does_name_the_trust_and_where_it_came_from(
    make_server: Callable[..., Any],
    localhost_cert: Any,
    other_ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = tmp_path / "other.pem"
    other_ca.cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    securehttp._process.reset_process_state()
    server = make_server(localhost_cert)
    with pytest.raises(CertificateError) as info:
        securehttp.urlopen(server.url("/"))
    message = str(info.value)
    assert "unable to get local issuer certificate; required by" in message
    assert f"trust=[{other}] (env SSL_CERT_FILE={other})" in message
    assert "the certificate covers" not in message


def test_name_mismatch_hint_escapes_the_server_s_names_and_caps_them(
    make_server: Callable[..., Any], ca: trustme.CA, ca_pem: Path, tmp_path: Path
) -> None:
    names = ("evil\x1b[31m.example", *(f"n{i}.example" for i in range(10)))
    cert_pem, key_pem = cn_only_cert(ca, "whatever", names)
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    from .tlsserver import serve

    with (
        serve(ctx) as server,
        Client(trusting(ca_pem)) as client,
        pytest.raises(CertificateError) as info,
    ):
        client.get(server.url("/"))
    message = str(info.value)
    assert "\x1b" not in message
    assert "DNS:evil\\x1b[31m.example" in message
    assert "DNS:n6.example and 3 more" in message


def test_a_name_that_matches_needs_no_hint(good_server: Any, ca_pem: Path) -> None:
    with Client(trusting(ca_pem)) as client:
        assert client.get(good_server.url("/")).status == 200


# --- timeouts name their phase and their limit --------------------------------------------


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening port whose accept queue is full: a new TCP connection never completes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(16):
            filler = socket.socket()
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except OSError:
                break  # the queue is full now
        else:
            pytest.skip("this system never stops completing connections to a full backlog")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_connect_timeout_says_connect_and_its_limit(full_backlog: int) -> None:
    with (
        Client(timeout=Timeout(connect=0.5, read=5, total=30)) as client,
        pytest.raises(TimeoutError) as info,
    ):
        client.get(f"https://127.0.0.1:{full_backlog}/")
    assert str(info.value) == (
        f"timed out connecting to 127.0.0.1:{full_backlog}: no TCP connection within the "
        "connect timeout of 0.5s (Timeout.connect)"
    )


def test_handshake_timeout_says_handshake(ca_pem: Path) -> None:
    with (
        raw_server(lambda conn: None) as port,
        Client(trusting(ca_pem)) as client,
        pytest.raises(TimeoutError) as info,
    ):
        client.get(f"https://127.0.0.1:{port}/", timeout=Timeout(connect=0.5, read=5, total=30))
    assert str(info.value) == (
        f"timed out in the TLS handshake with 127.0.0.1:{port}: it did not complete within "
        "the connect timeout of 0.5s (Timeout.connect), which covers the TCP connection and "
        "the TLS handshake together"
    )


def test_header_timeout_says_headers(localhost_cert: Any, ca_pem: Path) -> None:
    tls = server_context(localhost_cert)
    with (
        raw_server(read_request, tls) as port,
        Client(trusting(ca_pem)) as client,
        pytest.raises(TimeoutError) as info,
    ):
        client.get(f"https://127.0.0.1:{port}/", timeout=Timeout(connect=5, read=0.5, total=30))
    assert str(info.value) == (
        f"timed out waiting for the response headers from 127.0.0.1:{port}: nothing within "
        "the read timeout of 0.5s (Timeout.read)"
    )


def test_body_timeout_says_body(localhost_cert: Any, ca_pem: Path) -> None:
    def headers_then_silence(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")

    tls = server_context(localhost_cert)
    with raw_server(headers_then_silence, tls) as port, Client(trusting(ca_pem)) as client:
        url = f"https://user:pw@127.0.0.1:{port}/path"
        response = client.get(url, timeout=Timeout(connect=5, read=0.5, total=30))
        with pytest.raises(TimeoutError) as info:
            response.read()
    assert str(info.value) == (
        f"timed out reading the body of https://127.0.0.1:{port}/path: no data within "
        "the read timeout of 0.5s (Timeout.read)"
    )


def test_total_deadline_says_total(ca_pem: Path) -> None:
    limits = Timeout(connect=30, read=30, total=0.5)
    with (
        raw_server(lambda conn: None) as port,
        Client(trusting(ca_pem)) as client,
        pytest.raises(TimeoutError, match=r"the total deadline of 0\.5s passed"),
    ):
        client.get(f"https://127.0.0.1:{port}/", timeout=limits)


def test_a_server_that_answers_in_time_does_not_time_out(localhost_cert: Any, ca_pem: Path) -> None:
    def answer(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    tls = server_context(localhost_cert)
    with raw_server(answer, tls) as port, Client(trusting(ca_pem)) as client:
        response = client.get(
            f"https://127.0.0.1:{port}/", timeout=Timeout(connect=5, read=5, total=30)
        )
        assert response.read() == b"ok"


def test_probe_timeouts_name_their_phase(
    full_backlog: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from securehttp._cli import main

    with raw_server(lambda conn: None) as port:
        code = main(["probe", f"https://127.0.0.1:{port}/", "--timeout", "0.5"])
    _, err = capsys.readouterr()
    assert code == 1
    assert f"timed out in the TLS handshake with 127.0.0.1:{port}" in err
    code = main(["probe", f"https://127.0.0.1:{full_backlog}/", "--timeout", "0.5"])
    _, err = capsys.readouterr()
    assert code == 1
    assert f"timed out connecting to 127.0.0.1:{full_backlog}" in err


# --- warnings point at the caller's line --------------------------------------------------


def recorded(call: Callable[[], object]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return caught


def test_insecure_request_warning_points_at_the_caller(good_server: Any) -> None:
    waiver = {"verify": "disabled", "expires": "2999-01-01", "reason": "test"}
    with Client(Policy.from_dict({"defaults": waiver})) as client:
        caught = recorded(lambda: client.get(good_server.url("/")).read())
    insecure = [w for w in caught if issubclass(w.category, securehttp.InsecureRequestWarning)]
    assert len(insecure) == 1
    assert insecure[0].filename == HERE


def test_report_only_warning_through_urlopen_points_at_the_caller(
    good_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECUREHTTP_VERIFY", "warn")
    securehttp._process.reset_process_state()
    caught = recorded(lambda: securehttp.urlopen(good_server.url("/")).read())
    insecure = [w for w in caught if issubclass(w.category, securehttp.InsecureRequestWarning)]
    assert len(insecure) == 1
    assert insecure[0].filename == HERE


def test_warning_through_urllib_and_policy_context_points_at_the_caller(
    good_server: Any,
) -> None:
    waiver = {"verify": "disabled", "expires": "2999-01-01", "reason": "test"}
    context = securehttp.policy_context(Policy.from_dict({"defaults": waiver}))
    url = good_server.url("/")
    caught = recorded(lambda: urllib.request.urlopen(url, context=context).read())  # noqa: S310
    insecure = [w for w in caught if issubclass(w.category, securehttp.InsecureRequestWarning)]
    assert len(insecure) == 1
    assert insecure[0].filename == HERE


def test_expiring_waiver_warning_points_at_the_caller(good_server: Any) -> None:
    soon = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    waiver = {"verify": "disabled", "expires": soon, "reason": "test"}
    policy = Policy.from_dict({"defaults": waiver})
    caught = recorded(lambda: policy.resolve("https://a.example/"))
    expiring = [w for w in caught if issubclass(w.category, securehttp.PolicyWarning)]
    assert len(expiring) == 1
    assert "expires on" in str(expiring[0].message)
    assert expiring[0].filename == HERE
    with Client(Policy.from_dict({"defaults": waiver})) as client:
        caught = recorded(lambda: client.get(good_server.url("/")).read())
    assert {w.filename for w in caught} == {HERE}
    assert len(caught) == 2  # the expiry ahead, and the disabled connection


def test_environment_policy_warning_points_at_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHTTPSVERIFY", "false")
    securehttp._process.reset_process_state()
    caught = recorded(lambda: securehttp.explain("https://a.example/"))
    assert [w.filename for w in caught] == [HERE]
    assert "PYTHONHTTPSVERIFY='false' is not '0'" in str(caught[0].message)


def test_strict_requests_warn_nothing(good_server: Any, ca_pem: Path) -> None:
    with Client(trusting(ca_pem)) as client:
        assert recorded(lambda: client.get(good_server.url("/")).read()) == []
