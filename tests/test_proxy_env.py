"""Proxy routes (SPEC §9): the variables as urllib reads them, NO_PROXY as curl means it.

Pure code: no proxy server is involved here (the transport's tests run real ones).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import warnings
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securehttp._exceptions import PolicyError, PolicyWarning, ProxyError
from securehttp._hosts import split_url
from securehttp._proxies import (
    ProxyConfig,
    ProxyURL,
    Route,
    parse_no_proxy,
    parse_proxy_url,
    proxy_config,
    proxy_setting,
    proxy_variables,
    route_for,
)

PROXY = "http://proxy.corp:3128"
SECRET = "s3cr3t-Pa55"


def route(url: str, config: ProxyConfig) -> Route:
    return route_for(split_url(url), config)


def with_no_proxy(no_proxy: str) -> ProxyConfig:
    return proxy_config(environ={"https_proxy": PROXY, "http_proxy": PROXY, "no_proxy": no_proxy})


# --- NO_PROXY: the research table (migration.md §D), curl's column as the meaning -----------

# (no_proxy, url, goes direct, urllib agrees with curl here, warns about an entry)
NO_PROXY_TABLE = [
    ("example.com", "https://www.example.com/", True, True, False),
    ("example.com", "https://wwwexample.com/", False, True, False),
    ("example.com", "https://example.com/", True, True, False),
    ("example.com", "https://example.com:8443/", True, True, False),
    ("example.com", "https://example.org/", False, True, False),
    (".example.com", "https://example.com/", True, True, False),
    (".example.com", "https://www.example.com/", True, True, False),
    (".example.com", "https://wwwexample.com/", False, True, False),
    ("*.example.com", "https://www.example.com/", False, True, True),
    ("example.com:8443", "https://example.com:8443/", True, True, False),
    ("example.com:8443", "https://example.com/", False, True, False),
    ("10.0.0.0/8", "https://10.1.2.3/", True, False, False),
    ("10.0.0.0/8", "https://11.1.2.3/", False, True, False),
    ("10.1.2.3/8", "https://10.200.0.1/", True, False, False),
    ("::1", "https://[::1]:8443/", True, False, False),
    ("::1", "https://[::2]:8443/", False, True, False),
    ("[::1]", "https://[::1]/", True, True, False),
    ("[::1]:8443", "https://[::1]:8443/", True, True, False),
    ("[::1]:8443", "https://[::1]:9443/", False, True, False),
    ("fd00::/8", "https://[fd00::5]/", True, False, False),
    ("fd00::/8", "https://[fe80::5]/", False, True, False),
    ("[fd00::]/8", "https://[fd00::5]/", True, False, False),
    ("a.com, *", "https://b.com/", False, True, True),
    ("a.com,*", "https://a.com/", True, True, True),
    ("*", "https://anything.example/", True, True, False),
    (" * ", "https://anything.example/", True, False, False),
    ("example.com.", "https://example.com/", True, False, False),
    ("example.com", "https://example.com./", True, False, False),
    ("EXAMPLE.com", "https://www.Example.COM/", True, True, False),
    ("localhost", "http://localhost:8080/", True, True, False),
    (".local", "https://printer.local/", True, True, False),
    ("  example.com ,  other.org  ", "https://other.org/", True, True, False),
    ("a.com,,b.com,", "https://b.com/", True, True, False),
    ("1.2.3.4", "https://1.2.3.4/", True, True, False),
    ("1.2.3.4", "https://1.2.3.5/", False, True, False),
    ("1.2.3.4:8443", "https://1.2.3.4:8443/", True, True, False),
    ("2.3.4", "https://1.2.3.4/", False, False, True),
    ("0.0.0.0/0", "https://8.8.8.8/", True, False, False),
    # names are compared in canonical form: IDNA, IP spellings, IPv4-mapped IPv6
    ("b\u00fccher.example", "https://xn--bcher-kva.example/", True, False, False),
    ("xn--bcher-kva.example", "https://B\u00dcCHER.example./", True, False, False),
    ("127.0.0.1", "http://0x7f.1/", True, False, False),
    ("127.0.0.1", "http://2130706433/", True, False, False),
    ("127.0.0.1", "https://[::ffff:127.0.0.1]/", True, False, False),
    ("10.0.0.0/8", "https://[::ffff:10.9.8.7]/", True, False, False),
    ("::ffff:10.0.0.1", "https://10.0.0.1/", True, False, False),
    ("0x7f.1", "https://127.0.0.1/", False, False, True),
]


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct", "urllib_agrees", "warns"),
    NO_PROXY_TABLE,
    ids=[f"{row[0]!r}->{row[1]}" for row in NO_PROXY_TABLE],
)
def test_no_proxy_table(
    no_proxy: str, url: str, direct: bool, urllib_agrees: bool, warns: bool
) -> None:
    if warns:
        with pytest.warns(PolicyWarning, match="is ignored and covers no host"):
            config = with_no_proxy(no_proxy)
    else:
        config = with_no_proxy(no_proxy)  # filterwarnings=error: no warning may appear
    result = route(url, config)
    assert result.is_direct is direct
    if direct:
        assert result.source.startswith('env no_proxy "')
        assert result.proxy is None
    else:
        assert result.proxy == parse_proxy_url(PROXY, source="test")
        assert result.source == ("env https_proxy" if url.startswith("https") else "env http_proxy")
    if urllib_agrees:
        netloc = urllib.parse.urlsplit(url).netloc
        # typeshed leaves out this documented-in-source function; it is urllib's no_proxy rule
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        assert bypass(netloc, {"no": no_proxy}) is direct


def test_no_proxy_source_names_the_variable_and_entry() -> None:
    config = proxy_config(environ={"HTTPS_PROXY": PROXY, "NO_PROXY": "a.com, 10.0.0.0/8"})
    assert str(route("https://10.1.2.3/", config)) == 'direct (env NO_PROXY "10.0.0.0/8")'
    assert str(route("https://10.1.2.3/", config)) != str(route("https://11.1.2.3/", config))
    assert str(route("https://11.1.2.3/", config)) == f"{PROXY} (env HTTPS_PROXY)"


def test_no_proxy_does_not_matter_without_a_proxy() -> None:
    config = proxy_config(environ={"NO_PROXY": "example.com"})
    assert route("https://example.com/", config) == Route()
    assert route("https://example.com/", config).source == "default (no proxy variables)"
    proxied = proxy_config(environ={"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"})
    assert route("https://example.com/", proxied).source == 'env NO_PROXY "example.com"'


# --- NO_PROXY entries that cannot be parsed: one warning each, never an exception ------------

BAD_ENTRIES = [
    ("*.example.com", "https://www.example.com/"),
    ("ex*ample.com", "https://example.com/"),
    ("bad host", "https://bad/"),
    ("example.com:99999", "https://example.com/"),
    ("example.com:http", "https://example.com/"),
    ("10.0.0.0/33", "https://10.0.0.1/"),
    ("10.0.0.0/x", "https://10.0.0.1/"),
    ("10.0.0.0/-8", "https://10.0.0.1/"),
    ("[::1", "https://[::1]/"),
    ("[::1]x", "https://[::1]/"),
    ("2.3.4", "https://2.3.0.4/"),
    ("0x7f.1", "https://127.0.0.1/"),
    (".10.0.0.1", "https://10.0.0.1/"),
    ("a..example.com", "https://a.example.com/"),
    ("-bad-.example.com", "https://x.example.com/"),
    ("\x00evil.example.com", "https://evil.example.com/"),
    ("::ffff:10.0.0.0/104", "https://10.0.0.1/"),
    ("example.com/8", "https://example.com/"),
]


@pytest.mark.parametrize(("entry", "url"), BAD_ENTRIES, ids=[repr(e) for e, _ in BAD_ENTRIES])
def test_bad_entry_warns_names_it_escaped_and_covers_nothing(entry: str, url: str) -> None:
    with pytest.warns(PolicyWarning) as record:
        config = with_no_proxy(f"good.example, {entry}")
    assert len(record) == 1
    message = str(record[0].message)
    assert repr(entry) in message
    assert "\x00" not in message
    assert message.startswith("env no_proxy: entry ")
    assert not route(url, config).is_direct
    assert route("https://good.example/", config).is_direct


def test_one_warning_per_bad_entry() -> None:
    with pytest.warns(PolicyWarning) as record:
        config = with_no_proxy("a.com, *.b.com, c d, e.com:0, f.com")
    assert [str(w.message).split("'")[1] for w in record] == ["*.b.com", "c d", "e.com:0"]
    assert route("https://a.com/", config).is_direct
    assert route("https://f.com/", config).is_direct


def test_a_long_bad_entry_is_shortened_in_the_warning() -> None:
    entry = "x" * 300 + " y"
    with pytest.warns(PolicyWarning) as record:
        parse_no_proxy(entry)
    assert len(str(record[0].message)) < 400


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab.:/[]*,% 0179fx-_\u00fc\uff61\x00")), max_size=40))
def test_any_no_proxy_value_gives_a_matcher_or_warnings_never_an_error(text: str) -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        no_proxy = parse_no_proxy(text)
        config = ProxyConfig(Route(proxy=parse_proxy_url(PROXY, source="t")), Route(), no_proxy)
        for url in ("http://a.b/", "http://[::1]:80/", "http://10.0.0.1/", "http://1.7.0.9:99/"):
            route(url, config)
    assert all(issubclass(w.category, PolicyWarning) for w in record)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_any_unicode_no_proxy_value_never_raises(text: str) -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        parse_no_proxy(text)
    assert all(issubclass(w.category, PolicyWarning) for w in record)


# --- the variables, as urllib reads them --------------------------------------------------------

# (environment, route of https://example.com, route of http://example.com), routes as str()
ENV_TABLE: list[tuple[dict[str, str], str, str]] = [
    ({}, "direct (default (no proxy variables))", "direct (default (no proxy variables))"),
    (
        {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"},
        "http://lower:1 (env https_proxy)",
        "direct (default (no proxy variables))",
    ),
    (
        {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1"},
        "http://lower:1 (env https_proxy)",
        "direct (default (no proxy variables))",
    ),
    (
        {"https_proxy": "", "HTTPS_PROXY": "http://upper:1"},
        "direct (default (no proxy variables))",
        "direct (default (no proxy variables))",
    ),
    (
        {"https_proxy": "", "HTTPS_PROXY": "http://upper:1", "ALL_PROXY": "http://all:1"},
        "http://all:1 (env ALL_PROXY)",
        "http://all:1 (env ALL_PROXY)",
    ),
    (
        {"HTTPS_PROXY": "http://upper:1"},
        "http://upper:1 (env HTTPS_PROXY)",
        "direct (default (no proxy variables))",
    ),
    (
        {"Https_Proxy": "http://mixed:1"},
        "http://mixed:1 (env Https_Proxy)",
        "direct (default (no proxy variables))",
    ),
    # httpoxy: under CGI, HTTP_PROXY may come from a request's Proxy: header
    (
        {"HTTP_PROXY": "http://p:1"},
        "direct (default (no proxy variables))",
        "http://p:1 (env HTTP_PROXY)",
    ),
    (
        {"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"},
        "direct (default (no proxy variables))",
        "direct (default (no proxy variables))",
    ),
    (
        {"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": ""},
        "direct (default (no proxy variables))",
        "direct (default (no proxy variables))",
    ),
    (
        {"http_proxy": "http://p:1", "REQUEST_METHOD": "GET"},
        "direct (default (no proxy variables))",
        "http://p:1 (env http_proxy)",
    ),
    (
        {"HTTPS_PROXY": "http://p:1", "REQUEST_METHOD": "GET"},
        "http://p:1 (env HTTPS_PROXY)",
        "direct (default (no proxy variables))",
    ),
    # all_proxy: any scheme without its own variable (urllib itself never uses it)
    ({"ALL_PROXY": "http://all:1"}, "http://all:1 (env ALL_PROXY)", "http://all:1 (env ALL_PROXY)"),
    (
        {"all_proxy": "http://a:1", "https_proxy": "http://h:1"},
        "http://h:1 (env https_proxy)",
        "http://a:1 (env all_proxy)",
    ),
    (
        {"all_proxy": "", "ALL_PROXY": "http://a:1"},
        "direct (default (no proxy variables))",
        "direct (default (no proxy variables))",
    ),
    # the target's scheme picks the variable
    (
        {"http_proxy": "http://h:1"},
        "direct (default (no proxy variables))",
        "http://h:1 (env http_proxy)",
    ),
    (
        {"https_proxy": "http://s:1"},
        "http://s:1 (env https_proxy)",
        "direct (default (no proxy variables))",
    ),
    # no_proxy: lowercase wins, empty unsets
    (
        {"https_proxy": "http://s:1", "no_proxy": "example.com", "NO_PROXY": "other.org"},
        'direct (env no_proxy "example.com")',
        "direct (default (no proxy variables))",
    ),
    (
        {"https_proxy": "http://s:1", "no_proxy": "", "NO_PROXY": "example.com"},
        "http://s:1 (env https_proxy)",
        "direct (default (no proxy variables))",
    ),
    (
        {"https_proxy": "http://s:1", "NO_PROXY": "example.com"},
        'direct (env NO_PROXY "example.com")',
        "direct (default (no proxy variables))",
    ),
]


@pytest.mark.parametrize(("environ", "https_route", "http_route"), ENV_TABLE)
def test_environment_table(environ: dict[str, str], https_route: str, http_route: str) -> None:
    config = proxy_config(environ=environ)
    assert str(route("https://example.com/", config)) == https_route
    assert str(route("http://example.com/", config)) == http_route


def test_default_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    assert route("https://example.com/", proxy_config()).is_direct
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    assert str(route("https://example.com/", proxy_config())) == f"{PROXY} (env HTTPS_PROXY)"
    assert proxy_variables() == {"https": ("HTTPS_PROXY", PROXY)}


_NAMES = [
    "http_proxy",
    "HTTP_PROXY",
    "Http_Proxy",
    "HTTP_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "ftp_proxy",
    "_proxy",
    "REQUEST_METHOD",
    "PROXY",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_NAMES), st.sampled_from(["", "a", "b"])), max_size=8))
def test_variables_are_read_exactly_as_urllib_reads_them(pairs: list[tuple[str, str]]) -> None:
    with mock.patch.dict(os.environ):
        for name in list(os.environ):
            if name[-6:].lower() == "_proxy" or name == "REQUEST_METHOD":
                del os.environ[name]
        for name, value in pairs:
            os.environ.pop(name, None)  # re-inserting moves a name to the end, as in a real env
            os.environ[name] = value
        ours = {key: value for key, (_, value) in proxy_variables(os.environ).items()}
        assert ours == urllib.request.getproxies_environment()


PYTHON_E_SCRIPT = """
import urllib.request
from securehttp._hosts import split_url
from securehttp._proxies import proxy_config, route_for
print(route_for(split_url("https://example.com/"), proxy_config()))
print(urllib.request.getproxies_environment().get("https", "-"))
"""


@pytest.mark.parametrize("flag", ["-E", "-I"])
@pytest.mark.parametrize("proxy", [PROXY, None])
def test_python_dash_e_keeps_proxy_variables_like_urllib(flag: str, proxy: str | None) -> None:
    env = dict(os.environ)
    if proxy is not None:
        env["HTTPS_PROXY"] = proxy
    result = subprocess.run(
        [sys.executable, flag, "-c", PYTHON_E_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    if proxy is None:
        assert result.stdout.splitlines() == ["direct (default (no proxy variables))", "-"]
    else:
        assert result.stdout.splitlines() == [f"{PROXY} (env HTTPS_PROXY)", PROXY]


# --- Client(proxies=...) --------------------------------------------------------------------


def test_proxies_none_is_always_direct() -> None:
    config = proxy_config(None, environ={"HTTPS_PROXY": PROXY, "ALL_PROXY": PROXY})
    for url in ("https://example.com/", "http://example.com/"):
        assert str(route(url, config)) == "direct (Client(proxies=None))"
    assert not route(
        "https://example.com/", proxy_config("env", environ={"ALL_PROXY": PROXY})
    ).is_direct


DICT_TABLE: list[tuple[dict[str, str], str, str]] = [
    ({"https": PROXY}, f'{PROXY} (Client(proxies=...)["https"])', "direct (Client(proxies=...))"),
    ({"http": PROXY}, "direct (Client(proxies=...))", f'{PROXY} (Client(proxies=...)["http"])'),
    (
        {"all": "http://p"},
        'http://p:80 (Client(proxies=...)["all"])',
        'http://p:80 (Client(proxies=...)["all"])',
    ),
    (
        {"all": "http://p", "https": "https://s"},
        'https://s:443 (Client(proxies=...)["https"])',
        'http://p:80 (Client(proxies=...)["all"])',
    ),
    (
        {"https": PROXY, "no": "example.com"},
        'direct (Client(proxies=...)["no"] "example.com")',
        "direct (Client(proxies=...))",
    ),
    (
        {"https": PROXY, "no": "other.org"},
        f'{PROXY} (Client(proxies=...)["https"])',
        "direct (Client(proxies=...))",
    ),
    (
        {"ftp": "ftp://x", "socks": "whatever"},
        "direct (Client(proxies=...))",
        "direct (Client(proxies=...))",
    ),
    ({"https": ""}, "direct (Client(proxies=...))", "direct (Client(proxies=...))"),
]


@pytest.mark.parametrize(("proxies", "https_route", "http_route"), DICT_TABLE)
def test_mapping_form(proxies: dict[str, str], https_route: str, http_route: str) -> None:
    config = proxy_config(proxies, environ={"ALL_PROXY": "http://from-env:1"})
    assert str(route("https://example.com/", config)) == https_route
    assert str(route("http://example.com/", config)) == http_route


def test_mapping_form_accepts_what_urllib_getproxies_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", PROXY)
    monkeypatch.setenv("no_proxy", "localhost")
    config = proxy_config(urllib.request.getproxies())
    assert route("https://example.com/", config).proxy == parse_proxy_url(PROXY, source="t")
    assert route("https://localhost/", config).is_direct


BAD_MAPPINGS: list[tuple[Any, str]] = [
    ({"https": "http://proxy:99999"}, "port"),
    ({"https": "http://proxy:0"}, "port"),
    ({"https": "http://proxy:abc"}, "port"),
    ({"https": "http://"}, "no host"),
    ({"https": "http://proxy/path"}, "path"),
    ({"https": "http://proxy?x"}, "path, query"),
    ({"https": "http://pr oxy"}, "space"),
    ({"https": "http://::1:3128"}, "brackets"),
    ({"https": "http://[::1"}, "unclosed"),
    ({"https": "http://bad_label-.example"}, "not a valid name"),
    ({"all": "http://proxy:70000", "https": PROXY}, "port"),
    ({"https": 3128}, "strings"),
    ("http://proxy.corp:3128", 'other than "env"'),
    (42, "got int"),
]


@pytest.mark.parametrize(("proxies", "problem"), BAD_MAPPINGS)
def test_bad_mapping_is_an_error_at_construction(proxies: Any, problem: str) -> None:
    with pytest.raises(PolicyError, match=re.escape("Client(proxies=...)")) as info:
        proxy_config(proxies)
    assert problem in str(info.value)


def test_good_mapping_twin_constructs() -> None:
    config = proxy_config({"https": "http://proxy:3128", "all": "http://[::1]:3128"})
    assert route("http://x.org/", config).proxy == ProxyURL("http", "::1", 3128)


# --- unsupported proxies: refused, never direct -------------------------------------------------

UNSUPPORTED = [
    "socks4://proxy:1080",
    "socks5://proxy:1080",
    "socks5h://proxy:1080",
    "SOCKS5://proxy",
    "ftp://proxy:21",
    "quic://proxy",
]


@pytest.mark.parametrize("url", UNSUPPORTED)
def test_unsupported_scheme_in_mapping_is_refused_at_request_time(url: str) -> None:
    config = proxy_config({"https": url})
    refused = route("https://example.com/", config)
    assert not refused.is_direct
    assert refused.proxy is None
    with pytest.raises(ProxyError, match="not supported") as info:
        refused.require()
    assert "never connected directly" in str(info.value)
    assert ("socks proxies" in str(info.value)) is url.lower().startswith("socks")
    assert route("http://example.com/", config).require() is None  # the twin: no proxy for http


@pytest.mark.parametrize("url", UNSUPPORTED)
def test_unsupported_scheme_in_environment_is_refused(url: str) -> None:
    config = proxy_config(environ={"ALL_PROXY": url, "NO_PROXY": "localhost"})
    for target in ("https://example.com/", "http://example.com/"):
        with pytest.raises(ProxyError, match=r"env ALL_PROXY: .* not supported"):
            route(target, config).require()
    assert route("http://localhost/", config).require() is None


def test_malformed_variable_is_refused_only_for_its_scheme() -> None:
    config = proxy_config(environ={"http_proxy": "http://proxy:99999", "https_proxy": PROXY})
    with pytest.raises(ProxyError, match="env http_proxy: the proxy URL cannot be used: the port"):
        route("http://example.com/", config).require()
    assert route("https://example.com/", config).require() == parse_proxy_url(PROXY, source="t")


def test_proxy_setting_of_a_policy() -> None:
    direct = proxy_setting("direct", "p.yaml:3 proxy")
    assert str(route("https://x.org/", direct)) == "direct (p.yaml:3 proxy)"
    fixed = proxy_setting("https://proxy.corp:8443", "p.yaml:3 proxy")
    assert str(route("http://x.org/", fixed)) == "https://proxy.corp:8443 (p.yaml:3 proxy)"
    for bad in ("socks5://proxy", f"http://user:{SECRET}@proxy", "http://proxy:0", "directly"):
        with pytest.raises(PolicyError, match=re.escape("p.yaml:3 proxy")) as info:
            proxy_setting(bad, "p.yaml:3 proxy")
        assert SECRET not in str(info.value)


# --- proxy URLs: canonical hosts, default ports, credentials never shown -------------------------

PROXY_URLS = [
    ("http://PROXY.Corp.:3128", "http://proxy.corp:3128"),
    ("HTTP://proxy.corp", "http://proxy.corp:80"),
    ("https://proxy.corp", "https://proxy.corp:443"),
    ("https://proxy.corp:", "https://proxy.corp:443"),
    ("proxy.corp:3128", "http://proxy.corp:3128"),
    ("http://proxy.corp:3128/", "http://proxy.corp:3128"),
    (" http://proxy.corp:3128 ", "http://proxy.corp:3128"),
    ("http://[2001:db8::1]:3128", "http://[2001:db8::1]:3128"),
    ("http://[::ffff:10.0.0.1]:3128", "http://10.0.0.1:3128"),
    ("http://b\u00fccher.example", "http://xn--bcher-kva.example:80"),
    ("http://0x7f.1:3128", "http://127.0.0.1:3128"),
]


@pytest.mark.parametrize(("text", "url"), PROXY_URLS)
def test_proxy_url_is_canonical(text: str, url: str) -> None:
    proxy = parse_proxy_url(text, source="t")
    assert proxy.url == url
    assert proxy.authorization() is None
    assert str(proxy) == url


WITH_SECRETS = [
    (f"http://alice:{SECRET}@proxy.corp:3128", "alice", SECRET),
    (f"http://{SECRET}@proxy.corp:3128", SECRET, ""),
    (f"http://:{SECRET}@proxy.corp:3128", "", SECRET),
    ("http://al%40ice:s3cr3t%2FPa55%3A@proxy.corp:3128", "al@ice", "s3cr3t/Pa55:"),
    (f"alice:{SECRET}@proxy.corp:3128", "alice", SECRET),
]


@pytest.mark.parametrize(("text", "username", "password"), WITH_SECRETS)
def test_credentials_are_kept_and_never_shown(text: str, username: str, password: str) -> None:
    config = proxy_config({"https": text})
    taken = route("https://example.com/", config)
    proxy = taken.require()
    assert proxy is not None
    assert (proxy.username, proxy.password) == (username, password)
    header = proxy.authorization()
    assert header is not None
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == f"{username}:{password}"
    assert proxy.display == "http://***@proxy.corp:3128"
    assert proxy.url == "http://proxy.corp:3128"
    shown = [
        repr(proxy),
        str(proxy),
        repr(taken),
        str(taken),
        taken.display,
        repr(config),
        proxy.url,
    ]
    for text_shown in shown:
        assert SECRET not in text_shown
        assert "s3cr3t" not in text_shown
        assert "alice" not in text_shown
    assert str(taken) == """http://***@proxy.corp:3128 (Client(proxies=...)["https"])"""


LEAKY_BAD_URLS = [
    f"http://alice:{SECRET}",
    f"http://alice:{SECRET}@proxy:99999",
    f"http://alice:{SECRET[:3]}/{SECRET[3:]}@proxy",
    f"http://alice:{SECRET}#x@proxy",
    f"http://alice:{SECRET}@",
    f"http://alice:{SECRET}@pr oxy",
    f"http://alice:{SECRET} @proxy",
    f"http://alice:{SECRET}@[::1",
    f"http://alice:{SECRET}:x@::1",
    "http://alice:%ff%fes3cr3t@proxy",
    f"socks5://alice:{SECRET}@proxy:1080",
    f"gopher://alice:{SECRET}@proxy",
]


def _all_text(error: BaseException) -> str:
    parts = []
    current: BaseException | None = error
    while current is not None:
        parts.append(f"{current!s} {current!r}")
        current = current.__cause__ or current.__context__
    return " ".join(parts)


@pytest.mark.parametrize("text", LEAKY_BAD_URLS)
def test_error_messages_never_carry_credentials(text: str) -> None:
    secrets = ("s3cr3t", SECRET[3:], "alice")
    if text.startswith(("socks5", "gopher")):
        refused = route("https://example.com/", proxy_config({"https": text}))
        with pytest.raises(ProxyError) as refusal:
            refused.require()
        shown = _all_text(refusal.value) + repr(refused) + str(refused)
    else:
        with pytest.raises(PolicyError) as error:
            proxy_config({"https": text})
        env_route = route("https://example.com/", proxy_config(environ={"HTTPS_PROXY": text}))
        with pytest.raises(ProxyError) as from_env:
            env_route.require()
        shown = _all_text(error.value) + _all_text(from_env.value) + repr(env_route)
    for secret in secrets:
        assert secret not in shown


def test_routes_with_different_credentials_differ() -> None:
    one = route("https://x.org/", proxy_config({"https": "http://u:one@proxy:3128"}))
    two = route("https://x.org/", proxy_config({"https": "http://u:two@proxy:3128"}))
    none = route("https://x.org/", proxy_config({"https": "http://proxy:3128"}))
    again = route(
        "https://x.org/", proxy_config({"https": "http://u:one@proxy:3128", "no": "y.org"})
    )
    assert one != two != none != one
    assert len({one, two, none}) == 3
    assert str(one) == str(two)  # they print alike: the credentials are never shown
    assert one == again
    assert hash(one) == hash(again)
    assert {one: "pool"}[again] == "pool"


def test_route_source_is_not_part_of_equality() -> None:
    from_env = route("https://x.org/", proxy_config(environ={"HTTPS_PROXY": PROXY}))
    from_all = route("https://x.org/", proxy_config(environ={"ALL_PROXY": PROXY}))
    assert from_env.source != from_all.source
    assert from_env == from_all
    assert from_env != Route(refused="x", source=from_env.source)
    assert Route(source="a") == Route(source="b")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_proxy_url_parses_or_is_a_policy_error(text: str) -> None:
    try:
        proxy = parse_proxy_url(text, source="t")
    except PolicyError:
        return
    assert proxy.scheme in ("http", "https")
    assert 0 < proxy.port < 65536
