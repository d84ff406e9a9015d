"""The securehttp command: in-process and through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def test_explain_verbose_adds_the_traceback_and_keeps_the_exit_status(
    write_policy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_policy("defaults:\n  verify: off\n")
    code, _, err = run(
        ["explain", "https://a.example/", "--policy", str(path), "--verbose"], capsys
    )
    assert code == 2
    assert err.startswith("Traceback (most recent call last):\n")
    assert "securehttp._exceptions.PolicyError: " in err
    assert err.splitlines()[-1].startswith(f"securehttp: error: {path}:2:11: defaults.verify: ")


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
    for words in (
        "CertificateError: certificate verification failed",
        "b'hello from the good server\\n'",
        "IP address mismatch",
        "certificate has expired",
        "InsecureRequestWarning",
        "the waiver (verify) expired on 2020-01-31",
        '"event": "report_only_failure"',
        "PinMismatchError: the server presented sha256/",
        "context=ctx",
        "URLError: [SSL: CERTIFICATE_VERIFY_FAILED]",  # unmodified urllib under install()
        "every server is stopped",
    ):
        assert words in out, words


def test_demo_leaves_no_thread_running(capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    before = set(threading.enumerate())
    assert main(["demo"]) == 0
    capsys.readouterr()
    for thread in set(threading.enumerate()) - before:
        thread.join(5)
        assert not thread.is_alive(), thread


# --- get ------------------------------------------------------------------------------------


@pytest.fixture
def trust_file(write_policy: Callable[..., Path], ca_pem: Path) -> Path:
    return write_policy(f"version: 1\ndefaults:\n  trust: {ca_pem}\n", name="trust.yaml")


def test_get_prints_the_body(
    good_server: Any, trust_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code = main(["get", good_server.url("/"), "--policy", str(trust_file)])
    out, err = capsysbinary.readouterr()
    assert (code, out, err) == (0, b"hello\n", b"")


def test_get_refuses_an_untrusted_server_in_one_line(
    good_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["get", good_server.url("/")], capsys)
    assert code == 1
    assert out == ""
    error, hint = err.splitlines()
    assert error.startswith("securehttp: certificate verification failed for 127.0.0.1")
    assert "Hint:" in error
    assert hint.startswith("securehttp: hint: `securehttp probe https://127.0.0.1:")


def test_get_with_headers_method_data_and_verbose(
    good_server: Any, trust_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        [
            "get",
            good_server.url("/echo"),
            "--policy",
            str(trust_file),
            "-H",
            "X-One: 1",
            "-X",
            "PUT",
            "--data",
            "payload",
            "--verbose",
        ],
        capsys,
    )
    echo = json.loads(out)
    assert code == 0
    assert (echo["method"], echo["body"], echo["headers"]["X-One"]) == ("PUT", "payload", "1")
    assert err.startswith("* decision: rule=(defaults)\n")
    assert f"> PUT {good_server.url('/echo')}\n" in err
    assert "< HTTP/1.1 200 OK\n" in err


def test_get_data_from_a_file_posts(
    good_server: Any, trust_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(b"from a file")
    code, out, _ = run(
        ["get", good_server.url("/echo"), "--policy", str(trust_file), "--data", f"@{body}"], capsys
    )
    assert code == 0
    assert json.loads(out)["method"] == "POST"
    assert json.loads(out)["body"] == "from a file"


def test_get_to_a_file(
    good_server: Any, trust_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.bin"
    code, out, _ = run(
        [
            "get",
            good_server.url("/big?size=200000"),
            "--policy",
            str(trust_file),
            "-o",
            str(target),
        ],
        capsys,
    )
    assert code == 0
    assert out == ""
    assert target.read_bytes() == b"x" * 200000


def test_get_http_error_exits_1(
    good_server: Any, trust_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["get", good_server.url("/status/404"), "--policy", str(trust_file)], capsys
    )
    assert code == 1
    assert out == "status 404\n"
    assert "HTTP 404 Not Found" in err


def test_get_bad_header_is_a_usage_error(
    good_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["get", good_server.url("/"), "-H", "no colon"], capsys)
    assert code == 2
    assert "expected 'Name: value'" in err


def test_progress_bar() -> None:
    from securehttp._cli.get import _progress

    assert _progress(50, 100, width=10) == "[#####.....]  50% 0 KiB"
    assert _progress(2048, 0) == "2 KiB"


# --- probe ----------------------------------------------------------------------------------


def test_probe_reports_chain_pins_and_a_snippet(
    good_server: Any, localhost_cert: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from .tlsserver import spki_pin

    code, out, _ = run(["probe", good_server.url("/")], capsys)
    assert code == 1
    assert "TLS: TLSv1.3" in out
    assert "names:   DNS:localhost, IP:127.0.0.1, IP:::1" in out
    assert f"pin: {spki_pin(localhost_cert.cert_chain_pems[0].bytes())}" in out
    assert "- issuer not trusted: unable to get local issuer certificate" in out
    assert "extra_ca: [issuer-ca.pem]" in out
    assert "verify: disabled" in out
    assert "expires: " in out


def test_probe_passes_with_a_trusting_policy(
    good_server: Any, trust_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["probe", good_server.url("/"), "--policy", str(trust_file)], capsys)
    assert code == 0
    assert "passed (verify=strict, default)" in out


def test_probe_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = run(["probe", f"https://127.0.0.1:{port}/"], capsys)
    assert code == 1
    assert "Connection refused" in err


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
    assert "every server is stopped" in result.stdout


def test_subprocess_get_and_probe(good_server: Any, trust_file: Path) -> None:
    result = cli("get", good_server.url("/"), "--policy", str(trust_file))
    assert (result.returncode, result.stdout) == (0, "hello\n")
    result = cli("get", good_server.url("/"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "certificate verification failed" in result.stderr
    result = cli("probe", good_server.url("/"), "--policy", str(trust_file))
    assert result.returncode == 0
    assert "passed" in result.stdout
