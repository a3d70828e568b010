"""KenLM as a query backend for corpus scoring (``spacy lm score --ngram-backend kenlm``,
``pip install "spacy-lm[kenlm]"``): the ARPA of an ``ngram_lm`` loaded by ``kenlm.Model``, scoring
the same prepared ids as ``ngram_lm.total_nll`` with the same totals (KenLM's estimator and
backoff rule are ours: tests/ngram/test_kenlm_query.py checks them to 1e-5).

The pure path (ngram/hashed.py) stays the default and the reference; this one is here to show
which wins (benchmarks/corpus_scoring.py). KenLM scores a sentence at a time from its words, so
ids go back to strings (``<eos>`` is ARPA's ``</s>``) and every ``<eos>`` closes a sentence, as
the stream rule of ``ngram_lm`` reads it.
"""
import tempfile
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy

from ..errors import Errors
from .model import LN10

PreparedIds = Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]  # batching.PreparedDoc


def import_kenlm() -> Any:
    try:
        import kenlm
    except ImportError as err:
        raise ImportError(Errors.E335) from err
    return kenlm


class KenLMQuery:
    """``total_nll`` of prepared ids through ``kenlm.Model`` over an ARPA file."""

    def __init__(self, arpa: Union[str, Path], strings: Sequence[str], eos_id: int) -> None:
        kenlm = import_kenlm()
        config = kenlm.Config()
        config.show_progress = False
        self.model = kenlm.Model(str(arpa), config)
        self.words = list(strings)
        self.eos_id = eos_id

    @classmethod
    def from_component(cls, component: Any, arpa: Optional[Union[str, Path]] = None) -> "KenLMQuery":
        """For an ``ngram_lm``: its own ARPA file when it was read from one, else its tables
        written to a temporary ARPA (once per process; KenLM keeps the model in memory)."""
        vocab = component.lm_vocab
        if arpa is not None:
            return cls(arpa, vocab.strings, vocab.eos_id)
        with tempfile.TemporaryDirectory(prefix="spacy_lm_kenlm_") as tmp:
            path = Path(tmp) / "model.arpa"
            component.to_arpa(path)
            return cls(path, vocab.strings, vocab.eos_id)

    def total_nll(self, prepared: Sequence[PreparedIds]) -> numpy.ndarray:
        """Summed NLL (nats) of each prepared doc, one ``Model.score`` per sentence."""
        score, words, eos = self.model.score, self.words, self.eos_id
        totals = numpy.zeros(len(prepared), dtype="float64")
        for i, (_, targets, _) in enumerate(prepared):
            sentences: List[str] = []
            start = 0
            ids = targets.tolist()
            for end in (j for j, t in enumerate(ids) if t == eos):
                sentences.append(" ".join([words[t] for t in ids[start:end]]))
                start = end + 1
            if start < len(ids):
                raise ValueError(Errors.E336.format(last=ids[-1]))
            totals[i] = -sum(score(sentence, bos=True, eos=True) for sentence in sentences) * LN10
        return totals
