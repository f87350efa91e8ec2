"""IdP verification: trust the developer's IdP (Okta-style OIDC) and verify its JWTs.

* the IdP is configured by :class:`IdpConfig` (https issuer and JWKS URL; http only on loopback);
* its signing keys come from exactly one configured JWKS URL through :class:`JwksCache` (cached, refetch
  rate-limited, key type and size checked); the fetch itself is an injected :class:`JwksFetcher` (the HTTP
  one is ``mcp_gateway.adapters.jwks_http``), so nothing here performs I/O;
* the algorithm is pinned by configuration *and* must match the type of the key it selects, so ``none``
  (any spelling) and HS* "signed with the public key" can never verify;
* issuer (exact), audience, authorised client, times, email and groups are checked claim by claim.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import Field, StringConstraints, ValidationError, field_validator

from ..errors import ConfigError, ReasonCode
from ..models import Email, MediumStr, ShortStr, StrictModel
from .parsing import (
    B64URL_RE,
    KID_RE,
    MAX_GROUPS,
    SESSION_TYP,
    Clock,
    audiences_of,
    check_email,
    check_groups,
    check_header,
    check_issuer,
    check_times,
    fail,
    is_none_alg,
    normalise_typ,
    parse_compact,
    required_str,
    verify_signature,
)

__all__ = [
    "SUPPORTED_IDP_ALGORITHMS",
    "IdentityClaims",
    "IdpConfig",
    "JwksCache",
    "JwksFetcher",
    "parse_max_age",
    "verify_idp_token",
]

logger = logging.getLogger(__package__)  # "mcp_gateway.domain.tokens", as before the split

#: Asymmetric algorithms an IdP may be pinned to. ``none`` and HS* are never accepted.
SUPPORTED_IDP_ALGORITHMS: frozenset[str] = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256"})
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_P256_ALGORITHMS = frozenset({"ES256"})
MAX_IDP_LIFETIME_SECONDS = 24 * 3600
RSA_MIN_BITS = 2048
RSA_MAX_BITS = 8192
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)


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
            if is_none_alg(alg):
                raise ValueError("alg 'none' is never allowed")
            if alg.upper().startswith("HS"):
                raise ValueError("symmetric HS* algorithms are never allowed for IdP tokens")
            if alg not in SUPPORTED_IDP_ALGORITHMS:
                raise ValueError(f"unsupported algorithm {alg!r}; use one of {sorted(SUPPORTED_IDP_ALGORITHMS)}")
        return value

    @field_validator("allowed_typ")
    @classmethod
    def _typ_not_ours(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(normalise_typ(t) == SESSION_TYP for t in value):
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
    if not isinstance(value, str) or not value or len(value) > 2048 or not B64URL_RE.match(value):
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
    if not isinstance(kid, str) or not KID_RE.match(kid):
        raise fail(ReasonCode.AUTH_MALFORMED, "invalid kid")
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
            raise fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm not supported")
        keys, expires_at = self._snapshot  # one immutable (keys, expiry) pair: no torn reads
        cached = keys.get(kid) if self._clock() < expires_at else None
        if cached is None:
            cached = self._miss(kid)
        if cached.family != family or (cached.alg is not None and cached.alg != alg):
            raise fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm does not match the key type")
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
                    raise fail(ReasonCode.AUTH_KEYS_UNAVAILABLE, "identity provider keys unavailable")
                found = self._snapshot[0].get(kid)
                if found is None:
                    raise fail(ReasonCode.AUTH_UNKNOWN_KEY, "unknown signing key")
                return found
            # Rate-limited: no fetch now.
            if self._last_failed or not fresh:
                raise fail(ReasonCode.AUTH_KEYS_UNAVAILABLE, "identity provider keys unavailable")
            raise fail(ReasonCode.AUTH_UNKNOWN_KEY, "unknown signing key")

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
            if not isinstance(kid, str) or not KID_RE.match(kid):
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
    parsed = parse_compact(token, config.max_token_bytes)
    alg, kid, typ = check_header(parsed.header)
    if typ is not None and normalise_typ(typ) not in {normalise_typ(t) for t in config.allowed_typ}:
        raise fail(ReasonCode.AUTH_WRONG_TOKEN_TYPE, "token type not accepted")
    if is_none_alg(alg) or alg not in config.algorithms:
        raise fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm not allowed")
    if kid is None:
        raise fail(ReasonCode.AUTH_UNKNOWN_KEY, "token has no kid")
    key = jwks.get_key(kid, alg)
    verify_signature(token, key, alg)

    payload = parsed.payload
    now = clock()
    issuer = check_issuer(payload, config.issuer)
    if config.audience not in audiences_of(payload):
        raise fail(ReasonCode.AUTH_WRONG_AUDIENCE, "audience mismatch")
    if config.allowed_client_ids:
        for claim in ("azp", "client_id", "cid"):
            if claim in payload and payload[claim] not in config.allowed_client_ids:
                raise fail(ReasonCode.AUTH_WRONG_AUDIENCE, "token was issued to another client")
    times = check_times(
        payload, now, config.leeway_seconds, config.max_lifetime_seconds, require_nbf=config.require_nbf
    )
    sub = required_str(payload, "sub")
    email = check_email(payload, config.email_claim)
    if payload.get("email_verified") is False:
        raise fail(ReasonCode.AUTH_INVALID, "email is not verified")
    groups = check_groups(payload, config.groups_claim, required=False)
    if "jti" in payload:
        token_id = required_str(payload, "jti")
    else:
        token_id = "sha256-" + hashlib.sha256(parsed.signing_input + parsed.signature).hexdigest()[:32]
    try:
        return IdentityClaims(
            sub=sub, email=email, groups=groups, expires_at=times.exp, issuer=issuer, token_id=token_id
        )
    except ValidationError:
        raise fail(ReasonCode.AUTH_INVALID, "identity claims invalid") from None
