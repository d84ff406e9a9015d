"""What a weakened connection leaves behind: one warning per host and reason, and audit events."""

from __future__ import annotations

import logging
import threading
import warnings

from .._exceptions import InsecureRequestWarning
from .._model import Decision

__all__ = ["audit_log", "audit_report_only", "reset_warnings", "warn_insecure"]

audit_log = logging.getLogger("securehttp.audit")

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def warn_insecure(host: str, port: int, reason: str) -> None:
    key = (f"{host}:{port}", reason)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(InsecureRequestWarning(f"{host}:{port}: {reason}"), stacklevel=2)


def reset_warnings() -> None:
    """Forget which insecure-request warnings were shown (for tests and long-lived shells)."""
    with _warned_lock:
        _warned.clear()


def audit_report_only(
    host: str,
    port: int,
    reason: str,
    decision: Decision,
    action: str = "connected without verification (report-only)",
) -> None:
    event = {
        "event": "tls_verification_failed",
        "host": host,
        "port": port,
        "reason": reason,
        "rule": decision.rule,
        "verify": str(decision.verify),
        "source": decision.sources["verify"],
        "action": action,
    }
    audit_log.warning(
        "%s:%s would fail strict verification: %s (report-only: %s; %s)",
        host,
        port,
        reason,
        decision.sources["verify"],
        action,
        extra={"securehttp_audit": event},
    )
