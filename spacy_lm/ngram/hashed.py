"""The query structure of corpus scoring: open-addressing hash tables over packed n-gram keys,
probed for a whole stream at once (KenLM's ``probing`` layout, in numpy).

``NGramModel`` keeps sorted keys (exact, compact, what ARPA export and ``next_log10`` walk), and
answers ``score`` with one ``searchsorted`` per order: about 22 dependent cache misses per look-up
in a 2M-entry table. Here each order is one array of 16-byte slots, ``[key, value]`` side by side
(one cache line per probe), where ``value`` packs the n-gram's log10 probability (low 32 bits)
and log10 backoff (high 32 bits, 0 for the highest order) as float32. A key is
``slot of the prefix * base + last word``: the slot of the (k-1)-gram, not its row, so one probe
per order gives the key of the next order and the n-gram's numbers at once. Tables are at most
half full (linear probing: ~1.5 probes for a hit, ~2.5 for a miss), slots chosen by a
multiplicative hash mapped onto the table's size (no power-of-two rounding: 32 bytes per n-gram),
and built by one sort (``ProbingTable``), under 1 s for 6M n-grams.

``total_log10`` gives the summed log10 probability of each doc of a sentence stream, equal to
``NGramModel.score`` summed per doc (the same backoff rule, to float32 rounding): the score-only
path of ``ngram_lm.total_nll``. Built from a model when first needed, in memory.
"""
from typing import List, Tuple

import numpy

from .model import NGramModel

EMPTY = numpy.uint64(0xFFFFFFFFFFFFFFFF)
MULTIPLIER = numpy.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio (Knuth's multiplicative hash)
SHIFT32 = numpy.uint64(32)
MAX_LOAD = 0.5


class ProbingTable:
    """One order's n-grams: ``slots`` of ``[key, packed value]`` (uint64 pairs).

    Linear probing without wrap-around: keys are placed in the order of their home slots, each at
    its home or just after the previous key (``slot_i = max(home_i, slot_{i-1} + 1)``, a running
    maximum: one sort builds the table), so every slot from a key's home to the key is taken, as
    a probe needs; the table runs on past its nominal size by as many slots as the last run needs,
    plus one empty slot that ends every probe."""

    def __init__(self, keys: numpy.ndarray, values: numpy.ndarray) -> None:
        keys = numpy.asarray(keys, dtype="uint64")
        self.size = max(8, int(len(keys) / MAX_LOAD) + 1)
        home = self.home(keys)
        order = argsort_u32(home)
        rank = numpy.arange(len(keys), dtype="int64")
        slot = numpy.maximum.accumulate(home[order] - rank) + rank if len(keys) else rank
        end = int(slot[-1]) + 2 if len(keys) else 1
        self.slots = numpy.empty((max(self.size, end), 2), dtype="uint64")
        self.slots[:, 0] = EMPTY
        self.slots[:, 1] = 0
        self.slots[slot, 0] = keys[order]
        self.slots[slot, 1] = numpy.asarray(values, dtype="uint64")[order]
        self.slot_of = numpy.empty(len(keys), dtype="int64")
        self.slot_of[order] = slot

    def home(self, keys: numpy.ndarray) -> numpy.ndarray:
        """The first slot probed for each key: the top 32 bits of the hash scaled onto the size."""
        high = (keys * MULTIPLIER) >> SHIFT32
        return ((high * numpy.uint64(self.size)) >> SHIFT32).astype("int64")

    def find(self, keys: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """For each key: its slot (-1 when absent) and packed value (0 when absent). The first
        probe is made for all keys at once; only the collisions probe again."""
        probe = self.home(keys)
        seen = numpy.take(self.slots, probe, axis=0)  # take: ~4x faster than slots[probe] here
        hit = seen[:, 0] == keys
        found = numpy.where(hit, probe, -1)
        values = numpy.where(hit, seen[:, 1], numpy.uint64(0))
        again = numpy.flatnonzero(~hit & (seen[:, 0] != EMPTY))
        probe = probe[again]
        while len(again):
            probe += 1  # never past the end: the last slot is empty
            seen = numpy.take(self.slots, probe, axis=0)
            hit = seen[:, 0] == keys[again]
            found[again[hit]] = probe[hit]
            values[again[hit]] = seen[hit, 1]
            more = ~hit & (seen[:, 0] != EMPTY)
            again, probe = again[more], probe[more]
        return found, values


def argsort_u32(values: numpy.ndarray) -> numpy.ndarray:
    """A stable argsort of integers in [0, 2^32): two passes of numpy's radix sort over 16-bit
    halves (~5x ``numpy.argsort`` of int64 for millions of values)."""
    values = numpy.asarray(values).astype("uint32")
    order = numpy.argsort((values & 0xFFFF).astype("uint16"), kind="stable")
    return order[numpy.argsort((values >> 16).astype("uint16")[order], kind="stable")]


def pack(logprob: numpy.ndarray, backoff: numpy.ndarray) -> numpy.ndarray:
    """float32 log10 p (low 32 bits) and backoff (high 32 bits) in one uint64 per n-gram."""
    pair = numpy.empty((len(logprob), 2), dtype="float32")
    pair[:, 0], pair[:, 1] = logprob, backoff
    return pair.view("uint64").reshape(-1)


def unpack(values: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    pair = values.view("float32").reshape(-1, 2)
    return pair[:, 0], pair[:, 1]


class HashedNGramIndex:
    """A model's n-grams of orders >= 2 in probing tables; unigrams stay dense (row = id)."""

    def __init__(self, model: NGramModel) -> None:
        self.order, self.bos_id = model.order, model.bos_id
        self.base = numpy.uint64(model.base)
        self.unigram_logprob = numpy.asarray(model.logprob[0], dtype="float32")
        self.unigram_backoff = (numpy.asarray(model.backoff[0], dtype="float32") if model.order > 1
                                else numpy.zeros(model.base, dtype="float32"))
        self.tables: List[ProbingTable] = []
        prefix_slot = numpy.arange(model.base, dtype="uint64")  # order 1: the slot is the id
        for k in range(2, model.order + 1):
            keys = model.keys[k - 1]
            prefix_row = (keys // self.base).astype("int64")
            packed_keys = prefix_slot[prefix_row] * self.base + keys % self.base
            backoff = model.backoff[k - 1] if k < model.order else numpy.zeros(len(keys), dtype="float32")
            table = ProbingTable(packed_keys, pack(model.logprob[k - 1], backoff))
            self.tables.append(table)
            prefix_slot = table.slot_of.astype("uint64")

    def token_log10(self, stream: numpy.ndarray) -> numpy.ndarray:
        """log10 p of every position of a sentence stream (``<s>`` positions: 0), as
        ``NGramModel.score``: the longest n-gram found plus the backoffs of the context n-grams
        at least that long. Each order probes only where the order below was found."""
        stream = numpy.asarray(stream, dtype="int64")
        n = len(stream)
        if not n:
            return numpy.zeros(0, dtype="float32")
        logp = numpy.take(self.unigram_logprob, stream)
        longest = numpy.ones(n, dtype="int8")
        extendable = stream != self.bos_id  # an n-gram never reaches back across <s>
        # Per order: the positions where the n-gram ending there was found (ascending), its backoff.
        found_at: List[numpy.ndarray] = [numpy.arange(n)]
        backoffs: List[numpy.ndarray] = [numpy.take(self.unigram_backoff, stream)]
        slots = stream.astype("uint64")
        for k, table in enumerate(self.tables, start=2):
            ends = found_at[-1] + 1  # the (k-1)-gram ending at p - 1 extends to position p
            if len(ends) and ends[-1] == n:
                ends, slots = ends[:-1], slots[:-1]
            keep = numpy.take(extendable, ends)
            ends = ends[keep]
            found, values = table.find(slots[keep] * self.base + numpy.take(stream, ends).astype("uint64"))
            hit = found >= 0
            ends = ends[hit]
            lp, bo = unpack(values[hit])
            logp[ends] = lp
            longest[ends] = k
            found_at.append(ends)
            backoffs.append(bo)
            slots = found[hit].astype("uint64")
        # Backoff penalty: the contexts (n-grams ending at p - 1) of lengths >= the longest match.
        if self.order > 1:
            logp[1:] += numpy.where(longest[1:] <= 1, backoffs[0][:-1], numpy.float32(0))
        for j in range(2, self.order):
            target, bo = found_at[j - 1] + 1, backoffs[j - 1]
            if len(target) and target[-1] == n:
                target, bo = target[:-1], bo[:-1]
            applies = numpy.take(longest, target) <= j
            logp[target[applies]] += bo[applies]
        logp[~extendable] = 0.0
        return logp

    def total_log10(self, stream: numpy.ndarray, doc_starts: numpy.ndarray) -> numpy.ndarray:
        """Summed log10 p of each doc of ``stream`` (doc ``i`` spans ``doc_starts[i]`` up to the
        next start; ``<s>`` positions add nothing), float64."""
        logp = self.token_log10(stream).astype("float64")
        if not len(doc_starts):
            return numpy.zeros(0, dtype="float64")
        return numpy.add.reduceat(logp, doc_starts)
