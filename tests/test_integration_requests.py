"""securehttp.integrations.requests against real TLS servers and proxies on loopback."""

from __future__ import annotations

import importlib.metadata
import logging
import pickle
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

import securehttp
from securehttp import (
    CertificateError,
    InsecureRequestWarning,
    PinMismatchError,
    Policy,
    PolicyWarning,
)
from securehttp._process import reset_process_state
from securehttp._sources import files
from securehttp._verification import contexts_for
from securehttp.integrations.requests import PolicyAdapter, Session

from .proxy_fixtures import PROXY_CREDENTIALS
from .proxyserver import Proxy
from .tlsserver import spki_pin

WRONG_PIN = "sha256/" + "A" * 43 + "="
LATER = "2099-01-01"


@pytest.fixture
def untrusted_server(make_server: Callable[..., Any], other_ca: Any) -> Any:
    return make_server(other_ca.issue_cert("localhost", "127.0.0.1", "::1"))


@pytest.fixture
def session(trusting: Policy) -> Iterator[Session]:
    with Session(trusting) as session:
        yield session


def audit_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.securehttp_audit for r in caplog.records if hasattr(r, "securehttp_audit")]


def policy(ca_pem: Path, **defaults: Any) -> Policy:
    return Policy.from_dict({"defaults": {"trust": str(ca_pem), **defaults}}, source="test-policy")


# --- per-host decisions and requests' own error types ---------------------------------------


def test_each_host_is_verified_by_the_policy_and_errors_stay_requests_own(
    session: Session, good_server: Any, untrusted_server: Any
) -> None:
    assert session.get(good_server.url("/")).text == "hello\n"
    with pytest.raises(requests.exceptions.SSLError) as info:
        session.get(untrusted_server.url("/"))
    assert isinstance(info.value, requests.exceptions.ConnectionError)  # old excepts still work
    cause = info.value.__cause__
    assert isinstance(cause, CertificateError)
    assert (cause.host, cause.port) == ("127.0.0.1", untrusted_server.port)
    assert "unable to get local issuer certificate" in cause.verify_reason
    assert "test-policy" in str(cause)  # the deciding source
    assert untrusted_server.httpd.requests == []


def test_a_connection_is_reused_under_the_same_decision(session: Session, good_server: Any) -> None:
    for _ in range(3):
        assert session.get(good_server.url("/")).status_code == 200
    assert good_server.handshakes == 1
    # The twin: a request whose verify= changes the decision gets a connection of its own.
    with pytest.warns(InsecureRequestWarning):
        session.get(good_server.url("/"), verify=False)
    session.get(good_server.url("/"))
    assert good_server.handshakes == 2


def test_a_rule_for_one_host_does_not_reach_another(
    good_server: Any, ca_pem: Path, write_policy: Callable[..., Path]
) -> None:
    mixed = Policy.from_dict({"hosts": {"127.0.0.1": {"trust": str(ca_pem)}}})
    with Session(mixed) as session:
        assert session.get(good_server.url("/")).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):  # certifi does not know the test CA
            session.get(good_server.url("/", host="localhost"))


# --- pins, before any request byte ---------------------------------------------------------


def test_a_wrong_pin_is_refused_before_the_server_receives_a_byte(
    good_server: Any, ca_pem: Path, localhost_cert: Any
) -> None:
    with (
        Session(policy(ca_pem, pins=[WRONG_PIN])) as session,
        pytest.raises(requests.exceptions.SSLError) as info,
    ):
        session.post(good_server.url("/echo"), data=b"secret")
    assert isinstance(info.value.__cause__, PinMismatchError)
    assert info.value.__cause__.presented
    good_server.settle(1)
    assert good_server.handshakes == 1
    assert good_server.httpd.requests == []
    right = spki_pin(localhost_cert.cert_chain_pems[0].bytes())
    with Session(policy(ca_pem, pins=[right])) as session:
        assert session.post(good_server.url("/echo"), data=b"x").json()["body"] == "x"


# --- report-only ----------------------------------------------------------------------------


def test_report_only_connects_once_warns_and_records_the_failure(
    untrusted_server: Any, ca_pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    warn = policy(ca_pem, verify="warn", expires=LATER, reason="rollout")
    with Session(warn) as session:
        with pytest.warns(InsecureRequestWarning, match="connected anyway because verify=warn"):
            response = session.post(untrusted_server.url("/echo"), data=b"once")
        assert response.json()["body"] == "once"
    assert [r[0] for r in untrusted_server.httpd.requests] == ["POST"]  # sent once
    (event,) = audit_events(caplog)
    assert event["host"] == "127.0.0.1"
    assert event["port"] == untrusted_server.port
    assert "unable to get local issuer certificate" in event["reason"]
    assert event["source"] == "test-policy defaults"
    # The twin: strict, the same server is refused and nothing is sent.
    with Session(policy(ca_pem)) as session, pytest.raises(requests.exceptions.SSLError):
        session.post(untrusted_server.url("/echo"), data=b"twice")
    assert len(untrusted_server.httpd.requests) == 1


# --- requests' trust handling never reaches the policy's contexts ----------------------------


def test_requests_never_widens_or_modifies_the_policy_contexts(
    good_server: Any, trusting: Policy, ca_pem: Path, localhost_cert: Any
) -> None:
    ctx, _ = contexts_for(trusting.resolve(good_server.url("/")))
    before = ctx.cert_store_stats()
    assert before["x509_ca"] == 1
    with Session(trusting) as session:
        for _ in range(50):
            session.get(good_server.url("/"))
        # A verify= string equal to the context's own file: the same trust, a derived context.
        session.get(good_server.url("/"), verify=str(ca_pem))
    assert ctx.cert_store_stats() == before


def test_the_trap_it_avoids_a_plain_adapter_loads_certifi_into_a_given_context(
    good_server: Any, ca_pem: Path
) -> None:
    """The failure twin (migration research finding 0.1): requests and urllib3 load certifi
    into a context handed to a plain ``HTTPAdapter``."""
    ctx = ssl.create_default_context(cafile=str(ca_pem))

    class ContextAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, ssl_context=ctx, **kwargs)

    with requests.Session() as session:
        session.mount("https://", ContextAdapter())
        try:
            session.get(good_server.url("/"))
        except requests.exceptions.SSLError:
            # requests 2.32.0 to 2.32.2 replace the adapter's context by their own instead
            # (requests#6715): not honoured as given either.
            assert importlib.metadata.version("requests") in ("2.32.0", "2.32.1", "2.32.2")
            return
    assert ctx.cert_store_stats()["x509_ca"] > 1


# --- verify=False, verify="file", cert= -----------------------------------------------------


def test_verify_false_is_a_named_per_request_weakening(
    session: Session, untrusted_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    with pytest.warns(InsecureRequestWarning, match="disabled by requests verify=False"):
        assert session.get(untrusted_server.url("/"), verify=False).status_code == 200
    (event,) = audit_events(caplog)
    assert event["source"] == "requests verify=False"
    assert (event["host"], event["port"]) == ("127.0.0.1", untrusted_server.port)
    decision = session.decide(untrusted_server.url("/"), verify=False)
    assert decision.verify is securehttp.Verify.DISABLED
    assert decision.sources["verify"] == "requests verify=False"
    assert session.decide(untrusted_server.url("/")).sources["verify"] == "default"
    # The twin: the next request without it is verified again, on a connection of its own.
    with pytest.raises(requests.exceptions.SSLError):
        session.get(untrusted_server.url("/"))
    assert len(untrusted_server.httpd.requests) == 1


def test_session_verify_false_is_the_same_weakening(
    session: Session, untrusted_server: Any
) -> None:
    session.verify = False
    with pytest.warns(InsecureRequestWarning, match="requests verify=False"):
        assert session.get(untrusted_server.url("/")).status_code == 200


def test_verify_false_is_refused_under_a_lock(
    untrusted_server: Any,
    ca_pem: Path,
    caplog: pytest.LogCaptureFixture,
    make_server: Callable[..., Any],
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    locked = Policy.from_dict(
        {"version": 1, "lock": True, "defaults": {"trust": str(ca_pem)}}, source="locked.yaml"
    )
    with Session(locked) as session:
        with (
            pytest.warns(PolicyWarning, match="locked.yaml has `lock: true`"),
            pytest.raises(requests.exceptions.SSLError, match="verify=False is refused") as info,
        ):
            session.get(untrusted_server.url("/"), verify=False)
        cause = info.value.__cause__
        assert isinstance(cause, CertificateError)
        assert "locked.yaml" in str(cause)
        (event,) = audit_events(caplog)
        assert event["source"] == "requests verify=False"
        assert "locked.yaml" in event["reason"]
        session.verify = False
        with pytest.raises(requests.exceptions.SSLError, match="lock: true"):
            session.get(untrusted_server.url("/"))
    assert untrusted_server.connections == 0  # refused before connecting
    # The twin: to a plain http:// URL, verify=False means nothing and is not refused.
    plain = make_server()
    with Session(locked) as session:
        assert session.get(plain.url("/"), verify=False).text == "hello\n"


def test_a_locked_process_policy_refuses_verify_false_too(
    untrusted_server: Any, write_policy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy("version: 1\nlock: true\n")
    monkeypatch.setenv("SECUREHTTP_POLICY", str(path))
    with (
        Session() as session,
        pytest.warns(PolicyWarning),
        pytest.raises(requests.exceptions.SSLError, match="refused"),
    ):
        session.get(untrusted_server.url("/"), verify=False)


def test_explicit_session_verify_beats_requests_ca_bundle(
    untrusted_server: Any, good_server: Any, ca_pem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_pem))
    # The bundle is read by the process default policy, as its environment layer ...
    with Session() as session:
        assert session.get(good_server.url("/")).status_code == 200
        assert (
            session.decide(good_server.url("/"))
            .sources["trust"]
            .startswith("env REQUESTS_CA_BUNDLE")
        )
        # ... and an explicit session.verify beats it (requests#3829).
        session.verify = False
        with pytest.warns(InsecureRequestWarning, match="requests verify=False"):
            assert session.get(untrusted_server.url("/")).status_code == 200
    # The twin: requests' own Session lets the variable win over session.verify = False.
    with requests.Session() as plain:
        plain.mount("https://", PolicyAdapter())
        plain.verify = False
        with pytest.raises(requests.exceptions.SSLError):
            plain.get(untrusted_server.url("/"))


def test_a_bundle_variable_set_after_the_policy_was_read_is_still_the_environments(
    good_server: Any,
    ca_pem: Path,
    monkeypatch: pytest.MonkeyPatch,
    write_policy: Callable[..., Path],
) -> None:
    with Session() as session:
        with pytest.raises(requests.exceptions.SSLError):
            session.get(good_server.url("/"))  # the process default is read now
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_pem))
        assert session.get(good_server.url("/")).status_code == 200
    # The twin: a locked process policy refuses it, as it refuses the variable itself.
    reset_process_state()
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setattr(files, "SYSTEM_POLICY", str(write_policy("version: 1\nlock: true\n")))
    with Session() as session:
        with pytest.raises(requests.exceptions.SSLError):
            session.get(good_server.url("/"))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_pem))
        with (
            pytest.warns(PolicyWarning),
            pytest.raises(requests.exceptions.SSLError, match="lock: true"),
        ):
            session.get(good_server.url("/"))


def test_verify_names_a_ca_bundle_for_the_request(
    good_server: Any, ca_pem: Path, tmp_path: Path, other_ca: Any
) -> None:
    with Session(Policy.from_dict({})) as session:
        response = session.get(good_server.url("/"), verify=str(ca_pem))
        assert response.status_code == 200
        decision = session.decide(good_server.url("/"), verify=str(ca_pem))
        assert decision.sources["trust"] == f"requests verify={str(ca_pem)!r}"
        # The twins: another CA's file, and a file that does not exist.
        other = tmp_path / "other.pem"
        other_ca.cert_pem.write_to_path(str(other))
        with pytest.raises(requests.exceptions.SSLError):
            session.get(good_server.url("/"), verify=str(other))
        with pytest.raises(OSError, match="invalid path"):
            session.get(good_server.url("/"), verify=str(tmp_path / "missing.pem"))


def test_cert_sends_a_client_certificate(
    make_server: Callable[..., Any],
    localhost_cert: Any,
    ca: Any,
    trusting: Policy,
    tmp_path: Path,
) -> None:
    server = make_server(localhost_cert, client_ca=ca)
    client = ca.issue_cert("client@example.test", common_name="client-one")
    both = tmp_path / "client.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(both))
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    with Session(trusting) as session:
        assert (
            session.get(server.url("/echo"), cert=str(both)).json()["client_cert"] == "client-one"
        )
        pair = session.get(server.url("/echo"), cert=(str(cert), str(key)))
        assert pair.json()["client_cert"] == "client-one"
        assert session.decide(server.url("/"), cert=str(both)).client_cert is not None
        # The twin: without it the server refuses the handshake.
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(server.url("/echo"))
        with pytest.raises(OSError, match="invalid path"):
            session.get(server.url("/echo"), cert=str(tmp_path / "missing.pem"))


# --- proxies --------------------------------------------------------------------------------


def test_through_a_proxy_the_origin_is_verified_end_to_end(
    session: Session, good_server: Any, untrusted_server: Any, proxy: Proxy
) -> None:
    proxies = {"https": proxy.url()}
    assert session.get(good_server.url("/"), proxies=proxies).status_code == 200
    assert [r.target for r in proxy.connects] == [f"127.0.0.1:{good_server.port}"]
    with pytest.raises(requests.exceptions.SSLError) as info:
        session.get(untrusted_server.url("/"), proxies=proxies)
    assert isinstance(info.value.__cause__, CertificateError)
    assert info.value.__cause__.port == untrusted_server.port
    assert untrusted_server.httpd.requests == []


def test_proxy_credentials_reach_the_proxy_only(
    session: Session, good_server: Any, auth_proxy: Proxy
) -> None:
    proxies = {"https": auth_proxy.url(userinfo=True)}
    assert session.get(good_server.url("/echo"), proxies=proxies).status_code == 200
    (connect,) = auth_proxy.connects
    assert connect.header("Proxy-Authorization") == auth_proxy.authorization(PROXY_CREDENTIALS)
    (_, _, headers) = good_server.httpd.requests[0]
    assert "Proxy-Authorization" not in headers


def test_an_https_proxy_is_verified_by_the_decision_for_its_own_host(
    good_server: Any,
    make_server: Callable[..., Any],
    tls_proxy: Proxy,
    ca_pem: Path,
    tmp_path: Path,
    other_ca: Any,
) -> None:
    plain_server = make_server()
    other = tmp_path / "other.pem"
    other_ca.cert_pem.write_to_path(str(other))
    # The origin is reached as localhost, the proxy as 127.0.0.1: one rule each.
    origin = good_server.url("/", host="localhost")
    plain = plain_server.url("/", host="localhost")
    proxies = {"https": tls_proxy.url(), "http": tls_proxy.url()}
    trusted = Policy.from_dict(
        {"hosts": {"localhost": {"trust": str(ca_pem)}, "127.0.0.1": {"trust": str(ca_pem)}}}
    )
    with Session(trusted) as session:
        assert session.get(origin, proxies=proxies).text == "hello\n"
        # A plain http:// request forwarded through it: its only TLS is the proxy's.
        assert session.get(plain, proxies=proxies).text == "hello\n"
    assert len(tls_proxy.connects) == 1
    assert len(tls_proxy.requests) == 2
    # The twin: the proxy's own rule trusts another CA, so its TLS fails - and nothing,
    # neither a CONNECT line (which may carry credentials) nor a request, is sent to it.
    wrong = Policy.from_dict(
        {"hosts": {"localhost": {"trust": str(ca_pem)}, "127.0.0.1": {"trust": str(other)}}}
    )
    with Session(wrong) as session:
        for url in (origin, plain):
            with pytest.raises(requests.exceptions.ProxyError) as info:
                session.get(url, proxies=proxies)
            cause = info.value.__cause__
            assert isinstance(cause, CertificateError), url
            assert (cause.host, cause.port) == ("127.0.0.1", tls_proxy.port)
    assert len(tls_proxy.requests) == 2


def test_an_https_proxy_pin_is_checked_before_the_connect_line(
    good_server: Any, tls_proxy: Proxy, ca_pem: Path
) -> None:
    pinned = Policy.from_dict(
        {
            "defaults": {"trust": str(ca_pem)},
            "hosts": {"127.0.0.1": {"pins": [WRONG_PIN]}},
        }
    )
    with (
        Session(pinned) as session,
        pytest.raises(requests.exceptions.ProxyError) as info,
    ):
        session.get(good_server.url("/", host="localhost"), proxies={"https": tls_proxy.url()})
    assert isinstance(info.value.__cause__, PinMismatchError)
    assert tls_proxy.requests == []


# --- pool keys ------------------------------------------------------------------------------


def test_sixteen_threads_with_two_decisions_never_share_a_connection(
    good_server: Any, trusting: Policy
) -> None:
    """Half the threads send verify=False, half do not: each connection is only ever used
    under the decision it was opened and checked with."""
    seen: dict[bool, set[int]] = {True: set(), False: set()}
    contexts: dict[bool, set[int]] = {True: set(), False: set()}
    lock = threading.Lock()
    errors: list[BaseException] = []
    with Session(trusting) as session:

        def work(verified: bool) -> None:
            try:
                for _ in range(5):
                    response = session.get(
                        good_server.url("/"), verify=None if verified else False, stream=True
                    )
                    conn = response.raw.connection
                    with lock:
                        seen[verified].add(id(conn))
                        contexts[verified].add(id(conn.sock.context))
                    response.content  # noqa: B018  # read it: the connection goes back
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRequestWarning)
            threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    assert errors == []
    assert seen[True]
    assert seen[False]
    assert not seen[True] & seen[False]
    assert len(contexts[True]) == len(contexts[False]) == 1
    assert contexts[True] != contexts[False]


# --- the library is imported lazily; pickling ------------------------------------------------


def test_importing_securehttp_imports_neither_requests_nor_httpx() -> None:
    code = (
        "import sys, securehttp, securehttp.integrations\n"
        "print(sorted(m for m in ('requests', 'httpx') if m in sys.modules))\n"
        "import securehttp.integrations.requests\n"
        "print('requests' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True"  # the twin: the integration itself does import it


def test_a_pickled_session_keeps_its_policy_adapter(
    good_server: Any, untrusted_server: Any
) -> None:
    with Session() as session:
        copy = pickle.loads(pickle.dumps(session))  # noqa: S301  # our own bytes
    adapter = copy.get_adapter("https://example.test/")
    assert isinstance(adapter, PolicyAdapter)
    with pytest.raises(requests.exceptions.SSLError):
        copy.get(untrusted_server.url("/"))
    copy.close()
    # The twin: with a policy in code, pickling refuses rather than lose the policy.
    with Session(Policy.from_dict({})) as session, pytest.raises(TypeError, match="policy"):
        pickle.dumps(session)


def test_the_pre_2_32_2_hook_also_gets_the_policy_context(
    session: Session, good_server: Any, trusting: Policy
) -> None:
    adapter = session.get_adapter("https://x/")
    assert isinstance(adapter, PolicyAdapter)
    pool = adapter.get_connection(good_server.url("/"))
    assert isinstance(pool, urllib3.HTTPSConnectionPool)
    ctx, _ = contexts_for(trusting.resolve(good_server.url("/")))
    assert pool.conn_kw["ssl_context"] is ctx
