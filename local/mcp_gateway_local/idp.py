"""A local OIDC identity provider for development and tests (never shipped to Lambda).

It stands in for Okta: an RSA-2048 and an EC P-256 signing key, a JWKS document, an OpenID discovery
document and a way to mint a developer's IdP token. Keys are generated once and, when ``key_dir`` is
given, persisted there (mode 0600) so ``make run`` keeps them across restarts.

``malicious_tokens`` builds the attack corpus security engineers throw at the gateway (RFC 8725
threats and friends). Every case carries the reason code each verify path must answer with, so the
unit tests and the end-to-end tests share one source of truth.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from mcp_gateway.domain.errors import ReasonCode
from mcp_gateway.domain.tokens import IdpConfig, SessionKey, SessionTokenService

__all__ = ["OMIT", "LocalIdP", "MaliciousCase", "RecordingFetcher"]

# The order n of the P-256 group: r or s equal to n (or 0) is outside [1, n-1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_LOOKALIKES = {"a": "а", "c": "с", "e": "е", "i": "і", "o": "о", "p": "р", "x": "х", "y": "у"}


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


#: Pass as a value in ``extra_claims`` / ``headers`` to remove that claim or header entirely.
OMIT: Any = _Omit()


@dataclass(frozen=True)
class MaliciousCase:
    """One hostile token. ``idp_code``/``session_code``: the AUTH_* code each verify path must give.

    ``idp_code`` is None when the token is a *valid* IdP token (it is hostile only on /mcp);
    ``session_code`` is None when the outcome on /mcp is not pinned (it must still be refused).
    """

    name: str
    token: str
    description: str
    idp_code: ReasonCode | None = None
    session_code: ReasonCode | None = None


@dataclass
class RecordingFetcher:
    """An in-process JwksFetcher serving a LocalIdP's JWKS; records every URL it is asked for."""

    idp: LocalIdP
    max_age: int | None = 300
    fail: bool = False
    calls: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> tuple[dict[str, Any], int | None]:
        self.calls.append(url)
        if self.fail:
            raise ConnectionError("JWKS endpoint unavailable")
        if url != self.idp.jwks_url:
            raise ConnectionError(f"refusing to fetch unexpected URL {url!r}")
        return self.idp.jwks(), self.max_age


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(value: Mapping[str, Any] | str | bytes) -> str:
    """A dict is serialised compactly; str is raw JSON text (for duplicate keys); bytes are raw."""
    if isinstance(value, bytes):
        return _b64url(value)
    if isinstance(value, str):
        return _b64url(value.encode("utf-8"))
    return _b64url(json.dumps(dict(value), separators=(",", ":")).encode("utf-8"))


def _merge(base: dict[str, Any], updates: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (updates or {}).items():
        if value is OMIT:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _int_b64(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64url(value.to_bytes(size, "big"))


def _rsa_jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}


def _ec_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _int_b64(numbers.x, 32), "y": _int_b64(numbers.y, 32)}


def _thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (required members only, sorted, compact)."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())[:22]


_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def _rsa_sign(key: rsa.RSAPrivateKey, alg: str, data: bytes) -> bytes:
    digest = _RSA_HASHES[alg[2:]]()
    if alg.startswith("PS"):
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        return key.sign(data, pss, digest)
    return key.sign(data, padding.PKCS1v15(), digest)


def _ec_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _load_or_create(path: Path | None, create: Callable[[], Any]) -> Any:
    if path is not None and path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = create()
    if path is not None:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    return key


class LocalIdP:
    """An Okta-style OIDC provider on loopback, for `make run` and the tests."""

    def __init__(
        self,
        issuer: str = "http://127.0.0.1:8765/idp",
        *,
        audience: str = "api://mcp-gateway",
        client_id: str = "mcp-gateway-cli",
        key_dir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.client_id = client_id
        self._clock = clock
        directory = Path(key_dir) if key_dir is not None else None
        if directory is not None:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        rsa_key = _load_or_create(
            directory / "idp-rsa.pem" if directory else None,
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )
        ec_key = _load_or_create(
            directory / "idp-ec.pem" if directory else None, lambda: ec.generate_private_key(ec.SECP256R1())
        )
        if not isinstance(rsa_key, rsa.RSAPrivateKey) or rsa_key.key_size < 2048:
            raise ValueError("local IdP RSA key must be RSA >= 2048 bits")
        if not isinstance(ec_key, ec.EllipticCurvePrivateKey) or not isinstance(ec_key.curve, ec.SECP256R1):
            raise ValueError("local IdP EC key must be P-256")
        self._rsa: rsa.RSAPrivateKey = rsa_key
        self._ec: ec.EllipticCurvePrivateKey = ec_key
        self.rsa_kid = "rsa-" + _thumbprint(_rsa_jwk(rsa_key.public_key()))
        self.ec_kid = "ec-" + _thumbprint(_ec_jwk(ec_key.public_key()))
        self._attacker_rsa: rsa.RSAPrivateKey | None = None
        self._attacker_ec: ec.EllipticCurvePrivateKey | None = None

    @classmethod
    def for_port(cls, port: int, **kwargs: Any) -> LocalIdP:
        return cls(f"http://127.0.0.1:{port}/idp", **kwargs)

    # ---- discovery -------------------------------------------------------------------------------

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**_rsa_jwk(self._rsa.public_key()), "use": "sig", "alg": "RS256", "kid": self.rsa_kid},
                {**_ec_jwk(self._ec.public_key()), "use": "sig", "alg": "ES256", "kid": self.ec_kid},
            ]
        }

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_url,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "response_types_supported": ["code", "id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "email", "groups", "azp"],
            "scopes_supported": ["openid", "email", "groups"],
        }

    def idp_config(self, **overrides: Any) -> IdpConfig:
        """The gateway's IdpConfig for this IdP (client id pinned to ``client_id``)."""
        values: dict[str, Any] = {
            "issuer": self.issuer,
            "audience": self.audience,
            "jwks_url": self.jwks_url,
            "allowed_client_ids": (self.client_id,),
        }
        values.update(overrides)
        return IdpConfig(**values)

    def fetcher(self, max_age: int | None = 300) -> RecordingFetcher:
        return RecordingFetcher(self, max_age=max_age)

    def rsa_public_pem(self) -> bytes:
        return self._rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # ---- minting ---------------------------------------------------------------------------------

    def claims(
        self,
        email: str,
        groups: Sequence[str],
        *,
        ttl: int = 3600,
        now: float | None = None,
        audience: str | None = None,
        sub: str | None = None,
    ) -> dict[str, Any]:
        issued = int(self._clock() if now is None else now)
        return {
            "iss": self.issuer,
            "aud": self.audience if audience is None else audience,
            "sub": sub or "00u" + hashlib.sha256(email.lower().encode()).hexdigest()[:17],
            "email": email,
            "email_verified": True,
            "groups": list(groups),
            "azp": self.client_id,
            "jti": secrets.token_urlsafe(16),
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
        }

    def sign(self, header: Mapping[str, Any] | str, payload: Mapping[str, Any] | str, alg: str) -> str:
        """Sign arbitrary header/payload (dicts, or raw JSON text) with this IdP's real key for ``alg``."""
        signing_input = f"{_segment(header)}.{_segment(payload)}"
        data = signing_input.encode("ascii")
        if alg.startswith(("RS", "PS")):
            signature = _rsa_sign(self._rsa, alg, data)
        elif alg == "ES256":
            signature = _ec_sign(self._ec, data)
        else:
            raise ValueError(f"the local IdP signs with RS*/PS*/ES256 only, not {alg!r}")
        return f"{signing_input}.{_b64url(signature)}"

    def mint(
        self,
        email: str,
        groups: Sequence[str],
        *,
        ttl: int = 3600,
        alg: str = "RS256",
        extra_claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        now: float | None = None,
        audience: str | None = None,
        sub: str | None = None,
    ) -> str:
        """A developer's IdP token. ``extra_claims``/``headers`` override (``OMIT`` removes)."""
        kid = self.ec_kid if alg == "ES256" else self.rsa_kid
        header = _merge({"alg": alg, "typ": "JWT", "kid": kid}, headers)
        payload = _merge(self.claims(email, groups, ttl=ttl, now=now, audience=audience, sub=sub), extra_claims)
        return self.sign(header, payload, alg)

    # ---- the attack corpus -----------------------------------------------------------------------

    def _attacker_keys(self) -> tuple[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]:
        if self._attacker_rsa is None or self._attacker_ec is None:
            self._attacker_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self._attacker_ec = ec.generate_private_key(ec.SECP256R1())
        return self._attacker_rsa, self._attacker_ec

    def malicious_tokens(
        self,
        audience: str | None = None,
        attacker_url: str = "https://attacker.invalid/.well-known/jwks.json",
        *,
        email: str = "dev@example.com",
        groups: Sequence[str] = ("developers",),
        now: float | None = None,
        max_token_bytes: int = 8192,
        session_issuer: str | None = None,
        session_audience: str | None = None,
        session_key: SessionKey | None = None,
    ) -> list[MaliciousCase]:
        """Hostile tokens, each with the AUTH_* code the IdP path and the /mcp path must answer.

        Expected codes assume ``idp_config()`` defaults (RS256/ES256 pinned, client id pinned, nbf
        required) and a SessionTokenService built with ``session_key``/``session_issuer``/
        ``session_audience``. With ``session_key`` given, session forgeries that need the gateway's
        real key (wrong audience/issuer, too long, expired) are included.
        """
        ts = int(self._clock() if now is None else now)
        aud = self.audience if audience is None else audience
        attacker_rsa, attacker_ec = self._attacker_keys()
        cases: list[MaliciousCase] = []
        bad_alg, bad_sig = ReasonCode.AUTH_BAD_ALGORITHM, ReasonCode.AUTH_BAD_SIGNATURE
        malformed, forbidden = ReasonCode.AUTH_MALFORMED, ReasonCode.AUTH_FORBIDDEN_HEADER
        unknown_key, invalid = ReasonCode.AUTH_UNKNOWN_KEY, ReasonCode.AUTH_INVALID
        wrong_iss, wrong_aud = ReasonCode.AUTH_WRONG_ISSUER, ReasonCode.AUTH_WRONG_AUDIENCE
        wrong_typ, expired = ReasonCode.AUTH_WRONG_TOKEN_TYPE, ReasonCode.AUTH_EXPIRED

        def add(name: str, token: str, description: str, idp: ReasonCode | None, session: ReasonCode | None) -> None:
            cases.append(MaliciousCase(name, token, description, idp, session))

        def claims(**updates: Any) -> dict[str, Any]:
            return _merge(self.claims(email, groups, now=ts, audience=aud), updates)

        def rs256_header(**updates: Any) -> dict[str, Any]:
            return _merge({"alg": "RS256", "typ": "JWT", "kid": self.rsa_kid}, updates)

        def signed(header: Mapping[str, Any] | str, payload: Mapping[str, Any] | str, alg: str = "RS256") -> str:
            return self.sign(header, payload, alg)

        def raw(header: Mapping[str, Any] | str, payload: Mapping[str, Any] | str, signature: bytes) -> str:
            return f"{_segment(header)}.{_segment(payload)}.{_b64url(signature)}"

        def hs256(header: Mapping[str, Any], payload: Mapping[str, Any], secret: bytes) -> str:
            signing_input = f"{_segment(header)}.{_segment(payload)}"
            mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
            return f"{signing_input}.{_b64url(mac)}"

        def attacker_rs256(header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
            signing_input = f"{_segment(header)}.{_segment(payload)}"
            sig = _rsa_sign(attacker_rsa, "RS256", signing_input.encode("ascii"))
            return f"{signing_input}.{_b64url(sig)}"

        def attacker_es256(header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
            signing_input = f"{_segment(header)}.{_segment(payload)}"
            return f"{signing_input}.{_b64url(_ec_sign(attacker_ec, signing_input.encode('ascii')))}"

        good = signed(rs256_header(), claims())
        good_head, good_body, good_sig_b64 = good.split(".")
        good_sig = base64.urlsafe_b64decode(good_sig_b64 + "=" * (-len(good_sig_b64) % 4))

        # -- alg: none, in every spelling, with and without a signature ---------------------------
        for spelling in ("none", "None", "NONE", "nOnE"):
            header = {"alg": spelling, "typ": "JWT", "kid": self.rsa_kid}
            add(
                f"alg_{spelling}_unsigned",
                raw(header, claims(), b""),
                f"alg={spelling!r} with an empty signature: the classic unsigned-token bypass",
                bad_alg,
                wrong_typ,
            )
            if spelling != "nOnE":
                signing_input = f"{_segment(header)}.{_segment(claims())}".encode("ascii")
                add(
                    f"alg_{spelling}_with_signature",
                    raw(header, claims(), _rsa_sign(self._rsa, "RS256", signing_input)),
                    f"alg={spelling!r} carrying a real RS256 signature over the same input",
                    bad_alg,
                    wrong_typ,
                )
        add(
            "alg_missing",
            raw({"typ": "JWT", "kid": self.rsa_kid}, claims(), good_sig),
            "header without alg",
            bad_alg,
            bad_alg,
        )
        add(
            "alg_empty",
            raw(rs256_header(alg=""), claims(), good_sig),
            "alg is the empty string",
            bad_alg,
            bad_alg,
        )

        # -- signature tampering ------------------------------------------------------------------
        add(
            "signature_stripped",
            f"{good_head}.{good_body}.",
            "valid RS256 token with the signature removed",
            bad_sig,
            wrong_typ,
        )
        flipped = bytearray(good_sig)
        flipped[len(flipped) // 2] ^= 0x01
        add(
            "signature_flipped",
            f"{good_head}.{good_body}.{_b64url(bytes(flipped))}",
            "one bit of a valid signature flipped",
            bad_sig,
            wrong_typ,
        )
        add(
            "signature_truncated",
            f"{good_head}.{good_body}.{_b64url(good_sig[:128])}",
            "valid signature cut in half",
            bad_sig,
            wrong_typ,
        )
        add(
            "payload_tampered",
            f"{good_head}.{_segment(claims(groups=['admins']))}.{good_sig_b64}",
            "payload changed (groups=admins) under the original signature",
            bad_sig,
            wrong_typ,
        )

        # -- algorithm confusion ------------------------------------------------------------------
        hs_header = {"alg": "HS256", "typ": "JWT", "kid": self.rsa_kid}
        add(
            "hs256_with_rsa_public_key_pem",
            hs256(hs_header, claims(), self.rsa_public_pem()),
            "HS256 keyed with the IdP's public RSA PEM (RS/HS key confusion, CVE-2015-9235)",
            bad_alg,
            wrong_typ,
        )
        add(
            "hs256_empty_secret",
            hs256(hs_header, claims(), b""),
            "HS256 with an empty secret",
            bad_alg,
            wrong_typ,
        )
        add(
            "hs256_common_secret",
            hs256(hs_header, claims(), b"secret"),
            "HS256 with the secret 'secret'",
            bad_alg,
            wrong_typ,
        )
        add(
            "alg_rs512_not_allowed",
            signed(rs256_header(alg="RS512"), claims(), "RS512"),
            "validly signed RS512 while the config pins RS256/ES256",
            bad_alg,
            wrong_typ,
        )
        add(
            "alg_ps256_not_allowed",
            signed(rs256_header(alg="PS256"), claims(), "PS256"),
            "validly signed PS256 while the config pins RS256/ES256",
            bad_alg,
            wrong_typ,
        )
        add(
            "alg_es256_with_rsa_kid",
            signed(rs256_header(alg="ES256"), claims(), "ES256"),
            "ES256 naming the RSA key's kid: key type must match alg",
            bad_alg,
            wrong_typ,
        )

        # -- ECDSA "psychic signatures" (CVE-2022-21449): r or s out of [1, n-1] --------------------
        es_header = {"alg": "ES256", "typ": "JWT", "kid": self.ec_kid}
        zero, one = (0).to_bytes(32, "big"), (1).to_bytes(32, "big")
        order = P256_ORDER.to_bytes(32, "big")
        for name, signature, what in (
            ("es256_r_s_zero", zero + zero, "r = s = 0"),
            ("es256_r_zero", zero + one, "r = 0"),
            ("es256_s_zero", one + zero, "s = 0"),
            ("es256_r_s_group_order", order + order, "r = s = n (the group order)"),
        ):
            add(name, raw(es_header, claims(), signature), f"ES256 signature with {what}", bad_sig, wrong_typ)

        # -- key material named by the token: must never be followed --------------------------------
        attacker_ec_jwk = _ec_jwk(attacker_ec.public_key())
        attacker_kid = "attacker-" + _thumbprint(attacker_ec_jwk)
        add(
            "embedded_jwk_header",
            attacker_es256({"alg": "ES256", "typ": "JWT", "kid": attacker_kid, "jwk": attacker_ec_jwk}, claims()),
            "attacker's own public key embedded as a jwk header",
            forbidden,
            forbidden,
        )
        add(
            "jku_attacker_url",
            attacker_rs256(rs256_header(kid="attacker-rsa", jku=attacker_url), claims()),
            "jku pointing at the attacker's JWKS",
            forbidden,
            forbidden,
        )
        add(
            "x5u_attacker_url",
            attacker_rs256(rs256_header(kid="attacker-rsa", x5u=attacker_url), claims()),
            "x5u pointing at the attacker's certificate",
            forbidden,
            forbidden,
        )
        cert = _self_signed_cert(attacker_rsa)
        add(
            "x5c_self_signed",
            attacker_rs256(rs256_header(kid=OMIT, x5c=[base64.b64encode(cert).decode("ascii")]), claims()),
            "x5c carrying a self-signed certificate for the attacker's key",
            forbidden,
            forbidden,
        )

        # -- kid abuse -------------------------------------------------------------------------------
        add(
            "kid_path_traversal",
            attacker_rs256(rs256_header(kid="../../dev/null"), claims()),
            "kid as a filesystem path",
            unknown_key,
            wrong_typ,
        )
        add(
            "kid_path_traversal_hs256_empty_key",
            hs256({**hs_header, "kid": "../../dev/null"}, claims(), b""),
            "kid=/dev/null with HS256 and an empty key",
            bad_alg,
            wrong_typ,
        )
        add(
            "kid_sql_injection",
            attacker_rs256(rs256_header(kid="' OR 1=1 --"), claims()),
            "kid as SQL injection",
            unknown_key,
            wrong_typ,
        )
        add(
            "kid_unknown",
            attacker_rs256(rs256_header(kid="no-such-key"), claims()),
            "a kid the IdP never published",
            unknown_key,
            wrong_typ,
        )
        add(
            "kid_missing",
            attacker_rs256(rs256_header(kid=OMIT), claims()),
            "no kid at all",
            unknown_key,
            wrong_typ,
        )
        add(
            "kid_correct_wrong_key",
            attacker_rs256(rs256_header(), claims()),
            "the IdP's real kid, signed with the attacker's key",
            bad_sig,
            wrong_typ,
        )
        add(
            "kid_too_long",
            attacker_rs256(rs256_header(kid="k" * 129), claims()),
            "kid of 129 characters",
            malformed,
            malformed,
        )
        add(
            "kid_not_string",
            attacker_rs256(rs256_header(kid=42), claims()),
            "kid as a number",
            malformed,
            malformed,
        )
        add(
            "kid_control_characters",
            attacker_rs256(rs256_header(kid="a\nb\x00"), claims()),
            "kid with newline and NUL",
            malformed,
            malformed,
        )

        # -- issuer near-matches (all validly signed) ---------------------------------------------
        parts = urlsplit(self.issuer)
        other_scheme = "https" if parts.scheme == "http" else "http"
        for name, iss in (
            ("iss_trailing_slash", self.issuer + "/"),
            ("iss_uppercase", self.issuer.upper()),
            ("iss_other_scheme", urlunsplit((other_scheme, *parts[1:]))),
            ("iss_extra_path", self.issuer + "/extra"),
            ("iss_unicode_lookalike", _lookalike(self.issuer)),
            ("iss_missing", OMIT),
        ):
            add(
                name,
                signed(rs256_header(), claims(iss=iss)),
                f"issuer near-match: {iss!r}",
                wrong_iss,
                wrong_typ,
            )

        # -- audience ---------------------------------------------------------------------------------
        for name, value, what in (
            ("aud_missing", OMIT, "no aud claim"),
            ("aud_wrong", "api://someone-else", "aud for another API"),
            ("aud_number", 12345, "aud as a number"),
            ("aud_object", {"aud": aud}, "aud as an object"),
            ("aud_list_with_non_string", [aud, 7], "aud list holding a number"),
            ("aud_empty_list", [], "aud as an empty list"),
        ):
            add(name, signed(rs256_header(), claims(aud=value)), what, wrong_aud, wrong_typ)
        add(
            "azp_other_client",
            signed(rs256_header(), claims(azp="some-other-client")),
            "an ID token issued to another client (azp differs)",
            wrong_aud,
            wrong_typ,
        )

        # -- time -----------------------------------------------------------------------------------------
        for name, updates, code, what in (
            (
                "exp_past",
                {"iat": ts - 7200, "nbf": ts - 7200, "exp": ts - 3600},
                expired,
                "expired an hour ago",
            ),
            ("exp_missing", {"exp": OMIT}, invalid, "no exp"),
            ("exp_far_future", {"exp": ts + 48 * 3600}, invalid, "exp 48 h away (> 24 h)"),
            ("exp_not_a_number", {"exp": "tomorrow"}, invalid, "exp as a string"),
            ("exp_boolean", {"exp": True}, invalid, "exp as a boolean"),
            ("nbf_future", {"nbf": ts + 3600}, invalid, "not valid for another hour"),
            ("nbf_missing", {"nbf": OMIT}, invalid, "no nbf"),
            ("iat_future", {"iat": ts + 3600}, invalid, "issued an hour in the future"),
            ("iat_missing", {"iat": OMIT}, invalid, "no iat"),
        ):
            add(name, signed(rs256_header(), claims(**updates)), what, code, wrong_typ)
        inf_payload = json.dumps(claims(exp=OMIT), separators=(",", ":"))[:-1] + ',"exp":1e999}'
        add(
            "exp_overflow_to_infinity",
            signed(rs256_header(), inf_payload),
            "exp = 1e999 (parses as inf)",
            invalid,
            wrong_typ,
        )
        nan_payload = json.dumps(claims(exp=OMIT), separators=(",", ":"))[:-1] + ',"exp":NaN}'
        add(
            "exp_nan_literal",
            signed(rs256_header(), nan_payload),
            "exp = NaN (not JSON)",
            malformed,
            malformed,
        )

        # -- identity claims --------------------------------------------------------------------------
        for name, updates, what in (
            ("sub_missing", {"sub": OMIT}, "no sub"),
            ("email_missing", {"email": OMIT}, "no email"),
            ("email_not_an_email", {"email": "not-an-email"}, "email without @domain"),
            ("email_unverified", {"email_verified": False}, "email_verified = false"),
            ("groups_not_a_list", {"groups": "admins"}, "groups as a string"),
            ("groups_too_many", {"groups": [f"g{i}" for i in range(65)]}, "65 groups (> 64)"),
            ("groups_non_string", {"groups": ["developers", {"admin": True}]}, "a group that is an object"),
            ("groups_oversize_entry", {"groups": ["g" * 257]}, "a 257-character group"),
        ):
            add(name, signed(rs256_header(), claims(**updates)), what, invalid, wrong_typ)

        # -- header parameters --------------------------------------------------------------------------
        add(
            "crit_unknown_extension",
            signed(rs256_header(crit=["urn:example:x"], **{"urn:example:x": 1}), claims()),
            "crit naming an extension we do not implement",
            forbidden,
            forbidden,
        )
        add(
            "b64_unencoded_payload",
            signed(rs256_header(b64=False, crit=["b64"]), claims()),
            "RFC 7797 unencoded payload",
            forbidden,
            forbidden,
        )
        add(
            "typ_session_token_at_idp",
            signed(rs256_header(typ="gw-session+jwt"), claims()),
            "IdP-signed token claiming to be a gateway session token",
            wrong_typ,
            bad_alg,
        )
        add(
            "typ_unexpected",
            signed(rs256_header(typ="logout+jwt"), claims()),
            "a logout token",
            wrong_typ,
            wrong_typ,
        )

        # -- duplicate JSON keys (parser differentials) ---------------------------------------------
        body = json.dumps(claims(), separators=(",", ":"))
        dup_sub = body[:-1] + ',"sub":"00uADMIN"}'
        add("duplicate_claim_sub", signed(rs256_header(), dup_sub), "two sub claims", malformed, malformed)
        dup_alg = f'{{"alg":"HS256","typ":"JWT","kid":"{self.rsa_kid}","alg":"RS256"}}'
        add(
            "duplicate_header_alg",
            signed(dup_alg, claims()),
            "two alg headers (HS256 then RS256)",
            malformed,
            malformed,
        )
        dup_nested = body[:-1] + ',"ext":{"role":"user","role":"admin"}}'
        add(
            "duplicate_nested_key",
            signed(rs256_header(), dup_nested),
            "duplicate key inside a nested object",
            malformed,
            malformed,
        )

        # -- structure --------------------------------------------------------------------------------------
        not_utf8 = _segment(bytes([0xFF, 0xFE, 0x7B, 0x7D]))
        for name, token, what in (
            ("malformed_empty", "", "empty string"),
            ("malformed_two_segments", f"{good_head}.{good_body}", "two segments"),
            ("malformed_four_segments", f"{good}.{good_sig_b64}", "four segments"),
            ("malformed_five_segments_jwe", f"{good_head}..{good_body}.{good_sig_b64}.x", "JWE-shaped"),
            ("malformed_non_base64", f"{good_head}.!!!$$$.{good_sig_b64}", "payload is not base64url"),
            ("malformed_padded_base64", f"{good_head}=.{good_body}.{good_sig_b64}", "base64 padding"),
            (
                "malformed_header_not_json",
                f"{_segment(b'not json')}.{good_body}.{good_sig_b64}",
                "header not JSON",
            ),
            (
                "malformed_payload_not_json",
                f"{good_head}.{_segment(b'{oops')}.{good_sig_b64}",
                "payload not JSON",
            ),
            (
                "malformed_header_array",
                f"{_segment('[1,2]')}.{good_body}.{good_sig_b64}",
                "header is an array",
            ),
            ("malformed_payload_null", f"{good_head}.{_segment('null')}.{good_sig_b64}", "payload is null"),
            ("malformed_payload_not_utf8", f"{good_head}.{not_utf8}.{good_sig_b64}", "not UTF-8"),
            ("malformed_non_ascii", good[:-2] + "é", "non-ASCII character"),
            ("malformed_whitespace", f" {good}", "leading whitespace"),
        ):
            add(name, token, what, malformed, malformed)
        oversize = signed(rs256_header(), claims(pad="A" * max_token_bytes))
        add(
            "oversize_token",
            oversize,
            f"validly signed token over {max_token_bytes} bytes",
            malformed,
            malformed,
        )

        # -- session-token forgeries (target: /mcp) -----------------------------------------------------
        s_iss = session_issuer or _origin(self.issuer)
        s_aud = session_audience or f"{_origin(self.issuer)}/mcp"

        def session_claims(**updates: Any) -> dict[str, Any]:
            base = {
                "iss": s_iss,
                "aud": s_aud,
                "sub": "00u" + hashlib.sha256(email.encode()).hexdigest()[:17],
                "email": email,
                "groups": list(groups),
                "jti": secrets.token_urlsafe(16),
                "iat": ts,
                "nbf": ts,
                "exp": ts + 900,
            }
            return _merge(base, updates)

        def session_header(**updates: Any) -> dict[str, Any]:
            kid = session_key.kid if session_key is not None else "session-1"
            return _merge({"alg": "ES256", "typ": SessionTokenService.TOKEN_TYPE, "kid": kid}, updates)

        add(
            "session_signed_by_unknown_key",
            attacker_es256(session_header(kid="gw-attacker-1"), session_claims()),
            "session-shaped token under a kid the gateway never had",
            wrong_typ,
            unknown_key,
        )
        add(
            "session_alg_none",
            raw(session_header(alg="none"), session_claims(), b""),
            "session-shaped token with alg none",
            wrong_typ,
            bad_alg,
        )
        add(
            "session_es256_zero_signature",
            raw(session_header(), session_claims(), zero + zero),
            "session-shaped token with r = s = 0",
            wrong_typ,
            bad_sig if session_key else unknown_key,
        )
        add(
            "idp_token_as_session_token",
            self.mint(email, groups, now=ts, audience=aud),
            "a perfectly valid IdP token presented to /mcp",
            None,
            wrong_typ,
        )
        add(
            "idp_token_without_typ_as_session_token",
            self.mint(email, groups, now=ts, audience=aud, headers={"typ": OMIT}),
            "a valid IdP token without typ presented to /mcp",
            None,
            wrong_typ,
        )
        if session_key is not None:
            real = session_key.private_key()
            pub_pem = real.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )

            def session_signed(payload: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
                signing_input = f"{_segment(header or session_header())}.{_segment(payload)}"
                return f"{signing_input}.{_b64url(_ec_sign(real, signing_input.encode('ascii')))}"

            add(
                "session_known_kid_wrong_key",
                attacker_es256(session_header(), session_claims()),
                "the gateway's real kid, signed by the attacker",
                wrong_typ,
                bad_sig,
            )
            add(
                "session_wrong_audience",
                session_signed(session_claims(aud="https://other.example/mcp")),
                "a real session token minted for another gateway",
                wrong_typ,
                wrong_aud,
            )
            add(
                "session_audience_list",
                session_signed(session_claims(aud=[s_aud, "https://other.example/mcp"])),
                "session aud must be exactly our resource, not a list",
                wrong_typ,
                wrong_aud,
            )
            add(
                "session_wrong_issuer",
                session_signed(session_claims(iss=s_iss + "/")),
                "session token with a near-match issuer",
                wrong_typ,
                wrong_iss,
            )
            add(
                "session_lifetime_too_long",
                session_signed(session_claims(exp=ts + 3600)),
                "a session token valid for an hour",
                wrong_typ,
                invalid,
            )
            add(
                "session_expired",
                session_signed(session_claims(iat=ts - 1000, nbf=ts - 1000, exp=ts - 100)),
                "a session token expired 100 s ago",
                wrong_typ,
                expired,
            )
            add(
                "session_hs256_with_public_key",
                hs256(session_header(alg="HS256"), session_claims(), pub_pem),
                "HS256 keyed with the session public key",
                wrong_typ,
                bad_alg,
            )
            add(
                "session_jku_header",
                session_signed(session_claims(), session_header(jku=attacker_url)),
                "real session key, but a jku header",
                forbidden,
                forbidden,
            )
        return cases


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
