"""The quota plan: for one user at one instant, every quota that applies (each rate tier with the user's group
overrides, the global per-user ceiling, the bytes-per-day and objects-per-window data budgets), its limit,
window and the counter item that holds its use. Pure; shared by the ``whoami`` tool and ``mcp-gateway quota``,
so the two can never disagree. The counters are read through ``ports.QuotaStorePort`` (by key, never a scan).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from . import ratelimit
from .models import Tier
from .policy import Policy
from .ports import QuotaStorePort

QuotaKind = Literal["rate", "data"]


@dataclass(frozen=True, slots=True)
class QuotaLine:
    """One quota: ``scope`` is a tier (read, list, write), ``all``, ``bytes`` or ``objects``."""

    scope: str
    name: str  # the CLI's label: tier:<tier>, global, bytes_per_day, objects_per_window
    kind: QuotaKind
    limit: int
    window_seconds: int
    window_start: int
    resets_in_seconds: int
    key: str  # the counter item's pk in the rate-limit table
    attribute: str  # the counter attribute: hits, bytes_used or objects


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    line: QuotaLine
    used: int | None  # None: the counter could not be read (never guessed as "unused")

    @property
    def remaining(self) -> int | None:
        return None if self.used is None else max(0, self.line.limit - self.used)

    @property
    def full(self) -> bool:
        return bool(self.line.limit) and self.remaining == 0


def _line(
    scope: Tier | str, name: str, kind: QuotaKind, limit: int, window: int, attribute: str, email: str, now: float
) -> QuotaLine:
    return QuotaLine(
        scope=scope.value if isinstance(scope, Tier) else scope,
        name=name,
        kind=kind,
        limit=limit,
        window_seconds=window,
        window_start=ratelimit.window_start(now, window),
        resets_in_seconds=ratelimit.retry_after(now, window),
        key=ratelimit.counter_key(email, scope, now, window),
        attribute=attribute,
    )


def quota_plan(policy: Policy, email: str, groups: Sequence[str], now: float) -> list[QuotaLine]:
    """Every quota for ``email`` (with ``groups``' overrides) at ``now``: the tiers, ``all``, bytes, objects.
    The keys are the ones the workflow's conditional updates write (``domain/ratelimit.py``)."""
    lines: list[QuotaLine] = []
    for tier in Tier:
        limit = policy.tier_limit(tier, groups)
        lines.append(_line(tier, f"tier:{tier.value}", "rate", limit.limit, limit.window_seconds, "hits", email, now))
    overall = policy.rate_limits.global_per_user
    lines.append(_line("all", "global", "rate", overall.limit, overall.window_seconds, "hits", email, now))
    budgets = policy.data_budgets
    lines.append(
        _line("bytes", "bytes_per_day", "data", budgets.bytes_per_day, ratelimit.DAY_SECONDS, "bytes_used", email, now)
    )
    lines.append(
        _line(
            "objects",
            "objects_per_window",
            "data",
            budgets.objects_per_window,
            budgets.window_seconds,
            "objects",
            email,
            now,
        )
    )
    return lines


def measure(plan: Sequence[QuotaLine], store: QuotaStorePort | None) -> tuple[list[QuotaUsage], bool]:
    """Each line's use read from ``store``; ``(usages, complete)``. A counter that cannot be read (or no store
    at all) is reported with ``used=None`` and ``complete=False``: the limits are still known."""
    usages: list[QuotaUsage] = []
    complete = store is not None
    for line in plan:
        used: int | None = None
        if store is not None:
            try:
                used = store.used(line.key, line.attribute)
            except Exception:  # noqa: BLE001 - report the limits without the use; never guess "unused"
                complete = False
        usages.append(QuotaUsage(line, used))
    return usages, complete
