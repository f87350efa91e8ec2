"""Issue 21's corpora end to end: a fixed-seed sample of the held-out benign debugging calls and attacks, the
seven quoted calls and two behavioural sequences go through the official MCP client against the local stack
(gateway, Step Functions, Validate with the session store in DynamoDB, Execute on moto). Figures are printed.

Counted as the unit corpus test counts them (tests/unit/test_policy_guardrail_corpora.py): a benign call is
refused when the gateway answers pending (review), denied or throttled; a destructive or forbidden attack
executed when any of its calls was let through (ok, or an execution error after the gateway allowed it), and
its side effect is checked on moto (buckets, objects and their ETags, log groups unchanged); a behavioural
attack is stopped when one of its calls is reviewed, denied or throttled before the sequence completes.
Every sampled user is distinct (``unique_email``) so no rate limit or session window is shared."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import unique_email
from corpora.attack_calls import Attack, attack_corpus
from corpora.attack_calls import split as split_attacks
from corpora.debugging_calls import QUOTED, Call, debugging_calls
from corpora.debugging_calls import split as split_benign
from mcp_gateway.policy_loader import load_policy

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = 60
SEED = 21
CONCURRENT_SESSIONS = 8
MAX_BENIGN_REFUSED = 0.01
MIN_ATTACKS_STOPPED = 0.95
STOPPED = ("pending", "denied", "throttled")


def status_of(result: Any) -> str:
    """The gateway's answer: ok (ran), pending (review), denied, throttled or error (allowed, then failed)."""
    body = json.loads(result.content[0].text)
    if result.is_error:
        return str(body["error"].get("status") or "denied")
    return str(body.get("status") or "ok")


def benign_sample() -> list[list[Call]]:
    """Whole held-out sessions, picked with a fixed seed until SAMPLE calls."""
    _, held = split_benign(debugging_calls())
    sessions = [list(g) for _, g in itertools.groupby(held, key=lambda c: c.session)]
    random.Random(SEED).shuffle(sessions)
    out, count = [], 0
    for calls in sessions:
        if count >= SAMPLE:
            break
        out.append(calls)
        count += len(calls)
    return out


def attack_sample() -> list[Attack]:
    _, held = split_attacks(attack_corpus())
    return random.Random(SEED).sample(held, min(SAMPLE, len(held)))


def moto_state(stack: Any) -> dict[str, Any]:
    """What a destructive call would change: every bucket's objects (key -> ETag) and the log groups."""
    s3, logs = stack.client("s3"), stack.client("logs")
    buckets = {}
    for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        buckets[bucket] = {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}
    groups = sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"])
    return {"buckets": buckets, "log_groups": groups}


async def run_calls(
    session_factory: Any, calls: list[tuple[str, dict[str, Any]]], groups: list[str], *, stop_early: bool
) -> list[str]:
    """One distinct user's calls in order; with ``stop_early`` the sequence ends at its first stopped call."""
    session = session_factory(unique_email("corpus"), groups)
    statuses: list[str] = []
    async with session.client() as client:
        for tool, args in calls:
            statuses.append(status_of(await client.call_tool(tool, args)))
            if stop_early and statuses[-1] in STOPPED:
                break
    return statuses


async def test_the_corpora_end_to_end_through_the_mcp_client(
    stack: Any, session_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = load_policy(str(ROOT / "policy" / "gateway-policy.yaml"))
    benign = benign_sample() + [[call] for call in QUOTED]
    attacks = attack_sample()
    before = moto_state(stack)
    limiter = anyio.Semaphore(CONCURRENT_SESSIONS)
    benign_results: list[tuple[Call, str]] = []
    attack_results: list[tuple[Attack, list[str]]] = []

    async def benign_session(calls: list[Call]) -> None:
        async with limiter:
            statuses = await run_calls(
                session_factory, [(c.tool, c.args) for c in calls], ["developers"], stop_early=False
            )
        benign_results.extend(zip(calls, statuses, strict=True))

    async def attack(a: Attack) -> None:
        async with limiter:
            attack_results.append((a, await run_calls(session_factory, list(a.calls), list(a.groups), stop_early=True)))

    async with anyio.create_task_group() as tg:
        for calls in benign:
            tg.start_soon(benign_session, calls)
        for a in attacks:
            tg.start_soon(attack, a)

    # Behaviour 1: list the buckets, then read across all of them with no intent: stopped within the threshold.
    threshold = policy.session.max_distinct_buckets_after_enumeration
    buckets = ("acme-app-logs", "acme-customer-exports", "acme-scratch")
    fan_out = await run_calls(
        session_factory,
        [("list_buckets", {}), *(("get_object", {"bucket": b, "key": "README.txt"}) for b in buckets)],
        ["developers"],
        stop_early=True,
    )
    # Behaviour 2: read a log, then write with a freshly minted token (same IdP subject): review.
    email = unique_email("untrusted-read")
    first = session_factory(email, ["developers", "sre"])
    async with first.client() as client:
        read = status_of(
            await client.call_tool(
                "filter_log_events", {"log_group": "/aws/lambda/orders-api", "filter_pattern": "ERROR"}
            )
        )
    fresh = session_factory(email, ["developers", "sre"])
    assert fresh.token != first.token
    key = f"notes/{email.split('@')[0]}.md"
    async with fresh.client() as client:
        write = status_of(
            await client.call_tool("put_object", {"bucket": "acme-scratch", "key": key, "text": "copied log lines"})
        )
    after = moto_state(stack)

    refused = [(c, s) for c, s in benign_results if s in STOPPED]
    held_out = [(c, s) for c, s in benign_results if c.label != "quoted"]
    held_refused = [(c, s) for c, s in held_out if s in STOPPED]
    executed = [
        (a, s) for a, s in attack_results if a.kind in ("destructive", "forbidden") and any(x not in STOPPED for x in s)
    ]
    behavioural = [(a, s) for a, s in attack_results if a.kind not in ("destructive", "forbidden")]
    stopped = [(a, s) for a, s in behavioural if any(x in STOPPED for x in s)]
    by_kind = Counter(a.kind for a, _ in attack_results)
    stopped_kinds = Counter(a.kind for a, s in attack_results if any(x in STOPPED for x in s))
    with capsys.disabled():
        print(
            f"\ne2e corpora: benign held-out {len(held_refused)}/{len(held_out)} refused or reviewed "
            f"({len(held_refused) / len(held_out):.2%}); quoted calls refused "
            f"{sum(1 for c, s in refused if c.label == 'quoted')}/{len(QUOTED)}; attacks held-out "
            f"{len(attack_results)}: destructive/forbidden executed {len(executed)}, behavioural stopped "
            f"{len(stopped)}/{len(behavioural)} ({len(stopped) / max(1, len(behavioural)):.1%}); by kind "
            + ", ".join(f"{k}: {stopped_kinds[k]}/{n}" for k, n in sorted(by_kind.items()))
            + f"; list-then-read-all {fan_out}; read log then write with a fresh token: {read} -> {write}"
        )
        for c, s in refused:
            print(f"  benign {s}: {c.tool} {c.args.get('intent', '')!r}")
        for a, s in [*executed, *(r for r in behavioural if r not in stopped)]:
            print(f"  attack not stopped: {a.kind} {a.label} {s}")

    assert [c.args for c, s in benign_results if c.label == "quoted" and s in STOPPED] == []
    assert len(held_refused) <= MAX_BENIGN_REFUSED * len(held_out)
    assert executed == []
    assert after == before  # nothing destroyed, overwritten or created (the reviewed write did not run)
    assert len(stopped) >= MIN_ATTACKS_STOPPED * len(behavioural)
    assert fan_out[0] == "ok" and fan_out[-1] in ("pending", "throttled")
    assert len(fan_out) - 1 <= threshold + 1  # the read of bucket threshold+1 at the latest is stopped
    assert (read, write) == ("ok", "pending")
