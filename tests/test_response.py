"""The response: max_body however the body is framed and read, whole reads, the io protocol.

Bodies come from real servers on loopback: ``tests/faultserver.py`` writes raw bytes, so a
framing that no well-behaved server library would produce can still be sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from securehttp import Client, Policy, ResponseTooLarge, Timeout, URLError
from securehttp._response import Response

from .faultserver import FaultServer, fault_server, json_flat, json_lines
from .tlsserver import server_context

CAP = 256 * 1024
BIG = 1024 * 1024  # four times the cap
SMALL = 16 * 1024


@pytest.fixture(scope="module")
def faulty(localhost_cert: Any) -> Iterator[FaultServer]:
    with fault_server(server_context(localhost_cert)) as server:
        yield server


@pytest.fixture
def capped(ca_pem: Path) -> Iterator[Client]:
    policy = Policy.from_dict({"defaults": {"trust": str(ca_pem)}})
    with Client(policy, timeout=Timeout(connect=5, read=5, total=20), max_body=CAP) as client:
        yield client


def _read_lines_one_by_one(response: Response) -> bytes:
    lines = []
    while line := response.readline():
        lines.append(line)
    return b"".join(lines)


def _read_4096(response: Response) -> bytes:
    return response.read(4096)


# Every way of reading that has no caller-chosen size, with what it gives for a body.
WHOLE_READS: dict[str, Callable[[Response], Any]] = {
    "read()": lambda r: r.read(),
    "read(-1)": lambda r: r.read(-1),
    "read(None)": lambda r: r.read(None),
    "readlines()": lambda r: b"".join(r.readlines()),
    "iteration": lambda r: b"".join(list(r)),
    "readline() loop": _read_lines_one_by_one,
    "json.load": lambda r: json.load(r),
}

# Framings read as the server meant them.
ACCEPTED = ["length", "length-repeated", "chunked", "close", "gzip", "gzip-chunked"]
# Framings whose length is ambiguous (a Content-Length beside Transfer-Encoding, two different
# Content-Lengths, "n, n" in one header, which http.client and urllib3 read differently), invalid,
# or a Transfer-Encoding spelled so that http.client would not de-chunk it: refused, whatever
# the size, never read as something else.
REFUSED = [
    "length+chunked",
    "chunked+length",
    "length+Chunked",
    "length+chunked-spaced",
    "length+huge-chunk",
    "two-lengths",
    "chunked-spaced",
    "length-listed",
    "length-invalid",
]
REFUSAL = r"Transfer-Encoding|Content-Length"


def _expected(reader: str, body: bytes) -> Any:
    return json.loads(body) if reader.startswith("json") else body


@pytest.mark.parametrize("reader", WHOLE_READS)
@pytest.mark.parametrize("framing", ACCEPTED)
def test_a_body_over_max_body_is_refused_however_framed_and_read(
    capped: Client, faulty: FaultServer, framing: str, reader: str
) -> None:
    response = capped.get(faulty.url(f"/framing/{framing}/{BIG}"))
    with pytest.raises(ResponseTooLarge, match=f"max_body={CAP}"):
        WHOLE_READS[reader](response)


@pytest.mark.parametrize("reader", WHOLE_READS)
@pytest.mark.parametrize("framing", ACCEPTED)
def test_a_body_under_max_body_is_read_whole_however_framed(
    capped: Client, faulty: FaultServer, framing: str, reader: str
) -> None:
    with capped.get(faulty.url(f"/framing/{framing}/{SMALL}")) as response:
        assert WHOLE_READS[reader](response) == _expected(reader, json_lines(SMALL))


@pytest.mark.parametrize("framing", ACCEPTED)
def test_one_line_over_max_body_is_refused(
    capped: Client, faulty: FaultServer, framing: str
) -> None:
    response = capped.get(faulty.url(f"/framing/{framing}/{BIG}-flat"))
    with pytest.raises(ResponseTooLarge, match=f"max_body={CAP}"):
        response.readline()


@pytest.mark.parametrize("framing", ACCEPTED)
def test_one_line_under_max_body_is_read(capped: Client, faulty: FaultServer, framing: str) -> None:
    with capped.get(faulty.url(f"/framing/{framing}/{SMALL}-flat")) as response:
        assert response.readline() == json_flat(SMALL)
        assert response.readline() == b""


@pytest.mark.parametrize("framing", ACCEPTED)
def test_iteration_stops_at_max_body_having_given_no_more(
    capped: Client, faulty: FaultServer, framing: str
) -> None:
    delivered: list[bytes] = []
    response = capped.get(faulty.url(f"/framing/{framing}/{BIG}"))
    with pytest.raises(ResponseTooLarge):
        delivered.extend(response)
    assert CAP - 64 < sum(map(len, delivered)) <= CAP


@pytest.mark.parametrize(
    ("size", "reader"),
    [(SMALL, name) for name in [*WHOLE_READS, "read(4096)"]]
    + [(BIG, name) for name in ["read()", "readline() loop", "read(4096)"]],
)
@pytest.mark.parametrize("framing", REFUSED)
def test_ambiguous_framing_is_refused_never_read_as_something_else(
    capped: Client, faulty: FaultServer, framing: str, size: int, reader: str
) -> None:
    read = WHOLE_READS.get(reader, _read_4096)
    with pytest.raises(URLError, match=REFUSAL):
        read(capped.get(faulty.url(f"/framing/{framing}/{size}")))


@pytest.mark.parametrize("framing", ACCEPTED)
def test_reading_in_pieces_is_not_capped(capped: Client, faulty: FaultServer, framing: str) -> None:
    # SPEC §6: max_body caps reads with no caller-chosen size; a loop of read(n) is how large
    # downloads are written, each call bounded by its n.
    with capped.get(faulty.url(f"/framing/{framing}/{BIG}")) as response:
        pieces = list(iter(lambda: response.read(65536), b""))
    assert max(map(len, pieces)) <= 65536
    assert b"".join(pieces) == json_lines(BIG)


@pytest.mark.parametrize("framing", ACCEPTED)
def test_a_whole_read_counts_what_was_read_before(
    capped: Client, faulty: FaultServer, framing: str
) -> None:
    # One running total per body: read(n) first does not reset what read() may still take.
    response = capped.get(faulty.url(f"/framing/{framing}/{CAP + 1000}"))
    assert len(response.read(2000)) == 2000
    with pytest.raises(ResponseTooLarge):
        response.read()
    # Already past max_body by streaming: a whole read of the rest refuses at once.
    response = capped.get(faulty.url(f"/framing/{framing}/{BIG}"))
    assert len(response.read(CAP + 100)) == CAP + 100
    with pytest.raises(ResponseTooLarge):
        response.read()
    with capped.get(faulty.url(f"/framing/{framing}/{CAP - 1000}")) as response:
        head = response.read(2000) + response.readline()
        assert head + response.read() == json_lines(CAP - 1000)


def test_a_huge_chunk_size_drives_no_allocation(capped: Client, faulty: FaultServer) -> None:
    # A chunk announced at 1 TiB: read in bounded pieces, so the cap or the early end decides.
    with pytest.raises(ResponseTooLarge):
        capped.get(faulty.url(f"/framing/huge-chunk/{BIG}")).read()
    with pytest.raises(URLError, match=r"(?i)incomplete|connection"):
        capped.get(faulty.url(f"/framing/huge-chunk/{SMALL}")).read()


def test_a_redirect_body_is_never_read_by_its_content_length(
    capped: Client, faulty: FaultServer
) -> None:
    # The same trust in a small Content-Length, when a redirect's body is thrown away: the
    # chunked body behind it must not be read whole (the connection is closed instead).
    with capped.get(faulty.url("/redirect-length-chunked")) as response:
        assert response.read() == b"ok\n"
    for _ in range(200):  # the server notices the closed connection within milliseconds
        with faulty.lock:
            if "/redirect-length-chunked" in faulty.written:
                break
        time.sleep(0.05)
    assert faulty.written["/redirect-length-chunked"] < 32 * 1024 * 1024
