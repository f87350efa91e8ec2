"""Defense in depth, proven both ways: either layer alone blocks s3:DeleteBucket.

(a) IAM alone: moto with IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT, read by moto at start, so the
    server runs in its own subprocess), the execute data role's policy document taken from template.yaml,
    plus a deliberately misconfigured ``s3:*`` allow, attached to a principal; the gateway's own policy is
    misconfigured too (built with model_construct, bypassing validation, so DeleteBucket is allowlisted and
    pre-approved, and nothing is denied). DeleteBucket still fails with AccessDenied; a control principal without the
    template's denies can delete.
(b) The gateway alone: with IAM wide open (the local stack does not enforce IAM), the gateway refuses
    DeleteBucket: evaluate gives EXPLICIT_DENY, and end to end call_aws DeleteBucket is refused and the
    bucket survives.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from mcp_gateway.domain.errors import ReasonCode
from mcp_gateway.domain.models import ActionRequest, Outcome, Principal
from mcp_gateway.domain.policy import AllowRule, Policy, evaluate
from mcp_gateway.policy_loader import load_policy
from mcp_gateway_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SETUP_ACTIONS = 8  # unauthenticated calls the setup below makes; every later call is checked by IAM


# moto's IAM condition semantics differ from IAM's; the fix is workaround 6 in moto_patches (opt-in), applied
# inside the enforcing moto subprocess before its server starts.
MOTO_SERVER = """
import sys
from mcp_gateway_local.moto_patches import install_iam_condition_semantics
from moto.server import main

install_iam_condition_semantics()
main(sys.argv[1:])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def enforcing_moto() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_ACTIONS)}
    proc = subprocess.Popen(
        [sys.executable, "-c", MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _client(service: str, url: str, key: str = "testing", secret: str = "testing") -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def template_data_policy() -> dict[str, Any]:
    document: dict[str, Any] = load_template()["Resources"]["GatewayDataAccessPolicy"]["Properties"]["PolicyDocument"]
    return document


MISCONFIGURED_ALLOW = {"Sid": "OopsAllowAllS3", "Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}


def misconfigured_gateway_policy() -> Policy:
    """The shipped policy with DeleteBucket allowlisted, pre-approved (so the review of writes by action class
    does not catch it) and no denies: validation would refuse this, so it is built with model_construct (the
    point is what the IAM layer does on its own)."""
    shipped = load_policy(str(ROOT / "policy" / "gateway-policy.yaml"))
    oops = AllowRule(action="s3:DeleteBucket", resources=("*",), preapproved=True)
    return Policy.model_construct(**{**dict(shipped), "allow": (*shipped.allow, oops), "deny": ()})


def delete_bucket_request(bucket: str) -> ActionRequest:
    return ActionRequest(
        request_id="req-defense-in-depth",
        tool="call_aws",
        service="s3",
        operation="DeleteBucket",
        action="s3:DeleteBucket",
        parameters={"Bucket": bucket},
        resources=(f"arn:aws:s3:::{bucket}",),
        principal=Principal(sub="u", email="dev@example.com", groups=("developers",), token_id="t", expires_at=0),
        requested_at=time.time(),
    )


def test_iam_alone_blocks_delete_bucket_when_the_gateway_and_the_allow_list_are_misconfigured(
    enforcing_moto: str,
) -> None:
    # The gateway layer is broken on purpose: it would ALLOW the call.
    assert evaluate(misconfigured_gateway_policy(), delete_bucket_request("acme-scratch")).outcome is Outcome.ALLOW

    # Setup: exactly SETUP_ACTIONS unauthenticated calls.
    s3 = _client("s3", enforcing_moto)
    iam = _client("iam", enforcing_moto)
    s3.create_bucket(Bucket="acme-scratch")
    s3.create_bucket(Bucket="acme-control")
    template_doc = template_data_policy()
    data_role = {**template_doc, "Statement": [*template_doc["Statement"], MISCONFIGURED_ALLOW]}
    control = {"Version": "2012-10-17", "Statement": [MISCONFIGURED_ALLOW]}
    keys = {}
    for user, document in (("data-role", data_role), ("control", control)):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="data", PolicyDocument=json.dumps(document))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])

    as_data_role = _client("s3", enforcing_moto, *keys["data-role"])
    as_control = _client("s3", enforcing_moto, *keys["control"])

    # IAM enforcement is on: an unknown key is refused, and the data role can still read what it may.
    with pytest.raises(ClientError):
        _client("s3", enforcing_moto, "AKIAUNKNOWNUNKNOWN12", "nope").list_buckets()
    as_data_role.list_objects_v2(Bucket="acme-scratch")

    # The template's explicit deny holds against the s3:* allow.
    with pytest.raises(ClientError) as err:
        as_data_role.delete_bucket(Bucket="acme-scratch")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    # Control: without the template's denies, the same s3:* allow deletes a bucket.
    as_control.delete_bucket(Bucket="acme-control")
    assert "acme-scratch" in {b["Name"] for b in as_control.list_buckets()["Buckets"]}


def test_the_gateway_alone_blocks_delete_bucket_when_iam_is_wide_open() -> None:
    decision = evaluate(
        load_policy(str(ROOT / "policy" / "gateway-policy.yaml")), delete_bucket_request("acme-scratch")
    )
    assert (decision.outcome, decision.reason, decision.rule_id) == (
        Outcome.DENY,
        ReasonCode.EXPLICIT_DENY,
        "deny.delete",
    )


async def test_end_to_end_call_aws_delete_bucket_is_refused_and_the_bucket_survives(
    stack: Any, session_factory: Any
) -> None:
    from conftest import audit_records

    s3 = stack.client("s3")
    bucket = "acme-scratch"
    assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    session = session_factory("dana@example.com", ["sre"])
    async with session.client() as client:
        result = await client.call_tool(
            "call_aws", {"service": "s3", "operation": "DeleteBucket", "parameters": {"Bucket": bucket}}
        )
    assert result.is_error
    error = json.loads(result.content[0].text)["error"]
    assert (error["reason"], error["rule_id"]) == (ReasonCode.EXPLICIT_DENY.value, "deny.delete")
    assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    outcome = audit_records(stack, error["request_id"])["outcome"]
    assert (outcome["decision"], outcome["reason"]) == ("DENY", ReasonCode.EXPLICIT_DENY.value)
