"""The redaction engine: :class:`Redactor` finds secrets and customer data and replaces them with typed markers.

It is pure (no I/O, no boto3) and built for hostile input: cheap substring prefilters skip detectors
whose literal anchor is absent, every detector (see :mod:`.rules`) runs in linear time, and besides the
raw text the engine scans decoded and line-joined views (see :mod:`.views`) and decoded base64 blobs (a
blob that decodes to text holding a secret is redacted whole, with the inner secret's type). Overlapping
detections are merged; the visible type is the highest-priority one. Large texts and streams go through
:mod:`.streaming`.

Speed without a change of output: C-speed checks (substring searches in the text or in a one-byte "shape" of it)
prove a detector or a view cannot fire before it is run, and what depends on a short string alone is remembered,
bounded (a dictionary key's implications and redaction, a short value in which nothing was found; a value with a
detection is never kept). Every shortcut is compared with the path it skips in
``tests/unit/test_redaction_fastpath.py``.

Replacements look like ``[REDACTED:aws_secret_key]``; with a fingerprint key configured they carry a
short keyed HMAC, ``[REDACTED:aws_secret_key:1a2b3c4d]``, so equal values correlate across records
without being recoverable.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator
from typing import Any, NamedTuple

from pydantic import ConfigDict, Field, field_validator

from ..matching import WordMatcher
from ..models import StrictModel
from .rules import (
    AWS_SECRET_CTX_RX,
    B64_AT_START_RX,
    B64_RX,
    BASIC_RX,
    CONN_KEY_LITERALS,
    DIGIT_CHARS,
    DIGITS_RX,
    EMAIL_DOMAIN_RX,
    EMAIL_LOCAL,
    HE_CAND_RX,
    HE_MIN,
    HE_START_RX,
    HE_WINDOW,
    IBAN_RX,
    IBAN_SHAPE,
    IDENT,
    IDENT_FWD_RX,
    IPV4_TAIL_RX,
    IPV6_ALLOW,
    IPV6_CHARS,
    IPV6_FULL_RX,
    KEY_KEYWORD_RX,
    KEYWORD_LITERALS,
    KEYWORD_RX,
    KV_TAIL_RX,
    LINE_PREFIX_RX,
    MAX_DEPTH,
    MAX_PATTERNS,
    NAME_VALUE_JSON_RX,
    NAME_VALUE_YAML_RX,
    NINO_SHAPES,
    NON_USER_SCHEMES,
    ODBC_CONTEXT_RX,
    ORACLE_CONNECT_RX,
    ORACLE_LITERALS,
    P_CONTEXT,
    P_CUSTOMER,
    P_ENTROPY,
    P_GENERIC,
    P_KEY,
    P_KNOWN,
    P_PII,
    P_TOKEN,
    PAREN_PHONE_RX,
    PEM_RX,
    PHONE_INTL_RX,
    PHONE_KEYED_RX,
    PHONE_KEYWORDS,
    PII_CLASSES,
    PII_KEYED_RX,
    PII_KEYWORDS,
    PII_TYPE_CLASS,
    PUTTY_MAC_RX,
    PUTTY_RX,
    REPORTED_TYPES,
    SCHEME_RX,
    SIMPLE_DETECTORS,
    SSN_RX,
    URL_AUTH_RX,
    URL_HOST_RX,
    USERINFO_HOST_RX,
    USERINFO_STOP,
    USERINFO_USER_RX,
    WORD_CHARS,
    WORDISH_RX,
    SimpleDetector,
    Span,
    aba_ok,
    bare_connection_password,
    card_ok,
    iban_ok,
    ipv4_ok,
    is_connection_key,
    is_placeholder,
    key_secret_type,
    literal_anchor,
    looks_high_entropy,
    looks_password_like,
    nino_ok,
    phone_digits_ok,
    shannon_entropy,
    sin_ok,
    ssn_ok,
    validate_customer_id_pattern,
)
from .streaming import STREAM_THRESHOLD, redact_pieces, slices
from .views import (
    CLASS_SHAPE,
    CONCAT_GATES,
    GATE_TAILS,
    ascii_shape,
    b64_text,
    decode_view,
    escape_segments,
    glue_cuts,
    hex_text,
    join_chains,
    line_regions,
    qp_view,
    removal_view,
    secret_variants,
    short_b64,
)

__all__ = ["RedactionConfig", "RedactionResult", "Redactor"]


class RedactionConfig(StrictModel):
    """How a :class:`Redactor` behaves. Secrets detectors are always on; PII classes are chosen here."""

    pii_classes: frozenset[str] = frozenset(PII_CLASSES)
    customer_id_patterns: tuple[str, ...] = Field(default=(), max_length=MAX_PATTERNS)
    exact_secrets: tuple[str, ...] = Field(default=(), max_length=256, repr=False)
    fingerprint_key: bytes | None = Field(default=None, repr=False)

    @field_validator("pii_classes")
    @classmethod
    def _known_pii_classes(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = value - PII_CLASSES
        if unknown:
            raise ValueError(f"unknown PII classes: {sorted(unknown)}; known: {sorted(PII_CLASSES)}")
        return value

    @field_validator("customer_id_patterns")
    @classmethod
    def _safe_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            validate_customer_id_pattern(pattern)
        return value

    @field_validator("exact_secrets")
    @classmethod
    def _usable_secrets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        kept: list[str] = []
        for secret in value:
            if not secret:
                continue  # an unset optional secret; nothing to hide
            if len(secret) < 8:
                raise ValueError("exact secrets must be at least 8 characters (or empty)")
            if len(secret) > 65536:
                raise ValueError("exact secrets must be at most 65536 characters")
            kept.append(secret)
        return tuple(kept)

    @field_validator("fingerprint_key")
    @classmethod
    def _strong_key(cls, value: bytes | None) -> bytes | None:
        if value is not None and len(value) < 16:
            raise ValueError("fingerprint_key must be at least 16 bytes")
        return value


class RedactionResult(StrictModel):
    """Redacted text plus how many values of each type were replaced."""

    model_config = ConfigDict(str_max_length=None)

    text: str
    counts: dict[str, int] = Field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def changed(self) -> bool:
        return bool(self.counts)


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


class Redactor:
    """Finds secrets (always) and PII (configurable) and replaces them with typed markers."""

    def __init__(self, config: RedactionConfig) -> None:
        self._config = config
        self._pii_classes = config.pii_classes
        # (compiled, literal anchor): an anchored pattern is matched only where its literal occurs
        self._customer = tuple(
            (validate_customer_id_pattern(p), literal_anchor(p)) for p in config.customer_id_patterns
        )
        self._fp_key = config.fingerprint_key
        variants: dict[str, str] = {}
        for secret in config.exact_secrets:
            for variant in secret_variants(secret):
                if len(variant) >= 8:
                    variants.setdefault(variant, secret)
        # longest first so a longer encoded form wins over a contained shorter one
        self._exact: tuple[tuple[str, str], ...] = tuple(sorted(variants.items(), key=lambda kv: -len(kv[0])))
        # dictionary keys repeat across requests ("bucket", "text"): their redaction, remembered (bounded)
        self._key_cache: dict[tuple[str, bool], tuple[str, tuple[tuple[str, int], ...]]] = {}
        # short string values that repeat ("/aws/lambda/orders-api", "text/plain") and in which nothing was found:
        # remembered (bounded) so they are not scanned again; a value with a detection is never kept
        self._clean_cache: set[tuple[str, bool]] = set()
        # what a dictionary key implies for its value (see _key_plan), remembered for short keys (bounded)
        self._plans: dict[str, tuple[bool, str | None, bool, bool]] = {}
        # the best detection inside a short base64 blob, or None (it depends on the blob, pii and depth alone)
        self._inner_best: dict[tuple[str, bool, int], Span | None] = {}
        # (blob, pii, depth) of short base64 blobs whose hex and base64 readings add nothing (bounded)
        self._inert_blobs: set[tuple[str, bool, int]] = set()

    # ----------------------------------------------------------------- public API

    def redact_text(self, text: str, *, pii: bool = True) -> RedactionResult:
        """Redact one string. Very large strings are processed piecewise (bounded memory)."""
        out, found = self._redact_str(text, pii)
        return RedactionResult(text=out, counts=found)

    def redact_value(self, value: Any, *, pii: bool = True) -> tuple[Any, dict[str, int]]:
        """Redact a JSON-like value (dict/list/tuple/str; other scalars pass through).

        Values under secret-looking keys (password, secret, token, api_key, authorization,
        private_key, cookie, ...) are replaced whole, whatever they look like. Keys are redacted
        too. ``{"name": "DB_PASSWORD", "value": ...}`` pairs are treated like ``DB_PASSWORD: ...``.
        """
        counts: Counter[str] = Counter()
        result = self._redact_any(value, pii, counts, 0)
        return result, dict(counts)

    def redact_stream(self, chunks: Iterable[str], *, pii: bool = True) -> Iterator[RedactionResult]:
        """Redact a stream of text chunks with bounded memory and linear time.

        Yields redacted pieces whose concatenation is the redacted stream (not one per input chunk).
        A secret spanning a chunk boundary is caught: each piece is scanned together with an
        overlap, and a piece is only cut where no detection is open (preferably at a newline).
        """
        for text, counts in redact_pieces(chunks, lambda text: _merge(self._spans(text, pii, 0)), self._render):
            yield RedactionResult(text=text, counts=counts)

    def _redact_str(self, text: str, pii: bool) -> tuple[str, dict[str, int]]:
        """:meth:`redact_text` as (text, counts), without building the result model."""
        if len(text) > STREAM_THRESHOLD:
            parts: list[str] = []
            counts: Counter[str] = Counter()
            for piece, found in redact_pieces(
                slices(text), lambda chunk: _merge(self._spans(chunk, pii, 0)), self._render
            ):
                parts.append(piece)
                counts.update(found)
            return "".join(parts), dict(counts)
        spans = _merge(self._spans(text, pii, 0))
        return self._render(text, spans, 0, len(text))

    # ----------------------------------------------------------------- structured values

    def _marker(self, kind: str, value: str) -> str:
        if self._fp_key is None:
            return f"[REDACTED:{kind}]"
        digest = hmac.new(self._fp_key, value.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return f"[REDACTED:{kind}:{digest.hexdigest()[:8]}]"

    def _redact_any(self, value: Any, pii: bool, counts: Counter[str], depth: int) -> Any:
        if depth > 64:
            counts["depth_limit"] += 1
            return "[REDACTED:depth_limit]"
        if type(value) is int and -_CARD_MIN < value < _CARD_MIN:
            return value  # fewer than 13 digits: what the card check below returns for it (a bool is no int here)
        if isinstance(value, str):
            if len(value) <= _CLEAN_CACHE_MAX_LEN and type(value) is str:  # a str subclass is never remembered
                if (value, pii) in self._clean_cache:
                    return value  # what the scan returns for a text it finds nothing in: the text itself
                out, found = self._redact_str(value, pii)
                if found:
                    counts.update(found)
                else:
                    if len(self._clean_cache) >= _CLEAN_CACHE_SIZE:
                        self._clean_cache.clear()
                    self._clean_cache.add((value, pii))
                return out
            out, found = self._redact_str(value, pii)
            counts.update(found)
            return out
        if isinstance(value, dict):
            return self._redact_dict(value, pii, counts, depth)
        if isinstance(value, (list, tuple)):  # a tuple of types: ``list | tuple`` builds a union at every call
            items = [self._redact_any(v, pii, counts, depth + 1) for v in value]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, (bytes, bytearray)):
            res = self.redact_text(bytes(value).decode("utf-8", "backslashreplace"), pii=pii)
            counts.update(res.counts)
            return res.text
        if pii and isinstance(value, int) and not isinstance(value, bool) and "credit_card" in self._pii_classes:
            digits = str(abs(value))
            if 13 <= len(digits) <= 19 and card_ok(digits):  # card_ok wants 13 to 19 digits
                counts["credit_card"] += 1
                return self._marker("credit_card", str(value))
        return value

    def _redact_whole(self, kind: str, value: Any, counts: Counter[str]) -> Any:
        if value is None or isinstance(value, bool) or value == "":
            return value
        if isinstance(value, str):
            raw = value
        else:
            try:
                raw = json.dumps(value, sort_keys=True, default=str)
            except (TypeError, ValueError):
                raw = repr(value)
        counts[kind] += 1
        return self._marker(kind, raw)

    def _redact_dict(self, value: dict[Any, Any], pii: bool, counts: Counter[str], depth: int) -> dict[Any, Any]:
        pair_kind: str | None = None
        for name_key in ("name", "Name", "key", "Key", "ParameterName"):
            name = value.get(name_key)
            if isinstance(name, str):
                pair_kind = key_secret_type(name)
                break
        out: dict[Any, Any] = {}
        plans = self._plans
        key_cache = self._key_cache
        clean = self._clean_cache
        shallow = depth < 64  # an item's _redact_any call (at depth + 1) does not hit the depth limit
        for key, item in value.items():
            if type(key) is str:
                plan = plans.get(key)  # _key_plan's own look-up, without the call
                bookkeeping, kind, connection, query = plan if plan is not None else self._key_plan(key)
            elif isinstance(key, str):
                bookkeeping, kind, connection, query = self._key_plan(key)
            else:
                bookkeeping, kind, connection, query = False, None, False, False
            if bookkeeping and _is_bookkeeping(item):
                out[key] = dict(item)  # a redactions summary: type names and integer counts, never secrets
                continue
            if kind is None and pair_kind is not None and key in ("value", "Value"):
                kind = pair_kind
            if kind is not None:
                new_item = self._redact_whole(kind, item, counts)
            elif isinstance(item, str) and connection and bare_connection_password(item.strip()):
                new_item = self._redact_whole("url_password", item, counts)
            elif isinstance(item, str) and query:
                new_item = self._redact_query(item, pii, counts)
            elif shallow and type(item) is int and -_CARD_MIN < item < _CARD_MIN:
                new_item = item  # what _redact_any returns for it, without the call
            elif shallow and type(item) is str and len(item) <= _CLEAN_CACHE_MAX_LEN and (item, pii) in clean:
                new_item = item  # likewise: a short value remembered clean
            else:
                new_item = self._redact_any(item, pii, counts, depth + 1)
            new_key = key
            if isinstance(key, str):
                cached = key_cache.get((key, pii)) if len(key) <= _KEY_CACHE_MAX_LEN else None
                key_text, key_counts = cached if cached is not None else self._redact_key(key, pii)
                if key_counts:
                    counts.update(dict(key_counts))
                    new_key = key_text
                    suffix = 2
                    while new_key in out:
                        new_key = f"{key_text}#{suffix}"
                        suffix += 1
            out[new_key] = new_item
        return out

    def _key_plan(self, key: str) -> tuple[bool, str | None, bool, bool]:
        """What a dictionary key implies for its value, remembered for short keys (it depends on the key alone):
        (a redactions-summary key, the secret type it implies, a connection-string key, a query key)."""
        plan = self._plans.get(key) if type(key) is str else None  # a str subclass is never remembered
        if plan is None:
            plan = (
                key.lower() in _BOOKKEEPING_KEYS,
                key_secret_type(key),
                is_connection_key(key),
                _QUERY_KEY_RX.fullmatch(key) is not None,
            )
            if type(key) is str and len(key) <= _KEY_CACHE_MAX_LEN:
                if len(self._plans) >= _KEY_CACHE_SIZE:
                    self._plans.clear()
                self._plans[key] = plan
        return plan

    def _redact_key(self, key: str, pii: bool) -> tuple[str, tuple[tuple[str, int], ...]]:
        """``redact_text(key)`` as (text, counts), remembered for short keys: the result depends on nothing else."""
        if len(key) > _KEY_CACHE_MAX_LEN:
            text, found = self._redact_str(key, pii)
            return text, tuple(found.items())
        cached = self._key_cache.get((key, pii))
        if cached is None:
            text, found = self._redact_str(key, pii)
            cached = (text, tuple(found.items()))
            if len(self._key_cache) >= _KEY_CACHE_SIZE:
                self._key_cache.clear()
            self._key_cache[(key, pii)] = cached
        return cached

    def _redact_query(self, query: str, pii: bool, counts: Counter[str]) -> str:
        """A query or filter pattern: the usual detectors, plus password-like literals (a bare random
        password searched for is still a password)."""
        if len(query) > STREAM_THRESHOLD:
            text, found = self._redact_str(query, pii)
            counts.update(found)
            return text
        spans = self._spans(query, pii, 0)
        for start, end in _query_literals(query):
            value = query[start:end]
            if " " not in value and looks_password_like(value):  # a space: has_space, so not password-like
                spans.append(Span(start, end, P_ENTROPY, "password", value))
        out, found = self._render(query, _merge(spans), 0, len(query))
        if found:  # Counter.update of nothing is a no-op, after an ABC check
            counts.update(found)
        return out

    # ----------------------------------------------------------------- detection pipeline

    def _spans(self, text: str, pii: bool, depth: int) -> list[Span]:
        """All detections in ``text`` and in its decoded and line-joined views, in text offsets."""
        spans, facts = self._scan_facts(text, pii, depth)
        if "\\" in text or "%" in text or ("&" in text and "&#" in text):  # one character: a memchr
            for seg_start, seg_end in escape_segments(text):
                decoded = decode_view(text[seg_start:seg_end])
                if decoded is None:
                    continue
                view, index = decoded
                found = self._scan(view, pii, depth)
                found.extend(self._join_spans(view, depth))
                for sp in found:
                    spans.append(sp._replace(start=seg_start + index[sp.start], end=seg_start + index[sp.end]))
        if "\n" in text:
            spans.extend(self._join_spans(text, depth))
        if "=" in text:
            qp = qp_view(text)
            if qp is not None:
                view, index = qp
                for sp in self._scan(view, pii, depth):
                    spans.append(sp._replace(start=index[sp.start], end=index[sp.end]))
        # no token can hold or begin a concatenation and none is a single character: no glue (see _TOKEN_GLUE)
        cuts = glue_cuts(text) if facts is None or facts.flags & _TOKEN_GLUE else []
        if cuts:
            for reg_start, reg_end in line_regions(text, cuts):
                local = [(a - reg_start, b - reg_start) for a, b in cuts if reg_start <= a and b <= reg_end]
                view, index = removal_view(text[reg_start:reg_end], local)
                for sp in self._scan(view, pii, depth):
                    spans.append(sp._replace(start=reg_start + index[sp.start], end=reg_start + index[sp.end]))
        return spans

    def _join_spans(self, text: str, depth: int) -> list[Span]:
        spans: list[Span] = []
        for region_start, joined, index in join_chains(text):
            for sp in self._scan(joined, False, depth):
                spans.append(sp._replace(start=region_start + index[sp.start], end=region_start + index[sp.end]))
        return spans

    def _scan(self, text: str, pii: bool, depth: int) -> list[Span]:
        return self._scan_facts(text, pii, depth)[0]

    def _scan_facts(self, text: str, pii: bool, depth: int) -> tuple[list[Span], _TextFacts | None]:
        """:meth:`_scan`, with what the text's tokens tell (see :func:`_token_facts`), if they were read."""
        spans: list[Span] = []
        if not text:
            return spans, None
        lowered = text.lower()
        add = spans.append
        present = _present(text, lowered)
        facts = present.facts

        detectors = present.detectors
        if detectors is None:  # a prefilter built by hand: each detector is gated by its own literals
            gate_all = len(lowered) >= _PREFILTER_MIN
            detectors = tuple(
                det
                for det in SIMPLE_DETECTORS
                if (
                    any(lit in present.ci for lit in det.literals)
                    if det.lowered
                    else not gate_all or any(lit in present.cs for lit in det.literals)
                )
            )
        for det in detectors:
            for m in det.regex.finditer(text):
                value = m.group(det.group)
                if det.check is not None and not det.check(value):
                    continue
                add(Span(m.start(det.group), m.end(det.group), det.prio, det.kind, value))

        if "-----BEGIN" in present.cs:
            for m in PEM_RX.finditer(text):
                header = text[m.start() : m.start() + 64]
                kind = "openssh_private_key" if "OPENSSH" in header else "private_key"
                # the BEGIN and END lines are labels: only the body between them is the secret
                start = text.find("-----", m.start() + 10) + 5
                end = m.end()
                if text.startswith("-----END", end - len(m.group().rsplit("-----END", 1)[-1]) - 8):
                    end = m.start() + m.group().rfind("-----END")
                while start < end and text[start].isspace():
                    start += 1
                while end > start and text[end - 1].isspace():
                    end -= 1
                if end > start:
                    add(Span(start, end, P_KEY, kind, m.group()))
        if "PuTTY-User-Key-File" in present.cs:
            for m in PUTTY_RX.finditer(text):
                end = m.end()
                mac = PUTTY_MAC_RX.search(text, m.start(), end)
                if mac is not None:
                    end = mac.end()
                # the first line is a label (like a PEM's BEGIN line); everything after it is the key file:
                # the comment, the public and private lines, and the MAC
                nl = text.find("\n", m.start(), end)
                if nl < 0 or text.find("Private-Lines:", nl, end) < 0:
                    continue  # no private lines here (an escaped key: its decoded view is scanned)
                start = nl + 1
                while start < end and text[start].isspace():
                    start += 1
                add(Span(start, end, P_KEY, "putty_private_key", text[m.start() : end]))

        userinfo: list[tuple[int, int]] = []
        if "://" in present.ci:
            self._url_passwords(text, add, userinfo)
        if "@" in text:
            self._userinfo_passwords(text, add, userinfo)
            if "/" in text:
                self._oracle_passwords(text, lowered, add, present)
        if "basic" in present.ci:
            for m in BASIC_RX.finditer(text):
                decoded = short_b64(m.group(1))
                if decoded is not None and ":" in decoded:
                    add(Span(m.start(1), m.end(1), P_CONTEXT, "authorization", m.group(1)))

        self._keyed(text, lowered, add, present)
        if (
            len(lowered) == len(text)
            and _any_present(present.ci, _CONN_KEY_SET)
            and (facts is None or facts.flags & _TOKEN_CONN)  # else no key at a literal is a connection key
        ):
            self._connection_values(text, lowered, add, present)
        if "filter" in present.ci and len(lowered) == len(text):
            self._query_filters(text, lowered, add)
        if ('"value' in present.ci or "value:" in present.ci) and len(lowered) == len(text):
            self._name_value_pairs(text, lowered, add, present)

        if self._exact:
            for variant, secret in self._exact:
                pos = text.find(variant)
                while pos >= 0:
                    add(Span(pos, pos + len(variant), P_KNOWN, "known_secret", secret))
                    pos = text.find(variant, pos + len(variant))

        if pii:
            self._pii(text, lowered, add, present, userinfo)

        self._base64_runs(text, pii, depth, add, facts)
        return spans, facts

    @staticmethod
    def _query_filters(text: str, lowered: str, add: Callable[[Span], None]) -> None:
        """A query's ``filter ... like "..."`` literals, wherever the query travels (an event body, a log line):
        a bare random password searched for is still a password."""
        pos = lowered.find("filter")
        while pos >= 0:
            eol = text.find("\n", pos)
            end = min(len(text), pos + 1024 if eol < 0 else min(eol, pos + 1024))
            for m in QUERY_FILTER_RX.finditer(text, pos, end):
                value = m.group(1)
                if looks_password_like(value):
                    add(Span(m.start(1), m.end(1), P_ENTROPY, "password", value))
            pos = lowered.find("filter", end)

    @staticmethod
    def _url_passwords(text: str, add: Callable[[Span], None], userinfo: list[tuple[int, int]]) -> None:
        """``scheme://user:password@host``: the password is everything up to the *last* ``@`` that is
        followed by a host, so ``@``, ``#``, ``/`` or ``?`` inside a password neither leak it nor eat the host."""
        n = len(text)
        for m in URL_AUTH_RX.finditer(text):
            pw_start = m.end()
            end = pw_start
            limit = min(n, pw_start + 1024)
            while end < limit and text[end] not in _URL_STOP:
                end += 1
            at = text.rfind("@", pw_start, end)
            while at > pw_start and URL_HOST_RX.match(text, at + 1, end) is None:
                at = text.rfind("@", pw_start, at)
            if at <= pw_start:
                continue
            pw = text[pw_start:at]
            if _PORT_RX.match(pw):
                continue  # host:port/path?x=a@b, not a password
            userinfo.append((m.start(1), at))
            if pw.startswith("[REDACTED") or is_placeholder(pw):
                continue
            add(Span(pw_start, at, P_CONTEXT, "url_password", pw))

    @staticmethod
    def _userinfo_passwords(text: str, add: Callable[[Span], None], userinfo: list[tuple[int, int]]) -> None:
        """``user:password@host`` without a scheme (``DATABASE_URL=app:pw@db:5432/app``, ``redis-cli -u``): the
        token before an ``@`` that is followed by a host, split at its first ``:``. URLs (``//`` in the token)
        are :meth:`_url_passwords`'; before a host without a port the password must look like one, so an
        address (``email:jane.doe@example.com``) is not mistaken for credentials."""
        n = len(text)
        at = text.find("@")
        while at >= 0:
            nxt = text.find("@", at + 1)
            host = USERINFO_HOST_RX.match(text, at + 1, min(n, at + 300))
            if host is not None and at > 0:
                lo = max(0, at - 300)
                start = at
                while start > lo and text[start - 1] not in USERINFO_STOP:
                    start -= 1
                token = text[start:at]
                colon = token.find(":")
                if (
                    colon > 0
                    and "//" not in token
                    and not token.startswith("REDACTED:")  # our own marker: [REDACTED:url_password]@host
                    and USERINFO_USER_RX.fullmatch(token, 0, colon)
                ):
                    pw = token[colon + 1 :]
                    user = token[:colon].lower()
                    if (
                        pw
                        and "/" not in pw  # a path (pkg:npm/x@1.0, jdbc:oracle:thin:u/p@): not user:password
                        and user not in NON_USER_SCHEMES
                        and not _PORT_RX.match(pw)
                        and (host.group("port") is not None or looks_password_like(pw))
                    ):
                        userinfo.append((start, at))
                        if not pw.startswith("[REDACTED") and not is_placeholder(pw):
                            add(Span(start + colon + 1, at, P_CONTEXT, "url_password", pw))
            at = nxt

    @staticmethod
    def _oracle_passwords(text: str, lowered: str, add: Callable[[Span], None], present: _Present) -> None:
        """Oracle's ``user/password@db`` in ``jdbc:oracle:thin:`` URLs and on ``sqlplus``-style command lines."""
        if len(lowered) != len(text):
            return
        for lit in ORACLE_LITERALS:
            if lit not in present.ci:
                continue
            pos = lowered.find(lit)
            while pos >= 0:
                m = ORACLE_CONNECT_RX.match(text, pos)
                if m is not None:
                    pw = m.group(1)
                    if not pw.startswith("[REDACTED") and not is_placeholder(pw):
                        add(Span(m.start(1), m.end(1), P_CONTEXT, "url_password", pw))
                pos = lowered.find(lit, pos + len(lit))

    def _connection_values(self, text: str, lowered: str, add: Callable[[Span], None], present: _Present) -> None:
        """``DATABASE_URL=Xy9!pw...``: a bare password (not a URL, DSN or host) assigned to a connection key."""
        n = len(text)

        def keep(sp: Span) -> None:
            if bare_connection_password(sp.value):
                add(sp)

        seen: set[int] = set()
        for ks, ke in _connection_keys(text, lowered, present.ci):
            if ks in seen:
                continue
            seen.add(ks)
            key = text[ks:ke]
            if self._key_plan(key)[2]:
                self._assignment(text, n, ks, ke, key, "url_password", keep)

    def _hex_run(self, start: int, blob: str, pii: bool, depth: int, add: Callable[[Span], None]) -> bool:
        """Hex-encoded text (``736b5f6c6976655f...``): decoded, scanned, redacted whole with the inner type. Whether a
        detection was added (it depends on the blob, pii and depth alone, not on ``start``)."""
        if blob[:2] in ("0x", "0X"):
            blob = blob[2:]
            start += 2
        if len(blob) % 2 or not _HEX_RUN_RX.fullmatch(blob):
            return False
        inner_text = hex_text(blob)
        if inner_text is None:
            return False
        inner = self._spans(inner_text, pii, depth + 1)
        if inner:
            best = max(inner, key=lambda s: (s.prio, s.end - s.start))
            add(Span(start, start + len(blob), best.prio, best.kind, best.value))
            return True
        if len(inner_text) >= 8 and not any(c.isspace() for c in inner_text):
            # one printable token hidden as hex: digests and ids never decode to text, so this was encoded on purpose
            add(Span(start, start + len(blob), P_ENTROPY, "high_entropy", inner_text))
            return True
        return False

    def _base64_runs(
        self, text: str, pii: bool, depth: int, add: Callable[[Span], None], facts: _TextFacts | None = None
    ) -> None:
        """Runs of base64 characters: AWS secret keys near AWS context, and base64-wrapped secrets. ``facts``, when
        the text's tokens were read, names the tokens holding blobs (a blob never holds a space); a token whose blobs
        are all inert (their hex and base64 readings add nothing, wherever they stand) and not 40 characters long (no
        AWS secret key, the one reading that looks around) adds nothing, and is not looked for."""
        blobs: Iterable[tuple[int, int]]
        inert = self._inert_blobs
        if len(text) >= _PREFILTER_MIN and facts is not None:
            live = [
                (token, spans)
                for token, spans in facts.b64
                if not all(end - start != 40 and (token[start:end], pii, depth) in inert for start, end in spans)
            ]
            if not live:
                return
            blobs = _token_blobs(text, live)
        elif len(text) >= _PREFILTER_MIN:
            shape = ascii_shape(text, _B64_SHAPE)
            if _B64_MIN_RUN not in shape:
                return  # every candidate is a run of 20+ base64 characters: none here
            blobs = _b64_blobs(text, shape)
        else:
            first = B64_AT_START_RX.match(text)
            matches = itertools.chain((first,) if first is not None else (), B64_RX.finditer(text))
            blobs = [m.span(1) for m in matches]
        decode = depth < MAX_DEPTH
        # what a blob decodes to and the best detection inside it depend on the blob alone (and pii and depth): a
        # blob repeated in this text or across texts ("NullPointerException" in filter patterns) is decoded and
        # scanned once; a short blob's best detection is remembered (bounded)
        inner_best: dict[str, Span | None] = {}
        remembered = self._inner_best
        for start, end in blobs:
            blob = text[start:end]
            if len(blob) == 40:
                self._aws_secret_candidate(text, start, blob, add)
            key = (blob, pii, depth)
            if key in inert:
                continue  # its hex and base64 readings add nothing (found so before)
            added = False
            if decode and (blob[0].isdigit() or blob[0] in "abcdefABCDEF") and blob[1] in _HEX_SECOND:
                added = self._hex_run(start, blob, pii, depth, add)
            if not decode or blob.islower() or blob.isupper() or blob.isdigit():
                best = None  # hex digests, identifiers: base64 of text always mixes cases
            elif blob in inner_best:
                best = inner_best[blob]
            elif (blob, pii, depth) in remembered:
                best = inner_best[blob] = remembered[(blob, pii, depth)]
            else:
                best = None
                inner_text = b64_text(blob)
                if inner_text is not None:
                    inner = self._spans(inner_text, pii, depth + 1)
                    if inner:
                        best = max(inner, key=lambda s: (s.prio, s.end - s.start))
                inner_best[blob] = best
                if len(blob) <= _INNER_CACHE_MAX_LEN:
                    if len(remembered) >= _INNER_CACHE_SIZE:
                        remembered.clear()
                    remembered[(blob, pii, depth)] = best
            if best is not None:
                add(Span(start, end, best.prio, best.kind, best.value))
            elif not added and len(blob) <= _INNER_CACHE_MAX_LEN:
                if len(inert) >= _INNER_CACHE_SIZE:
                    inert.clear()
                inert.add(key)

    @staticmethod
    def _aws_secret_candidate(text: str, start: int, value: str, add: Callable[[Span], None]) -> None:
        if not (any(c.isupper() for c in value) and any(c.islower() for c in value)):
            return
        if not any(c.isdigit() or c in "+/" for c in value) or shannon_entropy(value) < 4.0:
            return
        if AWS_SECRET_CTX_RX.search(text, max(0, start - 160), start) is None:
            return
        add(Span(start, start + 40, P_TOKEN, "aws_secret_key", value))

    def _keyword_hits(self, text: str, lowered: str, present: _Present) -> list[tuple[int, int]]:
        """(start, end) of secret keywords, found with plain substring search on the lowered text."""
        hits: list[tuple[int, int]] = []
        if len(lowered) != len(text):  # exotic case mappings shift offsets: use the (slower) regex
            return [m.span() for m in KEYWORD_RX.finditer(text)]
        if not _any_present(present.ci, _KEYWORD_SET):
            return hits
        for kw in KEYWORD_LITERALS:
            if kw not in present.ci:
                continue
            pos = lowered.find(kw)
            while pos >= 0:
                if kw != "key" or KEY_KEYWORD_RX.search(lowered, max(0, pos - 13), pos):
                    hits.append((pos, pos + len(kw)))
                pos = lowered.find(kw, pos + len(kw))
        hits.sort()
        return hits

    def _keyed(self, text: str, lowered: str, add: Callable[[Span], None], present: _Present) -> None:
        """``key = value`` assignments in JSON/YAML/INI/env/CLI/XML and high entropy after keywords."""
        n = len(text)
        last_key_end = -1
        he_shape: bytes | None = None  # made at the first high-entropy probe of a long text
        for hit_start, hit_end in self._keyword_hits(text, lowered, present):
            if hit_start < last_key_end:
                continue
            ks = hit_start
            lo = max(0, ks - 64)
            while ks > lo and text[ks - 1] in IDENT:
                ks -= 1
            fwd = IDENT_FWD_RX.match(text, hit_end)
            ke = fwd.end() if fwd is not None else hit_end
            last_key_end = ke
            key = text[ks:ke]
            if ks > 0 and text[ks - 1] == ":" and text[max(0, ks - 2)] != ":":
                continue  # an ARN component (arn:aws:secretsmanager:...:secret:name), not a key
            kind = self._key_plan(key)[1]
            if kind is None and key.lower() == "pwd" and _odbc_context(text, ks, ke):
                kind = "password"  # Uid=sa;Pwd=...; (elsewhere PWD is the working directory)
            if kind is not None:
                consumed = self._assignment(text, n, ks, ke, key, kind, add)
                if consumed >= 0:
                    last_key_end = max(last_key_end, consumed)  # keywords inside the value are data
                    continue
                if he_shape is None and n >= _HE_SHAPE_MIN:
                    he_shape = ascii_shape(text, _HE_SHAPE)
                self._entropy_after(text, ke, add, he_shape)  # "the new secret is Qm9v7Xz2..."
            # else: a word that merely contains a keyword (secret_arn, authored, tokens): nothing to do

    def _assignment(self, text: str, n: int, ks: int, ke: int, key: str, kind: str, add: Callable[[Span], None]) -> int:
        """Read the value assigned to a secret key; the end of what was consumed, or -1."""
        tail = KV_TAIL_RX.match(text, ke)
        if tail is None:
            return -1
        if tail.group("xml") is not None and (ks == 0 or text[ks - 1] != "<"):
            return -1
        if tail.group("sp") is not None and not key.startswith("-"):
            return -1
        if tail.group("dq") is not None:
            vs, ve = tail.span("dq")
        elif tail.group("sq") is not None:
            vs, ve = tail.span("sq")
        elif tail.group("blk") is not None:
            line_start = _line_start_near(text, ks)
            if tail.group("sep") != ":" or line_start < 0 or not LINE_PREFIX_RX.fullmatch(text, line_start, ks):
                return -1
            return self._yaml_block(text, n, line_start, ks, tail.end("blk"), kind, add)
        else:
            vs, ve = tail.span("uv")
            value = tail.group("uv")
            line_start = _line_start_near(text, ks)
            sep = tail.group("sep")
            if kind in ("authorization", "cookie"):
                ve = _run_end(text, vs, _HEADER_STOPS)  # HEADER_VALUE_RX.match(text, vs).end()
            elif sep in ("=", ":") and line_start >= 0 and LINE_PREFIX_RX.fullmatch(text, line_start, ks):
                ve = _run_end(text, vs, _EOL_STOPS)  # EOL_VALUE_RX.match(text, vs).end()
            while ve > vs and text[ve - 1] in " \t\r\"',;":
                ve -= 1
        if kind in ("authorization", "cookie"):
            scheme = SCHEME_RX.match(text, vs, ve)
            if scheme is not None:
                vs = scheme.end()
        while vs < ve and text[vs] in " \t":
            vs += 1
        if ve - vs > 3 and text[vs] in "bBrRuU" and text[vs + 1] in "'\"":
            vs += 2  # a Python bytes/raw/unicode literal: its prefix and quote are syntax
        value = text[vs:ve]
        if not value or value.startswith("[REDACTED") or is_placeholder(value):
            return ve  # an assignment, but nothing to hide
        if kind not in ("password", "authorization", "cookie") and WORDISH_RX.fullmatch(value):
            return ve  # "token: expired", "secret: none" - prose, not a credential
        add(Span(vs, ve, P_GENERIC, kind, value))
        return ve

    def _yaml_block(
        self, text: str, n: int, line_start: int, ks: int, ve: int, kind: str, add: Callable[[Span], None]
    ) -> int:
        indent = ks - line_start
        pos = text.find("\n", ve)
        if pos < 0:
            return ve
        start = pos + 1
        end = start
        for _ in range(1000):
            if end >= n:
                break
            nl = text.find("\n", end)
            line_end = n if nl < 0 else nl
            line = text[end:line_end]
            stripped = line.lstrip(" \t")
            if stripped and len(line) - len(stripped) <= indent:
                break
            end = line_end + 1 if nl >= 0 else n
        end = min(end, n)
        while end > start and text[end - 1] in "\r\n \t":
            end -= 1
        while start < end and text[start] in " \t":
            start += 1  # the block's indentation stays: the YAML still parses
        if end > start:
            add(Span(start, end, P_GENERIC, kind, text[start:end]))
        return max(end, ve)

    def _entropy_after(self, text: str, pos: int, add: Callable[[Span], None], shape: bytes | None = None) -> None:
        """High-entropy values shortly after ``pos``; ``shape``, if given, is ``text`` in the candidate shape
        (:data:`_HE_SHAPE`), and a window without 16 candidate characters in a row is skipped with one search."""
        limit = min(len(text), pos + HE_WINDOW + 1024)
        eol = text.find("\n", pos, limit)
        if eol >= 0:
            limit = eol
        # ``HE_CAND_RX.finditer(text, pos, limit)`` up to the first match starting after ``pos + HE_WINDOW``, without
        # scanning the rest of the window: a candidate's start is found by its first 16 characters
        probe_end = min(limit, pos + HE_WINDOW + HE_MIN)
        if shape is not None and shape.find(_HE_RUN, pos, probe_end) < 0:
            return  # every HE_START_RX match is HE_MIN candidate characters in a row inside the probe
        p = pos
        while True:
            start = HE_START_RX.search(text, p, probe_end)
            if start is None:
                break
            m = HE_CAND_RX.match(text, start.start(), limit)
            if m is None:  # pragma: no cover - a start is always a candidate's
                p = start.start() + 1
                continue
            p = m.end()
            value = m.group()
            if value.startswith("REDACTED"):
                continue
            if looks_high_entropy(value):
                add(Span(m.start(), m.end(), P_ENTROPY, "high_entropy", value))

    def _name_value_pairs(self, text: str, lowered: str, add: Callable[[Span], None], present: _Present) -> None:
        for anchor, rx in (
            ('"name', NAME_VALUE_JSON_RX),
            ('"key', NAME_VALUE_JSON_RX),
            ('"parametername', NAME_VALUE_JSON_RX),
            ("name:", NAME_VALUE_YAML_RX),
        ):
            if anchor not in present.ci:
                continue
            pos = lowered.find(anchor)
            while pos >= 0:
                m = rx.match(text, pos)
                pos = lowered.find(anchor, pos + len(anchor))
                if m is None:
                    continue
                kind = key_secret_type(m.group("n"))
                if kind is None:
                    continue
                vs, ve = m.span("v")
                while ve > vs and text[ve - 1] in " \t\r\"',;":
                    ve -= 1
                while vs < ve and text[vs] in " \t\"'":
                    vs += 1
                value = text[vs:ve]
                if value and not value.startswith("[REDACTED") and not is_placeholder(value):
                    add(Span(vs, ve, P_GENERIC, kind, value))

    def _pii(
        self,
        text: str,
        lowered: str,
        add: Callable[[Span], None],
        present: _Present,
        userinfo: list[tuple[int, int]] | None = None,
    ) -> None:
        classes = self._pii_classes
        if "email" in classes and "@" in text:
            self._emails(text, add, userinfo)
        phone = "phone" in classes
        if phone and "+" in text:
            for m in PHONE_INTL_RX.finditer(text):
                if phone_digits_ok(m.group()):
                    add(Span(m.start(), m.end(), P_PII, "phone", m.group()))
        if phone and len(lowered) == len(text) and _any_present(present.ci, _PHONE_KEYWORD_SET):
            for kw in PHONE_KEYWORDS:
                if kw not in present.ci:
                    continue
                pos = lowered.find(kw)
                while pos >= 0:
                    keyed = PHONE_KEYED_RX.match(text, pos + len(kw))
                    if keyed is not None and phone_digits_ok(keyed.group(1), 7, 15):
                        add(Span(keyed.start(1), keyed.end(1), P_PII, "phone", keyed.group(1)))
                    pos = lowered.find(kw, pos + len(kw))
        card = "credit_card" in classes
        facts = present.facts
        if (phone or card) and (facts is None or facts.flags & _TOKEN_DIGITS) and _digit_groups(text):
            for m in DIGITS_RX.finditer(text):
                value = m.group()
                if m.lastgroup == "card":
                    if card and card_ok(value):
                        add(Span(m.start(), m.end(), P_PII, "credit_card", value))
                elif phone and phone_digits_ok(value, 10, 11):
                    add(Span(m.start(), m.end(), P_PII, "phone", value))
        if phone and "(" in text:
            for m in PAREN_PHONE_RX.finditer(text):
                add(Span(m.start(), m.end(), P_PII, "phone", m.group()))
        if "ipv4" in classes and "." in text:
            for m in IPV4_TAIL_RX.finditer(text):
                start = m.start()
                lo = max(0, start - 3)
                while start > lo and text[start - 1] in DIGIT_CHARS:
                    start -= 1
                if start == m.start() or (start > 0 and (text[start - 1] in WORD_CHARS or text[start - 1] == ".")):
                    continue
                if start > 1 and text[start - 1] == "/" and text[start - 2].isalpha():
                    continue  # a product version (Chrome/124.0.0.0), not an address
                value = text[start : m.end()]
                if ipv4_ok(value):
                    add(Span(start, m.end(), P_PII, "ipv4", value))
        if "ipv6" in classes and ":" in text:
            self._ipv6(text, add)
        if "national_id" in classes or "bank_account" in classes:
            self._identifiers(text, lowered, add, classes, present)
        if "customer_id" in classes:
            for rx, anchor in self._customer:
                matches: Iterable[re.Match[str]]
                matches = _anchored_matches(rx, anchor, text) if anchor else rx.finditer(text)
                for m in matches:
                    if m.end() > m.start():
                        add(Span(m.start(), m.end(), P_CUSTOMER, "customer_id", m.group()))

    @staticmethod
    def _emails(text: str, add: Callable[[Span], None], userinfo: list[tuple[int, int]] | None) -> None:
        for m in EMAIL_DOMAIN_RX.finditer(text):
            start = m.start()
            lo = max(0, start - 64)
            while start > lo and text[start - 1] in EMAIL_LOCAL:
                start -= 1
            if start == m.start() or (start > 0 and text[start - 1] in EMAIL_LOCAL):
                continue
            if userinfo and any(u_start <= start and m.start() == at for u_start, at in userinfo):
                continue  # the user:password@ of a URL: the url_password detector owns it
            if start > 0 and text[start - 1] == ":" and "://" in text[max(0, start - 300) : start]:
                continue  # user:password@host in a URL: the url_password detector owns it
            add(Span(start, m.end(), P_PII, "email", text[start : m.end()]))

    @staticmethod
    def _identifiers(
        text: str, lowered: str, add: Callable[[Span], None], classes: frozenset[str], present: _Present
    ) -> None:
        """National identifiers (US SSN, UK NINO, Canadian SIN) and bank identifiers (IBAN, ABA routing,
        sort codes, account numbers), each validated by its own format or checksum."""
        national = "national_id" in classes
        bank = "bank_account" in classes
        if national and "-" in text:
            for m in SSN_RX.finditer(text):
                start = m.start() - 3
                if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.+/-"):
                    continue
                value = text[start : m.end()]
                if ssn_ok(value):
                    add(Span(start, m.end(), P_PII, "us_ssn", value))
        facts = present.facts
        shape = (
            ascii_shape(text, CLASS_SHAPE)
            if (bank or national)
            and not _no_capitals(text, lowered)
            and (facts is None or facts.flags & _TOKEN_CLASS)  # else no IBAN or NINO shape: see _TOKEN_CLASS
            else b""
        )
        pos = shape.find(IBAN_SHAPE) if bank else -1
        while pos >= 0:
            nxt = pos + 1
            if pos == 0 or not text[pos - 1].isalnum():
                iban = IBAN_RX.match(text, pos)
                if iban is not None:
                    value = iban.group()
                    # a trailing group may be the next word: shorten to the country's length
                    while value and not iban_ok(value):
                        cut = value.rfind(" ")
                        value = value[:cut] if cut > 0 else ""
                    if value:
                        add(Span(pos, pos + len(value), P_PII, "iban", value))
                        nxt = pos + len(value)
            pos = shape.find(IBAN_SHAPE, nxt)
        for nino_shape in NINO_SHAPES if national else ():
            pos = shape.find(nino_shape)
            while pos >= 0:
                end = pos + len(nino_shape)
                value = text[pos:end]
                if (
                    (pos == 0 or not text[pos - 1].isalnum())
                    and (end == len(text) or not text[end].isalnum())
                    and _NINO_LETTERS_RX.fullmatch(value)
                    and nino_ok(value)
                ):
                    add(Span(pos, end, P_PII, "uk_nino", value))
                pos = shape.find(nino_shape, end)
        if len(lowered) != len(text):
            return
        if not _any_present(present.ci, _PII_ANCHOR_SET):
            return
        n = len(lowered)
        for anchor, keywords in PII_KEYWORDS.items():
            if anchor not in present.ci:
                continue
            pos = lowered.find(anchor)
            while pos >= 0:
                for kw, offset, kind in keywords:
                    start = pos - offset
                    end = start + len(kw)
                    if start < 0 or PII_TYPE_CLASS[kind] not in classes or not lowered.startswith(kw, start):
                        continue
                    before = lowered[start - 1] if start > 0 else " "
                    after = lowered[end] if end < n else " "
                    if before.isalpha() or (after.isalpha() and len(kw) <= 4):
                        continue  # "database", "ssns": a word that merely contains the keyword
                    keyed = PII_KEYED_RX.match(text, end)
                    if keyed is not None:
                        value = keyed.group("v")
                        if _keyed_identifier_ok(kind, value):
                            add(Span(keyed.start("v"), keyed.end("v"), P_PII, kind, value))
                        break
                pos = lowered.find(anchor, pos + len(anchor))

    @staticmethod
    def _ipv6(text: str, add: Callable[[Span], None]) -> None:
        anchors = [m.start() for m in IPV6_FULL_RX.finditer(text)]
        pos = text.find("::")
        while pos >= 0:
            anchors.append(pos)
            pos = text.find("::", pos + 2)
        anchors.sort()
        n = len(text)
        covered = -1
        for anchor in anchors:
            if anchor < covered:
                continue
            start = anchor
            lo = max(0, anchor - 40)
            while start > lo and text[start - 1] in IPV6_CHARS:
                start -= 1
            end = anchor
            hi = min(n, anchor + 45)
            while end < hi and text[end] in IPV6_CHARS:
                end += 1
            covered = end
            if (start > 0 and (text[start - 1] in WORD_CHARS or text[start - 1] == ".")) or (
                end < n and text[end] in WORD_CHARS
            ):
                continue
            value = text[start:end]
            if value in IPV6_ALLOW or ("::" not in value and value.count(":") != 7):
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            add(Span(start, end, P_PII, "ipv6", value))

    # ----------------------------------------------------------------- rendering

    def _render(self, text: str, spans: list[Span], lo: int, hi: int) -> tuple[str, dict[str, int]]:
        parts: list[str] = []
        counts: dict[str, int] = {}  # a plain dict in first-count order: what dict(Counter) gave, without the Counter
        pos = lo
        for sp in spans:
            start = max(sp.start, lo)
            end = min(sp.end, hi)
            if end <= start:
                if sp.start >= hi:
                    break
                continue
            if start > pos:
                parts.append(text[pos:start])
            parts.append(self._marker(sp.kind, sp.value))
            breaks = text.count("\n", start, end)
            if breaks:  # the line structure survives: a redacted value never swallows a line
                parts.append(("\r\n" if text.find("\r\n", start, end) >= 0 else "\n") * breaks)
            counts[sp.kind] = counts.get(sp.kind, 0) + 1
            pos = end
        if pos < hi:
            parts.append(text[pos:hi])
        return "".join(parts), counts


# --------------------------------------------------------------------------------------------------
# The literal prefilter: one Aho-Corasick pass instead of dozens of substring searches
# --------------------------------------------------------------------------------------------------

_KEY_CACHE_SIZE = 4096
_KEY_CACHE_MAX_LEN = 128
_CLEAN_CACHE_SIZE = 4096
_CLEAN_CACHE_MAX_LEN = 128
#: the smallest number of 13 digits, the fewest a card number has (``card_ok`` wants 13 to 19)
_CARD_MIN = 10**12
_INNER_CACHE_SIZE = 1024
_INNER_CACHE_MAX_LEN = 256

#: below this length a few substring searches cost less than one automaton pass: the text itself answers ``in``
_PREFILTER_MIN = 64


class _TokenFacts(NamedTuple):
    """What one token (a piece of a text cut at its spaces) tells about any text it is a token of."""

    #: the literals of :data:`_CI_LITERALS` in the lowered token, and those of :data:`_CS_LITERALS` in the token
    ci: frozenset[str]
    cs: frozenset[str]
    #: :data:`_TOKEN_DIGITS`, :data:`_TOKEN_CLASS`, :data:`_TOKEN_GLUE`, :data:`_TOKEN_CONN`
    flags: int
    #: the token's base64 blobs (what :func:`_b64_blobs` finds in it), in token offsets
    blobs: tuple[tuple[int, int], ...]


class _TextFacts(NamedTuple):
    """What the tokens of a text tell: the union of their flags, and the tokens holding base64 blobs."""

    flags: int
    b64: tuple[tuple[str, tuple[tuple[int, int], ...]], ...]


class _Present(NamedTuple):
    """Which of the scan's literals occur: ``ci`` answers for the lowered text, ``cs`` for the text as it is.

    For a short text they are the lowered text and the text themselves (``lit in present.ci`` is then the very
    substring search the scan always did); for a long one, sets filled by one automaton pass over the lowered
    text, so ``lit in present.ci`` equals ``lit in lowered`` for every literal of :data:`_CI_LITERALS`, and
    ``lit in present.cs`` equals ``lit in text`` for every literal of :data:`_CS_LITERALS` (when lowering changed
    the length, offsets cannot be checked and ``cs`` holds every literal whose lowered form occurs: a superset,
    which only lets a detector run that then finds nothing).
    """

    ci: Container[str]
    cs: Container[str]
    #: the simple detectors that can match, in table order (every match holds one of the detector's literals, in
    #: the lowered text for a case-insensitive one); None: gate each detector by ``ci`` and ``cs``
    detectors: tuple[SimpleDetector, ...] | None = None
    #: what the text's tokens tell, when the literals were found token by token (see :func:`_token_facts`)
    facts: _TextFacts | None = None


#: literals the scan looks for in the text as it is (detector prefixes, key-block markers)
_CS_LITERALS: frozenset[str] = frozenset(
    {lit for d in SIMPLE_DETECTORS if not d.lowered for lit in d.literals} | {"-----BEGIN", "PuTTY-User-Key-File"}
)
#: literals the scan looks for in the lowered text
_CI_LITERALS: frozenset[str] = frozenset(
    {lit for d in SIMPLE_DETECTORS if d.lowered for lit in d.literals}
    | {"://", "basic", "filter", '"value', "value:", '"name', '"key', '"parametername', "name:"}
    | set(KEYWORD_LITERALS)
    | set(CONN_KEY_LITERALS)
    | set(ORACLE_LITERALS)
    | set(PHONE_KEYWORDS)
    | set(PII_KEYWORDS)
)


_CONN_KEY_SET = frozenset(CONN_KEY_LITERALS)
_KEYWORD_SET = frozenset(KEYWORD_LITERALS)
_PHONE_KEYWORD_SET = frozenset(PHONE_KEYWORDS)
_PII_ANCHOR_SET = frozenset(PII_KEYWORDS)


def _any_present(found: Container[str], literals: frozenset[str]) -> bool:
    """``any(lit in found for lit in literals)``; one C-speed set operation when the prefilter made a set."""
    if type(found) is set:
        return not literals.isdisjoint(found)
    return any(lit in found for lit in literals)


def _build_automaton() -> WordMatcher[tuple[str, int, bool, tuple[str, ...]]]:
    words: dict[str, tuple[bool, tuple[str, ...]]] = {}
    for lit in _CI_LITERALS:
        words[lit] = (True, ())
    for lit in _CS_LITERALS:
        ci, originals = words.get(lit.lower(), (False, ()))
        words[lit.lower()] = (ci, (*originals, lit))
    return WordMatcher((word, (word, len(word), ci, originals)) for word, (ci, originals) in words.items())


_AUTOMATON = _build_automaton()


#: each simple detector's literals: (literal, looked for in the lowered text, the detector's index in the table)
_DETECTOR_LITERALS: tuple[tuple[str, bool, int], ...] = tuple(
    (lit, det.lowered, i) for i, det in enumerate(SIMPLE_DETECTORS) for lit in det.literals
)
_CI_GATES: dict[str, tuple[int, ...]] = {
    lit: tuple(i for other, low, i in _DETECTOR_LITERALS if low and other == lit)
    for lit, low, _i in _DETECTOR_LITERALS
    if low
}
_CS_GATES: dict[str, tuple[int, ...]] = {
    lit: tuple(i for other, low, i in _DETECTOR_LITERALS if not low and other == lit)
    for lit, low, _i in _DETECTOR_LITERALS
    if not low
}


def _detectors(found: set[int]) -> tuple[SimpleDetector, ...]:
    return tuple(SIMPLE_DETECTORS[i] for i in sorted(found)) if found else ()


def _present(text: str, lowered: str) -> _Present:
    """Which literals occur in ``text`` (see :class:`_Present`): for a text of a few known tokens, the union of the
    tokens' remembered literals, with what the tokens tell (:func:`_token_facts`); else as
    :func:`_present_reference` finds them."""
    if _PREFILTER_MIN <= len(lowered) <= _TOKEN_TEXT_MAX and len(lowered) == len(text):
        read = _token_facts(text)
        if read is not None:
            ci, cs, facts = read
            found = {i for lit in ci if lit in _CI_GATES for i in _CI_GATES[lit]}
            found.update(i for lit in cs if lit in _CS_GATES for i in _CS_GATES[lit])
            return _Present(ci, cs, _detectors(found), facts)
    return _present_reference(text, lowered)


def _present_reference(text: str, lowered: str) -> _Present:
    """Which literals occur in ``text``: by substring searches for a short text, else by one automaton pass."""
    if len(lowered) < _PREFILTER_MIN:
        found = {i for lit, low, i in _DETECTOR_LITERALS if lit in (lowered if low else text)}
        return _Present(lowered, text, _detectors(found))
    ci: set[str] = set()
    cs: set[str] = set()
    same = len(lowered) == len(text)
    for end, (word, size, is_ci, originals) in _AUTOMATON.iter(lowered):
        if is_ci:
            ci.add(word)
        for original in originals:
            if original not in cs and (not same or text.startswith(original, end - size + 1)):
                cs.add(original)
    found = {i for lit in ci if lit in _CI_GATES for i in _CI_GATES[lit]}
    found.update(i for lit in cs if lit in _CS_GATES for i in _CS_GATES[lit])
    return _Present(ci, cs, _detectors(found))


# --------------------------------------------------------------------------------------------------
# Texts of known tokens: what each space-separated token tells is remembered, and a text is told by its tokens
# --------------------------------------------------------------------------------------------------
#
# A filter pattern or a query is new every time, but its terms are not ("?ERROR", '?"connection', "reset\"").
# None of the scan's literals holds a space, so a literal occurs in a text exactly when it occurs in one of the
# text's tokens (``text.split(" ")``), and lowering a token changes it as lowering the text changes that piece (one
# character at a time when the length stays: only a final sigma looks at its neighbours, and it lowers to a
# non-ASCII letter either way, while every literal is ASCII). The same holds for what a few passes look for:
#
# * a base64 blob is a run of base64 characters, padding and context included, never holding a space;
# * ``999.999`` in the digit shape either lies in a token or crosses a space, and then a token begins with three
#   digits; thirteen digits in a row lie in a token (_TOKEN_DIGITS);
# * the IBAN and compact NINO shapes lie in a token, and the spaced NINO shape has tokens of two digits
#   (_TOKEN_CLASS);
# * a concatenation gate match lies in a token or crosses a space, and then the token after its last space begins
#   with its glue and quote (views.GATE_TAILS); a spaced-out run has tokens of one character (_TOKEN_GLUE);
# * the key a connection literal stands in is a run of identifier characters, never a space (_TOKEN_CONN).
#
# A flag missing from every token proves the pass finds nothing; a flag present only lets the pass run as before.

#: the texts read token by token: from _PREFILTER_MIN up to this length, lowered without a change of length
_TOKEN_TEXT_MAX = 4096
#: more distinct tokens than this (prose, ids): one automaton pass over the text costs less than the look-ups
_TOKEN_MAX_DISTINCT = 48
#: a text with more tokens not described yet is read whole, after this many of them are described for later texts
_TOKEN_LEARN = 4
_TOKEN_CACHE_SIZE = 4096
_TOKEN_CACHE_MAX_LEN = 64

_TOKEN_DIGITS = 1  # a digit group, or three digits at the token's start
_TOKEN_CLASS = 2  # an IBAN or NINO shape, or two digits alone (a piece of a spaced NINO)
_TOKEN_GLUE = 4  # a concatenation gate match or its tail after a space, or one character alone (a spaced run)
_TOKEN_CONN = 8  # a connection literal standing in a connection key

_NINO_WHOLE = tuple(shape for shape in NINO_SHAPES if b" " not in shape)
_NINO_PIECES = frozenset(piece for shape in NINO_SHAPES if b" " in shape for piece in shape.split(b" ")[1:-1])

_CI_ORDER = tuple(sorted(_CI_LITERALS))
_CS_ORDER = tuple(sorted(_CS_LITERALS))
#: a text with more spaces than this has too many tokens to be read token by token (one count, before the split)
_TOKEN_MAX_SPACES = 64
#: after a text could not be read token by token, the next few texts are read whole without trying (at most this
#: many, _TOKEN_PAUSE_STEP more for each miss in a row; a text read token by token ends the pause): texts of new
#: tokens pay for the split and look-ups rarely
_TOKEN_PAUSE_MAX = 64
_TOKEN_PAUSE_STEP = 4
_token_pause = [0, 0]  # [texts still to read whole, texts that could not be read token by token in a row]

#: a token that tells nothing (most of them): one shared value
_BLANK = _TokenFacts(frozenset(), frozenset(), 0, ())
#: the short tokens described: those that tell nothing, and what each other one tells (bounded together; it depends
#: on the token alone)
_TOKEN_BLANK: set[str] = set()
_TOKEN_LIVE: dict[str, _TokenFacts] = {}


def _describe_token(token: str) -> _TokenFacts | None:
    """What ``token`` tells (None when lowering changes its length: the text is then read whole)."""
    lowered = token.lower()
    if len(lowered) != len(token):
        return None
    # a token is short: substring searches cost less than setting up an automaton pass
    ci = {lit for lit in _CI_ORDER if lit in lowered}
    cs = {lit for lit in _CS_ORDER if lit in token}
    flags = 0
    if _digit_groups(token) or ascii_shape(token, _DIGIT_SHAPE).startswith(b"999"):
        flags |= _TOKEN_DIGITS
    shape = ascii_shape(token, CLASS_SHAPE)
    if IBAN_SHAPE in shape or any(nino in shape for nino in _NINO_WHOLE) or shape in _NINO_PIECES:
        flags |= _TOKEN_CLASS
    if len(token) == 1 or any(
        gate.search(token) is not None or tail.match(token) is not None
        for gate, tail in zip(CONCAT_GATES, GATE_TAILS, strict=True)
    ):
        flags |= _TOKEN_GLUE
    if _conn_key_at_literal(token, lowered, ci):
        flags |= _TOKEN_CONN
    blobs = tuple(_b64_blobs(token, ascii_shape(token, _B64_SHAPE)))
    if not (ci or cs or flags or blobs):
        return _BLANK
    return _TokenFacts(frozenset(ci), frozenset(cs), flags, blobs)


def _conn_key_at_literal(token: str, lowered: str, ci: Container[str]) -> bool:
    """Whether a key :meth:`Redactor._connection_values` reads at a connection literal of ``token`` (the same walk,
    held inside the token: identifier characters never include a space) is a connection key."""
    return any(is_connection_key(token[ks:ke]) for ks, ke in _connection_keys(token, lowered, ci))


def _connection_keys(text: str, lowered: str, ci: Container[str]) -> Iterator[tuple[int, int]]:
    """The (start, end) of the key around each connection literal of ``text`` that ``ci`` holds, in the order
    :meth:`Redactor._connection_values` reads them: back over up to 64 identifier characters, forward over the rest
    of the identifier, the next occurrence searched from the key's end."""
    for lit in CONN_KEY_LITERALS:
        if lit not in ci:
            continue
        pos = lowered.find(lit)
        while pos >= 0:
            ks = pos
            lo = max(0, ks - 64)
            while ks > lo and text[ks - 1] in IDENT:
                ks -= 1
            fwd = IDENT_FWD_RX.match(text, pos + len(lit))
            ke = fwd.end() if fwd is not None else pos + len(lit)
            yield ks, ke
            pos = lowered.find(lit, ke)


def _token_facts(text: str) -> tuple[set[str], set[str], _TextFacts] | None:
    """The literals of ``text`` (as :func:`_present` finds them: ``ci`` for the lowered text, ``cs`` for the text)
    and what its tokens tell, from its tokens' remembered facts; None when the text is better read whole (too many
    distinct tokens, or more than :data:`_TOKEN_LEARN` not described yet: that many are described for later).

    The tokens known to tell nothing are set aside by one set difference; each other token is looked up by itself,
    so a token forgotten meanwhile (the memory is bounded) is described again, never missed."""
    pause = _token_pause
    if pause[0] > 0:
        pause[0] -= 1
        return None
    if text.count(" ") > _TOKEN_MAX_SPACES:
        return None
    tokens = set(text.split(" "))
    if len(tokens) > _TOKEN_MAX_DISTINCT:
        _token_miss()
        return None
    live = _TOKEN_LIVE
    ci: set[str] = set()
    cs: set[str] = set()
    flags = 0
    b64: list[tuple[str, tuple[tuple[int, int], ...]]] = []
    unknown: list[str] = []
    for token in tokens.difference(_TOKEN_BLANK):
        facts = live.get(token)
        if facts is None:
            unknown.append(token)
            continue
        ci |= facts.ci
        cs |= facts.cs
        flags |= facts.flags
        if facts.blobs:
            b64.append((token, facts.blobs))
    if unknown:
        learn = len(unknown) > _TOKEN_LEARN
        for token in unknown[:_TOKEN_LEARN] if learn else unknown:
            described = _describe_token(token)
            if described is None:
                _token_miss()
                return None
            if len(token) <= _TOKEN_CACHE_MAX_LEN:
                if len(_TOKEN_BLANK) + len(live) >= _TOKEN_CACHE_SIZE:
                    _TOKEN_BLANK.clear()
                    live.clear()
                if described is _BLANK:
                    _TOKEN_BLANK.add(token)
                else:
                    live[token] = described
            ci |= described.ci
            cs |= described.cs
            flags |= described.flags
            if described.blobs:
                b64.append((token, described.blobs))
        if learn:
            _token_miss()
            return None
    pause[1] = 0
    return ci, cs, _TextFacts(flags, tuple(b64))


def _token_miss() -> None:
    """A text not read token by token: pause before the next try, longer for each miss in a row."""
    pause = _token_pause
    pause[1] += 1
    pause[0] = min(_TOKEN_PAUSE_STEP * pause[1], _TOKEN_PAUSE_MAX)


def _token_blobs(text: str, b64: Iterable[tuple[str, tuple[tuple[int, int], ...]]]) -> list[tuple[int, int]]:
    """``list(_b64_blobs(text, shape))`` from the tokens holding blobs: each place a token stands whole (between
    spaces or the text's ends), its blobs moved there, in text order."""
    n = len(text)
    spans: list[tuple[int, int]] = []
    for token, blobs in b64:
        size = len(token)
        pos = text.find(token)
        while pos >= 0:
            end = pos + size
            if (pos == 0 or text[pos - 1] == " ") and (end == n or text[end] == " "):
                spans.extend((pos + start, pos + stop) for start, stop in blobs)
            pos = text.find(token, pos + 1)
    spans.sort()
    return spans


#: the characters of a high-entropy candidate (``HE_CAND_RX``'s class) as ``h``, anything else as ``.``
_HE_SHAPE = bytes(104 if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/_-") else 46 for b in range(256))
_HE_RUN = b"h" * HE_MIN
#: below this length the probes are few and short: the shape costs more than the searches it saves
_HE_SHAPE_MIN = 2048

#: the longest base64 run ``B64_RX`` takes (its possessive ``{20,4194304}+``): a longer run never matches
_B64_MAX_RUN = 4194304


def _b64_blobs(text: str, shape: bytes) -> Iterator[tuple[int, int]]:
    """The spans of group 1 of ``B64_AT_START_RX.match(text)`` then ``B64_RX.finditer(text)``, read off the base64
    shape of ``text`` with C-speed searches. A candidate is a maximal run of 20+ base64 characters (the character
    before it, if any, is not one: the ``[^A-Za-z0-9+/]`` of ``B64_RX``); it is a blob when it is at most
    ``_B64_MAX_RUN`` long, is followed by at most two ``=`` and then by neither a base64 character nor ``=``. A match
    ends where the next candidate's leading character can start, so the candidates are independent."""
    n = len(text)
    pos = shape.find(_B64_MIN_RUN)
    while pos >= 0:  # always the start of a maximal run: the search starts outside runs
        end = shape.find(b".", pos)
        if end < 0:
            end = n
        pads = 0
        while pads < 3 and end + pads < n and text[end + pads] == "=":
            pads += 1
        after = end + pads
        if end - pos <= _B64_MAX_RUN and pads < 3 and (after == n or shape[after] != 98):
            yield pos, after
        pos = shape.find(_B64_MIN_RUN, end)


#: digits as ``9``; the separators of digit groups (space, ``.``, ``-``) as ``.``; anything else as ``x``
_DIGIT_SHAPE = bytes(57 if 48 <= b <= 57 else 46 if b in (32, 45, 46) else 120 for b in range(256))
#: what every ``DIGITS_RX`` match holds, in the digit shape: three digits, a separator and three more digits (a card in
#: groups, a NANP or a national phone number) or thirteen digits in a row (a card without separators)
_DIGIT_GROUPS = (b"999.999", b"9" * 13)


def _digit_groups(text: str) -> bool:
    """False when ``DIGITS_RX`` cannot match ``text`` (two C-speed substring searches instead of a regex pass)."""
    shape = ascii_shape(text, _DIGIT_SHAPE)
    return _DIGIT_GROUPS[0] in shape or _DIGIT_GROUPS[1] in shape


_B64_SHAPE = bytes(98 if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/") else 46 for b in range(256))
_B64_MIN_RUN = b"b" * 20


QUERY_FILTER_RX = re.compile(
    r"(?i:like|=~|==|!=|=|in \[)[ \t]{0,4}\\{0,7}[\"'/]((?:[^\"'/\\\s]|\\[^\"'\\/\s]){8,128})\\{0,7}[\"'/]",
    re.ASCII,
)
_NINO_LETTERS_RX = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d\d ?\d\d ?\d\d ?[A-D]", re.ASCII)
_HEX_RUN_RX = re.compile(r"[0-9a-fA-F]{16,16384}", re.ASCII)
_HEX_SECOND = frozenset("0123456789abcdefABCDEFxX")
_BOOKKEEPING_KEYS = frozenset({"redactions", "redaction_counts"})
_URL_STOP = frozenset(" \t\r\n\"'<>\\")
_PORT_RX = re.compile(r"\d{1,5}(?:[/?#]|$)", re.ASCII)
_QUERY_KEY_RX = re.compile(r"(?i:query|query_?string|filter_?pattern|sql|statement|expression|search|q)", re.ASCII)
#: literals of a query: "double", 'single', /regex/ and `backtick` quoted
QUERY_LITERAL_RX = re.compile(
    r"\"((?:[^\"\\\r\n]|\\.){8,256})\"|'((?:[^'\\\r\n]|\\.){8,256})'|(?<![\w/])/([^/\s]{8,256})/|`([^`\r\n]{8,256})`",
    re.ASCII,
)

#: QUERY_LITERAL_RX's alternatives one by one, each behind its literal first character (the look-behind of the
#: /regex/ one placed after its slash): the regex engine skips ahead to a literal, an alternation it tries everywhere
_QUERY_LITERAL_PARTS = (
    ('"', re.compile(r"\"((?:[^\"\\\r\n]|\\.){8,256})\"", re.ASCII)),
    ("'", re.compile(r"'((?:[^'\\\r\n]|\\.){8,256})'", re.ASCII)),
    ("/", re.compile(r"/(?<![\w/]/)([^/\s]{8,256})/", re.ASCII)),
    ("`", re.compile(r"`([^`\r\n]{8,256})`", re.ASCII)),
)
#: the same for a query without a backslash: there ``(?:[^"\\\r\n]|\\.)`` is ``[^"\\\r\n]`` (no character can begin an
#: escape), a repeated character class instead of a repeated alternation
_QUERY_LITERAL_PLAIN_PARTS = (
    ('"', re.compile(r"\"([^\"\\\r\n]{8,256})\"", re.ASCII)),
    ("'", re.compile(r"'([^'\\\r\n]{8,256})'", re.ASCII)),
    _QUERY_LITERAL_PARTS[2],
    _QUERY_LITERAL_PARTS[3],
)


def _query_literals(query: str) -> list[tuple[int, int]]:
    """The span of the literal inside each match of ``QUERY_LITERAL_RX.finditer(query)``, in order.

    Without a backslash in the query the escape alternative ``\\.`` of the quoted literals cannot match, and the
    regexes of :data:`_QUERY_LITERAL_PLAIN_PARTS` repeat a character class at C speed where those of
    :data:`_QUERY_LITERAL_PARTS` repeat an alternation (compared with :func:`_query_literals_reference` in a test)."""
    return _literal_spans(query, _QUERY_LITERAL_PARTS if "\\" in query else _QUERY_LITERAL_PLAIN_PARTS)


def _query_literals_reference(query: str) -> list[tuple[int, int]]:
    """:func:`_query_literals` as it was: the regexes with the escape alternative, whatever the query holds."""
    return _literal_spans(query, _QUERY_LITERAL_PARTS)


def _literal_spans(query: str, parts: tuple[tuple[str, re.Pattern[str]], ...]) -> list[tuple[int, int]]:
    """The span of group 1 of each match of the alternation of ``parts``' regexes, in order.

    The alternatives' first characters differ, so at most one matches at a position, and the leftmost of the
    alternatives' next matches is the alternation's next match; each is searched for again only once the scan has
    passed its start."""
    present = [rx for first, rx in parts if first in query]
    if len(present) <= 1:  # one alternative can match: the alternation's matches are its own
        return [m.span(1) for rx in present for m in rx.finditer(query)]
    found: list[tuple[int, int]] = []
    nexts = [(rx, rx.search(query)) for rx in present]
    pos = 0
    while True:
        best: re.Match[str] | None = None
        for i, (rx, cached) in enumerate(nexts):
            m = rx.search(query, pos) if cached is not None and cached.start() < pos else cached
            nexts[i] = (rx, m)
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        if best is None:
            return found
        found.append(best.span(1))
        pos = best.end()


def _is_bookkeeping(value: Any) -> bool:
    """A redactions summary (``{"password": 2, "email": 1}``): every key a reported type, every value a count."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            isinstance(k, str) and k in REPORTED_TYPES and isinstance(v, int) and not isinstance(v, bool)
            for k, v in value.items()
        )
    )


def _keyed_identifier_ok(kind: str, value: str) -> bool:
    digits = "".join(c for c in value if c.isdigit())
    if kind == "us_ssn":
        return ssn_ok(digits)
    if kind == "ca_sin":
        return sin_ok(digits)
    if kind == "bank_routing_number":
        return aba_ok(digits)
    if kind == "uk_sort_code":
        return len(digits) == 6
    return 6 <= len(digits) <= 17 and len(set(digits)) > 2  # bank_account_number


def _no_capitals(text: str, lowered: str) -> bool:
    """True when lowering leaves ``text`` as it is (one comparison): it holds no capital A-Z, so none of the IBAN and
    NINO shapes, which all start with two capitals (``AA``)."""
    return lowered == text


def _anchored_matches(rx: re.Pattern[str], anchor: str, text: str) -> Iterator[re.Match[str]]:
    """Like ``rx.finditer(text)`` for a pattern whose matches all start with ``anchor``, but fast."""
    pos = text.find(anchor)
    while pos >= 0:
        m = rx.match(text, pos)
        if m is not None and m.end() > pos:
            yield m
            pos = text.find(anchor, m.end())
        else:
            pos = text.find(anchor, pos + 1)


#: the characters that end a match of ``HEADER_VALUE_RX`` and of ``EOL_VALUE_RX`` (``[^...]{0,4096}``)
_HEADER_STOPS = ("\r", "\n", '"', "'")
_EOL_STOPS = ("\r", "\n")
_VALUE_MAX = 4096


def _run_end(text: str, start: int, stops: tuple[str, ...]) -> int:
    """Where ``[^<stops>]{0,4096}`` matched at ``start`` ends: at the first stop character, at most 4096 characters
    on (one C-speed search per stop character instead of a regex step per character)."""
    end = min(len(text), start + _VALUE_MAX)
    for stop in stops:
        found = text.find(stop, start, end)
        if found >= 0:
            end = found
    return end


def _odbc_context(text: str, ks: int, ke: int) -> bool:
    """A ``Pwd=`` inside an ODBC / ADO.NET connection string (``Driver=...;Uid=sa;Pwd=...;``)."""
    if not text.startswith("=", ke) or text.startswith(("/", "~"), ke + 1):
        return False
    return ODBC_CONTEXT_RX.search(text, max(0, ks - 256), min(len(text), ke + 256)) is not None


def _line_start_near(text: str, pos: int, reach: int = 64) -> int:
    """Start of the line holding ``pos`` if it is within ``reach`` characters, else -1 (bounded work)."""
    lo = max(0, pos - reach)
    nl = text.rfind("\n", lo, pos)
    if nl >= 0:
        return nl + 1
    return 0 if lo == 0 else -1


def _merge(spans: list[Span]) -> list[Span]:
    """Union overlapping detections; the visible type is the highest-priority (then longest) one."""
    if not spans:
        return spans
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[Span] = [spans[0]]
    for sp in spans[1:]:
        cur = merged[-1]
        if sp.start < cur.end:
            if sp.end <= cur.end and sp.prio <= cur.prio:
                continue
            best = cur if (cur.prio, cur.end - cur.start) >= (sp.prio, sp.end - sp.start) else sp
            merged[-1] = Span(cur.start, max(cur.end, sp.end), best.prio, best.kind, best.value)
        else:
            merged.append(sp)
    return merged
