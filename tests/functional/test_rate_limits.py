"""Quotas against moto's DynamoDB over HTTP: exactness under concurrency, isolation between users and tiers,
window roll-over and clock skew under injected clocks, and fail-closed behaviour when the table is gone.

The counting is done by the workflow's direct DynamoDB integrations, so these tests execute exactly the
``updateItem`` of the RateCheck/Budget states, read from ``statemachine/request.asl.json`` and filled in
from a real Validator's output (as Step Functions fills ``S.$``/``N.$`` from the state). The full workflow
under the same concurrency is in tests/e2e/test_quotas.py (once: it costs ~0.3 s per execution in moto).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config
from conftest import ROOT, audit_records, unique_email
from faults import counting_invocations, dynamodb_table_unavailable
from mcp_gateway.domain import ratelimit
from mcp_gateway.domain.policy import Policy, parse_policy
from mcp_gateway.handlers.validate import Validator

ASL = json.loads((ROOT / "statemachine" / "request.asl.json").read_text())
POLICY_TEXT = (ROOT / "policy" / "gateway-policy.yaml").read_text()
ACCOUNT = "123456789012"
HMAC_KEY = b"k" * 32
BASE = 1_800_000_000 - 1_800_000_000 % 300  # a window boundary for every window length used below


def policy_with(**rate: Any) -> Policy:
    doc = yaml.safe_load(POLICY_TEXT)
    for tier, limit in (rate.get("tiers") or {}).items():
        doc["rate_limits"]["tiers"][tier] = {"limit": limit, "window_seconds": rate.get("window", 300)}
    if "global_limit" in rate:
        doc["rate_limits"]["global_per_user"] = {
            "limit": rate["global_limit"],
            "window_seconds": rate.get("window", 300),
        }
    if "fail_open" in rate:
        doc["rate_limits"]["fail_open_tiers"] = rate["fail_open"]
    return parse_policy(yaml.safe_dump(doc))


REQUESTS: dict[str, dict[str, Any]] = {
    "list": {
        "tool": "list_buckets",
        "service": "s3",
        "operation": "ListBuckets",
        "action": "s3:ListAllMyBuckets",
        "resources": ["*"],
        "parameters": {},
    },
    "read": {
        "tool": "filter_log_events",
        "service": "logs",
        "operation": "FilterLogEvents",
        "action": "logs:FilterLogEvents",
        "resources": [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/orders-api"],
        "parameters": {"logGroupName": "/aws/lambda/orders-api"},
    },
    "write": {
        "tool": "put_object",
        "service": "s3",
        "operation": "PutObject",
        "action": "s3:PutObject",
        "resources": ["arn:aws:s3:::acme-scratch/notes/a.txt"],
        "parameters": {"Bucket": "acme-scratch", "Key": "notes/a.txt", "Body": "x"},
    },
}


def request(email: str, tier: str, now: float) -> dict[str, Any]:
    return {
        "request": {
            "request_id": f"req-{time.time_ns()}-{random.randrange(10**9)}",
            **REQUESTS[tier],
            "principal": {
                "sub": email,
                "email": email,
                "groups": ["sre"],
                "token_id": "jti-1",
                "expires_at": int(now) + 900,
            },
            "requested_at": now,
        }
    }


def _path(state: dict[str, Any], expr: str) -> Any:
    value: Any = state
    for part in expr.removeprefix("$.").split("."):
        value = value[part]
    return value


def _fill(params: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key.endswith(".$"):
            out[key[:-2]] = _path(state, value)
        elif isinstance(value, dict):
            out[key] = _fill(value, state)
        else:
            out[key] = value
    return out


class AslCounters:
    """Runs the RateCheck/Budget states' own updateItem against the rate-limit table, over HTTP."""

    def __init__(self, stack: Any) -> None:
        self.table = stack.physical("RateLimitTable")
        self.ddb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=stack.info.moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(max_pool_connections=128, retries={"max_attempts": 1}),
        )

    def admit(self, state_name: str, state: dict[str, Any]) -> bool:
        spec = ASL["States"][state_name]
        assert spec["Resource"] == "arn:${Partition}:states:::dynamodb:updateItem"
        params = _fill(spec["Parameters"], state)
        assert params.pop("TableName") == "${RateLimitTableName}"
        try:
            self.ddb.update_item(TableName=self.table, **params)
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def workflow(self, state: dict[str, Any]) -> bool:
        """The admission path of the request workflow: RateCheckTier, then RateCheckGlobal."""
        return self.admit("RateCheckTier", state) and self.admit("RateCheckGlobal", state)

    def hits(self, key: str) -> int:
        item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item") or {}
        return int(item.get("hits", {}).get("N", "0"))


@pytest.fixture(scope="module")
def counters(stack: Any) -> AslCounters:
    return AslCounters(stack)


def concurrently(calls: list[Callable[[], bool]]) -> list[bool]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], bool]) -> bool:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


# ---------------------------------------------------------------------------------------------------------
# Done when 1: limit + 100 concurrent requests admit exactly `limit`, in each of 20 runs
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("run", range(20))
def test_limit_plus_100_concurrent_requests_for_one_user_and_tier_admit_exactly_the_limit(
    counters: AslCounters, run: int
) -> None:
    limit = 5
    now = time.time()
    validator = Validator(policy_with(tiers={"list": limit}), "", HMAC_KEY, clock=lambda: now)
    email = unique_email(f"burst{run}")
    states = [validator.handle(request(email, "list", now)) for _ in range(limit + 100)]
    assert {s["rate"]["tier_key"] for s in states} == {states[0]["rate"]["tier_key"]}
    admitted = concurrently([lambda s=s: counters.workflow(s) for s in states])
    assert sum(admitted) == limit
    assert counters.hits(states[0]["rate"]["tier_key"]) == limit
    assert counters.hits(states[0]["rate"]["global_key"]) == limit, "throttled calls consume no global budget"


# ---------------------------------------------------------------------------------------------------------
# Done when 2: isolation, roll-over, skew
# ---------------------------------------------------------------------------------------------------------
def test_different_users_and_tiers_do_not_interfere(counters: AslCounters) -> None:
    now = time.time()
    validator = Validator(policy_with(tiers={"list": 4, "read": 6, "write": 2}), "", HMAC_KEY, clock=lambda: now)
    alice, bob = unique_email("alice"), unique_email("bob")
    streams = {(who, tier): 20 for who in (alice, bob) for tier in ("list", "read", "write")}
    jobs: list[tuple[tuple[str, str], dict[str, Any]]] = [
        ((who, tier), validator.handle(request(who, tier, now))) for (who, tier), n in streams.items() for _ in range(n)
    ]
    random.Random(7).shuffle(jobs)
    admitted = concurrently([lambda s=s: counters.workflow(s) for _, s in jobs])
    per_stream: dict[tuple[str, str], int] = {}
    for (stream, _), ok in zip(jobs, admitted, strict=True):
        per_stream[stream] = per_stream.get(stream, 0) + ok
    expected = {"list": 4, "read": 6, "write": 2}
    assert per_stream == {(who, tier): expected[tier] for who, tier in streams}


def test_the_global_ceiling_counts_every_tier_of_one_user_and_only_that_user(counters: AslCounters) -> None:
    now = time.time()
    validator = Validator(policy_with(tiers={"list": 5, "read": 5}, global_limit=7), "", HMAC_KEY, clock=lambda: now)
    carol, dave = unique_email("carol"), unique_email("dave")
    states = [
        validator.handle(request(who, tier, now))
        for who in (carol, dave)
        for tier in ("list", "read")
        for _ in range(5)
    ]
    admitted = concurrently([lambda s=s: counters.workflow(s) for s in states])
    assert sum(admitted[:10]) == 7
    assert sum(admitted[10:]) == 7
    assert counters.hits(states[0]["rate"]["global_key"]) == 7
    assert states[0]["rate"]["global_key"] != states[10]["rate"]["global_key"]


def test_a_window_rolls_over_exactly_at_its_boundary_under_an_injected_clock(counters: AslCounters) -> None:
    clock = {"now": BASE + 290.0}
    validator = Validator(policy_with(tiers={"write": 3}), "", HMAC_KEY, clock=lambda: clock["now"])
    email = unique_email("roll")

    def call() -> tuple[bool, dict[str, Any]]:
        state = validator.handle(request(email, "write", clock["now"]))
        return counters.workflow(state), state

    assert [call()[0] for _ in range(3)] == [True, True, True]
    clock["now"] = BASE + 299.9
    ok, state = call()
    assert not ok
    assert state["rate"]["tier_limits"]["retry_after_seconds"] == 1
    first_key = state["rate"]["tier_key"]
    clock["now"] = BASE + 300.0
    results = [call() for _ in range(4)]
    assert [ok for ok, _ in results] == [True, True, True, False]
    second_key = results[0][1]["rate"]["tier_key"]
    assert second_key != first_key
    assert results[0][1]["rate"]["tier_limits"]["retry_after_seconds"] == 300
    assert (counters.hits(first_key), counters.hits(second_key)) == (3, 3)
    # correctness never depends on TTL: the item outlives its window, and is never read again
    assert int(results[0][1]["rate"]["expires_at"]) > BASE + 600


@pytest.mark.parametrize("skew", [0.0, 2.0])
def test_validators_with_skewed_clocks_never_admit_more_than_the_documented_edge_bound(
    counters: AslCounters, skew: float
) -> None:
    """Three validators whose clocks are off by -skew, 0, +skew seconds. An adversary picks, at each true
    time, the validator that keys its call into the window with budget left. In any span of true time the
    admitted calls stay within ``edge_bound``; the adversarial schedule reaches it, so the bound is tight."""
    limit, window = 3, 10
    policy = policy_with(tiers={"list": limit}, global_limit=10_000, window=window)
    email = unique_email(f"skew{int(skew)}")
    offsets = (-skew, 0.0, skew)
    admitted_at: list[float] = []

    def send(true_time: float, offset: float) -> None:
        validator = Validator(policy, "", HMAC_KEY, clock=lambda: true_time + offset)
        if counters.workflow(validator.handle(request(email, "list", true_time))):
            admitted_at.append(true_time)

    base = float(BASE)
    rng = random.Random(11)
    # random traffic over 6 windows, each call through a random validator
    for _ in range(120):
        t = base + rng.uniform(0, 6 * window)
        send(t, rng.choice(offsets))
    # then the adversary: around the boundary at base + 8W, late calls on the slow clock (old window), on time
    # and early calls on the fast clock (next window), all inside one span of one window length
    edge = base + 8 * window
    for _ in range(limit + 1):
        send(edge + skew * 0.9 if skew else edge - 0.5, -skew if skew else 0.0)
    for _ in range(limit + 1):
        send(edge + window / 2, 0.0)
    for _ in range(limit + 1):
        send(edge + window - skew * 0.9 if skew else edge + window + 0.5, skew)

    times = sorted(admitted_at)

    def most_in_any_span(span: float) -> int:
        return max(sum(1 for t in times if start <= t < start + span) for start in times)

    assert most_in_any_span(window) <= ratelimit.edge_bound(limit, window, window, skew)
    assert most_in_any_span(window - 2 * skew) <= ratelimit.edge_bound(limit, window - 2 * skew, window, skew)
    assert ratelimit.edge_bound(limit, window - 2 * skew, window, skew) == 2 * limit
    adversarial = [t for t in times if edge - window <= t < edge + 2 * window]
    reached = max(sum(1 for t in adversarial if s <= t < s + window) for s in adversarial)
    assert reached == ratelimit.edge_bound(limit, window, window, skew) == (3 if skew else 2) * limit


# ---------------------------------------------------------------------------------------------------------
# Done when 3: the table made unavailable by an injected fault
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def lowered_policy(stack: Any, tmp_path: Path) -> Iterator[Callable[..., None]]:
    def apply(**changes: Any) -> None:
        doc = yaml.safe_load(Path(stack.policy_path).read_text())
        doc["rate_limits"].update(changes.get("rate_limits", {}))
        doc["data_budgets"].update(changes.get("data_budgets", {}))
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(doc))
        stack.redeploy("ValidateFunction", POLICY_PATH=str(path))

    yield apply
    stack.redeploy("ValidateFunction", POLICY_PATH=stack.policy_path)


CALLS = [
    ("list_buckets", {"intent": "find the log bucket"}),
    ("filter_log_events", {"log_group": "/aws/lambda/orders-api", "filter_pattern": "ERROR"}),
    ("get_object", {"bucket": "acme-app-logs", "key": "orders-api/2026/11/20/app.log"}),
    ("put_object", {"bucket": "acme-scratch", "key": "notes/fault.txt", "text": "checked"}),
]


async def test_with_the_rate_limit_table_unavailable_no_request_executes_and_each_is_audited_as_denied(
    stack: Any, session_factory: Any
) -> None:
    session = session_factory(unique_email("fault"), ["sre"])
    with (
        dynamodb_table_unavailable(stack.physical("RateLimitTable")) as refused,
        counting_invocations(stack, "ExecuteFunction") as executed,
    ):
        async with session.client() as client:
            results = [await client.call_tool(name, args) for name, args in CALLS]
    assert refused, "the fault must really have fired"
    assert executed == []
    for result in results:
        assert result.is_error
        error = json.loads(result.content[0].text)["error"]
        assert error["reason"] == "RATE_LIMIT_UNAVAILABLE"
        records = audit_records(stack, error["request_id"])
        assert records["outcome"]["decision"] == "DENY"
        assert records["outcome"]["reason"] == "RATE_LIMIT_UNAVAILABLE"
        assert "intent" not in records, "nothing was about to execute"
    async with session.client() as client:  # the table is back: the same call goes through
        assert not (await client.call_tool(*CALLS[0])).is_error


async def test_a_read_tier_the_policy_lets_fail_open_still_runs_while_writes_stay_denied(
    stack: Any, session_factory: Any, lowered_policy: Callable[..., None]
) -> None:
    lowered_policy(rate_limits={"fail_open_tiers": ["list"]})
    session = session_factory(unique_email("failopen"), ["sre"])
    with (
        dynamodb_table_unavailable(stack.physical("RateLimitTable")),
        counting_invocations(stack, "ExecuteFunction") as executed,
    ):
        async with session.client() as client:
            listed = await client.call_tool(*CALLS[0])
            written = await client.call_tool(*CALLS[3])
    assert not listed.is_error
    assert json.loads(written.content[0].text)["error"]["reason"] == "RATE_LIMIT_UNAVAILABLE"
    assert [e["request"]["tool"] for e in executed] == ["list_buckets"]


@pytest.mark.parametrize(
    ("changes", "tier", "reason", "rule_id"),
    [
        ({"tiers": {"write": 0}}, "write", "THROTTLED", "rate.write"),
        ({"global_limit": 0}, "list", "THROTTLED", "rate.global-per-user"),
    ],
)
def test_a_quota_of_zero_refuses_the_very_first_call_in_the_validator(
    changes: dict[str, Any], tier: str, reason: str, rule_id: str
) -> None:
    now = float(BASE)
    out = Validator(policy_with(**changes), "", HMAC_KEY, clock=lambda: now).handle(request("z@example.com", tier, now))
    assert (out["decision"]["outcome"], out["decision"]["reason"], out["decision"]["rule_id"]) == (
        "DENY",
        reason,
        rule_id,
    )
    assert out["decision"]["limits"]["limit"] == 0
    assert out["decision"]["limits"]["retry_after_seconds"] == 300
