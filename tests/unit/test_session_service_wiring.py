"""The gateway keeps one session-token service per key-set secret and (issuer, audience), so its memo of verified
tokens lives as long as the process, and a rotated secret starts afresh."""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace
from typing import Any

import pytest
from mcp_gateway.domain.errors import AuthError, ReasonCode
from mcp_gateway.domain.tokens import IdentityClaims, generate_session_key
from mcp_gateway.gateway import wiring

ISSUER = "https://gw.example"
AUDIENCE = "https://gw.example/mcp"


def secret(kid: str) -> str:
    key = generate_session_key(kid)
    return json.dumps({"active_kid": kid, "keys": [{"kid": kid, "private_pem": key.private_pem}]})


def identity() -> IdentityClaims:
    import time

    return IdentityClaims(
        sub="00u1",
        email="dev@example.com",
        groups=("developers",),
        expires_at=int(time.time()) + 3600,
        issuer="https://idp.example",
        token_id="idp-jti",
    )


@pytest.fixture
def current_secret(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    holder = {"raw": secret("k1")}
    monkeypatch.setattr(wiring, "get_secret_text", lambda arn: holder["raw"])
    return holder


def settings() -> Any:
    return SimpleNamespace(SESSION_KEYS_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:keys")


def test_the_same_secret_and_urls_give_the_same_service_and_its_memo(current_secret: dict[str, str]) -> None:
    session_tokens = wiring._session_tokens(settings())
    first = session_tokens(ISSUER, AUDIENCE)
    assert session_tokens(ISSUER, AUDIENCE) is first
    assert session_tokens(ISSUER, AUDIENCE + "/other") is not first


def test_a_rotated_secret_gives_a_new_service_that_refuses_tokens_of_the_removed_key(
    current_secret: dict[str, str],
) -> None:
    session_tokens = wiring._session_tokens(settings())
    old = session_tokens(ISSUER, AUDIENCE)
    token = old.mint(identity()).access_token
    assert old.verify(token).sub == "00u1"
    current_secret["raw"] = secret("k2")
    rotated = session_tokens(ISSUER, AUDIENCE)
    assert rotated is not old
    with pytest.raises(AuthError) as refused:
        rotated.verify(token)
    assert refused.value.code == ReasonCode.AUTH_UNKNOWN_KEY


def test_many_distinct_urls_never_keep_more_than_the_bound(current_secret: dict[str, str]) -> None:
    session_tokens = wiring._session_tokens(settings())
    services = [session_tokens(f"https://gw{i}.example", AUDIENCE) for i in range(40)]
    assert all(a is not b for a, b in itertools.pairwise(services))
    assert session_tokens("https://gw39.example", AUDIENCE) is services[-1]
    closure = session_tokens.__closure__ or ()
    held = [cell.cell_contents for cell in closure if isinstance(cell.cell_contents, dict)]
    assert held and all(len(d) <= wiring._SESSION_SERVICES_MAX for d in held)
