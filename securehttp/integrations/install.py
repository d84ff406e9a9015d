"""``install()``: the standard library's default HTTPS context follows the policy (SPEC §10).

Exactly two attributes are patched, and only while installed:

- ``ssl._create_default_https_context`` - what ``http.client`` (and through it
  ``urllib.request`` and ``xmlrpc.client``) calls when no context is given - returns a fresh
  :class:`~securehttp._verification.PolicyContext`.  It decides at each connection, so a
  Python 3.12+ ``HTTPSHandler``, which asks once when it is built, still follows the policy,
  the runtime switch and lapsing waivers afterwards; what ``http.client`` writes on it
  (ALPN, post-handshake authentication) lands on that throw-away object.
- ``http.client.HTTPSConnection.connect`` publishes the host and port being reached (a
  proxy tunnel hides them from the socket), reconnects - through the tunnel - for the
  report-only fallback, and applies ``explicit_contexts`` to contexts passed in code.

``uninstall()`` puts back what is still ours and warns, naming who, about what another
patcher replaced since.  ``install()`` refuses to stack on another patcher.
"""

from __future__ import annotations

import http.client
import os
import ssl
import sys
import threading
import warnings
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, NamedTuple

from .._exceptions import CertificateError, PolicyWarning, SecureHTTPError
from .._frozen import FrozenDict
from .._hosts import Target
from .._model import Block, Decision, Setting, Verify
from .._policy import Policy
from .._process import process_resolver, runtime_switch
from .._verification import PolicyContext, connection_target, decision_for_context
from .._verification.dispatch import STDLIB_CONTEXT, target_for
from .._verification.report import audit_explicit_context

if TYPE_CHECKING:
    from .._resolve import Resolver

__all__ = ["EXPLICIT_CONTEXTS", "InstallState", "install", "installed", "uninstall"]

EXPLICIT_CONTEXTS = ("honour", "audit", "refuse")
OPT_OUT = (
    "ssl._create_default_https_context = ssl._create_unverified_context "
    "(PEP 476 opt-out, set before install())"
)

_STDLIB_FACTORY = ssl.create_default_context
_STDLIB_CONNECT = http.client.HTTPSConnection.__dict__["connect"]
_STDLIB_DIR = os.path.dirname(os.__file__) + os.sep
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

Resolve = Callable[[Target], Decision]


class _Installed:
    """What ``install()`` did: the policy, the mode, and what it replaced."""

    __slots__ = ("error", "label", "mode", "opt_out", "resolve", "saved_connect", "saved_factory")

    def __init__(self, resolve: Resolve, label: str, mode: str, opt_out: bool) -> None:
        self.resolve, self.label, self.mode, self.opt_out = resolve, label, mode, opt_out
        self.error: Exception | None = None  # the policy could not be loaded: fail closed
        self.saved_factory: Callable[..., ssl.SSLContext] = _STDLIB_FACTORY
        self.saved_connect: Callable[..., None] = _STDLIB_CONNECT


_lock = threading.Lock()
_state: _Installed | None = None


# --- the two replacements -------------------------------------------------------------------


def _default_https_context(
    purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH,
    *,
    cafile: str | None = None,
    capath: str | None = None,
    cadata: str | bytes | None = None,
) -> ssl.SSLContext:
    """securehttp's ``ssl._create_default_https_context``: a fresh policy context."""
    state = _state
    if state is None or purpose != ssl.Purpose.SERVER_AUTH or cafile or capath or cadata:
        # Not a default client context (or no longer installed): what ssl would make.
        return _STDLIB_FACTORY(purpose, cafile=cafile, capath=capath, cadata=cadata)
    made_under = state

    def resolve(target: Target) -> Decision:
        # The policy installed now; after uninstall(), the one this context was made under
        # (a 3.12+ opener built meanwhile keeps following a policy, never nothing).
        return (_state or made_under).resolve(target)

    return PolicyContext(resolve, made_under.label)


def _connect(self: http.client.HTTPSConnection) -> None:
    """securehttp's ``http.client.HTTPSConnection.connect``."""
    state = _state
    if state is None:  # called through a reference kept from while it was installed
        _STDLIB_CONNECT(self)
        return
    original = state.saved_connect
    tunnel: str | None = getattr(self, "_tunnel_host", None)
    host, port = (tunnel, getattr(self, "_tunnel_port", 443)) if tunnel else (self.host, self.port)
    context: ssl.SSLContext | None = getattr(self, "_context", None)
    if not isinstance(context, PolicyContext):
        _explicit(state, context, host, port)
        original(self)
        return
    with connection_target(host, port) as attempt:
        try:
            original(self)
        except ssl.SSLCertVerificationError:
            if attempt.failure is None:
                raise
            # Report-only: close only the socket (closing the connection would reset the
            # request being sent), then connect again - through the tunnel - unverified.
            sock, self.sock = self.sock, None
            if sock is not None:
                sock.close()
            attempt.unverified = True
            original(self)


def _explicit(state: _Installed, context: ssl.SSLContext | None, host: str, port: int) -> None:
    """A context passed in code: PEP 476 lets it win; audit or refuse it when unverified."""
    if state.mode == "honour" or context is None:
        return
    if context.verify_mode != ssl.CERT_NONE and context.check_hostname:
        return
    where = _caller()
    if state.mode == "refuse":
        audit_explicit_context(host, port, where, "refused (explicit_contexts=refuse)")
        try:  # what the policy requires for this host, for the message
            decision = state.resolve(target_for(host, port))
        except Exception:
            decision = decision_for_context(context)
        raise CertificateError(
            host,
            port,
            f"an unverified ssl.SSLContext was passed at {where}, and "
            "install(explicit_contexts='refuse') refuses them",
            decision,
            "let the policy decide (pass no context), or waive this host in the policy",
        )
    audit_explicit_context(host, port, where, "connected as given (explicit_contexts=audit)")


def _caller() -> str:
    """The innermost frame outside the standard library and securehttp: the calling line."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        library = name.startswith(("<frozen ", _PACKAGE_DIR))
        if name.startswith(_STDLIB_DIR):
            rest = name[len(_STDLIB_DIR) :]
            library = not rest.startswith(("site-packages", "dist-packages"))
        if not library:
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown caller>"


# --- install, uninstall ---------------------------------------------------------------------


def install(policy: Policy | None = None, *, explicit_contexts: str = "honour") -> InstallState:
    """Make the standard library's default HTTPS context follow the policy, per host and per
    connection, until :func:`uninstall`.

    ``policy=None`` follows the process default (files, environment, runtime switch; a
    broken one raises :class:`~securehttp.PolicyError` here); a policy is taken as written.
    ``explicit_contexts``: ``"honour"`` (PEP 476: a context passed in code wins),
    ``"audit"`` (an unverified one is an audit event naming the calling line) or
    ``"refuse"`` (it is a :class:`~securehttp.CertificateError`).  Calling it again
    replaces the policy and the mode.  Refuses (``SecureHTTPError``) to stack on another
    patcher of ``ssl`` such as truststore's ``inject_into_ssl()``.
    """
    if explicit_contexts not in EXPLICIT_CONTEXTS:
        raise ValueError(f"explicit_contexts must be one of {', '.join(EXPLICIT_CONTEXTS)}")
    global _state
    with _lock:
        if _state is not None and _ours_in_place():
            _state = _new_state(policy, explicit_contexts, _state.opt_out, _state)
            return _report(_state)
        _check_not_stacking()
        opt_out = ssl._create_default_https_context is ssl._create_unverified_context
        state = _new_state(policy, explicit_contexts, opt_out, None)
        _patch(state)
        return _report(state)


def _patch(state: _Installed) -> None:
    global _state
    state.saved_factory = ssl._create_default_https_context
    state.saved_connect = http.client.HTTPSConnection.__dict__["connect"]
    _state = state
    ssl._create_default_https_context = _default_https_context  # type: ignore[assignment]
    http.client.HTTPSConnection.connect = _connect  # type: ignore[method-assign, assignment]


def install_failed(error: Exception) -> InstallState:
    """Install with a policy that could not be loaded: every governed HTTPS connection
    raises ``error`` (fail closed).  For the startup hook, which must not stop the
    interpreter from starting."""

    def refuse(target: Target) -> Decision:
        raise error

    with _lock:
        label = f"a policy that failed to load ({error})"
        if _state is not None and _ours_in_place():
            _state.resolve, _state.label, _state.error = refuse, label, error
            return _report(_state)
        _check_not_stacking()
        state = _Installed(refuse, label, "honour", False)
        state.error = error
        _patch(state)
        return _report(state)


def uninstall() -> None:
    """Undo :func:`install`: put back what is still ours; what another library replaced
    since is left alone, with a warning naming it.  Calling it when not installed does
    nothing."""
    global _state
    with _lock:
        state = _state
        if state is None:
            return
        _state = None
        if ssl._create_default_https_context is _default_https_context:
            ssl._create_default_https_context = state.saved_factory
        else:
            _warn_replaced("ssl._create_default_https_context", ssl._create_default_https_context)
        current = http.client.HTTPSConnection.__dict__.get("connect")
        if current is _connect:
            http.client.HTTPSConnection.connect = state.saved_connect  # type: ignore[method-assign]
        else:
            _warn_replaced("http.client.HTTPSConnection.connect", current)


def _new_state(
    policy: Policy | None, mode: str, opt_out: bool, previous: _Installed | None
) -> _Installed:
    resolve: Resolve
    if policy is not None:
        if opt_out:
            warnings.warn(
                PolicyWarning(f"{OPT_OUT} is overridden by install(policy={policy.source})"),
                stacklevel=3,
            )
        resolve, label = policy.resolver().resolve_target, policy.source
    else:
        process_resolver()  # read the sources now: a broken policy is an error here
        resolve = _OptedOut() if opt_out else _process_default
        label = "the process default policy" + (" with the PEP 476 opt-out" if opt_out else "")
    state = _Installed(resolve, label, mode, opt_out)
    if previous is not None:
        state.saved_factory, state.saved_connect = previous.saved_factory, previous.saved_connect
    return state


def _process_default(target: Target) -> Decision:
    return process_resolver().resolve_target(target)


class _OptedOut:
    """The process default with a PEP 476 opt-out found at install() as a layer above the
    environment: named in every decision, and refused (with a warning) by a ``lock: true``
    file.  The runtime switch is above it, as PEP 493's switch replaced the opt-out."""

    def __init__(self) -> None:
        setting = Setting(Verify.DISABLED, OPT_OUT)
        block = Block("opt-out", FrozenDict({"verify": setting}))
        self._layer = Policy(source="PEP 476 opt-out", defaults=block)
        self._stacked: tuple[Resolver, Resolver] | None = None

    def __call__(self, target: Target) -> Decision:
        base = process_resolver()  # changes with the runtime switch
        if runtime_switch() is not None:
            return base.resolve_target(target)
        stacked = self._stacked
        if stacked is None or stacked[0] is not base:
            stacked = self._stacked = (base, base.stacked(self._layer))
        return stacked[1].resolve_target(target)


def _ours_in_place() -> bool:
    return (
        ssl._create_default_https_context is _default_https_context
        and http.client.HTTPSConnection.__dict__.get("connect") is _connect
    )


def _check_not_stacking() -> None:
    if ssl.SSLContext is not STDLIB_CONTEXT:
        raise SecureHTTPError(
            f"refusing to install: ssl.SSLContext was replaced by {_name(ssl.SSLContext)} "
            "(truststore.inject_into_ssl() does this); undo that first (truststore: "
            "extract_from_ssl()), or use `trust: system` in the policy instead"
        )
    factory = ssl._create_default_https_context
    if factory is not _STDLIB_FACTORY and factory is not ssl._create_unverified_context:
        raise SecureHTTPError(
            f"refusing to install: ssl._create_default_https_context was replaced by "
            f"{_name(factory)}; securehttp does not stack on another patcher"
        )
    connect = http.client.HTTPSConnection.__dict__.get("connect")
    if connect is not _STDLIB_CONNECT:
        raise SecureHTTPError(
            f"refusing to install: http.client.HTTPSConnection.connect was replaced by "
            f"{_name(connect)}; securehttp does not stack on another patcher"
        )


def _warn_replaced(what: str, by: object) -> None:
    warnings.warn(
        PolicyWarning(
            f"uninstall(): {what} was replaced after install() by {_name(by)}; "
            "left as it is (securehttp only restores what is still its own)"
        ),
        stacklevel=3,
    )


def _name(thing: object) -> str:
    module = getattr(thing, "__module__", None) or "?"
    qualname = getattr(thing, "__qualname__", None) or type(thing).__qualname__
    return f"{module}.{qualname}"


# --- what is governed -----------------------------------------------------------------------


class InstallState(NamedTuple):
    """What :func:`installed` reports: whether ``install()`` is active, under which policy
    and mode, what it governs, what it does not, and what went wrong."""

    active: bool
    policy: str | None
    explicit_contexts: str | None
    governed: tuple[str, ...]
    not_governed: tuple[str, ...]
    problems: tuple[str, ...]

    def __str__(self) -> str:
        lines = [
            f"installed: {'yes' if self.active else 'no'}"
            + (f" (policy: {self.policy}; explicit_contexts={self.explicit_contexts})"
               if self.active else "")
        ]  # fmt: skip
        for title, items in (
            ("governed", self.governed),
            ("not governed", self.not_governed),
            ("problems", self.problems),
        ):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  - {item}" for item in items)
        return "\n".join(lines)


def installed() -> InstallState:
    """What :func:`install` governs in this process now, and what it does not."""
    state = _state
    if state is None:
        return InstallState(False, None, None, (), _not_governed(None), ())
    return _report(state)


def _report(state: _Installed) -> InstallState:
    governed = [
        "http.client.HTTPSConnection without context= (what urllib.request.urlopen and "
        "xmlrpc.client.ServerProxy use), decided per host and per connection",
        "contexts from ssl._create_default_https_context()",
    ]
    if sys.version_info >= (3, 12):
        governed.append("urllib.request openers and HTTPSHandlers built after install()")
    else:
        governed.append("urllib.request openers (their handlers ask for a context each time)")
    if state.mode == "refuse":
        governed.append("unverified contexts passed in code: refused")
    problems = []
    factory = ssl._create_default_https_context
    if factory is not _default_https_context:
        problems.append(
            f"ssl._create_default_https_context was replaced after install() by "
            f"{_name(factory)}: default contexts are not governed"
        )
    connect = http.client.HTTPSConnection.__dict__.get("connect")
    if connect is not _connect:
        problems.append(
            f"http.client.HTTPSConnection.connect was replaced after install() by "
            f"{_name(connect)}: ports behind tunnels, report-only and explicit_contexts "
            "are not handled"
        )
    if state.error is not None:
        problems.append(f"{state.label}: governed HTTPS connections fail closed")
    return InstallState(
        True, state.label, state.mode, tuple(governed), _not_governed(state), tuple(problems)
    )


def _not_governed(state: _Installed | None) -> tuple[str, ...]:
    items = []
    if state is not None and state.mode == "honour":
        items.append("contexts passed in code (context=): used as given, as PEP 476 says")
    elif state is not None and state.mode == "audit":
        items.append("contexts passed in code (context=): used as given; unverified ones audited")
    items.append("contexts a program builds itself (ssl.create_default_context(), SSLContext())")
    if sys.version_info >= (3, 12):
        items.append(
            "urllib.request openers and HTTPSHandlers built before install(): they fixed their "
            "context when built"
        )
        opener = _opener_built_before()
        if opener:
            items.append(opener)
    items.append(
        "non-HTTP standard-library TLS (smtplib, imaplib, poplib, ftplib, nntplib and "
        "ssl.get_server_certificate use ssl._create_stdlib_context)"
    )
    items.append(
        "urllib3, requests, httpx, aiohttp and asyncio, which build their own contexts "
        "(pass securehttp.policy_context())"
    )
    return tuple(items)


def _opener_built_before() -> str | None:
    request = sys.modules.get("urllib.request")
    opener: Any = getattr(request, "_opener", None)
    for handler in getattr(opener, "handlers", ()):
        context = getattr(handler, "_context", None)
        if type(handler).__name__ == "HTTPSHandler" and not isinstance(context, PolicyContext):
            return (
                "urllib.request's current default opener (built before install(); "
                "urllib.request.install_opener(urllib.request.build_opener()) replaces it)"
            )
    return None
