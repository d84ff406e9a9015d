"""One named test per advisory of this field that applies to securehttp, plus the catalogue
cases (shared/research/reliability.md) not covered elsewhere.  Each test sets up the exact
condition of the advisory and asserts the safe outcome."""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from securehttp import (
    CertificateError,
    Client,
    InsecureRequestWarning,
    PinMismatchError,
    Policy,
    PolicyError,
    TooManyRedirects,
    URLError,
)

from .faultserver import FaultServer, fault_server
from .tlsserver import cn_only_cert, serve, server_context, spki_pin, write

SECRETS = {
    "Authorization": "Bearer s3cret",
    "cookie": "session=1",
    "PROXY-AUTHORIZATION": "Basic cHJveHk6cHc=",
}


def redirect(server: Any, to: str, code: int = 302) -> str:
    return str(server.url("/redirect?" + urllib.parse.urlencode({"to": to, "code": code})))


def trust(ca_pem: Path, **hosts: dict[str, Any]) -> Policy:
    return Policy.from_dict({"defaults": {"trust": str(ca_pem)}, "hosts": hosts})


@pytest.fixture
def faulty(localhost_cert: Any) -> Iterator[FaultServer]:
    with fault_server(server_context(localhost_cert)) as server:
        yield server


# --- redirects and credentials (catalogue group F) ------------------------------------------


def echoed_headers(client: Client, url: str) -> dict[str, str]:
    with client.get(url, headers=SECRETS) as response:
        return {k.lower(): v for k, v in json.loads(response.read())["headers"].items()}


def test_cve_2023_43804_cookie_stripped_on_cross_origin_redirect(
    good_server: Any, make_server: Callable[..., Any], localhost_cert: Any, trusting: Policy
) -> None:
    other = make_server(localhost_cert, name="localhost")
    with Client(trusting) as client:
        headers = echoed_headers(client, redirect(good_server, other.url("/echo")))
    assert "cookie" not in headers


def test_cve_2024_37891_and_2023_32681_proxy_authorization_stripped(
    good_server: Any, make_server: Callable[..., Any], localhost_cert: Any, trusting: Policy
) -> None:
    other = make_server(localhost_cert, name="localhost")
    with Client(trusting) as client:
        headers = echoed_headers(client, redirect(good_server, other.url("/echo")))
    assert "proxy-authorization" not in headers
    assert "authorization" not in headers


def test_cve_2018_18074_authorization_stripped_on_scheme_change(
    good_server: Any, make_server: Callable[..., Any], ca_pem: Path
) -> None:
    plain = make_server(None)
    policy = trust(ca_pem, **{"127.0.0.1": {"allow_https_to_http_redirect": True}})
    with Client(policy) as client:
        headers = echoed_headers(client, redirect(good_server, plain.url("/echo")))
    assert "authorization" not in headers


def test_same_host_redirect_keeps_authorization(good_server: Any, trusting: Policy) -> None:
    with Client(trusting) as client:
        headers = echoed_headers(client, redirect(good_server, good_server.url("/echo")))
    assert headers["authorization"] == "Bearer s3cret"


def test_callers_headers_are_not_mutated(
    good_server: Any, make_server: Callable[..., Any], localhost_cert: Any, trusting: Policy
) -> None:
    other = make_server(localhost_cert, name="localhost")
    mine = dict(SECRETS)
    with Client(trusting) as client:
        client.get(redirect(good_server, other.url("/echo")), headers=mine).close()
    assert mine == SECRETS


def test_cve_2023_45803_body_dropped_when_a_redirect_becomes_get(
    good_server: Any, trusting: Policy
) -> None:
    with Client(trusting) as client:
        for code in (301, 302, 303):
            url = redirect(good_server, good_server.url("/echo"), code)
            with client.post(
                url, body=b"card=4111", headers={"Content-Type": "text/plain"}
            ) as response:
                echo = json.loads(response.read())
            assert (echo["method"], echo["body"]) == ("GET", ""), code
            assert "Content-Type" not in echo["headers"]


def test_cve_2025_50181_redirects_off_means_never_followed(
    good_server: Any, trusting: Policy
) -> None:
    with (
        Client(trusting) as client,
        client.get(redirect(good_server, "/echo"), redirect=False) as response,
    ):
        assert response.status == 302
    assert [path for _, path, _ in good_server.httpd.requests if path == "/echo"] == []


def test_redirect_to_other_schemes_is_refused(
    client_for: Callable[..., Client], faulty: FaultServer
) -> None:
    with client_for() as client, pytest.raises(URLError, match="unsupported URL scheme 'file'"):
        client.get(faulty.url("/redirect-file"))


@pytest.mark.parametrize(
    ("path", "words"),
    [("/redirect-far", "longer than 253"), ("/redirect-ats", r"cannot connect to 127\.0\.0\.1:1")],
)
def test_cve_2022_45061_and_2021_33503_hostile_locations_fail_fast(
    client_for: Callable[..., Client], faulty: FaultServer, path: str, words: str
) -> None:
    started = time.monotonic()
    with client_for() as client, pytest.raises(URLError, match=words):
        client.get(faulty.url(path))
    assert time.monotonic() - started < 5


def test_cve_2026_21441_redirect_body_is_not_decoded(
    client_for: Callable[..., Client], faulty: FaultServer
) -> None:
    started = time.process_time()
    with client_for() as client, client.get(faulty.url("/redirect-bomb")) as response:
        assert response.read() == b"ok\n"
    # Inflating the 20 MiB bomb is what this rules out; generous for a loaded machine.
    assert time.process_time() - started < 2


def test_pinned_host_redirecting_elsewhere(
    good_server: Any, make_server: Callable[..., Any], localhost_cert: Any, ca_pem: Path
) -> None:
    other = make_server(localhost_cert)
    wrong = "sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s="
    right = spki_pin(localhost_cert.cert_chain_pems[0].bytes())
    # A's pin (right) does not travel to B; B's own pin (wrong) is enforced on B.
    policy = trust(
        ca_pem,
        **{
            f"127.0.0.1:{good_server.port}": {"pins": [right]},
            f"127.0.0.1:{other.port}": {"pins": [wrong]},
        },
    )
    with Client(policy) as client:
        with pytest.raises(PinMismatchError):
            client.get(redirect(good_server, other.url("/")))
        assert client.get(good_server.url("/")).read() == b"hello\n"


# --- pools and global state (groups E, C) ---------------------------------------------------


def test_cve_2024_35195_unverified_request_does_not_poison_the_pool(
    make_server: Callable[..., Any], other_ca: trustme.CA
) -> None:
    server = make_server(other_ca.issue_cert("127.0.0.1"))
    lax = Policy.from_dict(
        {"hosts": {"127.0.0.1": {"verify": "disabled", "expires": "2099-01-01", "reason": "test"}}}
    )
    with Client() as client:
        with pytest.warns(InsecureRequestWarning):
            assert client.get(server.url("/"), policy=lax).read() == b"hello\n"
        with pytest.raises(CertificateError):
            client.get(server.url("/"))


def test_pep476_process_wide_opt_out_does_not_reach_securehttp(
    good_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ssl, "_create_default_https_context", ssl._create_unverified_context)
    with Client() as client, pytest.raises(CertificateError):
        client.get(good_server.url("/"))


def test_right_pin_and_wrong_hostname_fails(
    make_server: Callable[..., Any], ca: trustme.CA, ca_pem: Path
) -> None:
    cert = ca.issue_cert("other.test")
    server = make_server(cert)
    policy = trust(ca_pem, **{"127.0.0.1": {"pins": [spki_pin(cert.cert_chain_pems[0].bytes())]}})
    with (
        Client(policy) as client,
        pytest.raises(CertificateError, match="IP address mismatch") as info,
    ):
        client.get(server.url("/"))
    assert not isinstance(info.value, PinMismatchError)


def test_cn_only_refused_even_with_a_callers_stdlib_context(
    ca: trustme.CA, ca_pem: Path, tmp_path: Path
) -> None:
    cert_pem, key_pem = cn_only_cert(ca, "localhost")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(write(tmp_path / "cn.pem", cert_pem), write(tmp_path / "cn.key", key_pem))
    stdlib = ssl.create_default_context(cafile=str(ca_pem))  # hostname_checks_common_name=True
    with (
        serve(tls, name="localhost") as server,
        Client() as client,
        pytest.raises(CertificateError, match="no subjectAltName"),
    ):
        client.get(server.url("/"), context=stdlib)
    assert stdlib.hostname_checks_common_name is True  # and the caller's context is untouched


# --- CA bundles (group D) -------------------------------------------------------------------


def test_empty_ca_file_is_an_error_never_the_system_store(good_server: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with (
        Client(Policy.from_dict({"defaults": {"trust": str(empty)}})) as client,
        pytest.raises(PolicyError, match="cannot load CA certificates"),
    ):
        client.get(good_server.url("/"))


def test_directory_without_hashed_certificates_is_an_error(
    good_server: Any, tmp_path: Path
) -> None:
    with (
        Client(Policy.from_dict({"defaults": {"trust": str(tmp_path)}})) as client,
        pytest.raises(PolicyError, match="no hashed certificates"),
    ):
        client.get(good_server.url("/"))


def test_hashed_ca_directory_is_trusted(good_server: Any, ca: trustme.CA, tmp_path: Path) -> None:
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to hash a directory")
    directory = tmp_path / "cas"
    directory.mkdir()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    subprocess.run([openssl, "rehash", str(directory)], check=True, capture_output=True)
    with Client(Policy.from_dict({"defaults": {"trust": str(directory)}})) as client:
        assert client.get(good_server.url("/")).read() == b"hello\n"


# --- policy input advisories ----------------------------------------------------------------


def test_cve_2020_14343_yaml_cannot_construct_objects(write_policy: Callable[..., Path]) -> None:
    path = write_policy("version: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    from securehttp import load_policy

    with pytest.raises(PolicyError, match="tags are not allowed"):
        load_policy(path)


def test_cve_2023_24329_leading_blank_url_is_refused() -> None:
    with Client() as client, pytest.raises(ValueError, match="control character"):
        client.get(" https://example.com/")


def test_cve_2024_3651_huge_idna_input_is_refused_fast() -> None:
    started = time.monotonic()
    with Client() as client, pytest.raises(ValueError, match="longer than"):
        client.get("https://" + "\u00e9" * 100_000 + ".test/")
    assert time.monotonic() - started < 2


# --- responses without a body (group G) ----------------------------------------------------


def test_head_returns_at_once(good_server: Any, trusting: Policy) -> None:
    with Client(trusting) as client, client.head(good_server.url("/")) as response:
        assert response.status == 200
        assert response.read() == b""
        assert response.headers["Content-Length"] == "6"


@pytest.fixture
def client_for(ca_pem: Path) -> Callable[..., Client]:
    def make() -> Client:
        return Client(Policy.from_dict({"defaults": {"trust": str(ca_pem)}}))

    return make


def test_url_credentials_never_appear_in_errors_or_reprs(
    good_server: Any, trusting: Policy
) -> None:
    secret_url = good_server.url("/loop").replace("https://", "https://alice:s3cret@")
    with Client(trusting) as client:
        with pytest.raises(TooManyRedirects) as info:
            client.get(secret_url)
        assert "s3cret" not in str(info.value)
        ok = good_server.url("/").replace("https://", "https://alice:s3cret@")
        with client.get(ok) as response:
            assert "s3cret" not in repr(response)
            assert response.read() == b"hello\n"
    # URL userinfo is Basic authentication for its own origin (SPEC §1) and nothing else:
    # every request here stayed on that origin, and the URL sent holds no userinfo.
    basic = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert {headers.get("Authorization") for _, _, headers in good_server.httpd.requests} == {basic}
    assert all("s3cret" not in path for _, path, _ in good_server.httpd.requests)
