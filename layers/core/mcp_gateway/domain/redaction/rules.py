"""Redaction rules: what counts as a secret or as customer data, and how each kind is recognised.

This module is data plus the small predicates that judge a candidate value: the type names (the contract
that appears in replacements, counts, audit records and metrics), the priorities that decide the visible
type when detections overlap, every detector's bounded regular expression and its cheap literal prefilter,
the key names that imply a secret (``DB_PASSWORD`` -> ``password``) and the safety checks for customer-id
patterns supplied by the policy.

Every regular expression is bounded, starts at a boundary of its own character class (a negative
look-behind) and uses possessive quantifiers where a run could be re-scanned, so no input makes any
pattern backtrack more than a constant amount per character.
"""

from __future__ import annotations

import importlib
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from ..errors import PolicyError

__all__ = [  # the package's public names; the rest are the engine's detector table
    "PII_CLASSES",
    "SECRET_TYPES",
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
        "pypi_token",
        "twilio_api_key",
        "password",
        "secret",
        "api_key",
        "token",
        "cookie",
        "high_entropy",
        "known_secret",
    }
)
PII_CLASSES: Final[frozenset[str]] = frozenset(
    {"email", "phone", "credit_card", "ipv4", "ipv6", "customer_id", "national_id", "bank_account"}
)
#: The types a PII class reports (a class may cover several identifiers, each labelled as what it is).
PII_TYPES: Final[dict[str, frozenset[str]]] = {
    "national_id": frozenset({"us_ssn", "uk_nino", "ca_sin"}),
    "bank_account": frozenset({"iban", "bank_routing_number", "bank_account_number", "uk_sort_code"}),
}
#: Every type name the engine can report; a dict keyed only by these with integer values is bookkeeping.
REPORTED_TYPES: Final[frozenset[str]] = (
    SECRET_TYPES | PII_CLASSES | frozenset().union(*PII_TYPES.values()) | {"depth_limit"}
)

# Priorities decide the visible type when detections overlap (the union of the spans is redacted).
P_KEY: Final = 100  # private keys
P_KNOWN: Final = 95  # the gateway's own secrets
P_TOKEN: Final = 80  # structured tokens with a recognisable shape
P_CONTEXT: Final = 60  # url passwords, Authorization/Bearer
P_GENERIC: Final = 50  # key = value assignments
P_ENTROPY: Final = 40
P_CUSTOMER: Final = 25
P_PII: Final = 20

MAX_DEPTH: Final = 2  # nested base64 levels

_A: Final = re.ASCII


def ascii_rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | _A)


# --------------------------------------------------------------------------------------------------
# Customer-id patterns from the policy: refused when they could backtrack
# --------------------------------------------------------------------------------------------------


class UnsafePatternError(PolicyError, ValueError):
    """A customer-id pattern from the policy is invalid or could backtrack catastrophically.

    It is both a :class:`PolicyError` (code POLICY_UNAVAILABLE: the policy loader fails closed) and a
    ``ValueError`` (so pydantic reports it as a validation error of :class:`RedactionConfig`).
    """


_MAX_PATTERN_LEN: Final = 256
MAX_PATTERNS: Final = 32
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


def literal_anchor(pattern: str) -> str:
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


# --------------------------------------------------------------------------------------------------
# Detections and the detector table
# --------------------------------------------------------------------------------------------------


class Span(NamedTuple):
    start: int
    end: int
    prio: int
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class SimpleDetector:
    """A detector that is one regex behind a cheap substring prefilter."""

    kind: str
    prio: int
    literals: tuple[str, ...]  # documentation; a prefilter on the lowered text when ``lowered``
    regex: re.Pattern[str]
    group: int = 0
    lowered: bool = False
    check: Callable[[str], bool] | None = None


_UPPER_RX: Final = ascii_rx(r"[A-Z]")
_LOWER_RX: Final = ascii_rx(r"[a-z]")
_DIGIT_RX: Final = ascii_rx(r"[0-9]")


def _char_classes(value: str) -> tuple[bool, bool, bool]:
    """(any upper-case, any lower-case, any digit character): ``any(c.isupper() for c in value)`` and so on, by
    one regex search each when ``value`` is ASCII (where those are exactly A-Z, a-z and 0-9)."""
    if value.isascii():
        return (
            _UPPER_RX.search(value) is not None,
            _LOWER_RX.search(value) is not None,
            _DIGIT_RX.search(value) is not None,
        )
    return any(c.isupper() for c in value), any(c.islower() for c in value), any(c.isdigit() for c in value)


def has_space(value: str) -> bool:
    """``any(c.isspace() for c in value)`` at C speed: ``str.split()`` cuts at exactly the characters ``isspace``
    accepts, so a text without one comes back whole."""
    return bool(value) and value.split(None, 1) != [value]


def _has_classes(value: str, need: int) -> bool:
    return sum(_char_classes(value)) >= need


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


SIMPLE_DETECTORS: Final[tuple[SimpleDetector, ...]] = (
    SimpleDetector(
        "aws_access_key_id",
        P_TOKEN,
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        ascii_rx(r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])(?<![A-Za-z0-9]....)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ),
    *(
        SimpleDetector(
            "aws_session_token",
            P_TOKEN,
            (prefix,),
            ascii_rx(prefix + r"(?<![A-Za-z0-9/+].{12})[A-Za-z0-9/+=]{40,16384}+"),
        )
        for prefix in ("IQoJb3JpZ2lu", "FwoGZXIvYXdz", "FQoGZXIvYXdz")  # base64 of the STS token header
    ),
    SimpleDetector(
        "jwt",
        P_TOKEN,
        ("eyJ",),
        ascii_rx(
            r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{5,8192}+\.[A-Za-z0-9_-]{5,16384}+"
            r"\.[A-Za-z0-9_-]{0,8192}+"
        ),
    ),
    SimpleDetector(
        "slack_webhook",
        P_TOKEN + 5,
        ("hooks.slack.com",),
        ascii_rx(r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{8,512}+"),
    ),
    SimpleDetector(
        "slack_token",
        P_TOKEN,
        ("xox", "xapp-"),
        ascii_rx(
            r"xox[abposre]-(?<![A-Za-z0-9-].{5})[A-Za-z0-9-]{10,250}+"
            r"|xapp-(?<![A-Za-z0-9-]xapp-)\d-[A-Za-z0-9-]{10,250}+"
        ),
    ),
    SimpleDetector(
        "github_token",
        P_TOKEN,
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        ascii_rx(
            r"gh[pousr]_(?<![A-Za-z0-9_]....)[A-Za-z0-9]{36,251}+"
            r"|github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,255}+"
        ),
    ),
    SimpleDetector(
        "gitlab_token",
        P_TOKEN,
        ("glpat-", "glrt-", "gldt-", "glptt-"),
        ascii_rx(
            r"gl(?:pat-(?<![A-Za-z0-9_-]glpat-)|rt-(?<![A-Za-z0-9_-]glrt-)|dt-(?<![A-Za-z0-9_-]gldt-)"
            r"|ptt-(?<![A-Za-z0-9_-]glptt-))[A-Za-z0-9_.-]{20,128}+"
        ),
    ),
    # one pattern per leading literal: a literal prefix lets the regex engine skip ahead fast
    SimpleDetector(
        "stripe_key",
        P_TOKEN,
        ("sk_live_", "sk_test_"),
        ascii_rx(r"sk_(?:live|test)_(?<![A-Za-z0-9_].{8})[A-Za-z0-9]{16,247}+"),
    ),
    SimpleDetector(
        "stripe_key",
        P_TOKEN,
        ("rk_live_", "rk_test_"),
        ascii_rx(r"rk_(?:live|test)_(?<![A-Za-z0-9_].{8})[A-Za-z0-9]{16,247}+"),
    ),
    SimpleDetector(
        "stripe_key", P_TOKEN, ("whsec_",), ascii_rx(r"whsec_(?<![A-Za-z0-9_]whsec_)[A-Za-z0-9+/=]{24,128}+")
    ),
    SimpleDetector(
        "google_api_key",
        P_TOKEN,
        ("AIza",),
        ascii_rx(r"AIza(?<![A-Za-z0-9_-]AIza)[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"),
    ),
    SimpleDetector(
        "npm_token", P_TOKEN, ("npm_",), ascii_rx(r"npm_(?<![A-Za-z0-9_]npm_)[A-Za-z0-9]{36}(?![A-Za-z0-9])")
    ),
    SimpleDetector(
        "sendgrid_api_key",
        P_TOKEN,
        ("SG.",),
        ascii_rx(r"SG\.(?<![A-Za-z0-9_-]SG\.)[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
    ),
    SimpleDetector(
        "anthropic_api_key",
        P_TOKEN + 2,
        ("sk-ant-",),
        ascii_rx(r"sk-ant-(?<![A-Za-z0-9_-]sk-ant-)[A-Za-z0-9_-]{32,256}+"),
    ),
    SimpleDetector(
        "openai_api_key",
        P_TOKEN,
        ("sk-",),
        ascii_rx(r"sk-(?<![A-Za-z0-9_-]sk-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,256}+"),
        check=lambda v: _has_classes(v, 3),
    ),
    SimpleDetector(
        "pypi_token",
        P_TOKEN,
        ("pypi-AgE",),
        ascii_rx(r"pypi-AgE(?<![A-Za-z0-9_-]pypi-AgE)[A-Za-z0-9_-]{50,1024}+"),
    ),
    SimpleDetector(
        "twilio_api_key",
        P_TOKEN,
        ("SK",),
        ascii_rx(r"SK(?<![A-Za-z0-9_]SK)[0-9a-f]{32}(?![A-Za-z0-9_])"),
    ),
    SimpleDetector(
        "aws_signature",
        P_CONTEXT,
        ("x-amz-signature",),
        ascii_rx(r"[Xx]-(?i:amz-signature)=([0-9a-fA-F]{64})(?![0-9a-fA-F])"),
        group=1,
        lowered=True,
    ),
    SimpleDetector(
        "bearer_token",
        P_CONTEXT,
        ("bearer",),
        ascii_rx(r"[Bb](?i:earer)(?<![A-Za-z0-9].{6})[ \t]{1,8}(?!\[REDACTED)([A-Za-z0-9._~+/=-]{12,8192}+)"),
        group=1,
        lowered=True,
        check=_has_digit,
    ),
)

# Private keys. The body is a bounded sequence of base64 lines or ``Header: value`` lines, each
# consumed possessively, optionally closed by the END marker (a truncated key is still redacted).
PEM_RX: Final = ascii_rx(
    r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:\s*+(?:[A-Za-z][A-Za-z0-9-]{0,40}+:[^\r\n]{0,256}+|[A-Za-z0-9+/=]{1,4096}+)){0,4096}+"
    r"(?:\s*+-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
)
PUTTY_RX: Final = ascii_rx(
    r"PuTTY-User-Key-File-\d{1,2}:[^\r\n]{0,256}+"
    r"(?:\r?\n[ \t]*(?:[A-Za-z][A-Za-z0-9-]{0,40}+:[^\r\n]{0,512}+|[A-Za-z0-9+/=]{1,4096}+)){0,1024}+"
)
PUTTY_MAC_RX: Final = ascii_rx(r"Private-MAC:[ \t]{0,8}[0-9a-fA-F]{0,128}")

URL_PW_RX: Final = ascii_rx(r"://[^\s:/?#@\"'<>\\]{0,256}+:([^\s/?#\"'<>\\]{1,1024})@")
URL_AUTH_RX: Final = ascii_rx(r"://([^\s:/?#@\"'<>\\\[\]]{0,256}+):")
URL_HOST_RX: Final = ascii_rx(
    r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?)(?::\d{1,5})?(?:[/?#;,)\]}|]|$)"
)
# ``user:password@host`` without a scheme (a DSN, a CLI argument, a git remote): the host must look like one
# (a dotted name ending in a letter label, an IPv4/IPv6 literal or localhost; not a version such as the
# ``pkg:npm/lodash@4.17.21`` of a package URL) and be followed by a delimiter, so prose and e-mail addresses
# ("email:jane.doe@example.com": the engine wants a password-like value before a portless host) are not
# mistaken for credentials.
USERINFO_HOST_RX: Final = ascii_rx(
    r"(?:\[[0-9A-Fa-f:.]{2,45}\]|localhost|\d{1,3}(?:\.\d{1,3}){3}"
    r"|(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,16}+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(?P<port>:\d{1,5})?(?![A-Za-z0-9_.:@-])"
)
USERINFO_USER_RX: Final = ascii_rx(r"[A-Za-z0-9._%+~!$&*-]{1,128}")
#: the characters that end the token holding ``user:password`` when reading back from the ``@``
USERINFO_STOP: Final = frozenset(" \t\r\n\"'`<>\\=([{,;|")
#: URI schemes whose ``scheme:local@domain`` form is an address, not credentials
NON_USER_SCHEMES: Final = frozenset(
    {"mailto", "sip", "sips", "tel", "xmpp", "urn", "acct", "news", "cid", "mid", "im", "jdbc", "pkg"}
)
# Oracle's ``user/password@db``: JDBC thin/OCI URLs and the command-line tools that take a connect string.
ORACLE_CONNECT_RX: Final = ascii_rx(
    r"(?i:jdbc:oracle:(?:thin|oci8?):|(?<![A-Za-z0-9_./-])(?:sqlplus|rman|expdp|impdp|sqlldr|dgmgrl)"
    r"(?:[ \t]{1,8}+-[^\s/]{1,32}+){0,8}+[ \t]{1,8}+)"
    r"[A-Za-z0-9_$#.\"]{1,128}+/([^\s@/\"']{1,256}+)@"
)
ORACLE_LITERALS: Final = ("jdbc:oracle:", "sqlplus", "rman", "expdp", "impdp", "sqlldr", "dgmgrl")
# ODBC / ADO.NET connection strings spell the password ``Pwd=`` (a key that elsewhere is the working directory)
ODBC_CONTEXT_RX: Final = ascii_rx(r"(?i:uid|user[ _]?id|server|driver|dsn|data[ _]source|database|initial catalog)=")
BASIC_RX: Final = ascii_rx(r"[Bb](?i:asic)(?<![A-Za-z0-9].{5})[ \t]{1,8}([A-Za-z0-9+/]{8,4096}+={0,2})")

# AWS secret access keys without an explicit assignment: 40 base64 characters near a keyword.
AWS_SECRET_CTX_RX: Final = ascii_rx(r"aws|akia|asia|secret[ _.-]?access|access[ _.-]?key", re.IGNORECASE)

# Generic assignments: find a keyword, widen it to the whole key, classify the key, read the value.
KEYWORD_RX: Final = ascii_rx(
    r"pass|pwd|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|signing[_.-]?key"
    r"|encryption[_.-]?key|master[_.-]?key|account[_.-]?key|subscription[_.-]?key|credential"
    r"|auth|cookie",
    re.IGNORECASE,
)
KEYWORD_LITERALS: Final = ("pass", "pwd", "secret", "token", "key", "credential", "auth", "cookie")
KEY_KEYWORD_RX: Final = ascii_rx(r"(?:api|access|private|signing|encryption|master|account|subscription|secret)[_.-]?$")
IDENT: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
IDENT_FWD_RX: Final = ascii_rx(r"[A-Za-z0-9_.-]{0,64}+")
KV_TAIL_RX: Final = ascii_rx(
    r"(?P<kq>\\{0,3}[\"'])?"
    r"(?:[ \t]{0,8}(?P<sep>:=|=>|==|=|:)[ \t]{0,8}|(?P<xml>>)|(?P<sp>[ \t]{1,8}))"
    r"(?:\\{0,3}\"(?P<dq>(?:[^\"\\\r\n]|\\[^\"\r\n]){0,4096}+)"
    r"|\\{0,3}'(?P<sq>(?:[^'\\\r\n]|\\[^'\r\n]){0,4096}+)"
    r"|(?P<blk>[|>][-+]?)(?=[ \t]*\r?(?:\n|\Z))"
    r"|(?P<uv>[^\s\"'`,;&<>(){}\[\]\\|]{1,4096}+))"
)
LINE_PREFIX_RX: Final = ascii_rx(r"[ \t]*(?:export[ \t]+|set[ \t]+|-[ \t]+)?")
EOL_VALUE_RX: Final = ascii_rx(r"[^\r\n]{0,4096}")
HEADER_VALUE_RX: Final = ascii_rx(r"[^\r\n\"']{0,4096}")
SCHEME_RX: Final = ascii_rx(
    r"(?i:bearer|basic|digest|token|bot|negotiate|ntlm|aws4-hmac-sha256|apikey|ssws|hmac)[ \t]+"
)
_PLACEHOLDER_RX: Final = ascii_rx(
    r"(?i:null|none|nil|true|false|undefined|redacted|<redacted>|\[redacted[^\]]{0,64}\]?|\(hidden\)"
    r"|<hidden>|\*+|x{3,}|\.{3}|-+|\?+|%s|\{\}|\$\{?[A-Za-z_][A-Za-z0-9_.-]{0,64}\}?|\{\{.{0,128}\}\}"
    r"|<[^<>]{0,64}>|[\"']{2})"
)
WORDISH_RX: Final = ascii_rx(r"[a-z]{1,12}|[A-Z][a-z]{1,11}")

# High-entropy strings shortly after a keyword.
HE_CAND_RX: Final = ascii_rx(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,1024}+={0,2}")
HE_MIN: Final = 16
#: where an ``HE_CAND_RX`` match can start: its first ``HE_MIN`` characters (the engine probes a short window)
HE_START_RX: Final = ascii_rx(r"[A-Za-z0-9+/_-](?<![A-Za-z0-9+/_-].)[A-Za-z0-9+/_-]{15}")
_UUID_RX: Final = ascii_rx(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_RX: Final = ascii_rx(r"[0-9a-fA-F]+")
_PIECE_SPLIT_RX: Final = ascii_rx(r"[/_.+=-]+")
_WORD_PIECE_RX: Final = ascii_rx(r"[a-z]{3,}|[A-Z][a-z]{2,}|[A-Z]{3,}|[0-9]+")
HE_WINDOW: Final = 64

# k8s / ECS / CloudFormation style {"name": "DB_PASSWORD", "value": "..."} pairs.
NAME_VALUE_JSON_RX: Final = ascii_rx(
    r"\"(?i:name|key|parametername)\\{0,3}\"[ \t]{0,4}:[ \t]{0,4}\\{0,3}\""
    r"(?P<n>[A-Za-z0-9_.-]{1,128}+)\\{0,3}\"[ \t]{0,4},[ \t\r\n]{0,16}"
    r"(?i:\\{0,3}\"value\\{0,3}\"[ \t]{0,4}:[ \t]{0,4}\\{0,3}\")"
    r"(?P<v>(?:[^\"\\\r\n]|\\[^\"\r\n]){1,4096}+)"
)
NAME_VALUE_YAML_RX: Final = ascii_rx(
    r"(?i:name):[ \t]{0,8}[\"']?(?P<n>[A-Za-z0-9_.-]{1,128}+)[\"']?[ \t]{0,8}\r?\n"
    r"[ \t]{0,32}(?:-[ \t]{1,4})?(?i:value):[ \t]{0,8}(?P<v>[^\r\n]{1,4096}+)"
)

# Base64 blobs that may wrap a secret.
B64_RX: Final = ascii_rx(r"[^A-Za-z0-9+/]([A-Za-z0-9+/]{20,4194304}+={0,2})(?![A-Za-z0-9+/=])")
B64_AT_START_RX: Final = ascii_rx(r"([A-Za-z0-9+/]{20,4194304}+={0,2})(?![A-Za-z0-9+/=])")

# PII. Each pattern starts with a literal or a digit so the regex engine can skip ahead quickly;
# context before the first character is checked with a look-behind placed after it.
EMAIL_DOMAIN_RX: Final = ascii_rx(
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
EMAIL_LOCAL: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
PHONE_INTL_RX: Final = ascii_rx(r"\+(?<![\w+]\+)[1-9](?:[ .()-]{0,2}\d){6,14}(?!\w|[.-]\d)")
DIGITS_RX: Final = ascii_rx(
    r"[0-9]\d{2}(?:(?<![\w.+/-]\d{3})|(?<=[^\w.+/-]1[ .-]\d{3}))"  # a class first: the engine skips ahead to it
    r"(?:(?P<card>\d(?:[ -]\d{4}[ -]\d{4}[ -]\d{1,7}|[ -]\d{6}[ -]\d{4,5}|\d{9,15}))"
    r"|(?P<nanp>[.-]\d{3}[.-]\d{4})"
    r"|(?P<national>(?<=0\d\d)\d{0,2}[ -]\d{3,4}[ -]?\d{3,4}))"
    r"(?!\w|[.-]\d)"
)
PAREN_PHONE_RX: Final = ascii_rx(r"\((?<![\w.+/-]\()\d{3}\)[ .-]?\d{3}[.-]\d{4}(?!\w|[.-]\d)")
IPV4_TAIL_RX: Final = ascii_rx(r"\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\w|\.\d)")
DIGIT_CHARS: Final = frozenset("0123456789")
PHONE_KEYED_RX: Final = ascii_rx(
    r"[A-Za-z0-9_.-]{0,20}\\{0,3}[\"']?"
    r"[ \t]{0,4}[:=][ \t]{0,4}\\{0,3}[\"']?(\+?[\d(][\d ().-]{5,22}\d)"
)
PHONE_KEYWORDS: Final = ("phone", "mobile", "msisdn", "whatsapp", "tel", "cell", "fax")
_IPV4_ALLOW: Final = frozenset({"0.0.0.0", "255.255.255.255"})  # noqa: S104
# National identifiers and bank identifiers. Formatted shapes are matched anywhere and validated; bare digit
# runs only next to a keyword that names them.
SSN_RX: Final = ascii_rx(r"-(?<=\d{3}-)\d\d-\d{4}(?!\w|[.-]\d)")  # the 3 digits before are checked by the engine
IBAN_RX: Final = ascii_rx(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
IBAN_SHAPE: Final = b"AA99"  # in the class shape (views.CLASS_SHAPE): two capitals, two digits
NINO_SHAPES: Final = (b"AA999999A", b"AA 99 99 99 A")
PII_KEYED_RX: Final = ascii_rx(
    r"[A-Za-z0-9_. -]{0,24}?\\{0,3}[\"']?[ \t]{0,4}(?:[:=#]|is|no\.?)?[ \t]{0,4}\\{0,3}[\"']?"
    r"(?P<v>\d[\d -]{5,32}\d)(?![\w]|[.-]\d)"
)
# keyword -> the type a digit run next to it is (checked by the type's own validator, if any); grouped by a
# literal each keyword contains (one substring search per literal) and that literal's offset in the keyword
_PII_KEYWORDS: Final[tuple[tuple[str, str], ...]] = (
    ("ssn", "us_ssn"),
    ("social security", "us_ssn"),
    ("social_security", "us_ssn"),
    ("sin_number", "ca_sin"),
    ("social insurance", "ca_sin"),
    ("routing", "bank_routing_number"),
    ("aba", "bank_routing_number"),
    ("sort code", "uk_sort_code"),
    ("sort_code", "uk_sort_code"),
    ("sortcode", "uk_sort_code"),
    ("account_number", "bank_account_number"),
    ("account number", "bank_account_number"),
    ("accountnumber", "bank_account_number"),
    ("account_no", "bank_account_number"),
    ("bank_account", "bank_account_number"),
    ("bank account", "bank_account_number"),
    ("bankaccount", "bank_account_number"),
)
_PII_ANCHORS: Final = ("ssn", "social", "sin_number", "routing", "aba", "sort", "account")
PII_KEYWORDS: Final[dict[str, tuple[tuple[str, int, str], ...]]] = {
    anchor: tuple((kw, kw.index(anchor), kind) for kw, kind in _PII_KEYWORDS if anchor in kw) for anchor in _PII_ANCHORS
}
PII_TYPE_CLASS: Final[dict[str, str]] = {t: cls for cls, types in PII_TYPES.items() for t in types}

IPV6_FULL_RX: Final = ascii_rx(
    r":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:"
)
IPV6_CHARS: Final = frozenset("0123456789abcdefABCDEF:")
IPV6_ALLOW: Final = frozenset({"::", "::1"})
WORD_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


# --------------------------------------------------------------------------------------------------
# Value checks: does a candidate look like the real thing
# --------------------------------------------------------------------------------------------------


def shannon_entropy(value: str) -> float:
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


def card_ok(candidate: str) -> bool:
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
    return _card_length_ok(digits) and _luhn(digits)


def _card_length_ok(digits: str) -> bool:
    """The lengths each card network issues (ISO/IEC 7812 prefixes): a 15-digit number starting with 4 is no card."""
    n = len(digits)
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if digits[:2] in ("34", "37"):
        return n == 15  # American Express
    if digits[:2] in ("51", "52", "53", "54", "55") or "2221" <= digits[:4] <= "2720":
        return n == 16  # Mastercard
    if digits[:2] in ("36", "38", "30"):
        return n in (14, 16)  # Diners Club
    return 16 <= n <= 19  # Discover, JCB, UnionPay, Maestro


def phone_digits_ok(candidate: str, low: int = 8, high: int = 15) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if not low <= digits <= high:
        return False
    return candidate.count("(") == candidate.count(")")


def looks_high_entropy(value: str) -> bool:
    n = len(value)
    if n < 16 or _UUID_RX.fullmatch(value):
        return False
    if _HEX_RX.fullmatch(value):
        return n >= 32 and shannon_entropy(value) >= 3.0
    if not _has_classes(value, 2) or not any(c.isdigit() or c in "+/=" for c in value):
        return False
    # paths, ARNs and slugs ("assumed-role/billing-role/session-9f2c") are words, not randomness
    wordy = sum(len(p) for p in _PIECE_SPLIT_RX.split(value) if _WORD_PIECE_RX.fullmatch(p))
    if wordy * 2 >= n:
        return False
    threshold = min(4.0, 0.9 * math.log2(n))
    return shannon_entropy(value) >= threshold


def ssn_ok(value: str) -> bool:
    """A US Social Security number the SSA could issue: area not 000/666/9xx, group not 00, serial not 0000."""
    digits = value.replace("-", "").replace(" ", "")
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in ("123456789", "078051120", "219099999")  # advertising and specimen numbers


_NINO_BAD_PREFIXES: Final = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def nino_ok(value: str) -> bool:
    """A UK National Insurance number in HMRC's format (the valid prefix letters, not BG/GB/KN/NK/NT/TN/ZZ)."""
    compact = value.replace(" ", "").upper()
    return len(compact) == 9 and compact[:2] not in _NINO_BAD_PREFIXES


def sin_ok(value: str) -> bool:
    digits = value.replace("-", "").replace(" ", "")
    return len(digits) == 9 and digits.isdigit() and digits[0] not in "08" and _luhn(digits)


# ISO 13616 lengths per country (the registry's BBAN lengths plus 4)
IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_ok(value: str) -> bool:
    """An IBAN: a known country, that country's length, and the ISO 7064 mod-97 check digits."""
    compact = value.replace(" ", "").replace("-", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def aba_ok(value: str) -> bool:
    """An ABA routing transit number: nine digits, a Federal Reserve prefix and the 3-7-1 checksum."""
    if len(value) != 9 or not value.isdigit():
        return False
    prefix = int(value[:2])
    if not (0 <= prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    d = [ord(c) - 48 for c in value]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


_PW_SYMBOLS: Final = frozenset("!@#$%^&*?~+=<>|;:,(){}[]")
_PW_SYMBOL_RX: Final = ascii_rx("[" + re.escape("".join(sorted(_PW_SYMBOLS))) + "]")


def looks_password_like(value: str) -> bool:
    """A bare random password or key (``Tr0ub4dor&3x``, ``kX9#mP2vL7q``): one token, several character
    classes, not an identifier with a recognisable shape (UUID, hex digest, date, path, ARN, version)."""
    n = len(value)
    if not 8 <= n <= 256 or has_space(value) or _UUID_RX.fullmatch(value):
        return False
    if _HEX_RX.fullmatch(value) or value.count("/") >= 2 or value.count(":") >= 2 or value.startswith(("arn:", "$")):
        return False
    upper, lower, digit = _char_classes(value)
    symbol = _PW_SYMBOL_RX.search(value) is not None
    if not ((upper and lower and digit) or ((upper or lower) and digit and symbol)):
        return False
    wordy = sum(len(p) for p in _PIECE_SPLIT_RX.split(value) if _WORD_PIECE_RX.fullmatch(p))
    if wordy * 2 >= n:
        return False
    return shannon_entropy(value) >= min(3.0, 0.85 * math.log2(n))


def ipv4_ok(value: str) -> bool:
    octets = value.split(".")
    if len(octets) != 4 or any(len(o) > 1 and o[0] == "0" for o in octets):
        return False
    if any(int(o) > 255 for o in octets):
        return False
    return value not in _IPV4_ALLOW and not value.startswith("127.")


def is_placeholder(value: str) -> bool:
    return _PLACEHOLDER_RX.fullmatch(value) is not None


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
_KEY_NORMALISE_RX: Final = ascii_rx(r"[^a-z0-9]")
_KEY_ENDINGS: Final = tuple(suffix for suffix, _kind in _KEY_SUFFIXES)
_AUTH_KEY_RX: Final = ascii_rx(r"(?:.*[_.-])?(?:auth|pass)", re.IGNORECASE)


# Keys that hold a connection string (DATABASE_URL, REDIS_URI, MONGO_DSN, ConnectionString): a bare value under
# one that looks like a password (a pasted password, not a URL) is one.
_CONN_SUFFIXES: Final = ("url", "uri", "dsn", "connectionstring", "connstring", "connstr", "connectionurl")
_CONN_PREFIXES: Final = (
    "database", "db", "postgres", "postgresql", "pg", "psql", "mysql", "mariadb", "mssql", "sqlserver", "oracle",
    "mongo", "mongodb", "redis", "cache", "memcached", "amqp", "rabbitmq", "rabbit", "broker", "jdbc", "odbc",
    "datasource", "ldap", "smtp", "conn", "connection",
)  # fmt: skip
CONN_KEY_LITERALS: Final = ("url", "uri", "dsn", "conn")
_HOSTNAME_RX: Final = ascii_rx(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,16}[A-Za-z0-9-]{1,63}(?::\d{1,5})?(?:/[^\s]{0,1024})?"
)


def is_connection_key(key: str) -> bool:
    """``DATABASE_URL``, ``redisUri``, ``mongo-dsn``, ``ConnectionString``: a key whose value is a connection string."""
    if len(key) > 128:
        return False
    norm = _KEY_NORMALISE_RX.sub("", key.lower())
    for suffix in _CONN_SUFFIXES:
        if norm.endswith(suffix):
            head = norm[: -len(suffix)]
            return head.endswith(_CONN_PREFIXES) or (not head and suffix not in ("url", "uri"))
    return False


def bare_connection_password(value: str) -> bool:
    """A value under a connection-string key that is a password rather than a URL, a DSN or a host name."""
    if "://" in value or "@" in value or (";" in value and "=" in value) or value.startswith(("/", "~", "[", "$")):
        return False
    if is_placeholder(value) or _HOSTNAME_RX.fullmatch(value):
        return False
    return looks_password_like(value)


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
