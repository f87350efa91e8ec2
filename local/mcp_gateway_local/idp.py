"""A local OIDC identity provider for development and tests (never shipped to Lambda).

It stands in for Okta: an RSA-2048 and an EC P-256 signing key, a JWKS document, an OpenID discovery
document and a way to mint a developer's IdP token. Keys are generated once and, when ``key_dir`` is
given, persisted there (mode 0600) so ``make run`` keeps them across restarts.

:meth:`LocalIdP.sign` and the module's helpers (:func:`segment`, :func:`rsa_sign`, :func:`ec_sign`) sign
any header and payload, so the tests can build hostile tokens; the malicious-token table lives with the
tests (``tests/corpora/malicious_tokens.py``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from mcp_gateway.domain.tokens import IdpConfig

__all__ = [
    "OMIT",
    "LocalIdP",
    "RecordingFetcher",
    "b64url",
    "ec_jwk",
    "ec_sign",
    "jwk_thumbprint",
    "rsa_jwk",
    "rsa_sign",
    "segment",
    "with_overrides",
]


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


#: Pass as a value in ``extra_claims`` / ``headers`` to remove that claim or header entirely.
OMIT: Any = _Omit()


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


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Mapping[str, Any] | str | bytes) -> str:
    """A dict is serialised compactly; str is raw JSON text (for duplicate keys); bytes are raw."""
    if isinstance(value, bytes):
        return b64url(value)
    if isinstance(value, str):
        return b64url(value.encode("utf-8"))
    return b64url(json.dumps(dict(value), separators=(",", ":")).encode("utf-8"))


def with_overrides(base: dict[str, Any], updates: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (updates or {}).items():
        if value is OMIT:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _int_b64(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(size, "big"))


def rsa_jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}


def ec_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _int_b64(numbers.x, 32), "y": _int_b64(numbers.y, 32)}


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (required members only, sorted, compact)."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())[:22]


_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def rsa_sign(key: rsa.RSAPrivateKey, alg: str, data: bytes) -> bytes:
    digest = _RSA_HASHES[alg[2:]]()
    if alg.startswith("PS"):
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        return key.sign(data, pss, digest)
    return key.sign(data, padding.PKCS1v15(), digest)


def ec_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
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
        self.rsa_kid = "rsa-" + jwk_thumbprint(rsa_jwk(rsa_key.public_key()))
        self.ec_kid = "ec-" + jwk_thumbprint(ec_jwk(ec_key.public_key()))

    @classmethod
    def for_port(cls, port: int, **kwargs: Any) -> LocalIdP:
        return cls(f"http://127.0.0.1:{port}/idp", **kwargs)

    def now(self) -> float:
        """This IdP's clock (what ``iat`` is minted from)."""
        return self._clock()

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
                {**rsa_jwk(self._rsa.public_key()), "use": "sig", "alg": "RS256", "kid": self.rsa_kid},
                {**ec_jwk(self._ec.public_key()), "use": "sig", "alg": "ES256", "kid": self.ec_kid},
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
        signing_input = f"{segment(header)}.{segment(payload)}"
        data = signing_input.encode("ascii")
        if alg.startswith(("RS", "PS")):
            signature = rsa_sign(self._rsa, alg, data)
        elif alg == "ES256":
            signature = ec_sign(self._ec, data)
        else:
            raise ValueError(f"the local IdP signs with RS*/PS*/ES256 only, not {alg!r}")
        return f"{signing_input}.{b64url(signature)}"

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
        header = with_overrides({"alg": alg, "typ": "JWT", "kid": kid}, headers)
        payload = with_overrides(self.claims(email, groups, ttl=ttl, now=now, audience=audience, sub=sub), extra_claims)
        return self.sign(header, payload, alg)
