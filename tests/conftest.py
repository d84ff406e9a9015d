"""Fixtures shared by the suite.

Every test runs with the environment securehttp reads cleared (these machines export
SSL_CERT_FILE, REQUESTS_CA_BUNDLE, ...), with no system policy or PEP 493 file, and with the
process-wide state reset, so no test depends on the machine or on another test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from securehttp import _process
from securehttp._sources import env, files, pep493

pytest_plugins = ["tests.proxy_fixtures", "tests.tinyproxy"]

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"

_CLEARED = re.compile(
    r"(PYTHONHTTPSVERIFY|SECUREHTTP_.*|SSL_CERT_.*|.*_CA_BUNDLE|.*_CA_CERTS|(?i:.*_proxy))\Z"
)


@pytest.fixture(autouse=True)
def isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    for name in list(os.environ):
        if _CLEARED.match(name) or name in env.VARIABLES:
            monkeypatch.delenv(name)
    nowhere = tmp_path_factory.mktemp("nowhere")
    monkeypatch.setattr(files, "SYSTEM_POLICY", str(nowhere / "securehttp-policy.yaml"))
    monkeypatch.setattr(pep493, "PEP493_CONFIG", str(nowhere / "cert-verification.cfg"))
    _process.reset_process_state()
    yield
    _process.reset_process_state()


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    """Write a policy file owned by us with mode 0600 (files others can write are refused)."""

    def write(text: str, name: str = "policy.yaml", mode: int = 0o600) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
        return path

    return write


@pytest.fixture
def policies_copy(tmp_path: Path) -> Path:
    """The shipped policies/ in a private directory, so the checkout's umask cannot matter."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    for path in target.iterdir():
        path.chmod(0o600)
    return target


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    import trustme

    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


# --- TLS material and servers ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_client_state() -> Iterator[None]:
    import sys

    from securehttp import _default_client, _verification

    _verification.reset_warnings()
    yield
    _default_client.reset_default_client()
    handlers = sys.modules.get("securehttp._handlers")
    if handlers is not None:
        handlers.reset_openers()


@pytest.fixture(scope="session")
def ca() -> Any:
    import trustme

    return trustme.CA()


@pytest.fixture(scope="session")
def other_ca() -> Any:
    import trustme

    return trustme.CA()


@pytest.fixture(scope="session")
def ca_pem(ca: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def localhost_cert(ca: Any) -> Any:
    return ca.issue_cert("localhost", "127.0.0.1", "::1")


@pytest.fixture
def trusting(ca_pem: Path) -> Any:
    """A policy that trusts the test CA (and nothing else) everywhere."""
    from securehttp import Policy

    return Policy.from_dict({"defaults": {"trust": str(ca_pem)}}, source="test-policy")


@pytest.fixture
def make_server() -> Iterator[Callable[..., Any]]:
    """Start a server for a certificate: ``make_server(cert, host=..., max_tls=..., ...)``."""
    from contextlib import ExitStack

    from .tlsserver import serve, server_context

    with ExitStack() as stack:

        def start(
            cert: Any = None, *, host: str = "127.0.0.1", name: str | None = None, **kwargs: Any
        ) -> Any:
            tls = server_context(cert, **kwargs) if cert is not None else None
            return stack.enter_context(serve(tls, host=host, name=name))

        yield start


@pytest.fixture
def good_server(make_server: Callable[..., Any], localhost_cert: Any) -> Any:
    return make_server(localhost_cert)
