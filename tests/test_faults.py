"""Faults a client must survive: the exact error, a bounded time, and a pool that still works.

Time bounds have generous margins (the machines are shared and noisy); what they rule out is
hanging for the length of a server's patience.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from securehttp import Client, Policy, ResponseTooLarge, Timeout, TimeoutError, URLError

from .faultserver import FaultServer, fault_server
from .tlsserver import server_context


@pytest.fixture
def faulty(localhost_cert: Any) -> Iterator[FaultServer]:
    with fault_server(server_context(localhost_cert)) as server:
        yield server


@pytest.fixture
def client(ca_pem: Path) -> Iterator[Client]:
    policy = Policy.from_dict({"defaults": {"trust": str(ca_pem)}})
    with Client(policy, timeout=Timeout(connect=5, read=5, total=20)) as c:
        yield c


def drain(response: Any) -> None:
    while response.read(4):
        pass


def still_usable(client: Client, server: FaultServer) -> None:
    with client.get(server.url("/ok")) as response:
        assert response.read() == b"ok\n"


class Clock:
    def __enter__(self) -> Clock:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.start


def test_truncated_body_is_an_error_never_a_short_success(
    client: Client, faulty: FaultServer
) -> None:
    response = client.get(faulty.url("/truncated"))
    with pytest.raises(URLError, match=r"(?i)incomplete|connection"):
        response.read()
    still_usable(client, faulty)


def test_truncated_body_read_in_pieces_is_an_error_too(client: Client, faulty: FaultServer) -> None:
    response = client.get(faulty.url("/truncated"))
    with pytest.raises(URLError):
        drain(response)
    still_usable(client, faulty)


def test_drip_feed_is_cut_off_by_the_total_deadline(client: Client, faulty: FaultServer) -> None:
    with Clock() as clock, pytest.raises(TimeoutError, match=r"total deadline of 1\.5s"):
        client.get(faulty.url("/drip"), timeout=Timeout(connect=2, read=1, total=1.5)).read()
    assert clock.elapsed < 8  # one byte every 0.2 s would otherwise take 200 s
    still_usable(client, faulty)


def test_drip_feed_streaming_is_cut_off_too(client: Client, faulty: FaultServer) -> None:
    response = client.get(faulty.url("/drip"), timeout=Timeout(connect=2, read=1, total=1.5))
    with Clock() as clock, pytest.raises(TimeoutError):
        drain(response)
    assert clock.elapsed < 8


def test_handshake_stall_is_bounded_by_connect(localhost_cert: Any, client: Client) -> None:
    with (
        fault_server(None, stall_handshake=True) as stalled,
        Clock() as clock,
        pytest.raises(TimeoutError),
    ):
        client.get(stalled.url("/"), timeout=Timeout(connect=0.5, read=5, total=20))
    assert clock.elapsed < 6


def test_handshake_stall_is_bounded_by_total(client: Client) -> None:
    with (
        fault_server(None, stall_handshake=True) as stalled,
        Clock() as clock,
        pytest.raises(TimeoutError, match="total deadline"),
    ):
        client.get(stalled.url("/"), timeout=Timeout(connect=30, read=30, total=1))
    assert clock.elapsed < 6


def test_close_after_request_get_is_retried_then_fails(client: Client, faulty: FaultServer) -> None:
    with pytest.raises(URLError, match=r"closed|aborted|disconnect|reset"):
        client.get(faulty.url("/close-after-request"))
    assert faulty.count("/close-after-request") == 3  # first try + 2 retries (idempotent)
    still_usable(client, faulty)


def test_close_after_request_post_is_never_sent_twice(client: Client, faulty: FaultServer) -> None:
    with pytest.raises(URLError):
        client.post(faulty.url("/close-after-request"), body=b"charge the card")
    assert faulty.count("/close-after-request") == 1
    still_usable(client, faulty)


def test_idle_keep_alive_closed_by_server_is_replaced(client: Client, faulty: FaultServer) -> None:
    client.get(faulty.url("/idle-close")).read()
    time.sleep(0.3)  # the server has closed the pooled connection by now
    with client.post(faulty.url("/ok"), body=b"once") as response:
        assert response.read() == b"ok\n"
    assert faulty.count("/ok") == 1


def test_bad_status_line(client: Client, faulty: FaultServer) -> None:
    with pytest.raises(URLError):
        client.get(faulty.url("/bad-status"))
    still_usable(client, faulty)


@pytest.mark.parametrize("path", ["/endless-headers", "/continue-endless-headers"])
def test_endless_headers_are_bounded(client: Client, faulty: FaultServer, path: str) -> None:
    with Clock() as clock, pytest.raises(URLError, match=r"(?i)header|line"):
        client.get(faulty.url(path))
    assert clock.elapsed < 10
    still_usable(client, faulty)


def test_gzip_bomb_is_capped_when_read_whole(ca_pem: Path, faulty: FaultServer) -> None:
    policy = Policy.from_dict({"defaults": {"trust": str(ca_pem)}})
    with Client(policy, max_body=1024 * 1024) as client:
        response = client.get(faulty.url("/gzip-bomb"))
        with pytest.raises(ResponseTooLarge, match="max_body=1048576"):
            response.read()
        still_usable(client, faulty)


def test_gzip_bomb_streaming_returns_what_was_asked(client: Client, faulty: FaultServer) -> None:
    with client.get(faulty.url("/gzip-bomb")) as response:
        assert response.read(1000) == b"\0" * 1000
        assert len(response.read(5000)) == 5000


def test_stacked_encodings_are_refused(client: Client, faulty: FaultServer) -> None:
    with pytest.raises(URLError, match="more than 3 stacked Content-Encodings"):
        client.get(faulty.url("/stacked-encodings"))
    still_usable(client, faulty)


def test_huge_content_length_drives_no_allocation(client: Client, faulty: FaultServer) -> None:
    # 9 TB announced, 5 bytes sent: refused by max_body up front, nothing allocated for it.
    with pytest.raises(ResponseTooLarge, match="announces 9000000000000 bytes"):
        client.get(faulty.url("/huge-length")).read()
    response = client.get(faulty.url("/huge-length"))
    with pytest.raises(URLError):
        drain(response)


def test_timeout_validation() -> None:
    with pytest.raises(ValueError, match="finite number"):
        Timeout(connect=0)
    with pytest.raises(ValueError, match="finite number"):
        Timeout(total=float("inf"))
    with pytest.raises(TypeError):
        Timeout(read="5")  # type: ignore[arg-type]
    assert Timeout.coerce(None) == Timeout()
    assert Timeout.coerce(3) == Timeout(connect=3, read=3, total=300)
    assert Timeout.coerce(500) == Timeout(connect=500, read=500, total=500)


def test_timeout_error_is_both_builtin_and_urlerror() -> None:
    import builtins
    import urllib.error

    assert issubclass(TimeoutError, builtins.TimeoutError)
    assert issubclass(TimeoutError, urllib.error.URLError)


def test_a_deadline_never_aborts_a_connection_another_request_took_over(
    client: Client, faulty: FaultServer
) -> None:
    # The first response is read to its exact length, so urllib3 returns the connection to
    # the pool, but it is never closed. A second request takes that pooled connection and is
    # still reading when the first one's deadline passes: the second must not be cut off.
    first = client.get(faulty.url("/ok"), timeout=Timeout(connect=2, read=2, total=1.0))
    assert first.read(3) == b"ok\n"
    second = client.get(faulty.url("/drip"), timeout=Timeout(connect=5, read=5, total=20))
    started = time.monotonic()
    assert second.read(8) == b"x" * 8  # one byte every 0.2 s: well past the first deadline
    assert time.monotonic() - started > 1.0
    assert faulty.count("/ok") == 1
    second.close()
    first.close()
