"""A deployed stack's physical resource ids and parameters, from CloudFormation (for the operator CLIs, so a
deployed stack needs no second configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class StackLookupError(Exception):
    """The stack could not be read, or lacks a resource (the message names it, never a credential)."""


def describe_stack(cfn: Any, stack: str, logical_ids: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``({key: physical id}, {parameter: value})`` for ``logical_ids`` (``{key: logical id}``) of ``stack``."""
    physical: dict[str, str] = {}
    try:
        for key, logical in logical_ids.items():
            resp = cfn.describe_stack_resources(StackName=stack, LogicalResourceId=logical)
            found = [r["PhysicalResourceId"] for r in resp.get("StackResources", []) if r.get("PhysicalResourceId")]
            if not found:
                raise StackLookupError(f"stack {stack} has no {logical}")
            physical[key] = found[0]
        parameters = {
            p["ParameterKey"]: p.get("ParameterValue", "")
            for p in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Parameters", [])
        }
    except (ClientError, BotoCoreError) as exc:
        raise StackLookupError(f"cannot resolve stack {stack}: {type(exc).__name__}") from None
    return physical, parameters
