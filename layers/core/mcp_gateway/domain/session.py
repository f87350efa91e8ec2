"""Session behaviour: what one principal did recently, and the thresholds that send the next call to review.

A *session* is the requester's recent activity per principal (the IdP subject, ``Principal.sub``), over a
sliding window the policy sets (``session.window_seconds``, e.g. 60 minutes). It is not a token: a refreshed
or newly minted token carries the same subject, so it never resets the session.

The window is kept as ``slices`` fixed sub-windows (one DynamoDB item each, in the rate-limit table, with a
TTL), so "the last hour" is the union of the current slice and the ones before it. Every item holds only
*hashes* of resource names (string sets, added with an atomic ``ADD``) and flags (``SET``): nothing a
caller could read back from the table names a bucket, key or log group.

What is recorded per call (:func:`observe`):

- ``b`` distinct buckets whose objects were listed or read; ``o`` distinct objects read; ``g`` distinct log
  groups read; ``k`` distinct secret-looking object keys read; ``w`` objects the agent wrote itself;
  ``ro`` objects read (to tell an untrusted read from reading back one's own write);
- ``e`` a catalogue enumeration happened (``s3:ListAllMyBuckets``, ``logs:DescribeLogGroups``);
- ``lr`` log content was read (logs are written by others: untrusted).

What trips (:func:`session_verdict`), evaluated on the state *before* the call plus the call itself:

- fan-out: a call that adds a new distinct bucket/object/log group/secret-looking key beyond its threshold
  (lower after an enumeration: list-then-read-everything);
- write after untrusted read: a write while the window holds a read of content the agent did not write.

Pure: the adapter (``adapters/session_store.py``) reads and writes the items; this module only names them,
merges them and decides.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .models import ActionRequest, StrictModel

ActionId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,40}:[A-Za-z0-9]{2,100}$")]
KeyPattern = Annotated[str, StringConstraints(min_length=1, max_length=200)]
KEY_PREFIX = "session#"

_DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    r"(?i)(^|[/_.-])(secrets?|passwords?|passwd|credentials?|creds|tokens?|api[_-]?keys?|private[_-]?key)([/_.-]|$)",
    r"(?i)\.(pem|key|p12|pfx|jks|kdbx|ppk)$",
    r"(?i)(^|/)(id_rsa|id_ed25519|id_ecdsa|\.env|\.netrc|\.npmrc|\.pgpass|kubeconfig|htpasswd)([./]|$)",
)


class SessionPolicy(StrictModel):
    """The ``session`` section of the policy: the window and the behaviour thresholds."""

    window_seconds: int = Field(default=3600, ge=60, le=86_400)
    slices: int = Field(default=6, ge=1, le=24, description="sub-windows (DynamoDB items) the window is kept in")
    max_distinct_buckets: int = Field(default=4, ge=1, le=10_000)
    max_distinct_buckets_after_enumeration: int = Field(default=2, ge=1, le=10_000)
    max_distinct_objects: int = Field(default=25, ge=1, le=100_000)
    max_distinct_log_groups: int = Field(default=20, ge=1, le=10_000)
    max_distinct_log_groups_after_enumeration: int = Field(default=12, ge=1, le=10_000)
    max_secret_like_keys: int = Field(default=2, ge=0, le=10_000)
    on_threshold: Literal["review", "throttle"] = "review"
    review_writes_after_untrusted_reads: bool = True
    secret_key_patterns: tuple[KeyPattern, ...] = _DEFAULT_SECRET_KEYS
    enumeration_actions: tuple[ActionId, ...] = ("s3:ListAllMyBuckets", "logs:DescribeLogGroups")
    log_read_actions: tuple[ActionId, ...] = (
        "logs:FilterLogEvents",
        "logs:GetLogEvents",
        "logs:StartQuery",
        "logs:GetQueryResults",
    )
    object_read_actions: tuple[ActionId, ...] = ("s3:GetObject", "s3:GetObjectVersion")
    object_write_actions: tuple[ActionId, ...] = ("s3:PutObject",)

    @cached_property
    def _observations(self) -> dict[tuple[str, tuple[str, ...], bool], Observation]:
        return {}

    @cached_property
    def _secret_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.secret_key_patterns)

    def secret_like(self, key: str) -> bool:
        return any(p.search(key) for p in self._secret_res)

    @property
    def slice_seconds(self) -> int:
        return max(1, self.window_seconds // self.slices)


def digest(value: str) -> str:
    """The 16-hex-digit SHA-256 prefix a resource name is stored as."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def principal_key(sub: str) -> str:
    return digest(f"sub:{sub}") + digest(f"sub2:{sub}")


def slice_keys(sub: str, now: float, policy: SessionPolicy) -> list[str]:
    """The item keys of the window ending at ``now``, current slice first."""
    size = policy.slice_seconds
    current = int(now) // size * size
    count = -(-policy.window_seconds // size) + 1  # the oldest slice is partly inside the window
    who = principal_key(sub)
    return [f"{KEY_PREFIX}{who}#{current - i * size}" for i in range(count)]


def slice_expires_at(now: float, policy: SessionPolicy) -> int:
    size = policy.slice_seconds
    return int(now) // size * size + size + policy.window_seconds + 60


SET_FIELDS = ("b", "o", "g", "k", "w", "ro")
FLAG_FIELDS = ("e", "lr")


@dataclass(frozen=True)
class SessionState:
    """The merged window: hashed resource sets and flags. ``known=False``: the state was not read (explain)."""

    buckets: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()
    log_groups: frozenset[str] = frozenset()
    secret_keys: frozenset[str] = frozenset()
    written: frozenset[str] = frozenset()
    read_objects: frozenset[str] = frozenset()
    enumerated: bool = False
    logs_read: bool = False
    known: bool = True

    @classmethod
    def from_items(cls, items: Iterable[Mapping[str, Any]], now: float, policy: SessionPolicy) -> SessionState:
        """Merge plain items (``{"b": [...], "e": 1, "slice": start}``) of the window ending at ``now``."""
        sets: dict[str, set[str]] = {name: set() for name in SET_FIELDS}
        flags = dict.fromkeys(FLAG_FIELDS, False)
        oldest = now - policy.window_seconds - policy.slice_seconds
        for item in items:
            start = item.get("slice")
            if isinstance(start, int | float) and not isinstance(start, bool) and start < oldest:
                continue
            for name in SET_FIELDS:
                values = item.get(name) or ()
                sets[name].update(v for v in values if isinstance(v, str))
            for name in FLAG_FIELDS:
                flags[name] = flags[name] or bool(item.get(name))
        return cls(
            buckets=frozenset(sets["b"]),
            objects=frozenset(sets["o"]),
            log_groups=frozenset(sets["g"]),
            secret_keys=frozenset(sets["k"]),
            written=frozenset(sets["w"]),
            read_objects=frozenset(sets["ro"]),
            enumerated=flags["e"],
            logs_read=flags["lr"],
        )

    @property
    def untrusted_read(self) -> bool:
        """Content the agent did not write was read: log events, or an object it did not put itself."""
        return self.logs_read or bool(self.read_objects - self.written)


UNKNOWN_STATE = SessionState(known=False)


@dataclass(frozen=True)
class Observation:
    """What one call adds to its principal's session (hashes only)."""

    sets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.flags and not any(self.sets.values())

    def as_update(self) -> dict[str, list[str] | int]:
        """The item attributes to add: string sets (sorted) and flags set to 1."""
        out: dict[str, list[str] | int] = {name: sorted(v) for name, v in self.sets.items() if v}
        out.update(dict.fromkeys(sorted(self.flags), 1))
        return out


_S3_ARN = re.compile(r"^arn:[^:]+:s3:::([^/]+)(?:/(.*))?$")
_LOG_ARN = re.compile(r"^arn:[^:]+:logs:[^:]*:[^:]*:log-group:([^:]+)")


MAX_REMEMBERED_OBSERVATIONS = 4096
"""A session policy remembers the observations of at most this many (action, resources, write) calls."""


def observe(request: ActionRequest, policy: SessionPolicy, *, write: bool) -> Observation:
    """The session facts of one call, from its action and resources (never from its wording). They depend on
    nothing else, so the policy remembers them for calls that repeat an action on the same resources (the
    observation is immutable: its sets are frozen and read through a read-only mapping)."""
    question = (request.action, tuple(request.resources), write)
    remembered = policy._observations
    found = remembered.get(question)
    if found is None:
        found = _observe(request.action, request.resources, policy, write=write)
        if len(remembered) >= MAX_REMEMBERED_OBSERVATIONS:
            remembered.clear()
        remembered[question] = found
    return found


def _observe(action: str, resources: Sequence[str], policy: SessionPolicy, *, write: bool) -> Observation:
    sets: dict[str, set[str]] = {name: set() for name in SET_FIELDS}
    flags: set[str] = set()
    if action in policy.enumeration_actions:
        flags.add("e")
    if action in policy.log_read_actions:
        flags.add("lr")
    for resource in resources:
        s3 = _S3_ARN.match(resource)
        if s3:
            bucket, key = s3.group(1), s3.group(2)
            if key is None and action == "s3:ListBucket":
                sets["b"].add(digest(bucket))
            elif key is not None and action in policy.object_read_actions:
                name = digest(f"{bucket}/{key}")
                sets["b"].add(digest(bucket))
                sets["o"].add(name)
                sets["ro"].add(name)
                if policy.secret_like(key):
                    sets["k"].add(name)
            elif key is not None and write and action in policy.object_write_actions:
                sets["w"].add(digest(f"{bucket}/{key}"))
            continue
        log = _LOG_ARN.match(resource)
        if log and action in policy.log_read_actions and log.group(1) != "*":
            sets["g"].add(digest(log.group(1)))
    return Observation(MappingProxyType({k: frozenset(v) for k, v in sets.items() if v}), frozenset(flags))


@dataclass(frozen=True)
class SessionVerdict:
    """A session rule that tripped: its id, the behaviour (no resource names), and the hint."""

    rule_id: str
    behaviour: str
    hint: str
    throttle: bool = False


def _fan_out(
    rule_id: str, noun: str, seen: frozenset[str], new: frozenset[str], limit: int, window: int, enumerated: bool
) -> SessionVerdict | None:
    added = new - seen
    if not added or len(seen | added) <= limit:
        return None
    after = " after a catalogue listing" if enumerated else ""
    return SessionVerdict(
        rule_id,
        f"{len(seen | added)} distinct {noun} in {window // 60} min{after} (threshold {limit})",
        f"this session reads across many {noun}; a human approves further {noun}, or wait for the window "
        f"({window // 60} min) to pass; ask for the one {noun[:-1]} you need",
    )


def session_verdict(
    policy: SessionPolicy, state: SessionState, obs: Observation, *, write: bool
) -> tuple[SessionVerdict | None, list[str]]:
    """The first session rule this call trips (or None), and the session signals for the audit record."""
    signals: list[str] = []
    if not state.known:
        return None, signals
    window = policy.window_seconds
    if state.enumerated:
        signals.append("session.enumerated")
    if state.untrusted_read:
        signals.append("session.untrusted-read")
    if write and policy.review_writes_after_untrusted_reads and state.untrusted_read:
        return (
            SessionVerdict(
                "session.write-after-untrusted-read",
                f"a write after this session read content it did not write (logs or objects) in the last "
                f"{window // 60} min",
                "a human approves writes that follow reads of untrusted content (prompt-injection defence); "
                "or make the write in a session that has not read logs or foreign objects",
            ),
            signals,
        )
    enumerated = state.enumerated or "e" in obs.flags
    checks: Sequence[tuple[str, str, str, int]] = (
        (
            "session.fan-out.buckets",
            "buckets",
            "b",
            policy.max_distinct_buckets_after_enumeration if enumerated else policy.max_distinct_buckets,
        ),
        ("session.fan-out.objects", "objects", "o", policy.max_distinct_objects),
        (
            "session.fan-out.log-groups",
            "log groups",
            "g",
            policy.max_distinct_log_groups_after_enumeration if enumerated else policy.max_distinct_log_groups,
        ),
        ("session.secret-like-keys", "secret-looking keys", "k", policy.max_secret_like_keys),
    )
    current = {
        "b": state.buckets,
        "o": state.objects,
        "g": state.log_groups,
        "k": state.secret_keys,
    }
    for rule_id, noun, name, limit in checks:
        new = obs.sets.get(name, frozenset())
        verdict = _fan_out(rule_id, noun, current[name], new, limit, window, enumerated)
        if verdict is not None:
            if policy.on_threshold == "throttle":
                verdict = SessionVerdict(verdict.rule_id, verdict.behaviour, verdict.hint, throttle=True)
            return verdict, signals
    return None, signals


__all__ = [
    "KEY_PREFIX",
    "UNKNOWN_STATE",
    "Observation",
    "SessionPolicy",
    "SessionState",
    "SessionVerdict",
    "digest",
    "observe",
    "principal_key",
    "session_verdict",
    "slice_expires_at",
    "slice_keys",
]
