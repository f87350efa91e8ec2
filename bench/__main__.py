"""`make bench`: measured speed of every stage of the gateway. Never part of `make test`; never asserts timings.

Writes bench/results/report.json, bench/results/report.md and bench/results/latency.png. Every figure is the
median over repeated runs, with its spread (min..max of the run medians, or p25..p75 for single samples).
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
def bench_pipeline() -> dict[str, Any]:
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
    results: dict[str, Any] = {}
    for label, size in (("1KB", 1024), ("64KB", 65_536)):
        # a realistic search request: the filter pattern and the stated intent carry the bulk of the bytes
        words = "why are checkout requests timing out for the orders service since the deploy at noon "
        intent = (words * (size // len(words) + 1))[: min(size // 2, 2000)]
        pattern = ("?ERROR ?Timeout ?Exception " * (size // 27 + 1))[: max(0, size - len(intent))][:1024]
        args = {"log_group": "/aws/lambda/orders-api", "filter_pattern": pattern, "intent": intent}
        if size > 4096:  # the 64 KB case: a large argument (e.g. the text of a put_object) goes through everything
            args = {
                "bucket": "acme-scratch",
                "key": "notes/big.txt",
                "text": ("deploy notes: latency ok; " * (size // 26 + 1))[:size],
                "intent": intent,
            }
            tool = "put_object"
        else:
            tool = "filter_log_events"
        n = 40 if size > 4096 else 1000  # a 64 KB evaluation is ~130 ms: 40 samples x 5 repeats keeps the run short
        if QUICK:
            n //= 4

        def make(i: int) -> ActionRequest:
            # Every sample is a different request (its intent carries a distinct ticket number), so caches inside
            # the detector only help the way they help real traffic: shared values such as log group names.
            varied = dict(args, intent=f"{args['intent'][:-14]} ticket {i:06d}")
            principal = Principal(
                sub="u1", email="alice@example.com", groups=("developers", "sre"), token_id="t1", expires_at=0
            )
            return build_request(
                tool, varied, principal, region="us-east-1", account="123456789012", now=now.timestamp()
            )

        pool = [make(i) for i in range(REPEATS * (4 * n + 8))]
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
        results[label] = {
            "stages": {k: summary(v) for k, v in stage_runs.items()},
            "total": summary(total_runs),
            "bytes_of_arguments": len(json.dumps(args)),
        }
    results["target"] = "p99 < 1 ms for 1 KB of arguments"
    results["target_met"] = results["1KB"]["total"]["p99_ms"] < 1.0
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


def bench_cold_start(stack: Any) -> dict[str, Any]:
    runs = 3 if QUICK else 5
    out: dict[str, Any] = {}
    base_env = {k: v for k, v in os.environ.items()}

    def fresh(args: list[str], env: dict[str, str]) -> float:
        res = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=True)
        return float(res.stdout.strip().splitlines()[-1])

    bare = [fresh(["-c", BARE], base_env) for _ in range(runs)]
    out["bare_import_boto3_ms"] = {
        "median": round(statistics.median(bare), 1),
        "spread": [round(min(bare), 1), round(max(bare), 1)],
    }
    for logical, env in stack.function_env.items():
        path = ROOT / stack.template["Resources"][logical]["Properties"]["CodeUri"] / "app.py"
        samples = [fresh(["-c", COLD, str(path)], {**base_env, **env}) for _ in range(runs)]
        out[logical] = {
            "median_ms": round(statistics.median(samples), 1),
            "spread_ms": [round(min(samples), 1), round(max(samples), 1)],
            "ratio_to_bare_boto3": round(statistics.median(samples) / statistics.median(bare), 2),
        }
    out["target"] = "gateway init < 300 ms here"
    out["target_met"] = out.get("GatewayFunction", {}).get("median_ms", 1e9) < 300
    return out


# ---------------------------------------------------------------------------------------------------------
# 4. End to end through the local stack vs a direct boto3 call
# ---------------------------------------------------------------------------------------------------------
def bench_end_to_end(stack: Any) -> dict[str, Any]:
    from conftest import Session

    n = 20 if QUICK else 60
    logs = stack.client("logs")
    args = {"log_group": "/aws/lambda/orders-api", "filter_pattern": "ERROR", "limit": 20}
    direct_runs: list[list[float]] = []
    gateway_runs: list[list[float]] = []

    async def gateway_once(client: Any) -> None:
        result = await client.call_tool("filter_log_events", args)
        assert not result.is_error, result

    async def run() -> None:
        for repeat in range(REPEATS):
            # one user per repeat: the gateway's own read tier (100 per 5 minutes) applies to the benchmark too
            session = Session(stack, f"bench-{repeat}@example.com", ["developers"])
            async with session.client() as client:
                await gateway_once(client)
                samples = []
                for _ in range(n):
                    t = time.perf_counter()
                    await gateway_once(client)
                    samples.append((time.perf_counter() - t) * 1000)
                gateway_runs.append(samples)
            now = int(time.time() * 1000)
            direct_runs.append(
                timed(
                    lambda: logs.filter_log_events(
                        logGroupName="/aws/lambda/orders-api",
                        filterPattern="ERROR",
                        limit=20,
                        startTime=now - 3_600_000,
                        endTime=now,
                    ),
                    n,
                )
            )

    asyncio.run(run())
    g, d = summary(gateway_runs), summary(direct_runs)
    return {
        "gateway_tools_call": g,
        "direct_boto3_to_local_aws": d,
        "ratio_p50": round(g["p50_ms"] / d["p50_ms"], 2),
        "ratio_p99": round(g["p99_ms"] / d["p99_ms"], 2),
        "_samples": {
            "gateway": [round(x, 2) for x in gateway_runs[-1]],
            "direct": [round(x, 2) for x in direct_runs[-1]],
        },
        "note": "the gateway path is: HTTP + auth + MCP + StartSyncExecution + 5 workflow states (2 DynamoDB "
        "updates, 1 put, 3 Lambda invocations, the hash-chained audit write) against moto on loopback",
    }


# ---------------------------------------------------------------------------------------------------------
# 5. Rate-limit step throughput under concurrency
# ---------------------------------------------------------------------------------------------------------
def bench_rate_limit(stack: Any) -> dict[str, Any]:
    asl = json.loads((ROOT / "statemachine" / "request.asl.json").read_text())
    params = asl["States"]["RateCheckTier"]["Parameters"]
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
    out["note"] = "the exact UpdateItem the RateCheck state runs (read from the ASL), against moto over loopback HTTP"
    return out


# ---------------------------------------------------------------------------------------------------------
def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    stages = report["pipeline"]["1KB"]["stages"]
    names = [*stages.keys(), "total"]
    p50 = [stages[k]["p50_ms"] for k in stages] + [report["pipeline"]["1KB"]["total"]["p50_ms"]]
    p99 = [stages[k]["p99_ms"] for k in stages] + [report["pipeline"]["1KB"]["total"]["p99_ms"]]
    x = range(len(names))
    axes[0].bar([i - 0.2 for i in x], p50, width=0.4, label="p50")
    axes[0].bar([i + 0.2 for i in x], p99, width=0.4, label="p99")
    axes[0].axhline(1.0, color="red", linestyle="--", linewidth=1, label="1 ms target")
    axes[0].set_xticks(list(x), names, rotation=15)
    axes[0].set_ylabel("ms per request")
    axes[0].set_title("Decision pipeline, 1 KB of arguments")
    axes[0].legend()
    e2e = report["end_to_end"]
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


def markdown(report: dict[str, Any]) -> str:
    p = report["pipeline"]
    r = report["redaction"]
    c = report["cold_start"]
    e = report["end_to_end"]
    q = report["rate_limit"]
    rows = [
        "| figure | median | spread | target |",
        "|---|---|---|---|",
        f"| decision pipeline p50 / p99, 1 KB | {p['1KB']['total']['p50_ms']} / {p['1KB']['total']['p99_ms']} ms | p99 {p['1KB']['total']['p99_spread_ms']} | p99 < 1 ms: {'met' if p['target_met'] else 'MISSED'} |",
        f"| decision pipeline p50 / p99, 64 KB | {p['64KB']['total']['p50_ms']} / {p['64KB']['total']['p99_ms']} ms | p99 {p['64KB']['total']['p99_spread_ms']} | - |",
    ]
    for stage, s in p["1KB"]["stages"].items():
        rows.append(f"| - {stage} (1 KB) p50 / p99 | {s['p50_ms']} / {s['p99_ms']} ms | p99 {s['p99_spread_ms']} | - |")
    rows += [
        f"| response redaction, {r['input_mb']} MB of logs | {r['ours_mb_per_s']} MB/s | {r['ours_spread']} | - |",
        f"| detect-secrets scan, same text | {r['detect_secrets_mb_per_s']} MB/s | {r['detect_secrets_spread']} | ratio {r['ratio']}x |",
        f"| bare `import boto3` + client | {c['bare_import_boto3_ms']['median']} ms | {c['bare_import_boto3_ms']['spread']} | - |",
    ]
    for name, v in c.items():
        if isinstance(v, dict) and "median_ms" in v:
            target = ("< 300 ms: " + ("met" if c["target_met"] else "MISSED")) if name == "GatewayFunction" else "-"
            rows.append(
                f"| cold start {name} | {v['median_ms']} ms ({v['ratio_to_bare_boto3']}x boto3) | {v['spread_ms']} | {target} |"
            )
    rows += [
        f"| gateway tools/call p50 / p99 | {e['gateway_tools_call']['p50_ms']} / {e['gateway_tools_call']['p99_ms']} ms | p99 {e['gateway_tools_call']['p99_spread_ms']} | - |",
        f"| direct boto3 to local AWS p50 / p99 | {e['direct_boto3_to_local_aws']['p50_ms']} / {e['direct_boto3_to_local_aws']['p99_ms']} ms | - | ratio p50 {e['ratio_p50']}x |",
    ]
    for k, v in q.items():
        if isinstance(v, dict):
            rows.append(
                f"| rate-limit UpdateItem, {k.replace('_', ' ')} | {v['ops_per_s']} ops/s | {v['spread']} | - |"
            )
    env = report["environment"]
    notes = ["", "## Targets", ""]
    p99 = p["1KB"]["total"]["p99_ms"]
    if p["target_met"]:
        notes.append(f"- Decision pipeline at 1 KB: p99 {p99} ms, target < 1 ms: met.")
    else:
        notes.append(
            f"- Decision pipeline at 1 KB: p99 {p99} ms, target < 1 ms: **missed by {p99 / 1.0:.1f}x**. Why: the "
            "detector normalizes every string argument (NFKC, invisible characters, confusables, URL/HTML/unicode "
            "escapes, base64 and hex layers, leetspeak) alone and in the joins a split payload hides in - four "
            "detector passes per request since split payloads across identifier arguments are also caught - in "
            "pure Python. Token check and redaction of the audit copy are ~0.1 ms each. In context the whole "
            "tools/call takes hundreds of ms on the local stack, so this is not on the critical path; a compiled "
            "multi-pattern matcher or an order-independent split detector would close the gap."
        )
    gw = c.get("GatewayFunction", {}).get("median_ms")
    if gw is not None:
        verdict = "met" if c["target_met"] else f"**missed by {gw / 300:.1f}x**"
        notes.append(
            f"- Gateway cold start (import and initialise in a fresh interpreter): {gw} ms, target < 300 ms: {verdict}."
            + (
                ""
                if c["target_met"]
                else " Why: importing the MCP SDK alone takes about 300 ms here (`import mcp.server.lowlevel` runs the"
                " package's `__init__`, which imports the client side and every protocol type), then the tool catalog's"
                " pydantic models, the detector's rule tables and boto3. Deployed, provisioned concurrency on the `live`"
                " alias keeps agents from ever waiting for it; lazy imports of the SDK's client side would need an"
                " upstream change."
            )
        )
    return (
        f"# Benchmark report\n\n{env['when']} on {env['machine']} ({env['cpus']} CPUs), Python {env['python']}."
        f" Medians over {REPEATS} repeats; spread = min..max of the repeats.\n\n" + "\n".join(rows + notes) + "\n"
    )


def main() -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    if "--render" in sys.argv:  # re-render report.md and the plot from report.json, without measuring again
        report = json.loads((RESULTS / "report.json").read_text())
        (RESULTS / "report.md").write_text(markdown(report))
        plot(report, RESULTS / "latency.png")
        print(markdown(report))
        return 0
    started = time.time()
    report: dict[str, Any] = {
        "environment": {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "quick": QUICK,
        }
    }

    def save() -> None:  # after every stage, so a failure later never loses what was measured
        (RESULTS / "report.json").write_text(json.dumps(report, indent=2))

    print("1/5 decision pipeline ...", flush=True)
    report["pipeline"] = bench_pipeline()
    save()
    print("2/5 redaction throughput ...", flush=True)
    report["redaction"] = bench_redaction()
    save()
    import tempfile

    from mcp_gateway_local.stack import LocalStack

    with tempfile.TemporaryDirectory() as state, LocalStack(state_dir=Path(state)) as stack:
        print("3/5 cold start ...", flush=True)
        report["cold_start"] = bench_cold_start(stack)
        save()
        print("4/5 end to end ...", flush=True)
        report["end_to_end"] = bench_end_to_end(stack)
        save()
        print("5/5 rate-limit throughput ...", flush=True)
        report["rate_limit"] = bench_rate_limit(stack)
    report["elapsed_s"] = round(time.time() - started, 1)
    (RESULTS / "report.json").write_text(json.dumps(report, indent=2))
    (RESULTS / "report.md").write_text(markdown(report))
    plot(report, RESULTS / "latency.png")
    print(markdown(report))
    print(f"wrote {RESULTS}/report.json, report.md, latency.png in {report['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
