"""Interpolated modified Kneser-Ney n-gram estimation and ARPA-style backoff queries, in numpy.

N-gram statistics live on the host (they are integer counts and table look-ups, not model
weights that benefit from a GPU), so this module uses numpy directly rather than Thinc ops.

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

Storage: per order, a sorted ``uint64`` key array, log10 probabilities and (below the
highest order) log10 backoffs. The key of an n-gram is ``prefix_index * (V + 1) + last_id``,
where ``prefix_index`` is the row of its first n-1 words in the previous order's table:
exact (no hashing), and the words of any n-gram are recovered by following prefixes, which
is what ARPA export does. Order 1 is dense: row = token id, with ``<s>`` at id V.
Look-ups are ``numpy.searchsorted`` over those keys, one vectorised pass per order.
"""
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy

from ..errors import Errors, Warnings

BOS_LOG10 = -99.0  # log10 prob written for <s>, which is never predicted (ARPA convention)
DEFAULT_FALLBACK = (0.5, 1.0, 1.5)  # lmplz --discount_fallback defaults
LN10 = math.log(10.0)
logger = logging.getLogger("spacy")  # spaCy's logger: shown by `spacy assemble/train`


@dataclass
class NGramModel:
    """An ARPA-equivalent backoff model over token ids ``0..n_vocab-1`` (``<s>`` = ``n_vocab``)."""

    n_vocab: int
    keys: List[numpy.ndarray]  # per order, sorted uint64; order 1 is arange(n_vocab + 1)
    logprob: List[numpy.ndarray]  # per order, float32 log10 p
    backoff: List[numpy.ndarray]  # per order below the highest, float32 log10 backoff
    discounts: List[List[float]] = field(default_factory=list)  # per order [D1, D2, D3+] (info only)
    _best: Optional[List[Tuple[numpy.ndarray, numpy.ndarray]]] = field(default=None, repr=False)

    @property
    def order(self) -> int:
        return len(self.keys)

    @property
    def bos_id(self) -> int:
        return self.n_vocab

    @property
    def base(self) -> int:
        return self.n_vocab + 1

    def sizes(self) -> List[int]:
        return [len(k) for k in self.keys]

    # ------------------------------------------------------------------ look-ups
    def lookup(self, tokens: numpy.ndarray) -> List[numpy.ndarray]:
        """For a (B, T) array of ids (``<s>`` = n_vocab, -1 = nothing), the table row of the
        n-gram of each length k ending at each position (-1 when absent), k = 1..order.
        An n-gram never reaches back across a ``<s>``."""
        tokens = numpy.asarray(tokens, dtype="int64")
        idx = [numpy.where(tokens >= 0, tokens, -1)]
        extendable = (tokens >= 0) & (tokens != self.bos_id)
        base = numpy.uint64(self.base)
        for k in range(2, self.order + 1):
            prev = numpy.full_like(tokens, -1)
            prev[:, 1:] = idx[-1][:, :-1]
            valid = (prev >= 0) & extendable
            rows = numpy.full_like(tokens, -1)
            table = self.keys[k - 1]
            if valid.any() and len(table):
                key = prev[valid].astype("uint64") * base + tokens[valid].astype("uint64")
                pos = numpy.searchsorted(table, key)
                pos_c = numpy.minimum(pos, len(table) - 1)
                found = table[pos_c] == key
                rows[valid] = numpy.where(found, pos_c, -1)
            idx.append(rows)
        return idx

    def _context_backoffs(self, idx: List[numpy.ndarray]) -> numpy.ndarray:
        """(order + 1, B, T): entry k is the sum of the backoffs of the contexts of lengths
        k..order-1 ending just before each position (the penalty for a match of order k)."""
        shape = idx[0].shape
        per_len = numpy.zeros((self.order + 1,) + shape, dtype="float64")
        for j in range(1, self.order):
            ctx = numpy.full(shape, -1, dtype="int64")
            ctx[:, 1:] = idx[j - 1][:, :-1]
            ok = ctx >= 0
            per_len[j][ok] = self.backoff[j - 1][ctx[ok]]
        # suffix sums: B_k = sum_{j >= k} bo_j
        return numpy.flip(numpy.cumsum(numpy.flip(per_len, axis=0), axis=0), axis=0)

    def score(self, stream: numpy.ndarray, with_argmax: bool = True) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """log10 p of every non-``<s>`` token of a sentence stream (ids, ``<s>`` at each
        sentence start), and whether each was the most probable next token."""
        stream = numpy.asarray(stream, dtype="int64").reshape(1, -1)
        idx = self.lookup(stream)
        penalty = self._context_backoffs(idx)
        logp = self.logprob[0][stream].astype("float64")
        longest = numpy.ones(stream.shape, dtype="int64")
        for k in range(2, self.order + 1):
            hit = idx[k - 1] >= 0
            logp[hit] = self.logprob[k - 1][idx[k - 1][hit]]
            longest[hit] = k
        logp += numpy.take_along_axis(penalty, longest[None], axis=0)[0]
        targets = stream != self.bos_id
        correct = numpy.zeros(stream.shape, dtype="bool")
        if with_argmax:
            correct = self._argmax(idx, penalty) == stream
        return logp[targets], correct[targets]

    def _best_continuations(self) -> List[Tuple[numpy.ndarray, numpy.ndarray]]:
        """Per order k >= 2: for each (k-1)-gram row, the highest log10 p among its
        continuations at order k (-inf if none) and that word. Order 1: the global best."""
        if self._best is not None:
            return self._best
        best = []
        uni = self.logprob[0][: self.n_vocab]
        w = int(numpy.argmax(uni))
        best.append((numpy.asarray([uni[w]], dtype="float64"), numpy.asarray([w], dtype="int64")))
        base = numpy.uint64(self.base)
        for k in range(2, self.order + 1):
            keys, lp = self.keys[k - 1], self.logprob[k - 1]
            n_ctx = len(self.keys[k - 2])
            value = numpy.full(n_ctx, -numpy.inf)
            word = numpy.full(n_ctx, -1, dtype="int64")
            if len(keys):
                prefix = (keys // base).astype("int64")
                order = numpy.lexsort((-lp, prefix))
                first = numpy.ones(len(order), dtype="bool")
                first[1:] = prefix[order][1:] != prefix[order][:-1]
                top = order[first]
                value[prefix[top]] = lp[top]
                word[prefix[top]] = (keys[top] % base).astype("int64")
            best.append((value, word))
        self._best = best
        return best

    def _argmax(self, idx: List[numpy.ndarray], penalty: numpy.ndarray) -> numpy.ndarray:
        """Most probable next word at each position. In an interpolated model an explicit
        n-gram's probability is never below its backed-off estimate, so the best word is the
        best of the per-order best continuations plus their backoff penalties (exact for
        models estimated here or by lmplz; an approximation for non-interpolated ARPA files)."""
        best = self._best_continuations()
        shape = idx[0].shape
        top_value = best[0][0][0] + penalty[1]
        top_word = numpy.full(shape, best[0][1][0], dtype="int64")
        for k in range(2, self.order + 1):
            ctx = numpy.full(shape, -1, dtype="int64")
            ctx[:, 1:] = idx[k - 2][:, :-1]
            ok = ctx >= 0
            value = numpy.full(shape, -numpy.inf)
            value[ok] = best[k - 1][0][ctx[ok]] + penalty[k][ok]
            better = value > top_value
            top_value = numpy.where(better, value, top_value)
            top_word[better] = best[k - 1][1][ctx[better]]
        return top_word

    def next_log10(self, contexts: numpy.ndarray) -> numpy.ndarray:
        """(B, V) log10 p of every vocabulary id after each context row (ids, right-aligned,
        -1 padding, ``<s>`` at the sentence start)."""
        contexts = numpy.asarray(contexts, dtype="int64")
        B = contexts.shape[0]
        V = self.n_vocab
        # Append a dummy column so each context ends just "before" the predicted position.
        padded = numpy.concatenate([contexts, numpy.full((B, 1), -1, dtype="int64")], axis=1)
        idx = self.lookup(padded)
        penalty = self._context_backoffs(idx)[:, :, -1]  # (order + 1, B)
        out = numpy.empty((B, V), dtype="float64")
        out[:] = self.logprob[0][:V][None, :]
        out += penalty[1][:, None]
        base = numpy.uint64(self.base)
        for k in range(2, self.order + 1):
            keys = self.keys[k - 1]
            ctx = idx[k - 2][:, -2]
            for b in numpy.flatnonzero(ctx >= 0):
                lo = numpy.searchsorted(keys, numpy.uint64(ctx[b]) * base)
                hi = numpy.searchsorted(keys, numpy.uint64(ctx[b] + 1) * base)
                if hi > lo:
                    words = (keys[lo:hi] % base).astype("int64")
                    out[b, words] = self.logprob[k - 1][lo:hi] + penalty[k][b]
        return out

    # ------------------------------------------------------------------ words of n-grams
    def ngram_ids(self, k: int) -> numpy.ndarray:
        """(n_k, k) token ids of every n-gram of order k, in table order."""
        base = numpy.uint64(self.base)
        words = numpy.arange(self.n_vocab + 1, dtype="int64")[:, None]
        for j in range(2, k + 1):
            keys = self.keys[j - 1]
            prefix = (keys // base).astype("int64")
            words = numpy.concatenate([words[prefix], (keys % base).astype("int64")[:, None]], axis=1)
        return words

    # ------------------------------------------------------------------ serialization
    def to_msg(self) -> Dict[str, object]:
        return {"n_vocab": self.n_vocab, "keys": list(self.keys), "logprob": list(self.logprob),
                "backoff": list(self.backoff), "discounts": [list(map(float, d)) for d in self.discounts]}

    @classmethod
    def from_msg(cls, msg: Dict[str, object]) -> "NGramModel":
        model = cls(n_vocab=int(msg["n_vocab"]),
                    keys=[numpy.asarray(k, dtype="uint64") for k in msg["keys"]],
                    logprob=[numpy.asarray(p, dtype="float32") for p in msg["logprob"]],
                    backoff=[numpy.asarray(b, dtype="float32") for b in msg["backoff"]],
                    discounts=[list(d) for d in msg.get("discounts", [])])
        model.validate()
        return model

    def validate(self) -> None:
        """Raise ValueError (E060) if the tables are inconsistent (corrupt or hand-edited data)."""
        if not self.keys or len(self.logprob) != self.order or len(self.backoff) != self.order - 1:
            raise _corrupt(f"table lists have inconsistent lengths ({len(self.keys)} keys, "
                           f"{len(self.logprob)} logprob, {len(self.backoff)} backoff)")
        if len(self.keys[0]) != self.n_vocab + 1:
            raise _corrupt(f"unigram table does not cover the vocabulary ({len(self.keys[0])} rows, "
                           f"n_vocab + 1 = {self.n_vocab + 1})")
        for k in range(self.order):
            n = len(self.keys[k])
            if len(self.logprob[k]) != n or (k < self.order - 1 and len(self.backoff[k]) != n):
                raise _corrupt(f"order {k + 1}: arrays of different lengths")
            if n > 1 and not numpy.all(self.keys[k][1:] > self.keys[k][:-1]):
                raise _corrupt(f"order {k + 1}: keys are not strictly increasing")
            if k and n:
                if int(self.keys[k][-1] // numpy.uint64(self.base)) >= len(self.keys[k - 1]):
                    raise _corrupt(f"order {k + 1}: a prefix points outside order {k}")


def _corrupt(reason: str) -> ValueError:
    return ValueError(Errors.E060.format(reason=reason))


# ---------------------------------------------------------------------- building
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
    bos = n_vocab
    base = numpy.uint64(n_vocab + 1)
    extendable = stream != bos
    # ---- counting: tables, raw counts, suffix rows (int32 throughout: memory is the limit)
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
    # ---- adjusted counts: continuation counts below the top order, raw for <s>-initial n-grams
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
    del starts_bos
    discounts = [_discounts(counts[k], k + 1, discount_fallback) for k in range(order)]
    # ---- initial probabilities, gammas, interpolation (one order at a time)
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
    model = NGramModel(n_vocab=n_vocab, keys=keys, logprob=logprob, backoff=backoff, discounts=discounts)
    if prune_any:
        model = _apply_pruning(model, keep)
    return model


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


# ---------------------------------------------------------------------- ARPA
def _fmt(values: numpy.ndarray) -> List[str]:
    """float32 values as the shortest decimal text that reads back to the same float32."""
    return [numpy.format_float_positional(v, unique=True, trim="-") if v != BOS_LOG10 else "-99"
            for v in values.astype("float32")]


def write_arpa(model: NGramModel, strings: Sequence[str], path: Union[str, Path], *,
               bos: str = "<s>", eos_index: Optional[int] = None, eos: str = "</s>") -> None:
    """Write the model as an ARPA file. ``strings`` names ids 0..n_vocab-1; ``eos_index`` is
    renamed ``eos`` (our ``<eos>`` is ARPA's ``</s>``) and id n_vocab is ``bos``."""
    names = list(strings) + [bos]
    if eos_index is not None:
        names[eos_index] = eos
    if len(set(names)) != len(names):
        raise ValueError(Errors.E011.format(path=path, reason="the vocabulary has duplicate names "
                                            f"(a literal '{bos}' or '{eos}' token?)"))
    names_arr = numpy.asarray(names, dtype=object)
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n\\data\\\n")
        for k, n in enumerate(model.sizes(), start=1):
            out.write(f"ngram {k}={n}\n")
        for k in range(1, model.order + 1):
            out.write(f"\n\\{k}-grams:\n")
            ids = model.ngram_ids(k)
            text = [" ".join(row) for row in names_arr[ids].tolist()] if k > 1 else names
            probs = _fmt(model.logprob[k - 1])
            if k < model.order:
                bos_ = _fmt(model.backoff[k - 1])
                out.writelines(f"{p}\t{t}\t{b}\n" for p, t, b in zip(probs, text, bos_))
            else:
                out.writelines(f"{p}\t{t}\n" for p, t in zip(probs, text))
        out.write("\n\\end\\\n")


def read_arpa(path: Union[str, Path], *, unk: str = "<unk>", bos: str = "<s>", eos: str = "</s>",
              specials: Tuple[str, str] = ("<unk>", "<eos>")) -> Tuple[List[str], NGramModel]:
    """Read an ARPA file (ours or lmplz's). Returns (strings, model): ids 0 and 1 are
    ``specials`` (``unk`` and ``eos`` of the file), words follow in file order, ``bos`` is
    the internal id n_vocab. A missing ``<unk>`` gets log10 prob -99."""
    path = Path(path)

    def fail(reason: str) -> ValueError:
        return ValueError(Errors.E011.format(path=path, reason=reason))

    if not path.exists():
        raise fail("file not found")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if "\\data\\" not in text:
        raise fail("no \\data\\ header")
    head, _, body = text.partition("\\data\\")
    sections = body.split("\n\\")
    declared: Dict[int, int] = {}
    for line in sections[0].splitlines():
        line = line.strip()
        if line.startswith("ngram "):
            k, _, n = line[6:].partition("=")
            declared[int(k)] = int(n)
    if not declared or sorted(declared) != list(range(1, len(declared) + 1)):
        raise fail(f"bad ngram counts in the header: {declared}")
    order = len(declared)
    rows: Dict[int, List[List[str]]] = {}
    for section in sections[1:]:
        title, _, content = section.partition("\n")
        title = title.strip()
        if title.startswith("end\\"):
            break
        if not title.endswith("-grams:"):
            raise fail(f"unexpected section '\\{title}'")
        k = int(title[: -len("-grams:")])
        rows[k] = [line.split() for line in content.splitlines() if line.strip()]
        if len(rows[k]) != declared.get(k, -1):
            raise fail(f"order {k}: header says {declared.get(k)} n-grams, found {len(rows[k])}")
    # ---- vocabulary from the unigrams
    uni = rows.get(1, [])
    words = [r[1] for r in uni]
    if len(set(words)) != len(words):
        raise fail("duplicate unigrams")
    if eos not in words or bos not in words:
        raise fail(f"the unigrams lack '{eos}' or '{bos}'")
    strings = list(specials) + [w for w in words if w not in (unk, eos, bos)]
    n_vocab = len(strings)
    index = {w: i for i, w in enumerate(strings)}
    index[unk], index[eos], index[bos] = 0, 1, n_vocab
    logprob1 = numpy.full(n_vocab + 1, BOS_LOG10, dtype="float32")
    backoff1 = numpy.zeros(n_vocab + 1, dtype="float32")
    for r in uni:
        i = index[r[1]]
        logprob1[i] = float(r[0])
        if len(r) > 2:
            backoff1[i] = float(r[2])
    model = NGramModel(n_vocab=n_vocab, keys=[numpy.arange(n_vocab + 1, dtype="uint64")],
                       logprob=[logprob1], backoff=[backoff1] if order > 1 else [])
    base = numpy.uint64(n_vocab + 1)
    for k in range(2, order + 1):
        data = rows.get(k, [])
        try:
            ids = numpy.asarray([[index[w] for w in r[1 : k + 1]] for r in data], dtype="int64").reshape(-1, k)
        except KeyError as err:
            raise fail(f"order {k}: word {err} is not among the unigrams") from err
        lp = numpy.asarray([float(r[0]) for r in data], dtype="float32")
        bo = numpy.asarray([float(r[k + 1]) if len(r) > k + 1 else 0.0 for r in data], dtype="float32")
        prefix = ids[:, 0]
        for j in range(2, k):
            key = prefix.astype("uint64") * base + ids[:, j - 1].astype("uint64")
            table = model.keys[j - 1]
            pos = numpy.minimum(numpy.searchsorted(table, key), max(len(table) - 1, 0))
            if len(key) and (len(table) == 0 or not numpy.all(table[pos] == key)):
                raise fail(f"order {k}: some n-grams have no {k - 1}-gram prefix in the file")
            prefix = pos.astype("int64")
        key = prefix.astype("uint64") * base + ids[:, k - 1].astype("uint64")
        order_ = numpy.argsort(key, kind="stable")
        key = key[order_]
        if len(key) > 1 and not numpy.all(key[1:] > key[:-1]):
            raise fail(f"order {k}: duplicate n-grams")
        model.keys.append(key)
        model.logprob.append(lp[order_])
        if k < order:
            model.backoff.append(bo[order_])
    model.validate()
    return strings, model


def log10_to_ln(values: numpy.ndarray) -> numpy.ndarray:
    return values * LN10
