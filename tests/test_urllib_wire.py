"""urllib's wire habits in the drop-in (SPEC §1): the same calls through urllib and securehttp,
compared on what the server received and on what the caller gets back - header spelling,
User-Agent, URLError.reason, file:/data:/ftp: URLs."""

from __future__ import annotations

import email.message
import socket
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import securehttp
from securehttp import Client

from .tlsserver import Server

URLLIB_UA = f"Python-urllib/{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture
def plain(make_server: Callable[..., Server]) -> Server:
    return make_server()


def received(server: Server) -> list[dict[str, str]]:
    with server.httpd.lock:
        return [headers for _, _, headers in server.httpd.requests]


def both(server: Server, make: Callable[[], Any]) -> tuple[dict[str, str], dict[str, str]]:
    """What the server received from urllib and from securehttp for the same call."""
    with urllib.request.urlopen(make()) as response:  # noqa: S310 - a loopback http URL
        response.read()
    with securehttp.urlopen(make()) as response:
        response.read()
    theirs, ours = received(server)[-2:]
    return theirs, ours


# urllib closes every connection; securehttp keeps them for reuse.
DELIBERATE = {"Connection"}


def test_header_names_go_out_as_urllib_spells_them(plain: Server) -> None:
    def make() -> urllib.request.Request:
        return urllib.request.Request(  # noqa: S310 - a loopback http URL
            plain.url("/echo"), headers={"X-SoMe-hEader": "v", "accept": "text/plain"}
        )

    theirs, ours = both(plain, make)
    assert "X-Some-Header" in ours
    assert "X-SoMe-hEader" not in ours
    assert sorted(set(theirs) - DELIBERATE) == sorted(ours)
    assert {name: theirs[name] for name in ours} == ours


def test_a_posted_request_sends_urllibs_headers(plain: Server) -> None:
    def make() -> urllib.request.Request:
        request = urllib.request.Request(plain.url("/echo"), data=b"a=1")  # noqa: S310
        request.add_header("content-TYPE", "text/plain")
        return request

    theirs, ours = both(plain, make)
    assert make().header_items() == [("Content-type", "text/plain")]
    assert (ours["Content-Type"], ours["Content-Length"]) == ("text/plain", "3")
    assert {name: theirs[name] for name in ours} == ours


def test_urlopen_says_it_is_urllib_and_client_says_securehttp(plain: Server) -> None:
    with securehttp.urlopen(plain.url("/")) as response:
        assert response.msg == response.reason == "OK"
    with Client() as client, client.get(plain.url("/")):
        pass
    with Client(headers={"user-agent": "mine/1"}) as client, client.get(plain.url("/")):
        pass
    with Client() as client, client.get(plain.url("/"), headers={"USER-AGENT": "other/2"}):
        pass
    agents = [
        [v for k, v in headers.items() if k.lower() == "user-agent"] for headers in received(plain)
    ]
    assert agents == [
        [URLLIB_UA],
        [f"securehttp/{securehttp.__version__}"],
        ["mine/1"],
        ["other/2"],
    ]


def test_a_request_naming_its_user_agent_keeps_it(plain: Server) -> None:
    request = urllib.request.Request(plain.url("/"), headers={"User-agent": "app/3"})  # noqa: S310
    with securehttp.urlopen(request):
        pass
    assert received(plain)[-1]["User-Agent"] == "app/3"


# --- URLError.reason: urllib's exception objects, securehttp's words --------------------------


def test_reason_of_a_refused_connection_is_the_oserror() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    errors = []
    for opener in (urllib.request.urlopen, securehttp.urlopen):
        with pytest.raises(urllib.error.URLError) as info:
            opener(url)
        errors.append(info.value)
    theirs, ours = errors
    assert type(ours.reason) is type(theirs.reason) is ConnectionRefusedError
    assert str(ours) == "cannot connect to 127.0.0.1:{}: Connection refused".format(
        url.rsplit(":", 1)[1].strip("/")
    )


def test_reason_of_a_failed_verification_is_the_ssl_error(good_server: Server) -> None:
    errors = []
    for opener in (urllib.request.urlopen, securehttp.urlopen):
        with pytest.raises(urllib.error.URLError) as info:
            opener(good_server.url("/"))
        errors.append(info.value)
    theirs, ours = errors
    assert isinstance(theirs.reason, ssl.SSLCertVerificationError)
    assert isinstance(ours.reason, ssl.SSLCertVerificationError)
    assert isinstance(ours, securehttp.CertificateError)
    assert str(ours).startswith(f"certificate verification failed for 127.0.0.1:{good_server.port}")


def test_reason_of_a_timeout_is_a_timeout_error(localhost_cert: Any, ca_pem: Path) -> None:
    from .faultserver import fault_server
    from .tlsserver import server_context

    with (
        fault_server(server_context(localhost_cert), stall_handshake=True) as stalled,
        pytest.raises(securehttp.TimeoutError) as info,
    ):
        securehttp.urlopen(stalled.url("/"), timeout=0.3)
    assert isinstance(info.value.reason, TimeoutError)
    assert isinstance(info.value, TimeoutError)
    assert str(info.value).startswith("timed out")


# --- file:, data:, ftp: as urllib opens them --------------------------------------------------


def same_response(url: str) -> tuple[bytes, email.message.Message]:
    with urllib.request.urlopen(url) as theirs:  # noqa: S310 - the schemes are the test
        expected = (theirs.read(), theirs.info(), theirs.geturl())
    with securehttp.urlopen(url) as ours:
        got = (ours.read(), ours.info(), ours.geturl())
    assert got[0] == expected[0]
    assert list(got[1].items()) == list(expected[1].items())
    assert got[2] == expected[2]
    return got[0], got[1]


def test_file_urls_open_as_in_urllib(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(b"<p>local</p>\n")
    body, info = same_response(path.as_uri())
    assert body == b"<p>local</p>\n"
    assert info["Content-type"] == "text/html"
    request = urllib.request.Request(path.as_uri())  # noqa: S310
    with securehttp.urlopen(request) as response:
        assert response.read() == body
    with pytest.raises(urllib.error.URLError) as info_missing:
        securehttp.urlopen((tmp_path / "missing").as_uri())
    assert isinstance(info_missing.value.reason, FileNotFoundError)


def test_data_urls_open_as_in_urllib() -> None:
    body, info = same_response("data:text/plain;base64,aGVsbG8=")
    assert body == b"hello"
    assert info["Content-type"] == "text/plain"


def test_ftp_urls_fail_as_in_urllib() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"ftp://127.0.0.1:{sock.getsockname()[1]}/file.txt"
    errors = []
    for opener in (urllib.request.urlopen, securehttp.urlopen):
        with pytest.raises(urllib.error.URLError) as info:
            opener(url, timeout=5)
        errors.append(info.value)
    assert str(errors[0]) == str(errors[1])


@pytest.mark.parametrize("url", ["file:///etc/hostname", "data:,x", "ftp://127.0.0.1/x"])
def test_client_refuses_other_schemes(url: str) -> None:
    with (
        Client() as client,
        pytest.raises(ValueError, match=r"unsupported URL scheme|not an absolute"),
    ):
        client.get(url)
