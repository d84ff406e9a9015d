"""securehttp.install(): the standard library's default HTTPS context follows the policy.

Programs that never import securehttp run in fresh interpreters; what needs to look inside
the process (exact undo, threads, explicit contexts, the runtime switch) runs here, with
every patch checked and undone by the ``patches`` fixture.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import securehttp
from securehttp import CertificateError, InsecureRequestWarning, PinMismatchError, Policy
from securehttp.integrations import install as install_module

from . import governed

STDLIB = (ssl._create_default_https_context, http.client.HTTPSConnection.__dict__["connect"])


@pytest.fixture(autouse=True)
def patches() -> Iterator[None]:
    """Every test starts and ends with the standard library as it ships."""
    assert (ssl._create_default_https_context, http.client.HTTPSConnection.connect) == STDLIB
    yield
    if securehttp.installed().active:
        securehttp.uninstall()
    ssl._create_default_https_context, http.client.HTTPSConnection.connect = STDLIB  # type: ignore[method-assign]


@pytest.fixture
def hosts(make_server: Callable[..., Any], ca: Any, other_ca: Any) -> dict[str, Any]:
    return governed.start_hosts(make_server, ca, other_ca)


@pytest.fixture
def untrusted(make_server: Callable[..., Any], other_ca: Any) -> Any:
    return make_server(other_ca.issue_cert("localhost", "127.0.0.1"))


def fetch(url: str, **kwargs: Any) -> bytes:
    with urllib.request.urlopen(url, timeout=10, **kwargs) as response:  # noqa: S310 - loopback
        body: bytes = response.read()
    return body


def audit_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.securehttp_audit for r in caplog.records if hasattr(r, "securehttp_audit")]


# --- an unmodified program, in a fresh interpreter ------------------------------------------


def test_an_unmodified_program_gets_per_host_decisions_under_install(
    hosts: dict[str, Any], write_policy: Callable[..., Path], ca_pem: Path
) -> None:
    policy = write_policy(governed.policy_yaml(ca_pem, hosts))
    runner = (
        "import runpy, sys, securehttp; securehttp.install(); "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    args = governed.program_args(hosts)
    result = governed.python(
        "-c", runner, str(governed.PROGRAM), *args, env={"SECUREHTTP_POLICY": str(policy)}
    )
    assert result.returncode == 0, result.stderr
    governed.expect(result.stdout, governed.GOVERNED)
    assert "InsecureRequestWarning" in result.stderr  # the legacy host, report-only
    assert "would fail strict verification" in result.stderr  # ... and its audit line
    assert hosts["pinned"].httpd.requests == []  # refused before any request byte
    # The twin: the same program without install() trusts none of the test CAs.
    result = governed.python(str(governed.PROGRAM), *args, env={"SECUREHTTP_POLICY": str(policy)})
    governed.expect(result.stdout, governed.STOCK)


# --- install, uninstall, stacking -----------------------------------------------------------


def test_uninstall_restores_exactly_and_both_are_idempotent(trusting: Policy) -> None:
    assert not securehttp.installed().active
    securehttp.uninstall()  # not installed: nothing to do
    state = securehttp.install(trusting)
    assert state.active
    assert state.policy == "test-policy"
    factory = ssl._create_default_https_context
    assert factory is not STDLIB[0]
    assert http.client.HTTPSConnection.connect is not STDLIB[1]
    securehttp.install(trusting)  # again: still one patch, not a stack
    assert ssl._create_default_https_context is factory
    securehttp.uninstall()
    assert (ssl._create_default_https_context, http.client.HTTPSConnection.connect) == STDLIB
    securehttp.uninstall()
    assert not securehttp.installed().active
    assert (ssl._create_default_https_context, http.client.HTTPSConnection.connect) == STDLIB


def test_uninstall_leaves_a_later_patch_alone_and_names_it(trusting: Policy) -> None:
    def someone_elses_factory() -> ssl.SSLContext:
        return ssl.create_default_context()

    securehttp.install(trusting)
    ssl._create_default_https_context = someone_elses_factory  # type: ignore[assignment]
    assert "someone_elses_factory" in "\n".join(securehttp.installed().problems)
    with pytest.warns(securehttp.PolicyWarning, match="someone_elses_factory"):
        securehttp.uninstall()
    assert ssl._create_default_https_context is someone_elses_factory
    assert http.client.HTTPSConnection.connect is STDLIB[1]  # ours: restored


def test_install_refuses_to_stack_on_another_patcher(monkeypatch: pytest.MonkeyPatch) -> None:
    class InjectedSSLContext(ssl.SSLContext):  # what truststore.inject_into_ssl() installs
        pass

    def custom_factory() -> ssl.SSLContext:
        return ssl.create_default_context()

    def custom_connect(self: http.client.HTTPSConnection) -> None:
        raise AssertionError

    for target, name, value, culprit in (
        (ssl, "SSLContext", InjectedSSLContext, "InjectedSSLContext"),
        (ssl, "_create_default_https_context", custom_factory, "custom_factory"),
        (http.client.HTTPSConnection, "connect", custom_connect, "custom_connect"),
    ):
        with monkeypatch.context() as patch:
            patch.setattr(target, name, value)
            with pytest.raises(securehttp.SecureHTTPError, match=f"refusing to install.*{culprit}"):
                securehttp.install()
            assert getattr(target, name) is value  # nothing was changed
        assert not securehttp.installed().active
    securehttp.install()  # the twin: with nothing patched it installs
    assert securehttp.installed().active


def test_a_pep476_opt_out_becomes_a_named_lockable_source(
    untrusted: Any, write_policy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ssl._create_default_https_context = ssl._create_unverified_context  # type: ignore[assignment]
    securehttp.install()
    assert "PEP 476 opt-out" in str(securehttp.installed())
    with pytest.warns(InsecureRequestWarning, match="PEP 476 opt-out"):
        assert fetch(untrusted.url("/")) == b"hello\n"
    securehttp.https_verify_certificates(True)  # PEP 493's switch is above it, as in PEP 493
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        fetch(untrusted.url("/"))
    securehttp.uninstall()
    assert ssl._create_default_https_context is ssl._create_unverified_context  # put back
    # The twin: a locked policy file refuses the opt-out like any weakening from above.
    locked = write_policy("version: 1\nlock: true\n")
    monkeypatch.setenv("SECUREHTTP_POLICY", str(locked))
    securehttp._process.reset_process_state()
    securehttp.install()
    with (
        pytest.warns(securehttp.PolicyWarning, match="opt-out.*refused"),
        pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        fetch(untrusted.url("/"))
    securehttp.uninstall()
    assert ssl._create_default_https_context is ssl._create_unverified_context
    ssl._create_default_https_context = STDLIB[0]


def test_a_broken_policy_is_an_error_at_install_and_nothing_is_patched(
    monkeypatch: pytest.MonkeyPatch, good_server: Any
) -> None:
    monkeypatch.setenv("SECUREHTTP_VERIFY", "sometimes")
    with pytest.raises(securehttp.PolicyError, match="SECUREHTTP_VERIFY"):
        securehttp.install()
    assert not securehttp.installed().active
    # What the startup hook does instead: install failing closed.
    state = install_module.install_failed(securehttp.PolicyError("bad", source="env X"))
    assert "fail closed" in "\n".join(state.problems)
    with pytest.raises(securehttp.PolicyError, match="bad"):
        fetch(good_server.url("/"))
    assert good_server.httpd.requests == []


# --- per host, per connection, per thread ---------------------------------------------------


def test_eight_threads_on_two_hosts_see_only_their_own_decisions(
    make_server: Callable[..., Any], localhost_cert: Any, ca_pem: Path
) -> None:
    right, wrong = make_server(localhost_cert), make_server(localhost_cert)
    policy = Policy.from_dict(
        {
            "defaults": {"trust": str(ca_pem)},
            "hosts": {f"127.0.0.1:{wrong.port}": {"pins": [governed.WRONG_PIN]}},
        }
    )
    securehttp.install(policy)
    results: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(4):
            for name, server in (("right", right), ("wrong", wrong)):
                try:
                    outcome = "ok" if fetch(server.url("/")) == b"hello\n" else "body"
                except urllib.error.URLError as exc:
                    outcome = type(exc.reason).__name__
                with lock:
                    results.append((name, outcome))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(set(results)) == [("right", "ok"), ("wrong", "PinMismatchError")]
    assert len(results) == 64
    assert len(right.httpd.requests) == 32
    assert wrong.httpd.requests == []


def test_the_runtime_switch_applies_to_later_connections_only(
    good_server: Any, localhost_cert: Any
) -> None:
    securehttp.install()  # the process default: certifi, which does not know the test CA
    # What a 3.12+ HTTPSHandler does when built: ask the factory once, keep the context.
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl._create_default_https_context())
    )
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        opener.open(good_server.url("/"), timeout=10)
    kept = http.client.HTTPSConnection("127.0.0.1", good_server.port, timeout=10)
    try:
        securehttp.https_verify_certificates(False)
        with pytest.warns(InsecureRequestWarning, match=r"https_verify_certificates\(False\)"):
            response = opener.open(good_server.url("/"), timeout=10)
        with response:
            assert response.read() == b"hello\n"
        kept.request("GET", "/")  # connects now, while the switch is off (warned once above)
        assert kept.getresponse().read() == b"hello\n"
        securehttp.https_verify_certificates(True)
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            opener.open(good_server.url("/"), timeout=10)
        connections = good_server.connections
        kept.request("GET", "/")  # opened while the switch was off: it stays as it was
        assert kept.getresponse().read() == b"hello\n"
        assert good_server.connections == connections
    finally:
        kept.close()


def test_a_tunnel_is_decided_by_its_target_and_report_only_reopens_it(
    hosts: dict[str, Any], ca_pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good, legacy = hosts["good"], hosts["legacy"]
    policy = Policy.from_dict(
        {
            "hosts": {
                # Only the target's own port trusts the test CA: the proxy's port would not.
                f"127.0.0.1:{good.port}": {"trust": str(ca_pem)},
                f"127.0.0.1:{legacy.port}": {
                    "verify": "warn",
                    "expires": "2099-01-01",
                    "reason": "report-only test",
                },
            }
        }
    )
    securehttp.install(policy)
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    with connect_proxy() as proxy:
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{proxy.port}"})
        )
        with opener.open(good.url("/"), timeout=10) as response:
            assert response.read() == b"hello\n"
        with pytest.warns(InsecureRequestWarning, match="connected anyway"):
            response = opener.open(legacy.url("/echo"), data=b"once", timeout=10)
        with response:
            assert b'"body": "once"' in response.read()
    assert proxy.tunnels == [good.port, legacy.port, legacy.port]  # strict, then unverified
    assert [r[0] for r in legacy.httpd.requests] == ["POST"]  # the body was sent once
    assert [e["event"] for e in audit_events(caplog)] == ["report_only_failure"]
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        fetch(hosts["untrusted"].url("/"))  # the twin: no rule trusts its CA


class Proxy:
    def __init__(self, port: int) -> None:
        self.port = port
        self.tunnels: list[int] = []


@contextmanager
def connect_proxy() -> Iterator[Proxy]:
    """An HTTP proxy on loopback that only does CONNECT, and records each tunnel's port."""
    listener = socket.create_server(("127.0.0.1", 0))
    proxy = Proxy(listener.getsockname()[1])
    stop = threading.Event()

    def relay(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()
            source.close()

    def handle(client: socket.socket) -> None:
        client.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        target = head.split(b" ", 2)[1].decode()
        proxy.tunnels.append(int(target.rsplit(":", 1)[1]))
        upstream = socket.create_connection(("127.0.0.1", proxy.tunnels[-1]), timeout=10)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=relay, args=(upstream, client), daemon=True).start()
        relay(client, upstream)

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        stop.set()
        thread.join(5)
        listener.close()


# --- explicit contexts ----------------------------------------------------------------------


def test_explicit_contexts_honour_audit_and_refuse(
    untrusted: Any, trusting: Policy, caplog: pytest.LogCaptureFixture, ca_pem: Path
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    unverified = ssl._create_unverified_context()  # noqa: S323 - what the modes are about
    securehttp.install(trusting)  # honour: PEP 476, a context passed in code wins
    assert fetch(untrusted.url("/"), context=unverified) == b"hello\n"
    assert audit_events(caplog) == []

    securehttp.install(trusting, explicit_contexts="audit")
    assert fetch(untrusted.url("/"), context=unverified) == b"hello\n"
    (event,) = audit_events(caplog)
    assert event["event"] == "explicit_context_unverified"
    assert event["source"] == f"code {__file__}:{_fetch_line()}"  # the calling line

    securehttp.install(trusting, explicit_contexts="refuse")
    connections = untrusted.connections
    with pytest.raises(urllib.error.URLError) as info:
        fetch(untrusted.url("/"), context=unverified)
    refusal = info.value.reason
    assert isinstance(refusal, CertificateError)
    assert f"passed at {__file__}:{_fetch_line()}" in str(refusal)
    assert untrusted.connections == connections  # refused before connecting
    # The twin: a verifying context passed in code is still used as given.
    verifying = ssl.create_default_context(cafile=str(ca_pem))
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        fetch(untrusted.url("/"), context=verifying)  # verified by its own trust: refused
    with pytest.raises(ValueError, match="explicit_contexts"):
        securehttp.install(explicit_contexts="ignore")


def _fetch_line() -> int:
    """The line in fetch() that calls urlopen: the innermost frame outside the stdlib."""
    import inspect

    source, start = inspect.getsourcelines(fetch)
    return start + next(i for i, text in enumerate(source) if "urlopen(" in text)


# --- what install() tells about itself ------------------------------------------------------


def test_installed_says_what_is_and_is_not_governed(trusting: Policy) -> None:
    before = securehttp.installed()
    assert not before.active
    assert str(before).startswith("installed: no")
    urllib.request.install_opener(urllib.request.build_opener())  # built before install()
    try:
        state = securehttp.install(trusting, explicit_contexts="refuse")
        text = str(state)
        assert state == securehttp.installed()
        assert "policy: test-policy; explicit_contexts=refuse" in text
        assert any("HTTPSConnection without context=" in item for item in state.governed)
        assert any("refused" in item for item in state.governed)
        assert any("non-HTTP standard-library TLS" in i for i in state.not_governed)
        before_install = [i for i in state.not_governed if "default opener" in i]
        if sys.version_info >= (3, 12):
            assert before_install  # its HTTPSHandler fixed its context when it was built
        else:
            assert not before_install  # its handler asks the factory at each connection
        assert state.problems == ()
    finally:
        urllib.request.install_opener(None)


def test_pins_are_refused_before_the_server_receives_a_byte(good_server: Any, ca_pem: Path) -> None:
    policy = Policy.from_dict({"defaults": {"trust": str(ca_pem), "pins": [governed.WRONG_PIN]}})
    securehttp.install(policy)
    with pytest.raises(urllib.error.URLError) as info:
        fetch(good_server.url("/"))
    assert isinstance(info.value.reason, PinMismatchError)
    conn = http.client.HTTPSConnection("localhost", good_server.port, timeout=10)
    with pytest.raises(PinMismatchError):
        conn.request("GET", "/")
    conn.close()
    good_server.settle(2)
    assert good_server.connections == 2
    assert good_server.httpd.requests == []


# --- CPython's own suite, unmodified, with install() active ---------------------------------

PEER_RUNNER = """
import sys, unittest, urllib.request
import securehttp
securehttp.install()
assert urllib.request.urlopen.__module__ == "urllib.request"  # not replaced: governed
program = unittest.main(module="test.test_urllib2_localnet", argv=["peer"], exit=False)
result = program.result
print("peer", securehttp.installed().active, result.testsRun, len(result.failures),
      len(result.errors), len(result.skipped))
sys.exit(not result.wasSuccessful())
"""


def test_cpython_urllib2_localnet_passes_whole_under_install() -> None:
    if governed.python("-c", "import test.test_urllib2_localnet").returncode != 0:
        pytest.skip("this interpreter ships no test package (test.test_urllib2_localnet)")
    result = governed.python("-c", PEER_RUNNER)
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("peer ")]
    _, active, ran, failures, errors, skipped = line.split()
    assert active == "True"
    assert (int(failures), int(errors)) == (0, 0)
    assert int(ran) >= 20
    assert int(skipped) < int(ran)
    assert f"Ran {ran} tests" in result.stderr
