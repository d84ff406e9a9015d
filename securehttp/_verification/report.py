"""What a weakened connection leaves behind: one warning per host and reason, and audit events."""

from __future__ import annotations

import threading

from .._audit import emit
from .._exceptions import InsecureRequestWarning
from .._model import Decision
from .._warn import warn

__all__ = [
    "audit_disabled",
    "audit_explicit_context",
    "audit_report_only",
    "reset_warnings",
    "warn_insecure",
]

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def warn_insecure(host: str, port: int, reason: str) -> bool:
    """Warn once per host and reason; True when this call warned."""
    key = (f"{host}:{port}", reason)
    with _warned_lock:
        if key in _warned:
            return False
        _warned.add(key)
    warn(InsecureRequestWarning(f"{host}:{port}: {reason}"))
    return True


def reset_warnings() -> None:
    """Forget which insecure-request warnings were shown (for tests and long-lived shells)."""
    with _warned_lock:
        _warned.clear()


def audit_report_only(
    host: str,
    port: int,
    reason: str,
    decision: Decision,
    action: str = "connected without verification (report-only): the request, its headers, "
    "credentials and body went to a server that may not be who it claims",
) -> None:
    """One event per connection that failed strict verification under report-only."""
    emit(
        "report_only_failure",
        host=host,
        port=port,
        reason=reason,
        rule=decision.rule,
        verify=str(decision.verify),
        source=decision.sources["verify"],
        action=action,
    )


def audit_disabled(host: str, port: int, decision: Decision) -> None:
    """A connection made with verification disabled (the caller emits it once per host)."""
    emit(
        "verification_disabled",
        host=host,
        port=port,
        reason=f"certificate verification is disabled by {decision.sources['verify']}",
        rule=decision.rule,
        verify=str(decision.verify),
        source=decision.sources["verify"],
        action="connected without verification: the request, its headers, credentials and "
        "body went to a server that may not be who it claims",
    )


def audit_explicit_context(host: str, port: int, where: str, action: str) -> None:
    """An unverified ``ssl.SSLContext`` passed in code, seen by ``install()``'s
    ``explicit_contexts="audit"`` (or refused under ``"refuse"``)."""
    emit(
        "explicit_context_unverified",
        host=host,
        port=port,
        reason=f"an unverified ssl.SSLContext was passed at {where}",
        rule=None,
        verify="disabled",
        source=f"code {where}",
        action=action,
    )
