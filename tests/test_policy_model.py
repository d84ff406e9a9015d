"""The policy model: schema validation, weakenings, files, and frozen, hashable values."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest

from securehttp import ClientCert, Policy, PolicyError, Verify, load_policy
from securehttp._policy import SETTINGS

FUTURE = (datetime.date.today() + datetime.timedelta(days=365)).isoformat()
PIN_A = "sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s="
PIN_B = "sha256/598XYnzUeIqXIoS1NhuP8OUlPlZQciPOvwy3H5lVHG8="

# (case, document, line, key path, words)
REFUSED = [
    (
        "unknown-top",
        "verison: 1\n",
        1,
        "verison",
        "unknown key 'verison' (did you mean 'version'?)",
    ),
    (
        "unknown-setting",
        "defaults:\n  verfiy: strict\n",
        2,
        "defaults.verfiy",
        "did you mean 'verify'?",
    ),
    ("unknown-no-hint", "defaults:\n  colour: red\n", 2, "defaults.colour", "unknown key 'colour'"),
    ("version-2", "version: 2\n", 1, "version", "unsupported policy version 2"),
    ("version-string", 'version: "1"\n', 1, "version", "unsupported policy version '1'"),
    (
        "verify-string-false",
        'defaults:\n  verify: "false"\n',
        2,
        "defaults.verify",
        "expected one of strict, warn, disabled",
    ),
    ("verify-bool", "defaults:\n  verify: false\n", 2, "defaults.verify", "got false (a boolean)"),
    ("verify-zero", "defaults:\n  verify: 0\n", 2, "defaults.verify", "got 0 (a number)"),
    ("verify-case", "defaults:\n  verify: Strict\n", 2, "defaults.verify", "got 'Strict'"),
    (
        "min-tls-bad",
        'defaults:\n  min_tls: "1.4"\n',
        2,
        "defaults.min_tls",
        '"1.0", "1.1", "1.2", "1.3"',
    ),
    (
        "max-below-min",
        'defaults:\n  min_tls: "1.3"\n  max_tls: "1.2"\n',
        3,
        "defaults.max_tls",
        "below min_tls",
    ),
    (
        "x509-string",
        'defaults:\n  x509_strict: "no"\n',
        2,
        "defaults.x509_strict",
        "expected true or false",
    ),
    ("lock-string", 'lock: "true"\n', 1, "lock", "expected true or false"),
    (
        "redirect-int",
        "defaults:\n  allow_https_to_http_redirect: 1\n",
        2,
        "defaults.allow_https_to_http_redirect",
        "true or false",
    ),
    ("trust-empty-list", "defaults:\n  trust: []\n", 2, "defaults.trust", "would trust nothing"),
    ("trust-empty-string", 'defaults:\n  trust: ""\n', 2, "defaults.trust", "non-empty string"),
    (
        "trust-missing",
        "defaults:\n  trust: [certifi, missing.pem]\n",
        2,
        "defaults.trust[1]",
        "no such file or directory: missing.pem",
    ),
    (
        "extra-ca-missing",
        "defaults:\n  extra_ca: [nope.pem]\n",
        2,
        "defaults.extra_ca[0]",
        "no such file: nope.pem",
    ),
    ("pins-not-list", 'defaults:\n  pins: "sha256/x"\n', 2, "defaults.pins", "expected a list"),
    (
        "pin-sha1",
        'defaults:\n  pins: ["sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA="]\n',
        2,
        "defaults.pins[0]",
        "only SHA-256 pins",
    ),
    ("pin-short", 'defaults:\n  pins: ["sha256/AAAA"]\n', 2, "defaults.pins[0]", "44 characters"),
    (
        "pin-hex",
        'defaults:\n  pins: ["sha256/' + "ab" * 32 + '"]\n',
        2,
        "defaults.pins[0]",
        "base64",
    ),
    (
        "ciphers-none",
        'defaults:\n  ciphers: "NOSUCHCIPHER"\n',
        2,
        "defaults.ciphers",
        "accepts no cipher",
    ),
    (
        "client-cert-no-cert",
        "defaults:\n  client_cert: {key: k.pem}\n",
        2,
        "defaults.client_cert",
        "needs `cert`",
    ),
    (
        "client-cert-unknown",
        "defaults:\n  client_cert: {cert: c.pem, password: hunter2}\n",
        2,
        "defaults.client_cert.password",
        "unknown key 'password'",
    ),
    (
        "client-cert-missing",
        "defaults:\n  client_cert: {cert: c.pem}\n",
        2,
        "defaults.client_cert.cert",
        "no such file: c.pem",
    ),
    (
        "password-env-bad",
        "defaults:\n  client_cert: {cert: ca.pem, password_env: 'A B'}\n",
        2,
        "defaults.client_cert.password_env",
        "name of an environment variable",
    ),
    ("hosts-list", "hosts: [a.example]\n", 1, "hosts", "expected a mapping, got a list"),
    ("top-level-list", "- version\n- 1\n", 1, "", "expected a mapping, got a list"),
    ("top-level-scalar", "strict\n", 1, "", "expected a mapping, got a string"),
    ("host-block-list", "hosts:\n  a.example: [x]\n", 2, 'hosts."a.example"', "expected a mapping"),
    ("reason-empty", 'defaults:\n  reason: " "\n', 2, "defaults.reason", "non-empty string"),
    ("expires-bad", 'defaults:\n  expires: "soon"\n', 2, "defaults.expires", "not a date"),
    ("host-star", 'hosts:\n  "*": {}\n', 2, 'hosts."*"', "matches every host"),
    ("host-double-star", 'hosts:\n  "**": {}\n', 2, 'hosts."**"', "matches every host"),
    ("host-star-com", 'hosts:\n  "*.com": {}\n', 2, 'hosts."*.com"', "too broad"),
    ("host-star-co-uk", 'hosts:\n  "**.co.uk": {}\n', 2, 'hosts."**.co.uk"', "too broad"),
    (
        "host-partial",
        'hosts:\n  "a*.example.com": {}\n',
        2,
        'hosts."a*.example.com"',
        "whole first label",
    ),
    (
        "host-inner-star",
        'hosts:\n  "a.*.example.com": {}\n',
        2,
        'hosts."a.*.example.com"',
        "whole first label",
    ),
    (
        "host-leading-dot",
        'hosts:\n  ".example.com": {}\n',
        2,
        'hosts.".example.com"',
        "starts with '.'",
    ),
    ("host-empty", 'hosts:\n  "": {}\n', 2, 'hosts.""', "empty host key"),
    ("host-empty-label", 'hosts:\n  "a..example": {}\n', 2, 'hosts."a..example"', "empty label"),
    (
        "host-long-label",
        'hosts:\n  "' + "a" * 64 + '.example": {}\n',
        2,
        'hosts."' + "a" * 64 + '.example"',
        "longer than 63",
    ),
    (
        "host-bad-xn",
        'hosts:\n  "xn--zz.example": {}\n',
        2,
        'hosts."xn--zz.example"',
        "not a valid IDNA A-label",
    ),
    (
        "host-legacy-ipv4",
        'hosts:\n  "127.1": {}\n',
        2,
        'hosts."127.1"',
        "write the IPv4 address as 127.0.0.1",
    ),
    (
        "host-cidr-bits",
        'hosts:\n  "10.20.0.1/16": {}\n',
        2,
        'hosts."10.20.0.1/16"',
        "host bits set",
    ),
    (
        "host-cidr-all",
        'hosts:\n  "0.0.0.0/0": {}\n',
        2,
        'hosts."0.0.0.0/0"',
        "matches every address",
    ),
    (
        "host-port-bad",
        'hosts:\n  "a.example:99999": {}\n',
        2,
        'hosts."a.example:99999"',
        "out of range",
    ),
    (
        "host-same-normalised",
        "hosts:\n  a.example: {}\n  A.EXAMPLE.: {}\n",
        3,
        'hosts."A.EXAMPLE."',
        "the same hosts as 'a.example'",
    ),
    (
        "host-same-idna",
        'hosts:\n  "könig.test": {}\n  "xn--knig-5qa.test": {}\n',
        3,
        'hosts."xn--knig-5qa.test"',
        "the same hosts",
    ),
    (
        "weak-no-expiry",
        "defaults:\n  verify: warn\n",
        2,
        "defaults.verify",
        "needs expires and reason",
    ),
    (
        "weak-no-reason",
        f"hosts:\n  a.example:\n    verify: disabled\n    expires: {FUTURE}\n",
        3,
        'hosts."a.example".verify',
        "needs reason",
    ),
    (
        "weak-min-tls",
        'hosts:\n  a.example:\n    min_tls: "1.1"\n    reason: x\n',
        3,
        'hosts."a.example".min_tls',
        "needs expires",
    ),
    (
        "weak-x509",
        "defaults:\n  x509_strict: false\n",
        2,
        "defaults.x509_strict",
        "weakens verification",
    ),
]


@pytest.mark.parametrize(
    ("document", "line", "key_path", "words"), [pytest.param(*c[1:], id=c[0]) for c in REFUSED]
)
def test_refused_with_file_line_and_key(
    write_policy: Callable[..., Path],
    ca_file: Path,
    document: str,
    line: int,
    key_path: str,
    words: str,
) -> None:
    path = write_policy(document)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    error = info.value
    assert error.source == str(path)
    assert error.line == line
    assert error.key_path == key_path
    assert words in str(error)
    assert str(error).startswith(f"{path}:{line}:")


def test_from_dict_errors_name_the_key_path() -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_dict({"hosts": {"a.example": {"pins": ["sha256/x"]}}}, source="app config")
    assert str(info.value).startswith('app config: hosts."a.example".pins[0]: ')
    assert info.value.line is None


def test_every_setting_is_accepted(tmp_path: Path, ca_file: Path) -> None:
    (tmp_path / "client.pem").write_text("x")
    (tmp_path / "client.key").write_text("x")
    policy = Policy.from_yaml(
        f"""
version: 1
lock: true
defaults:
  verify: warn
  trust: [certifi, system, ca.pem, .]
  extra_ca: [ca.pem]
  min_tls: "1.0"
  max_tls: "1.3"
  ciphers: "ECDHE+AESGCM"
  x509_strict: false
  client_cert: {{cert: client.pem, key: client.key, password_env: CLIENT_KEY_PASSWORD}}
  pins: ["{PIN_A}", "{PIN_B}"]
  allow_https_to_http_redirect: true
  expires: {FUTURE}
  reason: "every setting"
""",
        source="all.yaml",
        base_dir=tmp_path,
    )
    d = policy.resolve("https://example.com/")
    assert policy.lock is True
    assert d.verify is Verify.WARN
    assert d.trust == ("certifi", "system", str(ca_file), str(tmp_path))
    assert d.extra_ca == (str(ca_file),)
    assert (d.min_tls, d.max_tls, d.ciphers, d.x509_strict) == ("1.0", "1.3", "ECDHE+AESGCM", False)
    assert d.client_cert == ClientCert(
        str(tmp_path / "client.pem"), str(tmp_path / "client.key"), "CLIENT_KEY_PASSWORD"
    )
    assert d.pins == (PIN_A, PIN_B)
    assert d.allow_https_to_http_redirect is True
    assert d.expires == datetime.date.fromisoformat(FUTURE)
    assert d.reason == "every setting"
    assert d.sources["ciphers"] == "all.yaml:10 defaults"


def test_relative_files_are_relative_to_the_policy_file(
    write_policy: Callable[..., Path],
    tmp_path: Path,
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_policy("hosts:\n  a.example:\n    extra_ca: [ca.pem]\n")
    monkeypatch.chdir("/")
    assert load_policy(path).resolve("a.example").extra_ca == (str(ca_file),)


def test_a_single_file_is_accepted_where_a_list_is(tmp_path: Path, ca_file: Path) -> None:
    policy = Policy.from_dict(
        {"defaults": {"extra_ca": "ca.pem", "trust": "ca.pem"}}, base_dir=tmp_path
    )
    decision = policy.resolve("example.com")
    assert decision.extra_ca == decision.trust == (str(ca_file),)


def test_weakening_with_expiry_and_reason_is_accepted() -> None:
    policy = Policy.from_dict(
        {"hosts": {"a.example": {"verify": "disabled", "expires": FUTURE, "reason": "ticket 1"}}}
    )
    assert policy.resolve("a.example").verify is Verify.DISABLED
    assert policy.resolve("b.example").verify is Verify.STRICT


def test_strengthening_needs_no_expiry() -> None:
    policy = Policy.from_dict(
        {"defaults": {"min_tls": "1.3", "x509_strict": True, "verify": "strict"}}
    )
    assert policy.resolve("a.example").min_tls == "1.3"


def test_policy_and_decision_are_frozen_and_hashable() -> None:
    a = Policy.from_dict({"hosts": {"a.example": {"pins": [PIN_A]}}})
    b = Policy.from_dict({"hosts": {"a.example": {"pins": [PIN_A]}}})
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    with pytest.raises(AttributeError, match="immutable"):
        a.lock = True
    d1, d2 = a.resolve("a.example"), b.resolve("A.EXAMPLE.")
    assert d1 == d2
    assert hash(d1) == hash(d2)
    assert hash(d1.tls) == hash(d2.tls)
    with pytest.raises(AttributeError, match="immutable"):
        d1.verify = Verify.DISABLED


def test_different_policies_are_not_equal() -> None:
    a = Policy.from_dict({"defaults": {"min_tls": "1.3"}})
    assert a != Policy.from_dict({"defaults": {"min_tls": "1.2"}})


def test_repr_is_short_even_for_huge_policies() -> None:
    hosts: dict[str, object] = {f"h{i}.example": {} for i in range(1000)}
    assert (
        repr(Policy.from_dict({"hosts": hosts}, source="big"))
        == "Policy(source='big', lock=False, hosts=1000)"
    )


def test_str_of_a_decision_lists_every_setting_with_its_source() -> None:
    policy = Policy.from_yaml('hosts:\n  a.example:\n    min_tls: "1.3"\n', source="p.yaml")
    text = str(policy.resolve("https://a.example:8443/x"))
    assert text.splitlines()[0] == "rule=a.example"
    assert '  min_tls=1.3  (p.yaml:3 hosts."a.example")' in text
    assert "  verify=strict  (default)" in text
    for name in SETTINGS:
        assert f"  {name}=" in text


def test_verify_is_a_str_enum() -> None:
    assert Verify.STRICT.value == "strict"
    assert isinstance(Verify.STRICT, str)
    assert str(Verify.WARN) == "warn"
    assert Verify("disabled") is Verify.DISABLED
