"""Issue 20 against the local stack: the bounded edge, one truth per request id, nothing raw in the
execution state or history of either workflow, and fault injection at each stage, each asserting that the
agent's answer, the audit outcome and the side effect agree."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from conftest import unique_email
from corpora.secrets import generate_secrets
from faults import attr, dynamodb_write_fails
from mcp_gateway_local import moto_patches
from truth_support import Caller, counters_of, in_progress, items, looked_up

pytestmark = pytest.mark.e2e
SCRATCH = "acme-scratch"


def _object_exists(stack: Any, key: str) -> bool:
    listed = stack.client("s3").list_objects_v2(Bucket=SCRATCH, Prefix=key).get("Contents", [])
    return any(o["Key"] == key for o in listed)


def _edge_record(stack: Any, request_id: str) -> dict[str, Any]:
    record = items(stack, request_id)["outcome"]
    assert record["action"] == "gateway:EdgeLimits"
    return record


# --- the bounded edge ----------------------------------------------------------------------------------------
def test_get_mcp_answers_405_at_once_with_a_json_reason_and_an_audit_record(stack: Any) -> None:
    caller = Caller(stack, unique_email("edge-get"), ["developers"])
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        resp = caller.http.get(stack.info.mcp_url, headers={"Accept": "text/event-stream"})
        timings.append(time.perf_counter() - started)
        assert resp.status_code == 405
        assert resp.headers["content-type"] == "application/json"
        assert resp.json()["reason"] == "METHOD_NOT_ALLOWED"
    print(f"GET /mcp -> 405 in {min(timings) * 1000:.1f} ms (best of 3; all {[round(t * 1000) for t in timings]})")
    assert min(timings) < 0.1
    assert _edge_record(stack, resp.json()["request_id"])["reason"] == "METHOD_NOT_ALLOWED"


CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_buckets", "arguments": {}}}


@pytest.mark.parametrize(
    ("label", "body", "headers", "status", "reason"),
    [
        ("content type", json.dumps(CALL).encode(), {"Content-Type": "text/plain"}, 400, "UNSUPPORTED_MEDIA_TYPE"),
        ("origin", CALL, {"Origin": "https://evil.example"}, 403, "ORIGIN_NOT_ALLOWED"),
        ("host", CALL, {"Host": "HOST.evil.example"}, 421, "HOST_NOT_ALLOWED"),
        ("header size", CALL, {"X-Padding": "a" * 100_000}, 431, "HEADERS_TOO_LARGE"),
        ("authorization size", CALL, {"Authorization": "Bearer " + "a" * 100_000}, 431, "HEADERS_TOO_LARGE"),
        ("body size", b'{"a":"' + b"x" * 1_100_000 + b'"}', {}, 413, "REQUEST_TOO_LARGE"),
        ("duplicate keys", b'{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list"}', {}, 400, "INVALID_INPUT"),
        ("nesting", b"[" * 40 + b"]" * 40, {}, 400, "INVALID_INPUT"),
        (
            "bool for int",
            {
                **CALL,
                "params": {"name": "list_objects", "arguments": {"bucket": "acme-app-logs", "max_keys": True}},
            },
            {},
            400,
            "INVALID_INPUT",
        ),
    ],
)
def test_every_malformed_request_gets_a_json_error_with_a_reason_code_and_an_audit_record(
    stack: Any, label: str, body: Any, headers: dict[str, str], status: int, reason: str
) -> None:
    caller = Caller(stack, unique_email("edge-bad"), ["developers"])
    if headers.get("Host") == "HOST.evil.example":
        headers = {"Host": f"127.0.0.1:{stack.ports['gateway']}.evil.example"}
    resp = caller.post(body, **headers)
    assert resp.status_code == status, label
    assert resp.headers["content-type"].startswith("application/json"), label
    answer = resp.json()
    assert answer["reason"] == reason, label
    record = _edge_record(stack, answer["request_id"])
    assert record["reason"] == reason
    assert caller.call("list_buckets", {})["status"] == "ok", "the gateway keeps serving"


def test_two_hundred_requests_from_one_token_are_bounded_at_the_edge_and_other_users_still_succeed(
    stack: Any,
) -> None:
    flood = Caller(stack, unique_email("edge-flood"), ["developers"])
    other = Caller(stack, unique_email("edge-other"), ["developers"])
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    go = threading.Event()

    def one(_: int) -> tuple[int, str]:
        go.wait()
        resp = flood.post(body)
        return resp.status_code, resp.json().get("reason", "") if resp.status_code != 200 else ""

    with ThreadPoolExecutor(max_workers=100) as pool:
        futures = [pool.submit(one, i) for i in range(200)]
        go.set()
        others = [other.call("list_buckets", {}) for _ in range(3)]
        results = [f.result() for f in futures]
    refused = [r for r in results if r[0] == 429]
    print(f"200 at once from one token: {sum(r[0] == 200 for r in results)} served, {len(refused)} refused 429")
    assert {r[0] for r in results} <= {200, 429}
    assert refused, "the flood must be bounded"
    assert {r[1] for r in refused} <= {"EDGE_CONCURRENCY_EXCEEDED", "EDGE_BUDGET_EXCEEDED"}
    # "succeed": done and ok, also when the busy machine made the gateway answer "in progress, look it up"
    # (truthful under load) and the agent followed up with get_request_status as it is told to
    settled = [looked_up(other, o["request_id"])[0] if in_progress(o) else o["status"] for o in others]
    assert settled == ["ok", "ok", "ok"]
    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=stack.physical("AuditTable"),
            FilterExpression="user_email = :u AND reason = :r",
            ExpressionAttributeValues={":u": {"S": flood.email}, ":r": {"S": "EDGE_CONCURRENCY_EXCEEDED"}},
        )
    )
    audited = [i for page in pages for i in page["Items"]]
    assert len(audited) == sum(r[1] == "EDGE_CONCURRENCY_EXCEEDED" for r in refused)


# --- one truth per request id --------------------------------------------------------------------------------
def test_an_idempotent_retry_answers_the_first_outcome_and_runs_nothing_again(stack: Any) -> None:
    caller = Caller(stack, unique_email("idem"), ["sre"])
    key = f"notes/idem-{uuid.uuid4().hex}.md"
    meta = {"idempotency_key": f"k-{uuid.uuid4().hex}"}
    first = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "once"}, meta)
    again = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "once"}, meta)
    assert first["status"] == "ok"
    assert (again["status"], again["request_id"], again["result_reason"]) == (
        "ok",
        first["request_id"],
        "DUPLICATE_REQUEST",
    )
    assert sum(v for k, v in counters_of(stack, caller.email).items() if "#write#" in k) == 1
    assert items(stack, first["request_id"])["outcome"]["status"] == "ok"
    assert _object_exists(stack, key)
    other = Caller(stack, unique_email("idem-other"), ["sre"])
    assert other.call("list_buckets", {}, meta)["request_id"] != first["request_id"], "keys are per principal"


# --- nothing raw in execution state or history ---------------------------------------------------------------
def _strings(value: Any, skip: frozenset[str] = frozenset()) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        with suppress(ValueError):
            yield from _strings(json.loads(value), skip)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k in skip:
                continue
            yield str(k)
            yield from _strings(v, skip)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, skip)


def _execution_texts(stack: Any, skip: frozenset[str] = frozenset()) -> tuple[list[Any], str, str]:
    """Run a reviewed put_object holding the 50-secret corpus and an allowed call with a secret in its
    arguments; every input, output and history event of both workflows, as one text."""
    secrets = [s for s in generate_secrets(seed=20, per_type=2, include_pii=False) if len(s.value) >= 12][:50]
    assert len(secrets) == 50
    caller = Caller(stack, unique_email("sealed"), ["sre"])
    text = "\n\n".join(s.value if s.multiline else f"{s.key}={s.value}" for s in secrets)
    reviewed = caller.call(
        "put_object", {"bucket": SCRATCH, "key": f"notes/sealed-{uuid.uuid4().hex}.md", "text": text}
    )
    allowed = caller.call("list_objects", {"bucket": "acme-app-logs", "prefix": secrets[0].value[:40]})
    ids = [reviewed["request_id"], allowed["request_id"]]
    request_arn = stack.physical("RequestStateMachine")
    texts: list[str] = []
    for rid in ids:
        texts.extend(_strings(moto_patches.sync_execution_history(request_arn, rid), skip))
    assert texts, "the request workflow's histories were kept"
    sfn = stack.client("stepfunctions")
    approval_arn = stack.physical("ApprovalStateMachine")
    runs = [e for e in sfn.list_executions(stateMachineArn=approval_arn)["executions"] if e["name"] in ids]
    assert reviewed["status"] == "pending" and runs, "the reviewed call started the approval workflow"
    for run in runs:
        described = sfn.describe_execution(executionArn=run["executionArn"])
        texts.extend(_strings({k: described.get(k) for k in ("input", "output")}, skip))
        texts.extend(_strings(sfn.get_execution_history(executionArn=run["executionArn"])["events"], skip))
    return secrets, text, "\x00".join(texts)


def _leaked(secrets: list[Any], blob: str) -> list[str]:
    return [s.kind for s in secrets if any(f in blob for f in (s.value, *s.fragments) if len(f) >= 12)]


def test_the_raw_parameters_never_reach_an_execution_input_output_or_history_event_of_either_workflow(
    stack: Any,
) -> None:
    """The request's own parameters and intent are sealed: the raw text is nowhere, and no secret of the
    corpus appears in any string that is not the redaction engine's output (its misses are the next test's)."""
    secrets, text, blob = _execution_texts(stack)
    assert text not in blob
    unredacted = "\n".join(part for part in blob.split("\x00") if "[REDACTED" not in part and "[sealed:" not in part)
    assert _leaked(secrets, unredacted) == []


def test_no_raw_secret_appears_in_any_execution_input_output_or_history_event_of_either_workflow(stack: Any) -> None:
    secrets, _, blob = _execution_texts(stack)
    assert _leaked(secrets, blob) == []


# --- fault injection: agent answer = audit outcome = side effect -----------------------------------------------
@contextmanager
def _held_execute(stack: Any) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Execute blocks until the test releases it (after the agent's answer): an Execute slower than the
    gateway's read timeout, with no sleep."""
    release, done = threading.Event(), threading.Event()
    real = stack.functions["ExecuteFunction"].lambda_handler

    def handler(event: dict[str, Any], context: Any) -> Any:
        try:
            release.wait(60)
            return real(event, context)
        finally:
            done.set()

    moto_patches.register_handler(stack.physical("ExecuteFunction"), handler)
    try:
        yield release, done
    finally:
        release.set()
        moto_patches.register_handler(stack.physical("ExecuteFunction"), real)


def _wait_for_outcome(stack: Any, request_id: str, timeout: float = 30) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    found = items(stack, request_id)
    while "outcome" not in found and time.monotonic() < deadline:
        threading.Event().wait(0.05)  # polling the table for the workflow's own write
        found = items(stack, request_id)
    return found


def test_a_slow_execute_beyond_the_client_timeout_is_in_progress_then_recorded_as_what_happened(stack: Any) -> None:
    stack.redeploy("GatewayFunction", WORKFLOW_TIMEOUT_SECONDS="1")  # read timeout 6 s
    try:
        caller = Caller(stack, unique_email("slow"), ["sre"])
        key = f"notes/slow-{uuid.uuid4().hex}.md"
        with _held_execute(stack) as (release, done):
            answer = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "slow"})
            release.set()
            assert done.wait(30)
    finally:
        stack.redeploy("GatewayFunction", WORKFLOW_TIMEOUT_SECONDS="25")
    assert (answer["status"], answer["decision"]["reason"]) == ("pending", "REQUEST_IN_PROGRESS")
    assert answer["decision"]["outcome"] != "DENY", "never a false DENY"
    recorded = _wait_for_outcome(stack, answer["request_id"])
    assert recorded["outcome"]["status"] == "ok" and _object_exists(stack, key), "the workflow's truth"
    assert recorded["outcome#gateway"]["status"] == "pending", "the gateway's view is its own record"
    assert sum(v for k, v in counters_of(stack, caller.email).items() if "#write#" in k) == 1
    again = caller.call("get_request_status", {"request_id": answer["request_id"]})
    assert (again["request_id"], again["status"], again["executed"], again["result_status"]) == (
        answer["request_id"],
        "done",
        True,
        "ok",
    ), "the agent's look-up tells the workflow's truth"


@contextmanager
def _start_fails(stack: Any, *, after_start: bool) -> Iterator[list[str]]:
    """StartSyncExecution refused before anything runs (a throttled start), or the gateway dies right after
    the start (the agent never gets the answer)."""
    from moto.stepfunctions.exceptions import AWSError
    from moto.stepfunctions.responses import StepFunctionResponse

    real = StepFunctionResponse.start_sync_execution
    seen: list[str] = []

    class Throttled(AWSError):
        TYPE = "ThrottlingException"
        STATUS = 400

    def start(self: Any) -> Any:
        seen.append(self._get_param("name"))
        if not after_start:
            raise Throttled("injected: rate exceeded")
        real(self)
        raise RuntimeError("injected: the gateway instance died after the start")

    StepFunctionResponse.start_sync_execution = start  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        StepFunctionResponse.start_sync_execution = real  # type: ignore[method-assign]


def test_a_start_error_that_proves_nothing_started_is_denied_and_nothing_ran(stack: Any) -> None:
    caller = Caller(stack, unique_email("start-error"), ["sre"])
    key = f"notes/start-{uuid.uuid4().hex}.md"
    with _start_fails(stack, after_start=False) as seen:
        answer = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "never"})
    assert len(seen) == 3, "a provably refused start is retried, within bounds"
    assert (answer["status"], answer["rule_id"]) == ("denied", "workflow.start-failed")
    recorded = items(stack, answer["request_id"])
    assert set(recorded) == {"outcome#gateway"}
    assert not _object_exists(stack, key) and counters_of(stack, caller.email) == {}


def test_a_gateway_killed_after_the_start_leaves_the_workflow_truth_and_a_retry_answers_it(stack: Any) -> None:
    caller = Caller(stack, unique_email("killed"), ["sre"])
    key = f"notes/killed-{uuid.uuid4().hex}.md"
    meta = {"idempotency_key": f"k-{uuid.uuid4().hex}"}
    with _start_fails(stack, after_start=True):
        lost = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "once"}, meta)
    # the start's answer never arrived: the gateway reads the workflow's own record (already written) instead
    assert (lost["status"], lost["decision"]["outcome"]) == ("ok", "ALLOW")
    retried = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "once"}, meta)
    assert (retried["status"], retried["request_id"]) == ("ok", lost["request_id"])
    assert items(stack, lost["request_id"])["outcome"]["status"] == "ok"
    assert _object_exists(stack, key)
    assert sum(v for k, v in counters_of(stack, caller.email).items() if "#write#" in k) == 1


def test_a_lost_outcome_write_is_answered_as_deferred_and_replay_records_what_happened(stack: Any) -> None:
    caller = Caller(stack, unique_email("lost"), ["sre"])
    key = f"notes/lost-{uuid.uuid4().hex}.md"
    outcome_put = lambda table, item: table == stack.physical("AuditTable") and attr(item, "sk") == "outcome"  # noqa: E731
    with dynamodb_write_fails(outcome_put) as fault:
        answer = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "lost"})
    assert fault.hits
    assert (answer["status"], answer["audit"]) == ("ok", "deferred")
    assert _object_exists(stack, key)
    assert "outcome" not in items(stack, answer["request_id"]), "until replayed, the outcome is parked"
    parked = (
        stack.client("sqs")
        .receive_message(QueueUrl=stack.physical("AuditDeadLetterQueue"), MaxNumberOfMessages=10, VisibilityTimeout=0)
        .get("Messages", [])
    )
    states = [json.loads(m["Body"]) for m in parked]
    assert [
        s["execution"]["result"]["status"] for s in states if s["request"]["request_id"] == answer["request_id"]
    ] == ["ok"], "the parked state holds the truth replay will record"


def test_a_conditional_failure_of_the_claim_runs_and_counts_nothing(stack: Any) -> None:
    caller = Caller(stack, unique_email("claimed"), ["sre"])
    key = f"notes/claimed-{uuid.uuid4().hex}.md"
    claim = lambda table, item: table == stack.physical("AuditTable") and attr(item, "sk") == "claim"  # noqa: E731
    with dynamodb_write_fails(claim, code="ConditionalCheckFailedException") as fault:
        answer = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "never"})
    assert fault.hits
    assert (answer["status"], answer["decision"]["reason"]) == ("pending", "REQUEST_IN_PROGRESS")
    assert answer["decision"]["outcome"] != "DENY"
    assert not _object_exists(stack, key)
    assert counters_of(stack, caller.email) == {}
    assert "outcome" not in items(stack, answer["request_id"])


# --- the verifier checks the trail against reality ---------------------------------------------------------------
def test_audit_verify_flags_an_outcome_the_side_effect_contradicts_and_passes_when_they_agree(stack: Any) -> None:
    from mcp_gateway_local.audit_cli import _local_target, outcome_findings

    caller = Caller(stack, unique_email("verify"), ["sre"])
    key = f"notes/verify-{uuid.uuid4().hex}.md"
    since = time.time() - 1
    answer = caller.call("put_object", {"bucket": SCRATCH, "key": key, "text": "real"})
    assert answer["status"] == "ok"
    target = _local_target(stack.state_dir)
    mine = lambda fs: [f for f in fs if f.request_id == answer["request_id"]]  # noqa: E731
    assert mine(outcome_findings(target, since, time.time() + 1)) == [], "a clean run passes"
    stack.client("s3").delete_object(Bucket=SCRATCH, Key=key)  # the injected mismatch: the record says written
    found = mine(outcome_findings(target, since, time.time() + 1))
    assert [f.kind for f in found] == ["side_effect_mismatch"]
