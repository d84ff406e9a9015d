"""The verbs of :class:`~securehttp.Client`: ``get``, ``head``, ``post``, ``put``, ``patch``,
``delete`` and ``options``, each ``request()`` with its method.

Every keyword is spelt out (no ``**kwargs``), so a misspelt one is a ``TypeError`` at once
and an error under ``mypy --strict``, never silently ignored.  ``get``, ``head`` and
``options`` take no body; ``request("GET", url, body=...)`` sends one where an API wants it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

    from ._deadline import Timeout
    from ._policy import Policy
    from ._request import JSON, Auth, Body, Params
    from ._response import Response

__all__ = ["Verbs"]


class Verbs:
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        body: Body | None = None,
        json: JSON = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        raise NotImplementedError  # pragma: no cover - Client defines it

    def get(
        self,
        url: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """``GET url``; see :meth:`request`."""
        return self.request(
            "GET",
            url,
            params=params,
            headers=headers,
            auth=auth,
            timeout=timeout,
            context=context,
            policy=policy,
            redirect=redirect,
        )

    def head(
        self,
        url: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """``HEAD url``; see :meth:`request`."""
        return self.request(
            "HEAD",
            url,
            params=params,
            headers=headers,
            auth=auth,
            timeout=timeout,
            context=context,
            policy=policy,
            redirect=redirect,
        )

    def options(
        self,
        url: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """``OPTIONS url``; see :meth:`request`."""
        return self.request(
            "OPTIONS",
            url,
            params=params,
            headers=headers,
            auth=auth,
            timeout=timeout,
            context=context,
            policy=policy,
            redirect=redirect,
        )

    def post(
        self,
        url: str,
        body: Body | None = None,
        *,
        json: JSON = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """``POST url`` with ``body`` or ``json``; see :meth:`request`."""
        return self.request(
            "POST",
            url,
            params=params,
            body=body,
            json=json,
            headers=headers,
            auth=auth,
            timeout=timeout,
            context=context,
            policy=policy,
            redirect=redirect,
        )

    def put(
        self,
        url: str,
        body: Body | None = None,
        *,
        json: JSON = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """``PUT url`` with ``body`` or ``json``; see :meth:`request`."""
        return self.request(
            "PUT",
            url,
            params=params,
            body=body,
            json=json,
            headers=headers,
            auth=auth,
            timeout=timeout,
            context=context,
            policy=policy,
            redirect=redirect,
        )

    def patch(
        self,
        url: str,
        body: Body | None = None,
        *,
        json: JSON = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """``PATCH url`` with ``body`` or ``json``; see :meth:`request`."""
        return self.request(
            "PATCH",
            url,
            params=params,
            body=body,
            json=json,
            headers=headers,
            auth=auth,
            timeout=timeout,
            context=context,
            policy=policy,
            redirect=redirect,
        )

    def delete(
        self,
        url: str,
        *,
        body: Body | None = None,
        json: JSON = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeout: float | Timeout | None = None,
        context: ssl.SSLContext | None = None,
        policy: Policy | None = None,
        redirect: bool = True,
    ) -> Response:
        """``DELETE url``, with a body where an API wants one; see :meth:`request`."""
        return self.request(
            "DELETE",
            url,
            params=params,
            body=body,
            json=json,
            headers=headers,
            auth=auth,
            timeout=timeout,
            context=context,
            policy=policy,
            redirect=redirect,
        )
