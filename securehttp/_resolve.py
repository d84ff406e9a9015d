"""From layers of policy to one :class:`Decision` per host.

Precedence (SPEC §4), lowest first: built-in default, PEP 493 file, YAML files, environment,
runtime switch.  Per setting, the highest layer that sets it wins; inside one layer the most
specific host rule beats that layer's ``defaults``.  A layer with ``lock: true`` makes every
later layer unable to weaken what it and the layers below it decided (a refused weakening
warns once, naming both sources).  A weakening whose ``expires`` date has passed (UTC) is
skipped - the host falls back to what the layers below say - and warns; one that ends
within 14 days warns ahead.  A refused weakening and a lapsed waiver are also audit events
(:mod:`._audit`), once each, when their warning is first shown.

Resolution is pure and cached per (host, port) until the next UTC midnight, when waivers
may lapse.  The process default (files, environment, runtime switch) is in :mod:`._process`.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._audit import emit
from ._exceptions import PolicyError, PolicyWarning
from ._frozen import FrozenDict
from ._hosts import Target, split_url
from ._model import DEFAULTS, SETTINGS, Block, Decision, weakens
from ._warn import warn

if TYPE_CHECKING:
    from ._policy import Policy

__all__ = ["WARN_AHEAD_DAYS", "Resolver"]

WARN_AHEAD_DAYS = 14
_CACHE_SIZE = 16384
_WEAKENING_ORDER = ("verify", "min_tls", "x509_strict", "ciphers")


class Resolver:
    """An immutable stack of policy layers, lowest precedence first, with two caches.

    Hosts are mapped to the tuple of rule blocks that match them (one per layer), and each
    distinct tuple is merged once per day: the number of merges is bounded by the rules,
    not by the hosts.  A per-host cache in front makes a repeated lookup one dict hit.
    """

    __slots__ = ("_cache", "_layers", "_lock", "_lock_at", "_merged", "_warned")

    def __init__(self, layers: Sequence[Policy]) -> None:
        self._layers = tuple(layers)
        # Where the first `lock: true` is: every later layer, and every layer chosen through
        # the environment wherever it sits (SPEC §4), cannot weaken what is locked.
        self._lock_at = next((i for i, p in enumerate(self._layers) if p.lock), None)
        self._cache: dict[tuple[str, int, bool], tuple[Decision, float]] = {}
        self._merged: dict[tuple[datetime.date, tuple[Block | None, ...]], Decision] = {}
        self._warned: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def stacked(self, layer: Policy) -> Resolver:
        """These layers with ``layer`` on top (``install()`` adds a PEP 476 opt-out so)."""
        return Resolver((*self._layers, layer))

    @property
    def locked_by(self) -> str | None:
        """The source of the first layer with ``lock: true``, or None."""
        return None if self._lock_at is None else self._layers[self._lock_at].source

    def resolve(self, url_or_host: str) -> Decision:
        """Resolve ``https://host[:port]/...`` or a bare ``host[:port]`` (port 443 assumed)."""
        return self.resolve_target(_target(url_or_host))

    def resolve_target(self, target: Target) -> Decision:
        key = (target.host, target.port, target.is_ip)
        hit = self._cache.get(key)
        now = time.time()
        if hit is not None and now < hit[1]:
            return hit[0]
        today = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date()
        matches = tuple(layer.match(target) for layer in self._layers)
        decision = self._merged.get((today, matches))
        if decision is None:
            decision = self._merge(matches, today, target.host, target.port)
            with self._lock:
                if len(self._merged) >= _CACHE_SIZE:
                    self._merged.clear()
                self._merged[(today, matches)] = decision
        midnight = datetime.datetime.combine(
            today + datetime.timedelta(days=1), datetime.time(), datetime.timezone.utc
        )
        with self._lock:
            if len(self._cache) >= _CACHE_SIZE:
                # Oldest first: dicts keep insertion order, so this evicts in FIFO order.
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (decision, midnight.timestamp())
        return decision

    def _merge(
        self, matches: tuple[Block | None, ...], today: datetime.date, host: str, port: int
    ) -> Decision:
        values: dict[str, object] = dict(DEFAULTS.items())
        sources: dict[str, str] = dict.fromkeys(SETTINGS, "default")
        origin: dict[str, Block] = {}
        rule: str | None = None
        locked_by: str | None = None
        lock_at = self._lock_at
        for index, (layer, match) in enumerate(zip(self._layers, matches, strict=True)):
            refused_by = locked_by
            chosen_below_lock = (
                layer.chosen_by is not None and lock_at is not None and index < lock_at
            )
            if refused_by is None and chosen_below_lock and lock_at is not None:
                refused_by = self._layers[lock_at].source
            blocks = [layer.defaults]
            if match is not None:
                blocks.append(match)
                rule = match.pattern.text if match.pattern is not None else rule
            for block in blocks:
                lapsed = block.expires is not None and block.expires < today
                weakenings = block.weakenings
                if weakenings:
                    self._warn_about_expiry(block, lapsed, today, host, port)
                for name, setting in block.settings.items():
                    if lapsed and name in weakenings:
                        continue
                    if refused_by is not None and weakens(name, values[name], setting.value):
                        chosen = f" (named by {layer.chosen_by})" if layer.chosen_by else ""
                        refused = f"{name}={setting.value} refused: {refused_by} has `lock: true`"
                        if self._warn_once(
                            ("lock", setting.source, name, refused_by),
                            f"{setting.source}{chosen}: {refused}, which neither later layers "
                            "nor anything chosen through the environment can weaken",
                        ):
                            emit(
                                "weakening_refused",
                                host=host,
                                port=port,
                                reason=refused,
                                rule=rule,
                                verify=str(values["verify"]),
                                source=setting.source + chosen,
                                action=f"kept {name}={values[name]} from the locked layers",
                            )
                        continue
                    values[name] = setting.value
                    sources[name] = setting.source
                    origin[name] = block
            if layer.lock and locked_by is None:
                locked_by = layer.source
        return self._decision(host, values, sources, origin, rule)

    @staticmethod
    def _decision(
        host: str,
        values: dict[str, object],
        sources: dict[str, str],
        origin: dict[str, Block],
        rule: str | None,
    ) -> Decision:
        min_tls, max_tls = values["min_tls"], values["max_tls"]
        if isinstance(max_tls, str) and isinstance(min_tls, str) and max_tls < min_tls:
            raise PolicyError(
                f"for {host}: max_tls {max_tls} ({sources['max_tls']}) is below "
                f"min_tls {min_tls} ({sources['min_tls']})",
                source=sources["max_tls"],
            )
        expires = reason = None
        for name in _WEAKENING_ORDER:
            block = origin.get(name)
            if block is not None and name in block.weakenings:
                expires, reason = block.expires, block.reason
                break
        # Every value was validated into its final type when its layer was built.
        return Decision(
            **values,  # type: ignore[arg-type]
            expires=expires,
            reason=reason,
            rule=rule,
            sources=FrozenDict(sources),
        )

    def _warn_about_expiry(
        self, block: Block, lapsed: bool, today: datetime.date, host: str, port: int
    ) -> None:
        if block.expires is None:
            return
        names = ", ".join(block.weakenings)
        if lapsed:
            expired = f"the waiver ({names}) expired on {block.expires.isoformat()}"
            if self._warn_once(
                ("lapsed", block.source),
                f"{block.source}: {expired}; {host} is verified without it",
            ):
                emit(
                    "waiver_lapsed",
                    host=host,
                    port=port,
                    reason=expired,
                    rule=block.pattern.text if block.pattern is not None else None,
                    verify=None,
                    source=block.source,
                    action="verified without the waiver",
                )
        elif (block.expires - today).days <= WARN_AHEAD_DAYS:
            self._warn_once(
                ("ahead", block.source),
                f"{block.source}: the waiver ({names}) expires on {block.expires.isoformat()}; "
                "after that date the host is verified strictly",
            )

    def _warn_once(self, key: tuple[str, ...], message: str) -> bool:
        """Warn unless this resolver already did for ``key``; True when it warned now."""
        with self._lock:
            if key in self._warned:
                return False
            self._warned.add(key)
        warn(PolicyWarning(message))
        return True


def _target(url_or_host: str) -> Target:
    return split_url(url_or_host if "://" in url_or_host else f"https://{url_or_host}")
