"""The session service remembers tokens it verified, and the memo can never accept what a full check refuses."""

from __future__ import annotations

import concurrent.futures

import pytest
from conftest import FIXED_NOW, FakeClock
from mcp_gateway.domain.errors import AuthError, ReasonCode
from mcp_gateway.domain.tokens import IdentityClaims, SessionKeySet, SessionTokenService, generate_session_key
from mcp_gateway.domain.tokens import session as session_module

ISSUER = "https://gw.example"
AUDIENCE = "https://gw.example/mcp"


def identity(sub: str = "00u123") -> IdentityClaims:
    return IdentityClaims(
        sub=sub,
        email="dev@example.com",
        groups=("developers",),
        expires_at=int(FIXED_NOW + 3600),
        issuer="https://idp.example",
        token_id="idp-jti",
    )


@pytest.fixture
def svc(clock: FakeClock) -> SessionTokenService:
    key = generate_session_key("k1")
    return SessionTokenService(
        SessionKeySet(active_kid="k1", keys=(key,)), issuer=ISSUER, audience=AUDIENCE, clock=clock
    )


def counting_signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = session_module._verify_es256

    def counted(*args: object) -> None:
        calls.append(1)
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(session_module, "_verify_es256", counted)
    return calls


def test_a_token_verified_once_is_not_signature_checked_again(
    svc: SessionTokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting_signature_checks(monkeypatch)
    token = svc.mint(identity()).access_token
    first = svc.verify(token)
    second = svc.verify(token)
    assert first == second
    assert first.sub == "00u123"
    assert len(calls) == 1


def test_a_remembered_token_still_expires_and_is_then_forgotten(
    svc: SessionTokenService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = svc.mint(identity())
    svc.verify(issued.access_token)
    clock.now = issued.expires_at + svc.leeway_seconds + 1
    with pytest.raises(AuthError) as refused:
        svc.verify(issued.access_token)
    assert refused.value.code == ReasonCode.AUTH_EXPIRED
    calls = counting_signature_checks(monkeypatch)
    with pytest.raises(AuthError) as again:
        svc.verify(issued.access_token)
    assert again.value.code == ReasonCode.AUTH_EXPIRED
    assert len(calls) == 1  # forgotten: the second refusal came from a full check


def test_a_token_differing_in_one_signature_character_is_checked_in_full_and_refused(
    svc: SessionTokenService,
) -> None:
    token = svc.mint(identity()).access_token
    svc.verify(token)
    head, body, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(AuthError) as refused:
        svc.verify(f"{head}.{body}.{flipped}")
    assert refused.value.code in {ReasonCode.AUTH_BAD_SIGNATURE, ReasonCode.AUTH_MALFORMED}


def test_a_service_with_a_new_key_set_does_not_inherit_what_the_old_one_remembered(
    svc: SessionTokenService, clock: FakeClock
) -> None:
    token = svc.mint(identity()).access_token
    svc.verify(token)
    rotated = SessionTokenService(
        SessionKeySet(active_kid="k2", keys=(generate_session_key("k2"),)),
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=clock,
    )
    with pytest.raises(AuthError) as refused:
        rotated.verify(token)
    assert refused.value.code == ReasonCode.AUTH_UNKNOWN_KEY


def test_the_memo_holds_at_most_its_bound_and_evicts_the_oldest(
    svc: SessionTokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "VERIFIED_CACHE_MAX", 8)
    tokens = [svc.mint(identity(f"user-{i}")).access_token for i in range(12)]
    for token in tokens:
        svc.verify(token)
    assert len(svc._verified) == 8
    calls = counting_signature_checks(monkeypatch)
    assert svc.verify(tokens[-1]).sub == "user-11"
    assert calls == []  # still remembered
    assert svc.verify(tokens[0]).sub == "user-0"
    assert calls == [1]  # evicted, so verified in full again


def test_parallel_verifications_of_many_tokens_agree_with_a_full_check(svc: SessionTokenService) -> None:
    tokens = [svc.mint(identity(f"user-{i % 20}")).access_token for i in range(40)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        subs = list(pool.map(lambda t: svc.verify(t).sub, tokens * 5))
    assert subs == [f"user-{i % 20}" for i in range(40)] * 5
