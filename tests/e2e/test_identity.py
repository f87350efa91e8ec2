"""Identity at the HTTP edge, attacked through real HTTP against the local stack.

The malicious-token table (``tests/corpora/malicious_tokens.py``: alg none, stripped/flipped signatures, HS256
keyed with the RSA public key, ECDSA r=s=0, embedded jwk, jku/x5u/x5c, kid abuse, iss/aud/time abuse, crit,
duplicate keys, malformed and oversize tokens, session forgeries) is fired at BOTH ``POST /oauth/token``
(as the subject_token) and ``POST /mcp`` (as the bearer token). Every shot must be refused with the status
the specs name (RFC 6749 5.2: ``invalid_grant`` is 400; RFC 6750 3.1: ``invalid_token`` is 401), leave
exactly one audit record (reason code, source IP, user agent, token fingerprint; never the token) and start
no workflow.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import FakeClock, exchange, unique_email
from corpora.malicious_tokens import MaliciousCase, build_corpus
from mcp_gateway.adapters.jwks_http import fetch_jwks
from mcp_gateway.domain.errors import AuthError, ReasonCode
from mcp_gateway.domain.tokens import (
    IdentityClaims,
    JwksCache,
    SessionKeySet,
    SessionTokenService,
    generate_session_key,
    token_fingerprint,
)
from mcp_gateway.gateway import edge_limits
from mcp_gateway_local.idp import LocalIdP

pytestmark = pytest.mark.e2e

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
LIST_TOOLS = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
FINGERPRINT_INPUT_CAP = 16_384  # the edge fingerprints at most this many characters of a token
STORM_WORKERS = 4


# The corpus' case names are fixed by its table; build it once at collection time to parametrize the tests
# (throwaway keys: only the names and which cases are IdP-path attacks are used).
_COLLECTED = build_corpus(LocalIdP(), session_key=generate_session_key("collect"))
ALL_CASES = [c.name for c in _COLLECTED]
IDP_PATH_CASES = [c.name for c in _COLLECTED if c.idp_code is not None]

# How the transport changes a few cases on /mcp (a case's own code is what the verify call answers):
MCP_OVERRIDES: dict[str, set[ReasonCode]] = {
    # "Bearer " + "": no credential after the scheme (some clients drop the trailing space: no header value).
    "malformed_empty": {ReasonCode.AUTH_WRONG_SCHEME, ReasonCode.AUTH_MISSING},
    # "Bearer  <IdP token>": the extra space is header whitespace, what is left is a (valid) IdP token.
    "malformed_whitespace": {ReasonCode.AUTH_WRONG_TOKEN_TYPE},
}
TOKEN_ENDPOINT_OVERRIDES: dict[str, tuple[str, ReasonCode]] = {
    # An empty subject_token is a missing parameter: invalid_request (RFC 8693 2.2.2), not invalid_grant.
    "malformed_empty": ("invalid_request", ReasonCode.AUTH_MALFORMED),
}

# Every attack the issue lists, mapped to the corpus cases that carry it.
REQUIRED_ATTACKS: dict[str, list[str]] = {
    "alg none variants": [
        "alg_none_unsigned",
        "alg_None_unsigned",
        "alg_NONE_unsigned",
        "alg_nOnE_unsigned",
        "alg_none_with_signature",
    ],
    "stripped signature": ["signature_stripped"],
    "flipped signature": ["signature_flipped"],
    "HS256 signed with the RSA public key": ["hs256_with_rsa_public_key_pem"],
    "empty or common HMAC secret": ["hs256_empty_secret", "hs256_common_secret"],
    "ES256 with r=s=0": ["es256_r_s_zero"],
    "embedded jwk": ["embedded_jwk_header"],
    "jku at an attacker URL": ["jku_attacker_url"],
    "x5u at an attacker URL": ["x5u_attacker_url"],
    "x5c": ["x5c_self_signed"],
    "kid traversal": ["kid_path_traversal"],
    "kid injection": ["kid_sql_injection"],
    "unknown kid": ["kid_unknown"],
    "correct kid, wrong key": ["kid_correct_wrong_key"],
    "iss near-matches": ["iss_trailing_slash", "iss_uppercase", "iss_other_scheme", "iss_unicode_lookalike"],
    "aud missing": ["aud_missing"],
    "aud wrong": ["aud_wrong"],
    "aud not a string": ["aud_number", "aud_object"],
    "ID token for another client": ["azp_other_client"],
    "exp abuse": ["exp_past", "exp_missing", "exp_far_future"],
    "nbf abuse": ["nbf_future", "nbf_missing"],
    "iat abuse": ["iat_future", "iat_missing"],
    "unknown crit": ["crit_unknown_extension"],
    "valid but disallowed algorithms": ["alg_rs512_not_allowed", "alg_ps256_not_allowed"],
    "duplicate JSON keys": ["duplicate_claim_sub", "duplicate_header_alg"],
    "malformed segments": ["malformed_two_segments", "malformed_non_base64", "malformed_header_not_json"],
    "oversize token": ["oversize_token"],
    "IdP token sent straight to /mcp": ["idp_token_as_session_token"],
}


# ------------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------------
class _AttackerServer(ThreadingHTTPServer):
    """The attacker's host named by jku/x5u headers. Counts every connection it accepts."""

    daemon_threads = True

    def __init__(self) -> None:
        self.connections = 0
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _AttackerHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/.well-known/jwks.json"


class _AttackerHandler(BaseHTTPRequestHandler):
    server: _AttackerServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "11")
        self.end_headers()
        self.wfile.write(b'{"keys":[]}')


@dataclass
class Shot:
    status: int
    body: dict[str, Any]
    headers: Any
    user_agent: str
    fingerprint: str
    record: dict[str, Any] | None = None


@dataclass
class Barrage:
    cases: dict[str, MaliciousCase]
    token_endpoint: dict[str, Shot] = field(default_factory=dict)
    mcp: dict[str, Shot] = field(default_factory=dict)
    executions_before: int = 0
    executions_after: int = 0
    attacker_connections: int = 0
    audit_items: list[dict[str, Any]] = field(default_factory=list)
    audit_log_messages: list[str] = field(default_factory=list)


def gateway_module(stack: Any) -> Any:
    return stack.functions["GatewayFunction"]


def fingerprint(stack: Any, token: str) -> str:
    """The fingerprint the gateway records, computed with the deployed gateway's own fingerprint key."""
    if not token:
        return ""
    key: bytes = gateway_module(stack).GATEWAY.fingerprint_key()
    value: str = token_fingerprint(token[:FINGERPRINT_INPUT_CAP], key)
    return value


def session_keys(stack: Any) -> SessionKeySet:
    arn = stack.function_env["GatewayFunction"]["SESSION_KEYS_SECRET_ARN"]
    secret = stack.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    return SessionKeySet.from_secret_string(secret)


def executions(stack: Any) -> int:
    """Executions of both workflows (request and approval): none may start for a rejected token."""
    sfn = stack.client("stepfunctions")
    total = 0
    for logical in ("RequestStateMachine", "ApprovalStateMachine"):
        if logical not in stack.resources:
            continue
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.physical(logical)):
            total += len(page["executions"])
    return total


def auth_failure_items(stack: Any) -> list[dict[str, Any]]:
    ddb = stack.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": stack.physical("AuditTable"), "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def audit_log_messages(stack: Any) -> list[str]:
    logs = stack.client("logs")
    messages: list[str] = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=stack.physical("AuditLogGroup")):
        messages.extend(e["message"] for e in page["events"])
    return messages


def auth_records_by_user_agent(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if "record" not in item:
            continue
        record = json.loads(item["record"]["S"])
        if record.get("rule_id") == "auth" or str(record.get("rule_id", "")).startswith("edge."):
            out.setdefault(record.get("user_agent", ""), []).append(record)
    return out


def post_token(client: httpx.Client, stack: Any, subject: str, user_agent: str, **extra: str) -> httpx.Response:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject,
        "subject_token_type": JWT_TOKEN_TYPE,
        **extra,
    }
    return client.post(f"{stack.info.gateway_url}/oauth/token", data=form, headers={"user-agent": user_agent})


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


def post_mcp(
    client: httpx.Client, stack: Any, authorization: str | None, user_agent: str, url: str | None = None
) -> Reply:
    """POST tools/list to /mcp with exactly these header bytes (http.client: unlike httpx it lets an
    attacker's malformed values, e.g. a bare "Bearer " or non-ASCII bytes, onto the wire)."""
    parts = urlsplit(url or stack.info.mcp_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.putrequest("POST", parts.path + (f"?{parts.query}" if parts.query else ""), skip_accept_encoding=True)
        for name, value in {
            **MCP_HEADERS,
            "user-agent": user_agent,
            "content-length": str(len(LIST_TOOLS)),
        }.items():
            conn.putheader(name, value)
        if authorization is not None:
            conn.putheader("authorization", authorization.encode("utf-8"))
        conn.endheaders(LIST_TOOLS.encode())
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def _json(resp: httpx.Response | Reply) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _ua(tag: str) -> str:
    return f"identity-suite/{tag}/{secrets.token_hex(4)}"


def the_record(stack: Any, user_agent: str) -> dict[str, Any]:
    """The single auth-failure audit record written for the request sent with this user agent."""
    ddb = stack.client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": stack.physical("AuditTable"),
        "FilterExpression": "contains(#r, :ua)",
        "ExpressionAttributeNames": {"#r": "record"},
        "ExpressionAttributeValues": {":ua": {"S": user_agent}},
    }
    items: list[dict[str, Any]] = []
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    records = auth_records_by_user_agent(items).get(user_agent, [])
    assert len(records) == 1, f"expected exactly one auth-failure record, found {len(records)}"
    return records[0]


# ------------------------------------------------------------------------------------------------------
# The barrage: every case at both endpoints, once per module
# ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def attacker() -> Iterator[_AttackerServer]:
    server = _AttackerServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def barrage(stack: Any, attacker: _AttackerServer) -> Barrage:
    keys = session_keys(stack)
    active = next(k for k in keys.keys if k.kid == keys.active_kid)
    corpus = build_corpus(
        stack.idp,
        attacker_url=attacker.url,
        session_issuer=stack.info.gateway_url,
        session_audience=stack.info.mcp_url,
        session_key=active,
    )
    assert [c.name for c in corpus] == ALL_CASES
    result = Barrage(cases={c.name: c for c in corpus})
    result.executions_before = executions(stack)
    with httpx.Client(timeout=30) as client:
        for case in corpus:
            if case.idp_code is not None:
                ua = _ua(f"token/{case.name}")
                resp = post_token(client, stack, case.token, ua)
                result.token_endpoint[case.name] = Shot(
                    resp.status_code, _json(resp), resp.headers, ua, fingerprint(stack, case.token)
                )
            ua = _ua(f"mcp/{case.name}")
            reply = post_mcp(client, stack, f"Bearer {case.token}", ua)
            # What the server sees: header bytes as ISO-8859-1 (RFC 9110 5.5), outer whitespace dropped.
            presented = case.token.encode("utf-8").decode("latin-1").strip()
            result.mcp[case.name] = Shot(
                reply.status_code, _json(reply), reply.headers, ua, fingerprint(stack, presented)
            )
    result.executions_after = executions(stack)
    result.attacker_connections = attacker.connections
    result.audit_items = auth_failure_items(stack)
    result.audit_log_messages = audit_log_messages(stack)
    by_ua = auth_records_by_user_agent(result.audit_items)
    for shot in [*result.token_endpoint.values(), *result.mcp.values()]:
        found = by_ua.get(shot.user_agent, [])
        shot.record = found[0] if len(found) == 1 else None
    return result


def test_the_corpus_holds_every_attack_the_issue_names_and_at_least_26_distinct_cases(
    barrage: Barrage,
) -> None:
    assert len(set(barrage.cases)) == len(barrage.cases) >= 26
    missing = {attack: [n for n in names if n not in barrage.cases] for attack, names in REQUIRED_ATTACKS.items()}
    assert {attack: names for attack, names in missing.items() if names} == {}
    # Every attack is fired at /mcp; every IdP-path attack is also fired at /oauth/token.
    assert set(barrage.mcp) == set(barrage.cases)
    assert set(barrage.token_endpoint) == {n for n, c in barrage.cases.items() if c.idp_code is not None}
    assert len(barrage.token_endpoint) >= 26


@pytest.mark.parametrize("name", IDP_PATH_CASES)
def test_a_malicious_subject_token_gets_invalid_grant_from_the_token_endpoint_and_is_audited(
    barrage: Barrage, name: str
) -> None:
    case = barrage.cases[name]
    shot = barrage.token_endpoint[name]
    error, code = TOKEN_ENDPOINT_OVERRIDES.get(name, ("invalid_grant", case.idp_code))
    assert code is not None
    assert shot.status == 400
    assert shot.body["error"] == error
    if error == "invalid_grant":
        assert shot.body["error_description"] == code.value
    assert "access_token" not in shot.body
    assert shot.headers["cache-control"] == "no-store"
    assert shot.record is not None, "every rejection leaves exactly one audit record"
    assert shot.record["reason"] == code.value
    assert shot.record["decision"] == "DENY"
    assert shot.record["action"] == "gateway:AuthenticateToken"
    assert shot.record["source_ip"] == "127.0.0.1"
    assert shot.record["token_fingerprint"] == shot.fingerprint


@pytest.mark.parametrize("name", ALL_CASES)
def test_a_malicious_bearer_token_gets_401_from_mcp_and_is_audited(stack: Any, barrage: Barrage, name: str) -> None:
    case = barrage.cases[name]
    shot = barrage.mcp[name]
    if len(f"Bearer {case.token}".encode()) > edge_limits.MAX_HEADER_VALUE_BYTES:
        # a token too large for any header is refused by the edge's header limit before it is parsed (issue 20):
        # a JSON 431 with its reason code, audited like every other rejection
        assert shot.status == 431
        assert shot.body["reason"] == ReasonCode.HEADERS_TOO_LARGE.value
        assert shot.record is not None, "every rejection leaves exactly one audit record"
        assert shot.record["reason"] == ReasonCode.HEADERS_TOO_LARGE.value
        assert shot.record["decision"] == "DENY"
        return
    assert shot.status == 401
    challenge = shot.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{stack.info.gateway_url}/.well-known/oauth-protected-resource/mcp"' in challenge
    reason = ReasonCode(shot.body["reason"])
    expected = MCP_OVERRIDES.get(name) or ({case.session_code} if case.session_code else None)
    if expected is None:
        assert reason.value.startswith("AUTH_")
    else:
        assert reason in expected
    if reason not in (ReasonCode.AUTH_WRONG_SCHEME, ReasonCode.AUTH_MISSING):
        assert 'error="invalid_token"' in challenge
    assert shot.record is not None, "every rejection leaves exactly one audit record"
    assert shot.record["reason"] == reason.value
    assert shot.record["decision"] == "DENY"
    assert shot.record["action"] == "gateway:AuthenticateMcp"
    assert shot.record["source_ip"] == "127.0.0.1"
    assert shot.record["user_agent"] == shot.user_agent
    assert shot.record["token_fingerprint"] == shot.fingerprint


def test_no_malicious_token_reaches_the_workflow(barrage: Barrage) -> None:
    assert barrage.executions_after == barrage.executions_before


def test_jku_and_x5u_headers_make_the_gateway_contact_no_attacker_url(barrage: Barrage) -> None:
    for name in ("jku_attacker_url", "x5u_attacker_url"):
        assert barrage.token_endpoint[name].body["error_description"] == ReasonCode.AUTH_FORBIDDEN_HEADER.value
        assert barrage.mcp[name].body["reason"] == ReasonCode.AUTH_FORBIDDEN_HEADER.value
    assert barrage.attacker_connections == 0


def test_no_token_appears_anywhere_in_the_audit_table_or_the_audit_log_group(barrage: Barrage) -> None:
    table = json.dumps(barrage.audit_items)
    log_group = "\n".join(barrage.audit_log_messages)
    assert barrage.audit_log_messages, "the audit log group holds the mirrored records"
    for case in barrage.cases.values():
        token = case.token.strip()
        if len(token) < 40:
            continue
        for needle in {token, token.rsplit(".", 1)[-1]} - {""}:
            if len(needle) < 40:
                continue  # a stripped/empty signature segment is not a secret
            assert needle not in table, case.name
            assert needle not in log_group, case.name


# ------------------------------------------------------------------------------------------------------
# Query string and scheme
# ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("param", ["access_token", "token", "id_token"])
def test_a_valid_session_token_in_the_query_string_is_refused_with_400_and_audited(
    stack: Any, session_factory: Any, param: str
) -> None:
    session = session_factory(unique_email("query"))
    before = executions(stack)
    ua = _ua(f"query/{param}")
    with httpx.Client(timeout=30) as client:
        resp = post_mcp(
            client, stack, f"Bearer {session.token}", ua, url=f"{stack.info.mcp_url}?{param}={session.token}"
        )
    assert resp.status_code == 400
    assert resp.json()["reason"] == ReasonCode.AUTH_TOKEN_IN_QUERY.value
    assert 'error="invalid_request"' in resp.headers["www-authenticate"]
    record = the_record(stack, ua)
    assert record["reason"] == ReasonCode.AUTH_TOKEN_IN_QUERY.value
    assert record["token_fingerprint"] == fingerprint(stack, session.token)
    assert executions(stack) == before


def test_a_subject_token_in_the_query_string_of_the_token_endpoint_is_refused_and_audited(stack: Any) -> None:
    idp_token = stack.idp.mint(unique_email("query"), ["developers"])
    ua = _ua("token/query")
    with httpx.Client(timeout=30) as client:
        resp = client.post(
            f"{stack.info.gateway_url}/oauth/token?subject_token={idp_token}",
            data={"grant_type": TOKEN_EXCHANGE, "subject_token_type": JWT_TOKEN_TYPE},
            headers={"user-agent": ua},
        )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"
    assert "access_token" not in resp.json()
    record = the_record(stack, ua)
    assert record["reason"] == ReasonCode.AUTH_TOKEN_IN_QUERY.value
    assert record["token_fingerprint"] == fingerprint(stack, idp_token)


@pytest.mark.parametrize(
    "scheme",
    ["Basic {token}", "Token {token}", "JWT {token}", "Bearer", "{token}", "DPoP {token}"],
    ids=["basic", "token", "jwt", "bearer-without-token", "no-scheme", "dpop"],
)
def test_a_valid_session_token_under_a_wrong_scheme_gets_401_and_is_audited(
    stack: Any, session_factory: Any, scheme: str
) -> None:
    session = session_factory(unique_email("scheme"))
    ua = _ua("scheme")
    with httpx.Client(timeout=30) as client:
        resp = post_mcp(client, stack, scheme.format(token=session.token), ua)
    assert resp.status_code == 401
    assert resp.json()["reason"] == ReasonCode.AUTH_WRONG_SCHEME.value
    assert resp.headers["www-authenticate"].startswith("Bearer resource_metadata=")
    assert the_record(stack, ua)["reason"] == ReasonCode.AUTH_WRONG_SCHEME.value


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:saml2"}, "invalid_request"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ],
    ids=["saml2-type", "refresh-token-type", "password-grant", "client-credentials-grant"],
)
def test_the_token_endpoint_refuses_other_grants_and_token_types_and_audits_them(
    stack: Any, form: dict[str, str], error: str
) -> None:
    idp_token = stack.idp.mint(unique_email("grant"), ["developers"])
    ua = _ua("token/grant")
    with httpx.Client(timeout=30) as client:
        resp = post_token(client, stack, idp_token, ua, **form)
    assert resp.status_code == 400
    assert resp.json()["error"] == error
    assert "access_token" not in resp.json()
    assert the_record(stack, ua)["reason"] == ReasonCode.AUTH_MALFORMED.value


# ------------------------------------------------------------------------------------------------------
# JWKS: no fetch storm, and key rotation
# ------------------------------------------------------------------------------------------------------
class _RotatingIdp:
    """What the IdP's JWKS endpoint serves during a rotation: the old keys and the new ones."""

    def __init__(self, old: LocalIdP, new: LocalIdP) -> None:
        self.old, self.new, self.issuer = old, new, old.issuer

    def jwks(self) -> dict[str, Any]:
        return {"keys": self.old.jwks()["keys"] + self.new.jwks()["keys"]}

    def openid_configuration(self) -> dict[str, Any]:
        config: dict[str, Any] = self.old.openid_configuration()
        return config


def test_a_rotated_idp_key_is_accepted_after_exactly_one_refetch(stack: Any) -> None:
    gateway = gateway_module(stack).GATEWAY
    original_jwks, original_idp = gateway.jwks, stack.idp_server.idp
    clock = FakeClock(time.time())
    gateway.jwks = JwksCache(original_jwks.url, fetch_jwks, clock)  # the real HTTP fetcher, an injected clock
    rotated = LocalIdP(stack.idp.issuer, audience=stack.idp.audience, client_id=stack.idp.client_id)
    email = unique_email("rotation")
    try:
        fetches = stack.idp_server.fetches
        exchange(stack.info.gateway_url, stack.idp.mint(email, ["developers"]))  # cold cache: one fetch
        assert stack.idp_server.fetches == fetches + 1

        stack.idp_server.idp = _RotatingIdp(stack.idp, rotated)  # the IdP publishes a new key...
        clock.now += 61  # ...and starts signing with it a minute later (the cached key set is still fresh)
        new_token = rotated.mint(email, ["developers"])
        assert rotated.rsa_kid not in {k["kid"] for k in original_idp.jwks()["keys"]}
        session = exchange(stack.info.gateway_url, new_token)
        assert session["token_type"] == "Bearer"
        assert stack.idp_server.fetches == fetches + 2, "exactly one refetch for the new kid"

        exchange(stack.info.gateway_url, rotated.mint(email, ["developers"]))  # cached now
        exchange(stack.info.gateway_url, stack.idp.mint(email, ["developers"]))  # the old key still verifies
        assert stack.idp_server.fetches == fetches + 2

        # Right after a refetch, another unknown kid is refused without a fetch (at most one per minute).
        with httpx.Client(timeout=30) as client:
            resp = post_token(
                client,
                stack,
                rotated.mint(email, ["developers"], headers={"kid": "rsa-next"}),
                _ua("rotation"),
            )
        assert resp.json()["error_description"] == ReasonCode.AUTH_UNKNOWN_KEY.value
        assert stack.idp_server.fetches == fetches + 2
    finally:
        gateway.jwks = original_jwks
        stack.idp_server.idp = original_idp


# ------------------------------------------------------------------------------------------------------
# Session tokens: 15 minutes, one audience
# ------------------------------------------------------------------------------------------------------
def _identity(email: str, expires_at: int) -> IdentityClaims:
    return IdentityClaims(
        sub="00u" + secrets.token_hex(8),
        email=email,
        groups=("developers",),
        expires_at=expires_at,
        issuer="http://idp.local",
        token_id=secrets.token_hex(8),
    )


def test_a_session_token_from_the_gateway_is_rejected_fifteen_minutes_after_issue(stack: Any) -> None:
    issued = exchange(stack.info.gateway_url, stack.idp.mint(unique_email("expiry"), ["developers"]))
    assert issued["expires_in"] == 900
    token = issued["access_token"]
    iat = int(json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["iat"])
    clock = FakeClock(iat)
    verifier = SessionTokenService(
        session_keys(stack), issuer=stack.info.gateway_url, audience=stack.info.mcp_url, clock=clock
    )
    clock.now = iat + 899
    assert verifier.verify(token).email.endswith("@example.com")
    clock.now = iat + 900 + verifier.leeway_seconds  # 15 minutes, plus the few seconds of clock-skew leeway
    with pytest.raises(AuthError) as refused:
        verifier.verify(token)
    assert refused.value.code is ReasonCode.AUTH_EXPIRED


def test_a_session_token_issued_fifteen_minutes_ago_is_refused_by_mcp(stack: Any) -> None:
    """Minted with the gateway's real signing key by a service whose clock says 'fifteen minutes ago'."""
    email = unique_email("stale")
    now = time.time()
    results = {}
    for label, age in (("fresh", 890), ("stale", 906)):
        minter = SessionTokenService(
            session_keys(stack),
            issuer=stack.info.gateway_url,
            audience=stack.info.mcp_url,
            clock=FakeClock(now - age),
        )
        token = minter.mint(_identity(email, int(now) + 3600)).access_token
        ua = _ua(f"stale/{label}")
        with httpx.Client(timeout=30) as client:
            results[label] = (post_mcp(client, stack, f"Bearer {token}", ua), ua)
    assert results["fresh"][0].status_code == 200
    stale, ua = results["stale"]
    assert stale.status_code == 401
    assert stale.json()["reason"] == ReasonCode.AUTH_EXPIRED.value
    assert the_record(stack, ua)["reason"] == ReasonCode.AUTH_EXPIRED.value


def test_a_session_token_is_refused_by_a_gateway_whose_audience_differs(stack: Any) -> None:
    token = exchange(stack.info.gateway_url, stack.idp.mint(unique_email("aud"), ["developers"]))["access_token"]
    other = SessionTokenService(
        session_keys(stack), issuer=stack.info.gateway_url, audience="https://other-gateway.example/mcp"
    )
    with pytest.raises(AuthError) as refused:
        other.verify(token)
    assert refused.value.code is ReasonCode.AUTH_WRONG_AUDIENCE

    # The same through HTTP: the same function (same signing key) redeployed for another resource URL.
    original = stack.function_env["GatewayFunction"].get("GATEWAY_RESOURCE_URL", "")
    stack.redeploy("GatewayFunction", GATEWAY_RESOURCE_URL=f"http://127.0.0.1:{stack.ports['gateway']}/other/mcp")
    try:
        ua = _ua("audience")
        with httpx.Client(timeout=30) as client:
            resp = post_mcp(client, stack, f"Bearer {token}", ua)
        assert resp.status_code == 401
        reason = resp.json()["reason"]
        assert reason in {ReasonCode.AUTH_WRONG_AUDIENCE.value, ReasonCode.AUTH_WRONG_ISSUER.value}
        assert the_record(stack, ua)["reason"] == reason
    finally:
        stack.redeploy("GatewayFunction", GATEWAY_RESOURCE_URL=original)


# ------------------------------------------------------------------------------------------------------
# Groups, DNS rebinding, metadata, metrics
# ------------------------------------------------------------------------------------------------------
def test_a_token_lacking_the_required_group_gets_403_insufficient_scope(stack: Any, session_factory: Any) -> None:
    original = stack.function_env["GatewayFunction"].get("REQUIRED_GROUPS", "")
    stack.redeploy("GatewayFunction", REQUIRED_GROUPS="sre,oncall")
    try:
        developer = session_factory(unique_email("dev"), ["developers"])
        sre = session_factory(unique_email("sre"), ["sre"])
        ua = _ua("scope")
        before = executions(stack)
        with httpx.Client(timeout=30) as client:
            refused = post_mcp(client, stack, f"Bearer {developer.token}", ua)
            allowed = post_mcp(client, stack, f"Bearer {sre.token}", _ua("scope-ok"))
        assert refused.status_code == 403
        challenge = refused.headers["www-authenticate"]
        assert challenge.startswith("Bearer resource_metadata=")
        assert 'error="insufficient_scope"' in challenge
        assert refused.json()["reason"] == ReasonCode.AUTH_INSUFFICIENT_GROUP.value
        record = the_record(stack, ua)
        assert record["reason"] == ReasonCode.AUTH_INSUFFICIENT_GROUP.value
        assert record["token_fingerprint"] == fingerprint(stack, developer.token)
        assert executions(stack) == before
        assert allowed.status_code == 200
        assert "tools" in allowed.json()["result"]
    finally:
        stack.redeploy("GatewayFunction", REQUIRED_GROUPS=original)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "evil.example"}, 421),
        ({"host": "evil.example:8080"}, 421),
        ({"origin": "http://evil.example"}, 403),
        ({"origin": "null"}, 403),
    ],
    ids=["foreign-host", "foreign-host-with-port", "foreign-origin", "null-origin"],
)
def test_a_request_with_a_foreign_host_or_origin_is_refused_against_dns_rebinding(
    stack: Any, session_factory: Any, headers: dict[str, str], status: int
) -> None:
    session = session_factory(unique_email("rebind"))
    before = executions(stack)
    with httpx.Client(timeout=30) as client:
        resp = client.post(
            stack.info.mcp_url,
            content=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "list_buckets", "arguments": {}},
                }
            ),
            headers={**MCP_HEADERS, "authorization": f"Bearer {session.token}", **headers},
        )
        same_origin = client.post(
            stack.info.mcp_url,
            content=LIST_TOOLS,
            headers={
                **MCP_HEADERS,
                "authorization": f"Bearer {session.token}",
                "origin": stack.info.gateway_url,
            },
        )
    assert resp.status_code == status
    assert executions(stack) == before
    assert same_origin.status_code == 200


def test_the_protected_resource_metadata_names_the_authorization_server(stack: Any) -> None:
    with httpx.Client(timeout=30) as client:
        challenge = client.post(stack.info.mcp_url, content=LIST_TOOLS, headers=MCP_HEADERS).headers["www-authenticate"]
        metadata_url = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
        metadata = client.get(metadata_url).json()
        root = client.get(f"{stack.info.gateway_url}/.well-known/oauth-protected-resource").json()
        server = metadata["authorization_servers"][0]
        as_metadata = client.get(f"{server}/.well-known/oauth-authorization-server").json()
    assert metadata == root
    assert metadata["resource"] == stack.info.mcp_url
    assert metadata["authorization_servers"] == [stack.info.gateway_url]
    assert metadata["bearer_methods_supported"] == ["header"]
    assert as_metadata["issuer"] == server
    assert as_metadata["token_endpoint"] == f"{stack.info.gateway_url}/oauth/token"
    assert TOKEN_EXCHANGE in as_metadata["grant_types_supported"]


def _emf_metric_total(output: str, name: str) -> float:
    total = 0.0
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        value = doc.get(name)
        if value is None:
            continue
        total += sum(value) if isinstance(value, list) else value
    return total


def test_every_rejected_authentication_is_counted_as_an_auth_failures_metric(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with httpx.Client(timeout=30) as client:
        post_mcp(client, stack, "Bearer not-a-token", _ua("metric"))
        post_mcp(client, stack, None, _ua("metric"))
        post_token(client, stack, "not-a-token", _ua("metric"))
        ok = client.get(f"{stack.info.gateway_url}/.well-known/oauth-protected-resource")
    assert ok.status_code == 200
    assert _emf_metric_total(capsys.readouterr().out, "AuthFailures") == 3


# Last in this module: it adds 1,000 audit records.
def test_a_thousand_tokens_with_random_unknown_kids_cause_at_most_one_jwks_fetch_per_minute(
    stack: Any,
) -> None:
    idp = stack.idp
    claims = idp.claims(unique_email("storm"), ["developers"])
    template = idp.sign({"alg": "RS256", "typ": "JWT", "kid": "x"}, claims, "RS256")
    _, body, signature = template.split(".")
    tokens = []
    for _ in range(1000):
        header = json.dumps(
            {"alg": "RS256", "typ": "JWT", "kid": f"rotated-{secrets.token_hex(12)}"}, separators=(",", ":")
        )
        head = base64.urlsafe_b64encode(header.encode()).rstrip(b"=").decode()
        tokens.append(f"{head}.{body}.{signature}")
    fetches_before = stack.idp_server.fetches
    executions_before = executions(stack)
    started = time.monotonic()
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=STORM_WORKERS)) as client:

        def shoot(token: str) -> tuple[int, str]:
            resp = post_token(client, stack, token, "identity-suite/storm")
            return resp.status_code, _json(resp).get("error_description", "")

        with ThreadPoolExecutor(max_workers=STORM_WORKERS) as pool:
            results = list(pool.map(shoot, tokens))
    elapsed = time.monotonic() - started
    fetched = stack.idp_server.fetches - fetches_before
    assert results == [(400, ReasonCode.AUTH_UNKNOWN_KEY.value)] * 1000
    assert fetched <= 1 + int(elapsed // 60), f"{fetched} JWKS fetches in {elapsed:.1f} s"
    assert executions(stack) == executions_before
