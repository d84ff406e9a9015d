"""Attack review, TLS classes: cipher strings, common-name matching, sealed contexts.

Each class is tried in many spellings against real servers on loopback; the fix is at the
mechanism (never-allowed suites appended after any policy string; the name rule checked on
the certificate for every context; contexts that cannot be changed and are re-checked on
every connection), so no spelling below should get through.
"""

from __future__ import annotations

import _ssl
import ipaddress
import ssl
import urllib.error
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509

from securehttp import CertificateError, Client, Policy, PolicyError, URLError, urlopen
from securehttp._ciphers import forbidden_suites
from securehttp._verification import contexts

from .tlsserver import cn_only_cert, serve, write

WAIVER = {"expires": "2999-01-01", "reason": "test: legacy cipher suite"}


def policy(ca_pem: Path, **defaults: Any) -> Policy:
    return Policy.from_dict(
        {"version": 1, "defaults": {"trust": str(ca_pem), **defaults}}, source="test-policy"
    )


@pytest.fixture(autouse=True)
def fresh_contexts() -> Iterator[None]:
    # Some tests below tamper with cached contexts on purpose.
    contexts.clear()
    yield
    contexts.clear()


# --- 1. cipher strings ----------------------------------------------------------------------

NOTHING_USABLE = [
    "aNULL",
    "eNULL",
    "NULL",
    "aNULL:eNULL:@SECLEVEL=0",
    "ADH-AES256-GCM-SHA384:@SECLEVEL=0",
    "AECDH-AES256-SHA:@SECLEVEL=0",
    "NULL-SHA256:@SECLEVEL=0",
    "ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0",
    "EXP:@SECLEVEL=0",
    "RC4-SHA:@SECLEVEL=0",
    "DES-CBC3-SHA:@SECLEVEL=0",
    "PSK:@SECLEVEL=0",
    "SRP:@SECLEVEL=0",
    "kDHE+aNULL",
    "COMPLEMENTOFDEFAULT+aNULL",
]


@pytest.mark.parametrize("ciphers", NOTHING_USABLE)
def test_a_string_that_selects_nothing_usable_is_a_policy_error_at_its_line(
    ciphers: str, write_policy: Callable[..., Path]
) -> None:
    path = write_policy(
        f'version: 1\ndefaults:\n  ciphers: "{ciphers}"\n  expires: 2999-01-01\n  reason: "test"\n'
    )
    from securehttp import load_policy

    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.line == 3
    assert info.value.key_path == "defaults.ciphers"


LOWERED = ["ALL:@SECLEVEL=0", "HIGH:@SECLEVEL=1", "@SECLEVEL=0:ALL", "ALL:@SECLEVEL=2:@SECLEVEL=0"]


@pytest.mark.parametrize("ciphers", LOWERED)
def test_a_lowered_security_level_is_a_weakening_that_needs_expires_and_reason(
    ciphers: str, ca_pem: Path
) -> None:
    with pytest.raises(PolicyError, match="weakens verification"):
        policy(ca_pem, ciphers=ciphers)
    waived = policy(ca_pem, ciphers=ciphers, **WAIVER).resolve("https://localhost/")
    assert waived.ciphers == ciphers
    assert waived.reason == WAIVER["reason"]


@pytest.mark.parametrize(
    "ciphers", ["HIGH", "ECDHE+AESGCM", "@SECLEVEL=2:HIGH", "@SECLEVEL=3:HIGH"]
)
def test_narrowing_strings_need_no_waiver(ciphers: str, ca_pem: Path) -> None:
    assert policy(ca_pem, ciphers=ciphers).resolve("localhost").ciphers == ciphers


ADMITTING = [
    "ALL",
    "ALL:eNULL",
    "ALL:aNULL",
    "ALL:+aNULL:+eNULL",
    "COMPLEMENTOFALL:ALL",
    "DEFAULT:aNULL:eNULL",
    "HIGH:ADH-AES256-GCM-SHA384:NULL-SHA256",
    "ALL:-aNULL:+aNULL",
    "ALL:@SECLEVEL=0",
    "ALL:eNULL:@SECLEVEL=0",
    "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
    "aNULL:eNULL:HIGH:@SECLEVEL=0",
]


@pytest.mark.parametrize("ciphers", ADMITTING)
def test_no_string_puts_an_unauthenticated_or_unencrypted_suite_in_a_context(
    ciphers: str, ca_pem: Path
) -> None:
    decision = policy(ca_pem, ciphers=ciphers, **WAIVER).resolve("localhost")
    ctx = contexts.get(decision.tls)
    assert forbidden_suites(ctx) == []
    for suite in ctx.get_ciphers():
        assert suite["auth"] != "auth-null", suite["name"]
        assert suite["symmetric"] not in (None, "null"), suite["name"]


def _anonymous_server() -> ssl.SSLContext:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no certificate at all
    tls.maximum_version = ssl.TLSVersion.TLSv1_2
    tls.set_ciphers("aNULL:@SECLEVEL=0")
    return tls


def _null_encryption_server(cert: trustme.LeafCert) -> ssl.SSLContext:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(tls)
    tls.maximum_version = ssl.TLSVersion.TLSv1_2
    tls.set_ciphers("eNULL:@SECLEVEL=0")
    return tls


@pytest.mark.parametrize("ciphers", ["ALL:@SECLEVEL=0", "ALL:aNULL:@SECLEVEL=0", "aNULL:HIGH"])
def test_a_server_without_a_certificate_is_never_accepted(ciphers: str, ca_pem: Path) -> None:
    chosen = policy(ca_pem, ciphers=ciphers, **WAIVER)
    with serve(_anonymous_server(), name="localhost") as server, Client(chosen) as client:
        with pytest.raises(URLError):
            client.get(server.url("/"), headers={"Authorization": "Bearer SECRET"})
        assert server.httpd.requests == []


@pytest.mark.parametrize("ciphers", ["ALL:eNULL:@SECLEVEL=0", "eNULL:HIGH", "ALL:NULL"])
def test_a_request_never_goes_out_in_clear_text(
    ciphers: str, ca_pem: Path, localhost_cert: trustme.LeafCert
) -> None:
    chosen = policy(ca_pem, ciphers=ciphers, **WAIVER)
    with (
        serve(_null_encryption_server(localhost_cert), name="localhost") as server,
        Client(chosen) as client,
    ):
        with pytest.raises(URLError):
            client.get(server.url("/"), headers={"Authorization": "Bearer SECRET"})
        assert server.httpd.requests == []


def test_twin_a_waived_security_level_still_connects_to_a_normal_server(
    ca_pem: Path, good_server: Any
) -> None:
    with Client(policy(ca_pem, ciphers="ALL:@SECLEVEL=0", **WAIVER)) as client:
        assert client.get(good_server.url("/")).status == 200


# --- 3. names are never matched through the common name ------------------------------------

SAN_WITHOUT_A_NAME: dict[str, tuple[x509.GeneralName, ...]] = {
    "no subjectAltName": (),
    "e-mail only": (x509.RFC822Name("admin@localhost"),),
    "URI only": (x509.UniformResourceIdentifier("https://localhost/"),),
    "e-mail and URI": (
        x509.RFC822Name("admin@localhost"),
        x509.UniformResourceIdentifier("https://localhost/"),
    ),
    "IP address only": (x509.IPAddress(ipaddress.ip_address("127.0.0.1")),),
    "directory name only": (
        x509.DirectoryName(
            x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "localhost")])
        ),
    ),
    "registered id only": (x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")),),
}


def _cn_server(ca: trustme.CA, tmp_path: Path, others: tuple[x509.GeneralName, ...]) -> Any:
    cert_pem, key_pem = cn_only_cert(ca, "localhost", other_names=others)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(write(tmp_path / "leaf.pem", cert_pem), write(tmp_path / "k.pem", key_pem))
    return serve(tls, name="localhost")


def _stdlib(ca_pem: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_pem))
    ctx.hostname_checks_common_name = True  # as a caller's context may well say
    return ctx


CLIENTS: dict[str, Callable[[Path, str], object]] = {
    "Client(context=)": lambda ca_pem, url: Client().get(url, context=_stdlib(ca_pem)),
    "urlopen(context=)": lambda ca_pem, url: urlopen(url, context=_stdlib(ca_pem)),
    "policy trust": lambda ca_pem, url: Client(policy(ca_pem)).get(url),
    "urlopen(policy=)": lambda ca_pem, url: urlopen(url, policy=policy(ca_pem)),
}


@pytest.mark.parametrize("san", list(SAN_WITHOUT_A_NAME))
@pytest.mark.parametrize("how", list(CLIENTS))
def test_common_name_is_never_used(
    san: str, how: str, ca: trustme.CA, ca_pem: Path, tmp_path: Path
) -> None:
    with _cn_server(ca, tmp_path, SAN_WITHOUT_A_NAME[san]) as server:
        with pytest.raises(CertificateError) as info:
            CLIENTS[how](ca_pem, server.url("/"))
        assert isinstance(info.value, urllib.error.URLError)
        assert server.httpd.requests == []


@pytest.mark.parametrize("how", list(CLIENTS))
def test_twin_a_dns_name_in_subject_alt_name_passes(
    how: str, ca: trustme.CA, ca_pem: Path, tmp_path: Path
) -> None:
    cert_pem, key_pem = cn_only_cert(ca, "localhost", dns_names=("localhost",))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(write(tmp_path / "leaf.pem", cert_pem), write(tmp_path / "k.pem", key_pem))
    with serve(tls, name="localhost") as server:
        response: Any = CLIENTS[how](ca_pem, server.url("/"))
        assert response.status == 200


# --- 7. a sealed context cannot be unsealed -------------------------------------------------


def _off(ctx: ssl.SSLContext) -> None:
    object.__setattr__(ctx, "check_hostname", False)
    object.__setattr__(ctx, "verify_mode", ssl.CERT_NONE)


def _reclass(ctx: ssl.SSLContext) -> None:
    object.__setattr__(ctx, "__class__", ssl.SSLContext)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE


def _quietly(call: Callable[..., object], *args: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old TLS versions are deprecated
        call(*args)


def _tamper(how: str, ctx: ssl.SSLContext, other: Path) -> bool:
    """Try it; True when the context refused outright (the best outcome)."""
    try:
        TAMPERING[how](ctx, other)
    except (RuntimeError, AttributeError, TypeError):
        return True
    return False


def _c_level(ctx: ssl.SSLContext) -> None:
    _ssl._SSLContext.check_hostname.__set__(ctx, False)  # type: ignore[attr-defined]
    _ssl._SSLContext.verify_mode.__set__(ctx, ssl.CERT_NONE)  # type: ignore[attr-defined]


TAMPERING: dict[str, Callable[[ssl.SSLContext, Path], None]] = {
    "set _sealed": lambda ctx, other: setattr(ctx, "_sealed", False),
    "del _sealed": lambda ctx, other: delattr(ctx, "_sealed"),
    "object.__setattr__ _sealed": lambda ctx, other: object.__setattr__(ctx, "_sealed", False),
    "set verify_mode": lambda ctx, other: setattr(ctx, "verify_mode", ssl.CERT_NONE),
    "del verify_mode": lambda ctx, other: delattr(ctx, "verify_mode"),
    "object.__setattr__ verify_mode": lambda ctx, other: _off(ctx),
    "object.__setattr__ check_hostname": lambda ctx, other: object.__setattr__(
        ctx, "check_hostname", False
    ),
    "unbound load_verify_locations": lambda ctx, other: ssl.SSLContext.load_verify_locations(
        ctx, cafile=str(other)
    ),
    "__class__ swap": lambda ctx, other: _reclass(ctx),
    "C-level descriptors": lambda ctx, other: _c_level(ctx),
    "verify_flags": lambda ctx, other: object.__setattr__(ctx, "verify_flags", 0),
    "common name fallback": lambda ctx, other: object.__setattr__(
        ctx, "hostname_checks_common_name", True
    ),
    "unbound set_ciphers": lambda ctx, other: ssl.SSLContext.set_ciphers(
        ctx, "ALL:aNULL:@SECLEVEL=0"
    ),
    "minimum_version": lambda ctx, other: _quietly(
        object.__setattr__, ctx, "minimum_version", ssl.TLSVersion.TLSv1_1
    ),
    "sslsocket_class": lambda ctx, other: object.__setattr__(
        ctx, "sslsocket_class", type("Evil", (ssl.SSLSocket,), {})
    ),
}


@pytest.fixture(scope="module")
def other_ca_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("other") / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


@pytest.mark.parametrize("how", list(TAMPERING))
def test_a_tampered_context_never_verifies_less(
    how: str,
    ca_pem: Path,
    other_ca_pem: Path,
    make_server: Callable[..., Any],
    good_server: Any,
) -> None:
    chosen = policy(ca_pem)
    wrong_host = make_server(trustme.CA().issue_cert("localhost"))  # untrusted CA
    with Client(chosen) as client:
        assert client.get(good_server.url("/")).status == 200  # builds and caches the context
        _tamper(how, contexts.get(chosen.resolve("localhost").tls), other_ca_pem)
    with Client(chosen) as client:
        with pytest.raises(CertificateError):
            client.get(wrong_host.url("/"))
        assert wrong_host.httpd.requests == []


@pytest.mark.parametrize("how", list(TAMPERING))
def test_a_tampered_context_is_dropped_and_a_fresh_one_serves_the_next_request(
    how: str, ca_pem: Path, other_ca_pem: Path, good_server: Any
) -> None:
    chosen = policy(ca_pem)
    with Client(chosen) as client:
        assert client.get(good_server.url("/")).status == 200
    refused = _tamper(how, contexts.get(chosen.resolve("localhost").tls), other_ca_pem)
    with Client(chosen) as client:
        if not refused:
            with pytest.raises(CertificateError, match="modified"):
                client.get(good_server.url("/"))
        assert client.get(good_server.url("/")).status == 200


def test_every_mutating_method_of_a_sealed_context_refuses(ca_pem: Path) -> None:
    ctx = contexts.get(policy(ca_pem).resolve("localhost").tls)
    mutators = [
        name
        for name in dir(ssl.SSLContext)
        if name.startswith(("set_", "load_")) and callable(getattr(ssl.SSLContext, name))
    ]
    assert "load_verify_locations" in mutators
    for name in mutators:
        if name == "set_alpn_protocols":
            getattr(ctx, name)(["http/1.1"])  # the value already there: a no-op
            with pytest.raises(RuntimeError):
                getattr(ctx, name)(["h2"])
            continue
        with pytest.raises(RuntimeError):
            getattr(ctx, name)("x")


def test_an_old_protocol_waiver_builds_its_context_without_a_deprecation_warning(
    ca_pem: Path,
) -> None:
    # The waiver already warns in securehttp's words; ssl's DeprecationWarning would only
    # point at securehttp's own line (and fail programs that turn warnings into errors).
    decision = policy(ca_pem, min_tls="1.0", **WAIVER).resolve("localhost")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctx = contexts.get(decision.tls)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1


def test_no_context_negotiates_an_anonymous_suite_not_even_a_callers() -> None:
    # A caller's context is used as given (PEP 476), but the suite the server chose is still
    # checked: an anonymous or unencrypted one never carries a request.
    mine = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    mine.check_hostname = False
    mine.verify_mode = ssl.CERT_NONE
    mine.maximum_version = ssl.TLSVersion.TLSv1_2
    mine.set_ciphers("aNULL:@SECLEVEL=0")
    with serve(_anonymous_server(), name="localhost") as server, Client() as client:
        with pytest.raises(CertificateError, match="never used"):
            client.get(server.url("/"), context=mine)
        assert server.httpd.requests == []
