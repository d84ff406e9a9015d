"""``securehttp demo --rollout``: turning verification on across a fleet, step by step.

SPEC §11 played for real: a fleet of HTTPS servers on loopback with mixed faults, a tiny
client program, and every step run as the command a person would type (``python
fleet_client.py ...``, ``python -m securehttp ...``) in a temporary directory, so what is
printed is what those commands print.  The demo also checks each outcome and exits 1 when
one is not what the step promises, which makes it a self-check of the toolkit as well.

The servers and their throwaway CAs come from :mod:`securehttp._demo`.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ._demo import _PKI, _serving

__all__ = [
    "CLIENT_PROGRAM",
    "FAULTS",
    "Fleet",
    "Ran",
    "child_environment",
    "client_outcomes",
    "run_rollout_demo",
    "serving_fleet",
]

# The faulty servers, and the reason OpenSSL gives for each (what the audit log must name).
FAULTS = {
    "unknown-issuer": "unable to get local issuer certificate",
    "wrong-name": "IP address mismatch",
    "expired": "certificate has expired",
    "no-aki": "Missing Authority Key Identifier",
}
_DESCRIPTIONS = {
    "good": "a certificate from the corporate CA (corp-ca.pem)",
    "unknown-issuer": "from a CA nobody configured",
    "wrong-name": "issued for wrong.example",
    "expired": "expired yesterday",
    "no-aki": "no Authority Key Identifier: fails OpenSSL's strict X.509 checks",
    "new-host": "joins later, with a certificate from the unknown CA",
}

CLIENT_PROGRAM = '''\
"""Fetch each URL with securehttp.urlopen, one line each; exit 1 when any is refused."""

import sys
import warnings

import securehttp


def one_line(message, category, *rest):
    print(f"{category.__name__}: {message}", file=sys.stderr, flush=True)


warnings.showwarning = one_line  # the default format adds a source line
refused = 0
for url in sys.argv[1:]:
    try:
        with securehttp.urlopen(url, timeout=10) as response:
            print(url, response.status, response.read().decode().strip(), flush=True)
    except securehttp.CertificateError as exc:
        refused += 1
        print(url, "refused:", exc.verify_reason, flush=True)
sys.exit(1 if refused else 0)
'''

# What a child must not inherit: anything that shapes verification or routes the request
# (these machines often export SSL_CERT_FILE or a proxy), and warning filters.
_INHERITED_NOT = re.compile(
    r"(PYTHONHTTPSVERIFY|PYTHONWARNINGS|SECUREHTTP_.*|SSL_CERT_.*|.*_CA_BUNDLE|.*_CA_CERTS"
    r"|(?i:.*_proxy))\Z"
)
_OUTCOME = re.compile(r"(https://\S+) (?:(\d{3}) .*|refused: (.*))\Z")


def child_environment() -> dict[str, str]:
    """This process's environment without the variables that would change the story, and
    with this copy of securehttp first on the path (the children run the same code)."""
    env = {k: v for k, v in os.environ.items() if not _INHERITED_NOT.match(k)}
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    return env


def client_outcomes(output: str) -> dict[str, str]:
    """``fleet_client.py``'s lines as URL -> "200" or "refused: <reason>"."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        match = _OUTCOME.match(line)
        if match:
            url, status, reason = match.groups()
            found[url] = status if status else f"refused: {reason}"
    return found


# --- the fleet ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    """The running servers: ``urls`` (label -> URL, the good one first) and ``new_host``, a
    bad server that is not in the fleet when the audit log is collected."""

    ca_file: Path
    urls: Mapping[str, str]
    new_host: str

    @property
    def fleet(self) -> list[str]:
        return list(self.urls.values())

    def key(self, label: str) -> str:
        """The policy key the draft uses for a server (``host:port``)."""
        url = self.new_host if label == "new-host" else self.urls[label]
        return url.removeprefix("https://").rstrip("/")


@contextlib.contextmanager
def serving_fleet(directory: Path) -> Iterator[Fleet]:
    """Start the fleet on 127.0.0.1 (one port each); ``corp-ca.pem`` is written to
    ``directory``, the servers' own files below it; every server stops on exit."""
    corporate, unknown = _PKI(), _PKI()
    ca_file = directory / "corp-ca.pem"
    ca_file.write_bytes(corporate.ca_pem())
    servers = directory / "servers"
    servers.mkdir(mode=0o700)
    certificates = {
        "good": corporate.leaf(["127.0.0.1"]),
        "unknown-issuer": unknown.leaf(["127.0.0.1"]),
        "wrong-name": corporate.leaf(["wrong.example"]),
        "expired": corporate.leaf(["127.0.0.1"], expired=True),
        "no-aki": corporate.leaf(["127.0.0.1"], authority_key_id=False),
        "new-host": unknown.leaf(["127.0.0.1"]),
    }
    with contextlib.ExitStack() as stack:
        urls = {
            label: stack.enter_context(_serving(servers, label, cert, key))
            for label, (cert, key, _pin) in certificates.items()
        }
        new_host = urls.pop("new-host")
        yield Fleet(ca_file, urls, new_host)


# --- running commands -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    shown: str  # the command line as a person types it
    status: int
    output: str  # stdout and stderr as a terminal interleaves them


@dataclass
class _Shell:
    directory: Path
    write: Callable[[str], None]
    exported: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # shell variable -> its value
    problems: list[str] = field(default_factory=list)

    def say(self, text: str = "") -> None:
        self.write(text.replace(str(self.directory) + os.sep, ""))

    def shown(self, text: str) -> None:
        self.say(f"  $ {text}")

    def run(self, variables: Mapping[str, str], *args: str, quiet: bool = False) -> Ran:
        """Run ``python ARGS`` with ``variables`` set and print it as a terminal shows it;
        ``$NAME`` arguments are expanded from :attr:`names` (and shown unexpanded).
        ``quiet`` sends standard output to /dev/null, as the command line then says."""
        argv: list[str] = []
        for arg in args:
            argv.extend(self.names[arg[1:]].split() if arg.startswith("$") else [arg])
        words = [*(f"{k}={v}" for k, v in variables.items()), "python", *args]
        shown = " ".join([*words, "> /dev/null"] if quiet else words)
        done = subprocess.run(
            [sys.executable, *argv],
            cwd=self.directory,
            env={**child_environment(), **self.exported, **variables},
            stdout=subprocess.DEVNULL if quiet else subprocess.PIPE,
            stderr=subprocess.PIPE if quiet else subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stderr if quiet else done.stdout
        self.shown(shown)
        for line in output.rstrip("\n").splitlines():
            self.say(f"  {line}" if line else "")
        if done.returncode:
            self.say(f"  [exit status {done.returncode}]")
        return Ran(shown, done.returncode, output)

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)
            self.say(f"  UNEXPECTED: {what}")

    def show_file(self, name: str) -> None:
        self.say(f"  $ cat {name}")
        for line in (self.directory / name).read_text(encoding="utf-8").splitlines():
            self.say(f"  {line}")


# --- the walk-through -----------------------------------------------------------------------


def run_rollout_demo(write: Callable[[str], None] = print) -> int:
    """Run the walk-through; 0 when every step behaved as it should, 1 otherwise."""
    with (
        tempfile.TemporaryDirectory(prefix="securehttp-rollout-") as tmp,
        serving_fleet(Path(tmp)) as fleet,
    ):
        shell = _Shell(Path(tmp), write)
        for step in (_introduce, _report_only, _draft, _enforce, _lock):
            step(shell, fleet)
            if shell.problems:
                break  # each step builds on the one before
    if shell.problems:
        write("\nStopped: a step did not behave as it should:")
        for problem in shell.problems:
            write(f"  - {problem}")
        write("The servers are stopped and the files removed.")
        return 1
    write("\nEvery step behaved as expected; the servers are stopped and the files removed.")
    return 0


def _introduce(shell: _Shell, fleet: Fleet) -> None:
    title = "securehttp rollout demo: from report-only to locked strict"
    shell.say(f"{title}\n{'=' * len(title)}")
    shell.say("A fleet of HTTPS servers runs on 127.0.0.1, one port each:")
    for label, url in [*fleet.urls.items(), ("new-host", fleet.new_host)]:
        shell.say(f"  {label:<15}{url:<27}{_DESCRIPTIONS[label]}")
    shell.say(
        "Each $ command below really runs, in a temporary directory, with only the variables\n"
        "shown set; [edited] marks the demo editing a file. fleet_client.py stands for the\n"
        "fleet's programs:"
    )
    (shell.directory / "fleet_client.py").write_text(CLIENT_PROGRAM, encoding="utf-8")
    shell.show_file("fleet_client.py")
    shell.names["FLEET"] = " ".join(fleet.fleet)
    shell.names["NEW"] = fleet.new_host
    shell.shown(f'FLEET="{shell.names["FLEET"]}"')
    shell.shown(f"NEW={fleet.new_host}")
    shell.exported["SECUREHTTP_EXTRA_CA_CERTS"] = "corp-ca.pem"
    shell.shown("export SECUREHTTP_EXTRA_CA_CERTS=corp-ca.pem   # the fleet trusts its own CA")

    shell.say("\n0. Before you start: find the code that turns verification off.")
    ran = shell.run({}, "-m", "securehttp", "scan", "fleet_client.py")
    shell.expect(ran.status == 0, "scan found something in fleet_client.py")
    shell.say("  (Each finding comes with the policy waiver that replaces it.)")


def _report_only(shell: _Shell, fleet: Fleet) -> None:
    shell.say(
        "\n1. Report-only: every request goes through, and each one that strict verification\n"
        "   would refuse is a warning and one line in the audit log.  (Until you enforce,\n"
        "   those requests go to servers that may not be who they claim.)"
    )
    ran = shell.run(
        {"SECUREHTTP_VERIFY": "warn", "SECUREHTTP_AUDIT_LOG": "audit.jsonl"},
        "fleet_client.py",
        "$FLEET",
    )
    outcomes = client_outcomes(ran.output)
    shell.expect(
        ran.status == 0 and all(outcomes.get(url) == "200" for url in fleet.fleet),
        "under SECUREHTTP_VERIFY=warn every host should answer",
    )
    logged = _logged(shell.directory / "audit.jsonl")
    expected = {fleet.key(label): reason for label, reason in FAULTS.items()}
    shell.expect(
        set(logged) == set(expected)
        and all(expected[key] in " ".join(logged[key]) for key in expected),
        f"the log should name exactly the failing hosts with their reasons; it has {logged}",
    )
    if logged:
        shell.say("  $ head -n 1 audit.jsonl")
        first = (shell.directory / "audit.jsonl").read_text(encoding="utf-8").splitlines()[0]
        shell.say(f"  {first}")


def _logged(path: Path) -> dict[str, list[str]]:
    """host:port -> the reasons of its report-only events."""
    found: dict[str, list[str]] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            event = {"event": "report_only_failure", "host": "<malformed line>", "port": 0}
        if event.get("event") == "report_only_failure":
            key = f"{event.get('host')}:{event.get('port')}"
            found.setdefault(key, []).append(str(event.get("reason")))
    return found


def _draft(shell: _Shell, fleet: Fleet) -> None:
    shell.say("\n2. Summarize the log: which hosts, why, how often, since when.")
    ran = shell.run({}, "-m", "securehttp", "audit", "summarize", "audit.jsonl")
    shell.expect(
        ran.status == 0
        and all(fleet.key(label) in ran.output for label in FAULTS)
        and fleet.key("good") not in ran.output,
        "the summary should list the four failing hosts and not the good one",
    )

    shell.say(
        "\n3. Draft a policy: the narrowest waiver per failing host, each expiring in 90 days,\n"
        "   each reason a TODO that carries the evidence."
    )
    shell.say("  (The summary it prints again goes to /dev/null here.)")
    ran = shell.run(
        {},
        *("-m", "securehttp", "audit", "summarize", "audit.jsonl", "--draft-policy", "draft.yaml"),
        quiet=True,
    )
    shell.expect(ran.status == 0, "summarize --draft-policy should succeed")
    if ran.status != 0:
        return
    shell.show_file("draft.yaml")
    text = (shell.directory / "draft.yaml").read_text(encoding="utf-8")
    for label in FAULTS:
        waiver = "x509_strict: false" if label == "no-aki" else "verify: disabled"
        shell.expect(
            re.search(rf'"{re.escape(fleet.key(label))}":\n(    #.*\n)*    {waiver}\n', text)
            is not None,
            f"the draft should waive {label} with {waiver}",
        )
    shell.expect(fleet.key("good") not in text, "the draft should leave the good host strict")
    ran = shell.run({}, "-m", "securehttp", "check", "draft.yaml")
    shell.expect(ran.status == 0, "check should pass the draft")
    shell.say("  CI runs the strict check, which holds the draft back until people sign it:")
    ran = shell.run({}, "-m", "securehttp", "check", "--strict", "draft.yaml")
    shell.expect(
        ran.status == 2 and ran.output.count("still marked TODO") == len(FAULTS),
        "check --strict should refuse each of the four TODO reasons",
    )


def _enforce(shell: _Shell, fleet: Fleet) -> None:
    shell.say(
        "\n4. Enforce.  People fill in the reasons (here a text replace of each\n"
        '   "TODO: ticket and owner." by "OPS-1234 (alice).") and write the corporate CA into\n'
        "   the file, because a locked file (step 5) refuses CA files named by the environment."
    )
    path = shell.directory / "draft.yaml"
    text = path.read_text(encoding="utf-8").replace("TODO: ticket and owner.", "OPS-1234 (alice).")
    text = text.replace("defaults:\n", "defaults:\n  extra_ca: [corp-ca.pem]\n", 1)
    path.write_text(text, encoding="utf-8")
    shell.say('  [edited draft.yaml: each "TODO: ticket and owner." -> "OPS-1234 (alice)."]')
    shell.say("  [edited draft.yaml: `extra_ca: [corp-ca.pem]` added under `defaults:`]")
    del shell.exported["SECUREHTTP_EXTRA_CA_CERTS"]
    shell.shown("unset SECUREHTTP_EXTRA_CA_CERTS")
    ran = shell.run({}, "-m", "securehttp", "check", "--strict", "draft.yaml")
    shell.expect(ran.status == 0, "check --strict should pass once the reasons are filled in")
    shell.say(
        "  The fleet under the policy: the good host is verified, the waived hosts pass with a\n"
        "  warning each, and a host that is in no waiver ($NEW) is refused."
    )
    ran = shell.run({"SECUREHTTP_POLICY": "draft.yaml"}, "fleet_client.py", "$FLEET", "$NEW")
    _expect_enforced(shell, fleet, ran, "the draft")


def _expect_enforced(shell: _Shell, fleet: Fleet, ran: Ran, under: str) -> None:
    outcomes = client_outcomes(ran.output)
    shell.expect(
        all(outcomes.get(url) == "200" for url in fleet.fleet),
        f"under {under} the good and the waived hosts should pass; got {outcomes}",
    )
    shell.expect(
        ran.status == 1 and outcomes.get(fleet.new_host, "").startswith("refused:"),
        f"under {under} the new host should be refused (exit 1)",
    )


def _lock(shell: _Shell, fleet: Fleet) -> None:
    shell.say("\n5. Lock.  Unlocked, one variable turns verification off again for every host:")
    ran = shell.run(
        {"PYTHONHTTPSVERIFY": "0", "SECUREHTTP_POLICY": "draft.yaml"}, "fleet_client.py", "$NEW"
    )
    shell.expect(
        ran.status == 0 and client_outcomes(ran.output).get(fleet.new_host) == "200",
        "without lock, PYTHONHTTPSVERIFY=0 should let the new host through",
    )
    path = shell.directory / "draft.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("\nlock: false", "\nlock: true", 1),
        encoding="utf-8",
    )
    shell.say("  With `lock: true` the variables can no longer weaken the file's hosts:")
    shell.say("  [edited draft.yaml: `lock: false` -> `lock: true`]")
    ran = shell.run({}, "-m", "securehttp", "check", "--strict", "draft.yaml")
    shell.expect(ran.status == 0, "check --strict should pass the locked policy")
    for variable, value in (("PYTHONHTTPSVERIFY", "0"), ("SECUREHTTP_VERIFY", "disabled")):
        ran = shell.run(
            {variable: value, "SECUREHTTP_POLICY": "draft.yaml"},
            "fleet_client.py",
            "$FLEET",
            "$NEW",
        )
        _expect_enforced(shell, fleet, ran, f"the lock with {variable}={value}")
        shell.expect(
            any(
                line.startswith("PolicyWarning: ")
                and f"{variable}={value}" in line
                and "refused: draft.yaml has `lock: true`" in line
                for line in ran.output.splitlines()
            ),
            f"the refusal of {variable}={value} should be a warning naming the lock",
        )
    today = datetime.datetime.now(datetime.timezone.utc).date()
    shell.say(
        "\nInstall draft.yaml as /etc/securehttp/policy.yaml (or name it in SECUREHTTP_POLICY).\n"
        "`securehttp check --strict` in CI fails 14 days before a waiver ends, so it is fixed\n"
        f"or renewed in time; on its date ({today + datetime.timedelta(days=90)}) a waiver"
        " lapses and its host is strict again."
    )
