"""A strict YAML reader for policy files.

PyYAML's defaults are traps for a security policy: ``verify: no`` is ``False``, ``1.10`` is
``1.1``, ``0443`` is octal, the last duplicate key silently wins, a 341-byte alias document
expands to hundreds of millions of nodes, deep nesting crashes the C composer, and tags can
construct arbitrary objects.  This module first walks the *event stream* (which never
recurses and never expands aliases) to bound size, depth and alias expansion, then composes
nodes and converts them itself, so every value keeps its line and column and every trap is
a :class:`PolicyError` naming ``file:line:column`` and the key path.

Result: plain ``dict`` / ``list`` / ``str`` / ``int`` / ``bool`` / ``None`` /
``datetime.date`` values, plus a table from key path to position.
"""

from __future__ import annotations

import datetime
import re
from typing import NamedTuple

import yaml

from ._exceptions import PolicyError
from ._keypath import KeyPath, format_path

__all__ = ["MAX_BYTES", "Document", "KeyPath", "format_path", "load"]

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 16
MAX_ALIASES = 100
MAX_NODES = 500_000

_TAG = "tag:yaml.org,2002:"
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")

try:  # The C parser is only used for events and composing, which the pre-scan has bounded.
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


class Document(NamedTuple):
    """A loaded document: its value and where each key path starts (1-based line, column)."""

    value: object
    positions: dict[KeyPath, tuple[int, int]]


def load(data: bytes | str, source: str) -> Document:
    """Parse one policy document strictly.  An empty document is ``None``."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise PolicyError(f"file is larger than {MAX_BYTES} bytes", source=source)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"not valid UTF-8 (byte {exc.start})", source=source) from None
    else:
        text = data.removeprefix("\ufeff")
        if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            raise PolicyError(f"document is larger than {MAX_BYTES} bytes", source=source)
    try:
        _prescan(text, source)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise PolicyError(
            f"invalid YAML: {problem}", source=source, line=line, column=column
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", source=source) from None
    if node is None:
        return Document(None, {})
    return _Converter(source).document(node)


def _prescan(text: str, source: str) -> None:
    """Bound depth, documents, tags and alias expansion from events, before any composing."""
    depth = 0
    documents = 0
    aliases = 0
    # Open collections: expanded node count so far and anchor; expanded sizes of anchors.
    counts: list[int] = []
    anchors: list[str | None] = []
    anchored: dict[str, int] = {}
    total = 0

    def fail(event: yaml.Event, problem: str) -> PolicyError:
        mark = event.start_mark
        if mark is None:  # pragma: no cover - the parser always marks its events
            return PolicyError(problem, source=source)
        return PolicyError(problem, source=source, line=mark.line + 1, column=mark.column + 1)

    def add(count: int) -> None:
        nonlocal total
        total += count
        if counts:
            counts[-1] += count

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise fail(event, "more than one YAML document: a policy is one document")
            continue
        tag = getattr(event, "tag", None)
        if tag is not None and not _implicit(event):
            raise fail(event, f"YAML tags are not allowed (found {tag!r})")
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise fail(event, f"more than {MAX_ALIASES} aliases")
            add(anchored.get(event.anchor or "", 1))
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                anchored[event.anchor] = 1
            add(1)
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise fail(event, f"nested deeper than {MAX_DEPTH} levels")
            counts.append(1)
            anchors.append(event.anchor)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            count, anchor = counts.pop(), anchors.pop()
            if anchor is not None:
                anchored[anchor] = count
            add(count)
        if total > MAX_NODES:
            raise fail(event, f"expands to more than {MAX_NODES} nodes (alias expansion?)")


def _implicit(event: yaml.Event) -> bool:
    """True when the parser saw no explicit tag."""
    if isinstance(event, yaml.ScalarEvent):
        return event.tag in (None, "!") and event.implicit != (False, False)
    return bool(getattr(event, "implicit", False))


class _Converter:
    def __init__(self, source: str) -> None:
        self.source = source
        self.positions: dict[KeyPath, tuple[int, int]] = {}

    def error(self, node: yaml.Node, path: KeyPath, problem: str) -> PolicyError:
        mark = node.start_mark
        return PolicyError(
            problem,
            source=self.source,
            line=mark.line + 1,
            column=mark.column + 1,
            key_path=format_path(path),
        )

    def document(self, node: yaml.Node) -> Document:
        value = self.convert(node, ())
        return Document(value, self.positions)

    def convert(self, node: yaml.Node, path: KeyPath) -> object:
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, object]:
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise self.error(key_node, path, "merge keys ('<<') are not allowed")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _TAG + "str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
                raise self.error(
                    key_node,
                    path,
                    f"key {shown!r} is not a string (YAML reads it as {_kind(key_node)}): quote it",
                )
            key = key_node.value
            key_path: KeyPath = (*path, key)
            if key in out:
                first = self.positions[key_path]
                raise self.error(
                    key_node, key_path, f"duplicate key (first set at line {first[0]})"
                )
            self.positions[key_path] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = self.convert(value_node, key_path)
        return out

    def scalar(self, node: yaml.ScalarNode, path: KeyPath) -> object:
        tag, text = node.tag, node.value
        if tag == _TAG + "str":
            return text
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            if text in ("true", "false"):
                return text == "true"
            raise self.error(
                node,
                path,
                f"{text!r} is a YAML 1.1 boolean: write true or false, or quote it for a string",
            )
        if tag == _TAG + "int":
            if not _DECIMAL.match(text):
                raise self.error(
                    node,
                    path,
                    f"{text!r} is not a plain decimal number (octal, hex and "
                    "sexagesimal forms are refused): quote it or write it in decimal",
                )
            return int(text)
        if tag == _TAG + "float":
            raise self.error(
                node,
                path,
                f"unquoted number {text!r}: TLS versions and other dotted numbers must be "
                f'quoted strings, e.g. "{text}"',
            )
        if tag == _TAG + "timestamp":
            if _DATE.match(text):
                try:
                    return datetime.date.fromisoformat(text)
                except ValueError:
                    raise self.error(node, path, f"{text!r} is not a calendar date") from None
            raise self.error(node, path, f"{text!r}: only dates (YYYY-MM-DD) are allowed")
        raise self.error(node, path, f"values of type {tag!r} are not allowed")


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return node.tag.removeprefix(_TAG)
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
