"""Assertions on the deployed shape (template.yaml): isolation, explicit denies, retention and alarm thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp_gateway.domain.policy import parse_policy
from mcp_gateway_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]  # type: ignore[no-any-return]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_the_vpc_has_no_internet_route(resources: dict[str, Any]) -> None:
    forbidden = {
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EgressOnlyInternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::EIP",
        "AWS::EC2::TransitGatewayAttachment",
        "AWS::EC2::VPCPeeringConnection",
    }
    assert not [k for k, v in resources.items() if v["Type"] in forbidden]
    for name, route in of_type(resources, "AWS::EC2::Route").items():
        props = route["Properties"]
        assert "GatewayId" not in props and "NatGatewayId" not in props, name
    for name, subnet in of_type(resources, "AWS::EC2::Subnet").items():
        assert subnet["Properties"].get("MapPublicIpOnLaunch") is False, name


def created_branch(value: Any) -> Any:
    """The value a conditional takes when the stack creates its own isolated VPC (the default)."""
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_created, _existing = value["Fn::If"]
        assert condition == "CreateVpc"
        return when_created
    return value


def test_the_execute_function_sits_inside_the_isolated_vpc(template: dict[str, Any], resources: dict[str, Any]) -> None:
    assert template["Parameters"]["ExistingVpcId"]["Default"] == "", "the default creates the isolated VPC"
    execute = resources["ExecuteFunction"]["Properties"]
    subnets = created_branch(execute["VpcConfig"]["SubnetIds"])
    assert subnets, "ExecuteFunction must have subnets"
    for ref in subnets:
        subnet = resources[ref["Ref"]]
        assert subnet["Type"] == "AWS::EC2::Subnet"
        assert subnet["Properties"]["VpcId"] == {"Ref": "Vpc"}
    for sg in execute["VpcConfig"]["SecurityGroupIds"]:
        egress = resources[sg["Ref"]]["Properties"]["SecurityGroupEgress"]
        assert all(rule["FromPort"] == 443 and rule["ToPort"] == 443 for rule in egress)
        assert all(created_branch(rule.get("CidrIp")) == {"Fn::GetAtt": ["Vpc", "CidrBlock"]} for rule in egress)


def test_only_the_execute_function_can_reach_data(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Serverless::Function")
    for name, fn in functions.items():
        statements = [
            st
            for pol in fn["Properties"].get("Policies", [])
            if isinstance(pol, dict)
            for st in pol.get("Statement", [])
        ]
        actions = {
            a
            for st in statements
            if st["Effect"] == "Allow"
            for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
        }
        data_actions = {
            a for a in actions if a.startswith(("s3:", "logs:Filter", "logs:Get", "logs:StartQuery", "cloudwatch:Get"))
        }
        assert not data_actions, f"{name} must not hold data permissions: {sorted(data_actions)}"
    trust = resources["DataAccessRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [st["Principal"] for st in trust] == [{"AWS": {"Fn::GetAtt": ["ExecuteFunctionRole", "Arn"]}}]


def test_the_data_policy_holds_the_explicit_denies_of_the_seed(resources: dict[str, Any]) -> None:
    statements = resources["GatewayDataAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    denied = {a for st in statements if st["Effect"] == "Deny" for a in st["Action"]}
    assert "s3:Delete*" in denied
    assert "ec2:Terminate*" in denied
    assert "iam:*" in denied
    assert "kms:*" in denied
    assert {"sts:GetSessionToken", "sts:GetFederationToken", "secretsmanager:GetSecretValue"} <= denied
    allowed = {a for st in statements if st["Effect"] == "Allow" for a in st["Action"]}
    assert not any("*" in a for a in allowed), "allows are exact actions, never wildcards"


def role_statements(res: dict[str, Any], resources: dict[str, Any]) -> list[dict[str, Any]]:
    """A SAM role's statements: its inline statement blocks and the managed policies of this template it refs."""
    statements: list[dict[str, Any]] = []
    for pol in res["Properties"].get("Policies", []):
        if not isinstance(pol, dict):
            continue
        target = resources.get(pol["Ref"]) if isinstance(pol.get("Ref"), str) else None
        managed = target is not None and target["Type"] == "AWS::IAM::ManagedPolicy"
        document = target["Properties"]["PolicyDocument"] if managed else pol
        statements.extend(document.get("Statement", []))
    return statements


def test_no_gateway_role_may_update_or_delete_audit_records(resources: dict[str, Any]) -> None:
    roles_reaching_audit = 0
    for name, res in resources.items():
        if res["Type"] not in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            continue
        statements = role_statements(res, resources)
        text = str([st for st in statements if st["Effect"] == "Allow"])
        if "AuditTable" not in text:
            continue
        roles_reaching_audit += 1
        denies = [st for st in statements if st["Effect"] == "Deny" and "AuditTable" in str(st["Resource"])]
        assert denies, f"{name} reaches the audit table without the explicit deny"
        denied = {a for st in denies for a in st["Action"]}
        assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= denied, name
    assert roles_reaching_audit >= 3


def test_audit_retention_is_at_least_ninety_days_everywhere(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert template["Parameters"]["AuditRetentionDays"]["Default"] == 90
    assert min(template["Parameters"]["AuditRetentionDays"]["AllowedValues"]) >= 90
    assert resources["AuditLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "AuditRetentionDays"}
    audit = resources["AuditTable"]
    assert audit["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert audit["Properties"]["DeletionProtectionEnabled"] is True
    assert audit["Properties"]["SSESpecification"]["SSEType"] == "KMS"
    assert audit["DeletionPolicy"] == "Retain"
    for name, group in of_type(resources, "AWS::Logs::LogGroup").items():
        assert "RetentionInDays" in group["Properties"], f"{name} has no retention"
        assert "KmsKeyId" in group["Properties"], f"{name} is not encrypted with the gateway key"


def test_alarm_thresholds_match_the_seed_and_the_policy(template: dict[str, Any], resources: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["ErrorsThreshold"]["Default"] == 50
    assert params["PerUserRequestsThreshold"]["Default"] == 1000
    assert params["BlockedThreshold"]["Default"] == 100
    policy = parse_policy((ROOT / "policy" / "gateway-policy.yaml").read_text())
    assert policy.rate_limits.global_per_user.limit == params["PerUserRequestsThreshold"]["Default"]
    assert policy.rate_limits.global_per_user.window_seconds == 300
    errors = resources["ErrorsAlarm"]["Properties"]
    assert errors["Threshold"] == {"Ref": "ErrorsThreshold"}
    assert {m["MetricStat"]["Period"] for m in errors["Metrics"] if "MetricStat" in m} == {300}
    per_user = resources["PerUserRequestsAlarm"]["Properties"]
    assert per_user["Threshold"] == {"Ref": "PerUserRequestsThreshold"}
    assert per_user["Metrics"][0]["Period"] == 300
    blocked = resources["BlockedAlarm"]["Properties"]
    assert (blocked["Threshold"], blocked["Period"]) == ({"Ref": "BlockedThreshold"}, 300)
    for name, alarm in of_type(resources, "AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    rule = resources["RequestsPerUserRule"]["Properties"]["RuleBody"]
    assert "$.user_email" in str(rule)


def test_the_gateway_runs_on_a_live_alias_with_provisioned_concurrency(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    gateway = resources["GatewayFunction"]["Properties"]
    assert gateway["AutoPublishAlias"] == "live"
    provisioned = gateway["ProvisionedConcurrencyConfig"]["Fn::If"]  # none when GatewayProvisionedConcurrency=0
    assert provisioned[1]["ProvisionedConcurrentExecutions"] == {"Ref": "GatewayProvisionedConcurrency"}
    assert template["Parameters"]["GatewayProvisionedConcurrency"]["Default"] == 2
    assert gateway["FunctionUrlConfig"]["AuthType"] == "NONE"
    assert "ReservedConcurrentExecutions" in gateway
    globals_fn = template["Globals"]["Function"]
    assert globals_fn["Runtime"] == "python3.13"
    assert globals_fn["Architectures"] == ["arm64"]


def test_every_interface_endpoint_has_a_policy_and_only_https(resources: dict[str, Any]) -> None:
    endpoints = of_type(resources, "AWS::EC2::VPCEndpoint")
    assert {"S3Endpoint", "DynamoDbEndpoint"} <= set(endpoints)
    for name, ep in endpoints.items():
        assert "PolicyDocument" in ep["Properties"], f"{name} has no endpoint policy"
    ingress = resources["EndpointSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert all(rule["FromPort"] == 443 and rule["ToPort"] == 443 for rule in ingress)
