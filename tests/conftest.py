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

import pytest

from securehttp import _resolve
from securehttp._sources import env, files, pep493

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
    _resolve.reset_process_state()
    yield
    _resolve.reset_process_state()


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
