"""Streaming redaction: large texts and streams of chunks in bounded pieces, with linear time.

Each piece is scanned together with an overlap (so a secret spanning a chunk boundary is still caught)
and with a little context from before it, and a piece is only cut where no detection is open
(preferably at a newline). A single detection larger than the carry limit forces a cut.

The engine supplies the two halves of the work: ``detect`` (the merged detections of a text, in its
offsets) and ``render`` (the redacted text of ``text[lo:hi]`` and the count of each type replaced).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Final

from .rules import Span, ascii_rx

__all__ = ["Detect", "Render", "redact_pieces", "slices"]

#: The merged detections in a text, in that text's offsets.
Detect = Callable[[str], list[Span]]
#: The redacted form of ``text[lo:hi]`` given its detections, and how many values of each type were replaced.
Render = Callable[[str, list[Span], int, int], tuple[str, dict[str, int]]]

# Stream tuning: pieces are scanned with an overlap; cut points avoid open detections.
_PIECE: Final = 256 * 1024
_OVERLAP: Final = 16 * 1024
_CONTEXT: Final = 1024
_MAX_CARRY: Final = 4 * 1024 * 1024
STREAM_THRESHOLD: Final = 2 * 1024 * 1024

_SAFE_BREAK_RX: Final = ascii_rx(r"[\s,;]")


def _safe_cut(text: str, off: int, spans: list[Span]) -> int:
    """Where to end the emitted piece: before the overlap, at a line or word break, outside spans."""
    target = len(text) - _OVERLAP
    if target <= off:
        return off
    nl = text.rfind("\n", max(off, target - 65536), target)
    if nl >= 0:
        cut = nl + 1
    else:
        cut = target
        window = text[max(off, target - 4096) : target]
        for i in range(len(window) - 1, -1, -1):
            if _SAFE_BREAK_RX.match(window[i]):
                cut = max(off, target - 4096) + i + 1
                break
    for sp in spans:
        if sp.start >= cut:
            break
        if sp.start < cut < sp.end:
            cut = sp.start
            break
    return cut


def slices(text: str) -> Iterator[str]:
    """A very large string as a stream of pieces (bounded memory)."""
    return (text[i : i + _PIECE] for i in range(0, len(text), _PIECE))


def redact_pieces(chunks: Iterable[str], detect: Detect, render: Render) -> Iterator[tuple[str, dict[str, int]]]:
    """Redacted pieces (text, counts) whose concatenation is the redacted stream (not one per input chunk)."""
    buf = ""
    ctx = ""
    for chunk in chunks:
        if not chunk:
            continue
        for i in range(0, len(chunk), _PIECE):
            buf += chunk[i : i + _PIECE]
            if len(buf) >= _PIECE + _OVERLAP:
                result, buf, ctx = _emit(buf, ctx, detect, render, final=False)
                if result is not None:
                    yield result
    if buf:
        result, buf, ctx = _emit(buf, ctx, detect, render, final=True)
        if result is not None:
            yield result


def _emit(
    buf: str, ctx: str, detect: Detect, render: Render, *, final: bool
) -> tuple[tuple[str, dict[str, int]] | None, str, str]:
    text = ctx + buf
    off = len(ctx)
    spans = detect(text)
    if final:
        cut = len(text)
    else:
        cut = _safe_cut(text, off, spans)
        if cut <= off:
            if len(buf) <= _MAX_CARRY:
                return None, buf, ctx
            cut = len(text) - _OVERLAP  # a single detection larger than the carry: force
    out, counts = render(text, spans, off, cut)
    new_ctx = text[max(0, cut - _CONTEXT) : cut]
    return (out, counts), text[cut:], new_ctx
