"""The policy for programs written for requests: :class:`PolicyAdapter` and :class:`Session`.

::

    from securehttp.integrations.requests import Session

    with Session() as session:          # or Session(policy=securehttp.load_policy(...))
        session.get("https://api.example.com/")

    # or mount the adapter on a session you already have:
    session.mount("https://", PolicyAdapter()); session.mount("http://", PolicyAdapter())

Each request is verified as the policy decides for its host and port, by the verification
seam: sealed cached contexts that requests and urllib3 can neither widen nor modify, pins and
the no-common-name rule checked before the first request byte, report-only with its warning
and audit event.  Pools are keyed by everything that decided their checks.  An ``https://``
proxy is verified by the Decision for the proxy's own host.

requests' own arguments keep their meaning, as a layer on top of the policy (SPEC §4 layer
7): ``verify=False`` disables verification for that request (named as the source, warned and
audited; refused with ``SSLError`` under a policy with ``lock: true``), ``verify="ca.pem"``
trusts that file or directory instead, ``cert=`` sends a client certificate.  A ``verify``
string equal to ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` is the environment's, which the
policy already reads (SPEC §4 layer 4).  :class:`Session` also fixes requests#3829: an explicit
``session.verify`` beats ``REQUESTS_CA_BUNDLE``.

Errors stay requests' (``SSLError``, ``ProxyError``, ...), with securehttp's
:class:`~securehttp.CertificateError` as their ``__cause__``.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

import requests
from requests.adapters import HTTPAdapter
from requests.exceptions import InvalidProxyURL, InvalidURL, ProxyError, SSLError
from requests.utils import prepend_scheme_if_needed, select_proxy
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import LocationValueError
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.util import parse_url

from .._exceptions import CertificateError
from .._hosts import Target, split_url
from .._model import ClientCert, Decision, Verify
from .._policy import Policy
from .._verification import PolicyContext, contexts_for
from ._decide import Deciding, Override, causes, certificate_error
from ._requests_pools import Governance, govern

__all__ = ["PolicyAdapter", "Session"]

_ENV_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class _Plan(NamedTuple):
    """How one request goes: its target and decision, and the proxy's when it has one."""

    target: Target
    decision: Decision
    proxy_url: str | None
    proxy_target: Target | None
    proxy_decision: Decision | None
    pool_kwargs: dict[str, Any]


class PolicyAdapter(HTTPAdapter):
    """A requests ``HTTPAdapter`` whose TLS verification is decided by ``policy`` per host.

    ``policy=None`` follows the process default (files, environment, the runtime switch,
    read again at each request); a :class:`~securehttp.Policy` is taken as written.  The
    other arguments are ``HTTPAdapter``'s.
    """

    __attrs__ = [*HTTPAdapter.__attrs__, "_policy"]  # noqa: RUF012  # requests' own pickling list

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
        max_retries: Any = 0,
        pool_block: bool = False,
    ) -> None:
        self._setup(policy)
        super().__init__(pool_connections, pool_maxsize, max_retries, pool_block)

    def _setup(self, policy: Policy | None) -> None:
        self._policy = policy
        self._deciding = Deciding(policy)
        self._local = threading.local()
        # An https:// proxy's own TLS: decided per connection by the proxy's host and port.
        deciding = self._deciding
        self._proxy_context = PolicyContext(lambda target: deciding.decide(target), deciding.label)

    def __getstate__(self) -> dict[str, Any]:
        if self._policy is not None:
            # Pickled without it, the copy would follow the process default instead.
            raise TypeError(
                "a PolicyAdapter with a policy in code cannot be pickled; make a new one "
                "with the same policy where it is needed"
            )
        state: dict[str, Any] = super().__getstate__()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._setup(state.get("_policy"))
        super().__setstate__(state)

    def __repr__(self) -> str:
        return f"<securehttp PolicyAdapter deciding by {self._deciding.label}>"

    # --- what a request is checked by ---------------------------------------------------------

    def decide(self, url: str, *, verify: bool | str | None = True, cert: Any = None) -> Decision:
        """The decision a request to ``url`` with these ``verify``/``cert`` arguments would
        be verified by (no I/O); CertificateError if ``lock`` refuses them."""
        target = split_url(url)
        return self._deciding.decide(target, self._override(verify, cert, target))

    def _override(self, verify: Any, cert: Any, target: Target) -> Override:
        settings: list[tuple[str, object, str]] = []
        if verify is False:
            settings.append(("verify", Verify.DISABLED, "requests verify=False"))
        elif isinstance(verify, (str, os.PathLike)):
            path = os.fspath(verify)
            if not os.path.exists(path):
                # requests' own error and message, so its callers see no difference.
                raise OSError(
                    f"Could not find a suitable TLS CA certificate bundle, invalid path: {path}"
                )
            trust = (os.path.abspath(path),)
            source = self._environment_bundle(path, trust, target)
            if source is None:
                settings.append(("trust", trust, f"requests verify={path!r}"))
            elif source:
                settings.append(("trust", trust, source))
        elif verify is not True and verify is not None:
            raise TypeError(
                f"verify must be True, False or the path of a CA bundle, "
                f"not {type(verify).__name__}"
            )
        if cert:
            settings.append(("client_cert", _client_cert(cert), f"requests cert={cert!r}"))
        return tuple(settings)

    def _environment_bundle(self, path: str, trust: tuple[str, ...], target: Target) -> str | None:
        """For a ``verify`` string that is requests' reading of ``REQUESTS_CA_BUNDLE`` or
        ``CURL_CA_BUNDLE``: ``""`` when the policy already has it (the process default's
        environment layer) or ignores the environment (a policy in code), the source to name
        when the variable changed after the process default read it; None for any other
        string, which is the request's own."""
        name = next((n for n in _ENV_BUNDLES if os.environ.get(n) == path), None)
        if name is None:
            return None
        if self._policy is not None:
            return ""
        decision = self._deciding.decide(target)
        if trust[0] in decision.trust or path in decision.trust:
            return ""
        return f"env {name}={path} (read by requests)"

    def _plan(
        self, request: requests.PreparedRequest, verify: Any, cert: Any, proxies: Any
    ) -> _Plan:
        url = request.url if isinstance(request.url, str) else str(request.url)
        try:
            target = split_url(url)
        except ValueError as exc:
            raise InvalidURL(str(exc), request=request) from None
        # verify= and cert= mean nothing to plain http:// (requests ignores them there too).
        override = self._override(verify, cert, target) if target.scheme == "https" else ()
        decision = self._deciding.decide(target, override)
        proxy_url = select_proxy(url, proxies)
        proxy_target = proxy_decision = None
        if proxy_url:
            proxy_url = prepend_scheme_if_needed(proxy_url, "http")
            if not parse_url(proxy_url).host:
                raise InvalidProxyURL(
                    "Please check proxy URL. It is malformed and could be missing the host."
                )
            if proxy_url.lower().startswith("https://"):
                proxy_target = split_url(proxy_url)
                proxy_decision = self._deciding.decide(proxy_target)
        pool_kwargs: dict[str, Any] = {}
        if target.scheme == "https":
            ctx, fallback = contexts_for(decision)
            pool_kwargs = {
                "ssl_context": ctx,
                # urllib3 writes cert_reqs on the context: it must say what the context does.
                "cert_reqs": "CERT_NONE" if ctx.verify_mode == ssl.CERT_NONE else "CERT_REQUIRED",
                "securehttp": Governance(decision, fallback, proxy_decision),
            }
        elif proxy_decision is not None:
            # Forwarded through an https:// proxy: the only TLS is the proxy's.
            pool_kwargs = {
                "cert_reqs": "CERT_REQUIRED",
                "securehttp": Governance(None, None, proxy_decision),
            }
        return _Plan(target, decision, proxy_url, proxy_target, proxy_decision, pool_kwargs)

    # --- requests' hooks ----------------------------------------------------------------------

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        govern(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if proxy not in self.proxy_manager and proxy.lower().startswith("https://"):
            # Without it urllib3 verifies an https:// proxy with the origin's settings, which
            # pip got wrong twice (pypa/pip#13288, #14179).
            proxy_kwargs["proxy_ssl_context"] = self._proxy_context
        return govern(super().proxy_manager_for(proxy, **proxy_kwargs))

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        plan = self._plan(request, verify, cert, None)
        return _host_params(plan.target, request), plan.pool_kwargs

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> HTTPConnectionPool:
        plan = getattr(self._local, "plan", None)
        if plan is None:
            plan = self._plan(request, verify, cert, proxies)
        manager = self.proxy_manager_for(plan.proxy_url) if plan.proxy_url else self.poolmanager
        try:
            pool: HTTPConnectionPool = manager.connection_from_host(
                **_host_params(plan.target, request), pool_kwargs=plan.pool_kwargs
            )
        except LocationValueError as exc:
            raise InvalidURL(exc, request=request) from None
        return pool

    def get_connection(
        self, url: str, proxies: Mapping[str, str] | None = None
    ) -> HTTPConnectionPool:
        # The pre-2.32.2 hook knows no verify=: it gets the policy's decision, never a pool
        # that urllib3 would verify by its own defaults.
        request = requests.Request("GET", url).prepare()
        return self.get_connection_with_tls_context(request, True, proxies)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would write CA and client-certificate files on the pool, and urllib3
        # would load them into the shared sealed context: the decision already holds the
        # trust and the client certificate, in its own context.
        if isinstance(conn, HTTPSConnectionPool):
            conn.ca_certs = conn.ca_cert_dir = None
            conn.cert_file = conn.key_file = None

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        try:
            plan = self._plan(request, verify, cert, proxies)
        except CertificateError as exc:  # a request argument that lock refuses
            raise SSLError(str(exc), request=request) from exc
        self._local.plan = plan
        try:
            return super().send(request, stream, timeout, verify, cert, proxies)  # type: ignore[arg-type]
        except requests.exceptions.ConnectionError as exc:
            error = _with_cause(exc, plan, request)
            if error is exc:
                raise
            raise error from error.__cause__
        finally:
            self._local.plan = None


class Session(requests.Session):
    """A ``requests.Session`` with :class:`PolicyAdapter` mounted for ``https://`` and
    ``http://``, and requests' own precedence for ``verify``: a request's argument, else
    ``session.verify``, else the environment (requests lets ``REQUESTS_CA_BUNDLE`` beat an
    explicit ``session.verify``: requests#3829).  ``REQUESTS_CA_BUNDLE`` and
    ``CURL_CA_BUNDLE`` are read by the process default policy, where ``lock`` governs them.
    """

    def __init__(self, policy: Policy | None = None) -> None:
        super().__init__()
        adapter = PolicyAdapter(policy)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(
            url,  # type: ignore[arg-type]
            proxies,
            stream,
            verify,
            cert,
        )
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify  # not the variable's bundle (requests#3829)
        return settings

    def decide(self, url: str, *, verify: bool | str | None = None, cert: Any = None) -> Decision:
        """The decision a request to ``url`` from this session would be verified by."""
        adapter = self.get_adapter(url)
        if not isinstance(adapter, PolicyAdapter):
            raise TypeError(f"{url}: the adapter mounted for it is not a PolicyAdapter")
        merged_cert = cert if cert is not None else self.cert
        return adapter.decide(
            url, verify=self.verify if verify is None else verify, cert=merged_cert
        )


# --- helpers ----------------------------------------------------------------------------------


def _client_cert(cert: Any) -> ClientCert:
    if isinstance(cert, (str, os.PathLike)):
        files: tuple[Any, ...] = (cert, None)
    elif isinstance(cert, (tuple, list)) and len(cert) == 2:
        files = tuple(cert)
    else:
        raise TypeError("cert must be a file name or a (cert, key) pair of file names")
    certificate, key = (os.fspath(f) if f is not None else None for f in files)
    if not certificate or not os.path.exists(certificate):
        raise OSError(f"Could not find the TLS certificate file, invalid path: {certificate}")
    if key and not os.path.exists(key):
        raise OSError(f"Could not find the TLS key file, invalid path: {key}")
    return ClientCert(os.path.abspath(certificate), os.path.abspath(key) if key else None)


def _host_params(target: Target, request: requests.PreparedRequest) -> dict[str, Any]:
    parsed = parse_url(str(request.url))
    return {"scheme": target.scheme, "host": parsed.host, "port": parsed.port}


def _with_cause(
    exc: requests.exceptions.ConnectionError, plan: _Plan, request: requests.PreparedRequest
) -> requests.exceptions.ConnectionError:
    """requests' error, made an ``SSLError`` (or kept a ``ProxyError``) whose ``__cause__``
    is securehttp's CertificateError, when verification is what failed."""
    proxied = plan.proxy_decision is not None and any(
        isinstance(inner, Urllib3ProxyError) for inner in causes(exc)
    )
    if proxied and plan.proxy_target is not None and plan.proxy_decision is not None:
        cause = certificate_error(exc, plan.proxy_target, plan.proxy_decision)
        kind: type[requests.exceptions.ConnectionError] = ProxyError
    else:
        cause = certificate_error(exc, plan.target, plan.decision)
        kind = SSLError
    if cause is None:
        return exc
    error = kind(str(cause), request=request)
    error.__cause__ = cause
    return error
