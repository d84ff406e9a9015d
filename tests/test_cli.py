"""The securehttp command: in-process and through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from securehttp._cli import main
from securehttp._sources import env


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["explain", "https://example.com/"], capsys)
    assert code == 0
    assert "verify=strict  (default)" in out
    assert err == ""


def test_explain_with_policy_file(
    write_policy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_policy('version: 1\nhosts:\n  a.example:\n    min_tls: "1.3"\n')
    code, out, _ = run(["explain", "https://a.example/", "--policy", str(path)], capsys)
    assert code == 0
    assert f'min_tls=1.3  ({path}:4 hosts."a.example")' in out
    assert "rule=a.example" in out


def test_explain_json(
    write_policy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_policy(
        'version: 1\nhosts:\n  a.example:\n    pins: ["sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s="]\n'
    )
    code, out, _ = run(["explain", "https://a.example/", "--policy", str(path), "--json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert data["pins"] == ["sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s="]
    assert data["verify"] == "strict"
    assert data["sources"]["pins"] == f'{path}:4 hosts."a.example"'
    assert data["rule"] == "a.example"


def test_explain_bad_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["explain", "ftp://example.com/"], capsys)
    assert code == 2
    assert out == ""
    assert err == "securehttp: error: unsupported URL scheme 'ftp': use https:// or http://\n"


def test_explain_policy_error_is_one_line(
    write_policy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_policy("defaults:\n  verify: off\n")
    code, _, err = run(["explain", "https://a.example/", "--policy", str(path)], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert f"{path}:2:11: defaults.verify:" in err
    assert "Traceback" not in err


def test_explain_verbose_raises(write_policy: Callable[..., Path]) -> None:
    from securehttp import PolicyError

    path = write_policy("defaults:\n  verify: off\n")
    with pytest.raises(PolicyError):
        main(["explain", "https://a.example/", "--policy", str(path), "--verbose"])


def test_check_good_and_bad(
    write_policy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_policy("version: 1\nlock: true\nhosts:\n  a.example: {}\n", name="good.yaml")
    bad = write_policy("version: 1\nhosts:\n  '*.com': {}\n", name="bad.yaml")
    code, out, err = run(["check", str(good), str(bad)], capsys)
    assert code == 2
    assert out == f"{good}: ok (1 host rules, locked)\n"
    assert err.startswith(f"{bad}:3:3: hosts.\"*.com\": host key '*.com' is too broad")


def test_check_all_good(policies_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in policies_copy.glob("*.yaml"))
    code, out, err = run(["check", *files], capsys)
    assert code == 0
    assert out.count(": ok (") == len(files)
    assert err == ""


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([], capsys)
    assert code == 2
    assert "usage: securehttp" in err


def test_unknown_command_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_demo_runs_and_tells_the_story(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo"], capsys)
    assert code == 0
    assert "verify=disabled" in out
    assert "the waiver (verify) expired on 2020-01-31" in out
    assert "YAML 1.1 boolean" in out
    assert "needs expires and reason" in out


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in env.VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "securehttp", *argv],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_subprocess_explain_and_check(write_policy: Callable[..., Path]) -> None:
    good = write_policy("version: 1\n", name="good.yaml")
    bad = write_policy("version: 1\nversion: 1\n", name="bad.yaml")
    result = cli("explain", "https://example.com/")
    assert result.returncode == 0
    assert "verify=strict  (default)" in result.stdout
    result = cli("check", str(good), str(bad))
    assert result.returncode == 2
    assert f"{bad}:2:1: version: duplicate key (first set at line 1)" in result.stderr
    assert "Traceback" not in result.stderr


def test_subprocess_demo() -> None:
    result = cli("demo")
    assert result.returncode == 0, result.stderr
    assert "securehttp demo" in result.stdout
