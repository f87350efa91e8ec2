"""The session token's direct ES256 check decides exactly as PyJWT's verification it replaced (issue 21).

``SessionTokenService.verify`` checks the signature of the already strictly parsed token with the key object
built once (``session._verify_es256``, PyJWT's own ``ECAlgorithm.verify``) instead of handing the whole token
to ``jwt.decode`` to parse again. For genuine,
tampered, truncated, extended, foreign-key and empty signatures, both accept or both refuse with the same code.
"""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from mcp_gateway.domain.errors import AuthError, ReasonCode
from mcp_gateway.domain.tokens import IdentityClaims, SessionKeySet, SessionTokenService, generate_session_key
from mcp_gateway.domain.tokens import session as session_module
from mcp_gateway.domain.tokens.parsing import parse_compact, verify_signature


def _service(kid: str) -> SessionTokenService:
    keys = SessionKeySet(active_kid=kid, keys=(generate_session_key(kid),))
    return SessionTokenService(keys, issuer="https://gw.example", audience="https://gw.example/mcp")


def _token(service: SessionTokenService) -> str:
    identity = IdentityClaims(
        sub="u1",
        email="alice@example.com",
        groups=("developers",),
        expires_at=int(time.time()) + 3600,
        issuer="https://idp.example",
        token_id="t1",
    )
    return service.mint(identity).access_token


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _variants(token: str, other: str) -> dict[str, str]:
    head, body, signature_b64 = token.split(".")
    signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    return {
        "genuine": token,
        "flipped bit": f"{head}.{body}.{_b64(flipped)}",
        "truncated": f"{head}.{body}.{_b64(signature[:63])}",
        "extended": f"{head}.{body}.{_b64(signature + b'0')}",
        "empty": f"{head}.{body}.",
        "swapped halves": f"{head}.{body}.{_b64(signature[32:] + signature[:32])}",
        "zeros": f"{head}.{body}.{_b64(bytes(64))}",
        "other key": f"{head}.{body}.{other.split('.')[2]}",
        "other body": f"{head}.{other.split('.')[1]}.{signature_b64}",
    }


def _outcome(check: object) -> ReasonCode | None:
    try:
        check()  # type: ignore[operator]
    except AuthError as exc:
        return exc.code
    return None


SERVICE = _service("k1")
KEY: ec.EllipticCurvePublicKey = SERVICE._public["k1"]
VARIANTS = _variants(_token(SERVICE), _token(_service("k1")))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_the_direct_es256_check_decides_as_pyjwt_does(name: str) -> None:
    token = VARIANTS[name]
    parsed = parse_compact(token, 8192)
    direct = _outcome(lambda: session_module._verify_es256(parsed.signing_input, parsed.signature, KEY))
    pyjwt = _outcome(lambda: verify_signature(token, KEY, "ES256"))
    assert direct == pyjwt
    assert (direct is None) == (name == "genuine")


def test_only_the_genuine_token_verifies_through_the_service() -> None:
    outcomes = {name: _outcome(lambda t=token: SERVICE.verify(t)) for name, token in VARIANTS.items()}
    assert outcomes.pop("genuine") is None
    assert set(outcomes.values()) == {ReasonCode.AUTH_BAD_SIGNATURE}
