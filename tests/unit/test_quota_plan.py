"""The one quota plan (domain/quota.py): its keys are the validator's counter keys, group overrides raise
limits, an unreadable counter is reported as unknown (never as unused), and the ``whoami`` tool and
``mcp-gateway quota show`` report the same limits, use and remainder from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp_gateway.domain import quota, ratelimit
from mcp_gateway.domain.models import Principal, Tier
from mcp_gateway.domain.policy import Policy, parse_policy
from mcp_gateway.gateway.tool_whoami import WhoAmITool
from mcp_gateway_local.quota_cli import usage

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_767_225_600.5  # 2026-01-01T00:00:00.5Z
EMAIL = "Alice@Example.com"


@pytest.fixture(scope="module")
def policy() -> Policy:
    doc = yaml.safe_load((ROOT / "policy" / "gateway-policy.yaml").read_text(encoding="utf-8"))
    doc["groups"]["sre"]["tiers"] = {"read": {"limit": 400, "window_seconds": 60}}
    return parse_policy(yaml.safe_dump(doc))


class Counters:
    """A quota store holding some counters; ``broken`` keys raise like an unreachable table."""

    def __init__(self, values: dict[tuple[str, str], int] | None = None, broken: frozenset[str] = frozenset()) -> None:
        self.values = values or {}
        self.broken = broken
        self.reads: list[tuple[str, str]] = []

    def used(self, key: str, attribute: str) -> int:
        self.reads.append((key, attribute))
        if key in self.broken:
            raise ConnectionError("table unreachable")
        return self.values.get((key, attribute), 0)


def test_the_plan_lists_every_tier_the_global_ceiling_and_both_data_budgets(policy: Policy) -> None:
    plan = quota.quota_plan(policy, EMAIL, ["developers"], NOW)
    assert [(line.scope, line.name, line.kind, line.attribute) for line in plan] == [
        ("read", "tier:read", "rate", "hits"),
        ("list", "tier:list", "rate", "hits"),
        ("write", "tier:write", "rate", "hits"),
        ("all", "global", "rate", "hits"),
        ("bytes", "bytes_per_day", "data", "bytes_used"),
        ("objects", "objects_per_window", "data", "objects"),
    ]


def test_the_plans_keys_are_the_counter_keys_the_validator_writes(policy: Policy) -> None:
    by_scope = {line.scope: line for line in quota.quota_plan(policy, EMAIL, [], NOW)}
    for tier in Tier:
        window = policy.rate_limits.tiers[tier].window_seconds
        assert by_scope[tier.value].key == ratelimit.counter_key(EMAIL, tier, NOW, window)
    assert by_scope["all"].key == ratelimit.counter_key(
        EMAIL, "all", NOW, policy.rate_limits.global_per_user.window_seconds
    )
    assert by_scope["bytes"].key == ratelimit.day_key(EMAIL, NOW)
    objects_window = policy.data_budgets.window_seconds
    assert by_scope["objects"].key == ratelimit.counter_key(EMAIL, "objects", NOW, objects_window)
    assert all(line.key.startswith("u#alice@example.com#") for line in by_scope.values())


def test_a_group_override_raises_the_limit_and_changes_the_window_and_key(policy: Policy) -> None:
    base = {line.scope: line for line in quota.quota_plan(policy, EMAIL, ["developers"], NOW)}
    sre = {line.scope: line for line in quota.quota_plan(policy, EMAIL, ["developers", "sre"], NOW)}
    assert (sre["read"].limit, sre["read"].window_seconds) == (400, 60)
    assert sre["read"].key == ratelimit.counter_key(EMAIL, Tier.READ, NOW, 60) != base["read"].key
    assert sre["read"].resets_in_seconds == ratelimit.retry_after(NOW, 60)
    assert sre["list"] == base["list"]


def test_use_and_remainder_come_from_the_store_and_the_remainder_never_goes_negative(policy: Policy) -> None:
    plan = quota.quota_plan(policy, EMAIL, [], NOW)
    read, write = plan[0], plan[2]
    store = Counters({(read.key, "hits"): 7, (write.key, "hits"): write.limit + 5})
    usages, complete = quota.measure(plan, store)
    assert complete
    assert [(u.used, u.remaining) for u in usages[:3]] == [
        (7, read.limit - 7),
        (0, plan[1].limit),
        (write.limit + 5, 0),
    ]
    assert [u.full for u in usages[:3]] == [False, False, True]
    assert store.reads == [(line.key, line.attribute) for line in plan]


def test_an_unreadable_counter_is_unknown_and_marks_the_answer_incomplete(policy: Policy) -> None:
    plan = quota.quota_plan(policy, EMAIL, [], NOW)
    usages, complete = quota.measure(plan, Counters(broken=frozenset({plan[1].key})))
    assert not complete
    assert [u.used for u in usages] == [0, None, 0, 0, 0, 0]
    assert usages[1].remaining is None
    assert not usages[1].full


def test_without_a_store_every_counter_is_unknown(policy: Policy) -> None:
    usages, complete = quota.measure(quota.quota_plan(policy, EMAIL, [], NOW), None)
    assert not complete
    assert {u.used for u in usages} == {None}


def test_whoami_and_the_quota_command_report_the_same_limits_use_and_remainder(policy: Policy) -> None:
    plan = quota.quota_plan(policy, EMAIL, ["sre"], NOW)
    store = Counters({(line.key, line.attribute): 3 + i for i, line in enumerate(plan)})
    principal = Principal(sub="s", email=EMAIL, groups=("sre",), token_id="t", expires_at=int(NOW) + 600)
    answer: dict[str, Any] = WhoAmITool(store, lambda: policy, clock=lambda: NOW).describe(principal)
    rows = usage(store, policy, EMAIL, ("sre",), now=NOW)
    assert answer["quota_status"] == "ok"
    whoami = [
        (q["limit"], q["used"], q["remaining"], q["window_seconds"], q["resets_in_seconds"])
        for q in answer["rate_limits"] + answer["data_budgets"]
    ]
    cli = [(r["limit"], r["used"], r["remaining"], r["window_seconds"], r["resets_in_seconds"]) for r in rows]
    assert whoami == cli
    assert [r["quota"] for r in rows] == [line.name for line in plan]
    assert [r["key"] for r in rows] == [line.key for line in plan]


def test_whoami_reports_limits_with_unknown_use_when_the_table_is_unreachable(policy: Policy) -> None:
    plan = quota.quota_plan(policy, EMAIL, [], NOW)
    store = Counters(broken=frozenset(line.key for line in plan))
    principal = Principal(sub="s", email=EMAIL, token_id="t", expires_at=int(NOW) + 600)
    answer = WhoAmITool(store, lambda: policy, clock=lambda: NOW).describe(principal)
    assert answer["quota_status"] == "unavailable"
    assert [q["limit"] for q in answer["rate_limits"]] == [line.limit for line in plan if line.kind == "rate"]
    assert {q["used"] for q in answer["rate_limits"] + answer["data_budgets"]} == {None}


def test_the_quota_command_fails_rather_than_guess_when_a_counter_cannot_be_read(policy: Policy) -> None:
    plan = quota.quota_plan(policy, EMAIL, [], NOW)
    with pytest.raises(ConnectionError):
        usage(Counters(broken=frozenset({plan[0].key})), policy, EMAIL, now=NOW)
