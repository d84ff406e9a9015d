"""The verification seam: the one part of securehttp that turns a Decision into verification.

It builds and caches the sealed ``SSLContext`` for each TLS setting (:mod:`.contexts`),
checks pins and the no-common-name rule right after the handshake and before any request
byte (:mod:`.checks`), and records report-only failures and disabled connections
(:mod:`.report`).  A policy context (:mod:`.dispatch`) decides per connection from the
server name and runs those checks inside the handshake (:mod:`.handshake`).  Every way in -
the client, ``urlopen``, the handlers, the integrations - gets its contexts and checks here.
"""

from __future__ import annotations

from .checks import ConnectionCheck
from .contexts import contexts, contexts_for, decision_for_context
from .dispatch import PolicyContext, connection_target, policy_context
from .pins import spki_pin
from .report import reset_warnings

__all__ = [
    "ConnectionCheck",
    "PolicyContext",
    "connection_target",
    "contexts",
    "contexts_for",
    "decision_for_context",
    "policy_context",
    "reset_warnings",
    "spki_pin",
]
