"""The verification seam: the one part of securehttp that turns a Decision into verification.

It builds and caches the sealed ``SSLContext`` for each TLS setting (:mod:`.contexts`),
checks pins and the no-common-name rule right after the handshake and before any request
byte (:mod:`.checks`), and records report-only failures and disabled connections
(:mod:`.report`).  Every way in - the client, ``urlopen``, the handlers, the integrations -
gets its contexts and checks from here.
"""

from __future__ import annotations

import ssl

from .._model import Decision, Verify
from .checks import ConnectionCheck
from .contexts import contexts, decision_for_context
from .pins import spki_pin
from .report import reset_warnings

__all__ = [
    "ConnectionCheck",
    "contexts",
    "contexts_for",
    "decision_for_context",
    "reset_warnings",
    "spki_pin",
]


def contexts_for(
    decision: Decision, context: ssl.SSLContext | None = None
) -> tuple[ssl.SSLContext, ssl.SSLContext | None]:
    """The context a connection governed by ``decision`` handshakes with, and its report-only
    fallback (``None`` unless ``verify=warn``).  A caller's ``context=`` is used as given."""
    if context is not None:
        return context, None
    tls = decision.tls
    ctx = contexts.get(tls)
    fallback = contexts.get(tls.unverified()) if decision.verify is Verify.WARN else None
    return ctx, fallback
