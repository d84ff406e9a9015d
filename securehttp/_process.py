"""The process default policy (SPEC §4 layers 1-5): files and environment read once, plus
PEP 493's runtime switch."""

from __future__ import annotations

import threading

from ._frozen import FrozenDict
from ._model import Block, Decision, Setting, Verify
from ._policy import Policy
from ._resolve import Resolver

__all__ = [
    "explain",
    "https_verify_certificates",
    "process_resolver",
    "reset_process_state",
    "runtime_switch",
]

_process_lock = threading.Lock()
_base_layers: tuple[Policy, ...] | None = None
_runtime: Verify | None = None
_process: dict[Verify | None, Resolver] = {}


def process_resolver() -> Resolver:
    """The merged process default: files and environment read once, plus the runtime switch."""
    global _base_layers
    runtime = _runtime
    resolver = _process.get(runtime)
    if resolver is not None:
        return resolver
    with _process_lock:
        if _base_layers is None:
            from ._sources import read_layers

            _base_layers = read_layers()
        layers = _base_layers
        if runtime is not None:
            setting = Setting(
                runtime, f"runtime https_verify_certificates({runtime == Verify.STRICT})"
            )
            switch = Block("runtime", FrozenDict({"verify": setting}))
            layers = (*layers, Policy(source="runtime switch", defaults=switch))
        resolver = _process.setdefault(runtime, Resolver(layers))
    return resolver


def https_verify_certificates(enable: bool = True) -> None:
    """PEP 493's runtime switch: verify (``True``) or not (``False``) from now on.

    Like ``ssl._https_verify_certificates``, it sets the level for the whole process and
    affects connections opened afterwards; it sits above the environment and the policy
    files, but a file with ``lock: true`` refuses ``False`` (with a warning), and an
    explicit ``Client(policy=...)`` or per-request ``policy=``/``context=`` is not affected.
    """
    global _runtime
    with _process_lock:
        _runtime = Verify.STRICT if enable else Verify.DISABLED


def runtime_switch() -> Verify | None:
    """What ``https_verify_certificates()`` last set (``None``: never called)."""
    return _runtime


def explain(url: str) -> Decision:
    """The decision the process default (every source merged) makes for ``url``, with
    ``proxy`` the route ``urlopen`` takes there and where it came from (SPEC §9)."""
    from ._routes import explained

    return explained(process_resolver(), url, from_code=False)


def reset_process_state() -> None:
    """Forget what was read from files and the environment, and the runtime switch."""
    global _base_layers, _runtime
    with _process_lock:
        _base_layers = None
        _runtime = None
        _process.clear()
