"""Session signing-key rotation as pure steps on a :class:`SessionKeySet` (the Secrets Manager secret's content).

The safe order, each step one ``put-secret-value``: **add** a new key (verify-only: every gateway instance learns
it within the secret cache's 300 s), **promote** it (new tokens are signed with it; old tokens still verify),
**retire** the old key once no token signed with it can be alive (15 minutes, plus the cache). Emergency: add,
promote and retire every other key at once (every session ends)."""

from __future__ import annotations

from .errors import ConfigError
from .tokens.session import SessionKey, SessionKeySet

#: The most keys a set may hold (SessionKeySet's own bound).
MAX_KEYS = 5


class RotationError(ConfigError):
    """A rotation step that would break the key set (unknown kid, retiring the active key, too many keys)."""


def next_kid(keyset: SessionKeySet, stamp: str) -> str:
    """A kid no key of the set has: ``k-<stamp>`` (``-2``, ``-3``... if taken)."""
    kids = {k.kid for k in keyset.keys}
    kid, n = f"k-{stamp}", 1
    while kid in kids:
        n += 1
        kid = f"k-{stamp}-{n}"
    return kid


def add_key(keyset: SessionKeySet, key: SessionKey) -> SessionKeySet:
    """The set with ``key`` added, verify-only (the active key is unchanged)."""
    if any(k.kid == key.kid for k in keyset.keys):
        raise RotationError(f"kid {key.kid!r} is already in the key set")
    if len(keyset.keys) >= MAX_KEYS:
        raise RotationError(f"the key set already holds {MAX_KEYS} keys: retire one first")
    return SessionKeySet(active_kid=keyset.active_kid, keys=(*keyset.keys, key))


def promote_key(keyset: SessionKeySet, kid: str) -> SessionKeySet:
    """The set with ``kid`` as the signing key."""
    if all(k.kid != kid for k in keyset.keys):
        raise RotationError(f"kid {kid!r} is not in the key set")
    return SessionKeySet(active_kid=kid, keys=keyset.keys)


def retire_key(keyset: SessionKeySet, kid: str) -> SessionKeySet:
    """The set without ``kid`` (tokens it signed stop verifying). The active key cannot be retired."""
    if kid == keyset.active_kid:
        raise RotationError(f"kid {kid!r} is the active key: promote another key first")
    if all(k.kid != kid for k in keyset.keys):
        raise RotationError(f"kid {kid!r} is not in the key set")
    return SessionKeySet(active_kid=keyset.active_kid, keys=tuple(k for k in keyset.keys if k.kid != kid))


def replace_all(keyset: SessionKeySet, key: SessionKey) -> SessionKeySet:
    """Emergency rotation: ``key`` alone, active (every token signed by another key stops verifying)."""
    if any(k.kid == key.kid for k in keyset.keys):
        raise RotationError(f"kid {key.kid!r} is already in the key set")
    return SessionKeySet(active_kid=key.kid, keys=(key,))


def describe(keyset: SessionKeySet) -> list[dict[str, str | bool]]:
    """One row per key (kid and whether it signs); never the key material."""
    return [{"kid": k.kid, "active": k.kid == keyset.active_kid} for k in keyset.keys]
