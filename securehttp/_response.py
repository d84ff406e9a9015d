"""The response: status, headers, bounded reading, and urllib's names."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._deadline import Watch, watchdog
from ._exceptions import ResponseTooLarge, SecureHTTPError, TimeoutError
from ._hosts import redact_url
from ._model import Decision
from ._transport.errors import translate

if TYPE_CHECKING:
    import urllib3

__all__ = ["DEFAULT_MAX_BODY", "Response"]

DEFAULT_MAX_BODY = 256 * 1024 * 1024
_ONE_READ = 256 * 1024


class Response:
    """A response: ``status``, ``reason``, ``headers`` (an ``http.client.HTTPMessage``),
    ``url``, ``decision``, file-like reading, and urllib's ``getcode()``/``geturl()``/``info()``.

    Close it (or use it as a context manager) to give the connection back to the pool.
    """

    def __init__(
        self,
        raw: urllib3.BaseHTTPResponse,
        url: str,
        decision: Decision,
        max_body: int,
        watch: Watch | None = None,
    ) -> None:
        self._raw = raw
        self._watch = watch
        self.status: int = raw.status
        self.reason: str = raw.reason or http.client.responses.get(raw.status, "")
        self.url = url
        self.decision = decision
        self._max_body = max_body
        self._headers: http.client.HTTPMessage | None = None
        self._buffer = b""
        self._done = False

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
    def msg(self) -> http.client.HTTPMessage:
        return self.headers

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

    # reading
    def _chunk(self, size: int | None) -> bytes:
        """Up to ``size`` decoded bytes (all, for None) from the buffer or the wire; b"" at
        the end."""
        if self._buffer:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        if self._done:
            return b""
        watch = self._watch
        if watch is not None and watch.expired():
            self.close()
            raise TimeoutError(
                f"reading {redact_url(self.url)}: the total deadline of {watch.total:g}s passed"
            )
        try:
            data = self._raw.read(size)
        except SecureHTTPError:
            raise
        except Exception as exc:
            self.close()
            if watch is not None and watch.fired:
                raise TimeoutError(
                    f"reading {redact_url(self.url)}: the total deadline of {watch.total:g}s passed"
                ) from exc
            raise translate(exc, self.url) from exc
        if not data:
            self._finish()
        return data

    def read(self, amt: int | None = None) -> bytes:
        if self._done and not self._buffer:
            return b""
        if amt is not None and amt >= 0:
            out = bytearray()
            while len(out) < amt and (chunk := self._chunk(amt - len(out))):
                out += chunk
            return bytes(out)
        length = self._raw.headers.get("Content-Length", "")
        plain = not self._raw.headers.get("Content-Encoding")
        if plain and length.isdigit() and int(length) > self._max_body:
            self.close()
            raise ResponseTooLarge(
                f"{redact_url(self.url)} announces {length} bytes, "
                f"more than max_body={self._max_body}"
            )
        if plain and not self._buffer and length.isdigit() and int(length) <= _ONE_READ:
            # One read for a small announced body; http.client allocates what is asked for, so
            # only a small Content-Length may size it (a large one never drives an allocation).
            data = self._chunk(None)  # read() with no amount: urllib3's cheapest path
            self._finish()
            return data
        chunks: list[bytes] = []
        size = 0
        while chunk := self._chunk(65536):
            size += len(chunk)
            if size > self._max_body:
                self.close()
                raise ResponseTooLarge(
                    f"the body of {redact_url(self.url)} is larger than "
                    f"max_body={self._max_body} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def readline(self, limit: int = -1) -> bytes:
        line = bytearray()
        while limit < 0 or len(line) < limit:
            want = 8192 if limit < 0 else min(8192, limit - len(line))
            chunk = self._chunk(want)
            if not chunk:
                break
            end = chunk.find(b"\n")
            if end >= 0:
                line += chunk[: end + 1]
                self._buffer = chunk[end + 1 :] + self._buffer
                break
            line += chunk
        return bytes(line)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._done

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._stop_watch()
            self._raw.release_conn()

    def _stop_watch(self) -> None:
        if self._watch is not None:
            watchdog.cancel(self._watch)

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._stop_watch()
            # Unread body: the connection cannot be reused, so close it, then free the slot.
            self._raw.close()
            self._raw.release_conn()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response [{self.status}] {redact_url(self.url)}>"
