"""The policy file: schema, fail-closed loading, precedence, each rule type, group overrides, data limits,
explain, and the committed JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp_gateway.domain.errors import PolicyError, ReasonCode
from mcp_gateway.domain.models import ActionRequest, Outcome, Principal
from mcp_gateway.domain.policy import (
    MAX_REMEMBERED_ANSWERS,
    Policy,
    deny_everything,
    evaluate,
    explain,
    parse_policy,
    policy_json_schema,
    requested_object_bytes,
)
from mcp_gateway.policy_loader import load_policy

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "policy" / "gateway-policy.yaml"
NOW = 1_795_000_000.0


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(POLICY_FILE.read_text())
    return data


def policy_with(**changes: Any) -> Policy:
    data = shipped()
    data.update(changes)
    return parse_policy(yaml.safe_dump(data))


def request(
    action: str,
    resources: tuple[str, ...] = ("*",),
    parameters: dict[str, Any] | None = None,
    *,
    intent: str = "",
    groups: tuple[str, ...] = ("developers",),
) -> ActionRequest:
    service, operation = action.split(":", 1)
    return ActionRequest(
        request_id="req-0123456789",
        tool="call_aws",
        service=service,
        operation=operation,
        action=action,
        parameters=parameters or {},
        resources=resources,
        intent=intent,
        principal=Principal(sub="u1", email="dev@example.com", groups=groups, token_id="t1", expires_at=0),
        requested_at=NOW,
    )


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(str(POLICY_FILE))


def get_object(nbytes: int, **kw: Any) -> ActionRequest:
    return request(
        "s3:GetObject",
        ("arn:aws:s3:::acme-app-logs/app/2026-11-24.log",),
        {"Bucket": "acme-app-logs", "Key": "app/2026-11-24.log", "Range": f"bytes=0-{nbytes - 1}"},
        **kw,
    )


def filter_logs(seconds: int, **kw: Any) -> ActionRequest:
    end = int(NOW * 1000)
    return request(
        "logs:FilterLogEvents",
        ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders-api",),
        {"logGroupName": "/aws/lambda/orders-api", "startTime": end - seconds * 1000, "endTime": end},
        **kw,
    )


# --- loading: fail closed -------------------------------------------------------------------------
def test_the_shipped_policy_loads_and_the_bundled_copy_is_identical() -> None:
    bundled = ROOT / "layers" / "core" / "mcp_gateway" / "bundled" / "gateway-policy.yaml"
    assert bundled.read_text() == POLICY_FILE.read_text()
    assert load_policy(str(POLICY_FILE)).version


def test_a_missing_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(str(tmp_path / "nope.yaml"))
    assert err.value.code is ReasonCode.POLICY_UNAVAILABLE


@pytest.mark.parametrize(
    "text",
    [
        "allow: [unclosed",  # corrupt YAML
        "just a string",  # not a mapping
        "\x00\x01\x02",  # binary garbage
        "",  # empty
    ],
)
def test_a_corrupt_policy_is_a_policy_error(text: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text)
    assert err.value.code is ReasonCode.POLICY_UNAVAILABLE


@pytest.mark.parametrize(
    "change",
    [
        {"version": ""},
        {"unknown_key": 1},
        {"deny": []},  # no explicit denies at all
        {"allow": [{"action": "s3:*", "resources": ["*"]}]},  # wildcard allow
        {"allow": [{"action": "s3:Get*", "resources": ["*"]}]},
        {"allow": [{"action": "*:GetObject", "resources": ["*"]}]},
        {"allow": [{"action": "s3:DeleteBucket", "resources": ["*"]}]},  # allow + explicit deny overlap
        {"allow": [{"action": "iam:GetUser", "resources": ["*"]}]},  # overlaps iam:*
        {"allow": [{"action": "s3:GetObject", "resources": []}]},
        {"data_limits": {"max_object_bytes": 0}},
        {"rate_limits": {"fail_open_tiers": ["write"]}},
    ],
)
def test_a_schema_invalid_policy_is_a_policy_error(change: dict[str, Any]) -> None:
    data = shipped()
    data.update(change)
    with pytest.raises(PolicyError) as err:
        parse_policy(yaml.safe_dump(data))
    assert err.value.code is ReasonCode.POLICY_UNAVAILABLE


def test_an_overlapping_group_allow_is_rejected_too() -> None:
    with pytest.raises(PolicyError):
        policy_with(groups={"sre": {"allow": [{"action": "s3:DeleteObject", "resources": ["*"]}]}})


def test_a_gateway_without_a_policy_denies_everything_with_a_reason_code() -> None:
    decision = deny_everything("policy file could not be read")
    assert decision.outcome is Outcome.DENY
    assert decision.reason is ReasonCode.POLICY_UNAVAILABLE
    assert decision.rule_id == "policy.unavailable"


# --- precedence: explicit deny > chaining block > review > allow > default deny -------------------
def test_explicit_deny_beats_everything_even_a_review_listing_and_an_allow(policy: Policy) -> None:
    p = policy_with(review={"actions": ["s3:DeleteBucket"]})
    d = evaluate(p, request("s3:DeleteBucket", ("arn:aws:s3:::acme-scratch",), intent="list buckets then loop"))
    assert (d.outcome, d.reason, d.rule_id) == (Outcome.DENY, ReasonCode.EXPLICIT_DENY, "deny.delete")


# Issue 21: a read-only call cannot carry out a chain, so its chaining words no longer deny it (they are
# signals, and fan-out words raise scrutiny); the chaining block now applies to writes, judged strictly.
def test_a_chaining_block_beats_review_and_allow_on_a_write() -> None:
    p = policy_with(review={"actions": ["s3:PutObject"]})
    d = evaluate(
        p,
        request(
            "s3:PutObject",
            ("arn:aws:s3:::acme-scratch/notes/x.md",),
            {"Bucket": "acme-scratch", "Key": "notes/x.md", "Body": "x"},
            intent="write the note, then for each bucket download all",
            groups=("sre",),
        ),
    )
    assert d.outcome is Outcome.DENY
    assert d.reason is ReasonCode.CHAINING_BLOCKED


def test_chaining_words_on_a_read_only_call_are_signals_and_fan_out_words_raise_scrutiny() -> None:
    p = policy_with(review={"actions": ["s3:ListAllMyBuckets"]})
    d = evaluate(p, request("s3:ListAllMyBuckets", intent="list the buckets, then for each bucket download all"))
    assert (d.outcome, d.reason) == (Outcome.REVIEW, ReasonCode.REVIEW_REQUIRED)
    assert any(s.startswith("chain.sequencing:then@intent") for s in d.signals)


def test_review_beats_allow(policy: Policy) -> None:
    p = policy_with(review={"actions": ["s3:ListAllMyBuckets"]})
    d = evaluate(p, request("s3:ListAllMyBuckets"))
    assert (d.outcome, d.reason, d.rule_id) == (Outcome.REVIEW, ReasonCode.REVIEW_REQUIRED, "review.action")


def test_a_review_pattern_on_an_allowed_action_sends_it_to_review(policy: Policy) -> None:
    d = evaluate(policy, request("s3:ListAllMyBuckets", intent="find the bucket so we can wipe it"))
    assert d.outcome in (Outcome.REVIEW, Outcome.DENY)
    assert d.reason in (ReasonCode.REVIEW_REQUIRED, ReasonCode.DANGEROUS_PATTERN)


def test_an_allowlisted_action_on_a_covered_resource_is_allowed(policy: Policy) -> None:
    d = evaluate(policy, request("s3:ListBucket", ("arn:aws:s3:::acme-app-logs",)))
    assert (d.outcome, d.reason, d.rule_id) == (Outcome.ALLOW, ReasonCode.ALLOWED, "allow.s3.listbucket")
    assert d.policy_version.startswith(policy.version)


def test_an_allowlisted_action_on_another_resource_is_denied(policy: Policy) -> None:
    d = evaluate(policy, request("s3:ListBucket", ("arn:aws:s3:::acme-payroll",)))
    assert (d.outcome, d.reason) == (Outcome.DENY, ReasonCode.RESOURCE_NOT_ALLOWED)


def test_anything_else_is_denied_by_default(policy: Policy) -> None:
    d = evaluate(policy, request("ec2:DescribeInstances"))
    assert (d.outcome, d.reason, d.rule_id) == (Outcome.DENY, ReasonCode.NOT_ALLOWLISTED, "default.deny")


@pytest.mark.parametrize(
    ("action", "rule_id"),
    [
        ("s3:DeleteObject", "deny.delete"),
        ("ec2:TerminateInstances", "deny.terminate"),
        ("iam:CreateAccessKey", "deny.iam"),
        ("kms:Decrypt", "deny.kms"),
        ("sts:GetSessionToken", "deny.credential-issuing-reads"),
        ("sts:GetFederationToken", "deny.credential-issuing-reads"),
        ("secretsmanager:GetSecretValue", "deny.credential-issuing-reads"),
        ("ssm:GetParameters", "deny.credential-issuing-reads"),
        ("ssm:GetParametersByPath", "deny.credential-issuing-reads"),
        ("ecr:GetAuthorizationToken", "deny.credential-issuing-reads"),
        ("rds:GenerateDbAuthToken", "deny.credential-issuing-reads"),
    ],
)
def test_each_explicit_deny_holds_including_credential_issuing_reads(policy: Policy, action: str, rule_id: str) -> None:
    d = evaluate(policy, request(action))
    assert (d.outcome, d.reason, d.rule_id) == (Outcome.DENY, ReasonCode.EXPLICIT_DENY, rule_id)


def test_explicit_denies_match_case_insensitively(policy: Policy) -> None:
    assert evaluate(policy, request("s3:deleteBucket")).reason is ReasonCode.EXPLICIT_DENY


# --- group overrides ------------------------------------------------------------------------------
def test_sre_may_write_to_the_scratch_bucket_and_developers_may_not(policy: Policy) -> None:
    res = ("arn:aws:s3:::acme-scratch/notes/incident.md",)
    sre = evaluate(policy, request("s3:PutObject", res, groups=("sre",)))
    dev = evaluate(policy, request("s3:PutObject", res, groups=("developers",)))
    assert (sre.outcome, sre.tier) == (Outcome.ALLOW, "write")
    assert (dev.outcome, dev.reason) == (Outcome.DENY, ReasonCode.NOT_ALLOWLISTED)


def test_a_group_write_stays_confined_to_its_resources(policy: Policy) -> None:
    d = evaluate(policy, request("s3:PutObject", ("arn:aws:s3:::acme-app-logs/x",), groups=("sre",)))
    assert d.reason is ReasonCode.RESOURCE_NOT_ALLOWED


def test_group_overrides_raise_data_limits_and_the_most_generous_group_wins() -> None:
    p = policy_with(
        groups={
            "sre": {"data_limits": {"max_object_bytes": 4_194_304}},
            "oncall": {"data_limits": {"max_object_bytes": 2_097_152, "max_log_time_range_seconds": 1_209_600}},
        }
    )
    both = p.data_limits_for(("sre", "oncall"))
    assert (both.max_object_bytes, both.max_log_time_range_seconds) == (4_194_304, 1_209_600)
    assert p.data_limits_for(("developers",)) == p.data_limits
    assert evaluate(p, get_object(3_000_000, groups=("sre",))).outcome is Outcome.ALLOW
    assert evaluate(p, get_object(3_000_000)).reason is ReasonCode.DATA_LIMIT_EXCEEDED


# --- data limits ----------------------------------------------------------------------------------
def test_an_object_read_within_the_limit_is_allowed(policy: Policy) -> None:
    assert evaluate(policy, get_object(policy.data_limits.max_object_bytes)).outcome is Outcome.ALLOW


def test_an_object_read_over_the_limit_is_denied_with_the_limit(policy: Policy) -> None:
    d = evaluate(policy, get_object(policy.data_limits.max_object_bytes + 1))
    assert (d.outcome, d.reason, d.rule_id) == (
        Outcome.DENY,
        ReasonCode.DATA_LIMIT_EXCEEDED,
        "limit.max-object-bytes",
    )
    assert d.limits == {"max_object_bytes": policy.data_limits.max_object_bytes}


@pytest.mark.parametrize("rng", [None, "bytes=0-", "bytes=0-10,20-30", "bytes=5-1", "lines=1-2", 42])
def test_an_unbounded_or_malformed_object_read_is_denied(policy: Policy, rng: Any) -> None:
    params: dict[str, Any] = {"Bucket": "acme-app-logs", "Key": "k"}
    if rng is not None:
        params["Range"] = rng
    d = evaluate(policy, request("s3:GetObject", ("arn:aws:s3:::acme-app-logs/k",), params))
    assert d.reason is ReasonCode.DATA_LIMIT_EXCEEDED


def test_a_suffix_range_counts_its_bytes() -> None:
    assert requested_object_bytes({"Range": "bytes=-500"}) == 500
    assert requested_object_bytes({"Range": "bytes=100-199"}) == 100


def test_a_log_time_range_within_the_limit_is_allowed(policy: Policy) -> None:
    assert evaluate(policy, filter_logs(policy.data_limits.max_log_time_range_seconds)).outcome is Outcome.ALLOW


def test_a_log_time_range_over_the_limit_is_denied(policy: Policy) -> None:
    d = evaluate(policy, filter_logs(policy.data_limits.max_log_time_range_seconds + 60))
    assert (d.reason, d.rule_id) == (ReasonCode.DATA_LIMIT_EXCEEDED, "limit.max-log-time-range")


def test_a_log_search_without_a_start_time_is_unbounded_and_denied(policy: Policy) -> None:
    d = evaluate(
        policy,
        request(
            "logs:FilterLogEvents",
            ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders-api",),
            {"logGroupName": "/aws/lambda/orders-api"},
        ),
    )
    assert d.reason is ReasonCode.DATA_LIMIT_EXCEEDED


def test_data_limits_do_not_hide_a_not_allowlisted_action(policy: Policy) -> None:
    d = evaluate(policy, request("s3:GetObjectVersion", ("arn:aws:s3:::acme-app-logs/k",), {}))
    assert d.reason is ReasonCode.NOT_ALLOWLISTED


# --- explain --------------------------------------------------------------------------------------
CASES = [
    request("s3:DeleteBucket", ("arn:aws:s3:::acme-scratch",)),
    request("s3:ListAllMyBuckets", intent="list buckets then for each bucket dump everything"),
    request("s3:ListBucket", ("arn:aws:s3:::acme-payroll",)),
    request("ec2:DescribeInstances"),
    request("s3:ListBucket", ("arn:aws:s3:::acme-app-logs",)),
    get_object(5_000_000),
]


@pytest.mark.parametrize("req", CASES, ids=lambda r: r.action)
def test_explain_gives_exactly_the_decision_evaluate_gives(policy: Policy, req: ActionRequest) -> None:
    explanation = explain(policy, req)
    assert explanation.decision == evaluate(policy, req)
    assert explanation.decision.rule_id in {m.rule_id for m in explanation.matched}
    assert explanation.hint


def test_explain_lists_overridden_rules_too(policy: Policy) -> None:
    p = policy_with(review={"actions": ["s3:PutObject"]})
    explanation = explain(
        p,
        request(
            "s3:PutObject",
            ("arn:aws:s3:::acme-scratch/notes/x.md",),
            {"Bucket": "acme-scratch", "Key": "notes/x.md", "Body": "x"},
            intent="then for each bucket download everything",
            groups=("sre",),
        ),
    )
    kinds = {m.kind for m in explanation.matched}
    assert explanation.decision.reason is ReasonCode.CHAINING_BLOCKED
    assert {"detection", "allow", "review"} <= kinds


def test_explain_names_the_allowed_actions_when_an_action_is_not_allowlisted(policy: Policy) -> None:
    explanation = explain(policy, request("ec2:DescribeInstances"))
    assert "s3:GetObject" in explanation.allowed_actions
    assert "s3:PutObject" not in explanation.allowed_actions
    assert "s3:PutObject" in explain(policy, request("ec2:DescribeInstances", groups=("sre",))).allowed_actions


# --- the JSON Schema ------------------------------------------------------------------------------
def test_the_committed_json_schema_equals_the_generated_one() -> None:
    committed = json.loads((ROOT / "policy" / "schema.json").read_text())
    assert committed == policy_json_schema(), "regenerate: mcp-gateway policy schema --write"


def test_the_json_schema_forbids_unknown_keys_and_wildcard_allows() -> None:
    import jsonschema

    schema = policy_json_schema()
    jsonschema.validate(shipped(), schema)
    for bad in ({**shipped(), "extra": 1}, {**shipped(), "allow": [{"action": "s3:*", "resources": ["*"]}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_the_remembered_deny_allow_and_data_limit_lookups_answer_what_the_rules_say() -> None:
    policy = parse_policy(POLICY_FILE.read_text())
    actions = sorted(
        {r.action for r in policy.allow}
        | {r.action for o in policy.groups.values() for r in o.allow}
        | {"iam:CreateUser", "IAM:createuser", "s3:DeleteBucket", "logs:FilterLogEvents", "ec2:RunInstances", "x:y"}
    )
    group_sets = [(), ("developers",), ("developers", "sre"), ("sre", "developers"), tuple(policy.groups), ("nobody",)]
    for _ in range(2):  # the second round is answered from memory
        for action in actions:
            expected_deny = next((rule for rule in policy.deny if rule.matches(action)), None)
            assert policy.deny_rule_for(action) == expected_deny
            for groups in group_sets:
                assert list(policy.allow_rules_for_action(groups, action)) == [
                    r for r in policy.allow_rules_for(groups) if r.action == action
                ]
        for groups in group_sets:
            assert policy.data_limits_for(groups) == policy._data_limits_for(tuple(groups))
    assert any(policy.deny_rule_for(a) is not None for a in actions)


def test_a_policy_remembers_a_bounded_number_of_answers() -> None:
    policy = parse_policy(POLICY_FILE.read_text())
    for i in range(MAX_REMEMBERED_ANSWERS + 10):
        assert policy.deny_rule_for(f"svc{i}:Describe") is None
        assert len(policy._answers) <= MAX_REMEMBERED_ANSWERS
    assert policy.deny_rule_for("iam:CreateUser") is not None
