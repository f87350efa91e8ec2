"""Quota arithmetic for the workflow's DynamoDB steps (the counting itself is done by DynamoDB). Pure.

Window semantics (docs/quotas.md): fixed windows aligned to the epoch, ``window_start = now - now % window``.
One counter item per (user, scope, window length, window start) is incremented with ``ADD hits :one`` under
the condition ``attribute_not_exists(hits) OR hits < :limit``; a failed condition means throttled, and a
throttled call does not consume budget.

- Exactness: each counter item admits at most ``limit`` calls, whatever the concurrency (one conditional
  UpdateItem is atomic in DynamoDB). A limit of 0 never reaches DynamoDB: the validator throttles it.
- Edge bound: calls admitted in any span of ``span`` seconds are at most ``limit * windows_touched(...)``;
  without clock skew a span of one window touches at most 2 windows (the classic ``2 * limit`` burst
  straddling a boundary). Validators whose clocks are off by up to ``skew`` seconds widen each window's
  true-time footprint by ``skew`` on both sides, so a span of one window can touch 3 windows, while a span of
  ``window - 2 * skew`` still touches at most 2.
- TTL: items carry ``expires_at`` for clean-up, but correctness never depends on TTL: the key embeds the
  window start, so an expired-but-not-yet-deleted item is never read again.

Data budgets use the same table and the same keys: bytes returned per user per UTC day (checked before the
call, added after it) and objects read per window (counted like a tier).
"""

from __future__ import annotations

import math

from .models import Tier

DAY_SECONDS = 86_400
TTL_SKEW_ALLOWANCE = 60


def window_start(now: float, window_seconds: int) -> int:
    whole = math.floor(now)
    return whole - whole % window_seconds


def counter_key(email: str, scope: Tier | str, now: float, window_seconds: int) -> str:
    """``u#<email>#<scope>#<window length>#<window start>``; scope: a tier, ``all``, ``bytes``, ``objects``."""
    scope_name = scope.value if isinstance(scope, Tier) else scope
    return f"u#{email.lower()}#{scope_name}#{window_seconds}#{window_start(now, window_seconds)}"


def retry_after(now: float, window_seconds: int) -> int:
    """Whole seconds until the current window ends (at least 1)."""
    return max(1, window_start(now, window_seconds) + window_seconds - math.floor(now))


def expires_at(now: float, window_seconds: int) -> int:
    """TTL for the counter item: one full window after the window ends (plus skew allowance)."""
    return window_start(now, window_seconds) + 2 * window_seconds + TTL_SKEW_ALLOWANCE


def windows_touched(span_seconds: float, window_seconds: int, skew_seconds: float = 0.0) -> int:
    """How many counter windows the calls made during any ``span_seconds`` of true time can fall into.

    A call at true time ``t`` is keyed by a validator clock reading ``t + e`` with ``|e| <= skew``, so window
    ``k`` holds calls from true times in ``[k*W - skew, (k+1)*W + skew)``. A half-open span ``[a, a + L)``
    meets window ``k`` iff ``k*W`` lies in the open interval ``(a - W - skew, a + L + skew)`` of length
    ``L + W + 2*skew``, which holds at most ``ceil((L + 2*skew) / W) + 1`` multiples of ``W``.
    """
    if span_seconds <= 0:
        return 0
    return math.ceil((span_seconds + 2 * skew_seconds) / window_seconds) + 1


def edge_bound(limit: int, span_seconds: float, window_seconds: int, skew_seconds: float = 0.0) -> int:
    """The documented upper bound of calls admitted in any ``span_seconds`` of true time."""
    return limit * windows_touched(span_seconds, window_seconds, skew_seconds)


def day_key(email: str, now: float) -> str:
    """The data-budget counter of bytes returned to one user during one UTC day."""
    return counter_key(email, "bytes", now, DAY_SECONDS)
