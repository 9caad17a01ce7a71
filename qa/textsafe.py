"""Make untrusted text (corpus files, questions) safe to show in a terminal.

Corpus and user text is data. Front ends never pass it through Rich/Textual markup
parsing (they build ``rich.text.Text`` objects or escape it), and every C0/C1
control character except newline and tab is replaced here by a visible escape,
so an ESC in an article shows as ``\\x1b`` instead of clearing the screen.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """Return ``text`` with control characters (and bidi overrides) shown as escapes; newlines and tabs kept."""
    return _CONTROL.sub(_escape, text)


def one_line(text: str) -> str:
    """Like :func:`visible`, with newlines and tabs folded to spaces (for single-line displays)."""
    return visible(" ".join(text.split()))
