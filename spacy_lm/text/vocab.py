"""The token vocabulary of a language model: strings ↔ ids, with `<unk>` and `<eos>`.

Built from counts in a component's ``initialize`` and saved with the component (msgpack);
``extend`` appends new words after the existing ids (ULMFiT's vocabulary growth).
Whitespace tokens (``token.is_space``) are not words and never enter the LM stream.
A token whose text is the end marker (``<eos>``, as benchmark readers insert one per line)
maps to the `<eos>` id, so marked corpora keep the standard token counts.
"""
import hashlib
import json
from collections import Counter
from itertools import repeat
from typing import Dict, Iterable, List, Optional, Sequence

import numpy
import srsly
from spacy.attrs import IS_SPACE, LOWER, NORM, ORTH
from spacy.strings import get_string_id
from spacy.tokens import Doc, Token

from ..checks import check_setting, is_count
from ..errors import Errors

UNK = "<unk>"
EOS = "<eos>"
SPECIALS = (UNK, EOS)
ATTRS = {"ORTH": "orth_", "LOWER": "lower_", "NORM": "norm_"}
ATTR_IDS = {"ORTH": ORTH, "LOWER": LOWER, "NORM": NORM}

def token_text(token: Token, attr: str) -> str:
    return getattr(token, ATTRS[attr])


def lm_tokens(doc: Doc) -> List[Token]:
    """The tokens a language model reads: everything except whitespace tokens."""
    return [t for t in doc if not t.is_space]


class TokenVocab:
    def __init__(self, strings: Iterable[str], attr: str = "ORTH") -> None:
        if attr not in ATTRS:
            raise ValueError(Errors.E008.format(attr=attr, options=sorted(ATTRS)))
        self.attr = attr
        self.strings: List[str] = list(strings)
        if tuple(self.strings[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(Errors.E032.format(specials=SPECIALS, found=self.strings[: len(SPECIALS)]))
        self._build_index()

    def _build_index(self) -> None:
        """The look-up tables of ``strings`` (rebuilt by ``extend``)."""
        self._index: Dict[str, int] = {s: i for i, s in enumerate(self.strings)}
        # Keys as the Doc stores them: spaCy's symbol id for its built-in strings ("number"
        # is 432), the string hash for every other string.
        self._hash_index: Dict[int, int] = {get_string_id(s): i for i, s in enumerate(self.strings)}
        # The same as sorted arrays, for doc_ids' vectorised look-up.
        hashes = numpy.fromiter(self._hash_index.keys(), dtype="uint64", count=len(self._hash_index))
        order = numpy.argsort(hashes)
        self._sorted_hashes = hashes[order]
        self._sorted_ids = numpy.fromiter(self._hash_index.values(), dtype="int32", count=len(hashes))[order]
        self.unk_id = self._index[UNK]
        self.eos_id = self._index[EOS]
        self._checksum: Optional[str] = None

    @classmethod
    def from_counts(cls, counts: Counter, *, attr: str = "ORTH", min_freq: int = 1,
                    max_size: Optional[int] = None) -> "TokenVocab":
        """Most frequent types first (ties by first occurrence), capped at ``max_size`` in all."""
        if min_freq < 1:
            raise ValueError(Errors.E009.format(setting="min_freq", requirement="at least 1", value=min_freq))
        if max_size is not None and max_size <= len(SPECIALS):
            raise ValueError(Errors.E002.format(max_size=max_size, specials=list(SPECIALS)))
        kept = [s for s, n in counts.most_common() if n >= min_freq and s not in SPECIALS]
        if not kept:
            raise ValueError(Errors.E001.format(min_freq=min_freq, n_tokens=sum(counts.values())))
        if max_size is not None:
            kept = kept[: max_size - len(SPECIALS)]
        return cls(list(SPECIALS) + kept, attr=attr)

    def extend(self, counts: Counter, *, min_freq: int = 1, max_new: Optional[int] = None) -> List[str]:
        """Append the words of ``counts`` this vocabulary lacks, in place, and return them in id
        order: ULMFiT's vocabulary growth (a task's words added to a pre-trained LM's vocabulary).
        They get the ids after the existing ones, so every existing id keeps its meaning (and its
        model rows); most frequent first, ties by text (deterministic), those seen at least
        ``min_freq`` times, at most ``max_new`` of them (None: all)."""
        check_setting(is_count(min_freq, 1), "min_freq", "an integer >= 1", min_freq)
        check_setting(max_new is None or is_count(max_new, 0), "max_new", "null or an integer >= 0", max_new)
        new = [s for s, n in counts.items() if n >= min_freq and s not in self._index]
        new.sort(key=lambda s: (-counts[s], s))
        if max_new is not None:
            new = new[:max_new]
        if new:
            self.strings.extend(new)
            self._build_index()
        return new

    @staticmethod
    def count(docs: Iterable[Doc], attr: str = "ORTH") -> Counter:
        counts: Counter = Counter()
        for doc in docs:
            counts.update(token_text(t, attr) for t in lm_tokens(doc))
        return counts

    @property
    def checksum(self) -> str:
        """sha256 (hex) of the strings in order, as a compact JSON list in UTF-8 (computed once):
        tells this vocabulary from another of the same size, whose ids mean other words."""
        if self._checksum is None:
            data = json.dumps(self.strings, ensure_ascii=False, separators=(",", ":")).encode("utf8")
            self._checksum = hashlib.sha256(data).hexdigest()
        return self._checksum

    def __len__(self) -> int:
        return len(self.strings)

    def __contains__(self, string: str) -> bool:
        return string in self._index

    def id_of(self, string: str) -> int:
        return self._index.get(string, self.unk_id)

    def string_of(self, i: int) -> str:
        return self.strings[i]

    def ids_of_strings(self, strings: Sequence[str]) -> numpy.ndarray:
        """int32 ids of strings (``<unk>`` for unknown ones) in one pass: the score-only path of
        corpus scoring reads whitespace-split words without a Doc."""
        return numpy.fromiter(map(self._index.get, strings, repeat(self.unk_id)), dtype="int32", count=len(strings))

    def ids(self, tokens: Iterable[Token]) -> List[int]:
        """Ids of tokens, via their attribute hashes (no string decoding on the hot path)."""
        attr_id = {"ORTH": "orth", "LOWER": "lower", "NORM": "norm"}[self.attr]
        table = self._hash_index
        unk = self.unk_id
        return [table.get(getattr(t, attr_id), unk) for t in tokens]

    def doc_ids(self, doc: Doc) -> "tuple[numpy.ndarray, numpy.ndarray]":
        """The ids of ``lm_tokens(doc)`` and their token indices, as int32 arrays, from the doc's
        attribute array (no Token objects: this is every LM's hot path)."""
        array = doc.to_array([ATTR_IDS[self.attr], IS_SPACE]).reshape(-1, 2)
        positions = numpy.flatnonzero(array[:, 1] == 0)
        return self.ids_of_hashes(array[positions, 0]), positions.astype("int32")

    def ids_of_hashes(self, hashes: numpy.ndarray) -> numpy.ndarray:
        """int32 ids of attribute hashes as a Doc stores them (``<unk>`` for unknown ones), in
        one vectorised look-up."""
        hashes = numpy.asarray(hashes).astype("uint64")
        where = numpy.minimum(numpy.searchsorted(self._sorted_hashes, hashes), len(self._sorted_hashes) - 1)
        return numpy.where(self._sorted_hashes[where] == hashes, self._sorted_ids[where], self.unk_id).astype("int32")

    def to_bytes(self) -> bytes:
        return srsly.msgpack_dumps({"strings": self.strings, "attr": self.attr})

    @classmethod
    def from_bytes(cls, data: bytes) -> "TokenVocab":
        msg = srsly.msgpack_loads(data)
        return cls(msg["strings"], attr=msg["attr"])
