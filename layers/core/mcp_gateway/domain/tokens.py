"""Token logic: verify the developer's IdP JWT, mint and verify the gateway's own session token.

Two verify paths share one hardened front end (``_parse_compact``/``_check_header``):

* the size is capped before anything is decoded;
* the compact form is split and each segment decoded by us, strictly (canonical base64url, UTF-8,
  JSON objects only, no duplicate keys at any depth, no NaN/Infinity) *before* PyJWT sees the token;
* ``jku``, ``x5u``, ``jwk`` and ``x5c`` are refused outright (never followed: no outbound fetch ever
  depends on token content), as is any ``crit`` extension (we implement none) and ``b64``;
* ``kid`` is an opaque, bounded, printable string used only as a dictionary key;
* the algorithm is pinned by configuration *and* must match the type of the key it selects, so
  ``none`` (any spelling) and HS* "signed with the public key" can never verify.

PyJWT then verifies the signature with exactly one pinned algorithm. Claims are validated here,
field by field, so every refusal carries a precise ``AUTH_*`` reason code.

Nothing in this module performs I/O: the JWKS fetcher and the clock are injected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from .errors import AuthError, ConfigError, ReasonCode
from .models import Email, MediumStr, Principal, ShortStr, StrictModel

__all__ = [
    "FORBIDDEN_HEADERS",
    "SUPPORTED_IDP_ALGORITHMS",
    "Clock",
    "IdentityClaims",
    "IdpConfig",
    "IssuedToken",
    "JwksCache",
    "JwksFetcher",
    "SessionKey",
    "SessionKeySet",
    "SessionTokenService",
    "generate_session_key",
    "parse_max_age",
    "token_fingerprint",
    "verify_idp_token",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

#: Header parameters that would make the verifier fetch or trust key material named by the token.
FORBIDDEN_HEADERS: frozenset[str] = frozenset({"jku", "x5u", "jwk", "x5c"})
#: Asymmetric algorithms an IdP may be pinned to. ``none`` and HS* are never accepted.
SUPPORTED_IDP_ALGORITHMS: frozenset[str] = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256"})
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_P256_ALGORITHMS = frozenset({"ES256"})

MAX_KID_LENGTH = 128
MAX_GROUPS = 64
MAX_GROUP_LENGTH = 256
MAX_AUDIENCES = 16
MAX_IDP_LIFETIME_SECONDS = 24 * 3600
SESSION_MAX_TTL_SECONDS = 900
SESSION_MAX_LEEWAY_SECONDS = 5
SESSION_MAX_TOKEN_BYTES = 8192  # an identity that fit in an 8 KiB IdP token fits here too
RSA_MIN_BITS = 2048
RSA_MAX_BITS = 8192
# Largest NumericDate we accept (year ~2286); also keeps floats exact.
_MAX_NUMERIC_DATE = 10_000_000_000

_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_KID_RE = re.compile(r"^[\x20-\x7e]{1,128}$")
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_PRINTABLE_RE = re.compile(r"^[^\x00-\x1f\x7f]+$")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)
_SESSION_TYP = "gw-session+jwt"


def _fail(code: ReasonCode, message: str) -> AuthError:
    return AuthError(message, code=code)


# --------------------------------------------------------------------------------------------------
# Strict compact-JWS front end
# --------------------------------------------------------------------------------------------------


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError("duplicate JSON key")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite JSON number {name}")


def _strict_json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8", errors="strict")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKeyError:
        raise _fail(ReasonCode.AUTH_MALFORMED, f"duplicate key in token {what}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise _fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not a JSON object")
    return value


def _b64url_decode_strict(segment: str, what: str) -> bytes:
    if not _B64URL_RE.match(segment) or len(segment) % 4 == 1:
        raise _fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise _fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not base64url") from None
    # Canonical encoding only: no alternative spellings of the same bytes (unused trailing bits).
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != segment:
        raise _fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not canonical base64url")
    return data


@dataclass(frozen=True, slots=True)
class _Compact:
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _parse_compact(token: object, max_bytes: int) -> _Compact:
    """Size cap first, then strict structural parsing. Nothing here trusts the content."""
    if not isinstance(token, str):
        raise _fail(ReasonCode.AUTH_MALFORMED, "token must be a string")
    if len(token) > max_bytes:
        raise _fail(ReasonCode.AUTH_MALFORMED, "token too large")
    if not token.isascii():
        raise _fail(ReasonCode.AUTH_MALFORMED, "token is not ASCII")
    parts = token.split(".")
    if len(parts) != 3:
        raise _fail(ReasonCode.AUTH_MALFORMED, "token must have exactly three segments")
    header_b64, payload_b64, signature_b64 = parts
    if not header_b64 or not payload_b64:
        raise _fail(ReasonCode.AUTH_MALFORMED, "token has an empty segment")
    header = _strict_json_object(_b64url_decode_strict(header_b64, "header"), "header")
    payload = _strict_json_object(_b64url_decode_strict(payload_b64, "payload"), "payload")
    signature = _b64url_decode_strict(signature_b64, "signature")
    return _Compact(
        header=header,
        payload=payload,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=signature,
    )


def _normalise_typ(value: str) -> str:
    """RFC 7515 4.1.9: media types compare case-insensitively; "application/" may be omitted."""
    lowered = value.strip().lower()
    return lowered.removeprefix("application/")


def _check_header(header: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """Checks shared by both paths, before any key lookup. Returns (alg, kid, typ)."""
    forbidden = FORBIDDEN_HEADERS.intersection(header)
    if forbidden:
        raise _fail(ReasonCode.AUTH_FORBIDDEN_HEADER, f"forbidden header parameter: {sorted(forbidden)[0]}")
    if "crit" in header:
        # We understand no JWS extension, so every critical extension is unknown to us.
        raise _fail(ReasonCode.AUTH_FORBIDDEN_HEADER, "unsupported critical header extension")
    if "b64" in header:
        raise _fail(ReasonCode.AUTH_FORBIDDEN_HEADER, "unencoded payload (b64) is not supported")
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise _fail(ReasonCode.AUTH_BAD_ALGORITHM, "missing or invalid alg header")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not _KID_RE.match(kid)):
        raise _fail(ReasonCode.AUTH_MALFORMED, "invalid kid header")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or len(typ) > 64):
        raise _fail(ReasonCode.AUTH_MALFORMED, "invalid typ header")
    return alg, kid, typ


def _is_none_alg(alg: str) -> bool:
    return alg.strip().lower() == "none"


_JWS = jwt.PyJWS(options={"verify_signature": True, "enforce_minimum_key_length": True})


def _verify_signature(token: str, key: Any, alg: str) -> None:
    """Hand the (already strictly parsed) token to PyJWT with exactly one pinned algorithm."""
    try:
        _JWS.decode_complete(token, key=key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        raise _fail(ReasonCode.AUTH_BAD_SIGNATURE, "signature verification failed") from None
    except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
        raise _fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm does not match the key") from None
    except jwt.DecodeError:
        raise _fail(ReasonCode.AUTH_MALFORMED, "token could not be decoded") from None
    except jwt.PyJWTError:
        raise _fail(ReasonCode.AUTH_INVALID, "token rejected") from None


# --------------------------------------------------------------------------------------------------
# Claim validation (shared helpers)
# --------------------------------------------------------------------------------------------------


def _numeric_date(payload: Mapping[str, Any], name: str) -> int:
    if name not in payload:
        raise _fail(ReasonCode.AUTH_INVALID, f"required claim {name} is missing")
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(ReasonCode.AUTH_INVALID, f"claim {name} is not a NumericDate")
    if not math.isfinite(value) or value < 0 or value > _MAX_NUMERIC_DATE:
        raise _fail(ReasonCode.AUTH_INVALID, f"claim {name} is out of range")
    return int(value)


@dataclass(frozen=True, slots=True)
class _Times:
    exp: int
    iat: int
    nbf: int


def _check_times(
    payload: Mapping[str, Any], now: float, leeway: int, max_lifetime: int, *, require_nbf: bool = True
) -> _Times:
    exp = _numeric_date(payload, "exp")
    iat = _numeric_date(payload, "iat")
    nbf = _numeric_date(payload, "nbf") if (require_nbf or "nbf" in payload) else iat
    if now - leeway >= exp:
        raise _fail(ReasonCode.AUTH_EXPIRED, "token expired")
    if nbf > now + leeway:
        raise _fail(ReasonCode.AUTH_INVALID, "token not yet valid (nbf)")
    if iat > now + leeway:
        raise _fail(ReasonCode.AUTH_INVALID, "token issued in the future (iat)")
    if exp - iat > max_lifetime or exp - now > max_lifetime + leeway:
        raise _fail(ReasonCode.AUTH_INVALID, "token lifetime too long")
    if exp <= iat or nbf > exp:
        raise _fail(ReasonCode.AUTH_INVALID, "inconsistent token times")
    return _Times(exp=exp, iat=iat, nbf=nbf)


def _check_issuer(payload: Mapping[str, Any], expected: str) -> str:
    iss = payload.get("iss")
    # Exact code-point comparison: no case folding, no trailing-slash or scheme normalisation.
    if not isinstance(iss, str) or not hmac.compare_digest(iss.encode("utf-8"), expected.encode("utf-8")):
        raise _fail(ReasonCode.AUTH_WRONG_ISSUER, "issuer mismatch")
    return iss


def _audiences(payload: Mapping[str, Any]) -> list[str]:
    aud = payload.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and 0 < len(aud) <= MAX_AUDIENCES and all(isinstance(item, str) for item in aud):
        return list(aud)
    raise _fail(ReasonCode.AUTH_WRONG_AUDIENCE, "audience missing or malformed")


def _required_str(payload: Mapping[str, Any], name: str, max_length: int = 256) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= max_length or not _PRINTABLE_RE.match(value):
        raise _fail(ReasonCode.AUTH_INVALID, f"claim {name} missing or invalid")
    return value


def _email(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL_RE.match(value):
        raise _fail(ReasonCode.AUTH_INVALID, "email claim missing or not a plausible email address")
    return value


def _groups(payload: Mapping[str, Any], name: str, *, required: bool) -> tuple[str, ...]:
    if name not in payload:
        if required:
            raise _fail(ReasonCode.AUTH_INVALID, "groups claim missing")
        return ()
    value = payload[name]
    if not isinstance(value, list) or len(value) > MAX_GROUPS:
        raise _fail(ReasonCode.AUTH_INVALID, "groups claim must be a list of at most 64 strings")
    for item in value:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_GROUP_LENGTH or not _PRINTABLE_RE.match(item):
            raise _fail(ReasonCode.AUTH_INVALID, "groups claim holds an invalid entry")
    return tuple(value)


# --------------------------------------------------------------------------------------------------
# IdP configuration and JWKS cache
# --------------------------------------------------------------------------------------------------


def _check_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return value
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        return value  # local IdP only
    raise ValueError(f"{what} must be an https URL (http is allowed only on loopback)")


class IdpConfig(StrictModel):
    """How to trust the developer's IdP (Okta-style OIDC)."""

    issuer: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    audience: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    jwks_url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    algorithms: tuple[str, ...] = Field(default=("RS256", "ES256"), min_length=1, max_length=8)
    groups_claim: Annotated[str, StringConstraints(min_length=1, max_length=128)] = "groups"
    email_claim: Annotated[str, StringConstraints(min_length=1, max_length=128)] = "email"
    leeway_seconds: int = Field(default=30, ge=0, le=60)
    max_token_bytes: int = Field(default=8192, ge=512, le=65536)
    allowed_typ: tuple[ShortStr, ...] = ("JWT", "at+jwt", "application/at+jwt")
    allowed_client_ids: tuple[ShortStr, ...] = ()
    require_nbf: bool = Field(
        default=True,
        description="Okta and Auth0 tokens carry no nbf: set False for them (nbf then defaults to iat)",
    )
    max_lifetime_seconds: int = Field(default=MAX_IDP_LIFETIME_SECONDS, ge=60, le=MAX_IDP_LIFETIME_SECONDS)

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        return _check_url(value, "issuer")

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str) -> str:
        return _check_url(value, "jwks_url")

    @field_validator("algorithms")
    @classmethod
    def _pinned_algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alg in value:
            if _is_none_alg(alg):
                raise ValueError("alg 'none' is never allowed")
            if alg.upper().startswith("HS"):
                raise ValueError("symmetric HS* algorithms are never allowed for IdP tokens")
            if alg not in SUPPORTED_IDP_ALGORITHMS:
                raise ValueError(f"unsupported algorithm {alg!r}; use one of {sorted(SUPPORTED_IDP_ALGORITHMS)}")
        return value

    @field_validator("allowed_typ")
    @classmethod
    def _typ_not_ours(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(_normalise_typ(t) == _SESSION_TYP for t in value):
            raise ValueError("the gateway session token type may not be accepted as an IdP token")
        return value


class JwksFetcher(Protocol):
    """Fetch the JWKS document. Returns (jwks json, Cache-Control max-age or None); raises on failure."""

    def __call__(self, url: str) -> tuple[dict[str, Any], int | None]: ...


def parse_max_age(cache_control: str | None) -> int | None:
    """``max-age`` from a Cache-Control header value (for fetcher adapters). ``no-store`` -> 0."""
    if not cache_control:
        return None
    lowered = cache_control.lower()
    if "no-store" in lowered or "no-cache" in lowered:
        return 0
    match = _MAX_AGE_RE.search(cache_control)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class _CachedKey:
    key: Any
    family: str  # "RSA" or "EC-P256"
    alg: str | None


def _b64url_uint(value: object) -> int:
    if not isinstance(value, str) or not value or len(value) > 2048 or not _B64URL_RE.match(value):
        raise ValueError("bad integer")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(raw, "big")


def _parse_jwk(jwk: Mapping[str, Any]) -> _CachedKey | None:
    """One JWK -> a verification key, or None when it must be ignored."""
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    alg = jwk.get("alg")
    if alg is not None and not isinstance(alg, str):
        return None
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            n = _b64url_uint(jwk.get("n"))
            e = _b64url_uint(jwk.get("e"))
            if not RSA_MIN_BITS <= n.bit_length() <= RSA_MAX_BITS or e < 3 or e % 2 == 0:
                return None
            return _CachedKey(rsa.RSAPublicNumbers(e, n).public_key(), "RSA", alg)
        if kty == "EC":
            if jwk.get("crv") != "P-256":
                return None
            x, y = jwk.get("x"), jwk.get("y")
            if not isinstance(x, str) or not isinstance(y, str) or len(x) != 43 or len(y) != 43:
                return None
            numbers = ec.EllipticCurvePublicNumbers(_b64url_uint(x), _b64url_uint(y), ec.SECP256R1())
            return _CachedKey(numbers.public_key(), "EC-P256", alg)
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        return None
    return None  # oct (symmetric), OKP and anything else are never used


def _family_for(alg: str) -> str | None:
    if alg in _RSA_ALGORITHMS:
        return "RSA"
    if alg in _EC_P256_ALGORITHMS:
        return "EC-P256"
    return None


def _validate_kid(kid: object) -> str:
    if not isinstance(kid, str) or not _KID_RE.match(kid):
        raise _fail(ReasonCode.AUTH_MALFORMED, "invalid kid")
    return kid


class JwksCache:
    """The IdP's signing keys, fetched from one configured URL only, cached, refetch rate-limited.

    * Known kids are served lock-free from an immutable snapshot while it is fresh.
    * A miss (unknown kid or stale cache) takes the lock; at most one fetch is in flight and at most
      one attempt happens per ``min_refetch_interval`` (or ``failure_backoff`` after a failed fetch),
      so a flood of random kids cannot turn into a flood of requests to the IdP.
    * TTL = Cache-Control max-age clamped to [min_refetch_interval, max_ttl]; default_ttl otherwise.
    * A failed fetch keeps the previous snapshot until its own expiry.
    """

    def __init__(
        self,
        url: str,
        fetcher: JwksFetcher,
        clock: Clock = time.time,
        *,
        default_ttl: int = 300,
        max_ttl: int = 3600,
        min_refetch_interval: int = 60,
        max_keys: int = 20,
        failure_backoff: int = 10,
    ) -> None:
        if not 0 < min_refetch_interval <= default_ttl <= max_ttl:
            raise ConfigError("JWKS cache needs 0 < min_refetch_interval <= default_ttl <= max_ttl")
        if not 0 < max_keys <= 100 or failure_backoff < 0:
            raise ConfigError("JWKS cache: max_keys must be 1..100 and failure_backoff >= 0")
        self.url = url
        self._fetcher = fetcher
        self._clock = clock
        self._default_ttl = default_ttl
        self._max_ttl = max_ttl
        self._min_refetch_interval = min_refetch_interval
        self._failure_backoff = min(failure_backoff, min_refetch_interval)
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._snapshot: tuple[Mapping[str, _CachedKey], float] = ({}, float("-inf"))
        self._last_attempt: float | None = None
        self._last_failed = False
        self.fetch_count = 0

    def get_key(self, kid: str, alg: str) -> Any:
        """The public key for ``kid``, checked against ``alg``. Raises AuthError."""
        kid = _validate_kid(kid)
        family = _family_for(alg)
        if family is None:
            raise _fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm not supported")
        keys, expires_at = self._snapshot  # one immutable (keys, expiry) pair: no torn reads
        cached = keys.get(kid) if self._clock() < expires_at else None
        if cached is None:
            cached = self._miss(kid)
        if cached.family != family or (cached.alg is not None and cached.alg != alg):
            raise _fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm does not match the key type")
        return cached.key

    def _miss(self, kid: str) -> _CachedKey:
        with self._lock:  # at most one fetch in flight; waiters re-check the fresh snapshot
            now = self._clock()
            keys, expires_at = self._snapshot
            fresh = now < expires_at
            if fresh and kid in keys:
                return keys[kid]
            interval = self._failure_backoff if self._last_failed else self._min_refetch_interval
            if self._last_attempt is None or now - self._last_attempt >= interval:
                if not self._refresh(now):
                    raise _fail(ReasonCode.AUTH_KEYS_UNAVAILABLE, "identity provider keys unavailable")
                found = self._snapshot[0].get(kid)
                if found is None:
                    raise _fail(ReasonCode.AUTH_UNKNOWN_KEY, "unknown signing key")
                return found
            # Rate-limited: no fetch now.
            if self._last_failed or not fresh:
                raise _fail(ReasonCode.AUTH_KEYS_UNAVAILABLE, "identity provider keys unavailable")
            raise _fail(ReasonCode.AUTH_UNKNOWN_KEY, "unknown signing key")

    def _refresh(self, now: float) -> bool:
        """Fetch once (lock held). True when a usable key set was installed."""
        self._last_attempt = now
        self.fetch_count += 1
        try:
            document, max_age = self._fetcher(self.url)
            keys = self._parse_document(document)
        except Exception as exc:  # noqa: BLE001 - any fetch/parse failure closes to KEYS_UNAVAILABLE
            self._last_failed = True
            logger.warning("JWKS fetch failed", extra={"error_type": type(exc).__name__})
            return False
        if max_age is None or isinstance(max_age, bool) or not isinstance(max_age, int):
            ttl = self._default_ttl
        else:
            ttl = min(max(max_age, self._min_refetch_interval), self._max_ttl)
        self._last_failed = False
        self._snapshot = (keys, now + ttl)
        return True

    def _parse_document(self, document: object) -> Mapping[str, _CachedKey]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("JWKS document must be an object with a keys list")
        entries = document["keys"]
        if len(entries) > self._max_keys:
            raise ValueError("JWKS document holds too many keys")
        keys: dict[str, _CachedKey] = {}
        ambiguous: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not _KID_RE.match(kid):
                continue
            parsed = _parse_jwk(entry)
            if parsed is None:
                continue
            if kid in keys:
                ambiguous.add(kid)  # two keys under one kid: trust neither
            keys[kid] = parsed
        for kid in ambiguous:
            del keys[kid]
        if not keys:
            raise ValueError("JWKS document holds no usable signing key")
        return keys


# --------------------------------------------------------------------------------------------------
# IdP token verification
# --------------------------------------------------------------------------------------------------


class IdentityClaims(StrictModel):
    """What the gateway keeps from a verified IdP token."""

    sub: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    email: Email
    groups: tuple[ShortStr, ...] = Field(default=(), max_length=MAX_GROUPS)
    expires_at: int = Field(ge=0)
    issuer: MediumStr
    token_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]


def verify_idp_token(token: str, config: IdpConfig, jwks: JwksCache, clock: Clock = time.time) -> IdentityClaims:
    """Verify a developer's IdP JWT. Raises AuthError with the precise AUTH_* code."""
    if jwks.url != config.jwks_url:
        raise ConfigError("the JWKS cache is not the one configured for this IdP")
    parsed = _parse_compact(token, config.max_token_bytes)
    alg, kid, typ = _check_header(parsed.header)
    if typ is not None and _normalise_typ(typ) not in {_normalise_typ(t) for t in config.allowed_typ}:
        raise _fail(ReasonCode.AUTH_WRONG_TOKEN_TYPE, "token type not accepted")
    if _is_none_alg(alg) or alg not in config.algorithms:
        raise _fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm not allowed")
    if kid is None:
        raise _fail(ReasonCode.AUTH_UNKNOWN_KEY, "token has no kid")
    key = jwks.get_key(kid, alg)
    _verify_signature(token, key, alg)

    payload = parsed.payload
    now = clock()
    issuer = _check_issuer(payload, config.issuer)
    if config.audience not in _audiences(payload):
        raise _fail(ReasonCode.AUTH_WRONG_AUDIENCE, "audience mismatch")
    if config.allowed_client_ids:
        for claim in ("azp", "client_id", "cid"):
            if claim in payload and payload[claim] not in config.allowed_client_ids:
                raise _fail(ReasonCode.AUTH_WRONG_AUDIENCE, "token was issued to another client")
    times = _check_times(
        payload, now, config.leeway_seconds, config.max_lifetime_seconds, require_nbf=config.require_nbf
    )
    sub = _required_str(payload, "sub")
    email = _email(payload, config.email_claim)
    if payload.get("email_verified") is False:
        raise _fail(ReasonCode.AUTH_INVALID, "email is not verified")
    groups = _groups(payload, config.groups_claim, required=False)
    if "jti" in payload:
        token_id = _required_str(payload, "jti")
    else:
        token_id = "sha256-" + hashlib.sha256(parsed.signing_input + parsed.signature).hexdigest()[:32]
    try:
        return IdentityClaims(
            sub=sub, email=email, groups=groups, expires_at=times.exp, issuer=issuer, token_id=token_id
        )
    except ValidationError:
        raise _fail(ReasonCode.AUTH_INVALID, "identity claims invalid") from None


# --------------------------------------------------------------------------------------------------
# Gateway session tokens
# --------------------------------------------------------------------------------------------------


def _load_p256_private(pem: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise ValueError("session key is not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("session key must be an EC P-256 private key")
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SessionKey(StrictModel):
    """One ES256 signing key of the gateway. The public key is derived from the private one."""

    kid: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")]
    private_pem: str = Field(repr=False, max_length=16384)

    @field_validator("private_pem")
    @classmethod
    def _p256(cls, value: str) -> str:
        _load_p256_private(value)
        return value

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return _load_p256_private(self.private_pem)

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key().public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "use": "sig",
            "alg": "ES256",
            "kid": self.kid,
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }


class SessionKeySet(StrictModel):
    """Parsed from the Secrets Manager secret JSON. Sign with ``active_kid``, verify with any kid."""

    active_kid: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    keys: tuple[SessionKey, ...] = Field(min_length=1, max_length=5)

    @model_validator(mode="after")
    def _consistent(self) -> SessionKeySet:
        kids = [k.kid for k in self.keys]
        if len(set(kids)) != len(kids):
            raise ValueError("duplicate kid in session key set")
        if self.active_kid not in kids:
            raise ValueError("active_kid is not one of the keys")
        return self

    @classmethod
    def from_secret_string(cls, secret: str) -> SessionKeySet:
        """Parse the secret's JSON (duplicate keys refused). Raises ConfigError, never leaks key text."""
        try:
            data = json.loads(secret, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
            return cls.model_validate(data)
        except (ValueError, TypeError, ValidationError):
            raise ConfigError("session signing key secret is malformed") from None


class IssuedToken(StrictModel):
    access_token: Annotated[str, StringConstraints(min_length=1, max_length=SESSION_MAX_TOKEN_BYTES)]
    expires_in: int = Field(ge=1, le=SESSION_MAX_TTL_SECONDS)
    token_id: ShortStr
    expires_at: int = Field(ge=0)


class SessionTokenService:
    """Mints and verifies the gateway's 15-minute ES256 session tokens. Stateless."""

    TOKEN_TYPE = _SESSION_TYP
    ALGORITHM = "ES256"

    def __init__(
        self,
        keys: SessionKeySet,
        *,
        issuer: str,
        audience: str,
        clock: Clock = time.time,
        ttl_seconds: int = SESSION_MAX_TTL_SECONDS,
        leeway_seconds: int = SESSION_MAX_LEEWAY_SECONDS,
    ) -> None:
        if not issuer or not audience or len(issuer) > 2048 or len(audience) > 2048:
            raise ConfigError("session token issuer and audience are required")
        if not 1 <= ttl_seconds <= SESSION_MAX_TTL_SECONDS:
            raise ConfigError("session token ttl must be 1..900 seconds")
        if not 0 <= leeway_seconds <= SESSION_MAX_LEEWAY_SECONDS:
            raise ConfigError("session token leeway must be 0..5 seconds")
        self._private: dict[str, ec.EllipticCurvePrivateKey] = {k.kid: k.private_key() for k in keys.keys}
        self._public: dict[str, ec.EllipticCurvePublicKey] = {
            kid: key.public_key() for kid, key in self._private.items()
        }
        self._active_kid = keys.active_kid
        self.issuer = issuer
        self.audience = audience
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self.leeway_seconds = leeway_seconds

    def public_jwks(self) -> dict[str, Any]:
        """The verification keys (e.g. for a debugging endpoint); never private material."""
        out = []
        for kid, key in self._public.items():
            numbers = key.public_numbers()
            out.append(
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "use": "sig",
                    "alg": self.ALGORITHM,
                    "kid": kid,
                    "x": _b64url(numbers.x.to_bytes(32, "big")),
                    "y": _b64url(numbers.y.to_bytes(32, "big")),
                }
            )
        return {"keys": out}

    def mint(self, identity: IdentityClaims) -> IssuedToken:
        now = self._clock()
        iat = int(now)
        exp = min(iat + self.ttl_seconds, identity.expires_at)
        if exp - now < 1:
            raise _fail(ReasonCode.AUTH_EXPIRED, "identity token expires too soon to issue a session")
        jti = secrets.token_urlsafe(18)
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": identity.sub,
            "email": identity.email,
            "groups": list(identity.groups),
            "jti": jti,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
        }
        token = jwt.encode(
            payload,
            self._private[self._active_kid],
            algorithm=self.ALGORITHM,
            headers={"typ": self.TOKEN_TYPE, "kid": self._active_kid},
        )
        if len(token) > SESSION_MAX_TOKEN_BYTES:
            raise _fail(ReasonCode.AUTH_INVALID, "identity too large for a session token")
        return IssuedToken(access_token=token, expires_in=exp - iat, token_id=jti, expires_at=exp)

    def verify(self, token: str) -> Principal:
        parsed = _parse_compact(token, SESSION_MAX_TOKEN_BYTES)
        alg, kid, typ = _check_header(parsed.header)
        if typ != self.TOKEN_TYPE:
            raise _fail(ReasonCode.AUTH_WRONG_TOKEN_TYPE, "not a gateway session token")
        if alg != self.ALGORITHM:
            raise _fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm not allowed")
        key = self._public.get(kid) if kid is not None else None
        if key is None:
            raise _fail(ReasonCode.AUTH_UNKNOWN_KEY, "unknown session key")
        _verify_signature(token, key, alg)

        payload = parsed.payload
        now = self._clock()
        _check_issuer(payload, self.issuer)
        aud = payload.get("aud")
        if not isinstance(aud, str) or not hmac.compare_digest(aud.encode("utf-8"), self.audience.encode("utf-8")):
            raise _fail(ReasonCode.AUTH_WRONG_AUDIENCE, "audience mismatch")
        times = _check_times(payload, now, self.leeway_seconds, SESSION_MAX_TTL_SECONDS)
        try:
            return Principal(
                sub=_required_str(payload, "sub"),
                email=_email(payload, "email"),
                groups=_groups(payload, "groups", required=True),
                token_id=_required_str(payload, "jti"),
                expires_at=times.exp,
            )
        except ValidationError:
            raise _fail(ReasonCode.AUTH_INVALID, "session claims invalid") from None


def token_fingerprint(token: str, key: bytes) -> str:
    """A short keyed HMAC-SHA256 (16 hex chars) to correlate a token in audit logs; never the token."""
    if len(key) < 16:
        raise ConfigError("fingerprint key must be at least 16 bytes")
    return hmac.new(key, token.encode("utf-8", errors="replace"), hashlib.sha256).hexdigest()[:16]


def generate_session_key(kid: str) -> SessionKey:
    """A fresh EC P-256 key (PKCS#8 PEM) for the session key set."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return SessionKey(kid=kid, private_pem=pem)
