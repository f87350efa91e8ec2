"""Issue 21's policy fixes: an account-wide call (resource ``*``) is covered by an allow rule that grants every
resource of its type; HeadObject (no body) is not a data-limit excess; the access level decides how words count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp_gateway.domain.models import Outcome, Principal
from mcp_gateway.domain.policy import Policy, access_level, evaluate
from mcp_gateway.gateway.tool_explain_policy import action_request
from mcp_gateway.policy_loader import load_policy

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_795_000_000.0
POLICY = load_policy(str(ROOT / "policy" / "gateway-policy.yaml"))
DEV = Principal(sub="u1", email="dev@example.com", groups=("developers",), token_id="t1", expires_at=0)
# Parameters that make call_aws name no resource (resource "*"), per allowed action whose IAM resource is "*"
# or account-wide ("log-group:*").
STAR_CALLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "s3:ListAllMyBuckets": ("s3", "ListBuckets", {}),
    "logs:DescribeLogGroups": ("logs", "DescribeLogGroups", {}),
    "logs:GetQueryResults": ("logs", "GetQueryResults", {"queryId": "q-1"}),
    "cloudwatch:GetMetricData": ("cloudwatch", "GetMetricData", {}),
    "cloudwatch:ListMetrics": ("cloudwatch", "ListMetrics", {}),
    "cloudwatch:DescribeAlarms": ("cloudwatch", "DescribeAlarms", {}),
}


def call_aws(service: str, operation: str, params: dict[str, Any], policy: Policy = POLICY) -> Any:
    args = {"service": service, "operation": operation, "parameters": params}
    return evaluate(policy, action_request("call_aws", args, DEV, region="us-east-1", account="123456789012", now=NOW))


def test_every_allowed_action_whose_iam_resource_is_star_is_covered_for_a_resource_star_request() -> None:
    star_rules = [r for r in POLICY.allow if any(p == "*" or p.endswith(":*") for p in r.resources)]
    assert {r.action for r in star_rules} == set(STAR_CALLS)
    for rule in star_rules:
        service, operation, params = STAR_CALLS[rule.action]
        decision = call_aws(service, operation, params)
        assert (decision.outcome, decision.rule_id) == (Outcome.ALLOW, rule.rule_id), rule.action


def test_call_aws_describe_log_groups_is_allowed_within_the_policy() -> None:
    assert call_aws("logs", "DescribeLogGroups", {}).outcome is Outcome.ALLOW
    assert call_aws("logs", "DescribeLogGroups", {"logGroupNamePrefix": "/aws/lambda/"}).outcome is Outcome.ALLOW


def test_call_aws_head_object_is_allowed_within_the_policy_and_get_object_keeps_its_limit() -> None:
    head = call_aws("s3", "HeadObject", {"Bucket": "acme-app-logs", "Key": "README.txt"})
    assert head.outcome is Outcome.ALLOW
    get = call_aws("s3", "GetObject", {"Bucket": "acme-app-logs", "Key": "README.txt"})
    assert get.reason.value == "DATA_LIMIT_EXCEEDED"
    assert call_aws("s3", "HeadObject", {"Bucket": "acme-finance-private", "Key": "x"}).outcome is Outcome.DENY


def test_a_star_request_is_not_covered_by_a_rule_for_some_resources_only() -> None:
    rule = next(r for r in POLICY.allow if r.action == "s3:ListBucket")
    assert not rule.covers("*")


@pytest.mark.parametrize(
    ("action", "level"),
    [
        ("s3:GetObject", "read"),
        ("s3:ListBucket", "list"),
        ("s3:PutObject", "write"),
        ("s3:PutBucketPolicy", "permissions-management"),
        ("iam:AttachUserPolicy", "permissions-management"),
        ("ec2:CreateTags", "write"),
        ("ec2:DescribeInstances", "list"),
        ("ec2:TerminateInstances", "write"),
        ("lambda:TagResource", "tagging"),
    ],
)
def test_the_access_level_comes_from_the_action(action: str, level: str) -> None:
    assert access_level(action) == level


def test_a_write_outside_a_group_pre_approval_goes_to_review_by_action_class() -> None:
    data = POLICY.model_dump(mode="json")
    data["groups"]["developers"] = {"allow": [{"action": "s3:PutObject", "resources": ["arn:aws:s3:::acme-scratch/*"]}]}
    policy = Policy.model_validate(data)
    args = {"bucket": "acme-scratch", "key": "notes/a.md", "text": "hello"}
    d = evaluate(policy, action_request("put_object", args, DEV, region="us-east-1", account="123456789012", now=NOW))
    assert (d.outcome, d.rule_id) == (Outcome.REVIEW, "review.action-class")
    assert d.hint and d.message


def test_a_write_is_judged_strictly_and_its_denial_names_the_phrase_and_a_hint() -> None:
    sre = Principal(sub="u2", email="sre@example.com", groups=("sre",), token_id="t2", expires_at=0)
    args = {"bucket": "acme-scratch", "key": "notes/a.md", "text": "DROP TABLE customers", "intent": "store it"}
    d = evaluate(POLICY, action_request("put_object", args, sre, region="us-east-1", account="123456789012", now=NOW))
    assert (d.outcome, d.reason.value, d.rule_id) == (Outcome.DENY, "DANGEROUS_PATTERN", "deny.destructive-commands")
    assert '"drop table"' in d.message and d.hint
