"""The audit trail's deployed shape, asserted on template.yaml: no gateway role can update or delete audit
records; the table keeps PITR, deletion protection, KMS, TTL and the auditor's indexes; the log group keeps
retention >= 90 days, KMS and a data-protection backstop; saved queries answer the auditor's questions."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from mcp_gateway_local.template import load_template

# What "append-only" forbids. PutItem stays allowed for writers (conditional on attribute_not_exists in code);
# an overwrite through PutItem is what `audit verify` detects (see docs/audit.md).
MUTATIONS = (
    "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete", "dynamodb:DeleteTable", "dynamodb:UpdateTable",
)  # fmt: skip
KNOWN_WRITERS = {
    "GatewayFunction", "AuditFunction", "ApprovalCallbackFunction",
    "RequestStateMachine", "ApprovalStateMachine",
}  # fmt: skip
ROLE_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::IAM::Role")


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return load_template()["Resources"]  # type: ignore[no-any-return]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def mentions_audit_table(value: Any) -> bool:
    return "AuditTable" in json.dumps(value)


def is_template_managed_policy(ref: Any, resources: dict[str, Any]) -> bool:
    return isinstance(ref, str) and resources.get(ref, {}).get("Type") == "AWS::IAM::ManagedPolicy"


def policy_documents(name: str, resources: dict[str, Any]) -> list[Any]:
    """Every policy that applies to one role: inline statements, SAM policy templates, managed policies (by
    name, or defined in this template), and the policies of an explicit Role a function points to."""
    props = resources[name].get("Properties") or {}
    docs: list[Any] = []
    for policy in as_list(props.get("Policies") or []):
        if isinstance(policy, dict) and "PolicyDocument" in policy:  # AWS::IAM::Role inline policy
            docs.append(policy["PolicyDocument"])
        elif isinstance(policy, dict) and is_template_managed_policy(policy.get("Ref"), resources):
            docs.append(resources[policy["Ref"]]["Properties"]["PolicyDocument"])  # SAM: !Ref of a managed policy
        else:
            docs.append(policy)  # a SAM statement block, a SAM policy template, or a managed policy name
    for arn in as_list(props.get("ManagedPolicyArns") or []):
        ref = arn.get("Ref") if isinstance(arn, dict) else None
        if ref in resources:
            docs.append(resources[ref]["Properties"]["PolicyDocument"])
        else:
            docs.append(arn)
    role = props.get("Role")
    if isinstance(role, dict):
        target = (role.get("Fn::GetAtt") or [role.get("Ref")])[0]
        if target in resources:
            docs.extend(policy_documents(target, resources))
    return docs


def statements(docs: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and "Statement" in doc:
            out.extend(s for s in as_list(doc["Statement"]) if isinstance(s, dict))
    return out


def action_matches(patterns: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in as_list(patterns))


def reaches_audit_table(docs: list[Any]) -> bool:
    """Any allow that could touch the audit table: a DynamoDB action on it (or on '*' / any table), a SAM
    policy template naming it, or a managed DynamoDB policy."""
    for doc in docs:
        if isinstance(doc, str) and "dynamodb" in doc.lower():
            return True
        if isinstance(doc, dict) and "Statement" not in doc and mentions_audit_table(doc):
            return True  # e.g. DynamoDBCrudPolicy: {TableName: !Ref AuditTable}
    for st in statements(docs):
        if st.get("Effect") != "Allow":
            continue
        if not any(action_matches(st.get("Action"), a) for a in ("dynamodb:GetItem", *MUTATIONS, "dynamodb:PutItem")):
            continue
        targets = as_list(st.get("Resource"))
        if any(mentions_audit_table(r) or r == "*" or (isinstance(r, str) and ":table/*" in r) for r in targets):
            return True
    return False


def has_append_only_deny(docs: list[Any]) -> bool:
    for st in statements(docs):
        if st.get("Effect") != "Deny" or st.get("Condition"):
            continue
        targets = json.dumps(st.get("Resource"))
        covers_table = "AuditTable" in targets and "/index/*" in targets
        if covers_table and all(action_matches(st.get("Action"), a) for a in MUTATIONS):
            return True
    return False


def roles(resources: dict[str, Any]) -> list[str]:
    return [name for name, spec in resources.items() if spec["Type"] in ROLE_TYPES]


def test_every_role_that_can_reach_the_audit_table_has_the_explicit_append_only_deny(
    resources: dict[str, Any],
) -> None:
    reaching = {name for name in roles(resources) if reaches_audit_table(policy_documents(name, resources))}
    assert reaching >= KNOWN_WRITERS, "the detector finds every known audit writer"
    missing = sorted(name for name in reaching if not has_append_only_deny(policy_documents(name, resources)))
    assert missing == []


# Every role of a gateway function or workflow, read from the template at collection (one test per role).
GATEWAY_ROLES = sorted(
    name
    for name, spec in load_template()["Resources"].items()
    if spec["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
)


@pytest.mark.parametrize("role", GATEWAY_ROLES)
def test_every_gateway_role_carries_the_append_only_deny(role: str, resources: dict[str, Any]) -> None:
    assert has_append_only_deny(policy_documents(role, resources))


def test_the_append_only_deny_is_written_once_as_a_managed_policy_attached_to_every_gateway_role(
    resources: dict[str, Any],
) -> None:
    assert {"GatewayFunction", "ValidateFunction", "ExecuteFunction", *KNOWN_WRITERS} <= set(GATEWAY_ROLES)
    holders = [
        name
        for name, spec in resources.items()
        for doc in [(spec.get("Properties") or {}).get("PolicyDocument")]
        if spec["Type"] == "AWS::IAM::ManagedPolicy" and has_append_only_deny([doc])
    ]
    assert len(holders) == 1, holders
    (managed,) = holders
    for role in GATEWAY_ROLES:
        policies = resources[role]["Properties"].get("Policies") or []
        assert {"Ref": managed} in policies, role
        inline = [p for p in policies if isinstance(p, dict) and "Statement" in p]
        assert not has_append_only_deny(inline), f"{role} repeats the deny inline"


def test_the_detector_flags_a_role_that_could_update_the_audit_table_without_the_deny() -> None:
    allow = {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}
    deny = {
        "Effect": "Deny",
        "Action": list(MUTATIONS),
        "Resource": [{"Fn::GetAtt": ["AuditTable", "Arn"]}, {"Fn::Sub": "${AuditTable.Arn}/index/*"}],
    }
    assert reaches_audit_table([{"Statement": [allow]}])
    assert reaches_audit_table([{"DynamoDBCrudPolicy": {"TableName": {"Ref": "AuditTable"}}}])
    assert reaches_audit_table(["AmazonDynamoDBFullAccess"])
    assert not has_append_only_deny([{"Statement": [allow]}])
    assert not has_append_only_deny([{"Statement": [{**deny, "Action": list(MUTATIONS[:-1])}]}])
    assert not has_append_only_deny([{"Statement": [{**deny, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}])
    assert has_append_only_deny([{"Statement": [allow, deny]}])
    assert has_append_only_deny([{"Statement": [{**deny, "Action": "dynamodb:*"}]}])


def test_the_data_role_cannot_reach_the_audit_table(resources: dict[str, Any]) -> None:
    assert not reaches_audit_table(policy_documents("DataAccessRole", resources))


def test_the_audit_table_has_pitr_deletion_protection_kms_and_ttl(resources: dict[str, Any]) -> None:
    table = resources["AuditTable"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    assert props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    sse = props["SSESpecification"]
    assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS" and sse["KMSMasterKeyId"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_audit_table_indexes_answer_the_auditors_questions(resources: dict[str, Any]) -> None:
    indexes = {
        gsi["IndexName"]: tuple(k["AttributeName"] for k in gsi["KeySchema"])
        for gsi in resources["AuditTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "by-user": ("user_email", "ts"),
        "by-prompt": ("prompt_hmac", "ts"),
        "by-action": ("action", "ts"),
        "by-service": ("service", "ts"),
        "by-resource": ("resource", "ts"),
        "by-chain": ("chain_day", "seq"),
    }


def test_retention_is_never_below_ninety_days_for_the_log_group_and_the_table_ttl(
    resources: dict[str, Any],
) -> None:
    param = load_template()["Parameters"]["AuditRetentionDays"]
    assert param["Default"] >= 90
    assert min(param["AllowedValues"]) >= 90
    group = resources["AuditLogGroup"]
    assert group["Properties"]["RetentionInDays"] == {"Ref": "AuditRetentionDays"}
    assert group["Properties"]["KmsKeyId"]
    assert group["DeletionPolicy"] == "Retain"
    env = resources["AuditFunction"]["Properties"]["Environment"]["Variables"]
    assert env["AUDIT_RETENTION_DAYS"] == {"Ref": "AuditRetentionDays"}  # the TTL floor the audit store applies

    from mcp_gateway.settings import AuditSettings

    floor = AuditSettings.model_fields["AUDIT_RETENTION_DAYS"].metadata
    assert any(getattr(m, "ge", None) == 90 for m in floor), "a shorter TTL is refused at cold start"


def test_the_audit_log_group_masks_credentials_as_a_backstop(resources: dict[str, Any]) -> None:
    policy = resources["AuditLogGroup"]["Properties"]["DataProtectionPolicy"]
    assert policy["Version"] == "2021-06-01"
    by_operation = {next(iter(st["Operation"])): json.dumps(st["DataIdentifier"]) for st in policy["Statement"]}
    assert set(by_operation) == {"Audit", "Deidentify"}
    for identifier in ("AwsSecretKey", "CreditCardNumber", "PkcsPrivateKey"):
        assert identifier in by_operation["Audit"] and identifier in by_operation["Deidentify"]
    assert "EmailAddress" in by_operation["Audit"]


def test_saved_queries_cover_the_auditors_questions(resources: dict[str, Any]) -> None:
    queries = {
        json.dumps(spec["Properties"]["Name"]): spec["Properties"]
        for spec in resources.values()
        if spec["Type"] == "AWS::Logs::QueryDefinition"
    }
    expected = {
        "all S3 access by user": ('service = "s3"', "user_email ="),
        "everything for prompt hash": ("prompt_hmac =",),
        "denied or throttled by user": ('decision = "DENY"', "by user_email"),
        "auth failures by source IP": ('rule_id = "auth"', "by source_ip"),
    }
    for title, fragments in expected.items():
        found = [q for name, q in queries.items() if title in name]
        assert len(found) == 1, title
        assert found[0]["LogGroupNames"] == [{"Ref": "AuditLogGroup"}]
        assert 'kind = "outcome"' in found[0]["QueryString"]
        for fragment in fragments:
            assert fragment in found[0]["QueryString"], (title, fragment)
