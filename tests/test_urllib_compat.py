"""The same calls through urllib.request.urlopen and securehttp.urlopen, against the same
server: a caller must see the same thing (status, reason, headers, body, errors)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import securehttp
from securehttp import Policy

Opener = Callable[..., Any]


@pytest.fixture
def openers(ca_pem: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Opener]:
    context = ssl.create_default_context(cafile=str(ca_pem))
    policy = Policy.from_dict({"defaults": {"trust": str(ca_pem)}})

    def with_urllib(url: Any, data: bytes | None = None, **kw: Any) -> Any:
        return urllib.request.urlopen(url, data, context=context, **kw)  # noqa: S310 - https test URLs

    def with_securehttp(url: Any, data: bytes | None = None, **kw: Any) -> Any:
        return securehttp.urlopen(url, data, policy=policy, **kw)

    return {"urllib": with_urllib, "securehttp": with_securehttp}


def seen(response: Any) -> dict[str, Any]:
    with response:
        return {
            "status": response.status,
            "code": response.getcode(),
            "reason": response.reason,
            "url": response.geturl(),
            "content-type": response.info().get("Content-Type"),
            "header": response.headers["content-length"],
            "body": response.read(),
        }


def both(openers: dict[str, Opener], *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    a = seen(openers["urllib"](*args, **kwargs))
    b = seen(openers["securehttp"](*args, **kwargs))
    return a, b


def test_get(good_server: Any, openers: dict[str, Opener]) -> None:
    a, b = both(openers, good_server.url("/"))
    assert a == b
    assert a["body"] == b"hello\n"


def test_post_with_data(good_server: Any, openers: dict[str, Opener]) -> None:
    a, b = both(openers, good_server.url("/echo"), b"x=1&y=2")
    echo_a, echo_b = json.loads(a.pop("body")), json.loads(b.pop("body"))
    a.pop("header"), b.pop("header")  # the echo's length depends on each client's own headers
    assert a == b
    for echo in (echo_a, echo_b):
        assert echo["method"] == "POST"
        assert echo["body"] == "x=1&y=2"
        assert echo["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize("request_class", [urllib.request.Request, securehttp.Request])
def test_request_objects_with_method_and_headers(
    good_server: Any, openers: dict[str, Opener], request_class: type[urllib.request.Request]
) -> None:
    results = []
    for name in ("urllib", "securehttp"):
        req = request_class(
            good_server.url("/echo"), data=b"{}", headers={"X-Name": "v"}, method="PUT"
        )
        results.append(json.loads(seen(openers[name](req))["body"]))
    for echo in results:
        headers = {k.lower(): v for k, v in echo["headers"].items()}
        assert (echo["method"], echo["body"], headers["x-name"]) == ("PUT", "{}", "v")


def test_http_error_is_raised_and_readable(good_server: Any, openers: dict[str, Opener]) -> None:
    errors = []
    for name in ("urllib", "securehttp"):
        with pytest.raises(urllib.error.HTTPError) as info:
            openers[name](good_server.url("/status/404"))
        errors.append(info.value)
    a, b = errors
    assert isinstance(b, securehttp.HTTPError)
    assert (a.code, a.reason, str(a), a.headers["X-Test"]) == (
        b.code,
        b.reason,
        str(b),
        b.headers["X-Test"],
    )
    assert a.read() == b.read() == b"status 404\n"
    assert b.getcode() == 404
    a.close()
    b.close()


def test_redirect_is_followed(good_server: Any, openers: dict[str, Opener]) -> None:
    target = good_server.url("/echo")
    a, b = both(openers, good_server.url(f"/redirect?to={target}"))
    assert a["url"] == b["url"] == target
    assert a["status"] == b["status"] == 200


def test_url_error_for_a_refused_connection(openers: dict[str, Opener]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{sock.getsockname()[1]}/"
    for name in ("urllib", "securehttp"):
        with pytest.raises(urllib.error.URLError):
            openers[name](url)


def test_str_data_is_a_type_error_in_both(good_server: Any, openers: dict[str, Opener]) -> None:
    for name in ("urllib", "securehttp"):
        with pytest.raises(TypeError):
            openers[name](good_server.url("/echo"), "text")


def test_plain_http(make_server: Callable[..., Any]) -> None:
    server = make_server(None)
    a = seen(urllib.request.urlopen(server.url("/")))  # noqa: S310 - a loopback test URL
    b = seen(securehttp.urlopen(server.url("/")))
    assert a == b


def test_verification_failure_is_caught_by_urllib_handlers(good_server: Any) -> None:
    # No policy trusting the test CA: securehttp refuses, and old `except URLError` code sees it.
    with pytest.raises(urllib.error.URLError) as info:
        securehttp.urlopen(good_server.url("/"))
    assert isinstance(info.value, securehttp.CertificateError)


def test_cafile_builds_a_verifying_context_with_a_deprecation_warning(
    good_server: Any, ca_pem: Path, other_ca: Any, tmp_path: Path
) -> None:
    with pytest.warns(DeprecationWarning, match="extra_ca"):
        response = securehttp.urlopen(good_server.url("/"), cafile=str(ca_pem))
    assert seen(response)["body"] == b"hello\n"
    wrong = tmp_path / "other.pem"
    other_ca.cert_pem.write_to_path(str(wrong))
    with (
        pytest.warns(DeprecationWarning, match="cafile"),
        pytest.raises(securehttp.CertificateError),
    ):
        securehttp.urlopen(good_server.url("/"), cafile=str(wrong))


def test_context_and_cafile_together_are_refused(good_server: Any, ca_pem: Path) -> None:
    with pytest.raises(ValueError, match="can't pass both context"):
        securehttp.urlopen(
            good_server.url("/"), cafile=str(ca_pem), context=ssl.create_default_context()
        )


def test_context_argument_like_urllib(good_server: Any, ca_pem: Path) -> None:
    context = ssl.create_default_context(cafile=str(ca_pem))
    assert seen(securehttp.urlopen(good_server.url("/"), context=context))["status"] == 200


def test_default_client_is_shared_and_thread_safe() -> None:
    import threading

    from securehttp import _urlopen

    seen_clients: list[object] = []
    threads = [
        threading.Thread(target=lambda: seen_clients.append(_urlopen.default_client()))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in seen_clients}) == 1
