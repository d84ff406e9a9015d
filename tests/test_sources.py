"""Where layers come from: environment variables, PEP 493's file, policy files on disk."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import securehttp
from securehttp import PolicyError, PolicyWarning, Verify
from securehttp._sources import env, files, pep493, read_layers
from securehttp._yaml import MAX_BYTES

# --- the environment ------------------------------------------------------------------------


def env_decision(environ: dict[str, str]) -> securehttp.Decision:
    layer = env.read_environment(environ)
    layers = (layer,) if layer is not None else ()
    from securehttp._resolve import Resolver

    return Resolver(layers).resolve("example.com")


def test_pythonhttpsverify_exactly_zero_disables() -> None:
    decision = env_decision({"PYTHONHTTPSVERIFY": "0"})
    assert decision.verify is Verify.DISABLED
    assert decision.sources["verify"] == "env PYTHONHTTPSVERIFY=0"


@pytest.mark.parametrize("value", ["", "1"])
def test_pythonhttpsverify_unset_empty_or_one_is_silent_and_strict(value: str) -> None:
    assert env_decision({"PYTHONHTTPSVERIFY": value}).verify is Verify.STRICT


@pytest.mark.parametrize(
    "value", ["false", "no", "off", "False", " 0", "0 ", "00", "0\n", "\u0660", "disabled"]
)
def test_pythonhttpsverify_garbage_changes_nothing_and_warns(value: str) -> None:
    with pytest.warns(PolicyWarning, match="only the exact string 0 disables"):
        decision = env_decision({"PYTHONHTTPSVERIFY": value})
    assert decision.verify is Verify.STRICT


@pytest.mark.parametrize("level", ["strict", "warn", "disabled"])
def test_securehttp_verify(level: str) -> None:
    decision = env_decision({"SECUREHTTP_VERIFY": level, "PYTHONHTTPSVERIFY": "0"})
    assert decision.verify == level
    assert decision.sources["verify"] == f"env SECUREHTTP_VERIFY={level}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECUREHTTP_VERIFY", "off"),
        ("SECUREHTTP_VERIFY", "Strict"),
        ("SECUREHTTP_VERIFY", "0"),
        ("SECUREHTTP_MIN_TLS", "1.4"),
        ("SECUREHTTP_MIN_TLS", "TLSv1.2"),
        ("SECUREHTTP_EXTRA_CA_CERTS", "/nonexistent/ca.pem"),
        ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
        ("SSL_CERT_DIR", "/nonexistent"),
        ("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem"),
        ("CURL_CA_BUNDLE", "/nonexistent/ca.pem"),
    ],
)
def test_invalid_values_are_policy_errors_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(PolicyError) as info:
        env.read_environment({name: value})
    assert info.value.source == f"env {name}"
    assert str(info.value).startswith(f"env {name}: ")


def test_ssl_cert_file_must_be_a_file_and_dir_a_directory(tmp_path: Path, ca_file: Path) -> None:
    with pytest.raises(PolicyError, match="not a file"):
        env.read_environment({"SSL_CERT_FILE": str(tmp_path)})
    with pytest.raises(PolicyError, match="not a directory"):
        env.read_environment({"SSL_CERT_DIR": str(ca_file)})


def test_ca_variables_replace_trust_and_are_deduplicated(tmp_path: Path, ca_file: Path) -> None:
    decision = env_decision(
        {
            "SSL_CERT_FILE": str(ca_file),
            "SSL_CERT_DIR": f"{tmp_path}{os.pathsep}{tmp_path}",
            "REQUESTS_CA_BUNDLE": str(ca_file),
            "CURL_CA_BUNDLE": "",
        }
    )
    assert decision.trust == (str(ca_file), str(tmp_path))
    assert decision.sources["trust"] == (
        f"env SSL_CERT_FILE={ca_file}, SSL_CERT_DIR={tmp_path}{os.pathsep}{tmp_path}, "
        f"REQUESTS_CA_BUNDLE={ca_file}"
    )


def test_extra_ca_is_added_not_replacing(ca_file: Path) -> None:
    decision = env_decision({"SECUREHTTP_EXTRA_CA_CERTS": str(ca_file)})
    assert decision.trust == ("certifi",)
    assert decision.extra_ca == (str(ca_file),)


@pytest.mark.parametrize("name", [n for n in env.VARIABLES if n != "SECUREHTTP_POLICY"])
def test_empty_value_means_unset(name: str) -> None:
    assert env.read_environment({name: ""}) is None


def test_no_variables_no_layer() -> None:
    assert env.read_environment({}) is None


# --- PEP 493's file -------------------------------------------------------------------------


def pep493_file(tmp_path: Path, text: str, mode: int = 0o644) -> str:
    path = tmp_path / "cert-verification.cfg"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_pep493_disable(tmp_path: Path) -> None:
    path = pep493_file(tmp_path, "[https]\nverify = disable\n")
    layer = pep493.read_pep493(path, explicit=True)
    assert layer is not None
    from securehttp._resolve import Resolver

    decision = Resolver((layer,)).resolve("a.example")
    assert decision.verify is Verify.DISABLED
    assert decision.sources["verify"] == f"{path} [https] verify=disable"


@pytest.mark.parametrize("value", ["enable", "platform_default"])
def test_pep493_enable_and_platform_default_stay_strict(tmp_path: Path, value: str) -> None:
    layer = pep493.read_pep493(pep493_file(tmp_path, f"[https]\nverify = {value}\n"), explicit=True)
    assert layer is None or layer.defaults.settings["verify"].value is Verify.STRICT


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[https]\nverify = off\n", "is not enable, disable or platform_default"),
        ("[https]\n", "no [https] verify setting"),
        ("[other]\nverify = disable\n", "no [https] verify setting"),
        ("not an ini file", "unreadable"),
    ],
)
def test_pep493_unusable_file_counts_as_absent_with_a_warning(
    tmp_path: Path, text: str, words: str
) -> None:
    with pytest.warns(PolicyWarning, match=re.escape(words)):
        assert pep493.read_pep493(pep493_file(tmp_path, text), explicit=True) is None


@pytest.mark.parametrize("mode", [0o666, 0o664])
def test_pep493_file_others_can_write_is_ignored_and_verification_stays_on(
    tmp_path: Path, mode: int
) -> None:
    path = pep493_file(tmp_path, "[https]\nverify = disable\n", mode=mode)
    with pytest.warns(PolicyWarning, match="writable by others.*verification stays on"):
        assert pep493.read_pep493(path, explicit=True) is None


def test_pep493_missing_default_file_is_silent(tmp_path: Path) -> None:
    assert pep493.read_pep493(str(tmp_path / "absent.cfg"), explicit=False) is None


def test_pep493_path_from_environment(tmp_path: Path) -> None:
    path = pep493_file(tmp_path, "[https]\nverify = disable\n")
    layers = read_layers({"SECUREHTTP_PEP493_CONFIG": path})
    assert [layer.source for layer in layers] == [path]


def test_pep493_is_below_the_environment(tmp_path: Path) -> None:
    path = pep493_file(tmp_path, "[https]\nverify = disable\n")
    from securehttp._resolve import Resolver

    layers = read_layers({"SECUREHTTP_PEP493_CONFIG": path, "SECUREHTTP_VERIFY": "strict"})
    assert Resolver(layers).resolve("a.example").verify is Verify.STRICT


# --- policy files on disk -------------------------------------------------------------------


def test_system_then_user_policy_order(
    write_policy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    system = write_policy('version: 1\ndefaults:\n  min_tls: "1.3"\n', name="system.yaml")
    user = write_policy('version: 1\ndefaults:\n  min_tls: "1.2"\n', name="user.yaml")
    monkeypatch.setattr(files, "SYSTEM_POLICY", str(system))
    layers = read_layers({"SECUREHTTP_POLICY": str(user)})
    assert [layer.source for layer in layers] == [str(system), str(user)]


def test_securehttp_policy_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        read_layers({"SECUREHTTP_POLICY": str(tmp_path / "missing.yaml")})


def test_a_broken_system_policy_is_an_error_not_skipped(
    write_policy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy("defaults:\n  verify: no\n")
    monkeypatch.setattr(files, "SYSTEM_POLICY", str(path))
    with pytest.raises(PolicyError, match=r"YAML 1\.1 boolean"):
        securehttp.explain("a.example")


@pytest.mark.parametrize(
    ("mode", "words"), [(0o602, "writable by others"), (0o620, "writable by others")]
)
def test_files_others_can_write_are_refused(
    write_policy: Callable[..., Path], mode: int, words: str
) -> None:
    path = write_policy("version: 1\n", mode=mode)
    with pytest.raises(PolicyError, match=words):
        securehttp.load_policy(path)


def test_file_owned_by_another_user_is_refused(write_policy: Callable[..., Path]) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    path = write_policy("version: 1\n")
    os.chown(path, 65534, 65534)
    with pytest.raises(PolicyError, match="owned by uid 65534"):
        securehttp.load_policy(path)


def test_readable_private_file_is_accepted(write_policy: Callable[..., Path]) -> None:
    assert securehttp.load_policy(write_policy("version: 1\n", mode=0o644)).hosts == ()


def test_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(PolicyError, match="not a regular file"):
        securehttp.load_policy(fifo)


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null", "/"])
def test_devices_and_directories_are_refused(path: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(PolicyError, match="not a regular file"):
        securehttp.load_policy(path)


def test_oversized_file_is_refused(write_policy: Callable[..., Path]) -> None:
    path = write_policy("# " + "x" * MAX_BYTES + "\n")
    with pytest.raises(PolicyError, match="larger than"):
        securehttp.load_policy(path)


def test_world_writable_directory_without_sticky_bit_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    path = shared / "policy.yaml"
    path.write_text("version: 1\n")
    path.chmod(0o600)
    with pytest.raises(PolicyError, match="world-writable"):
        securehttp.load_policy(path)


def test_unreadable_file_is_an_error(write_policy: Callable[..., Path]) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = write_policy("version: 1\n", mode=0o000)
    with pytest.raises(PolicyError, match="cannot open"):
        securehttp.load_policy(path)


def test_symlink_to_a_good_file_is_checked_on_the_target(
    write_policy: Callable[..., Path], tmp_path: Path
) -> None:
    target = write_policy('version: 1\ndefaults:\n  min_tls: "1.3"\n')
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    assert securehttp.load_policy(link).resolve("a.example").min_tls == "1.3"
    target.chmod(0o666)
    with pytest.raises(PolicyError, match="writable by others"):
        securehttp.load_policy(link)


# --- in a fresh interpreter: the real environment, -E and -I --------------------------------

PROBE = (
    "import json, warnings, securehttp\n"
    "warnings.simplefilter('ignore')\n"
    "d = securehttp.explain('https://example.com/')\n"
    "print(json.dumps({'verify': str(d.verify), 'min_tls': d.min_tls, 'trust': list(d.trust),"
    " 'source': d.sources['verify']}))\n"
)


def run_probe(environ: dict[str, str], *flags: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k not in env.VARIABLES}
    clean.update(environ)
    # -I also ignores PYTHONPATH and the user site, so point it at the package explicitly.
    code = (
        f"import sys; sys.path.insert(0, {str(Path(securehttp.__file__).parent.parent)!r})\n"
        + PROBE
    )
    result = subprocess.run(
        [sys.executable, *flags, "-c", code],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_subprocess_pythonhttpsverify_zero_disables() -> None:
    out = run_probe({"PYTHONHTTPSVERIFY": "0"})
    assert out["verify"] == "disabled"
    assert out["source"] == "env PYTHONHTTPSVERIFY=0"


@pytest.mark.parametrize("flag", ["-E", "-I"])
def test_subprocess_environment_is_ignored_under_e_and_i(flag: str, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text('version: 1\ndefaults:\n  min_tls: "1.3"\n')
    policy.chmod(0o600)
    environ = {
        "PYTHONHTTPSVERIFY": "0",
        "SECUREHTTP_VERIFY": "disabled",
        "SECUREHTTP_MIN_TLS": "1.0",
        "SECUREHTTP_POLICY": str(policy),
    }
    out = run_probe(environ, flag)
    assert out == {"verify": "strict", "min_tls": "1.2", "trust": ["certifi"], "source": "default"}


def test_subprocess_machine_ca_variables_replace_trust(ca_file: Path) -> None:
    out = run_probe({"SSL_CERT_FILE": str(ca_file)})
    assert out["trust"] == [str(ca_file)]


def test_subprocess_invalid_variable_fails_loudly() -> None:
    clean = {k: v for k, v in os.environ.items() if k not in env.VARIABLES}
    clean["SECUREHTTP_VERIFY"] = "nope"
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert (
        "PolicyError: env SECUREHTTP_VERIFY: expected strict, warn or disabled; got 'nope'"
        in result.stderr
    )


def test_locked_system_policy_refuses_pythonhttpsverify_naming_variable_and_file(
    write_policy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    system = write_policy("version: 1\nlock: true\n", name="system.yaml")
    monkeypatch.setattr(files, "SYSTEM_POLICY", str(system))
    monkeypatch.setenv("PYTHONHTTPSVERIFY", "0")
    with pytest.warns(PolicyWarning) as caught:
        decision = securehttp.explain("https://example.com/")
    assert decision.verify is Verify.STRICT
    assert decision.sources["verify"] == "default"
    message = str(caught[0].message)
    assert "env PYTHONHTTPSVERIFY=0" in message
    assert f"{system} has `lock: true`" in message
