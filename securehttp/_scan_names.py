"""What the names in a scanned module stand for, found without importing or running it.

Names are followed through imports and simple assignments (a name bound to constants, a
module-level ``VERIFY = False``, a parameter's default, ``s = requests.Session()``,
``with httpx.Client() as c``, an annotation ``s: requests.Session``), so that the rules in
``_scan_rules`` see ``verify=VERIFY``, aliased imports, ``**{"verify": False}`` and
``requests.Session().get(verify=False)`` for what they are. A name bound several times stands
for every value it is bound to; an expression followed back to itself stands for nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Const", "DictOf", "Names", "Scope", "Sym", "Value", "dotted", "source"]

# Vendored copies are the same libraries under another name.
_VENDOR_PREFIXES = ("pip._vendor.", "requests.packages.", "botocore.vendored.")
_URL_WITH_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*[/?#]")
_URL_START = re.compile(r"(?i)https?://")
_MAX_VALUES = 32


# ---------------------------------------------------------------- what an expression may be


@dataclass(frozen=True)
class Const:
    value: object


@dataclass(frozen=True)
class Sym:
    """A dotted path from an import; ``()`` marks a call: ``requests.Session().get``."""

    path: str

    @property
    def root(self) -> str:
        return self.path.split(".", 1)[0].split("(", 1)[0]

    @property
    def last(self) -> str:
        return self.path.rstrip("()").rsplit(".", 1)[-1]


@dataclass(frozen=True, eq=False)
class DictOf:
    node: ast.expr  # an ast.Dict or a dict(...) call
    scope: Scope


Value = Const | Sym | DictOf


def _sym(path: str) -> Sym:
    for prefix in _VENDOR_PREFIXES:
        if path.startswith(prefix):
            path = path[len(prefix) :]
    return Sym(path)


@dataclass(eq=False)
class _Binding:
    expr: ast.expr | None  # None: bound in a way that is not followed (loop target, +=, ...)
    scope: Scope | None
    symbol: str | None = None  # an import
    instance: bool = False  # an annotation: the value is an instance of what it names


@dataclass(eq=False)
class Scope:
    node: ast.AST
    parent: Scope | None
    is_class: bool = False
    bindings: dict[str, list[_Binding]] = field(default_factory=dict)
    delegated: dict[str, str] = field(default_factory=dict)  # name -> "global" | "nonlocal"


_BINDING_NODES = frozenset(
    {
        *(ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef),
        *(ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.AugAssign, ast.For, ast.AsyncFor),
        *(ast.comprehension, ast.withitem, ast.ExceptHandler, ast.Import, ast.ImportFrom),
        *(ast.Global, ast.Nonlocal),
    }
)


def _body(node: ast.AST) -> list[ast.AST]:
    """The statements (or expression) a scope-making node evaluates in its own scope."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return list(node.body)
    if isinstance(node, ast.Lambda):
        return [node.body]
    return []


def _attribute_key(text: str, scope: Scope) -> str:
    """``self.x`` in one class is not ``self.x`` in another: key it by its class."""
    if text.split(".", 1)[0] not in {"self", "cls"}:
        return text
    current: Scope | None = scope
    while current is not None and not current.is_class:
        current = current.parent
    return text if current is None else f"{id(current)}:{text}"


def dotted(expr: ast.AST) -> str | None:
    """``a.b().c`` for names, attributes and calls; None for anything else."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        base = dotted(expr.value)
        return None if base is None else f"{base}.{expr.attr}"
    if isinstance(expr, ast.Call):
        base = dotted(expr.func)
        return None if base is None else f"{base}()"
    return None


def source(expr: ast.expr) -> str:
    text = ast.unparse(expr)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- one module


class Names:
    """The scopes and bindings of one module, and what its expressions may evaluate to."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.module = Scope(tree, None)
        self.scopes: dict[ast.AST, Scope] = {tree: self.module}
        self.parents: dict[ast.AST, ast.AST] = {}
        self.attributes: dict[str, list[_Binding]] = {}
        self.memo: dict[ast.expr, list[Value]] = {}
        self._bind_all()

    # -- pass 1: parents, scopes and what every name is bound to

    def _bind_all(self) -> None:
        # Iterative, so that a deeply nested module cannot exhaust the interpreter's stack.
        stack: list[tuple[ast.AST, Scope]] = [(self.tree, self.module)]
        parents = self.parents
        while stack:
            node, scope = stack.pop()
            inner = self._bind(node, scope) if type(node) in _BINDING_NODES else scope
            if inner is scope:
                for child in ast.iter_child_nodes(node):
                    parents[child] = node
                    stack.append((child, scope))
                continue
            body = {id(n) for n in _body(node)}
            for child in ast.iter_child_nodes(node):
                parents[child] = node
                stack.append((child, inner if id(child) in body else scope))

    def _bind(self, node: ast.AST, scope: Scope) -> Scope:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inner = Scope(node, scope)
            self.scopes[node] = inner
            if not isinstance(node, ast.Lambda):
                self._add(scope, node.name, _Binding(None, None))
            self._bind_parameters(node.args, inner, scope)
            return inner
        if isinstance(node, ast.ClassDef):
            self._add(scope, node.name, _Binding(None, None))
            inner = Scope(node, scope, is_class=True)
            self.scopes[node] = inner
            return inner
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind_target(target, node.value, scope)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            self._bind_target(node.target, node.value, scope)
        elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor, ast.comprehension)):
            self._bind_target(node.target, None, scope)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._bind_target(node.optional_vars, node.context_expr, scope)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self._add(scope, node.name, _Binding(None, None))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self._add(scope, alias.asname, _Binding(None, None, symbol=alias.name))
                else:
                    first = alias.name.split(".", 1)[0]
                    self._add(scope, first, _Binding(None, None, symbol=first))
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name != "*":
                    symbol = f"{base}.{alias.name}" if base else alias.name
                    self._add(scope, alias.asname or alias.name, _Binding(None, None, symbol))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            kind = "global" if isinstance(node, ast.Global) else "nonlocal"
            scope.delegated.update(dict.fromkeys(node.names, kind))
        return scope

    def _bind_parameters(self, args: ast.arguments, inner: Scope, outer: Scope) -> None:
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
        pairs = list(zip(positional, [*defaults, *args.defaults], strict=True))
        pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
        for arg, default in pairs:
            if default is not None:
                self._add(inner, arg.arg, _Binding(default, outer))
            elif arg.annotation is not None:
                self._add(inner, arg.arg, _Binding(arg.annotation, outer, instance=True))
            else:
                self._add(inner, arg.arg, _Binding(None, None))
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                self._add(inner, extra.arg, _Binding(None, None))

    def _bind_target(self, target: ast.expr, value: ast.expr | None, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            self._add(scope, target.id, _Binding(value, scope))
        elif isinstance(target, (ast.Tuple, ast.List)):
            values: list[ast.expr | None] = [None] * len(target.elts)
            if (
                isinstance(value, (ast.Tuple, ast.List))
                and len(value.elts) == len(target.elts)
                and not any(isinstance(e, ast.Starred) for e in value.elts)
            ):
                values = list(value.elts)
            for element, element_value in zip(target.elts, values, strict=True):
                self._bind_target(element, element_value, scope)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, None, scope)
        elif isinstance(target, ast.Attribute) and (key := dotted(target)) is not None:
            self.attributes.setdefault(_attribute_key(key, scope), []).append(
                _Binding(value, scope)
            )

    def _add(self, scope: Scope, name: str, binding: _Binding) -> None:
        home = scope
        if scope.delegated.get(name) == "global":
            home = self.module
        elif scope.delegated.get(name) == "nonlocal" and scope.parent is not None:
            home = scope.parent
        home.bindings.setdefault(name, []).append(binding)

    def _lookup(self, name: str, scope: Scope) -> list[_Binding]:
        current: Scope | None = scope
        own = True
        while current is not None:
            if current.delegated.get(name) == "global":
                current, own = self.module, False
                continue
            if (own or not current.is_class) and name in current.bindings:
                return current.bindings[name]
            current, own = current.parent, False
        return []

    def scope_of(self, node: ast.AST) -> Scope:
        child = node
        parent = self.parents.get(node)
        while parent is not None:
            if parent in self.scopes and any(child is n for n in _body(parent)):
                return self.scopes[parent]
            child, parent = parent, self.parents.get(parent)
        return self.module

    # -- what an expression may evaluate to

    def values(self, expr: ast.expr, scope: Scope) -> list[Value]:
        if expr in self.memo:
            return self.memo[expr]
        self.memo[expr] = []  # a name bound to itself resolves to nothing, not forever
        found = list(dict.fromkeys(self._values(expr, scope)))[:_MAX_VALUES]
        self.memo[expr] = found
        return found

    def _values(self, expr: ast.expr, scope: Scope) -> Iterator[Value]:
        if isinstance(expr, ast.Constant):
            yield Const(expr.value)
        elif isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.Not, ast.USub)):
            for value in self.values(expr.operand, scope):
                if isinstance(value, Const) and isinstance(expr.op, ast.Not):
                    yield Const(not value.value)
                elif isinstance(value, Const) and isinstance(value.value, (int, float)):
                    yield Const(-value.value)
        elif isinstance(expr, ast.Name):
            for binding in self._lookup(expr.id, scope):
                yield from self._binding_values(binding)
        elif isinstance(expr, ast.Attribute):
            key = dotted(expr)
            for binding in (
                [] if key is None else self.attributes.get(_attribute_key(key, scope), [])
            ):
                yield from self._binding_values(binding)
            for value in self.values(expr.value, scope):
                if isinstance(value, Sym):
                    yield _sym(f"{value.path}.{expr.attr}")
        elif isinstance(expr, ast.Call):
            if isinstance(expr.func, ast.Name) and expr.func.id == "dict":
                if not self._lookup("dict", scope):
                    yield DictOf(expr, scope)
                return
            for value in self.values(expr.func, scope):
                if isinstance(value, Sym):
                    yield Sym(f"{value.path}()")
        elif isinstance(expr, ast.Dict):
            yield DictOf(expr, scope)
        elif isinstance(expr, ast.IfExp):
            yield from self.values(expr.body, scope)
            yield from self.values(expr.orelse, scope)
        elif isinstance(expr, (ast.NamedExpr, ast.Await)):
            yield from self.values(expr.value, scope)

    def _binding_values(self, binding: _Binding) -> Iterator[Value]:
        if binding.symbol is not None:
            yield _sym(binding.symbol)
        elif binding.expr is not None and binding.scope is not None:
            for value in self.values(binding.expr, binding.scope):
                if binding.instance and isinstance(value, Sym):
                    yield Sym(f"{value.path}()")
                elif not binding.instance:
                    yield value

    def imported(self, expr: ast.expr, scope: Scope) -> str | None:
        """The dotted path ``expr`` names through imports alone (no variables followed)."""
        if isinstance(expr, ast.Name):
            bindings = self._lookup(expr.id, scope)
            symbols = {b.symbol for b in bindings}
            if len(symbols) == 1 and None not in symbols:
                return _sym(next(iter(symbols)) or "").path
            return None
        if isinstance(expr, ast.Attribute):
            base = self.imported(expr.value, scope)
            return None if base is None else _sym(f"{base}.{expr.attr}").path
        return None

    def imported_as(self, paths: frozenset[str]) -> set[str]:
        """The names that any import in the module binds to one of ``paths``."""
        found = set()
        for scope in self.scopes.values():
            for name, bindings in scope.bindings.items():
                if any(b.symbol is not None and _sym(b.symbol).path in paths for b in bindings):
                    found.add(name)
        return found

    def symbols(self, expr: ast.expr, scope: Scope) -> list[Sym]:
        return [v for v in self.values(expr, scope) if isinstance(v, Sym)]

    def falsy(self, expr: ast.expr, scope: Scope) -> object:
        """The false constant ``expr`` may be (never None: None means "the default")."""
        for value in self.values(expr, scope):
            if (
                isinstance(value, Const)
                and isinstance(value.value, (bool, int, float, str, bytes))
                and not value.value
            ):
                return value.value
        return None

    def strings(self, expr: ast.expr, scope: Scope) -> list[str]:
        found = [v.value for v in self.values(expr, scope) if isinstance(v, Const)]
        return [s for s in found if isinstance(s, str)]

    def shown(self, expr: ast.expr, scope: Scope) -> str:
        if isinstance(expr, ast.Constant):
            return source(expr)
        value = self.falsy(expr, scope)
        return source(expr) if value is None else f"{source(expr)} (= {value!r})"

    # -- where things are

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        parent = self.parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.ClassDef):
                return parent
            parent = self.parents.get(parent)
        return None

    def url_near(self, node: ast.AST) -> str | None:
        """A URL written in the call that holds ``node`` (or one around it, same statement)."""
        current: ast.AST | None = node
        while current is not None and not isinstance(current, ast.stmt):
            if isinstance(current, ast.Call):
                scope = self.scope_of(current)
                candidates = [*current.args]
                candidates += [k.value for k in current.keywords if k.arg in {"url", "base_url"}]
                for candidate in candidates:
                    url = self._url_prefix(candidate, scope)
                    if url is not None:
                        return url
            current = self.parents.get(current)
        return None

    def _url_prefix(self, expr: ast.expr, scope: Scope) -> str | None:
        text, whole = self._string_start(expr, scope)
        if text is None or not _URL_START.match(text):
            return None
        return text if whole or _URL_WITH_HOST.match(text) else None

    def _string_start(self, expr: ast.expr, scope: Scope) -> tuple[str | None, bool]:
        """The constant text ``expr`` starts with, and whether that is all of it."""
        if isinstance(expr, ast.JoinedStr):
            joined = ""
            for part in expr.values:
                if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                    return joined, False
                joined += part.value
            return joined, True
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Mod)):
            # "a" + b + c is ((a + b) + c): go down the left edge in a loop, not by recursion.
            formatted = False
            while isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Mod)):
                formatted = formatted or isinstance(expr.op, ast.Mod)
                expr = expr.left
            left, _ = self._string_start(expr, scope)
            if left is not None and formatted:
                left = left.split("%", 1)[0]
            return left, False
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "format"
        ):
            template, _ = self._string_start(expr.func.value, scope)
            return (None if template is None else template.split("{", 1)[0]), False
        strings = self.strings(expr, scope)
        return (strings[0], True) if len(strings) == 1 else (None, False)
