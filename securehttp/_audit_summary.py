"""Reading audit logs back: ``securehttp audit summarize`` and its draft policy (SPEC §11).

Events are grouped by host, port, event, reason and rule, with counts and first and last
seen.  The draft policy holds, per host and port that failed strict verification, the
narrowest waiver that lets it pass, each with an ``expires`` date and a ``reason`` that
starts with ``TODO:`` and carries the evidence, which ``securehttp check --strict`` refuses
until a person has replaced it.  Hosts that never failed are not in the draft, so they stay
strict.

Nothing here touches the network or writes files: the command line does the writing.
"""

from __future__ import annotations

import datetime
import json
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

from ._audit import escape_controls
from ._exceptions import PolicyWarning
from ._hosts import parse_pattern

__all__ = [
    "DRAFT_DAYS",
    "Group",
    "Summary",
    "draft_policy",
    "read_logs",
    "summarize",
    "summary_json",
    "summary_text",
]

DRAFT_DAYS = 90
_MAX_EVIDENCE = 160

# What each kind of failure needs, narrowest first (SPEC §11).  OpenSSL's own wording.
_PROTOCOL = re.compile(
    r"protocol version|unsupported protocol|wrong version number|no protocols available|"
    r"version too low|tlsv1[ _]alert[ _]protocol",
    re.IGNORECASE,
)
_X509_STRICT = re.compile(
    r"marked critical|key usage|key identifier|basic constraints|certificate extension|"
    r"x509.strict|strict x\.509",
    re.IGNORECASE,
)
_NAME = re.compile(r"hostname mismatch|ip address mismatch|doesn't match|not valid for", re.I)
_ISSUER = re.compile(
    r"local issuer|unable to get issuer|self[- ]signed|unable to verify the first certificate",
    re.IGNORECASE,
)
_PINS = re.compile(r"pinned keys|pin mismatch", re.IGNORECASE)
_TLS_1_0 = re.compile(r"TLS ?v?1(\.0)?(?![.\w])", re.IGNORECASE)  # not TLSV1_ALERT_...
_TLS_1_1 = re.compile(r"TLS ?v?1\.1", re.IGNORECASE)


@dataclass
class Group:
    """Events of one kind for one host, port, reason and rule."""

    host: str
    port: int
    event: str
    reason: str
    rule: str | None
    count: int = 0
    first_seen: datetime.datetime | None = None
    last_seen: datetime.datetime | None = None
    sources: set[str] = field(default_factory=set)
    programs: set[str] = field(default_factory=set)

    def add(self, ts: datetime.datetime, source: str | None, program: str | None) -> None:
        self.count += 1
        if self.first_seen is None or ts < self.first_seen:
            self.first_seen = ts
        if self.last_seen is None or ts > self.last_seen:
            self.last_seen = ts
        if source:
            self.sources.add(source)
        if program:
            self.programs.add(program)


@dataclass
class Summary:
    files: list[str] = field(default_factory=list)
    events: int = 0
    malformed: int = 0
    unknown_version: int = 0
    groups: dict[tuple[str, int, str, str, str | None], Group] = field(default_factory=dict)

    def sorted_groups(self) -> list[Group]:
        return sorted(
            self.groups.values(), key=lambda g: (g.host, g.port, g.event, g.reason, g.rule or "")
        )


# --- reading ----------------------------------------------------------------------------


def read_logs(paths: Iterable[str]) -> Summary:
    """Read JSON-line audit logs.  Malformed lines are skipped and counted (one warning per
    file); events of an unknown ``v`` are skipped and counted as such.  OSError propagates."""
    summary = Summary()
    for path in paths:
        with open(path, "rb") as stream:
            summarize(stream, path, summary)
    return summary


def summarize(
    lines: Iterable[bytes], source: str = "<lines>", summary: Summary | None = None
) -> Summary:
    """Add the events of ``lines`` (one JSON object each) to ``summary``."""
    if summary is None:
        summary = Summary()
    summary.files.append(source)
    bad = 0
    first_bad: tuple[int, str] | None = None
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        problem = _add_line(raw, summary)
        if problem is not None:
            bad += 1
            first_bad = first_bad or (number, problem)
    if first_bad is not None:
        summary.malformed += bad
        warnings.warn(
            PolicyWarning(
                f"{escape_controls(source)}: skipped {bad} malformed line{'s' * (bad != 1)} "
                f"(first at line {first_bad[0]}: {first_bad[1]})"
            ),
            stacklevel=2,
        )
    return summary


def _add_line(raw: bytes, summary: Summary) -> str | None:
    """Add one event; a string saying what is wrong with the line, or None."""
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("v") != 1:
        if "v" not in record:
            return 'no "v"'
        summary.unknown_version += 1
        return None
    host, port, event, reason = (record.get(k) for k in ("host", "port", "event", "reason"))
    if not (isinstance(host, str) and host and isinstance(event, str) and event):
        return "no host or event"
    if type(port) is not int or not 0 < port < 65536:
        return "no port"
    if not isinstance(reason, str):
        return "no reason"
    ts = _timestamp(record.get("ts"))
    if ts is None:
        return "no valid ts"
    rule, source, program = (_optional_str(record.get(k)) for k in ("rule", "source", "program"))
    key = (host, port, event, reason, rule)
    group = summary.groups.get(key)
    if group is None:
        group = summary.groups[key] = Group(host, port, event, reason, rule)
    group.add(ts, source, program)
    summary.events += 1
    return None


def _timestamp(value: object) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None:
        return None  # the schema says UTC: a naive time could be anywhere
    return ts.astimezone(datetime.timezone.utc)


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


# --- output -----------------------------------------------------------------------------


def _iso(ts: datetime.datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.isoformat(timespec="seconds").replace("+00:00", "Z")


def summary_json(summary: Summary) -> dict[str, object]:
    """The summary as JSON-ready data (``--json``)."""
    return {
        "files": summary.files,
        "events": summary.events,
        "malformed_lines": summary.malformed,
        "unknown_version": summary.unknown_version,
        "groups": [
            {
                "host": g.host,
                "port": g.port,
                "event": g.event,
                "reason": g.reason,
                "rule": g.rule,
                "count": g.count,
                "first_seen": _iso(g.first_seen),
                "last_seen": _iso(g.last_seen),
                "sources": sorted(g.sources),
                "programs": sorted(g.programs),
            }
            for g in summary.sorted_groups()
        ],
    }


def summary_text(summary: Summary) -> str:
    """The summary for a person; every piece of log content is escaped."""
    hosts = {(g.host, g.port) for g in summary.groups.values()}
    head = (
        f"{summary.events} event{'s' * (summary.events != 1)} for {len(hosts)} "
        f"host{'s' * (len(hosts) != 1)} in {len(summary.files)} "
        f"file{'s' * (len(summary.files) != 1)}"
    )
    skipped = []
    if summary.malformed:
        skipped.append(f"{summary.malformed} malformed")
    if summary.unknown_version:
        skipped.append(f"{summary.unknown_version} of an unknown version")
    if skipped:
        head += f" ({' and '.join(skipped)} skipped)"
    lines = [head]
    for g in summary.sorted_groups():
        lines.append("")
        lines.append(
            f"{escape_controls(_host_port(g.host, g.port))}  {escape_controls(g.event)}  "
            f"{g.count}x  {_iso(g.first_seen)} .. {_iso(g.last_seen)}"
        )
        lines.append(f"  reason: {escape_controls(g.reason)}")
        if g.rule:
            lines.append(f"  rule: {escape_controls(g.rule)}")
        if g.sources:
            lines.append(f"  source: {escape_controls('; '.join(sorted(g.sources)))}")
        if g.programs:
            lines.append(f"  program: {escape_controls(', '.join(sorted(g.programs)))}")
    return "\n".join(lines) + "\n"


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- the draft policy -------------------------------------------------------------------


@dataclass
class _Waiver:
    key: str
    verify_disabled: bool = False
    x509_lenient: bool = False
    min_tls: str | None = None
    notes: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def draft_policy(summary: Summary, today: datetime.date) -> str:
    """A policy (YAML text) with the narrowest waiver per host and port that failed, each
    expiring ``DRAFT_DAYS`` after ``today`` and with a ``TODO:`` reason carrying the evidence."""
    expires = today + datetime.timedelta(days=DRAFT_DAYS)
    waivers: dict[tuple[str, int | None], _Waiver] = {}
    not_drafted: list[str] = []
    for g in summary.sorted_groups():
        if g.event not in ("report_only_failure", "verification_disabled"):
            not_drafted.append(
                f"{_host_port(g.host, g.port)}: {g.count} {g.event} (no waiver changes this)"
            )
            continue
        key = _host_key(g.host, g.port)
        if key is None:
            not_drafted.append(f"{_host_port(g.host, g.port)}: not a host name a policy can hold")
            continue
        text, normalised = key
        waiver = waivers.setdefault(normalised, _Waiver(text))
        if not _apply(waiver, g):
            not_drafted.append(
                f"{_host_port(g.host, g.port)}: {_clip(g.reason)} (pins: update them to the "
                "presented keys; no waiver applies)"
            )
            continue
        waiver.evidence.append(
            f"{g.count} {g.event} event{'s' * (g.count != 1)} {_iso(g.first_seen)} to "
            f"{_iso(g.last_seen)}: {_clip(g.reason)}"
        )

    lines = [
        f"# Draft policy written by `securehttp audit summarize` on {today.isoformat()} from "
        f"{summary.events} events.",
        "# Each waiver is the narrowest setting that lets its host pass; its reason holds the",
        "# evidence. Replace every TODO with the ticket and owner, then run",
        "# `securehttp check --strict` on this file. Hosts not listed stay strict.",
        "version: 1",
        "lock: false  # true once reviewed: the environment can then no longer weaken it",
        "defaults:",
        "  verify: strict",
    ]
    drafted = [w for w in waivers.values() if w.evidence]
    lines.append("hosts:" if drafted else "hosts: {}")
    for waiver in sorted(drafted, key=lambda w: w.key):
        lines.append(f"  {_quote(waiver.key)}:")
        lines.extend(f"    # {escape_controls(note)}" for note in dict.fromkeys(waiver.notes))
        if waiver.verify_disabled:
            lines.append("    verify: disabled")
        elif waiver.x509_lenient:
            lines.append("    x509_strict: false")
        if waiver.min_tls is not None:
            lines.append(f'    min_tls: "{waiver.min_tls}"')
        lines.append(f"    expires: {expires.isoformat()}")
        reason = "TODO: ticket and owner. Evidence: " + "; ".join(waiver.evidence)
        lines.append(f"    reason: {_quote(reason)}")
    if not_drafted:
        lines.append("# Seen but not drafted:")
        lines.extend(f"#   {escape_controls(item)}" for item in not_drafted)
    return "\n".join(lines) + "\n"


def _apply(waiver: _Waiver, g: Group) -> bool:
    """Widen ``waiver`` just enough for the failure of ``g``; False when none can."""
    reason = g.reason
    if g.event == "verification_disabled":
        waiver.verify_disabled = True
        waiver.notes += [
            "connected with verification disabled, so strict was never tried; see what",
            f"would fail with: securehttp probe {_url(g.host, g.port)}",
        ]
    elif _PINS.search(reason):
        return False
    elif _PROTOCOL.search(reason):
        version = "1.1" if _TLS_1_1.search(reason) and not _TLS_1_0.search(reason) else "1.0"
        waiver.min_tls = min(waiver.min_tls or version, version)
    elif _X509_STRICT.search(reason):
        waiver.x509_lenient = True
    elif _ISSUER.search(reason):
        waiver.verify_disabled = True
        waiver.notes += [
            "unknown issuer. Narrower, if you know the issuer: save it with",
            f"  securehttp probe {_url(g.host, g.port)} --save-chain FILE",
            "and write `extra_ca: [FILE]` instead of `verify: disabled`.",
        ]
    else:
        # A name mismatch, an expired certificate or anything unrecognised: nothing narrower
        # than no verification lets it pass.
        waiver.verify_disabled = True
    return True


def _host_key(host: str, port: int) -> tuple[str, tuple[str, int | None]] | None:
    """The policy key for host and port (no port when 443), and its normalised identity, so
    that two spellings of one host become one rule (the loader refuses duplicates)."""
    bare = f"[{host}]" if ":" in host and not host.startswith("[") else host
    text = host if port == 443 else f"{bare}:{port}"
    try:
        pattern = parse_pattern(text)
    except ValueError:
        return None
    if pattern.kind not in ("exact", "cidr") or "/" in text:
        return None  # a logged host is a name or an address, never a wildcard or network
    return text, (pattern.value, pattern.port)


def _url(host: str, port: int) -> str:
    name = f"[{host}]" if ":" in host else host
    return f"https://{name}/" if port == 443 else f"https://{name}:{port}/"


def _clip(text: str) -> str:
    text = escape_controls(text)
    return text if len(text) <= _MAX_EVIDENCE else text[: _MAX_EVIDENCE - 3] + "..."


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are a subset of YAML's)."""
    return json.dumps(text, ensure_ascii=True)
