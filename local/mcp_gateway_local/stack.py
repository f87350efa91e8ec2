"""The local stack (`make run`, and every functional/e2e test): moto in server mode as AWS, with the real state
machines executing in it and Lambda invocations routed to the real ``functions/*/app.py`` handlers; a local
IdP; the gateway and approval-callback functions behind loopback HTTP servers that speak function-URL events.

Everything AWS-side is created from template.yaml. Nothing here is used by the deployed functions.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import importlib.util
import io
import json
import os
import secrets
import socket
import sys
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import moto_patches
from .deploy_check import check_rules
from .idp import LocalIdP
from .idp_oidc import serve as serve_oidc
from .local_oauth import LocalOAuthMixin
from .stack_info import ACCOUNT, DEFAULT_STATE_DIR, REGION, StackInfo  # also the names tests import from here
from .template import ROOT, Resolver, load_template, pseudo_parameters

#: The groups the local stack requires (RequiredGroups): the demo users' groups, as a real deploy must set them.
LOCAL_REQUIRED_GROUPS = "developers,sre"


class PortInUseError(RuntimeError):
    pass


#: Reservations of the ports handed out by ``_free_port``, held for the life of the process.
_RESERVED: list[socket.socket] = []


def _free_port(host: str) -> int:
    """A free port, reserved until the process ends: the socket stays bound (SO_REUSEADDR, not listening).

    Closing it at once would leave a window until the server binds, and in that window the stack's own
    outbound connections (boto3 to moto while provisioning) may be given the same ephemeral port: the server
    then fails with "Address already in use" (seen once in CI). The kernel never picks a port a socket is
    bound to for an outbound connection, and the servers, which bind with SO_REUSEADDR, may still bind it.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    _RESERVED.append(s)
    return int(s.getsockname()[1])


def _check_port(host: str, port: int, what: str) -> int:
    """The port, if it can be bound the way the servers bind it (SO_REUSEADDR, as http.server and werkzeug do):
    a port left in TIME_WAIT by the last `make run` is free; one another process listens on is not."""
    if port == 0:
        return _free_port(host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            variable = {
                "gateway": "PORT",
                "callback": "CALLBACK_PORT",
                "idp": "IDP_PORT",
                "moto": "MOTO_PORT",
                "slack": "SLACK_PORT",
            }.get(what.split(maxsplit=1)[0], "PORT")
            raise PortInUseError(
                f"port {port} on {host} is already in use (needed for the {what}). Stop whatever holds it "
                f"(another `make run`?), or choose another port: `make run {variable}=<port>`."
            ) from None
    return port


_PORT_VARIABLES = {
    "gateway": "PORT",
    "callback": "CALLBACK_PORT",
    "idp": "IDP_PORT",
    "moto": "MOTO_PORT",
    "slack": "SLACK_PORT",
}


def _check_distinct(ports: dict[str, int]) -> None:
    """Two servers cannot share a port: say which, in one line, before anything binds."""
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port and port in seen:
            first = seen[port]
            raise PortInUseError(
                f"port {port} is given twice ({_PORT_VARIABLES[first]} and {_PORT_VARIABLES[name]}); "
                f"every server needs its own port, e.g. `make run {_PORT_VARIABLES[name]}=<another port>`."
            )
        seen[port] = name


def loopback_hosts(port: int) -> list[str]:
    """The Host values a local client may send for a loopback server: every loopback name, not only 127.0.0.1."""
    return [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]


# ------------------------------------------------------------------------------------------------------
# Function URL adapter: HTTP request <-> Lambda function URL event (payload format 2.0)
# ------------------------------------------------------------------------------------------------------
def to_function_url_event(
    method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str, domain: str
) -> dict[str, Any]:
    parts = urlsplit(target)
    lowered: dict[str, str] = {}
    for k, v in headers.items():
        key = k.lower()
        lowered[key] = f"{lowered[key]},{v}" if key in lowered else v
    query = parse_qsl(parts.query, keep_blank_values=True)
    try:
        text = body.decode("utf-8")
        is_b64 = False
    except UnicodeDecodeError:
        text = base64.b64encode(body).decode()
        is_b64 = True
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if query:
        event["queryStringParameters"] = {k: v for k, v in query}
    if body:
        event["body"] = text
    return event


class FunctionUrlServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # like every other local server: `make run` again at once after Ctrl-C (TIME_WAIT)
    request_queue_size = 128  # a function URL takes bursts (e.g. 50 concurrent Slack callbacks); stdlib default is 5

    def __init__(self, host: str, port: int, handler: Any, function_name: str, domain: str = "") -> None:
        self.function_handler = handler
        self.function_name = function_name
        super().__init__((host, port), _FunctionUrlRequestHandler)
        #: requestContext.domainName: one per function URL, whichever loopback address the client connected to
        self.domain = domain or f"{host}:{self.server_address[1]}"


class _FunctionUrlServer6(FunctionUrlServer):
    """The same function URL on [::1], so `http://[::1]:PORT/mcp` (and `localhost` resolving to ::1) works."""

    address_family = socket.AF_INET6


class _FunctionUrlRequestHandler(BaseHTTPRequestHandler):
    server: FunctionUrlServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would add ~40 ms each

    def log_message(self, format: str, *args: Any) -> None:
        return

    def parse_request(self) -> bool:
        # A function URL passes large headers on to the function, which answers 431 itself (JSON, audited:
        # gateway/edge_limits.py); the stdlib would stop a line at 64 KiB with an HTML page.
        http.client._MAXLINE = max(http.client._MAXLINE, 1 << 20)  # type: ignore[attr-defined]
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Transport-level refusals (malformed request line, too many headers) answer JSON, like the rest."""
        body = json.dumps({"error": "bad_request", "reason": "INVALID_INPUT", "message": str(message or "")[:200]})
        self.close_connection = True
        self._write(code, {"content-type": "application/json"}, body.encode())

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > 6 * 1024 * 1024:
            self._write(413, {"content-type": "application/json"}, b'{"error":"request_too_large"}')
            return
        body = self.rfile.read(length) if length else b""
        # RFC 9110 5.5: whitespace around a field value is not part of it (a function URL trims it as well)
        headers = {key: value.strip(" \t") for key, value in self.headers.items()}
        for key, value in list(headers.items()):
            if key.lower() == "host" and value.startswith("[::1]:"):
                # A function URL's Host is never an IPv6 literal, and Mangum cannot parse one: the [::1] name of
                # this loopback server goes on as its 127.0.0.1 name (both are in the gateway's ALLOWED_HOSTS).
                headers[key] = "127.0.0.1:" + value.rsplit(":", 1)[1]
        event = to_function_url_event(
            self.command, self.path, headers, body, self.client_address[0], self.server.domain
        )
        context = moto_patches.LocalLambdaContext(
            function_name=self.server.function_name,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.server.function_name}:live",
        )
        try:
            result = self.server.function_handler(event, context)
        except Exception:  # noqa: BLE001 - what a function URL answers for an unhandled error
            self._write(502, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
            return
        status = int(result.get("statusCode", 200))
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        self._write(status, headers, data)

    def _write(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve
    do_PUT = _serve
    do_OPTIONS = _serve


class _IdpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, idp: LocalIdP) -> None:
        self.idp = idp
        self.fetches = 0
        super().__init__((host, port), _IdpHandler)


class _IdpHandler(BaseHTTPRequestHandler):
    server: _IdpServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if serve_oidc(self, getattr(self.server, "oidc", None), "GET"):  # discovery, login page (idp_oidc.py)
            return
        path = urlsplit(self.path).path
        issuer_path = urlsplit(self.server.idp.issuer).path
        if path == f"{issuer_path}/.well-known/jwks.json":
            self.server.fetches += 1
            body, cache = self.server.idp.jwks(), "max-age=300"
        elif path == f"{issuer_path}/.well-known/openid-configuration":
            body, cache = self.server.idp.openid_configuration(), "max-age=300"
        else:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("cache-control", cache)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if not serve_oidc(self, getattr(self.server, "oidc", None), "POST"):  # login form, token endpoint
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()


# ------------------------------------------------------------------------------------------------------
# The stack
# ------------------------------------------------------------------------------------------------------
class LocalStack(LocalOAuthMixin):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        moto_port: int = 0,
        gateway_port: int = 0,
        callback_port: int = 0,
        idp_port: int = 0,
        slack_port: int = 0,
        state_dir: Path = DEFAULT_STATE_DIR,
        stack_name: str = "mcp-gateway-local",
        policy_path: str | Path | None = None,
        demo_data: bool = True,
        quiet: bool = True,
    ) -> None:
        self.host = host
        self.ports = {
            "moto": moto_port,
            "gateway": gateway_port,
            "callback": callback_port,
            "idp": idp_port,
            "slack": slack_port,
        }
        self.state_dir = Path(state_dir)
        self.stack_name = stack_name
        self.policy_path = str(policy_path) if policy_path else str(ROOT / "policy" / "gateway-policy.yaml")
        self.with_demo_data = demo_data
        self.quiet = quiet
        self.resources: dict[str, str] = {}
        self.functions: dict[str, ModuleType] = {}
        self.function_env: dict[str, dict[str, str]] = {}
        self._servers: list[Any] = []
        self._moto: Any = None
        self.info: StackInfo | None = None
        self.template = load_template()
        self.slack_signing_secret = ""
        self.slack_bot_token = ""

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> StackInfo:
        _check_distinct(self.ports)
        for name, port in list(self.ports.items()):
            self.ports[name] = _check_port(self.host, port, f"{name} server" if name != "moto" else "moto server")
        moto_url = f"http://{self.host}:{self.ports['moto']}"
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": moto_url,
                "MOTO_PORT": str(self.ports["moto"]),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "McpGateway",
            }
        )
        if self.quiet:
            import logging

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_patches.install()
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.ports["moto"], verbose=False)
        self._moto.start()
        import urllib.request

        urllib.request.urlopen(  # noqa: S310 - loopback
            urllib.request.Request(  # noqa: S310 - loopback moto
                f"{moto_url}/moto-api/config",
                data=json.dumps(moto_patches.MOTO_CONFIG).encode(),
                method="POST",
            ),
            timeout=10,
        ).read()

        self.state_dir.mkdir(parents=True, exist_ok=True)
        idp_issuer = f"http://{self.host}:{self.ports['idp']}/idp"
        self.idp = LocalIdP(idp_issuer, key_dir=self.state_dir / "idp")
        idp_server = _IdpServer(self.host, self.ports["idp"], self.idp)
        self._start_oauth(idp_server)  # OIDC provider, its clients and the loopback CA (local_oauth.py)
        self._serve(idp_server)
        self.idp_server = idp_server

        from .slack_standin import SlackStandIn  # local Slack: NotifyApprovers and chat.update talk to it

        self.slack = SlackStandIn(self.host, self.ports["slack"], self.state_dir / "approvals.jsonl")
        self._serve(self.slack)

        self._provision()
        self.slack.expected_token = self.slack_bot_token
        from mcp_gateway.adapters.approval_store import ApprovalStore  # the page shows each request's stored view

        self.slack.approvals = ApprovalStore(self.client("dynamodb"), self.physical("ApprovalsTable"))
        if self.with_demo_data:
            from .demo_data import seed

            seed(self.client)

        gateway = FunctionUrlServer(
            self.host,
            self.ports["gateway"],
            self.invoker("GatewayFunction"),
            self.physical("GatewayFunction"),
        )
        self._serve(gateway)
        with contextlib.suppress(OSError):  # no IPv6 loopback on this machine: 127.0.0.1 and localhost still work
            self._serve(
                _FunctionUrlServer6(
                    "::1", self.ports["gateway"], gateway.function_handler, gateway.function_name, gateway.domain
                )
            )
        callback_handler = (
            self.invoker("ApprovalCallbackFunction") if "ApprovalCallbackFunction" in self.functions else _not_deployed
        )
        callback = FunctionUrlServer(self.host, self.ports["callback"], callback_handler, "approval-callback")
        self._serve(callback)

        gateway_url = f"http://{self.host}:{self.ports['gateway']}"
        self.info = StackInfo(
            moto_endpoint=moto_url,
            gateway_url=gateway_url,
            mcp_url=f"{gateway_url}/mcp",
            callback_url=f"http://{self.host}:{self.ports['callback']}/slack/interactions",
            idp_issuer=idp_issuer,
            idp_key_dir=str(self.state_dir / "idp"),
            idp_audience=self.idp.audience,
            idp_client_id=self.idp.client_id,
            resources=dict(self.resources),
            slack_signing_secret=self.slack_signing_secret,
            approvals_log=str(self.state_dir / "approvals.jsonl"),
            slack_url=self.slack.url,
        )
        self.info.save(self.state_dir / "stack.json")
        return self.info

    def stop(self) -> None:
        for server in reversed(self._servers):
            server.shutdown()
            server.server_close()
        self._servers.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        moto_patches.clear_handlers()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _serve(self, server: Any) -> None:
        threading.Thread(target=server.serve_forever, name=type(server).__name__, daemon=True).start()
        self._servers.append(server)

    # --- AWS clients --------------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=f"http://{self.host}:{self.ports['moto']}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106
            config=Config(inject_host_prefix=False, retries={"max_attempts": 2, "mode": "standard"}),
        )

    def physical(self, logical: str) -> str:
        return self.resources[logical]

    # --- provisioning from template.yaml ----------------------------------------------------------------------
    def _parameters(self) -> dict[str, str]:
        """The template parameters of the local deploy, refused as CloudFormation's Rules would refuse them."""
        parameters = {
            "IdpIssuer": self.idp.issuer,
            "IdpAudience": self.idp.audience,
            "IdpJwksUrl": self.idp.jwks_url,
            "IdpAllowedClientIds": self.idp.client_id,
            "RequiredGroups": LOCAL_REQUIRED_GROUPS,  # fail closed locally too: eve@evil.com in `nobody` is refused
            **self.oauth_parameters,
        }
        check_rules(self.template, parameters)
        return parameters

    def _gateway_environment(self, env: dict[str, str]) -> None:
        env.update(self.oauth_environment)
        hosts = loopback_hosts(self.ports["gateway"])  # DNS-rebinding allow-list: every loopback name
        env.setdefault("ALLOWED_HOSTS", ",".join(hosts))
        env.setdefault("ALLOWED_ORIGINS", ",".join(f"http://{h}" for h in hosts))

    def _provision(self) -> None:
        tpl = self.template
        resources: dict[str, Any] = tpl["Resources"]
        resolver = Resolver(
            tpl, self._parameters(), pseudo_parameters(stack_name=self.stack_name, region=REGION, account=ACCOUNT)
        )
        self.resolver = resolver
        by_type: dict[str, list[str]] = {}
        for logical, spec in resources.items():
            by_type.setdefault(spec["Type"], []).append(logical)

        # Deterministic names/ARNs first, so every reference resolves regardless of creation order.
        for logical in by_type.get("AWS::Serverless::Function", []):
            name = f"{self.stack_name}-{logical}"
            resolver.refs[logical] = name
            resolver.attrs[(logical, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            resolver.attrs[(f"{logical}Role", "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/{name}-role"
        for logical in by_type.get("AWS::IAM::Role", []):  # not created locally: their ARNs only (DATA_ROLE_ARN)
            resolver.attrs[(logical, "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/{self.stack_name}-{logical}"
        for logical in by_type.get("AWS::Serverless::StateMachine", []):
            name = f"{self.stack_name}-{logical}"
            resolver.refs[logical] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
            resolver.attrs[(logical, "Name")] = name
            resolver.attrs[(logical, "Arn")] = resolver.refs[logical]

        kms = self.client("kms")
        for logical in by_type.get("AWS::KMS::Key", []):
            key = kms.create_key(Description=logical)["KeyMetadata"]
            resolver.refs[logical] = key["KeyId"]
            resolver.attrs[(logical, "Arn")] = key["Arn"]

        ddb = self.client("dynamodb")
        for logical in by_type.get("AWS::DynamoDB::Table", []):
            props = resolver.resolve(resources[logical]["Properties"])
            name = props.get("TableName") or f"{self.stack_name}-{logical}"
            kwargs: dict[str, Any] = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            ddb.create_table(**kwargs)
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
            resolver.refs[logical] = name
            resolver.attrs[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

        logs = self.client("logs")
        for logical in by_type.get("AWS::Logs::LogGroup", []):
            props = resolver.resolve(resources[logical]["Properties"])
            name = props["LogGroupName"]
            logs.create_log_group(logGroupName=name)
            if props.get("RetentionInDays"):
                logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
            resolver.refs[logical] = name
            resolver.attrs[(logical, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"

        sqs = self.client("sqs")
        for logical in by_type.get("AWS::SQS::Queue", []):
            name = f"{self.stack_name}-{logical}"
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            resolver.refs[logical] = url
            resolver.attrs[(logical, "QueueName")] = name
            resolver.attrs[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

        sm = self.client("secretsmanager")
        for logical in by_type.get("AWS::SecretsManager::Secret", []):
            arn = sm.create_secret(Name=f"{self.stack_name}/{logical}", SecretString=self._secret_value(logical))["ARN"]
            resolver.refs[logical] = arn

        iam = self.client("iam")
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
        role_arn = iam.create_role(RoleName=f"{self.stack_name}-local-role", AssumeRolePolicyDocument=trust)["Role"][
            "Arn"
        ]

        # Functions: register the real handlers, each imported with its own environment (its cold start).
        lam = self.client("lambda")
        globals_env = ((tpl.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables", {})
        for logical in by_type.get("AWS::Serverless::Function", []):
            props = resources[logical]["Properties"]
            code_dir = ROOT / props["CodeUri"]
            if not (code_dir / "app.py").exists():
                continue
            env = {
                k: str(v)
                for k, v in resolver.resolve(
                    {**globals_env, **(props.get("Environment") or {}).get("Variables", {})}
                ).items()
            }
            if logical in ("ValidateFunction", "ApprovalCallbackFunction", "GatewayFunction"):
                env["POLICY_PATH"] = self.policy_path
            if logical == "GatewayFunction":
                self._gateway_environment(env)
            if "SLACK_API_BASE_URL" in env:
                env["SLACK_API_BASE_URL"] = self.slack.api_url
            if logical == "ApprovalCallbackFunction":
                env["SLACK_RESPONSE_URL_PREFIXES"] = f"{self.slack.url}/response/"
            env.pop("DATA_ROLE_ARN", None) if logical == "ExecuteFunction" else None
            name = resolver.refs[logical]
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                zf.writestr("app.py", "# code runs in-process in the local stack\n")
            lam.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role_arn,
                Handler="app.lambda_handler",
                Code={"ZipFile": buf.getvalue()},
                Timeout=int(props.get("Timeout", 30)),
            )
            self.function_env[logical] = env
            self._load_function(logical)
            self.resources[logical] = name

        for logical in by_type.get("AWS::Serverless::StateMachine", []):
            props = resources[logical]["Properties"]
            definition = (ROOT / props["DefinitionUri"]).read_text()
            subs = resolver.resolve(props.get("DefinitionSubstitutions") or {})
            for key, value in subs.items():
                definition = definition.replace("${" + key + "}", str(value))
            self.client("stepfunctions").create_state_machine(
                name=resolver.attrs[(logical, "Name")],
                definition=definition,
                roleArn=role_arn,
                type=props.get("Type", "STANDARD"),
            )
        for logical in list(resolver.refs):
            self.resources.setdefault(logical, str(resolver.refs[logical]))

    def _secret_value(self, logical: str) -> str:
        if logical == "IdpClientSecret":
            return self.idp_client_secret
        if logical == "SessionKeysSecret":
            from mcp_gateway.domain.tokens import SessionKeySet, generate_session_key

            key = generate_session_key("local-1")
            return str(SessionKeySet(active_kid="local-1", keys=(key,)).model_dump_json())
        if logical == "SlackSecret":
            self.slack_signing_secret = secrets.token_hex(16)
            self.slack_bot_token = "xoxb-local-" + secrets.token_hex(12)
            return json.dumps(
                {
                    "bot_token": self.slack_bot_token,
                    "signing_secret": self.slack_signing_secret,
                    "channel": "C0LOCAL01",
                }
            )
        return secrets.token_urlsafe(48)

    def _load_function(self, logical: str) -> None:
        """Import functions/<dir>/app.py as a fresh module with its own environment: a cold start."""
        props = self.template["Resources"][logical]["Properties"]
        path = ROOT / props["CodeUri"] / "app.py"
        module_name = f"_local_fn_{logical}_{uuid.uuid4().hex[:8]}"
        env = self.function_env[logical]
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.functions[logical] = module
        moto_patches.register_handler(self.resolver.refs[logical], module.lambda_handler)

    def redeploy(self, logical: str, **env: str) -> None:
        """Update a function's environment and cold-start it again (like UpdateFunctionConfiguration)."""
        self.function_env[logical].update(env)
        self._load_function(logical)

    def invoker(self, logical: str) -> Any:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            return self.functions[logical].lambda_handler(event, context)

        return invoke


def _not_deployed(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 404,
        "headers": {"content-type": "application/json"},
        "body": '{"error":"not_deployed"}',
    }
