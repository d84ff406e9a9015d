"""Cookies for ``Client(cookies=...)``: an ``http.cookiejar.CookieJar`` applied by its own
rules (domain, path, secure, expiry, its policy) on every hop, redirects included.

The jar expects urllib's request and response objects; the adapters below give it just
what CPython's ``http/cookiejar.py`` reads.  A redirected hop is marked unverifiable, with
the first request's host as its origin, as urllib's redirect handler does, so a jar whose
policy refuses third-party cookies (``DefaultCookiePolicy(strict_ns_unverifiable=True)``)
means the same here.  ``http.cookiejar`` imports ``urllib.request``: both are imported
only when cookies are asked for.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import http.cookiejar

__all__ = ["Cookies", "cookie_jar"]


def cookie_jar(cookies: object) -> http.cookiejar.CookieJar | None:
    """The jar ``Client(cookies=...)`` asks for: ``True`` a new one, a jar as given."""
    if cookies is None or cookies is False:
        return None
    import http.cookiejar

    if cookies is True:
        return http.cookiejar.CookieJar()
    if isinstance(cookies, http.cookiejar.CookieJar):
        return cookies
    raise TypeError(
        f"cookies= takes True or an http.cookiejar.CookieJar, not {type(cookies).__name__}"
    )


class Cookies:
    """One client's jar, applied hop by hop."""

    __slots__ = ("jar",)

    def __init__(self, jar: http.cookiejar.CookieJar) -> None:
        self.jar = jar

    def hop(self, url: str, headers: Mapping[str, str], first: Hop | None) -> Hop:
        """The jar's view of one hop; ``first`` is the first hop of a redirect chain."""
        return Hop(url, headers, None if first is None else first.origin_req_host)

    def add(self, hop: Hop) -> dict[str, str]:
        """The headers the jar adds to this hop (``Cookie``), unless the caller set its own."""
        self.jar.add_cookie_header(hop)  # type: ignore[arg-type]
        return hop.added

    def extract(self, hop: Hop, set_cookies: dict[str, list[str]]) -> None:
        """Keep what the response's ``Set-Cookie`` headers allow, by the jar's rules."""
        self.jar.extract_cookies(_Response(set_cookies), hop)  # type: ignore[arg-type]


class Hop:
    """What ``CookieJar`` reads from a ``urllib.request.Request``."""

    def __init__(self, url: str, headers: Mapping[str, str], origin: str | None) -> None:
        parts = urllib.parse.urlsplit(url)
        self._url = url
        self._headers = {name.lower(): value for name, value in headers.items()}
        self.type = parts.scheme
        self.host = parts.netloc  # the URL has no userinfo by now
        self.unverifiable = origin is not None
        self._origin = origin
        self.added: dict[str, str] = {}

    @property
    def origin_req_host(self) -> str:
        # The jar's own request_host(): the host without its port, lower case.
        if self._origin is not None:
            return self._origin
        host, colon, port = self.host.rpartition(":")
        return (host if colon and port.isdigit() else self.host).lower()

    def get_full_url(self) -> str:
        return self._url

    def has_header(self, name: str) -> bool:
        name = name.lower()
        return name in self._headers or any(key.lower() == name for key in self.added)

    def get_header(self, name: str, default: str | None = None) -> str | None:
        return self._headers.get(name.lower(), default)

    def header_items(self) -> list[tuple[str, str]]:
        return list(self._headers.items())

    def add_unredirected_header(self, name: str, value: str) -> None:
        # Per hop: the client asks the jar again on the next one.
        self.added[name] = value


class _Response:
    """What ``CookieJar.extract_cookies`` reads from a response: ``info().get_all``."""

    def __init__(self, set_cookies: dict[str, list[str]]) -> None:
        self._values = {name.lower(): values for name, values in set_cookies.items()}

    def info(self) -> _Response:
        return self

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        return self._values.get(name.lower()) or default
