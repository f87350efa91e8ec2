"""Audit step: the outcome record for every path through the workflow, then the response for the gateway.

The event is the whole workflow state (``WorkflowState``); a state that does not match its contract is
still audited, as a fail-closed DENY ``WORKFLOW_ERROR`` (``WorkflowState.read``). Raising here is deliberate
when the store fails: the workflow retries, then parks the state in the dead-letter queue, from which
``mcp-gateway audit replay`` re-applies it (idempotent by request id).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..adapters.audit_store import AuditStore
from ..domain.contracts import AuditRecord, AuditResponse, WorkflowState


class Auditor:
    def __init__(self, store: AuditStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        state = WorkflowState.read(event)
        record = AuditRecord.from_state(state, self.clock())
        self.store.append(record.model_dump(mode="json"))
        return AuditResponse.build(state, record.request_id, record.status).model_dump(mode="json")
