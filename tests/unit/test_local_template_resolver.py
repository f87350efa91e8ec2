"""The local stack's template resolver knows an explicit set of names (the pseudo-parameters, the template's
parameters, the resources the local stack registered) and raises on anything else instead of inventing a value."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp_gateway_local.template import (
    PSEUDO_PARAMETERS,
    Resolver,
    UnresolvedReferenceError,
    load_template,
    pseudo_parameters,
)

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Issuer": {"Type": "String"},
        "Email": {"Type": "String", "Default": ""},
        "Workspace": {"Type": "String", "Default": "T1"},
    },
    "Conditions": {
        "HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]},
        "HasBoth": {"Fn::And": [{"Condition": "HasEmail"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "Workspace"}, ""]}]}]},
        "HasEither": {"Fn::Or": [{"Condition": "HasEmail"}, {"Fn::Equals": [{"Ref": "Workspace"}, "T1"]}]},
    },
    "Resources": {"Table": {"Type": "AWS::DynamoDB::Table"}, "Unprovisioned": {"Type": "AWS::SNS::Topic"}},
}


def resolver(**params: Any) -> Resolver:
    r = Resolver(TEMPLATE, params, pseudo_parameters(stack_name="s", region="eu-west-1", account="111122223333"))
    r.refs["Table"] = "s-Table"
    r.attrs[("Table", "Arn")] = "arn:aws:dynamodb:eu-west-1:111122223333:table/s-Table"
    return r


def test_every_pseudo_parameter_in_the_table_has_a_local_value() -> None:
    values = pseudo_parameters(stack_name="s", region="eu-west-1", account="111122223333")
    assert set(values) == set(PSEUDO_PARAMETERS)
    assert values["AWS::Partition"] == "aws"
    r = resolver()
    assert r.resolve({"Ref": "AWS::AccountId"}) == "111122223333"
    assert r.resolve({"Fn::Sub": "arn:${AWS::Partition}:states:::lambda:invoke"}) == "arn:aws:states:::lambda:invoke"


def test_known_parameters_resources_and_attributes_resolve() -> None:
    r = resolver(Issuer="https://idp.example", Email="ops@example.com")
    assert r.resolve({"Ref": "Issuer"}) == "https://idp.example"
    assert r.resolve({"Ref": "Workspace"}) == "T1"  # the Default
    assert r.resolve({"Ref": "Table"}) == "s-Table"
    assert r.resolve({"Fn::GetAtt": ["Table", "Arn"]}).endswith(":table/s-Table")
    assert r.resolve({"Fn::GetAtt": "Table.Arn"}).endswith(":table/s-Table")
    assert r.resolve({"Fn::Sub": "${Table.Arn}/index/*"}).endswith(":table/s-Table/index/*")
    assert r.resolve({"Fn::Sub": ["${X}-${AWS::Region}", {"X": {"Ref": "Table"}}]}) == "s-Table-eu-west-1"
    assert r.resolve({"Fn::Sub": "${!Literal}"}) == "${Literal}"
    assert r.resolve({"Fn::GetAZs": ""}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b"]}]}) == "b"
    assert r.resolve({"Fn::Join": ["/", ["a", {"Ref": "Table"}]]}) == "a/s-Table"
    assert r.resolve({"Nested": [{"Ref": "Table"}]}) == {"Nested": ["s-Table"]}


def test_conditions_evaluate_and_or_not() -> None:
    assert resolver(Email="ops@example.com").condition("HasBoth") is True
    assert resolver().condition("HasBoth") is False
    assert resolver(Workspace="").condition("HasEither") is False
    assert resolver(Workspace="").resolve({"Fn::If": ["HasEither", {"Ref": "Unprovisioned"}, "no"]}) == "no"


@pytest.mark.parametrize(
    ("value", "kind", "name"),
    [
        ({"Ref": "Unprovisioned"}, "Ref", "Unprovisioned"),
        ({"Ref": "NotInTheTemplate"}, "Ref", "NotInTheTemplate"),
        ({"Ref": "Issuer"}, "Ref", "Issuer"),  # a parameter with neither a value nor a Default
        ({"Ref": "AWS::NotificationARNs"}, "Ref", "AWS::NotificationARNs"),
        ({"Fn::GetAtt": ["Table", "StreamArn"]}, "Fn::GetAtt", "Table.StreamArn"),
        ({"Fn::GetAtt": "Unprovisioned.TopicName"}, "Fn::GetAtt", "Unprovisioned.TopicName"),
        ({"Fn::Sub": "arn:${AWS::Partition}:sns:::${Unprovisioned}"}, "Fn::Sub", "Unprovisioned"),
        ({"Fn::Sub": "${Table.StreamArn}"}, "Fn::Sub", "Table.StreamArn"),
        ({"Fn::ImportValue": "shared-vpc"}, "Fn::ImportValue", "shared-vpc"),
        ({"Condition": "NoSuchCondition"}, "Condition", "NoSuchCondition"),
    ],
)
def test_an_unknown_reference_raises_instead_of_inventing_a_value(value: Any, kind: str, name: str) -> None:
    with pytest.raises(UnresolvedReferenceError) as caught:
        resolver().resolve(value)
    assert (caught.value.kind, caught.value.name) == (kind, name)


def test_an_undeclared_parameter_or_pseudo_parameter_is_refused_up_front() -> None:
    pseudo = pseudo_parameters(stack_name="s", region="eu-west-1", account="111122223333")
    with pytest.raises(UnresolvedReferenceError) as caught:
        Resolver(TEMPLATE, {"Isuer": "typo"}, pseudo)
    assert (caught.value.kind, caught.value.name) == ("Parameter", "Isuer")
    with pytest.raises(UnresolvedReferenceError) as caught:
        Resolver(TEMPLATE, {}, {**pseudo, "AWS::Bogus": "x"})
    assert (caught.value.kind, caught.value.name) == ("Pseudo", "AWS::Bogus")


def referenced_names(value: Any) -> set[str]:
    """Every name a Ref or a Fn::Sub variable points at, anywhere in ``value``."""
    if isinstance(value, list):
        return {n for v in value for n in referenced_names(v)}
    if not isinstance(value, dict):
        return set()
    names: set[str] = set()
    for key, arg in value.items():
        if key == "Ref" and isinstance(arg, str):
            names.add(arg)
        elif key == "Fn::Sub":
            template = arg if isinstance(arg, str) else arg[0]
            names |= {n for n in re.findall(r"\$\{([^}!]+)\}", template) if "." not in n}
        names |= referenced_names(arg)
    return names


def test_the_template_uses_only_pseudo_parameters_the_resolver_knows() -> None:
    used = {n for n in referenced_names(load_template()) if n.startswith("AWS::")}
    assert {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackName"} <= used
    assert used <= set(PSEUDO_PARAMETERS)


def test_a_ref_to_aws_novalue_removes_the_property_as_cloudformation_does() -> None:
    template = {
        "Parameters": {"N": {"Type": "Number", "Default": 0}},
        "Conditions": {"HasN": {"Fn::Not": [{"Fn::Equals": [{"Ref": "N"}, 0]}]}},
    }
    resolver = Resolver(template, {}, pseudo_parameters(stack_name="s", region="eu-west-1", account="111122223333"))
    value = {"Keep": 1, "Config": {"Fn::If": ["HasN", {"Count": {"Ref": "N"}}, {"Ref": "AWS::NoValue"}]}}
    assert resolver.resolve(value) == {"Keep": 1}
    assert resolver.resolve([1, {"Ref": "AWS::NoValue"}, 2]) == [1, 2]
