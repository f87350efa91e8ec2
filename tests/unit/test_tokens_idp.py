"""verify_idp_token, IdpConfig and the local IdP: the happy paths and the configuration guards."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import mcp_gateway.domain.tokens.parsing as parsing_module
import pytest
from conftest import FIXED_NOW, FakeClock
from mcp_gateway.domain.errors import AuthError, ConfigError, ReasonCode
from mcp_gateway.domain.tokens import (
    IdentityClaims,
    IdpConfig,
    JwksCache,
    parse_max_age,
    token_fingerprint,
    verify_idp_token,
)
from mcp_gateway_local.idp import OMIT, LocalIdP
from pydantic import ValidationError

NOW = FIXED_NOW


@pytest.fixture(scope="module")
def idp() -> LocalIdP:
    return LocalIdP("http://127.0.0.1:8765/idp", audience="api://mcp-gateway")


@pytest.fixture
def config(idp: LocalIdP) -> IdpConfig:
    return idp.idp_config()


@pytest.fixture
def cache(idp: LocalIdP, clock: FakeClock) -> JwksCache:
    return JwksCache(idp.jwks_url, idp.fetcher(), clock)


def verify(token: str, config: IdpConfig, cache: JwksCache, clock: FakeClock) -> IdentityClaims:
    return verify_idp_token(token, config, cache, clock)


def code_of(token: str, config: IdpConfig, cache: JwksCache, clock: FakeClock) -> ReasonCode:
    with pytest.raises(AuthError) as info:
        verify_idp_token(token, config, cache, clock)
    return info.value.code


# ---- happy paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_valid_token_yields_the_identity(
    idp: LocalIdP, config: IdpConfig, cache: JwksCache, clock: FakeClock, alg: str
) -> None:
    token = idp.mint("dev@example.com", ["developers", "oncall"], alg=alg, now=NOW)
    identity = verify(token, config, cache, clock)
    assert identity.email == "dev@example.com"
    assert identity.groups == ("developers", "oncall")
    assert identity.issuer == idp.issuer
    assert identity.expires_at == int(NOW) + 3600
    assert identity.sub.startswith("00u")
    assert identity.token_id


@pytest.mark.parametrize("typ", [OMIT, "JWT", "jwt", "at+jwt", "application/at+jwt", "AT+JWT"])
def test_allowed_token_types_are_accepted_and_typ_is_optional(
    idp: LocalIdP, config: IdpConfig, cache: JwksCache, clock: FakeClock, typ: Any
) -> None:
    token = idp.mint("dev@example.com", [], headers={"typ": typ}, now=NOW)
    assert verify(token, config, cache, clock).email == "dev@example.com"


def test_an_audience_list_containing_ours_is_accepted(
    idp: LocalIdP, config: IdpConfig, cache: JwksCache, clock: FakeClock
) -> None:
    token = idp.mint("dev@example.com", [], extra_claims={"aud": ["other", idp.audience]}, now=NOW)
    assert verify(token, config, cache, clock).email == "dev@example.com"


def test_expiry_honours_the_configured_leeway(
    idp: LocalIdP, config: IdpConfig, cache: JwksCache, clock: FakeClock
) -> None:
    token = idp.mint("dev@example.com", [], ttl=600, now=NOW)
    clock.now = NOW + 600 + config.leeway_seconds - 1
    assert verify(token, config, cache, clock)
    clock.now = NOW + 600 + config.leeway_seconds
    assert code_of(token, config, cache, clock) is ReasonCode.AUTH_EXPIRED


def test_a_token_without_nbf_is_accepted_when_require_nbf_is_off(
    idp: LocalIdP, cache: JwksCache, clock: FakeClock
) -> None:
    okta_like = idp.idp_config(require_nbf=False)
    token = idp.mint("dev@example.com", [], extra_claims={"nbf": OMIT}, now=NOW)
    assert verify(token, okta_like, cache, clock).email == "dev@example.com"
    assert code_of(token, idp.idp_config(), cache, clock) is ReasonCode.AUTH_INVALID


def test_custom_email_and_groups_claims_are_read(idp: LocalIdP, cache: JwksCache, clock: FakeClock) -> None:
    custom = idp.idp_config(email_claim="upn", groups_claim="roles")
    token = idp.mint("x@example.com", [], extra_claims={"upn": "dev@corp.example", "roles": ["sre"]}, now=NOW)
    identity = verify(token, custom, cache, clock)
    assert identity.email == "dev@corp.example"
    assert identity.groups == ("sre",)


def test_a_missing_groups_claim_means_no_groups(
    idp: LocalIdP, config: IdpConfig, cache: JwksCache, clock: FakeClock
) -> None:
    token = idp.mint("dev@example.com", [], extra_claims={"groups": OMIT}, now=NOW)
    assert verify(token, config, cache, clock).groups == ()


def test_azp_is_not_checked_when_no_client_ids_are_configured(
    idp: LocalIdP, cache: JwksCache, clock: FakeClock
) -> None:
    token = idp.mint("dev@example.com", [], extra_claims={"azp": "another-client"}, now=NOW)
    assert verify(token, idp.idp_config(allowed_client_ids=()), cache, clock)
    assert code_of(token, idp.idp_config(), cache, clock) is ReasonCode.AUTH_WRONG_AUDIENCE


@pytest.mark.parametrize("claim", ["client_id", "cid"])
def test_okta_client_id_claims_are_checked_too(
    idp: LocalIdP, config: IdpConfig, cache: JwksCache, clock: FakeClock, claim: str
) -> None:
    token = idp.mint("dev@example.com", [], extra_claims={claim: "another-client"}, now=NOW)
    assert code_of(token, config, cache, clock) is ReasonCode.AUTH_WRONG_AUDIENCE


def test_a_token_without_jti_gets_a_derived_token_id(
    idp: LocalIdP, config: IdpConfig, cache: JwksCache, clock: FakeClock
) -> None:
    token = idp.mint("dev@example.com", [], extra_claims={"jti": OMIT}, now=NOW)
    identity = verify(token, config, cache, clock)
    assert identity.token_id.startswith("sha256-")
    assert identity.token_id not in token


def test_a_non_string_token_is_malformed(config: IdpConfig, cache: JwksCache, clock: FakeClock) -> None:
    assert code_of(b"abc.def.ghi", config, cache, clock) is ReasonCode.AUTH_MALFORMED  # type: ignore[arg-type]


def test_size_is_capped_before_any_parsing(
    config: IdpConfig, cache: JwksCache, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed an oversize token")

    monkeypatch.setattr(json, "loads", explode)
    monkeypatch.setattr(parsing_module, "_b64url_decode_strict", explode)
    monkeypatch.setattr(parsing_module, "_strict_json_object", explode)
    huge = "a" * (config.max_token_bytes + 1)
    assert code_of(huge, config, cache, clock) is ReasonCode.AUTH_MALFORMED


def test_deeply_nested_json_is_malformed_not_a_crash(config: IdpConfig, cache: JwksCache, clock: FakeClock) -> None:
    header = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()
    assert code_of(f"{header}.e30.", config, cache, clock) is ReasonCode.AUTH_MALFORMED


def test_a_cache_for_another_jwks_url_is_a_configuration_error(
    idp: LocalIdP, config: IdpConfig, clock: FakeClock
) -> None:
    other = JwksCache("https://elsewhere.example/keys", idp.fetcher(), clock)
    with pytest.raises(ConfigError):
        verify_idp_token(idp.mint("dev@example.com", [], now=NOW), config, other, clock)


def test_a_hostile_kid_is_only_a_dictionary_key(idp: LocalIdP, config: IdpConfig, clock: FakeClock) -> None:
    fetcher = idp.fetcher()
    cache = JwksCache(idp.jwks_url, fetcher, clock)
    token = idp.mint("dev@example.com", [], headers={"kid": "../../../../etc/passwd"}, now=NOW)
    assert code_of(token, config, cache, clock) is ReasonCode.AUTH_UNKNOWN_KEY
    assert fetcher.calls == [idp.jwks_url]


# ---- IdpConfig guards ----------------------------------------------------------------------------


def _config(**overrides: Any) -> IdpConfig:
    values: dict[str, Any] = {
        "issuer": "https://example.okta.com/oauth2/default",
        "audience": "api://mcp-gateway",
        "jwks_url": "https://example.okta.com/oauth2/default/v1/keys",
    }
    values.update(overrides)
    return IdpConfig(**values)


def test_config_defaults_pin_rs256_and_es256() -> None:
    config = _config()
    assert config.algorithms == ("RS256", "ES256")
    assert config.leeway_seconds == 30
    assert config.max_token_bytes == 8192


@pytest.mark.parametrize(
    "algorithms",
    [
        ("none",),
        ("None",),
        ("NONE",),
        ("nOnE",),
        ("HS256",),
        ("HS384",),
        ("hs512",),
        ("RS256", "HS256"),
        ("ES256K",),
        (),
    ],
)
def test_config_refuses_none_symmetric_and_unknown_algorithms(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError):
        _config(algorithms=algorithms)


@pytest.mark.parametrize(
    "overrides",
    [
        {"issuer": "http://example.okta.com/oauth2/default"},
        {"jwks_url": "http://example.okta.com/keys"},
        {"jwks_url": "file:///etc/passwd"},
        {"leeway_seconds": 61},
        {"leeway_seconds": -1},
        {"allowed_typ": ("JWT", "gw-session+jwt")},
        {"allowed_typ": ("application/GW-SESSION+JWT",)},
        {"unexpected": True},
    ],
)
def test_config_refuses_unsafe_settings(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _config(**overrides)


def test_config_allows_plain_http_only_on_loopback() -> None:
    assert _config(issuer="http://127.0.0.1:9000/idp", jwks_url="http://localhost:9000/jwks").issuer


# ---- fingerprints and helpers --------------------------------------------------------------------


def test_token_fingerprint_is_short_keyed_and_never_the_token() -> None:
    key = b"k" * 32
    token = "header.payload.signature"
    first = token_fingerprint(token, key)
    assert len(first) == 16
    assert all(c in "0123456789abcdef" for c in first)
    assert first == token_fingerprint(token, key)
    assert first != token_fingerprint(token, b"q" * 32)
    assert first != token_fingerprint(token + "x", key)
    assert first not in token


def test_token_fingerprint_refuses_a_weak_key() -> None:
    with pytest.raises(ConfigError):
        token_fingerprint("t", b"short")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("public, max-age=600", 600),
        ("max-age=0", 0),
        ('max-age="60"', 60),
        ("no-store", 0),
        ("no-cache, max-age=100", 0),
        ("public", None),
        ("", None),
        (None, None),
        ("s-maxage=600", None),
    ],
)
def test_parse_max_age(header: str | None, expected: int | None) -> None:
    assert parse_max_age(header) == expected


# ---- the local IdP -------------------------------------------------------------------------------


def test_local_idp_publishes_an_rsa_and_an_ec_signing_key(idp: LocalIdP) -> None:
    keys = {k["kid"]: k for k in idp.jwks()["keys"]}
    assert keys[idp.rsa_kid]["kty"] == "RSA"
    assert keys[idp.ec_kid]["crv"] == "P-256"
    assert all(k["use"] == "sig" for k in keys.values())
    assert not any("d" in k for k in keys.values())
    discovery = idp.openid_configuration()
    assert discovery["issuer"] == idp.issuer
    assert discovery["jwks_uri"] == idp.jwks_url
    json.dumps(discovery)


def test_local_idp_keys_persist_across_restarts(tmp_path: Path, clock: FakeClock) -> None:
    first = LocalIdP.for_port(9100, key_dir=tmp_path)
    second = LocalIdP.for_port(9100, key_dir=tmp_path)
    assert (first.rsa_kid, first.ec_kid) == (second.rsa_kid, second.ec_kid)
    for name in ("idp-rsa.pem", "idp-ec.pem"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    cache = JwksCache(second.jwks_url, second.fetcher(), clock)
    token = first.mint("dev@example.com", ["developers"], now=NOW)
    assert verify_idp_token(token, second.idp_config(), cache, clock).email == "dev@example.com"
    assert first.issuer == "http://127.0.0.1:9100/idp"


def test_local_idp_refuses_to_mint_symmetric_tokens(idp: LocalIdP) -> None:
    with pytest.raises(ValueError, match="signs with"):
        idp.mint("dev@example.com", [], alg="HS256")
