"""Four HTTPS hosts with different decisions, for the tests that run an unmodified program
(``tests/unmodified_program.py``) under ``install()``, ``securehttp run`` and the startup
hook, in fresh interpreters.

- ``good``: certificate from the test CA, which the policy trusts: passes;
- ``untrusted``: certificate from another CA: refused by verification;
- ``pinned``: the test CA, but a pin that does not match: refused inside the handshake;
- ``legacy``: the other CA under ``verify: warn``: connects, with a warning and an audit line.

All four listen on 127.0.0.1; their rules differ by port.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "tests" / "unmodified_program.py"
CLIENTS = ("urllib", "http.client", "xmlrpc")
WRONG_PIN = "sha256/" + "A" * 43 + "="

GOVERNED = {
    "good": "ok",
    "untrusted": "refused SSLCertVerificationError",
    "pinned": "refused PinMismatchError",
    "legacy": "ok",
}
# What the same program sees without securehttp: the test CA is trusted nowhere.
STOCK = {label: "refused SSLCertVerificationError" for label in GOVERNED}


def start_hosts(make_server: Callable[..., Any], ca: Any, other_ca: Any) -> dict[str, Any]:
    mine = ca.issue_cert("localhost", "127.0.0.1")
    theirs = other_ca.issue_cert("localhost", "127.0.0.1")
    return {
        "good": make_server(mine),
        "untrusted": make_server(theirs),
        "pinned": make_server(mine),
        "legacy": make_server(theirs),
    }


def policy_yaml(ca_pem: Path, hosts: dict[str, Any]) -> str:
    return (
        f"version: 1\ndefaults:\n  trust: {ca_pem}\nhosts:\n"
        f'  "127.0.0.1:{hosts["pinned"].port}":\n    pins: ["{WRONG_PIN}"]\n'
        f'  "127.0.0.1:{hosts["legacy"].port}":\n    verify: warn\n'
        '    expires: 2099-01-01\n    reason: "report-only test"\n'
    )


def program_args(hosts: dict[str, Any]) -> list[str]:
    return [f"{label}=https://127.0.0.1:{server.port}" for label, server in hosts.items()]


def outcomes(stdout: str) -> dict[str, set[str]]:
    """What each host got, over the three clients (a set: one element when all agree)."""
    seen: dict[str, set[str]] = {}
    for line in stdout.splitlines():
        label, client, result = line.split(" ", 2)
        assert client in CLIENTS, line
        seen.setdefault(label, set()).add(result)
    return seen


def expect(stdout: str, table: dict[str, str]) -> None:
    assert outcomes(stdout) == {label: {result} for label, result in table.items()}, stdout
    assert len(stdout.splitlines()) == len(table) * len(CLIENTS), stdout


def python(
    *args: str, env: dict[str, str] | None = None, executable: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with this process's (test-cleaned) environment plus ``env``."""
    return subprocess.run(
        [executable, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
