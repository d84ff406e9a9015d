"""Where policy files are: the system policy path (the file named by ``SECUREHTTP_POLICY`` is
read by :func:`securehttp._sources.read_layers`).  Reading itself is :mod:`securehttp._files`."""

from __future__ import annotations

import os

from .._policy import Policy, load_policy

__all__ = ["SYSTEM_POLICY", "read_policy_file"]

SYSTEM_POLICY = "/etc/securehttp/policy.yaml"


def read_policy_file(path: str | os.PathLike[str]) -> Policy:
    """Load one YAML policy file; every problem is a :class:`PolicyError` naming the file."""
    return load_policy(path)
