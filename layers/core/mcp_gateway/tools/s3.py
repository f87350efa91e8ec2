"""S3 tools: list buckets and objects, describe and read an object (paged by byte range), write a small text."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from ..domain.catalog import ToolInput
from .common import NEXT_PAGE, PageToken, s3_bucket_arn
from .paging import TEXT_ENVELOPE_BYTES, capped, detected_type, fit_text, looks_binary, paged, shaped, total_size
from .registry import ActionSpec, Annotations, ExecContext, Tool, ToolResult

BucketName = Annotated[
    str, StringConstraints(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
]
ObjectKey = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


# --- list_buckets ---------------------------------------------------------------------------------------
class ListBucketsInput(ToolInput):
    pass


class Bucket(ToolResult):
    name: str
    created: str


class ListBucketsResult(ToolResult):
    buckets: list[Bucket]


def _list_buckets(args: ListBucketsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    return ActionSpec("s3", "ListBuckets", "s3:ListAllMyBuckets", ("*",), {})


def run_list_buckets(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.list_buckets()
    buckets = [{"name": b["Name"], "created": b["CreationDate"].isoformat()} for b in resp.get("Buckets", [])]
    return shaped({"buckets": buckets}, ctx.redactor, ctx.pii, ctx.cap)


# --- list_objects ---------------------------------------------------------------------------------------
class ListObjectsInput(ToolInput):
    bucket: BucketName
    prefix: Annotated[str, Field(default="", max_length=1024)] = ""
    delimiter: Annotated[str, Field(default="", max_length=1)] = ""
    max_keys: Annotated[int, Field(default=100, ge=1, le=1000)] = 100
    page_token: PageToken = None


class S3Object(ToolResult):
    key: str
    size: int
    last_modified: str


class ListObjectsResult(ToolResult):
    bucket: str
    objects: list[S3Object]
    common_prefixes: list[str]
    page_token: str | None = Field(description=NEXT_PAGE)


def _list_objects(args: ListObjectsInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params: dict[str, Any] = {"Bucket": args.bucket, "MaxKeys": args.max_keys}
    if args.prefix:
        params["Prefix"] = args.prefix
    if args.delimiter:
        params["Delimiter"] = args.delimiter
    if args.page_token:
        params["ContinuationToken"] = args.page_token
    return ActionSpec("s3", "ListObjectsV2", "s3:ListBucket", (s3_bucket_arn(args.bucket),), params)


def run_list_objects(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.list_objects_v2(**ctx.params)
    data = {
        "bucket": ctx.params["Bucket"],
        "objects": [
            {"key": o["Key"], "size": o["Size"], "last_modified": o["LastModified"].isoformat()}
            for o in resp.get("Contents", [])
        ],
        "common_prefixes": [p["Prefix"] for p in resp.get("CommonPrefixes", [])],
        "page_token": resp.get("NextContinuationToken"),
    }
    return paged(data, ctx.redactor, ctx.pii, ctx.cap)


# --- head_object ----------------------------------------------------------------------------------------
class HeadObjectInput(ToolInput):
    bucket: BucketName
    key: ObjectKey


class HeadObjectResult(ToolResult):
    bucket: str
    key: str
    size: int
    content_type: str
    last_modified: str | None
    etag: str
    storage_class: str | None
    metadata_keys: list[str]


def _head_object(args: HeadObjectInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    # HeadObject is authorized as s3:GetObject; a one-byte Range keeps it a bounded read for the data limits
    # (S3 then reports the full size in Content-Range).
    params = {"Bucket": args.bucket, "Key": args.key, "Range": "bytes=0-0"}
    arn = f"{s3_bucket_arn(args.bucket)}/{args.key}"
    return ActionSpec("s3", "HeadObject", "s3:GetObject", (arn,), params)


def run_head_object(client: Any, ctx: ExecContext) -> dict[str, Any]:
    resp = client.head_object(**ctx.params)
    modified = resp.get("LastModified")
    data = {
        "bucket": ctx.params["Bucket"],
        "key": ctx.params["Key"],
        "size": total_size(resp.get("ContentRange"), resp.get("ContentLength", 0)),
        "content_type": resp.get("ContentType", ""),
        "last_modified": modified.isoformat() if hasattr(modified, "isoformat") else None,
        "etag": resp.get("ETag", ""),
        "storage_class": resp.get("StorageClass"),
        # user metadata values may hold anything: only the keys are shown
        "metadata_keys": sorted((resp.get("Metadata") or {}).keys()),
    }
    return shaped(data, ctx.redactor, ctx.pii, ctx.cap)


# --- get_object -----------------------------------------------------------------------------------------
class GetObjectInput(ToolInput):
    bucket: BucketName
    key: ObjectKey
    offset: Annotated[int, Field(default=0, ge=0, le=5 * 1024**4, description="First byte to return")] = 0
    max_bytes: Annotated[
        int, Field(default=65_536, ge=1, le=1_048_576, description="Bytes to return (capped by policy)")
    ] = 65_536


class GetObjectResult(ToolResult):
    bucket: str
    key: str
    content_type: str
    size: int = Field(description="size of the whole object in bytes")
    offset: int = Field(description="first byte of this page in the original object")
    length: int = Field(description="original bytes covered by this page")
    binary: bool
    detected_type: str | None
    text: str | None = Field(description="this page as redacted text; null if binary")


def _get_object(args: GetObjectInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params = {
        "Bucket": args.bucket,
        "Key": args.key,
        "Range": f"bytes={args.offset}-{args.offset + args.max_bytes - 1}",
    }
    return ActionSpec("s3", "GetObject", "s3:GetObject", (f"{s3_bucket_arn(args.bucket)}/{args.key}",), params)


def run_get_object(client: Any, ctx: ExecContext) -> dict[str, Any]:
    params = ctx.params
    resp = client.get_object(**params)
    body: bytes = resp["Body"].read()
    total = total_size(resp.get("ContentRange"), resp.get("ContentLength", len(body)))
    first = int(str(params.get("Range", "bytes=0-")).split("=")[1].split("-")[0] or 0)
    # the caller's bucket and key are echoed: redacted like any other text (a key may hold a secret)
    echoed, counts = ctx.redactor.redact_value({"bucket": params["Bucket"], "key": params["Key"]}, pii=ctx.pii)
    meta: dict[str, Any] = {
        **echoed,
        "content_type": resp.get("ContentType", ""),
        "size": total,
        "offset": first,
        "length": len(body),
    }
    meta["detected_type"] = detected_type(body) if first == 0 else None
    if looks_binary(body):
        meta["binary"] = True
        meta["text"] = None
        used = len(body)
    else:
        used, redacted = fit_text(body, ctx.redactor, ctx.pii, ctx.cap - TEXT_ENVELOPE_BYTES)
        meta["binary"] = False
        meta["text"] = redacted.text
        meta["length"] = used
        counts = {k: counts.get(k, 0) + redacted.counts.get(k, 0) for k in {*counts, *redacted.counts}}
    next_offset = first + used
    out: dict[str, Any] = {
        "status": "ok",
        "data": meta,
        "redactions": counts,
        "bytes_returned": used,
        "truncated": next_offset < total,
    }
    if next_offset < total:
        out["continuation"] = {"offset": next_offset, "remaining_bytes": total - next_offset}
    return capped(out, ctx.cap)


# --- put_object -----------------------------------------------------------------------------------------
class PutObjectInput(ToolInput):
    bucket: BucketName
    key: ObjectKey
    text: Annotated[str, Field(max_length=262_144, description="UTF-8 text to store")]
    content_type: Annotated[str, Field(default="text/plain", max_length=128, pattern=r"^[\w.+-]+/[\w.+-]+$")] = (
        "text/plain"
    )


class PutObjectResult(ToolResult):
    bucket: str
    key: str
    bytes: int
    etag: str


def _put_object(args: PutObjectInput, region: str, account: str, now: dt.datetime) -> ActionSpec:
    params = {"Bucket": args.bucket, "Key": args.key, "Body": args.text, "ContentType": args.content_type}
    return ActionSpec("s3", "PutObject", "s3:PutObject", (f"{s3_bucket_arn(args.bucket)}/{args.key}",), params)


def run_put_object(client: Any, ctx: ExecContext) -> dict[str, Any]:
    params = dict(ctx.params)
    body = str(params.pop("Body")).encode("utf-8")
    resp = client.put_object(Body=body, **params)
    data = {"bucket": params["Bucket"], "key": params["Key"], "bytes": len(body), "etag": resp.get("ETag", "")}
    return shaped(data, ctx.redactor, ctx.pii, ctx.cap)


TOOLS = (
    Tool(
        name="list_buckets",
        title="List S3 buckets",
        description="List the S3 buckets in the account (names and creation dates). Use it to discover which "
        "buckets exist before listing or reading objects; reading still depends on policy.",
        input_model=ListBucketsInput,
        to_action=_list_buckets,
        output_model=ListBucketsResult,
        execute=run_list_buckets,
        example={},
    ),
    Tool(
        name="list_objects",
        title="List S3 objects",
        description="List objects in one S3 bucket, optionally under a prefix and grouped by a delimiter. "
        "Returns keys, sizes and modification times, and a page_token when more remain.",
        input_model=ListObjectsInput,
        to_action=_list_objects,
        output_model=ListObjectsResult,
        execute=run_list_objects,
        example={"bucket": "acme-app-logs", "max_keys": 5},
    ),
    Tool(
        name="get_object",
        title="Read an S3 object",
        description="Read a byte range of one S3 object. Text is returned as text with secrets and customer "
        "data redacted; binary content is summarised. Use offset and max_bytes to page through large objects.",
        input_model=GetObjectInput,
        to_action=_get_object,
        output_model=GetObjectResult,
        execute=run_get_object,
        example={"bucket": "acme-app-logs", "key": "README.txt", "max_bytes": 1024},
    ),
    Tool(
        name="put_object",
        title="Write an S3 object",
        description="Write a small text object to S3 (for example notes to a scratch bucket). Writes are "
        "allowed only where the policy grants them to your group, and count against the strict write-tier "
        "rate limit.",
        input_model=PutObjectInput,
        to_action=_put_object,
        output_model=PutObjectResult,
        execute=run_put_object,
        example={"bucket": "acme-scratch", "key": "notes/example.txt", "text": "checked the orders-api logs"},
        annotations=Annotations(read_only=False, destructive=False, idempotent=True, open_world=False),
    ),
    Tool(
        name="head_object",
        title="Describe an S3 object",
        description="Size, content type, last-modified time and ETag of one S3 object, without reading it. Use "
        "it to plan get_object pages (offset and max_bytes) for large objects.",
        input_model=HeadObjectInput,
        to_action=_head_object,
        output_model=HeadObjectResult,
        execute=run_head_object,
        example={"bucket": "acme-app-logs", "key": "README.txt"},
    ),
)
