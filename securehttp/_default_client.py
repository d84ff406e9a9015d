"""The process-wide :class:`Client` behind ``urlopen`` and the opener handlers made without a
policy: one set of pools, made on first use, safely from several threads."""

from __future__ import annotations

import threading

from ._client import Client

__all__ = ["default_client", "reset_default_client"]

_client: Client | None = None
_client_lock = threading.Lock()


def default_client() -> Client:
    """The process-wide client behind ``urlopen`` and the default handlers, made on first
    use (safely from several threads)."""
    global _client
    client = _client
    if client is None:
        with _client_lock:
            if _client is None:
                _client = Client()
            client = _client
    return client


def reset_default_client() -> None:
    """Close and forget the default client (the next use makes a new one)."""
    global _client
    with _client_lock:
        client, _client = _client, None
    if client is not None:
        client.close()
