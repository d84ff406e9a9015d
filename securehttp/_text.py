"""Text from elsewhere made safe to show: one escaping function for every server-derived string.

A certificate's subject, issuer and names, a header, a reason phrase: a server chooses them.
Printed raw, a newline forges an extra line of output ("verification ... passed"), an ANSI or
OSC sequence drives the terminal (colours, the window title, worse on some terminals), and a
bidirectional override makes text read differently from what it is.  So everything that is
not printable - C0 and C1 controls, DEL, Unicode format characters (category Cf: bidi
overrides and isolates, zero-width characters), line and paragraph separators, unassigned and
private-use code points, lone surrogates - is shown as ``\\xNN``, ``\\uNNNN`` or
``\\UNNNNNNNN``.  Printable non-ASCII (``bücher.example``, ``例え.jp``) stays as it is.
"""

from __future__ import annotations

import re

__all__ = ["escape"]

# Everything but printable ASCII is looked at (in C, by the regex); only what is not printable
# is escaped.  "\r\n" is matched as one, so that multi-line text keeps its line ends while a
# lone carriage return - which lets a line overwrite what came before it - is escaped.
_SUSPECT = re.compile(r"\r\n|[^ -~]")
_KEPT_IN_MULTILINE = frozenset({"\n", "\t", "\r\n"})


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _in_line(match: re.Match[str]) -> str:
    found = match.group()
    if len(found) == 1 and found.isprintable():
        return found
    return "".join(_escaped(char) for char in found)


def _in_text(match: re.Match[str]) -> str:
    found = match.group()
    if found in _KEPT_IN_MULTILINE or found.isprintable():
        return found
    return "".join(_escaped(char) for char in found)


def escape(text: str, *, multiline: bool = False) -> str:
    """``text`` with every non-printable character escaped: safe to print to a terminal.

    By default the result is one line (line breaks and tabs are escaped too); ``multiline``
    keeps ``\\n``, ``\\r\\n`` and ``\\t``.  Spaces stay; other kinds of space (no-break,
    ideographic) are escaped, so look-alike spacing cannot hide in a name.
    """
    if multiline:
        return _SUSPECT.sub(_in_text, text)
    if text.isprintable():  # the common case: one scan, no copy
        return text
    return _SUSPECT.sub(_in_line, text)
