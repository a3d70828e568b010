"""Interpolated modified Kneser-Ney estimation of an :class:`.model.NGramModel`, in numpy.

Estimation follows KenLM's ``lmplz`` (``lm/builder``: adjust_counts, initial_probabilities,
interpolate), so models agree with lmplz up to float rounding:

* Each sentence is ``<s> w1 ... wn </s>``; ``<s>`` is only ever context, never predicted.
* The highest order keeps raw counts. Lower orders use adjusted (continuation) counts: the
  number of distinct words seen to the left, except n-grams starting with ``<s>``, which
  keep their raw counts (nothing can precede ``<s>``).
* Three discounts per order, D1, D2, D3+, from counts-of-counts n1..n4 of those counts
  (Chen & Goodman eq. 26): ``D_j = j - (j + 1) Y n_{j+1} / n_j`` with ``Y = n1 / (n1 + 2 n2)``.
  When they cannot be estimated (tiny data) a fallback (lmplz's ``--discount_fallback``,
  0.5 1 1.5) is used, or an error is raised.
* ``p(w | h) = (c(hw) - D(c(hw))) / c(h.) + gamma(h) p(w | h')`` with
  ``gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3 N3+(h.)) / c(h.)``; unigrams interpolate with the
  uniform distribution over the vocabulary (``<unk>`` and ``</s>`` included, ``<s>`` not),
  so a never-seen ``<unk>`` gets ``gamma / |V|`` as in lmplz. ``<s>`` has log10 prob -99.
* The backoff weight of an n-gram is ``log10 gamma`` when it is a context, 0 otherwise.
* Optional pruning (lmplz ``--prune``): n-grams of order >= 2 whose raw count is at most the
  order's threshold are dropped; their mass goes to the context's backoff so every
  distribution still sums to 1. Discounts are estimated before pruning, as lmplz does.
"""
import logging
import math
from typing import List, Optional, Sequence, Tuple

import numpy

from ..errors import Errors, Warnings
from .model import BOS_LOG10, NGramModel

DEFAULT_FALLBACK = (0.5, 1.0, 1.5)  # lmplz --discount_fallback defaults
logger = logging.getLogger("spacy")  # spaCy's logger: shown by `spacy assemble/train`


def sentence_stream(inputs: numpy.ndarray, targets: numpy.ndarray, eos_id: int, bos_id: int) -> numpy.ndarray:
    """The id stream of ``spacy_lm.batching.prepare_doc`` output as sentences: every input ``<eos>``
    (the doc start, and any ``<eos>`` marker inside a doc) becomes a ``<s>`` before the
    next target, so contexts restart at each sentence as in KenLM."""
    inputs = numpy.asarray(inputs, dtype="int64")
    targets = numpy.asarray(targets, dtype="int64")
    if len(targets) == 0:
        return numpy.zeros(0, dtype="int64")
    starts = inputs == eos_id
    shift = numpy.cumsum(starts)
    where = numpy.arange(len(targets)) + shift
    stream = numpy.empty(len(targets) + int(shift[-1]), dtype="int64")
    stream[where] = targets
    stream[where[starts] - 1] = bos_id
    return stream


def check_prune(prune: Sequence[int], order: int) -> List[int]:
    """Per-order raw-count thresholds (lmplz ``--prune``): non-decreasing, unigrams never
    pruned, the last value repeated for higher orders; empty means no pruning."""
    values = [int(v) for v in prune] or [0]
    if any(v < 0 for v in values) or values[0] != 0 or any(b < a for a, b in zip(values, values[1:])):
        raise ValueError(Errors.E013.format(prune=list(prune)))
    return (values + [values[-1]] * order)[:order]


FALLBACK_RANGE = ("null or [D1, D2, D3+] with 0 < D1 <= 1, 0 < D2 <= 2 and 0 < D3+ <= 3 (an n-gram seen c "
                  "times keeps c - D of its count: a larger D makes negative probabilities, NaN log-probs; "
                  "D = 0 leaves unseen words probability 0)")


def check_discount_fallback(fallback: Optional[Sequence[float]]) -> Optional[List[float]]:
    """``fallback`` as floats, or E009 naming ``discount_fallback`` and its range. The range is
    what keeps every probability of ``estimate`` positive and finite: with ``D_j <= j`` no
    discounted count ``c - D(c)`` is negative, and with ``D_j > 0`` every context hands some mass
    (gamma > 0) to the lower order, down to the uniform distribution under the unigrams."""
    if fallback is None:
        return None
    values = list(fallback) if isinstance(fallback, (list, tuple)) else None
    ok = values is not None and len(values) == 3 and all(
        isinstance(v, (int, float, numpy.number)) and not isinstance(v, bool) and math.isfinite(v) and 0 < v <= j
        for j, v in enumerate(values, start=1))
    if not ok:
        raise ValueError(Errors.E009.format(setting="discount_fallback", requirement=FALLBACK_RANGE, value=fallback))
    return [float(v) for v in values]


def _discounts(counts: numpy.ndarray, order: int, fallback: Optional[Sequence[float]]) -> List[float]:
    n = numpy.bincount(numpy.minimum(counts, 5), minlength=6)[:5].astype("float64")
    ok = all(n[j] > 0 for j in (1, 2, 3))
    amounts = []
    if ok:
        y = n[1] / (n[1] + 2.0 * n[2])
        for j in (1, 2, 3):
            d = j - (j + 1) * y * n[j + 1] / n[j]
            ok = ok and 0.0 <= d <= j
            amounts.append(float(d))
    if ok:
        return amounts
    if fallback is None:
        raise ValueError(Errors.E012.format(order=order, n=[int(x) for x in n[1:5]]))
    logger.warning(Warnings.W001.format(order=order, n=[int(x) for x in n[1:5]], fallback=list(fallback)))
    return [float(x) for x in fallback]


def estimate(stream: numpy.ndarray, n_vocab: int, order: int = 5, *, prune: Sequence[int] = (),
             discount_fallback: Optional[Sequence[float]] = DEFAULT_FALLBACK) -> NGramModel:
    """Count n-grams in a sentence stream (see ``sentence_stream``; ids < n_vocab, ``<s>`` =
    n_vocab) and estimate an interpolated modified Kneser-Ney model, as lmplz does.
    Counting is one ``numpy.unique`` per order over packed (prefix row, word) keys."""
    if order < 1:
        raise ValueError(Errors.E009.format(setting="order", requirement="at least 1", value=order))
    thresholds = check_prune(prune, order)
    discount_fallback = check_discount_fallback(discount_fallback)
    stream = numpy.asarray(stream, dtype="int32")
    keys, raw, suffix, starts_bos = _count(stream, n_vocab, order)
    counts = _adjusted_counts(keys, raw, suffix, starts_bos, n_vocab)
    del starts_bos
    discounts = [_discounts(counts[k], k + 1, discount_fallback) for k in range(order)]
    logprob, backoff, keep = _interpolate(keys, raw, counts, suffix, discounts, thresholds, n_vocab)
    model = NGramModel(n_vocab=n_vocab, keys=keys, logprob=logprob, backoff=backoff, discounts=discounts)
    return _apply_pruning(model, keep) if keep else model


def _count(stream: numpy.ndarray, n_vocab: int, order: int) -> Tuple[List[numpy.ndarray], List[numpy.ndarray],
                                                                 List[Optional[numpy.ndarray]], List[numpy.ndarray]]:
    """Per order: the sorted keys, raw counts, the suffix row of each n-gram (the (k-1)-gram
    ending where it ends) and whether it starts with ``<s>``. int32 throughout: memory is the
    limit, so every temporary is released as soon as it is used."""
    bos = n_vocab
    base = numpy.uint64(n_vocab + 1)
    extendable = stream != bos
    keys: List[numpy.ndarray] = [numpy.arange(n_vocab + 1, dtype="uint64")]
    raw: List[numpy.ndarray] = [numpy.bincount(stream, minlength=n_vocab + 1).astype("int32")]
    raw[0][bos] = 0
    suffix: List[Optional[numpy.ndarray]] = [None]
    starts_bos: List[numpy.ndarray] = [numpy.arange(n_vocab + 1) == bos]
    idx_prev = stream
    for k in range(2, order + 1):
        valid = numpy.zeros(len(stream), dtype="bool")
        valid[1:] = (idx_prev[:-1] >= 0) & extendable[1:]
        pos = numpy.flatnonzero(valid).astype("int32")
        del valid
        key = idx_prev[pos - 1].astype("uint64")
        key *= base
        key += stream[pos].astype("uint64")
        uniq, first, inv, cnt = numpy.unique(key, return_index=True, return_inverse=True, return_counts=True)
        del key
        suffix.append(idx_prev[pos[first]].astype("int32"))  # the (k-1)-gram ending where each k-gram ends
        del first
        idx = numpy.full(len(stream), -1, dtype="int32")
        idx[pos] = inv.reshape(-1)
        del inv, pos
        keys.append(uniq)
        raw.append(cnt.astype("int32"))
        del cnt
        starts_bos.append(starts_bos[-1][(uniq // base).astype("int64")])
        idx_prev = idx
        del idx
    del idx_prev
    return keys, raw, suffix, starts_bos


def _adjusted_counts(keys: List[numpy.ndarray], raw: List[numpy.ndarray], suffix: List[Optional[numpy.ndarray]],
                     starts_bos: List[numpy.ndarray], n_vocab: int) -> List[numpy.ndarray]:
    """Continuation counts below the top order, raw counts at the top and for ``<s>``-initial
    n-grams (nothing can precede ``<s>``)."""
    order = len(keys)
    bos = n_vocab
    counts = []
    for k in range(1, order + 1):
        if k == order:
            c = raw[k - 1]
        else:
            adjusted = numpy.bincount(suffix[k], minlength=len(keys[k - 1])).astype("int32")
            c = numpy.where(starts_bos[k - 1], raw[k - 1], adjusted)
            del adjusted
        if k == 1:
            c[bos] = 0
        counts.append(c)
    return counts


def _interpolate(keys: List[numpy.ndarray], raw: List[Optional[numpy.ndarray]], counts: List[Optional[numpy.ndarray]],
                 suffix: List[Optional[numpy.ndarray]], discounts: List[List[float]], thresholds: List[int],
                 n_vocab: int) -> Tuple[List[numpy.ndarray], List[numpy.ndarray], List[numpy.ndarray]]:
    """Initial probabilities, gammas and interpolation with the order below, one order at a
    time: log10 probabilities, log10 backoffs and (only when pruning) the rows each order
    keeps. Each order's counts are released (set to None in the lists) once it is done."""
    order = len(keys)
    bos = n_vocab
    base = numpy.uint64(n_vocab + 1)
    logprob: List[numpy.ndarray] = []
    backoff: List[numpy.ndarray] = []
    keep: List[numpy.ndarray] = []
    prune_any = any(t > 0 for t in thresholds)
    p_prev = None
    for k in range(1, order + 1):
        c = counts[k - 1]
        table = numpy.asarray([0.0] + discounts[k - 1])
        d = table[numpy.minimum(c, 3)]
        kept = raw[k - 1] > thresholds[k - 1] if k > 1 else numpy.ones(len(c), dtype="bool")
        if prune_any:
            keep.append(kept)
        lost = numpy.where(kept, d, c)  # mass moved to the backoff: discounts, and pruned counts
        del kept
        if k == 1:
            denom = float(c.sum())
            gamma0 = float(lost.sum()) / denom
            p = (c - d) / denom + gamma0 / n_vocab
            p[bos] = 0.0
        else:
            prefix = (keys[k - 1] // base).astype("int32")
            n_ctx = len(keys[k - 2])
            denom = numpy.bincount(prefix, weights=c, minlength=n_ctx)
            gnum = numpy.bincount(prefix, weights=lost, minlength=n_ctx)
            is_ctx = denom > 0
            gamma = numpy.ones(n_ctx)
            gamma[is_ctx] = gnum[is_ctx] / denom[is_ctx]
            del gnum
            p = c - d
            p /= denom[prefix]
            p += gamma[prefix] * p_prev[suffix[k - 1]]
            del prefix
            bo = numpy.zeros(n_ctx, dtype="float32")
            bo[is_ctx] = numpy.log10(gamma[is_ctx])
            backoff.append(bo)
        del d, lost
        suffix[k - 1] = None
        raw[k - 1] = None
        counts[k - 1] = None
        with numpy.errstate(divide="ignore"):
            logprob.append(numpy.log10(p).astype("float32"))
        p_prev = p
    del p_prev
    logprob[0][bos] = BOS_LOG10
    return logprob, backoff, keep


def _apply_pruning(model: NGramModel, keep: List[numpy.ndarray]) -> NGramModel:
    """Drop pruned rows and renumber prefixes. With non-decreasing raw-count thresholds every
    prefix of a kept n-gram is kept; a context left without continuations backs off with 0."""
    base = numpy.uint64(model.base)
    keys, logprob, backoff = [model.keys[0]], [model.logprob[0]], list(model.backoff)
    remap = numpy.arange(len(model.keys[0]), dtype="int64")
    for k in range(2, model.order + 1):
        kept = keep[k - 1].copy()
        old = model.keys[k - 1]
        prefix = (old // base).astype("int64")
        kept &= remap[prefix] >= 0
        new_prefix = remap[prefix[kept]]
        keys.append(new_prefix.astype("uint64") * base + old[kept] % base)
        logprob.append(model.logprob[k - 1][kept])
        remap = numpy.full(len(old), -1, dtype="int64")
        remap[kept] = numpy.arange(int(kept.sum()))
        if k < model.order:
            backoff[k - 1] = backoff[k - 1][kept]
    # A context whose continuations were all pruned keeps log10 gamma = log10 1 = 0.
    return NGramModel(n_vocab=model.n_vocab, keys=keys, logprob=logprob, backoff=backoff,
                      discounts=model.discounts)
