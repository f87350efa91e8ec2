"""Fault injection for tests (never used by the product, and not a moto workaround: see moto_patches.py).

The local stack hosts moto's server in this very process, so a fault is injected where DynamoDB itself would
fail: in moto's DynamoDB backend. Every client (the Step Functions interpreter's direct ``putItem``
integration, the audit function's ``TransactWriteItems``, the CLI) then sees a real DynamoDB error over HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mcp_gateway_local import moto_patches
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import DynamoDBBackend

ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
Item = dict[str, Any]


def attr(item: Item, name: str) -> str:
    """The string value of a DynamoDB-JSON attribute ("" when absent)."""
    value = item.get(name) or {}
    return str(next(iter(value.values()), "")) if isinstance(value, dict) else ""


class DynamoDBFault:
    """Items whose write failed, as seen by the injected fault (so a test can assert it really fired)."""

    def __init__(self, code: str, when: Callable[[str, Item], bool]) -> None:
        self.code = code
        self.when = when
        self.hits: list[Item] = []
        self._lock = threading.Lock()

    def check(self, table: str, item: Item) -> None:
        if self.when(table, item):
            with self._lock:
                self.hits.append(item)
            raise JsonRESTError(ERROR_PREFIX + self.code, f"injected fault: {self.code}")


@contextmanager
def dynamodb_write_fails(
    when: Callable[[str, Item], bool], code: str = "ProvisionedThroughputExceededException"
) -> Iterator[DynamoDBFault]:
    """Make moto's DynamoDB refuse ``PutItem`` and ``TransactWriteItems`` (as a whole, like a throttled
    transaction) for every item ``when(table, item)`` selects, with the DynamoDB error ``code``."""
    fault = DynamoDBFault(code, when)
    real_put = DynamoDBBackend.put_item
    real_transact = DynamoDBBackend.transact_write_items

    def put_item(self: Any, table_name: str, item_attrs: Item, *args: Any, **kwargs: Any) -> Any:
        fault.check(table_name, item_attrs)
        return real_put(self, table_name, item_attrs, *args, **kwargs)

    def transact_write_items(self: Any, transact_items: list[Item]) -> Any:
        for op in transact_items:
            put = op.get("Put")
            if put:
                fault.check(put["TableName"], put["Item"])
        return real_transact(self, transact_items)

    DynamoDBBackend.put_item = put_item  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield fault
    finally:
        DynamoDBBackend.put_item = real_put  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items = real_transact  # type: ignore[method-assign]


@contextmanager
def dynamodb_update_answer_lost(
    when: Callable[[str, Item], bool], times: int = 1, code: str = "ProvisionedThroughputExceededException"
) -> Iterator[DynamoDBFault]:
    """Make moto's DynamoDB apply an ``UpdateItem`` and then answer it with the error ``code`` (a throttle, which the
    SDK retries), as when DynamoDB applied a write whose answer was lost; for the first ``times`` updates of the keys
    ``when(table, key)`` selects (``fault.hits`` holds their keys)."""
    fault = DynamoDBFault(code, when)
    real_update = DynamoDBBackend.update_item

    def update_item(self: Any, table_name: str, key: Item, *args: Any, **kwargs: Any) -> Any:
        result = real_update(self, table_name, key, *args, **kwargs)
        if len(fault.hits) < times:
            fault.check(table_name, key)
        return result

    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    try:
        yield fault
    finally:
        DynamoDBBackend.update_item = real_update  # type: ignore[method-assign]


@contextmanager
def counting_invocations(stack: Any, logical: str) -> Iterator[list[dict[str, Any]]]:
    """Record every invocation of one function of the local stack (the real handler still runs)."""
    calls: list[dict[str, Any]] = []
    real = stack.functions[logical].lambda_handler

    def handler(event: dict[str, Any], context: Any) -> Any:
        calls.append(event)
        return real(event, context)

    moto_patches.register_handler(stack.physical(logical), handler)
    try:
        yield calls
    finally:
        moto_patches.register_handler(stack.physical(logical), stack.functions[logical].lambda_handler)


@contextmanager
def dynamodb_table_unavailable(table: str) -> Iterator[list[str]]:
    """Make one table behave as if it were gone: ``UpdateItem`` and ``GetItem`` on it answer DynamoDB's
    ``ResourceNotFoundException`` (what a deleted or renamed table gives). Yields the operations refused."""
    from moto.dynamodb.exceptions import ResourceNotFoundException

    refused: list[str] = []
    real_update = DynamoDBBackend.update_item
    real_get = DynamoDBBackend.get_item

    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        if table_name == table:
            refused.append("UpdateItem")
            raise ResourceNotFoundException(table_name=table_name)
        return real_update(self, table_name, *args, **kwargs)

    def get_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        if table_name == table:
            refused.append("GetItem")
            raise ResourceNotFoundException(table_name=table_name)
        return real_get(self, table_name, *args, **kwargs)

    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoDBBackend.get_item = get_item  # type: ignore[method-assign]
    try:
        yield refused
    finally:
        DynamoDBBackend.update_item = real_update  # type: ignore[method-assign]
        DynamoDBBackend.get_item = real_get  # type: ignore[method-assign]
