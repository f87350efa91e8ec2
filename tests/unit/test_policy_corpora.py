"""The adversarial and benign corpora (tests/corpora) through the FULL policy evaluation.

Each corpus case becomes the tool call an agent would really send: the catalog tool whose arguments fit
(filter_log_events, get_metric_data, list_objects, get_object, list_buckets) and, for the adversarial
corpus, also ``call_aws`` carrying every field as an API parameter (free-text fields that no typed tool
accepts, split payloads, identifier fields). The canonical request is built by the same code the gateway
uses for a real ``tools/call`` (catalog.resolve via tool_explain_policy.action_request), then decided by
``evaluate`` (explicit deny, detection, resources, data limits, review, allow).

- adversarial: 100% DENY or REVIEW. A control (the same call with the payload stripped) is ALLOW, so the
  refusal comes from the guardrails, not from the allowlist.
- benign: at most 1% not ALLOW (against the shipped policy with the corpus's buckets granted).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from corpora.adversarial import Case, adversarial_cases
from corpora.benign_requests import benign_cases
from mcp_gateway.domain.models import ActionRequest, Outcome, Principal
from mcp_gateway.domain.policy import Policy, evaluate, parse_policy
from mcp_gateway.gateway.tool_explain_policy import action_request

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_795_000_000.0  # 2026-11-18: the corpora's explicit time ranges are recent, not over the log limit
MAX_BENIGN_FALSE_POSITIVE_RATE = 0.01
EXTRA_BUCKETS = ("acme-backups", "acme-alb-access-logs")
PRINCIPAL = Principal(sub="u1", email="dev@example.com", groups=("developers",), token_id="t1", expires_at=0)
DEFAULT_LOG_GROUP = "/aws/lambda/orders-api"


@pytest.fixture(scope="module")
def policy() -> Policy:
    """The shipped policy, with the two other buckets the benign corpus reads granted like the others."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "policy" / "gateway-policy.yaml").read_text())
    for rule in data["allow"]:
        if rule["action"] == "s3:ListBucket":
            rule["resources"] += [f"arn:aws:s3:::{b}" for b in EXTRA_BUCKETS]
        if rule["action"] == "s3:GetObject":
            rule["resources"] += [f"arn:aws:s3:::{b}/*" for b in EXTRA_BUCKETS]
    return parse_policy(yaml.safe_dump(data))


def call(tool: str, arguments: dict[str, Any]) -> ActionRequest:
    return action_request(tool, arguments, PRINCIPAL, region="us-east-1", account="123456789012", now=NOW)


def _times(f: dict[str, str]) -> dict[str, Any]:
    return {k: f[k] for k in ("start_time", "end_time") if k in f}


def benign_call(case: Case) -> ActionRequest:
    """The typed tool call for one benign case (every field a tool accepts is passed)."""
    f = case.fields
    intent = f["intent"]
    if "namespace" in f or "metric_name" in f:
        dims = []
        if "dimensions" in f and "=" in f["dimensions"]:
            name, value = f["dimensions"].split("=", 1)
            dims = [{"name": name, "value": value}]
        args: dict[str, Any] = {
            "intent": intent,
            "namespace": f.get("namespace", "AWS/ApplicationELB"),
            "metric_name": f.get("metric_name", "TargetResponseTime"),
            "dimensions": dims,
            **_times(f),
        }
        if "stat" in f:
            args["stat"] = f["stat"]
        if "period" in f:
            args["period_seconds"] = int(f["period"])
        return call("get_metric_data", args)
    if "log_group" in f or "filter_pattern" in f or "query" in f:
        args = {"intent": intent, "log_group": f.get("log_group", DEFAULT_LOG_GROUP), **_times(f)}
        pattern = f.get("filter_pattern") or f.get("query")
        if pattern:
            args["filter_pattern"] = pattern
        if "limit" in f:
            args["limit"] = int(f["limit"])
        return call("filter_log_events", args)
    if "bucket" in f:
        if "key" in f:
            return call("get_object", {"intent": intent, "bucket": f["bucket"], "key": f["key"]})
        args = {"intent": intent, "bucket": f["bucket"], "prefix": f.get("prefix", "")}
        if "max_keys" in f:
            args["max_keys"] = int(f["max_keys"])
        return call("list_objects", args)
    return call("list_buckets", {"intent": intent})


def adversarial_typed_call(case: Case, *, strip: bool = False) -> ActionRequest | None:
    """The typed tool that can carry this case's fields, or None when only call_aws can."""
    f = {k: ("" if strip else v) for k, v in case.fields.items()}
    keys = set(case.fields)
    if keys <= {"intent"}:
        return call("list_buckets", {"intent": f.get("intent", "")})
    if keys <= {"intent", "log_group", "filter_pattern"}:
        return call(
            "filter_log_events",
            {
                "intent": f.get("intent", ""),
                "log_group": case.fields.get("log_group", DEFAULT_LOG_GROUP),
                "filter_pattern": "ERROR" if strip else f.get("filter_pattern", ""),
            },
        )
    if keys <= {"intent", "prefix"}:  # a payload split between the intent and an identifier argument
        return call("list_objects", {"intent": f["intent"], "bucket": "acme-app-logs", "prefix": f.get("prefix", "")})
    return None


def adversarial_call_aws(case: Case, *, strip: bool = False) -> ActionRequest:
    """call_aws with every field as an API parameter under its own name (what an attacker can send)."""
    f = case.fields
    intent = "" if strip else f.get("intent", "")
    extra = {} if strip else {k: v for k, v in f.items() if k not in ("intent", "bucket", "log_group", "prefix")}
    if "log_group" in f:
        end = int(NOW * 1000)
        params: dict[str, Any] = {
            "logGroupName": f["log_group"],
            "startTime": end - 3_600_000,
            "endTime": end,
            **{("filterPattern" if k == "filter_pattern" else k): v for k, v in extra.items()},
        }
        return call(
            "call_aws",
            {"intent": intent, "service": "logs", "operation": "FilterLogEvents", "parameters": params},
        )
    params = {"Bucket": f.get("bucket", "acme-app-logs"), **extra}
    if "prefix" in f and not strip:
        params["Prefix"] = f["prefix"]
    return call("call_aws", {"intent": intent, "service": "s3", "operation": "ListObjectsV2", "parameters": params})


def flagged(policy: Policy, request: ActionRequest) -> bool:
    return evaluate(policy, request).outcome in (Outcome.DENY, Outcome.REVIEW)


def test_every_adversarial_case_is_denied_or_sent_to_review_through_the_full_evaluation(
    policy: Policy,
) -> None:
    cases = adversarial_cases()
    assert len(cases) >= 180
    assert len({c.technique for c in cases}) >= 18
    requests: list[tuple[Case, str, ActionRequest]] = []
    for case in cases:
        typed = adversarial_typed_call(case)
        if typed is not None:
            requests.append((case, "typed", typed))
            control = adversarial_typed_call(case, strip=True)
            assert control is not None and evaluate(policy, control).outcome is Outcome.ALLOW, case
        requests.append((case, "call_aws", adversarial_call_aws(case)))
        assert evaluate(policy, adversarial_call_aws(case, strip=True)).outcome is Outcome.ALLOW, case
    missed = [(c, carrier) for c, carrier, r in requests if not flagged(policy, r)]
    caught = len(requests) - len(missed)
    reasons = Counter(evaluate(policy, r).reason.value for _, _, r in requests)
    print(
        f"\nadversarial (full evaluate): {caught}/{len(requests)} requests denied or sent to review "
        f"({caught / len(requests):.1%}); {len(cases)} cases, "
        f"{sum(1 for _, c, _ in requests if c == 'typed')} as typed tools; reasons: {dict(reasons)}"
    )
    assert not missed, f"missed: {[(c.technique, c.seed, carrier) for c, carrier in missed[:5]]}"


def test_benign_requests_are_allowed_with_at_most_one_percent_false_positives(policy: Policy) -> None:
    cases = benign_cases()
    assert len(cases) >= 500
    requests = [(case, benign_call(case)) for case in cases]
    tools = Counter(r.tool for _, r in requests)
    refused = [(case, evaluate(policy, r)) for case, r in requests if evaluate(policy, r).outcome is not Outcome.ALLOW]
    rate = len(refused) / len(cases)
    print(f"\nbenign (full evaluate): {len(refused)}/{len(cases)} false positives ({rate:.2%}); tools: {dict(tools)}")
    for case, decision in refused:
        print(f"  {decision.outcome.value} {decision.reason.value} {decision.rule_id}: {case.fields['intent']!r}")
    assert len(tools) >= 5
    assert rate <= MAX_BENIGN_FALSE_POSITIVE_RATE
