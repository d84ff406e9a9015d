"""``securehttp audit summarize``: grouping, malformed input, and the draft policy (SPEC §11)."""

from __future__ import annotations

import datetime
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from securehttp import (
    CertificateError,
    Client,
    InsecureRequestWarning,
    Policy,
    PolicyWarning,
    load_policy,
)
from securehttp._audit_summary import draft_policy, read_logs, summarize, summary_json
from securehttp._cli import main


def event(host: str, port: int, reason: str, ts: str, kind: str = "report_only_failure") -> str:
    return json.dumps(
        {
            "v": 1,
            "ts": ts,
            "event": kind,
            "host": host,
            "port": port,
            "reason": reason,
            "rule": None,
            "verify": "warn",
            "source": "env SECUREHTTP_VERIFY=warn",
            "action": "connected without verification (report-only)",
            "pid": 4242,
            "program": "-m app",
        }
    )


ISSUER = "unable to get local issuer certificate"
SYNTHETIC = [
    event("legacy.example.org", 443, ISSUER, "2030-01-01T08:00:00.000Z"),
    event("legacy.example.org", 443, ISSUER, "2030-01-03T09:30:00.000Z"),
    event("legacy.example.org", 443, ISSUER, "2030-01-02T12:00:00+00:00"),
    event("old.example.org", 8443, "[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol", "2030-01-02T00:00:00Z"),
    event("tls11.example.org", 443, "TLSV1_ALERT_PROTOCOL_VERSION: server offers TLSv1.1 only", "2030-01-02T00:00:00Z"),
    event("name.example.org", 443, "Hostname mismatch, certificate is not valid for 'name.example.org'.", "2030-01-04T00:00:00Z"),
    event("x509.example.org", 443, "Basic Constraints of CA cert not marked critical", "2030-01-04T00:00:00Z"),
    event("mixed.example.org", 443, "CA cert does not include key usage extension", "2030-01-04T00:00:00Z"),
    event("mixed.example.org", 443, "certificate has expired", "2030-01-05T00:00:00Z"),
    event("::1", 8443, ISSUER, "2030-01-05T00:00:00Z"),
    event("10.0.0.7", 443, "Hostname mismatch", "2030-01-05T00:00:00Z"),
    event("off.example.org", 443, "certificate verification is disabled by env PYTHONHTTPSVERIFY=0", "2030-01-05T00:00:00Z", "verification_disabled"),
    event("pinned.example.org", 443, "no certificate matches the pinned keys; presented sha256/AAAA", "2030-01-05T00:00:00Z"),
    event("gone.example.org", 443, "the waiver (verify) expired on 2029-12-31", "2030-01-05T00:00:00Z", "waiver_lapsed"),
]  # fmt: skip

GOLDEN = """\
# Draft policy written by `securehttp audit summarize` on 2030-01-10 from 14 events.
# Each waiver is the narrowest setting that lets its host pass; its reason holds the
# evidence. Replace every TODO with the ticket and owner, then run
# `securehttp check --strict` on this file. Hosts not listed stay strict.
version: 1
lock: false  # true once reviewed: the environment can then no longer weaken it
defaults:
  verify: strict
hosts:
  "10.0.0.7":
    verify: disabled
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 1 report_only_failure event 2030-01-05T00:00:00Z to 2030-01-05T00:00:00Z: Hostname mismatch"
  "[::1]:8443":
    # unknown issuer. Narrower, if you know the issuer: save it with
    #   securehttp probe https://[::1]:8443/ --save-chain FILE
    # and write `extra_ca: [FILE]` instead of `verify: disabled`.
    verify: disabled
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 1 report_only_failure event 2030-01-05T00:00:00Z to 2030-01-05T00:00:00Z: unable to get local issuer certificate"
  "legacy.example.org":
    # unknown issuer. Narrower, if you know the issuer: save it with
    #   securehttp probe https://legacy.example.org/ --save-chain FILE
    # and write `extra_ca: [FILE]` instead of `verify: disabled`.
    verify: disabled
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 3 report_only_failure events 2030-01-01T08:00:00Z to 2030-01-03T09:30:00Z: unable to get local issuer certificate"
  "mixed.example.org":
    verify: disabled
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 1 report_only_failure event 2030-01-04T00:00:00Z to 2030-01-04T00:00:00Z: CA cert does not include key usage extension; 1 report_only_failure event 2030-01-05T00:00:00Z to 2030-01-05T00:00:00Z: certificate has expired"
  "name.example.org":
    verify: disabled
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 1 report_only_failure event 2030-01-04T00:00:00Z to 2030-01-04T00:00:00Z: Hostname mismatch, certificate is not valid for 'name.example.org'."
  "off.example.org":
    # connected with verification disabled, so strict was never tried; see what
    # would fail with: securehttp probe https://off.example.org/
    verify: disabled
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 1 verification_disabled event 2030-01-05T00:00:00Z to 2030-01-05T00:00:00Z: certificate verification is disabled by env PYTHONHTTPSVERIFY=0"
  "old.example.org:8443":
    min_tls: "1.0"
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 1 report_only_failure event 2030-01-02T00:00:00Z to 2030-01-02T00:00:00Z: [SSL: UNSUPPORTED_PROTOCOL] unsupported protocol"
  "tls11.example.org":
    min_tls: "1.1"
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 1 report_only_failure event 2030-01-02T00:00:00Z to 2030-01-02T00:00:00Z: TLSV1_ALERT_PROTOCOL_VERSION: server offers TLSv1.1 only"
  "x509.example.org":
    x509_strict: false
    expires: 2030-04-10
    reason: "TODO: ticket and owner. Evidence: 1 report_only_failure event 2030-01-04T00:00:00Z to 2030-01-04T00:00:00Z: Basic Constraints of CA cert not marked critical"
# Seen but not drafted:
#   gone.example.org:443: 1 waiver_lapsed (no waiver changes this)
#   pinned.example.org:443: no certificate matches the pinned keys; presented sha256/AAAA (pins: update them to the presented keys; no waiver applies)
"""


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- grouping -------------------------------------------------------------------------------


def test_groups_count_and_first_and_last_seen(tmp_path: Path) -> None:
    summary = read_logs([str(write_log(tmp_path / "a.jsonl", SYNTHETIC))])
    data = summary_json(summary)
    assert data["events"] == len(SYNTHETIC)
    assert data["malformed_lines"] == 0
    groups = data["groups"]
    assert isinstance(groups, list)
    legacy = [g for g in groups if g["host"] == "legacy.example.org"]
    assert legacy == [
        {
            "host": "legacy.example.org",
            "port": 443,
            "event": "report_only_failure",
            "reason": ISSUER,
            "rule": None,
            "count": 3,
            "first_seen": "2030-01-01T08:00:00Z",
            "last_seen": "2030-01-03T09:30:00Z",
            "sources": ["env SECUREHTTP_VERIFY=warn"],
            "programs": ["-m app"],
        }
    ]
    assert len([g for g in groups if g["host"] == "mixed.example.org"]) == 2


def test_several_files_add_up(tmp_path: Path) -> None:
    a = write_log(tmp_path / "a.jsonl", SYNTHETIC[:2])
    b = write_log(tmp_path / "b.jsonl", SYNTHETIC[2:3])
    [group] = read_logs([str(a), str(b)]).groups.values()
    assert group.count == 3


def test_malformed_lines_are_skipped_counted_and_warned_once(tmp_path: Path) -> None:
    good = SYNTHETIC[0]
    record = json.loads(good)
    bad = [
        "not json at all",
        "[1, 2]",
        json.dumps({**record, "host": None}),
        json.dumps({**record, "port": "443"}),
        json.dumps({**record, "port": 0}),
        json.dumps({**record, "ts": "yesterday"}),
        json.dumps({**record, "ts": "2030-01-01T00:00:00"}),  # naive: not UTC
        json.dumps({k: v for k, v in record.items() if k != "v"}),
        "[" * 100_000 + "]" * 100_000,  # nesting deeper than the JSON parser's recursion
    ]
    log = tmp_path / "mixed.jsonl"
    body = "\n".join([good, *bad, "", "   ", json.dumps({**record, "v": 2}), good]) + "\n"
    log.write_bytes(body.encode() + b"\xff\xfe not utf-8\n")
    with pytest.warns(PolicyWarning, match=r"mixed\.jsonl: skipped 10 malformed lines") as w:
        summary = read_logs([str(log)])
    assert len(w) == 1
    assert "first at line 2: not JSON" in str(w[0].message)
    assert summary.events == 2
    assert summary.malformed == 10
    assert summary.unknown_version == 1


def test_a_clean_log_does_not_warn(tmp_path: Path) -> None:
    # Twin of the malformed case (pytest turns any warning into an error here).
    summary = read_logs([str(write_log(tmp_path / "a.jsonl", SYNTHETIC))])
    assert summary.malformed == 0


def test_text_output_escapes_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = event("evil\u202eexample.org", 443, "boom\x1b[2J\x07\nnext", "2030-01-01T00:00:00Z")
    log = write_log(tmp_path / "a.jsonl", [hostile])
    code, out, _ = run(["audit", "summarize", str(log)], capsys)
    assert code == 0
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in out
    assert "boom\\x1b[2J\\x07\\x0anext" in out
    assert "evil\\u202eexample.org:443" in out
    assert out.startswith("1 event for 1 host in 1 file\n")


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "a.jsonl", SYNTHETIC)
    code, out, _ = run(["audit", "summarize", "--json", str(log)], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["files"] == [str(log)]
    assert data["events"] == len(SYNTHETIC)
    assert sum(g["count"] for g in data["groups"]) == len(SYNTHETIC)
    assert out.isascii()


def test_missing_log_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["audit", "summarize", str(tmp_path / "nope.jsonl")], capsys)
    assert code == 2
    assert out == ""
    assert f"cannot read {tmp_path / 'nope.jsonl'}" in err


# --- the draft ------------------------------------------------------------------------------


def test_golden_draft() -> None:
    summary = summarize(line.encode() for line in SYNTHETIC)
    assert draft_policy(summary, datetime.date(2030, 1, 10)) == GOLDEN


def test_golden_draft_loads(write_policy: Callable[..., Path]) -> None:
    policy = load_policy(write_policy(GOLDEN, "draft.yaml"))
    assert not policy.lock
    assert len(policy.hosts) == 9
    decision = policy.resolve("https://legacy.example.org/")
    assert str(decision.verify) == "disabled"
    assert decision.expires == datetime.date(2030, 4, 10)
    assert str(decision.reason).startswith("TODO: ticket and owner. Evidence: 3 ")
    assert policy.resolve("https://old.example.org:8443/").min_tls == "1.0"
    assert str(policy.resolve("https://old.example.org/").verify) == "strict"  # other port
    assert policy.resolve("https://x509.example.org/").x509_strict is False
    # Hosts that never failed, or whose failure no waiver changes, stay strict.
    for url in ("https://pinned.example.org/", "https://gone.example.org/", "https://a.test/"):
        assert str(policy.resolve(url).verify) == "strict"


def test_spellings_of_one_host_become_one_rule(write_policy: Callable[..., Path]) -> None:
    lines = [
        event("legacy.example.org", 443, ISSUER, "2030-01-01T00:00:00Z"),
        event("LEGACY.example.org.", 443, "Hostname mismatch", "2030-01-01T00:00:00Z"),
    ]
    text = draft_policy(summarize(x.encode() for x in lines), datetime.date(2030, 1, 10))
    policy = load_policy(write_policy(text, "draft.yaml"))
    assert len(policy.hosts) == 1


def test_a_host_no_policy_can_hold_is_left_out(write_policy: Callable[..., Path]) -> None:
    lines = [event("*.example.org", 443, ISSUER, "2030-01-01T00:00:00Z")]
    text = draft_policy(summarize(x.encode() for x in lines), datetime.date(2030, 1, 10))
    assert "hosts: {}" in text
    assert "not a host name a policy can hold" in text
    assert load_policy(write_policy(text, "draft.yaml")).hosts == ()


def test_draft_is_checked_then_refused_by_strict_until_reasons_are_filled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "audit.jsonl", SYNTHETIC)
    draft = tmp_path / "draft.yaml"
    code, _, err = run(["audit", "summarize", str(log), "--draft-policy", str(draft)], capsys)
    assert code == 0
    assert f"draft policy written to {draft}" in err
    assert stat.S_IMODE(draft.stat().st_mode) == 0o600
    expires = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=90)
    assert f"expires: {expires.isoformat()}" in draft.read_text()

    code, out, err = run(["check", str(draft)], capsys)
    assert (code, err) == (0, "")
    assert out == f"{draft}: ok (9 host rules)\n"

    code, out, err = run(["check", "--strict", str(draft)], capsys)
    assert code == 2
    assert out == ""
    todo = [line for line in err.splitlines() if "still marked TODO" in line]
    assert len(todo) == 9
    assert all(line.startswith(f"{draft}:") and ".reason: " in line for line in todo)

    draft.write_text(draft.read_text().replace("TODO: ticket and owner.", "OPS-42 (alice)."))
    code, out, err = run(["check", "--strict", str(draft)], capsys)
    assert (code, err) == (0, "")


def test_draft_never_replaces_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "audit.jsonl", SYNTHETIC)
    existing = tmp_path / "policy.yaml"
    existing.write_text("version: 1\n")
    code, _, err = run(["audit", "summarize", str(log), "--draft-policy", str(existing)], capsys)
    assert code == 2
    assert "exists" in err
    assert existing.read_text() == "version: 1\n"


# --- end to end: report-only, then the draft enforced ---------------------------------------


def test_enforcing_the_draft_breaks_no_host_that_passed_and_no_host_it_waives(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    good_server: Any,
    make_server: Callable[..., Any],
    ca: trustme.CA,
    other_ca: trustme.CA,
    ca_pem: Path,
) -> None:
    unknown_issuer = make_server(other_ca.issue_cert("127.0.0.1"))
    wrong_name = make_server(ca.issue_cert("other.test"))
    servers = (good_server, unknown_issuer, wrong_name)
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("SECUREHTTP_AUDIT_LOG", str(log))
    later = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()

    # 1. Report-only: every host answers; the failures are logged.
    report_only = Policy.from_dict(
        {"defaults": {"trust": str(ca_pem), "verify": "warn", "expires": later, "reason": "t"}}
    )
    with Client(report_only) as client, pytest.warns(InsecureRequestWarning):
        statuses = [client.get(s.url("/")).status for s in servers]
    assert statuses == [200, 200, 200]

    # 2. The draft, with the operator's trust beside it (the draft leaves trust alone).
    text = draft_policy(read_logs([str(log)]), datetime.date.today())
    draft = yaml.safe_load(text)
    assert set(draft["hosts"]) == {
        f"127.0.0.1:{unknown_issuer.port}",
        f"127.0.0.1:{wrong_name.port}",
    }
    draft["defaults"]["trust"] = str(ca_pem)
    enforced = Policy.from_dict(draft, source="draft.yaml")
    monkeypatch.delenv("SECUREHTTP_AUDIT_LOG")
    with Client(enforced) as client, pytest.warns(InsecureRequestWarning):
        statuses = [client.get(s.url("/")).status for s in servers]
    assert statuses == [200, 200, 200]

    # Twin: the same enforcement without the waivers refuses exactly the waived hosts.
    del draft["hosts"]
    strict = Policy.from_dict(draft, source="strict.yaml")
    with Client(strict) as client:
        assert client.get(good_server.url("/")).status == 200
        for server in (unknown_issuer, wrong_name):
            with pytest.raises(CertificateError):
                client.get(server.url("/"))
