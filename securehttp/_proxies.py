"""Proxy routes (SPEC §9): whether a request goes direct or through which proxy, and why.

Pure: from environment variables or ``Client(proxies=...)`` to a :class:`Route` per target;
no sockets, no DNS, no TLS.  The transport asks :func:`route_for` and keys pools by routes.

- The variables are read as ``urllib.request.getproxies_environment()`` reads them, plus
  ``all_proxy`` for a scheme without its own variable (as requests, httpx and curl do).
  ``python -E``/``-I`` does **not** stop it: urllib, requests, httpx and curl read proxies
  under ``-E`` (which is about ``PYTHON*`` variables), a proxy never weakens verification
  (the origin is verified end to end through CONNECT), and a program moved from urllib
  keeps its routes.
- ``no_proxy`` means what curl means: ``example.com`` and ``.example.com`` cover the name
  and every name below it; ``*`` covers everything only as the whole value.  Where curl
  silently matches nothing (``a.com, *``, ``*.example.com``) this warns, and still matches
  nothing.  Beyond curl: ``host:port`` covers one port, names and addresses compare in the
  canonical form of :mod:`securehttp._hosts`, and ``10.1.2.3/8`` means ``10.0.0.0/8``.
- A proxy URL without a scheme is ``http://`` (requests, httpx, curl); without a port, 80
  for ``http://`` and 443 for ``https://`` (urllib3's ``ProxyManager``; curl says 1080).
- An unsupported scheme (``socks5://`` ...) is never "no proxy": it is a refused
  :class:`Route`, whose :meth:`Route.require` raises :class:`ProxyError`.  A malformed URL
  is a :class:`PolicyError` at once from ``Client(proxies=...)`` and the policy setting;
  from a variable it is a refused route, so a broken ``http_proxy`` fails http requests
  only (as in urllib).
- Credentials are kept, percent-decoded, and take part in equality; no message, ``repr``
  or ``str`` shows them, nor any part of a proxy URL that may hold them.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import urllib.parse
from collections.abc import Mapping
from typing import Literal

from ._exceptions import PolicyError, PolicyWarning, ProxyError
from ._frozen import Record
from ._hosts import HostIndex, HostPattern, Target, normalize_host
from ._warn import warn

__all__ = [
    "NoProxy",
    "ProxyConfig",
    "ProxyURL",
    "Route",
    "parse_no_proxy",
    "parse_proxy_url",
    "proxy_config",
    "proxy_setting",
    "proxy_variables",
    "route_for",
]

# Default ports of the proxy schemes spoken (urllib3's ProxyManager defaults).
PROXY_SCHEMES = {"http": 80, "https": 443}
CLIENT_SOURCE = "Client(proxies=...)"
DEFAULT_SOURCE = "default (no proxy variables)"
NOT_SENT = "the request was not sent (never connected directly)"

Proxies = Literal["env"] | Mapping[str, str] | None

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,30})://")
_REFUSED_IN_URL = re.compile(r"[\x00-\x20\x7f\\]")


class ProxyURL(Record):
    """An ``http://`` or ``https://`` proxy: canonical host, port, and credentials.

    The credentials are compared and hashed (a connection authenticated as one user must
    never serve another) but never shown: ``str`` is ``http://***@proxy.corp:3128``.
    """

    __slots__ = ("host", "password", "port", "scheme", "username")
    _fields = ("scheme", "host", "port", "username", "password")
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._init(scheme=scheme, host=host, port=port, username=username, password=password)

    @property
    def url(self) -> str:
        """The URL without credentials: what a Decision and ``explain`` show."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def display(self) -> str:
        """The URL with any credentials replaced by ``***``."""
        if self.username is None:
            return self.url
        return self.url.replace("://", "://***@", 1)

    def authorization(self) -> str | None:
        """The ``Proxy-Authorization`` value (Basic, UTF-8), or None without credentials."""
        if self.username is None:
            return None
        pair = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"ProxyURL({self.display!r})"


class Route(Record):
    """One request's route: direct, through ``proxy``, or ``refused`` (an unusable proxy).

    ``source`` says where the route came from, as a person reads it.  It is left out of
    equality and hashing, as it does not change what goes on the wire; everything else,
    the credentials included, takes part (pools are keyed by routes).
    """

    __slots__ = ("proxy", "refused", "source")
    _fields = ("proxy", "refused")  # not ``source``: it changes nothing on the wire
    proxy: ProxyURL | None
    refused: str | None
    source: str

    def __init__(
        self,
        proxy: ProxyURL | None = None,
        refused: str | None = None,
        source: str = DEFAULT_SOURCE,
    ) -> None:
        self._init(proxy=proxy, refused=refused, source=source)

    @property
    def is_direct(self) -> bool:
        return self.proxy is None and self.refused is None

    @property
    def display(self) -> str:
        """``direct``, the proxy URL without credentials shown, or ``refused``."""
        if self.refused is not None:
            return "refused"
        return "direct" if self.proxy is None else self.proxy.display

    def require(self) -> ProxyURL | None:
        """The proxy to go through, None to connect directly; :class:`ProxyError` if refused."""
        if self.refused is not None:
            raise ProxyError(self.refused)
        return self.proxy

    def __str__(self) -> str:
        return f"{self.display} ({self.source})"

    def __repr__(self) -> str:
        return f"Route({str(self)!r})"


class NoProxy:
    """A parsed ``no_proxy`` list: which targets bypass the proxy, and by which entry.
    Compared by identity (as it was built from one variable's text)."""

    __slots__ = ("everything", "index", "source", "text")

    def __init__(
        self,
        text: str,
        source: str,
        everything: bool = False,
        index: HostIndex[str] | None = None,
    ) -> None:
        self.text, self.source, self.everything = text, source, everything
        self.index: HostIndex[str] = HostIndex([]) if index is None else index

    def __repr__(self) -> str:
        return f"NoProxy(text={self.text!r}, source={self.source!r})"

    def match(self, target: Target) -> str | None:
        """The entry that sends ``target`` direct, or None.  No DNS: names match names."""
        if self.everything:
            return "*"
        return self.index.lookup(target.host, target.port, target.is_ip)


class ProxyConfig(Record):
    """The route for each target scheme before ``no_proxy``, and the ``no_proxy`` list."""

    __slots__ = ("http", "https", "no_proxy")
    _fields = __slots__
    http: Route
    https: Route
    no_proxy: NoProxy | None

    def __init__(self, http: Route, https: Route, no_proxy: NoProxy | None = None) -> None:
        self._init(http=http, https=https, no_proxy=no_proxy)


def route_for(target: Target, config: ProxyConfig) -> Route:
    """The route of a request to ``target`` (from :func:`securehttp._hosts.split_url`)."""
    route = config.https if target.scheme == "https" else config.http
    if route.is_direct or config.no_proxy is None:
        return route
    entry = config.no_proxy.match(target)
    if entry is None:
        return route
    return Route(source=f'{config.no_proxy.source} "{entry}"')


# --- where a configuration comes from --------------------------------------------------------


def proxy_variables(environ: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """``{key: (variable name, value)}`` exactly as ``getproxies_environment()`` finds them.

    Any name ending in ``_proxy`` in any case counts; then the names whose suffix is the
    lowercase ``_proxy`` are applied again, so they win, and an empty one removes its key.
    When ``REQUEST_METHOD`` is set, ``http`` is dropped between the two passes, so only a
    ``..._proxy`` spelling can set it (a CGI request's ``Proxy:`` header arrives as
    ``HTTP_PROXY``: httpoxy, CVE-2016-1000110).  Keys are
    lowercase (``http``, ``https``, ``all``, ``no``, ...).  ``python -E`` does not apply:
    see the module docstring.
    """
    if environ is None:
        environ = os.environ
    candidates = [(n, v) for n, v in environ.items() if n[-6:].lower() == "_proxy"]
    found = {n[:-6].lower(): (n, v) for n, v in candidates if v}
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    for name, value in candidates:
        if name.endswith("_proxy"):
            if value:
                found[name[:-6].lower()] = (name, value)
            else:
                found.pop(name[:-6].lower(), None)
    return found


def proxy_config(
    proxies: Proxies = "env", *, environ: Mapping[str, str] | None = None
) -> ProxyConfig:
    """The configuration for ``Client(proxies=...)``.

    ``"env"``: the variables (``environ``, default ``os.environ``).  ``None``: always
    direct.  A mapping in ``urllib.request.getproxies()`` form, ``{"https": url, "http":
    url, "all": url, "no": "host,..."}``, checked now (other keys are for schemes securehttp
    never requests, and are ignored as urllib ignores them for http(s)).
    """
    if proxies is None:
        direct = Route(source="Client(proxies=None)")
        return ProxyConfig(direct, direct)
    if isinstance(proxies, str):
        if proxies != "env":
            # Never echo the value: it may be a proxy URL with credentials.
            raise PolicyError(
                'expected "env", None or a mapping like {"https": url, "no": "host,..."}; '
                'got a string other than "env"',
                source=CLIENT_SOURCE,
            )
        return _from_environment(os.environ if environ is None else environ)
    if not isinstance(proxies, Mapping):
        raise PolicyError(
            f'expected "env", None or a mapping; got {type(proxies).__name__}',
            source=CLIENT_SOURCE,
        )
    return _from_mapping(proxies)


def proxy_setting(value: str, source: str) -> ProxyConfig:
    """The policy's ``proxy`` setting (SPEC §5): ``"direct"`` or ``http(s)://host:port``.

    A URL is the proxy for both schemes, with no ``no_proxy``.  Credentials, unsupported
    schemes and malformed URLs are :class:`PolicyError`: a policy is checked when loaded,
    and a policy file is no place for a password.
    """
    if value == "direct":
        direct = Route(source=source)
        return ProxyConfig(direct, direct)
    if not _SCHEME.match(value):
        # Unlike a variable, no scheme-less form: "Direct" must not become a proxy host.
        raise PolicyError('expected "direct" or http(s)://host:port', source=source)
    proxy = parse_proxy_url(value, source=source)
    if proxy.username is not None:
        raise PolicyError(
            "a policy's proxy takes no credentials: give them in the proxy variables or "
            "Client(proxies=...)",
            source=source,
        )
    route = Route(proxy=proxy, source=source)
    return ProxyConfig(route, route)


def _from_environment(environ: Mapping[str, str]) -> ProxyConfig:
    found = {key: (f"env {name}", value) for key, (name, value) in proxy_variables(environ).items()}
    return _config(found, DEFAULT_SOURCE, eager=False)


def _from_mapping(proxies: Mapping[str, str]) -> ProxyConfig:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in proxies.items()):
        raise PolicyError("keys and values must be strings", source=CLIENT_SOURCE)
    found = {key: (f'{CLIENT_SOURCE}["{key}"]', value) for key, value in proxies.items() if value}
    return _config(found, CLIENT_SOURCE, eager=True)


def _config(found: Mapping[str, tuple[str, str]], default: str, *, eager: bool) -> ProxyConfig:
    """Routes from ``{key: (source, value)}``; ``all`` serves a scheme without its own."""
    routes = {
        key: _route(value, source, eager=eager)
        for key, (source, value) in found.items()
        if key in ("http", "https", "all")
    }

    def pick(scheme: str) -> Route:
        return routes.get(scheme) or routes.get("all") or Route(source=default)

    no = found.get("no")
    no_proxy = parse_no_proxy(no[1], no[0]) if no else None
    return ProxyConfig(pick("http"), pick("https"), no_proxy)


def _route(value: str, source: str, *, eager: bool) -> Route:
    match = _SCHEME.match(value.strip())
    scheme = match.group(1).lower() if match else "http"
    if scheme not in PROXY_SCHEMES:
        return Route(refused=f"{source}: {_unsupported(scheme)}; {NOT_SENT}", source=source)
    try:
        return Route(proxy=parse_proxy_url(value, source=source), source=source)
    except PolicyError as exc:
        if eager:
            raise
        return Route(refused=f"{exc}; {NOT_SENT}", source=source)


def _unsupported(scheme: str) -> str:
    kind = "socks" if scheme.startswith("socks") else repr(scheme)
    return f"{kind} proxies are not supported (only http:// and https:// proxies are)"


# --- parsing --------------------------------------------------------------------------------


def parse_proxy_url(text: str, *, source: str) -> ProxyURL:
    """Parse a proxy URL; :class:`PolicyError` naming ``source`` if it cannot be used.

    Messages never quote the URL, its credentials or its port (``http://user:secret`` has
    a password where the port would be); only a host, which follows the last ``@``.
    """
    try:
        return _parse_proxy_url(text.strip())
    except ValueError as exc:
        problem = str(exc)
    # Raised outside the handler, so that no exception holding the text rides along.
    raise PolicyError(f"the proxy URL cannot be used: {problem}", source=source)


def _parse_proxy_url(text: str) -> ProxyURL:
    if _REFUSED_IN_URL.search(text):
        raise ValueError("it contains a control character, a space or a backslash")
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else "http"
    if scheme not in PROXY_SCHEMES:
        raise ValueError(_unsupported(scheme))
    rest = text[match.end() :] if match else text
    authority = re.split("[/?#]", rest, maxsplit=1)[0]
    if rest[len(authority) :] not in ("", "/"):
        raise ValueError("it has a path, query or fragment (/ ? # @ in credentials: %-encode)")
    userinfo, at, hostport = authority.rpartition("@")
    host, port = _split_host_port(hostport, bare_ipv6=False)
    canonical, _ = normalize_host(host)
    username = password = None
    if at and userinfo:
        user_text, _, password_text = userinfo.partition(":")
        username, password = _unquote(user_text), _unquote(password_text)
    return ProxyURL(scheme, canonical, port or PROXY_SCHEMES[scheme], username, password)


def _unquote(text: str) -> str:
    try:
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        # Not the decoder's message: it quotes the bytes.
        raise ValueError("the credentials are not %-encoded UTF-8") from None


def _split_host_port(text: str, *, bare_ipv6: bool) -> tuple[str, int | None]:
    # Messages name no part of the text: in a proxy URL the "port" may be a password.
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("unclosed '['")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("something other than a port follows ']'")
        return host, _port(rest[1:])
    if text.count(":") == 1:
        host, _, port_text = text.partition(":")
        return host, _port(port_text)
    if ":" in text and not bare_ipv6:
        raise ValueError("an IPv6 address must be written in brackets: [::1]:3128")
    if not text:
        raise ValueError("there is no host")
    return text, None


def _port(text: str) -> int | None:
    if not text:
        return None
    if len(text) > 5 or not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise ValueError("the port is not a number from 1 to 65535")
    return int(text)


def parse_no_proxy(text: str, source: str = "env no_proxy") -> NoProxy:
    """Parse a ``no_proxy`` value.  Never raises: an entry that cannot be parsed is one
    :class:`PolicyWarning` naming it (escaped), and covers nothing."""
    if text.strip() == "*":
        return NoProxy(text, source, everything=True)
    items: list[tuple[HostPattern, str]] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            items.append((_no_proxy_pattern(entry), entry))
        except ValueError as exc:
            shown, reason = _shorten(entry, 100), _shorten(str(exc), 160)
            warn(
                PolicyWarning(f"{source}: entry {shown!r} is ignored and covers no host: {reason}")
            )
    return NoProxy(text, source, index=HostIndex(items))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _no_proxy_pattern(entry: str) -> HostPattern:
    if "*" in entry:
        raise ValueError(
            "'*' means every host only as the whole value; "
            "'example.com' or '.example.com' covers a domain and every name below it"
        )
    if "/" in entry:
        return _no_proxy_network(entry)
    body = entry[1:] if entry.startswith(".") else entry
    host, port = _split_host_port(body, bare_ipv6=True)
    value, is_ip = normalize_host(host)
    if not is_ip:
        # curl's meaning: the name itself and every name below it.
        return HostPattern(entry, "deep", value, port)
    if body != entry:
        raise ValueError("a leading '.' applies to names, not addresses")
    if ":" not in host and host != value:
        raise ValueError(f"write the IPv4 address as {value}")
    return HostPattern(entry, "cidr", value, port, 128 if ":" in value else 32)


def _no_proxy_network(entry: str) -> HostPattern:
    address, _, bits = entry.partition("/")
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if not (bits.isascii() and bits.isdigit()):
        raise ValueError("the prefix length is not a number")
    # Host bits set (10.1.2.3/8) are masked off, as curl does.
    network = ipaddress.ip_network(f"{address}/{bits}", strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped:
        raise ValueError("write IPv4-mapped networks as IPv4 (targets are compared as IPv4)")
    return HostPattern(entry, "cidr", str(network.network_address), None, network.prefixlen)
