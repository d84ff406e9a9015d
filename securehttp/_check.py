"""``securehttp check``: every problem in a policy file in one run (SPEC §8).

Loading a policy stops at its first error, which is right for a program but slow for a
person fixing a file.  Here the document is validated piece by piece - each top-level key,
``defaults`` and each host rule, and inside a block that fails, each setting (with the
block's ``expires`` and ``reason`` beside it, which weakenings need) - through the same
validation that loading uses, and the distinct errors are collected.  The whole document is
then validated once more as loading would, so ``check`` never passes a file that loading
refuses.

Beyond loading, the files a policy names are read: a CA file must hold at least one
certificate, a trust directory hashed certificate names, and a client key must open (with
the password from its variable) and match its certificate's public key.  ``strict`` also
refuses lapsed waivers, waivers lapsing within 14 days, and reasons still marked TODO.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import _yaml
from ._exceptions import PolicyError
from ._files import read_checked
from ._hosts import parse_pattern
from ._keypath import KeyPath, format_path
from ._model import Block
from ._policy import Policy
from ._resolve import WARN_AHEAD_DAYS

__all__ = ["STRICT_AHEAD_DAYS", "CheckResult", "check_file"]

STRICT_AHEAD_DAYS = WARN_AHEAD_DAYS
_MAX_PEM_BYTES = 16 * 1024 * 1024
_TODO = re.compile(r"\bTODO\b", re.IGNORECASE)
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.\d+\Z")
_BUILT_IN_TRUST = ("certifi", "system")

_Wrap = Callable[[object], dict[str, object]]


class CheckResult:
    """What ``check`` found in one file: the problems (in file order), and the policy when
    the file loads."""

    __slots__ = ("policy", "problems")

    def __init__(self, policy: Policy | None, problems: list[PolicyError]) -> None:
        self.policy = policy
        self.problems = problems


def check_file(
    path: str,
    *,
    strict: bool = False,
    today: datetime.date | None = None,
    environ: Mapping[str, str] | None = None,
) -> CheckResult:
    """Check one policy file.  ``today`` (UTC) and ``environ`` (for key passwords) are
    parameters so that tests can pin them."""
    if today is None:
        today = datetime.datetime.now(datetime.timezone.utc).date()
    if environ is None:
        environ = os.environ
    try:
        data = read_checked(path)
    except PolicyError as exc:
        return CheckResult(None, [exc])
    scalar_errors: list[PolicyError] = []
    try:
        document = _yaml.load(data, path)
    except PolicyError as exc:
        lenient = _lenient_load(data, path)
        if lenient is None:
            return CheckResult(None, [exc])  # not YAML at all: nothing further to look at
        document, scalar_errors = lenient
    base_dir = Path(path).resolve().parent
    checker = _Checker(path, base_dir, document.positions, strict, today, environ)
    for error in scalar_errors:
        checker.add(error)
    checker.document(_prune(document.value))
    policy: Policy | None = None
    try:
        policy = Policy.from_yaml(data, source=path, base_dir=base_dir)
    except PolicyError as exc:
        checker.add(exc)
    problems = sorted(checker.problems.values(), key=lambda e: (e.line or 0, e.column or 0))
    return CheckResult(policy if not problems else None, problems)


class _Checker:
    def __init__(
        self,
        source: str,
        base_dir: Path,
        positions: Mapping[KeyPath, tuple[int, int]],
        strict: bool,
        today: datetime.date,
        environ: Mapping[str, str],
    ) -> None:
        self.source = source
        self.base_dir = base_dir
        self.positions = {format_path(p): position for p, position in positions.items()}
        self.strict = strict
        self.today = today
        self.environ = environ
        # Keyed by the message: per-setting runs find the same error more than once.
        self.problems: dict[str, PolicyError] = {}

    # --- collecting ---------------------------------------------------------------------

    def add(self, error: PolicyError) -> None:
        if error.line is None and error.key_path in self.positions:
            # Policy.from_dict knows key paths but not lines: the document does.
            line, column = self.positions[error.key_path]
            error = PolicyError(
                error.problem,
                source=error.source,
                line=line,
                column=column,
                key_path=error.key_path,
            )
        self.problems.setdefault(str(error), error)

    def problem(self, path: KeyPath, message: str) -> None:
        key_path = format_path(path)
        line, column = self.positions.get(key_path, (None, None))
        self.add(
            PolicyError(message, source=self.source, line=line, column=column, key_path=key_path)
        )

    def validate(self, data: Any) -> Policy | None:
        try:
            return Policy.from_dict(data, source=self.source, base_dir=self.base_dir)
        except PolicyError as exc:
            self.add(exc)
            return None

    # --- the document, piece by piece ---------------------------------------------------

    def document(self, value: object) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.validate(value)  # from_dict says what it is instead
            return
        for key, item in value.items():
            if key not in ("defaults", "hosts"):
                self.validate({key: item})
        if value.get("defaults") is not None:
            self.block(("defaults",), value["defaults"], lambda b: {"defaults": b})
        hosts = value.get("hosts")
        if hosts is None:
            return
        if not isinstance(hosts, dict):
            self.validate({"hosts": hosts})
            return
        valid_keys: list[str] = []
        for key, rule in hosts.items():
            if self.validate({"hosts": {key: {}}}) is None:
                continue  # the key itself is refused; its settings would only repeat that
            valid_keys.append(key)
            self.block(("hosts", key), {} if rule is None else rule, _in_hosts(key))
        self.duplicate_keys(valid_keys)

    def duplicate_keys(self, keys: list[str]) -> None:
        """Keys that name the same hosts once normalised, reported by the loader's own words."""
        first: dict[tuple[object, ...], str] = {}
        for key in keys:
            pattern = parse_pattern(key)
            same = (pattern.kind, pattern.value, pattern.port, pattern.prefix)
            if same in first:
                self.validate({"hosts": {first[same]: {}, key: {}}})
            else:
                first[same] = key

    def block(self, path: KeyPath, raw: object, wrap: _Wrap) -> None:
        policy = self.validate(wrap(raw))
        if not isinstance(raw, dict):
            return
        if policy is not None:
            block = policy.defaults if path == ("defaults",) else policy.hosts[0]
            self.files(path, raw, set(raw))
            if self.strict:
                self.waiver(path, block)
            return
        # The block fails: find every failing setting, each with the block's expiry beside it.
        beside = {k: raw[k] for k in ("expires", "reason") if k in raw}
        self.validate(wrap(beside))
        valid: set[str] = set()
        for key, value in raw.items():
            if key not in beside and self.validate(wrap({key: value, **beside})) is not None:
                valid.add(key)
        self.files(path, raw, valid)

    # --- named files --------------------------------------------------------------------

    def files(self, path: KeyPath, raw: dict[str, Any], valid: set[str]) -> None:
        for name in ("trust", "extra_ca"):
            if name in valid:
                value = raw[name]
                items = value if isinstance(value, list) else [value]
                for i, item in enumerate(items):
                    where = (*path, name, i) if isinstance(value, list) else (*path, name)
                    if item not in _BUILT_IN_TRUST:
                        self.ca_file(where, str(item), directory_ok=name == "trust")
        if "client_cert" in valid and isinstance(raw["client_cert"], dict):
            self.client_cert((*path, "client_cert"), raw["client_cert"])

    def resolve(self, name: str) -> Path:
        return (self.base_dir / os.path.expanduser(name)).resolve()

    def ca_file(self, path: KeyPath, name: str, *, directory_ok: bool) -> None:
        resolved = self.resolve(name)
        if directory_ok and resolved.is_dir():
            try:
                hashed = any(_HASHED_NAME.match(entry) for entry in os.listdir(resolved))
            except OSError as exc:
                self.problem(path, f"cannot list {name}: {exc.strerror}")
                return
            if not hashed:
                self.problem(
                    path,
                    f"{name} holds no hashed certificate names (<hash>.0): it trusts nothing; "
                    "run `openssl rehash` on it",
                )
            return
        data = self.read(path, resolved, name)
        if data is not None and not _certificates(data):
            self.problem(path, f"{name} holds no PEM certificate: it would trust nothing")

    def client_cert(self, path: KeyPath, raw: dict[str, Any]) -> None:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization

        cert_name = str(raw["cert"])
        cert_data = self.read((*path, "cert"), self.resolve(cert_name), cert_name)
        if cert_data is None:
            return
        certificates = _certificates(cert_data)
        if not certificates:
            self.problem((*path, "cert"), f"{cert_name} holds no PEM certificate")
            return
        key_name = str(raw["key"]) if raw.get("key") is not None else cert_name
        key_path = (*path, "key") if raw.get("key") is not None else (*path, "cert")
        key_data = (
            self.read(key_path, self.resolve(key_name), key_name)
            if key_name != cert_name
            else cert_data
        )
        if key_data is None:
            return
        variable = raw.get("password_env")
        password = None
        if variable is not None and str(variable) in self.environ:
            password = self.environ[str(variable)].encode()
        try:
            key = serialization.load_pem_private_key(key_data, password)
        except TypeError:
            if password is not None:
                # The key is not encrypted: ssl ignores the password too.
                key = serialization.load_pem_private_key(key_data, None)
            elif variable is None:
                self.problem(
                    key_path,
                    f"the key in {key_name} is encrypted: name its password variable "
                    "in client_cert.password_env",
                )
                return
            else:
                self.problem(
                    key_path, f"the key in {key_name} is encrypted and {variable} is not set"
                )
                return
        except ValueError:
            if password is not None and b"ENCRYPTED" in key_data:
                message = f"cannot decrypt the key in {key_name} with the password in {variable}"
            else:
                message = f"{key_name} holds no PEM private key"
            self.problem(key_path, message)
            return
        except UnsupportedAlgorithm:
            self.problem(key_path, f"the key in {key_name} is of a type this build cannot use")
            return
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(*spki) != certificates[0].public_key().public_bytes(*spki):
            self.problem(
                key_path,
                f"the key in {key_name} does not match the certificate in {cert_name} "
                "(its public key differs)",
            )

    def read(self, path: KeyPath, resolved: Path, name: str) -> bytes | None:
        try:
            with open(resolved, "rb") as stream:
                data = stream.read(_MAX_PEM_BYTES + 1)
        except OSError as exc:
            self.problem(path, f"cannot read {name}: {exc.strerror}")
            return None
        if len(data) > _MAX_PEM_BYTES:
            self.problem(path, f"{name} is larger than {_MAX_PEM_BYTES} bytes")
            return None
        return data

    # --- --strict -----------------------------------------------------------------------

    def waiver(self, path: KeyPath, block: Block) -> None:
        if block.reason is not None and _TODO.search(block.reason):
            self.problem(
                (*path, "reason"),
                "the reason is still marked TODO: write the ticket and the owner (--strict)",
            )
        if not block.weakenings or block.expires is None:
            return
        names = ", ".join(block.weakenings)
        days = (block.expires - self.today).days
        if days < 0:
            self.problem(
                (*path, "expires"),
                f"the waiver ({names}) lapsed on {block.expires.isoformat()}: the host is "
                "verified without it; renew it with a new reason or remove it (--strict)",
            )
        elif days <= STRICT_AHEAD_DAYS:
            self.problem(
                (*path, "expires"),
                f"the waiver ({names}) lapses on {block.expires.isoformat()}, in {days} "
                f"day{'s' * (days != 1)} (--strict wants more than {STRICT_AHEAD_DAYS})",
            )


# --- YAML that loads but for some values ------------------------------------------------


class _Invalid:
    """Stands for a scalar the strict loader refused (its error is already collected)."""


_INVALID = _Invalid()


def _lenient_load(data: bytes, source: str) -> tuple[_yaml.Document, list[PolicyError]] | None:
    """The document with each refused scalar (``verify: no``, ``min_tls: 1.1``, ``0443``...)
    replaced by a marker and its error collected, so that one such value does not hide the
    rest of the file.  None when the file fails for another reason (syntax, depth, aliases,
    duplicate keys): the strict loader's one error then stands alone."""
    import yaml

    class Lenient(_yaml._Converter):
        def __init__(self, source: str) -> None:
            super().__init__(source)
            self.errors: list[PolicyError] = []

        def scalar(self, node: yaml.ScalarNode, path: KeyPath) -> object:
            try:
                return super().scalar(node, path)
            except PolicyError as exc:
                self.errors.append(exc)
                return _INVALID

    try:
        text = data.decode("utf-8-sig")
        _yaml._prescan(text, source)
        node = yaml.compose(text, Loader=_yaml._Loader)
        if node is None:
            return None
        converter = Lenient(source)
        document = converter.document(node)
    except (PolicyError, yaml.YAMLError, UnicodeDecodeError):
        return None
    if not converter.errors or document.value is _INVALID:
        return None
    return document, converter.errors


def _prune(document: object) -> object:
    """The document without the entries that hold a refused scalar, keeping the structure
    (top level, ``defaults``, ``hosts`` and each host rule) so the rest is still checked."""

    def block(value: object) -> object:
        if not isinstance(value, dict):
            return value
        return {k: v for k, v in value.items() if not _holds_invalid(v)}

    if not isinstance(document, dict):
        return document
    out: dict[str, object] = {}
    for key, value in document.items():
        if key == "defaults":
            out[key] = block(value)
        elif key == "hosts" and isinstance(value, dict):
            out[key] = {k: block(v) for k, v in value.items()}
        elif not _holds_invalid(value):
            out[key] = value
    return out


def _holds_invalid(value: object) -> bool:
    if value is _INVALID:
        return True
    if isinstance(value, dict):
        return any(_holds_invalid(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_invalid(v) for v in value)
    return False


def _in_hosts(key: str) -> _Wrap:
    return lambda block: {"hosts": {key: block}}


def _certificates(data: bytes) -> list[Any]:
    from cryptography import x509

    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError:
        return []
