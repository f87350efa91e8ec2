"""Session behaviour (issue 21): fan-out and list-then-read-everything are stopped from what a principal DID
in the policy's window, whatever its words; a write after an untrusted read goes to review, also with a new
token; the session is the IdP subject, never the token. Through the real Validator with an in-memory store
that has the DynamoDB item semantics (ADD to string sets, SET flags)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from mcp_gateway.domain import session as session_module
from mcp_gateway.domain.models import ActionRequest, Principal
from mcp_gateway.domain.policy import Policy, evaluate, explain
from mcp_gateway.domain.session import SessionState, observe, slice_keys
from mcp_gateway.gateway.tool_explain_policy import action_request
from mcp_gateway.handlers.validate import Validator
from mcp_gateway.policy_loader import load_policy

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_795_000_000.0
BUCKETS = ("acme-app-logs", "acme-customer-exports", "acme-scratch")


class MemoryStore:
    """The rate-limit table's session items, with UpdateItem/BatchGetItem semantics."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.fail = False

    def read(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        if self.fail:
            raise RuntimeError("table unavailable")
        out = []
        for key in keys:
            if key in self.items:
                out.append({"slice": int(key.rsplit("#", 1)[-1]), **self.items[key]})
        return out

    def record(self, key: str, update: Mapping[str, list[str] | int], expires_at: int) -> dict[str, Any] | None:
        if self.fail:
            raise RuntimeError("table unavailable")
        before = self.read([key])
        item = self.items.setdefault(key, {})
        for name, value in update.items():
            if isinstance(value, list):
                item[name] = sorted(set(item.get(name, [])) | set(value))
            else:
                item[name] = value
        return before[0] if before else None


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(str(ROOT / "policy" / "gateway-policy.yaml"))


def principal(token: str = "t1", groups: tuple[str, ...] = ("developers", "sre")) -> Principal:
    return Principal(sub="idp|alice", email="alice@example.com", groups=groups, token_id=token, expires_at=0)


def call(tool: str, args: dict[str, Any], *, token: str = "t1", at: float = NOW) -> ActionRequest:
    return action_request(tool, args, principal(token), region="us-east-1", account="123456789012", now=at)


def decide(validator: Validator, request: ActionRequest) -> dict[str, Any]:
    out = validator.handle({"request": request.model_dump(mode="json")})
    decision: dict[str, Any] = out["decision"]
    return decision


@pytest.fixture
def validator(policy: Policy) -> Validator:
    v = Validator(policy, "", b"k" * 32, clock=lambda: NOW)
    v.sessions = MemoryStore()
    return v


@pytest.mark.parametrize("intent", ["", "debugging the export job", "list the buckets, then read them all"])
def test_listing_the_buckets_then_reading_across_all_of_them_is_stopped_within_the_threshold(
    validator: Validator, policy: Policy, intent: str
) -> None:
    decisions = [decide(validator, call("list_buckets", {"intent": intent}))]
    for bucket in BUCKETS:
        decisions.append(decide(validator, call("get_object", {"bucket": bucket, "key": "README.txt"})))
    stopped = [i for i, d in enumerate(decisions) if d["outcome"] != "ALLOW"]
    assert stopped, decisions
    limit = policy.session.max_distinct_buckets_after_enumeration
    assert stopped[0] == limit + 1  # the listing, then `limit` buckets, then the first one past it is stopped
    first = decisions[stopped[0]]
    assert (first["outcome"], first["reason"], first["rule_id"]) == (
        "REVIEW",
        "REVIEW_REQUIRED",
        "session.fan-out.buckets",
    )
    assert "distinct buckets" in first["message"] and "catalogue listing" in first["message"] and first["hint"]


def test_many_distinct_objects_or_secret_looking_keys_in_one_bucket_trip_their_own_thresholds(
    validator: Validator, policy: Policy
) -> None:
    rules = []
    for i in range(policy.session.max_distinct_objects + 1):
        rules.append(
            decide(validator, call("get_object", {"bucket": "acme-app-logs", "key": f"app/{i}.log"}))["rule_id"]
        )
    assert rules[-1] == "session.fan-out.objects" and "session.fan-out.objects" not in rules[:-1]
    fresh = Validator(policy, "", b"k" * 32, clock=lambda: NOW)
    fresh.sessions = MemoryStore()
    keys = ("config/secrets.json", "deploy/id_rsa", "ops/passwords.txt", "ci/.env")
    seen = [decide(fresh, call("get_object", {"bucket": "acme-scratch", "key": k}))["rule_id"] for k in keys]
    assert seen[policy.session.max_secret_like_keys] == "session.secret-like-keys"


def test_a_write_after_an_untrusted_read_goes_to_review_also_with_a_freshly_minted_token(
    validator: Validator,
) -> None:
    read = call("filter_log_events", {"log_group": "/aws/lambda/orders-api", "filter_pattern": "ERROR"})
    assert decide(validator, read)["outcome"] == "ALLOW"
    write = call("put_object", {"bucket": "acme-scratch", "key": "notes/fix.md", "text": "x"}, token="t2-new")
    decision = decide(validator, write)
    assert (decision["outcome"], decision["rule_id"]) == ("REVIEW", "session.write-after-untrusted-read")
    assert decision["hint"] and "session.untrusted-read" in decision["signals"]


def test_the_same_write_without_an_untrusted_read_in_the_window_follows_the_policy(
    validator: Validator, policy: Policy
) -> None:
    old = NOW - policy.session.window_seconds - 2 * policy.session.slice_seconds
    read = call("get_object", {"bucket": "acme-app-logs", "key": "README.txt"}, at=old)
    assert decide(validator, read)["outcome"] == "ALLOW"
    write = call("put_object", {"bucket": "acme-scratch", "key": "notes/fix.md", "text": "x"})
    decision = decide(validator, write)
    assert (decision["outcome"], decision["rule_id"]) == ("ALLOW", "allow.s3.putobject")
    assert decision == {**decide(Validator(policy, "", b"k" * 32, clock=lambda: NOW), write)}


def test_reading_back_an_object_the_agent_wrote_is_not_an_untrusted_read(validator: Validator) -> None:
    put = {"bucket": "acme-scratch", "key": "notes/fix.md", "text": "x"}
    assert decide(validator, call("put_object", put))["outcome"] == "ALLOW"
    assert (
        decide(validator, call("get_object", {"bucket": "acme-scratch", "key": "notes/fix.md"}))["outcome"] == "ALLOW"
    )
    assert decide(validator, call("put_object", {**put, "key": "notes/fix2.md"}))["outcome"] == "ALLOW"


def test_the_session_is_the_idp_subject_not_the_token() -> None:
    a = slice_keys("idp|alice", NOW, load_policy(str(ROOT / "policy" / "gateway-policy.yaml")).session)
    assert all("alice" not in k for k in a)  # hashed
    assert a == slice_keys("idp|alice", NOW, load_policy(str(ROOT / "policy" / "gateway-policy.yaml")).session)


def test_a_denied_call_is_not_recorded_and_nothing_names_a_resource_in_the_table(validator: Validator) -> None:
    decide(validator, call("get_object", {"bucket": "acme-finance-private", "key": "payroll.csv"}))
    assert validator.sessions is not None and not validator.sessions.items  # type: ignore[attr-defined]
    decide(validator, call("get_object", {"bucket": "acme-app-logs", "key": "README.txt"}))
    text = repr(validator.sessions.items)  # type: ignore[attr-defined]
    assert "acme" not in text and "README" not in text


def test_an_unavailable_session_store_fails_closed(validator: Validator) -> None:
    validator.sessions.fail = True  # type: ignore[union-attr]
    decision = decide(validator, call("get_object", {"bucket": "acme-app-logs", "key": "README.txt"}))
    assert (decision["outcome"], decision["reason"], decision["rule_id"]) == (
        "DENY",
        "RATE_LIMIT_UNAVAILABLE",
        "session.unavailable",
    )


def test_explain_with_the_same_session_state_gives_the_real_verdict(policy: Policy) -> None:
    store = MemoryStore()
    v = Validator(policy, "", b"k" * 32, clock=lambda: NOW)
    v.sessions = store
    decide(v, call("list_buckets", {}))
    for bucket in BUCKETS[:2]:
        decide(v, call("get_object", {"bucket": bucket, "key": "a.txt"}))
    nxt = call("get_object", {"bucket": BUCKETS[2], "key": "a.txt"})
    state = SessionState.from_items(store.read(slice_keys("idp|alice", NOW, policy.session)), NOW, policy.session)
    predicted = explain(policy, nxt, state)
    assert predicted.session == "replayed"
    real = decide(v, nxt)
    assert (predicted.decision.outcome.value, predicted.decision.rule_id) == (real["outcome"], real["rule_id"])
    assert evaluate(policy, nxt).outcome.value == "ALLOW"  # without the session it would pass
    assert explain(policy, nxt).session.startswith("not replayed")
    assert observe(nxt, policy.session, write=False).sets


def test_a_remembered_observation_is_the_one_the_call_makes_and_cannot_be_changed(policy: Policy) -> None:
    calls = [
        call("list_buckets", {}),
        call("get_object", {"bucket": BUCKETS[0], "key": "a.txt"}),
        call("get_object", {"bucket": BUCKETS[1], "key": "secrets/.env"}),
        call("put_object", {"bucket": BUCKETS[2], "key": "notes.txt", "text": "x"}),
        call("filter_log_events", {"log_group": "/aws/lambda/orders-api", "filter_pattern": "ERROR"}),
    ]
    for request in calls:
        for write in (False, True):
            fresh = session_module._observe(request.action, request.resources, policy.session, write=write)
            assert observe(request, policy.session, write=write) == fresh
            remembered = observe(request, policy.session, write=write)
            assert remembered == fresh
            assert remembered is observe(request, policy.session, write=write)
            with pytest.raises(TypeError):
                remembered.sets["b"] = frozenset()  # type: ignore[index]
    assert any(observe(r, policy.session, write=False).sets for r in calls)


def test_a_session_policy_remembers_a_bounded_number_of_observations(policy: Policy) -> None:
    session = policy.session.model_copy()
    for i in range(session_module.MAX_REMEMBERED_OBSERVATIONS + 10):
        request = call("get_object", {"bucket": BUCKETS[0], "key": f"k{i}.txt"})
        assert observe(request, session, write=False).sets["o"]
        assert len(session._observations) <= session_module.MAX_REMEMBERED_OBSERVATIONS
