"""Sealed requests: what a workflow's execution state may hold of a request. Pure.

The raw parameters and intent of a tool call are needed by two steps only (Validate decides on them, Execute
sends them to AWS). They never travel through Step Functions: the gateway seals them (KMS envelope, TTL, in
the approvals table, ``adapters/parameter_vault.py``) and the execution state carries the redacted copy plus
the reference ``SEALED_KEY`` (the request id). Validate and Execute open the seal, use the raw values and
hand back the sealed view, so no execution input, output or history event holds a raw value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .redaction import RedactionConfig, Redactor

SEALED_KEY = "__sealed__"
_REDACTOR = Redactor(RedactionConfig())


def redacted(value: Any) -> Any:
    """What the execution state may show of a raw value: its shape only. Every string is replaced by a
    marker naming what the redactor found in it (the raw text, redacted or not, stays in the seal: a
    detector's miss can never reach Step Functions)."""
    if isinstance(value, dict):
        return {_REDACTOR.redact_text(str(k), pii=True).text[:256]: redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    if isinstance(value, str):
        result = _REDACTOR.redact_text(value, pii=True)
        kinds = ",".join(sorted(result.counts)) if getattr(result, "counts", None) else ""
        return f"[sealed:{len(value)} chars{';' + kinds if kinds else ''}]"
    return value


def sealed_view(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request as the workflow carries it: redacted parameters tagged with the seal's reference, and the
    intent redacted (Validate reads the raw one from the seal)."""
    view = dict(request)
    params = request.get("parameters") or {}
    view["parameters"] = {
        **(redacted(dict(params)) if isinstance(params, Mapping) else {}),
        SEALED_KEY: request["request_id"],
    }
    if "intent" in request:
        view["intent"] = redacted(str(request.get("intent") or ""))
    return view


def seal_reference(request: Mapping[str, Any]) -> str | None:
    """The seal a workflow request refers to, or None for a request that was never sealed."""
    params = request.get("parameters")
    if isinstance(params, Mapping):
        ref = params.get(SEALED_KEY)
        return ref if isinstance(ref, str) and ref else None
    return None


def opened(request: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The request with its raw parameters (and, where the view carries one, its raw intent) restored."""
    out = dict(request)
    out["parameters"] = dict(raw.get("parameters") or {})
    if "intent" in request and "intent" in raw:
        out["intent"] = raw["intent"]
    return out


def resealed(request: Mapping[str, Any], view: Mapping[str, Any]) -> dict[str, Any]:
    """A step's output request with the raw values replaced by the sealed view's again."""
    out = dict(request)
    out["parameters"] = dict(view.get("parameters") or {})
    if "intent" in out:
        out["intent"] = view.get("intent", "")
    return out
