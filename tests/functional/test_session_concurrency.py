"""Session behaviour under concurrency, against moto's DynamoDB over HTTP (issue 21): a burst of parallel reads
across many distinct resources trips the fan-out threshold exactly where the same calls sent one by one would.

The Validator records each call on the current slice with one atomic UpdateItem that returns the slice as it
was before (``ALL_OLD``), then decides on that state: DynamoDB orders the updates, so call k of a burst sees
the k-1 before it. Reading first and recording after would let every call of the burst see the same empty
window and all of them pass."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import unique_email
from faults import attr, dynamodb_update_answer_lost
from mcp_gateway.adapters.session_store import SessionStore
from mcp_gateway.domain.models import Principal
from mcp_gateway.domain.policy import Policy
from mcp_gateway.gateway.tool_explain_policy import action_request
from mcp_gateway.handlers.validate import Validator
from mcp_gateway.policy_loader import load_policy

ROOT = Path(__file__).resolve().parents[2]
BURST = 40


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(str(ROOT / "policy" / "gateway-policy.yaml"))


def burst(stack: Any, policy: Policy, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every call from one fresh principal at once (a barrier), each through its own Validator sharing the
    real table; the decisions in call order."""
    email = unique_email("fanout")
    principal = Principal(sub=f"idp|{uuid.uuid4().hex}", email=email, groups=("developers",), token_id="t1",
                          expires_at=int(time.time()) + 900)  # fmt: skip
    store = SessionStore(stack.client("dynamodb"), stack.physical("RateLimitTable"))
    now = time.time()
    requests = [action_request(tool, args, principal, region="us-east-1", account="123456789012", now=now)
                for tool, args in calls]  # fmt: skip
    gate = threading.Barrier(len(requests))

    def decide(request: Any) -> dict[str, Any]:
        validator = Validator(policy, "", b"k" * 32, clock=lambda: now)
        validator.sessions = store
        gate.wait(30)
        out: dict[str, Any] = validator.handle({"request": request.model_dump(mode="json")})["decision"]
        return out

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(decide, requests))


def test_a_burst_of_parallel_reads_of_distinct_objects_admits_exactly_the_threshold(stack: Any, policy: Policy) -> None:
    calls = [("get_object", {"bucket": "acme-app-logs", "key": f"app/{uuid.uuid4().hex}.log"}) for _ in range(BURST)]
    decisions = burst(stack, policy, calls)
    allowed = [d for d in decisions if d["outcome"] == "ALLOW"]
    stopped = [d for d in decisions if d["outcome"] != "ALLOW"]
    assert len(allowed) == policy.session.max_distinct_objects
    assert {(d["outcome"], d["rule_id"]) for d in stopped} == {("REVIEW", "session.fan-out.objects")}


def test_a_burst_of_parallel_log_reads_across_many_log_groups_admits_exactly_the_threshold_whatever_the_intent(
    stack: Any, policy: Policy
) -> None:
    # every read fired at once, half with words and half without
    calls: list[tuple[str, dict[str, Any]]] = [
        ("filter_log_events", {"log_group": f"/aws/lambda/svc-{i}", "filter_pattern": "ERROR",
                               "intent": "" if i % 2 else "check each service's errors"})
        for i in range(BURST)
    ]  # fmt: skip
    decisions = burst(stack, policy, calls)
    allowed = sum(1 for d in decisions if d["outcome"] == "ALLOW")
    assert allowed == policy.session.max_distinct_log_groups
    assert {d["rule_id"] for d in decisions if d["outcome"] != "ALLOW"} == {"session.fan-out.log-groups"}


def _one_by_one(stack: Any, policy: Policy) -> Any:
    """A function deciding calls of one fresh principal one after another (each through its own Validator)."""
    email = unique_email("retry")
    principal = Principal(sub=f"idp|{uuid.uuid4().hex}", email=email, groups=("developers",), token_id="t1",
                          expires_at=int(time.time()) + 900)  # fmt: skip
    store = SessionStore(stack.client("dynamodb"), stack.physical("RateLimitTable"))
    now = time.time()

    def decide(tool: str, args: dict[str, Any]) -> dict[str, Any]:
        request = action_request(tool, args, principal, region="us-east-1", account="123456789012", now=now)
        validator = Validator(policy, "", b"k" * 32, clock=lambda: now)
        validator.sessions = store
        out: dict[str, Any] = validator.handle({"request": request.model_dump(mode="json")})["decision"]
        return out

    return decide


def _object() -> tuple[str, dict[str, Any]]:
    return "get_object", {"bucket": "acme-app-logs", "key": f"app/{uuid.uuid4().hex}.log"}


def _session_slice(table: str, key: dict[str, Any]) -> bool:
    return attr(key, "pk").startswith("session#")


def test_a_read_recorded_again_after_a_lost_answer_is_judged_without_its_own_object_and_stops_at_the_threshold(
    stack: Any, policy: Policy
) -> None:
    # DynamoDB applied the update, its answer was lost (a throttle) and the SDK sent it again: the second answer
    # already holds the call's own object. Judged on it, the call past the threshold looked like a re-read of an
    # object it had seen, and passed.
    decide = _one_by_one(stack, policy)
    limit = policy.session.max_distinct_objects
    assert [decide(*_object())["outcome"] for _ in range(limit)] == ["ALLOW"] * limit
    with dynamodb_update_answer_lost(_session_slice) as fault:
        decision = decide(*_object())
    assert len(fault.hits) == 1  # the fault fired once; the retry then succeeded
    assert (decision["outcome"], decision["rule_id"]) == ("REVIEW", "session.fan-out.objects")


def test_a_first_read_recorded_again_after_a_lost_answer_is_still_allowed(stack: Any, policy: Policy) -> None:
    decide = _one_by_one(stack, policy)
    with dynamodb_update_answer_lost(_session_slice) as fault:
        decision = decide(*_object())
    assert len(fault.hits) == 1
    assert decision["outcome"] == "ALLOW"
