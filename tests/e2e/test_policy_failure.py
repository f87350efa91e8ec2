"""A policy that fails to load denies every call (POLICY_UNAVAILABLE, audited); explain_policy and the CLI
give the same decision, rule id and reason as a real call; replay reports decisions a candidate changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import audit_records, unique_email
from mcp_gateway.domain.errors import ReasonCode
from mcp_gateway.policy_loader import load_policy
from mcp_gateway_local import cli, policy_cli
from mcp_gateway_local.stack import ACCOUNT, REGION

pytestmark = pytest.mark.e2e

OUTCOME_BY_STATUS = {"ok": "ALLOW", "pending": "REVIEW", "denied": "DENY"}


def decision_of(result: Any) -> tuple[str, str, str]:
    """(outcome, reason, rule_id) of a real tools/call result."""
    body = json.loads(result.content[0].text)
    if result.is_error:
        error = body["error"]
        return OUTCOME_BY_STATUS.get(error.get("status", ""), "DENY"), error["reason"], error["rule_id"]
    d = body["decision"]
    return d["outcome"], d["reason"], d["rule_id"]


def explained(result: Any) -> tuple[str, str, str]:
    assert not result.is_error
    d = result.structured_content["decision"]
    return d["outcome"], d["reason"], d["rule_id"]


def _bad_policies(tmp: Path) -> dict[str, Path]:
    corrupt = tmp / "corrupt.yaml"
    corrupt.write_text("allow: [unclosed\n  deny: {")
    invalid = tmp / "invalid.yaml"
    invalid.write_text("version: '1'\nallow:\n  - action: 's3:*'\n    resources: ['*']\ndeny: []\n")
    return {"corrupt": corrupt, "missing": tmp / "does-not-exist.yaml", "schema-invalid": invalid}


async def test_a_corrupt_missing_or_schema_invalid_policy_makes_every_call_deny_and_is_audited(
    stack: Any, session_factory: Any, tmp_path: Path
) -> None:
    calls = [
        ("list_buckets", {"intent": "find the log bucket"}),
        ("list_objects", {"bucket": "acme-app-logs"}),
        (
            "call_aws",
            {"service": "s3", "operation": "DeleteBucket", "parameters": {"Bucket": "acme-scratch"}},
        ),
    ]
    session = session_factory(unique_email("broken"))
    for kind, path in _bad_policies(tmp_path).items():
        try:
            stack.redeploy("ValidateFunction", POLICY_PATH=str(path))
            stack.redeploy("GatewayFunction", POLICY_PATH=str(path))
            async with session.client() as client:
                for tool, args in calls:
                    result = await client.call_tool(tool, args)
                    assert result.is_error, (kind, tool)
                    error = json.loads(result.content[0].text)["error"]
                    assert (error["reason"], error["rule_id"]) == (
                        ReasonCode.POLICY_UNAVAILABLE.value,
                        "policy.unavailable",
                    ), (kind, tool)
                    outcome = audit_records(stack, error["request_id"])["outcome"]
                    assert (outcome["decision"], outcome["reason"]) == (
                        "DENY",
                        ReasonCode.POLICY_UNAVAILABLE.value,
                    )
                answer = await client.call_tool("explain_policy", {"tool": "list_buckets", "arguments": {}})
                assert explained(answer) == (
                    "DENY",
                    ReasonCode.POLICY_UNAVAILABLE.value,
                    "policy.unavailable",
                )
        finally:
            stack.redeploy("ValidateFunction", POLICY_PATH=stack.policy_path)
            stack.redeploy("GatewayFunction", POLICY_PATH=stack.policy_path)


CALLS = [
    ("list_objects", {"bucket": "acme-app-logs", "prefix": "orders-api/", "intent": "find yesterday's logs"}),
    ("get_object", {"bucket": "acme-finance-private", "key": "payroll.csv"}),
    ("call_aws", {"service": "s3", "operation": "DeleteBucket", "parameters": {"Bucket": "acme-scratch"}}),
    ("call_aws", {"service": "ec2", "operation": "DescribeInstances"}),
    ("list_buckets", {"intent": "list all buckets, then for each bucket download every object"}),  # REVIEW
    # issue 21: a read's chaining words are signals; the chaining block applies to writes, judged strictly
    (
        "put_object",
        {"bucket": "acme-scratch", "key": "notes/y.md", "text": "x", "intent": "save it, then for each bucket"},
    ),
    ("put_object", {"bucket": "acme-scratch", "key": "notes/x.md", "text": "hello"}),
]


async def test_explain_policy_and_the_cli_give_the_same_decision_as_a_real_call(
    stack: Any, session_factory: Any
) -> None:
    email = unique_email("explainer")
    session = session_factory(email)
    policy = load_policy(stack.policy_path)
    seen_outcomes = set()
    async with session.client() as client:
        for tool, args in CALLS:
            answer = await client.call_tool("explain_policy", {"tool": tool, "arguments": args})
            real = await client.call_tool(tool, args)
            via_cli = policy_cli.explain_tool_call(
                policy, "", tool, args, email, ["developers"], region=REGION, account=ACCOUNT
            )["decision"]
            assert explained(answer) == decision_of(real), tool
            assert (via_cli["outcome"], via_cli["reason"], via_cli["rule_id"]) == decision_of(real), tool
            assert answer.structured_content["executed"] is False
            seen_outcomes.add(decision_of(real)[1])
    assert {
        "ALLOWED",
        "RESOURCE_NOT_ALLOWED",
        "EXPLICIT_DENY",
        "NOT_ALLOWLISTED",
        "CHAINING_BLOCKED",
    } <= seen_outcomes


def test_the_cli_explains_and_checks(stack: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = json.dumps({"service": "s3", "operation": "DeleteBucket", "parameters": {"Bucket": "acme-scratch"}})
    assert cli.main(["policy", "explain", "--tool", "call_aws", "--args", args, "--policy", stack.policy_path]) == 0
    decision = json.loads(capsys.readouterr().out)["decision"]
    assert (decision["reason"], decision["rule_id"]) == (ReasonCode.EXPLICIT_DENY.value, "deny.delete")
    assert cli.main(["policy", "check", stack.policy_path]) == 0
    capsys.readouterr()
    bad = _bad_policies(tmp_path)["schema-invalid"]
    assert cli.main(["policy", "check", str(bad)]) == policy_cli.EXIT_INVALID
    assert json.loads(capsys.readouterr().out)["reason"] == ReasonCode.POLICY_UNAVAILABLE.value


async def test_replay_reports_every_decision_a_candidate_policy_would_change(
    stack: Any, session_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = session_factory(unique_email("replayed"))
    async with session.client() as client:
        listed = await client.call_tool("list_objects", {"bucket": "acme-app-logs", "intent": "look for exports"})
        denied = await client.call_tool("call_aws", {"service": "ec2", "operation": "DescribeInstances"})
    listed_id = json.loads(listed.content[0].text)["request_id"]
    denied_id = json.loads(denied.content[0].text)["error"]["request_id"]

    data = yaml.safe_load(Path(stack.policy_path).read_text())
    data["allow"] = [r for r in data["allow"] if r["action"] != "s3:ListBucket"]  # the candidate drops listing
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(yaml.safe_dump(data))

    argv = [
        "--state-dir",
        str(stack.state_dir),
        "policy",
        "replay",
        "--since",
        "1d",
        "--fail-on-change",
        str(candidate),
    ]
    assert cli.main(argv) == policy_cli.EXIT_CHANGES
    out = capsys.readouterr().out  # the in-process functions' log lines share stdout with the report
    report, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "candidate"') :])
    changed = {c["request_id"]: c for c in report["changes"]}
    assert listed_id in changed
    assert changed[listed_id]["recorded"]["outcome"] == "ALLOW"
    assert changed[listed_id]["candidate"]["reason"] == ReasonCode.NOT_ALLOWLISTED.value
    assert denied_id not in changed  # still NOT_ALLOWLISTED by default.deny: unchanged
    assert report["replayed"] >= 2
