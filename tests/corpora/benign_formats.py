# ruff: noqa: E501 - the real formats (access logs, CloudTrail, stack frames) have long lines
"""Benign config, log and CSV lines written in the formats real systems emit (the over-redaction yardstick).

Each generator follows a published format: the nginx/Apache "combined" access log, the ALB access log,
Lambda START/END/REPORT lines, CloudTrail records, Powertools and structlog JSON lines, Java and Python stack
traces, .env / INI / YAML / TOML configuration with non-secret values, CSV exports (ids, amounts, dates,
currencies), git log and ``git rev-parse`` output, npm ``package-lock.json`` integrity lines, ``poetry.lock``
and ``requirements.txt --hash`` lines, ``go.sum`` lines, Kubernetes manifests, Dockerfiles, base64 that is not a
secret (encoded JSON configs, PNG headers), UUIDs, request and trace ids, ARNs. No line holds a secret or a
piece of personal data, so any change the redactor makes to one is an over-redaction.

:func:`benign_corpus` returns ``(format, line)`` pairs; :func:`split` divides a corpus into a tuning part and a
held-out part with a fixed seed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["benign_corpus", "split"]

HEX = "0123456789abcdef"
ALNUM = string.ascii_letters + string.digits
T = TypeVar("T")

_SERVICES = ["orders", "payments", "inventory", "checkout", "search", "billing", "shipping"]
_REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2", "us-west-2"]
_PATHS = ["/v1/orders", "/v1/orders/{id}", "/healthz", "/v2/search?q=shoes&page=2", "/static/app.{h}.js", "/metrics"]
_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "curl/8.5.0",
    "ELB-HealthChecker/2.0",
    "python-requests/2.31.0",
    "Go-http-client/2.0",
    "kube-probe/1.29",
]
_PACKAGES = ["requests", "urllib3", "boto3", "pydantic", "fastapi", "uvicorn", "httpx", "orjson", "attrs"]
_NPM = ["react", "lodash", "express", "axios", "typescript", "webpack", "@types/node", "zod", "vite"]


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HEX) for _ in range(n))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ts(rng: random.Random) -> str:
    return (
        f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:"
        f"{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"
    )


def _clf_time(rng: random.Random) -> str:
    month = rng.choice(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
    return f"{rng.randrange(1, 29):02d}/{month}/2025:{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d} +0000"


def _account(rng: random.Random) -> str:
    return str(rng.randrange(100000000000, 999999999999))


def _path(rng: random.Random) -> str:
    return rng.choice(_PATHS).replace("{id}", _uuid(rng)).replace("{h}", _hex(rng, 8))


# ----------------------------------------------------------------------------------------------------------------
# logs
# ----------------------------------------------------------------------------------------------------------------
def _nginx(rng: random.Random) -> list[str]:
    # log_format combined '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    # "$http_referer" "$http_user_agent"' - with the address anonymised to "-" (the address would be PII)
    method = rng.choice(["GET", "GET", "POST", "PUT", "HEAD"])
    return [
        f'- - - [{_clf_time(rng)}] "{method} {_path(rng)} HTTP/1.1" {rng.choice([200, 200, 201, 304, 404, 502])} '
        f'{rng.randrange(0, 90000)} "https://shop.example.com/" "{rng.choice(_AGENTS)}" rt={rng.random():.3f}'
    ]


def _apache_error(rng: random.Random) -> list[str]:
    return [
        f"[Mon Jan {rng.randrange(1, 29):02d} 10:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**6):06d}"
        f" 2025] [proxy:error] [pid {rng.randrange(1000, 60000)}:tid {rng.randrange(10**14, 10**15)}] (111)Connection "
        f"refused: AH00957: http: attempt to connect to backend ({rng.choice(_SERVICES)}.internal:8080) failed"
    ]


def _alb(rng: random.Random) -> list[str]:
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html
    acct = _account(rng)
    region = rng.choice(_REGIONS)
    return [
        f"https {_ts(rng)} app/{rng.choice(_SERVICES)}-alb/{_hex(rng, 16)} - - {rng.random():.3f} "
        f"{rng.random():.3f} 0.000 200 200 {rng.randrange(100, 900)} {rng.randrange(100, 90000)} "
        f'"GET https://api.example.com:443{_path(rng)} HTTP/1.1" "{rng.choice(_AGENTS)}" '
        f"ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:{region}:{acct}:targetgroup/"
        f'{rng.choice(_SERVICES)}-tg/{_hex(rng, 16)} "Root=1-{_hex(rng, 8)}-{_hex(rng, 24)}" "api.example.com" '
        f'"arn:aws:acm:{region}:{acct}:certificate/{_uuid(rng)}" 0 {_ts(rng)} "forward" "-" "-" "-" "-" "-" "-"'
    ]


def _lambda(rng: random.Random) -> list[str]:
    req = _uuid(rng)
    return [
        f"INIT_START Runtime Version: python:3.13.v{rng.randrange(10, 40)}\tRuntime Version ARN: arn:aws:lambda:"
        f"{rng.choice(_REGIONS)}::runtime:{_hex(rng, 64)}",
        f"START RequestId: {req} Version: $LATEST",
        f"END RequestId: {req}",
        f"REPORT RequestId: {req}\tDuration: {rng.random() * 900:.2f} ms\tBilled Duration: {rng.randrange(1, 900)} ms\t"
        f"Memory Size: {rng.choice([128, 256, 512, 1024])} MB\tMax Memory Used: {rng.randrange(60, 500)} MB\t"
        f"Init Duration: {rng.random() * 900:.2f} ms\t\nXRAY TraceId: 1-{_hex(rng, 8)}-{_hex(rng, 24)}\t"
        f"SegmentId: {_hex(rng, 16)}\tSampled: true".replace("\t\n", "\t"),
    ]


def _powertools(rng: random.Random) -> list[str]:
    record = {
        "level": rng.choice(["INFO", "DEBUG", "WARNING", "ERROR"]),
        "location": f"handler:{rng.randrange(10, 400)}",
        "message": rng.choice(
            [
                "order captured",
                "retrying DynamoDB write after ProvisionedThroughputExceededException",
                "password policy check passed (min length 14)",
                "token cache refreshed",
                "secret rotation scheduled",
                "Authorization header present, validating",
            ]
        ),
        "timestamp": _ts(rng),
        "service": rng.choice(_SERVICES),
        "cold_start": rng.random() < 0.1,
        "function_name": f"{rng.choice(_SERVICES)}-handler",
        "function_memory_size": rng.choice([128, 256, 512]),
        "function_arn": f"arn:aws:lambda:{rng.choice(_REGIONS)}:{_account(rng)}:function:{rng.choice(_SERVICES)}",
        "function_request_id": _uuid(rng),
        "correlation_id": _uuid(rng),
        "xray_trace_id": f"1-{_hex(rng, 8)}-{_hex(rng, 24)}",
        "order_id": f"ord_{_hex(rng, 12)}",
        "amount": round(rng.random() * 500, 2),
        "currency": rng.choice(["EUR", "USD", "GBP"]),
    }
    return [json.dumps(record)]


def _structlog(rng: random.Random) -> list[str]:
    return [
        f"{_ts(rng)} [info     ] request finished  duration_ms={rng.randrange(1, 900)} method=GET "
        f"path={_path(rng)} request_id={_hex(rng, 32)} status=200 user_agent='{rng.choice(_AGENTS)[:30]}'"
    ]


def _cloudtrail(rng: random.Random) -> list[str]:
    acct = _account(rng)
    region = rng.choice(_REGIONS)
    record = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROA{''.join(rng.choice(string.ascii_uppercase + '234567') for _ in range(17))}:"
            f"{rng.choice(_SERVICES)}-deployer",
            "arn": f"arn:aws:sts::{acct}:assumed-role/{rng.choice(_SERVICES)}-deployer/session-{_hex(rng, 8)}",
            "accountId": acct,
        },
        "eventTime": _ts(rng)[:19] + "Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": rng.choice(["GetObject", "PutObject", "ListObjects"]),
        "awsRegion": region,
        "userAgent": "[aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2]",
        "requestParameters": {
            "bucketName": f"{rng.choice(_SERVICES)}-artifacts-{acct}",
            "key": f"releases/{_hex(rng, 40)}.zip",
        },
        "requestID": _hex(rng, 16).upper(),
        "eventID": _uuid(rng),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "recipientAccountId": acct,
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
    }
    return [json.dumps(record)]


def _java(rng: random.Random) -> list[str]:
    svc = rng.choice(_SERVICES)
    n = rng.randrange
    return [
        f"{_ts(rng)} ERROR 1 --- [nio-8080-exec-{n(1, 20)}] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() "
        "for servlet [dispatcherServlet] threw exception",
        f"org.springframework.dao.DataIntegrityViolationException: could not execute statement; SQL [n/a]; constraint "
        f"[uk_{svc}_external_id]",
        f"\tat org.springframework.orm.jpa.vendor.HibernateJpaDialect.convertHibernateAccessException(HibernateJpaDialect.java:{n(100, 300)})",
        f"\tat com.example.{svc}.service.{svc.title()}Service.save({svc.title()}Service.java:{n(20, 400)})",
        "\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)",
        f"Caused by: org.postgresql.util.PSQLException: ERROR: duplicate key value violates unique constraint "
        f'"uk_{svc}_external_id"',
        f"  Detail: Key (external_id)=({_uuid(rng)}) already exists.",
        f"\t... {n(5, 60)} common frames omitted",
    ]


def _python(rng: random.Random) -> list[str]:
    return [
        "Traceback (most recent call last):",
        f'  File "/var/lang/lib/python3.13/site-packages/botocore/client.py", line {rng.randrange(900, 1100)}, in _make_api_call',
        "    raise error_class(parsed_response, operation_name)",
        "botocore.errorfactory.ResourceNotFoundException: An error occurred (ResourceNotFoundException) when calling "
        f"the GetSecretValue operation: Secrets Manager can't find the specified secret. (prod/{rng.choice(_SERVICES)}/db)",
        f'  File "/var/task/app/auth.py", line {rng.randrange(10, 300)}, in verify_token',
        '    claims = jwt.decode(token, key=jwks, algorithms=["RS256"], audience=settings.AUDIENCE)',
        "jwt.exceptions.ExpiredSignatureError: Signature has expired",
    ]


def _git(rng: random.Random) -> list[str]:
    sha = _hex(rng, 40)
    return [
        f"commit {sha}",
        f"Merge: {sha[:7]} {_hex(rng, 7)}",
        "Author: Release Bot <release-bot@users.noreply.github.com>".replace(
            "release-bot@users.noreply.github.com", "noreply"
        ),
        f"Date:   Mon Jan {rng.randrange(1, 29)} 10:{rng.randrange(60):02d}:00 2025 +0000",
        f"    fix({rng.choice(_SERVICES)}): retry on throttling (#{rng.randrange(100, 9999)})",
        f"{_hex(rng, 7)} (HEAD -> main, origin/main) chore: bump {rng.choice(_PACKAGES)} to 2.{rng.randrange(40)}.0",
        f"index {_hex(rng, 7)}..{_hex(rng, 7)} 100644",
    ]


# ----------------------------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------------------------
def _env(rng: random.Random) -> list[str]:
    svc = rng.choice(_SERVICES)
    return [
        "# generated by deploy.sh - do not edit",
        f"APP_NAME={svc}",
        f"AWS_REGION={rng.choice(_REGIONS)}",
        "LOG_LEVEL=info",
        f"PORT={rng.choice([3000, 8000, 8080])}",
        f"DATABASE_HOST={svc}-db.cluster-{_hex(rng, 12)}.{rng.choice(_REGIONS)}.rds.amazonaws.com",
        "DATABASE_PORT=5432",
        f"DATABASE_NAME={svc}",
        f"DB_PASSWORD_SECRET_ARN=arn:aws:secretsmanager:{rng.choice(_REGIONS)}:{_account(rng)}:secret:prod/{svc}/db-"
        + "".join(rng.choice(ALNUM) for _ in range(6)),
        "PASSWORD_MIN_LENGTH=14",
        "TOKEN_TTL_SECONDS=900",
        f"FEATURE_FLAGS=new-checkout,fast-search,{svc}-v2",
        "SENTRY_ENVIRONMENT=production",
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector.observability:4317",
        f"S3_BUCKET={svc}-artifacts-{_account(rng)}",
        "",
    ]


def _ini(rng: random.Random) -> list[str]:
    return [
        "[default]",
        f"region = {rng.choice(_REGIONS)}",
        "output = json",
        "cli_pager =",
        f"[profile {rng.choice(_SERVICES)}-dev]",
        "sso_session = acme",
        f"sso_account_id = {_account(rng)}",
        "sso_role_name = DeveloperAccess",
        "[sso-session acme]",
        "sso_start_url = https://acme.awsapps.com/start",
        "sso_registration_scopes = sso:account:access",
        "[mysqld]",
        f"max_connections = {rng.randrange(100, 1000)}",
        "innodb_buffer_pool_size = 2G",
        "validate_password.length = 14",
    ]


def _yaml(rng: random.Random) -> list[str]:
    svc = rng.choice(_SERVICES)
    return [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        f"  name: {svc}",
        f"  namespace: {svc}-prod",
        "  labels:",
        f"    app.kubernetes.io/name: {svc}",
        f"    app.kubernetes.io/version: 1.{rng.randrange(40)}.{rng.randrange(10)}",
        "spec:",
        f"  replicas: {rng.randrange(2, 12)}",
        "  template:",
        "    spec:",
        "      containers:",
        f"        - name: {svc}",
        f"          image: {_account(rng)}.dkr.ecr.{rng.choice(_REGIONS)}.amazonaws.com/{svc}@sha256:{_hex(rng, 64)}",
        "          env:",
        "            - name: DB_PASSWORD",
        "              valueFrom:",
        "                secretKeyRef:",
        f"                  name: {svc}-db",
        "                  key: password",
        "            - name: LOG_LEVEL",
        '              value: "info"',
        "          resources:",
        "            limits: {cpu: 500m, memory: 512Mi}",
    ]


def _toml(rng: random.Random) -> list[str]:
    pkg = rng.choice(_PACKAGES)
    return [
        "[[package]]",
        f'name = "{pkg}"',
        f'version = "{rng.randrange(1, 5)}.{rng.randrange(40)}.{rng.randrange(10)}"',
        'description = "HTTP for Humans."',
        "optional = false",
        'python-versions = ">=3.8"',
        "files = [",
        f'    {{file = "{pkg}-2.31.0-py3-none-any.whl", hash = "sha256:{_hex(rng, 64)}"}},',
        f'    {{file = "{pkg}-2.31.0.tar.gz", hash = "sha256:{_hex(rng, 64)}"}},',
        "]",
    ]


def _lockfiles(rng: random.Random) -> list[str]:
    pkg = rng.choice(_NPM)
    digest = base64.b64encode(rng.randbytes(64)).decode()
    go_digest = base64.b64encode(rng.randbytes(32)).decode()
    return [
        f'    "node_modules/{pkg}": {{',
        f'      "version": "{rng.randrange(1, 20)}.{rng.randrange(20)}.{rng.randrange(20)}",',
        f'      "resolved": "https://registry.npmjs.org/{pkg}/-/{pkg.split("/")[-1]}-4.17.21.tgz",',
        f'      "integrity": "sha512-{digest}",',
        f"{rng.choice(_PACKAGES)}==2.{rng.randrange(40)}.0 \\",
        f"    --hash=sha256:{_hex(rng, 64)}",
        f"github.com/aws/aws-sdk-go-v2 v1.{rng.randrange(40)}.{rng.randrange(9)} h1:{go_digest}",
        f"github.com/aws/aws-sdk-go-v2 v1.{rng.randrange(40)}.{rng.randrange(9)}/go.mod h1:{go_digest[::-1]}",
        f'"{pkg}@^4.17.21":',
        f'  resolved "https://registry.yarnpkg.com/{pkg}/-/{pkg.split("/")[-1]}-4.17.21.tgz#{_hex(rng, 40)}"',
    ]


def _docker(rng: random.Random) -> list[str]:
    return [
        f"FROM public.ecr.aws/lambda/python:3.13@sha256:{_hex(rng, 64)}",
        "ARG PIP_INDEX_URL=https://pypi.org/simple",
        "COPY requirements.txt ${LAMBDA_TASK_ROOT}",
        "RUN pip install --no-cache-dir -r requirements.txt",
        'CMD [ "app.handler" ]',
        f"Step {rng.randrange(1, 12)}/12 : RUN npm ci --omit=dev",
        " ---> Using cache",
        f" ---> {_hex(rng, 12)}",
        f"Successfully built {_hex(rng, 12)}",
    ]


def _base64_benign(rng: random.Random) -> list[str]:
    config = {"region": rng.choice(_REGIONS), "retries": rng.randrange(1, 5), "service": rng.choice(_SERVICES)}
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(24)
    return [
        f"cloud-init user-data: {base64.b64encode(json.dumps(config).encode()).decode()}",
        f"data:image/png;base64,{base64.b64encode(png).decode()}",
        f"Content-MD5: {base64.b64encode(hashlib.md5(rng.randbytes(16), usedforsecurity=False).digest()).decode()}",
        f"x-amz-checksum-sha256: {base64.b64encode(hashlib.sha256(rng.randbytes(16)).digest()).decode()}",
    ]


def _ids(rng: random.Random) -> list[str]:
    acct = _account(rng)
    region = rng.choice(_REGIONS)
    return [
        f"request_id={_uuid(rng)} trace_id={_hex(rng, 32)} span_id={_hex(rng, 16)}",
        f"x-amz-request-id: {_hex(rng, 16).upper()}",
        f"x-amzn-RequestId: {_uuid(rng)}",
        f"arn:aws:states:{region}:{acct}:execution:{rng.choice(_SERVICES)}-workflow:{_uuid(rng)}",
        f"arn:aws:kms:{region}:{acct}:key/{_uuid(rng)}",
        f"i-{_hex(rng, 17)} vol-{_hex(rng, 17)} sg-{_hex(rng, 17)} subnet-{_hex(rng, 17)}",
        f"ami-{_hex(rng, 17)} launched in {region}{rng.choice('abc')}",
        f"sha1:{_hex(rng, 40)} sha256:{_hex(rng, 64)}",
    ]


# ----------------------------------------------------------------------------------------------------------------
# CSV exports
# ----------------------------------------------------------------------------------------------------------------
def _csv(rng: random.Random) -> list[str]:
    rows = ["order_id,created_at,status,items,amount,currency,sku,warehouse,carrier_tracking"]
    for _ in range(rng.randrange(6, 14)):
        rows.append(
            f"ord_{_hex(rng, 12)},2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} "
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d},"
            f"{rng.choice(['paid', 'shipped', 'refunded', 'pending'])},{rng.randrange(1, 9)},"
            f"{rng.randrange(1, 2000)}.{rng.randrange(100):02d},{rng.choice(['EUR', 'USD', 'GBP'])},"
            f"SKU-{rng.randrange(10000, 99999)}-{rng.choice('SMLX')},{rng.choice(['DUB1', 'FRA2', 'IAD4'])},"
            f"1Z{''.join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))}"
        )
    return rows


def _metrics_csv(rng: random.Random) -> list[str]:
    rows = ["timestamp,metric,p50_ms,p99_ms,count,error_rate"]
    for _ in range(rng.randrange(4, 9)):
        rows.append(
            f"{rng.randrange(1_700_000_000, 1_760_000_000)},{rng.choice(_SERVICES)}.latency,"
            f"{rng.random() * 100:.2f},{rng.random() * 900:.2f},{rng.randrange(10**6)},{rng.random() / 10:.4f}"
        )
    return rows


_FORMATS: tuple[tuple[str, Callable[[random.Random], list[str]]], ...] = (
    ("nginx_access", _nginx),
    ("apache_error", _apache_error),
    ("alb_access", _alb),
    ("lambda_report", _lambda),
    ("powertools_json", _powertools),
    ("structlog", _structlog),
    ("cloudtrail_json", _cloudtrail),
    ("java_trace", _java),
    ("python_trace", _python),
    ("git_log", _git),
    ("env_file", _env),
    ("ini_file", _ini),
    ("k8s_yaml", _yaml),
    ("poetry_lock", _toml),
    ("lockfiles", _lockfiles),
    ("dockerfile", _docker),
    ("base64_not_secret", _base64_benign),
    ("ids_and_arns", _ids),
    ("csv_orders", _csv),
    ("csv_metrics", _metrics_csv),
)


def benign_corpus(seed: int = 19, count: int = 2000) -> list[tuple[str, str]]:
    """At least ``count`` ``(format, line)`` pairs, every format in turn (multi-line formats give several lines)."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    while len(out) < count:
        for name, gen in _FORMATS:
            out.extend((name, line) for line in gen(rng))
    return out


def split(items: Sequence[T], seed: int = 19, held_out: float = 0.5) -> tuple[list[T], list[T]]:
    """(tuning, held-out): a fixed-seed shuffle cut at ``held_out``; the held-out part is never looked at while
    tuning the redactor, and the scorecard reports its figures."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * (1 - held_out))
    return [items[i] for i in sorted(order[:cut])], [items[i] for i in sorted(order[cut:])]
