"""Every workaround we apply to moto lives here, and only here (tested in tests/functional/test_moto_patches.py).

moto is pinned exactly (requirements/dev.txt) because these reach into its internals:

1. ``StartSyncExecution`` is not routed by moto's Step Functions responses (it answers 404). moto's
   interpreter already has ``SyncExecution``, which evaluates the state machine in the calling thread;
   we add the missing route and build that execution the way ``start_execution`` builds its async one.
2. With ``lambda.use_docker = False``, Lambda invocations reach ``LambdaSimpleBackend.invoke``, which only
   echoes. We replace that one method with a router that calls the real ``functions/*/app.py`` handlers
   in-process, and reports failures exactly as Lambda does (``X-Amz-Function-Error: Unhandled``).
3. The Step Functions interpreter must be switched on (``stepfunctions.execute_state_machine``).
4. The optimized ``arn:aws:states:::states:startExecution`` integration passes the ASL's parameter names
   (``StateMachineArn``, ``Name``, ``Input``) straight to boto3, whose Step Functions API is camelCase
   (``stateMachineArn``, ...): every nested start failed with ``States.Runtime``. We rename them after
   moto's own normalisation (AWS does this translation itself).
5. moto's DynamoDB ``transact_write_items`` deep-copies every table (for rollback) without a lock, so a
   concurrent ``put_item``/``update_item`` on another server thread fails it with "dictionary changed size
   during iteration" (HTTP 500). The server's DynamoDB writes are serialised behind one lock, which is
   what DynamoDB's own atomicity guarantees to callers. moto's request handlers for ``PutItem``, ``UpdateItem``
   and ``DeleteItem`` also read the item for ``ReturnValues=ALL_OLD`` *before* the write, outside that lock: two
   concurrent updates of one item could both answer the same old item (a burst of session recordings then saw
   one position twice). Those handlers run under the same lock, so the old item and the write are one step, as
   in DynamoDB.

6. (Opt-in, only for servers started with IAM enforcement, i.e. INITIAL_NO_AUTH_ACTION_COUNT.) moto treats a
   condition key missing from the request as satisfied and a failed condition as DENIED; IAM treats both as "the
   statement does not apply". ``install_iam_condition_semantics`` makes such a statement NEUTRAL, as in IAM, so
   the template's conditional deny (S3 presigned requests only) does not deny every S3 call.

Speed (moto does each of these again on every execution; none of them changes behaviour):

7. The interpreter re-parses the state machine definition (ANTLR, ~20 KB for the request workflow) on every
   execution. Parsed programs are cached by the SHA-256 of the definition text: a changed definition (an
   ``update_state_machine``, a new machine) is a new key and is parsed afresh. The parsed program keeps no
   execution state (retry counters, inputs and outputs live in each execution's ``Environment``).
8. Every Task state builds a new boto3 client (``boto_client_for``), from boto3's shared default session, which is
   not thread-safe to build clients from. Clients are cached per (region, service, endpoint), built under a lock;
   a botocore client is thread-safe to use. A different moto port or region is a different key.
9. JSONPath expressions (``$.rate.tier_key``) are parsed by jsonpath-ng on every read and write. Parsed
   expressions are immutable and cached by their text.
10. The interpreter ``copy.deepcopy``-s the whole state data several times per state (input, result, the task's
   parameters, the history's details): for a page of 1,000 log events that was half of the execution. The data is
   JSON (it arrives as JSON and leaves as JSON), so those modules copy it with a JSON-only deep copy (new dicts and
   lists, the same immutable str/int/float/bool/None); anything else still goes through ``copy.deepcopy``.
11. The server finds the backend of every request by host (``DomainDispatcherApplication.get_backend_for_host``):
   a directory listing of moto's package and up to ~180 URL regexes, under the dispatcher's one lock, about a
   millisecond per request. The answer depends only on the host text (the listing and the patterns are fixed for
   the process), so it is remembered per host (at most 1,024 hosts; past that the lookup runs as before).
12. ``FilterLogEvents`` parses its filter pattern again for every event it looks at (``EventMessageFilter(pattern)``
   inside the per-event test): 52,000 parses per page of the bulk log group. A parsed pattern holds only its text
   and kind, so one is made per pattern text and shared.

Clients of the local StartSyncExecution need ``Config(inject_host_prefix=False)`` so botocore does not
prepend ``sync-`` to the loopback host.
"""

from __future__ import annotations

import copy
import datetime
import functools
import hashlib
import json
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

Handler = Callable[[dict[str, Any], Any], Any]

_lock = threading.Lock()
_handlers: dict[str, Handler] = {}
_installed = False


@dataclass
class LocalLambdaContext:
    """The subset of the Lambda context object our handlers and Powertools read."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def register_handler(function_name: str, handler: Handler) -> None:
    """Route invocations of ``function_name`` (name or ARN, any qualifier) to ``handler``."""
    with _lock:
        _handlers[function_name] = handler


def clear_handlers() -> None:
    with _lock:
        _handlers.clear()


def _function_name(name_or_arn: str) -> str:
    # arn:aws:lambda:region:account:function:NAME[:qualifier]
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    return name_or_arn.split(":", maxsplit=1)[0]


def _invoke(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    name = _function_name(function_name)
    with _lock:
        handler = _handlers.get(name)
    if handler is None:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(
            {"errorType": "ResourceNotFoundException", "errorMessage": f"no local handler for {name}"}
        ).encode()
    raw = body.decode() if isinstance(body, bytes) else (body or "{}")
    event = json.loads(raw) if raw else {}
    context = LocalLambdaContext(
        function_name=name,
        aws_request_id=str(uuid.uuid4()),
        invoked_function_arn=f"arn:aws:lambda:{self.region_name}:{self.account_id}:function:{name}",
    )
    try:
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 - this is Lambda's own "Unhandled" contract
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(
            {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc)[:1000],
                "stackTrace": traceback.format_exception_only(exc)[-1:],
            }
        ).encode()
    return json.dumps(result, default=str).encode()


def _start_sync_execution(self: Any) -> Any:
    """``StepFunctionResponse.start_sync_execution``: run an EXPRESS machine to completion in-thread."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.api import StateMachineType
    from moto.stepfunctions.parser.backend.execution import SyncExecution

    arn = self._get_param("stateMachineArn")
    name = self._get_param("name") or str(uuid.uuid4())
    execution_input = self._get_param("input", if_none="{}")
    backend = self.stepfunction_backend
    state_machine = backend.describe_state_machine(arn)
    # moto quirk: StateMachine.sm_type is hard-coded "STANDARD"; the requested type lives in .type
    if getattr(state_machine, "type", "STANDARD") != "EXPRESS":
        from moto.stepfunctions.exceptions import ValidationException

        raise ValidationException("StartSyncExecution is only supported for EXPRESS state machines")
    json.loads(execution_input)  # invalid JSON input is rejected before anything runs
    clone = copy.deepcopy(
        state_machine,
        {id(state_machine.executions): [], id(state_machine.backend): state_machine.backend},
    )
    execution = SyncExecution(
        name=name,
        sm_type=StateMachineType.EXPRESS,
        role_arn=clone.roleArn,
        exec_arn=f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}"
        f":express:{state_machine.name}:{name}:{uuid.uuid4()}",
        account_id=backend.account_id,
        region_name=backend.region_name,
        state_machine=clone,
        start_date=datetime.datetime.now(tz=datetime.UTC),
        cloud_watch_logging_session=None,
        input_data=execution_input,
        trace_header=None,
        activity_store={},
    )
    execution.start()  # SyncExecutionWorker evaluates the whole program in this thread
    output = dict(execution.to_start_sync_execution_output())
    _remember_history(state_machine.arn, name, execution)
    return ActionResult(output)


_HISTORIES_MAX = 256
_histories: dict[tuple[str, str], list[dict[str, Any]]] = {}


def _remember_history(state_machine_arn: str, name: str, execution: Any) -> None:
    """AWS keeps no history of an EXPRESS execution (only its CloudWatch log); locally the last few are kept so
    tests and the benchmark can count the states a call went through."""
    events = [dict(e) for e in execution.to_history_output().get("events", [])]
    with _lock:
        if len(_histories) >= _HISTORIES_MAX:
            _histories.pop(next(iter(_histories)))
        _histories[(state_machine_arn, name)] = events


def sync_execution_history(state_machine_arn: str, name: str) -> list[dict[str, Any]]:
    """The history events of a recent local StartSyncExecution (``[]`` when not kept)."""
    with _lock:
        return list(_histories.get((state_machine_arn, name), []))


def recent_sync_executions() -> list[tuple[tuple[str, str], list[dict[str, Any]]]]:
    """((state machine ARN, execution name), history events) of the recent local sync executions, oldest first."""
    with _lock:
        return [(key, list(events)) for key, events in _histories.items()]


def task_states(events: list[dict[str, Any]]) -> list[str]:
    """The names of the Task states an execution entered, in order."""
    return [
        str(e.get("stateEnteredEventDetails", {}).get("name")) for e in events if e.get("type") == "TaskStateEntered"
    ]


def _camel_sfn_parameters(original: Callable[..., None]) -> Callable[..., None]:
    def normalise(
        self: Any, parameters: dict[str, Any], boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        if service_action_name is None:
            for key in [k for k in parameters if k[:1].isupper()]:
                parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    return normalise


_ddb_write_lock = threading.RLock()


_cheap_transaction = threading.local()


class _TableCopyShim:
    """moto's transact_write_items deep-copies every table it touches as a rollback backup: O(table size) per
    transaction, so the audit chain (one transaction per record) slowed down quadratically. Inside a
    transaction run by ``_item_level_rollback`` a table is not copied (that wrapper undoes item by item)."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_cheap_transaction, "active", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _item_level_rollback(original: Callable[..., Any]) -> Callable[..., Any]:
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        before: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = self.tables[op["TableName"]]
                source = op["Item"] if op_type == "Put" else op["Key"]
                key = {table.hash_key_attr: source[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = source[table.range_key_attr]
                current = self.get_item(op["TableName"], key)
            except Exception:  # noqa: BLE001, S112 - malformed: moto's own validation answers for it
                continue
            attrs = copy.deepcopy(current.to_json()["Attributes"]) if current else None
            before.append((op["TableName"], key, attrs))
        _cheap_transaction.active = True
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, attrs in reversed(before):
                if attrs is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attrs)
            raise
        finally:
            _cheap_transaction.active = False

    return transact_write_items


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _ddb_write_lock:
            return method(*args, **kwargs)

    return locked


# ---- 7-12: caches of work moto repeats on every execution and every request ----------------------------------

_PARSED_DEFINITIONS_MAX = 64
_parsed_definitions: dict[str, Any] = {}
_parse_lock = threading.Lock()


def _cached_definition_parser(original: Callable[[str], Any]) -> Callable[[str], Any]:
    """``AmazonStateLanguageParser.parse`` keyed by the SHA-256 of the definition text (a failed parse is not
    cached: it raises again)."""

    def parse(definition: str) -> Any:
        key = hashlib.sha256(definition.encode()).hexdigest()
        cached = _parsed_definitions.get(key)
        if cached is not None:
            return cached
        parsed = original(definition)
        with _parse_lock:
            if len(_parsed_definitions) >= _PARSED_DEFINITIONS_MAX:
                _parsed_definitions.pop(next(iter(_parsed_definitions)))
            _parsed_definitions[key] = parsed
        return parsed

    return parse


_clients: dict[tuple[str, str, str | None], Any] = {}
_client_lock = threading.Lock()


def _cached_boto_client_for(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's ``boto_client_for(region, service, state_credentials=None)`` (which ignores the credentials), one
    client per (region, service, endpoint)."""

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port

        endpoint = None if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
        key = (region, service, endpoint)
        client = _clients.get(key)
        if client is None:
            with _client_lock:
                client = _clients.get(key)
                if client is None:
                    client = original(region, service, state_credentials)
                    _clients[key] = client
        return client

    return boto_client_for


@functools.lru_cache(maxsize=4096)
def _parse_json_path_ext(path: str) -> Any:
    from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

    return parse(path)


@functools.lru_cache(maxsize=4096)
def _parse_json_path(path: str) -> Any:
    from jsonpath_ng import parse  # type: ignore[attr-defined]

    return parse(path)


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data: new dicts and lists all the way down, immutable atoms shared; any other object
    (a datetime in a history event, a failure event on the stack) is copied by ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if kind is list:
        return [json_copy(v) for v in value]
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    return copy.deepcopy(value)


class _JsonCopyShim:
    """Stands in for the ``copy`` module inside the interpreter modules that copy state data."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return json_copy(value)


#: the interpreter modules whose ``copy.deepcopy`` calls copy state data (JSON) only
_JSON_COPY_MODULES = (
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
    "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel",
)


_BACKENDS_BY_HOST_MAX = 1024


def _cached_backend_for_host(original: Callable[[Any, str | None], Any]) -> Callable[[Any, str | None], Any]:
    """``DomainDispatcherApplication.get_backend_for_host`` remembered per host text (no host, ``None``, is not
    looked up: it answers ``None`` at once)."""
    backends: dict[str, Any] = {}

    @functools.wraps(original)  # __wrapped__: moto's own lookup, for the test that both answer alike
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        try:
            return backends[host]
        except KeyError:
            pass
        backend = original(self, host)
        if len(backends) < _BACKENDS_BY_HOST_MAX:
            backends[host] = backend
        return backend

    return get_backend_for_host


@functools.lru_cache(maxsize=256)
def _event_message_filter(pattern: str | None) -> Any:
    """moto's ``EventMessageFilter(pattern)``, one per pattern text (it keeps no state between messages)."""
    from moto.logs.utils import EventMessageFilter

    return EventMessageFilter(pattern)  # type: ignore[arg-type]


def _install_caches() -> None:
    import sys

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    DomainDispatcherApplication.get_backend_for_host = _cached_backend_for_host(  # type: ignore[method-assign,assignment]
        DomainDispatcherApplication.get_backend_for_host
    )
    AmazonStateLanguageParser.parse = staticmethod(  # type: ignore[assignment]
        _cached_definition_parser(AmazonStateLanguageParser.parse)
    )
    cached = _cached_boto_client_for(boto_client.boto_client_for)
    boto_client.boto_client_for = cached
    # every module imported the function by name: rebind it wherever it is bound (importing the task services
    # first, so none is imported later with the original)
    import moto.stepfunctions.parser.asl.parse.preprocessor  # noqa: F401 - imports every state and service

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("moto.stepfunctions.parser.") and getattr(module, "boto_client_for", None) is not None:
            module.boto_client_for = cached  # type: ignore[attr-defined]
    json_path.parse = _parse_json_path_ext  # type: ignore[attr-defined]
    from moto.logs import models as logs_models

    logs_models.EventMessageFilter = _event_message_filter  # type: ignore[assignment,attr-defined]
    result_path.parse = _parse_json_path  # type: ignore[attr-defined]
    import importlib

    for name in _JSON_COPY_MODULES:
        module = importlib.import_module(name)
        if getattr(module, "copy", None) is copy:
            module.copy = _JsonCopyShim  # type: ignore[attr-defined]


def install() -> None:
    """Apply every patch, once per process. Must run in the process that hosts the moto server."""
    global _installed  # noqa: PLW0603
    with _lock:
        if _installed:
            return
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.core.config import default_user_config
        from moto.stepfunctions.responses import StepFunctionResponse

        LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
        from . import moto_stop

        moto_stop.install()  # StopExecution ends a .waitForTaskToken execution (ABORTED), as on AWS
        from . import moto_cloudwatch

        moto_cloudwatch.install()  # GetMetricData with a percentile: NotSupportedLocally, not a 500 and a traceback
        StepFunctionResponse.start_sync_execution = _start_sync_execution  # type: ignore[attr-defined]
        from moto.dynamodb import models as ddb_models
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.responses import DynamoHandler
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_sfn as sfn_service,
        )

        ddb_models.copy = _TableCopyShim  # type: ignore[attr-defined,assignment]
        backend = DynamoDBBackend
        backend.transact_write_items = _item_level_rollback(backend.transact_write_items)  # type: ignore[method-assign]
        for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
            setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
        for name in ("put_item", "update_item", "delete_item"):  # ALL_OLD read and write as one step
            setattr(DynamoHandler, name, _serialised(getattr(DynamoHandler, name)))
        sfn_task = sfn_service.StateTaskServiceSfn
        sfn_task._normalise_parameters = _camel_sfn_parameters(sfn_task._normalise_parameters)  # type: ignore[method-assign]
        config = cast(dict[str, Any], default_user_config)
        for key, value in MOTO_CONFIG.items():
            config.setdefault(key, {}).update(value)
        _install_caches()
        _installed = True


def _condition_holds(conditions: Any, incoming: Any) -> bool:
    from moto.iam.policy_conditions import TrustRelationShipConditions

    incoming = incoming or {}
    for condition in TrustRelationShipConditions(conditions):
        if any(key not in incoming for key in condition.context_keys):
            return False
        if not condition.verify_condition([incoming[key] for key in condition.context_keys]):
            return False
    return True


def install_iam_condition_semantics() -> None:
    """Workaround 6 (opt-in): a statement whose condition does not hold does not apply (NEUTRAL), as in IAM."""
    from moto.iam import access_control as ac

    original = ac.IAMPolicyStatement.is_action_permitted
    if getattr(original, "_mcpgw_patched", False):
        return

    def is_action_permitted(
        self: Any, action: str, resource: str = "*", principal: Any = None, incoming_condition_values: Any = None
    ) -> Any:
        conditions = self._statement.get("Condition")
        if conditions and not _condition_holds(conditions, incoming_condition_values):
            return ac.PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    is_action_permitted._mcpgw_patched = True  # type: ignore[attr-defined]
    ac.IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
