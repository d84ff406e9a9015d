"""The response: status, headers, bounded reading, the io protocol, and urllib's names."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from ._deadline import Watch, watchdog
from ._exceptions import HTTPError, ResponseTooLarge, SecureHTTPError, TimeoutError, URLError
from ._hosts import redact_url
from ._model import Decision
from ._transport.errors import translate

if TYPE_CHECKING:
    import urllib3
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["DEFAULT_MAX_BODY", "Response"]

DEFAULT_MAX_BODY = 256 * 1024 * 1024
_PIECE = 256 * 1024  # a whole read of unknown length goes in pieces of at most this
_LINE_PIECE = 8192
_READ1 = 65536  # read1() with no size, as io.BufferedReader's default buffer


class Response(io.RawIOBase):
    """A response: ``status``, ``reason``, ``headers`` (an ``http.client.HTTPMessage``),
    ``url``, ``decision``, ``json()``, ``raise_for_status()``, ``iter_bytes()``, urllib's
    ``getcode()``/``geturl()``/``info()``, and the ``io.RawIOBase`` reading protocol, so
    ``io.TextIOWrapper``, ``io.BufferedReader``, ``json.load`` and ``shutil.copyfileobj``
    take it as they take ``http.client.HTTPResponse``.

    ``max_body`` caps every read without a caller-chosen size (``read()``, ``readall()``,
    ``readline()``, ``readlines()``, iteration, ``json()``), counted over the whole body;
    ``read(n)``, ``read1(n)``, ``readinto(buffer)`` and ``iter_bytes(n)`` return at most their
    size and are how a large body is streamed.  Close the response (or use it as a context
    manager) to give the connection back to the pool.
    """

    def __init__(
        self,
        raw: urllib3.BaseHTTPResponse,
        url: str,
        decision: Decision,
        max_body: int,
        watch: Watch | None = None,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._watch = watch
        self.status: int = raw.status
        self.reason: str = raw.reason or http.client.responses.get(raw.status, "")
        self.url = url
        self.decision = decision
        self._max_body = max_body
        self._headers: http.client.HTTPMessage | None = None
        self._pending = b""  # what readline read past its line, from _offset on
        self._offset = 0
        self._delivered = 0
        self._done = False  # the body is over: read to its end, or the connection closed
        self._json_body: bytes | None = None
        self._refusal = self._framing_refusal()

    @property
    def headers(self) -> http.client.HTTPMessage:
        """The response headers, case-insensitive (built on first use)."""
        if self._headers is None:
            # http.client already parsed the wire headers into an HTTPMessage; urllib3 keeps
            # it on the original response.  Copying into a new one costs tens of µs.
            original = getattr(self._raw, "_original_response", None)
            parsed = getattr(original, "msg", None)
            if isinstance(parsed, http.client.HTTPMessage):
                self._headers = parsed
            else:
                message = http.client.HTTPMessage()
                for name, value in self._raw.headers.items():
                    message[name] = value
                self._headers = message
        return self._headers

    # urllib / http.client names
    @property
    def code(self) -> int:
        return self.status

    @property
    def msg(self) -> str:
        """The reason phrase, as on what ``urllib.request.urlopen`` returns (urllib sets
        ``msg`` to the reason; its handlers pass it on as ``HTTPError.msg``)."""
        return self.reason

    def getcode(self) -> int:
        return self.status

    def geturl(self) -> str:
        return self.url

    def info(self) -> http.client.HTTPMessage:
        return self.headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        values = self.headers.get_all(name)
        return ", ".join(values) if values else default

    def getheaders(self) -> list[tuple[str, str]]:
        return list(self.headers.items())

    def _framing_refusal(self) -> str | None:
        """Why the body's framing is ambiguous or invalid, or None.

        RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, and a message with both
        "ought to be handled as an error" (it is how responses are smuggled); an invalid
        Content-Length is an unrecoverable error.  http.client reads the body and urllib3
        keeps the count, and they parse these headers differently (a Transfer-Encoding of
        "chunked " is chunked to urllib3 only, "Content-Length: 5, 5" is 5 to urllib3 only):
        wherever they could disagree, the body is refused rather than read as something else.
        """
        coding = self._raw.headers.get("Transfer-Encoding")  # repeated headers joined by ", "
        length = self._raw.headers.get("Content-Length")
        if coding is not None:
            if length is not None:
                return "it has both Transfer-Encoding and Content-Length (ambiguous framing)"
            if coding.lower() != "chunked":
                return f"unsupported Transfer-Encoding {coding!r}"
            return None
        if length is None or (length.isascii() and length.isdigit()):
            return None
        values = [value.strip() for value in self.headers.get_all("Content-Length", [])]
        if all(v.isascii() and v.isdigit() for v in values) and len(set(map(int, values))) == 1:
            return None  # the same length repeated: both read it alike
        return f"invalid Content-Length {length!r}"

    # reading
    #
    # Every decoded byte handed to the caller, by any method, adds to ``_delivered``.  The
    # methods with no caller-chosen size (read() whole, readline, readlines, iteration) refuse
    # to take that total past max_body; read(n) is bounded by its n instead (SPEC §6).  Bytes
    # come off the wire only in pieces whose size this class chose: no header sizes a read.

    def _wire(self, size: int, *, partial: bool = False) -> bytes:
        """Up to ``size`` (> 0) decoded bytes from the wire, as many as one read of the
        socket gives with ``partial``; b"" at the end."""
        if self._done:
            return b""
        if self._refusal is not None:
            self._refuse(self._refusal)
        watch = self._watch
        if watch is not None and watch.expired():
            self.close()
            raise TimeoutError(
                f"reading {redact_url(self.url)}: the total deadline of {watch.total:g}s passed"
            )
        try:
            data = self._raw.read1(size) if partial else self._raw.read(size)
        except SecureHTTPError:
            raise
        except Exception as exc:
            self.close()
            if watch is not None and watch.fired:
                raise TimeoutError(
                    f"reading {redact_url(self.url)}: the total deadline of {watch.total:g}s passed"
                ) from exc
            limits = watch.limits if watch is not None else None
            error = translate(exc, self.url, limits=limits, reading_body=True)
            if isinstance(error, TimeoutError) and watch is not None and watch.expired():
                # The read timeout, cut to what was left of the deadline, beat the watchdog.
                raise TimeoutError(
                    f"reading {redact_url(self.url)}: the total deadline of {watch.total:g}s passed"
                ) from exc
            raise error from exc
        if not data:
            self._finish()
        return data

    def _refuse(self, why: str) -> NoReturn:
        self.close()
        raise URLError(f"refused the body of {redact_url(self.url)}: {why}")

    def _take_pending(self, size: int) -> bytes:
        """Up to ``size`` bytes that readline read ahead, or b"" when there are none."""
        start = self._offset
        end = min(len(self._pending), start + size)
        self._offset = end
        return self._pending[start:end]

    def _deliver(self, data: bytes, capped: bool) -> bytes:
        self._delivered += len(data)
        if capped and self._delivered > self._max_body:
            self._too_large()
        return data

    def _too_large(self) -> NoReturn:
        self.close()
        raise ResponseTooLarge(
            f"the body of {redact_url(self.url)} is larger than max_body={self._max_body} bytes"
        )

    def read(self, amt: int | None = None) -> bytes:
        """``read(n)``: up to ``n`` bytes, fewer only at the end; ``read()``: the rest of the
        body, within ``max_body`` or :class:`ResponseTooLarge`."""
        if amt is None or amt < 0:
            return self._read_whole()
        if amt == 0:
            return b""  # never a read of the wire: its empty answer would mean the end
        if self._offset < len(self._pending):
            data = self._take_pending(amt)
            if len(data) < amt:
                data += self._wire(amt - len(data))
        else:
            data = self._wire(amt)
        self._delivered += len(data)
        return data

    def readall(self) -> bytes:
        """The rest of the body, as ``read()``; what ``io.BufferedReader.read()`` calls."""
        return self._read_whole()

    def read1(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes with at most one read of the socket (what
        ``io.TextIOWrapper`` reads with, so a line is returned as soon as it arrives)."""
        if size == 0:
            return b""
        size = _READ1 if size < 0 else size
        if self._offset < len(self._pending):
            data = self._take_pending(size)
        else:
            data = self._wire(size, partial=True)
        self._delivered += len(data)
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Read up to ``len(buffer)`` bytes into it; 0 at the end."""
        with memoryview(buffer) as view, view.cast("B") as target:
            data = self.read(len(target))
            target[: len(data)] = data
        return len(data)

    def iter_bytes(self, size: int = 65536) -> Iterator[bytes]:
        """The rest of the body in pieces of ``size`` bytes (the last may be shorter)."""
        if size <= 0:
            raise ValueError(f"iter_bytes() needs a size above 0, not {size}")
        return iter(lambda: self.read(size), b"")

    def json(self) -> Any:
        """The body parsed as JSON, read whole (``max_body`` applies).

        Decoded as RFC 8259 says and ``json.loads`` does for bytes: UTF-8, or UTF-16 or
        UTF-32 recognised from the first bytes, a byte order mark ignored; a Content-Type
        charset is not consulted (application/json defines none).  Invalid JSON or text
        raises ``ValueError``.  The body is kept, so ``json()`` may be called again.
        """
        if self._json_body is None:
            self._json_body = self.read()
        return json.loads(self._json_body)

    def raise_for_status(self) -> Response:
        """Raise :class:`~securehttp.HTTPError` for a 4xx or 5xx status; else return self.

        The error reads this response's body (``error.read()``), and its ``url`` is shown
        without credentials.  Closing or dropping the error leaves the response open.
        """
        if 400 <= self.status < 600:
            raise HTTPError(
                redact_url(self.url),
                self.status,
                self.reason,
                self.headers,
                _Borrowed(self),  # type: ignore[arg-type]  # urllib only reads it
            )
        return self

    def _read_whole(self) -> bytes:
        if self._refusal is not None and not self._done:
            self._refuse(self._refusal)
        # Raises at once when earlier reads already passed max_body, so the room left below
        # is never negative (a negative size would read everything).
        head = self._deliver(self._take_pending(len(self._pending)), capped=True)
        length = self._raw.length_remaining  # urllib3's framing: None when chunked or unknown
        if length is not None and not self._done and not self._raw.headers.get("Content-Encoding"):
            # Exactly ``length`` decoded bytes follow (a shorter body is an error, raised by
            # urllib3): one read of that size, allowed only within max_body.
            if self._delivered + length > self._max_body:
                self.close()
                raise ResponseTooLarge(
                    f"{redact_url(self.url)} announces {length} bytes, "
                    f"more than max_body={self._max_body}"
                )
            # An empty body still needs its read: that is what ends http.client's response.
            body = self._deliver(self._wire(length or 1), capped=True)
            self._finish()
            return head + body if head else body
        # Length unknown (chunked, close-delimited or encoded): grow one buffer.  BytesIO
        # grows in place (realloc, pages touched only as written) and getvalue() hands that
        # same buffer over, so peak memory is the body, not the pieces plus their join.
        buffer = io.BytesIO()
        buffer.write(head)
        while piece := self._wire(min(_PIECE, self._max_body - self._delivered + 1)):
            buffer.write(self._deliver(piece, capped=True))
        return buffer.getvalue()

    def readline(self, size: int | None = -1) -> bytes:
        """One line, ``size`` bytes at most; counts against ``max_body`` like ``read()``."""
        limit = -1 if size is None else size
        parts: list[bytes] = []
        got = 0
        while limit < 0 or got < limit:
            if self._offset >= len(self._pending):
                chunk = self._wire(_LINE_PIECE)
                if not chunk:
                    break
                self._pending, self._offset = chunk, 0
            pending, start = self._pending, self._offset
            stop = len(pending) if limit < 0 else min(len(pending), start + limit - got)
            newline = pending.find(b"\n", start, stop)
            end = stop if newline < 0 else newline + 1
            self._offset = end
            parts.append(self._deliver(pending[start:end], capped=True))
            got += end - start
            if newline >= 0:
                break
        return b"".join(parts)

    # the rest of the io protocol (``closed``, iteration over lines, ``readlines``,
    # ``seekable`` and ``isatty`` false, context manager) comes from io.IOBase

    def readable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> NoReturn:
        raise io.UnsupportedOperation("a response is read, not written")

    @property
    def name(self) -> str:
        """The URL without credentials (what ``io.TextIOWrapper`` gives as its name)."""
        return redact_url(self.url)

    def fileno(self) -> int:
        """The socket's descriptor while the body is being read (as http.client gives it)."""
        self._checkClosed()
        if self._done:
            raise io.UnsupportedOperation(
                "the body is read: its connection is back in the pool or closed"
            )
        return self._raw.fileno()

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._stop_watch()
            self._raw.release_conn()

    def _stop_watch(self) -> None:
        if self._watch is not None:
            watchdog.cancel(self._watch)

    def close(self) -> None:
        try:
            if not self._done:
                self._done = True
                self._stop_watch()
                # Unread body: the connection cannot be reused, so close it, then free the slot.
                self._raw.close()
                self._raw.release_conn()
        finally:
            super().close()

    def __del__(self) -> None:
        # io.IOBase would call close(), which gives the slot back to the pool under the
        # pool's lock; a finalizer may run inside any code of this thread, that lock's holder
        # included (a cycle collected mid-allocation).  Close the socket only.
        if not getattr(self, "_done", True):
            self._done = True
            self._stop_watch()
            with contextlib.suppress(Exception):
                self._raw.close()

    def __repr__(self) -> str:
        return f"<Response [{self.status}] {redact_url(self.url)}>"


class _Borrowed(io.RawIOBase):
    """A response's body as the error from ``raise_for_status`` reads it.

    urllib's ``HTTPError`` closes its file when the error is collected; the caller still
    holds the response, so closing this view leaves the response (and its connection) alone.
    """

    def __init__(self, response: Response) -> None:
        super().__init__()
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._response.readinto(buffer)

    def read(self, size: int | None = -1) -> bytes:
        return self._response.read(size)

    def readall(self) -> bytes:
        return self._response.readall()

    def readline(self, size: int | None = -1) -> bytes:
        return self._response.readline(size)
