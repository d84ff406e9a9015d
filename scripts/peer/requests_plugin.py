"""A pytest plugin for requests' own test suite: every ``requests.Session`` gets
securehttp's ``PolicyAdapter`` (the process default policy) where it would get requests'
``HTTPAdapter``, for ``https://`` and ``http://``; at the end it says how many adapters it made
and how many requests they sent, so a run that bypassed it cannot pass unnoticed."""

from __future__ import annotations

from typing import Any

import pytest
import requests.sessions

from securehttp.integrations.requests import PolicyAdapter

made = {"adapters": 0, "sent": 0}


class PeerAdapter(PolicyAdapter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # HTTPAdapter's arguments, positional or not; the policy is the process default.
        names = ("pool_connections", "pool_maxsize", "max_retries", "pool_block")
        kwargs.update(zip(names, args, strict=False))
        super().__init__(**kwargs)
        made["adapters"] += 1

    def send(self, *args: Any, **kwargs: Any) -> Any:
        made["sent"] += 1
        return super().send(*args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    requests.sessions.HTTPAdapter = PeerAdapter  # type: ignore[misc]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"securehttp PolicyAdapter: {made['adapters']} adapters made, {made['sent']} requests sent"
    )
