"""``call_aws``: one AWS API operation the policy allows, by service and operation name.

Its arguments are free-form API parameters, so the registry marks it for the botocore service-model check
(see ``gateway/requests.py``) before any policy decision; the IAM action is derived from the operation.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from ..domain.catalog import ToolInput
from ..domain.errors import ReasonCode
from .common import log_group_arn, s3_bucket_arn
from .paging import shaped
from .registry import ActionSpec, Annotations, ExecContext, Tool, ToolResult

OperationName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{1,99}$")]

# API operations whose IAM action name differs from the operation name.
IAM_ACTION_OVERRIDES: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
    ("logs", "StartQuery"): "logs:StartQuery",
}


def iam_action(service: str, operation: str) -> str:
    return IAM_ACTION_OVERRIDES.get((service, operation), f"{service}:{operation}")


class CallAwsInput(ToolInput):
    service: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,40}$")] = Field(
        description="boto3 service name, e.g. s3, logs, cloudwatch"
    )
    operation: OperationName = Field(description="API operation in PascalCase, e.g. ListObjectsV2")
    parameters: Annotated[
        dict[str, Any],
        Field(default_factory=dict, description="API parameters (PascalCase/camelCase as in the AWS API)"),
    ]


class CallAwsResult(ToolResult):
    """The API response (ResponseMetadata removed), redacted."""

    model_config = ConfigDict(extra="allow", frozen=True, title="CallAwsResult")


def _resources_for(service: str, region: str, account: str, params: dict[str, Any]) -> tuple[str, ...]:
    if service == "s3" and isinstance(params.get("Bucket"), str):
        bucket = params["Bucket"]
        key = params.get("Key")
        return (f"{s3_bucket_arn(bucket)}/{key}" if isinstance(key, str) else s3_bucket_arn(bucket),)
    if service == "logs" and isinstance(params.get("logGroupName"), str):
        return (log_group_arn(region, account, params["logGroupName"]),)
    return ("*",)


def _call_aws(args: CallAwsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params = dict(args.parameters)
    return ActionSpec(
        args.service,
        args.operation,
        iam_action(args.service, args.operation),
        _resources_for(args.service, region, account, params),
        params,
    )


def client_method(client: Any, operation: str) -> Any:
    """The client's method for an API operation name (botocore's own mapping, e.g. ListObjectsV2 ->
    list_objects_v2), or None."""
    mapping = getattr(getattr(client, "meta", None), "method_to_api_mapping", None) or {}
    names = [method for method, api in mapping.items() if api == operation]
    return getattr(client, names[0], None) if names else None


def run_call_aws(client: Any, ctx: ExecContext) -> dict[str, Any]:
    method = client_method(client, ctx.operation)
    if method is None:
        return {"status": "error", "reason": ReasonCode.INVALID_INPUT.value, "message": "unknown operation"}
    resp = dict(method(**ctx.params))
    resp.pop("ResponseMetadata", None)
    body = resp.pop("Body", None)
    if body is not None and hasattr(body, "read"):
        resp["Body"] = "<streaming body omitted; use get_object>"
    data = json.loads(json.dumps(resp, default=str))
    return shaped(data, ctx.redactor, ctx.pii, ctx.cap)


TOOLS = (
    Tool(
        name="call_aws",
        title="Call an AWS API operation",
        description="Run one AWS API operation that the gateway policy allows, e.g. service='s3', "
        "operation='ListObjectsV2', parameters={'Bucket': 'acme-app-logs'}. Anything not on the policy's "
        "allowlist is refused with a reason code; use explain_policy to check first.",
        input_model=CallAwsInput,
        to_action=_call_aws,
        output_model=CallAwsResult,
        execute=run_call_aws,
        example={"service": "s3", "operation": "ListObjectsV2", "parameters": {"Bucket": "acme-app-logs"}},
        annotations=Annotations(read_only=False, destructive=True, idempotent=False, open_world=True),
        check_api_model=True,
    ),
)
