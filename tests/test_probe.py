"""``securehttp probe``: strict verification is judged on its own, and nothing a server chose
reaches the terminal raw.

Hostile certificates are real ones - built with ``cryptography``, signed by a trustme CA whose
own name is hostile too, served over TLS on loopback - and the command runs in-process and as
``python -m securehttp`` under each verification level.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from securehttp._cli import main
from securehttp._sources import env

from .tlsserver import Server, serve

ROOT = Path(__file__).resolve().parent.parent

# A line of probe's report that says verification passed - what a forged line would imitate.
PASSED_LINE = re.compile(r"^\s*(strict )?verification\b.*\bpassed\b")
FORGED = "\n  strict verification: passed (verify=strict, default)\n"


class Payload(NamedTuple):
    name: str
    text: str
    escaped: str  # how it must appear in the report
    in_dn: str = ""  # how, in a subject or issuer, when RFC 4514 escapes it first


PAYLOADS = [
    Payload("newline", f"evil{FORGED}", "evil\\x0a  strict verification: passed"),
    Payload("carriage return", "evil\r  strict verification: passed", "evil\\x0d  strict"),
    Payload("ANSI CSI", "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    Payload("OSC title", "\x1b]0;owned\x07", "\\x1b]0"),
    Payload("NUL", "nul\x00byte", "nul\\x00byte", in_dn="nul\\00byte"),
    Payload("DEL and C1 CSI", "del\x7f c1\x9b31m", "del\\x7f c1\\x9b31m"),
    Payload("bidi override", "invoice\u202egnp.exe", "invoice\\u202egnp.exe"),
    Payload("bidi isolate", "a\u2066b\u2069", "a\\u2066b\\u2069"),
    Payload("zero-width space", "pay\u200bpal", "pay\\u200bpal"),
    Payload("line separator", f"ls\u2028{FORGED.strip()}", "ls\\u2028strict verification"),
]


def hostile_leaf(ca: trustme.CA, text: str) -> tuple[bytes, bytes]:
    """A leaf for 127.0.0.1 signed by ``ca`` with ``text`` in its subject (CN and O) and, where
    the encoding allows (IA5String: ASCII only), in a DNS and a URI subjectAltName."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if text.isascii():
        names += [
            x509.DNSName(f"dns-{text}.example"),
            x509.UniformResourceIdentifier(f"https://uri.example/{text}"),
        ]
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"cn-{text}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"o-{text}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class Hostile(NamedTuple):
    payload: Payload
    server: Server
    ca_pem: Path


@pytest.fixture(scope="module")
def hostile_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Hostile]]:
    """One server per payload; its CA's organisation (so the leaf's issuer) carries it too."""
    directory = tmp_path_factory.mktemp("hostile")
    with ExitStack() as stack:
        servers = []
        for index, payload in enumerate(PAYLOADS):
            ca = trustme.CA(organization_name=f"ca-{payload.text}")
            ca_pem = directory / f"ca{index}.pem"
            ca.cert_pem.write_to_path(str(ca_pem))
            cert_pem, key_pem = hostile_leaf(ca, payload.text)
            cert_file, key_file = directory / f"leaf{index}.pem", directory / f"key{index}.pem"
            cert_file.write_bytes(cert_pem)
            key_file.write_bytes(key_pem)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert_file, key_file)
            servers.append(Hostile(payload, stack.enter_context(serve(ctx)), ca_pem))
        yield servers


def trusting_policy(path: Path, cas: list[Path], extra: str = "") -> Path:
    trust = ", ".join(f'"{ca}"' for ca in cas)
    path.write_text(f"version: 1\ndefaults:\n  trust: [{trust}]\n{extra}", encoding="utf-8")
    path.chmod(0o600)
    return path


def unsafe_characters(text: str) -> list[str]:
    """Characters a terminal could act on: anything not printable except the line breaks
    the report itself writes."""
    return sorted({char for char in text if not char.isprintable() and char != "\n"})


def passed_lines(out: str) -> list[str]:
    # splitlines() breaks at \r, \x1c-\x1e, \x85, \u2028 and \u2029 too: a forged line
    # hidden behind any of them is caught.
    return [line for line in out.splitlines() if PASSED_LINE.match(line)]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- in-process: every payload, failing and passing --------------------------------------


@pytest.mark.parametrize("index", range(len(PAYLOADS)), ids=[p.name for p in PAYLOADS])
def test_hostile_certificate_text_is_escaped_and_forges_nothing(
    hostile_servers: list[Hostile], index: int, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = hostile_servers[index]
    code, out, err = run(["probe", hostile.server.url("/")], capsys)
    assert code == 1  # the CA is not trusted: strict verification fails
    assert unsafe_characters(out + err) == []
    assert passed_lines(out) == []
    assert "strict verification: FAILED" in out
    # The text was shown (escaped), in the subject, the issuer and - ASCII only - the names.
    escaped = hostile.payload.escaped
    in_dn = hostile.payload.in_dn or escaped
    assert f"subject: O=o-{in_dn}" in out
    assert f",CN=cn-{in_dn}" in out
    assert f"O=ca-{in_dn}" in out
    if hostile.payload.text.isascii():
        assert f"DNS:dns-{escaped}" in out
        assert f"URI:https://uri.example/{escaped}" in out


@pytest.mark.parametrize("index", range(len(PAYLOADS)), ids=[p.name for p in PAYLOADS])
def test_hostile_certificate_that_verifies_passes_once_and_escaped(
    hostile_servers: list[Hostile],
    index: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile = hostile_servers[index]
    policy = trusting_policy(tmp_path / "trust.yaml", [hostile.ca_pem])
    code, out, err = run(["probe", hostile.server.url("/"), "--policy", str(policy)], capsys)
    assert code == 0
    assert unsafe_characters(out + err) == []
    assert passed_lines(out) == ["  strict verification: passed (verify=strict, default)"]


# --- python -m securehttp probe under each level -----------------------------------------


def cli(*argv: str, **variables: str) -> subprocess.CompletedProcess[bytes]:
    # The autouse fixture already cleared the variables securehttp reads from os.environ.
    environ = {k: v for k, v in os.environ.items() if k not in env.VARIABLES}
    environ.update(variables)
    # The code under test is this tree's, whichever securehttp the interpreter has installed.
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "securehttp", *argv],
        env=environ,
        capture_output=True,
        timeout=120,
        check=False,
    )


LEVELS = {
    "strict": ({}, "the current policy refuses it too: verify=strict (default)"),
    "warn": (
        {"SECUREHTTP_VERIFY": "warn"},
        "the current policy lets it through: verify=warn (env SECUREHTTP_VERIFY=warn)",
    ),
    "disabled": (
        {"SECUREHTTP_VERIFY": "disabled"},
        "the current policy lets it through: verify=disabled (env SECUREHTTP_VERIFY=disabled)",
    ),
    "PYTHONHTTPSVERIFY=0": (
        {"PYTHONHTTPSVERIFY": "0"},
        "the current policy lets it through: verify=disabled (env PYTHONHTTPSVERIFY=0)",
    ),
}


@pytest.mark.parametrize("level", list(LEVELS))
def test_subprocess_strict_failure_is_never_passed_whatever_the_level(
    hostile_servers: list[Hostile], level: str
) -> None:
    variables, verdict = LEVELS[level]
    result = cli("probe", *(h.server.url("/") for h in hostile_servers), **variables)
    out, err = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    assert result.returncode == 1
    assert unsafe_characters(out + err) == []
    assert passed_lines(out) == []
    assert out.count("  strict verification: FAILED (issuer not trusted)") == len(PAYLOADS)
    assert out.count(f"  {verdict}") == len(PAYLOADS)
    assert "Traceback" not in err


def test_subprocess_waiver_in_a_policy_file_is_named_not_passed(
    hostile_servers: list[Hostile], tmp_path: Path
) -> None:
    policy = tmp_path / "warn.yaml"
    policy.write_text(
        'version: 1\ndefaults:\n  verify: warn\n  expires: 2999-01-01\n  reason: "migration"\n',
        encoding="utf-8",
    )
    policy.chmod(0o600)
    result = cli("probe", hostile_servers[0].server.url("/"), "--policy", str(policy))
    out = result.stdout.decode("utf-8")
    assert result.returncode == 1
    assert passed_lines(out) == []
    assert re.search(rf"the policy {re.escape(str(policy))} lets it through: verify=warn \(", out)


def test_subprocess_trusted_hostile_certificates_pass_escaped(
    hostile_servers: list[Hostile], tmp_path: Path
) -> None:
    policy = trusting_policy(tmp_path / "trust.yaml", [h.ca_pem for h in hostile_servers])
    result = cli("probe", *(h.server.url("/") for h in hostile_servers), "--policy", str(policy))
    out, err = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    assert result.returncode == 0, err
    assert unsafe_characters(out + err) == []
    assert passed_lines(out) == ["  strict verification: passed (verify=strict, default)"] * len(
        PAYLOADS
    )


# --- what probe and explain print of the URL -------------------------------------------


def test_probe_and_explain_never_print_url_userinfo(
    hostile_servers: list[Hostile], capsys: pytest.CaptureFixture[str]
) -> None:
    server = hostile_servers[0].server
    url = server.url("/").replace("https://", "https://alice:s3cret-pw@")
    code, out, err = run(["probe", url], capsys)
    assert code == 1
    assert "s3cret-pw" not in out + err
    assert "alice" not in out + err
    assert f"https://***@127.0.0.1:{server.port}/" in out
    for argv in (["explain", url], ["explain", url, "--json"]):
        code, out, err = run(argv, capsys)
        assert code == 0
        assert "s3cret-pw" not in out + err
        assert "alice" not in out + err
        assert "***@127.0.0.1" in out


def test_probe_of_a_trusted_server_shows_the_url_as_given(
    good_server: Any, ca_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = good_server.url("/")
    policy = trusting_policy(tmp_path / "trust.yaml", [ca_pem])
    code, out, _ = run(["probe", url, "--policy", str(policy)], capsys)
    assert code == 0
    assert out.splitlines()[0] == url


# --- the escaping function itself -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain ascii", "plain ascii"),
        ("bücher.example 例え.jp", "bücher.example 例え.jp"),
        ("a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"),
        ("\x00\x1b\x7f\x80\x9f", "\\x00\\x1b\\x7f\\x80\\x9f"),
        ("\u202e\u2066\u200b\ufeff", "\\u202e\\u2066\\u200b\\ufeff"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("no\u00a0break", "no\\xa0break"),
        ("\U000e0041 tag", "\\U000e0041 tag"),
        ("\udcff", "\\udcff"),
    ],
)
def test_escape(text: str, shown: str) -> None:
    from securehttp._text import escape

    assert escape(text) == shown
    assert unsafe_characters(escape(text)) == []


def test_escape_multiline_keeps_line_breaks_and_tabs_only() -> None:
    from securehttp._text import escape

    assert escape("a\nb\tc\rd\x1b", multiline=True) == "a\nb\tc\\x0dd\\x1b"


# --- every problem at once, each with what would make it pass ----------------------------


def serve_cert(stack: ExitStack, cert: Any) -> Server:
    from .tlsserver import server_context

    return stack.enter_context(serve(server_context(cert)))


def problem_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("  - ")]


def test_untrusted_wrong_host_and_expired_are_all_reported(
    other_ca: trustme.CA, capsys: pytest.CaptureFixture[str]
) -> None:
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    cert = other_ca.issue_cert(
        "other.example", not_before=past - datetime.timedelta(days=30), not_after=past
    )
    with ExitStack() as stack:
        server = serve_cert(stack, cert)
        code, out, _ = run(["probe", server.url("/")], capsys)
    assert code == 1
    assert "strict verification: FAILED (issuer not trusted; name not covered; expired)" in out
    issuer, name, expired = problem_lines(out)
    assert issuer.startswith("  - issuer not trusted: unable to get local issuer certificate: ")
    assert "is not in trust=[certifi] (default)" in issuer
    assert name == "  - name not covered: the certificate covers DNS:other.example, not 127.0.0.1"
    assert expired.startswith("  - expired: certificate [0] (")
    assert "expired on 2020-01-01 00:00 UTC" in expired
    key = f'"127.0.0.1:{server.port}"'
    assert f"        {key}:\n          extra_ca: [issuer-ca.pem]" in out
    assert out.count(f"        {key}:\n          verify: disabled\n          expires: ") == 3
    assert "the current policy refuses it too: verify=strict (default)" in out


def test_not_yet_valid_is_reported_under_a_trusting_policy(
    ca: trustme.CA, ca_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    cert = ca.issue_cert(
        "127.0.0.1", not_before=future, not_after=future + datetime.timedelta(days=30)
    )
    policy = trusting_policy(tmp_path / "trust.yaml", [ca_pem])
    with ExitStack() as stack:
        server = serve_cert(stack, cert)
        code, out, _ = run(["probe", server.url("/"), "--policy", str(policy)], capsys)
    assert code == 1
    (problem,) = problem_lines(out)
    assert problem.startswith("  - not yet valid: certificate [0] (")
    assert f"not valid before {future:%Y-%m-%d}" in problem
    assert f"the policy {policy} refuses it too: verify=strict (default)" in out


def test_a_trusted_valid_certificate_for_the_host_has_no_problems(
    ca: trustme.CA, ca_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = trusting_policy(tmp_path / "trust.yaml", [ca_pem])
    with ExitStack() as stack:
        server = serve_cert(stack, ca.issue_cert("127.0.0.1"))
        code, out, _ = run(["probe", server.url("/"), "--policy", str(policy)], capsys)
    assert code == 0
    assert problem_lines(out) == []
    assert "  strict verification: passed (verify=strict, default)" in out


def test_a_protocol_the_policy_refuses_is_named_with_its_min_tls(
    make_server: Any,
    localhost_cert: Any,
    ca_pem: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = make_server(localhost_cert, max_tls=ssl.TLSVersion.TLSv1_2)
    strict13 = trusting_policy(tmp_path / "13.yaml", [ca_pem], extra='  min_tls: "1.3"\n')
    code, out, _ = run(["probe", server.url("/"), "--policy", str(strict13)], capsys)
    assert code == 1
    (problem,) = problem_lines(out)
    assert problem.startswith("  - old protocol: ")
    assert "the server speaks TLSv1.2, min_tls is 1.3" in problem
    assert '          min_tls: "1.2"\n    upgrade the server' in out  # 1.2 is no waiver
    plain = trusting_policy(tmp_path / "12.yaml", [ca_pem])
    code, out, _ = run(["probe", server.url("/"), "--policy", str(plain)], capsys)
    assert code == 0


def no_authority_key_id_leaf(ca: trustme.CA) -> tuple[bytes, bytes]:
    """A leaf for 127.0.0.1 without the Authority Key Identifier strict X.509 requires."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no-aki")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_a_strict_x509_failure_and_the_waiver_that_lets_it_through(
    ca: trustme.CA, ca_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert_pem, key_pem = no_authority_key_id_leaf(ca)
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    strict = trusting_policy(tmp_path / "strict.yaml", [ca_pem])
    waived = trusting_policy(
        tmp_path / "waived.yaml",
        [ca_pem],
        extra='  x509_strict: false\n  expires: 2999-01-01\n  reason: "vendor CA"\n',
    )
    with serve(ctx) as server:
        code, out, _ = run(["probe", server.url("/"), "--policy", str(strict)], capsys)
        assert code == 1
        (problem,) = problem_lines(out)
        assert problem.startswith("  - strict X.509 check failed: ")
        assert "          x509_strict: false\n          expires: " in out
        assert f"the policy {strict} refuses it too" in out
        code, out, _ = run(["probe", server.url("/"), "--policy", str(waived)], capsys)
    assert code == 1  # strict still fails: the waiver is named, not "passed"
    assert passed_lines(out) == []
    assert f"the policy {waived} lets it through: x509_strict=false ({waived}:4 defaults)" in out


# --- --save-chain --------------------------------------------------------------------------


def test_save_chain_writes_the_presented_certificates_0600(
    good_server: Any, localhost_cert: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh, existing = tmp_path / "fresh.pem", tmp_path / "existing.pem"
    existing.write_text("old")
    existing.chmod(0o644)
    for path in (fresh, existing):
        code, _, err = run(["probe", good_server.url("/"), "--save-chain", str(path)], capsys)
        assert code == 1  # the test CA is not trusted; the chain is saved all the same
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        saved = x509.load_pem_x509_certificates(path.read_bytes())
        leaf = x509.load_pem_x509_certificate(localhost_cert.cert_chain_pems[0].bytes())
        assert saved[0] == leaf
        assert f"saved {len(saved)} certificate(s) to {path}" in err


def test_save_chain_writes_nothing_when_nothing_was_presented(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "chain.pem"
    code, _, err = run(["probe", f"https://127.0.0.1:{port}/", "--save-chain", str(path)], capsys)
    assert code == 1
    assert not path.exists()
    assert "Connection refused" in err
