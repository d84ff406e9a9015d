"""``securehttp run`` and the startup hook (``securehttp hook``), in fresh interpreters.

The hook is tested in a real virtual environment made once per session with
``python -m venv --without-pip``: its site-packages gets one ``.pth`` naming this checkout and
the directory holding securehttp's dependencies (no network is needed, and nothing of the
project's own ``.venv`` is processed as a site directory), then ``securehttp hook install``
run by the venv's own Python writes the hook where that Python looks.  What this does not
exercise is packaging: securehttp is imported from the checkout, not from a built wheel.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from securehttp._cli import main
from securehttp._cli.run import HOOK_FILES, reads_start_files

from . import governed


@dataclass
class Venv:
    python: str
    site_packages: Path


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    import urllib3

    root = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120
    )
    python = str(root / "bin" / "python")
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([python, "-c", where], text=True, timeout=60).strip())
    dependencies = Path(urllib3.__file__).parent.parent
    (site / "_securehttp_test_paths.pth").write_text(f"{governed.ROOT}\n{dependencies}\n")
    # No --site-packages: the venv's Python must find its own site-packages by default.
    result = governed.python("-m", "securehttp", "hook", "install", executable=python)
    assert result.returncode == 0, result.stderr
    assert all((site / name).is_file() for name in HOOK_FILES)
    return Venv(python, site)


@pytest.fixture
def hosts(make_server: Callable[..., Any], ca: Any, other_ca: Any) -> dict[str, Any]:
    return governed.start_hosts(make_server, ca, other_ca)


@pytest.fixture
def policy(hosts: dict[str, Any], write_policy: Callable[..., Path], ca_pem: Path) -> Path:
    return write_policy(governed.policy_yaml(ca_pem, hosts))


def program(venv: Venv, hosts: dict[str, Any], *flags: str, **env: str) -> Any:
    args = governed.program_args(hosts)
    return governed.python(*flags, str(governed.PROGRAM), *args, env=env, executable=venv.python)


# --- the hook -------------------------------------------------------------------------------


def test_the_hook_governs_an_unmodified_program(
    venv: Venv, hosts: dict[str, Any], policy: Path
) -> None:
    result = program(venv, hosts, SECUREHTTP_INSTALL="1", SECUREHTTP_POLICY=str(policy))
    assert result.returncode == 0, result.stderr
    governed.expect(result.stdout, governed.GOVERNED)
    assert "would fail strict verification" in result.stderr  # the legacy host's audit
    assert hosts["pinned"].httpd.requests == []


def test_the_hook_does_nothing_without_the_variable_or_under_E_and_I(
    venv: Venv, hosts: dict[str, Any], policy: Path
) -> None:
    result = program(venv, hosts, SECUREHTTP_POLICY=str(policy))
    assert result.returncode == 0, result.stderr
    governed.expect(result.stdout, governed.STOCK)  # the twin of the test above
    assert result.stderr == ""
    # Off, it costs an os.environ look-up: securehttp is not even imported.
    check = "import sys; print('securehttp' in sys.modules, 'ssl' in sys.modules)"
    for flags, value in (((), ""), ((), "0"), (("-E",), "1"), (("-I",), "1")):
        off = governed.python(
            *flags, "-c", check, env={"SECUREHTTP_INSTALL": value}, executable=venv.python
        )
        assert (off.stdout.split(), off.stderr) == (["False", "False"], ""), (flags, value)
    on = governed.python("-c", check, env={"SECUREHTTP_INSTALL": "1"}, executable=venv.python)
    assert on.stdout.split()[0] == "True"


def test_a_broken_policy_at_startup_is_one_line_and_https_fails_closed(
    venv: Venv, hosts: dict[str, Any], write_policy: Callable[..., Path]
) -> None:
    broken = write_policy("version: 1\ndefaults:\n  verify: no\n", name="broken.yaml")
    result = program(venv, hosts, SECUREHTTP_INSTALL="1", SECUREHTTP_POLICY=str(broken))
    assert result.returncode == 0  # the interpreter started and the program ran
    governed.expect(result.stdout, {label: "refused PolicyError" for label in governed.GOVERNED})
    (line,) = result.stderr.splitlines()  # once, although a venv runs .pth imports twice
    assert line.startswith(f"securehttp: {broken}:3:")
    assert line.endswith("standard-library HTTPS fails closed until the policy is fixed")
    assert all(server.httpd.requests == [] for server in hosts.values())


def test_an_unexpected_value_installs_and_says_so(
    venv: Venv, hosts: dict[str, Any], policy: Path
) -> None:
    result = program(venv, hosts, SECUREHTTP_INSTALL="yes", SECUREHTTP_POLICY=str(policy))
    governed.expect(result.stdout, governed.GOVERNED)
    assert "SECUREHTTP_INSTALL='yes': expected 1; installing anyway" in result.stderr


def test_hook_install_status_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def hook(*args: str) -> tuple[int, str]:
        code = main(["hook", *args, "--site-packages", str(tmp_path)])
        out, err = capsys.readouterr()
        return code, out + err

    code, out = hook("status")
    assert code == 1
    assert out.startswith(f"startup hook in {tmp_path}: not installed\n")
    assert hook("install")[0] == 0
    for name in HOOK_FILES:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
    pth = (tmp_path / "securehttp-hook.pth").read_text()
    assert "\nimport _securehttp_hook; _securehttp_hook.run()\n" in pth
    assert (tmp_path / "securehttp-hook.start").read_text() == "_securehttp_hook:run\n"
    code, out = hook("status")
    assert code == 0
    assert "installed (securehttp-hook.pth, securehttp-hook.start, _securehttp_hook.py)" in out
    # Which file this Python runs it from was tried, not guessed from the version.
    used = "securehttp-hook.start" if reads_start_files() else "securehttp-hook.pth"
    assert f"runs it from {used}" in out
    (tmp_path / "_securehttp_hook.py").write_text("# an older version\n")
    code, out = hook("status")
    assert code == 1
    assert "out of date (_securehttp_hook.py)" in out
    assert hook("remove")[0] == 0
    assert not any((tmp_path / name).exists() for name in HOOK_FILES)
    assert hook("status")[0] == 1
    code = main(["hook", "install", "--site-packages", str(tmp_path / "nowhere")])
    assert code == 2
    assert "is not a directory" in capsys.readouterr().err


def test_this_python_reads_start_files_only_from_pep_829_on() -> None:
    # No interpreter here implements PEP 829 (Python 3.15): the .pth is what runs.
    assert reads_start_files() is (sys.version_info >= (3, 15))


# --- securehttp run -------------------------------------------------------------------------


def test_run_governs_a_script_and_a_module(hosts: dict[str, Any], policy: Path) -> None:
    args = governed.program_args(hosts)
    clean = {"SECUREHTTP_POLICY": ""}
    script = governed.python(
        "-m", "securehttp", "run", "--policy", str(policy), str(governed.PROGRAM), *args, env=clean
    )
    assert script.returncode == 0, script.stderr
    governed.expect(script.stdout, governed.GOVERNED)
    module = governed.python(
        "-m", "securehttp", "run", "--policy", str(policy), "-m", "tests.unmodified_program", *args
    )
    assert module.returncode == 0, module.stderr
    governed.expect(module.stdout, governed.GOVERNED)
    assert hosts["pinned"].httpd.requests == []


def test_run_passes_arguments_and_exit_status_as_python_does(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text(
        "import sys, ssl, securehttp\n"
        "print(sys.argv, sys.path[0] == __import__('os').path.dirname(__file__))\n"
        "print(securehttp.installed().active)\n"
        "sys.exit(3)\n"
    )
    result = governed.python("-m", "securehttp", "run", str(script), "--policy", "-m", "x")
    assert result.returncode == 3
    assert result.stdout.splitlines() == [f"[{str(script)!r}, '--policy', '-m', 'x'] True", "True"]


def test_run_with_a_broken_policy_file_runs_nothing(
    write_policy: Callable[..., Path], tmp_path: Path
) -> None:
    broken = write_policy("version: 1\ndefaults:\n  verify: no\n", name="broken.yaml")
    marker = tmp_path / "ran"
    script = tmp_path / "prog.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = governed.python("-m", "securehttp", "run", "--policy", str(broken), str(script))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{broken}:3:" in result.stderr
    assert not marker.exists()
    result = governed.python("-m", "securehttp", "run", str(script))  # the twin: it runs
    assert result.returncode == 0, result.stderr
    assert marker.exists()


def test_run_under_a_broken_environment_starts_and_fails_closed(
    hosts: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "SECUREHTTP_VERIFY", "sometimes")
    result = governed.python(
        "-m", "securehttp", "run", str(governed.PROGRAM), *governed.program_args(hosts)
    )
    assert result.returncode == 0
    governed.expect(result.stdout, {label: "refused PolicyError" for label in governed.GOVERNED})
    (line,) = result.stderr.splitlines()
    assert "env SECUREHTTP_VERIFY" in line
    assert "fails closed" in line
