"""``securehttp explain URL``: the decision and where each setting came from."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._hosts import redact_url
from .._policy import SETTINGS, ClientCert, Decision, load_policy
from .._process import explain as process_explain
from .._routes import explained
from .common import EXIT_OK, add_policy_option, add_verbose_option

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "explain", help="show the decision for a URL and where each setting came from"
    )
    p.add_argument("url")
    add_policy_option(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_verbose_option(p)
    p.set_defaults(func=_cmd_explain)


def decision_to_json(url: str, decision: Decision) -> dict[str, object]:
    out: dict[str, object] = {"url": redact_url(url), "rule": decision.rule}
    for name in SETTINGS:
        value = getattr(decision, name)
        if isinstance(value, ClientCert):
            value = {"cert": value.cert, "key": value.key, "password_env": value.password_env}
        elif isinstance(value, tuple):
            value = list(value)
        elif value is not None and not isinstance(value, bool):
            value = str(value)
        out[name] = value
    out["expires"] = decision.expires.isoformat() if decision.expires else None
    out["reason"] = decision.reason
    out["sources"] = dict(decision.sources)
    return out


def _cmd_explain(args: argparse.Namespace) -> int:
    if args.policy:
        # As `get --policy` uses it: a policy given in code, over the proxy variables.
        resolver = load_policy(args.policy).resolver()
        decision = explained(resolver, args.url, from_code=True)
    else:
        decision = process_explain(args.url)
    if args.json:
        print(json.dumps(decision_to_json(redact_url(args.url), decision), indent=2))
    else:
        print(redact_url(args.url))
        print(decision)
    return EXIT_OK
