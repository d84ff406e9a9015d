"""The rules of ``securehttp scan``: where code turns TLS verification off.

``verify=`` is judged on calls into requests and httpx (also through ``pip._vendor`` and
``requests.packages``), and on calls whose name is an HTTP verb, ``request``, ``send``,
``stream``, ``Session``/``session``, ``Client``, ``AsyncClient`` or an httpx transport, whatever
the receiver: ``jwt.decode(token, verify=False)`` or ``signature.check(verify=False)`` are not
HTTP calls and are left alone. Argument names that only TLS uses (``check_hostname``,
``cert_reqs``, ``assert_hostname``, ``verify_ssl``) are judged on any call; aiohttp's ``ssl=``
on aiohttp's calls and on HTTP verbs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ._scan_names import Const, DictOf, Names, Scope, Sym, dotted, source

__all__ = ["Hit", "analyze"]


@dataclass(frozen=True)
class Hit:
    rule: str  # an id of securehttp._scan.RULES
    line: int
    column: int  # as ast gives it: a UTF-8 byte offset into the line
    message: str
    url: str | None  # a URL written in the same call, when one is in reach


# The libraries whose every call is an HTTP call for the purpose of ``verify=``.
_HTTP_LIBRARIES = frozenset({"requests", "httpx", "niquests"})
_HTTP_CALL_NAMES = frozenset(
    {
        *("get", "post", "put", "patch", "delete", "head", "options"),
        *("request", "send", "stream", "Session", "session", "Client", "AsyncClient"),
        *("HTTPTransport", "AsyncHTTPTransport"),
    }
)
_AIOHTTP_CALL_NAMES = _HTTP_CALL_NAMES | {"TCPConnector", "ClientSession", "ws_connect"}
_PARTIALS = frozenset({"functools.partial", "functools.partialmethod"})
_UNVERIFIED = frozenset({"ssl._create_unverified_context", "ssl._create_stdlib_context"})
_UNVERIFIED_NAMES = frozenset(path.rsplit(".", 1)[1] for path in _UNVERIFIED)
_CLIENT_PROTOCOLS = frozenset({"PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER"})
_RUNTIME_SWITCHES = frozenset(
    {
        "ssl._https_verify_certificates",
        "securehttp.https_verify_certificates",
        "securehttp._resolve.https_verify_certificates",
    }
)
_ENVIRON_SETTERS = frozenset({"os.environ.setdefault", "os.environ.__setitem__", "os.putenv"})
_SILENCED_BY_DISABLE = frozenset({"InsecureRequestWarning", "HTTPWarning", "Warning"})
_VERIFY_OFF = "turns certificate verification off"
_NAME_CHECK_OFF = "turns the hostname check off"


def analyze(tree: ast.Module) -> list[Hit]:
    """Every place in ``tree`` that turns verification off, in source order."""
    return _Checks(Names(tree)).run()


_Located = ast.expr | ast.stmt | ast.keyword


class _Callee:
    """What a call calls: the symbols it may be, its text and its last name."""

    def __init__(self, func: ast.expr, names: Names, scope: Scope) -> None:
        self.symbols = names.symbols(func, scope)
        self.paths = {s.path for s in self.symbols}
        self.text = dotted(func) or source(func)
        self.name = (
            func.attr
            if isinstance(func, ast.Attribute)
            else func.id
            if isinstance(func, ast.Name)
            else ""
        )
        self.libraries = {s.root for s in self.symbols}

    @property
    def is_http(self) -> bool:
        return bool(self.libraries & _HTTP_LIBRARIES) or self.name in _HTTP_CALL_NAMES

    @property
    def is_aiohttp(self) -> bool:
        return "aiohttp" in self.libraries or self.name in _AIOHTTP_CALL_NAMES


class _Checks:
    def __init__(self, names: Names) -> None:
        self.names = names
        self.hits: dict[tuple[int, int, str], Hit] = {}
        self.unverified_aliases = names.imported_as(_UNVERIFIED)

    def run(self) -> list[Hit]:
        # Every node but the module itself is a key of ``parents``: no second walk of the tree.
        for node in self.names.parents:
            if isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    self._write(target, node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.BitOr):
                self._environ_update(node.target, node.value, node)
            elif isinstance(node, (ast.Name, ast.Attribute)) and self._may_be_unverified(node):
                self._reference(node)
        return sorted(self.hits.values(), key=lambda h: (h.line, h.column, h.rule))

    def _hit(self, rule: str, where: _Located, message: str) -> None:
        if rule in {"SH101", "SH103"} and self._in_adapter(where):
            rule, message = "SH109", f"{message}, in a transport adapter (every request it sends)"
        key = (where.lineno, where.col_offset, rule)
        url = self.names.url_near(where)
        self.hits.setdefault(key, Hit(rule, where.lineno, where.col_offset, message, url))

    # -- calls

    def _call(self, call: ast.Call) -> None:
        names, scope = self.names, self.names.scope_of(call)
        callee = _Callee(call.func, names, scope)
        if callee.paths & _PARTIALS and call.args:
            callee = _Callee(call.args[0], names, scope)
        for name, value, value_scope, where in self._arguments(call, scope):
            self._argument(callee, name, value, value_scope, where)
        paths = callee.paths
        if "ssl.SSLContext" in paths:
            self._ssl_context(call, callee, scope)
        if paths & _RUNTIME_SWITCHES:
            switch = _argument(call, 0, "enable")
            if switch is not None and (off := names.falsy(switch, scope)) is not None:
                self._hit(
                    "SH107",
                    call,
                    f"{callee.text}({off!r}) turns verification off for the whole process",
                )
        if any(
            s.last == "disable_warnings" and "urllib3" in s.path.split(".") for s in callee.symbols
        ):
            self._disable_warnings(call, callee, scope)
        if paths & {"warnings.filterwarnings", "warnings.simplefilter"}:
            self._warnings_filter(call, callee, scope)
        if paths & _ENVIRON_SETTERS and len(call.args) >= 2:
            self._environment(call.args[0], call.args[1], scope, call, f"{callee.text}()")
        if "os.environ.update" in paths and call.args:
            self._environ_update(call.func, call.args[0], call)
        if callee.name == "setattr" and not callee.symbols and len(call.args) == 3:
            for attribute in names.strings(call.args[1], scope):
                self._attribute(call.args[0], attribute, call.args[2], scope, call)
        if callee.name == "cert_verify":
            self._cert_verify(call, callee, scope)

    def _arguments(
        self, call: ast.Call, scope: Scope
    ) -> Iterator[tuple[str, ast.expr, Scope, _Located]]:
        """Keyword arguments, also those spread from a dict (``**{"verify": False}``)."""
        for keyword in call.keywords:
            if keyword.arg is not None:
                yield keyword.arg, keyword.value, scope, keyword
                continue
            for value in self.names.values(keyword.value, scope):
                if isinstance(value, DictOf):
                    inline = value.node is keyword.value
                    for key, item, where in _entries(value):
                        yield key, item, value.scope, where if inline else keyword

    def _argument(
        self, callee: _Callee, name: str, value: ast.expr, scope: Scope, where: _Located
    ) -> None:
        if name == "env":
            for item in self.names.values(value, scope):
                if isinstance(item, DictOf):
                    for key, setting, _ in _entries(item):
                        how = f"{callee.text}(env=)"
                        self._environment(ast.Constant(key), setting, item.scope, where, how)
            return
        off = self.names.falsy(value, scope)
        http_off = {"verify": callee.is_http, "ssl": callee.is_aiohttp, "verify_ssl": True}
        if off is not None and http_off.get(name, False):
            rule, effect = "SH101", _VERIFY_OFF
        elif name == "cert_reqs" and self._cert_none(value, scope):
            rule, effect = "SH103", _VERIFY_OFF
        elif name == "assert_hostname" and off is False:
            rule, effect = "SH103", _NAME_CHECK_OFF
        elif name == "check_hostname" and off is not None:
            rule, effect = "SH105", _NAME_CHECK_OFF
        else:
            return
        shown = self.names.shown(value, scope)
        self._hit(rule, where, f"{name}={shown} in {callee.text}() {effect}")

    def _ssl_context(self, call: ast.Call, callee: _Callee, scope: Scope) -> None:
        protocol = _argument(call, 0, "protocol")
        shown = "" if protocol is None else source(protocol)
        if protocol is not None:
            lasts = {s.last for s in self.names.symbols(protocol, scope)}
            if not lasts and isinstance(protocol, (ast.Name, ast.Attribute)):
                lasts = {(dotted(protocol) or "").rsplit(".", 1)[-1]}
            if not lasts or lasts & _CLIENT_PROTOCOLS:
                return
            if not all(last.startswith("PROTOCOL_") for last in lasts):
                return
        if self._configured_later(call):
            return
        self._hit(
            "SH104",
            call,
            f"{callee.text}({shown}) makes a context that does not verify certificates "
            "(CERT_NONE, no hostname check) and nothing here turns verification on",
        )

    def _configured_later(self, call: ast.Call) -> bool:
        """Whether the context made by ``call`` later gets ``verify_mode``/``check_hostname``."""
        parent = self.names.parents.get(call)
        target: ast.expr | None = None
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target = parent.targets[0]
        elif isinstance(parent, (ast.AnnAssign, ast.NamedExpr)):
            target = parent.target
        name = None if target is None else dotted(target)
        if name is None:
            return False
        # self.ctx may be configured in another method; a local name only in its own scope.
        region = self.names.tree if "." in name else self.names.scope_of(call).node
        wanted = {f"{name}.verify_mode", f"{name}.check_hostname"}
        for node in ast.walk(region):
            if getattr(node, "lineno", 0) < call.lineno:
                continue
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(dotted(t) in wanted for t in targets):
                    return True
            elif isinstance(node, ast.Call) and dotted(node.func) == "setattr" and node.args:
                attribute = node.args[1] if len(node.args) > 1 else None
                if (
                    dotted(node.args[0]) == name
                    and isinstance(attribute, ast.Constant)
                    and f"{name}.{attribute.value!s}" in wanted
                ):
                    return True
        return False

    def _disable_warnings(self, call: ast.Call, callee: _Callee, scope: Scope) -> None:
        categories = [*call.args, *(k.value for k in call.keywords if k.arg == "category")]
        if categories and not any(
            self._class_name(c, scope) & _SILENCED_BY_DISABLE for c in categories
        ):
            return
        self._hit(
            "SH108",
            call,
            f"{callee.text}() hides InsecureRequestWarning, the sign that verification is off",
        )

    def _warnings_filter(self, call: ast.Call, callee: _Callee, scope: Scope) -> None:
        action = _argument(call, 0, "action")
        if action is None or "ignore" not in self.names.strings(action, scope):
            return
        is_filter = callee.name == "filterwarnings"
        category = _argument(call, 2 if is_filter else 1, "category")
        message = _argument(call, 1, "message") if is_filter else None
        silenced = category is not None and (
            "InsecureRequestWarning" in self._class_name(category, scope)
        )
        if message is not None:
            texts = self.names.strings(message, scope)
            silenced = silenced or any("unverified https request" in t.lower() for t in texts)
        if silenced:
            self._hit(
                "SH108",
                call,
                f"{callee.text}('ignore', ...) hides InsecureRequestWarning, "
                "the sign that verification is off",
            )

    def _cert_verify(self, call: ast.Call, callee: _Callee, scope: Scope) -> None:
        # super().cert_verify(conn, url, verify, cert), or HTTPAdapter.cert_verify(self, conn, ...)
        index = 2
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and not isinstance(func.value, ast.Call)
            and dotted(func.value) != "self"
            and call.args
            and dotted(call.args[0]) == "self"
        ):
            index = 3
        verify = _argument(call, index, "verify")
        if verify is None or (off := self.names.falsy(verify, scope)) is None:
            return
        self._hit(
            "SH109",
            verify,
            f"{callee.text}(..., {off!r}, ...) makes the adapter skip certificate verification "
            "for every request it sends",
        )

    # -- assignments and references

    def _write(self, target: ast.expr, value: ast.expr) -> None:
        scope = self.names.scope_of(target)
        if isinstance(target, ast.Attribute):
            self._attribute(target.value, target.attr, value, scope, target)
        elif isinstance(target, ast.Subscript):
            self._item(target, value, scope)

    def _attribute(
        self, receiver: ast.expr, attribute: str, value: ast.expr, scope: Scope, where: _Located
    ) -> None:
        off = self.names.falsy(value, scope)
        if attribute == "verify" and off is not None and self._session_like(receiver, scope):
            rule, effect = "SH102", f"{_VERIFY_OFF} for every request of this session"
        elif attribute == "check_hostname" and off is not None:
            rule, effect = "SH105", _NAME_CHECK_OFF
        elif attribute == "verify_mode" and self._cert_none(value, scope):
            rule, effect = "SH105", _VERIFY_OFF
        elif attribute == "cert_reqs" and self._cert_none(value, scope):
            rule, effect = "SH103", _VERIFY_OFF
        elif attribute == "assert_hostname" and off is False:
            rule, effect = "SH103", _NAME_CHECK_OFF
        else:
            return
        owner = dotted(receiver) or source(receiver)
        shown = self.names.shown(value, scope)
        self._hit(rule, where, f"{owner}.{attribute} = {shown} {effect}")

    def _item(self, target: ast.Subscript, value: ast.expr, scope: Scope) -> None:
        container = target.value
        if self._is_environ(container, scope):
            self._environment(target.slice, value, scope, target, f"{dotted(container)}[...]")
            return
        if "verify" not in self.names.strings(target.slice, scope):
            return
        if (off := self.names.falsy(value, scope)) is None:
            return
        name = dotted(container)
        merged = any(
            s.path.endswith("merge_environment_settings()")
            for s in self.names.symbols(container, scope)
        )
        if merged or (name is not None and self._spread_into_http_call(name, scope)):
            self._hit(
                "SH101",
                target,
                f'{name or source(container)}["verify"] = {off!r} turns certificate verification '
                "off for the HTTP call it is passed to",
            )

    def _spread_into_http_call(self, name: str, scope: Scope) -> bool:
        for node in ast.walk(scope.node):
            if (
                isinstance(node, ast.Call)
                and any(k.arg is None and dotted(k.value) == name for k in node.keywords)
                and _Callee(node.func, self.names, scope).is_http
            ):
                return True
        return False

    def _may_be_unverified(self, node: ast.Name | ast.Attribute) -> bool:
        # A cheap test first: most names in a module are nothing of the kind.
        if not isinstance(node.ctx, ast.Load):
            return False
        if isinstance(node, ast.Attribute):
            return node.attr in _UNVERIFIED_NAMES
        return node.id in self.unverified_aliases

    def _reference(self, node: ast.Name | ast.Attribute) -> None:
        scope = self.names.scope_of(node)
        path = self.names.imported(node, scope)
        if path not in _UNVERIFIED:
            return
        text = dotted(node) or path
        parent = self.names.parents.get(node)
        if isinstance(parent, ast.Call) and parent.func is node:
            self._hit(
                "SH104", node, f"{text}() makes an SSL context that does not verify certificates"
            )
            return
        if isinstance(parent, ast.Assign):
            patched = [
                t
                for t in parent.targets
                if (dotted(t) or "").endswith("_create_default_https_context")
            ]
            if patched:
                self._hit(
                    "SH104",
                    patched[0],
                    f"{dotted(patched[0])} = {text} turns verification off for every HTTPS "
                    "connection of the process that uses the default context",
                )
                return
        self._hit("SH104", node, f"{text} (it makes SSL contexts that do not verify) is used here")

    # -- environment variables

    def _environ_update(self, target: ast.expr, value: ast.expr, where: _Located) -> None:
        scope = self.names.scope_of(where)
        if isinstance(target, ast.Attribute) and target.attr == "update":
            target = target.value
        if not self._is_environ(target, scope):
            return
        how = "os.environ |=" if isinstance(where, ast.AugAssign) else "os.environ.update()"
        for item in self.names.values(value, scope):
            if isinstance(item, DictOf):
                for key, setting, _ in _entries(item):
                    self._environment(ast.Constant(key), setting, item.scope, where, how)

    def _environment(
        self, key: ast.expr, value: ast.expr, scope: Scope, where: _Located, how: str
    ) -> None:
        settings = [v.value for v in self.names.values(value, scope) if isinstance(v, Const)]
        for variable in self.names.strings(key, scope):
            problem = _environment_problem(variable, settings)
            if problem is not None:
                self._hit("SH106", where, f"{problem}, set in code by {how}")

    def _is_environ(self, expr: ast.expr, scope: Scope) -> bool:
        return any(s.path == "os.environ" for s in self.names.symbols(expr, scope))

    # -- small judgements

    def _cert_none(self, value: ast.expr, scope: Scope) -> bool:
        for item in self.names.values(value, scope):
            if isinstance(item, Const) and (item.value in ("CERT_NONE", "NONE") or item.value == 0):
                return True
            if isinstance(item, Sym) and item.last == "CERT_NONE":
                return True
        # ``from ssl import *`` leaves CERT_NONE unbound as far as we can see.
        return isinstance(value, ast.Name) and value.id == "CERT_NONE"

    def _class_name(self, expr: ast.expr, scope: Scope) -> set[str]:
        found = {s.last for s in self.names.symbols(expr, scope)}
        text = dotted(expr)
        if text is not None:
            found.add(text.rsplit(".", 1)[-1])
        return found

    def _session_like(self, receiver: ast.expr, scope: Scope) -> bool:
        if any(s.root in _HTTP_LIBRARIES for s in self.names.symbols(receiver, scope)):
            return True
        text = dotted(receiver) or ""
        last = text.rsplit(".", 1)[-1].lower()
        if "session" in last or "client" in last:
            return True
        cls = self.names.enclosing_class(receiver) if text == "self" else None
        return cls is not None and any(
            s.root in _HTTP_LIBRARIES
            for base in cls.bases
            for s in self.names.symbols(base, self.names.scope_of(cls))
        )

    def _in_adapter(self, node: ast.AST) -> bool:
        cls = self.names.enclosing_class(node)
        if cls is None:
            return False
        scope = self.names.scope_of(cls)
        for base in cls.bases:
            if (dotted(base) or "").endswith("Adapter"):
                return True
            if any(
                s.path.startswith("requests.adapters.") for s in self.names.symbols(base, scope)
            ):
                return True
        return False


def _argument(call: ast.Call, index: int, name: str) -> ast.expr | None:
    """The argument at ``index`` (when nothing is spread before it) or named ``name``."""
    positional = call.args[: index + 1]
    if len(positional) > index and not any(isinstance(a, ast.Starred) for a in positional):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == name), None)


def _entries(value: DictOf) -> Iterator[tuple[str, ast.expr, _Located]]:
    """The constant string keys of a dict display or ``dict(...)`` call, with their values."""
    node = value.node
    if isinstance(node, ast.Dict):
        for key, item in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield key.value, item, key
    elif isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg is not None:
                yield keyword.arg, keyword.value, keyword


def _environment_problem(variable: str, settings: list[object]) -> str | None:
    """What setting ``variable`` to one of ``settings`` (none known: decided at run time) does."""
    if variable == "PYTHONHTTPSVERIFY":
        if not settings:
            return (
                "PYTHONHTTPSVERIFY set to a value decided at run time "
                '("0" turns verification off for the process, PEP 493)'
            )
        if any(str(s) == "0" for s in settings):
            return "PYTHONHTTPSVERIFY=0 turns verification off for the process (PEP 493)"
    elif variable == "CURL_CA_BUNDLE" and "" in settings:
        return (
            'CURL_CA_BUNDLE="" turns verification off in requests before 2.28 (psf/requests#6071)'
        )
    elif variable == "REQUESTS_CA_BUNDLE" and "" in settings:
        return (
            'REQUESTS_CA_BUNDLE="" is an attempt to turn verification off '
            "(an empty CURL_CA_BUNDLE did it in requests before 2.28)"
        )
    elif variable == "SECUREHTTP_VERIFY":
        weaker = [s for s in settings if isinstance(s, str) and s.strip() != "strict"]
        if weaker:
            return f"SECUREHTTP_VERIFY={weaker[0]!r} weakens verification for the process"
    return None
