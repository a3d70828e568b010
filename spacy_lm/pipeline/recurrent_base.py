"""The base of the trained recurrent components (`lstm_lm`, `sentence_vae`, `translator`).

They share one skeleton, written here once: the settings every one has (``attr``,
``max_length``, ``grad_norm_clip``) checked by one function, the model's contract (a Protocol
of :mod:`spacy_lm.types`) checked once, a token vocabulary counted on the training corpus and
sized into the model's ``nV``, training sequences cut to ``max_length`` (their ``<eos>`` kept),
the gradients clipped to one global norm before the optimizer step, a scorer that may ask for
the component itself (``takes_lm``), and save/load of vocabularies plus model bytes
(:class:`~spacy_lm.pipeline.serialization.LMSerializationMixin`). A component adds what only it
knows: its factory, ``predict``/``set_annotations``, ``update`` and its extra settings.
"""
import math
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type, Union

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer

from ..about import __version__
from ..batching import PreparedDoc
from ..checks import check_setting, is_count
from ..corpora.corpus import config_corpus
from ..errors import Errors
from ..metrics.scorers import takes_lm
from ..text.vocab import ATTRS, TokenVocab
from ..training.clipping import clip_global_grad_norm
from ..types import RecurrentLMModel, check_model_contract
from .serialization import LMSerializationMixin
from .trainable import begin_update


def check_recurrent_settings(attr: str, max_length: Any, grad_norm_clip: Any) -> None:
    """The settings every recurrent component has: the vocabulary's token attribute (E008), the
    training length bound and the global gradient-norm bound (E009)."""
    if attr not in ATTRS:
        raise ValueError(Errors.E008.format(attr=attr, options=sorted(ATTRS)))
    check_setting(is_count(max_length, 1), "max_length", "an integer >= 1", max_length)
    ok_clip = grad_norm_clip is None or (isinstance(grad_norm_clip, (int, float)) and math.isfinite(grad_norm_clip)
                                         and grad_norm_clip > 0)
    check_setting(ok_clip, "grad_norm_clip", "a positive number or null", grad_norm_clip)


def truncate(prepared: Optional[PreparedDoc], limit: int, eos_id: int) -> Optional[PreparedDoc]:
    """A prepared doc cut to ``limit`` tokens, its closing ``<eos>`` target kept."""
    if prepared is None or len(prepared[1]) <= limit + 1:
        return prepared
    inputs, targets, positions = prepared
    eos = numpy.asarray([eos_id], dtype="int32")
    return inputs[: limit + 1], numpy.concatenate([targets[:limit], eos]), positions[: limit + 1]


class RecurrentPipe(LMSerializationMixin, TrainablePipe):
    """A TrainablePipe over a recurrent model that reads docs as id streams of its own vocabulary.

    Subclasses set ``contract`` (the Protocol their model implements) and may set
    ``not_text_error`` (the coded message for a text that is neither str nor Doc)."""

    format_version = 1
    contract: Type[Any] = RecurrentLMModel
    not_text_error: str = Errors.E031

    def __init__(self, vocab: Vocab, model: Model, name: str, *, cfg: Dict[str, Any],
                 scorer: Optional[Callable] = None, tokenizer: Optional[Callable[[str], Doc]] = None) -> None:
        check_model_contract(model, self.contract, name)
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.tokenizer = tokenizer
        self.lm_vocab: Optional[TokenVocab] = None
        self.cfg: Dict[str, Any] = {**cfg, "format": self.format_version, "spacy_lm_version": __version__}

    @property
    def is_initialized(self) -> bool:
        return self.lm_vocab is not None

    def _require_initialized(self) -> TokenVocab:
        if not self.is_initialized:
            raise ValueError(Errors.E005.format(name=self.name))
        return self.lm_vocab

    def _as_doc(self, text: Union[str, Doc]) -> Doc:
        """A text as a doc of the pipeline's tokenizer (whitespace-split without one)."""
        if isinstance(text, Doc):
            return text
        if not isinstance(text, str):
            raise TypeError(self.not_text_error.format(name=self.name, type=type(text).__name__))
        return self.tokenizer(text) if self.tokenizer is not None else Doc(self.vocab, words=text.split())

    def _truncate(self, prepared: Optional[PreparedDoc]) -> Optional[PreparedDoc]:
        return truncate(prepared, self.cfg["max_length"], self.lm_vocab.eos_id)

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """The scorer's scores; a scorer that asks for it (``takes_lm``) also gets this component."""
        if takes_lm(self.scorer):
            kwargs["lm"] = self
        return super().score(examples, **kwargs)

    # ------------------------------------------------------------------ training
    def _begin_update(self, examples: Iterable[Example], drop: Any, losses: Optional[Dict[str, float]],
                      method: str, parts: Tuple[str, ...] = ()) -> Tuple[List[Example], float, Dict[str, float]]:
        return begin_update(self.name, examples, drop, losses, method, parts)

    def finish_update(self, sgd: Optimizer) -> None:
        """Clip the gradients to one global norm (``grad_norm_clip``), then take the optimizer step."""
        if self.cfg.get("grad_norm_clip"):
            clip_global_grad_norm(self.model, self.cfg["grad_norm_clip"])
        self.model.finish_update(sgd)

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

    def _vocab_dims(self) -> Dict[str, TokenVocab]:
        """The model dim each vocabulary sizes."""
        return {"nV": self.lm_vocab}

    def _set_vocab_size(self) -> None:
        for dim, vocab in self._vocab_dims().items():
            if self.model.has_dim(dim) and self.model.get_dim(dim) != len(vocab):
                raise ValueError(Errors.E023.format(name=self.name, found=self.model.get_dim(dim), expected=len(vocab)))
            self.model.set_dim(dim, len(vocab))

    # ------------------------------------------------------------------ serialization
    def _saved_vocabs(self) -> Dict[str, TokenVocab]:
        """The vocabularies saved beside the model, by part name."""
        return {"lm_vocab": self._require_initialized()}

    def _payload(self) -> Dict[str, bytes]:
        parts = {key: vocab.to_bytes() for key, vocab in self._saved_vocabs().items()}
        return {**parts, "model": self.model.to_bytes()}

    def _read_vocabs(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        self.lm_vocab = self._read_vocab(cfg, read)

    def _forget_vocabs(self) -> None:
        self.lm_vocab = None

    def _restore(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        try:
            self._read_vocabs(cfg, read)
            self.cfg.update(cfg)
            self._set_vocab_size()
            self.model.from_bytes(read("model"))
        except Exception:
            self._forget_vocabs()
            raise
