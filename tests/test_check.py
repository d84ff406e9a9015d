"""``securehttp check``: every problem in one run, the files a policy names, ``--strict``."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from securehttp import PolicyError, load_policy
from securehttp._check import check_file
from securehttp._cli import main

from .conftest import ROOT

TODAY = datetime.date(2030, 6, 1)
Write = Callable[..., Path]


def problems(path: Path, **kwargs: object) -> list[str]:
    return [str(p) for p in check_file(str(path), **kwargs).problems]  # type: ignore[arg-type]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- every problem, one run -----------------------------------------------------------------

BROKEN = """\
version: 1
lokc: true
defaults:
  verify: disabled
  min_tls: 1.1
  pins: ["x"]
hosts:
  "*.com":
    verify: warn
  good.example:
    trust: nope.pem
    verify: sometimes
  Good.Example.:
    allow_https_to_http_redirect: yes
  fine.example:
    min_tls: "1.3"
"""


def test_every_problem_is_reported_in_one_run(write_policy: Write) -> None:
    path = write_policy(BROKEN)
    found = problems(path)
    expected = [
        (2, 1, "lokc: unknown key 'lokc' (did you mean 'lock'?)"),
        (4, 3, "defaults.verify: verify: disabled weakens verification"),
        (5, 12, "defaults.min_tls: unquoted number '1.1'"),
        (6, 10, 'defaults.pins[0]: expected "sha256/"'),
        (8, 3, "hosts.\"*.com\": host key '*.com' is too broad"),
        (11, 5, 'hosts."good.example".trust: no such file or directory: nope.pem'),
        (12, 5, 'hosts."good.example".verify: expected one of strict, warn, disabled'),
        (14, 35, "hosts.\"Good.Example.\".allow_https_to_http_redirect: 'yes' is a YAML 1.1"),
        (13, 3, "hosts.\"Good.Example.\": the same hosts as 'good.example'"),
    ]
    assert len(found) == len(expected), found
    for line, column, text in expected:
        assert any(p.startswith(f"{path}:{line}:{column}: {text}") for p in found), (text, found)


def test_the_same_file_fixed_is_ok(write_policy: Write, ca_pem: Path) -> None:
    fixed = f"""\
version: 1
lock: true
defaults:
  verify: disabled
  min_tls: "1.1"
  expires: 2031-01-01
  reason: "OPS-1"
hosts:
  "*.example.com":
    verify: warn
    expires: 2031-01-01
    reason: "OPS-2"
  good.example:
    trust: {ca_pem}
  fine.example:
    min_tls: "1.3"
"""
    result = check_file(str(write_policy(fixed)), strict=True, today=TODAY)
    assert result.problems == []
    assert result.policy is not None
    assert len(result.policy.hosts) == 3


def test_problems_are_in_file_order_through_the_command(
    write_policy: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_policy(BROKEN)
    code, out, err = run(["check", str(path)], capsys)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[-1] == f"{path}: 9 problems"
    positions = [tuple(int(n) for n in line.split(":")[1:3]) for line in lines[:-1]]
    assert positions == sorted(positions)


def test_a_yaml_syntax_error_is_one_problem(write_policy: Write) -> None:
    path = write_policy("version: 1\nhosts:\n  a.example: [unclosed\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:4:1: invalid YAML")


def test_a_file_others_can_write_is_one_problem(write_policy: Write) -> None:
    path = write_policy("version: 1\nlokc: true\n", mode=0o620)
    [problem] = problems(path)
    assert "writable by others" in problem


@pytest.mark.parametrize(
    "text",
    [
        BROKEN,
        "version: 2\n",
        "hosts: [a, b]\n",
        "defaults:\n  verify: warn\n",
        "defaults:\n  min_tls: '1.3'\n  max_tls: '1.2'\n",
        "hosts:\n  a.example:\n    client_cert: {key: k.pem}\n",
        "defaults:\n  verify: no\n  x509_strict: off\n",
        "- just\n- a list\n",
    ],
)
def test_check_reports_what_loading_refuses(write_policy: Write, text: str) -> None:
    path = write_policy(text)
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    assert str(refused.value) in problems(path)


def test_check_passes_exactly_the_shipped_policies_that_load(policies_copy: Path) -> None:
    for path in sorted(policies_copy.glob("*.yaml")):
        load_policy(path)
        assert problems(path) == [], path.name


# --- named files ----------------------------------------------------------------------------


def test_a_ca_file_without_a_certificate_is_a_problem(
    write_policy: Write, tmp_path: Path, ca_pem: Path
) -> None:
    (tmp_path / "empty.pem").write_text("# no certificate here\n")
    trust_line = f"  trust: [certifi, {ca_pem}, empty.pem]"
    path = write_policy(f"defaults:\n{trust_line}\n  extra_ca: empty.pem\n")
    column = trust_line.index("empty.pem") + 1
    assert problems(path) == [
        f"{path}:2:{column}: defaults.trust[2]: empty.pem holds no PEM certificate: "
        "it would trust nothing",
        f"{path}:3:3: defaults.extra_ca: empty.pem holds no PEM certificate: "
        "it would trust nothing",
    ]


def test_ca_files_with_certificates_pass(write_policy: Write, ca_pem: Path) -> None:
    path = write_policy(f"defaults:\n  trust: [certifi, {ca_pem}]\n  extra_ca: {ca_pem}\n")
    assert problems(path) == []


def test_a_trust_directory_needs_hashed_names(write_policy: Write, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "root.pem").write_text("x")
    path = write_policy("defaults:\n  trust: certs\n")
    [problem] = problems(path)
    assert "no hashed certificate names" in problem
    (certs / "1a2b3c4d.0").write_text("x")
    assert problems(path) == []


@pytest.fixture
def client_files(tmp_path: Path, ca: trustme.CA) -> dict[str, Path]:
    leaf, other = ca.issue_cert("client.test"), ca.issue_cert("other.test")
    files = {
        "cert": tmp_path / "client.pem",
        "key": tmp_path / "client.key",
        "other_key": tmp_path / "other.key",
        "both": tmp_path / "both.pem",
        "encrypted": tmp_path / "encrypted.key",
    }
    files["cert"].write_bytes(leaf.cert_chain_pems[0].bytes())
    files["key"].write_bytes(leaf.private_key_pem.bytes())
    files["other_key"].write_bytes(other.private_key_pem.bytes())
    files["both"].write_bytes(leaf.cert_chain_pems[0].bytes() + leaf.private_key_pem.bytes())
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    files["encrypted"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse"),
        )
    )
    return files


def cert_policy(write_policy: Write, cert: Path, key: Path | None, env: str | None = None) -> Path:
    lines = ["hosts:", "  mtls.example:", "    client_cert:", f"      cert: {cert.name}"]
    if key is not None:
        lines.append(f"      key: {key.name}")
    if env is not None:
        lines.append(f"      password_env: {env}")
    return write_policy("\n".join(lines) + "\n")


def test_a_matching_key_passes(write_policy: Write, client_files: dict[str, Path]) -> None:
    assert problems(cert_policy(write_policy, client_files["cert"], client_files["key"])) == []
    assert problems(cert_policy(write_policy, client_files["both"], None)) == []


def test_a_key_of_another_certificate_is_a_problem(
    write_policy: Write, client_files: dict[str, Path]
) -> None:
    path = cert_policy(write_policy, client_files["cert"], client_files["other_key"])
    assert problems(path) == [
        f'{path}:5:7: hosts."mtls.example".client_cert.key: the key in other.key does not '
        "match the certificate in client.pem (its public key differs)"
    ]


def test_certificate_and_key_files_must_hold_what_they_name(
    write_policy: Write, client_files: dict[str, Path]
) -> None:
    path = cert_policy(write_policy, client_files["key"], client_files["key"])
    assert problems(path) == [
        f'{path}:4:7: hosts."mtls.example".client_cert.cert: client.key holds no PEM certificate'
    ]
    path = cert_policy(write_policy, client_files["cert"], client_files["cert"])
    assert problems(path) == [
        f'{path}:5:7: hosts."mtls.example".client_cert.key: client.pem holds no PEM private key'
    ]
    path = cert_policy(write_policy, client_files["cert"], None)  # no key anywhere
    assert "client.pem holds no PEM private key" in problems(path)[0]


def test_an_encrypted_key_needs_its_password_variable(
    write_policy: Write, client_files: dict[str, Path]
) -> None:
    cert, encrypted = client_files["cert"], client_files["encrypted"]
    path = cert_policy(write_policy, cert, encrypted, env="CLIENT_KEY_PASSWORD")
    assert problems(path, environ={}) == [
        f'{path}:5:7: hosts."mtls.example".client_cert.key: the key in encrypted.key is '
        "encrypted and CLIENT_KEY_PASSWORD is not set"
    ]
    assert problems(path, environ={"CLIENT_KEY_PASSWORD": "correct horse"}) == []
    wrong = problems(path, environ={"CLIENT_KEY_PASSWORD": "battery staple"})
    assert wrong == [
        f'{path}:5:7: hosts."mtls.example".client_cert.key: cannot decrypt the key in '
        "encrypted.key with the password in CLIENT_KEY_PASSWORD"
    ]
    no_variable = problems(cert_policy(write_policy, cert, encrypted), environ={})
    assert "name its password variable in client_cert.password_env" in no_variable[0]


def test_a_password_never_reaches_the_output(
    write_policy: Write,
    client_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = cert_policy(
        write_policy, client_files["cert"], client_files["encrypted"], env="CLIENT_KEY_PASSWORD"
    )
    monkeypatch.setenv("CLIENT_KEY_PASSWORD", "battery staple")
    code, out, err = run(["check", str(path)], capsys)
    assert code == 2
    assert "cannot decrypt" in err
    assert "battery" not in out + err


# --- --strict -------------------------------------------------------------------------------


def waiver_file(write_policy: Write, expires: datetime.date, reason: str = "OPS-7 (bob)") -> Path:
    return write_policy(
        "hosts:\n"
        "  legacy.example:\n"
        "    verify: disabled\n"
        f"    expires: {expires.isoformat()}\n"
        f'    reason: "{reason}"\n'
    )


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (-1, "the waiver (verify) lapsed on 2030-05-31"),
        (0, "the waiver (verify) lapses on 2030-06-01, in 0 days"),
        (14, "the waiver (verify) lapses on 2030-06-15, in 14 days"),
    ],
)
def test_strict_refuses_lapsed_and_lapsing_waivers(
    write_policy: Write, days: int, message: str
) -> None:
    path = waiver_file(write_policy, TODAY + datetime.timedelta(days=days))
    assert problems(path, today=TODAY) == []
    [problem] = problems(path, strict=True, today=TODAY)
    assert problem.startswith(f'{path}:4:5: hosts."legacy.example".expires: {message}')


def test_strict_accepts_a_waiver_lapsing_in_more_than_14_days(write_policy: Write) -> None:
    path = waiver_file(write_policy, TODAY + datetime.timedelta(days=15))
    assert problems(path, strict=True, today=TODAY) == []


@pytest.mark.parametrize("reason", ["TODO: ticket", "vendor box; todo ticket", "ask (TODO)"])
def test_strict_refuses_reasons_marked_todo(write_policy: Write, reason: str) -> None:
    path = waiver_file(write_policy, TODAY + datetime.timedelta(days=60), reason)
    assert problems(path, today=TODAY) == []
    [problem] = problems(path, strict=True, today=TODAY)
    assert "the reason is still marked TODO" in problem


def test_strict_ignores_todo_inside_a_word(write_policy: Write) -> None:
    path = waiver_file(write_policy, TODAY + datetime.timedelta(days=60), "mastodon mirror")
    assert problems(path, strict=True, today=TODAY) == []


def test_check_through_python_dash_m(write_policy: Write) -> None:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    lapsing = waiver_file(write_policy, today + datetime.timedelta(days=3), "TODO: who?")
    good = write_policy("defaults:\n  verify: strict\n", name="good.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREHTTP_")}

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "securehttp", "check", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    relaxed = check(str(lapsing), str(good))
    assert relaxed.returncode == 0, relaxed.stderr
    assert relaxed.stdout.splitlines() == [
        f"{lapsing}: ok (1 host rules)",
        f"{good}: ok (0 host rules)",
    ]
    strict = check("--strict", str(lapsing), str(good))
    assert strict.returncode == 2
    assert strict.stdout == f"{good}: ok (0 host rules)\n"
    assert strict.stderr.splitlines() == [
        f'{lapsing}:4:5: hosts."legacy.example".expires: the waiver (verify) lapses on '
        f"{(today + datetime.timedelta(days=3)).isoformat()}, in 3 days (--strict wants more "
        "than 14)",
        f'{lapsing}:5:5: hosts."legacy.example".reason: the reason is still marked TODO: '
        "write the ticket and the owner (--strict)",
        f"{lapsing}: 2 problems",
    ]
