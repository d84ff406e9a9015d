"""The public API under ``mypy --strict``, as a user's program sees it: a misspelt name, a
misspelt keyword or a value of the wrong type is an error, and correct everyday code has
none.  mypy runs in a subprocess on scripts in a temporary directory, with the checkout
first on its search path (an editable install is an import hook that mypy cannot follow).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each line marked "# E: word" must have a mypy error that mentions the word; no other line
# may have one.
MISTAKES = """
    import securehttp
    from securehttp import Client

    securehttp.urlopn("https://example.com/")  # E: urlopn
    securehttp.Clinet()  # E: Clinet
    Client(retires=3)  # E: retires
    Client(cookies="yes")  # E: cookies
    Client(auth="user:password")  # E: auth
    client = Client()
    client.get("https://example.com/", parms={"a": "1"})  # E: parms
    client.request("GET", "https://example.com/", hedaers={})  # E: hedaers
    client.post("https://example.com/", jsn={})  # E: jsn
    client.delete("https://example.com/", tiemout=3)  # E: tiemout
    client.post("https://example.com/", json={1, 2})  # E: json
    client.put("https://example.com/", json=object())  # E: json
    client.get("https://example.com/", params=42)  # E: params
    client.get("https://example.com/", params="a=1")  # E: params
    client.get("https://example.com/", auth=("user",))  # E: auth
    client.get("https://example.com/", headers={"X-A": 1})  # E: "str": "int"
    client.post("https://example.com/", body=12)  # E: body
    client.get("https://example.com/", body=b"x")  # E: body
"""

CORRECT = """
    import http.cookiejar
    from collections.abc import Iterator
    from typing import Any

    import securehttp
    from securehttp import Client, Request, Timeout

    def pieces() -> Iterator[bytes]:
        yield b"a"

    payload: dict[str, Any] = {"any": ["thing"]}
    with Client(
        timeout=Timeout(connect=1, read=2, total=3),
        retries=0,
        headers={"X-A": "1"},
        max_body=1024,
        auth=("user", "password"),
        cookies=http.cookiejar.CookieJar(),
        pool_size=4,
    ) as client:
        client.get("https://example.com/", params={"q": "x", "n": 1, "m": [1, 2], "z": None})
        client.get("https://example.com/", params=[("q", "1"), ("q", "2")], auth=("u", "p"))
        client.post("https://example.com/", b"bytes")
        client.post("https://example.com/", "text", headers={"Content-Type": "text/plain"})
        client.put("https://example.com/", pieces(), timeout=5)
        with open("upload.bin", "rb") as file:
            client.patch("https://example.com/", body=file)
        client.post("https://example.com/", json={"a": [1, 2.5, None, True, {"b": "c"}]})
        client.post("https://example.com/", json=payload)
        client.delete("https://example.com/", json=[1])
        client.head("https://example.com/", redirect=False).close()
        client.options("https://example.com/").close()
        response = client.request("GET", "https://example.com/", policy=None, context=None)
        status: int = response.status
    Client(cookies=True).close()
    request: Request = securehttp.Request("https://example.com/")
    version: str = securehttp.__version__
"""


def run_mypy(tmp_path: Path, name: str, source: str) -> tuple[str, list[tuple[int, str]]]:
    script = tmp_path / name
    script.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file=",  # this checkout's settings are not a user's
            f"--cache-dir={tmp_path / 'mypy-cache'}",
            "--no-error-summary",
            "--show-error-codes",
            str(script),
        ],
        cwd=tmp_path,
        env={"MYPYPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert not result.stderr.strip(), result.stderr
    errors = [
        (int(match.group(1)), match.group(2))
        for match in re.finditer(
            rf"^{re.escape(name)}:(\d+): error: (.*)$", result.stdout, re.MULTILINE
        )
    ]
    return result.stdout, errors


@pytest.fixture(scope="module")
def typing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("typing")


def test_mistakes_in_user_code_are_mypy_errors(typing_dir: Path) -> None:
    output, errors = run_mypy(typing_dir, "mistakes.py", MISTAKES)
    lines = textwrap.dedent(MISTAKES).lstrip().splitlines()
    expected = {
        number: line.rpartition("# E: ")[2]
        for number, line in enumerate(lines, start=1)
        if "# E: " in line
    }
    assert len(expected) == 17
    found: dict[int, list[str]] = {}
    for number, message in errors:
        found.setdefault(number, []).append(message)
    for number, word in expected.items():
        messages = found.get(number, [])
        assert any(word in message for message in messages), (
            f"line {number} ({lines[number - 1].strip()}): no error naming {word!r}\n{output}"
        )
    unexpected = sorted(set(found) - set(expected))
    assert not unexpected, output


def test_correct_user_code_has_no_mypy_errors(typing_dir: Path) -> None:
    output, errors = run_mypy(typing_dir, "correct.py", CORRECT)
    assert errors == [], output
    assert "error" not in output, output
