"""urllib's calling conventions on a :class:`Client`: ``Request`` objects, ``data=``, the
headers as urllib sends them, and ``HTTPError`` for a non-2xx status.  Below the client's
``urlopen``, the ``urlopen`` facade and the opener handlers."""

from __future__ import annotations

import ssl
import sys
from typing import TYPE_CHECKING, Any

from ._deadline import Timeout
from ._exceptions import HTTPError

if TYPE_CHECKING:
    import urllib.request

    from ._client import Client
    from ._policy import Policy
    from ._response import Response

__all__ = [
    "URLLIB_USER_AGENT",
    "open_with",
    "request_body",
    "request_headers",
]

# What urllib's openers send (OpenerDirector.addheaders): urlopen keeps it, Client does not.
URLLIB_USER_AGENT = f"Python-urllib/{sys.version_info[0]}.{sys.version_info[1]}"


def request_headers(request: urllib.request.Request) -> dict[str, str]:
    """A ``Request``'s headers as urllib's ``do_open`` sends them: the unredirected ones
    (added by handlers: ``Host``, ``Cookie``, ``Authorization``...) win, and every name is
    written ``Title-Case`` (``X-SoMe-hEader`` goes out as ``X-Some-Header``)."""
    headers = dict(request.unredirected_hdrs)
    headers.update((k, v) for k, v in request.headers.items() if k not in headers)
    return {name.title(): value for name, value in headers.items()}


def request_body(data: object, headers: dict[str, str]) -> bytes | None:
    """A body urllib accepts (bytes, a file object, an iterable of bytes) as bytes.

    A body that is read here goes out with its length: a ``Transfer-Encoding`` or
    ``Content-Length`` urllib's processor chose for the stream is replaced.
    """
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, str):
        # urllib's rule: a str body is a programming error, not something to guess at.
        raise TypeError(
            "POST data should be bytes, an iterable of bytes, or a file object. "
            "It cannot be of type str."
        )
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    reader: Any = getattr(data, "read", None)
    if reader is not None:
        whole = bytes(reader())
    else:
        try:
            whole = b"".join(bytes(part) for part in data)  # type: ignore[attr-defined]
        except TypeError:
            raise TypeError(
                f"data should be a bytes-like object or an iterable, got {type(data).__name__}"
            ) from None
    for name in [n for n in headers if n.lower() in ("transfer-encoding", "content-length")]:
        del headers[name]
    headers["Content-Length"] = str(len(whole))
    return whole


def open_with(
    client: Client,
    url: str | urllib.request.Request,
    data: bytes | None,
    timeout: float | Timeout | None,
    *,
    context: ssl.SSLContext | None,
    policy: Policy | None,
    user_agent: str | None = None,
) -> Response:
    """Send ``url`` (a string or a ``Request``) as urllib would; ``user_agent`` is sent
    unless the request names one."""
    if not isinstance(url, str):
        import urllib.request

        if not isinstance(url, urllib.request.Request):
            raise TypeError(
                f"expected a URL string or a urllib.request.Request, not {type(url).__name__}"
            )
        if data is not None:
            url.data = data
        full_url, method, body = url.full_url, url.get_method(), url.data
        headers = request_headers(url)
    else:
        full_url, body, headers = url, data, {}
        method = "POST" if data is not None else "GET"
    payload = request_body(body, headers)
    if payload is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if user_agent is not None and not any(k.lower() == "user-agent" for k in headers):
        headers["User-Agent"] = user_agent
    response = client.request(
        method,
        full_url,
        body=payload,
        headers=headers,
        timeout=timeout,
        context=context,
        policy=policy,
    )
    if not 200 <= response.status < 300:
        raise HTTPError(response.url, response.status, response.reason, response.headers, response)  # type: ignore[arg-type]
    return response
