"""Data-loss prevention end to end: hundreds of fake secrets go into the local AWS (S3 objects and CloudWatch
log events) and into tool arguments, travel through the real gateway (official MCP client, real HTTP, the
request workflow in moto, the real functions, the Slack stand-in), and afterwards no raw 8-character substring
of any of them is found in any sink: MCP responses, the audit table, the audit log group, the results and
approvals tables, Slack payloads, or the functions' log output (captured with Powertools' event logging on, so
every function logs every event it receives, raw arguments included).

The leak rule is the corpus' own (``raw_substrings``: every 8-character window of a secret's distinctive
part), applied to each sink's text and to its decoded forms (JSON-unescaped, URL-decoded, lines joined, base64
decoded).

Deterministic (issue 20): the corpora are seeded; requester e-mails are ``conftest.unique_email`` (letters and a
``-req`` suffix, never a corpus e-mail's ``<digits>@exam`` window); an all-digit window counts only where its
whole digit run could be the secret's digits, and an all-hex window only where its whole lowercase-hex run could
be the secret's, so the random hex the gateway mints (request ids, start nonces, HMACs: tens of thousands of
distinct 8-character hex windows per run, roughly 1 % odds a run of sharing one with the corpus' 1,457 hex
windows) is never counted as a leak, while a hex secret that survives whole still is.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from approval_support import FLAGGING_INTENT, observing
from conftest import unique_email
from corpora.benign_text import benign_lines
from corpora.secrets import (
    CUSTOMER_ID_PATTERNS,
    FakeSecret,
    decoded_forms,
    embed,
    generate_secrets,
    raw_substrings,
)

pytestmark = pytest.mark.e2e

SECRETS = generate_secrets()
BUCKET = "acme-scratch"
LOGGED_FUNCTIONS = (
    "GatewayFunction",
    "ValidateFunction",
    "ExecuteFunction",
    "AuditFunction",
    "NotifyApproversFunction",
    "ApprovalCallbackFunction",
)
MAX_TOOL_CALLS = 40


# ----------------------------------------------------------------------------------------------------
# The leak check, fast enough for megabytes: n-gram sets instead of a substring search per window
# ----------------------------------------------------------------------------------------------------
_HEX_WINDOW = re.compile(r"[0-9a-f]+")


@dataclass
class LeakIndex:
    """Every distinctive window of every secret, for a set-intersection scan of a whole sink at once.

    A window can only occur inside a run of the characters windows are made of, so a sink's decoded forms are
    cut into such runs and each distinct run is scanned once (the forms of one sink share almost all of them):
    the same windows are found as by sliding over every form, at a fraction of the cost.
    """

    secrets: list[FakeSecret]
    windows: dict[str, int] = field(default_factory=dict)  # window -> index of its secret
    digit_windows: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, secret in enumerate(self.secrets):
            for window in raw_substrings(secret):
                (self.digit_windows if window.isdigit() else self.windows).setdefault(window, i)
        self.lengths = sorted({len(w) for w in self.windows})
        self.digits = [re.sub(r"\D", "", s.value) for s in self.secrets]
        alphabet = sorted({c for w in self.windows for c in w})
        assert "\x00" not in alphabet
        self.runs = re.compile("[" + "".join(re.escape(c) for c in alphabet) + f"]{{{self.lengths[0]},}}")
        self.short = [w for w in self.windows if len(w) < self.lengths[-1]]  # a handful: searched directly

    def leaks(self, text: str) -> dict[str, list[str]]:
        """{secret kind: surviving windows} over ``text`` and its decoded forms."""
        out: dict[str, list[str]] = {}
        for i, windows in sorted(self.found(text).items()):
            out.setdefault(self.secrets[i].kind, []).extend(sorted(windows)[:3])
        return out

    def found(self, text: str) -> dict[int, set[str]]:
        """{index of a secret: its surviving windows} over ``text`` and its decoded forms."""
        found: dict[int, set[str]] = {}
        runs: set[str] = set()
        digit_runs: set[str] = set()
        for form in decoded_forms(text, thorough=len(text) < 2_000_000):
            runs.update(self.runs.findall(form))
            digit_runs.update(re.findall(r"\d{6,}", form))
        joined = "\x00".join(runs)  # NUL is in no window: no window spans two runs
        n = self.lengths[-1]
        grams = {joined[j : j + n] for j in range(len(joined) - n + 1)}
        hits = [w for w in grams & self.windows.keys()] + [w for w in self.short if w in joined]
        for window in hits:
            i = self.windows[window]
            if _HEX_WINDOW.fullmatch(window) and not self._hex_run_could_be(window, joined, i):
                continue
            found.setdefault(i, set()).add(window)
        # an all-digit window counts where its whole digit run could be that secret's digits (not inside
        # an epoch timestamp that happens to contain the same 8 digits)
        for run in digit_runs:
            for n in (6, 7, 8):
                for j in range(len(run) - n + 1):
                    i = self.digit_windows.get(run[j : j + n])
                    if i is not None and run in self.digits[i]:
                        found.setdefault(i, set()).add(run[j : j + n])
        return found

    def _hex_run_could_be(self, window: str, joined: str, i: int) -> bool:
        """An all-hex window counts where its whole run of lowercase hex could be that secret's: not inside a
        request id, nonce or HMAC the gateway minted that happens to hold the same 8 characters (random hex
        carries about 3 of the corpus' 1,457 hex windows per 10 million characters), just as a digit window
        does not count inside an epoch timestamp."""
        value = self.secrets[i].value
        for m in re.finditer(re.escape(window), joined):
            start, end = m.start(), m.end()
            while start > 0 and _HEX_WINDOW.fullmatch(joined[start - 1]):
                start -= 1
            while end < len(joined) and _HEX_WINDOW.fullmatch(joined[end]):
                end += 1
            run = joined[start:end]
            if run in value or value in run:
                return True
        return False


INDEX = LeakIndex(SECRETS)


# ----------------------------------------------------------------------------------------------------
# Sinks
# ----------------------------------------------------------------------------------------------------
@dataclass
class Capture:
    """The functions' log output: Powertools' JSON lines (through the very formatter CloudWatch would get) and
    anything else reaching the root logger (libraries)."""

    powertools: io.StringIO
    root: io.StringIO

    def text(self) -> str:
        return self.powertools.getvalue() + "\n" + self.root.getvalue()


@pytest.fixture(scope="module")
def dlp(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    """Redeploy the functions with event logging on and a policy whose customer-id patterns match the corpus'
    customer ids; capture every log line; restore the stack afterwards."""
    from mcp_gateway.observability import logger

    policy = yaml.safe_load(Path(stack.policy_path).read_text())
    patterns = list(policy["redaction"]["customer_id_patterns"])
    policy["redaction"]["customer_id_patterns"] = patterns + [p for p in CUSTOMER_ID_PATTERNS if p not in patterns]
    policy_path = tmp_path_factory.mktemp("dlp") / "policy-dlp.yaml"
    policy_path.write_text(yaml.safe_dump(policy))
    saved = {logical: dict(stack.function_env[logical]) for logical in LOGGED_FUNCTIONS}
    for logical in LOGGED_FUNCTIONS:
        env = {"POWERTOOLS_LOGGER_LOG_EVENT": "true"}
        if logical == "ValidateFunction":
            env["POLICY_PATH"] = str(policy_path)
        stack.redeploy(logical, **env)

    pt_logger = logging.getLogger(logger.name)
    formatter = pt_logger.handlers[0].formatter
    capture = Capture(io.StringIO(), io.StringIO())
    pt_handler = logging.StreamHandler(capture.powertools)
    pt_handler.setFormatter(formatter)
    root_handler = logging.StreamHandler(capture.root)
    root_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    pt_logger.addHandler(pt_handler)
    logging.getLogger().addHandler(root_handler)
    try:
        yield capture
    finally:
        pt_logger.removeHandler(pt_handler)
        logging.getLogger().removeHandler(root_handler)
        for logical, env in saved.items():
            stack.function_env[logical] = env
            stack.redeploy(logical)


def _bytes_as_text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes | bytearray) else str(value)


def _written_ms(item: dict[str, Any]) -> int | None:
    """When an audit-table item was written (its record's epoch_ms, an intent's at_ms, a claim's claimed_at_ms),
    or None when it carries no time (a chain head): such items are always scanned."""
    if "record" in item:
        with contextlib.suppress(ValueError, TypeError):
            return int(json.loads(item["record"]["S"]).get("epoch_ms"))
    for name in ("at_ms", "claimed_at_ms"):
        if name in item:
            return int(item[name]["N"])
    return None


def _scan_table(stack: Any, logical: str, since_ms: int | None = None) -> str:
    """Every item of a table as text; with ``since_ms``, only the items written since then (and any item that
    carries no time): in a shared session stack, what earlier tests wrote is not this test's sink."""
    ddb = stack.client("dynamodb")
    parts: list[str] = []
    kwargs: dict[str, Any] = {"TableName": stack.physical(logical)}
    while True:
        page = ddb.scan(**kwargs)
        items = page["Items"]
        if since_ms is not None:
            items = [i for i in items if (written := _written_ms(i)) is None or written >= since_ms]
        # binary attributes (sealed approval material) as latin-1 text: raw bytes stay visible to the leak check
        parts.extend(json.dumps(item, default=_bytes_as_text) for item in items)
        if "LastEvaluatedKey" not in page:
            return "\n".join(parts)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _all_log_events(stack: Any, group: str, since_ms: int | None = None) -> str:
    logs = stack.client("logs")
    parts: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    if since_ms is not None:
        kwargs["startTime"] = since_ms
    while True:
        page = logs.filter_log_events(**kwargs)
        parts.extend(e["message"] for e in page["events"])
        token = page.get("nextToken")
        if not token or not page["events"]:
            return "\n".join(parts)
        kwargs["nextToken"] = token


def _test_started_ms() -> int:
    """A test's start, one second early: every record it causes is written after this (same clock: moto runs
    in this process), and what earlier tests left in the session stack (other corpora, other seeds) is not
    scanned as this test's sink, so the verdict does not depend on which tests ran before on the worker."""
    return int(time.time() * 1000) - 1000


def _slack_payloads(stack: Any) -> str:
    with stack.slack.lock:
        recorded = json.dumps(list(stack.slack.messages.values())) + json.dumps(stack.slack.responses)
    log = Path(stack.info.approvals_log)
    return recorded + "\n" + (log.read_text() if log.exists() else "")


# ----------------------------------------------------------------------------------------------------
# Seeding the local AWS
# ----------------------------------------------------------------------------------------------------
def _corpus_texts() -> tuple[list[str], list[str]]:
    """Every embedding of every secret; alternate embeddings go to S3 and to CloudWatch Logs, so each secret
    reaches the agent in several syntaxes and encodings through both data paths."""
    to_s3: list[str] = []
    to_logs: list[str] = []
    for secret in SECRETS:
        for k, (_syntax, text) in enumerate(embed(secret)):
            (to_s3 if k % 2 == 0 else to_logs).append(text)
    return to_s3, to_logs


def _put_events(stack: Any, group: str, messages: list[str]) -> None:
    logs = stack.client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    start = int(time.time() * 1000) - len(messages) - 60_000
    batch: list[dict[str, Any]] = []
    size = 0
    for i, message in enumerate(messages):
        batch.append({"timestamp": start + i, "message": message})
        size += len(message) + 26
        if size > 800_000 or len(batch) >= 5_000:
            logs.put_log_events(logGroupName=group, logStreamName="app", logEvents=batch)
            batch, size = [], 0
    if batch:
        logs.put_log_events(logGroupName=group, logStreamName="app", logEvents=batch)


def structured(result: Any) -> dict[str, Any]:
    if result.structured_content is not None:
        return result.structured_content  # type: ignore[no-any-return]
    return json.loads(result.content[0].text)  # type: ignore[no-any-return]


def error_of(result: Any) -> dict[str, Any]:
    assert result.is_error
    return json.loads(result.content[0].text)["error"]  # type: ignore[no-any-return]


class Agent:
    """An MCP client session that records every result (the agent-facing sink) and counts tool calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0
        self.responses: list[str] = []

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        self.calls += 1
        result = await self.client.call_tool(tool, arguments)
        texts = [c.text for c in result.content if getattr(c, "text", None) is not None]
        self.responses.extend(texts)
        # structured content is scanned too, unless the text is exactly its JSON
        if result.structured_content is not None and [json.loads(t) for t in texts[:1]] != [result.structured_content]:
            self.responses.append(json.dumps(result.structured_content))
        return result

    async def read_object(self, key: str) -> tuple[str, list[dict[str, Any]]]:
        """The whole object through get_object pages (continuation offsets)."""
        texts: list[str] = []
        pages: list[dict[str, Any]] = []
        args: dict[str, Any] = {
            "bucket": BUCKET,
            "key": key,
            "max_bytes": 1_048_576,
            "intent": "read the export",
        }
        while True:
            page = structured(await self.call("get_object", args))
            assert page["status"] == "ok", page
            pages.append(page)
            texts.append(page["result"]["text"])
            if not page.get("continuation"):
                return "".join(texts), pages
            args = {**args, "offset": page["continuation"]["offset"]}

    async def read_log_group(self, group: str) -> tuple[list[str], list[dict[str, Any]]]:
        """Every event of the group through filter_log_events pages (page tokens or time continuations)."""
        seen: dict[str, str] = {}
        pages: list[dict[str, Any]] = []
        base: dict[str, Any] = {"log_group": group, "limit": 1000, "since_minutes": 120, "intent": "debug"}
        args = dict(base)
        while True:
            page = structured(await self.call("filter_log_events", args))
            assert page["status"] == "ok", page
            pages.append(page)
            for event in page["result"]["events"]:
                seen.setdefault(event["event_id"], event["message"])
            cont = page.get("continuation") or {}
            if not cont:
                return list(seen.values()), pages
            args = {
                **base,
                **{k: v for k, v in cont.items() if k in ("start_time", "end_time", "page_token") and v},
            }


# ----------------------------------------------------------------------------------------------------
# DoD 1: the corpus end to end
# ----------------------------------------------------------------------------------------------------
def _arguments_with_secrets() -> list[tuple[str, dict[str, Any], str]]:
    """(tool, arguments, expected reason) of calls whose arguments carry secrets: allowed, denied, invalid."""
    picks = {s.kind: s for s in SECRETS}  # one secret of each type
    jwt, akid, secret_key, pem = (
        picks["jwt"],
        picks["aws_access_key_id"],
        picks["aws_secret_key"],
        picks["private_key"],
    )
    github, slack, stripe, password = (
        picks["github_token"],
        picks["slack_token"],
        picks["stripe_key"],
        picks["password"],
    )
    note = f"aws_secret_access_key={secret_key.value} token={github.value} {slack.value}"
    return [
        # allowed, with secrets in the filter pattern and the intent (audited as sanitized parameters)
        (
            "filter_log_events",
            {
                "log_group": "/aws/lambda/orders-api",
                "filter_pattern": f'"{akid.value}"',
                "intent": f"find where {stripe.value} and password={password.value} leaked",
            },
            "ok",
        ),
        # explicitly denied (a credential-issuing read): a secret id and a body of secrets as parameters
        (
            "call_aws",
            {
                "service": "secretsmanager",
                "operation": "GetSecretValue",
                "parameters": {"SecretId": f"prod/{github.value}", "VersionStage": jwt.value},
            },
            "EXPLICIT_DENY",
        ),
        (
            "call_aws",
            {
                "service": "s3",
                "operation": "PutObject",
                "parameters": {"Bucket": BUCKET, "Key": "notes/creds.txt", "Body": note + "\n" + pem.value},
            },
            "NOT_ALLOWLISTED",
        ),
        # invalid arguments: the schema error must not echo them
        (
            "get_object",
            {"bucket": akid.value, "key": secret_key.value, "max_bytes": jwt.value},
            "INVALID_INPUT",
        ),
        (
            "filter_log_events",
            {"log_group": "/aws/lambda/orders-api", "start_time": akid.value},
            "INVALID_INPUT",
        ),
        (
            "filter_log_events",
            {
                "log_group": f"/acme/{github.value}",
                "end_time": "2020-01-01T00:00:00Z",
                "start_time": "2021-01-01T00:00:00Z",
            },
            "INVALID_INPUT",
        ),
        ("list_buckets", {github.value: stripe.value, "api_key": password.value}, "INVALID_INPUT"),
        (github.value, {"intent": slack.value}, "UNKNOWN_TOOL"),
        # not found: the key (and so the resource ARN) holds a secret
        (
            "get_object",
            {"bucket": BUCKET, "key": f"missing/{akid.value}/aws_secret_access_key={secret_key.value}"},
            "NOT_FOUND",
        ),
    ]


def _auth_failures_with_secrets(stack: Any) -> list[int]:
    """Rejected authentications whose credentials are secrets (a stolen JWT, a token in the query string)."""
    picks = {s.kind: s for s in SECRETS}
    headers = {"accept": "application/json, text/event-stream"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    statuses = [
        httpx.post(
            stack.info.mcp_url,
            json=body,
            headers={**headers, "authorization": f"Bearer {picks['jwt'].value}"},
            timeout=30,
        ).status_code,
        httpx.post(
            f"{stack.info.mcp_url}?access_token={picks['github_token'].value}",
            json=body,
            headers=headers,
            timeout=30,
        ).status_code,
        httpx.post(
            f"{stack.info.gateway_url}/oauth/token",
            timeout=30,
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": picks["jwt"].value,
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            },
        ).status_code,
    ]
    return statuses


async def test_hundreds_of_secrets_read_back_through_the_gateway_leak_into_no_sink(
    stack: Any, session_factory: Any, dlp: Capture
) -> None:
    from mcp_gateway_local import cli

    since_ms = _test_started_ms()
    kinds = {s.kind for s in SECRETS}
    assert len(SECRETS) >= 300 and len(kinds - {"email", "phone", "credit_card", "customer_id", "ipv4"}) >= 15
    run = uuid.uuid4().hex[:10]
    to_s3, to_logs = _corpus_texts()
    key = f"dlp/{run}/corpus.txt"
    stack.client("s3").put_object(Bucket=BUCKET, Key=key, Body="\n\n".join(to_s3).encode())
    group = f"/acme/dlp-{run}"
    _put_events(stack, group, to_logs)

    session = session_factory(unique_email("dlp"))
    review_secrets = [s for s in SECRETS if s.kind in ("aws_access_key_id", "github_token", "stripe_key")][:3]
    with observing(stack) as observer:
        async with session.client() as client:
            agent = Agent(client)
            _text, s3_pages = await agent.read_object(key)
            events, log_pages = await agent.read_log_group(group)

            outcomes: dict[str, Any] = {}
            for tool, arguments, expected in _arguments_with_secrets():
                result = await agent.call(tool, arguments)
                outcomes[tool + json.dumps(arguments)[:40]] = (expected, result)

            # a call flagged for human review whose parameters carry secrets: the Slack message shows them
            pattern = " ".join(f'"{s.value}"' for s in review_secrets)
            pending = structured(
                await agent.call(
                    "filter_log_events",
                    {
                        "log_group": group,
                        "filter_pattern": pattern,
                        "limit": 50,
                        "since_minutes": 120,
                        "intent": FLAGGING_INTENT,
                    },
                )
            )
            assert pending["status"] == "pending", pending
            rid = pending["request_id"]
            observer.wait_notified(rid)
            assert cli.main(["--state-dir", str(stack.state_dir), "approve", rid, "--as", "carol@example.com"]) == 0
            assert observer.wait_finished(rid)["status"] == "ok"
            approved = structured(await agent.call("get_request_status", {"request_id": rid}))
            assert approved["executed"] is True
    auth_statuses = _auth_failures_with_secrets(stack)
    assert auth_statuses == [401, 400, 400]
    assert agent.calls <= MAX_TOOL_CALLS

    # what the agent got: every page redacted, and told so (counts by type)
    assert len(events) == len(to_logs)
    for page in s3_pages + log_pages:
        assert page["redactions"] and all(isinstance(v, int) and v > 0 for v in page["redactions"].values())
    seen_types = set().union(*(p["redactions"] for p in s3_pages + log_pages))
    assert len(seen_types) >= 20, seen_types

    # ... and the audit record of each of those calls counts the same redactions by type
    ddb = stack.client("dynamodb")
    for page in s3_pages + log_pages:
        item = ddb.get_item(
            TableName=stack.physical("AuditTable"),
            Key={"pk": {"S": page["request_id"]}, "sk": {"S": "outcome"}},
            ConsistentRead=True,
        )["Item"]
        assert json.loads(item["record"]["S"])["redactions"] == page["redactions"]

    # error paths answer with reason codes and never echo the secrets they were given
    for expected, result in outcomes.values():
        if expected == "ok":
            assert structured(result)["status"] in ("ok", "error")
            continue
        error = error_of(result)
        assert error["reason"] == expected, error
        assert INDEX.leaks(json.dumps(error)) == {}, error

    sinks = {
        "mcp responses": "\n".join(agent.responses),
        "audit table": _scan_table(stack, "AuditTable", since_ms),
        "audit log group": _all_log_events(stack, stack.physical("AuditLogGroup"), since_ms),
        "results table": _scan_table(stack, "ResultsTable"),
        "approvals table": _scan_table(stack, "ApprovalsTable"),
        "slack payloads": _slack_payloads(stack),
        "function logs": dlp.text(),
    }
    assert rid in sinks["slack payloads"]
    assert "[REDACTED:" in sinks["function logs"], "event logging was on: the functions logged the raw events"
    scan_started = time.perf_counter()
    leaked = {name: found for name, text in sinks.items() if (found := INDEX.leaks(text))}
    sizes = {name: len(text) for name, text in sinks.items()}
    print(
        f"\nDLP corpus: {len(SECRETS)} secrets, {len(kinds)} types, {len(to_s3) + len(to_logs)} texts, "
        f"{agent.calls} tool calls; sink sizes {sizes}; leak scan {time.perf_counter() - scan_started:.1f}s; "
        f"leaks {leaked}"
    )
    assert leaked == {}


async def test_the_gateways_own_secrets_never_reach_a_sink_even_when_a_function_logs_them(
    stack: Any, session_factory: Any, dlp: Capture
) -> None:
    from mcp_gateway.observability import logger

    sm = stack.client("secretsmanager")
    session_keys = json.loads(sm.get_secret_value(SecretId=stack.physical("SessionKeysSecret"))["SecretString"])
    pems = [k[f] for k in session_keys["keys"] for f in k if isinstance(k[f], str) and "PRIVATE KEY" in k[f]]
    assert pems
    own = [stack.slack_signing_secret, stack.slack_bot_token, *pems]
    # the functions load them (token exchange: the session keys; the approval functions: the Slack secret)
    session_factory(unique_email("own-secrets"))
    assert (
        stack.functions["NotifyApproversFunction"].NOTIFIER.slack_secret()["signing_secret"]
        == stack.slack_signing_secret
    )
    logger.error(
        "misconfigured",
        extra={
            "slack": {"signing_secret": stack.slack_signing_secret, "bot_token": stack.slack_bot_token},
            "session_key": pems[0],
        },
    )
    try:
        raise RuntimeError(f"bad signature with {stack.slack_signing_secret}")
    except RuntimeError:
        logger.exception("callback failed")

    def windows(value: str) -> set[str]:
        body = re.sub(r"-----[A-Z ]+-----|\s", "", value)
        return {body[i : i + 16] for i in range(0, max(1, len(body) - 16), 8)}

    sinks = {
        "audit table": _scan_table(stack, "AuditTable"),
        "audit log group": _all_log_events(stack, stack.physical("AuditLogGroup")),
        "slack payloads": _slack_payloads(stack),
        "function logs": dlp.text(),
    }
    assert "[REDACTED:" in dlp.powertools.getvalue()
    found: dict[str, list[int]] = {}
    for name, text in sinks.items():
        forms = decoded_forms(text)
        found[name] = [i for i, value in enumerate(own) if any(w in f for w in windows(value) for f in forms)]
    assert {name: hits for name, hits in found.items() if hits} == {}


# ----------------------------------------------------------------------------------------------------
# DoD 2: the benign corpus through the gateway
# ----------------------------------------------------------------------------------------------------
async def test_benign_log_text_read_through_the_gateway_keeps_false_positives_under_two_percent(
    stack: Any, session_factory: Any, dlp: Capture
) -> None:
    lines = benign_lines()
    run = uuid.uuid4().hex[:10]
    key = f"dlp/{run}/benign.log"
    stack.client("s3").put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines).encode())
    group = f"/acme/dlp-benign-{run}"
    _put_events(stack, group, lines)

    session = session_factory(unique_email("benign"))
    async with session.client() as client:
        agent = Agent(client)
        text, _pages = await agent.read_object(key)
        events, _log_pages = await agent.read_log_group(group)

    returned = text.split("\n")
    assert len(returned) == len(lines)
    changed_s3 = [a for a, b in zip(lines, returned, strict=True) if a != b]
    assert len(events) == len(lines)
    changed_logs = [line for line in lines if line not in set(events)]
    rate_s3 = len(changed_s3) / len(lines)
    rate_logs = len(changed_logs) / len(lines)
    print(
        f"\nbenign corpus through the gateway: {len(lines)} lines; false-positive rate "
        f"{rate_s3:.2%} (get_object), {rate_logs:.2%} (filter_log_events); {agent.calls} tool calls"
    )
    for line in changed_s3[:5]:
        print(f"  false positive: {line[:160]}")
    assert rate_s3 < 0.02
    assert rate_logs < 0.02


# ----------------------------------------------------------------------------------------------------
# Issue 19: the held-out scorecard through every sink, the demo config, echoed inputs, bookkeeping counts
# ----------------------------------------------------------------------------------------------------
def _sentinel(case_id: int) -> str:
    return f"@@ case {case_id} @@"


_SENTINEL_RX = re.compile(r"^@@ case (\d+) @@$", re.MULTILINE)


def _split_by_sentinel(text: str) -> dict[int, str]:
    """The returned text of each case (the sentinel line precedes it, one newline separates cases)."""
    marks = list(_SENTINEL_RX.finditer(text))
    out: dict[int, str] = {}
    for k, m in enumerate(marks):
        end = marks[k + 1].start() - 1 if k + 1 < len(marks) else len(text)
        out[int(m.group(1))] = text[m.end() + 1 : end]
    return out


def _leak_context(sinks: dict[str, str], leaked: dict[str, dict[str, list[str]]]) -> list[str]:
    """Where each surviving window sits (in the sink text or a decoded form of it), for the failure message."""
    out: list[str] = []
    for name, kinds in leaked.items():
        forms = decoded_forms(sinks[name], thorough=False)
        for windows in kinds.values():
            for form in forms:
                at = form.find(windows[0])
                if at >= 0:
                    out.append(f"{name}: ...{form[max(0, at - 300) : at + 100]!r}...")
                    break
    return out


def _redactions_summaries(value: Any) -> list[Any]:
    """Every value held under a ``redactions`` key, anywhere in a JSON document."""
    out: list[Any] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "redactions":
                out.append(item)
            else:
                out.extend(_redactions_summaries(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(_redactions_summaries(item))
    return out


def _executions(stack: Any, since_ms: int | None = None) -> str:
    """Step Functions: every execution of every state machine (started since ``since_ms``), its input and
    output and its whole history."""
    sfn = stack.client("stepfunctions")
    parts: list[str] = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        kwargs: dict[str, Any] = {"stateMachineArn": machine["stateMachineArn"]}
        while True:
            page = sfn.list_executions(**kwargs)
            for execution in page["executions"]:
                if since_ms is not None and execution["startDate"].timestamp() * 1000 < since_ms:
                    continue
                arn = execution["executionArn"]
                described = sfn.describe_execution(executionArn=arn)
                parts.append(json.dumps({k: described.get(k) for k in ("input", "output", "error", "cause")}))
                history: dict[str, Any] = {"executionArn": arn}
                while True:
                    events = sfn.get_execution_history(**history)
                    parts.append(json.dumps(events["events"], default=str))
                    if not events.get("nextToken"):
                        break
                    history["nextToken"] = events["nextToken"]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return "\n".join(parts)


async def test_the_held_out_scorecard_leaks_nothing_in_any_sink_and_keeps_benign_lines_and_the_demo_config(
    stack: Any, session_factory: Any, dlp: Capture, capsys: pytest.CaptureFixture[str]
) -> None:
    from corpora.scorecard import HELD_OUT, Scorecard, benign_split, cases, over_redacted
    from mcp_gateway_local import cli, demo_data

    since_ms = _test_started_ms()
    planted = cases(HELD_OUT, per_secret=2)
    _tuning, benign = benign_split()
    assert len(HELD_OUT) >= 500 and len(benign) >= 1000
    run = uuid.uuid4().hex[:10]
    s3 = stack.client("s3")
    to_s3 = [c for c in planted if c.id % 2 == 0]
    to_logs = [c for c in planted if c.id % 2 == 1]
    cases_key = f"dlp/{run}/scorecard.txt"
    s3.put_object(Bucket=BUCKET, Key=cases_key, Body="\n".join(f"{_sentinel(c.id)}\n{c.text}" for c in to_s3).encode())
    cases_group = f"/acme/dlp-scorecard-{run}"
    _put_events(stack, cases_group, [f"{_sentinel(c.id)}\n{c.text}" for c in to_logs])
    benign_lines_ = [line for _format, line in benign]
    benign_key = f"dlp/{run}/benign-formats.txt"
    s3.put_object(Bucket=BUCKET, Key=benign_key, Body="\n".join(benign_lines_).encode())
    benign_group = f"/acme/dlp-benign-formats-{run}"
    benign_messages = [line for line in benign_lines_ if line.strip()]  # a log event is never empty
    _put_events(stack, benign_group, benign_messages)
    # an echoed caller input: an object key holding an access key id, and a query holding a bare password
    akid = next(s for s in HELD_OUT if s.kind == "aws_access_key_id")
    password = next(s for s in HELD_OUT if s.kind == "password")
    echo_key = f"dumps/{run}/dump-{akid.value}.json"
    s3.put_object(Bucket=BUCKET, Key=echo_key, Body=b'{"ok": true}')
    query = f'fields @timestamp, @message | filter @message like "{password.value}" | limit 5'

    session = session_factory(unique_email("scorecard"))
    with observing(stack) as observer:
        async with session.client() as client:
            agent = Agent(client)
            s3_text, s3_pages = await agent.read_object(cases_key)
            log_events, log_pages = await agent.read_log_group(cases_group)
            benign_text, benign_pages = await agent.read_object(benign_key)
            benign_events, _ = await agent.read_log_group(benign_group)
            env_page = structured(
                await agent.call(
                    "get_object", {"bucket": "acme-customer-exports", "key": "config/app.env", "intent": "debug"}
                )
            )
            echo_page = structured(
                await agent.call("get_object", {"bucket": BUCKET, "key": echo_key, "intent": "read the dump"})
            )
            await agent.call(
                "query_logs", {"log_groups": [cases_group], "query": query, "since_minutes": 120, "intent": "debug"}
            )
            # one call reviewed by a human: its result travels through the approval workflow too
            pending = structured(
                await agent.call(
                    "filter_log_events",
                    {"log_group": cases_group, "limit": 25, "since_minutes": 120, "intent": FLAGGING_INTENT},
                )
            )
            assert pending["status"] == "pending", pending
            rid = pending["request_id"]
            observer.wait_notified(rid)
            assert cli.main(["--state-dir", str(stack.state_dir), "approve", rid, "--as", "carol@example.com"]) == 0
            assert observer.wait_finished(rid)["status"] == "ok"
            await agent.call("get_request_status", {"request_id": rid})

    # the demo config comes back whole: 5 lines, every label, the host and LOG_LEVEL; only the values go
    assert env_page["status"] == "ok", env_page
    env_lines = env_page["result"]["text"].rstrip("\n").split("\n")
    assert [line.split("=", 1)[0] for line in env_lines] == [
        "DATABASE_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "STRIPE_API_KEY",
        "LOG_LEVEL",
    ]
    assert env_lines[0] == "DATABASE_URL=postgresql://orders_app:[REDACTED:url_password]@orders-db.internal:5432/orders"
    assert env_lines[2] == "AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_key]"
    assert env_lines[3] == "STRIPE_API_KEY=[REDACTED:stripe_key]"
    assert env_lines[4] == "LOG_LEVEL=info"
    assert demo_data.FAKE_DB_PASSWORD not in json.dumps(env_page)
    # the echoed key is redacted in the result
    assert echo_page["status"] == "ok", echo_page
    assert akid.value not in json.dumps(echo_page) and "[REDACTED:aws_access_key_id]" in echo_page["result"]["key"]

    # bookkeeping: every redactions summary (results, audit records, audit log lines) carries integer counts
    audit_text = _scan_table(stack, "AuditTable", since_ms)
    audit_log = _all_log_events(stack, stack.physical("AuditLogGroup"), since_ms)
    summaries = [p["redactions"] for p in s3_pages + log_pages + benign_pages + [env_page, echo_page]]
    audit_summaries: list[Any] = []
    for item in audit_text.split("\n"):
        record = json.loads(item).get("record", {}).get("S")
        if record:
            audit_summaries.extend(_redactions_summaries(json.loads(record)))
    for line in audit_log.split("\n"):
        if line.startswith("{"):
            audit_summaries.extend(_redactions_summaries(json.loads(line)))
    assert any(audit_summaries), "the audit copies count redactions"
    summaries += audit_summaries
    assert all(
        isinstance(s, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in s.values())
        for s in summaries
    ), [s for s in summaries if not isinstance(s, dict) or not all(isinstance(v, int) for v in s.values())][:3]

    # every sink, scanned for every held-out secret (raw and in decoded forms)
    index = LeakIndex(list(HELD_OUT))
    sinks = {
        "mcp responses": "\n".join(agent.responses),
        "audit table": audit_text,
        "audit log group": audit_log,
        "results table": _scan_table(stack, "ResultsTable"),
        "approvals table": _scan_table(stack, "ApprovalsTable"),
        "slack payloads": _slack_payloads(stack),
        "function logs": dlp.text(),
        "step functions": _executions(stack, since_ms),
    }
    assert rid in sinks["slack payloads"] and "[REDACTED:" in sinks["step functions"]
    scan_started = time.perf_counter()
    found = {name: index.found(text) for name, text in sinks.items()}
    scan_seconds = time.perf_counter() - scan_started
    leaked_ids = {i for per_sink in found.values() for i in per_sink}
    leaked = {name: index.leaks(text) for name, text in sinks.items() if found[name]}
    position = {id(secret): i for i, secret in enumerate(index.secrets)}

    # per case: what came back to the agent, and whether it was mangled
    returned = _split_by_sentinel(s3_text)
    for event in log_events:
        returned.update(_split_by_sentinel(event))
    card = Scorecard()
    for secret in HELD_OUT:
        card.secrets[secret.kind] += 1
    for case in planted:
        out = returned.get(case.id)
        assert out is not None, (case.id, case.syntax)
        card.add_case(case, recovered=position[id(case.secret)] in leaked_ids, mangled=over_redacted(case, out))
    returned_benign = benign_text.split("\n")
    assert len(returned_benign) == len(benign_lines_)
    for line, out in zip(benign_lines_, returned_benign, strict=True):
        card.add_benign(line, out)
    assert len(benign_events) == len(benign_messages)
    changed_events = len(set(benign_messages) - set(benign_events))
    with capsys.disabled():
        print(
            "\n"
            + card.render(
                f"DLP scorecard (held-out, end to end): {len(HELD_OUT)} secrets, {len(planted)} planted texts, "
                f"{agent.calls} tool calls, sinks {sorted(sinks)} ({sum(map(len, sinks.values()))} characters, "
                f"leak scan {scan_seconds:.1f}s)"
            )
            + f"\nbenign log events changed: {changed_events}/{len(benign_messages)}; leaks {leaked}"
        )
    assert leaked == {}, _leak_context(sinks, leaked)
    assert set(card.planted) == {s.kind for s in HELD_OUT}
    assert sum(card.mangled.values()) <= 0.005 * len(planted)
    assert card.over_redaction_rate <= 0.005
    assert changed_events <= 0.005 * len(benign_messages)
