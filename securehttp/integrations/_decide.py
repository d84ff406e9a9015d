"""What the requests and httpx integrations share: the decision for each request, with the
request's own verification arguments as the topmost layer, and the securehttp error behind a
library's error.

A request's ``verify=False``, ``verify="ca.pem"`` or ``cert=`` is one more policy layer on
top of the adapter's policy (SPEC §4, layer 7), so it is named as the source of what it
changed (``explain``, warnings, audit events) and a ``lock: true`` below it refuses it like
any later layer.  A refused request argument is an error, never silently ignored: the code
asked for something the policy forbids.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator

from .._exceptions import CertificateError
from .._frozen import FrozenDict
from .._hosts import Target
from .._model import Block, Decision, Setting
from .._policy import Policy
from .._process import process_resolver
from .._resolve import Resolver
from .._transport.errors import translate

__all__ = ["Deciding", "Override", "causes", "certificate_error", "locked_refusal"]

# One request's settings: ((name, value, source), ...), hashable so that the stacked
# resolvers (each with its own decision cache) are made once per distinct override.
Override = tuple[tuple[str, object, str], ...]

_STACKED = 64


class Deciding:
    """A policy's decisions per target: ``policy=None`` follows the process default (files,
    environment, runtime switch - read again at each request, as ``urlopen`` does); a
    :class:`~securehttp.Policy` is taken as written."""

    __slots__ = ("_lock", "_resolver", "_stacked", "label")

    def __init__(self, policy: Policy | None) -> None:
        self._resolver = None if policy is None else policy.resolver()
        self.label = "the process default policy" if policy is None else policy.source
        self._stacked: dict[tuple[Resolver, Override], Resolver] = {}
        self._lock = threading.Lock()

    def resolver(self) -> Resolver:
        return process_resolver() if self._resolver is None else self._resolver

    def decide(self, target: Target, override: Override = ()) -> Decision:
        """The decision for ``target``; CertificateError when ``lock`` refuses ``override``."""
        base = self.resolver()
        if not override:
            return base.resolve_target(target)
        decision = self._stacked_on(base, override).resolve_target(target)
        for name, _, source in override:
            if decision.sources[name] != source:
                raise locked_refusal(target, decision, source, base.locked_by)
        return decision

    def _stacked_on(self, base: Resolver, override: Override) -> Resolver:
        key = (base, override)
        stacked = self._stacked.get(key)
        if stacked is not None:
            return stacked
        settings = FrozenDict({name: Setting(value, source) for name, value, source in override})
        label = ", ".join(source for _, _, source in override)
        layer = Policy(source=label, defaults=Block("defaults", settings, source=label))
        with self._lock:
            if len(self._stacked) >= _STACKED:
                self._stacked.clear()
            return self._stacked.setdefault(key, base.stacked(layer))


def locked_refusal(
    target: Target, decision: Decision, source: str, locked_by: str | None
) -> CertificateError:
    lock = locked_by or "a policy"
    return CertificateError(
        target.host,
        target.port,
        f"{source} is refused: {lock} has `lock: true`, which a request cannot weaken",
        decision,
        "remove the weakening from the code, or grant a waiver for this host in the locked "
        "policy (with expires and reason)",
    )


def certificate_error(
    exc: BaseException, target: Target, decision: Decision
) -> CertificateError | None:
    """The verification failure behind a library's error, as securehttp's CertificateError
    (host, reason, the deciding source), or None when the error is not one."""
    for inner in causes(exc):
        if isinstance(inner, CertificateError):
            return inner
        if isinstance(inner, ssl.SSLCertVerificationError):
            found = translate(inner, "", target, decision)
            return found if isinstance(found, CertificateError) else None
    return None


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts, exception arguments and urllib3's
    ``MaxRetryError.reason``, breadth first, each once."""
    queue, seen = [exc], set[int]()
    while queue and len(seen) < 32:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(current.args)
        queue.extend(e for e in linked if isinstance(e, BaseException))
