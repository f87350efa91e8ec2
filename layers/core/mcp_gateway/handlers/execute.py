"""Execute step: the only code whose role can read data. It runs one already-authorized action, redacts the
result (secrets always; PII per policy and group) and caps it under the Step Functions payload limit.

It never raises for an AWS-side failure: it returns ``status: error`` with a reason code, so the outcome is
audited like any other. Unredacted data never leaves this function.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from pydantic import ValidationError

from ..adapters.aws import AwsSdkError, AwsServiceError, error_code
from ..domain.contracts import ExecuteInput, ExecuteResult
from ..domain.errors import ReasonCode
from ..domain.redaction import RedactionConfig, Redactor
from ..tools import REGISTRY, ExecContext

ClientFactory = Callable[[str, dict[str, Any]], Any]

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "ResourceNotFoundException", "NotFound", "404"}
BAD_INPUT = {"InvalidRange", "InvalidParameterException", "InvalidParameterValue", "MalformedQueryException"}
NOT_SUPPORTED_LOCALLY = {"NotSupportedLocally"}  # only the local stack answers it (local/mcp_gateway_local/moto_*)
# Logs Insights: poll GetQueryResults inside this step, at most QUERY_POLL_ATTEMPTS times (about 20 s in all).
QUERY_POLL_ATTEMPTS = 25


class Executor:
    def __init__(
        self,
        clients: ClientFactory,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        query_poll_attempts: int = QUERY_POLL_ATTEMPTS,
        exact_secrets: tuple[str, ...] = (),
    ) -> None:
        self.clients = clients
        # the function's own secrets (e.g. its role's credentials): never in a result, whatever their shape
        self.exact_secrets = tuple(s for s in exact_secrets if s and len(s) >= 8)
        self.clock = clock
        self.sleep = sleep
        self.query_poll_attempts = query_poll_attempts
        self._redactors: dict[str, Redactor] = {}
        self._lock = threading.Lock()

    def _redactor(self, limits: dict[str, Any]) -> Redactor:
        key = json.dumps([limits.get("pii_classes"), limits.get("customer_id_patterns")], sort_keys=True)
        with self._lock:
            red = self._redactors.get(key)
            if red is None:
                red = Redactor(
                    RedactionConfig(
                        pii_classes=frozenset(limits.get("pii_classes") or ()),
                        customer_id_patterns=tuple(limits.get("customer_id_patterns") or ()),
                        exact_secrets=self.exact_secrets,
                    )
                )
                self._redactors[key] = red
            return red

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """``ExecuteInput`` in, ``ExecuteResult`` out (a result that breaks its contract is withheld)."""
        started = self.clock()
        try:
            job = parse(event=event, model=ExecuteInput)
            out = self._run(job.request.model_dump(mode="json"), job.limits.model_dump(mode="json"))
        except ValidationError:
            out = {"status": "error", "reason": ReasonCode.EXECUTION_ERROR.value, "message": "ValidationError"}
        except AwsServiceError as exc:
            code = error_code(exc)
            reason = (
                ReasonCode.AWS_ACCESS_DENIED
                if code in ACCESS_DENIED
                else ReasonCode.NOT_FOUND
                if code in NOT_FOUND
                else ReasonCode.INVALID_INPUT
                if code in BAD_INPUT
                else ReasonCode.NOT_SUPPORTED_LOCALLY
                if code in NOT_SUPPORTED_LOCALLY
                else ReasonCode.EXECUTION_ERROR
            )
            message = f"AWS answered {code[:64]}"
            if reason is ReasonCode.NOT_SUPPORTED_LOCALLY:
                message = "the local AWS stand-in (moto) does not support this request; it works on AWS"
            out = {"status": "error", "reason": reason.value, "message": message}
        except (AwsSdkError, ValueError, KeyError, TypeError) as exc:
            out = {
                "status": "error",
                "reason": ReasonCode.EXECUTION_ERROR.value,
                "message": type(exc).__name__,
            }
        out["duration_ms"] = round((self.clock() - started) * 1000, 2)
        try:
            result = ExecuteResult.model_validate(out)
        except ValidationError:
            result = ExecuteResult(
                status="error",
                reason=ReasonCode.EXECUTION_ERROR,
                message="the result did not match its contract",
                duration_ms=out["duration_ms"],
            )
        return result.model_dump(mode="json")

    def _run(self, request: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
        tool = REGISTRY.get(str(request.get("tool", "")))
        params = dict(request.get("parameters") or {})
        client = self.clients(str(request["service"]), request.get("principal") or {})
        if tool is None:
            return {
                "status": "error",
                "reason": ReasonCode.UNKNOWN_TOOL.value,
                "message": "no executor for tool",
            }
        context = ExecContext(
            operation=str(request.get("operation", "")),
            params=params,
            redactor=self._redactor(limits),
            pii=not bool(limits.get("see_pii", False)),
            cap=int(limits.get("max_result_bytes", 200_000)),
            limits=limits,
            sleep=self.sleep,
            query_poll_attempts=self.query_poll_attempts,
        )
        return tool.execute(client, context)
