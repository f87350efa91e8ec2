"""The one redaction engine: secrets and customer data never leave through results, logs, audit or Slack.

Everything the gateway emits passes through :class:`Redactor`. It is pure (no I/O, no boto3) and built
for hostile input. The package is split by capability:

* :mod:`.rules`: the type names, priorities, bounded detector patterns, secret-implying key names and
  the safety checks for customer-id patterns from the policy;
* :mod:`.views`: the decoded (JSON/URL-unescaped), line-joined and base64-decoded views of a text, with
  maps back to the original offsets, and the encoded forms of a known secret;
* :mod:`.engine`: :class:`RedactionConfig`, :class:`RedactionResult` and :class:`Redactor` (detection,
  overlap merging, structured values, rendering of ``[REDACTED:type]`` markers);
* :mod:`.streaming`: large texts and chunk streams in bounded pieces, with an overlap so a secret
  spanning a boundary is still caught.
"""

from __future__ import annotations

from .engine import RedactionConfig, RedactionResult, Redactor
from .rules import PII_CLASSES, SECRET_TYPES, UnsafePatternError, key_secret_type, validate_customer_id_pattern

__all__ = [
    "PII_CLASSES",
    "SECRET_TYPES",
    "RedactionConfig",
    "RedactionResult",
    "Redactor",
    "UnsafePatternError",
    "key_secret_type",
    "validate_customer_id_pattern",
]
