"""Attack review, the other classes: `lock` against anything chosen through the environment,
URL credentials in messages, and server-chosen redirects that cannot be followed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import traceback
import urllib.error
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

import securehttp
from securehttp import CertificateError, Client, PolicyWarning, URLError, Verify, _process, urlopen
from securehttp._sources import files

LOCKED = "version: 1\nlock: true\ndefaults:\n  x509_strict: true\n"
UNLOCKED = "version: 1\ndefaults:\n  x509_strict: true\n"
WAIVER_FILE = (
    "version: 1\ndefaults:\n  verify: disabled\n  expires: 2999-01-01\n  reason: test\n"
    "  min_tls: '1.0'\n"
)


def _cfg(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "cert-verification.cfg"
    path.write_text(f"[https]\nverify = {value}\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, write_policy: Callable[..., Path]
) -> Callable[..., None]:
    """Set up the process sources: a system policy file, variables, then re-read them."""

    def arrange(system: str | None = None, user: str | None = None, **variables: str) -> None:
        if system is not None:
            monkeypatch.setattr(files, "SYSTEM_POLICY", str(write_policy(system, "system.yaml")))
        if user is not None:
            monkeypatch.setenv("SECUREHTTP_POLICY", str(write_policy(user, "user.yaml")))
        for name, value in variables.items():
            if value == "<disable cfg>":
                value = str(_cfg(tmp_path, "disable"))
            monkeypatch.setenv(name, value)
        _process.reset_process_state()

    return arrange


# --- 2. lock holds against everything chosen through the environment ------------------------

REFUSED = {
    "PEP 493 file named by a variable, under a locked system file": (
        {"system": LOCKED, "SECUREHTTP_PEP493_CONFIG": "<disable cfg>"},
        "verify",
    ),
    "PEP 493 file named by a variable, under a locked SECUREHTTP_POLICY file": (
        {"user": LOCKED, "SECUREHTTP_PEP493_CONFIG": "<disable cfg>"},
        "verify",
    ),
    "SECUREHTTP_POLICY file weakening a locked system file": (
        {"system": LOCKED, "user": WAIVER_FILE},
        "verify",
    ),
    "PYTHONHTTPSVERIFY=0": ({"system": LOCKED, "PYTHONHTTPSVERIFY": "0"}, "verify"),
    "SECUREHTTP_VERIFY=disabled": ({"system": LOCKED, "SECUREHTTP_VERIFY": "disabled"}, "verify"),
    "SECUREHTTP_VERIFY=warn": ({"user": LOCKED, "SECUREHTTP_VERIFY": "warn"}, "verify"),
    "SECUREHTTP_MIN_TLS=1.0": ({"system": LOCKED, "SECUREHTTP_MIN_TLS": "1.0"}, "min_tls"),
    "SSL_CERT_FILE": ({"system": LOCKED, "SSL_CERT_FILE": "<ca>"}, "trust"),
    "REQUESTS_CA_BUNDLE": ({"system": LOCKED, "REQUESTS_CA_BUNDLE": "<ca>"}, "trust"),
    "CURL_CA_BUNDLE": ({"user": LOCKED, "CURL_CA_BUNDLE": "<ca>"}, "trust"),
    "SECUREHTTP_EXTRA_CA_CERTS": (
        {"system": LOCKED, "SECUREHTTP_EXTRA_CA_CERTS": "<ca>"},
        "extra_ca",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_locked_file_is_not_weakened_by_anything_chosen_through_the_environment(
    case: str, environment: Callable[..., None], ca_pem: Path
) -> None:
    arrangement, setting = REFUSED[case]
    arrangement = {k: (str(ca_pem) if v == "<ca>" else v) for k, v in arrangement.items()}
    environment(**arrangement)
    with pytest.warns(PolicyWarning, match="lock: true"):
        decision = securehttp.explain("https://example.org/")
    assert decision.verify is Verify.STRICT
    assert decision.min_tls == "1.2"
    assert decision.trust == ("certifi",)
    assert decision.extra_ca == ()
    assert decision.sources[setting] == "default"


ALLOWED = {
    "PEP 493 file named by a variable, nothing locked": (
        {"system": UNLOCKED, "SECUREHTTP_PEP493_CONFIG": "<disable cfg>"},
        Verify.DISABLED,
    ),
    "PYTHONHTTPSVERIFY=0, nothing locked": ({"PYTHONHTTPSVERIFY": "0"}, Verify.DISABLED),
    "a locked SECUREHTTP_POLICY file's own waiver": (
        {"user": WAIVER_FILE.replace("version: 1\n", "version: 1\nlock: true\n")},
        Verify.DISABLED,
    ),
}


@pytest.mark.parametrize("case", list(ALLOWED))
def test_twin_without_a_lock_the_environment_decides(
    case: str, environment: Callable[..., None]
) -> None:
    arrangement, level = ALLOWED[case]
    environment(**arrangement)
    assert securehttp.explain("https://example.org/").verify is level


def test_runtime_switch_cannot_weaken_a_locked_environment_chosen_file(
    environment: Callable[..., None],
) -> None:
    environment(user=LOCKED)
    securehttp.https_verify_certificates(False)
    with pytest.warns(PolicyWarning, match="lock: true"):
        assert securehttp.explain("https://example.org/").verify is Verify.STRICT


def test_locked_file_and_disabling_cfg_still_refuse_a_bad_certificate(
    environment: Callable[..., None], make_server: Callable[..., Any]
) -> None:
    server = make_server(trustme.CA().issue_cert("localhost"))
    environment(system=LOCKED, SECUREHTTP_PEP493_CONFIG="<disable cfg>")
    with (
        pytest.warns(PolicyWarning, match="lock: true"),
        Client() as client,
        pytest.raises(CertificateError),
    ):
        client.get(server.url("/"))
    assert server.httpd.requests == []


# --- 6. URL credentials never appear in any message ----------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SPELLINGS = [
    "https://user:SECRET@127.0.0.1:{port}/",
    "https://SECRET@127.0.0.1:{port}/x",
    "https://user:SECRET/x@127.0.0.1:{port}/",
    "https://user:SECRET@127.0.0.1:notaport/",
    "https://user:SECRET@/",
    "https:/user:SECRET@127.0.0.1:{port}/",
    "HTTPS://user:SECRET@127.0.0.1:{port}/p?q=1#f",
    "https://user:SECRET@[::1]:{port}/",
    "https://user:SECRET@[::1:{port}/",
    "https://us%40er:SECRET@127.0.0.1:{port}/",
    "https://user:SECRET:more@127.0.0.1:{port}/",
    "ftp://user:SECRET@127.0.0.1:{port}/",
]


def _every_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def _client_get(url: str) -> None:
    with Client() as client:
        client.get(url, timeout=2)


OPENERS: dict[str, Callable[[str], object]] = {
    "urlopen": lambda url: urlopen(url, timeout=2),
    "Client.get": _client_get,
    "Request": lambda url: urlopen(securehttp.Request(url), timeout=2),
}


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("how", list(OPENERS))
def test_url_credentials_never_reach_a_message(spelling: str, how: str) -> None:
    url = spelling.format(port=_closed_port())
    with pytest.raises(Exception) as info:  # noqa: PT011 - which error depends on the spelling
        OPENERS[how](url)
    assert "SECRET" not in _every_text(info.value)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return subprocess.run(
        [sys.executable, "-m", "securehttp", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "spelling",
    [
        "https://user:SECRET@127.0.0.1:{port}/",
        "https://user:SECRET/x@127.0.0.1:{port}/",
        "https:/user:SECRET@127.0.0.1:{port}/",
    ],
)
@pytest.mark.parametrize("command", [["explain"], ["explain", "--json"]])
def test_explain_never_prints_url_credentials(spelling: str, command: list[str]) -> None:
    done = _cli(*command, spelling.format(port=_closed_port()))
    assert "SECRET" not in done.stdout + done.stderr
    if done.returncode == 0 and "--json" in command:
        assert "***@127.0.0.1" in json.loads(done.stdout)["url"]


def test_twin_a_response_url_keeps_everything_but_the_credentials(good_server: Any) -> None:
    url = good_server.url("/path?q=1").replace("https://", "https://user:SECRET@")
    with Client() as client, pytest.raises(CertificateError) as info:
        client.get(url)
    assert "SECRET" not in _every_text(info.value)
    with Client(
        securehttp.Policy.from_dict(
            {"defaults": {"verify": "disabled", "expires": "2999-01-01", "reason": "t"}}
        )
    ) as client:
        with pytest.warns(securehttp.InsecureRequestWarning):
            response = client.get(url)
        assert response.url == good_server.url("/path?q=1")
        assert "SECRET" not in repr(response)


# --- 8. a Location that cannot be followed is a refused redirect ---------------------------

UNFOLLOWABLE = [
    "https://[::1:{port}/",
    "https://[::1",
    "https://[not-v6]/",
    "https://127.0.0.1:99999/",
    "https://127.0.0.1:-1/",
    "https://127.0.0.1:notaport/",
    "https://user:pw@127.0.0.1:x/",
    "ftp://127.0.0.1/",
    "file:///etc/passwd",
    "data:text/plain,hello",
    "gopher://127.0.0.1/",
    "https://a..b/",
    "https://xn--/",
    "https://-leading-hyphen.test/",
    "https://" + "a" * 300 + ".test/",
    "https://exa mple.test/",
    "https://ex\\ample.test/",
    "https://a\u00a0b.test/",
    "https://x\u00b7.test/",
]


@pytest.fixture
def plain_trusting(ca_pem: Path) -> securehttp.Policy:
    return securehttp.Policy.from_dict({"defaults": {"trust": str(ca_pem)}})


@pytest.mark.parametrize("location", UNFOLLOWABLE)
def test_an_unfollowable_location_is_a_refused_redirect(
    location: str, good_server: Any, plain_trusting: securehttp.Policy
) -> None:
    target = location.format(port=good_server.port)
    url = good_server.url("/redirect?" + urllib.parse.urlencode({"to": target}))
    with Client(plain_trusting) as client:
        with pytest.raises(urllib.error.URLError, match="refused redirect") as info:
            client.get(url)
        assert isinstance(info.value, URLError)
    assert len(good_server.httpd.requests) == 1  # the redirect itself, and nothing after it
    with pytest.raises(urllib.error.URLError, match="refused redirect"):
        urlopen(url, policy=plain_trusting)


def test_twin_a_followable_location_is_followed(
    good_server: Any, plain_trusting: securehttp.Policy
) -> None:
    url = good_server.url("/redirect?" + urllib.parse.urlencode({"to": "/status/200"}))
    with Client(plain_trusting) as client:
        assert client.get(url).status == 200
