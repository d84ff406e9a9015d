"""The environment as one policy layer (SPEC §4, layer 4).

An empty value is unset, never "off" (the class of requests' ``CURL_CA_BUNDLE=""`` bug).
``PYTHONHTTPSVERIFY`` follows PEP 493 exactly: only the string ``0`` disables; any other
value changes nothing (and warns unless it is ``1``).  Invalid ``SECUREHTTP_*`` values and
CA variables naming missing files are :class:`PolicyError`\\ s naming the variable, because
guessing would either weaken verification or silently change what is trusted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .._exceptions import PolicyError, PolicyWarning
from .._frozen import FrozenDict
from .._policy import TLS_VERSIONS, Block, Policy, Setting, Verify
from .._warn import warn

__all__ = ["VARIABLES", "read_environment"]

# Every variable securehttp reads; tests clear all of them.
VARIABLES = (
    "PYTHONHTTPSVERIFY",
    "SECUREHTTP_VERIFY",
    "SECUREHTTP_MIN_TLS",
    "SECUREHTTP_POLICY",
    "SECUREHTTP_PEP493_CONFIG",
    "SECUREHTTP_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
_TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def read_environment(environ: Mapping[str, str]) -> Policy | None:
    """The environment layer, or None when no variable that shapes a decision is set."""
    get = {name: environ.get(name, "") for name in VARIABLES}
    settings: dict[str, Setting] = {}

    raw = get["PYTHONHTTPSVERIFY"]
    if raw == "0":
        settings["verify"] = Setting(Verify.DISABLED, "env PYTHONHTTPSVERIFY=0")
    elif raw not in ("", "1"):
        warn(
            PolicyWarning(
                f"PYTHONHTTPSVERIFY={raw!r} is not '0', so it changes nothing "
                "(PEP 493: only the exact string 0 disables verification)"
            )
        )

    if get["SECUREHTTP_VERIFY"]:
        value = get["SECUREHTTP_VERIFY"]
        if value not in Verify._value2member_map_:
            raise PolicyError(
                f"expected strict, warn or disabled; got {value!r}", source="env SECUREHTTP_VERIFY"
            )
        settings["verify"] = Setting(Verify(value), f"env SECUREHTTP_VERIFY={value}")

    if get["SECUREHTTP_MIN_TLS"]:
        value = get["SECUREHTTP_MIN_TLS"]
        if value not in TLS_VERSIONS:
            raise PolicyError(
                f"expected one of {', '.join(TLS_VERSIONS)}; got {value!r}",
                source="env SECUREHTTP_MIN_TLS",
            )
        settings["min_tls"] = Setting(value, f"env SECUREHTTP_MIN_TLS={value}")

    trust: list[str] = []
    named: list[str] = []
    for name in _TRUST_VARIABLES:
        value = get[name]
        if not value:
            continue
        named.append(f"{name}={value}")
        parts = value.split(os.pathsep) if name == "SSL_CERT_DIR" else [value]
        for part in parts:
            if part:
                trust.append(_ca_path(name, part))
    if trust:
        settings["trust"] = Setting(tuple(dict.fromkeys(trust)), "env " + ", ".join(named))

    extra = get["SECUREHTTP_EXTRA_CA_CERTS"]
    if extra:
        path = _ca_path("SECUREHTTP_EXTRA_CA_CERTS", extra)
        settings["extra_ca"] = Setting((path,), f"env SECUREHTTP_EXTRA_CA_CERTS={extra}")

    if not settings:
        return None
    return Policy(source="environment", defaults=Block("environment", FrozenDict(settings)))


def _ca_path(variable: str, value: str) -> str:
    path = os.path.abspath(os.path.expanduser(value))
    want_dir = variable == "SSL_CERT_DIR"
    want_file = variable in ("SSL_CERT_FILE", "SECUREHTTP_EXTRA_CA_CERTS")
    if want_dir and not os.path.isdir(path):
        raise PolicyError(f"{value!r} is not a directory", source=f"env {variable}")
    if want_file and not os.path.isfile(path):
        raise PolicyError(f"{value!r} is not a file", source=f"env {variable}")
    if not os.path.exists(path):
        raise PolicyError(f"{value!r} does not exist", source=f"env {variable}")
    return path
