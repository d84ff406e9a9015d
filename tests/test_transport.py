"""The transport against real TLS servers on loopback: every success has its failing twin."""

from __future__ import annotations

import datetime
import json
import logging
import ssl
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

import securehttp
from securehttp import (
    CertificateError,
    Client,
    InsecureRequestWarning,
    PinMismatchError,
    Policy,
    ResponseTooLarge,
    TooManyRedirects,
    URLError,
    Verify,
)
from securehttp._verification import contexts

from .tlsserver import cn_only_cert, serve, spki_pin, write

FUTURE = (datetime.date.today() + datetime.timedelta(days=200)).isoformat()
NOW = datetime.datetime.now(datetime.timezone.utc)
WRONG_PIN = "sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s="
VERIFIED_CHAIN = sys.version_info >= (3, 13)  # SSLSocket.get_verified_chain()


def trust(ca_pem: Path, **host_settings: Any) -> Policy:
    data: dict[str, Any] = {"defaults": {"trust": str(ca_pem)}}
    if host_settings:
        data["hosts"] = {"127.0.0.1": host_settings}
    return Policy.from_dict(data, source="test-policy")


def waiver(level: str) -> dict[str, str]:
    return {"verify": level, "expires": FUTURE, "reason": "test"}


# --- the verification matrix ----------------------------------------------------------------


def test_good_certificate_is_accepted(good_server: Any, trusting: Policy) -> None:
    with Client(trusting) as client, client.get(good_server.url("/")) as response:
        assert response.status == 200
        assert response.read() == b"hello\n"
        assert response.decision.verify is Verify.STRICT
        assert response.decision.sources["trust"] == "test-policy defaults"


def test_unknown_ca_is_refused_with_a_hint(good_server: Any) -> None:
    # No policy: certifi's roots, which do not include the test CA.
    with Client() as client, pytest.raises(CertificateError) as info:
        client.get(good_server.url("/"))
    error = info.value
    assert error.host == "127.0.0.1"
    assert error.port == good_server.port
    assert "unable to get local issuer certificate" in error.verify_reason
    assert "extra_ca" in error.hint
    assert "SECUREHTTP_EXTRA_CA_CERTS" in error.hint
    assert "verify=strict (default)" in str(error)
    assert "trust=[certifi] (default)" in str(error)
    # Mapped at the boundary: no urllib3 type leaks, and existing urllib handlers catch it.
    assert isinstance(error, securehttp.URLError)
    import urllib.error

    assert isinstance(error, urllib.error.URLError)


def test_verification_failure_is_not_retried(good_server: Any) -> None:
    with Client(retries=5) as client, pytest.raises(CertificateError):
        client.get(good_server.url("/"))
    good_server.settle(connections=1)
    assert good_server.connections == 1


def test_other_ca_is_refused(
    make_server: Callable[..., Any], other_ca: trustme.CA, trusting: Policy
) -> None:
    server = make_server(other_ca.issue_cert("127.0.0.1"))
    with (
        Client(trusting) as client,
        pytest.raises(CertificateError, match="unable to get local issuer"),
    ):
        client.get(server.url("/"))


@pytest.mark.parametrize(
    ("identities", "host", "words"),
    [
        (("other.test",), "127.0.0.1", "IP address mismatch"),
        (("other.test",), "localhost", "Hostname mismatch"),
        (("127.0.0.2",), "127.0.0.1", "IP address mismatch"),
    ],
)
def test_wrong_host_is_refused(
    make_server: Callable[..., Any],
    ca: trustme.CA,
    trusting: Policy,
    identities: tuple[str, ...],
    host: str,
    words: str,
) -> None:
    server = make_server(ca.issue_cert(*identities), name=host)
    with Client(trusting) as client, pytest.raises(CertificateError, match=words) as info:
        client.get(server.url("/"))
    assert (
        f"the certificate covers {'IP' if identities[0][0].isdigit() else 'DNS'}:"
        in info.value.hint
    )
    assert identities[0] in info.value.hint


def test_localhost_name_is_accepted(
    make_server: Callable[..., Any], localhost_cert: Any, trusting: Policy
) -> None:
    server = make_server(localhost_cert, name="localhost")
    with Client(trusting) as client:
        assert client.get(server.url("/")).status == 200
        assert client.get(server.url("/", host="LOCALHOST.")).status == 200


def test_expired_is_refused(
    make_server: Callable[..., Any], ca: trustme.CA, trusting: Policy
) -> None:
    cert = ca.issue_cert(
        "127.0.0.1",
        not_before=NOW - datetime.timedelta(days=10),
        not_after=NOW - datetime.timedelta(days=1),
    )
    server = make_server(cert)
    with (
        Client(trusting) as client,
        pytest.raises(CertificateError, match="certificate has expired") as info,
    ):
        client.get(server.url("/"))
    assert "validity dates" in info.value.hint


def test_not_yet_valid_is_refused(
    make_server: Callable[..., Any], ca: trustme.CA, trusting: Policy
) -> None:
    cert = ca.issue_cert(
        "127.0.0.1",
        not_before=NOW + datetime.timedelta(days=1),
        not_after=NOW + datetime.timedelta(days=10),
    )
    server = make_server(cert)
    with Client(trusting) as client, pytest.raises(CertificateError, match="not yet valid"):
        client.get(server.url("/"))


def test_common_name_without_san_is_refused(
    make_server: Callable[..., Any], ca: trustme.CA, trusting: Policy, tmp_path: Path
) -> None:
    cert_pem, key_pem = cn_only_cert(ca, "localhost")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(write(tmp_path / "cn.pem", cert_pem), write(tmp_path / "cn.key", key_pem))
    with (
        serve(tls, name="localhost") as server,
        Client(trusting) as client,
        pytest.raises(CertificateError, match="Hostname mismatch"),
    ):
        client.get(server.url("/"))


def test_missing_intermediate_is_refused_and_full_chain_accepted(
    make_server: Callable[..., Any], ca: trustme.CA, trusting: Policy
) -> None:
    intermediate = ca.create_child_ca()
    cert = intermediate.issue_cert("127.0.0.1")
    leaf_only = make_server(cert, chain=False)
    full_chain = make_server(cert)
    with Client(trusting) as client:
        with pytest.raises(CertificateError, match="unable to get local issuer"):
            client.get(leaf_only.url("/"))
        assert client.get(full_chain.url("/")).status == 200


def test_min_tls_13_against_a_tls12_only_server(
    make_server: Callable[..., Any], localhost_cert: Any, ca_pem: Path
) -> None:
    server = make_server(localhost_cert, max_tls=ssl.TLSVersion.TLSv1_2)
    with Client(trust(ca_pem, min_tls="1.3")) as client, pytest.raises(URLError) as info:
        client.get(server.url("/"))
    assert not isinstance(info.value, CertificateError)
    assert "TLS version mismatch" in str(info.value)
    assert "min_tls=1.3" in str(info.value)
    with Client(trust(ca_pem, min_tls="1.2")) as client:
        assert client.get(server.url("/")).status == 200


def test_client_certificate(
    make_server: Callable[..., Any],
    localhost_cert: Any,
    ca: trustme.CA,
    ca_pem: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_ca = trustme.CA()
    server = make_server(localhost_cert, client_ca=client_ca)
    with Client(trust(ca_pem)) as client, pytest.raises(URLError):
        client.get(server.url("/echo")).read()
    identity = client_ca.issue_cert("client@example.test", common_name="test client")
    cert = write(tmp_path / "client.pem", b"".join(p.bytes() for p in identity.cert_chain_pems))
    key = write(tmp_path / "client.key", identity.private_key_pem.bytes())
    policy = trust(ca_pem, client_cert={"cert": str(cert), "key": str(key)})
    with Client(policy) as client, client.get(server.url("/echo")) as response:
        assert json.loads(response.read())["client_cert"] == "test client"


def test_encrypted_client_key_password_comes_from_the_environment_and_never_leaks(
    make_server: Callable[..., Any],
    localhost_cert: Any,
    ca_pem: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.hazmat.primitives import serialization

    client_ca = trustme.CA()
    server = make_server(localhost_cert, client_ca=client_ca)
    identity = client_ca.issue_cert("client@example.test", common_name="locked client")
    raw_key = serialization.load_pem_private_key(identity.private_key_pem.bytes(), password=None)
    secret = "correct horse battery staple"
    encrypted = raw_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret.encode()),
    )
    cert = write(tmp_path / "client.pem", identity.cert_chain_pems[0].bytes())
    key = write(tmp_path / "client.key", encrypted)
    policy = trust(
        ca_pem,
        client_cert={"cert": str(cert), "key": str(key), "password_env": "TEST_KEY_PASSWORD"},
    )
    monkeypatch.setenv("TEST_KEY_PASSWORD", "wrong password")
    with Client(policy) as client, pytest.raises(securehttp.PolicyError) as info:
        client.get(server.url("/echo"))
    assert "wrong password" not in str(info.value)
    assert "cannot load the client certificate" in str(info.value)
    monkeypatch.setenv("TEST_KEY_PASSWORD", secret)
    with Client(policy) as client, client.get(server.url("/echo")) as response:
        assert json.loads(response.read())["client_cert"] == "locked client"
        assert secret not in repr(response.decision)
        assert secret not in str(response.decision)


# --- pins -----------------------------------------------------------------------------------


def test_right_pin_is_accepted_and_wrong_pin_refused(
    good_server: Any, localhost_cert: Any, ca_pem: Path
) -> None:
    right = spki_pin(localhost_cert.cert_chain_pems[0].bytes())
    with Client(trust(ca_pem, pins=[WRONG_PIN, right])) as client:
        assert client.get(good_server.url("/")).read() == b"hello\n"
    with Client(trust(ca_pem, pins=[WRONG_PIN])) as client, pytest.raises(PinMismatchError) as info:
        client.get(good_server.url("/"))
    # The leaf first; on Python 3.13+ the rest of the verified chain (here: the CA) follows.
    assert info.value.presented[0] == right
    assert len(info.value.presented) == (2 if VERIFIED_CHAIN else 1)
    assert right in str(info.value)
    assert "test-policy hosts" in str(info.value)


@pytest.mark.skipif(not VERIFIED_CHAIN, reason="Python < 3.13 exposes only the leaf")
def test_ca_pin_matches_where_the_verified_chain_is_exposed(
    good_server: Any, ca: trustme.CA, ca_pem: Path
) -> None:
    with Client(trust(ca_pem, pins=[spki_pin(ca.cert_pem.bytes())])) as client:
        assert client.get(good_server.url("/")).read() == b"hello\n"


@pytest.mark.skipif(VERIFIED_CHAIN, reason="Python 3.13+ checks the whole verified chain")
def test_ca_pin_does_not_match_where_only_the_leaf_is_exposed(
    good_server: Any, ca: trustme.CA, ca_pem: Path
) -> None:
    with (
        Client(trust(ca_pem, pins=[spki_pin(ca.cert_pem.bytes())])) as client,
        pytest.raises(PinMismatchError),
    ):
        client.get(good_server.url("/"))


def test_wrong_pin_fails_before_the_request_is_sent(good_server: Any, ca_pem: Path) -> None:
    with Client(trust(ca_pem, pins=[WRONG_PIN])) as client, pytest.raises(PinMismatchError):
        client.post(good_server.url("/echo"), body=b"secret payload")
    good_server.settle(connections=1)
    assert good_server.handshakes == 1
    assert good_server.httpd.requests == []


def test_right_pin_with_an_unknown_ca_is_still_refused(
    make_server: Callable[..., Any], other_ca: trustme.CA, ca_pem: Path
) -> None:
    cert = other_ca.issue_cert("127.0.0.1")
    server = make_server(cert)
    pin = spki_pin(cert.cert_chain_pems[0].bytes())
    with Client(trust(ca_pem, pins=[pin])) as client, pytest.raises(CertificateError) as info:
        client.get(server.url("/"))
    assert not isinstance(info.value, PinMismatchError)


def test_pinned_request_never_rides_an_unpinned_connection(good_server: Any, ca_pem: Path) -> None:
    with Client(trust(ca_pem)) as client:
        assert client.get(good_server.url("/")).read() == b"hello\n"
        with pytest.raises(PinMismatchError):
            client.get(good_server.url("/"), policy=trust(ca_pem, pins=[WRONG_PIN]))


# --- pool isolation (CVE-2024-35195's class) -----------------------------------------------


def test_strict_then_insecure_override_then_strict_fails_again(
    make_server: Callable[..., Any], other_ca: trustme.CA
) -> None:
    server = make_server(other_ca.issue_cert("127.0.0.1"))
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with Client() as client:
        with pytest.raises(CertificateError):
            client.get(server.url("/"))
        with pytest.warns(InsecureRequestWarning, match="disabled by request context="):
            response = client.get(server.url("/"), context=unverified)
        with response:
            assert response.read() == b"hello\n"
            assert response.decision.verify is Verify.DISABLED
            assert response.decision.sources["verify"] == "request context="
        with pytest.raises(CertificateError):
            client.get(server.url("/"))


def test_runtime_switch_off_then_on_fails_again(
    make_server: Callable[..., Any], other_ca: trustme.CA
) -> None:
    server = make_server(other_ca.issue_cert("127.0.0.1"))
    with Client() as client:
        with pytest.raises(CertificateError):
            client.get(server.url("/"))
        securehttp.https_verify_certificates(False)
        with pytest.warns(
            InsecureRequestWarning, match=r"disabled by runtime https_verify_certificates\(False\)"
        ):
            assert client.get(server.url("/")).read() == b"hello\n"
        securehttp.https_verify_certificates(True)
        with pytest.raises(CertificateError):
            client.get(server.url("/"))


def test_caller_context_is_used_as_given_and_never_modified(good_server: Any, ca_pem: Path) -> None:
    ctx = ssl.create_default_context(cafile=str(ca_pem))
    before = (
        ctx.verify_mode,
        ctx.check_hostname,
        ctx.options,
        ctx.verify_flags,
        ctx.minimum_version,
        ctx.maximum_version,
        ctx.hostname_checks_common_name,
    )
    with Client() as client:
        assert client.get(good_server.url("/"), context=ctx).status == 200
    after = (
        ctx.verify_mode,
        ctx.check_hostname,
        ctx.options,
        ctx.verify_flags,
        ctx.minimum_version,
        ctx.maximum_version,
        ctx.hostname_checks_common_name,
    )
    assert before == after


def test_caller_context_wins_over_the_policy(good_server: Any, ca_pem: Path) -> None:
    # The policy pins a wrong key; the explicit context says nothing about pins, and wins.
    ctx = ssl.create_default_context(cafile=str(ca_pem))
    with Client(trust(ca_pem, pins=[WRONG_PIN])) as client:
        assert client.get(good_server.url("/"), context=ctx).status == 200
    # Its twin: a context that does not trust the server's CA fails, whatever the policy says.
    with Client(trust(ca_pem)) as client, pytest.raises(CertificateError):
        client.get(good_server.url("/"), context=ssl.create_default_context())


def test_cached_contexts_are_sealed(good_server: Any, trusting: Policy) -> None:
    with Client(trusting) as client:
        client.get(good_server.url("/")).close()
    ctx = contexts.get(trusting.resolve(good_server.url("/")).tls)
    with pytest.raises(RuntimeError, match="never modified"):
        ctx.verify_mode = ssl.CERT_NONE
    with pytest.raises(RuntimeError, match="never modified"):
        ctx.load_verify_locations(cafile=str(ca_pem_path(trusting)))
    with pytest.raises(RuntimeError, match="never modified"):
        ctx.minimum_version = ssl.TLSVersion.TLSv1


def ca_pem_path(policy: Policy) -> str:
    return str(policy.resolve("example.com").trust[0])


def test_one_context_for_a_thousand_hosts_on_one_setting(ca_pem: Path) -> None:
    policy = Policy.from_dict({"defaults": {"trust": str(ca_pem), "min_tls": "1.3"}})
    with Client(policy) as client:
        decisions = {client.decide(f"https://host{i}.example.test/") for i in range(1000)}
    assert len(decisions) == 1
    builds = contexts.builds
    tls = {d.tls for d in decisions}
    for settings in tls:
        contexts.get(settings)
    assert contexts.builds - builds <= 1


# --- levels ---------------------------------------------------------------------------------


def test_disabled_warns_once_per_host(
    make_server: Callable[..., Any], other_ca: trustme.CA
) -> None:
    server = make_server(other_ca.issue_cert("127.0.0.1"))
    policy = Policy.from_dict({"hosts": {"127.0.0.1": waiver("disabled")}}, source="lab.yaml")
    with Client(policy) as client:
        with pytest.warns(
            InsecureRequestWarning,
            match=r"127\.0\.0\.1:\d+: certificate verification is disabled by lab\.yaml hosts",
        ):
            assert client.get(server.url("/")).read() == b"hello\n"
        # Once per host and reason: the second request does not warn (filterwarnings=error).
        assert client.get(server.url("/")).read() == b"hello\n"


def test_report_only_connects_and_audits(
    make_server: Callable[..., Any], other_ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(other_ca.issue_cert("127.0.0.1"))
    policy = Policy.from_dict({"defaults": waiver("warn")}, source="migration.yaml")
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    with (
        Client(policy) as client,
        pytest.warns(
            InsecureRequestWarning,
            match="verification failed .*unable to get local issuer.*verify=warn",
        ),
    ):
        assert client.get(server.url("/")).read() == b"hello\n"
    events = [r.securehttp_audit for r in caplog.records if hasattr(r, "securehttp_audit")]
    assert len(events) == 1
    event = events[0]
    assert event["host"] == "127.0.0.1"
    assert event["port"] == server.port
    assert "unable to get local issuer" in event["reason"]
    assert event["source"] == "migration.yaml defaults"
    json.dumps(event)  # structured: writable as a JSON line


def test_report_only_with_a_good_certificate_is_silent(
    good_server: Any, ca_pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = Policy.from_dict({"defaults": {"trust": str(ca_pem), **waiver("warn")}})
    with Client(policy) as client:
        assert client.get(good_server.url("/")).status == 200
    assert not [r for r in caplog.records if r.name == "securehttp.audit"]


# --- redirects ------------------------------------------------------------------------------


def redirect_to(server: Any, target: str, code: int = 302) -> str:
    import urllib.parse

    return str(server.url("/redirect?" + urllib.parse.urlencode({"to": target, "code": code})))


def test_redirect_is_followed_and_resolved_again(
    good_server: Any, make_server: Callable[..., Any], other_ca: trustme.CA, trusting: Policy
) -> None:
    with (
        Client(trusting) as client,
        client.get(redirect_to(good_server, good_server.url("/echo"))) as response,
    ):
        assert response.status == 200
        assert response.url == good_server.url("/echo")
    elsewhere = make_server(other_ca.issue_cert("127.0.0.1"))
    with Client(trusting) as client, pytest.raises(CertificateError):
        client.get(redirect_to(good_server, elsewhere.url("/")))


def test_https_to_http_redirect_is_refused_unless_allowed(
    good_server: Any, make_server: Callable[..., Any], ca_pem: Path
) -> None:
    plain = make_server(None)
    with Client(trust(ca_pem)) as client, pytest.raises(URLError, match="https to http"):
        client.get(redirect_to(good_server, plain.url("/")))
    plain.settle(connections=0)
    assert plain.httpd.requests == []
    with Client(trust(ca_pem, allow_https_to_http_redirect=True)) as client:
        assert client.get(redirect_to(good_server, plain.url("/"))).read() == b"hello\n"


def test_credentials_dropped_on_cross_host_redirect_kept_on_same(
    good_server: Any, make_server: Callable[..., Any], localhost_cert: Any, trusting: Policy
) -> None:
    other = make_server(localhost_cert, name="localhost")
    secrets = {
        "Authorization": "Bearer s3cret",
        "Cookie": "session=1",
        "Proxy-Authorization": "Basic x",
        "X-Other": "kept",
    }
    with Client(trusting) as client:
        same = json.loads(
            client.get(redirect_to(good_server, good_server.url("/echo")), headers=secrets).read()
        )
        cross = json.loads(
            client.get(redirect_to(good_server, other.url("/echo")), headers=secrets).read()
        )
    assert same["headers"]["Authorization"] == "Bearer s3cret"
    for name in ("Authorization", "Cookie", "Proxy-Authorization"):
        assert name not in cross["headers"]
    assert cross["headers"]["X-Other"] == "kept"


def test_303_turns_post_into_get_and_307_keeps_it(good_server: Any, trusting: Policy) -> None:
    with Client(trusting) as client:
        after_303 = json.loads(
            client.post(
                redirect_to(good_server, good_server.url("/echo"), 303), body=b"data"
            ).read()
        )
        after_307 = json.loads(
            client.post(
                redirect_to(good_server, good_server.url("/echo"), 307), body=b"data"
            ).read()
        )
    assert (after_303["method"], after_303["body"]) == ("GET", "")
    assert (after_307["method"], after_307["body"]) == ("POST", "data")


def test_redirect_loop_ends(good_server: Any, trusting: Policy) -> None:
    with (
        Client(trusting) as client,
        pytest.raises(TooManyRedirects, match="more than 10 redirects"),
    ):
        client.get(good_server.url("/loop"))
    assert len(good_server.httpd.requests) == 11


def test_redirects_can_be_turned_off(good_server: Any, trusting: Policy) -> None:
    with (
        Client(trusting) as client,
        client.get(redirect_to(good_server, "/echo"), redirect=False) as response,
    ):
        assert response.status == 302
        assert response.headers["Location"] == "/echo"


# --- threads, responses, limits -------------------------------------------------------------


def test_eight_threads_share_one_client(good_server: Any, trusting: Policy) -> None:
    errors: list[BaseException] = []
    bodies: list[bytes] = []
    lock = threading.Lock()
    with Client(trusting) as client:

        def work() -> None:
            try:
                for _ in range(25):
                    with client.get(good_server.url("/")) as response:
                        body = response.read()
                    with lock:
                        bodies.append(body)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    assert bodies == [b"hello\n"] * 200
    # Pooled: at most one connection per thread, not one per request.
    assert good_server.handshakes <= 10


def test_response_api(good_server: Any, trusting: Policy) -> None:
    with Client(trusting) as client:
        with client.get(good_server.url("/")) as response:
            assert (response.status, response.reason, response.getcode(), response.code) == (
                200,
                "OK",
                200,
                200,
            )
            assert response.geturl() == response.url == good_server.url("/")
            assert response.headers["content-type"] == "text/plain"
            assert response.info() is response.headers
            assert response.getheader("SET-COOKIE") == "a=1"
            assert response.read(2) == b"he"
            assert response.read() == b"llo\n"
            assert response.read() == b""
        with client.get(good_server.url("/lines")) as response:
            assert response.readline() == b"one\n"
            assert list(response) == [b"two\n", b"three\n"]
        response = client.get(good_server.url("/status/404"))
        assert response.status == 404
        assert response.read() == b"status 404\n"
        response.close()
        assert response.closed


def test_connection_is_reused_after_a_full_read(good_server: Any, trusting: Policy) -> None:
    with Client(trusting) as client:
        for _ in range(5):
            with client.get(good_server.url("/")) as response:
                response.read()
    assert good_server.handshakes == 1


def test_max_body(good_server: Any, trusting: Policy) -> None:
    with Client(trusting, max_body=1000) as client:
        assert len(client.get(good_server.url("/big?size=1000")).read()) == 1000
        with pytest.raises(ResponseTooLarge, match="max_body=1000"):
            client.get(good_server.url("/big?size=1001")).read()
        # Reading in pieces is not capped: the caller decides how much to keep.
        with client.get(good_server.url("/big?size=5000")) as response:
            assert len(response.read(4000)) == 4000


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"method": "GET\r\nX: y"}, "invalid HTTP method"),
        ({"method": "GET", "headers": {"X-A": "1\r\nInjected: yes"}}, "contains CR, LF or NUL"),
        ({"method": "GET", "headers": {"X-A\n": "1"}}, "invalid header name"),
        ({"method": "GET", "path": "/\r\nInjected: yes"}, "CR, LF or NUL"),
        ({"method": "GET", "path": "/\x00"}, "CR, LF or NUL"),
    ],
)
def test_injection_is_refused_before_sending(
    good_server: Any, trusting: Policy, kwargs: dict[str, Any], words: str
) -> None:
    path = kwargs.pop("path", "/")
    with Client(trusting) as client, pytest.raises(ValueError, match=words):
        client.request(kwargs.pop("method"), good_server.url("/") + path.lstrip("/"), **kwargs)
    good_server.settle(connections=0)
    assert good_server.connections == 0


def test_secret_header_values_never_appear_in_errors(good_server: Any, trusting: Policy) -> None:
    with Client(trusting) as client, pytest.raises(ValueError, match="Authorization") as info:
        client.get(good_server.url("/"), headers={"Authorization": "Bearer s3cret\n"})
    assert "s3cret" not in str(info.value)


def test_connection_refused_is_a_url_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Client() as client, pytest.raises(URLError, match=r"cannot connect to 127\.0\.0\.1"):
        client.get(f"https://127.0.0.1:{port}/")


def test_plain_http_works(make_server: Callable[..., Any]) -> None:
    server = make_server(None)
    with Client() as client:
        assert client.get(server.url("/")).read() == b"hello\n"


def test_ipv6_loopback(
    make_server: Callable[..., Any], localhost_cert: Any, trusting: Policy
) -> None:
    import socket

    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = make_server(localhost_cert, host="::1")
    except OSError:
        pytest.skip("::1 is not configured here")
    with Client(trusting) as client:
        assert client.get(server.url("/")).read() == b"hello\n"
    other = trustme.CA().issue_cert("::1")
    wrong = make_server(other, host="::1")
    with Client(trusting) as client, pytest.raises(CertificateError):
        client.get(wrong.url("/"))


# --- names that need a resolver: a stub that maps *.ex.test to loopback (no DNS) ------------


@pytest.fixture
def loopback_names(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and (host == "ex.test" or host.endswith(".ex.test")):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.mark.usefixtures("loopback_names")
@pytest.mark.parametrize(
    ("name", "ok"),
    [("a.ex.test", True), ("A.EX.TEST", True), ("a.b.ex.test", False), ("ex.test", False)],
)
def test_wildcard_certificate_matches_exactly_one_label(
    make_server: Callable[..., Any], ca: trustme.CA, trusting: Policy, name: str, ok: bool
) -> None:
    server = make_server(ca.issue_cert("*.ex.test"))
    with Client(trusting) as client:
        if ok:
            assert client.get(server.url("/", host=name)).read() == b"hello\n"
        else:
            with pytest.raises(CertificateError, match="Hostname mismatch"):
                client.get(server.url("/", host=name))


@pytest.mark.usefixtures("loopback_names")
@pytest.mark.parametrize(("san", "name"), [("ba*.ex.test", "baz.ex.test"), ("*.test", "ex.test")])
def test_partial_and_too_broad_wildcards_are_refused(
    ca: trustme.CA, trusting: Policy, tmp_path: Path, san: str, name: str
) -> None:
    cert_pem, key_pem = cn_only_cert(ca, name, dns_names=(san,))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(write(tmp_path / "w.pem", cert_pem), write(tmp_path / "w.key", key_pem))
    with (
        serve(tls) as server,
        Client(trusting) as client,
        pytest.raises(CertificateError, match="Hostname mismatch"),
    ):
        client.get(server.url("/", host=name))


@pytest.mark.usefixtures("loopback_names")
def test_unicode_name_is_checked_as_its_a_label(
    make_server: Callable[..., Any], ca: trustme.CA, trusting: Policy
) -> None:
    # The SAN holds the A-label; the URL uses the U-label: SNI and the check must use xn--.
    server = make_server(ca.issue_cert("xn--knig-5qa.ex.test"))
    with Client(trusting) as client:
        assert client.get(server.url("/", host="könig.ex.test")).read() == b"hello\n"
        assert client.get(server.url("/", host="xn--knig-5qa.ex.test")).read() == b"hello\n"
        with pytest.raises(CertificateError, match="Hostname mismatch"):
            client.get(server.url("/", host="konig.ex.test"))
