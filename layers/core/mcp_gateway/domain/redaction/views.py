"""Redaction views: the decoded and line-joined forms of a text, each with a map back to the original offsets.

A secret can hide behind an encoding: JSON escapes (``\\u0041KIA``, ``\\/``, ``\\n`` inside a PEM),
URL escapes (``%2F``), line wrapping (PEM, JWT or base64 bodies broken with newlines or ``\\``
continuations) or base64. The engine scans these views as well as the raw text; a match in a view is
mapped back to the exact span of the original text. The encoded forms of a known secret (JSON, URL,
base64) are produced here too.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from array import array
from typing import Final
from urllib.parse import quote, quote_plus

from .rules import ascii_rx

_DECODE_PASSES: Final = 3  # JSON/URL unescaping rounds (double-encoded values)
_SEGMENT_GAP: Final = 4096  # merge escape-bearing lines closer than this into one decoded view

_CTRL_RX: Final = ascii_rx(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Encoded views.
_ESC_TRIGGER_RX: Final = ascii_rx(
    r"\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|U000[0-9a-fA-F]{5}|[/\\nrtbf])|%[0-7][0-9A-Fa-f]|&#(?:[xX][0-9a-fA-F]{2,4}|\d{2,5});"
)
# the trigger's alternatives one by one, each behind its literal first character (the regex engine skips
# ahead to a literal; an alternation of three it scans character by character)
_ESC_TRIGGER_PARTS: Final = (
    ("\\", ascii_rx(r"\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|U000[0-9a-fA-F]{5}|[/\\nrtbf])")),
    ("%", ascii_rx(r"%[0-7][0-9A-Fa-f]")),
    ("&#", ascii_rx(r"&#(?:[xX][0-9a-fA-F]{2,4}|\d{2,5});")),
)
_DECODE_RX: Final = ascii_rx(
    r"\\u([0-9a-fA-F]{4})|\\([/\"\\bfnrt'])|%([0-7][0-9A-Fa-f])"
    r"|\\x([0-9a-fA-F]{2})|\\U(000[0-9a-fA-F]{5})|&#[xX]([0-9a-fA-F]{2,4});|&#(\d{2,5});"
)
_SIMPLE_ESCAPES: Final = {
    "/": "/",
    '"': '"',
    "\\": "\\",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "'": "'",
}

# Line-joined views: a line made only of token characters continues a token cut at the end of the
# previous line (wrapped base64, PEM, JWT; ``\`` continuations).
_CONT_LINE_RX: Final = ascii_rx(
    r"^[ \t]*(?P<tok>[A-Za-z0-9+/_.-]{1,8192}+={0,3})[ \t]*(?P<bs>\\?)[ \t]*(?P<tail>[\"',;]{0,3})[ \t]*\r?$",
    re.MULTILINE,
)
_WRAP_END_RX: Final = ascii_rx(
    r"(?:[A-Za-z0-9+/=_.-]{8}|(?:AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abposre]-|xapp-|"
    r"sk_live_|sk_test_|rk_live_|AIza|eyJ)[A-Za-z0-9+/=_.-]{0,15}|[A-Za-z0-9+/=_.-]{4}[ \t]*\\)"
    r"[ \t]*\\?[ \t]*\r?$"
)
_TRAILING_BREAK_RX: Final = ascii_rx(r"[ \t]*\\?[ \t]*\r?$")

# Glue views: what splits a token without changing it. String concatenation (``"sk_live_" + "4eC3..."``,
# ``'AKIA' 'IOSF...'``, ``'a' || 'b'``, across lines too) and spaced-out characters (``T r 0 u b 4 d o r``).
_GLUED_CHARS: Final = "A-Za-z0-9+/=_.~!@#$%^&*-"
CONCAT_QUOTES: Final = ('"', "'")  # the quote each of CONCAT_RXS starts with
CONCAT_RXS: Final = tuple(
    ascii_rx(
        q + r"(?<=[" + _GLUED_CHARS + r"]" + q + r")[ \t]{0,8}(?:\r?\n[ \t]{0,64})?(?:\+|\|\||\.|&|\\)?[ \t]{0,8}"
        r"(?:\r?\n[ \t]{0,64})?" + q + r"(?=[" + _GLUED_CHARS + r"])"
    )
    for q in CONCAT_QUOTES  # a literal first character: the regex engine skips ahead to it
)
# what every match of CONCAT_RXS holds: two of its quotes with only blanks, line breaks and the operator between
# them (a cheap search that fails at the first other character after each quote)
_CONCAT_GATES: Final = tuple(ascii_rx(q + r"[ \t\r\n+|.&\\]*" + q) for q in CONCAT_QUOTES)
CONCAT_GATES: Final = _CONCAT_GATES
# where a gate match crosses a space, what follows the last space: the gate's glue without the space, then its quote (a
# text cut at its spaces has a match of CONCAT_GATES only if one piece holds one or one piece begins with one of these)
GATE_TAILS: Final = tuple(ascii_rx(r"[\t\r\n+|.&\\]*" + q) for q in CONCAT_QUOTES)
SPACED_RX: Final = ascii_rx(r"\S(?: \S(?!\S)){7,16384}")
# ``key = (\n    "part one"\n    "part two"\n)``: the parenthesis that opens an implicitly concatenated literal
OPEN_PAREN_RX: Final = ascii_rx(r"=[ \t]*(\([ \t]*\r?\n[ \t]*)[\"']")
_SPACED_MIN: Final = b"x x x x x x x x"
_SPACED_HALF: Final = " " * 7  # the spaces of _SPACED_MIN, every other character of it
_SPACED_CHECK_MIN: Final = 2048  # below this length one search for _SPACED_MIN costs less than the check
# Character-class shapes: one C-speed translation of the text, then plain substring searches find rare shapes
# (spaced-out runs here; IBAN, NINO prefixes in the engine) without a regex pass over every character.
_SPACE_SHAPE: Final = bytes(32 if b == 32 else 10 if b in (9, 10, 11, 12, 13) else 120 for b in range(256))
CLASS_SHAPE: Final = bytes.maketrans(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"9" * 10 + b"A" * 26)


def ascii_shape(text: str, table: bytes) -> bytes:
    """``text`` as one byte per character (non-ASCII as ``?``), translated by ``table``."""
    return text.encode("ascii", "replace").translate(table)


def spaced_candidates(text: str) -> bool:
    """False when the space shape of ``text`` cannot hold ``x x x x x x x x``: its seven spaces are every other
    character, so one of the two interleaved halves of the text holds seven spaces in a row (a space of the text is
    exactly a space of the shape; two slices and two searches for a run of one character, instead of a shape and a
    search for a pattern made of its two commonest bytes)."""
    return _SPACED_HALF in text[::2] or _SPACED_HALF in text[1::2]


def spaced_runs(text: str) -> list[tuple[int, int]]:
    """Runs of 8+ single characters separated by single spaces (``T r 0 u b 4 d o r``)."""
    runs: list[tuple[int, int]] = []
    if len(text) >= _SPACED_CHECK_MIN and not spaced_candidates(text):
        return runs
    shape = ascii_shape(text, _SPACE_SHAPE)
    pos = shape.find(_SPACED_MIN)
    while pos >= 0:
        if pos > 0 and shape[pos - 1] == 120:  # inside a word: the run starts at the next single
            pos = shape.find(_SPACED_MIN, pos + 1)
            continue
        m = SPACED_RX.match(text, pos)
        end = m.end() if m is not None else pos + 1
        if m is not None:
            runs.append((pos, end))
        pos = shape.find(_SPACED_MIN, end)
    return runs


# Quoted-printable: '=3D' (an encoded '=') or a soft line break ending a long line (RFC 2045: 76 columns).
_QP_MIN_LINE: Final = 60
_QP_MAX_LINE: Final = 76
_QP_RX: Final = ascii_rx(r"=([0-9A-F]{2})|=\r?\n")


# --------------------------------------------------------------------------------------------------
# Decoding helpers
# --------------------------------------------------------------------------------------------------


def b64_text(blob: str) -> str | None:
    """Decode a base64 blob if it is printable text, else None."""
    body = blob.rstrip("=")
    rem = len(body) % 4
    if rem == 1:
        return None
    try:
        raw = base64.b64decode(body + "=" * ((4 - rem) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 12:
        return None
    if raw.isascii():
        text = raw.decode("ascii")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if _CTRL_RX.search(text):
        return None
    return text


def short_b64(value: str) -> str | None:
    """Decode a short base64 string (Basic credentials) if it is printable text."""
    body = value.rstrip("=")
    rem = len(body) % 4
    if rem == 1:
        return None
    try:
        raw = base64.b64decode(body + "=" * ((4 - rem) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return None if _CTRL_RX.search(decoded) else decoded


def secret_variants(secret: str) -> set[str]:
    raw = secret.encode("utf-8")
    b64 = base64.b64encode(raw).decode("ascii")
    urlsafe = base64.urlsafe_b64encode(raw).decode("ascii")
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        b64,
        b64.rstrip("="),
        urlsafe,
        urlsafe.rstrip("="),
    }


# --------------------------------------------------------------------------------------------------
# Views: decoded and line-joined text with a map back to the original offsets
# --------------------------------------------------------------------------------------------------


def _decode_once(text: str) -> tuple[str, array[int]] | None:
    pieces: list[str] = []
    index: array[int] = array("q")
    last = 0
    for m in _DECODE_RX.finditer(text):
        start = m.start()
        if start > last:
            pieces.append(text[last:start])
            index.extend(range(last, start))
        hex_code = m.group(1) or m.group(3) or m.group(4) or m.group(5) or m.group(6)
        if hex_code is not None:
            pieces.append(chr(min(int(hex_code, 16), 0x10FFFF)))
        elif m.group(2) is not None:
            pieces.append(_SIMPLE_ESCAPES[m.group(2)])
        else:
            pieces.append(chr(min(int(m.group(7)), 0x10FFFF)))
        index.append(start)
        last = m.end()
    if not pieces:
        return None
    pieces.append(text[last:])
    index.extend(range(last, len(text) + 1))  # includes the end sentinel
    return "".join(pieces), index


def decode_view(text: str) -> tuple[str, array[int]] | None:
    """JSON-unescape and URL-decode ``text`` (up to three rounds); map is view -> original offset."""
    first = _decode_once(text)
    if first is None:
        return None
    view, index = first
    for _ in range(_DECODE_PASSES - 1):
        if not _ESC_TRIGGER_RX.search(view) and '\\"' not in view:
            break
        nxt = _decode_once(view)
        if nxt is None:
            break
        view, local = nxt
        index = array("q", [index[i] for i in local])
    return view, index


def removal_view(text: str, cuts: list[tuple[int, int]]) -> tuple[str, array[int]]:
    """``text`` without the ranges in ``cuts`` (sorted, disjoint); map is view -> original offset."""
    pieces: list[str] = []
    index: array[int] = array("q")
    last = 0
    for start, end in cuts:
        if start > last:
            pieces.append(text[last:start])
            index.extend(range(last, start))
        last = max(last, end)
    pieces.append(text[last:])
    index.extend(range(last, len(text) + 1))
    return "".join(pieces), index


def glue_cuts(text: str) -> list[tuple[int, int]]:
    """The concatenation glue and the spaces of spaced-out runs in ``text`` (what a glued view removes)."""
    cuts = [
        m.span()
        for q, gate, rx in zip(CONCAT_QUOTES, _CONCAT_GATES, CONCAT_RXS, strict=True)
        if q in text and gate.search(text) is not None
        for m in rx.finditer(text)
    ]
    if cuts and "(" in text:
        cuts.extend(m.span(1) for m in OPEN_PAREN_RX.finditer(text))
    for start, end in spaced_runs(text):
        cuts.extend((i, i + 1) for i in range(start + 1, end, 2))
    cuts.sort()
    return cuts


def line_regions(text: str, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The whole lines holding ``cuts`` (sorted), merged when they touch: the regions a glued view rescans."""
    regions: list[tuple[int, int]] = []
    n = len(text)
    for start, end in cuts:
        if regions and start <= regions[-1][1]:
            if end > regions[-1][1]:
                line_end = text.find("\n", end)
                regions[-1] = (regions[-1][0], n if line_end < 0 else line_end)
            continue
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        regions.append((line_start, n if line_end < 0 else line_end))
    return regions


def _qp_soft_break(text: str) -> bool:
    pos = text.find("=\n")
    while pos >= 0:
        line_start = text.rfind("\n", 0, pos) + 1
        if _QP_MIN_LINE <= pos - line_start <= _QP_MAX_LINE:
            return True
        pos = text.find("=\n", pos + 2)
    return False


def qp_view(text: str) -> tuple[str, array[int]] | None:
    """Quoted-printable decoded (``=3D`` -> ``=``, soft line breaks removed); map is view -> original offset."""
    if "=3D" not in text and not _qp_soft_break(text):
        return None
    pieces: list[str] = []
    index: array[int] = array("q")
    last = 0
    for m in _QP_RX.finditer(text):
        start = m.start()
        if start > last:
            pieces.append(text[last:start])
            index.extend(range(last, start))
        if m.group(1) is not None:
            pieces.append(chr(int(m.group(1), 16)))
            index.append(start)
        elif not _QP_MIN_LINE <= start - text.rfind("\n", 0, start) - 1 <= _QP_MAX_LINE:
            pieces.append(m.group())  # not a soft break: QP lines are at most 76 characters
            index.extend(range(start, m.end()))
        last = m.end()
    pieces.append(text[last:])
    index.extend(range(last, len(text) + 1))
    return "".join(pieces), index


def hex_text(blob: str) -> str | None:
    """Decode a hex run if it is printable text (a hex-encoded secret), else None."""
    if len(blob) % 2:
        return None
    head = blob[:16]
    try:
        if not bytes.fromhex(head).isascii():
            return None  # random digests: half their bytes are >= 0x80
        raw = bytes.fromhex(blob)
    except ValueError:
        return None
    if not raw.isascii():
        return None
    text = raw.decode("ascii")
    if _CTRL_RX.search(text) or (not text.isprintable() and "\n" not in text):
        return None
    return text


def escape_segments(text: str) -> list[tuple[int, int]]:
    """Regions (whole lines, merged when close) that contain JSON or URL escapes."""
    segments: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    # the next match of each alternative present (the leftmost of them is ``_ESC_TRIGGER_RX.search(text, pos)``:
    # their first characters differ, so at most one matches at a position)
    nexts: list[tuple[re.Pattern[str], re.Match[str] | None]] = [
        (rx, rx.search(text)) for first, rx in _ESC_TRIGGER_PARTS if first[0] in text and first in text
    ]  # the first character alone first: a memchr, where a two-character search steps through the text
    while True:
        m: re.Match[str] | None = None
        for i, (rx, cached) in enumerate(nexts):
            found = rx.search(text, pos) if cached is not None and cached.start() < pos else cached
            nexts[i] = (rx, found)
            if found is not None and (m is None or found.start() < m.start()):
                m = found
        if m is None:
            break
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = n if end < 0 else end
        if segments and start - segments[-1][1] <= _SEGMENT_GAP:
            segments[-1] = (segments[-1][0], end)
        else:
            segments.append((start, end))
        pos = end
    return segments


def join_chains(text: str) -> list[tuple[int, str, array[int]]]:
    """Line-joined views of wrapped tokens: (region start, joined text, map to region offsets).

    A *continuation line* consists only of token characters (plus an optional ``\\`` and closing
    quote). It continues the previous line when that line ends with a long token run, a known token
    prefix or a ``\\`` continuation; consecutive continuation lines chain.
    """
    # each chain: head (start, token end) and its continuation lines (token start, token end)
    heads: list[tuple[int, int]] = []
    bodies: list[list[tuple[int, int]]] = []
    open_chain = False
    prev_end = -2
    for m in _CONT_LINE_RX.finditer(text):
        line_start = m.start()
        tok = (m.start("tok"), m.end("tok"))
        if open_chain and prev_end + 1 == line_start:
            bodies[-1].append(tok)
        else:
            head_start = text.rfind("\n", 0, max(0, line_start - 1)) + 1
            head_end = line_start - 1
            window_start = max(head_start, head_end - 64)
            if line_start > 0 and _WRAP_END_RX.search(text, window_start, head_end) is not None:
                brk = _TRAILING_BREAK_RX.search(text, window_start, head_end)
                heads.append((head_start, brk.start() if brk is not None else head_end))
                bodies.append([tok])
            else:  # this line may head a chain of continuation lines itself
                heads.append(tok)
                bodies.append([])
        open_chain = not m.group("tail")
        prev_end = m.end()

    out: list[tuple[int, str, array[int]]] = []
    for (head_start, head_end), body in zip(heads, bodies, strict=True):
        if not body:
            continue
        pieces = [text[head_start:head_end]]
        index: array[int] = array("q", range(0, head_end - head_start))
        for tok_start, tok_end in body:
            pieces.append(text[tok_start:tok_end])
            index.extend(range(tok_start - head_start, tok_end - head_start))
        index.append(body[-1][1] - head_start)
        out.append((head_start, "".join(pieces), index))
    return out
