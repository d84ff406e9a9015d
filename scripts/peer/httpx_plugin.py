"""A pytest plugin for httpx's own client tests: every ``httpx.Client`` / ``AsyncClient``
that would make httpx's default transport for a direct connection verified by default gets
securehttp's ``PolicyTransport`` / ``AsyncPolicyTransport`` (the process default policy)
instead.  Transports for a caller's own ``verify=`` context or ``False``, ``cert=``, ``uds=``,
HTTP/2 or a proxy stay httpx's: a policy transport takes its trust and proxies from the
policy and the environment, not from those arguments.  At the end it says how many of each
were made, so a run that bypassed it cannot pass unnoticed."""

from __future__ import annotations

from typing import Any

import httpx
import httpx._client
import pytest

from securehttp.integrations.httpx import AsyncPolicyTransport, PolicyTransport

made = {"policy": 0, "httpx": 0}


def _replacing(original: Any, replacement: Any) -> Any:
    def make(
        verify: Any = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = httpx._client.DEFAULT_LIMITS,
        proxy: Any = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Any = None,
    ) -> Any:
        if verify is True and cert is None and http1 and not http2 and proxy is None and not uds:
            made["policy"] += 1
            return replacement(
                proxies=None,  # the client mounts httpx's proxy transports itself
                limits=limits,
                retries=retries,
                local_address=local_address,
                socket_options=socket_options,
            )
        made["httpx"] += 1
        return original(
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            http1=http1,
            http2=http2,
            limits=limits,
            proxy=proxy,
            uds=uds,
            local_address=local_address,
            retries=retries,
            socket_options=socket_options,
        )

    return make


def pytest_configure(config: pytest.Config) -> None:
    httpx._client.HTTPTransport = _replacing(httpx.HTTPTransport, PolicyTransport)  # type: ignore[misc]
    httpx._client.AsyncHTTPTransport = _replacing(  # type: ignore[misc]
        httpx.AsyncHTTPTransport, AsyncPolicyTransport
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"securehttp: {made['policy']} policy transports made, "
        f"{made['httpx']} httpx transports kept"
    )
