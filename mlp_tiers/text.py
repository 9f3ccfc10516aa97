"""Strings from data or the user, made safe to show: every command prints them through here.

A class name, a file name or a path is shown as the characters it holds. The terminal console
(``mlp_tiers.console.TextConsole``) reads no markup and no emoji codes, so ``[/x]`` or ``:bug:``
prints as written; control characters (an escape sequence that would recolour or retitle the
terminal, a carriage return that would overwrite the line) print as ``\\x1b``-style escapes. The
pictures turn off matplotlib's mathtext (``mlp_tiers.pictures.literal_text``), so ``$`` is a
dollar sign. This module imports nothing but the standard library: the command line's guard uses
it before anything else has loaded.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and the C1 controls (which some terminals obey too).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]  # "\x1b" -> "\\x1b", "\n" -> "\\n"


def printable(text: object, one_line: bool = False) -> str:
    """``text`` with its control characters written as escapes; with ``one_line``, newlines and
    tabs too (an error message is one line whatever file name it quotes)."""
    pattern = _CONTROL_OR_NEWLINE if one_line else _CONTROL
    return pattern.sub(_escape, str(text))
