"""``securehttp scan``: find code that turns TLS verification off, without running it.

Files are read as bytes, decoded as Python would (PEP 263 cookie or BOM, UTF-8 otherwise),
parsed with :mod:`ast` and never imported or executed. Each finding carries the policy waiver
that replaces it, naming the host when the call writes its URL. A ``# nosec`` comment (any form)
or ``# noqa`` (bare, or naming the rule or one of ruff's S501/S323/S502-S504) on the finding's
line marks it suppressed: still reported, not counted. Anything taken from a scanned file or a
path is shown with its control characters escaped.
"""

from __future__ import annotations

import ast
import datetime
import io
import json
import os
import re
import stat
import tokenize
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ._hosts import DEFAULT_PORTS, split_url
from ._scan_rules import Hit, analyze

__all__ = [
    "RULES",
    "Finding",
    "Report",
    "Rule",
    "Unscannable",
    "escape",
    "policy_key",
    "scan",
    "scan_source",
    "waiver",
]

# Walking a directory skips these; a path named on the command line is always scanned.
SKIPPED_DIRECTORIES = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__"})
MAX_FILE_SIZE = 16 * 1024 * 1024  # generated files beyond this are not worth parsing
WAIVER_DAYS = 90  # as `audit summarize --draft-policy` drafts them (SPEC §11)
_RUFF_CODES = frozenset({"S501", "S323", "S502", "S503", "S504"})
_NOSEC = re.compile(r"#\s*nosec\b", re.IGNORECASE)
_NOQA = re.compile(
    r"#\s*noqa(?::[ \t]*(?P<codes>[A-Z]+[0-9]+(?:[ \t]*,[ \t]*[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
# ast counts lines as the tokenizer does; str.splitlines would also split at \f, \x1c, U+2028...
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    summary: str
    fix: str
    level: str  # SARIF's: "error" turns verification off, "warning" hides that it is off


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "SH101",
            "verify-off-in-http-call",
            "An HTTP client call turns certificate verification off: requests or httpx "
            'verify=False (or 0, "", a name bound to one), aiohttp ssl=False or verify_ssl=False.',
            "Drop the argument and let the policy decide; waive the host in the policy while "
            "it cannot pass.",
            "error",
        ),
        Rule(
            "SH102",
            "verify-off-on-session",
            "A requests Session (or client) gets verify = False: every request it sends is "
            "unverified.",
            "Drop the assignment; waive the hosts in the policy.",
            "error",
        ),
        Rule(
            "SH103",
            "cert-reqs-none",
            "urllib3 (or ssl.wrap_socket) is told cert_reqs=CERT_NONE or assert_hostname=False.",
            "Leave cert_reqs at its default (CERT_REQUIRED); waive the host in the policy.",
            "error",
        ),
        Rule(
            "SH104",
            "unverified-ssl-context",
            "An SSL context that does not verify: ssl._create_unverified_context, the "
            "process-wide default-context patch, or ssl.SSLContext() with a protocol whose "
            "default is CERT_NONE and nothing here turning verification on.",
            "Use ssl.create_default_context() or PROTOCOL_TLS_CLIENT, or no context at all; "
            "waive the host in the policy.",
            "error",
        ),
        Rule(
            "SH105",
            "hostname-check-or-verify-mode-off",
            "check_hostname = False or verify_mode = CERT_NONE on a context, or "
            "check_hostname=False given to HTTPSHandler/HTTPSConnection.",
            "Keep the context's defaults; waive the host in the policy.",
            "error",
        ),
        Rule(
            "SH106",
            "verify-off-by-environment-in-code",
            "The program sets a variable that turns verification off: PYTHONHTTPSVERIFY=0, "
            'CURL_CA_BUNDLE="" or REQUESTS_CA_BUNDLE="", SECUREHTTP_VERIFY other than strict '
            "(os.environ, setdefault, update, putenv, a child's env=).",
            "Remove it; a waiver in the policy names the hosts instead of the whole process.",
            "error",
        ),
        Rule(
            "SH107",
            "runtime-switch-off",
            "PEP 493's runtime switch is turned off: ssl._https_verify_certificates(False) or "
            "securehttp.https_verify_certificates(False).",
            "Remove the call; waive the hosts in the policy.",
            "error",
        ),
        Rule(
            "SH108",
            "insecure-warning-silenced",
            "InsecureRequestWarning is silenced (urllib3.disable_warnings(), a warnings filter), "
            "hiding that verification is off.",
            "Remove it; a policy waiver warns once per host and reason, with an end date.",
            "warning",
        ),
        Rule(
            "SH109",
            "adapter-turns-verify-off",
            "A transport adapter subclass turns verification off for every request it sends "
            "(cert_verify(..., False, ...), verify or cert_reqs forced in send/init_poolmanager).",
            "Remove the override (or securehttp.integrations.requests.PolicyAdapter); waive the "
            "hosts in the policy.",
            "error",
        ),
    )
}


@dataclass(frozen=True)
class Finding:
    path: str  # escaped
    line: int
    column: int  # 1-based, in characters
    rule: str
    message: str  # escaped
    suppressed_by: str | None  # the comment, escaped
    host: str | None  # the policy's host key, when the call names its URL
    waiver: str  # YAML to put under a policy's top level instead

    @property
    def suppressed(self) -> bool:
        return self.suppressed_by is not None


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    files: int
    skipped: tuple[tuple[str, str], ...]  # (escaped path, why it was not scanned)

    @property
    def unsuppressed(self) -> int:
        return sum(not f.suppressed for f in self.findings)


def scan(paths: Sequence[str], *, today: datetime.date | None = None) -> Report:
    """Scan files and directories; ValueError (a usage error) if a path does not exist."""
    for path in paths:
        if not os.path.exists(path):
            raise ValueError(f"{escape(path)}: no such file or directory")
    findings: list[Finding] = []
    skipped: list[tuple[str, str]] = []
    files = 0
    for path in _files(paths):
        files += 1
        try:
            findings += scan_source(_read(path), path, today=today)
        except Unscannable as exc:
            skipped.append((escape(path), str(exc)))
    return Report(tuple(findings), files, tuple(skipped))


class Unscannable(Exception):
    """Why a file could not be scanned: a warning, never a crash."""


def scan_source(
    data: bytes, path: str = "<source>", *, today: datetime.date | None = None
) -> list[Finding]:
    """The findings in one file's bytes; Unscannable if it cannot be decoded or parsed."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise Unscannable(f"cannot be decoded: {escape(str(exc))}") from None
    try:
        with warnings.catch_warnings():
            # The scanned file's own SyntaxWarnings (invalid escapes...) are not ours to show.
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=path)
        hits = analyze(tree)
    except SyntaxError as exc:
        raise Unscannable(f"does not parse: line {exc.lineno}: {escape(exc.msg)}") from None
    except ValueError as exc:  # NUL bytes, before Python 3.12
        raise Unscannable(f"does not parse: {escape(str(exc))}") from None
    except RecursionError:
        raise Unscannable("is nested too deeply to analyse") from None
    if not hits:
        return []
    lines = _LINE_BREAK.split(text)
    comments = _comments(text)
    until = (today or _utc_today()) + datetime.timedelta(days=WAIVER_DAYS)
    return [_finding(hit, path, lines, comments, until) for hit in hits]


def _finding(
    hit: Hit, path: str, lines: list[str], comments: dict[int, str], until: datetime.date
) -> Finding:
    line = lines[hit.line - 1] if 0 < hit.line <= len(lines) else ""
    column = len(line.encode("utf-8")[: hit.column].decode("utf-8", "replace")) + 1
    comment = comments.get(hit.line)
    suppressed_by = None
    if comment is not None and _suppresses(comment, hit.rule):
        suppressed_by = escape(comment.strip()[:80])
    host = None if hit.url is None else policy_key(hit.url)
    return Finding(
        path=escape(path),
        line=hit.line,
        column=column,
        rule=hit.rule,
        message=escape(hit.message),
        suppressed_by=suppressed_by,
        host=host,
        waiver=waiver(host, until),
    )


def _suppresses(comment: str, rule: str) -> bool:
    if _NOSEC.search(comment):
        return True
    match = _NOQA.search(comment)
    if match is None:
        return False
    if match.group("codes") is None:
        return True
    codes = {code.strip().upper() for code in match.group("codes").split(",")}
    return rule in codes or bool(codes & _RUFF_CODES)


def _comments(text: str) -> dict[int, str]:
    """Comment text by line; none at all if the file cannot be tokenized (fail closed)."""
    found: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):
        return {}
    return found


def policy_key(url: str) -> str | None:
    """The policy's host key for ``url`` (``host`` or ``host:port``), None if it has none."""
    try:
        target = split_url(url)
    except ValueError:
        return None
    host = f"[{target.host}]" if ":" in target.host else target.host
    if target.port == DEFAULT_PORTS[target.scheme]:
        return target.host
    return f"{host}:{target.port}"


def waiver(host: str | None, until: datetime.date) -> str:
    """The YAML waiver that replaces a finding: this host, an end date, a reason to fill in."""
    lines = []
    if host is None:
        lines.append("# HOST: each host this code connects to (the call does not name one)")
    lines += [
        "hosts:",
        f"  {json.dumps(host or 'HOST')}:",
        "    verify: disabled",
        f"    expires: {until.isoformat()}",
        '    reason: "TODO: why, and the ticket that tracks the fix"',
    ]
    return "\n".join(lines)


def escape(text: str) -> str:
    """``text`` with every non-printable character written as a Python escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _utc_today() -> datetime.date:
    # Waiver dates are compared in UTC (SPEC §4).
    return datetime.datetime.now(datetime.timezone.utc).date()


def _files(paths: Sequence[str]) -> Iterator[str]:
    for path in paths:
        if not os.path.isdir(path):
            yield path
            continue
        for root, directories, names in os.walk(path):
            directories[:] = sorted(d for d in directories if d not in SKIPPED_DIRECTORIES)
            for name in sorted(names):
                if name.endswith(".py"):
                    yield os.path.join(root, name)


def _read(path: str) -> bytes:
    # O_NONBLOCK and the check on the opened file: a FIFO or device named *.py never blocks us.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise Unscannable(f"cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unscannable("is not a regular file")
        if info.st_size > MAX_FILE_SIZE:
            raise Unscannable(f"is larger than {MAX_FILE_SIZE // (1024 * 1024)} MiB")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return stream.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        raise Unscannable(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
