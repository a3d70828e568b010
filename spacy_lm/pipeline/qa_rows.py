"""Docs → the reader's rows: the `qa` component's arrays, kept apart from the component.

A *row* is one question against one window of its context. The reader reads the non-space
tokens of both (``TokenVocab.doc_ids`` gives their ids and doc indices), so a span the model
returns in window positions maps back to doc tokens through ``positions``. Contexts longer than
``window`` tokens are read in overlapping windows that start every ``stride`` tokens (the last
one ends at the context's end); the component keeps the best span over all windows.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import LOWER, ORTH
from spacy.tokens import Doc
from thinc.api import Ops

from ..text.vocab import TokenVocab
from ..types import ReaderBatch


@dataclass
class ReaderInput:
    """One question or context: ids in the reader's vocabulary (and the LM features' one), the
    doc indices of the tokens read, and their form / lower-case hashes for the match features."""

    ids: numpy.ndarray
    lm_ids: Optional[numpy.ndarray]
    positions: numpy.ndarray
    orth: numpy.ndarray
    lower: numpy.ndarray


@dataclass
class Row:
    question: ReaderInput
    context: ReaderInput
    start: int  # window [start, end) in context positions
    end: int
    target: Optional[Tuple[int, int]] = None  # gold (start, end) inside the window, inclusive
    key: Tuple[int, ...] = ()  # where the row came from (the component's bookkeeping)


def reader_input(doc: Doc, vocab: TokenVocab, lm_vocab: Optional[TokenVocab], limit: Optional[int] = None
                 ) -> ReaderInput:
    ids, positions = vocab.doc_ids(doc)
    lm_ids = lm_vocab.doc_ids(doc)[0] if lm_vocab is not None else None
    if limit is not None and len(ids) > limit:
        ids, positions = ids[:limit], positions[:limit]
        lm_ids = lm_ids[:limit] if lm_ids is not None else None
    hashes = doc.to_array([ORTH, LOWER]).reshape(-1, 2)[positions]
    return ReaderInput(ids, lm_ids, positions, hashes[:, 0].copy(), hashes[:, 1].copy())


def context_windows(n: int, window: int, stride: int) -> List[Tuple[int, int]]:
    """``[start, end)`` windows covering ``n`` tokens: one if it fits, else starts every
    ``stride`` tokens, the last one moved back to end at ``n``."""
    if n <= window:
        return [(0, n)]
    starts = list(range(0, n - window, stride)) + [n - window]
    return [(s, s + window) for s in starts]


def token_features(question: ReaderInput, context: ReaderInput) -> numpy.ndarray:
    """(n, 3) per context token: its form is a question word, its lower-case form is, and its
    term frequency (count of its lower-case form in the context / context length)."""
    n = len(context.ids)
    features = numpy.zeros((n, 3), dtype="float32")
    if n == 0:
        return features
    features[:, 0] = numpy.isin(context.orth, question.orth)
    features[:, 1] = numpy.isin(context.lower, question.lower)
    _, inverse, counts = numpy.unique(context.lower, return_inverse=True, return_counts=True)
    features[:, 2] = counts[inverse.reshape(-1)] / float(n)
    return features


def reader_batch(ops: Ops, rows: Sequence[Row], features: Sequence[numpy.ndarray]) -> Tuple[ReaderBatch, List[int]]:
    """The rows as one time-major batch sorted by window length, longest first, and that order
    (``order[j]`` is the row at column ``j``). ``features[i]`` are row i's window features."""
    order = sorted(range(len(rows)), key=lambda i: -(rows[i].end - rows[i].start))
    c_lengths = numpy.asarray([rows[i].end - rows[i].start for i in order], dtype="int32")
    q_lengths = numpy.asarray([len(rows[i].question.ids) for i in order], dtype="int32")
    B, Tc, Tq = len(order), int(c_lengths.max()), int(q_lengths.max())
    with_lm = rows[0].context.lm_ids is not None
    q_ids = numpy.zeros((Tq, B), dtype="int32")
    c_ids = numpy.zeros((Tc, B), dtype="int32")
    feats = numpy.zeros((Tc, B, 3), dtype="float32")
    lm_q = numpy.zeros((Tq, B), dtype="int32") if with_lm else None
    lm_c = numpy.zeros((Tc, B), dtype="int32") if with_lm else None
    for j, i in enumerate(order):
        row = rows[i]
        nq, nc = q_lengths[j], c_lengths[j]
        q_ids[:nq, j] = row.question.ids
        c_ids[:nc, j] = row.context.ids[row.start: row.end]
        feats[:nc, j] = features[i]
        if with_lm:
            lm_q[:nq, j] = row.question.lm_ids
            lm_c[:nc, j] = row.context.lm_ids[row.start: row.end]
    as_ids = ops.asarray2i
    batch = ReaderBatch(as_ids(q_ids), ops.asarray1i(q_lengths), as_ids(c_ids), ops.asarray1i(c_lengths),
                        ops.asarray3f(feats), as_ids(lm_q) if with_lm else None, as_ids(lm_c) if with_lm else None)
    return batch, order


def window_features(row: Row) -> numpy.ndarray:
    """The match features of the row's window (term frequency over the whole context)."""
    return token_features(row.question, row.context)[row.start: row.end]
