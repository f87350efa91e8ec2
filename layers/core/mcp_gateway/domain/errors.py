"""One error hierarchy with machine-readable reason codes.

Every refusal the gateway gives - to an agent, to Slack, to an auditor - carries one ``ReasonCode``.
Messages are for humans and may change; codes are the contract and never change meaning.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    # Decisions
    ALLOWED = "ALLOWED"
    EXPLICIT_DENY = "EXPLICIT_DENY"
    NOT_ALLOWLISTED = "NOT_ALLOWLISTED"
    RESOURCE_NOT_ALLOWED = "RESOURCE_NOT_ALLOWED"
    CHAINING_BLOCKED = "CHAINING_BLOCKED"
    DANGEROUS_PATTERN = "DANGEROUS_PATTERN"
    REVIEW_REQUIRED = "REVIEW_REQUIRED"
    DATA_LIMIT_EXCEEDED = "DATA_LIMIT_EXCEEDED"
    POLICY_UNAVAILABLE = "POLICY_UNAVAILABLE"
    # Quotas
    THROTTLED = "THROTTLED"
    DATA_BUDGET_EXCEEDED = "DATA_BUDGET_EXCEEDED"
    RATE_LIMIT_UNAVAILABLE = "RATE_LIMIT_UNAVAILABLE"
    # Input and execution
    INVALID_INPUT = "INVALID_INPUT"
    UNKNOWN_TOOL = "UNKNOWN_TOOL"
    EXECUTION_ERROR = "EXECUTION_ERROR"
    AWS_ACCESS_DENIED = "AWS_ACCESS_DENIED"
    NOT_FOUND = "NOT_FOUND"
    NOT_SUPPORTED_LOCALLY = "NOT_SUPPORTED_LOCALLY"  # the local stack's AWS stand-in (moto) lacks the feature
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    WORKFLOW_ERROR = "WORKFLOW_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Approval
    APPROVAL_PENDING = "APPROVAL_PENDING"
    APPROVAL_DENIED = "APPROVAL_DENIED"
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED"
    APPROVAL_CANCELLED = "APPROVAL_CANCELLED"
    # Authentication / authorization
    AUTH_MISSING = "AUTH_MISSING"
    AUTH_INVALID = "AUTH_INVALID"
    AUTH_EXPIRED = "AUTH_EXPIRED"
    AUTH_WRONG_AUDIENCE = "AUTH_WRONG_AUDIENCE"
    AUTH_WRONG_ISSUER = "AUTH_WRONG_ISSUER"
    AUTH_BAD_ALGORITHM = "AUTH_BAD_ALGORITHM"
    AUTH_BAD_SIGNATURE = "AUTH_BAD_SIGNATURE"
    AUTH_UNKNOWN_KEY = "AUTH_UNKNOWN_KEY"
    AUTH_FORBIDDEN_HEADER = "AUTH_FORBIDDEN_HEADER"
    AUTH_MALFORMED = "AUTH_MALFORMED"
    AUTH_TOKEN_IN_QUERY = "AUTH_TOKEN_IN_QUERY"  # noqa: S105 - a reason code, not a secret
    AUTH_WRONG_SCHEME = "AUTH_WRONG_SCHEME"
    AUTH_WRONG_TOKEN_TYPE = "AUTH_WRONG_TOKEN_TYPE"  # noqa: S105 - a reason code, not a secret
    AUTH_INSUFFICIENT_GROUP = "AUTH_INSUFFICIENT_GROUP"
    AUTH_KEYS_UNAVAILABLE = "AUTH_KEYS_UNAVAILABLE"
    # OAuth authorization server (issue 15)
    AUTH_PKCE_FAILED = "AUTH_PKCE_FAILED"
    AUTH_CODE_REUSED = "AUTH_CODE_REUSED"
    AUTH_CLIENT_MISMATCH = "AUTH_CLIENT_MISMATCH"
    AUTH_REDIRECT_MISMATCH = "AUTH_REDIRECT_MISMATCH"
    AUTH_WRONG_RESOURCE = "AUTH_WRONG_RESOURCE"
    AUTH_UNKNOWN_CLIENT = "AUTH_UNKNOWN_CLIENT"
    AUTH_CLIENT_METADATA_REFUSED = "AUTH_CLIENT_METADATA_REFUSED"
    AUTH_STATE_MISMATCH = "AUTH_STATE_MISMATCH"
    AUTH_REFRESH_REUSED = "AUTH_REFRESH_REUSED"
    AUTH_IDP_REFUSED = "AUTH_IDP_REFUSED"
    AUTH_SESSION_REVOKED = "AUTH_SESSION_REVOKED"
    AUTH_SESSION_EXPIRED = "AUTH_SESSION_EXPIRED"
    AUTH_REPLAY = "AUTH_REPLAY"
    AUTH_STATE_UNAVAILABLE = "AUTH_STATE_UNAVAILABLE"
    # Slack callback
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    SIGNATURE_STALE = "SIGNATURE_STALE"
    CALLBACK_MALFORMED = "CALLBACK_MALFORMED"
    CALLBACK_REPLAY = "CALLBACK_REPLAY"
    APPROVER_NOT_ALLOWED = "APPROVER_NOT_ALLOWED"
    SELF_APPROVAL = "SELF_APPROVAL"
    REQUEST_HASH_MISMATCH = "REQUEST_HASH_MISMATCH"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    # One truth per request (issue 20): the gateway could not learn the outcome; a second start of one id
    REQUEST_IN_PROGRESS = "REQUEST_IN_PROGRESS"
    DUPLICATE_REQUEST = "DUPLICATE_REQUEST"
    # The bounded edge (issue 20): refused before authentication or before any workflow starts
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    HEADERS_TOO_LARGE = "HEADERS_TOO_LARGE"
    HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
    ORIGIN_NOT_ALLOWED = "ORIGIN_NOT_ALLOWED"
    EDGE_CONCURRENCY_EXCEEDED = "EDGE_CONCURRENCY_EXCEEDED"
    EDGE_BUDGET_EXCEEDED = "EDGE_BUDGET_EXCEEDED"
    EDGE_LIMITS_UNAVAILABLE = "EDGE_LIMITS_UNAVAILABLE"


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose. ``code`` is the contract."""

    code: ReasonCode = ReasonCode.INTERNAL_ERROR

    def __init__(self, message: str, *, code: ReasonCode | None = None, rule_id: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.rule_id = rule_id

    def __repr__(self) -> str:  # never leak arguments beyond the (already safe) message
        return f"{type(self).__name__}(code={self.code.value!r})"


class ConfigError(GatewayError):
    """Missing or malformed configuration: the caller must fail closed."""

    code = ReasonCode.INTERNAL_ERROR


class PolicyError(GatewayError):
    """The policy file is missing, corrupt or schema-invalid: every decision becomes DENY."""

    code = ReasonCode.POLICY_UNAVAILABLE


class InvalidInputError(GatewayError):
    code = ReasonCode.INVALID_INPUT


class AuthError(GatewayError):
    """Authentication failed. ``code`` is one of the AUTH_* codes; the HTTP edge maps it to 401/403/400."""

    code = ReasonCode.AUTH_INVALID


class SignatureError(GatewayError):
    """A Slack (or other) callback failed verification."""

    code = ReasonCode.SIGNATURE_INVALID


class ApprovalError(GatewayError):
    code = ReasonCode.APPROVER_NOT_ALLOWED


class ExecutionError(GatewayError):
    code = ReasonCode.EXECUTION_ERROR


class AuditError(GatewayError):
    code = ReasonCode.AUDIT_UNAVAILABLE
