"""The request workflow runner (implements ``domain.ports.WorkflowRunnerPort``): StartSyncExecution of the
EXPRESS request state machine, with fail-closed handling of every way the execution can go wrong."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from ..domain.audit import outcome_record, response
from ..domain.errors import ReasonCode
from ..domain.ports import AuditSinkPort


class WorkflowRunner:
    """StartSyncExecution of the request workflow; a failed or unreadable execution still yields a response
    and an audit record (fail closed)."""

    def __init__(self, sfn: Any, state_machine_arn: str, store: AuditSinkPort) -> None:
        self.sfn = sfn
        self.arn = state_machine_arn
        self.store = store

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        request = payload["request"]
        try:
            result = self.sfn.start_sync_execution(
                stateMachineArn=self.arn, name=request["request_id"], input=json.dumps(payload)
            )
        except Exception:  # noqa: BLE001 - the workflow could not be started: deny, and audit it here
            return self._failed(payload, "workflow.start-failed")
        if result.get("status") != "SUCCEEDED":
            return self._failed(payload, "workflow.failed")
        try:
            output = json.loads(result.get("output") or "{}")
        except json.JSONDecodeError:
            return self._failed(payload, "workflow.bad-output")
        if not isinstance(output, dict):
            return self._failed(payload, "workflow.bad-output")
        if output.get("deferred"):
            state = output.get("state") or {}
            return response(state, outcome_record(state, time.time()), audit="deferred")
        if "status" not in output:
            return self._failed(payload, "workflow.bad-output")
        return output

    def _failed(self, payload: dict[str, Any], rule_id: str) -> dict[str, Any]:
        request = dict(payload["request"])
        request.pop("intent", None)
        state = {
            "request": request,
            "decision": {"outcome": "DENY", "reason": ReasonCode.WORKFLOW_ERROR.value, "rule_id": rule_id},
        }
        record = outcome_record(state, time.time())
        audit: Literal["recorded", "failed"] = "recorded"
        try:
            self.store.append(record)
        except Exception:  # noqa: BLE001 - the intent record (if any) still marks the request
            audit = "failed"
        return response(state, record, audit=audit)
