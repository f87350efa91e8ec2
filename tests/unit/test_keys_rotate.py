"""`mcp-gateway keys rotate | promote | retire` (issue 18): the runbook's key rotation as commands, against the
session-key secret in Secrets Manager (moto), with no hand-merged keyset JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import FIXED_NOW, FakeClock
from mcp_gateway.adapters.session_key_store import SessionKeyStore
from mcp_gateway.domain import key_rotation
from mcp_gateway.domain.errors import AuthError
from mcp_gateway.domain.tokens.session import SessionKeySet, SessionTokenService, generate_session_key
from mcp_gateway_local import cli, keys_cli
from moto import mock_aws


@pytest.fixture
def store() -> Iterator[SessionKeyStore]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        first = SessionKeySet(active_kid="k1", keys=(generate_session_key("k1"),))
        arn = client.create_secret(Name="session-keys", SecretString=first.model_dump_json())["ARN"]
        yield SessionKeyStore(client, arn)


def keys(command: str, kid: str | None = None, now: bool = False, inactive: bool = False) -> argparse.Namespace:
    return argparse.Namespace(keys_command=command, kid=kid, now=now, inactive=inactive, stack=None, region=None)


def test_rotate_adds_a_verify_only_key_and_names_the_promote_step(store: SessionKeyStore) -> None:
    answer = keys_cli.run(keys("rotate"), store, FIXED_NOW)
    stored = current(store)
    assert stored.active_kid == "k1" and len(stored.keys) == 2
    new_kid = stored.keys[1].kid
    assert new_kid == "k-20250615150640"
    assert answer["next"].endswith(f"keys promote {new_kid}")
    assert "private_pem" not in json.dumps(answer)


def test_promote_then_retire_keeps_sessions_signed_by_the_old_key_until_it_is_retired(
    store: SessionKeyStore,
) -> None:
    clock = FakeClock()
    old_token = SessionTokenService(current(store), issuer="https://gw", audience="https://gw/mcp", clock=clock)
    issued = old_token.mint(identity())
    keys_cli.run(keys("rotate", kid="k2"), store, FIXED_NOW)
    answer = keys_cli.run(keys("promote", kid="k2"), store, FIXED_NOW)
    assert answer["active_kid"] == "k2" and answer["next"].endswith("keys retire k1")
    promoted = SessionTokenService(current(store), issuer="https://gw", audience="https://gw/mcp", clock=clock)
    assert promoted.verify(issued.access_token).email == "dev@example.com"  # the old key still verifies
    keys_cli.run(keys("retire", kid="k1"), store, FIXED_NOW)
    retired = SessionTokenService(current(store), issuer="https://gw", audience="https://gw/mcp", clock=clock)
    with pytest.raises(AuthError):
        retired.verify(issued.access_token)
    assert [k.kid for k in current(store).keys] == ["k2"]


def test_the_first_rotate_on_a_fresh_deploy_creates_the_key_set() -> None:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        store = SessionKeyStore(client, client.create_secret(Name="fresh")["ARN"])
        assert store.read() is None
        answer = keys_cli.run(keys("rotate", kid="k1"), store, FIXED_NOW)
        assert answer["active_kid"] == "k1"
        stored = store.read()
        assert stored is not None and [k.kid for k in stored.keys] == ["k1"]


def test_retire_inactive_drops_every_key_but_the_active_one(store: SessionKeyStore) -> None:
    keys_cli.run(keys("rotate", kid="k2"), store, FIXED_NOW)
    keys_cli.run(keys("promote", kid="k2"), store, FIXED_NOW)
    keys_cli.run(keys("retire", inactive=True), store, FIXED_NOW)
    stored = store.read()
    assert stored is not None and [k.kid for k in stored.keys] == ["k2"]


def test_the_active_key_cannot_be_retired(store: SessionKeyStore) -> None:
    with pytest.raises(key_rotation.RotationError):
        keys_cli.run(keys("retire", kid="k1"), store, FIXED_NOW)
    assert current(store).active_kid == "k1"


def test_rotate_now_replaces_every_key_for_a_leaked_one(store: SessionKeyStore) -> None:
    keys_cli.run(keys("rotate", kid="k9", now=True), store, FIXED_NOW)
    stored = current(store)
    assert stored.active_kid == "k9" and [k.kid for k in stored.keys] == ["k9"]


def test_a_key_cli_error_is_one_line_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--state-dir", str(tmp_path), "keys", "list"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: no local stack")


def current(store: SessionKeyStore) -> SessionKeySet:
    keyset = store.read()
    assert keyset is not None
    return keyset


def identity() -> Any:
    from mcp_gateway.domain.tokens.idp import IdentityClaims

    return IdentityClaims(
        sub="00u1",
        email="dev@example.com",
        groups=("developers",),
        expires_at=int(FIXED_NOW) + 3600,
        issuer="https://idp.example",
        token_id="jti-1",
    )
