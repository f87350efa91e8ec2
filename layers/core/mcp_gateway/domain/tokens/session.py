"""Session tokens: mint and verify the gateway's own 15-minute ES256 tokens, and their key sets.

The key set is parsed from the Secrets Manager secret's JSON (duplicate keys refused); tokens are signed
with the active kid and verified with any kid of the set, through the same strict front end as IdP
tokens (:mod:`.parsing`). Stateless.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import time
from typing import Annotated, Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from ..errors import AuthError, ConfigError, ReasonCode
from ..models import Principal, ShortStr, StrictModel
from .idp import IdentityClaims
from .parsing import (
    SESSION_TYP,
    Clock,
    check_email,
    check_groups,
    check_header,
    check_issuer,
    check_times,
    fail,
    no_duplicate_keys,
    parse_compact,
    reject_constant,
    required_str,
)

__all__ = ["IssuedToken", "SessionKey", "SessionKeySet", "SessionTokenService", "generate_session_key"]

SESSION_MAX_TTL_SECONDS = 900
SESSION_MAX_LEEWAY_SECONDS = 5
SESSION_MAX_TOKEN_BYTES = 8192  # an identity that fit in an 8 KiB IdP token fits here too
VERIFIED_CACHE_MAX = 1024
"""How many verified session tokens one service remembers (exact token string -> claims); oldest out first."""


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
            data = json.loads(secret, object_pairs_hook=no_duplicate_keys, parse_constant=reject_constant)
            return cls.model_validate(data)
        except (ValueError, TypeError, ValidationError):
            raise ConfigError("session signing key secret is malformed") from None


class IssuedToken(StrictModel):
    access_token: Annotated[str, StringConstraints(min_length=1, max_length=SESSION_MAX_TOKEN_BYTES)]
    expires_in: int = Field(ge=1, le=SESSION_MAX_TTL_SECONDS)
    token_id: ShortStr
    expires_at: int = Field(ge=0)


class SessionTokenService:
    """Mints and verifies the gateway's 15-minute ES256 session tokens.

    Stateless apart from a bounded memo of tokens already verified: an agent sends the same token with every
    call of its session, so a token whose signature, header, issuer, audience and claims were checked once is
    remembered by its exact string (at most ``VERIFIED_CACHE_MAX``, oldest evicted first). A remembered token
    still has its times checked against the clock on every call (an expired one is refused and forgotten); the
    memo belongs to this service, so a new key set (a new service) starts empty."""

    TOKEN_TYPE = SESSION_TYP
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
        self._verified: dict[str, tuple[dict[str, Any], Principal]] = {}
        self._verified_lock = threading.Lock()

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
            raise fail(ReasonCode.AUTH_EXPIRED, "identity token expires too soon to issue a session")
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
            raise fail(ReasonCode.AUTH_INVALID, "identity too large for a session token")
        return IssuedToken(access_token=token, expires_in=exp - iat, token_id=jti, expires_at=exp)

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token) if isinstance(token, str) else None
        if remembered is not None:
            payload, principal = remembered
            try:
                check_times(payload, self._clock(), self.leeway_seconds, SESSION_MAX_TTL_SECONDS)
            except AuthError:
                with self._verified_lock:
                    self._verified.pop(token, None)
                raise
            return principal
        principal, payload = self._verify_fully(token)
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_CACHE_MAX:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = (payload, principal)
        return principal

    def _verify_fully(self, token: str) -> tuple[Principal, dict[str, Any]]:
        parsed = parse_compact(token, SESSION_MAX_TOKEN_BYTES)
        alg, kid, typ = check_header(parsed.header)
        if typ != self.TOKEN_TYPE:
            raise fail(ReasonCode.AUTH_WRONG_TOKEN_TYPE, "not a gateway session token")
        if alg != self.ALGORITHM:
            raise fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm not allowed")
        key = self._public.get(kid) if kid is not None else None
        if key is None:
            raise fail(ReasonCode.AUTH_UNKNOWN_KEY, "unknown session key")
        _verify_es256(parsed.signing_input, parsed.signature, key)

        payload = parsed.payload
        now = self._clock()
        check_issuer(payload, self.issuer)
        aud = payload.get("aud")
        if not isinstance(aud, str) or not hmac.compare_digest(aud.encode("utf-8"), self.audience.encode("utf-8")):
            raise fail(ReasonCode.AUTH_WRONG_AUDIENCE, "audience mismatch")
        times = check_times(payload, now, self.leeway_seconds, SESSION_MAX_TTL_SECONDS)
        try:
            principal = Principal(
                sub=required_str(payload, "sub"),
                email=check_email(payload, "email"),
                groups=check_groups(payload, "groups", required=True),
                token_id=required_str(payload, "jti"),
                expires_at=times.exp,
            )
            return principal, payload
        except ValidationError:
            raise fail(ReasonCode.AUTH_INVALID, "session claims invalid") from None


_ES256 = ECAlgorithm(ECAlgorithm.SHA256)


def _verify_es256(signing_input: bytes, signature: bytes, key: ec.EllipticCurvePublicKey) -> None:
    """ES256 verification of an already strictly parsed token (``parse_compact``) with the key object built once,
    by PyJWT's own ES256 algorithm (``ECAlgorithm.verify``: raw r||s to DER, ECDSA with SHA-256, a signature of
    the wrong length refused) without PyJWT parsing the token a second time. The keys are P-256 by
    construction (``SessionKey``) and the header's alg was checked to be ES256."""
    if not _ES256.verify(signing_input, key, signature):
        raise fail(ReasonCode.AUTH_BAD_SIGNATURE, "signature verification failed")


def generate_session_key(kid: str) -> SessionKey:
    """A fresh EC P-256 key (PKCS#8 PEM) for the session key set."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return SessionKey(kid=kid, private_pem=pem)
