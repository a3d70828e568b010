"""The best answer spans from start and end scores, by one vectorised search.

A span ``(i, j)`` (inclusive, ``0 <= j - i < max_length``) scores ``start[i] + end[j]`` in
log-probabilities. Instead of a Python double loop over ``i, j`` we lay out the ``max_length``
diagonals of the start x end table as one ``(B, max_length, T)`` array (row ``k`` holds the spans of
length ``k + 1``), mask those that run past the text, and take the top ``k`` of each row of the
batch: O(B * T * max_length) work, all in ``ops.xp``.
"""
from typing import Tuple

from thinc.api import Ops
from thinc.types import Floats2d, Ints1d, Ints3d

from .question_attention import MASKED


def best_spans(ops: Ops, start_logp: Floats2d, end_logp: Floats2d, lengths: Ints1d, max_length: int,
               top_k: int = 1) -> Tuple[Ints3d, Floats2d]:
    """``(B, T)`` start and end log-probabilities (entries past a row's length ignored) → the
    ``top_k`` spans per row ``(B, k, 2)`` (start, end inclusive) and their log-probabilities
    ``(B, k)``, best first. ``k`` is ``min(top_k, spans available)``; a row with fewer real spans
    repeats its last one with log-probability ``MASKED``."""
    xp = ops.xp
    B, T = start_logp.shape
    L = max(1, min(int(max_length), T))
    lengths = xp.asarray(lengths).reshape(B, 1)
    positions = xp.arange(T).reshape(1, T)
    table = xp.full((B, L, T), MASKED, dtype=start_logp.dtype)
    for width in range(L):  # L (<= max_length) vectorised rows, not T * L scalar steps
        table[:, width, : T - width] = start_logp[:, : T - width] + end_logp[:, width:]
        ends_inside = (positions + width) < lengths
        table[:, width] = xp.where(ends_inside, table[:, width], MASKED)
    flat = table.reshape(B, L * T)
    k = max(1, min(int(top_k), L * T))
    if k == 1:
        best = flat.argmax(axis=1).reshape(B, 1)
    else:
        part = xp.argpartition(-flat, k - 1, axis=1)[:, :k]
        order = xp.argsort(-xp.take_along_axis(flat, part, axis=1), axis=1)
        best = xp.take_along_axis(part, order, axis=1)
    scores = xp.take_along_axis(flat, best, axis=1)
    widths, starts = best // T, best % T
    spans = xp.stack([starts, starts + widths], axis=-1).astype("int32")
    return spans, scores
