"""Validate and Execute behind the seal (``domain/sealing.py``) and the request claim
(``adapters/request_claims.py``).

- ``ClaimingValidator``: first claims the request id (exactly once per id: a second start raises
  ``DuplicateRequest``, which the workflow ends on without counting or running anything), then opens the seal,
  decides on the raw values, and hands the workflow the sealed view again.
- ``SealedExecutor``: opens the seal and runs the action with the raw values; a sealed request whose seal is
  gone is an execution error (never an action run with the redacted copy).

A request that was never sealed (started directly, not by the gateway) passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..adapters.parameter_vault import ParameterVault, SealError
from ..adapters.request_claims import RequestClaims
from ..domain.errors import ReasonCode
from ..domain.sealing import opened, resealed, seal_reference

START_KEY = "__start__"


class DuplicateRequest(Exception):
    """Another execution already claimed this request id."""


class _Handler(Protocol):
    def handle(self, event: dict[str, Any]) -> dict[str, Any]: ...


def _request(event: Mapping[str, Any]) -> dict[str, Any]:
    request = event.get("request") if isinstance(event, Mapping) else None
    return dict(request) if isinstance(request, Mapping) else {}


class ClaimingValidator:
    def __init__(self, inner: _Handler, vault: ParameterVault | None, claims: RequestClaims | None) -> None:
        self.inner = inner
        self.vault = vault
        self.claims = claims

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        view = _request(event)
        request_id = view.get("request_id")
        if self.claims is not None and isinstance(request_id, str) and request_id:
            params = view.get("parameters") if isinstance(view.get("parameters"), Mapping) else {}
            claimant = str((params or {}).get(START_KEY) or request_id)
            if not self.claims.claim(request_id, claimant):
                raise DuplicateRequest(request_id[:80])
        ref = seal_reference(view)
        if ref is None or self.vault is None:
            return self.inner.handle(event)
        try:
            raw = self.vault.open(ref)
        except SealError:  # decided on nothing: the request is refused (and audited) as malformed
            return self.inner.handle({**event, "request": {**view, "parameters": None}})
        result = self.inner.handle({**event, "request": opened(view, raw)})
        out_request = result.get("request")
        if isinstance(out_request, Mapping):
            result = {**result, "request": resealed(out_request, view)}
        return result


class SealedExecutor:
    def __init__(self, inner: _Handler, vault: ParameterVault | None) -> None:
        self.inner = inner
        self.vault = vault

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        view = _request(event)
        ref = seal_reference(view)
        if ref is None:
            return self.inner.handle(event)
        if self.vault is None:
            return _unsealed_error("the execute step cannot open sealed parameters (no vault configured)")
        try:
            raw = self.vault.open(ref)
        except SealError as exc:
            return _unsealed_error(exc.message)
        request = opened(view, raw)
        request.pop("intent", None)
        return self.inner.handle({**event, "request": request})


def _unsealed_error(message: str) -> dict[str, Any]:
    return {"status": "error", "reason": ReasonCode.EXECUTION_ERROR.value, "message": message[:200]}
