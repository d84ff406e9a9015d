"""A real proxy from the distribution for the tests: Debian's ``tinyproxy``, one per test.

Each instance gets its own config, log and pid file under the test's tmp_path, listens on
127.0.0.1 on a port found by binding port 0, runs in the foreground (``-d``) as a child of the
test process and is stopped when the test ends.  Tests that need it are skipped, with the
reason, where tinyproxy is not installed.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
ATTEMPTS = 3  # another process may take the free port between our probe and tinyproxy's bind


@dataclass
class Tinyproxy:
    host: str
    port: int
    credentials: tuple[str, str] | None
    config: Path
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def url(self, credentials: tuple[str, str] | None = None, *, userinfo: bool = False) -> str:
        """The proxy's URL; with ``userinfo=True`` its own credentials (or ``credentials``) in it."""
        given = credentials or (self.credentials if userinfo else None)
        name = self.host
        if given is not None:
            user, password = (urllib.parse.quote(part, safe="") for part in given)
            name = f"{user}:{password}@{name}"
        return f"http://{name}:{self.port}"

    def authorization(self, credentials: tuple[str, str] | None = None) -> str:
        """A ``Proxy-Authorization`` value for ``credentials`` (default: the proxy's own)."""
        user, password = credentials or self.credentials or ("", "")
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def find_tinyproxy() -> str | None:
    found = shutil.which("tinyproxy")
    if found is not None:
        return found
    # /usr/sbin or /usr/bin may be missing from a minimal PATH.
    for candidate in ("/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"):
        if Path(candidate).is_file():
            return candidate
    return None


def version(binary: str) -> str:
    result = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (result.stdout or result.stderr).strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(
    directory: Path,
    port: int,
    connect_ports: Collection[int] | None,
    credentials: tuple[str, str] | None,
) -> str:
    lines = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Allow 127.0.0.1",
        "Timeout 30",
        "MaxClients 20",
        "LogLevel Info",
        f'LogFile "{directory / "tinyproxy.log"}"',
        f'PidFile "{directory / "tinyproxy.pid"}"',
    ]
    # Without any ConnectPort line tinyproxy allows CONNECT to every port (Debian's shipped
    # config restricts it to 443 and 563; this file replaces that config, it does not extend it).
    lines += [f"ConnectPort {allowed}" for allowed in connect_ports or ()]
    if credentials is not None:
        lines.append(f"BasicAuth {credentials[0]} {credentials[1]}")
    return "\n".join(lines) + "\n"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def run_tinyproxy(
    binary: str,
    directory: Path,
    *,
    connect_ports: Collection[int] | None = None,
    credentials: tuple[str, str] | None = None,
) -> Iterator[Tinyproxy]:
    """Run tinyproxy until the block ends.

    ``connect_ports``: the only ports CONNECT may reach (others get 403); None allows all.
    ``credentials``: (user, password) tinyproxy requires (``BasicAuth``), else 407.  Neither
    may contain whitespace: tinyproxy's config format has no quoting for them.
    """
    if credentials is not None and any(not part or part.split() != [part] for part in credentials):
        raise ValueError("tinyproxy credentials cannot be empty or contain whitespace")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "tinyproxy.conf"
    output = directory / "tinyproxy.out"
    for _ in range(ATTEMPTS):
        port = _free_port()
        config.write_text(_config(directory, port, connect_ports, credentials))
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [binary, "-d", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while process.poll() is None and time.monotonic() < deadline:
                # Alive after answering: the listener is tinyproxy's, not a port thief's.
                if _accepts(port) and process.poll() is None:
                    break
                time.sleep(0.02)
            else:
                if process.poll() is not None:
                    continue  # exited early, most likely the port was taken: try another
                raise RuntimeError(f"tinyproxy did not accept on port {port} in time")
            yield Tinyproxy(
                "127.0.0.1", port, credentials, config, directory / "tinyproxy.log", process
            )
            return
        finally:
            _stop(process)
    log = directory / "tinyproxy.log"
    details = output.read_text(errors="replace") + (log.read_text() if log.exists() else "")
    raise RuntimeError(f"tinyproxy failed to start {ATTEMPTS} times:\n{details}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def make_tinyproxy(tmp_path: Path) -> Iterator[Callable[..., Tinyproxy]]:
    """Start tinyproxy: ``make_tinyproxy(connect_ports=..., credentials=...)``; see
    ``run_tinyproxy``.  Skips the test when tinyproxy is not installed."""
    binary = find_tinyproxy()
    if binary is None:
        pytest.skip("tinyproxy is not installed (Debian: apt-get install tinyproxy)")
    with ExitStack() as stack:
        started = 0

        def start(
            *,
            connect_ports: Collection[int] | None = None,
            credentials: tuple[str, str] | None = None,
        ) -> Tinyproxy:
            nonlocal started
            started += 1
            directory = tmp_path / f"tinyproxy-{started}"
            return stack.enter_context(
                run_tinyproxy(
                    binary, directory, connect_ports=connect_ports, credentials=credentials
                )
            )

        yield start
