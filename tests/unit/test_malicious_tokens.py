"""Every hostile token from the local IdP's corpus is refused with its own reason code, on both paths.

The expected codes are written out here, independently of the corpus, so a change to either the
verifier or the corpus that shifts a code fails loudly.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from mcp_gateway.domain.errors import AuthError, ReasonCode
from mcp_gateway.domain.tokens import (
    FORBIDDEN_HEADERS,
    JwksCache,
    SessionKeySet,
    SessionTokenService,
    generate_session_key,
    verify_idp_token,
)
from mcp_gateway_local.idp import P256_ORDER, LocalIdP, MaliciousCase

NOW = 1_750_000_000.0
ATTACKER_URL = "https://attacker.invalid/.well-known/jwks.json"
GATEWAY = "https://abc123.lambda-url.eu-west-1.on.aws"

IDP = LocalIdP("http://127.0.0.1:8765/idp", audience="api://mcp-gateway")
SESSION_KEY = generate_session_key("gw-2025-01")
CASES = IDP.malicious_tokens(
    attacker_url=ATTACKER_URL,
    now=NOW,
    session_issuer=GATEWAY,
    session_audience=f"{GATEWAY}/mcp",
    session_key=SESSION_KEY,
)

A = ReasonCode
BAD_ALG, BAD_SIG, MALFORMED = A.AUTH_BAD_ALGORITHM, A.AUTH_BAD_SIGNATURE, A.AUTH_MALFORMED
FORBIDDEN, UNKNOWN_KEY, INVALID = A.AUTH_FORBIDDEN_HEADER, A.AUTH_UNKNOWN_KEY, A.AUTH_INVALID
WRONG_ISS, WRONG_AUD, WRONG_TYP = A.AUTH_WRONG_ISSUER, A.AUTH_WRONG_AUDIENCE, A.AUTH_WRONG_TOKEN_TYPE
EXPIRED = A.AUTH_EXPIRED

# name -> (verify_idp_token code, or None for a valid IdP token; SessionTokenService.verify code)
EXPECTED: dict[str, tuple[ReasonCode | None, ReasonCode]] = {
    "alg_none_unsigned": (BAD_ALG, WRONG_TYP),
    "alg_None_unsigned": (BAD_ALG, WRONG_TYP),
    "alg_NONE_unsigned": (BAD_ALG, WRONG_TYP),
    "alg_nOnE_unsigned": (BAD_ALG, WRONG_TYP),
    "alg_none_with_signature": (BAD_ALG, WRONG_TYP),
    "alg_None_with_signature": (BAD_ALG, WRONG_TYP),
    "alg_NONE_with_signature": (BAD_ALG, WRONG_TYP),
    "alg_missing": (BAD_ALG, BAD_ALG),
    "alg_empty": (BAD_ALG, BAD_ALG),
    "signature_stripped": (BAD_SIG, WRONG_TYP),
    "signature_flipped": (BAD_SIG, WRONG_TYP),
    "signature_truncated": (BAD_SIG, WRONG_TYP),
    "payload_tampered": (BAD_SIG, WRONG_TYP),
    "hs256_with_rsa_public_key_pem": (BAD_ALG, WRONG_TYP),
    "hs256_empty_secret": (BAD_ALG, WRONG_TYP),
    "hs256_common_secret": (BAD_ALG, WRONG_TYP),
    "alg_rs512_not_allowed": (BAD_ALG, WRONG_TYP),
    "alg_ps256_not_allowed": (BAD_ALG, WRONG_TYP),
    "alg_es256_with_rsa_kid": (BAD_ALG, WRONG_TYP),
    "es256_r_s_zero": (BAD_SIG, WRONG_TYP),
    "es256_r_zero": (BAD_SIG, WRONG_TYP),
    "es256_s_zero": (BAD_SIG, WRONG_TYP),
    "es256_r_s_group_order": (BAD_SIG, WRONG_TYP),
    "embedded_jwk_header": (FORBIDDEN, FORBIDDEN),
    "jku_attacker_url": (FORBIDDEN, FORBIDDEN),
    "x5u_attacker_url": (FORBIDDEN, FORBIDDEN),
    "x5c_self_signed": (FORBIDDEN, FORBIDDEN),
    "kid_path_traversal": (UNKNOWN_KEY, WRONG_TYP),
    "kid_path_traversal_hs256_empty_key": (BAD_ALG, WRONG_TYP),
    "kid_sql_injection": (UNKNOWN_KEY, WRONG_TYP),
    "kid_unknown": (UNKNOWN_KEY, WRONG_TYP),
    "kid_missing": (UNKNOWN_KEY, WRONG_TYP),
    "kid_correct_wrong_key": (BAD_SIG, WRONG_TYP),
    "kid_too_long": (MALFORMED, MALFORMED),
    "kid_not_string": (MALFORMED, MALFORMED),
    "kid_control_characters": (MALFORMED, MALFORMED),
    "iss_trailing_slash": (WRONG_ISS, WRONG_TYP),
    "iss_uppercase": (WRONG_ISS, WRONG_TYP),
    "iss_other_scheme": (WRONG_ISS, WRONG_TYP),
    "iss_extra_path": (WRONG_ISS, WRONG_TYP),
    "iss_unicode_lookalike": (WRONG_ISS, WRONG_TYP),
    "iss_missing": (WRONG_ISS, WRONG_TYP),
    "aud_missing": (WRONG_AUD, WRONG_TYP),
    "aud_wrong": (WRONG_AUD, WRONG_TYP),
    "aud_number": (WRONG_AUD, WRONG_TYP),
    "aud_object": (WRONG_AUD, WRONG_TYP),
    "aud_list_with_non_string": (WRONG_AUD, WRONG_TYP),
    "aud_empty_list": (WRONG_AUD, WRONG_TYP),
    "azp_other_client": (WRONG_AUD, WRONG_TYP),
    "exp_past": (EXPIRED, WRONG_TYP),
    "exp_missing": (INVALID, WRONG_TYP),
    "exp_far_future": (INVALID, WRONG_TYP),
    "exp_not_a_number": (INVALID, WRONG_TYP),
    "exp_boolean": (INVALID, WRONG_TYP),
    "exp_overflow_to_infinity": (INVALID, WRONG_TYP),
    "exp_nan_literal": (MALFORMED, MALFORMED),
    "nbf_future": (INVALID, WRONG_TYP),
    "nbf_missing": (INVALID, WRONG_TYP),
    "iat_future": (INVALID, WRONG_TYP),
    "iat_missing": (INVALID, WRONG_TYP),
    "sub_missing": (INVALID, WRONG_TYP),
    "email_missing": (INVALID, WRONG_TYP),
    "email_not_an_email": (INVALID, WRONG_TYP),
    "email_unverified": (INVALID, WRONG_TYP),
    "groups_not_a_list": (INVALID, WRONG_TYP),
    "groups_too_many": (INVALID, WRONG_TYP),
    "groups_non_string": (INVALID, WRONG_TYP),
    "groups_oversize_entry": (INVALID, WRONG_TYP),
    "crit_unknown_extension": (FORBIDDEN, FORBIDDEN),
    "b64_unencoded_payload": (FORBIDDEN, FORBIDDEN),
    "typ_session_token_at_idp": (WRONG_TYP, BAD_ALG),
    "typ_unexpected": (WRONG_TYP, WRONG_TYP),
    "duplicate_claim_sub": (MALFORMED, MALFORMED),
    "duplicate_header_alg": (MALFORMED, MALFORMED),
    "duplicate_nested_key": (MALFORMED, MALFORMED),
    "malformed_empty": (MALFORMED, MALFORMED),
    "malformed_two_segments": (MALFORMED, MALFORMED),
    "malformed_four_segments": (MALFORMED, MALFORMED),
    "malformed_five_segments_jwe": (MALFORMED, MALFORMED),
    "malformed_non_base64": (MALFORMED, MALFORMED),
    "malformed_padded_base64": (MALFORMED, MALFORMED),
    "malformed_header_not_json": (MALFORMED, MALFORMED),
    "malformed_payload_not_json": (MALFORMED, MALFORMED),
    "malformed_header_array": (MALFORMED, MALFORMED),
    "malformed_payload_null": (MALFORMED, MALFORMED),
    "malformed_payload_not_utf8": (MALFORMED, MALFORMED),
    "malformed_non_ascii": (MALFORMED, MALFORMED),
    "malformed_whitespace": (MALFORMED, MALFORMED),
    "oversize_token": (MALFORMED, MALFORMED),
    # session-token forgeries, aimed at /mcp
    "session_signed_by_unknown_key": (WRONG_TYP, UNKNOWN_KEY),
    "session_alg_none": (WRONG_TYP, BAD_ALG),
    "session_es256_zero_signature": (WRONG_TYP, BAD_SIG),
    "idp_token_as_session_token": (None, WRONG_TYP),
    "idp_token_without_typ_as_session_token": (None, WRONG_TYP),
    "session_known_kid_wrong_key": (WRONG_TYP, BAD_SIG),
    "session_wrong_audience": (WRONG_TYP, WRONG_AUD),
    "session_audience_list": (WRONG_TYP, WRONG_AUD),
    "session_wrong_issuer": (WRONG_TYP, WRONG_ISS),
    "session_lifetime_too_long": (WRONG_TYP, INVALID),
    "session_expired": (WRONG_TYP, EXPIRED),
    "session_hs256_with_public_key": (WRONG_TYP, BAD_ALG),
    "session_jku_header": (FORBIDDEN, FORBIDDEN),
}


class FakeClock:
    def __call__(self) -> float:
        return NOW


class RecordingFetcher:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> tuple[dict[str, Any], int | None]:
        self.urls.append(url)
        if url != IDP.jwks_url:
            raise AssertionError(f"fetched a URL named by a token: {url}")
        return IDP.jwks(), 300


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Zero outbound connections while hostile tokens are verified."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a verifier opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def fetcher() -> RecordingFetcher:
    return RecordingFetcher()


@pytest.fixture(scope="module")
def cache(fetcher: RecordingFetcher) -> JwksCache:
    return JwksCache(IDP.jwks_url, fetcher, FakeClock())


@pytest.fixture(scope="module")
def session_service() -> SessionTokenService:
    keys = SessionKeySet(active_kid=SESSION_KEY.kid, keys=(SESSION_KEY,))
    return SessionTokenService(keys, issuer=GATEWAY, audience=f"{GATEWAY}/mcp", clock=FakeClock())


def by_name(name: str) -> MaliciousCase:
    return next(c for c in CASES if c.name == name)


# ---- the corpus itself ---------------------------------------------------------------------------


def test_the_corpus_has_every_expected_case_and_no_unlisted_one() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert set(names) == set(EXPECTED)
    assert len(names) >= 26


def test_the_corpus_records_the_same_codes_as_this_test() -> None:
    for case in CASES:
        assert (case.idp_code, case.session_code) == EXPECTED[case.name], case.name


def test_the_corpus_covers_every_required_threat() -> None:
    required = {
        "alg_none_unsigned", "alg_None_with_signature", "alg_NONE_unsigned", "signature_stripped",
        "signature_flipped", "hs256_with_rsa_public_key_pem", "hs256_empty_secret", "hs256_common_secret",
        "es256_r_s_zero", "embedded_jwk_header", "jku_attacker_url", "x5u_attacker_url", "x5c_self_signed",
        "kid_path_traversal", "kid_sql_injection", "kid_unknown", "kid_correct_wrong_key",
        "iss_trailing_slash", "iss_uppercase", "iss_other_scheme", "aud_missing", "aud_wrong", "aud_number",
        "aud_object", "azp_other_client", "exp_past", "nbf_future", "iat_future", "exp_missing",
        "crit_unknown_extension", "alg_rs512_not_allowed", "alg_ps256_not_allowed", "duplicate_claim_sub",
        "duplicate_header_alg", "malformed_two_segments", "malformed_four_segments", "malformed_non_base64",
        "malformed_header_not_json", "oversize_token", "session_signed_by_unknown_key",
        "session_wrong_audience", "idp_token_as_session_token",
    }  # fmt: skip
    assert required <= {c.name for c in CASES}


def test_the_oversize_case_is_really_over_the_limit() -> None:
    assert len(by_name("oversize_token").token) > IDP.idp_config().max_token_bytes


# ---- both verify paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_idp_path_refuses_with_the_expected_code(case: MaliciousCase, cache: JwksCache) -> None:
    expected, _ = EXPECTED[case.name]
    config = IDP.idp_config()
    if expected is None:  # a genuine IdP token: only hostile on /mcp
        assert verify_idp_token(case.token, config, cache, FakeClock()).email
        return
    with pytest.raises(AuthError) as info:
        verify_idp_token(case.token, config, cache, FakeClock())
    assert info.value.code is expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_session_path_refuses_every_case(case: MaliciousCase, session_service: SessionTokenService) -> None:
    _, expected = EXPECTED[case.name]
    with pytest.raises(AuthError) as info:
        session_service.verify(case.token)
    assert info.value.code is expected


def test_only_the_configured_jwks_url_was_ever_fetched(fetcher: RecordingFetcher, cache: JwksCache) -> None:
    for case in CASES:
        with contextlib.suppress(AuthError):
            verify_idp_token(case.token, IDP.idp_config(), cache, FakeClock())
    assert fetcher.urls, "the JWKS was fetched at least once"
    assert set(fetcher.urls) == {IDP.jwks_url}
    assert ATTACKER_URL not in fetcher.urls


@pytest.mark.parametrize("name", ["jku_attacker_url", "x5u_attacker_url", "embedded_jwk_header", "x5c_self_signed"])
def test_key_naming_headers_are_refused_before_any_fetch(name: str) -> None:
    fetcher = RecordingFetcher()
    cold = JwksCache(IDP.jwks_url, fetcher, FakeClock())
    with pytest.raises(AuthError) as info:
        verify_idp_token(by_name(name).token, IDP.idp_config(), cold, FakeClock())
    assert info.value.code is ReasonCode.AUTH_FORBIDDEN_HEADER
    assert fetcher.urls == []
    assert cold.fetch_count == 0


def test_the_forbidden_header_list_is_the_rfc_8725_set() -> None:
    assert frozenset({"jku", "x5u", "jwk", "x5c"}) == FORBIDDEN_HEADERS


# ---- proofs about the libraries underneath -------------------------------------------------------


@pytest.mark.parametrize(("r", "s"), [(0, 0), (0, 1), (1, 0), (P256_ORDER, P256_ORDER), (P256_ORDER, 1)], ids=str)
def test_cryptography_rejects_ecdsa_signatures_outside_the_valid_range(r: int, s: int) -> None:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(InvalidSignature):
        public.verify(encode_dss_signature(r, s), b"message", ec.ECDSA(hashes.SHA256()))
    algorithm = jwt.get_algorithm_by_name("ES256") if hasattr(jwt, "get_algorithm_by_name") else None
    if algorithm is None:
        algorithm = jwt.PyJWS().get_algorithm_by_name("ES256")
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert algorithm.verify(b"message", public, raw) is False


def test_pyjwt_itself_refuses_a_pem_public_key_as_an_hmac_secret() -> None:
    token = by_name("hs256_with_rsa_public_key_pem").token
    with pytest.raises(jwt.InvalidKeyError):
        jwt.decode(token, IDP.rsa_public_pem(), algorithms=["HS256"])
