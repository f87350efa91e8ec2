"""Fail-closed deploy defaults (issue 18): template.yaml's Rules refuse a deploy that would let any IdP user in,
unless the operator names that choice (AllowAnyIdpUser=true); the containment setting of the runbook deploys."""

from __future__ import annotations

from typing import Any

import pytest
from mcp_gateway_local.deploy_check import DeployRefused, check_deploy, parameter_problems
from mcp_gateway_local.stack import LOCAL_REQUIRED_GROUPS
from mcp_gateway_local.template import load_template

#: The parameters with no Default (CloudFormation asks for them).
REQUIRED = {
    "IdpIssuer": "https://acme.okta.com/oauth2/default",
    "IdpAudience": "api://mcp-gateway",
    "IdpJwksUrl": "https://acme.okta.com/oauth2/default/v1/keys",
}
CLOSED = {**REQUIRED, "RequiredGroups": "developers,sre", "IdpAllowedClientIds": "0oa1cli"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def refusals(template: dict[str, Any], params: dict[str, str]) -> list[str]:
    try:
        check_deploy(template, params)
    except DeployRefused as exc:
        return exc.problems
    return []


def test_the_shipped_defaults_are_refused_because_they_would_let_any_idp_user_in(template: dict[str, Any]) -> None:
    problems = refusals(template, REQUIRED)
    assert any("RequiredGroupsOrExplicitlyOpen" in p and "RequiredGroups" in p for p in problems)
    assert any("IdpAllowedClientIds" in p for p in problems)


@pytest.mark.parametrize("empty", ["RequiredGroups", "IdpAllowedClientIds"])
def test_deploying_with_one_of_them_empty_is_refused(template: dict[str, Any], empty: str) -> None:
    problems = refusals(template, {**CLOSED, empty: ""})
    assert len(problems) == 1 and empty in problems[0]


def test_allow_any_idp_user_true_is_the_named_way_to_open_it(template: dict[str, Any]) -> None:
    assert refusals(template, {**REQUIRED, "AllowAnyIdpUser": "true"}) == []
    assert template["Parameters"]["AllowAnyIdpUser"]["Default"] == "false"


def test_required_groups_and_client_ids_deploy_without_the_flag(template: dict[str, Any]) -> None:
    assert refusals(template, CLOSED) == []


def test_allow_any_idp_user_accepts_only_true_or_false(template: dict[str, Any]) -> None:
    assert parameter_problems(template, {"AllowAnyIdpUser": "yes"})


def test_the_local_stack_requires_real_groups_so_eve_in_nobody_is_refused() -> None:
    groups = set(LOCAL_REQUIRED_GROUPS.split(","))
    assert groups and "nobody" not in groups and "developers" in groups


def test_the_runbook_containment_setting_deploys(template: dict[str, Any]) -> None:
    stopped = {**CLOSED, "GatewayReservedConcurrency": "0", "GatewayProvisionedConcurrency": "0"}
    assert refusals(template, stopped) == []


def test_a_stopped_gateway_with_provisioned_concurrency_is_refused_before_cloudformation_tries(
    template: dict[str, Any],
) -> None:
    problems = refusals(template, {**CLOSED, "GatewayReservedConcurrency": "0"})
    assert len(problems) == 1 and "StoppedGatewayHasNoProvisionedConcurrency" in problems[0]


def test_a_value_outside_a_parameters_range_is_refused(template: dict[str, Any]) -> None:
    assert parameter_problems(template, {"GatewayReservedConcurrency": "-1"})
    assert parameter_problems(template, {"AuditRetentionDays": "30"})
    assert parameter_problems(template, {"NoSuchParameter": "1"})
    assert parameter_problems(template, {"GatewayReservedConcurrency": "5"}) == []


def test_no_provisioned_concurrency_config_when_it_is_zero(template: dict[str, Any]) -> None:
    config = template["Resources"]["GatewayFunction"]["Properties"]["ProvisionedConcurrencyConfig"]["Fn::If"]
    assert config[0] == "HasProvisionedConcurrency"
    assert config[2] == {"Ref": "AWS::NoValue"}
    assert template["Conditions"]["HasProvisionedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "GatewayProvisionedConcurrency"}, "0"]}]
    }
