"""``call_aws`` arguments checked against botocore's service model, in the gateway, before any workflow runs.

An unknown service or operation, an unknown parameter, a missing required parameter or a value of the wrong
type is refused with ``INVALID_INPUT``, so nothing the AWS API would reject (or silently ignore) reaches the
policy decision, the audit trail or the data role. Only the names of offending fields are reported, never
their values. Models are loaded from botocore's bundled data (no network), once per service per instance.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

from ..domain.errors import InvalidInputError
from . import aws

MAX_REPORTED_ERRORS = 10


@functools.lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return aws.botocore_session()  # the shared Session's loader: models are parsed once per process


@functools.lru_cache(maxsize=64)
def _service(service: str) -> ServiceModel | None:
    try:
        return _session().get_service_model(service)
    except (UnknownServiceError, DataNotFoundError):
        return None


def operation_model(service: str, operation: str) -> OperationModel:
    """The botocore model of ``service``'s ``operation``; InvalidInputError when either is unknown."""
    model = _service(service)
    if model is None:
        raise InvalidInputError(f"unknown AWS service {service[:40]!r}")
    if operation not in model.operation_names:
        raise InvalidInputError(f"{service} has no operation {operation[:100]!r}")
    return model.operation_model(operation)


class ServiceModelError(InvalidInputError):
    """The call does not match the AWS API. ``errors`` names the offending fields (never their values)."""

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


_ERROR_TYPES = {
    "missing required field": "missing",
    "unknown field": "unknown_parameter",
    "invalid type": "type",
    "invalid range": "range",
    "invalid length": "length",
    "invalid enum": "enum",
    "unable to encode to json": "type",
    "more than one input": "one_of",
    "empty input": "missing",
}


def _problem(error_type: str, name: str, details: dict[str, Any]) -> dict[str, str]:
    path = name.lstrip(".")
    leaf = details.get("required_name") or details.get("unknown_param") or ""
    field = ".".join(p for p in (path, str(leaf)) if p) or "parameters"
    return {"field": field[:200], "type": _ERROR_TYPES.get(error_type, "invalid")}


def validate_call(service: str, operation: str, parameters: dict[str, Any]) -> None:
    """Raise InvalidInputError unless ``parameters`` are valid input for ``service``'s ``operation``."""
    op = operation_model(service, operation)
    shape = op.input_shape
    if shape is None:
        if parameters:
            raise ServiceModelError(
                f"{operation} takes no parameters",
                [{"field": str(k)[:200], "type": "unknown_parameter"} for k in list(parameters)[:10]],
            )
        return
    report = ParamValidator().validate(parameters, shape)
    if not report.has_errors():
        return
    errors = [_problem(t, n, d) for t, n, d in report._errors[:MAX_REPORTED_ERRORS]]
    raise ServiceModelError(f"the parameters do not match the {service} {operation} API", errors)
