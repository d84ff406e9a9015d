"""``securehttp scan``: the corpus of code that turns verification off, and its twins.

Every file in ``scan_corpus/positive`` has a twin of the same name in ``scan_corpus/negative``
that does the same thing with verification left on; the negative directory also holds files
that only look dangerous (comments, strings, unrelated ``verify=`` arguments). The corpus is
only ever parsed, never imported.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securehttp import Policy, Verify
from securehttp._cli import main
from securehttp._scan import RULES, WAIVER_DAYS, Finding, Unscannable, scan, scan_source

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "scan_corpus"
POSITIVE = CORPUS / "positive"
NEGATIVE = CORPUS / "negative"
DOCS = ROOT / "docs" / "scan-rules.md"

# file in scan_corpus/positive -> the (rule, line) of every finding it must produce.
EXPECTED: dict[str, list[tuple[str, int]]] = {
    # the 27 cases of the research table (migration.md §C), in its order
    "requests_get_verify_false.py": [("SH101", 7)],
    "from_requests_import_get.py": [("SH101", 3)],
    "unverified_context_urlopen.py": [("SH104", 5)],
    "unverified_context_serverproxy.py": [("SH104", 5)],
    "unverified_context_httpsconnection.py": [("SH104", 4)],
    "requests_request.py": [("SH101", 5)],
    "httpx_get.py": [("SH101", 3)],
    "httpx_client.py": [("SH101", 3), ("SH101", 7)],
    "verify_constant.py": [("SH101", 8)],
    "urllib3_cert_reqs_constant.py": [("SH103", 5)],
    "default_context_patch.py": [("SH104", 4)],
    "session_get.py": [("SH101", 3)],
    "session_attribute.py": [("SH102", 4)],
    "verify_zero.py": [("SH101", 3)],
    "verify_kwargs_dict.py": [("SH101", 3)],
    "httpx_transport.py": [("SH101", 3), ("SH101", 5)],
    "urllib3_cert_reqs_string.py": [("SH103", 3)],
    "urllib3_disable_warnings.py": [("SH108", 3), ("SH108", 4)],
    "check_hostname_false.py": [("SH105", 4)],
    "verify_mode_none.py": [("SH105", 4), ("SH105", 5)],
    "env_pythonhttpsverify.py": [("SH106", 3)],
    "env_curl_ca_bundle.py": [("SH106", 3)],
    "https_verify_certificates.py": [("SH107", 4)],
    "aiohttp_ssl_false.py": [("SH101", 6)],
    "adapter_cert_verify.py": [("SH109", 6)],
    "https_handler_check_hostname.py": [("SH105", 3)],
    "sslcontext_protocol_tls.py": [("SH104", 4)],
    # beyond the table
    "sslcontext_sslv23.py": [("SH104", 4), ("SH104", 7)],
    "env_requests_ca_bundle_setdefault.py": [("SH106", 3)],
    "env_putenv.py": [("SH106", 3)],
    "env_update_and_child.py": [("SH106", 4), ("SH106", 5), ("SH106", 6)],
    "aiohttp_verify_ssl.py": [("SH101", 5)],
    "aiohttp_tcpconnector.py": [("SH101", 3)],
    "warnings_filter_insecure.py": [("SH108", 5), ("SH108", 6), ("SH108", 7)],
    "https_connection_check_hostname.py": [("SH105", 3)],
    "securehttp_runtime_switch.py": [("SH107", 3)],
    "adapter_send_override.py": [("SH109", 6)],
    "adapter_init_poolmanager.py": [("SH109", 6)],
    "verify_parameter_default.py": [("SH101", 5)],
    "partial_and_partialmethod.py": [("SH101", 5), ("SH101", 6)],
    "session_with_statement.py": [("SH102", 4)],
    "unverified_context_imported_name.py": [("SH104", 4)],
    "unverified_stdlib_context.py": [("SH104", 4)],
    "urllib3_assert_hostname.py": [("SH103", 3)],
    "verify_conditional.py": [("SH101", 6)],
    "vendored_urllib3_warnings.py": [("SH108", 4), ("SH108", 5)],
    "merge_environment_settings_patch.py": [("SH101", 8)],
    "session_annotated_parameter.py": [("SH102", 5)],
    "session_subclass_self.py": [("SH102", 7)],
    "setattr_check_hostname.py": [("SH105", 4)],
    "suppressions.py": [("SH101", line) for line in range(3, 10)],
}
RESEARCH_CASES = list(EXPECTED)[:27]
# (file, line) of the findings a comment suppresses: reported, marked, not counted.
SUPPRESSED = {("suppressions.py", line) for line in (3, 4, 5, 6, 8)}
# The host each finding's waiver names (None: the call writes no URL).
HOSTS: dict[str, list[str | None]] = {
    "requests_get_verify_false.py": ["vendor.example"],
    "requests_request.py": ["api.example.com"],  # "https://api.example.com/" + path
    "httpx_client.py": ["api.example.com", None],  # base_url=; AsyncClient() has no URL
    "verify_kwargs_dict.py": ["files.example.com"],
    "verify_constant.py": [None],  # requests.get(url, ...): a parameter
    "unverified_context_urlopen.py": ["legacy.example.org"],  # from the enclosing urlopen()
    "unverified_context_serverproxy.py": ["rpc.example.net"],
    "sslcontext_sslv23.py": [None, "other.example.org"],
}


def findings_in(path: Path) -> list[Finding]:
    report = scan([str(path)])
    assert report.skipped == ()
    return list(report.findings)


@dataclass(frozen=True)
class Scores:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def corpus_scores() -> Scores:
    """Score the scanner on the whole corpus: a finding counts by (file, rule, line)."""
    tp = fp = fn = 0
    for directory in (POSITIVE, NEGATIVE):
        for path in sorted(directory.glob("*.py")):
            expected = set(EXPECTED[path.name]) if directory is POSITIVE else set()
            found = {(f.rule, f.line) for f in findings_in(path)}
            tp += len(found & expected)
            fp += len(found - expected)
            fn += len(expected - found)
    return Scores(tp, fp, fn)


# ---------------------------------------------------------------- the corpus


def test_corpus_is_complete() -> None:
    positives = {p.name for p in POSITIVE.glob("*.py")}
    negatives = {p.name for p in NEGATIVE.glob("*.py")}
    assert positives == set(EXPECTED)
    assert positives <= negatives, f"positives without a negative twin: {positives - negatives}"
    assert len(RESEARCH_CASES) == 27
    assert RESEARCH_CASES[-1] == "sslcontext_protocol_tls.py"
    assert {rule for hits in EXPECTED.values() for rule, _ in hits} == set(RULES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_positive_case(name: str) -> None:
    findings = findings_in(POSITIVE / name)
    assert [(f.rule, f.line) for f in findings] == EXPECTED[name]
    for finding in findings:
        assert finding.suppressed == ((name, finding.line) in SUPPRESSED)
        assert finding.column >= 1
        assert finding.message
    if name in HOSTS:
        assert [f.host for f in findings] == HOSTS[name]


@pytest.mark.parametrize("name", sorted(p.name for p in NEGATIVE.glob("*.py")))
def test_negative_twin_has_no_findings(name: str) -> None:
    assert findings_in(NEGATIVE / name) == []


def test_corpus_precision_and_recall(capsys: pytest.CaptureFixture[str]) -> None:
    scores = corpus_scores()
    files = len(list(POSITIVE.glob("*.py"))) + len(list(NEGATIVE.glob("*.py")))
    line = (
        f"scan corpus: {files} files, {scores.true_positives} true positives, "
        f"{scores.false_positives} false positives, {scores.false_negatives} false negatives; "
        f"precision {scores.precision:.3f}, recall {scores.recall:.3f}"
    )
    with capsys.disabled():
        print(f"\n{line}")
    assert scores.true_positives == sum(len(hits) for hits in EXPECTED.values())
    assert (scores.precision, scores.recall) == (1.0, 1.0)


def test_scores_count_misses_and_extras() -> None:
    # The helper itself must be able to report less than perfect figures.
    scores = Scores(true_positives=3, false_positives=1, false_negatives=2)
    assert scores.precision == 0.75
    assert scores.recall == 0.6


def test_the_corpus_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    program = tmp_path / "program.py"
    program.write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "import requests\n"
        "requests.get('https://x.example/', verify=False)\n"
    )
    assert [f.rule for f in findings_in(program)] == ["SH101"]
    assert not marker.exists()


# ---------------------------------------------------------------- waivers


@pytest.mark.parametrize(
    ("url", "key", "other_url"),
    [
        ("https://vendor.example/api", "vendor.example", "https://other.example/"),
        ("https://a.example:8443/x", "a.example:8443", "https://a.example/"),
        ("https://[2001:db8::1]:8443/", "[2001:db8::1]:8443", "https://[2001:db8::1]/"),
        ("https://Caf\u00e9.Example/", "xn--caf-dma.example", "https://cafe.example/"),
    ],
)
def test_waiver_names_the_host_and_loads_as_a_policy(
    tmp_path: Path, url: str, key: str, other_url: str
) -> None:
    program = tmp_path / "p.py"
    program.write_text(f"import requests\nrequests.get({url!r}, verify=False)\n")
    # The waiver must be in force today for the policy to apply it.
    today = datetime.datetime.now(datetime.timezone.utc).date()
    (finding,) = scan([str(program)], today=today).findings
    assert finding.host == key
    policy = Policy.from_yaml(f"version: 1\n{finding.waiver}\n")
    decision = policy.resolve(url)
    assert decision.verify is Verify.DISABLED
    assert decision.expires == today + datetime.timedelta(days=WAIVER_DAYS)
    assert decision.reason is not None
    assert decision.reason.startswith("TODO")
    # the waiver is for that host (and port) only
    assert policy.resolve(other_url).verify is Verify.STRICT


def test_waiver_without_a_url_is_a_placeholder(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_text("import requests\ndef f(url):\n    requests.get(url, verify=False)\n")
    (finding,) = findings_in(program)
    assert finding.host is None
    assert finding.waiver.startswith("# HOST: ")
    assert Policy.from_yaml(f"version: 1\n{finding.waiver}\n").resolve("https://host/").verify is (
        Verify.DISABLED
    )


@pytest.mark.parametrize(
    "url",
    [
        "f'https://{tenant}.example.com/'",  # the host itself is computed
        "'https://api.example.com' + path",  # the host may go on after the constant
        "'https://bad\\x00host.example/'",  # refused by the URL parser
    ],
)
def test_no_host_is_guessed(tmp_path: Path, url: str) -> None:
    program = tmp_path / "p.py"
    program.write_text(f"import requests\nrequests.get({url}, verify=False)\n")
    (finding,) = findings_in(program)
    assert finding.host is None


# ---------------------------------------------------------------- reading files


def test_pep263_cookie_and_columns_in_characters(tmp_path: Path) -> None:
    program = tmp_path / "latin1.py"
    program.write_bytes(
        b"# -*- coding: latin-1 -*-\n"
        b"import requests\n"
        b"r\xe9sum\xe9 = requests.get('https://caf\xe9.example/', verify=False)\n"
    )
    (finding,) = findings_in(program)
    line = "résumé = requests.get('https://café.example/', verify=False)"
    assert (finding.line, finding.column) == (3, line.index("verify") + 1)
    assert finding.host == "xn--caf-dma.example"


def test_utf8_bom(tmp_path: Path) -> None:
    program = tmp_path / "bom.py"
    program.write_bytes(b"\xef\xbb\xbfimport ssl\nctx = ssl._create_unverified_context()\n")
    assert [(f.rule, f.line, f.column) for f in findings_in(program)] == [("SH104", 2, 7)]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"def f(:\n    pass\n", "does not parse: line 1"),
        (b"x = 1\x00\n", "does not parse"),
        (b"# -*- coding: no-such-codec -*-\nx = 1\n", "cannot be decoded"),
        (b"x = '\xff\xfe'\n", "cannot be decoded"),
        (b"x = " + b"(" * 300 + b"1" + b")" * 300 + b"\n", "does not parse"),
    ],
)
def test_unparsable_file_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, why: str
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_bytes(content)
    with pytest.raises(Unscannable, match=re.escape(why)):
        scan_source(content, str(broken))
    code = main(["scan", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert err.count("\n") == 1
    assert err.startswith(f"securehttp: warning: {broken}: {why}")
    assert "1 could not be scanned" in out


def test_long_chains_are_followed_or_a_warning_never_a_crash(tmp_path: Path) -> None:
    program = tmp_path / "deep.py"
    # 2,000 terms parse, and the URL's host is still found (without recursion)...
    chain = " + ".join(["'https://a.example/'"] * 2000)
    program.write_text(f"import requests\nrequests.get({chain}, verify=False)\n")
    assert [f.host for f in findings_in(program)] == ["a.example"]
    # ...10,000 are beyond what some Pythons' parsers build (3.11+; 3.10 builds it): the
    # finding, or a warning - never a RecursionError.
    chain = " + ".join(["'https://a.example/'"] * 10000)
    program.write_text(f"import requests\nrequests.get({chain}, verify=False)\n")
    report = scan([str(program)])
    if report.findings:
        assert [f.rule for f in report.findings] == ["SH101"]
        assert report.skipped == ()
    else:
        ((path, why),) = report.skipped
        assert path == str(program)
        assert why.startswith(("is nested too deeply", "does not parse"))


@given(st.binary(max_size=400))
def test_any_bytes_give_findings_or_unscannable(data: bytes) -> None:
    try:
        findings = scan_source(data)
    except Unscannable:
        return
    assert all(f.rule in RULES for f in findings)


def test_a_fifo_is_skipped_not_waited_for(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    report = scan([str(tmp_path)])
    assert report.skipped == ((str(tmp_path / "pipe.py"), "is not a regular file"),)


def test_directory_walk(tmp_path: Path) -> None:
    line = "import requests\nrequests.get('https://x.example/', verify=False)\n"
    for relative in [
        "app.py",
        "pkg/sub/module.py",
        ".git/hooks/hook.py",
        ".venv/lib/site.py",
        "venv/lib/site.py",
        "node_modules/x/build.py",
        "pkg/__pycache__/module.py",
        "notes.txt",
        "script",
    ]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(line)
    report = scan([str(tmp_path)])
    assert [f.path for f in report.findings] == [
        str(tmp_path / "app.py"),
        str(tmp_path / "pkg" / "sub" / "module.py"),
    ]
    assert report.files == 2
    # a file named on the command line is scanned whatever its name
    assert [f.rule for f in scan([str(tmp_path / "script")]).findings] == ["SH101"]


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="no such file"):
        scan([str(tmp_path / "absent.py")])
    code = main(["scan", str(POSITIVE / "verify_zero.py"), str(tmp_path / "absent.py")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == f"securehttp: error: {tmp_path / 'absent.py'}: no such file or directory\n"


def test_control_characters_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = tmp_path / "evil\x1b[2J.py"
    evil.write_text("import requests\nrequests.get(u, verify=False)  # nosec \x1b]0;title\x07\n")
    code = main(["scan", str(evil)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "evil\\x1b[2J.py:2:" in out
    assert "[suppressed: # nosec \\x1b]0;title\\x07]" in out


# ---------------------------------------------------------------- output formats


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    path = POSITIVE / "requests_get_verify_false.py"
    code, out, err = run(["scan", str(path)], capsys)
    assert code == 1
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == (
        f"{path}:7:69: SH101 verify=False in requests.get() turns certificate verification off"
    )
    assert lines[1:4] == [
        "    instead, a waiver in the policy:",
        "      hosts:",
        '        "vendor.example":',
    ]
    assert lines[4] == "          verify: disabled"
    assert re.fullmatch(r"          expires: \d{4}-\d\d-\d\d", lines[5])
    assert lines[-1] == "1 file scanned: 1 finding"


def test_text_output_marks_suppressed_findings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["scan", str(POSITIVE / "suppressions.py")], capsys)
    assert code == 1  # e.example (noqa: E501) and g.example (#nosec in a string) still count
    marked = [line for line in out.splitlines() if "[suppressed: " in line]
    assert [int(line.split(":")[1]) for line in marked] == [3, 4, 5, 6, 8]
    assert marked[1].endswith("[suppressed: # nosec B501]")
    assert out.splitlines()[-1] == "1 file scanned: 2 findings (5 more suppressed)"


def test_only_suppressed_findings_exit_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "p.py"
    program.write_text("import ssl\nctx = ssl._create_unverified_context()  # noqa: S323\n")
    code, out, _ = run(["scan", str(program)], capsys)
    assert code == 0
    assert "[suppressed: # noqa: S323]" in out
    program.write_text("import ssl\nctx = ssl._create_unverified_context()  # noqa: E501\n")
    code, out, _ = run(["scan", str(program)], capsys)
    assert code == 1


def test_clean_tree_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["scan", str(NEGATIVE)], capsys)
    files = len(list(NEGATIVE.glob("*.py")))
    assert (code, out) == (0, f"{files} files scanned: nothing turns verification off\n")


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["scan", str(POSITIVE / "suppressions.py"), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1
    assert data["version"] == 1
    assert data["summary"] == {"files": 1, "findings": 2, "suppressed": 5, "not_scanned": 0}
    assert len(data["findings"]) == 7
    first = data["findings"][0]
    assert set(first) == {
        *("path", "line", "column", "rule", "name", "level", "message"),
        *("suppressed", "suppressed_by", "host", "waiver"),
    }
    assert (first["rule"], first["line"], first["column"], first["host"]) == (
        "SH101",
        3,
        36,
        "a.example",
    )
    assert first["suppressed"] is True
    assert first["suppressed_by"] == "# nosec"
    assert data["findings"][4]["suppressed"] is False
    assert '"a.example":' in first["waiver"]
    assert first["name"] == RULES["SH101"].name


def sarif_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code, out, _ = run(["scan", *argv, "--format", "sarif"], capsys)
    return code, json.loads(out)


def check_sarif(log: Any) -> list[Any]:
    """The fields SARIF 2.1.0 requires (and code-scanning services read); returns results."""
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    runs = log["runs"]
    assert isinstance(runs, list)
    assert len(runs) == 1
    (run_,) = runs
    driver = run_["tool"]["driver"]
    assert driver["name"]
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning"}
    assert run_["columnKind"] == "unicodeCodePoints"
    results: list[Any] = run_["results"]
    for result in results:
        rule_id = result["ruleId"]
        assert rules[result["ruleIndex"]]["id"] == rule_id
        assert result["level"] in {"error", "warning", "note", "none"}
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert physical["region"]["startLine"] >= 1
        assert physical["region"]["startColumn"] >= 1
        if "suppressions" in result:
            assert result["suppressions"] == [
                {"kind": "inSource", "justification": result["suppressions"][0]["justification"]}
            ]
    return results


def test_sarif_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(CORPUS)
    code, log = sarif_of(["positive"], capsys)
    assert code == 1
    results = check_sarif(log)
    assert len(results) == sum(len(hits) for hits in EXPECTED.values())
    by_place = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        ): r
        for r in results
    }
    session = by_place[("positive/session_attribute.py", 4)]
    assert session["ruleId"] == "SH102"
    assert session["level"] == "error"
    assert "suppressions" not in session
    assert by_place[("positive/urllib3_disable_warnings.py", 3)]["level"] == "warning"
    suppressed = {place for place, r in by_place.items() if "suppressions" in r}
    assert suppressed == {("positive/suppressions.py", line) for line in (3, 4, 5, 6, 8)}
    # the uri names a file that exists, relative to where the scan ran
    assert all(Path(uri).is_file() for uri, _ in by_place)


def test_sarif_absolute_paths_and_skipped_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a b.py").write_text("import os\nos.environ['PYTHONHTTPSVERIFY'] = '0'\n")
    (tmp_path / "broken.py").write_text("def (:\n")
    code, log = sarif_of([str(tmp_path)], capsys)
    assert code == 1
    (result,) = check_sarif(log)
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (tmp_path / "a b.py").as_uri()
    assert "%20" in uri
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["warning"]
    assert notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "/broken.py"
    )


def test_sarif_with_nothing_found(capsys: pytest.CaptureFixture[str]) -> None:
    code, log = sarif_of([str(NEGATIVE)], capsys)
    assert code == 0
    assert check_sarif(log) == []


# ---------------------------------------------------------------- the command, for real


def scan_subprocess(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "securehttp", "scan", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_exit_statuses_in_a_subprocess(tmp_path: Path) -> None:
    found = scan_subprocess(str(POSITIVE / "env_putenv.py"))
    assert found.returncode == 1
    assert found.stdout.startswith(f"{POSITIVE / 'env_putenv.py'}:3:1: SH106 PYTHONHTTPSVERIFY=0")
    clean = scan_subprocess(str(NEGATIVE / "env_putenv.py"))
    assert (clean.returncode, clean.stderr) == (0, "")
    missing = scan_subprocess(str(tmp_path / "absent"))
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert missing.stderr.count("\n") == 1
    usage = scan_subprocess("--format", "xml", str(POSITIVE))
    assert usage.returncode == 2


# ---------------------------------------------------------------- documentation


def test_every_rule_is_documented_with_an_example() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for rule_id, rule in RULES.items():
        section = text.split(f"## {rule_id} ", 1)
        assert len(section) == 2, f"{rule_id} has no section in {DOCS.name}"
        body = section[1].split("\n## ", 1)[0]
        assert f"`{rule.name}`" in body
        assert "```python" in body
        assert "```yaml" in body
        assert "expires:" in body
        assert "reason:" in body


def rule_examples() -> Iterable[tuple[str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    for section in text.split("\n## ")[1:]:
        rule_id = section.split(" ", 1)[0]
        if rule_id in RULES:
            for block in re.findall(r"```python\n(.*?)```", section, re.DOTALL):
                yield rule_id, block


@pytest.mark.parametrize(("rule_id", "example"), list(rule_examples()))
def test_documented_examples_are_found(rule_id: str, example: str) -> None:
    findings = scan_source(example.encode())
    assert rule_id in {f.rule for f in findings}
