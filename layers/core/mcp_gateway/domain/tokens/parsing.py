"""Token parsing: the hardened front end both verify paths share, and the claim checks.

* the size is capped before anything is decoded;
* the compact form is split and each segment decoded by us, strictly (canonical base64url, UTF-8,
  JSON objects only, no duplicate keys at any depth, no NaN/Infinity) *before* PyJWT sees the token;
* ``jku``, ``x5u``, ``jwk`` and ``x5c`` are refused outright (never followed: no outbound fetch ever
  depends on token content), as is any ``crit`` extension (we implement none) and ``b64``;
* ``kid`` is an opaque, bounded, printable string used only as a dictionary key.

PyJWT then verifies the signature with exactly one pinned algorithm (:func:`verify_signature`). Claims
are validated here, field by field, so every refusal carries a precise ``AUTH_*`` reason code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from ..errors import AuthError, ConfigError, ReasonCode

__all__ = ["FORBIDDEN_HEADERS", "Clock", "token_fingerprint"]

Clock = Callable[[], float]

#: Header parameters that would make the verifier fetch or trust key material named by the token.
FORBIDDEN_HEADERS: frozenset[str] = frozenset({"jku", "x5u", "jwk", "x5c"})
#: The ``typ`` of the gateway's own session tokens (never accepted as an IdP token).
SESSION_TYP = "gw-session+jwt"

MAX_KID_LENGTH = 128
MAX_GROUPS = 64
MAX_GROUP_LENGTH = 256
MAX_AUDIENCES = 16
# Largest NumericDate we accept (year ~2286); also keeps floats exact.
_MAX_NUMERIC_DATE = 10_000_000_000

B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
KID_RE = re.compile(r"^[\x20-\x7e]{1,128}$")
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_PRINTABLE_RE = re.compile(r"^[^\x00-\x1f\x7f]+$")


def fail(code: ReasonCode, message: str) -> AuthError:
    return AuthError(message, code=code)


# --------------------------------------------------------------------------------------------------
# Strict compact-JWS front end
# --------------------------------------------------------------------------------------------------


class _DuplicateKeyError(ValueError):
    pass


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError("duplicate JSON key")
        result[key] = value
    return result


def reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite JSON number {name}")


def _strict_json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8", errors="strict")
        value = json.loads(text, object_pairs_hook=no_duplicate_keys, parse_constant=reject_constant)
    except _DuplicateKeyError:
        raise fail(ReasonCode.AUTH_MALFORMED, f"duplicate key in token {what}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not a JSON object")
    return value


def _b64url_decode_strict(segment: str, what: str) -> bytes:
    if not B64URL_RE.match(segment) or len(segment) % 4 == 1:
        raise fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not base64url") from None
    # Canonical encoding only: no alternative spellings of the same bytes (unused trailing bits).
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != segment:
        raise fail(ReasonCode.AUTH_MALFORMED, f"token {what} is not canonical base64url")
    return data


@dataclass(frozen=True, slots=True)
class _Compact:
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(token: object, max_bytes: int) -> _Compact:
    """Size cap first, then strict structural parsing. Nothing here trusts the content."""
    if not isinstance(token, str):
        raise fail(ReasonCode.AUTH_MALFORMED, "token must be a string")
    if len(token) > max_bytes:
        raise fail(ReasonCode.AUTH_MALFORMED, "token too large")
    if not token.isascii():
        raise fail(ReasonCode.AUTH_MALFORMED, "token is not ASCII")
    parts = token.split(".")
    if len(parts) != 3:
        raise fail(ReasonCode.AUTH_MALFORMED, "token must have exactly three segments")
    header_b64, payload_b64, signature_b64 = parts
    if not header_b64 or not payload_b64:
        raise fail(ReasonCode.AUTH_MALFORMED, "token has an empty segment")
    header = _strict_json_object(_b64url_decode_strict(header_b64, "header"), "header")
    payload = _strict_json_object(_b64url_decode_strict(payload_b64, "payload"), "payload")
    signature = _b64url_decode_strict(signature_b64, "signature")
    return _Compact(
        header=header,
        payload=payload,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=signature,
    )


def normalise_typ(value: str) -> str:
    """RFC 7515 4.1.9: media types compare case-insensitively; "application/" may be omitted."""
    lowered = value.strip().lower()
    return lowered.removeprefix("application/")


def check_header(header: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """Checks shared by both paths, before any key lookup. Returns (alg, kid, typ)."""
    forbidden = FORBIDDEN_HEADERS.intersection(header)
    if forbidden:
        raise fail(ReasonCode.AUTH_FORBIDDEN_HEADER, f"forbidden header parameter: {sorted(forbidden)[0]}")
    if "crit" in header:
        # We understand no JWS extension, so every critical extension is unknown to us.
        raise fail(ReasonCode.AUTH_FORBIDDEN_HEADER, "unsupported critical header extension")
    if "b64" in header:
        raise fail(ReasonCode.AUTH_FORBIDDEN_HEADER, "unencoded payload (b64) is not supported")
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise fail(ReasonCode.AUTH_BAD_ALGORITHM, "missing or invalid alg header")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not KID_RE.match(kid)):
        raise fail(ReasonCode.AUTH_MALFORMED, "invalid kid header")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or len(typ) > 64):
        raise fail(ReasonCode.AUTH_MALFORMED, "invalid typ header")
    return alg, kid, typ


def is_none_alg(alg: str) -> bool:
    return alg.strip().lower() == "none"


_JWS = jwt.PyJWS(options={"verify_signature": True, "enforce_minimum_key_length": True})


def verify_signature(token: str, key: Any, alg: str) -> None:
    """Hand the (already strictly parsed) token to PyJWT with exactly one pinned algorithm."""
    try:
        _JWS.decode_complete(token, key=key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        raise fail(ReasonCode.AUTH_BAD_SIGNATURE, "signature verification failed") from None
    except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
        raise fail(ReasonCode.AUTH_BAD_ALGORITHM, "algorithm does not match the key") from None
    except jwt.DecodeError:
        raise fail(ReasonCode.AUTH_MALFORMED, "token could not be decoded") from None
    except jwt.PyJWTError:
        raise fail(ReasonCode.AUTH_INVALID, "token rejected") from None


# --------------------------------------------------------------------------------------------------
# Claim validation (shared helpers)
# --------------------------------------------------------------------------------------------------


def _numeric_date(payload: Mapping[str, Any], name: str) -> int:
    if name not in payload:
        raise fail(ReasonCode.AUTH_INVALID, f"required claim {name} is missing")
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(ReasonCode.AUTH_INVALID, f"claim {name} is not a NumericDate")
    if not math.isfinite(value) or value < 0 or value > _MAX_NUMERIC_DATE:
        raise fail(ReasonCode.AUTH_INVALID, f"claim {name} is out of range")
    return int(value)


@dataclass(frozen=True, slots=True)
class _Times:
    exp: int
    iat: int
    nbf: int


def check_times(
    payload: Mapping[str, Any], now: float, leeway: int, max_lifetime: int, *, require_nbf: bool = True
) -> _Times:
    exp = _numeric_date(payload, "exp")
    iat = _numeric_date(payload, "iat")
    nbf = _numeric_date(payload, "nbf") if (require_nbf or "nbf" in payload) else iat
    if now - leeway >= exp:
        raise fail(ReasonCode.AUTH_EXPIRED, "token expired")
    if nbf > now + leeway:
        raise fail(ReasonCode.AUTH_INVALID, "token not yet valid (nbf)")
    if iat > now + leeway:
        raise fail(ReasonCode.AUTH_INVALID, "token issued in the future (iat)")
    if exp - iat > max_lifetime or exp - now > max_lifetime + leeway:
        raise fail(ReasonCode.AUTH_INVALID, "token lifetime too long")
    if exp <= iat or nbf > exp:
        raise fail(ReasonCode.AUTH_INVALID, "inconsistent token times")
    return _Times(exp=exp, iat=iat, nbf=nbf)


def check_issuer(payload: Mapping[str, Any], expected: str) -> str:
    iss = payload.get("iss")
    # Exact code-point comparison: no case folding, no trailing-slash or scheme normalisation.
    if not isinstance(iss, str) or not hmac.compare_digest(iss.encode("utf-8"), expected.encode("utf-8")):
        raise fail(ReasonCode.AUTH_WRONG_ISSUER, "issuer mismatch")
    return iss


def audiences_of(payload: Mapping[str, Any]) -> list[str]:
    aud = payload.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and 0 < len(aud) <= MAX_AUDIENCES and all(isinstance(item, str) for item in aud):
        return list(aud)
    raise fail(ReasonCode.AUTH_WRONG_AUDIENCE, "audience missing or malformed")


def required_str(payload: Mapping[str, Any], name: str, max_length: int = 256) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= max_length or not _PRINTABLE_RE.match(value):
        raise fail(ReasonCode.AUTH_INVALID, f"claim {name} missing or invalid")
    return value


def check_email(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL_RE.match(value):
        raise fail(ReasonCode.AUTH_INVALID, "email claim missing or not a plausible email address")
    return value


def check_groups(payload: Mapping[str, Any], name: str, *, required: bool) -> tuple[str, ...]:
    if name not in payload:
        if required:
            raise fail(ReasonCode.AUTH_INVALID, "groups claim missing")
        return ()
    value = payload[name]
    if not isinstance(value, list) or len(value) > MAX_GROUPS:
        raise fail(ReasonCode.AUTH_INVALID, "groups claim must be a list of at most 64 strings")
    for item in value:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_GROUP_LENGTH or not _PRINTABLE_RE.match(item):
            raise fail(ReasonCode.AUTH_INVALID, "groups claim holds an invalid entry")
    return tuple(value)


def token_fingerprint(token: str, key: bytes) -> str:
    """A short keyed HMAC-SHA256 (16 hex chars) to correlate a token in audit logs; never the token."""
    if len(key) < 16:
        raise ConfigError("fingerprint key must be at least 16 bytes")
    return hmac.new(key, token.encode("utf-8", errors="replace"), hashlib.sha256).hexdigest()[:16]
