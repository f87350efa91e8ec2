"""The malicious-token table: every hostile token thrown at the gateway, and the code each path must answer.

One row per case (RFC 8725 threats and friends): its name, the ``AUTH_*`` reason code ``verify_idp_token``
must answer (``None`` when the token is a *valid* IdP token, hostile only on ``/mcp``), the code
``SessionTokenService.verify`` must answer, a description, and how the token is built. This table is the
one home of the expected codes: the unit tests (``tests/unit/test_malicious_tokens.py``) and the
end-to-end tests (``tests/e2e/test_identity.py``) both read them from here.

:func:`build_corpus` turns the table into tokens for one local IdP, one gateway (its session issuer,
audience and real session key) and one instant. The expected codes assume ``LocalIdP.idp_config()``
defaults (RS256/ES256 pinned, client id pinned, nbf required).
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from mcp_gateway.domain.errors import ReasonCode
from mcp_gateway.domain.tokens import SessionKey, SessionTokenService
from mcp_gateway_local.idp import (
    OMIT,
    LocalIdP,
    b64url,
    ec_jwk,
    ec_sign,
    jwk_thumbprint,
    rsa_sign,
    segment,
    with_overrides,
)

__all__ = ["P256_ORDER", "TABLE", "MaliciousCase", "TokenCase", "build_corpus"]

# The order n of the P-256 group: r or s equal to n (or 0) is outside [1, n-1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
DEFAULT_ATTACKER_URL = "https://attacker.invalid/.well-known/jwks.json"
_LOOKALIKES = {"a": "а", "c": "с", "e": "е", "i": "і", "o": "о", "p": "р", "x": "х", "y": "у"}

BAD_ALG, BAD_SIG = ReasonCode.AUTH_BAD_ALGORITHM, ReasonCode.AUTH_BAD_SIGNATURE
MALFORMED, FORBIDDEN = ReasonCode.AUTH_MALFORMED, ReasonCode.AUTH_FORBIDDEN_HEADER
UNKNOWN_KEY, INVALID = ReasonCode.AUTH_UNKNOWN_KEY, ReasonCode.AUTH_INVALID
WRONG_ISS, WRONG_AUD = ReasonCode.AUTH_WRONG_ISSUER, ReasonCode.AUTH_WRONG_AUDIENCE
WRONG_TYP, EXPIRED = ReasonCode.AUTH_WRONG_TOKEN_TYPE, ReasonCode.AUTH_EXPIRED

Header = Mapping[str, Any] | str
Payload = Mapping[str, Any] | str


@dataclass(frozen=True)
class MaliciousCase:
    """One hostile token, built. ``idp_code``/``session_code``: the AUTH_* code each verify path must give.

    ``idp_code`` is None when the token is a *valid* IdP token (it is hostile only on /mcp).
    """

    name: str
    token: str
    description: str
    idp_code: ReasonCode | None
    session_code: ReasonCode


@dataclass
class Forge:
    """What a row may use to build its token: the real IdP, the attacker's keys, the gateway's session key."""

    idp: LocalIdP
    session_key: SessionKey
    session_issuer: str
    session_audience: str
    attacker_url: str
    ts: int
    aud: str
    email: str
    groups: Sequence[str]
    max_token_bytes: int
    attacker_rsa: rsa.RSAPrivateKey
    attacker_ec: ec.EllipticCurvePrivateKey
    good: str = field(init=False)

    def __post_init__(self) -> None:
        self.good = self.signed(self.rs256_header(), self.claims())

    # ---- IdP-shaped tokens

    def claims(self, **updates: Any) -> dict[str, Any]:
        return with_overrides(self.idp.claims(self.email, self.groups, now=self.ts, audience=self.aud), updates)

    def rs256_header(self, **updates: Any) -> dict[str, Any]:
        return with_overrides({"alg": "RS256", "typ": "JWT", "kid": self.idp.rsa_kid}, updates)

    def hs256_header(self, **updates: Any) -> dict[str, Any]:
        return with_overrides({"alg": "HS256", "typ": "JWT", "kid": self.idp.rsa_kid}, updates)

    def es256_header(self) -> dict[str, Any]:
        return {"alg": "ES256", "typ": "JWT", "kid": self.idp.ec_kid}

    def signed(self, header: Header, payload: Payload, alg: str = "RS256") -> str:
        """Signed with the IdP's real key for ``alg`` (whatever the header says)."""
        return self.idp.sign(header, payload, alg)

    @staticmethod
    def raw(header: Header, payload: Payload, signature: bytes) -> str:
        return f"{segment(header)}.{segment(payload)}.{b64url(signature)}"

    @staticmethod
    def hs256(header: Header, payload: Payload, secret: bytes) -> str:
        signing_input = f"{segment(header)}.{segment(payload)}"
        mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(mac)}"

    def attacker_rs256(self, header: Header, payload: Payload) -> str:
        signing_input = f"{segment(header)}.{segment(payload)}"
        return f"{signing_input}.{b64url(rsa_sign(self.attacker_rsa, 'RS256', signing_input.encode('ascii')))}"

    def attacker_es256(self, header: Header, payload: Payload) -> str:
        signing_input = f"{segment(header)}.{segment(payload)}"
        return f"{signing_input}.{b64url(ec_sign(self.attacker_ec, signing_input.encode('ascii')))}"

    @property
    def good_parts(self) -> tuple[str, str, str]:
        head, body, sig = self.good.split(".")
        return head, body, sig

    @property
    def good_signature(self) -> bytes:
        sig = self.good_parts[2]
        return base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))

    # ---- session-shaped tokens (target: /mcp)

    def session_claims(self, **updates: Any) -> dict[str, Any]:
        base = {
            "iss": self.session_issuer,
            "aud": self.session_audience,
            "sub": "00u" + hashlib.sha256(self.email.encode()).hexdigest()[:17],
            "email": self.email,
            "groups": list(self.groups),
            "jti": secrets.token_urlsafe(16),
            "iat": self.ts,
            "nbf": self.ts,
            "exp": self.ts + 900,
        }
        return with_overrides(base, updates)

    def session_header(self, **updates: Any) -> dict[str, Any]:
        return with_overrides(
            {"alg": "ES256", "typ": SessionTokenService.TOKEN_TYPE, "kid": self.session_key.kid}, updates
        )

    def session_signed(self, payload: Payload, header: Header | None = None) -> str:
        """Signed with the gateway's real session key."""
        signing_input = f"{segment(header or self.session_header())}.{segment(payload)}"
        return f"{signing_input}.{b64url(ec_sign(self.session_key.private_key(), signing_input.encode('ascii')))}"

    def session_public_pem(self) -> bytes:
        return (
            self.session_key.private_key()
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


@dataclass(frozen=True)
class TokenCase:
    """One row of the table: a hostile token, the code each verify path must answer, and how to build it."""

    name: str
    idp_code: ReasonCode | None
    session_code: ReasonCode
    description: str
    build: Callable[[Forge], str]


# ---- builders that need more than one expression ---------------------------------------------------


def _alg_none(spelling: str, *, with_signature: bool) -> Callable[[Forge], str]:
    def build(f: Forge) -> str:
        header = {"alg": spelling, "typ": "JWT", "kid": f.idp.rsa_kid}
        if with_signature:  # a real RS256 signature over this very header and payload
            return f.signed(header, f.claims(), "RS256")
        return f.raw(header, f.claims(), b"")

    return build


def _alg_none_rows() -> tuple[TokenCase, ...]:
    rows: list[TokenCase] = []
    for spelling in ("none", "None", "NONE", "nOnE"):
        rows.append(
            TokenCase(
                f"alg_{spelling}_unsigned",
                BAD_ALG,
                WRONG_TYP,
                f"alg={spelling!r} with an empty signature: the classic unsigned-token bypass",
                _alg_none(spelling, with_signature=False),
            )
        )
        if spelling != "nOnE":
            rows.append(
                TokenCase(
                    f"alg_{spelling}_with_signature",
                    BAD_ALG,
                    WRONG_TYP,
                    f"alg={spelling!r} carrying a real RS256 signature over the same input",
                    _alg_none(spelling, with_signature=True),
                )
            )
    return tuple(rows)


def _flipped(f: Forge) -> str:
    head, body, _ = f.good_parts
    flipped = bytearray(f.good_signature)
    flipped[len(flipped) // 2] ^= 0x01
    return f"{head}.{body}.{b64url(bytes(flipped))}"


def _es256_raw(r: int, s: int) -> Callable[[Forge], str]:
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return lambda f: f.raw(f.es256_header(), f.claims(), signature)


def _embedded_jwk(f: Forge) -> str:
    jwk = ec_jwk(f.attacker_ec.public_key())
    header = {"alg": "ES256", "typ": "JWT", "kid": "attacker-" + jwk_thumbprint(jwk), "jwk": jwk}
    return f.attacker_es256(header, f.claims())


def _x5c(f: Forge) -> str:
    cert = base64.b64encode(_self_signed_cert(f.attacker_rsa)).decode("ascii")
    return f.attacker_rs256(f.rs256_header(kid=OMIT, x5c=[cert]), f.claims())


def _issuer(variant: str) -> Callable[[Forge], str]:
    def build(f: Forge) -> str:
        issuer = f.idp.issuer
        parts = urlsplit(issuer)
        other_scheme = "https" if parts.scheme == "http" else "http"
        iss = {
            "trailing_slash": issuer + "/",
            "uppercase": issuer.upper(),
            "other_scheme": urlunsplit((other_scheme, *parts[1:])),
            "extra_path": issuer + "/extra",
            "unicode_lookalike": _lookalike(issuer),
            "missing": OMIT,
        }[variant]
        return f.signed(f.rs256_header(), f.claims(iss=iss))

    return build


def _with_claims(**updates: Any) -> Callable[[Forge], str]:
    return lambda f: f.signed(f.rs256_header(), f.claims(**updates))


def _with_claims_at(make: Callable[[int], dict[str, Any]]) -> Callable[[Forge], str]:
    """Claims that depend on the corpus' instant."""
    return lambda f: f.signed(f.rs256_header(), f.claims(**make(f.ts)))


def _with_header(**updates: Any) -> Callable[[Forge], str]:
    return lambda f: f.signed(f.rs256_header(**updates), f.claims())


def _exp_literal(literal: str) -> Callable[[Forge], str]:
    """A payload whose exp is a JSON literal json.dumps would never write (1e999, NaN)."""
    return lambda f: f.signed(f.rs256_header(), json.dumps(f.claims(exp=OMIT), separators=(",", ":"))[:-1] + literal)


def _appended(suffix: str) -> Callable[[Forge], str]:
    """The claims as raw JSON text with ``suffix`` spliced in before the closing brace (duplicate keys)."""
    return lambda f: f.signed(f.rs256_header(), json.dumps(f.claims(), separators=(",", ":"))[:-1] + suffix)


def _duplicate_header_alg(f: Forge) -> str:
    return f.signed(f'{{"alg":"HS256","typ":"JWT","kid":"{f.idp.rsa_kid}","alg":"RS256"}}', f.claims())


def _structure(shape: str) -> Callable[[Forge], str]:
    def build(f: Forge) -> str:
        good = f.good
        head, body, sig = f.good_parts
        return {
            "empty": "",
            "two_segments": f"{head}.{body}",
            "four_segments": f"{good}.{sig}",
            "five_segments_jwe": f"{head}..{body}.{sig}.x",
            "non_base64": f"{head}.!!!$$$.{sig}",
            "padded_base64": f"{head}=.{body}.{sig}",
            "header_not_json": f"{segment(b'not json')}.{body}.{sig}",
            "payload_not_json": f"{head}.{segment(b'{oops')}.{sig}",
            "header_array": f"{segment('[1,2]')}.{body}.{sig}",
            "payload_null": f"{head}.{segment('null')}.{sig}",
            "payload_not_utf8": f"{head}.{segment(bytes([0xFF, 0xFE, 0x7B, 0x7D]))}.{sig}",
            "non_ascii": good[:-2] + "é",
            "whitespace": f" {good}",
        }[shape]

    return build


def _oversize(f: Forge) -> str:
    return f.signed(f.rs256_header(), f.claims(pad="A" * f.max_token_bytes))


def _idp_token(**headers: Any) -> Callable[[Forge], str]:
    return lambda f: f.idp.mint(f.email, f.groups, now=f.ts, audience=f.aud, headers=headers or None)


def _session(**updates: Any) -> Callable[[Forge], str]:
    return lambda f: f.session_signed(f.session_claims(**updates))


def _session_at(make: Callable[[Forge], dict[str, Any]]) -> Callable[[Forge], str]:
    return lambda f: f.session_signed(f.session_claims(**make(f)))


_AUD_VARIANTS: tuple[tuple[str, Callable[[Forge], Any], str], ...] = (
    ("aud_missing", lambda f: OMIT, "no aud claim"),
    ("aud_wrong", lambda f: "api://someone-else", "aud for another API"),
    ("aud_number", lambda f: 12345, "aud as a number"),
    ("aud_object", lambda f: {"aud": f.aud}, "aud as an object"),
    ("aud_list_with_non_string", lambda f: [f.aud, 7], "aud list holding a number"),
    ("aud_empty_list", lambda f: [], "aud as an empty list"),
)


def _aud(value: Callable[[Forge], Any]) -> Callable[[Forge], str]:
    return lambda f: f.signed(f.rs256_header(), f.claims(aud=value(f)))


# ---- the table ----------------------------------------------------------------------------------------

TABLE: tuple[TokenCase, ...] = (
    # -- alg: none, in every spelling, with and without a signature
    *_alg_none_rows(),
    TokenCase(
        "alg_missing",
        BAD_ALG,
        BAD_ALG,
        "header without alg",
        lambda f: f.raw({"typ": "JWT", "kid": f.idp.rsa_kid}, f.claims(), f.good_signature),
    ),
    TokenCase(
        "alg_empty",
        BAD_ALG,
        BAD_ALG,
        "alg is the empty string",
        lambda f: f.raw(f.rs256_header(alg=""), f.claims(), f.good_signature),
    ),
    # -- signature tampering
    TokenCase(
        "signature_stripped",
        BAD_SIG,
        WRONG_TYP,
        "valid RS256 token with the signature removed",
        lambda f: f"{f.good_parts[0]}.{f.good_parts[1]}.",
    ),
    TokenCase("signature_flipped", BAD_SIG, WRONG_TYP, "one bit of a valid signature flipped", _flipped),
    TokenCase(
        "signature_truncated",
        BAD_SIG,
        WRONG_TYP,
        "valid signature cut in half",
        lambda f: f"{f.good_parts[0]}.{f.good_parts[1]}.{b64url(f.good_signature[:128])}",
    ),
    TokenCase(
        "payload_tampered",
        BAD_SIG,
        WRONG_TYP,
        "payload changed (groups=admins) under the original signature",
        lambda f: f"{f.good_parts[0]}.{segment(f.claims(groups=['admins']))}.{f.good_parts[2]}",
    ),
    # -- algorithm confusion
    TokenCase(
        "hs256_with_rsa_public_key_pem",
        BAD_ALG,
        WRONG_TYP,
        "HS256 keyed with the IdP's public RSA PEM (RS/HS key confusion, CVE-2015-9235)",
        lambda f: f.hs256(f.hs256_header(), f.claims(), f.idp.rsa_public_pem()),
    ),
    TokenCase(
        "hs256_empty_secret",
        BAD_ALG,
        WRONG_TYP,
        "HS256 with an empty secret",
        lambda f: f.hs256(f.hs256_header(), f.claims(), b""),
    ),
    TokenCase(
        "hs256_common_secret",
        BAD_ALG,
        WRONG_TYP,
        "HS256 with the secret 'secret'",
        lambda f: f.hs256(f.hs256_header(), f.claims(), b"secret"),
    ),
    TokenCase(
        "alg_rs512_not_allowed",
        BAD_ALG,
        WRONG_TYP,
        "validly signed RS512 while the config pins RS256/ES256",
        lambda f: f.signed(f.rs256_header(alg="RS512"), f.claims(), "RS512"),
    ),
    TokenCase(
        "alg_ps256_not_allowed",
        BAD_ALG,
        WRONG_TYP,
        "validly signed PS256 while the config pins RS256/ES256",
        lambda f: f.signed(f.rs256_header(alg="PS256"), f.claims(), "PS256"),
    ),
    TokenCase(
        "alg_es256_with_rsa_kid",
        BAD_ALG,
        WRONG_TYP,
        "ES256 naming the RSA key's kid: key type must match alg",
        lambda f: f.signed(f.rs256_header(alg="ES256"), f.claims(), "ES256"),
    ),
    # -- ECDSA "psychic signatures" (CVE-2022-21449): r or s out of [1, n-1]
    TokenCase("es256_r_s_zero", BAD_SIG, WRONG_TYP, "ES256 signature with r = s = 0", _es256_raw(0, 0)),
    TokenCase("es256_r_zero", BAD_SIG, WRONG_TYP, "ES256 signature with r = 0", _es256_raw(0, 1)),
    TokenCase("es256_s_zero", BAD_SIG, WRONG_TYP, "ES256 signature with s = 0", _es256_raw(1, 0)),
    TokenCase(
        "es256_r_s_group_order",
        BAD_SIG,
        WRONG_TYP,
        "ES256 signature with r = s = n (the group order)",
        _es256_raw(P256_ORDER, P256_ORDER),
    ),
    # -- key material named by the token: must never be followed
    TokenCase(
        "embedded_jwk_header",
        FORBIDDEN,
        FORBIDDEN,
        "attacker's own public key embedded as a jwk header",
        _embedded_jwk,
    ),
    TokenCase(
        "jku_attacker_url",
        FORBIDDEN,
        FORBIDDEN,
        "jku pointing at the attacker's JWKS",
        lambda f: f.attacker_rs256(f.rs256_header(kid="attacker-rsa", jku=f.attacker_url), f.claims()),
    ),
    TokenCase(
        "x5u_attacker_url",
        FORBIDDEN,
        FORBIDDEN,
        "x5u pointing at the attacker's certificate",
        lambda f: f.attacker_rs256(f.rs256_header(kid="attacker-rsa", x5u=f.attacker_url), f.claims()),
    ),
    TokenCase(
        "x5c_self_signed",
        FORBIDDEN,
        FORBIDDEN,
        "x5c carrying a self-signed certificate for the attacker's key",
        _x5c,
    ),
    # -- kid abuse
    TokenCase(
        "kid_path_traversal",
        UNKNOWN_KEY,
        WRONG_TYP,
        "kid as a filesystem path",
        lambda f: f.attacker_rs256(f.rs256_header(kid="../../dev/null"), f.claims()),
    ),
    TokenCase(
        "kid_path_traversal_hs256_empty_key",
        BAD_ALG,
        WRONG_TYP,
        "kid=/dev/null with HS256 and an empty key",
        lambda f: f.hs256(f.hs256_header(kid="../../dev/null"), f.claims(), b""),
    ),
    TokenCase(
        "kid_sql_injection",
        UNKNOWN_KEY,
        WRONG_TYP,
        "kid as SQL injection",
        lambda f: f.attacker_rs256(f.rs256_header(kid="' OR 1=1 --"), f.claims()),
    ),
    TokenCase(
        "kid_unknown",
        UNKNOWN_KEY,
        WRONG_TYP,
        "a kid the IdP never published",
        lambda f: f.attacker_rs256(f.rs256_header(kid="no-such-key"), f.claims()),
    ),
    TokenCase(
        "kid_missing",
        UNKNOWN_KEY,
        WRONG_TYP,
        "no kid at all",
        lambda f: f.attacker_rs256(f.rs256_header(kid=OMIT), f.claims()),
    ),
    TokenCase(
        "kid_correct_wrong_key",
        BAD_SIG,
        WRONG_TYP,
        "the IdP's real kid, signed with the attacker's key",
        lambda f: f.attacker_rs256(f.rs256_header(), f.claims()),
    ),
    TokenCase(
        "kid_too_long",
        MALFORMED,
        MALFORMED,
        "kid of 129 characters",
        lambda f: f.attacker_rs256(f.rs256_header(kid="k" * 129), f.claims()),
    ),
    TokenCase(
        "kid_not_string",
        MALFORMED,
        MALFORMED,
        "kid as a number",
        lambda f: f.attacker_rs256(f.rs256_header(kid=42), f.claims()),
    ),
    TokenCase(
        "kid_control_characters",
        MALFORMED,
        MALFORMED,
        "kid with newline and NUL",
        lambda f: f.attacker_rs256(f.rs256_header(kid="a\nb\x00"), f.claims()),
    ),
    # -- issuer near-matches (all validly signed)
    *(
        TokenCase(
            f"iss_{variant}", WRONG_ISS, WRONG_TYP, f"issuer near-match: {variant.replace('_', ' ')}", _issuer(variant)
        )
        for variant in ("trailing_slash", "uppercase", "other_scheme", "extra_path", "unicode_lookalike", "missing")
    ),
    # -- audience
    *(TokenCase(name, WRONG_AUD, WRONG_TYP, what, _aud(value)) for name, value, what in _AUD_VARIANTS),
    TokenCase(
        "azp_other_client",
        WRONG_AUD,
        WRONG_TYP,
        "an ID token issued to another client (azp differs)",
        _with_claims(azp="some-other-client"),
    ),
    # -- time
    TokenCase(
        "exp_past",
        EXPIRED,
        WRONG_TYP,
        "expired an hour ago",
        _with_claims_at(lambda ts: {"iat": ts - 7200, "nbf": ts - 7200, "exp": ts - 3600}),
    ),
    TokenCase("exp_missing", INVALID, WRONG_TYP, "no exp", _with_claims(exp=OMIT)),
    TokenCase(
        "exp_far_future",
        INVALID,
        WRONG_TYP,
        "exp 48 h away (> 24 h)",
        _with_claims_at(lambda ts: {"exp": ts + 48 * 3600}),
    ),
    TokenCase("exp_not_a_number", INVALID, WRONG_TYP, "exp as a string", _with_claims(exp="tomorrow")),
    TokenCase("exp_boolean", INVALID, WRONG_TYP, "exp as a boolean", _with_claims(exp=True)),
    TokenCase(
        "nbf_future", INVALID, WRONG_TYP, "not valid for another hour", _with_claims_at(lambda ts: {"nbf": ts + 3600})
    ),
    TokenCase("nbf_missing", INVALID, WRONG_TYP, "no nbf", _with_claims(nbf=OMIT)),
    TokenCase(
        "iat_future", INVALID, WRONG_TYP, "issued an hour in the future", _with_claims_at(lambda ts: {"iat": ts + 3600})
    ),
    TokenCase("iat_missing", INVALID, WRONG_TYP, "no iat", _with_claims(iat=OMIT)),
    TokenCase(
        "exp_overflow_to_infinity", INVALID, WRONG_TYP, "exp = 1e999 (parses as inf)", _exp_literal(',"exp":1e999}')
    ),
    TokenCase("exp_nan_literal", MALFORMED, MALFORMED, "exp = NaN (not JSON)", _exp_literal(',"exp":NaN}')),
    # -- identity claims
    TokenCase("sub_missing", INVALID, WRONG_TYP, "no sub", _with_claims(sub=OMIT)),
    TokenCase("email_missing", INVALID, WRONG_TYP, "no email", _with_claims(email=OMIT)),
    TokenCase("email_not_an_email", INVALID, WRONG_TYP, "email without @domain", _with_claims(email="not-an-email")),
    TokenCase("email_unverified", INVALID, WRONG_TYP, "email_verified = false", _with_claims(email_verified=False)),
    TokenCase("groups_not_a_list", INVALID, WRONG_TYP, "groups as a string", _with_claims(groups="admins")),
    TokenCase(
        "groups_too_many", INVALID, WRONG_TYP, "65 groups (> 64)", _with_claims(groups=[f"g{i}" for i in range(65)])
    ),
    TokenCase(
        "groups_non_string",
        INVALID,
        WRONG_TYP,
        "a group that is an object",
        _with_claims(groups=["developers", {"admin": True}]),
    ),
    TokenCase("groups_oversize_entry", INVALID, WRONG_TYP, "a 257-character group", _with_claims(groups=["g" * 257])),
    # -- header parameters
    TokenCase(
        "crit_unknown_extension",
        FORBIDDEN,
        FORBIDDEN,
        "crit naming an extension we do not implement",
        _with_header(crit=["urn:example:x"], **{"urn:example:x": 1}),
    ),
    TokenCase(
        "b64_unencoded_payload",
        FORBIDDEN,
        FORBIDDEN,
        "RFC 7797 unencoded payload",
        _with_header(b64=False, crit=["b64"]),
    ),
    TokenCase(
        "typ_session_token_at_idp",
        WRONG_TYP,
        BAD_ALG,
        "IdP-signed token claiming to be a gateway session token",
        _with_header(typ="gw-session+jwt"),
    ),
    TokenCase("typ_unexpected", WRONG_TYP, WRONG_TYP, "a logout token", _with_header(typ="logout+jwt")),
    # -- duplicate JSON keys (parser differentials)
    TokenCase("duplicate_claim_sub", MALFORMED, MALFORMED, "two sub claims", _appended(',"sub":"00uADMIN"}')),
    TokenCase(
        "duplicate_header_alg", MALFORMED, MALFORMED, "two alg headers (HS256 then RS256)", _duplicate_header_alg
    ),
    TokenCase(
        "duplicate_nested_key",
        MALFORMED,
        MALFORMED,
        "duplicate key inside a nested object",
        _appended(',"ext":{"role":"user","role":"admin"}}'),
    ),
    # -- structure
    *(
        TokenCase(f"malformed_{shape}", MALFORMED, MALFORMED, what, _structure(shape))
        for shape, what in (
            ("empty", "empty string"),
            ("two_segments", "two segments"),
            ("four_segments", "four segments"),
            ("five_segments_jwe", "JWE-shaped"),
            ("non_base64", "payload is not base64url"),
            ("padded_base64", "base64 padding"),
            ("header_not_json", "header not JSON"),
            ("payload_not_json", "payload not JSON"),
            ("header_array", "header is an array"),
            ("payload_null", "payload is null"),
            ("payload_not_utf8", "not UTF-8"),
            ("non_ascii", "non-ASCII character"),
            ("whitespace", "leading whitespace"),
        )
    ),
    TokenCase("oversize_token", MALFORMED, MALFORMED, "validly signed token over the size limit", _oversize),
    # -- session-token forgeries (target: /mcp)
    TokenCase(
        "session_signed_by_unknown_key",
        WRONG_TYP,
        UNKNOWN_KEY,
        "session-shaped token under a kid the gateway never had",
        lambda f: f.attacker_es256(f.session_header(kid="gw-attacker-1"), f.session_claims()),
    ),
    TokenCase(
        "session_alg_none",
        WRONG_TYP,
        BAD_ALG,
        "session-shaped token with alg none",
        lambda f: f.raw(f.session_header(alg="none"), f.session_claims(), b""),
    ),
    TokenCase(
        "session_es256_zero_signature",
        WRONG_TYP,
        BAD_SIG,
        "session-shaped token with r = s = 0",
        lambda f: f.raw(f.session_header(), f.session_claims(), bytes(64)),
    ),
    TokenCase(
        "idp_token_as_session_token", None, WRONG_TYP, "a perfectly valid IdP token presented to /mcp", _idp_token()
    ),
    TokenCase(
        "idp_token_without_typ_as_session_token",
        None,
        WRONG_TYP,
        "a valid IdP token without typ presented to /mcp",
        _idp_token(typ=OMIT),
    ),
    TokenCase(
        "session_known_kid_wrong_key",
        WRONG_TYP,
        BAD_SIG,
        "the gateway's real kid, signed by the attacker",
        lambda f: f.attacker_es256(f.session_header(), f.session_claims()),
    ),
    TokenCase(
        "session_wrong_audience",
        WRONG_TYP,
        WRONG_AUD,
        "a real session token minted for another gateway",
        _session(aud="https://other.example/mcp"),
    ),
    TokenCase(
        "session_audience_list",
        WRONG_TYP,
        WRONG_AUD,
        "session aud must be exactly our resource, not a list",
        _session_at(lambda f: {"aud": [f.session_audience, "https://other.example/mcp"]}),
    ),
    TokenCase(
        "session_wrong_issuer",
        WRONG_TYP,
        WRONG_ISS,
        "session token with a near-match issuer",
        _session_at(lambda f: {"iss": f.session_issuer + "/"}),
    ),
    TokenCase(
        "session_lifetime_too_long",
        WRONG_TYP,
        INVALID,
        "a session token valid for an hour",
        _session_at(lambda f: {"exp": f.ts + 3600}),
    ),
    TokenCase(
        "session_expired",
        WRONG_TYP,
        EXPIRED,
        "a session token expired 100 s ago",
        _session_at(lambda f: {"iat": f.ts - 1000, "nbf": f.ts - 1000, "exp": f.ts - 100}),
    ),
    TokenCase(
        "session_hs256_with_public_key",
        WRONG_TYP,
        BAD_ALG,
        "HS256 keyed with the session public key",
        lambda f: f.hs256(f.session_header(alg="HS256"), f.session_claims(), f.session_public_pem()),
    ),
    TokenCase(
        "session_jku_header",
        FORBIDDEN,
        FORBIDDEN,
        "real session key, but a jku header",
        lambda f: f.session_signed(f.session_claims(), f.session_header(jku=f.attacker_url)),
    ),
)


def build_corpus(
    idp: LocalIdP,
    *,
    session_key: SessionKey,
    attacker_url: str = DEFAULT_ATTACKER_URL,
    audience: str | None = None,
    email: str = "dev@example.com",
    groups: Sequence[str] = ("developers",),
    now: float | None = None,
    max_token_bytes: int = 8192,
    session_issuer: str | None = None,
    session_audience: str | None = None,
) -> list[MaliciousCase]:
    """Every row of :data:`TABLE` built as a token for this IdP and this gateway, in table order.

    The session forgeries are aimed at a ``SessionTokenService`` built with ``session_key``,
    ``session_issuer`` and ``session_audience`` (by default the IdP's origin and ``<origin>/mcp``).
    """
    attacker_rsa, attacker_ec = _attacker_keys()
    forge = Forge(
        idp=idp,
        session_key=session_key,
        session_issuer=session_issuer or _origin(idp.issuer),
        session_audience=session_audience or f"{_origin(idp.issuer)}/mcp",
        attacker_url=attacker_url,
        ts=int(idp.now() if now is None else now),
        aud=idp.audience if audience is None else audience,
        email=email,
        groups=groups,
        max_token_bytes=max_token_bytes,
        attacker_rsa=attacker_rsa,
        attacker_ec=attacker_ec,
    )
    return [MaliciousCase(row.name, row.build(forge), row.description, row.idp_code, row.session_code) for row in TABLE]


@functools.cache
def _attacker_keys() -> tuple[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]:
    """The attacker's own keys: generated once per process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP256R1())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _lookalike(value: str) -> str:
    """Swap the last Latin letter that has a Cyrillic twin for that twin."""
    for index in range(len(value) - 1, -1, -1):
        twin = _LOOKALIKES.get(value[index])
        if twin:
            return value[:index] + twin + value[index + 1 :]
    return value + "\u200b"  # zero-width space as a fallback


def _self_signed_cert(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.invalid")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)
