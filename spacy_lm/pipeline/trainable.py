"""What the trained recurrent components (`lstm_lm`, `sentence_vae`) share: their token
vocabulary counted on the training corpus, its size as the model's ``nV``, and the gradients'
global-norm clipping before the optimizer step. Also the one check of an ``update``'s dropout
rate (``check_drop``), which every trainable component of this package calls."""
import math
import numbers
from typing import Any, Callable, Dict, Iterable, Optional

from spacy.language import Language
from spacy.training import Example, validate_get_examples
from thinc.api import Model, Optimizer

from ..corpora.corpus import config_corpus
from ..errors import Errors
from ..training.clipping import clip_global_grad_norm
from ..text.vocab import TokenVocab


def check_drop(drop: Any, name: str) -> float:
    """``drop`` of ``update(drop=...)`` (``[training] dropout``) as a float in [0, 1), else E231
    naming component ``name``: a rate of 1 or more (or NaN) trains on all-dropped input, silently."""
    ok = isinstance(drop, numbers.Real) and not isinstance(drop, bool) and math.isfinite(drop) and 0 <= drop < 1
    if not ok:
        raise ValueError(Errors.E231.format(name=name, value=drop))
    return float(drop)


class TokenVocabTrainingMixin:
    """Needs ``name``, ``cfg`` (``attr``, ``min_freq``, ``max_size``, ``grad_norm_clip``),
    ``model`` (with an ``nV`` dim) and ``lm_vocab``."""

    name: str
    cfg: Dict[str, Any]
    model: Model
    lm_vocab: Optional[TokenVocab]

    def _count_vocab(self, get_examples: Callable[[], Iterable[Example]], method: str, *,
                     nlp: Optional[Language], corpus: Optional[str], vocab_size: Optional[int]) -> None:
        """Build ``lm_vocab`` from the references of ``get_examples`` (or of the config's
        ``corpus``, e.g. "corpora.train"), and size the model to it."""
        if corpus is not None:
            get_examples = config_corpus(nlp, corpus, self.name)
        validate_get_examples(get_examples, method)
        attr = self.cfg["attr"]
        counts = TokenVocab.count((eg.reference for eg in get_examples()), attr=attr)
        if not counts:
            raise ValueError(Errors.E003.format(name=self.name))
        max_size = vocab_size if vocab_size is not None else self.cfg["max_size"]
        self.lm_vocab = TokenVocab.from_counts(counts, attr=attr, min_freq=self.cfg["min_freq"], max_size=max_size)
        self._set_vocab_size()

    def _set_vocab_size(self) -> None:
        n_vocab = len(self.lm_vocab)
        if self.model.has_dim("nV") and self.model.get_dim("nV") != n_vocab:
            raise ValueError(Errors.E023.format(name=self.name, found=self.model.get_dim("nV"), expected=n_vocab))
        self.model.set_dim("nV", n_vocab)

    def finish_update(self, sgd: Optimizer) -> None:
        """Clip the gradients to one global norm (``grad_norm_clip``), then take the optimizer step."""
        if self.cfg.get("grad_norm_clip"):
            clip_global_grad_norm(self.model, self.cfg["grad_norm_clip"])
        self.model.finish_update(sgd)
