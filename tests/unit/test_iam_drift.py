"""template.yaml's execute data role policy (GatewayDataAccessPolicy) is exactly the rendering of the policy
file: the allowed actions and resources, plus every explicit deny. Regenerate with
``mcp-gateway policy iam --format yaml``."""

from __future__ import annotations

from pathlib import Path

from mcp_gateway.domain.iam import render_data_policy
from mcp_gateway.policy_loader import load_policy
from mcp_gateway_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_the_template_data_role_policy_equals_the_rendering_of_the_policy_file() -> None:
    template = load_template()
    document = template["Resources"]["GatewayDataAccessPolicy"]["Properties"]["PolicyDocument"]
    assert document == render_data_policy(load_policy(str(ROOT / "policy" / "gateway-policy.yaml")))


def test_the_rendering_denies_what_the_gateway_denies_and_allows_no_wildcard_action() -> None:
    document = render_data_policy(load_policy(str(ROOT / "policy" / "gateway-policy.yaml")))
    allows = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    denies = {a for s in document["Statement"] if s["Effect"] == "Deny" for a in s["Action"]}
    assert all("*" not in a for s in allows for a in s["Action"])
    assert {"s3:Delete*", "iam:*", "kms:*", "ec2:Terminate*", "sts:GetSessionToken"} <= denies
