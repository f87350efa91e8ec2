"""`make bench` (``python -m bench --help``): measured speed of every stage of the gateway. Never part of
`make test`; never asserts timings.

Writes bench/results/report.json, bench/results/report.md and bench/results/latency.png. Every figure is the
median over repeated runs, with its spread (min..max of the run medians) and the ratio it is judged by, taken
between figures measured in the same run. ``--only STAGE`` (repeatable) runs some stages and keeps the others'
figures; ``--quick`` makes a short run; a missing optional peer (detect-secrets) skips its stage with a message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "tests"))
QUICK = os.environ.get("BENCH_QUICK") == "1"
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF lines in the benchmark's output
REPEATS = 3 if QUICK else 5


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(runs: list[list[float]]) -> dict[str, Any]:
    """runs: per-repeat lists of per-request latencies (ms). Report medians of per-run p50/p99 and their spread."""
    p50s = [pct(r, 0.50) for r in runs]
    p99s = [pct(r, 0.99) for r in runs]
    return {
        "p50_ms": round(statistics.median(p50s), 4),
        "p50_spread_ms": [round(min(p50s), 4), round(max(p50s), 4)],
        "p99_ms": round(statistics.median(p99s), 4),
        "p99_spread_ms": [round(min(p99s), 4), round(max(p99s), 4)],
        "repeats": len(runs),
        "samples_per_repeat": len(runs[0]) if runs else 0,
    }


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


# ---------------------------------------------------------------------------------------------------------
# 1. Decision pipeline in-process
# ---------------------------------------------------------------------------------------------------------
PIPELINE_TARGETS_MS = {"1KB": 1.0, "64KB": 20.0}
"""The decision pipeline's p99 targets (issue 21, "Done when" 6): < 1 ms at 1 KB and < 20 ms at 64 KB."""

# Vocabulary of the pipeline stage's requests: benign debugging questions, filter terms, incident notes and log
# groups. Every sample is drawn afresh from it (seeded), so no two requests share an intent, a filter pattern or
# a note, while names (log groups, services, buckets) repeat as they do in real traffic.
_SERVICES = ("orders-api", "payments", "checkout", "inventory", "search", "billing", "auth", "notifications")
_LOG_GROUPS = (
    "/aws/lambda/orders-api",
    "/aws/lambda/payments-webhook",
    "/acme/ecs/checkout",
    "/aws/lambda/inventory-sync",
    "/acme/ecs/search-indexer",
)
_QUESTIONS = (
    "why are checkout requests timing out for the {svc} service since the deploy at {hh}:{mm}",
    "show the 5xx errors of {svc} between {hh}:00 and {hh}:{mm} UTC",
    "which requests to {svc} took longer than {n} ms during the incident",
    "customers report slow carts in {svc}, look at the latency of the last hour",
    "is {svc} still throttled by DynamoDB after we raised capacity to {n} units",
    "find the stack trace of the NullPointerException in {svc} near {hh}:{mm}",
    "did {svc} log any connection reset by peer errors after the config change",
    "compare the p99 latency of {svc} before and after release v{n}.{mm}",
    "what did {svc} log for order ORD-{n}{mm} that the customer complained about",
    "were there cold starts of {svc} right before the alarm at {hh}:{mm}",
    "look for retries that never succeeded in {svc} during the outage window",
    "which tenant caused the spike of 429 responses in {svc} at {hh}:{mm}",
)
_FILTER_TERMS = (
    "?ERROR", "?Timeout", "?Exception", "?WARN", "?ThrottlingException", '?"Task timed out"', "?5xx",
    '?"connection reset"', "?SIGTERM", "?OutOfMemoryError", "?NullPointerException", "?503", "?504",
    "?ReadTimeout", "?deadlock", "?retry",
)  # fmt: skip
_NOTES = (
    "deploy notes for {svc}: latency ok at p50 {n} ms, p99 {m} ms after the rollout at {hh}:{mm}.",
    "{svc} error rate went from 0.{n}% to {m}% between {hh}:00 and {hh}:{mm}; rolled back to the previous build.",
    "capacity of {svc} raised to {n} units, throttling stopped within {m} minutes.",
    "on-call summary: {svc} paged at {hh}:{mm}, cause was a slow dependency, mitigated by a timeout of {n} s.",
    "the dashboard for {svc} shows {n} requests per second at peak and {m} at night.",
    "follow-up for {svc}: add an alarm on the queue age above {n} seconds, owner team {m}.",
)
# The same notes quoting request ids and build SHAs (8 hex digits): some decode as hex or base64 to a few
# printable characters, so the detector also reads decoded layers of the whole text and, the fields no longer
# being plain, the whole joins (reported beside the 64 KB figure, without a target: see docs/performance.md).
_NOTES_WITH_IDS = (
    *_NOTES,
    "{svc} error rate went from 0.{n}% to {m}% between {hh}:00 and {hh}:{mm}; rolled back build {hex}.",
    "request {hex}-{n} on {svc} took {m} ms; the trace shows three retries against the cache.",
)


def _pipeline_arguments(rng: Any, size: int, ids: bool = False) -> tuple[str, dict[str, Any]]:
    """One distinct request with about ``size`` bytes of arguments: a filter_log_events call at 1 KB (a
    512-character intent and a 512-character filter pattern), a put_object of ``size`` characters of notes
    (``ids``: quoting request ids and build SHAs) with a 2,000-character intent above 4 KB."""

    def fill(templates: tuple[str, ...], length: int) -> str:
        parts: list[str] = []
        total = 0
        while total < length:
            text = rng.choice(templates).format(
                svc=rng.choice(_SERVICES),
                hh=f"{rng.randrange(24):02d}",
                mm=f"{rng.randrange(60):02d}",
                n=rng.randrange(2, 999),
                m=rng.randrange(2, 9999),
                hex=f"{rng.getrandbits(32):08x}",
            )
            parts.append(text)
            total += len(text) + 1
        return " ".join(parts)[:length]

    intent_chars = min(size // 2, 2000)
    intent = fill(_QUESTIONS, intent_chars - 14) + f" ticket {rng.randrange(10**6):06d}"
    if size <= 4096:
        terms = []
        while sum(len(t) + 1 for t in terms) < size - intent_chars:
            terms.append(rng.choice(_FILTER_TERMS))
        pattern = " ".join(terms)[: size - intent_chars]
        log_group = rng.choice(_LOG_GROUPS)
        return "filter_log_events", {"log_group": log_group, "filter_pattern": pattern, "intent": intent}
    # the 64 KB case: a large argument (the text of a put_object) goes through everything
    text = fill(_NOTES_WITH_IDS if ids else _NOTES, size)
    return "put_object", {
        "bucket": "acme-scratch",
        "key": f"notes/{rng.randrange(10**6)}.txt",
        "text": text,
        "intent": intent,
    }


def bench_pipeline() -> dict[str, Any]:
    import random

    from mcp_gateway.domain.models import ActionRequest, Principal
    from mcp_gateway.domain.policy import evaluate, parse_policy
    from mcp_gateway.domain.redaction import RedactionConfig, Redactor
    from mcp_gateway.domain.tokens import (
        IdentityClaims,
        SessionKeySet,
        SessionTokenService,
        generate_session_key,
    )
    from mcp_gateway.gateway.requests import build_request

    policy = parse_policy((ROOT / "policy" / "gateway-policy.yaml").read_text())
    redactor = Redactor(
        RedactionConfig(
            pii_classes=frozenset(policy.redaction.pii_classes),
            customer_id_patterns=policy.redaction.customer_id_patterns,
        )
    )
    keys = SessionKeySet(active_kid="b1", keys=(generate_session_key("b1"),))
    tokens = SessionTokenService(keys, issuer="https://gw.example", audience="https://gw.example/mcp")
    token = tokens.mint(
        IdentityClaims(
            sub="u1",
            email="alice@example.com",
            groups=("developers",),
            expires_at=int(time.time()) + 3600,
            issuer="https://idp.example",
            token_id="t1",
        )
    ).access_token
    now = dt.datetime.now(dt.UTC)
    principal = Principal(
        sub="u1", email="alice@example.com", groups=("developers", "sre"), token_id="t1", expires_at=0
    )
    results: dict[str, Any] = {}
    for label, size in (("1KB", 1024), ("64KB", 65_536)):
        n = 40 if size > 4096 else 1000  # 40 samples x 5 repeats keeps the 64 KB run short
        if QUICK:
            n //= 4
        rng = random.Random(f"bench-pipeline-{label}")

        def make(rng: Any = rng, size: int = size) -> ActionRequest:
            # Every sample is a different request (its intent, filter pattern or note text is drawn afresh), so
            # caches inside the detector only help the way they help real traffic: shared names and vocabulary.
            tool, args = _pipeline_arguments(rng, size)
            return build_request(tool, args, principal, region="us-east-1", account="123456789012", now=now.timestamp())

        pool = [make() for _ in range(REPEATS * (4 * n + 8))]
        outcomes: dict[str, int] = {}
        for request in pool[:20]:  # what the measured requests decide (the path they take through evaluate)
            outcome = evaluate(policy, request).outcome.value
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        pool = pool[20:] + [make() for _ in range(20)]
        cursor = iter(pool)
        stages = {
            "token_check": lambda: tokens.verify(token),
            "policy_and_detection": lambda: evaluate(policy, next(cursor)),
            "redact_audit_copy": lambda: redactor.redact_value(next(cursor).parameters),
        }
        stage_runs: dict[str, list[list[float]]] = {k: [] for k in stages}
        total_runs: list[list[float]] = []
        for _ in range(REPEATS):
            for name, fn in stages.items():
                fn()
                stage_runs[name].append(timed(fn, n))

            def whole() -> None:
                request = next(cursor)
                tokens.verify(token)
                evaluate(policy, request)
                redactor.redact_value(request.parameters)

            total_runs.append(timed(whole, n))
        total = summary(total_runs)
        target = PIPELINE_TARGETS_MS[label]
        results[label] = {
            "stages": {k: summary(v) for k, v in stage_runs.items()},
            "total": total,
            "bytes_of_arguments": round(
                statistics.mean(len(json.dumps(r.parameters)) + len(r.intent) for r in pool[:20])
            ),
            "outcomes_of_20": outcomes,
            "target": f"p99 < {target:g} ms",
            "target_met": total["p99_ms"] < target,
            "ratio_p99_to_target": round(total["p99_ms"] / target, 2),
        }
    # 64 KB of notes quoting ids: evaluate alone, a few samples (each takes far longer), no target
    rng_ids = random.Random("bench-pipeline-64KB-ids")
    samples = 2 if QUICK else 4
    with_ids = [
        build_request(
            *_pipeline_arguments(rng_ids, 65_536, ids=True),
            principal,
            region="us-east-1",
            account="123456789012",
            now=now.timestamp(),
        )
        for _ in range(REPEATS * samples)
    ]
    ids_cursor = iter(with_ids)
    ids_runs = [timed(lambda: evaluate(policy, next(ids_cursor)), samples) for _ in range(REPEATS)]
    results["64KB_with_ids"] = {
        "policy_and_detection": summary(ids_runs),
        "note": "put_object of 64 KB of notes quoting request ids and build SHAs; evaluate alone; no target",
    }
    results["target"] = "p99 < 1 ms for 1 KB of arguments and p99 < 20 ms for 64 KB"
    results["target_met"] = all(results[label]["target_met"] for label in PIPELINE_TARGETS_MS)
    return results


# ---------------------------------------------------------------------------------------------------------
# 2. Response redaction throughput vs detect-secrets
# ---------------------------------------------------------------------------------------------------------
def realistic_logs(target_bytes: int) -> str:
    from corpora.benign_text import benign_lines
    from corpora.secrets import embed, generate_secrets

    benign = benign_lines(seed=1)
    secret_texts = [text for s in generate_secrets(seed=1)[:200] for _, text in embed(s)[:3]]
    lines: list[str] = []
    size = 0
    i = 0
    while size < target_bytes:
        line = secret_texts[i % len(secret_texts)] if i % 25 == 0 else benign[i % len(benign)]
        lines.append(line)
        size += len(line) + 1
        i += 1
    return "\n".join(lines)


def bench_redaction() -> dict[str, Any]:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings
    from mcp_gateway.domain.redaction import RedactionConfig, Redactor

    mb = 2 if QUICK else 10
    text = realistic_logs(mb * 1024 * 1024)
    size_mb = len(text.encode()) / 1024 / 1024
    redactor = Redactor(RedactionConfig())
    ours: list[float] = []
    theirs: list[float] = []
    chunks = [text[i : i + 65_536] for i in range(0, len(text), 65_536)]
    lines = text.split("\n")
    for _ in range(3):
        t = time.perf_counter()
        for chunk in redactor.redact_stream(iter(chunks)):
            pass
        ours.append(size_mb / (time.perf_counter() - t))
        with default_settings():
            t = time.perf_counter()
            for line in lines:
                for _secret in scan_line(line):
                    pass
            theirs.append(size_mb / (time.perf_counter() - t))
    return {
        "input_mb": round(size_mb, 2),
        "ours_mb_per_s": round(statistics.median(ours), 2),
        "ours_spread": [round(min(ours), 2), round(max(ours), 2)],
        "detect_secrets_mb_per_s": round(statistics.median(theirs), 2),
        "detect_secrets_spread": [round(min(theirs), 2), round(max(theirs), 2)],
        "ratio": round(statistics.median(ours) / statistics.median(theirs), 2),
        "note": "ours redacts (secrets + PII, encoded variants) in 64 KB chunks; detect-secrets only scans, line by line",
        "stream_memory": stream_memory(redactor, text),
    }


def stream_memory(redactor: Any, text: str) -> dict[str, Any]:
    """Peak traced memory while paging a 1 MB and a 50 MB object (64 KB pages, as S3's body streams them)."""
    import tracemalloc

    block = text[: 1024 * 1024].encode()
    large_mb = 10 if QUICK else 50
    peaks: dict[str, int] = {}
    for label, body in (("1MB", block), (f"{large_mb}MB", block * large_mb)):  # allocated before tracing
        tracemalloc.start()
        pages = (body[i : i + 65_536].decode("utf-8", "replace") for i in range(0, len(body), 65_536))
        for _piece in redactor.redact_stream(pages):
            pass
        peaks[label] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del body
    small, large = peaks["1MB"], peaks[f"{large_mb}MB"]
    return {
        "peak_kb": {k: round(v / 1024) for k, v in peaks.items()},
        "ratio": round(large / small, 2),
        "target": f"peak paging {large_mb} MB < 2x peak paging 1 MB",
        "target_met": large < 2 * small,
    }


# ---------------------------------------------------------------------------------------------------------
# 3. Cold start: import + initialise each function module in a fresh interpreter
# ---------------------------------------------------------------------------------------------------------
COLD = r"""
import importlib.util, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print((time.perf_counter() - t) * 1000)
"""
BARE = "import time; t = time.perf_counter(); import boto3; boto3.client('s3', region_name='us-east-1'); print((time.perf_counter() - t) * 1000)"
# What any MCP server on Lambda with pydantic and boto3 must import before it can answer: the SDK's server side
# and protocol types, pydantic, boto3 and one client. The gateway's init is judged against this floor.
UNAVOIDABLE = (
    "import time; t = time.perf_counter(); import pydantic; import mcp_types; from mcp.server.lowlevel import Server; "
    "import boto3; boto3.client('dynamodb', region_name='us-east-1'); print((time.perf_counter() - t) * 1000)"
)


def bench_cold_start(stack: Any) -> dict[str, Any]:
    runs = 3 if QUICK else 7
    out: dict[str, Any] = {}
    base_env = {k: v for k, v in os.environ.items()}

    def fresh(args: list[str], env: dict[str, str]) -> float:
        res = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=True)
        return float(res.stdout.strip().splitlines()[-1])

    functions = {
        logical: (ROOT / stack.template["Resources"][logical]["Properties"]["CodeUri"] / "app.py", env)
        for logical, env in stack.function_env.items()
    }
    samples: dict[str, list[float]] = {"bare": [], "unavoidable": [], **{k: [] for k in functions}}
    # interleaved rounds: a busy moment on the machine hits every figure alike, so the ratios hold
    for _ in range(runs):
        samples["bare"].append(fresh(["-c", BARE], base_env))
        samples["unavoidable"].append(fresh(["-c", UNAVOIDABLE], base_env))
        for logical, (path, env) in functions.items():
            samples[logical].append(fresh(["-c", COLD, str(path)], {**base_env, **env}))
    bare = statistics.median(samples["bare"])
    floor = statistics.median(samples["unavoidable"])

    def figure(values: list[float]) -> dict[str, Any]:
        return {
            "median_ms": round(statistics.median(values), 1),
            "spread_ms": [round(min(values), 1), round(max(values), 1)],
        }

    out["bare_import_boto3_ms"] = {
        "median": round(bare, 1),
        "spread": [round(min(samples["bare"]), 1), round(max(samples["bare"]), 1)],
    }
    out["unavoidable_imports"] = {**figure(samples["unavoidable"]), "ratio_to_bare_boto3": round(floor / bare, 2)}
    for logical in functions:
        median = statistics.median(samples[logical])
        entry = {**figure(samples[logical]), "ratio_to_bare_boto3": round(median / bare, 2)}
        if logical == "GatewayFunction":
            entry["ratio_to_unavoidable"] = round(median / floor, 2)
        out[logical] = entry
    others = {k: v["ratio_to_bare_boto3"] for k, v in out.items() if k in functions and k != "GatewayFunction"}
    out["target"] = "gateway init <= 1.25x the unavoidable imports; every other function <= 1.5x bare boto3 + client"
    out["target_met"] = out.get("GatewayFunction", {}).get("ratio_to_unavoidable", 1e9) <= 1.25 and all(
        r <= 1.5 for r in others.values()
    )
    return out


# ---------------------------------------------------------------------------------------------------------
# 4. End to end through the local stack vs a direct boto3 call
# ---------------------------------------------------------------------------------------------------------
E2E_RATIO_TARGET = 20.0
TASK_STATES_TARGET = 5


def allowed_call_task_states(stack: Any) -> list[str]:
    """The Task states of the most recent request-workflow execution (moto_patches keeps a few histories)."""
    from mcp_gateway_local import moto_patches

    recent = [events for (arn, _), events in moto_patches.recent_sync_executions() if "RequestStateMachine" in arn]
    return moto_patches.task_states(recent[-1]) if recent else []


def bench_end_to_end(stack: Any) -> dict[str, Any]:
    from conftest import Session

    n = 20 if QUICK else 60
    logs = stack.client("logs")
    args = {"log_group": "/aws/lambda/orders-api", "filter_pattern": "ERROR", "limit": 20}
    direct_runs: list[list[float]] = []
    gateway_runs: list[list[float]] = []
    states: list[str] = []

    async def gateway_once(client: Any) -> None:
        result = await client.call_tool("filter_log_events", args)
        assert not result.is_error, result

    def direct_once() -> None:
        now = int(time.time() * 1000)
        logs.filter_log_events(
            logGroupName="/aws/lambda/orders-api",
            filterPattern="ERROR",
            limit=20,
            startTime=now - 3_600_000,
            endTime=now,
        )

    async def run() -> None:
        for repeat in range(REPEATS):
            # one user per repeat: the gateway's own read tier (100 per 5 minutes) applies to the benchmark too
            session = Session(stack, f"bench-{repeat}@example.com", ["developers"])
            async with session.client() as client:
                await gateway_once(client)
                if not states:
                    states.extend(allowed_call_task_states(stack))
                direct_once()
                samples, direct = [], []
                for _ in range(n):  # interleaved, so both see the same moment of the machine
                    t = time.perf_counter()
                    await gateway_once(client)
                    samples.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    direct_once()
                    direct.append((time.perf_counter() - t) * 1000)
                gateway_runs.append(samples)
                direct_runs.append(direct)

    asyncio.run(run())
    g, d = summary(gateway_runs), summary(direct_runs)
    ratios = [pct(a, 0.5) / pct(b, 0.5) for a, b in zip(gateway_runs, direct_runs, strict=True)]
    ratio = round(g["p50_ms"] / d["p50_ms"], 2)
    return {
        "gateway_tools_call": g,
        "direct_boto3_to_local_aws": d,
        "ratio_p50": ratio,
        "ratio_p50_spread": [round(min(ratios), 2), round(max(ratios), 2)],
        "ratio_p99": round(g["p99_ms"] / d["p99_ms"], 2),
        "allowed_call_task_states": states,
        "allowed_call_task_state_count": len(states),
        "target": f"p50 <= {E2E_RATIO_TARGET:g}x the direct boto3 call; <= {TASK_STATES_TARGET} Task states",
        "target_met": ratio <= E2E_RATIO_TARGET and 0 < len(states) <= TASK_STATES_TARGET,
        "_samples": {
            "gateway": [round(x, 2) for x in gateway_runs[-1]],
            "direct": [round(x, 2) for x in direct_runs[-1]],
        },
        "note": "the gateway path is: HTTP + auth + MCP + StartSyncExecution + the request workflow's Task states "
        "(listed) against moto on loopback; the direct call is the same FilterLogEvents from boto3",
    }


# ---------------------------------------------------------------------------------------------------------
# 5. Rate-limit step throughput under concurrency
# ---------------------------------------------------------------------------------------------------------
def _rate_limit_update(asl: dict[str, Any]) -> dict[str, Any]:
    """The tier counter's update as the workflow runs it (its own state, or an item of the reservation)."""
    states = asl["States"]
    if "RateCheckTier" in states:
        return dict(states["RateCheckTier"]["Parameters"])
    for state in states.values():
        for item in state.get("Parameters", {}).get("TransactItems", []):
            update = item.get("Update", {})
            if "hits" in update.get("UpdateExpression", ""):
                return dict(update)
    raise KeyError("no rate-limit counter update in the request workflow")


def bench_rate_limit(stack: Any) -> dict[str, Any]:
    asl = json.loads((ROOT / "statemachine" / "request.asl.json").read_text())
    params = _rate_limit_update(asl)
    table = stack.physical("RateLimitTable")
    out: dict[str, Any] = {}
    for threads in (1, 8, 32):
        rates = []
        for r in range(REPEATS):
            ddb = [stack.client("dynamodb") for _ in range(threads)]
            per_thread = 25 if QUICK else 50
            key = f"bench#{threads}#{r}#{time.time_ns()}"
            admitted = [0]
            lock = threading.Lock()

            def worker(client: Any) -> None:
                for _ in range(per_thread):
                    try:
                        client.update_item(
                            TableName=table,
                            Key={"pk": {"S": key}},
                            UpdateExpression=params["UpdateExpression"],
                            ConditionExpression=params["ConditionExpression"],
                            ExpressionAttributeValues={
                                ":one": {"N": "1"},
                                ":limit": {"N": "1000000"},
                                ":ttl": {"N": "0"},
                            },
                        )
                        with lock:
                            admitted[0] += 1
                    except client.exceptions.ConditionalCheckFailedException:
                        pass

            t = time.perf_counter()
            ts = [threading.Thread(target=worker, args=(c,)) for c in ddb]
            for th in ts:
                th.start()
            for th in ts:
                th.join()
            rates.append(admitted[0] / (time.perf_counter() - t))
        out[f"{threads}_threads"] = {
            "ops_per_s": round(statistics.median(rates), 1),
            "spread": [round(min(rates), 1), round(max(rates), 1)],
        }
    one = out["1_threads"]["ops_per_s"]
    for v in out.values():
        v["ratio_to_1_thread"] = round(v["ops_per_s"] / one, 2) if one else None
    out["note"] = "the exact counter update the workflow runs (read from the ASL), against moto over loopback HTTP"
    return out


# ---------------------------------------------------------------------------------------------------------
# Stages, report, command line
# ---------------------------------------------------------------------------------------------------------
#: stage name -> (report key, needs the local stack, what it measures and the ratio it is judged by)
STAGES: dict[str, tuple[str, bool, str]] = {
    "pipeline": (
        "pipeline",
        False,
        "decision pipeline in-process (token check, policy + detection, redaction of the audit copy) at 1 KB and "
        "64 KB of arguments (every request distinct); judged by p99 / 1 ms at 1 KB and p99 / 20 ms at 64 KB",
    ),
    "redaction": (
        "redaction",
        False,
        "response redaction throughput on realistic logs against detect-secrets (an optional peer: skipped with a "
        "message when not installed); judged by ours / detect-secrets MB/s",
    ),
    "cold_start": (
        "cold_start",
        True,
        "import + init of every function in a fresh interpreter, beside a bare boto3 import + client and the "
        "unavoidable imports (MCP SDK server side + protocol types, pydantic, boto3 + one client) in the same run; "
        "judged by gateway / unavoidable (<= 1.25) and every other function / bare boto3 (<= 1.5)",
    ),
    "e2e": (
        "end_to_end",
        True,
        "tools/call filter_log_events through the local stack against the same boto3 call made directly, "
        "interleaved in the same run, and the Task states of an allowed call's execution history; judged by "
        "p50 gateway / p50 direct (<= 20) and the Task-state count (<= 5)",
    ),
    "rate_limit": (
        "rate_limit",
        True,
        "the workflow's rate-limit counter update (read from the ASL) at 1, 8 and 32 threads against moto; judged "
        "by ops/s relative to one thread",
    ),
}
#: optional packages a stage compares against: a missing one skips that stage with a message
OPTIONAL_PEERS = {"detect_secrets": "pip install -r requirements/bench.txt"}


def plot(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib
    except ModuleNotFoundError:
        print("skipped the plot: matplotlib is not installed (pip install -r requirements/bench.txt)", flush=True)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pipeline = report.get("pipeline", {}).get("1KB")
    e2e = report.get("end_to_end", {})
    if pipeline is None and "_samples" not in e2e:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    if pipeline is not None:
        stages = pipeline["stages"]
        names = [*stages.keys(), "total"]
        p50 = [stages[k]["p50_ms"] for k in stages] + [pipeline["total"]["p50_ms"]]
        p99 = [stages[k]["p99_ms"] for k in stages] + [pipeline["total"]["p99_ms"]]
        x = range(len(names))
        axes[0].bar([i - 0.2 for i in x], p50, width=0.4, label="p50")
        axes[0].bar([i + 0.2 for i in x], p99, width=0.4, label="p99")
        axes[0].axhline(1.0, color="red", linestyle="--", linewidth=1, label="1 ms target")
        axes[0].set_xticks(list(x), names, rotation=15)
        axes[0].set_ylabel("ms per request")
        axes[0].set_title("Decision pipeline, 1 KB of arguments")
        axes[0].legend()
    dist = e2e.get("_samples", {})
    axes[1].boxplot(
        [dist.get("gateway", [0]), dist.get("direct", [0])],
        tick_labels=["gateway tools/call", "direct boto3"],
        showfliers=False,
    )
    axes[1].set_ylabel("ms")
    axes[1].set_title("End to end on the local stack")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def markdown(report: dict[str, Any]) -> str:
    rows = [
        "| figure | median | spread | judged by (ratio) | target |",
        "|---|---|---|---|---|",
    ]
    notes = ["", "## Targets", ""]
    p = report.get("pipeline")
    if p:
        for label in ("1KB", "64KB"):
            entry = p.get(label)
            if entry is None:
                continue
            t, size = entry["total"], label.replace("KB", " KB")
            target_ms = PIPELINE_TARGETS_MS[label]
            met = entry.get("target_met", t["p99_ms"] < target_ms)
            rows.append(
                f"| decision pipeline p50 / p99, {size} | {t['p50_ms']} / {t['p99_ms']} ms | p50 {t['p50_spread_ms']}, p99 {t['p99_spread_ms']} | p99 / {target_ms:g} ms = {t['p99_ms'] / target_ms:.2f} | p99 < {target_ms:g} ms: {_verdict(met)} |"
            )
            for stage, s in entry["stages"].items():
                rows.append(
                    f"| - {stage} ({size}) p50 / p99 | {s['p50_ms']} / {s['p99_ms']} ms | p50 {s['p50_spread_ms']}, p99 {s['p99_spread_ms']} | share of total p50 = {s['p50_ms'] / t['p50_ms']:.2f} | - |"
                )
            ids = p.get("64KB_with_ids") if label == "64KB" else None
            if ids:
                s = ids["policy_and_detection"]
                rows.append(
                    f"| - policy_and_detection (64 KB of notes quoting hex ids) p50 / p99 | {s['p50_ms']} / {s['p99_ms']} ms | p50 {s['p50_spread_ms']}, p99 {s['p99_spread_ms']} | / 64 KB policy_and_detection p50 = {s['p50_ms'] / entry['stages']['policy_and_detection']['p50_ms']:.1f} | no target |"
                )
            spread = t["p99_spread_ms"]
            if met:
                notes.append(
                    f"- Decision pipeline at {size}: p99 {t['p99_ms']} ms (repeats {spread[0]}..{spread[1]}), "
                    f"target < {target_ms:g} ms: met."
                )
            else:
                stages = entry["stages"]
                slowest = max(stages, key=lambda k: stages[k]["p50_ms"])
                notes.append(
                    f"- Decision pipeline at {size}: p99 {t['p99_ms']} ms (repeats {spread[0]}..{spread[1]}), target "
                    f"< {target_ms:g} ms: **missed by {t['p99_ms'] / target_ms:.2f}x**; the largest stage is "
                    f"{slowest} (p50 {stages[slowest]['p50_ms']} ms of {t['p50_ms']} ms)."
                )
    r = report.get("redaction")
    if r and "skipped" in r:
        rows.append(f"| response redaction vs detect-secrets | - | - | - | skipped: {r['skipped']} |")
    elif r:
        rows += [
            f"| response redaction, {r['input_mb']} MB of logs | {r['ours_mb_per_s']} MB/s | {r['ours_spread']} | ours / detect-secrets = {r['ratio']} | - |",
            f"| detect-secrets scan, same text | {r['detect_secrets_mb_per_s']} MB/s | {r['detect_secrets_spread']} | - | - |",
        ]
        m = r.get("stream_memory")
        if m:
            rows.append(
                f"| streaming redaction, peak memory {m['peak_kb']} KB | - | - | large / 1 MB = {m['ratio']} | {m['target']}: {'met' if m['target_met'] else 'MISSED'} |"
            )
    c = report.get("cold_start")
    if c:
        rows.append(
            f"| bare `import boto3` + client | {c['bare_import_boto3_ms']['median']} ms | {c['bare_import_boto3_ms']['spread']} | 1.00 (the reference) | - |"
        )
        u = c.get("unavoidable_imports")
        if u:
            rows.append(
                f"| unavoidable imports (SDK server + types, pydantic, boto3 + client) | {u['median_ms']} ms | {u['spread_ms']} | / bare boto3 = {u['ratio_to_bare_boto3']} | the gateway's floor |"
            )
        for name, v in c.items():
            if not (isinstance(v, dict) and "median_ms" in v) or name == "unavoidable_imports":
                continue
            if name == "GatewayFunction" and "ratio_to_unavoidable" in v:
                ratio, target = v["ratio_to_unavoidable"], "<= 1.25x unavoidable"
                judged = f"/ unavoidable = {ratio}"
                met = ratio <= 1.25
            else:
                ratio, target = v["ratio_to_bare_boto3"], "<= 1.5x bare boto3"
                judged = f"/ bare boto3 = {ratio}"
                met = ratio <= 1.5
            rows.append(
                f"| cold start {name} | {v['median_ms']} ms | {v['spread_ms']} | {judged} | {target}: {_verdict(met)} |"
            )
        gw = c.get("GatewayFunction", {})
        if "ratio_to_unavoidable" in gw:
            notes.append(
                f"- Gateway cold init {gw['median_ms']} ms = {gw['ratio_to_unavoidable']}x the unavoidable imports "
                f"({c['unavoidable_imports']['median_ms']} ms) measured in the same run, target <= 1.25x; every other "
                f"function against a bare boto3 import + client, target <= 1.5x: {_verdict(c['target_met'])}."
            )
    e = report.get("end_to_end")
    if e:
        g, d = e["gateway_tools_call"], e["direct_boto3_to_local_aws"]
        rows += [
            f"| gateway tools/call p50 / p99 | {g['p50_ms']} / {g['p99_ms']} ms | p50 {g['p50_spread_ms']} | p50 / direct p50 = {e['ratio_p50']} (repeats {e.get('ratio_p50_spread', '-')}) | <= {E2E_RATIO_TARGET:g}x: {_verdict(e['ratio_p50'] <= E2E_RATIO_TARGET)} |",
            f"| direct boto3 to local AWS p50 / p99 | {d['p50_ms']} / {d['p99_ms']} ms | p50 {d['p50_spread_ms']} | 1.00 (the reference) | - |",
        ]
        if "allowed_call_task_state_count" in e:
            count = e["allowed_call_task_state_count"]
            rows.append(
                f"| Task states of an allowed call | {count} | {', '.join(e['allowed_call_task_states'])} | / target = {count / TASK_STATES_TARGET:.2f} | <= {TASK_STATES_TARGET}: {_verdict(0 < count <= TASK_STATES_TARGET)} |"
            )
        notes.append(
            f"- Local end to end: p50 {g['p50_ms']} ms = {e['ratio_p50']}x the direct boto3 call ({d['p50_ms']} ms) "
            f"in the same run, target <= {E2E_RATIO_TARGET:g}x; {e.get('allowed_call_task_state_count', '?')} Task "
            f"states on an allowed call, target <= {TASK_STATES_TARGET}: {_verdict(e.get('target_met', False))}."
        )
    q = report.get("rate_limit")
    if q:
        for k, v in q.items():
            if isinstance(v, dict):
                rows.append(
                    f"| rate-limit counter update, {k.replace('_', ' ')} | {v['ops_per_s']} ops/s | {v['spread']} | / 1 thread = {v.get('ratio_to_1_thread', '-')} | - |"
                )
    env = report["environment"]
    ran = ", ".join(env.get("stages", [])) or "all"
    return (
        f"# Benchmark report\n\n{env['when']} on {env['machine']} ({env['cpus']} CPUs), Python {env['python']},"
        f" stages: {ran}{' (quick)' if env.get('quick') else ''}. Medians over the repeats; spread = min..max of"
        " the repeats; every ratio is taken between figures measured in the same run.\n\n"
        + "\n".join(rows + notes)
        + "\n"
    )


def parse_args(argv: list[str]) -> Any:
    import argparse

    stages = "\n".join(f"  {name:<11} {text}" for name, (_, _, text) in STAGES.items())
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Measured speed of every stage of the gateway (never part of make test; never asserts timings).\n"
        "Writes bench/results/report.json, report.md and latency.png. Every figure is a median with its spread "
        "and the ratio it is judged by.",
        epilog="stages (in the order they run):\n" + stages,
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(STAGES),
        metavar="STAGE",
        help="run only this stage (repeatable); the other stages' figures already in report.json are kept",
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples and repeats (also BENCH_QUICK=1)")
    parser.add_argument("--render", action="store_true", help="re-render report.md and the plot from report.json")
    return parser.parse_args(argv)


def _run_stage(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except ModuleNotFoundError as exc:
        peer = (exc.name or "").split(".")[0]
        if peer not in OPTIONAL_PEERS:
            raise
        message = f"{peer} is not installed ({OPTIONAL_PEERS[peer]})"
        print(f"   skipped {name}: {message}", flush=True)
        return {"skipped": message}


def main(argv: list[str] | None = None) -> int:
    global QUICK, REPEATS  # the command line sets the run size for every stage
    args = parse_args(sys.argv[1:] if argv is None else argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.render:  # re-render report.md and the plot from report.json, without measuring again
        report = json.loads((RESULTS / "report.json").read_text())
        (RESULTS / "report.md").write_text(markdown(report))
        plot(report, RESULTS / "latency.png")
        print(markdown(report))
        return 0
    if args.quick:
        QUICK, REPEATS = True, 3
    selected = [s for s in STAGES if not args.only or s in args.only]
    started = time.time()
    report: dict[str, Any] = {}
    if args.only and (RESULTS / "report.json").exists():  # keep the other stages' figures
        report = json.loads((RESULTS / "report.json").read_text())
    report["environment"] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quick": QUICK,
        "stages": selected,
    }

    def save() -> None:  # after every stage, so a failure later never loses what was measured
        (RESULTS / "report.json").write_text(json.dumps(report, indent=2))

    functions: dict[str, Callable[..., dict[str, Any]]] = {
        "pipeline": bench_pipeline,
        "redaction": bench_redaction,
        "cold_start": bench_cold_start,
        "e2e": bench_end_to_end,
        "rate_limit": bench_rate_limit,
    }
    total = len(selected)
    step = 0
    for name in [s for s in selected if not STAGES[s][1]]:
        step += 1
        print(f"{step}/{total} {name} ...", flush=True)
        report[STAGES[name][0]] = _run_stage(name, functions[name])
        save()
    with_stack = [s for s in selected if STAGES[s][1]]
    if with_stack:
        import tempfile

        from mcp_gateway_local.stack import LocalStack

        with tempfile.TemporaryDirectory() as state, LocalStack(state_dir=Path(state)) as stack:
            for name in with_stack:
                step += 1
                print(f"{step}/{total} {name} ...", flush=True)
                report[STAGES[name][0]] = _run_stage(name, lambda fn=functions[name]: fn(stack))
                save()
    report["elapsed_s"] = round(time.time() - started, 1)
    save()
    (RESULTS / "report.md").write_text(markdown(report))
    plot(report, RESULTS / "latency.png")
    print(markdown(report))
    print(f"wrote {RESULTS}/report.json, report.md, latency.png in {report['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
