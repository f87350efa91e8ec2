"""The ports: what the core needs from the outside world, as ``typing.Protocol`` classes. Pure (no I/O).

``mcp_gateway.adapters`` implements them with boto3/HTTP; handlers, the gateway and tools depend on these
Protocols, and tests substitute fakes. The dependency rule (functions -> handlers | gateway -> tools ->
adapters -> domain) is enforced by the import-linter contract in ``.importlinter``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, Protocol

from .slack import ApprovalView


class ApprovalStorePort(Protocol):
    """The approvals table: one item per flagged request, plus short-lived signature nonces."""

    def create_pending(self, view: ApprovalView, task_token: str, now: float, ttl: int) -> bool: ...

    def replace_token(self, request_id: str, request_hash: str, task_token: str) -> bool: ...

    def set_message(self, request_id: str, channel: str, ts: str) -> None: ...

    def get(self, request_id: str) -> dict[str, Any] | None: ...

    def decide(
        self,
        request_id: str,
        request_hash: str,
        decision: Literal["APPROVED", "DENIED"],
        decided_by: str,
        slack_user_id: str,
        now: float,
    ) -> bool: ...

    def mark_expired_after(self, request_id: str, decision: str) -> None: ...

    def claim_nonce(self, nonce: str, now: float) -> bool: ...


class TaskTokensPort(Protocol):
    """Resumes a workflow waiting on a task token (the approval workflow's NotifyApprovers task)."""

    def send_success(self, task_token: str, output: dict[str, Any]) -> bool:
        """True: resumed; False: the task is gone (timed out, unknown, invalid token)."""
        ...


class AuditSinkPort(Protocol):
    """Appends one audit record to the trail (hash-chained; a duplicate request id is a no-op)."""

    def append(self, record: dict[str, Any]) -> dict[str, Any]: ...


class WorkflowRunnerPort(Protocol):
    """Runs the request workflow for one payload and returns the gateway's answer (never raises)."""

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]: ...


class ClientFactoryPort(Protocol):
    """An AWS client for ``service`` acting for ``principal`` (the data role, assumed per user)."""

    def __call__(self, service: str, principal: dict[str, Any]) -> Any: ...


class QuotaStorePort(Protocol):
    """The rate-limit table's counters, read by key (never by scan)."""

    def used(self, key: str, attribute: str) -> int:
        """The counter's value (0 when the item does not exist). Raises when it cannot be read."""
        ...


class RequestStorePort(Protocol):
    """The approvals item and the stored result of one flagged request, decoded to plain values."""

    def approval(self, request_id: str) -> dict[str, Any] | None: ...

    def result(self, request_id: str) -> dict[str, Any] | None: ...


class AuditReaderPort(Protocol):
    """The read side of the audit trail (the auditor's CLI): raw items, paginated by the adapter."""

    def chain_items(self, day: str) -> Iterator[dict[str, Any]]: ...

    def index_items(
        self, index: str, attribute: str, value: str, since: str, until: str
    ) -> Iterator[dict[str, Any]]: ...

    def chain_head(self, day: str) -> dict[str, Any] | None: ...

    def log_events(self, start_ms: int, end_ms: int) -> Iterator[Mapping[str, Any]]: ...

    def intent_items(self, since_ms: int, until_ms: int) -> Iterator[dict[str, Any]]: ...

    def outcome_items(self, request_id: str) -> list[dict[str, Any]]: ...
