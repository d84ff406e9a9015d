"""Policy documents: :class:`Policy`, built from a mapping or strict YAML and validated.

A :class:`Policy` is one document (a YAML file, a dict, or a layer built from the
environment): ``defaults`` plus host rules.  Every value carries a human-readable source
(``"policies/legacy.yaml:14 hosts."legacy.example.org""``) so that a :class:`Decision` can say
where each of its settings came from.  The records themselves live in :mod:`._model`.
"""

from __future__ import annotations

import base64
import datetime
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._exceptions import PolicyError
from ._frozen import FrozenDict, Record
from ._hosts import HostIndex, HostPattern, Target, parse_pattern
from ._keypath import KeyPath, format_path
from ._model import (
    DEFAULTS,
    EMPTY_BLOCK,
    SETTINGS,
    TLS_VERSIONS,
    Block,
    ClientCert,
    Decision,
    Setting,
    TLSSettings,
    Verify,
    is_weakening,
    show_value,
)
from ._resolve import Resolver

# The model's names are re-exported: this module is where users' imports have always pointed.
__all__ = [
    "DEFAULTS",
    "SETTINGS",
    "TLS_VERSIONS",
    "Block",
    "ClientCert",
    "Decision",
    "Policy",
    "Setting",
    "TLSSettings",
    "Verify",
    "is_weakening",
    "load_policy",
]

_PIN = re.compile(r"sha256/([A-Za-z0-9+/]{43}=)\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BLOCK_KEYS = (*SETTINGS, "expires", "reason")
_TOP_KEYS = ("version", "lock", "defaults", "hosts")


class Policy(Record):
    """One policy document.  Build it with :meth:`from_dict`, :meth:`from_yaml` or
    :func:`securehttp.load_policy`; then :meth:`resolve` a URL or host to a :class:`Decision`.

    A policy resolves on its own (built-in defaults below it) - what ``Client(policy=...)``
    and ``policy=`` on a request use.  The process default merges several layers instead.
    """

    __slots__ = (
        "_index",
        "_resolver",
        "chosen_by",
        "defaults",
        "hosts",
        "lock",
        "source",
        "version",
    )
    _fields = ("source", "version", "lock", "defaults", "hosts", "chosen_by")
    source: str
    version: int
    lock: bool
    defaults: Block
    hosts: tuple[Block, ...]
    chosen_by: str | None
    _index: HostIndex[Block]
    _resolver: list[Resolver]

    def __init__(
        self,
        source: str = "<dict>",
        version: int = 1,
        lock: bool = False,
        defaults: Block | None = None,
        hosts: tuple[Block, ...] = (),
        _index: HostIndex[Block] | None = None,
        chosen_by: str | None = None,
    ) -> None:
        if _index is None:
            _index = HostIndex([(b.pattern, b) for b in hosts if b.pattern is not None])
        self._init(
            source=source,
            version=version,
            lock=lock,
            defaults=EMPTY_BLOCK if defaults is None else defaults,
            hosts=hosts,
            chosen_by=chosen_by,
            _index=_index,
            _resolver=[],  # the resolver made on first use (a list: assignable once frozen)
        )

    def __repr__(self) -> str:
        return f"Policy(source={self.source!r}, lock={self.lock}, hosts={len(self.hosts)})"

    def chosen_through(self, variable: str) -> Policy:
        """This policy, marked as named by an environment variable: for ``lock`` it then
        ranks as the environment, whatever layer it feeds (SPEC §4)."""
        return Policy(
            source=self.source,
            version=self.version,
            lock=self.lock,
            defaults=self.defaults,
            hosts=self.hosts,
            _index=self._index,
            chosen_by=variable,
        )

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any] | None,
        *,
        source: str = "<dict>",
        base_dir: str | os.PathLike[str] | None = None,
    ) -> Policy:
        """Validate a mapping shaped like the YAML document (SPEC §5)."""
        return _Parser(source, base_dir, {}).policy(data)

    @classmethod
    def from_yaml(
        cls,
        text: str | bytes,
        *,
        source: str = "<string>",
        base_dir: str | os.PathLike[str] | None = None,
    ) -> Policy:
        """Parse a YAML policy strictly; relative file names are relative to ``base_dir``."""
        from . import _yaml

        document = _yaml.load(text, source)
        return _Parser(source, base_dir, document.positions).policy(document.value)

    def match(self, target: Target) -> Block | None:
        """The most specific host rule for ``target``, or None."""
        return self._index.lookup(target.host, target.port, target.is_ip)

    def resolve(self, url_or_host: str) -> Decision:
        """The decision for a URL (``https://host:port/...``) or a bare host, with this policy
        over the built-in defaults.  Pure: no I/O."""
        return self.resolver().resolve(url_or_host)

    def resolver(self) -> Resolver:
        """This policy over the built-in defaults, with its decision cache (made once)."""
        if not self._resolver:
            self._resolver.append(Resolver((self,)))
        return self._resolver[0]


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Load a policy file (strict YAML, permissions checked on the opened file)."""
    from ._files import read_checked

    source = os.fspath(path)
    data = read_checked(source)
    return Policy.from_yaml(data, source=source, base_dir=Path(source).resolve().parent)


# --- validation -----------------------------------------------------------------------------


class _Parser:
    def __init__(
        self,
        source: str,
        base_dir: str | os.PathLike[str] | None,
        positions: Mapping[KeyPath, tuple[int, int]],
    ) -> None:
        self.source = source
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self.positions = positions

    def error(self, path: KeyPath, problem: str) -> PolicyError:
        line, column = self.positions.get(path, (None, None))
        return PolicyError(
            problem, source=self.source, line=line, column=column, key_path=format_path(path)
        )

    def where(self, line_of: KeyPath, block: KeyPath) -> str:
        """``file:line block.path``: the line of ``line_of``, the key path of its block."""
        position = self.positions.get(line_of)
        head = f"{self.source}:{position[0]}" if position else self.source
        return f"{head} {format_path(block)}"

    def policy(self, data: object) -> Policy:
        if data is None:
            return Policy(source=self.source)
        mapping = self.mapping(data, ())
        self.unknown_keys(mapping, (), _TOP_KEYS)
        version = mapping.get("version", 1)
        if type(version) is not int or version != 1:
            raise self.error(("version",), f"unsupported policy version {version!r}: expected 1")
        lock = self.boolean(mapping.get("lock", False), ("lock",))
        defaults = EMPTY_BLOCK
        if mapping.get("defaults") is not None:
            defaults = self.block(mapping["defaults"], ("defaults",), None)
        hosts: list[Block] = []
        raw_hosts = mapping.get("hosts")
        if raw_hosts is not None:
            seen: dict[tuple[str, str, int | None, int], str] = {}
            for key, value in self.mapping(raw_hosts, ("hosts",)).items():
                path: KeyPath = ("hosts", key)
                try:
                    pattern = parse_pattern(key)
                except ValueError as exc:
                    raise self.error(path, str(exc)) from None
                same = (pattern.kind, pattern.value, pattern.port, pattern.prefix)
                other = seen.get(same)
                if other is not None:
                    raise self.error(
                        path, f"the same hosts as {other!r} (keys are compared normalised)"
                    )
                seen[same] = key
                hosts.append(self.block(value if value is not None else {}, path, pattern))
        index = HostIndex([(b.pattern, b) for b in hosts if b.pattern is not None])
        return Policy(
            source=self.source,
            version=1,
            lock=lock,
            defaults=defaults,
            hosts=tuple(hosts),
            _index=index,
        )

    def mapping(self, value: object, path: KeyPath) -> Mapping[str, object]:
        if not isinstance(value, Mapping):
            raise self.error(path, f"expected a mapping, got {_type_name(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.error(path, f"key {key!r} is not a string")
        return value

    def unknown_keys(
        self, mapping: Mapping[str, object], path: KeyPath, allowed: tuple[str, ...]
    ) -> None:
        for key in mapping:
            if key not in allowed:
                import difflib  # only for the hint in an error: kept off the import path

                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error((*path, key), f"unknown key {key!r}{hint}")

    def block(self, data: object, path: KeyPath, pattern: HostPattern | None) -> Block:
        mapping = self.mapping(data, path)
        self.unknown_keys(mapping, path, _BLOCK_KEYS)
        settings: dict[str, Setting] = {}
        for name in SETTINGS:
            if name in mapping:
                value = getattr(self, f"v_{name}")(mapping[name], (*path, name))
                settings[name] = Setting(value, self.where((*path, name), path))
        expires = self.date(mapping.get("expires"), (*path, "expires"))
        reason = None
        if "reason" in mapping:
            reason = self.string(mapping["reason"], (*path, "reason"))
        block = Block(
            path=format_path(path),
            settings=FrozenDict(settings),
            pattern=pattern,
            expires=expires,
            reason=reason,
            source=self.where(path, path),
        )
        for name in block.weakenings:
            missing = [k for k, v in (("expires", expires), ("reason", reason)) if v is None]
            if missing:
                raise self.error(
                    (*path, name),
                    f"{name}: {show_value(settings[name].value)} weakens verification, "
                    "so this block "
                    f'needs {" and ".join(missing)} (e.g. expires: 2027-03-31, reason: "ticket")',
                )
        if block.settings.get("max_tls") and block.settings.get("min_tls"):
            low, high = settings["min_tls"].value, settings["max_tls"].value
            if isinstance(high, str) and isinstance(low, str) and high < low:
                raise self.error((*path, "max_tls"), f"max_tls {high} is below min_tls {low}")
        return block

    # Typed getters -----------------------------------------------------------------------

    def string(self, value: object, path: KeyPath) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(path, f"expected a non-empty string, got {_type_name(value)}")
        return value

    def date(self, value: object, path: KeyPath) -> datetime.date | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value)
            except ValueError:
                raise self.error(path, f"{value!r} is not a date (YYYY-MM-DD)") from None
        if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
            raise self.error(path, "expected a date (YYYY-MM-DD)")
        return value

    def boolean(self, value: object, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, f"expected true or false, got {_type_name(value)}")
        return value

    def file(self, value: object, path: KeyPath, *, directory_ok: bool = False) -> str:
        text = self.string(value, path)
        resolved = (self.base_dir / os.path.expanduser(text)).resolve()
        if directory_ok and resolved.is_dir():
            return str(resolved)
        if not resolved.is_file():
            what = "file or directory" if directory_ok else "file"
            raise self.error(path, f"no such {what}: {text} (looked for {resolved})")
        return str(resolved)

    def v_verify(self, value: object, path: KeyPath) -> Verify:
        if isinstance(value, str) and value in Verify._value2member_map_:
            return Verify(value)
        raise self.error(path, f"expected one of strict, warn, disabled; got {_shown(value)}")

    def v_trust(self, value: object, path: KeyPath) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.error(
                path, "an empty trust list would trust nothing: name certifi, system or a file"
            )
        out: list[str] = []
        for i, item in enumerate(items):
            item_path = (*path, i) if isinstance(value, list) else path
            if item in ("certifi", "system"):
                out.append(str(item))
            else:
                out.append(self.file(item, item_path, directory_ok=True))
        return tuple(dict.fromkeys(out))

    def v_extra_ca(self, value: object, path: KeyPath) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        out = [
            self.file(item, (*path, i) if isinstance(value, list) else path)
            for i, item in enumerate(items)
        ]
        return tuple(dict.fromkeys(out))

    def v_min_tls(self, value: object, path: KeyPath) -> str:
        if isinstance(value, str) and value in TLS_VERSIONS:
            return value
        raise self.error(
            path, f'expected one of "1.0", "1.1", "1.2", "1.3" (quoted); got {_shown(value)}'
        )

    def v_max_tls(self, value: object, path: KeyPath) -> str | None:
        return None if value is None else self.v_min_tls(value, path)

    def v_ciphers(self, value: object, path: KeyPath) -> str | None:
        if value is None:
            return None
        text = self.string(value, path)
        from ._ciphers import check_ciphers

        try:
            check_ciphers(text)
        except ValueError as exc:
            raise self.error(path, str(exc)) from None
        return text

    def v_x509_strict(self, value: object, path: KeyPath) -> bool:
        return self.boolean(value, path)

    def v_allow_https_to_http_redirect(self, value: object, path: KeyPath) -> bool:
        return self.boolean(value, path)

    def v_proxy(self, value: object, path: KeyPath) -> str | None:
        if value is None:
            return None
        from ._proxies import proxy_setting

        text = self.string(value, path)
        try:
            route = proxy_setting(text, "").https
        except PolicyError as exc:
            raise self.error(path, exc.problem) from None
        # Stored canonical (no credentials: a policy may not hold them), so equal settings
        # compare equal and a decision stays a small hashable value.
        return route.display

    def v_client_cert(self, value: object, path: KeyPath) -> ClientCert | None:
        if value is None:
            return None
        mapping = self.mapping(value, path)
        self.unknown_keys(mapping, path, ("cert", "key", "password_env"))
        if "cert" not in mapping:
            raise self.error(path, "client_cert needs `cert` (a PEM file)")
        cert = self.file(mapping["cert"], (*path, "cert"))
        key = self.file(mapping["key"], (*path, "key")) if mapping.get("key") is not None else None
        password_env = None
        if mapping.get("password_env") is not None:
            password_env = self.string(mapping["password_env"], (*path, "password_env"))
            if not _ENV_NAME.match(password_env):
                raise self.error(
                    (*path, "password_env"), "expected the name of an environment variable"
                )
        return ClientCert(cert, key, password_env)

    def v_pins(self, value: object, path: KeyPath) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.error(
                path, f'expected a list of "sha256/<base64>" pins, got {_type_name(value)}'
            )
        out: list[str] = []
        for i, item in enumerate(value):
            match = _PIN.match(item) if isinstance(item, str) else None
            if match is None or len(base64.b64decode(match.group(1))) != 32:
                other_hash = isinstance(item, str) and not item.startswith("sha256/")
                hint = " (only SHA-256 pins are accepted)" if other_hash and "/" in item else ""
                raise self.error(
                    (*path, i),
                    'expected "sha256/" and the base64 SHA-256 of a SubjectPublicKeyInfo '
                    f"(44 characters); got {_shown(item)}{hint}",
                )
            out.append(item)
        return tuple(dict.fromkeys(out))


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a boolean)"
    if isinstance(value, str):
        return repr(value)
    return f"{value!r} ({_type_name(value)})"
