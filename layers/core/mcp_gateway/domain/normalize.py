"""Text normalization for the dangerous-pattern detector: one canonical form plus decoded layers.

Attackers (usually prompt-injected agents) hide intents like "delete" or "for each bucket" behind
Unicode tricks and encodings. Everything here is about turning such text back into something the
detector can match with plain word lists:

``normalize(text)``
    The canonical form: lone surrogates, invisible characters (zero-width, bidi controls, tag
    characters, soft hyphen, variation selectors, fillers) and non-whitespace control characters are
    removed; NFKC folds fullwidth, mathematical, circled and superscript letters; NFKD plus removal of
    every combining mark strips accents and "zalgo" overlays (consistently: rule terms are normalized
    by the same function, so "löschen" and "loschen" meet); other scripts' decimal digits become ASCII;
    Cyrillic, Greek, Armenian, Cherokee, Lisu, IPA and small-capital look-alikes fold to Latin
    (``confusables_data``, the UTS #39 skeleton idea); the text is case-folded; and every run of
    characters that are not letters or digits (whitespace, ``_ - . / \\ | + * : ; , ' " ` ~`` ...)
    becomes one space.

``squash(text)``
    The canonical form with the separators removed ("d.e.l.e.t.e" -> "delete").

``variants(text)``
    The canonical form of the text and of every decoded layer (URL %xx and %uXXXX, HTML entities,
    ``\\uXXXX``/``\\xXX``/octal escapes, base64 and base64url blobs and hex runs that decode to mostly
    printable UTF-8, ASCII smuggled in Unicode tag characters or variation selectors, and right-to-left
    override spans in their displayed order), recursively up to ``MAX_DECODE_DEPTH`` layers deep, each in
    several forms: canonical, leetspeak-folded (two flavours: ``1``/``|`` as ``i`` and as ``l``, the latter
    also folding capital ``I`` and ``rn``/``vv`` to ``l``/``m``/``w``), camelCase split
    ("DeleteBucket" -> "delete bucket"), and with invisible characters read as spaces.

Every function is pure, total (never raises on any ``str``) and bounded: inputs are cut at
``MAX_INPUT_CHARS`` (callers flag longer inputs with :func:`is_oversize`), at most ``MAX_LAYERS``
decoded layers are produced, and no normalized string grows past ``MAX_NORMALIZED_CHARS``. All regular
expressions are linear (character classes and bounded repetitions of literals, no nested quantifiers).
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import unquote

from .confusables_data import CONFUSABLES

MAX_INPUT_CHARS: int = 65_536
"""Per field. Longer inputs are scanned truncated and must be flagged by the caller (deny)."""
MAX_DECODE_DEPTH: int = 3
"""How many encodings deep decoding goes (e.g. base64 of URL-encoded of HTML entities)."""
MAX_LAYERS: int = 16
"""At most this many texts (the input plus decoded layers) are produced per input."""
MAX_NORMALIZED_CHARS: int = 4 * MAX_INPUT_CHARS
"""NFKC can expand a character up to 18-fold; normalized text is cut here."""

# --- character classes ------------------------------------------------------------------------------

_SURROGATES = re.compile("[\ud800-\udfff]")
# Invisible or layout-only characters used to split words without changing how they look.
_INVISIBLE = re.compile(
    "["
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u061c"  # arabic letter mark
    "\u115f\u1160\u3164\uffa0"  # hangul fillers
    "\u17b4\u17b5"  # khmer inherent vowels
    "\u180b-\u180f"  # mongolian variation selectors and vowel separator
    "\u200b-\u200f"  # zero-width space/non-joiner/joiner, LRM, RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u206f"  # word joiner, invisible operators, bidi isolates, deprecated format characters
    "\ufe00-\ufe0f"  # variation selectors
    "\ufeff"  # zero-width no-break space / BOM
    "\ufff9-\ufffb"  # interlinear annotation controls
    "\U0001bca0-\U0001bca3"  # shorthand format controls
    "\U0001d173-\U0001d17a"  # musical symbol format controls
    "\U000e0000-\U000e0fff"  # tag characters and variation selectors supplement
    "]"
)
# Control characters other than whitespace: removed. (\t \n \v \f \r \x1c-\x1f \x85 are whitespace.)
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_SEPARATORS = re.compile(r"[\W_]+")
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Cs", "Co", "Cn"})
_CONFUSABLES_TABLE: dict[int, str] = {ord(k): v for k, v in CONFUSABLES.items()}

_LEET_COMMON = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s"}
_LEET_COMMON |= {"€": "e", "£": "l", "¡": "i", "!": "i"}
_LEET_I: dict[int, str] = {ord(k): v for k, v in (_LEET_COMMON | {"1": "i", "|": "i"}).items()}
# In the "l" flavour, capital I and its look-alikes are read as a lower-case L (UTS #39 does the same).
_LEET_L: dict[int, str] = {
    ord(k): v
    for k, v in (_LEET_COMMON | {"1": "l", "|": "l", "I": "l", "\u0399": "l", "\u0406": "l", "\u01c0": "l"}).items()
}
_LEET_TRIGGER = frozenset(_LEET_COMMON) | {"1", "|"}
_LEET_L_TRIGGER = _LEET_TRIGGER | {"I", "\u0399", "\u0406", "\u01c0"}
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_CAMEL_PAIR = re.compile(r"[a-z](?=[A-Z])")  # the same points without a look-behind at every position
# ASCII fast paths (str.translate is C speed): every ASCII character that is not a letter or digit is a separator;
# and a shape of the text (h: hex digit, s: a separator of spaced hex, x: anything else) to rule out hex runs.
_ASCII_SEPARATORS: dict[int, str] = {c: " " for c in range(128) if not chr(c).isalnum()}
_HEX_SHAPE: dict[int, str] = {
    c: "h" if chr(c) in "0123456789abcdefABCDEF" else "s" if chr(c) in " :,-" else "x" for c in range(128)
}


def _byte_table(table: dict[int, str]) -> bytes:
    """The ASCII part of a ``str.translate`` table as a ``bytes.translate`` table (C speed on ASCII text). Every
    ASCII key of the tables below maps to one ASCII character."""
    out = bytearray(range(256))
    for code, value in table.items():
        if code < 128:
            if len(value) != 1 or not value.isascii():  # pragma: no cover - guarded at import
                raise ValueError("byte tables map one ASCII character to one ASCII character")
            out[code] = ord(value)
    return bytes(out)


# The same tables for bytes.translate: applied to str.isascii() text only (encode, translate, decode).
_ASCII_LOWER_SEPARATORS = _byte_table({**{c: chr(c).lower() for c in range(128)}, **_ASCII_SEPARATORS})
_HEX_SHAPE_BYTES = _byte_table(_HEX_SHAPE)
_LEET_I_BYTES = _byte_table(_LEET_I)
_LEET_L_BYTES = _byte_table(_LEET_L)
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_NON_ASCII_SPLIT = re.compile(r"([^\x00-\x7f]+)")


def _translate(text: str, table: dict[int, str], ascii_table: bytes) -> str:
    """``text.translate(table)``, with ``ascii_table`` (``_byte_table(table)``) applied as bytes to the ASCII runs
    and ``table`` to the others: mostly-ASCII text costs C speed, not a dict lookup per character."""
    if text.isascii():
        return text.encode("ascii").translate(ascii_table).decode("ascii")
    parts = _NON_ASCII_SPLIT.split(text)  # ASCII run, non-ASCII run, ASCII run, ...
    if len(parts) > len(text) // 16:
        return text.translate(table)
    return "".join(
        part.translate(table) if i % 2 else part.encode("ascii").translate(ascii_table).decode("ascii")
        for i, part in enumerate(parts)
    )


# A character that gives a text a leetspeak form (the same sets as _LEET_TRIGGER and _LEET_L_TRIGGER).
_LEET_TRIGGER_RE = re.compile("[" + "".join(re.escape(c) for c in sorted(_LEET_TRIGGER)) + "]")
_LEET_L_TRIGGER_RE = re.compile("[" + "".join(re.escape(c) for c in sorted(_LEET_L_TRIGGER)) + "]|rn|vv")

# --- decoders ---------------------------------------------------------------------------------------

_URL_ANY = re.compile(r"%(?:[0-9A-Fa-f]{2}|[uU][0-9A-Fa-f]{4})")
_URL_U = re.compile(r"%[uU]([0-9A-Fa-f]{4})")
_ESCAPE = re.compile(
    r"\\(?:u\{([0-9A-Fa-f]{1,6})\}|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|x([0-9A-Fa-f]{2})|([0-3][0-7]{2}))"
)
_HTML_ENTITY = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9A-Fa-f]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});?")
_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?((?:[0-9A-Fa-f]{2}){4,})(?![0-9A-Za-z])")
_HEX_SPACED = re.compile(r"(?<![0-9A-Za-z])((?:[0-9A-Fa-f]{2}[ :,-]){3,}[0-9A-Fa-f]{2})(?![0-9A-Za-z])")
_RTL_OVERRIDE = re.compile("[\u202e\u2067]([^\u202c\u2069\n]*)")
_TAG_TO_ASCII: dict[int, str] = {cp: chr(cp - 0xE0000) for cp in range(0xE0020, 0xE007F)}
_TAG_CHAR = re.compile("[\U000e0020-\U000e007e]")
_VS_RUN = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]{3,}")


# ASCII bytes that are not letters, and those that are printable or \t \n \r (what _printable_reference counts, per
# str.isalpha and str.isprintable): deleting them with bytes.translate counts the others in C.
_ASCII_NON_LETTER_BYTES = bytes(c for c in range(256) if not (c < 128 and chr(c).isalpha()))
_ASCII_PRINTABLE_BYTES = bytes(c for c in range(128) if chr(c).isprintable() or chr(c) in "\t\n\r")


def _printable(raw: bytes) -> str | None:
    """``raw`` as text if it is valid UTF-8 that reads like text (mostly printable, some letters):
    :func:`_printable_reference`, with ASCII counted by byte deletion and invalid UTF-8 told without an exception
    (decoded with U+FFFD for what is invalid; an U+FFFD in the text that is not in the bytes says invalid)."""
    if len(raw) < 3:  # fewer than 3 bytes decode to fewer than 3 characters, if at all
        return None
    if raw.isascii():
        length = len(raw)
        if len(raw.translate(None, _ASCII_NON_LETTER_BYTES)) < 2:
            return None
        if length - len(raw.translate(None, _ASCII_PRINTABLE_BYTES)) < 0.9 * length:
            return None
        return raw.decode("ascii")
    text = raw.decode("utf-8", "replace")
    if "\ufffd" in text:
        if raw.find(b"\xef\xbf\xbd") < 0:  # (find, not "in": a bytes needle in bytes costs an exception)
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return _printable_text(text)


def _printable_text(text: str) -> str | None:
    """Decoded ``text`` if it reads like text: at least 3 characters, 90% printable, 2 letters."""
    if len(text) < 3:
        return None
    printable = sum(1 for c in text if c.isprintable() or c in "\t\n\r")
    letters = sum(1 for c in text if c.isalpha())
    if printable < 0.9 * len(text) or letters < 2:
        return None
    return text


def _printable_reference(raw: bytes) -> str | None:
    """:func:`_printable` without its shortcuts (the reference they are tested against)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _printable_text(text)


def _join_surrogate_pairs(text: str) -> str:
    """Escapes like ``\\ud83d\\ude00`` decode to surrogate pairs: join them; lone ones become U+FFFD."""
    if not _SURROGATES.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _decode_url(text: str) -> str | None:
    if "%" not in text or not _URL_ANY.search(text):
        return None
    text = _URL_U.sub(lambda m: chr(int(m.group(1), 16)), text)
    return _join_surrogate_pairs(unquote(text, errors="replace"))


def _decode_html(text: str) -> str | None:
    if "&" not in text or not _HTML_ENTITY.search(text):
        return None
    return html.unescape(text)


def _escape_char(m: re.Match[str]) -> str:
    for group, base in ((1, 16), (2, 16), (3, 16), (4, 16), (5, 8)):
        digits = m.group(group)
        if digits is not None:
            cp = int(digits, base)
            return chr(cp) if cp <= 0x10FFFF else m.group(0)
    return m.group(0)  # pragma: no cover - the pattern always sets one group


def _decode_escapes(text: str) -> str | None:
    if "\\" not in text or not _ESCAPE.search(text):
        return None
    return _join_surrogate_pairs(_ESCAPE.sub(_escape_char, text))


def _b64_text_uncached(blob: str) -> str | None:
    """One start of :func:`_b64_token_reference`: ``blob`` (a token from that start on) decoded, or None."""
    blob = blob.rstrip("=")
    if len(blob) % 4 == 1:
        blob = blob[:-1]
    std = blob.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable_reference(raw)


# Pure and bounded-cached: log and intent vocabulary repeats ("Exception", "requests"), and every 8+ character word is
# a base64 candidate that must be trial-decoded. Only candidates up to _B64_MEMO_MAX_CHARS are kept: a memo of 8,192
# entries of any length could hold 8,192 distinct 64 KB blobs (half a gigabyte) in a warm function.
_B64_MEMO_MAX_CHARS = 512
_b64_text_memo = functools.lru_cache(maxsize=8192)(_b64_text_uncached)


def _b64_text(blob: str) -> str | None:
    return _b64_text_memo(blob) if len(blob) <= _B64_MEMO_MAX_CHARS else _b64_text_uncached(blob)


def _b64_blob(m: re.Match[str]) -> str:
    return _b64_token(m.group(0))


_B64_STARTS = 13
_B64_ALPHABET_BYTES = "".join(sorted(_BASE64_ALPHABET)).encode("ascii")
_B64_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")
# The bytes that never occur in UTF-8 (C0, C1, F5..FF) as FF, every other byte as 00.
_UTF8_NEVER = bytes(0xFF if c in (0xC0, 0xC1) or c >= 0xF5 else 0 for c in range(256))


def _b64_token(token: str) -> str:
    """:func:`_b64_token_decoded`, memoised for candidates up to ``_B64_MEMO_MAX_CHARS``."""
    return _b64_token_memo(token) if len(token) <= _B64_MEMO_MAX_CHARS else _b64_token_decoded(token)


def _b64_token_decoded(token: str) -> str:
    """The token with its base64 decoded (:func:`_b64_token_reference`). A word glued in front (fields joined with
    nothing: "follow" + "ZGVs...") shifts the alignment: starts up to 12 characters later are also tried, the first
    that decodes wins.

    Starts 4 apart read the same base64 groups: from ``s + 4`` on, a token (base64 characters, then "=") decodes to
    what it decodes to from ``s`` on without its first 3 bytes (the same tail, cut and padded the same way), and
    such a string of base64 characters always decodes. So four decodings serve the 13 starts."""
    starts = min(_B64_STARTS, len(token) - 7)
    if starts <= 0:
        return token
    body = token.rstrip("=")
    if not body.isascii():
        return _b64_token_reference(token)
    chars = body.encode("ascii")
    if chars.translate(None, _B64_ALPHABET_BYTES):  # not only base64 characters before the "="
        return _b64_token_reference(token)
    std = chars.translate(_B64_URLSAFE_TO_STD)
    decoded: list[bytes] = []
    try:
        for start in range(min(4, starts)):
            blob = std[start:]
            if len(blob) % 4 == 1:
                blob = blob[:-1]
            decoded.append(binascii.a2b_base64(blob + b"=" * (-len(blob) % 4), strict_mode=True))
    except (binascii.Error, ValueError):  # pragma: no cover - base64 characters, padded, always decode
        return _b64_token_reference(token)
    # per decoding, the last byte that valid UTF-8 never holds: a start at or before it cannot read as text
    never = [raw.translate(_UTF8_NEVER).rfind(b"\xff") for raw in decoded]
    for start in range(starts):
        offset = 3 * (start // 4)
        if offset <= never[start % 4]:
            continue
        raw = decoded[start % 4][offset:]
        # what _printable rejects first, inline: bytes that are not valid UTF-8 (the usual case for words)
        if not raw.isascii() and (
            0x80 <= raw[0] < 0xC0  # a continuation byte first
            or ("\ufffd" in raw.decode("utf-8", "replace") and raw.find(b"\xef\xbf\xbd") < 0)
        ):
            continue
        text = _printable(raw)
        if text is not None:
            return f"{token[:start]} {text}" if start else text
    return token


_b64_token_memo = functools.lru_cache(maxsize=8192)(_b64_token_decoded)


def _b64_token_reference(token: str) -> str:
    """:func:`_b64_token` as every start decoded on its own (the reference the shared decodings are tested against)."""
    for start in range(min(_B64_STARTS, len(token) - 7)):
        text = _b64_text(token[start:])
        if text is not None:
            return f"{token[:start]} {text}" if start else text
    return token


_BASE64_KEEP = bytes(c if chr(c) in _BASE64_ALPHABET or c == ord("=") else ord(" ") for c in range(256))


def _base64_candidates(text: str) -> list[str]:
    """``_BASE64.findall(text)``; on ASCII text, the runs of base64 characters and "=" split out in C, each run
    without "=" a candidate when it is long enough, a run holding "=" matched by the pattern."""
    if not text.isascii():
        return _BASE64.findall(text)
    runs = text.encode("ascii").translate(_BASE64_KEEP).decode("ascii").split()
    if "=" not in text:
        return [run for run in runs if len(run) >= 8]
    out: list[str] = []
    for run in runs:
        if len(run) >= 8:
            out.extend(_BASE64.findall(run) if "=" in run else (run,))
    return out


# Runs of base64 characters and "=" (as bytes) known to hold no candidate that decodes: a bounded memo (cleared when
# full; runs longer than _PLAIN_RUN_MAX_CHARS are not kept) that lets a text of known words pass in C.
_PLAIN_RUNS: set[bytes] = set()
_PLAIN_RUNS_MAX = 16_384
_PLAIN_RUN_MAX_CHARS = 64


def _run_plain(run: bytes) -> bool:
    """Whether no candidate in a run (of base64 characters and "=") decodes."""
    if len(run) < 8:
        return True
    token = run.decode("ascii")
    return all(_b64_token(blob) == blob for blob in (_BASE64.findall(token) if run.find(b"=") >= 0 else (token,)))


def _decode_base64(text: str) -> str | None:
    """:func:`_decode_base64_reference`; on ASCII text, the runs of base64 characters split out in C and looked up in
    the memo of runs known to be plain, only the others tried (the candidates never cross a run's ends)."""
    if not text.isascii():
        return _decode_base64_reference(text)
    runs = text.encode("ascii").translate(_BASE64_KEEP).split()
    for run in [run for run in runs if run not in _PLAIN_RUNS]:
        if len(run) >= 8 and not _run_plain(run):  # (a shorter run holds no candidate)
            return _BASE64.sub(_b64_blob, text)
        if len(run) <= _PLAIN_RUN_MAX_CHARS:
            if len(_PLAIN_RUNS) >= _PLAIN_RUNS_MAX:
                _PLAIN_RUNS.clear()
            _PLAIN_RUNS.add(run)
    return None


def _decode_base64_reference(text: str) -> str | None:
    candidates = _base64_candidates(text)
    if not candidates:
        return None
    # Nothing decodes (the usual case: words and ids are candidates): the layer would equal its input, which
    # decoded_layers drops, so say so without rewriting the text.
    if all(_b64_token(blob) == blob for blob in set(candidates)):
        return None
    return _BASE64.sub(_b64_blob, text)


def _hex_blob(m: re.Match[str]) -> str:
    digits = re.sub(r"[ :,-]", "", m.group(1))
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return m.group(0)
    text = _printable(raw)
    return m.group(0) if text is None else text


def _decode_hex(text: str) -> str | None:
    # a run needs 8 hex digits in a row, a spaced run 4 separated pairs
    if text.isascii():  # the shape as bytes (find, not "in": a bytes needle in bytes costs an exception)
        raw = text.encode("ascii").translate(_HEX_SHAPE_BYTES)
        if raw.find(b"hhhhhhhh") < 0 and raw.find(b"hhshhshhshh") < 0:
            return None
    else:
        shape = _translate(text, _HEX_SHAPE, _HEX_SHAPE_BYTES)
        if "hhhhhhhh" not in shape and "hhshhshhshh" not in shape:
            return None
    out = _HEX_RUN.sub(_hex_blob, text)
    out = _HEX_SPACED.sub(_hex_blob, out)
    return out


def _decode_hex_reference(text: str) -> str | None:
    """:func:`_decode_hex` with the shape as text on every input (the reference its bytes shape is tested against)."""
    shape = _translate(text, _HEX_SHAPE, _HEX_SHAPE_BYTES)
    if "hhhhhhhh" not in shape and "hhshhshhshh" not in shape:
        return None
    out = _HEX_RUN.sub(_hex_blob, text)
    out = _HEX_SPACED.sub(_hex_blob, out)
    return out


def _decode_rtl_override(text: str) -> str | None:
    """Right-to-left override spans in the order a human sees them (Trojan Source style)."""
    if "\u202e" not in text and "\u2067" not in text:
        return None
    return _RTL_OVERRIDE.sub(lambda m: m.group(1)[::-1], text)


def _decode_tags(text: str) -> str | None:
    """ASCII smuggled as invisible Unicode tag characters (U+E0020..U+E007E)."""
    if not _TAG_CHAR.search(text):  # C-speed pre-check; most text has none
        return None
    return text.translate(_TAG_TO_ASCII)


def _vs_run(m: re.Match[str]) -> str:
    values = bytearray()
    for c in m.group(0):
        cp = ord(c)
        values.append(cp - 0xFE00 if cp <= 0xFE0F else cp - 0xE0100 + 16)
    text = _printable(bytes(values))
    return m.group(0) if text is None else text


def _decode_variation_selectors(text: str) -> str | None:
    """Bytes smuggled as variation selectors (VS1..VS256 carry one byte each)."""
    if not _VS_RUN.search(text):
        return None
    return _VS_RUN.sub(_vs_run, text)


# (name, decoder, runs on the prepared text?) The first three need the invisible characters intact.
_DECODERS: tuple[tuple[str, Callable[[str], str | None], bool], ...] = (
    ("rtl", _decode_rtl_override, False),
    ("tags", _decode_tags, False),
    ("vs", _decode_variation_selectors, False),
    ("url", _decode_url, True),
    ("html", _decode_html, True),
    ("escape", _decode_escapes, True),
    ("base64", _decode_base64, True),
    ("hex", _decode_hex, True),
)
# The decoders that can apply to ASCII text (RTL overrides, tag characters and variation selectors are not ASCII).
_ASCII_DECODERS = _DECODERS[3:]

# --- normalization ----------------------------------------------------------------------------------


# The ASCII characters _CONTROLS removes, for bytes.translate's delete.
_ASCII_CONTROL_BYTES = bytes(c for c in range(128) if _CONTROLS.match(chr(c)))


def _prepare(text: str, invisible: str = "") -> str:
    """Remove surrogates and (or space out) invisible characters, drop controls, apply NFKC."""
    if text.isascii():  # fast path: ASCII has no surrogates, invisible characters or NFKC work; controls go in C
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_CONTROL_BYTES)
        if len(kept) != len(raw):
            text = kept.decode("ascii")
        return text[:MAX_NORMALIZED_CHARS]
    return _prepare_reference(text, invisible)


def _prepare_reference(text: str, invisible: str = "") -> str:
    """:func:`_prepare` without its ASCII fast path (the reference the fast path is tested against)."""
    text = _SURROGATES.sub("", text)
    text = _INVISIBLE.sub(invisible, text)
    text = _CONTROLS.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text[:MAX_NORMALIZED_CHARS]


def _strip_marks_chars(text: str) -> str:
    """The per-character rule of :func:`_strip_marks` (on NFKD text): ASCII as is, combining marks and
    invisible/unassigned code points dropped, other-script decimal digits as ASCII digits."""
    out: list[str] = []
    for c in text:
        if c.isascii():
            out.append(c)
            continue
        category = unicodedata.category(c)
        if category in _DROP_CATEGORIES:
            continue
        if category == "Nd":
            out.append(str(unicodedata.decimal(c, 0)))
        else:
            out.append(c)
    return "".join(out)


def _strip_run(m: re.Match[str]) -> str:
    return _strip_marks_chars(m.group(0))


def _strip_marks(text: str) -> str:
    """NFKD, then drop combining marks and invisible/unassigned code points; other-script digits -> ASCII.
    The rule keeps ASCII as is, so only the runs of non-ASCII characters go through the Python loop."""
    if text.isascii():
        return text
    return _NON_ASCII_RUN.sub(_strip_run, unicodedata.normalize("NFKD", text))


def _strip_marks_reference(text: str) -> str:
    """:func:`_strip_marks` as one loop over every character (the reference its fast path is tested against)."""
    if text.isascii():
        return text
    return _strip_marks_chars(unicodedata.normalize("NFKD", text))


def _confusable_run(m: re.Match[str]) -> str:
    return m.group(0).translate(_CONFUSABLES_TABLE)


def _fold_confusables(text: str) -> str:
    """``text.translate(_CONFUSABLES_TABLE)``; no key is ASCII, so only the non-ASCII runs are translated."""
    return _NON_ASCII_RUN.sub(_confusable_run, text)


def _finish(text: str) -> str:
    """Prepared text -> canonical form (see the module docstring)."""
    if text.isascii():  # fast path: no marks or confusables (none is ASCII); casefold is lower for ASCII
        folded = text[:MAX_NORMALIZED_CHARS].encode("ascii").translate(_ASCII_LOWER_SEPARATORS)
        # only letters, digits and spaces are left: runs of spaces become one (every space after the first of a run
        # marked with a byte ASCII text cannot hold, then deleted), and the ends are stripped
        if folded.find(b"  ") >= 0:
            folded = folded.replace(b"  ", b" \xff").replace(b"\xff ", b"\xff\xff").translate(None, b"\xff")
        return folded.strip(b" ").decode("ascii")
    return _finish_general(text)


def _finish_general(text: str) -> str:
    """:func:`_finish` without its ASCII fast path (any text; the reference the fast path is tested against)."""
    text = _fold_confusables(_strip_marks(text)).casefold()
    if not text.isascii():
        text = _fold_confusables(_strip_marks(text))
        text = unicodedata.normalize("NFC", text)  # recompose Hangul syllables decomposed by NFKD
    return _spaced_words(text[:MAX_NORMALIZED_CHARS])


_ASCII_SEPARATOR_BYTES = _byte_table(_ASCII_SEPARATORS)


def _separator_run(m: re.Match[str]) -> str:
    return _SEPARATORS.sub(" ", m.group(0))


def _spaced_words(text: str) -> str:
    """``_SEPARATORS.sub(" ", text).strip()``: every character that is not a letter or digit (or is ``_``) made a
    space, the ASCII runs as bytes, then the runs of spaces collapsed (no other whitespace is left)."""
    parts = _NON_ASCII_SPLIT.split(text)
    if len(parts) > len(text) // 16:
        return _SEPARATORS.sub(" ", text).strip()
    spaced = "".join(
        _SEPARATORS.sub(" ", part) if i % 2 else part.encode("ascii").translate(_ASCII_SEPARATOR_BYTES).decode("ascii")
        for i, part in enumerate(parts)
    )
    return " ".join(spaced.split())


def _leet_i(text: str) -> str:
    return _translate(text, _LEET_I, _LEET_I_BYTES)


def _leet_l(text: str) -> str:
    return _translate(text, _LEET_L, _LEET_L_BYTES).replace("rn", "m").replace("vv", "w")


def _camel_split(text: str) -> str:
    """A space between every lower-case letter and the capital after it (ASCII): ``_camel_split_reference``. On ASCII
    text, the points are where the letters' case shape (``_CASE_SHAPE``) reads "aA", found by splitting the shape."""
    if not text.isascii():
        return _CAMEL_PAIR.sub(r"\g<0> ", text)
    pieces = text.encode("ascii").translate(_CASE_SHAPE).split(b"aA")
    if len(pieces) == 1:
        return text
    words: list[str] = []
    start = end = 0
    for piece in pieces[:-1]:
        end += len(piece) + 1  # the capital of this "aA"
        words.append(text[start:end])
        start = end
        end += 1
    words.append(text[start:])
    return " ".join(words)


def _camel_split_reference(text: str) -> str:
    return _CAMEL.sub(" ", text)


def normalize(text: str) -> str:
    """The canonical form of ``text`` (truncated at ``MAX_INPUT_CHARS``). Idempotent."""
    if not isinstance(text, str):  # defensive: callers are typed, inputs are hostile
        text = str(text)
    return _finish(_prepare(text[:MAX_INPUT_CHARS]))


def squash(text: str) -> str:
    """The canonical form with every separator removed: "d.e.l-e t_e" -> "delete"."""
    return normalize(text).replace(" ", "")


def is_oversize(text: str) -> bool:
    """True when ``text`` is longer than the scanner reads; the caller must deny such input."""
    return len(text) > MAX_INPUT_CHARS


def decoded_layers(text: str, *, limit: int = MAX_INPUT_CHARS) -> list[tuple[str, str]]:
    """``[(how, layer)]``: the (truncated) input as ``("plain", text)``, then every distinct decoded layer.

    ``how`` names the decoders applied, outermost first ("base64>url"). Breadth-first, at most
    ``MAX_DECODE_DEPTH`` decoders deep and ``MAX_LAYERS`` layers in total. A decoder that does not apply,
    or yields nothing new, adds nothing.
    """
    start = text[:limit]
    if start.isascii():  # fast path: the usual text, on which no decoder applies, is its only layer
        prepared = _prepare(start)
        if (  # the _ASCII_DECODERS, on the prepared text, called in a row
            _decode_url(prepared) is None
            and _decode_html(prepared) is None
            and _decode_escapes(prepared) is None
            and _decode_base64(prepared) is None
            and _decode_hex(prepared) is None
        ):
            return [("plain", start)]
    return _decoded_layers_reference(text, limit=limit)


def _decoded_layers_reference(text: str, *, limit: int = MAX_INPUT_CHARS) -> list[tuple[str, str]]:
    """:func:`decoded_layers` without its fast path (the reference it is tested against)."""
    start = text[:limit]
    if not start.isascii():
        start = _SURROGATES.sub("", start)
    layers: list[tuple[str, str]] = [("plain", start)]
    seen = {start}
    frontier = [("", start)]
    for _ in range(MAX_DECODE_DEPTH):
        following: list[tuple[str, str]] = []
        for how, layer in frontier:
            prepared = _prepare(layer)
            for name, decoder, on_prepared in _ASCII_DECODERS if layer.isascii() else _DECODERS:
                if len(layers) >= MAX_LAYERS:
                    return layers
                decoded = decoder(prepared if on_prepared else layer)
                if decoded is None:
                    continue
                if not decoded.isascii():
                    decoded = _SURROGATES.sub("", decoded)
                decoded = decoded[:limit]
                if decoded in seen or decoded == prepared:
                    continue
                seen.add(decoded)
                label = f"{how}>{name}" if how else name
                layers.append((label, decoded))
                following.append((label, decoded))
        frontier = following
        if not frontier:
            break
    return layers


_CASE_SHAPE = bytes(
    ord("a") if chr(c).islower() and c < 128 else ord("A") if chr(c).isupper() and c < 128 else ord(" ")
    for c in range(256)
)


def has_camel(prepared: str) -> bool:
    """Whether the camelCase form of a prepared text differs from it (an ASCII lower-case letter before an ASCII
    capital); on ASCII text, one byte translation to the letters' case."""
    if prepared.isascii():
        return prepared.encode("ascii").translate(_CASE_SHAPE).find(b"aA") >= 0  # (find: "in" costs an exception)
    return _CAMEL_PAIR.search(prepared) is not None


# The bytes that are not ASCII characters of _LEET_L_TRIGGER (for deletion), and the ASCII ones of _LEET_L_TRIGGER
# that are not in _LEET_TRIGGER (capital I).
_NOT_LEET_L_TRIGGER_BYTES = bytes(c for c in range(256) if not (c < 128 and chr(c) in _LEET_L_TRIGGER))
_LEET_L_ONLY_TRIGGER_BYTES = bytes(c for c in range(128) if chr(c) in _LEET_L_TRIGGER and chr(c) not in _LEET_TRIGGER)


def form_sources(
    text: str, prepared: str | None = None, *, camel: bool = True, leet: bool = True
) -> list[tuple[str, str | None]]:
    """``[(form, prepared text)]`` of one (undecoded) text: what :func:`_finish` turns into each of its
    :func:`normalized_forms`. ``prepared``: ``_prepare(text)`` when the caller already has it. ``camel=False``
    leaves out the camelCase form (a caller that reads it from the plain form's matches); ``leet=False`` names the
    leetspeak forms with None for their text (a caller that builds it only when it needs it)."""
    if prepared is None:
        prepared = _prepare(text)
    if not prepared.isascii():
        return _form_sources_reference(text, prepared, camel=camel, leet=leet)
    sources: list[tuple[str, str | None]] = [("", prepared)]
    if not text.isascii() and _INVISIBLE.search(text):
        sources.append(("split", _prepare(text, " ")))
    raw = prepared.encode("ascii")
    if leet:
        # A form has a trigger exactly when it changes the text: every ASCII trigger character is translated to
        # another character, and "rn"/"vv" (no translation makes or breaks one) shorten the text.
        leet_i = raw.translate(_LEET_I_BYTES)
        if leet_i != raw:
            sources.append(("leet", leet_i.decode("ascii")))
        leet_l = raw.translate(_LEET_L_BYTES).replace(b"rn", b"m").replace(b"vv", b"w")
        if leet_l != raw:
            sources.append(("leet-l", leet_l.decode("ascii")))
    else:  # the trigger characters the text holds, kept by one deletion; "rn"/"vv" found as bytes
        triggers = raw.translate(None, _NOT_LEET_L_TRIGGER_BYTES)
        if triggers.translate(None, _LEET_L_ONLY_TRIGGER_BYTES):
            sources.append(("leet", None))
        if triggers or raw.find(b"rn") >= 0 or raw.find(b"vv") >= 0:
            sources.append(("leet-l", None))
    if camel and has_camel(prepared):
        sources.append(("camel", _camel_split(prepared)))
    return sources


def _form_sources_reference(
    text: str, prepared: str | None = None, *, camel: bool = True, leet: bool = True
) -> list[tuple[str, str | None]]:
    """:func:`form_sources` without its ASCII fast path (the reference it is tested against)."""
    if prepared is None:
        prepared = _prepare(text)
    sources: list[tuple[str, str | None]] = [("", prepared)]
    if not text.isascii() and _INVISIBLE.search(text):
        sources.append(("split", _prepare(text, " ")))
    if _LEET_TRIGGER_RE.search(prepared):
        sources.append(("leet", _leet_i(prepared) if leet else None))
    if _LEET_L_TRIGGER_RE.search(prepared):
        sources.append(("leet-l", _leet_l(prepared) if leet else None))
    if camel and has_camel(prepared):
        sources.append(("camel", _camel_split(prepared)))
    return sources


def normalized_forms(text: str) -> list[tuple[str, str]]:
    """``[(form, normalized)]`` of one (undecoded) text: "", "split", "leet", "leet-l", "camel"."""
    return [(form, _finish(source)) for form, source in form_sources(text) if source is not None]


def normalized_forms_reference(text: str) -> list[tuple[str, str]]:
    """:func:`normalized_forms` without any fast path (the reference the fast paths are tested against)."""
    prepared = _prepare_reference(text)
    forms: list[tuple[str, str]] = [("", _finish_general(prepared))]
    if not text.isascii() and _INVISIBLE.search(text):
        forms.append(("split", _finish_general(_prepare_reference(text, " "))))
    chars = set(prepared)
    if chars & _LEET_TRIGGER:
        forms.append(("leet", _finish_general(prepared.translate(_LEET_I))))
    if chars & _LEET_L_TRIGGER or "rn" in prepared or "vv" in prepared:
        forms.append(("leet-l", _finish_general(prepared.translate(_LEET_L).replace("rn", "m").replace("vv", "w"))))
    if _CAMEL.search(prepared):
        forms.append(("camel", _finish_general(_camel_split_reference(prepared))))
    return forms


def tagged_variants(text: str, *, limit: int = MAX_INPUT_CHARS) -> list[tuple[str, str]]:
    """``[(how, normalized)]`` for every decoded layer and every form, without duplicates.

    ``how`` is "plain", a decoder chain ("base64>url") and/or a form ("plain+leet"). The first entry
    is always ``("plain", normalize(text))``.
    """
    if not isinstance(text, str):
        text = str(text)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for how, layer in decoded_layers(text, limit=limit):
        for form, normalized in normalized_forms(layer):
            if normalized in seen:
                continue
            seen.add(normalized)
            out.append((f"{how}+{form}" if form else how, normalized))
    return out


def variants(text: str) -> list[str]:
    """The canonical form of ``text`` first, then those of its decoded layers and alternative forms."""
    return [normalized for _, normalized in tagged_variants(text)]


__all__ = [
    "MAX_DECODE_DEPTH",
    "MAX_INPUT_CHARS",
    "MAX_LAYERS",
    "MAX_NORMALIZED_CHARS",
    "decoded_layers",
    "is_oversize",
    "normalize",
    "normalized_forms",
    "squash",
    "tagged_variants",
    "variants",
]
