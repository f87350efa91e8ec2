"""The agent's idempotency key (issue 20): ``_meta.idempotency_key`` on a ``tools/call``.

The same key from the same principal always names the same request id, so a retried call (the agent lost
the answer, its connection dropped, the gateway timed out) starts the same request again, which the
workflow's claim refuses to run twice: the agent gets the first outcome. Bound to the principal (its
e-mail and subject): another user's same key names another request."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..domain.errors import InvalidInputError
from ..domain.models import Principal

META_KEY = "idempotency_key"
_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id_for(principal: Principal, meta: dict[str, Any] | None) -> str | None:
    """The request id the key names, or None when the call carries no key. A malformed key is refused."""
    key = (meta or {}).get(META_KEY)
    if key is None:
        return None
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInputError("_meta.idempotency_key must be 8-128 letters, digits or . _ : -")
    digest = hashlib.sha256(f"{principal.email.lower()}\x00{principal.sub}\x00{key}".encode()).hexdigest()
    return f"req-{digest[:32]}"
