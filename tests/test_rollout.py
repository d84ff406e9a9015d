"""The rollout of SPEC §11 end to end: report-only, summarize, draft, enforce, lock.

Every step is the real command in its own process (the environment is read once per
process, so only a fresh process shows what a variable does), against a fleet of loopback
servers with mixed faults: good, unknown issuer, wrong name, expired, and a leaf without an
Authority Key Identifier (which OpenSSL's strict X.509 checks refuse).  The walk-through runs
once per module; each test checks one of its claims.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from securehttp import _demo_rollout
from securehttp._demo_rollout import (
    CLIENT_PROGRAM,
    FAULTS,
    Fleet,
    child_environment,
    client_outcomes,
    run_rollout_demo,
    serving_fleet,
)

Run = subprocess.CompletedProcess  # of str
LOCK_BREAKERS = {"PYTHONHTTPSVERIFY": "0", "SECUREHTTP_VERIFY": "disabled"}
EVENT_KEYS = {"v", "ts", "event", "host", "port", "reason", "rule", "verify", "source"}
EVENT_KEYS |= {"action", "pid", "program"}


@dataclass
class Walkthrough:
    fleet: Fleet
    report_only: Run[str]
    events: list[dict[str, Any]]
    summarized: Run[str]
    draft_text: str
    check: Run[str]
    check_strict_todo: Run[str]
    check_strict_filled: Run[str]
    enforced: Run[str]
    unlocked_off: Run[str]
    locked: dict[str, Run[str]]


def python(directory: Path, variables: dict[str, str], *args: str) -> Run[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=directory,
        env={**child_environment(), **variables},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def securehttp(directory: Path, *args: str) -> Run[str]:
    return python(directory, {}, "-m", "securehttp", *args)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Walkthrough:
    directory = tmp_path_factory.mktemp("rollout")
    (directory / "fleet_client.py").write_text(CLIENT_PROGRAM, encoding="utf-8")
    trust = {"SECUREHTTP_EXTRA_CA_CERTS": "corp-ca.pem"}
    with serving_fleet(directory) as fleet:
        everyone = [*fleet.fleet, fleet.new_host]
        report_only = python(
            directory,
            {**trust, "SECUREHTTP_VERIFY": "warn", "SECUREHTTP_AUDIT_LOG": "audit.jsonl"},
            *("fleet_client.py", *fleet.fleet),
        )
        log = (directory / "audit.jsonl").read_text(encoding="utf-8")
        events = [json.loads(line) for line in log.splitlines()]
        summarized = securehttp(
            directory, "audit", "summarize", "audit.jsonl", "--json", "--draft-policy", "draft.yaml"
        )
        draft = directory / "draft.yaml"
        draft_text = draft.read_text(encoding="utf-8")
        check = securehttp(directory, "check", "draft.yaml")
        check_strict_todo = securehttp(directory, "check", "--strict", "draft.yaml")

        # People sign the waivers; the file names its own trust (a locked file refuses a CA
        # named by the environment), so the program runs without the variable from here on.
        signed = draft_text.replace("TODO: ticket and owner.", "OPS-1234 (alice).")
        signed = signed.replace("defaults:\n", "defaults:\n  extra_ca: [corp-ca.pem]\n", 1)
        draft.write_text(signed, encoding="utf-8")
        check_strict_filled = securehttp(directory, "check", "--strict", "draft.yaml")
        policy = {"SECUREHTTP_POLICY": "draft.yaml"}
        enforced = python(directory, policy, "fleet_client.py", *everyone)
        unlocked_off = python(
            directory, {**policy, "PYTHONHTTPSVERIFY": "0"}, "fleet_client.py", fleet.new_host
        )

        draft.write_text(signed.replace("\nlock: false", "\nlock: true", 1), encoding="utf-8")
        locked = {
            name: python(directory, {**policy, name: value}, "fleet_client.py", *everyone)
            for name, value in LOCK_BREAKERS.items()
        }
    return Walkthrough(
        fleet,
        report_only,
        events,
        summarized,
        draft_text,
        check,
        check_strict_todo,
        check_strict_filled,
        enforced,
        unlocked_off,
        locked,
    )


def failing_keys(fleet: Fleet) -> dict[str, str]:
    """host:port -> the reason OpenSSL gives, for each faulty server in the fleet."""
    return {fleet.key(label): reason for label, reason in FAULTS.items()}


# --- 1. report-only -------------------------------------------------------------------------


def test_report_only_lets_every_host_answer(walk: Walkthrough) -> None:
    assert walk.report_only.returncode == 0, walk.report_only.stderr
    assert client_outcomes(walk.report_only.stdout) == dict.fromkeys(walk.fleet.fleet, "200")
    # Each failing host was a warning on the way.
    warned = [line for line in walk.report_only.stderr.splitlines() if line.startswith("Insecure")]
    assert len(warned) == len(FAULTS)


def test_the_log_names_exactly_the_failing_hosts_with_their_reasons(walk: Walkthrough) -> None:
    expected = failing_keys(walk.fleet)
    logged = {f"{e['host']}:{e['port']}": e["reason"] for e in walk.events}
    assert len(walk.events) == len(expected)  # one connection each, one event each
    assert set(logged) == set(expected)
    assert walk.fleet.key("good") not in logged
    for key, reason in expected.items():
        assert reason in logged[key]
    for event in walk.events:
        assert set(event) == EVENT_KEYS
        assert event["v"] == 1
        assert event["event"] == "report_only_failure"
        assert event["verify"] == "warn"
        assert event["source"] == "env SECUREHTTP_VERIFY=warn"
        assert event["program"] == "fleet_client.py"


def test_the_reasons_fall_in_distinct_classes(walk: Walkthrough) -> None:
    # The twin of the test above: no reason is a catch-all that would match every fault.
    for key, event_reason in ((f"{e['host']}:{e['port']}", e["reason"]) for e in walk.events):
        matching = [r for r in FAULTS.values() if r in event_reason]
        assert len(matching) == 1, (key, event_reason)


# --- 2. and 3. summary and draft ------------------------------------------------------------


def test_summary_groups_the_failing_hosts(walk: Walkthrough) -> None:
    assert walk.summarized.returncode == 0, walk.summarized.stderr
    summary = json.loads(walk.summarized.stdout)
    assert summary["events"] == len(FAULTS)
    groups = {f"{g['host']}:{g['port']}": g for g in summary["groups"]}
    assert set(groups) == set(failing_keys(walk.fleet))
    for key, reason in failing_keys(walk.fleet).items():
        assert reason in groups[key]["reason"]
        assert groups[key]["count"] == 1
    assert "draft policy written to draft.yaml" in walk.summarized.stderr


def test_draft_has_one_narrowest_waiver_per_failing_host(walk: Walkthrough) -> None:
    draft = yaml.safe_load(walk.draft_text)
    assert draft["lock"] is False
    assert draft["defaults"] == {"verify": "strict"}
    assert set(draft["hosts"]) == set(failing_keys(walk.fleet))
    expires = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=90)
    for label, reason in FAULTS.items():
        rule = draft["hosts"][walk.fleet.key(label)]
        # The strict-X.509 failure needs only the strict checks off; the others (issuer,
        # name, date) have nothing narrower than no verification.
        waiver = {"x509_strict": False} if label == "no-aki" else {"verify": "disabled"}
        assert rule == {**waiver, "expires": expires, "reason": rule["reason"]}
        assert rule["reason"].startswith("TODO: ")
        assert reason in rule["reason"]  # the evidence


def test_check_passes_the_draft_and_strict_holds_it_until_reasons_are_filled(
    walk: Walkthrough,
) -> None:
    assert walk.check.returncode == 0, walk.check.stderr
    assert walk.check.stdout == "draft.yaml: ok (4 host rules)\n"
    assert walk.check_strict_todo.returncode == 2
    todo = [line for line in walk.check_strict_todo.stderr.splitlines() if "TODO" in line]
    assert len(todo) == len(FAULTS)
    for key in failing_keys(walk.fleet):
        assert sum(f'hosts."{key}".reason' in line for line in todo) == 1
    assert walk.check_strict_filled.returncode == 0, walk.check_strict_filled.stderr


# --- 4. enforce -----------------------------------------------------------------------------


def assert_enforced(run: Run[str], fleet: Fleet) -> None:
    outcomes = client_outcomes(run.stdout)
    assert outcomes == {
        **dict.fromkeys(fleet.fleet, "200"),
        fleet.new_host: "refused: unable to get local issuer certificate",
    }
    assert run.returncode == 1


def test_enforced_draft_passes_what_passed_and_what_it_waives_and_refuses_a_new_host(
    walk: Walkthrough,
) -> None:
    assert_enforced(walk.enforced, walk.fleet)
    # The waived hosts say so, each naming its rule in the draft.
    for label in ("unknown-issuer", "wrong-name", "expired"):
        rule = re.escape(f'hosts."{walk.fleet.key(label)}"')
        assert re.search(rf"disabled by draft\.yaml:\d+ {rule}", walk.enforced.stderr)


# --- 5. lock --------------------------------------------------------------------------------


def test_without_lock_a_variable_turns_verification_off(walk: Walkthrough) -> None:
    run = walk.unlocked_off
    assert run.returncode == 0, run.stderr
    assert client_outcomes(run.stdout) == {walk.fleet.new_host: "200"}
    assert "disabled by env PYTHONHTTPSVERIFY=0" in run.stderr


@pytest.mark.parametrize("variable", sorted(LOCK_BREAKERS))
def test_lock_holds_against_the_variable(walk: Walkthrough, variable: str) -> None:
    run = walk.locked[variable]
    assert_enforced(run, walk.fleet)
    setting = f"{variable}={LOCK_BREAKERS[variable]}"
    refusals = [
        line
        for line in run.stderr.splitlines()
        if line.startswith("PolicyWarning: ")
        and setting in line
        and "refused: draft.yaml has `lock: true`" in line
    ]
    assert len(refusals) == 1, run.stderr
    # The refusal is also an audit record on the securehttp.audit logger.
    assert "weakening refused by a locked policy" in run.stderr


# --- the demo itself ------------------------------------------------------------------------

HEADINGS = (
    "securehttp rollout demo: from report-only to locked strict",
    "\n0. Before you start",
    "\n1. Report-only",
    "\n2. Summarize the log",
    "\n3. Draft a policy",
    "\n4. Enforce",
    "\n5. Lock",
    "\nEvery step behaved as expected",
)


def test_the_demo_runs_every_step_and_passes_its_own_checks(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "securehttp", "demo", "--rollout"],
        cwd=tmp_path,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (run.returncode, run.stderr) == (0, ""), run.stdout
    positions = [run.stdout.find(heading) for heading in HEADINGS]
    assert -1 not in positions, run.stdout
    assert positions == sorted(positions)
    assert "UNEXPECTED" not in run.stdout
    assert list(tmp_path.iterdir()) == []  # it works in its own temporary directory


def test_the_demo_stops_with_exit_1_when_a_step_misbehaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fleet program that turns verification off itself: the first step (scan) finds it.
    monkeypatch.setattr(
        _demo_rollout,
        "CLIENT_PROGRAM",
        "import ssl\nssl._create_default_https_context = ssl._create_unverified_context\n",
    )
    lines: list[str] = []
    assert run_rollout_demo(lines.append) == 1
    text = "\n".join(lines)
    assert "UNEXPECTED: scan found something in fleet_client.py" in text
    assert "\nStopped: a step did not behave as it should" in text
    assert "\n1. Report-only" not in text
