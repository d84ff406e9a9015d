"""Host names: one canonical form, patterns over it, and an index that finds the best rule.

Every comparison happens between canonical forms, so a rule cannot be bypassed by spelling
a host differently (case, trailing dot, U-labels, percent-encoding, legacy IPv4 notations,
IPv4-mapped IPv6).  The URL parser refuses every character on which parsers are known to
disagree about where the host is (backslash, controls, spaces), so the host a rule is chosen
for is the host the transport connects to.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import urllib.parse
from typing import Generic, NamedTuple, TypeVar

__all__ = [
    "HostIndex",
    "HostPattern",
    "Target",
    "normalize_host",
    "parse_pattern",
    "redact_url",
    "split_url",
    "strip_userinfo",
]

_URL_PARTS = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*:)?(/*)(.*)", re.DOTALL)
_T = TypeVar("_T")

MAX_NAME = 253
MAX_LABEL = 63

DEFAULT_PORTS = {"https": 443, "http": 80}

# Characters no host, userinfo or authority may carry: CVE-2023-24329 (leading controls),
# the backslash that WHATWG parsers and urllib3 read as a path separator but urlsplit does not.
_REFUSED_IN_URL = re.compile(r"[\x00-\x20\x7f\\]")
# RFC 3986's scheme and authority; the authority ends at the first '/', '?' or '#'.
_URL_HEAD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")
# Labels of letters, digits, '-' and '_', none longer than 63 and none with an edge hyphen,
# the last starting with a letter (so never an IPv4 spelling such as 127.1 or 0x7f.1).
_FAST_NAME = re.compile(r"(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z_][a-z0-9_-]{0,62}(?<!-)\.?\Z")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\Z")

# Second-level labels under which registrations are public (co.uk, com.au, ...).  Without a
# public-suffix list this is a heuristic; it errs on the side of refusing a broad wildcard.
_PUBLIC_SECOND_LEVEL = frozenset(
    {
        "ac",
        "co",
        "com",
        "edu",
        "gov",
        "gv",
        "ltd",
        "me",
        "mil",
        "ne",
        "net",
        "nic",
        "or",
        "org",
        "plc",
        "sch",
    }
)


class Target(NamedTuple):
    """Where a request goes: canonical host, port, and whether the host is an IP address.

    A NamedTuple: it is made on the hot path, and needs nothing more.
    """

    scheme: str
    host: str
    port: int
    is_ip: bool


def split_url(url: str) -> Target:
    """Parse an ``http(s)`` URL into a :class:`Target`; ValueError on anything ambiguous."""
    if _REFUSED_IN_URL.search(url):
        raise ValueError("URL contains a control character, a space or a backslash")
    match = _URL_HEAD.match(url)
    if match is None:
        raise ValueError(f"not an absolute URL: {redact_url(url)[:80]!r}")
    scheme = match.group(1).lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"unsupported URL scheme {match.group(1)!r}: use https:// or http://")
    hostport = match.group(2).rpartition("@")[2]
    if not hostport:
        raise ValueError("URL has no host")
    return _target(scheme, hostport)


@functools.lru_cache(maxsize=4096)
def _target(scheme: str, hostport: str) -> Target:
    # Cached: a client sends many requests to few hosts, and normalising is the costly part.
    host, port = _split_host_port(hostport)
    canonical, is_ip = normalize_host(host)
    return Target(scheme, canonical, port if port is not None else DEFAULT_PORTS[scheme], is_ip)


def _split_host_port(hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("unclosed '[' in host")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("junk after ']' in host")
        port_text = rest[1:] if rest else None
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    elif ":" in hostport:
        raise ValueError("IPv6 addresses must be written in brackets: [::1]:8443")
    else:
        host, port_text = hostport, None
    if port_text is None or port_text == "":
        return host, None
    if not port_text.isascii() or not port_text.isdigit():
        # Not echoed: in "https://user:password@..." mistakes the "port" is a password.
        raise ValueError("the port is not a number")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return host, port


def normalize_host(host: str) -> tuple[str, bool]:
    """Return ``(canonical host, is_ip)``.

    Lower case, no trailing dot, IDNA 2008 with UTS 46 mapping to A-labels, IP literals in
    canonical form (legacy IPv4 spellings such as ``2130706433`` or ``0177.1`` become
    dotted quads, as the resolver would read them; IPv4-mapped IPv6 becomes IPv4).
    Raises ValueError for anything that is not a host name.
    """
    if host.isascii() and len(host) - host.endswith(".") <= MAX_NAME:
        # The common case, a plain ASCII DNS name, in one regex: nothing to decode, no IDNA.
        lower = host.lower()
        if _FAST_NAME.match(lower) and "xn--" not in lower:
            return lower[:-1] if lower.endswith(".") else lower, False
    if "%" in host and not host.startswith("["):
        host = urllib.parse.unquote(host, errors="strict")
    if not host.isascii():
        # UTS 46 reads these as label separators; map them first so that the trailing-dot and
        # empty-label rules see them (found by fuzzing: "api.example.com\uff61" must not
        # escape a rule for api.example.com).
        host = host.translate(_DOTS)
    if host.startswith("[") and host.endswith("]"):
        return _normalize_ipv6(host[1:-1]), True
    if ":" in host:
        return _normalize_ipv6(host), True
    if not host:
        raise ValueError("empty host")
    if _REFUSED_IN_URL.search(host) or any(c in host for c in "/?#@[]%"):
        raise ValueError(f"host {host!r} contains a character no host name may contain")
    # Lengths are checked before IDNA so that a huge input never reaches the encoder.
    if len(host) > MAX_NAME + 1:
        raise ValueError(f"host name is longer than {MAX_NAME} characters")
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise ValueError("empty host")
    labels = host.split(".")
    if any(len(label) > MAX_LABEL for label in labels):
        raise ValueError(f"a label of the host is longer than {MAX_LABEL} characters")
    if any(not label for label in labels):
        raise ValueError(f"host {host!r} has an empty label")
    ipv4 = _parse_ipv4(labels)
    if ipv4 is not None:
        return ipv4, True
    if host.isascii():
        canonical = host.lower()
        for label in canonical.split("."):
            if not _ASCII_LABEL.match(label):
                raise ValueError(f"host label {label!r} is not a valid name")
            if label.startswith("xn--"):
                _check_a_label(label)
    else:
        import idna  # only non-ASCII names need it: kept off the import path

        try:
            mapped = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise ValueError(
                f"host {host!r} is not a valid internationalised name: {exc}"
            ) from None
        # UTS 46 maps some characters to ASCII digits ("\u2460" is "1"): the result goes
        # through the ASCII rules again, so such a name is read as the address it spells
        # (found by fuzzing; otherwise it would escape the rules for that address).
        return normalize_host(mapped)
    if len(canonical) > MAX_NAME:
        raise ValueError(f"host name is longer than {MAX_NAME} characters once encoded")
    return canonical, False


def _check_a_label(label: str) -> None:
    import idna

    try:
        idna.decode(label)
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"host label {label!r} is not a valid IDNA A-label: {exc}") from None


def _normalize_ipv6(text: str) -> str:
    address, sep, zone = text.partition("%")
    if sep:
        zone = urllib.parse.unquote(zone.removeprefix("25"), errors="strict")
        if not zone or not zone.isascii() or not zone.replace("_", "").replace("-", "").isalnum():
            raise ValueError("IPv6 zone identifier must be a plain interface name")
    try:
        ip = ipaddress.IPv6Address(address)
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv6 address") from None
    mapped = ip.ipv4_mapped
    if mapped is not None:
        return str(mapped)
    # The zone only says which interface to leave by; policy is about the address.
    return ip.compressed


def _parse_ipv4(labels: list[str]) -> str | None:
    """The WHATWG IPv4 parser: a host whose last label is numeric is an IPv4 address or invalid.

    This is what getaddrinfo/inet_aton do with ``127.1`` or ``0x7f000001``; canonicalising
    here means a rule for ``127.0.0.1`` cannot be bypassed with another spelling.
    """
    if not _is_numeric(labels[-1]):
        return None
    if len(labels) > 4:
        raise ValueError("host ends in a number but is not an IPv4 address")
    numbers = [_parse_ipv4_number(label) for label in labels]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError("IPv4 address out of range")
    value = numbers[-1]
    for index, n in enumerate(numbers[:-1]):
        value += n * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(value))


def _is_numeric(label: str) -> bool:
    if label.isascii() and label.isdigit():
        return True
    low = label.lower()
    return low.startswith("0x") and all(c in "0123456789abcdef" for c in low[2:])


def _parse_ipv4_number(label: str) -> int:
    low = label.lower()
    try:
        if low.startswith("0x"):
            return int(low[2:] or "0", 16)
        if len(low) > 1 and low.startswith("0"):
            return int(low, 8)
        if not low.isascii():
            raise ValueError
        return int(low, 10)
    except ValueError:
        raise ValueError(f"IPv4 part {label!r} is not a number") from None


# --- patterns -------------------------------------------------------------------------------


class HostPattern(NamedTuple):
    """One host key of a policy.

    ``kind`` is ``exact``, ``one`` (``*.suffix``: exactly one more label), ``deep``
    (``**.suffix``: the name itself and any depth below) or ``cidr``; ``prefix`` is a
    network's prefix length.  Which pattern wins is decided by :class:`HostIndex`.
    """

    text: str
    kind: str
    value: str
    port: int | None
    prefix: int = 0


def parse_pattern(text: str) -> HostPattern:
    """Parse a host key; ValueError says why a key is refused."""
    if not text:
        raise ValueError("empty host key")
    if text != text.strip():
        raise ValueError("host key has leading or trailing spaces")
    if "/" in text:
        return _parse_cidr(text)
    if text in ("*", "**"):
        raise ValueError(f"host key {text!r} matches every host: put settings in `defaults`")
    if text.startswith("."):
        raise ValueError(f"host key {text!r} starts with '.': write '**{text}' or '*{text}'")
    kind = "exact"
    body = text
    if text.startswith("**."):
        kind, body = "deep", text[3:]
    elif text.startswith("*."):
        kind, body = "one", text[2:]
    elif "*" in text:
        raise ValueError(f"host key {text!r}: '*' is only allowed as a whole first label")
    if "*" in body:
        raise ValueError(f"host key {text!r}: '*' is only allowed as a whole first label")
    if body.count(":") > 1 and not body.startswith("["):
        host, port = body, None  # a bare IPv6 address: no port can follow it
    else:
        host, port = _split_host_port(body)
    value, is_ip = normalize_host(host)
    if is_ip:
        if kind != "exact":
            raise ValueError(
                f"host key {text!r}: wildcards apply to names; use a CIDR for addresses"
            )
        raw = host.strip("[]")
        if ":" not in raw and raw != value:
            raise ValueError(f"host key {text!r}: write the IPv4 address as {value}")
        return HostPattern(text, "cidr", value, port, prefix=32 if ":" not in value else 128)
    if kind != "exact":
        _check_not_too_broad(text, value)
    return HostPattern(text, kind, value, port)


def _check_not_too_broad(text: str, suffix: str) -> None:
    labels = suffix.split(".")
    too_broad = len(labels) < 2 or (
        len(labels) == 2 and len(labels[1]) == 2 and labels[0] in _PUBLIC_SECOND_LEVEL
    )
    if too_broad:
        raise ValueError(
            f"host key {text!r} is too broad: a wildcard must sit below a registered domain"
        )


def _parse_cidr(text: str) -> HostPattern:
    address, _, prefix_text = text.partition("/")
    try:
        network = ipaddress.ip_network(f"{address.strip('[]')}/{prefix_text}", strict=True)
    except ValueError as exc:
        raise ValueError(f"host key {text!r} is not a network: {exc}") from None
    if network.prefixlen == 0:
        raise ValueError(f"host key {text!r} matches every address: put settings in `defaults`")
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped:
        raise ValueError(f"host key {text!r}: write IPv4-mapped networks as IPv4")
    return HostPattern(text, "cidr", str(network.network_address), None, network.prefixlen)


# --- the index ------------------------------------------------------------------------------


class HostIndex(Generic[_T]):
    """Finds the most specific rule for a host with a few dict look-ups, never a scan.

    Exact names and addresses are one look-up; wildcards one look-up per label of the host;
    networks one look-up per distinct prefix length in the policy.
    """

    __slots__ = ("_deep", "_exact", "_one", "_v4", "_v4_prefixes", "_v6", "_v6_prefixes")

    def __init__(self, items: list[tuple[HostPattern, _T]]) -> None:
        self._exact: dict[tuple[str, int | None], _T] = {}
        self._one: dict[tuple[str, int | None], _T] = {}
        self._deep: dict[tuple[str, int | None], _T] = {}
        self._v4: dict[tuple[int, int, int | None], _T] = {}
        self._v6: dict[tuple[int, int, int | None], _T] = {}
        for pattern, item in items:
            if pattern.kind == "cidr":
                v6 = ":" in pattern.value
                network = int(ipaddress.ip_address(pattern.value))
                (self._v6 if v6 else self._v4)[(network, pattern.prefix, pattern.port)] = item
            else:
                names = {"exact": self._exact, "one": self._one, "deep": self._deep}[pattern.kind]
                names[(pattern.value, pattern.port)] = item
        self._v4_prefixes = sorted({k[1] for k in self._v4}, reverse=True)
        self._v6_prefixes = sorted({k[1] for k in self._v6}, reverse=True)

    def lookup(self, host: str, port: int, is_ip: bool) -> _T | None:
        """The most specific item for a canonical host and port, or None."""
        if is_ip:
            return self._lookup_ip(host, port)
        if self._exact:
            hit = _get(self._exact, host, port)
            if hit is not None:
                return hit
        if self._one or self._deep:
            return self._lookup_wildcard(host, port)
        return None

    def _lookup_wildcard(self, host: str, port: int) -> _T | None:
        # `**.host` covers the host itself; then each parent, longest first.  `*.` only ever
        # matches at the first parent (exactly one more label), where it beats `**.`.
        hit = _get(self._deep, host, port)
        suffix = host
        depth = 0
        while hit is None and "." in suffix:
            suffix = suffix.partition(".")[2]
            depth += 1
            if depth == 1:
                hit = _get(self._one, suffix, port)
            if hit is None:
                hit = _get(self._deep, suffix, port)
        return hit

    def _lookup_ip(self, host: str, port: int) -> _T | None:
        ip = ipaddress.ip_address(host)
        table, prefixes, bits = (
            (self._v6, self._v6_prefixes, 128)
            if ip.version == 6
            else (self._v4, self._v4_prefixes, 32)
        )
        value = int(ip)
        for prefix in prefixes:
            network = value >> (bits - prefix) << (bits - prefix)
            hit = table.get((network, prefix, port))
            if hit is None:
                hit = table.get((network, prefix, None))
            if hit is not None:
                return hit
        return None


def _get(table: dict[tuple[str, int | None], _T], name: str, port: int) -> _T | None:
    hit = table.get((name, port))
    return table.get((name, None)) if hit is None else hit


def redact_url(url: str) -> str:
    """``url`` with its userinfo replaced by ``***``: credentials never appear in messages,
    logs or reprs.  Works on URLs that do not parse too (``https:/user:pw@host``, a password
    holding ``/``), since those are exactly the ones whose errors get printed; when it cannot
    tell where the credentials end, it hides more rather than less."""
    if "@" not in url:
        return url
    match = _URL_PARTS.match(url)
    assert match is not None  # the pattern matches every string
    prefix, rest = (match.group(1) or "") + match.group(2), match.group(3)
    if not match.group(2):  # "user:pw@host": no slash after it, so that was no scheme
        prefix, rest = "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        return f"{prefix}***@{authority.rpartition('@')[2]}{tail}"
    path = tail.split("?", 1)[0].split("#", 1)[0]
    if ":" in authority and "@" in path:
        # "user:pass/word@host": a password with a slash in it; hide up to the last "@".
        return f"{prefix}***@{(authority + tail).rpartition('@')[2]}"
    return url


def strip_userinfo(url: str) -> str:
    """``url`` without the userinfo of its authority (what a response's ``url`` shows)."""
    match = _URL_HEAD.match(url)
    if match is None or "@" not in match.group(2):
        return url
    return url[: match.start(2)] + match.group(2).rpartition("@")[2] + url[match.end(2) :]
