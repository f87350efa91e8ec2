"""The data-role client cache (adapters/assumed_role.py): one client per (user role session, service) until the
session's credentials near expiry, then the role is assumed again. botocore Stubber, no network."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.stub import Stubber
from conftest import FIXED_NOW, FakeClock
from mcp_gateway.adapters import aws
from mcp_gateway.adapters.assumed_role import RENEW_BEFORE_EXPIRY_S, AssumedRoleClients

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/data"
ALICE = {"email": "alice@example.com", "token_id": "jti-1", "groups": ["developers"]}


class _Base:
    """A base Session whose STS client is stubbed; counts the clients made from it."""

    def __init__(self, sts: Any) -> None:
        self.sts = sts
        self.services: list[str] = []

    def client(self, service: str, **kwargs: Any) -> Any:
        self.services.append(service)
        if service == "sts":
            return self.sts
        return aws.credentials_session("base", "base", region=REGION).client(service, **kwargs)


def _sts() -> Any:
    session = aws.credentials_session("testing", "testing", region=REGION)
    return aws.session_client(session, "sts", REGION, endpoint_url="https://sts.invalid")


def _credentials(key_id: str, expires_at: float) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": key_id,
            "SecretAccessKey": "secret-secret-secret",
            "SessionToken": "session-token-session-token",
            "Expiration": dt.datetime.fromtimestamp(expires_at, tz=dt.UTC),
        }
    }


def _key(client: Any) -> str:
    return str(client._request_signer._credentials.access_key)


@pytest.fixture
def setup() -> tuple[AssumedRoleClients, Stubber, FakeClock, _Base]:
    sts = _sts()
    base = _Base(sts)
    clock = FakeClock()
    return AssumedRoleClients(base, ROLE, REGION, clock=clock), Stubber(sts), clock, base


def test_one_client_per_user_session_and_service_is_reused_with_one_assume_role(setup: Any) -> None:
    factory, stub, _, base = setup
    with stub:
        stub.add_response("assume_role", _credentials("ASIAFIRSTFIRSTFIRST1", FIXED_NOW + 900))
        s3 = factory("s3", ALICE)
        assert factory("s3", ALICE) is s3
        logs = factory("logs", ALICE)
        assert factory("logs", ALICE) is logs
        assert logs is not s3
        stub.assert_no_pending_responses()
    assert base.services == ["sts"]
    assert _key(s3) == _key(logs) == "ASIAFIRSTFIRSTFIRST1"


def test_credentials_near_expiry_are_assumed_again_and_their_clients_replaced(setup: Any) -> None:
    factory, stub, clock, _ = setup
    with stub:
        stub.add_response("assume_role", _credentials("ASIAFIRSTFIRSTFIRST1", FIXED_NOW + 900))
        stub.add_response("assume_role", _credentials("ASIASECONDSECONDSEC2", FIXED_NOW + 1800))
        first = factory("s3", ALICE)
        clock.now = FIXED_NOW + 900 - RENEW_BEFORE_EXPIRY_S - 1
        assert factory("s3", ALICE) is first  # still inside the credentials' lifetime
        clock.now = FIXED_NOW + 900 - RENEW_BEFORE_EXPIRY_S + 1
        renewed = factory("s3", ALICE)
        stub.assert_no_pending_responses()
    assert renewed is not first
    assert _key(first) == "ASIAFIRSTFIRSTFIRST1"
    assert _key(renewed) == "ASIASECONDSECONDSEC2"


def test_expired_credentials_are_never_served_from_the_cache(setup: Any) -> None:
    factory, stub, clock, _ = setup
    with stub:
        stub.add_response("assume_role", _credentials("ASIAFIRSTFIRSTFIRST1", FIXED_NOW + 900))
        stub.add_response("assume_role", _credentials("ASIASECONDSECONDSEC2", FIXED_NOW + 5000))
        factory("logs", ALICE)
        clock.now = FIXED_NOW + 3600  # long after the first credentials expired
        assert _key(factory("logs", ALICE)) == "ASIASECONDSECONDSEC2"
        stub.assert_no_pending_responses()


def test_a_principal_with_other_groups_or_another_token_never_reuses_a_tagged_session(setup: Any) -> None:
    factory, stub, _, _ = setup
    with stub:
        for key_id in ("ASIAFIRSTFIRSTFIRST1", "ASIASECONDSECONDSEC2", "ASIATHIRDTHIRDTHIRD3"):
            stub.add_response("assume_role", _credentials(key_id, FIXED_NOW + 900))
        plain = factory("s3", ALICE)
        admin = factory("s3", {**ALICE, "groups": ["developers", "admins"]})
        other_token = factory("s3", {**ALICE, "token_id": "jti-2"})
        stub.assert_no_pending_responses()
    assert [_key(c) for c in (plain, admin, other_token)] == [
        "ASIAFIRSTFIRSTFIRST1",
        "ASIASECONDSECONDSEC2",
        "ASIATHIRDTHIRDTHIRD3",
    ]


def test_without_a_data_role_one_client_per_service_of_the_functions_own_session_is_reused() -> None:
    base = _Base(_sts())
    factory = AssumedRoleClients(base, "", REGION)
    s3 = factory("s3", ALICE)
    assert factory("s3", {"email": "bob@example.com"}) is s3
    assert factory("logs", ALICE) is not s3
    assert base.services == ["s3", "logs"]
