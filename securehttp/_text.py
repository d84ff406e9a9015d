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

__all__ = ["escape"]

# What a multi-line text (a body shown on a terminal) may keep: line breaks and tabs.  A bare
# carriage return is escaped even there, since it lets a line overwrite what came before it.
_KEPT_IN_MULTILINE = frozenset("\n\t")


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(text: str, *, multiline: bool = False) -> str:
    """``text`` with every non-printable character escaped: safe to print to a terminal.

    By default the result is one line (newlines and tabs are escaped too); ``multiline``
    keeps ``\\n`` and ``\\t``.  Spaces stay; other kinds of space (no-break, ideographic)
    are escaped, so look-alike spacing cannot hide in a name.
    """
    if text.isprintable():  # the common case: one C-level scan, no copy
        return text
    kept = _KEPT_IN_MULTILINE if multiline else frozenset()
    return "".join(char if char.isprintable() or char in kept else _escaped(char) for char in text)
