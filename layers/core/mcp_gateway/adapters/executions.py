"""Stopping an approval workflow's execution (StopExecution) when its requester cancels the task. The
execution is named after the request id (StartApproval), so its ARN follows from the state machine's."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .aws import error_code


def execution_arn(state_machine_arn: str, name: str) -> str:
    """``arn:...:states:region:account:stateMachine:X`` -> ``arn:...:states:region:account:execution:X:name``."""
    head, sep, machine = state_machine_arn.rpartition(":stateMachine:")
    if not sep:
        raise ValueError("not a state machine ARN")
    return f"{head}:execution:{machine}:{name}"


class ApprovalExecutions:
    def __init__(self, sfn: Any, state_machine_arn: str) -> None:
        self.sfn = sfn
        self.arn = state_machine_arn

    def stop(self, request_id: str, cause: str) -> bool:
        """Stop the request's approval execution. False if there is none running (already ended, or unknown)."""
        if not self.arn:
            return False
        try:
            self.sfn.stop_execution(
                executionArn=execution_arn(self.arn, request_id), error="MCP.TaskCancelled", cause=cause[:256]
            )
        except ClientError as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "ExecutionNotFound", "ValidationException"):
                return False
            raise
        return True
