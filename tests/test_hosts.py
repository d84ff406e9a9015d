"""Host normalisation and matching: one canonical form, no bypass by spelling."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securehttp import Policy, PolicyError
from securehttp._hosts import HostIndex, normalize_host, parse_pattern, split_url

SAME_HOST = [
    ("Example.COM", "example.com", False),
    ("example.com.", "example.com", False),
    ("%65xample.com", "example.com", False),
    ("könig.test", "xn--knig-5qa.test", False),
    ("api.example.com\uff61", "api.example.com", False),  # found by fuzzing
    ("\uff3a\uff61", "z", False),  # the fuzzer's own input
    ("\u2461", "0.0.0.2", True),  # found by fuzzing: circled two maps to "2"
    ("\u2460\u2461\u2466.\u24ea.\u24ea.\u2460", "127.0.0.1", True),
    ("example\u3002com", "example.com", False),
    ("example\uff0ecom\u3002", "example.com", False),
    ("KÖNIG.test", "xn--knig-5qa.test", False),
    ("xn--knig-5qa.test", "xn--knig-5qa.test", False),
    ("a_b.internal", "a_b.internal", False),
    ("127.0.0.1", "127.0.0.1", True),
    ("2130706433", "127.0.0.1", True),
    ("0x7f000001", "127.0.0.1", True),
    ("0177.0.0.01", "127.0.0.1", True),
    ("127.1", "127.0.0.1", True),
    ("127.0.0.1.", "127.0.0.1", True),
    ("::ffff:127.0.0.1", "127.0.0.1", True),
    ("[::ffff:7f00:1]", "127.0.0.1", True),
    ("::1", "::1", True),
    ("[::1]", "::1", True),
    ("0:0:0:0:0:0:0:1", "::1", True),
    ("[fe80::1%25eth0]", "fe80::1", True),
    ("2001:DB8::1", "2001:db8::1", True),
]


@pytest.mark.parametrize(("raw", "canonical", "is_ip"), SAME_HOST)
def test_normalize_host(raw: str, canonical: str, is_ip: bool) -> None:
    assert normalize_host(raw) == (canonical, is_ip)


NOT_A_HOST = [
    ("", "empty host"),
    (".", "empty host"),
    ("a..b", "empty label"),
    ("example.com..", "empty label"),
    ("a\uff61\uff61b", "empty label"),
    ("a" * 64 + ".example", "longer than 63"),
    (".".join(["a" * 63] * 4) + ".a", "longer than 253"),
    ("ex ample.com", "character no host name may contain"),
    ("exa\x00mple.com", "character no host name may contain"),
    ("evil.test/x", "character no host name may contain"),
    ("a@b", "character no host name may contain"),
    ("-a.example", "not a valid name"),
    ("1.2.3.4.5", "not an IPv4 address"),
    ("256.1.1.1", "out of range"),
    ("1.2.3.09", "is not a number"),
    ("[fe80::1%25%0a]", "zone identifier"),
    ("xn--zz.test", "not a valid IDNA A-label"),
    ("[::g]", "not an IPv6 address"),
]


@pytest.mark.parametrize(("raw", "words"), NOT_A_HOST)
def test_not_a_host(raw: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        normalize_host(raw)


def test_length_is_checked_before_idna_encoding() -> None:
    # A huge U-label input must be refused by length, not handed to the IDNA encoder.
    with pytest.raises(ValueError, match="longer than 253"):
        normalize_host("ü" * 100_000)


URLS = [
    ("https://Example.COM./path", ("https", "example.com", 443)),
    ("https://example.com:8443/", ("https", "example.com", 8443)),
    ("http://example.com/", ("http", "example.com", 80)),
    ("HTTPS://trusted.test@evil.test/", ("https", "evil.test", 443)),
    ("https://user:pw@[::1]:8443/x", ("https", "::1", 8443)),
    ("https://example.com:/", ("https", "example.com", 443)),
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_split_url(url: str, expected: tuple[str, str, int]) -> None:
    target = split_url(url)
    assert (target.scheme, target.host, target.port) == expected


BAD_URLS = [
    ("https://evil.test\\@trusted.test/", "backslash"),
    (" https://trusted.test/", "control character"),
    ("https://trusted.test\r\n/", "control character"),
    ("https://tru sted.test/", "space"),
    ("ftp://example.com/", "unsupported URL scheme"),
    ("https:///path", "no host"),
    ("https://example.com:x/", "not a number"),
    ("https://example.com:0/", "out of range"),
    ("https://::1/", "brackets"),
]


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_ambiguous_urls_are_refused(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        split_url(url)


RULES = {
    "a.example.com": "exact",
    "a.example.com:8443": "exact-port",
    "*.example.com": "one-label",
    "**.example.com": "any-depth",
    "**.b.example.com": "deep-b",
    "*.x.example.com": "one-under-x",
    "10.20.0.0/16": "net16",
    "10.20.30.0/24": "net24",
    "127.0.0.1:8443": "loopback-port",
    "::1": "v6-loopback",
    "2001:db8::/32": "v6-net",
    "könig.test": "idn",
}

MATCHES = [
    ("https://a.example.com/", "exact"),
    ("https://A.EXAMPLE.COM./", "exact"),
    ("https://a.example.com:443/", "exact"),
    ("https://a.example.com:8443/", "exact-port"),
    ("https://z.example.com/", "one-label"),
    ("https://example.com/", "any-depth"),
    ("https://q.z.example.com/", "any-depth"),
    ("https://b.example.com/", "deep-b"),
    ("https://c.b.example.com/", "deep-b"),
    ("https://y.x.example.com/", "one-under-x"),
    ("https://z.y.x.example.com/", "any-depth"),
    ("https://notexample.com/", None),
    ("https://example.com.evil.test/", None),
    ("https://10.20.30.40/", "net24"),
    ("https://10.20.31.40/", "net16"),
    ("https://10.21.0.1/", None),
    ("https://127.0.0.1:8443/", "loopback-port"),
    ("https://2130706433:8443/", "loopback-port"),
    ("https://127.1:8443/", "loopback-port"),
    ("https://[::ffff:127.0.0.1]:8443/", "loopback-port"),
    ("https://127.0.0.1/", None),
    ("https://[::1]/", "v6-loopback"),
    ("https://[0:0:0:0:0:0:0:1]/", "v6-loopback"),
    ("https://[2001:db8:1::5]/", "v6-net"),
    ("https://xn--knig-5qa.test/", "idn"),
    ("https://KÖNIG.test./", "idn"),
    ("https://a.example.com\uff61/", "exact"),
    ("https://A\uff0eexample\u3002com/", "exact"),
    ("https://\u2460\u2461\u2466.\u24ea.\u24ea.\u2460:8443/", "loopback-port"),
]


@pytest.mark.parametrize(("url", "expected"), MATCHES)
def test_most_specific_rule_wins(url: str, expected: str | None) -> None:
    index = HostIndex([(parse_pattern(k), v) for k, v in RULES.items()])
    target = split_url(url)
    assert index.lookup(target.host, target.port, target.is_ip) == expected


@pytest.mark.parametrize(("url", "expected"), MATCHES)
def test_policy_resolve_reports_the_matching_key(url: str, expected: str | None) -> None:
    policy = Policy.from_dict({"hosts": {k: {} for k in RULES}})
    rule = policy.resolve(url).rule
    names = {v: k for k, v in RULES.items()}
    assert rule == (names[expected] if expected else None)


def test_ten_thousand_rules_resolve_correctly() -> None:
    hosts: dict[str, dict[str, object]] = {f"host{i}.example.com": {} for i in range(10_000)}
    hosts["**.deep.example.org"] = {"min_tls": "1.3"}
    policy = Policy.from_dict({"hosts": hosts})
    assert policy.resolve("host9999.example.com").rule == "host9999.example.com"
    assert policy.resolve("a.b.deep.example.org").min_tls == "1.3"
    assert policy.resolve("host10000.example.com").rule is None


def test_a_too_broad_pattern_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="too broad"):
        Policy.from_dict({"hosts": {"*.com": {}}})


hostish = st.text(
    alphabet=st.sampled_from(list("abcXYZ019-_.:[]%ü\u00df\u0660 @/\\\x00")), max_size=40
)


@settings(max_examples=400, deadline=None)
@given(hostish)
def test_normalize_is_idempotent_or_refuses(raw: str) -> None:
    try:
        canonical, is_ip = normalize_host(raw)
    except ValueError:
        return
    assert normalize_host(canonical) == (canonical, is_ip)
    assert canonical == canonical.lower()
    assert not canonical.endswith(".")


@settings(max_examples=400, deadline=None)
@given(hostish)
def test_patterns_parse_or_refuse_with_value_error(raw: str) -> None:
    try:
        pattern = parse_pattern(raw)
    except ValueError:
        return
    assert pattern.kind in ("exact", "one", "deep", "cidr")
