"""The one redaction engine: secrets and customer data never leave through results, logs, audit or Slack.

Everything the gateway emits passes through :class:`Redactor`. It is pure (no I/O, no boto3) and
built for hostile input:

* **Linear time.** Every regular expression is bounded, starts at a boundary of its own character
  class (a negative look-behind), and uses possessive quantifiers where a run could be re-scanned,
  so no input makes any pattern backtrack more than a constant amount per character. Cheap
  substring prefilters skip detectors whose literal anchor is absent.
* **Encodings.** Besides the raw text the engine scans *views*: JSON-unescaped and URL-decoded
  regions (``\\u0041KIA``, ``\\/``, ``\\n`` inside a PEM, ``%2F``), line-joined regions (PEM, JWT or
  base64 bodies wrapped with newlines or ``\\`` continuations) and decoded base64 blobs (a blob that
  decodes to text holding a secret is redacted whole, with the inner secret's type). Matches in a
  view are mapped back to the exact span of the original text.
* **Streaming.** :meth:`Redactor.redact_stream` processes large results in bounded pieces, keeps an
  overlap so a secret spanning a chunk boundary is still caught, and only cuts where no detection
  is open.

Replacements look like ``[REDACTED:aws_secret_key]``; with a fingerprint key configured they carry a
short keyed HMAC, ``[REDACTED:aws_secret_key:1a2b3c4d]``, so equal values correlate across records
without being recoverable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import ipaddress
import itertools
import json
import math
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, NamedTuple
from urllib.parse import quote, quote_plus

from pydantic import ConfigDict, Field, field_validator

from .errors import PolicyError
from .models import StrictModel

__all__ = [
    "PII_CLASSES",
    "SECRET_TYPES",
    "RedactionConfig",
    "RedactionResult",
    "Redactor",
    "UnsafePatternError",
    "key_secret_type",
    "validate_customer_id_pattern",
]

# --------------------------------------------------------------------------------------------------
# Type names (the contract: they appear in replacements, counts, audit records and metrics)
# --------------------------------------------------------------------------------------------------

SECRET_TYPES: Final[frozenset[str]] = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_key",
        "aws_session_token",
        "aws_signature",
        "jwt",
        "private_key",
        "openssh_private_key",
        "putty_private_key",
        "url_password",
        "authorization",
        "bearer_token",
        "slack_token",
        "slack_webhook",
        "github_token",
        "gitlab_token",
        "stripe_key",
        "google_api_key",
        "npm_token",
        "sendgrid_api_key",
        "openai_api_key",
        "anthropic_api_key",
        "password",
        "secret",
        "api_key",
        "token",
        "cookie",
        "high_entropy",
        "known_secret",
    }
)
PII_CLASSES: Final[frozenset[str]] = frozenset({"email", "phone", "credit_card", "ipv4", "ipv6", "customer_id"})

# Priorities decide the visible type when detections overlap (the union of the spans is redacted).
_P_KEY: Final = 100  # private keys
_P_KNOWN: Final = 95  # the gateway's own secrets
_P_TOKEN: Final = 80  # structured tokens with a recognisable shape
_P_CONTEXT: Final = 60  # url passwords, Authorization/Bearer
_P_GENERIC: Final = 50  # key = value assignments
_P_ENTROPY: Final = 40
_P_CUSTOMER: Final = 25
_P_PII: Final = 20

_MAX_DEPTH: Final = 2  # nested base64 levels
_DECODE_PASSES: Final = 3  # JSON/URL unescaping rounds (double-encoded values)
_SEGMENT_GAP: Final = 4096  # merge escape-bearing lines closer than this into one decoded view

# Stream tuning: pieces are scanned with an overlap; cut points avoid open detections.
_PIECE: Final = 256 * 1024
_OVERLAP: Final = 16 * 1024
_CONTEXT: Final = 1024
_MAX_CARRY: Final = 4 * 1024 * 1024
_STREAM_THRESHOLD: Final = 2 * 1024 * 1024

_A: Final = re.ASCII


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | _A)


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


class UnsafePatternError(PolicyError, ValueError):
    """A customer-id pattern from the policy is invalid or could backtrack catastrophically.

    It is both a :class:`PolicyError` (code POLICY_UNAVAILABLE: the policy loader fails closed) and a
    ``ValueError`` (so pydantic reports it as a validation error of :class:`RedactionConfig`).
    """


_MAX_PATTERN_LEN: Final = 256
_MAX_PATTERNS: Final = 32
_MAX_REPEAT_BOUND: Final = 256
_MAX_AMBIGUITY: Final = 64
_MIN_PATTERN_WIDTH: Final = 4

_sre_parser: Any = importlib.import_module("re._parser")
_sre_constants: Any = importlib.import_module("re._constants")
_REPEATS: Final = frozenset({_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT, _sre_constants.POSSESSIVE_REPEAT})
_FORBIDDEN_OPS: Final = frozenset({_sre_constants.GROUPREF, _sre_constants.GROUPREF_EXISTS})


def _walk_pattern(items: Any, inside_repeat: bool, budget: list[int]) -> None:
    for op, av in items:
        if op in _FORBIDDEN_OPS:
            raise UnsafePatternError("customer id pattern: backreferences are not allowed")
        if op in _REPEATS:
            lo, hi, sub = av
            if hi == _sre_parser.MAXREPEAT or hi > _MAX_REPEAT_BOUND:
                raise UnsafePatternError(
                    f"customer id pattern: every quantifier must be bounded ({{m,n}} with n <= "
                    f"{_MAX_REPEAT_BOUND}); '*', '+' and '{{m,}}' are not allowed"
                )
            if inside_repeat:
                raise UnsafePatternError("customer id pattern: nested quantifiers are not allowed")
            budget[0] *= hi - lo + 1
            _walk_pattern(sub, True, budget)
        elif op is _sre_constants.BRANCH:
            if inside_repeat:
                raise UnsafePatternError("customer id pattern: alternation inside a quantifier")
            for alt in av[1]:
                _walk_pattern(alt, inside_repeat, budget)
        elif op is _sre_constants.SUBPATTERN:
            _walk_pattern(av[3], inside_repeat, budget)
        elif op is _sre_constants.ATOMIC_GROUP:
            _walk_pattern(av, inside_repeat, budget)
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            _walk_pattern(av[1], inside_repeat, budget)


def _literal_anchor(pattern: str) -> str:
    """The literal every match of ``pattern`` starts with (after zero-width assertions), or ""."""
    parsed = _sre_parser.parse(pattern)
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return ""
    chars: list[str] = []
    for op, av in parsed:
        if op is _sre_constants.AT and not chars:
            continue
        if op is _sre_constants.LITERAL:
            chars.append(chr(av))
            continue
        break
    return "".join(chars)


def validate_customer_id_pattern(pattern: str) -> re.Pattern[str]:
    """Compile one customer-id regex from the policy, refusing anything that could be slow.

    Rules: at most 256 characters; compiles; every quantifier bounded (n <= 256); no nested
    quantifiers and no alternation under a quantifier; no backreferences; the product of the
    variable quantifier ranges at most 64 (so a match attempt does a small, fixed amount of work);
    matches at least 4 characters. Raises :class:`UnsafePatternError`.
    """
    if not isinstance(pattern, str) or not pattern:
        raise UnsafePatternError("customer id pattern must be a non-empty string")
    if len(pattern) > _MAX_PATTERN_LEN:
        raise UnsafePatternError(f"customer id pattern longer than {_MAX_PATTERN_LEN} characters")
    try:
        compiled = re.compile(pattern)
        parsed = _sre_parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise UnsafePatternError(f"customer id pattern does not compile: {exc}") from None
    budget = [1]
    _walk_pattern(parsed, False, budget)
    if budget[0] > _MAX_AMBIGUITY:
        raise UnsafePatternError(
            f"customer id pattern: too many variable-length quantifiers (ambiguity {budget[0]} > {_MAX_AMBIGUITY})"
        )
    if parsed.getwidth()[0] < _MIN_PATTERN_WIDTH:
        raise UnsafePatternError(f"customer id pattern must match at least {_MIN_PATTERN_WIDTH} characters")
    return compiled


class RedactionConfig(StrictModel):
    """How a :class:`Redactor` behaves. Secrets detectors are always on; PII classes are chosen here."""

    pii_classes: frozenset[str] = frozenset(PII_CLASSES)
    customer_id_patterns: tuple[str, ...] = Field(default=(), max_length=_MAX_PATTERNS)
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
# Internal structures
# --------------------------------------------------------------------------------------------------


class _Span(NamedTuple):
    start: int
    end: int
    prio: int
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class _Simple:
    """A detector that is one regex behind a cheap substring prefilter."""

    kind: str
    prio: int
    literals: tuple[str, ...]  # documentation; a prefilter on the lowered text when ``lowered``
    regex: re.Pattern[str]
    group: int = 0
    lowered: bool = False
    check: Callable[[str], bool] | None = None


def _has_classes(value: str, need: int) -> bool:
    classes = any(c.isupper() for c in value) + any(c.islower() for c in value) + any(c.isdigit() for c in value)
    return classes >= need


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


_SIMPLE: Final[tuple[_Simple, ...]] = (
    _Simple(
        "aws_access_key_id",
        _P_TOKEN,
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        _rx(r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])(?<![A-Za-z0-9]....)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ),
    *(
        _Simple(
            "aws_session_token",
            _P_TOKEN,
            (prefix,),
            _rx(prefix + r"(?<![A-Za-z0-9/+].{12})[A-Za-z0-9/+=]{40,16384}+"),
        )
        for prefix in ("IQoJb3JpZ2lu", "FwoGZXIvYXdz", "FQoGZXIvYXdz")  # base64 of the STS token header
    ),
    _Simple(
        "jwt",
        _P_TOKEN,
        ("eyJ",),
        _rx(
            r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{5,8192}+\.[A-Za-z0-9_-]{5,16384}+"
            r"\.[A-Za-z0-9_-]{0,8192}+"
        ),
    ),
    _Simple(
        "slack_webhook",
        _P_TOKEN + 5,
        ("hooks.slack.com",),
        _rx(r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{8,512}+"),
    ),
    _Simple(
        "slack_token",
        _P_TOKEN,
        ("xox", "xapp-"),
        _rx(
            r"xox[abposre]-(?<![A-Za-z0-9-].{5})[A-Za-z0-9-]{10,250}+"
            r"|xapp-(?<![A-Za-z0-9-]xapp-)\d-[A-Za-z0-9-]{10,250}+"
        ),
    ),
    _Simple(
        "github_token",
        _P_TOKEN,
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        _rx(
            r"gh[pousr]_(?<![A-Za-z0-9_]....)[A-Za-z0-9]{36,251}+"
            r"|github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,255}+"
        ),
    ),
    _Simple(
        "gitlab_token",
        _P_TOKEN,
        ("glpat-", "glrt-", "gldt-", "glptt-"),
        _rx(
            r"gl(?:pat-(?<![A-Za-z0-9_-]glpat-)|rt-(?<![A-Za-z0-9_-]glrt-)|dt-(?<![A-Za-z0-9_-]gldt-)"
            r"|ptt-(?<![A-Za-z0-9_-]glptt-))[A-Za-z0-9_.-]{20,128}+"
        ),
    ),
    # one pattern per leading literal: a literal prefix lets the regex engine skip ahead fast
    _Simple(
        "stripe_key",
        _P_TOKEN,
        ("sk_live_", "sk_test_"),
        _rx(r"sk_(?:live|test)_(?<![A-Za-z0-9_].{8})[A-Za-z0-9]{16,247}+"),
    ),
    _Simple(
        "stripe_key",
        _P_TOKEN,
        ("rk_live_", "rk_test_"),
        _rx(r"rk_(?:live|test)_(?<![A-Za-z0-9_].{8})[A-Za-z0-9]{16,247}+"),
    ),
    _Simple("stripe_key", _P_TOKEN, ("whsec_",), _rx(r"whsec_(?<![A-Za-z0-9_]whsec_)[A-Za-z0-9+/=]{24,128}+")),
    _Simple(
        "google_api_key",
        _P_TOKEN,
        ("AIza",),
        _rx(r"AIza(?<![A-Za-z0-9_-]AIza)[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"),
    ),
    _Simple("npm_token", _P_TOKEN, ("npm_",), _rx(r"npm_(?<![A-Za-z0-9_]npm_)[A-Za-z0-9]{36}(?![A-Za-z0-9])")),
    _Simple(
        "sendgrid_api_key",
        _P_TOKEN,
        ("SG.",),
        _rx(r"SG\.(?<![A-Za-z0-9_-]SG\.)[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
    ),
    _Simple(
        "anthropic_api_key",
        _P_TOKEN + 2,
        ("sk-ant-",),
        _rx(r"sk-ant-(?<![A-Za-z0-9_-]sk-ant-)[A-Za-z0-9_-]{32,256}+"),
    ),
    _Simple(
        "openai_api_key",
        _P_TOKEN,
        ("sk-",),
        _rx(r"sk-(?<![A-Za-z0-9_-]sk-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,256}+"),
        check=lambda v: _has_classes(v, 3),
    ),
    _Simple(
        "aws_signature",
        _P_CONTEXT,
        ("x-amz-signature",),
        _rx(r"[Xx]-(?i:amz-signature)=([0-9a-fA-F]{64})(?![0-9a-fA-F])"),
        group=1,
        lowered=True,
    ),
    _Simple(
        "bearer_token",
        _P_CONTEXT,
        ("bearer",),
        _rx(r"[Bb](?i:earer)(?<![A-Za-z0-9].{6})[ \t]{1,8}(?!\[REDACTED)([A-Za-z0-9._~+/=-]{12,8192}+)"),
        group=1,
        lowered=True,
        check=_has_digit,
    ),
)

# Private keys. The body is a bounded sequence of base64 lines or ``Header: value`` lines, each
# consumed possessively, optionally closed by the END marker (a truncated key is still redacted).
_PEM_RX: Final = _rx(
    r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:\s*+(?:[A-Za-z][A-Za-z0-9-]{0,40}+:[^\r\n]{0,256}+|[A-Za-z0-9+/=]{1,4096}+)){0,4096}+"
    r"(?:\s*+-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
)
_PUTTY_RX: Final = _rx(
    r"PuTTY-User-Key-File-\d{1,2}:[^\r\n]{0,256}+"
    r"(?:\r?\n[ \t]*(?:[A-Za-z][A-Za-z0-9-]{0,40}+:[^\r\n]{0,512}+|[A-Za-z0-9+/=]{1,4096}+)){0,1024}+"
)
_PUTTY_MAC_RX: Final = _rx(r"Private-MAC:[^\r\n]{0,256}")

_URL_PW_RX: Final = _rx(r"://[^\s:/?#@\"'<>\\]{0,256}+:([^\s/?#\"'<>\\]{1,1024})@")
_BASIC_RX: Final = _rx(r"[Bb](?i:asic)(?<![A-Za-z0-9].{5})[ \t]{1,8}([A-Za-z0-9+/]{8,4096}+={0,2})")

# AWS secret access keys without an explicit assignment: 40 base64 characters near a keyword.
_AWS_SECRET_CTX_RX: Final = _rx(r"aws|akia|asia|secret[ _.-]?access|access[ _.-]?key", re.IGNORECASE)
_AWS_CTX_LITERALS: Final = ("aws", "akia", "asia", "access")

# Generic assignments: find a keyword, widen it to the whole key, classify the key, read the value.
_KEYWORD_RX: Final = _rx(
    r"pass|pwd|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|signing[_.-]?key"
    r"|encryption[_.-]?key|master[_.-]?key|account[_.-]?key|subscription[_.-]?key|credential"
    r"|auth|cookie",
    re.IGNORECASE,
)
_KEYWORD_LITERALS: Final = ("pass", "pwd", "secret", "token", "key", "credential", "auth", "cookie")
_KEY_KEYWORD_RX: Final = _rx(r"(?:api|access|private|signing|encryption|master|account|subscription|secret)[_.-]?$")
_IDENT: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_IDENT_FWD_RX: Final = _rx(r"[A-Za-z0-9_.-]{0,64}+")
_KV_TAIL_RX: Final = _rx(
    r"(?P<kq>\\{0,3}[\"'])?"
    r"(?:[ \t]{0,8}(?P<sep>:=|=>|==|=|:)[ \t]{0,8}|(?P<xml>>)|(?P<sp>[ \t]{1,8}))"
    r"(?:\\{0,3}\"(?P<dq>(?:[^\"\\\r\n]|\\[^\"\r\n]){0,4096}+)"
    r"|\\{0,3}'(?P<sq>(?:[^'\\\r\n]|\\[^'\r\n]){0,4096}+)"
    r"|(?P<blk>[|>][-+]?)(?=[ \t]*\r?(?:\n|\Z))"
    r"|(?P<uv>[^\s\"'`,;&<>(){}\[\]\\|]{1,4096}+))"
)
_LINE_PREFIX_RX: Final = _rx(r"[ \t]*(?:export[ \t]+|set[ \t]+|-[ \t]+)?")
_EOL_VALUE_RX: Final = _rx(r"[^\r\n]{0,4096}")
_HEADER_VALUE_RX: Final = _rx(r"[^\r\n\"']{0,4096}")
_SCHEME_RX: Final = _rx(r"(?i:bearer|basic|digest|token|bot|negotiate|ntlm|aws4-hmac-sha256|apikey|ssws|hmac)[ \t]+")
_PLACEHOLDER_RX: Final = _rx(
    r"(?i:null|none|nil|true|false|undefined|redacted|<redacted>|\[redacted[^\]]{0,64}\]?|\(hidden\)"
    r"|<hidden>|\*+|x{3,}|\.{3}|-+|\?+|%s|\{\}|\$\{?[A-Za-z_][A-Za-z0-9_.-]{0,64}\}?|\{\{.{0,128}\}\}"
    r"|<[^<>]{0,64}>|[\"']{2})"
)
_WORDISH_RX: Final = _rx(r"[a-z]{1,12}|[A-Z][a-z]{1,11}")

# High-entropy strings shortly after a keyword.
_HE_CAND_RX: Final = _rx(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,1024}+={0,2}")
_UUID_RX: Final = _rx(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_RX: Final = _rx(r"[0-9a-fA-F]+")
_PIECE_SPLIT_RX: Final = _rx(r"[/_.+=-]+")
_WORD_PIECE_RX: Final = _rx(r"[a-z]{3,}|[A-Z][a-z]{2,}|[A-Z]{3,}|[0-9]+")
_HE_WINDOW: Final = 64

# k8s / ECS / CloudFormation style {"name": "DB_PASSWORD", "value": "..."} pairs.
_NAME_VALUE_JSON_RX: Final = _rx(
    r"\"(?i:name|key|parametername)\\{0,3}\"[ \t]{0,4}:[ \t]{0,4}\\{0,3}\""
    r"(?P<n>[A-Za-z0-9_.-]{1,128}+)\\{0,3}\"[ \t]{0,4},[ \t\r\n]{0,16}"
    r"(?i:\\{0,3}\"value\\{0,3}\"[ \t]{0,4}:[ \t]{0,4}\\{0,3}\")"
    r"(?P<v>(?:[^\"\\\r\n]|\\[^\"\r\n]){1,4096}+)"
)
_NAME_VALUE_YAML_RX: Final = _rx(
    r"(?i:name):[ \t]{0,8}[\"']?(?P<n>[A-Za-z0-9_.-]{1,128}+)[\"']?[ \t]{0,8}\r?\n"
    r"[ \t]{0,32}(?:-[ \t]{1,4})?(?i:value):[ \t]{0,8}(?P<v>[^\r\n]{1,4096}+)"
)

# Base64 blobs that may wrap a secret.
_B64_RX: Final = _rx(r"[^A-Za-z0-9+/]([A-Za-z0-9+/]{20,4194304}+={0,2})(?![A-Za-z0-9+/=])")
_B64_AT_START_RX: Final = _rx(r"([A-Za-z0-9+/]{20,4194304}+={0,2})(?![A-Za-z0-9+/=])")
_CTRL_RX: Final = _rx(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# PII. Each pattern starts with a literal or a digit so the regex engine can skip ahead quickly;
# context before the first character is checked with a look-behind placed after it.
_EMAIL_DOMAIN_RX: Final = _rx(
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_EMAIL_LOCAL: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_PHONE_INTL_RX: Final = _rx(r"\+(?<![\w+]\+)[1-9](?:[ .()-]{0,2}\d){6,14}(?!\w|[.-]\d)")
_DIGITS_RX: Final = _rx(
    r"\d{3}(?:(?<![\w.+/-]\d{3})|(?<=[^\w.+/-]1[ .-]\d{3}))"
    r"(?:(?P<card>\d(?:[ -]\d{4}[ -]\d{4}[ -]\d{1,7}|[ -]\d{6}[ -]\d{4,5}|\d{9,15}))"
    r"|(?P<nanp>[.-]\d{3}[.-]\d{4})"
    r"|(?P<national>(?<=0\d\d)\d{0,2}[ -]\d{3,4}[ -]?\d{3,4}))"
    r"(?!\w|[.-]\d)"
)
_PAREN_PHONE_RX: Final = _rx(r"\((?<![\w.+/-]\()\d{3}\)[ .-]?\d{3}[.-]\d{4}(?!\w|[.-]\d)")
_IPV4_TAIL_RX: Final = _rx(r"\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\w|\.\d)")
_DIGIT_CHARS: Final = frozenset("0123456789")
_PHONE_KEYED_RX: Final = _rx(
    r"[A-Za-z0-9_.-]{0,20}\\{0,3}[\"']?"
    r"[ \t]{0,4}[:=][ \t]{0,4}\\{0,3}[\"']?(\+?[\d(][\d ().-]{5,22}\d)"
)
_PHONE_KEYWORDS: Final = ("phone", "mobile", "msisdn", "whatsapp", "tel", "cell", "fax")
_IPV4_ALLOW: Final = frozenset({"0.0.0.0", "255.255.255.255"})  # noqa: S104
_IPV6_FULL_RX: Final = _rx(
    r":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:"
)
_IPV6_CHARS: Final = frozenset("0123456789abcdefABCDEF:")
_IPV6_ALLOW: Final = frozenset({"::", "::1"})
_WORD_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

# Encoded views.
_ESC_TRIGGER_RX: Final = _rx(r"\\(?:u[0-9a-fA-F]{4}|[/\\nrtbf])|%[0-7][0-9A-Fa-f]")
_DECODE_RX: Final = _rx(r"\\u([0-9a-fA-F]{4})|\\([/\"\\bfnrt'])|%([0-7][0-9A-Fa-f])")
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
_CONT_LINE_RX: Final = _rx(
    r"^[ \t]*(?P<tok>[A-Za-z0-9+/=_.-]{1,8192}+)[ \t]*(?P<bs>\\?)[ \t]*(?P<tail>[\"',;]{0,3})[ \t]*\r?$",
    re.MULTILINE,
)
_WRAP_END_RX: Final = _rx(
    r"(?:[A-Za-z0-9+/=_.-]{16}|(?:AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abposre]-|xapp-|"
    r"sk_live_|sk_test_|rk_live_|AIza|eyJ)[A-Za-z0-9+/=_.-]{0,15}|[A-Za-z0-9+/=_.-]{4}[ \t]*\\)"
    r"[ \t]*\\?[ \t]*\r?$"
)
_TRAILING_BREAK_RX: Final = _rx(r"[ \t]*\\?[ \t]*\r?$")


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _entropy(value: str) -> float:
    n = len(value)
    return -sum((c / n) * math.log2(c / n) for c in Counter(value).values())


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i & 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _card_ok(candidate: str) -> bool:
    digits = "".join(c for c in candidate if c.isdigit())
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456":
        return False
    separators = {c for c in candidate if not c.isdigit()}
    if len(separators) > 1:
        return False
    if separators:
        groups = re.split(r"[ -]", candidate)
        if len(groups[0]) != 4 or any(len(g) < 3 for g in groups[1:-1]):
            return False
    return _luhn(digits)


def _phone_digits_ok(candidate: str, low: int = 8, high: int = 15) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if not low <= digits <= high:
        return False
    return candidate.count("(") == candidate.count(")")


def _looks_high_entropy(value: str) -> bool:
    n = len(value)
    if n < 16 or _UUID_RX.fullmatch(value):
        return False
    if _HEX_RX.fullmatch(value):
        return n >= 32 and _entropy(value) >= 3.0
    if not _has_classes(value, 2) or not any(c.isdigit() or c in "+/=" for c in value):
        return False
    # paths, ARNs and slugs ("assumed-role/billing-role/session-9f2c") are words, not randomness
    wordy = sum(len(p) for p in _PIECE_SPLIT_RX.split(value) if _WORD_PIECE_RX.fullmatch(p))
    if wordy * 2 >= n:
        return False
    threshold = min(4.0, 0.9 * math.log2(n))
    return _entropy(value) >= threshold


def _ipv4_ok(value: str) -> bool:
    octets = value.split(".")
    if len(octets) != 4 or any(len(o) > 1 and o[0] == "0" for o in octets):
        return False
    if any(int(o) > 255 for o in octets):
        return False
    return value not in _IPV4_ALLOW and not value.startswith("127.")


def _is_placeholder(value: str) -> bool:
    return _PLACEHOLDER_RX.fullmatch(value) is not None


def _b64_text(blob: str) -> str | None:
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


_KEY_SUFFIXES: Final[tuple[tuple[str, str], ...]] = (
    ("secretaccesskey", "aws_secret_key"),
    ("awssecretkey", "aws_secret_key"),
    ("sessiontoken", "aws_session_token"),
    ("securitytoken", "aws_session_token"),
    ("authorization", "authorization"),
    ("setcookie", "cookie"),
    ("cookie", "cookie"),
    ("password", "password"),
    ("passwords", "password"),
    ("passwd", "password"),
    ("passphrase", "password"),
    ("pwd", "password"),
    ("privatekey", "private_key"),
    ("apikey", "api_key"),
    ("apikeys", "api_key"),
    ("accesskey", "api_key"),
    ("signingkey", "api_key"),
    ("encryptionkey", "api_key"),
    ("masterkey", "api_key"),
    ("accountkey", "api_key"),
    ("subscriptionkey", "api_key"),
    ("secretkey", "secret"),
    ("secret", "secret"),
    ("secrets", "secret"),
    ("secretstring", "secret"),
    ("secretbinary", "secret"),
    ("credential", "secret"),
    ("credentials", "secret"),
    ("token", "token"),
)
_KEY_NOT_SECRET: Final[tuple[str, ...]] = (
    "nexttoken",
    "continuationtoken",
    "forwardtoken",
    "backwardtoken",
    "paginationtoken",
    "pagetoken",
    "clienttoken",
    "idempotencytoken",
    "synctoken",
    "starttoken",
    "resumetoken",
)
_KEY_NORMALISE_RX: Final = _rx(r"[^a-z0-9]")
_KEY_ENDINGS: Final = tuple(suffix for suffix, _kind in _KEY_SUFFIXES)
_AUTH_KEY_RX: Final = _rx(r"(?:.*[_.-])?(?:auth|pass)", re.IGNORECASE)


def key_secret_type(key: str) -> str | None:
    """The secret type a key name implies (``DB_PASSWORD`` -> ``password``), or None if benign.

    The key must *end* with the keyword (``token_count`` and ``password_policy`` are not secrets);
    pagination and idempotency tokens (``NextToken``, ``ClientToken``) are excluded.
    """
    if len(key) > 128:
        return None
    lowered = key.lower()
    norm = lowered if lowered.isalnum() else _KEY_NORMALISE_RX.sub("", lowered)
    if not norm.endswith(_KEY_ENDINGS):
        stripped = key.strip("-_.$@'\"")
        if _AUTH_KEY_RX.fullmatch(stripped):
            return "authorization" if stripped.lower().endswith("auth") else "password"
        return None
    if norm in ("pwd", "oldpwd"):
        return None
    if norm.endswith(_KEY_NOT_SECRET):
        return None
    for suffix, kind in _KEY_SUFFIXES:
        if norm.endswith(suffix):
            return kind
    stripped = key.strip("-_.$@'\"")
    if _AUTH_KEY_RX.fullmatch(stripped):
        return "authorization" if stripped.lower().endswith("auth") else "password"
    return None


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
        if m.group(1) is not None:
            pieces.append(chr(int(m.group(1), 16)))
        elif m.group(2) is not None:
            pieces.append(_SIMPLE_ESCAPES[m.group(2)])
        else:
            pieces.append(chr(int(m.group(3), 16)))
        index.append(start)
        last = m.end()
    if not pieces:
        return None
    pieces.append(text[last:])
    index.extend(range(last, len(text) + 1))  # includes the end sentinel
    return "".join(pieces), index


def _decode_view(text: str) -> tuple[str, array[int]] | None:
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


def _escape_segments(text: str) -> list[tuple[int, int]]:
    """Regions (whole lines, merged when close) that contain JSON or URL escapes."""
    segments: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    while True:
        m = _ESC_TRIGGER_RX.search(text, pos)
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


def _join_chains(text: str) -> list[tuple[int, str, array[int]]]:
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
            (validate_customer_id_pattern(p), _literal_anchor(p)) for p in config.customer_id_patterns
        )
        self._fp_key = config.fingerprint_key
        variants: dict[str, str] = {}
        for secret in config.exact_secrets:
            for variant in _secret_variants(secret):
                if len(variant) >= 8:
                    variants.setdefault(variant, secret)
        # longest first so a longer encoded form wins over a contained shorter one
        self._exact: tuple[tuple[str, str], ...] = tuple(sorted(variants.items(), key=lambda kv: -len(kv[0])))

    # ----------------------------------------------------------------- public API

    def redact_text(self, text: str, *, pii: bool = True) -> RedactionResult:
        """Redact one string. Very large strings are processed piecewise (bounded memory)."""
        if len(text) > _STREAM_THRESHOLD:
            parts: list[str] = []
            counts: Counter[str] = Counter()
            slices = (text[i : i + _PIECE] for i in range(0, len(text), _PIECE))
            for res in self.redact_stream(slices, pii=pii):
                parts.append(res.text)
                counts.update(res.counts)
            return RedactionResult(text="".join(parts), counts=dict(counts))
        spans = _merge(self._spans(text, pii, 0))
        out, found = self._render(text, spans, 0, len(text))
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
        buf = ""
        ctx = ""
        for chunk in chunks:
            if not chunk:
                continue
            for i in range(0, len(chunk), _PIECE):
                buf += chunk[i : i + _PIECE]
                if len(buf) >= _PIECE + _OVERLAP:
                    result, buf, ctx = self._emit(buf, ctx, pii, final=False)
                    if result is not None:
                        yield result
        if buf:
            result, buf, ctx = self._emit(buf, ctx, pii, final=True)
            if result is not None:
                yield result

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
        if isinstance(value, str):
            res = self.redact_text(value, pii=pii)
            counts.update(res.counts)
            return res.text
        if isinstance(value, dict):
            return self._redact_dict(value, pii, counts, depth)
        if isinstance(value, list | tuple):
            items = [self._redact_any(v, pii, counts, depth + 1) for v in value]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, bytes | bytearray):
            res = self.redact_text(bytes(value).decode("utf-8", "backslashreplace"), pii=pii)
            counts.update(res.counts)
            return res.text
        if (
            pii
            and "credit_card" in self._pii_classes
            and isinstance(value, int)
            and not isinstance(value, bool)
            and _card_ok(str(abs(value)))
        ):
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
        for key, item in value.items():
            kind = key_secret_type(key) if isinstance(key, str) else None
            if kind is None and pair_kind is not None and key in ("value", "Value"):
                kind = pair_kind
            if kind is not None:
                new_item = self._redact_whole(kind, item, counts)
            else:
                new_item = self._redact_any(item, pii, counts, depth + 1)
            new_key = key
            if isinstance(key, str):
                res = self.redact_text(key, pii=pii)
                if res.counts:
                    counts.update(res.counts)
                    new_key = res.text
                    suffix = 2
                    while new_key in out:
                        new_key = f"{res.text}#{suffix}"
                        suffix += 1
            out[new_key] = new_item
        return out

    # ----------------------------------------------------------------- streaming

    def _emit(self, buf: str, ctx: str, pii: bool, *, final: bool) -> tuple[RedactionResult | None, str, str]:
        text = ctx + buf
        off = len(ctx)
        spans = _merge(self._spans(text, pii, 0))
        if final:
            cut = len(text)
        else:
            cut = _safe_cut(text, off, spans)
            if cut <= off:
                if len(buf) <= _MAX_CARRY:
                    return None, buf, ctx
                cut = len(text) - _OVERLAP  # a single detection larger than the carry: force
        out, counts = self._render(text, spans, off, cut)
        new_ctx = text[max(0, cut - _CONTEXT) : cut]
        return RedactionResult(text=out, counts=counts), text[cut:], new_ctx

    # ----------------------------------------------------------------- detection pipeline

    def _spans(self, text: str, pii: bool, depth: int) -> list[_Span]:
        """All detections in ``text`` and in its decoded and line-joined views, in text offsets."""
        spans = self._scan(text, pii, depth)
        if "\\" in text or "%" in text:
            for seg_start, seg_end in _escape_segments(text):
                decoded = _decode_view(text[seg_start:seg_end])
                if decoded is None:
                    continue
                view, index = decoded
                found = self._scan(view, pii, depth)
                found.extend(self._join_spans(view, depth))
                for sp in found:
                    spans.append(sp._replace(start=seg_start + index[sp.start], end=seg_start + index[sp.end]))
        if "\n" in text:
            spans.extend(self._join_spans(text, depth))
        return spans

    def _join_spans(self, text: str, depth: int) -> list[_Span]:
        spans: list[_Span] = []
        for region_start, joined, index in _join_chains(text):
            for sp in self._scan(joined, False, depth):
                spans.append(sp._replace(start=region_start + index[sp.start], end=region_start + index[sp.end]))
        return spans

    def _scan(self, text: str, pii: bool, depth: int) -> list[_Span]:
        spans: list[_Span] = []
        if not text:
            return spans
        lowered = text.lower()
        add = spans.append

        for det in _SIMPLE:
            if det.lowered and not any(lit in lowered for lit in det.literals):
                continue  # case-insensitive patterns are slower: skip them when their word is absent
            for m in det.regex.finditer(text):
                value = m.group(det.group)
                if det.check is not None and not det.check(value):
                    continue
                add(_Span(m.start(det.group), m.end(det.group), det.prio, det.kind, value))

        if "-----BEGIN" in text:
            for m in _PEM_RX.finditer(text):
                header = text[m.start() : m.start() + 64]
                kind = "openssh_private_key" if "OPENSSH" in header else "private_key"
                add(_Span(m.start(), m.end(), _P_KEY, kind, m.group()))
        if "PuTTY-User-Key-File" in text:
            for m in _PUTTY_RX.finditer(text):
                end = m.end()
                mac = _PUTTY_MAC_RX.search(text, m.start(), end)
                if mac is not None:
                    end = mac.end()
                add(_Span(m.start(), end, _P_KEY, "putty_private_key", text[m.start() : end]))

        if "://" in text:
            for m in _URL_PW_RX.finditer(text):
                pw = m.group(1)
                if pw.startswith("[REDACTED") or _is_placeholder(pw):
                    continue
                add(_Span(m.start(1), m.end(1), _P_CONTEXT, "url_password", pw))
        if "basic" in lowered:
            for m in _BASIC_RX.finditer(text):
                decoded = _short_b64(m.group(1))
                if decoded is not None and ":" in decoded:
                    add(_Span(m.start(1), m.end(1), _P_CONTEXT, "authorization", m.group(1)))

        self._keyed(text, lowered, add)
        if ('"value' in lowered or "value:" in lowered) and len(lowered) == len(text):
            self._name_value_pairs(text, lowered, add)

        if self._exact:
            for variant, secret in self._exact:
                pos = text.find(variant)
                while pos >= 0:
                    add(_Span(pos, pos + len(variant), _P_KNOWN, "known_secret", secret))
                    pos = text.find(variant, pos + len(variant))

        if pii:
            self._pii(text, lowered, add)

        self._base64_runs(text, pii, depth, add)
        return spans

    def _base64_runs(self, text: str, pii: bool, depth: int, add: Callable[[_Span], None]) -> None:
        """Runs of base64 characters: AWS secret keys near AWS context, and base64-wrapped secrets."""
        decode = depth < _MAX_DEPTH
        first = _B64_AT_START_RX.match(text)
        matches = itertools.chain((first,) if first is not None else (), _B64_RX.finditer(text))
        for m in matches:
            blob = m.group(1)
            start = m.start(1)
            if len(blob) == 40:
                self._aws_secret_candidate(text, start, blob, add)
            if not decode or blob.islower() or blob.isupper() or blob.isdigit():
                continue  # hex digests, identifiers: base64 of text always mixes cases
            inner_text = _b64_text(blob)
            if inner_text is None:
                continue
            inner = self._spans(inner_text, pii, depth + 1)
            if inner:
                best = max(inner, key=lambda s: (s.prio, s.end - s.start))
                add(_Span(start, m.end(1), best.prio, best.kind, best.value))

    @staticmethod
    def _aws_secret_candidate(text: str, start: int, value: str, add: Callable[[_Span], None]) -> None:
        if not (any(c.isupper() for c in value) and any(c.islower() for c in value)):
            return
        if not any(c.isdigit() or c in "+/" for c in value) or _entropy(value) < 4.0:
            return
        if _AWS_SECRET_CTX_RX.search(text, max(0, start - 160), start) is None:
            return
        add(_Span(start, start + 40, _P_TOKEN, "aws_secret_key", value))

    def _keyword_hits(self, text: str, lowered: str) -> list[tuple[int, int]]:
        """(start, end) of secret keywords, found with plain substring search on the lowered text."""
        hits: list[tuple[int, int]] = []
        if len(lowered) != len(text):  # exotic case mappings shift offsets: use the (slower) regex
            return [m.span() for m in _KEYWORD_RX.finditer(text)]
        for kw in _KEYWORD_LITERALS:
            pos = lowered.find(kw)
            while pos >= 0:
                if kw != "key" or _KEY_KEYWORD_RX.search(lowered, max(0, pos - 13), pos):
                    hits.append((pos, pos + len(kw)))
                pos = lowered.find(kw, pos + len(kw))
        hits.sort()
        return hits

    def _keyed(self, text: str, lowered: str, add: Callable[[_Span], None]) -> None:
        """``key = value`` assignments in JSON/YAML/INI/env/CLI/XML and high entropy after keywords."""
        n = len(text)
        last_key_end = -1
        for hit_start, hit_end in self._keyword_hits(text, lowered):
            if hit_start < last_key_end:
                continue
            ks = hit_start
            lo = max(0, ks - 64)
            while ks > lo and text[ks - 1] in _IDENT:
                ks -= 1
            fwd = _IDENT_FWD_RX.match(text, hit_end)
            ke = fwd.end() if fwd is not None else hit_end
            last_key_end = ke
            key = text[ks:ke]
            if ks > 0 and text[ks - 1] == ":" and text[max(0, ks - 2)] != ":":
                continue  # an ARN component (arn:aws:secretsmanager:...:secret:name), not a key
            kind = key_secret_type(key)
            if kind is not None:
                consumed = self._assignment(text, n, ks, ke, key, kind, add)
                if consumed >= 0:
                    last_key_end = max(last_key_end, consumed)  # keywords inside the value are data
                    continue
                self._entropy_after(text, ke, add)  # "the new secret is Qm9v7Xz2..."
            # else: a word that merely contains a keyword (secret_arn, authored, tokens): nothing to do

    def _assignment(
        self, text: str, n: int, ks: int, ke: int, key: str, kind: str, add: Callable[[_Span], None]
    ) -> int:
        """Read the value assigned to a secret key; the end of what was consumed, or -1."""
        tail = _KV_TAIL_RX.match(text, ke)
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
            if tail.group("sep") != ":" or line_start < 0 or not _LINE_PREFIX_RX.fullmatch(text, line_start, ks):
                return -1
            return self._yaml_block(text, n, line_start, ks, tail.end("blk"), kind, add)
        else:
            vs, ve = tail.span("uv")
            value = tail.group("uv")
            line_start = _line_start_near(text, ks)
            sep = tail.group("sep")
            if kind in ("authorization", "cookie"):
                ve = _HEADER_VALUE_RX.match(text, vs).end()  # type: ignore[union-attr]
            elif sep in ("=", ":") and line_start >= 0 and _LINE_PREFIX_RX.fullmatch(text, line_start, ks):
                ve = _EOL_VALUE_RX.match(text, vs).end()  # type: ignore[union-attr]
            while ve > vs and text[ve - 1] in " \t\r\"',;":
                ve -= 1
        if kind in ("authorization", "cookie"):
            scheme = _SCHEME_RX.match(text, vs, ve)
            if scheme is not None:
                vs = scheme.end()
        while vs < ve and text[vs] in " \t":
            vs += 1
        value = text[vs:ve]
        if not value or value.startswith("[REDACTED") or _is_placeholder(value):
            return ve  # an assignment, but nothing to hide
        if kind not in ("password", "authorization", "cookie") and _WORDISH_RX.fullmatch(value):
            return ve  # "token: expired", "secret: none" - prose, not a credential
        add(_Span(vs, ve, _P_GENERIC, kind, value))
        return ve

    def _yaml_block(
        self, text: str, n: int, line_start: int, ks: int, ve: int, kind: str, add: Callable[[_Span], None]
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
        if end > start:
            add(_Span(start, end, _P_GENERIC, kind, text[start:end]))
        return max(end, ve)

    def _entropy_after(self, text: str, pos: int, add: Callable[[_Span], None]) -> None:
        limit = min(len(text), pos + _HE_WINDOW + 1024)
        eol = text.find("\n", pos, limit)
        if eol >= 0:
            limit = eol
        for m in _HE_CAND_RX.finditer(text, pos, limit):
            if m.start() > pos + _HE_WINDOW:
                break
            value = m.group()
            if value.startswith("REDACTED"):
                continue
            if _looks_high_entropy(value):
                add(_Span(m.start(), m.end(), _P_ENTROPY, "high_entropy", value))

    def _name_value_pairs(self, text: str, lowered: str, add: Callable[[_Span], None]) -> None:
        for anchor, rx in (
            ('"name', _NAME_VALUE_JSON_RX),
            ('"key', _NAME_VALUE_JSON_RX),
            ('"parametername', _NAME_VALUE_JSON_RX),
            ("name:", _NAME_VALUE_YAML_RX),
        ):
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
                if value and not value.startswith("[REDACTED") and not _is_placeholder(value):
                    add(_Span(vs, ve, _P_GENERIC, kind, value))

    def _pii(self, text: str, lowered: str, add: Callable[[_Span], None]) -> None:
        classes = self._pii_classes
        if "email" in classes and "@" in text:
            for m in _EMAIL_DOMAIN_RX.finditer(text):
                start = m.start()
                lo = max(0, start - 64)
                while start > lo and text[start - 1] in _EMAIL_LOCAL:
                    start -= 1
                if start == m.start() or (start > 0 and text[start - 1] in _EMAIL_LOCAL):
                    continue
                if start > 0 and text[start - 1] == ":" and "://" in text[max(0, start - 300) : start]:
                    continue  # user:password@host in a URL: the url_password detector owns it
                add(_Span(start, m.end(), _P_PII, "email", text[start : m.end()]))
        phone = "phone" in classes
        if phone and "+" in text:
            for m in _PHONE_INTL_RX.finditer(text):
                if _phone_digits_ok(m.group()):
                    add(_Span(m.start(), m.end(), _P_PII, "phone", m.group()))
        if phone and len(lowered) == len(text):
            for kw in _PHONE_KEYWORDS:
                pos = lowered.find(kw)
                while pos >= 0:
                    keyed = _PHONE_KEYED_RX.match(text, pos + len(kw))
                    if keyed is not None and _phone_digits_ok(keyed.group(1), 7, 15):
                        add(_Span(keyed.start(1), keyed.end(1), _P_PII, "phone", keyed.group(1)))
                    pos = lowered.find(kw, pos + len(kw))
        card = "credit_card" in classes
        if phone or card:
            for m in _DIGITS_RX.finditer(text):
                value = m.group()
                if m.lastgroup == "card":
                    if card and _card_ok(value):
                        add(_Span(m.start(), m.end(), _P_PII, "credit_card", value))
                elif phone and _phone_digits_ok(value, 10, 11):
                    add(_Span(m.start(), m.end(), _P_PII, "phone", value))
        if phone and "(" in text:
            for m in _PAREN_PHONE_RX.finditer(text):
                add(_Span(m.start(), m.end(), _P_PII, "phone", m.group()))
        if "ipv4" in classes and "." in text:
            for m in _IPV4_TAIL_RX.finditer(text):
                start = m.start()
                lo = max(0, start - 3)
                while start > lo and text[start - 1] in _DIGIT_CHARS:
                    start -= 1
                if start == m.start() or (start > 0 and (text[start - 1] in _WORD_CHARS or text[start - 1] == ".")):
                    continue
                value = text[start : m.end()]
                if _ipv4_ok(value):
                    add(_Span(start, m.end(), _P_PII, "ipv4", value))
        if "ipv6" in classes and ":" in text:
            self._ipv6(text, add)
        if "customer_id" in classes:
            for rx, anchor in self._customer:
                matches: Iterable[re.Match[str]]
                matches = _anchored_matches(rx, anchor, text) if anchor else rx.finditer(text)
                for m in matches:
                    if m.end() > m.start():
                        add(_Span(m.start(), m.end(), _P_CUSTOMER, "customer_id", m.group()))

    @staticmethod
    def _ipv6(text: str, add: Callable[[_Span], None]) -> None:
        anchors = [m.start() for m in _IPV6_FULL_RX.finditer(text)]
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
            while start > lo and text[start - 1] in _IPV6_CHARS:
                start -= 1
            end = anchor
            hi = min(n, anchor + 45)
            while end < hi and text[end] in _IPV6_CHARS:
                end += 1
            covered = end
            if (start > 0 and (text[start - 1] in _WORD_CHARS or text[start - 1] == ".")) or (
                end < n and text[end] in _WORD_CHARS
            ):
                continue
            value = text[start:end]
            if value in _IPV6_ALLOW or ("::" not in value and value.count(":") != 7):
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            add(_Span(start, end, _P_PII, "ipv6", value))

    # ----------------------------------------------------------------- rendering

    def _render(self, text: str, spans: list[_Span], lo: int, hi: int) -> tuple[str, dict[str, int]]:
        parts: list[str] = []
        counts: Counter[str] = Counter()
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
            counts[sp.kind] += 1
            pos = end
        if pos < hi:
            parts.append(text[pos:hi])
        return "".join(parts), dict(counts)


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


def _line_start_near(text: str, pos: int, reach: int = 64) -> int:
    """Start of the line holding ``pos`` if it is within ``reach`` characters, else -1 (bounded work)."""
    lo = max(0, pos - reach)
    nl = text.rfind("\n", lo, pos)
    if nl >= 0:
        return nl + 1
    return 0 if lo == 0 else -1


def _short_b64(value: str) -> str | None:
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


def _secret_variants(secret: str) -> set[str]:
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


def _merge(spans: list[_Span]) -> list[_Span]:
    """Union overlapping detections; the visible type is the highest-priority (then longest) one."""
    if not spans:
        return spans
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[_Span] = [spans[0]]
    for sp in spans[1:]:
        cur = merged[-1]
        if sp.start < cur.end:
            if sp.end <= cur.end and sp.prio <= cur.prio:
                continue
            best = cur if (cur.prio, cur.end - cur.start) >= (sp.prio, sp.end - sp.start) else sp
            merged[-1] = _Span(cur.start, max(cur.end, sp.end), best.prio, best.kind, best.value)
        else:
            merged.append(sp)
    return merged


_SAFE_BREAK_RX: Final = _rx(r"[\s,;]")


def _safe_cut(text: str, off: int, spans: list[_Span]) -> int:
    """Where to end the emitted piece: before the overlap, at a line or word break, outside spans."""
    target = len(text) - _OVERLAP
    if target <= off:
        return off
    nl = text.rfind("\n", max(off, target - 65536), target)
    if nl >= 0:
        cut = nl + 1
    else:
        cut = target
        window = text[max(off, target - 4096) : target]
        for i in range(len(window) - 1, -1, -1):
            if _SAFE_BREAK_RX.match(window[i]):
                cut = max(off, target - 4096) + i + 1
                break
    for sp in spans:
        if sp.start >= cut:
            break
        if sp.start < cut < sp.end:
            cut = sp.start
            break
    return cut
