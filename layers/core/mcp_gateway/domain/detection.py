"""Dangerous-pattern and chaining detection over the text an agent sends (pure, linear-time).

The seed article's "Pattern Detection" ("delete", "terminate", "destroy" trigger scrutiny) and its fix for
"AI Agents Tried Creative Exploits" (block "then", "after that", "for each", "loop through"; force one
explicit request per action) as one small engine:

- A :class:`PatternRule` is a list of words and phrases with an ``effect`` (``deny`` or ``review``) and a
  ``kind`` (``pattern`` for dangerous intents, ``chaining`` for sequencing, iteration and fan-out).
  The default rule set is :data:`DEFAULT_RULES`; ``policy/detection-rules.example.yaml`` is its generated
  rendering (a unit test keeps the two equal).
- :class:`Detector` compiles the rules once and scans a mapping of fields (argument name -> string,
  plus ``"intent"``). Every field is expanded by :func:`normalize.tagged_variants` (canonical form,
  decoded layers, leetspeak and camelCase forms) and matched.

Matching. Rule terms are normalized exactly like the scanned text, so a term is a sequence of words.
A term matches where a run of *whole consecutive words* of the normalized text, concatenated, equals the
term with its spaces removed. That single rule gives:

- word boundaries: "delete" matches "delete the bucket" but not "deleted", "undelete" or
  "/aws/lambda/deleted-items"; "format the disk" does not match "information";
- phrases across any separators: "drop table" matches "DROP_TABLE", "drop\\ntable", "drop.table";
- the squashed form, aligned on word boundaries: "d.e.l.e.t.e", "d e l e t e", "de-lete", "del\\nete"
  and "drop-table" all match, while "therefore achieve" does not match "foreach" (the run must start and
  end on word boundaries);
- payloads split across arguments: the fields are also joined (with a space, and with nothing), so
  ``{"a": "del", "b": "ete"}`` and "for" + "each bucket" match, reported with field ``"<joined>"``. When every
  field is plain ASCII text, a junction no key can touch is skipped and only windows around the others are read
  (see ``Detector._joined_hits`` and ``Detector._junction_clear``).

Terms written in scripts without spaces between words (Chinese, Japanese, Korean) match as substrings of
the squashed text instead. All keys sit in one Aho-Corasick automaton (``matching.WordMatcher``): the work per
normalized string is linear in its length plus the number of key occurrences.

Identifier fields. Resource names are realistic carriers of scary words ("/aws/lambda/delete-user-handler",
"backups/deleted/", the S3 "DeleteRequests" metric) and are validated elsewhere against strict resource
patterns. For fields named in ``identifier_fields`` (matched on the full name or on the last path segment,
so ``objects[0].key`` counts as ``key``) whose value looks like a name (no whitespace or invisible
stand-in for it), only ``chaining`` rules are reported; ``pattern`` hits are recorded as *explained*.
An identifier value containing whitespace is prose in an identifier slot and is scanned like any other
field. Identifiers take part in the joined scans, where a hit is reported unless an identifier explains
it alone: ``{"intent": "del", "key": "ete"}`` is caught, ``{"intent": "show errors", "log_group":
"/aws/lambda/delete-user-handler"}`` is not. Residual, by design: a verb that lies entirely inside an
identifier is never reported, even when the intent carries a fragment of the same verb.

Bounds. Each field is read up to ``MAX_INPUT_CHARS``, the joined text up to ``MAX_JOINED_CHARS``, and at
most ``MAX_FIELDS`` fields; anything beyond is not scanned and yields an ``input.oversize`` deny finding,
so the caller denies instead of trusting a partial scan.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, MutableMapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints, field_validator

from .matching import WordMatcher
from .models import StrictModel
from .normalize import (
    _BASE64,
    _BASE64_ALPHABET,
    _CASE_SHAPE,
    _CONTROLS,
    _LEET_I_BYTES,
    _LEET_L_BYTES,
    MAX_INPUT_CHARS,
    MAX_NORMALIZED_CHARS,
    _b64_token,
    _camel_split,
    _decode_hex,
    _finish,
    _leet_i,
    _leet_l,
    _prepare,
    decoded_layers,
    form_sources,
    has_camel,
    normalize,
    normalized_forms_reference,
)

MAX_FIELDS = 256
MAX_JOINED_CHARS = 4 * MAX_INPUT_CHARS
MAX_TERM_CHARS = 80
OVERSIZE_RULE_ID = "input.oversize"
JOINED_FIELD = "<joined>"

Effect = Literal["deny", "review"]
RuleKind = Literal["pattern", "chaining"]
FindingKind = Literal["pattern", "chaining", "input"]
Term = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TERM_CHARS)]
RuleIdStr = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,80}$")]
_FieldName = Annotated[str, StringConstraints(max_length=256)]


def term_key(term: str) -> str:
    """The form a term is matched in: normalized, spaces removed."""
    return normalize(term).replace(" ", "")


def _unspaced_script(key: str) -> bool:
    """Terms in scripts written without spaces (CJK, kana, Hangul) match as substrings."""
    return any(unicodedata.east_asian_width(c) in ("W", "F") for c in key)


class PatternRule(StrictModel):
    """Words and phrases that, found in a request's text, deny it or send it to human review."""

    id: RuleIdStr
    kind: RuleKind
    effect: Effect
    terms: tuple[Term, ...] = Field(min_length=1, max_length=1000)
    description: str = Field(default="", max_length=1000)

    @field_validator("terms")
    @classmethod
    def _terms_are_matchable(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        for term in terms:
            if len(term_key(term)) < 2:
                raise ValueError(f"term {term!r} normalizes to fewer than 2 letters or digits")
        return terms


class Finding(StrictModel):
    """One rule term found in one field (or in the joined fields). Holds no request text."""

    rule_id: RuleIdStr
    kind: FindingKind
    effect: Effect
    term: Annotated[str, StringConstraints(max_length=MAX_TERM_CHARS)]
    field: _FieldName
    via: Annotated[str, StringConstraints(max_length=256)] = Field(
        default="",
        description='how the text was read: "plain", a decoder chain like "base64>url", "+leet"...',
    )


def finding_order(f: Finding) -> tuple[bool, bool, bool, str, str]:
    """The order findings are reported in: deny first, then input, then chaining, then by rule id and field."""
    return (f.effect != "deny", f.kind != "input", f.kind != "chaining", f.rule_id, f.field)


def _oversize(field: str) -> Finding:
    return Finding(rule_id=OVERSIZE_RULE_ID, kind="input", effect="deny", term="", field=field[:256])


_INDEX_SUFFIX = re.compile(r"\[\d+\]$")
# Whitespace (or an invisible stand-in for it) in an identifier value means prose, not a resource name.
_PROSE = re.compile("[\\s\u00ad\u180e\u200b-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]")


def _is_identifier(name: str, identifiers: Collection[str]) -> bool:
    """Whether a field is an identifier: its name, or its last part without a list index, is one of ``identifiers``."""
    if not identifiers:
        return False
    if name in identifiers:
        return True
    if "." not in name and not name.endswith("]"):  # a plain name: its last part is itself
        return False
    last = _INDEX_SUFFIX.sub("", name.rsplit(".", 1)[-1])
    return last in identifiers


_Hit = tuple[str, str]  # (rule id, term)
# One text's hits and the labels of its decoded layers ("plain", "base64", "base64>url"...).
_Scan = tuple[Mapping[_Hit, str], tuple[str, ...]]
Memo = MutableMapping[tuple[str, int], _Scan]
"""Per-request memo of :meth:`Detector.scan` (pass the same dict to every scan of one request)."""


_MEMO_MAX_CHARS = 8192
_JUNCTION_MEMO_MAX_CHARS = 512  # junction sides and merged tokens remembered up to this length (memory stays small)
# Junction windows (see Detector.scan): characters that can be part of a word in some form (leetspeak included).
_JUNCTION_WORD_CHARS = MAX_TERM_CHARS  # a term holds at most this many word characters
_WC = "A-Za-z0-9@$!|"
# From a junction outward: the rest of the token at the junction, then enough word characters to hold any term
# that starts or ends there, then the rest of the token reached (a window ends on whitespace or the text's end).
_JUNCTION_REACH = re.compile(rf"\S*(?:[^{_WC}]*[{_WC}]){{0,{_JUNCTION_WORD_CHARS}}}\S*")


def _reach_reference(text: str, start: int) -> int:
    """How far a junction window reaches from ``start`` (the pattern matches the empty string, so always)."""
    match = _JUNCTION_REACH.match(text, start)
    return match.end() - start if match else 0


def _reach_back(text: str, position: int) -> int:
    """``_reach(text[:position][::-1], 0)``, reversing only the last few KB unless the window reaches further."""
    tail = 4096
    while True:
        start = max(0, position - tail)
        reach = _reach(text[start:position][::-1], 0)
        if reach < position - start or start == 0:
            return reach
        tail *= 4


_JUNCTION_WORD_MAP = bytes(
    ord("w") if chr(c).isascii() and re.fullmatch(f"[{_WC}]", chr(c)) else ord(".") for c in range(256)
)


def _reach(text: str, start: int) -> int:
    """:func:`_reach_reference` without the regular expression's per-repetition cost, on ASCII text: the rest of
    the token at ``start``, then past the ``_JUNCTION_WORD_CHARS``-th word character after it (or the last one),
    then the rest of the token reached."""
    if not text.isascii():
        return _reach_reference(text, start)
    size = len(text)
    match = _WHITESPACE.search(text, start)
    after_token = match.start() if match else size
    step = 2 * _JUNCTION_WORD_CHARS
    while True:
        chunk = text[after_token : after_token + step].encode("ascii").translate(_JUNCTION_WORD_MAP)
        if chunk.count(b"w") >= _JUNCTION_WORD_CHARS or after_token + step >= size:
            break
        step *= 2
    if chunk.count(b"w") < _JUNCTION_WORD_CHARS:
        position = after_token + chunk.rfind(b"w") + 1  # after the last word character (none: after_token)
    else:  # just after the bound-th word character: the shortest prefix holding that many
        low, high = _JUNCTION_WORD_CHARS, len(chunk)
        while low < high:
            middle = (low + high) // 2
            if chunk.count(b"w", 0, middle) >= _JUNCTION_WORD_CHARS:
                high = middle
            else:
                low = middle + 1
        position = after_token + low
    match = _WHITESPACE.search(text, position)
    return (match.start() if match else size) - start


# Form windows (see Detector._form_hits): the forms below change an ASCII text only inside the whitespace-delimited
# tokens that hold one of their triggers, so only windows around those tokens are read in that form.
_FORM_TRIGGERS: dict[str, re.Pattern[str]] = {
    "leet": re.compile("[0345789@$!1|]+"),
    "leet-l": re.compile("(?:[0345789@$!1|I]|rn|vv)+"),
    "camel": re.compile("(?<=[a-z])(?=[A-Z])"),
}
_WHITESPACE = re.compile(r"\s")
_ALNUM_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _token_end(text: str, position: int) -> int:
    """The end of the token holding the character at ``position`` (``position`` when it is whitespace)."""
    match = _WHITESPACE.search(text, position)
    return match.start() if match else len(text)


_THROUGH_LAST_WHITESPACE = re.compile(r".*\s", re.DOTALL)


def _token_start_at(text: str, position: int) -> int:
    """The start of the whitespace-delimited token holding the character before ``position`` (``position`` when
    that character is whitespace), reading back only as far as the token reaches."""
    chunk = 64
    while True:
        low = max(0, position - chunk)
        match = _THROUGH_LAST_WHITESPACE.match(text, low, position)
        if match:
            return match.end()
        if low == 0:
            return 0
        chunk *= 4


def _alnum_count(chunk: str) -> int:
    raw = chunk.encode("ascii")
    return len(raw) - len(raw.translate(None, _ALNUM_BYTES))


def _alnum_back(text: str, position: int, count: int) -> int:
    """A position before ``position`` with at least ``count`` ASCII letters and digits between (or 0)."""
    step = count
    while position - step > 0 and _alnum_count(text[position - step : position]) < count:
        step *= 2
    return max(0, position - step)


def _alnum_ahead(text: str, position: int, count: int) -> int:
    """A position after ``position`` with at least ``count`` ASCII letters and digits between (or the end)."""
    step = count
    while position + step < len(text) and _alnum_count(text[position : position + step]) < count:
        step *= 2
    return min(len(text), position + step)


_LEET_FORMS = frozenset({"leet", "leet-l"})
_RUN_MARK = ord("x")
_LEET_RUN_SHAPE = bytes(_RUN_MARK if c < 128 and _LEET_I_BYTES[c] != c else ord(" ") for c in range(256))
_LEET_L_RUN_SHAPE = bytes(_RUN_MARK if (c < 128 and _LEET_L_BYTES[c] != c) or c == 0 else ord(" ") for c in range(256))


def _trigger_runs(base: str, form: str) -> int:
    """How many matches ``_FORM_TRIGGERS[form]`` has in the ASCII prepared text ``base``, counted on a byte shape
    (the runs of trigger characters, "rn"/"vv" counting as triggers in the "l" leetspeak form; the lower-to-capital
    points for camelCase)."""
    raw = base.encode("ascii")
    if form == "camel":
        return raw.translate(_CASE_SHAPE).count(b"aA")
    if form == "leet-l":
        raw = raw.replace(b"rn", b"\0\0").replace(b"vv", b"\0\0")
    shape = raw.translate(_LEET_RUN_SHAPE if form == "leet" else _LEET_L_RUN_SHAPE)
    return shape.count(b" x") + shape.startswith(b"x")


_FORM_OF: dict[str, Callable[[str], str]] = {"leet": _leet_i, "leet-l": _leet_l, "camel": _camel_split}
_FORM_WINDOW_MIN_CHARS = 2048  # below this, reading the whole form costs less than finding its windows
_FORM_WINDOW_MAX_SHARE = 0.6  # past this share of the text in windows, the whole form is read instead

# Junction checks (see Detector._junction_clear): the squashed text of a prepared ASCII text in each form, as one
# bytes.translate (the deleted bytes are those the form turns into separators).
_ALNUM_SET = frozenset(_ALNUM_BYTES)


def _squash_table(form_map: bytes) -> tuple[bytes, bytes]:
    table = bytes(chr(form_map[c]).lower().encode("latin-1")[0] if c < 128 else c for c in range(256))
    delete = bytes(c for c in range(128) if form_map[c] not in _ALNUM_SET)
    return table, delete


_SQUASH_PLAIN = _squash_table(bytes(range(256)))
_SQUASH_LEET_I = _squash_table(_LEET_I_BYTES)
# The same texts with every character the form changed as NUL (never in prepared text: a control character), to
# tell where a key found in the form lies (see Detector._leet_candidates); each deletes what its form deletes.
_MARK_LEET_I = (
    bytes(0 if c < 128 and _LEET_I_BYTES[c] != c else c for c in range(256)),
    _SQUASH_LEET_I[1],
)
_MARK_LEET_L = bytes(0 if c < 128 and _LEET_L_BYTES[c] != c else c for c in range(256))
_MARK_SQUASH = (bytes(range(256)), bytes(c for c in _SQUASH_PLAIN[1] if c != 0))
# Two hex digits, a separator of spaced hex, two hex digits (overlapping: a lookahead): the shape any run of spaced
# hex (normalize._HEX_SPACED) has around every point inside it.
_HEX_OR_SEPARATOR = frozenset("0123456789abcdefABCDEF :,-")
_PAIR_SEPARATOR_PAIR = re.compile(r"(?=[0-9A-Fa-f]{2}[ :,-][0-9A-Fa-f]{2})")
_CROSSED_MEMO_SIZE = 8192
_JUNCTION_CONTEXT = 64  # characters read either side of a junction at first (more when they hold few letters)


def _squashed_forms_of(piece: str) -> tuple[str, tuple[str, str, str]]:
    """A raw ASCII piece prepared, and the squashed text (lower case, separators removed) of its plain form and its
    two leetspeak forms (the camelCase form squashes to the plain form's text)."""
    prepared = _prepare(piece)
    raw = prepared.encode("ascii")
    leet_l = raw.translate(_LEET_L_BYTES).replace(b"rn", b"m").replace(b"vv", b"w")
    forms = (
        raw.translate(*_SQUASH_PLAIN).decode("ascii"),
        raw.translate(*_SQUASH_LEET_I).decode("ascii"),
        leet_l.translate(*_SQUASH_PLAIN).decode("ascii"),
    )
    return prepared, forms


_Side = tuple[str, tuple[str, ...], int, tuple[str, ...]]
"""One side of a junction: its last (left side) or first (right side) 5 prepared characters, the last or first
``longest key - 1`` characters of each squashed form, the length of the shortest squashed form, and the last or first
3 characters of each squashed form (all that :meth:`Detector._cut_at` reads)."""


def _side_reading(piece: str, leftward: bool, longest: int) -> _Side:
    """:func:`_squashed_forms_of` kept to a junction's side (the forms cut as bytes, then decoded)."""
    prepared = _prepare(piece)
    raw = prepared.encode("ascii")
    plain = raw.translate(*_SQUASH_PLAIN)
    leet = raw.translate(*_SQUASH_LEET_I)
    leet_l = raw.translate(_LEET_L_BYTES).replace(b"rn", b"m").replace(b"vv", b"w").translate(*_SQUASH_PLAIN)
    keep = max(longest - 1, 0)  # keys have at least 2 characters; a key across the junction has fewer either side
    shortest = min(len(plain), len(leet), len(leet_l))
    if leftward:
        return (
            prepared[-5:],
            (
                plain[max(0, len(plain) - keep) :].decode("ascii"),
                leet[max(0, len(leet) - keep) :].decode("ascii"),
                leet_l[max(0, len(leet_l) - keep) :].decode("ascii"),
            ),
            shortest,
            (plain[-3:].decode("ascii"), leet[-3:].decode("ascii"), leet_l[-3:].decode("ascii")),
        )
    return (
        prepared[:5],
        (plain[:keep].decode("ascii"), leet[:keep].decode("ascii"), leet_l[:keep].decode("ascii")),
        shortest,
        (plain[:3].decode("ascii"), leet[:3].decode("ascii"), leet_l[:3].decode("ascii")),
    )


def _side_reading_reference(piece: str, leftward: bool, longest: int) -> _Side:
    """:func:`_side_reading` from :func:`_squashed_forms_of` (what it is tested against)."""
    prepared, forms = _squashed_forms_of(piece)
    keep = max(longest - 1, 0)
    shortest = min(map(len, forms))
    if leftward:
        return prepared[-5:], tuple(f[max(0, len(f) - keep) :] for f in forms), shortest, tuple(f[-3:] for f in forms)
    return prepared[:5], tuple(f[:keep] for f in forms), shortest, tuple(f[:3] for f in forms)


# The sides of a request's junctions repeat (a field's tail meets the next field in each join), as do names.
_side_of = functools.lru_cache(maxsize=8192)(_side_reading)


def _value_edge_reading(piece: str, leftward: bool) -> tuple[str, tuple[str, str, str]] | None:
    """The end of one plain ASCII value next to a junction, read from the value alone (``piece``: the value, or its
    first or last ``_JUNCTION_CONTEXT`` characters): its prepared character next to the junction and the 3 characters
    of each squashed form next to it, which :func:`_side_reading` of the junction's side gives whatever the value's
    neighbours are; or None when they could change them. The plain and "i" leetspeak forms are per character, so only
    the value's own characters count once it has 3 squashed ones. The "l" form also reads "rn" and "vv" as m and w,
    left to right: a neighbour after the value can take at most its last character (a trailing "r" or odd "v"), and a
    neighbour before it only its leading run of "v" or a leading "n" (the reading is in step again after them)."""
    prepared = _prepare(piece)
    raw = prepared.encode("ascii")
    plain = raw.translate(*_SQUASH_PLAIN)
    leet = raw.translate(*_SQUASH_LEET_I)
    leet_l_raw = raw.translate(_LEET_L_BYTES)
    if leftward:
        skip = len(leet_l_raw) - len(leet_l_raw.lstrip(b"v")) or int(leet_l_raw[:1] == b"n")
        leet_l = leet_l_raw[skip:].replace(b"rn", b"m").replace(b"vv", b"w").translate(*_SQUASH_PLAIN)
        if len(plain) < 3 or len(leet) < 3 or len(leet_l) < 3:
            return None
        return prepared[-1], (plain[-3:].decode("ascii"), leet[-3:].decode("ascii"), leet_l[-3:].decode("ascii"))
    leet_l = leet_l_raw.replace(b"rn", b"m").replace(b"vv", b"w").translate(*_SQUASH_PLAIN)
    if len(plain) < 3 or len(leet) < 3 or len(leet_l) < 4:
        return None
    return prepared[0], (plain[:3].decode("ascii"), leet[:3].decode("ascii"), leet_l[:3].decode("ascii"))


# Values repeat within a request (each takes part in several joins) and across requests (names, first words).
_value_edge = functools.lru_cache(maxsize=8192)(_value_edge_reading)
_BASE64_CHARS = _BASE64_ALPHABET | {"="}
_BASE64_CHARS_TEXT = "".join(sorted(_BASE64_CHARS))
# The farthest a %, & or backslash can stand before a junction and begin what a decoder reads across it: a named
# HTML entity ("&" and up to 32 characters, then ";"), "\\u{10FFFF}", "%uXXXX".
_ESCAPE_REACH = 40


def _token_plain(joined: str, junction: int) -> bool:
    """Whether the token a join without separator forms at ``junction`` (the tokens either side merged) decodes to
    nothing (see :func:`_merged_token_plain`). Whitespace either side of the junction merges nothing: the token is
    one field's own. Nor does a junction no base64 run passes when no %, & or backslash stands close enough before
    it to begin an escape or entity that ends after it (``_ESCAPE_REACH``): the fields decode to nothing alone."""
    if not 0 < junction < len(joined) or joined[junction - 1].isspace() or joined[junction].isspace():
        return True
    if joined[junction - 1] not in _BASE64_CHARS or joined[junction] not in _BASE64_CHARS:
        near = joined[max(0, junction - _ESCAPE_REACH) : junction]
        if "%" not in near and "&" not in near and "\\" not in near:
            return True
    start, end = _token_start_at(joined, junction), _token_end(joined, junction)
    if end - start <= _JUNCTION_MEMO_MAX_CHARS:
        return _merged_token_plain_memo(joined[start:end], junction - start)
    return _merged_token_plain(joined[start:end], junction - start)


def _merged_token_plain(token: str, junction: int) -> bool:
    """Whether ``token`` (two tokens of plain fields merged at ``junction``) decodes to nothing. Without a %, & or
    backslash in it, only a base64 or hex candidate can decode, and one that does not pass the junction lies in one
    field, which decodes to nothing alone; so the token is decoded only when a run of base64 characters passes the
    junction and is long enough to be a candidate (8)."""
    if "%" not in token and "&" not in token and "\\" not in token:
        # the run of base64 characters through the junction, at most 8 characters either way: enough to tell a
        # candidate (stripped in C)
        back, ahead = token[max(0, junction - 8) : junction], token[junction : junction + 8]
        left = junction - (len(back) - len(back.rstrip(_BASE64_CHARS_TEXT)))
        right = junction + (len(ahead) - len(ahead.lstrip(_BASE64_CHARS_TEXT)))
        if junction in (left, right) or right - left < 8:
            return True
        if token.isascii() and not _CONTROLS.search(token):
            return _merged_ascii_token_plain(token, junction)
    return _decoded_plain(token) if len(token) <= _JUNCTION_MEMO_MAX_CHARS else len(decoded_layers(token)) == 1


def _merged_ascii_token_plain(token: str, junction: int) -> bool:
    """:func:`_merged_token_plain` of an ASCII token without controls, %, & or backslash: what ``decoded_layers``
    would find, read only where the merge can create it. Such a token is its own prepared text and only the base64
    and hex decoders apply to it. A base64 candidate that does not pass the junction is one of a field's alone (the
    pattern is read left to right and a token starts after whitespace, so the candidates before the junction and,
    after the one passing it, those beyond are the fields' own), and the fields decode to nothing alone; so the
    token decodes as base64 exactly when a candidate passing the junction does. Hex is decoded in full (cheap: a
    byte shape rules most tokens out)."""
    for match in _BASE64.finditer(token):
        if match.start() < junction < match.end() and _b64_token(match.group(0)) != match.group(0):
            return False
    decoded = _decode_hex(token)
    return decoded is None or decoded == token


# Merged tokens repeat: a name meets the same first word of the next field in call after call.
_merged_token_plain_memo = functools.lru_cache(maxsize=8192)(_merged_token_plain)


@functools.lru_cache(maxsize=4096)
def _decoded_plain(token: str) -> bool:
    return len(decoded_layers(token)) == 1


def _camel_points(prepared: str) -> tuple[set[str], set[str]]:
    """The letters either side of each camelCase point of an ASCII prepared text (a lower-case letter, then a capital):
    the capitals, lower-cased, and the lower-case letters. A key that is off the plain form's word boundaries and on the
    camelCase form's starts at such a capital or ends at such a lower-case letter: every other separator the camelCase
    form reads is one the plain form reads too (on ASCII text every character but a letter or digit separates words
    there), so an occurrence with neither would be on the plain form's boundaries."""
    shape = prepared.encode("ascii").translate(_CASE_SHAPE)
    starts: set[str] = set()
    ends: set[str] = set()
    point = shape.find(b"aA")
    while point >= 0:
        ends.add(prepared[point])
        starts.add(prepared[point + 1].lower())
        point = shape.find(b"aA", point + 1)
    return starts, ends


@functools.lru_cache(maxsize=4096)
def _layer_labels(text: str) -> tuple[str, ...]:
    """The labels of the decoded layers of one field (what :meth:`Detector._compute_hits` reports with its hits)."""
    return tuple(how for how, _ in decoded_layers(text, limit=MAX_INPUT_CHARS))


class Detector:
    """Compiled rules. Thread-safe and reusable: build once per policy, call :meth:`scan` per request."""

    def __init__(self, rules: Sequence[PatternRule]) -> None:
        ids = [rule.id for rule in rules]
        if len(ids) != len(set(ids)):
            raise ValueError("detection rule ids must be unique")
        if OVERSIZE_RULE_ID in ids:
            raise ValueError(f"{OVERSIZE_RULE_ID} is reserved")
        self._rules = tuple(rules)
        self._by_id = {rule.id: rule for rule in rules}
        self._aligned: dict[str, list[_Hit]] = {}
        self._substring: dict[str, list[_Hit]] = {}
        for rule in rules:
            for term in rule.terms:
                key = term_key(term)
                table = self._substring if _unspaced_script(key) else self._aligned
                hits = table.setdefault(key, [])
                if all(rule_id != rule.id for rule_id, _ in hits):  # one finding per rule and key
                    hits.append((rule.id, term))
        # Every key in one Aho-Corasick automaton (C speed): a match of an aligned key counts only when it
        # starts and ends on word boundaries of the squashed text; a substring key counts anywhere.
        self._automaton: WordMatcher[tuple[str, bool]] | None = None
        if self._aligned or self._substring:
            self._automaton = WordMatcher(
                [*((key, (key, False)) for key in self._aligned), *((key, (key, True)) for key in self._substring)]
            )
        self._substring_terms = tuple((key, tuple(hits)) for key, hits in self._substring.items())
        self._term_words: dict[str, int] = {}
        self._align_patterns: dict[str, re.Pattern[str]] = {}
        self._camel_patterns: dict[str, re.Pattern[str]] = {}
        # junction surroundings (squashed tails and heads) -> whether a key lies across
        self._crossed: dict[tuple[tuple[str, ...], tuple[str, ...]], bool] = {}
        # the 3 squashed characters either side of a junction, in each form -> whether some key's cut fits them
        self._cut_possible: dict[tuple[tuple[str, ...], tuple[str, ...]], bool] = {}
        # Every key cut in two at each point inside it, the halves either side of a NUL: such a word occurs in
        # "tail NUL head" exactly when the key occurs in tail + head across the point between them.
        self._across: WordMatcher[bool] | None = None
        if self._automaton is not None:
            keys = [*self._aligned, *self._substring]
            cut_words = [(f"{key[:cut]}\0{key[cut:]}", True) for key in keys for cut in range(1, len(key))]
            self._across = WordMatcher(cut_words) if cut_words else None
        # The same cuts seen close up: up to 3 characters before a cut -> the up to 3 characters after it. A key
        # across a junction shows one such pair at the junction, so a junction showing none needs no pass.
        cuts: dict[str, set[str]] = {}
        for key in [*self._aligned, *self._substring]:
            for cut in range(1, len(key)):
                cuts.setdefault(key[max(0, cut - 3) : cut], set()).add(key[cut : cut + 3])
        self._cut_pairs: dict[str, frozenset[str]] = {left: frozenset(rights) for left, rights in cuts.items()}
        self._hits_memo = functools.lru_cache(maxsize=4096)(self._compute_hits)
        # Form windows reach this many letters and digits either side of a changed token: twice the longest key,
        # since leetspeak reads two characters ("rn", "vv") as one.
        longest = max(map(len, [*self._aligned, *self._substring]), default=0)
        self._form_reach = 2 * longest
        self._longest_key = longest

    @property
    def rules(self) -> tuple[PatternRule, ...]:
        return self._rules

    # -- matching ---------------------------------------------------------------------------------

    def match_normalized(self, normalized: str) -> set[str]:
        """Term keys found in one normalized string (see the module docstring for the matching rule)."""
        found: set[str] = set()
        words = normalized.split()
        squashed = "".join(words)
        if self._automaton is None or not squashed:
            return found
        bounds = set(itertools.accumulate(map(len, words), initial=0))
        for end, (key, substring) in self._automaton.iter(squashed):
            if substring or (end + 1 in bounds and end + 1 - len(key) in bounds):
                found.add(key)
        return found

    def _aligned_in(self, normalized: str, key: str) -> bool:
        """Whether ``key`` equals a run of whole consecutive words of the canonical form ``normalized`` (words
        separated by single spaces): the key's characters with at most one space between neighbours, starting at
        the text's start or after a space and ending before a space or at the end. One compiled expression per
        key, built when the key is first found (a literal first character, so the search skips ahead in C)."""
        pattern = self._align_patterns.get(key)
        if pattern is None:
            body = "".join(" ?" + re.escape(c) for c in key[1:])
            pattern = re.compile(re.escape(key[0]) + "(?<![^ ].)" + body + "(?![^ ])", re.DOTALL)
            self._align_patterns[key] = pattern
        return pattern.search(normalized) is not None

    def _camel_aligned(self, prepared: str, key: str) -> bool:
        """``_aligned_in(_finish(_camel_split(prepared)), key)`` for an ASCII prepared text, read on the text itself:
        the key's letters in either case with any non-alphanumeric characters between (the separators the canonical
        form turns into one space or none), starting after a non-alphanumeric character, the text's start or a
        lower-case letter when it starts with a capital (a camelCase point, where the form puts a space), and
        ending likewise. One compiled expression per key, built when first needed. (A camelCase form equal to a
        text already read adds no key: each key it holds was recorded from that text.)"""
        pattern = self._camel_patterns.get(key)
        if pattern is None:

            def letter(c: str) -> str:
                return f"[{c}{c.upper()}]" if "a" <= c <= "z" else re.escape(c)

            body = "".join("[^A-Za-z0-9]*" + letter(c) for c in key[1:])
            start = "(?:(?<![A-Za-z0-9].)|(?<=[a-z][A-Z]))"
            end = "(?:(?![A-Za-z0-9])|(?<=[a-z])(?=[A-Z]))"
            pattern = re.compile(letter(key[0]) + start + body + end, re.DOTALL)
            self._camel_patterns[key] = pattern
        return pattern.search(prepared) is not None

    def _match_split(self, normalized: str) -> tuple[set[str], set[str]]:
        """(keys found in the canonical form ``normalized``, keys that occur in its squashed text but not on word
        boundaries): :meth:`match_normalized`, with each key found checked once by :meth:`_aligned_in` instead of
        working out every word boundary."""
        found: set[str] = set()
        unaligned: set[str] = set()
        squashed = normalized.replace(" ", "")
        if self._automaton is None or not squashed:
            return found, unaligned
        for _, (key, substring) in self._automaton.iter(squashed):
            if key in found or key in unaligned:
                continue
            if substring or self._aligned_in(normalized, key):
                found.add(key)
            else:
                unaligned.add(key)
        return found, unaligned

    def _match_finished(self, normalized: str) -> set[str]:
        """:meth:`match_normalized` of a canonical form (``normalize._finish`` output: words separated by single
        spaces, none at either end)."""
        return self._match_split(normalized)[0]

    def _form_windows(self, base: str, form: str) -> list[tuple[int, int]] | None:
        """Windows of the ASCII prepared text ``base`` that hold every key found in ``form`` but not in its plain
        form: each token holding a trigger of the form, plus at least twice the longest key in letters and digits
        either side, ending on whitespace (or the text's ends). None when the windows would cover most of the
        text (it is read in full instead)."""
        size = len(base)
        if size < _FORM_WINDOW_MIN_CHARS or size > MAX_NORMALIZED_CHARS // 2:  # short: the whole form is cheaper;
            return None  # long: camelCase splitting may grow it past the normalized bound
        reach = self._form_reach
        budget = _FORM_WINDOW_MAX_SHARE * size
        most = budget / max(reach, 1)  # more triggers than this: the windows would cover most of the text
        if _trigger_runs(base, form) - 1 >= most:
            return None
        windows: list[tuple[int, int]] = []
        covered = 0
        for match in _FORM_TRIGGERS[form].finditer(base):
            # the token's start, then back over `reach` letters and digits, then back to whitespace
            left = _token_start_at(base, match.start())
            left = _token_start_at(base, _alnum_back(base, left, reach))
            right = _token_end(base, match.end())
            right = _token_end(base, _alnum_ahead(base, right, reach))
            if windows and left <= windows[-1][1]:
                previous = windows[-1]
                covered += max(0, right - previous[1])
                windows[-1] = (previous[0], max(previous[1], right))
            else:
                covered += right - left
                windows.append((left, right))
            if covered > budget:
                return None
        return windows

    def occurrences(self, normalized: str) -> list[tuple[str, int, int]]:
        """``[(term key, index of its first word, words spanned)]`` in one normalized string (aligned terms
        only), in text
        order: where a term sits tells an instruction ("delete the bucket") from a mention ("why does
        DELETE /orders fail")."""
        words = normalized.split()
        squashed = "".join(words)
        if self._automaton is None or not squashed:
            return []
        index = {start: i for i, start in enumerate(itertools.accumulate(map(len, words), initial=0))}
        out: list[tuple[str, int, int]] = []
        for end, (key, substring) in self._automaton.iter(squashed):
            if substring:
                continue
            first, after = index.get(end + 1 - len(key)), index.get(end + 1)
            if first is not None and after is not None:
                out.append((key, first, after - first))
        out.sort(key=lambda o: (o[1], o[2]))
        return out

    def substring_terms(self) -> tuple[tuple[str, tuple[_Hit, ...]], ...]:
        """The terms matched as substrings (scripts without spaces: never ASCII), with their hits."""
        return self._substring_terms

    def term_words(self, term: str) -> int:
        """How many words a term has once normalized ("drop table" -> 2)."""
        words = self._term_words.get(term)
        if words is None:
            words = self._term_words[term] = len(normalize(term).split())  # (bounded: the rules' terms)
        return words

    def hits_for_key(self, key: str) -> tuple[_Hit, ...]:
        return tuple(self._aligned.get(key) or self._substring.get(key) or ())

    def rule(self, rule_id: str) -> PatternRule:
        return self._by_id[rule_id]

    def _hits(self, text: str, limit: int, memo: Memo | None = None) -> _Scan:
        """(rule id, term) -> how it was read, for one raw text and all its variants, with the labels of its
        decoded layers. Pure, so texts up to 8 KB are memoised (bounded), and any text within one request
        when the caller passes a ``memo``: a request's fields are scanned alone and again inside its joins."""
        if memo is not None:
            cached = memo.get((text, limit))
            if cached is None:
                cached = memo[(text, limit)] = self._hits(text, limit)
            return cached
        if len(text) <= _MEMO_MAX_CHARS:
            return self._hits_memo(text, limit)
        return self._compute_hits(text, limit)

    def _compute_hits(self, text: str, limit: int) -> _Scan:
        """Every layer in every form, as :meth:`_compute_hits_reference` reads them, with two shortcuts on ASCII text.

        - The camelCase form is not read on its own: splitting camelCase only adds word boundaries (the squashed
          text is the plain form's), so the keys it finds are the plain form's keys plus those of its squashed
          occurrences that are off the plain form's boundaries and on the camelCase form's (checked per key).
          Recorded after the leetspeak forms, in the reference's order.
        - The leetspeak forms of a long text are read only in windows around the tokens they change (see
          :meth:`_form_windows`). Exact: such a form differs from the plain form only inside those tokens (a
          per-character map, plus "rn"/"vv" that never cross whitespace), a changed token keeps at least one word
          in the form, and a key found only in the form holds a word of a changed token and at most the longest
          key's length of other words, all inside the window; a key also found in the plain form was recorded
          there first (``setdefault``)."""
        hits: dict[_Hit, str] = {}
        seen: set[str] = set()
        layers = decoded_layers(text, limit=limit)
        for how, layer in layers:  # normalize.tagged_variants, inlined to keep the layer labels
            prepared = _prepare(layer)
            windowable = prepared.isascii()
            fold_camel = windowable and 2 * len(prepared) <= MAX_NORMALIZED_CHARS
            sources = form_sources(layer, prepared, camel=not fold_camel, leet=False)
            unaligned: set[str] = set()
            plain_found: set[str] = set()
            for form, source in sources:
                windows = self._form_windows(prepared, form) if windowable and form in _FORM_OF else None
                if windows is None:
                    if fold_camel and form in _LEET_FORMS:  # what it can add lies on a character it changed
                        candidates = self._leet_candidates(prepared, form, plain_found)
                        if not candidates:
                            continue
                        normalized = _finish(_FORM_OF[form](prepared) if source is None else source)
                        if normalized in seen:
                            continue
                        found = {key for key in candidates if self._aligned_in(normalized, key)}
                    else:
                        normalized = _finish(_FORM_OF[form](prepared) if source is None else source)
                        if not form and fold_camel:  # also when seen: the leetspeak and camelCase forms need it
                            found, unaligned = self._match_split(normalized)
                            plain_found = found
                            if normalized in seen:
                                continue
                        elif normalized in seen:
                            continue
                        else:
                            found = self._match_finished(normalized)
                    seen.add(normalized)
                else:
                    found = set()
                    for left, right in windows:
                        found |= self._match_finished(_finish(_FORM_OF[form](prepared[left:right])))
                self._record(hits, found, f"{how}+{form}" if form else how)
            if unaligned and has_camel(prepared):  # read on the prepared text, without building the form
                starts, ends = _camel_points(prepared)
                self._record(
                    hits,
                    {
                        key
                        for key in unaligned
                        if (key[0] in starts or key[-1] in ends) and self._camel_aligned(prepared, key)
                    },
                    f"{how}+camel",
                )
        return MappingProxyType(hits), tuple(how for how, _ in layers)

    def _leet_candidates(self, prepared: str, form: str, found: Collection[str]) -> set[str]:
        """Keys not in ``found`` (the plain form's) that occur in the squashed ``form`` ("leet" or "leet-l") of a
        prepared ASCII text on at least one character the form changed (a leetspeak character read as a letter, or
        "rn"/"vv" read as m/w). Only those can be found in the form and not in the plain form: an occurrence on
        unchanged characters only is one in the plain form too (the same letters and digits in the same order,
        separated by what the plain form also drops), and on its word boundaries there too (the form only turns
        separators into letters, so it has no boundary the plain form lacks)."""
        raw = prepared.encode("ascii")
        if form == "leet":
            squashed = raw.translate(*_SQUASH_LEET_I)
            marks = raw.translate(*_MARK_LEET_I)
        else:
            squashed = raw.translate(_LEET_L_BYTES).replace(b"rn", b"m").replace(b"vv", b"w").translate(*_SQUASH_PLAIN)
            marks = raw.translate(_MARK_LEET_L).replace(b"rn", b"\0").replace(b"vv", b"\0").translate(*_MARK_SQUASH)
        candidates: set[str] = set()
        if self._automaton is None or 0 not in marks:
            return candidates
        for end, (key, _) in self._automaton.iter(squashed.decode("ascii")):
            if key not in found and key not in candidates and 0 in marks[end + 1 - len(key) : end + 1]:
                candidates.add(key)
        return candidates

    def _record(self, hits: dict[_Hit, str], found: Iterable[str], via: str) -> None:
        for key in found:
            for hit in self._aligned.get(key) or self._substring.get(key) or ():
                hits.setdefault(hit, via)

    def _compute_hits_reference(self, text: str, limit: int) -> _Scan:
        """:meth:`_compute_hits` without any fast path: every layer in every form read in full, normalized and
        matched by the reference functions (what the fast paths are tested against)."""
        hits: dict[_Hit, str] = {}
        seen: set[str] = set()
        layers = decoded_layers(text, limit=limit)
        for how, layer in layers:
            for form, normalized in normalized_forms_reference(layer):
                if normalized in seen:
                    continue
                seen.add(normalized)
                via = f"{how}+{form}" if form else how
                for key in self.match_normalized(normalized):
                    for hit in self._aligned.get(key) or self._substring.get(key) or ():
                        hits.setdefault(hit, via)
        return MappingProxyType(hits), tuple(how for how, _ in layers)

    def _side(self, joined: str, start: int, end: int, leftward: bool) -> _Side:
        """One side of a junction (``joined[start:end]``, read outward from the junction far enough to hold more than
        the longest key's length in every form, or to the text's end): its prepared characters next to the
        junction and the squashed forms' characters next to it."""
        need = self._longest_key
        reach = _JUNCTION_CONTEXT
        while True:
            piece = joined[max(start, end - reach) : end] if leftward else joined[start : min(end, start + reach)]
            side = (
                _side_of(piece, leftward, need)
                if len(piece) <= _JUNCTION_MEMO_MAX_CHARS
                else _side_reading(piece, leftward, need)
            )
            if side[2] > need or reach >= end - start:
                return side
            reach *= 4

    def _junction_clear(self, joined: str, junction: int, after: int) -> bool:
        """True when no key can touch the junction of a join of plain ASCII fields (``joined[:junction]``, then the
        separator, then ``joined[after:]``), so the join finds nothing its fields do not find alone. A key found
        only in the join lies across a junction (its fields' tokens, forms and boundaries are their own elsewhere),
        so this holds when, in every form, no key occurs in the squashed text across the junction (the last and
        first ``longest key - 1`` characters either side, word boundaries ignored: a superset), and the join creates
        nothing a decoder reads: the merged token at a junction without separator decodes to nothing, no spaced hex
        run passes the junction, and no "rn"/"vv" (read as m/w in the "l" leetspeak form) is formed across it.
        False means: read the junction's window as before."""
        left_chars, tails, _, left_edges = self._side(joined, 0, junction, leftward=True)
        right_chars, heads, _, right_edges = self._side(joined, after, len(joined), leftward=False)
        if not left_chars or not right_chars:
            return True
        if left_chars[-1] in _HEX_OR_SEPARATOR and right_chars[0] in _HEX_OR_SEPARATOR:
            region = left_chars + joined[junction:after] + right_chars
            split = len(left_chars)
            for match in _PAIR_SEPARATOR_PAIR.finditer(region):
                if match.start() < split and match.start() + 5 > split + (after - junction):
                    return False
        if after == junction:  # no separator: the tokens either side are one token in the join
            if (left_chars[-1] + right_chars[0]).encode("ascii").translate(_LEET_L_BYTES) in (b"rn", b"vv"):
                return False
            if not _token_plain(joined, junction):
                return False
        # The cut test on the 3 characters either side of the junction (which repeat far more than the tails and
        # heads, and reject nearly every junction), then the pass of the cut keys over the whole surroundings.
        if not self._cut_fits(left_edges, right_edges):
            return True
        around = (tails, heads)
        crossed = self._crossed.get(around)
        if crossed is None:
            crossed = self._crossing(tails, heads)
            if len(self._crossed) >= _CROSSED_MEMO_SIZE:
                self._crossed.clear()
            self._crossed[around] = crossed
        return not crossed

    def _cut_fits(self, left_edges: tuple[str, ...], right_edges: tuple[str, ...]) -> bool:
        """Whether, in some form, the 3 squashed characters either side of a junction are those either side of a cut of
        some key (:meth:`_cut_at`, memoised)."""
        edges = (left_edges, right_edges)
        cut = self._cut_possible.get(edges)
        if cut is None:
            pairs = zip(left_edges, right_edges, strict=True)
            cut = any(self._cut_at(tail, head) for tail, head in pairs if tail and head)
            if len(self._cut_possible) >= _CROSSED_MEMO_SIZE:
                self._cut_possible.clear()
            self._cut_possible[edges] = cut
        return cut

    def _junction_clear_between(self, joined: str, junction: int, after: int, left: str, right: str) -> bool:
        """:meth:`_junction_clear` of the junction between the values ``left`` (``joined[:junction]`` ends with it)
        and ``right`` (``joined[after:]`` starts with it), with each side read from its value alone (memoised per
        value, :func:`_value_edge_reading`) instead of from the joined text. :meth:`_junction_clear` itself decides
        when a value's neighbours could change what it reads, when a spaced hex run could pass the junction, and when
        a key's cut fits it (a window may have to be read)."""
        context = _JUNCTION_CONTEXT
        tail = _value_edge(left if len(left) <= context else left[-context:], True)
        head = _value_edge(right if len(right) <= context else right[:context], False)
        if tail is None or head is None:
            return self._junction_clear(joined, junction, after)
        last, left_edges = tail
        first, right_edges = head
        if last in _HEX_OR_SEPARATOR and first in _HEX_OR_SEPARATOR:
            return self._junction_clear(joined, junction, after)
        if after == junction:  # no separator: the tokens either side are one token in the join
            if (last + first).encode("ascii").translate(_LEET_L_BYTES) in (b"rn", b"vv"):
                return False
            if not _token_plain(joined, junction):
                return False
        return not self._cut_fits(left_edges, right_edges) or self._junction_clear(joined, junction, after)

    def _crossing(self, tails: Sequence[str], heads: Sequence[str]) -> bool:
        """Whether, in some form, a key occurs in its tail + head across the point between them: one pass of the cut
        keys over every form's "tail NUL head", the forms kept apart (what :meth:`_key_across` finds form by form,
        without a Python step per key found inside one side)."""
        pairs = [pair for pair in dict.fromkeys(zip(tails, heads, strict=True)) if pair[0] and pair[1]]
        if not any(self._cut_at(tail, head) for tail, head in pairs):
            return False
        text = "\1".join(f"{tail}\0{head}" for tail, head in pairs)  # forms that read a junction alike, once
        return self._across is not None and self._across.found_in(text)

    def _cut_at(self, tail: str, head: str) -> bool:
        """Whether the last 1-3 characters of ``tail`` and the first 1-3 of ``head`` are those either side of a cut
        of some key (:meth:`_crossing`'s test before its pass: a key ``k`` across the point between them, cut after
        ``i`` characters, shows ``k[i-3:i]`` (or all of ``k[:i]``) before it and ``k[i:i+3]`` (or all of the rest)
        after it)."""
        starts = (head[:1], head[:2], head[:3])
        for size in (1, 2, 3):
            rights = self._cut_pairs.get(tail[-size:])
            if rights is not None and not rights.isdisjoint(starts):
                return True
        return False

    def _key_across(self, left: str, right: str) -> bool:
        """Whether a key occurs in ``left + right`` across the point between them (what :meth:`_crossing` is tested
        against)."""
        split = len(left)
        if self._automaton is None:
            return False
        return any(end + 1 - len(key) < split <= end for end, (key, _) in self._automaton.iter(left + right))

    def _open_junctions(self, joined: str, values: Sequence[str], separator: str) -> Iterator[tuple[int, int]]:
        """``(junction, after)`` of each junction of ``joined`` (the plain values joined by ``separator``) that a key
        or a decoder could touch (:meth:`_junction_clear_between`), in order; none when there are no keys."""
        if self._automaton is None:
            return
        position = 0
        for index in range(len(values) - 1):
            value = values[index]
            position += len(value)
            junction = position
            position += len(separator)
            if not self._junction_clear_between(joined, junction, position, value, values[index + 1]):
                yield junction, position

    def _joined_hits(self, values: Sequence[str], separator: str, plain: bool, memo: Memo | None) -> Mapping[_Hit, str]:
        """The hits of the fields joined by ``separator``. When every field is plain ASCII text (no decoded
        layer alone), a hit of the joined text that no field has alone must touch a junction (every decoder
        that applies to ASCII substitutes in place, normalization is per character, and a window ends on
        whitespace, a word boundary in every form), so junctions no key can touch are skipped
        (:meth:`_junction_clear`) and only windows around the others are scanned: the token at the junction plus
        enough word characters either side for any term. A %, & or backslash in a field does not prevent it
        (issue 21): a field with no decoded layer holds no URL escape, entity or backslash escape, and one that
        the join creates holds no whitespace, so it lies in the junction's token. Anything else (and a window
        whose decoding reaches a right-to-left override) scans the whole joined text, as before."""
        joined = separator.join(values)[:MAX_JOINED_CHARS]
        if not plain:
            return self._hits(joined, MAX_JOINED_CHARS, memo)[0]
        windows: list[list[int]] = []
        for junction, after in self._open_junctions(joined, values, separator):
            left = junction - _reach_back(joined, junction)
            right = after + _reach(joined, after)
            if windows and left <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], right)
            else:
                windows.append([left, right])
        if len(windows) == 1 and windows[0] == [0, len(joined)]:
            return self._hits(joined, MAX_JOINED_CHARS, memo)[0]
        out: dict[_Hit, str] = {}
        for left, right in windows:
            hits, labels = self._hits(joined[left:right], MAX_JOINED_CHARS, memo)
            if any("rtl" in label for label in labels):
                return self._hits(joined, MAX_JOINED_CHARS, memo)[0]
            for hit, via in hits.items():
                out.setdefault(hit, via)
        return out

    def _finding(self, hit: _Hit, field: str, via: str) -> Finding:
        rule = self._by_id[hit[0]]
        return Finding(rule_id=rule.id, kind=rule.kind, effect=rule.effect, term=hit[1], field=field[:256], via=via)

    # -- public API -------------------------------------------------------------------------------

    def scan(
        self,
        fields: Mapping[str, str],
        *,
        identifier_fields: Collection[str] = (),
        memo: Memo | None = None,
        inert: Collection[str] = (),
    ) -> list[Finding]:
        """Findings for a request's text fields, deduplicated and ordered (deny first).

        Each field is scanned alone (identifier fields excepted, see the module docstring), then all
        fields joined with a space and with nothing in between (each field once plus windows around the
        junctions when the text allows it, see :meth:`_joined_hits`). Oversize input adds an
        ``input.oversize`` deny finding. Never raises on any string content. ``memo``: a dict shared by the
        scans of one request, so a field that appears in several scans is read once.

        ``inert``: names of fields whose own findings the caller ignores (a read's data fields, see
        ``policy.inert_on_read``). Their findings are left out, and such a field is read alone only when its hits
        are needed: a hit it holds is not reported again for a later field or a join, so it is read (in field
        order, before them) as soon as a later field or a join has any hit. Every other finding is the one the
        scan without ``inert`` gives. They still take part in the joins, and their oversize findings stay.
        """
        findings: list[Finding] = []
        items = list(fields.items())
        if len(items) > MAX_FIELDS:
            findings.append(_oversize("<fields>"))
            items = items[:MAX_FIELDS]
        identifiers = frozenset(identifier_fields)
        reported: set[_Hit] = set()
        explained: set[_Hit] = set()
        values: list[str] = []
        held: list[tuple[str, str]] = []  # inert fields not read yet, in field order
        plain = True
        for name, raw in items:
            value = raw if isinstance(raw, str) else str(raw)
            if len(value) > MAX_INPUT_CHARS:
                findings.append(_oversize(str(name)))
                value = value[:MAX_INPUT_CHARS]
            values.append(value)
            if name in inert:
                plain = plain and value.isascii() and self._layer_labels(value, memo) == ("plain",)
                held.append((str(name), value))
                continue
            hits, labels = self._hits(value, MAX_INPUT_CHARS, memo)
            plain = plain and labels == ("plain",) and value.isascii()
            if hits and held:
                self._read_held(held, identifiers, reported, explained, memo)
            self._take(hits, str(name), value, identifiers, reported, explained, findings)
        if len(values) > 1:
            if sum(len(v) for v in values) + len(values) > MAX_JOINED_CHARS:
                findings.append(_oversize(JOINED_FIELD))
                plain = False
            for separator in (" ", ""):
                joined = self._joined_hits(values, separator, plain, memo)
                if joined and held:
                    self._read_held(held, identifiers, reported, explained, memo)
                for hit, via in joined.items():
                    if hit not in reported and hit not in explained:
                        reported.add(hit)
                        findings.append(self._finding(hit, JOINED_FIELD, f"joined:{via}"))
        findings.sort(key=finding_order)
        return findings

    def quiet(self, fields: Mapping[str, str], *, memo: Memo, inert: Collection[str] = ()) -> bool:
        """Whether :meth:`scan` of ``fields`` (with the same ``memo`` and ``inert``) finds nothing, told without
        building its findings: every field plain ASCII text within bounds, no field that is not inert with a hit
        (an inert field is read only when another field or a join has one), and every junction of both joins clear
        (:meth:`_junction_clear`: the joins then read no window). False when any of it fails, or cannot be told."""
        if self._automaton is None or len(fields) > MAX_FIELDS:
            return False
        values: list[str] = []
        for name, value in fields.items():
            if not isinstance(value, str) or len(value) > MAX_INPUT_CHARS or not value.isascii():
                return False
            if name in inert:
                if self._layer_labels(value, memo) != ("plain",):
                    return False
            else:
                hits, labels = self._hits(value, MAX_INPUT_CHARS, memo)
                if hits or labels != ("plain",):
                    return False
            values.append(value)
        if len(values) < 2:
            return True
        if sum(map(len, values)) + len(values) > MAX_JOINED_CHARS:
            return False
        for separator in (" ", ""):
            if next(self._open_junctions(separator.join(values), values, separator), None) is not None:
                return False
        return True

    def _take(
        self,
        hits: Mapping[_Hit, str],
        name: str,
        value: str,
        identifiers: frozenset[str],
        reported: set[_Hit],
        explained: set[_Hit],
        findings: list[Finding] | None,
    ) -> None:
        """Record one field's hits: an identifier's non-chaining hits as explained, the others as reported (with a
        finding, unless ``findings`` is None: an inert field's)."""
        if not hits:
            return
        as_identifier = _is_identifier(name, identifiers) and not _PROSE.search(value)
        for hit, via in hits.items():
            if as_identifier and self._by_id[hit[0]].kind != "chaining":
                explained.add(hit)
            elif hit not in reported:
                reported.add(hit)
                if findings is not None:
                    findings.append(self._finding(hit, name, via))

    def _read_held(
        self,
        held: list[tuple[str, str]],
        identifiers: frozenset[str],
        reported: set[_Hit],
        explained: set[_Hit],
        memo: Memo | None,
    ) -> None:
        """Read the inert fields held back, in field order, recording their hits without findings (what reading
        them in their turn records: a field with no hit records nothing, so reading one later changes nothing)."""
        for name, value in held:
            self._take(self._hits(value, MAX_INPUT_CHARS, memo)[0], name, value, identifiers, reported, explained, None)
        held.clear()

    def _layer_labels(self, text: str, memo: Memo | None) -> tuple[str, ...]:
        """The labels of a text's decoded layers (``_hits(text)[1]``), without reading its forms when its hits are
        not known yet."""
        if memo is not None:
            known = memo.get((text, MAX_INPUT_CHARS))
            if known is not None:
                return known[1]
        if len(text) <= _MEMO_MAX_CHARS:
            return _layer_labels(text)
        return _layer_labels.__wrapped__(text)

    def scan_text(self, text: str) -> list[Finding]:
        """Findings for one free-text string (reported with field ``"text"``)."""
        return self.scan({"text": text})


def worst_effect(findings: Iterable[Finding]) -> Effect | None:
    """``"deny"`` if any finding denies, else ``"review"`` if any asks for review, else ``None``."""
    effects = {f.effect for f in findings}
    if "deny" in effects:
        return "deny"
    if "review" in effects:
        return "review"
    return None


def flatten_fields(parameters: Mapping[str, Any], *, max_depth: int = 6, max_items: int = MAX_FIELDS) -> dict[str, str]:
    """Every scalar in nested JSON-like parameters as ``{"a.b[0].c": "value"}`` (strings, numbers, bools).

    Bounded in depth and item count; a value beyond the bounds is replaced by an entry whose name ends in
    ``"<truncated>"`` so that :meth:`Detector.scan` sees more than ``MAX_FIELDS`` fields and flags it.
    """
    out: dict[str, str] = {}

    def walk(value: Any, name: str, depth: int) -> None:
        if len(out) > max_items:
            return
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, bytes | bytearray):
            out[name] = bytes(value).decode("utf-8", "replace")
        elif isinstance(value, bool | int | float):
            out[name] = str(value)
        elif depth >= max_depth:
            out[f"{name}.<truncated>"] = ""
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{name}.{key}" if name else str(key), depth + 1)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{name}[{index}]", depth + 1)

    walk(parameters, "", 0)
    if len(out) > max_items:
        out = dict(list(out.items())[: max_items + 1])
    return out


# --- the default rules -------------------------------------------------------------------------------
# Curated against tests/corpora: every adversarial case is caught, benign false positives stay <= 1%.
# Single words match whole words only, so "deleted", "removed", "dropped", "killed", "terminated",
# "disabled" and "information" never match. Words that are common nouns in SRE work ("drop" in traffic,
# "shutdown" of a service, "format" of a log line, "next" page, "loop" in a consumer) are listed only
# as phrases that carry the dangerous meaning.

_DESTRUCTIVE_VERBS = (
    "delete", "deleting", "deletion", "remove", "removing", "terminate", "terminating", "destroy",
    "destroying", "drop the", "drop all", "drop it", "drop them", "drop every", "drop each", "purge",
    "purging", "wipe", "wiping", "truncate", "truncating", "erase", "erasing", "shred", "shredding",
    "kill", "nuke", "nuking", "obliterate", "annihilate", "eliminate", "expunge", "overwrite",
    "overwriting", "disable", "detach", "revoke", "shut down the", "shut down all", "shut it down",
    "shut them down", "tear down", "decommission",
    "deregister", "uninstall", "unlink", "rm", "rmdir", "empty the bucket", "empty bucket",
    "empty the table", "clear all", "clear out", "format the disk", "format the drive",
    "format the volume", "reformat", "stop all", "stop the instance", "stop the instances",
    "stop instances", "get rid of", "getting rid of", "make it empty", "make the bucket empty",
    "clean out", "clean up all", "throw away", "zap",
)  # fmt: skip

_DESTRUCTIVE_VERBS_I18N = (
    # es
    "borrar", "borra", "borre", "bórralo", "bórrala", "bórralos", "bórralas", "eliminar", "elimina",
    "elimine", "elimínalo", "elimínala", "elimínalos", "elimínalas", "destruir", "destruye",
    "destrúyelo", "destrúyelos", "suprimir", "suprime", "vaciar", "vacía",
    # fr
    "supprimer", "supprime", "supprimez", "effacer", "efface", "effacez", "détruire", "détruis",
    "détruisez", "vider", "videz",
    # de
    "löschen", "lösche", "löscht", "entfernen", "entferne", "zerstören", "zerstöre", "vernichten",
    "vernichte", "leeren",
    # it
    "cancellare", "cancella", "cancellate", "eliminare", "distruggere", "distruggi", "rimuovere",
    "rimuovi", "svuotare", "svuota",
    # pt
    "apagar", "apague", "apaga", "excluir", "exclua", "exclui", "deletar", "remover",
    "remova", "destrua",
    # nl
    "verwijderen", "verwijder", "wissen", "vernietigen", "vernietig",
    # pl
    "usunąć", "usuń", "usuwać", "skasuj", "skasować", "zniszcz", "zniszczyć", "wymaż",
    # ru, uk
    "удалить", "удали", "удалите", "уничтожить", "уничтожь", "стереть", "сотри", "очистить",
    "видалити", "видали",
    # sv, da, no, cs
    "radera", "slette", "smazat", "smaž",
    # zh, ja, ko
    "删除", "删掉", "销毁", "清空", "移除", "削除", "消去", "破棄", "삭제", "제거",
)  # fmt: skip

_DESTRUCTIVE_COMMANDS = (
    "rm -rf", "rm -fr", "rm -r", "no-preserve-root", "drop table", "drop database", "drop schema",
    "drop collection", "truncate table", "delete from", "delete all", "delete everything",
    "remove all", "remove everything", "destroy all", "destroy everything", "wipe all",
    "wipe everything", "purge all", "purge everything", "terminate all", "terminate every",
    "kill all", "nuke all", "nuke everything", "erase all", "erase everything",
    "force delete", "force destroy", "format c:", "mkfs", "dd if=/dev", "s3 rb", "s3 rm",
)  # fmt: skip

_SECURITY_TAMPERING = (
    "disable logging", "stop logging", "disable cloudtrail", "stop cloudtrail", "delete trail",
    "disable mfa", "deactivate mfa", "create access key", "attach policy",
    "attach-role-policy", "attach-user-policy", "put bucket policy",
    "put bucket acl", "make public", "make it public", "make the bucket public", "public-read-write",
    "grant public", "administrator access", "escalate privileges",
    "privilege escalation",
)  # fmt: skip

_SECRET_HUNTING = (
    "search for passwords", "search for password", "look for passwords", "find passwords",
    "find all passwords", "grep for passwords", "grep password", "scan for secrets",
    "search for secrets", "find secrets", "look for secrets", "search for credentials",
    "find credentials", "look for credentials", "harvest credentials", "dump credentials",
    "dump secrets", "extract credentials", "extract secrets", "extract passwords",
    "search for api keys", "find api keys", "search for tokens", "aws_secret_access_key",
    "private keys",
    # es, fr, de, it, pt, nl, ru, zh, ja
    "contraseñas", "mots de passe", "passwörter", "kennwörter", "password di", "senhas", "wachtwoorden",
    "пароли", "密码", "パスワード",
)  # fmt: skip

_EXFILTRATION = (
    "exfiltrate", "exfiltrating", "exfiltration", "exfil", "pastebin", "ngrok", "requestbin",
    "webhook.site", "transfer.sh", "interactsh", "burpcollaborator", "send them to", "send it all to",
    "send everything to", "upload them to", "upload everything to", "post them to", "email them to",
    "forward them to", "copy them to", "copy everything to", "to my server", "to an external",
    "external server",
)  # fmt: skip

_PROMPT_INJECTION = (
    "ignore previous instructions", "ignore all previous instructions", "ignore prior instructions",
    "ignore the previous instructions", "ignore your instructions", "ignore all instructions",
    "ignore the above", "disregard previous instructions", "disregard all previous",
    "disregard the above", "forget your instructions", "forget previous instructions",
    "system prompt", "developer mode", "jailbreak", "do anything now", "bypass the gateway",
    "bypass the policy", "bypass security", "bypass the filter", "bypass approval", "skip approval",
    "without approval", "without review", "no approval needed", "do not log", "don't log",
    "disable audit", "disable the audit", "turn off logging", "override the policy", "override policy",
    "admin override", "no longer apply", "no longer applies", "rules above", "instructions above",
    "previous rules", "new instructions", "you are now", "act as an admin", "pretend you are",
    "as an unrestricted", "without restrictions", "ignore the rules", "ignore the policy",
    "ignore your rules", "ignore the guardrails", "forget the rules", "disregard the rules",
)  # fmt: skip

_SEQUENCING = (
    "then", "and then", "after that", "afterwards", "afterward", "after which",
    "thereafter", "subsequently", "next step", "in the next step", "once done",
    "once that is done", "once finished", "when done", "when finished", "when that is done",
    "and finally", "step 2", "step two", "second step", "and also",
    # es, fr, de, it, pt, nl, pl, ru
    "luego", "y luego", "después", "después de eso", "entonces", "ensuite", "puis", "et puis",
    "après cela", "après ça", "danach", "dann", "und dann", "anschließend", "poi", "e poi", "dopo di che",
    "quindi", "depois", "em seguida", "e depois", "daarna", "vervolgens", "następnie", "potem",
    "затем", "потом", "после этого",
    # zh, ja, ko
    "然后", "之后", "接着", "随后", "その後", "次に", "それから", "그 다음", "그리고 나서",
)  # fmt: skip

_ITERATION = (
    "for each", "for every", "for all of", "each of them", "each of these", "each one",
    "every one of", "one by one", "one at a time", "loop through", "loop over", "loop across",
    "in a loop", "iterate", "iterate over", "iterate through", "iterating", "repeat for",
    "repeat this", "repeat the same", "repeat that", "do the same for", "same for all",
    "same for every", "recursively", "xargs", "while true",
    # es, fr, de, it, pt, nl, pl, ru
    "para cada", "por cada", "uno por uno", "pour chaque", "un par un", "für jeden", "für jede",
    "für jedes", "per ogni", "uno per uno", "um por um", "voor elke", "voor elk", "één voor één",
    "dla każdego", "dla każdej", "po kolei", "для каждого", "для каждой", "по одному",
    # zh, ja, ko
    "每个", "每一个", "逐个", "遍历", "依次", "それぞれ", "一つずつ", "각각",
)  # fmt: skip

_FAN_OUT = (
    "every bucket", "each bucket", "in all buckets", "across all buckets", "from all buckets",
    "of all buckets", "through all buckets", "to all buckets", "all of the buckets", "every object",
    "each object", "every file", "each file", "every key", "each key", "every log group",
    "each log group", "every log stream", "each log stream", "every instance", "each instance",
    "every table", "each table", "every account", "each account", "download all",
    "download everything", "download every", "download each", "download the entire",
    "download the whole", "dump all", "dump everything", "dump the entire", "dump the whole",
    "copy all", "copy everything", "export all", "export everything", "grab all", "grab everything",
    "s3 sync", "entire bucket", "whole bucket", "all the buckets", "contents of all", "fetch everything",
    "read everything", "get everything", "one after another", "one after the other", "bucket after bucket",
    # es, fr, de, it, pt, nl, pl, ru, zh, ja, ko
    "cada bucket", "todos los buckets", "todos los objetos", "chaque bucket", "chaque objet",
    "tous les buckets", "tous les objets", "jeden bucket", "alle buckets", "alle objekte", "ogni bucket",
    "ogni oggetto", "tutti i bucket", "tutti gli oggetti", "todos os buckets", "todos os objetos",
    "elke bucket", "alle objecten", "każdy bucket", "wszystkie obiekty", "все бакеты", "все объекты",
    "каждый бакет", "所有存储桶", "所有对象", "每个对象", "每个存储桶", "すべてのバケット", "すべてのオブジェクト",
    "모든 버킷", "모든 객체",
)  # fmt: skip

DEFAULT_RULES: tuple[PatternRule, ...] = (
    PatternRule(
        id="chain.sequencing",
        kind="chaining",
        effect="deny",
        terms=_SEQUENCING,
        description='Multi-step requests ("then", "after that"): one explicit request per action.',
    ),
    PatternRule(
        id="chain.iteration",
        kind="chaining",
        effect="deny",
        terms=_ITERATION,
        description='Loops over resources ("for each", "loop through", "one by one", "recursively").',
    ),
    PatternRule(
        id="chain.fan-out",
        kind="chaining",
        effect="deny",
        terms=_FAN_OUT,
        description='Bulk reads across resources ("every bucket", "download all", "dump everything").',
    ),
    PatternRule(
        id="deny.destructive-commands",
        kind="pattern",
        effect="deny",
        terms=_DESTRUCTIVE_COMMANDS,
        description="Shell, SQL and bulk-destruction commands that no read-only request needs.",
    ),
    PatternRule(
        id="deny.exfiltration",
        kind="pattern",
        effect="deny",
        terms=_EXFILTRATION,
        description="Sending data out of the account.",
    ),
    PatternRule(
        id="deny.prompt-injection",
        kind="pattern",
        effect="deny",
        terms=_PROMPT_INJECTION,
        description="Instruction-override and gateway-bypass phrases typical of prompt injection.",
    ),
    PatternRule(
        id="review.destructive-verbs",
        kind="pattern",
        effect="review",
        terms=_DESTRUCTIVE_VERBS,
        description='Destructive verbs ("delete", "terminate", "destroy"): a human looks first.',
    ),
    PatternRule(
        id="review.destructive-verbs-i18n",
        kind="pattern",
        effect="review",
        terms=_DESTRUCTIVE_VERBS_I18N,
        description="The destructive verbs in es, fr, de, it, pt, nl, pl, ru, uk, sv, da, cs, zh, ja, ko.",
    ),
    PatternRule(
        id="review.security-tampering",
        kind="pattern",
        effect="review",
        terms=_SECURITY_TAMPERING,
        description="Weakening logging, MFA, access policies or public access.",
    ),
    PatternRule(
        id="review.secret-hunting",
        kind="pattern",
        effect="review",
        terms=_SECRET_HUNTING,
        description="Searching data for passwords, keys and credentials.",
    ),
)


# --- YAML rendering (policy/detection-rules.example.yaml is generated from DEFAULT_RULES) -----------

RULES_YAML_HEADER = """\
# Default detection rules of the MCP security gateway (dangerous patterns and chaining).
# GENERATED from mcp_gateway.domain.detection.DEFAULT_RULES - do not edit by hand; regenerate with
#   .venv/bin/python -m mcp_gateway.domain.detection > policy/detection-rules.example.yaml
# Paste the `detection:` list into the gateway policy to customize it. Terms are matched after
# normalization (Unicode folding, decoding, leetspeak), on whole words; phrases match across any separators.
"""


def rules_to_data(rules: Sequence[PatternRule]) -> list[dict[str, Any]]:
    """Plain data (for YAML/JSON) in a stable key order."""
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "effect": r.effect,
            "description": r.description,
            "terms": list(r.terms),
        }
        for r in rules
    ]


def rules_from_data(data: Any) -> tuple[PatternRule, ...]:
    """Validate a list of rule mappings (e.g. the ``detection`` section of the policy file)."""
    if not isinstance(data, list):
        raise ValueError("detection rules must be a list")
    return tuple(PatternRule.model_validate(item) for item in data)


def render_rules_yaml(rules: Sequence[PatternRule]) -> str:
    body = yaml.safe_dump(
        {"detection": rules_to_data(rules)},
        allow_unicode=True,
        sort_keys=False,
        width=100,
        default_flow_style=False,
    )
    return RULES_YAML_HEADER + body


if __name__ == "__main__":  # pragma: no cover - regenerates policy/detection-rules.example.yaml
    import sys

    sys.stdout.write(render_rules_yaml(DEFAULT_RULES))


__all__ = [
    "DEFAULT_RULES",
    "JOINED_FIELD",
    "MAX_FIELDS",
    "MAX_JOINED_CHARS",
    "OVERSIZE_RULE_ID",
    "Detector",
    "Finding",
    "PatternRule",
    "flatten_fields",
    "render_rules_yaml",
    "rules_from_data",
    "rules_to_data",
    "term_key",
    "worst_effect",
]
