"""What one request sends: the method, URL, headers and body that a caller's keywords make
(``params``, ``body``, ``json``, ``auth``, ``headers``, URL userinfo), checked before
anything is sent.  The client (:mod:`._client`) follows redirects with the result.

Every keyword is checked here with a message that names it, so a wrong value fails where
it was written, not somewhere inside urllib3 at request time.
"""

from __future__ import annotations

import base64
import io
import json as jsonlib
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias, cast

from ._hosts import Target, split_url
from ._version import __version__

__all__ = [
    "JSON",
    "Auth",
    "Body",
    "Outgoing",
    "Params",
    "Stream",
    "basic_auth",
    "check_auth",
    "check_headers",
    "merge_headers",
    "prepare",
]

USER_AGENT = f"securehttp/{__version__}"
CHUNK = 65536  # how much of a file body is read per send

FORBIDDEN = re.compile(r"[\x00\r\n]")
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


if TYPE_CHECKING:

    class SupportsRead(Protocol):
        """A binary file: what ``open(path, "rb")``, ``io.BytesIO`` and sockets' files are."""

        def read(self, size: int = ..., /) -> bytes: ...


ParamValue: TypeAlias = str | int | float
Params: TypeAlias = (
    Mapping[str, ParamValue | Sequence[ParamValue] | None] | Iterable[tuple[str, ParamValue]]
)
JSON: TypeAlias = bool | int | float | str | Sequence["JSON"] | Mapping[str, "JSON"] | None
Body: TypeAlias = "bytes | bytearray | memoryview | str | SupportsRead | Iterable[bytes]"
Auth: TypeAlias = tuple[str, str]


class Outgoing:
    """One prepared request: ``url`` has no userinfo (it became ``Authorization``) and holds
    the merged query; ``headers`` are merged case-insensitively, later layers winning.
    (A plain class: defining a NamedTuple costs about 0.2 ms of every start.)"""

    __slots__ = ("body", "headers", "method", "target", "url")

    def __init__(
        self,
        method: str,
        url: str,
        target: Target,
        headers: dict[str, str],
        body: bytes | Stream | None,
    ) -> None:
        self.method = method
        self.url = url
        self.target = target
        self.headers = headers
        self.body = body


def prepare(
    method: str,
    url: str,
    *,
    params: Params | None,
    body: Body | None,
    json: JSON,
    headers: Mapping[str, str] | None,
    auth: Auth | None,
    client_headers: Mapping[str, str],
    client_auth: Auth | None,
) -> Outgoing:
    """Turn one call's keywords into what goes on the wire (first hop)."""
    if not isinstance(method, str) or not TOKEN.match(method):
        raise ValueError(f"invalid HTTP method {method!r}")
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    if FORBIDDEN.search(url):
        raise ValueError("URL contains CR, LF or NUL")
    target = split_url(url)
    url, userinfo = _split_userinfo(url)
    if params is not None:
        url = _with_params(url, params)
    if headers is not None:
        check_headers(headers)
    if auth is not None:
        check_auth(auth)
    layers: list[Mapping[str, str]] = [{"User-Agent": USER_AGENT}, client_headers]
    # The most specific credentials win: this call's auth=, then its Authorization header,
    # the URL's userinfo, the client's auth=, the client's Authorization header.
    if client_auth is not None:
        layers.append({"Authorization": basic_auth(client_auth)})
    if userinfo is not None:
        layers.append({"Authorization": basic_auth(userinfo)})
    layers.append(headers or {})
    if auth is not None:
        layers.append({"Authorization": basic_auth(auth)})
    merged = merge_headers(*layers)
    if json is not None:  # as in requests: json=None is no JSON body, not "null"
        if body is not None:
            raise TypeError("pass body= or json=, not both")
        data: bytes | Stream | None = _json_bytes(json)
        _set_default(merged, "Content-Type", "application/json")
    else:
        data = _body(body, merged)
    return Outgoing(method.upper(), url, target, merged, data)


# --- headers and credentials ------------------------------------------------------------------


def check_headers(headers: object, where: str = "headers=") -> None:
    if not isinstance(headers, Mapping):
        raise TypeError(
            f"{where} takes a mapping of header names to str values, not {type(headers).__name__}"
        )
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"{where}: header names and values must be str, not "
                f"{type(name).__name__}: {type(value).__name__}"
            )
        if not TOKEN.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if FORBIDDEN.search(value):
            # The value itself is not shown: it may be a credential.
            raise ValueError(f"header {name!r} contains CR, LF or NUL")


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Merge header mappings by name, case-insensitively; a later layer's value wins and
    its spelling of the name is the one sent."""
    merged: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.items():
            old = spelled.get(name.lower())
            if old is not None:
                del merged[old]
            spelled[name.lower()] = name
            merged[name] = value
    return merged


def has_header(headers: Mapping[str, str], name: str) -> bool:
    name = name.lower()
    return any(key.lower() == name for key in headers)


def _set_default(headers: dict[str, str], name: str, value: str) -> None:
    if not has_header(headers, name):
        headers[name] = value


def check_auth(auth: object) -> None:
    if (
        not isinstance(auth, (tuple, list))
        or len(auth) != 2
        or not all(isinstance(part, str) for part in auth)
    ):
        raise TypeError("auth= takes a (user, password) pair of str")
    if ":" in auth[0]:
        # RFC 7617: the user-id ends at the first colon, so the server would misread it.
        raise ValueError("auth=: a user name for Basic authentication cannot contain ':'")
    if any(FORBIDDEN.search(part) for part in auth):
        raise ValueError("auth=: the user name and password cannot contain CR, LF or NUL")


def basic_auth(auth: Auth) -> str:
    """``Authorization: Basic`` for a user and password, encoded as UTF-8 (RFC 7617)."""
    user, password = auth
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _split_userinfo(url: str) -> tuple[str, Auth | None]:
    """The URL without userinfo, and the userinfo percent-decoded as (user, password).
    ``url`` passed split_url: it is ``scheme://authority...``, the authority ending at the
    first ``/``, ``?`` or ``#``."""
    start = url.find("://") + 3
    end = min((i for i in (url.find(c, start) for c in "/?#") if i >= 0), default=len(url))
    if "@" not in url[start:end]:
        return url, None
    userinfo, _, hostport = url[start:end].rpartition("@")
    user, _, password = userinfo.partition(":")
    credentials = (urllib.parse.unquote(user), urllib.parse.unquote(password))
    if ":" in credentials[0] or any(FORBIDDEN.search(part) for part in credentials):
        raise ValueError("the URL's user name cannot hold ':', CR, LF or NUL once decoded")
    return url[:start] + hostport + url[end:], credentials


# --- the query ---------------------------------------------------------------------------------


def _with_params(url: str, params: Params) -> str:
    """``url`` with ``params`` appended to its query (what was there stays first)."""
    pairs = _param_pairs(params)
    if not pairs:
        return url
    query = urllib.parse.urlencode(pairs)
    base, hash_, fragment = url.partition("#")
    path, _, existing = base.partition("?")
    joined = f"{existing}&{query}" if existing else query
    return f"{path}?{joined}{hash_}{fragment}"


def _param_pairs(params: object) -> list[tuple[str, str]]:
    if isinstance(params, (str, bytes)) or not isinstance(params, (Mapping, Iterable)):
        raise TypeError("params= takes a mapping or (name, value) pairs")
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str):
            raise TypeError("params=: each pair must be a (str, value) tuple")
        name, value = item
        if value is None:
            continue  # as in requests: a None value leaves the parameter out
        values = value if isinstance(value, (list, tuple)) else (value,)
        for one in values:
            if isinstance(one, bool) or not isinstance(one, (str, int, float)):
                raise TypeError(
                    f"params=: the value for {name!r} must be str, int or float, "
                    f"not {type(one).__name__}"
                )
            pairs.append((name, str(one)))
    return pairs


# --- the body ----------------------------------------------------------------------------------


def _json_bytes(value: JSON) -> bytes:
    try:
        text = jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:  # NaN or infinity: not JSON (RFC 8259 §6)
        raise ValueError(f"json= is not valid JSON: {exc}") from None
    return text.encode("utf-8")


def _body(body: object, headers: dict[str, str]) -> bytes | Stream | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, io.TextIOBase):
        raise TypeError("body= is a text file: open it in binary mode ('rb')")
    if isinstance(body, Mapping):
        raise TypeError(
            "body= takes bytes, str, a binary file or an iterable of bytes, not a mapping: "
            "for JSON pass json=, for a form pass urllib.parse.urlencode(fields) with a "
            "Content-Type: application/x-www-form-urlencoded header"
        )
    if hasattr(body, "read"):
        stream = Stream.of_file(cast("SupportsRead", body))
    elif isinstance(body, Iterable):
        stream = Stream.of_iterable(body)
    else:
        raise TypeError(
            "body= takes bytes, str, a binary file or an iterable of bytes, "
            f"not {type(body).__name__}"
        )
    if (
        stream.length is not None
        and not has_header(headers, "Content-Length")
        and not has_header(headers, "Transfer-Encoding")
    ):
        headers["Content-Length"] = str(stream.length)
    return stream


class Stream:
    """A request body sent as it is read, never read whole first.  Without a known length
    it goes out with ``Transfer-Encoding: chunked``; a seekable file's length is known and
    at most that many bytes are sent, so a file that grows cannot overrun its framing.

    ``rewind()`` says whether the body can be sent again (a retry, a 307/308 redirect):
    yes if nothing was taken yet, for a seekable file (sought back) and for an iterable that
    gives a fresh iterator each time (a list); never for a generator or pipe once started.
    An exception raised while reading the caller's source is kept in ``failure``.
    """

    __slots__ = ("_file", "_iterable", "_start", "failure", "length", "started")

    def __init__(
        self,
        file: SupportsRead | None,
        iterable: Iterable[bytes] | None,
        start: int | None,
        length: int | None,
    ) -> None:
        self._file = file
        self._iterable = iterable
        self._start = start
        self.length = length
        self.started = False
        self.failure: BaseException | None = None

    @classmethod
    def of_file(cls, file: SupportsRead) -> Stream:
        start = length = None
        try:
            if getattr(file, "seekable", lambda: False)():
                start = file.tell()  # type: ignore[attr-defined]
                length = max(0, file.seek(0, io.SEEK_END) - start)  # type: ignore[attr-defined]
                file.seek(start)  # type: ignore[attr-defined]
        except (OSError, ValueError, AttributeError):
            start = length = None  # a pipe, a socket's file: sent until it ends, chunked
        return cls(file, None, start, length)

    @classmethod
    def of_iterable(cls, iterable: Iterable[bytes]) -> Stream:
        # An iterator is one-shot; anything else (a list, a tuple) gives a fresh iterator.
        replayable = iter(iterable) is not iterable
        return cls(None, iterable if replayable else iter(iterable), None, None)

    @property
    def replayable(self) -> bool:
        return self._start is not None or (
            self._iterable is not None and iter(self._iterable) is not self._iterable
        )

    def rewind(self) -> bool:
        if self.failure is not None:
            return False
        if not self.started:
            return True
        if not self.replayable:
            return False
        if self._file is not None:
            self._file.seek(self._start)  # type: ignore[attr-defined]
        self.started = False
        return True

    def __iter__(self) -> Iterator[bytes]:
        self.started = True
        try:
            yield from self._file_chunks() if self._file is not None else self._chunks()
        except Exception as exc:
            self.failure = exc
            raise

    def _chunks(self) -> Iterator[bytes]:
        assert self._iterable is not None
        for chunk in self._iterable:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"body= yielded {type(chunk).__name__}: an iterable body must yield bytes"
                )
            if chunk:  # an empty chunk would end a chunked body early
                yield bytes(chunk)

    def _file_chunks(self) -> Iterator[bytes]:
        assert self._file is not None
        left = self.length
        while left is None or left > 0:
            chunk = self._file.read(CHUNK if left is None else min(CHUNK, left))
            if not isinstance(chunk, (bytes, bytearray)):
                raise TypeError(
                    f"body= file's read() returned {type(chunk).__name__}, not bytes: "
                    "open it in binary mode ('rb')"
                )
            if not chunk:
                if left:
                    raise ValueError(f"body= file ended {left} bytes before its announced length")
                return
            if left is not None:
                left -= len(chunk)
            yield bytes(chunk)
