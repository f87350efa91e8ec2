"""Every hostile token of the malicious-token table is refused with its own reason code, on both paths.

The expected codes have one home, the table in ``tests/corpora/malicious_tokens.py`` (the end-to-end
identity tests read the same rows), so a change to the verifier that shifts a code fails here.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import jwt
import pytest
from conftest import FakeClock
from corpora.malicious_tokens import P256_ORDER, TABLE, MaliciousCase, build_corpus
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
from mcp_gateway_local.idp import LocalIdP, RecordingFetcher

NOW = 1_750_000_000.0
ATTACKER_URL = "https://attacker.invalid/.well-known/jwks.json"
GATEWAY = "https://abc123.lambda-url.eu-west-1.on.aws"

IDP = LocalIdP("http://127.0.0.1:8765/idp", audience="api://mcp-gateway")
SESSION_KEY = generate_session_key("gw-2025-01")
CASES = build_corpus(
    IDP,
    attacker_url=ATTACKER_URL,
    now=NOW,
    session_issuer=GATEWAY,
    session_audience=f"{GATEWAY}/mcp",
    session_key=SESSION_KEY,
)

ROWS = {row.name: row for row in TABLE}


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
    return IDP.fetcher()


@pytest.fixture(scope="module")
def cache(fetcher: RecordingFetcher) -> JwksCache:
    return JwksCache(IDP.jwks_url, fetcher, FakeClock(NOW))


@pytest.fixture(scope="module")
def session_service() -> SessionTokenService:
    keys = SessionKeySet(active_kid=SESSION_KEY.kid, keys=(SESSION_KEY,))
    return SessionTokenService(keys, issuer=GATEWAY, audience=f"{GATEWAY}/mcp", clock=FakeClock(NOW))


def by_name(name: str) -> MaliciousCase:
    return next(c for c in CASES if c.name == name)


# ---- the corpus itself ---------------------------------------------------------------------------


def test_the_corpus_has_every_expected_case_and_no_unlisted_one() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert names == [row.name for row in TABLE], "every row of the table is built once, in table order"
    assert len(names) >= 26


def test_every_built_case_carries_its_table_rows_codes_and_only_genuine_idp_tokens_lack_an_idp_code() -> None:
    for case in CASES:
        row = ROWS[case.name]
        assert (case.idp_code, case.session_code, case.idp_code is None) == (
            row.idp_code,
            row.session_code,
            case.name.startswith("idp_token_"),
        ), case.name


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
    expected = case.idp_code
    config = IDP.idp_config()
    if expected is None:  # a genuine IdP token: only hostile on /mcp
        assert verify_idp_token(case.token, config, cache, FakeClock(NOW)).email
        return
    with pytest.raises(AuthError) as info:
        verify_idp_token(case.token, config, cache, FakeClock(NOW))
    assert info.value.code is expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_session_path_refuses_every_case(case: MaliciousCase, session_service: SessionTokenService) -> None:
    expected = case.session_code
    with pytest.raises(AuthError) as info:
        session_service.verify(case.token)
    assert info.value.code is expected


def test_only_the_configured_jwks_url_was_ever_fetched(fetcher: RecordingFetcher, cache: JwksCache) -> None:
    for case in CASES:
        with contextlib.suppress(AuthError):
            verify_idp_token(case.token, IDP.idp_config(), cache, FakeClock(NOW))
    assert fetcher.calls, "the JWKS was fetched at least once"
    assert set(fetcher.calls) == {IDP.jwks_url}
    assert ATTACKER_URL not in fetcher.calls


@pytest.mark.parametrize("name", ["jku_attacker_url", "x5u_attacker_url", "embedded_jwk_header", "x5c_self_signed"])
def test_key_naming_headers_are_refused_before_any_fetch(name: str) -> None:
    fetcher = IDP.fetcher()
    cold = JwksCache(IDP.jwks_url, fetcher, FakeClock(NOW))
    with pytest.raises(AuthError) as info:
        verify_idp_token(by_name(name).token, IDP.idp_config(), cold, FakeClock(NOW))
    assert info.value.code is ReasonCode.AUTH_FORBIDDEN_HEADER
    assert fetcher.calls == []
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
