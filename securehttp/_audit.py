"""Audit events (SPEC §11): what report-only mode, waivers and locks did, as records.

Every event goes to the ``securehttp.audit`` logger as a readable message whose record
carries the event dict in ``record.securehttp_audit``; when ``SECUREHTTP_AUDIT_LOG`` names a
file (ignored under ``python -E``, like every ``SECUREHTTP_*`` variable), it is also appended
there as one JSON line.

The file is written so that many processes can share it: each event is one ``os.write`` of
one whole line on a descriptor opened with ``O_APPEND`` (the kernel places each such write at
the end of the file, whole), the file is created ``0600``, and a symbolic link at the last
path component is refused (``O_NOFOLLOW``), so a planted link cannot redirect events into
another file.  Writing an event never raises: a log that cannot be written is one
:class:`PolicyWarning` per process and path, and the events still reach the logger.

Events carry no headers, and URL userinfo in a ``reason`` or ``source`` is replaced by
``***``: an audit log is read by more people than the credentials were meant for.
"""

from __future__ import annotations

import datetime
import errno
import json
import logging
import os
import re
import stat
import sys
import threading

from ._exceptions import PolicyWarning
from ._text import escape as escape_controls
from ._warn import warn

__all__ = [
    "AUDIT_LOG_VARIABLE",
    "EVENTS",
    "VERSION",
    "audit_log",
    "emit",
    "escape_controls",
    "make_event",
    "redact",
]

VERSION = 1
AUDIT_LOG_VARIABLE = "SECUREHTTP_AUDIT_LOG"

audit_log = logging.getLogger("securehttp.audit")

# Event name -> how the logger message describes it.
EVENTS = {
    "report_only_failure": "would fail strict verification (report-only)",
    "verification_disabled": "connected with verification disabled",
    "weakening_refused": "weakening refused by a locked policy",
    "waiver_lapsed": "waiver lapsed; verified without it",
    "explicit_context_unverified": "an explicit context does not verify",
}

# Redaction works on words (no space, quote or angle bracket): in a word, everything between
# the first "://" and the last "@" is userinfo, so a password holding "@" or "/" is covered
# whole (over-redacting an e-mail address in a query is the cheaper mistake).  Linear time.
_WORD = re.compile(r"[^\s'\"<>]+")

_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_APPEND
    | os.O_CREAT
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    # A FIFO without a reader fails at once (ENXIO) instead of blocking the request.
    | getattr(os, "O_NONBLOCK", 0)
)

_warned: set[tuple[int, str]] = set()
_warned_lock = threading.Lock()


def redact(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by ``***``."""
    if "://" not in text:
        return text
    return _WORD.sub(_redact_word, text)


def _redact_word(match: re.Match[str]) -> str:
    word = match.group()
    start, at = word.find("://"), word.rfind("@")
    if start < 0 or at < start:
        return word
    return f"{word[: start + 3]}***{word[at:]}"


def make_event(
    event: str,
    *,
    host: str | None,
    port: int | None,
    reason: str,
    rule: str | None,
    verify: str | None,
    source: str | None,
    action: str,
) -> dict[str, object]:
    """The version-1 event dict (SPEC §11), redacted; ``ts`` is now, in UTC."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "v": VERSION,
        "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "event": event,
        "host": host,
        "port": port,
        "reason": redact(reason),
        "rule": rule,
        "verify": None if verify is None else str(verify),
        "source": None if source is None else redact(source),
        "action": action,
        "pid": os.getpid(),
        "program": program_name(),
    }


def emit(
    event: str,
    *,
    host: str | None,
    port: int | None,
    reason: str,
    rule: str | None,
    verify: str | None,
    source: str | None,
    action: str,
) -> None:
    """Record one audit event: to the ``securehttp.audit`` logger and, when
    ``SECUREHTTP_AUDIT_LOG`` is set, as one JSON line appended to that file.  Never raises
    for I/O: an unwritable log is a :class:`PolicyWarning`, once per process and path."""
    record = make_event(
        event,
        host=host,
        port=port,
        reason=reason,
        rule=rule,
        verify=verify,
        source=source,
        action=action,
    )
    where = f"{host}" if port is None else f"{host}:{port}"
    # The message is for a person's terminal: a reason quoting a certificate or a server
    # must not carry control characters there.  The record keeps the exact text.
    audit_log.warning(
        "%s %s: %s (%s; %s)",
        escape_controls(where),
        EVENTS[event],
        escape_controls(str(record["reason"])),
        escape_controls(str(record["source"])),
        escape_controls(action),
        extra={"securehttp_audit": record},
    )
    path = log_path()
    if path:
        append_event(path, record)


def log_path() -> str:
    """The file named by ``SECUREHTTP_AUDIT_LOG``, or "" (unset, empty, or ``python -E``)."""
    if sys.flags.ignore_environment:
        return ""
    return os.environ.get(AUDIT_LOG_VARIABLE, "")


def append_event(path: str, record: dict[str, object]) -> None:
    """Append ``record`` to ``path`` as one JSON line in one write; warn instead of raising."""
    # ASCII-only JSON: no raw control character or newline from a reason can split the line.
    line = (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
    try:
        fd = os.open(path, _OPEN_FLAGS, 0o600)
    except OSError as exc:
        _warn_unwritable(path, _describe(exc))
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            # Pipes and sockets split large writes; devices are not logs.
            _warn_unwritable(path, "not a regular file")
            return
        written = os.write(fd, line)
        if written != len(line):
            # A short write cannot be finished without risking interleaving with others.
            _warn_unwritable(path, f"short write ({written} of {len(line)} bytes)")
    except OSError as exc:
        _warn_unwritable(path, _describe(exc))
    finally:
        os.close(fd)


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link (refused: events could be redirected into another file)"
    return exc.strerror or str(exc)


def _warn_unwritable(path: str, why: str) -> None:
    key = (os.getpid(), path)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warn(
        PolicyWarning(
            f"{AUDIT_LOG_VARIABLE}={path}: cannot append audit events: {why}; "
            "events go to the securehttp.audit logger only"
        )
    )


def reset_warnings() -> None:
    """Forget which unwritable logs were warned about (for tests)."""
    with _warned_lock:
        _warned.clear()


def program_name() -> str:
    """The running program as a person would name it: ``-m package`` or the script's name.

    Only the name: arguments can carry URLs with credentials."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if isinstance(name, str) and name:
        return "-m " + name.removesuffix(".__main__")
    argv0 = sys.argv[0] if sys.argv else ""
    return os.path.basename(argv0) or "python"
