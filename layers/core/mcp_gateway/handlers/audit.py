"""Audit step: the outcome record for every path through the workflow, then the response for the gateway.

Raising here is deliberate when the store fails: the workflow retries, then parks the state in the
dead-letter queue, from which ``mcp-gateway audit replay`` re-applies it (idempotent by request id).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..adapters.audit_store import AuditStore
from ..domain.audit import outcome_record, response


class Auditor:
    def __init__(self, store: AuditStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def handle(self, state: dict[str, Any]) -> dict[str, Any]:
        record = outcome_record(state, self.clock())
        self.store.append(record)
        return response(state, record)
