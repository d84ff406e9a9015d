"""Audit events: the v1 schema, the JSON-lines file and what it must never do (SPEC §11)."""

from __future__ import annotations

import datetime
import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import trustme

from securehttp import Client, InsecureRequestWarning, Policy, PolicyWarning, _audit
from securehttp._audit import emit

FIELDS = {
    "v",
    "ts",
    "event",
    "host",
    "port",
    "reason",
    "rule",
    "verify",
    "source",
    "action",
    "pid",
    "program",
}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_audit_warnings() -> Iterator[None]:
    _audit.reset_warnings()
    yield
    _audit.reset_warnings()


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("SECUREHTTP_AUDIT_LOG", str(path))
    return path


def an_event(**overrides: Any) -> None:
    fields: dict[str, Any] = {
        "host": "legacy.example.org",
        "port": 443,
        "reason": "unable to get local issuer certificate",
        "rule": "legacy.example.org",
        "verify": "warn",
        "source": "policy.yaml:7 hosts.legacy.example.org",
        "action": "connected without verification (report-only)",
    }
    fields.update(overrides)
    event = fields.pop("event", "report_only_failure")
    emit(event, **fields)


def events(
    count: int, logs: Sequence[Path] = (), monkeypatch: pytest.MonkeyPatch | None = None
) -> None:
    """``count`` events, cycling through ``logs`` (if given) as SECUREHTTP_AUDIT_LOG."""
    for i in range(count):
        if logs and monkeypatch is not None:
            monkeypatch.setenv("SECUREHTTP_AUDIT_LOG", str(logs[i % len(logs)]))
        an_event()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("ascii").splitlines()]


# --- the schema -----------------------------------------------------------------------------


def test_event_is_one_v1_json_line_and_a_log_record(
    log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    before = datetime.datetime.now(datetime.timezone.utc)
    an_event()
    after = datetime.datetime.now(datetime.timezone.utc)

    [event] = lines(log)
    assert set(event) == FIELDS
    assert event["v"] == 1
    assert event["event"] == "report_only_failure"
    assert (event["host"], event["port"]) == ("legacy.example.org", 443)
    assert event["reason"] == "unable to get local issuer certificate"
    assert event["rule"] == "legacy.example.org"
    assert event["verify"] == "warn"
    assert event["source"] == "policy.yaml:7 hosts.legacy.example.org"
    assert event["pid"] == os.getpid()
    assert event["program"] == _audit.program_name()
    assert event["ts"].endswith("Z")
    ts = datetime.datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
    assert before - datetime.timedelta(seconds=1) <= ts <= after + datetime.timedelta(seconds=1)

    [record] = [r for r in caplog.records if r.name == "securehttp.audit"]
    assert getattr(record, "securehttp_audit", None) == event
    assert "legacy.example.org:443" in record.getMessage()
    assert "unable to get local issuer certificate" in record.getMessage()


@pytest.mark.parametrize("name", sorted(_audit.EVENTS))
def test_every_event_name_is_accepted(log: Path, name: str) -> None:
    an_event(event=name)
    assert [e["event"] for e in lines(log)] == [name]


def test_unknown_event_name_is_a_programming_error(log: Path) -> None:
    with pytest.raises(ValueError, match="unknown audit event"):
        an_event(event="tls_verification_failed")
    assert not log.exists()


def test_no_variable_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    monkeypatch.chdir(tmp_path)
    an_event()
    assert list(tmp_path.iterdir()) == []
    assert len([r for r in caplog.records if r.name == "securehttp.audit"]) == 1


def test_program_names_the_script_or_the_module(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    code = (
        "from securehttp._audit import emit\n"
        "emit('verification_disabled', host='h', port=1, reason='r', rule=None, "
        "verify='disabled', source='s', action='a')\n"
    )
    (tmp_path / "emitter.py").write_text(code)
    env = {**os.environ, "SECUREHTTP_AUDIT_LOG": str(log), "PYTHONPATH": str(tmp_path)}
    # The secret-looking argument shows that arguments never reach the event.
    for argv in (["emitter.py", "https://u:pw@x/"], ["-m", "emitter", "https://u:pw@x/"]):
        subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env, check=True)
    assert [e["program"] for e in lines(log)] == ["emitter.py", "-m emitter"]
    assert "pw" not in log.read_text()


# --- the file -------------------------------------------------------------------------------


def test_log_is_created_0600_whatever_the_umask(log: Path) -> None:
    old = os.umask(0)
    try:
        an_event()
    finally:
        os.umask(old)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_events_are_appended_to_what_is_there(log: Path) -> None:
    log.write_text('{"v": 1, "earlier": true}\n')
    an_event()
    an_event(host="other.example.org")
    text = log.read_text()
    assert text.startswith('{"v": 1, "earlier": true}\n')
    assert [e.get("host") for e in lines(log)] == [None, "legacy.example.org", "other.example.org"]


def test_each_write_goes_to_the_end_even_after_truncation(log: Path) -> None:
    # O_APPEND: a log truncated in place (copytruncate rotation) gets its next event at
    # offset 0, not at an old offset after a hole of NUL bytes.
    an_event()
    an_event()
    os.truncate(log, 0)
    an_event(host="after.example.org")
    data = log.read_bytes()
    assert b"\x00" not in data
    assert [e["host"] for e in lines(log)] == ["after.example.org"]


def test_newlines_and_controls_in_a_reason_stay_inside_one_line(log: Path) -> None:
    an_event(reason="line one\nline two\r\x1b[2J\u2028end")
    raw = log.read_bytes()
    assert raw.count(b"\n") == 1
    assert raw.isascii()
    assert lines(log)[0]["reason"] == "line one\nline two\r\x1b[2J\u2028end"


def test_log_message_escapes_control_characters(
    log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    an_event(reason="bad\x1b[2J\nname")
    [record] = [r for r in caplog.records if r.name == "securehttp.audit"]
    assert "\x1b" not in record.getMessage()
    assert "\n" not in record.getMessage()
    assert "bad\\x1b[2J\\x0aname" in record.getMessage()


# --- never failing --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["missing-directory", "directory"])
def test_unwritable_log_is_one_warning_and_no_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    path = tmp_path / "no" / "such" / "audit.jsonl" if where == "missing-directory" else tmp_path
    monkeypatch.setenv("SECUREHTTP_AUDIT_LOG", str(path))
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    with pytest.warns(PolicyWarning) as caught:
        events(3)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"SECUREHTTP_AUDIT_LOG={path}" in message
    assert "cannot append audit events" in message
    # The events still reach the logger.
    assert len([r for r in caplog.records if r.name == "securehttp.audit"]) == 3


def test_each_unwritable_path_warns_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a" / "log", tmp_path / "b" / "log"
    with pytest.warns(PolicyWarning) as caught:
        events(4, logs=[first, second], monkeypatch=monkeypatch)
    assert len(caught) == 2
    assert str(first) in str(caught[0].message)
    assert str(second) in str(caught[1].message)


def test_symlink_at_the_log_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(target)
    monkeypatch.setenv("SECUREHTTP_AUDIT_LOG", str(link))
    with pytest.warns(PolicyWarning, match="symbolic link"):
        an_event()
    assert target.read_text() == "precious\n"


def test_dangling_symlink_is_refused_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "created-through-the-link"
    link = tmp_path / "audit.jsonl"
    link.symlink_to(target)
    monkeypatch.setenv("SECUREHTTP_AUDIT_LOG", str(link))
    with pytest.warns(PolicyWarning, match="symbolic link"):
        an_event()
    assert not target.exists()


def test_symlinked_directory_above_the_log_is_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twin of the refusals: only the last component must not be a link.
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "logs").symlink_to(real)
    monkeypatch.setenv("SECUREHTTP_AUDIT_LOG", str(tmp_path / "logs" / "audit.jsonl"))
    an_event()
    assert len(lines(real / "audit.jsonl")) == 1


def test_fifo_is_refused_without_blocking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("SECUREHTTP_AUDIT_LOG", str(fifo))
    with pytest.warns(PolicyWarning, match=r"audit\.fifo"):
        an_event()


# --- secrets --------------------------------------------------------------------------------


def test_url_userinfo_is_redacted_in_reason_and_source(
    log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="securehttp.audit")
    an_event(
        reason="proxy http://alice:s3cret@proxy.example:3128 refused the tunnel",
        source="env https_proxy=https://bob:p@ss/w0rd@proxy.example/",
    )
    text = log.read_text()
    [event] = lines(log)
    assert event["reason"] == "proxy http://***@proxy.example:3128 refused the tunnel"
    assert event["source"] == "env https_proxy=https://***@proxy.example/"
    message = caplog.records[-1].getMessage()
    for secret in ("alice", "s3cret", "bob", "p@ss", "w0rd"):
        assert secret not in text
        assert secret not in message


def test_urls_without_userinfo_are_kept(log: Path) -> None:
    an_event(
        reason="redirected to https://example.org/a?mail=x", source="env https_proxy=http://p:3128"
    )
    [event] = lines(log)
    assert event["reason"] == "redirected to https://example.org/a?mail=x"
    assert event["source"] == "env https_proxy=http://p:3128"


def test_redact_covers_every_url_in_the_text() -> None:
    assert (
        _audit.redact("a ftp://u@h b socks5h://u:p@h:1 c") == "a ftp://***@h b socks5h://***@h:1 c"
    )


# --- python -E ------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [["-E"], []])
def test_python_dash_e_ignores_the_variable(tmp_path: Path, flags: list[str]) -> None:
    log = tmp_path / "audit.jsonl"
    code = (
        "from securehttp._audit import emit\n"
        "emit('report_only_failure', host='h', port=1, reason='r', rule=None, "
        "verify='warn', source='s', action='a')\n"
    )
    # -E also ignores PYTHONPATH: the child imports the project installed in the test venv.
    env = {**os.environ, "SECUREHTTP_AUDIT_LOG": str(log)}
    subprocess.run([sys.executable, *flags, "-c", code], cwd=ROOT, env=env, check=True)
    if flags:
        assert not log.exists()
    else:
        assert len(lines(log)) == 1


# --- many processes at once -----------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import logging, os, sys, time
    from securehttp._audit import emit

    # Only the file is under test: keep logging's last-resort handler off stderr.
    logging.getLogger("securehttp.audit").addHandler(logging.NullHandler())

    worker, count, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    while not os.path.exists(go):  # start together, so the writes really overlap
        time.sleep(0.001)
    padding = "x" * 6000  # larger than PIPE_BUF: atomicity must not depend on small writes
    for seq in range(count):
        emit("report_only_failure", host=f"w{worker}.example", port=443,
             reason=f"{worker}:{seq}:{padding}", rule=None, verify="warn",
             source="test", action="none")
    """
)


def test_many_processes_appending_at_once_lose_and_interleave_nothing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    go = tmp_path / "go"
    workers, count = 4, 500
    env = {**os.environ, "SECUREHTTP_AUDIT_LOG": str(log)}
    errors = [tmp_path / f"stderr-{w}" for w in range(workers)]
    procs = []
    for w in range(workers):
        with errors[w].open("wb") as stderr:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, str(w), str(count), str(go)],
                    env=env,
                    stderr=stderr,
                )
            )
    go.touch()
    for proc, err in zip(procs, errors, strict=True):
        assert proc.wait(timeout=600) == 0, err.read_text()
        assert err.read_text() == ""
    raw = log.read_bytes().split(b"\n")
    assert raw[-1] == b""
    seen: set[tuple[int, int]] = set()
    pids: dict[int, set[int]] = {}
    for line in raw[:-1]:
        event = json.loads(line)  # every line is whole, valid JSON
        worker, seq, padding = event["reason"].split(":")
        assert padding == "x" * 6000
        assert event["host"] == f"w{worker}.example"
        seen.add((int(worker), int(seq)))
        pids.setdefault(int(worker), set()).add(event["pid"])
    assert len(raw) - 1 == workers * count
    assert seen == {(w, s) for w in range(workers) for s in range(count)}
    assert all(len(p) == 1 for p in pids.values())
    assert len({next(iter(p)) for p in pids.values()}) == workers


# --- wired into the seam and resolution -----------------------------------------------------


def waiver(level: str, days: int = 30) -> dict[str, Any]:
    expires = datetime.date.today() + datetime.timedelta(days=days)
    return {"verify": level, "expires": expires.isoformat(), "reason": "test"}


def test_report_only_connection_writes_one_line_per_connection(
    log: Path, make_server: Callable[..., Any], other_ca: trustme.CA
) -> None:
    server = make_server(other_ca.issue_cert("127.0.0.1"))
    policy = Policy.from_dict({"defaults": waiver("warn")}, source="migration.yaml")
    with Client(policy) as client, pytest.warns(InsecureRequestWarning):
        assert client.get(server.url("/")).read() == b"hello\n"
    with Client(policy) as client:  # a new client: a new connection, a new event
        assert client.get(server.url("/")).read() == b"hello\n"
    events = lines(log)
    assert [e["event"] for e in events] == ["report_only_failure"] * 2
    assert events[0]["host"] == "127.0.0.1"
    assert events[0]["port"] == server.port
    assert "unable to get local issuer" in events[0]["reason"]
    assert events[0]["source"] == "migration.yaml defaults"
    assert events[0]["verify"] == "warn"


def test_strict_success_writes_nothing(log: Path, good_server: Any, ca_pem: Path) -> None:
    policy = Policy.from_dict({"defaults": {"trust": str(ca_pem), **waiver("warn")}})
    with Client(policy) as client:
        assert client.get(good_server.url("/")).status == 200
    assert not log.exists()


def test_disabled_connection_is_one_event_per_host_and_reason(
    log: Path, make_server: Callable[..., Any], other_ca: trustme.CA
) -> None:
    server = make_server(other_ca.issue_cert("127.0.0.1"))
    policy = Policy.from_dict({"hosts": {"127.0.0.1": waiver("disabled")}}, source="lab.yaml")
    with Client(policy) as client, pytest.warns(InsecureRequestWarning):
        bodies = [client.get(server.url("/")).read() for _ in range(3)]
    assert bodies == [b"hello\n"] * 3
    [event] = lines(log)
    assert event["event"] == "verification_disabled"
    assert event["rule"] == "127.0.0.1"
    assert event["source"].startswith("lab.yaml")
    assert "server that may not be who it claims" in event["action"]


def test_lapsed_waiver_is_an_event(log: Path) -> None:
    policy = Policy.from_dict(
        {"hosts": {"old.example": waiver("disabled", days=-3)}}, source="old.yaml"
    )
    with pytest.warns(PolicyWarning, match="expired"):
        assert str(policy.resolve("https://old.example:8443/").verify) == "strict"
    [event] = lines(log)
    assert event["event"] == "waiver_lapsed"
    assert (event["host"], event["port"], event["rule"]) == ("old.example", 8443, "old.example")
    assert "expired on" in event["reason"]


def test_weakening_refused_under_lock_is_an_event(log: Path) -> None:
    from securehttp._resolve import Resolver

    locked = Policy.from_dict({"lock": True}, source="/etc/securehttp/policy.yaml")
    weaker = Policy.from_dict({"defaults": waiver("disabled")}, source="env SECUREHTTP_VERIFY")
    resolver = Resolver((locked, weaker))
    with pytest.warns(PolicyWarning, match="refused"):
        assert str(resolver.resolve("https://a.example/").verify) == "strict"
    [event] = lines(log)
    assert event["event"] == "weakening_refused"
    assert event["host"] == "a.example"
    assert event["source"] == "env SECUREHTTP_VERIFY defaults"
    assert "lock: true" in event["reason"]
