"""The audit dead-letter queue (SQS): workflow states whose audit write failed, drained by ``audit replay``."""

from __future__ import annotations

from typing import Any


class DeadLetterQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url

    def receive(self, wait_seconds: int, visibility_timeout: int = 120, max_messages: int = 10) -> list[dict[str, Any]]:
        """Up to ``max_messages`` parked messages, hidden from other readers for ``visibility_timeout`` s."""
        resp = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
        )
        messages: list[dict[str, Any]] = resp.get("Messages", [])
        return messages

    def delete(self, receipt_handle: str) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handle)

    def release(self, receipt_handle: str) -> None:
        """Make a received message visible again at once (it stays parked, as evidence or for a retry)."""
        self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)
