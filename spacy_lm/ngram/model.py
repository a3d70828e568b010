"""The ARPA-equivalent backoff model: n-gram tables and vectorised look-ups, in numpy.

Storage: per order, a sorted ``uint64`` key array, log10 probabilities and (below the
highest order) log10 backoffs. The key of an n-gram is ``prefix_index * (V + 1) + last_id``,
where ``prefix_index`` is the row of its first n-1 words in the previous order's table:
exact (no hashing), and the words of any n-gram are recovered by following prefixes, which
is what ARPA export does. Order 1 is dense: row = token id, with ``<s>`` at id V.
Look-ups are ``numpy.searchsorted`` over those keys, one vectorised pass per order.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy

from ..errors import Errors

BOS_LOG10 = -99.0  # log10 prob written for <s>, which is never predicted (ARPA convention)
LN10 = math.log(10.0)


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


def log10_to_ln(values: numpy.ndarray) -> numpy.ndarray:
    return values * LN10
