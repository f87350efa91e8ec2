"""The request workflow runner (implements ``domain.ports.WorkflowRunnerPort``): StartSyncExecution of the
EXPRESS request state machine, telling the agent only what is true.

- A start is never retried blindly: the client has botocore's retries off (``total_max_attempts: 1``), and
  the runner retries only errors that prove the start did not happen (no connection, a throttled or refused
  start). The execution name is the request id (tracing); exactly-once is the workflow's own claim of the
  request id (``handlers/sealed.py``), not the name.
- The workflow's outcome is authoritative. When the gateway does not get it (a read timeout, a failed
  execution, an unreadable output) it records a distinct gateway record (sort key ``outcome#gateway``) that
  never masks or pre-empts the workflow's, and answers "in progress / unknown: look it up with
  get_request_status", never a DENY for something that may have run. Only a start that provably did not
  happen is a DENY (nothing ran).
- A second start of a request id (an agent's idempotent retry) runs nothing and answers the first
  execution's recorded outcome, or "in progress" while it has none yet.
- With a vault, the raw parameters and intent are sealed before the start: the execution input carries the
  redacted view and a reference only (``domain/sealing.py``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from ..domain.audit import gateway_outcome_record, in_progress_response, outcome_record, recorded_response, response
from ..domain.errors import ReasonCode
from ..domain.ports import AuditSinkPort
from ..domain.sealing import sealed_view
from ..domain.timeouts import Timeouts
from . import aws
from .parameter_vault import ParameterVault

START_KEY = "__start__"  # the start attempt's nonce in the sealed view (the claim's claimant)
THROTTLED_START = {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Throttling"}
MAX_START_ATTEMPTS = 3
DUPLICATE_ERROR = "DuplicateRequest"

OutcomeLookup = Callable[[str, str], dict[str, Any] | None]


def start_client(region: str, timeouts: Timeouts) -> Any:
    """The Step Functions client for StartSyncExecution: timeouts from the one workflow budget, no retries."""
    config = Config(
        connect_timeout=timeouts.client_connect_seconds,
        read_timeout=timeouts.client_read_seconds,
        retries={"total_max_attempts": 1},
        inject_host_prefix=False,  # StartSyncExecution's "sync-" host prefix breaks local endpoints
        user_agent_extra="mcp-aws-gateway/0.1",
    )
    return aws.session().client("stepfunctions", region_name=region, config=config)


class _NotStarted(Exception):
    def __init__(self, code: str) -> None:
        self.code = code


def _not_started(exc: Exception) -> str | None:
    """The error's name when it proves the start did not happen (else None: it may have started)."""
    if isinstance(exc, (ConnectTimeoutError, EndpointConnectionError)):
        return type(exc).__name__
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in THROTTLED_START or 400 <= status < 500:
            return code or str(status)
    return None


class WorkflowRunner:
    def __init__(
        self,
        sfn: Any,
        state_machine_arn: str,
        store: AuditSinkPort,
        *,
        outcomes: OutcomeLookup | None = None,
        vault: ParameterVault | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sfn = sfn
        self.arn = state_machine_arn
        self.store = store
        self.outcomes = outcomes
        self.vault = vault
        self.sleep = sleep
        self.clock = clock

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        request = payload["request"]
        request_id = str(request["request_id"])
        if self.vault is not None:
            try:
                self.vault.seal(
                    request_id, {"parameters": request.get("parameters") or {}, "intent": request.get("intent", "")}
                )
            except Exception:  # noqa: BLE001 - nothing started: a true DENY
                return self._not_started(payload, "workflow.seal-failed")
            view = sealed_view(request)
            view["parameters"][START_KEY] = uuid.uuid4().hex
            payload = {**payload, "request": view}
        try:
            result = self._start(request_id, payload)
        except _NotStarted:
            return self._not_started(payload, "workflow.start-failed")
        except Exception:  # noqa: BLE001 - a read timeout, a 5xx: it may have run
            return self._unknown(payload, "workflow.no-answer")
        status = result.get("status")
        if status != "SUCCEEDED":
            if result.get("error") == DUPLICATE_ERROR:
                return self._duplicate(request_id)
            return self._unknown(payload, "workflow.failed")
        try:
            output = json.loads(result.get("output") or "{}")
        except json.JSONDecodeError:
            return self._unknown(payload, "workflow.bad-output")
        if not isinstance(output, dict):
            return self._unknown(payload, "workflow.bad-output")
        if output.get("deferred"):
            state = output.get("state") or {}
            return response(state, outcome_record(state, self.clock()), audit="deferred")
        if "status" not in output:
            return self._unknown(payload, "workflow.bad-output")
        return output

    def _start(self, request_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload)
        for attempt in range(MAX_START_ATTEMPTS):
            try:
                result: dict[str, Any] = self.sfn.start_sync_execution(
                    stateMachineArn=self.arn, name=request_id, input=body
                )
                return result
            except Exception as exc:
                code = _not_started(exc)
                if code is None:
                    raise
                if code not in THROTTLED_START and not isinstance(exc, (ConnectTimeoutError, EndpointConnectionError)):
                    raise _NotStarted(code) from None  # refused: retrying would be refused again
                if attempt == MAX_START_ATTEMPTS - 1:
                    raise _NotStarted(code) from None
                self.sleep(0.05 * (2**attempt))
        raise _NotStarted("exhausted")  # pragma: no cover - the loop always returns or raises

    def _record(self, record: dict[str, Any]) -> Literal["recorded", "failed"]:
        try:
            self.store.append(record)
        except Exception:  # noqa: BLE001 - the agent is still answered; the verifier sees the gap
            return "failed"
        return "recorded"

    def _not_started(self, payload: dict[str, Any], rule_id: str) -> dict[str, Any]:
        """Nothing ran: a DENY WORKFLOW_ERROR, recorded as the gateway's record (the workflow has none)."""
        request = dict(payload["request"])
        request.pop("intent", None)
        state = {
            "request": request,
            "decision": {"outcome": "DENY", "reason": ReasonCode.WORKFLOW_ERROR.value, "rule_id": rule_id},
        }
        record = gateway_outcome_record(request, self.clock(), rule_id=rule_id, started=False)
        audit = self._record(record)
        return response(state, outcome_record(state, self.clock()), audit=audit)

    def _unknown(self, payload: dict[str, Any], rule_id: str) -> dict[str, Any]:
        """It may have run: the gateway's own record (never the workflow's outcome) and an honest answer."""
        request = dict(payload["request"])
        request_id = str(request["request_id"])
        recorded = self._lookup(request_id)
        if recorded is not None:  # the workflow did finish and record its outcome: that is the answer
            return recorded_response(recorded)
        audit = self._record(gateway_outcome_record(request, self.clock(), rule_id=rule_id, started=None))
        return in_progress_response(request_id, rule_id, audit)

    def _duplicate(self, request_id: str) -> dict[str, Any]:
        recorded = self._lookup(request_id)
        if recorded is not None:
            return recorded_response(recorded)
        return in_progress_response(request_id, "workflow.duplicate-in-progress", "recorded")

    def _lookup(self, request_id: str) -> dict[str, Any] | None:
        if self.outcomes is None:
            return None
        try:
            first = self.outcomes(request_id, "outcome")
            if first is not None and first.get("status") == "pending":
                return self.outcomes(request_id, "outcome#approval") or first
            return first
        except Exception:  # noqa: BLE001 - unreadable: the answer stays "in progress / unknown"
            return None
