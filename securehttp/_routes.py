"""Which route a request takes (SPEC §9), and the :class:`Decision` that shows it.

Three inputs meet here: ``Client(proxies=...)``, the policy's ``proxy`` setting, and the
proxy variables.  Precedence, highest first:

1. ``Client(proxies={...})`` (a mapping in ``getproxies()`` form) or ``proxies=None``
   (always direct): taken as given.
2. A policy passed in code (``Client(policy=...)``, a request's ``policy=``) that sets
   ``proxy`` for the host.
3. The proxy variables (``proxies="env"``, the default): they are the environment layer of
   SPEC §4, so they beat a policy *file*.  They speak for a host when a variable names a
   proxy for its scheme, or when a ``no_proxy`` entry covers it (then: direct, named by the
   entry - curl's meaning, which covers every proxy, including a policy file's).
4. The process policy's ``proxy`` (a policy file).
5. Direct.

Pure: no sockets.  The proxy's own verification (an ``https://`` proxy is checked by the
Decision resolved for the proxy's host and port) is resolved by the caller with
:func:`proxy_target`.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from ._frozen import FrozenDict
from ._hosts import Target, normalize_host, split_url
from ._model import Decision
from ._proxies import DEFAULT_SOURCE, Proxies, ProxyConfig, ProxyURL, Route, proxy_config
from ._proxies import proxy_setting as _proxy_setting

if TYPE_CHECKING:
    from ._resolve import Resolver

__all__ = ["Routing", "explained", "proxy_target", "shown"]

_SHOWN_CACHE = 4096


class Routing:
    """A client's proxy configuration (``Client(proxies=...)``), read once when made.

    ``"env"`` reads the variables now, as urllib's ``ProxyHandler`` reads them when an
    opener is built.
    """

    __slots__ = ("_quiet", "config", "explicit")

    def __init__(self, proxies: Proxies | ProxyConfig = "env") -> None:
        if isinstance(proxies, ProxyConfig):
            self.config, self.explicit = proxies, True
        else:
            self.config = proxy_config(proxies)
            self.explicit = proxies != "env"
        config = self.config
        # The common case - no variable at all - is decided without looking at the target.
        self._quiet = (
            not self.explicit
            and config.no_proxy is None
            and config.http.is_direct
            and config.https.is_direct
        )

    def apply(
        self, target: Target, decision: Decision, policy_decision: Decision, *, from_code: bool
    ) -> tuple[Decision, Route]:
        """The route to ``target`` and ``decision`` showing it (see :meth:`route`)."""
        if self._quiet and policy_decision.proxy is None:
            # The common case, on every request: no variable, no proxy setting.
            found = _shown_direct.get(decision)
            if found is not None:
                return found, _DIRECT
        route = self.route(target, policy_decision, from_code=from_code)
        return shown(decision, route), route

    def route(self, target: Target, decision: Decision, *, from_code: bool) -> Route:
        """The route to ``target``; ``decision`` is the policy's (its ``proxy`` setting),
        ``from_code`` whether that policy was passed in code rather than the process's."""
        if self.explicit:
            return _explicit(target, self.config)
        setting = decision.proxy
        if setting is not None and from_code:
            return _setting_route(setting, decision.sources["proxy"])
        if not self._quiet:
            spoken = _environment(target, self.config)
            if spoken is not None:
                return spoken
        if setting is not None:
            return _setting_route(setting, decision.sources["proxy"])
        return _DIRECT


_DIRECT = Route(source=DEFAULT_SOURCE)


def _explicit(target: Target, config: ProxyConfig) -> Route:
    route = config.https if target.scheme == "https" else config.http
    if route.is_direct or config.no_proxy is None:
        return route
    entry = config.no_proxy.match(target)
    return route if entry is None else Route(source=f'{config.no_proxy.source} "{entry}"')


def _environment(target: Target, config: ProxyConfig) -> Route | None:
    """The variables' route to ``target``, or None where no variable speaks for it."""
    if config.no_proxy is not None:
        entry = config.no_proxy.match(target)
        if entry is not None:
            return Route(source=f'{config.no_proxy.source} "{entry}"')
    route = config.https if target.scheme == "https" else config.http
    return None if route.is_direct else route


@functools.lru_cache(maxsize=256)
def _setting_route(setting: str, source: str) -> Route:
    # The setting was checked when its policy was built: this cannot fail.
    return _proxy_setting(setting, source).https


def proxy_target(proxy: ProxyURL) -> Target:
    """The proxy as a target, to resolve the Decision that verifies an ``https://`` proxy."""
    _, is_ip = normalize_host(proxy.host)
    return Target(proxy.scheme, proxy.host, proxy.port, is_ip)


_shown: dict[tuple[Decision, Route, str], Decision] = {}
_shown_direct: dict[Decision, Decision] = {}
_shown_lock = threading.Lock()


def shown(decision: Decision, route: Route) -> Decision:
    """``decision`` with ``proxy`` set to the route taken and its source: what a response
    and ``explain`` show.  Credentials appear only as ``***``."""
    key = (decision, route, route.source)
    found = _shown.get(key)
    if found is not None:
        return found
    if decision.proxy == route.display and decision.sources["proxy"] == route.source:
        result = decision
    else:
        values = {name: getattr(decision, name) for name in Decision._fields}
        values["proxy"] = route.display
        values["sources"] = FrozenDict({**decision.sources, "proxy": route.source})
        result = Decision(**values)
    with _shown_lock:
        if len(_shown) >= _SHOWN_CACHE:
            _shown.clear()
            _shown_direct.clear()
        _shown[key] = result
        if route is _DIRECT:
            _shown_direct[decision] = result
    return result


def explained(resolver: Resolver, url: str, *, from_code: bool) -> Decision:
    """What ``explain`` shows for ``url``: ``resolver``'s decision with the route a client
    made now with ``proxies="env"`` would take (``from_code``: the policy was given in code,
    as ``securehttp get --policy`` gives it)."""
    target = split_url(url if "://" in url else f"https://{url}")
    decision = resolver.resolve_target(target)
    return shown(decision, Routing("env").route(target, decision, from_code=from_code))
