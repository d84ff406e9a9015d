"""Where policy layers come from: PEP 493's file, YAML files, the environment.

Read once per process (as PEP 493 reads its switches once) by :func:`read_layers`; the
runtime switch is layered on top by :mod:`securehttp._resolve`.  Under ``python -E`` / ``-I``
nothing is read from the environment, including the variables that name files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from .._policy import Policy
from . import env, files, pep493

__all__ = ["read_layers"]


def read_layers(environ: Mapping[str, str] | None = None) -> tuple[Policy, ...]:
    """The layers 2-4 of SPEC §4, lowest precedence first."""
    if environ is None:
        environ = {} if sys.flags.ignore_environment else os.environ
    layers: list[Policy] = []

    pep493_path = environ.get("SECUREHTTP_PEP493_CONFIG", "")
    layer = pep493.read_pep493(pep493_path or pep493.PEP493_CONFIG, explicit=bool(pep493_path))
    if layer is not None:
        # A file chosen through the environment is refused by `lock` like the environment.
        layers.append(layer.chosen_through("SECUREHTTP_PEP493_CONFIG") if pep493_path else layer)

    if os.path.lexists(files.SYSTEM_POLICY):
        layers.append(files.read_policy_file(files.SYSTEM_POLICY))
    user_policy = environ.get("SECUREHTTP_POLICY", "")
    if user_policy:
        layers.append(files.read_policy_file(user_policy).chosen_through("SECUREHTTP_POLICY"))

    env_layer = env.read_environment(environ)
    if env_layer is not None:
        layers.append(env_layer.chosen_through("the environment"))
    return tuple(layers)
