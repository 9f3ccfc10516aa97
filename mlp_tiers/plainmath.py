"""A formula of the study page as one line of plain Unicode text, for the terminal.

The page renders its LaTeX as MathML (latex2mathml); the terminal reads the same MathML tree
back as text, so both show one parse of the formula: fractions as ``a/b`` (with parentheses
around a numerator or denominator of more than one term), sub- and superscripts as Unicode
where every character has a small form (``∑ᵢ₌₁ⁿ``, ``W²``) and as ``_`` and ``^`` otherwise,
accents as combining marks (``ŷ``, ``ȳ``), and binary operators spaced.
"""

from __future__ import annotations

import html
import re
import unicodedata
import xml.etree.ElementTree as ET

_SUB = dict(
    zip("0123456789+−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True)
)
_SUP = dict(zip("0123456789+−=()nitT⊤′", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵗᵀᵀ′", strict=True))
_ACCENTS = {"^": "\u0302", "\u02c6": "\u0302", "¯": "\u0304", "\u2015": "\u0304", "~": "\u0303"}
# Spaced on both sides; a minus or plus that begins a row is a sign and is not.
_BINARY = set("=←→⇒+−·⊙∈∼~×≤≥<>≈")
_SCRIPTED = ("msub", "munder", "msubsup", "munderover")
_MARKS = "\u0300-\u036f\u2070-\u209c\u1d62-\u1d6aᵀᵗ′"  # accents, small scripts, a prime
# One term with no operator in it (2λWₗ, ∂ℒ): a numerator that needs no parentheses.
_ATOM = re.compile(rf"^[\w\u0370-\u03ff{_MARKS}'√∑∂∇ℒℝ𝒰‖.]+$")
# One symbol with its marks (x, ∂Wₗ, β₁ᵗ): a denominator that needs no parentheses.
_SYMBOL = re.compile(rf"^∂?[\w\u0370-\u03ff][{_MARKS}]*$")


def _name(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def _wrapped(text: str, denominator: bool = False) -> str:
    """``text`` as an operand of ``/``: in parentheses unless it is one term (for a
    denominator, one symbol: ``1/(nk)``, not ``1/nk``)."""
    single = _SYMBOL.match(text) or text.isdigit() if denominator else _ATOM.match(text)
    return text if single or _balanced_group(text) else f"({text})"


def _balanced_group(text: str) -> bool:
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _script(text: str, small: dict[str, str], mark: str) -> str:
    text = text.replace(" ", "")
    if text and all(char in small for char in text):
        return "".join(small[char] for char in text)
    return f"{mark}{text}" if _ATOM.match(text) or _balanced_group(text) else f"{mark}({text})"


def _row(children: list[ET.Element]) -> str:
    parts: list[str] = []
    for child in children:
        text, tag = _text(child), _name(child)
        previous = "".join(parts).rstrip(" ")
        if tag in ("mo", "mi") and text in _BINARY:  # latex2mathml writes \\sim as an mi
            sign = text in "+−" and (not previous or previous[-1] in "(,\t" or
                                     previous.endswith(tuple(_BINARY)))  # fmt: skip
            parts.append(text if sign else f" {text} ")
        elif tag == "mo" and text == ",":
            parts.append(", ")
        elif tag == "mi" and len(text) > 1:
            parts.append(f" {text} ")  # a function's name (log, softmax) between terms
        elif tag in _SCRIPTED and _name(child[0]) == "mo":
            parts.append(f" {text} ")  # a big operator (∑ᵢ, arg maxⱼ) before its operand
        else:
            parts.append(text)
    line = re.sub(r" +", " ", "".join(parts))
    return re.sub(r" *\t *", "\t", line).strip(" ")


def _text(element: ET.Element) -> str:
    tag, children = _name(element), list(element)
    if tag in ("mi", "mn", "mo", "mtext") and not children:
        # latex2mathml keeps characters as the entities it writes (&#x02208; for ∈)
        return html.unescape(element.text or "").replace("\u00a0", " ")
    if tag == "mspace":  # \quad and wider separate the parts of a formula
        width = re.match(r"[\d.]+", element.get("width") or "0")
        return "\t" if width and float(width.group()) >= 1 else " "
    if tag == "mfrac":
        numerator, denominator = (_text(c) for c in children)
        return f"{_wrapped(numerator)}/{_wrapped(denominator, denominator=True)}"
    if tag == "msqrt":
        inner = _row(children)
        return f"√{inner}" if _ATOM.match(inner) else f"√({inner})"
    if tag in ("msub", "munder"):
        base, sub = (_text(c) for c in children)
        return base + _script(sub, _SUB, "_")
    if tag in ("msup", "mover"):
        base, over = (_text(c) for c in children)
        if tag == "mover" and over in _ACCENTS:
            return base + _ACCENTS[over]
        return base + _script(over, _SUP, "^")
    if tag in ("msubsup", "munderover"):
        base, sub, sup = (_text(c) for c in children)
        return base + _script(sub, _SUB, "_") + _script(sup, _SUP, "^")
    return _row(children)  # math, mrow, mstyle, an mo holding a row (arg max)


def plain_text(latex: str) -> str:
    """``latex`` as one line of Unicode text, through the MathML the page shows."""
    from latex2mathml.converter import convert_to_element

    text = _text(convert_to_element(latex)).replace("\t", "   ")
    return unicodedata.normalize("NFC", text)  # y and a combining hat: the one character ŷ
