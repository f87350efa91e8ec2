"""SessionTokenService: 15-minute ES256 gateway tokens, key rotation, and what they must never do."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from conftest import FIXED_NOW, FakeClock
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from mcp_gateway.domain.errors import AuthError, ConfigError, ReasonCode
from mcp_gateway.domain.tokens import (
    IdentityClaims,
    JwksCache,
    SessionKey,
    SessionKeySet,
    SessionTokenService,
    generate_session_key,
    verify_idp_token,
)
from mcp_gateway_local.idp import LocalIdP
from pydantic import ValidationError

NOW = FIXED_NOW
ISSUER = "https://abc123.lambda-url.eu-west-1.on.aws"
AUDIENCE = "https://abc123.lambda-url.eu-west-1.on.aws/mcp"


@pytest.fixture(scope="module")
def old_key() -> SessionKey:
    return generate_session_key("gw-2025-01")


@pytest.fixture(scope="module")
def new_key() -> SessionKey:
    return generate_session_key("gw-2025-02")


def service(keys: SessionKeySet, clock: FakeClock, **kwargs: Any) -> SessionTokenService:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE}
    options.update(kwargs)
    return SessionTokenService(keys, clock=clock, **options)


@pytest.fixture
def svc(old_key: SessionKey, clock: FakeClock) -> SessionTokenService:
    return service(SessionKeySet(active_kid=old_key.kid, keys=(old_key,)), clock)


def identity(expires_at: float = NOW + 3600, groups: tuple[str, ...] = ("developers",)) -> IdentityClaims:
    return IdentityClaims(
        sub="00u123",
        email="dev@example.com",
        groups=groups,
        expires_at=int(expires_at),
        issuer="https://example.okta.com/oauth2/default",
        token_id="idp-jti",
    )


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")

    def decode(part: str) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return decoded

    return decode(head), decode(body)


def code_of(svc: SessionTokenService, token: str) -> ReasonCode:
    with pytest.raises(AuthError) as info:
        svc.verify(token)
    return info.value.code


# ---- mint ----------------------------------------------------------------------------------------


def test_a_minted_token_verifies_to_the_same_principal(svc: SessionTokenService) -> None:
    issued = svc.mint(identity(groups=("developers", "oncall")))
    principal = svc.verify(issued.access_token)
    assert principal.email == "dev@example.com"
    assert principal.sub == "00u123"
    assert principal.groups == ("developers", "oncall")
    assert principal.token_id == issued.token_id
    assert principal.expires_at == issued.expires_at == int(NOW) + 900
    assert issued.expires_in == 900


def test_the_token_carries_exactly_the_documented_header_and_claims(
    svc: SessionTokenService, old_key: SessionKey
) -> None:
    issued = svc.mint(identity())
    header, claims = segments(issued.access_token)
    assert header == {"alg": "ES256", "typ": "gw-session+jwt", "kid": old_key.kid}
    assert set(claims) == {"iss", "aud", "sub", "email", "groups", "jti", "iat", "nbf", "exp"}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["iat"] == claims["nbf"] == int(NOW)
    assert claims["jti"] == issued.token_id


def test_every_token_gets_a_fresh_random_jti(svc: SessionTokenService) -> None:
    ids = {svc.mint(identity()).token_id for _ in range(50)}
    assert len(ids) == 50


def test_a_session_never_outlives_the_idp_token(svc: SessionTokenService) -> None:
    issued = svc.mint(identity(expires_at=NOW + 120))
    assert issued.expires_at == int(NOW) + 120
    assert issued.expires_in == 120
    assert svc.verify(issued.access_token).expires_at == int(NOW) + 120


@pytest.mark.parametrize("remaining", [0.5, 0, -10])
def test_minting_is_refused_when_the_idp_token_is_about_to_expire(
    svc: SessionTokenService, clock: FakeClock, remaining: float
) -> None:
    clock.now = NOW + 0.25
    with pytest.raises(AuthError) as info:
        svc.mint(identity(expires_at=int(NOW) + remaining))
    assert info.value.code is ReasonCode.AUTH_EXPIRED


def test_an_identity_too_large_for_a_session_token_is_refused_cleanly(svc: SessionTokenService) -> None:
    with pytest.raises(AuthError) as info:
        svc.mint(identity(groups=tuple(f"{i:02d}" + "g" * 254 for i in range(64))))
    assert info.value.code is ReasonCode.AUTH_INVALID


# ---- lifetime ------------------------------------------------------------------------------------


def test_a_session_is_accepted_at_899_seconds_and_rejected_at_900_plus_leeway(
    svc: SessionTokenService, clock: FakeClock
) -> None:
    token = svc.mint(identity()).access_token
    clock.now = NOW + 899
    assert svc.verify(token)
    clock.now = NOW + 900 + svc.leeway_seconds - 1
    assert svc.verify(token)  # still inside the clock-skew leeway
    clock.now = NOW + 900 + svc.leeway_seconds
    assert code_of(svc, token) is ReasonCode.AUTH_EXPIRED


def test_without_leeway_a_session_dies_at_exactly_900_seconds(old_key: SessionKey, clock: FakeClock) -> None:
    strict = service(SessionKeySet(active_kid=old_key.kid, keys=(old_key,)), clock, leeway_seconds=0)
    token = strict.mint(identity()).access_token
    clock.now = NOW + 899
    assert strict.verify(token)
    clock.now = NOW + 900
    assert code_of(strict, token) is ReasonCode.AUTH_EXPIRED


def test_a_token_from_the_future_is_rejected(svc: SessionTokenService, clock: FakeClock) -> None:
    clock.now = NOW + 60
    token = svc.mint(identity(expires_at=NOW + 3600)).access_token
    clock.now = NOW
    assert code_of(svc, token) is ReasonCode.AUTH_INVALID


# ---- audience, issuer, token type ----------------------------------------------------------------


def test_a_service_with_a_different_audience_rejects_the_token(
    svc: SessionTokenService, old_key: SessionKey, clock: FakeClock
) -> None:
    token = svc.mint(identity()).access_token
    other = service(SessionKeySet(active_kid=old_key.kid, keys=(old_key,)), clock, audience="https://other.example/mcp")
    assert code_of(other, token) is ReasonCode.AUTH_WRONG_AUDIENCE


def test_a_service_with_a_different_issuer_rejects_the_token(
    svc: SessionTokenService, old_key: SessionKey, clock: FakeClock
) -> None:
    token = svc.mint(identity()).access_token
    other = service(SessionKeySet(active_kid=old_key.kid, keys=(old_key,)), clock, issuer=ISSUER + "/")
    assert code_of(other, token) is ReasonCode.AUTH_WRONG_ISSUER


def test_an_idp_token_is_not_a_session_token_and_vice_versa(svc: SessionTokenService, clock: FakeClock) -> None:
    idp = LocalIdP(audience=AUDIENCE)
    idp_token = idp.mint("dev@example.com", ["developers"], now=NOW)
    assert code_of(svc, idp_token) is ReasonCode.AUTH_WRONG_TOKEN_TYPE
    es_idp_token = idp.mint("dev@example.com", ["developers"], alg="ES256", now=NOW)
    assert code_of(svc, es_idp_token) is ReasonCode.AUTH_WRONG_TOKEN_TYPE

    session = svc.mint(identity()).access_token
    cache = JwksCache(idp.jwks_url, idp.fetcher(), clock)
    with pytest.raises(AuthError) as info:
        verify_idp_token(session, idp.idp_config(), cache, clock)
    assert info.value.code is ReasonCode.AUTH_WRONG_TOKEN_TYPE


# ---- rotation ------------------------------------------------------------------------------------


def test_two_key_rotation(old_key: SessionKey, new_key: SessionKey, clock: FakeClock) -> None:
    before = service(SessionKeySet(active_kid=old_key.kid, keys=(old_key,)), clock)
    during = service(SessionKeySet(active_kid=new_key.kid, keys=(old_key, new_key)), clock)
    after = service(SessionKeySet(active_kid=new_key.kid, keys=(new_key,)), clock)

    old_token = before.mint(identity()).access_token
    new_token = during.mint(identity()).access_token
    assert segments(new_token)[0]["kid"] == new_key.kid

    assert during.verify(old_token)  # both keys listed: the old kid still verifies
    assert during.verify(new_token)
    assert after.verify(new_token)
    assert code_of(after, old_token) is ReasonCode.AUTH_UNKNOWN_KEY  # old key removed


def test_a_kid_signed_by_a_different_key_fails_the_signature(old_key: SessionKey, clock: FakeClock) -> None:
    impostor = generate_session_key(old_key.kid)
    forged = service(SessionKeySet(active_kid=impostor.kid, keys=(impostor,)), clock).mint(identity())
    real = service(SessionKeySet(active_kid=old_key.kid, keys=(old_key,)), clock)
    assert code_of(real, forged.access_token) is ReasonCode.AUTH_BAD_SIGNATURE


# ---- key set parsing and service configuration ---------------------------------------------------


def test_key_set_parses_from_the_secret_json(old_key: SessionKey, new_key: SessionKey) -> None:
    secret = json.dumps({"active_kid": new_key.kid, "keys": [old_key.model_dump(), new_key.model_dump()]})
    keys = SessionKeySet.from_secret_string(secret)
    assert keys.active_kid == new_key.kid
    assert [k.kid for k in keys.keys] == [old_key.kid, new_key.kid]


@pytest.mark.parametrize(
    "secret",
    [
        "not json",
        "[]",
        '{"active_kid": "a", "keys": []}',
        '{"active_kid": "a", "active_kid": "b", "keys": []}',
    ],
)
def test_a_malformed_secret_is_a_config_error(secret: str) -> None:
    with pytest.raises(ConfigError):
        SessionKeySet.from_secret_string(secret)


def test_key_set_consistency_is_enforced(old_key: SessionKey) -> None:
    with pytest.raises(ValidationError):
        SessionKeySet(active_kid="missing", keys=(old_key,))
    with pytest.raises(ValidationError):
        SessionKeySet(active_kid=old_key.kid, keys=(old_key, old_key))
    with pytest.raises(ValidationError):
        SessionKeySet.model_validate({"active_kid": old_key.kid, "keys": [old_key.model_dump()], "extra": "x"})


def test_only_p256_private_keys_are_accepted() -> None:
    def pem(key: Any) -> str:
        data: bytes = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return data.decode()

    with pytest.raises(ValidationError):
        SessionKey(kid="k", private_pem=pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    with pytest.raises(ValidationError):
        SessionKey(kid="k", private_pem=pem(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(ValidationError):
        SessionKey(kid="k", private_pem="-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def test_private_key_material_never_appears_in_repr(old_key: SessionKey) -> None:
    keys = SessionKeySet(active_kid=old_key.kid, keys=(old_key,))
    assert "PRIVATE" not in repr(old_key)
    assert "PRIVATE" not in repr(keys)
    assert "PRIVATE" not in json.dumps(old_key.public_jwk())


@pytest.mark.parametrize(
    "kwargs",
    [{"ttl_seconds": 901}, {"ttl_seconds": 0}, {"leeway_seconds": 6}, {"issuer": ""}, {"audience": ""}],
)
def test_service_configuration_is_bounded(old_key: SessionKey, clock: FakeClock, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        service(SessionKeySet(active_kid=old_key.kid, keys=(old_key,)), clock, **kwargs)


def test_public_jwks_exposes_only_public_members(svc: SessionTokenService, old_key: SessionKey) -> None:
    (jwk,) = svc.public_jwks()["keys"]
    assert jwk["kid"] == old_key.kid
    assert set(jwk) == {"kty", "crv", "use", "alg", "kid", "x", "y"}
