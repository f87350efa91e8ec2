"""Streaming redaction keeps memory flat: paging a 50 MB object peaks under twice what paging a 1 MB one does."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

from mcp_gateway.domain.redaction import RedactionConfig, Redactor

# A log block with a secret in it, so that detections open and close across chunk boundaries as they would
_BLOCK = (
    "2026-11-24T10:00:00.000Z INFO orders request completed status 200 in 12 ms for the checkout page\n" * 400
    + "2026-11-24T10:00:00.000Z WARN retrying with DB_PASSWORD=Tr0ub4dor&3-horse-battery region=eu-west-1\n"
).encode()


def _object(mb: int) -> bytes:
    return _BLOCK * (mb * 1024 * 1024 // len(_BLOCK) + 1)


def _pages(body: bytes, size: int = 65_536) -> Iterator[str]:
    """The object read in pages (as S3's streaming body yields them)."""
    for start in range(0, len(body), size):
        yield body[start : start + size].decode("utf-8", "replace")


def _peak_while_paging(redactor: Redactor, body: bytes) -> tuple[int, int]:
    tracemalloc.start()
    try:
        redacted = 0
        for result in redactor.redact_stream(_pages(body)):
            redacted += result.counts.get("password", 0)
        return tracemalloc.get_traced_memory()[1], redacted
    finally:
        tracemalloc.stop()


def test_paging_a_50_mb_object_peaks_under_twice_the_memory_of_a_1_mb_one() -> None:
    redactor = Redactor(RedactionConfig())
    small, large = _object(1), _object(50)  # allocated before tracing: the object is S3's, not ours

    small_peak, small_found = _peak_while_paging(redactor, small)
    large_peak, large_found = _peak_while_paging(redactor, large)

    print(f"\npeak while paging: 1 MB -> {small_peak / 1024:.0f} KB, 50 MB -> {large_peak / 1024:.0f} KB")
    assert small_found > 0 and large_found >= 49 * small_found  # every page was really redacted
    assert large_peak < 2 * small_peak
