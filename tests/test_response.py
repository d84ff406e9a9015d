"""The response: max_body however the body is framed and read, whole reads, the io protocol.

Bodies come from real servers on loopback: ``tests/faultserver.py`` writes raw bytes, so a
framing that no well-behaved server library would produce can still be sent.
"""

from __future__ import annotations

import array
import contextlib
import gc
import http.client
import io
import json
import os
import shutil
import ssl
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import securehttp
from securehttp import Client, HTTPError, Policy, ResponseTooLarge, Timeout, URLError
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
    "readall()": lambda r: r.readall(),
    "readlines()": lambda r: b"".join(r.readlines()),
    "iteration": lambda r: b"".join(list(r)),
    "readline() loop": _read_lines_one_by_one,
    "json()": lambda r: r.json(),
    "json.load": lambda r: json.load(r),
    "BufferedReader.read()": lambda r: io.BufferedReader(r).read(),
    "TextIOWrapper.read()": lambda r: io.TextIOWrapper(r, encoding="utf-8").read().encode(),
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


@pytest.mark.parametrize("reader", ["readline()", "json()"])
@pytest.mark.parametrize("framing", ACCEPTED)
def test_one_line_over_max_body_is_refused(
    capped: Client, faulty: FaultServer, framing: str, reader: str
) -> None:
    response = capped.get(faulty.url(f"/framing/{framing}/{BIG}-flat"))
    with pytest.raises(ResponseTooLarge, match=f"max_body={CAP}"):
        response.readline() if reader == "readline()" else response.json()


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


# --- the everyday API: json(), raise_for_status(), iter_bytes() -------------------------------


def _body_url(server: FaultServer, body: bytes) -> str:
    return server.url("/body/" + body.hex())


@pytest.mark.parametrize(
    "encoded",
    [
        '{"a": ["ü", 1]}'.encode(),
        b"\xef\xbb\xbf" + '{"a": ["ü", 1]}'.encode(),  # a UTF-8 byte order mark, ignored
        '{"a": ["ü", 1]}'.encode("utf-16-le"),
        '{"a": ["ü", 1]}'.encode("utf-16"),  # with its byte order mark
        '{"a": ["ü", 1]}'.encode("utf-32-be"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-bom", "utf-32-be"],
)
def test_json_decodes_what_rfc_8259_allows(
    capped: Client, faulty: FaultServer, encoded: bytes
) -> None:
    with capped.get(_body_url(faulty, encoded)) as response:
        assert response.json() == {"a": ["ü", 1]}
        assert response.json() == {"a": ["ü", 1]}  # the body is kept for a second call


@pytest.mark.parametrize(
    "body", [b"{'a': 1}", b'{"a": "\xff"}', b""], ids=["not-json", "not-utf-8", "empty"]
)
def test_json_refuses_what_is_not_json(capped: Client, faulty: FaultServer, body: bytes) -> None:
    with (
        capped.get(_body_url(faulty, body)) as response,
        pytest.raises(ValueError, match=r"Expecting|can't decode"),
    ):
        response.json()


@pytest.mark.parametrize("path", ["/", "/status/204", "/redirect?to=/&code=302"])
def test_raise_for_status_returns_the_response_below_400(
    good_server: Any, trusting: Policy, path: str
) -> None:
    with Client(trusting) as client, client.get(good_server.url(path), redirect=False) as r:
        assert r.raise_for_status() is r


@pytest.mark.parametrize("code", [400, 404, 500, 503])
def test_raise_for_status_raises_httperror_at_400_and_above(
    good_server: Any, trusting: Policy, code: int
) -> None:
    url = good_server.url(f"/status/{code}").replace("https://", "https://alice:s3cret@")
    with Client(trusting) as client:
        response = client.get(url)
        with pytest.raises(HTTPError) as caught:
            response.raise_for_status()
        error = caught.value
        assert isinstance(error, securehttp.URLError)
        assert (error.code, error.reason, error.headers["X-Test"]) == (
            code,
            http.client.responses[code],
            "yes",
        )
        assert error.url == good_server.url(f"/status/{code}")  # no credentials
        assert "s3cret" not in str(error) + repr(error) + repr(response)
        assert error.read() == f"status {code}\n".encode()
        # Dropping the error (urllib's closes its file when collected) leaves the response.
        del caught, error
        gc.collect()
        assert not response.closed
        response.close()


def test_the_error_body_stays_readable_from_the_response(
    good_server: Any, trusting: Policy
) -> None:
    with Client(trusting) as client, client.get(good_server.url("/status/404")) as response:
        with pytest.raises(HTTPError):
            response.raise_for_status()
        gc.collect()
        assert response.read() == b"status 404\n"


@pytest.mark.parametrize("framing", ACCEPTED)
def test_iter_bytes_streams_in_pieces_of_at_most_n(
    capped: Client, faulty: FaultServer, framing: str
) -> None:
    with capped.get(faulty.url(f"/framing/{framing}/{BIG}")) as response:
        head = response.read(10)
        pieces = list(response.iter_bytes(50_000))
    assert max(map(len, pieces)) <= 50_000
    assert head + b"".join(pieces) == json_lines(BIG)


@pytest.mark.parametrize("size", [0, -1])
def test_iter_bytes_refuses_a_size_that_reads_nothing(
    capped: Client, faulty: FaultServer, size: int
) -> None:
    with capped.get(faulty.url("/ok")) as response:
        with pytest.raises(ValueError, match="above 0"):
            response.iter_bytes(size)
        assert response.read() == b"ok\n"


# --- the io protocol, compared with http.client.HTTPResponse ----------------------------------


@contextlib.contextmanager
def _with_http_client(
    server: FaultServer, ca_pem: Path, path: str
) -> Iterator[http.client.HTTPResponse]:
    context = ssl.create_default_context(cafile=str(ca_pem))
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context)
    try:
        connection.request("GET", path)
        with connection.getresponse() as response:
            yield response
    finally:
        connection.close()


def _copy(response: Any) -> bytes:
    out = io.BytesIO()
    shutil.copyfileobj(response, out)
    return out.getvalue()


def _readinto_loop(response: Any) -> bytes:
    out, buffer = bytearray(), bytearray(7000)
    while count := response.readinto(buffer):
        assert 0 < count <= len(buffer)
        out += buffer[:count]
    return bytes(out)


def _read1_loop(response: Any) -> bytes:
    pieces = [response.read1(100)]  # a size, then the default
    while piece := response.read1():
        pieces.append(piece)
    assert 0 < len(pieces[0]) <= 100
    return b"".join(pieces)


# Ways of reading that http.client.HTTPResponse supports, each giving bytes or text.
IO_USES: dict[str, Callable[[Any], Any]] = {
    "TextIOWrapper lines": lambda r: list(io.TextIOWrapper(r, encoding="utf-8")),
    "BufferedReader+TextIOWrapper lines": lambda r: list(
        io.TextIOWrapper(io.BufferedReader(r), encoding="utf-8")
    ),
    "BufferedReader.read(n)": lambda r: io.BufferedReader(r).read(5000),
    "json.load": lambda r: json.load(r),
    "shutil.copyfileobj": _copy,
    "readinto loop": _readinto_loop,
    "read1 loop": lambda r: _read1_loop(r),
    "readlines": lambda r: r.readlines(),
    "readlines(hint)": lambda r: r.readlines(1000),
    "iteration": lambda r: list(r),
    "readline(limit)": lambda r: [r.readline(1), r.readline(1), r.readline(30)],
}


@pytest.mark.parametrize("use", IO_USES)
@pytest.mark.parametrize("framing", ["length", "chunked", "gzip"])
def test_io_uses_give_what_http_client_gives(
    capped: Client, faulty: FaultServer, ca_pem: Path, framing: str, use: str
) -> None:
    path = f"/framing/{framing}/{SMALL}"
    with (
        _with_http_client(faulty, ca_pem, path.replace("gzip", "length")) as reference,
        capped.get(faulty.url(path)) as response,
    ):
        expected = IO_USES[use](reference)
        assert IO_USES[use](response) == expected
        assert expected  # a comparison of two empty results would show nothing


def test_large_bodies_are_copied_whole_in_pieces(capped: Client, faulty: FaultServer) -> None:
    # copyfileobj reads in pieces: a download past max_body is the caller's choice to make.
    with capped.get(faulty.url(f"/framing/chunked/{BIG}")) as response:
        assert _copy(response) == json_lines(BIG)


def test_readinto_takes_any_writable_buffer(capped: Client, faulty: FaultServer) -> None:
    with capped.get(_body_url(faulty, bytes(range(16)))) as response:
        assert response.readinto(bytearray()) == 0  # an empty buffer reads nothing...
        words = array.array("i", [0, 0])
        assert response.readinto(words) == 8  # ...bytes, whatever the buffer's item size
        assert words.tobytes() == bytes(range(8))
        view = memoryview(bytearray(100))
        assert response.readinto(view) == 8
        assert view[:8].tobytes() == bytes(range(8, 16))
        assert response.readinto(view) == 0


def test_io_flags_are_those_of_a_readable_stream(capped: Client, faulty: FaultServer) -> None:
    response = capped.get(faulty.url("/ok"))
    assert isinstance(response, io.RawIOBase)
    assert (response.readable(), response.seekable(), response.writable()) == (True, False, False)
    assert response.isatty() is False
    with pytest.raises(io.UnsupportedOperation):
        response.seek(0)
    with pytest.raises(io.UnsupportedOperation):
        response.write(b"x")
    assert stat.S_ISSOCK(os.fstat(response.fileno()).st_mode)
    assert response.read() == b"ok\n"
    # As with http.client: read to the end is not closed; it only reads nothing more.
    assert not response.closed
    assert response.read() == b""
    with pytest.raises(io.UnsupportedOperation, match="back in the pool"):
        response.fileno()  # the socket now serves other requests
    response.close()


def test_a_closed_response_is_closed_as_a_file_is(capped: Client, faulty: FaultServer) -> None:
    response = capped.get(faulty.url("/ok"))
    response.close()
    assert response.closed
    assert response.read() == b""  # as http.client's
    with pytest.raises(ValueError, match="closed"):
        response.fileno()
    with pytest.raises(ValueError, match="closed"):
        next(iter(response))
    with capped.get(faulty.url("/ok")) as response:  # the twin: open, it reads
        assert response.read() == b"ok\n"


def test_a_dropped_unread_response_frees_its_connection_quietly(
    capped: Client, faulty: FaultServer
) -> None:
    response = capped.get(faulty.url(f"/framing/length/{BIG}"))
    assert response.read(10) == b'[\n"xxxxxxx'
    del response
    gc.collect()  # no warning, no unraisable error (both fail the test run)
    with capped.get(faulty.url("/ok")) as response:
        assert response.read() == b"ok\n"


# --- URL credentials never show --------------------------------------------------------------


def test_messages_and_reprs_hide_url_credentials(capped: Client, faulty: FaultServer) -> None:
    secret = "https://alice:s3cret@"
    response = capped.get(faulty.url(f"/framing/chunked/{BIG}").replace("https://", secret))
    assert "s3cret" not in repr(response)
    with pytest.raises(ResponseTooLarge) as too_large:
        response.read()
    refused = capped.get(faulty.url("/framing/length+chunked/10").replace("https://", secret))
    with pytest.raises(URLError) as ambiguous:
        refused.read()
    for error in (too_large.value, ambiguous.value):
        assert "alice" not in str(error)
        assert "s3cret" not in str(error)
        assert "127.0.0.1" in str(error)
