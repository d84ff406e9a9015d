"""urllib's calling conventions on a :class:`Client`: ``Request`` objects, ``data=``, and
``HTTPError`` for a non-2xx status.  Below both the client and the ``urlopen`` facade."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from ._deadline import Timeout
from ._exceptions import HTTPError

if TYPE_CHECKING:
    import urllib.request

    from ._client import Client
    from ._policy import Policy
    from ._response import Response

__all__ = ["open_with"]


def open_with(
    client: Client,
    url: str | urllib.request.Request,
    data: bytes | None,
    timeout: float | Timeout | None,
    *,
    context: ssl.SSLContext | None,
    policy: Policy | None,
) -> Response:
    if not isinstance(url, str):
        import urllib.request

        if not isinstance(url, urllib.request.Request):
            raise TypeError(
                f"expected a URL string or a urllib.request.Request, not {type(url).__name__}"
            )
        if data is not None:
            url.data = data
        full_url, method, body = url.full_url, url.get_method(), url.data
        headers = dict(url.header_items())
    else:
        full_url, body, headers = url, data, {}
        method = "POST" if data is not None else "GET"
    if body is not None and not isinstance(body, (bytes, bytearray)):
        # urllib's rule: a str body is a programming error, not something to guess at.
        raise TypeError(
            "POST data should be bytes, an iterable of bytes, or a file object. "
            "It cannot be of type str."
        )
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = client.request(
        method,
        full_url,
        body=bytes(body) if body is not None else None,
        headers=headers,
        timeout=timeout,
        context=context,
        policy=policy,
    )
    if not 200 <= response.status < 300:
        raise HTTPError(response.url, response.status, response.reason, response.headers, response)  # type: ignore[arg-type]
    return response
