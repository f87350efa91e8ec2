"""Rate-limit arithmetic for the workflow's DynamoDB RateCheck steps (the counting itself is done by DynamoDB).

Window semantics: fixed windows aligned to the epoch (``window_start = now - now % window``). A counter item
per (user, tier, window) is incremented with ``ADD hits :one`` under ``hits < :limit``; a failed condition
means throttled, and a throttled call does not consume budget. Exactness: within one window at most
``limit`` calls are admitted, whatever the concurrency. Edge bound: a burst straddling a boundary can admit
up to ``2 * limit`` calls in any sliding span of one window length. Items carry ``expires_at`` for TTL
clean-up, but correctness never depends on TTL: the key embeds the window start, so an old item is never
read again.
"""

from __future__ import annotations

from .models import Tier


def window_start(now: float, window_seconds: int) -> int:
    whole = int(now)
    return whole - whole % window_seconds


def counter_key(email: str, scope: Tier | str, now: float, window_seconds: int) -> str:
    scope_name = scope.value if isinstance(scope, Tier) else scope
    return f"u#{email.lower()}#{scope_name}#{window_seconds}#{window_start(now, window_seconds)}"


def retry_after(now: float, window_seconds: int) -> int:
    return max(1, window_start(now, window_seconds) + window_seconds - int(now))


def expires_at(now: float, window_seconds: int) -> int:
    """TTL for the counter item: one full window after the window ends (plus skew allowance)."""
    return window_start(now, window_seconds) + 2 * window_seconds + 60
