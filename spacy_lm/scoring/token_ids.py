"""The score-only path of corpus scoring: texts → LM ids → one total per text, with none of what
``nlp.pipe`` makes for a user who reads documents (pipeline Docs, per-token surprisal lists,
top-1 flags, Doc extensions): a third of the n-gram pass went there (#16's profile).

It applies when nothing but the tokenizer runs before the LM (``score_only_path`` says when) and
the LM component has ``total_nll`` (``ngram_lm``, ``lstm_lm``); the scores are those of
``nlp(text)`` (tests/scoring/test_token_ids.py checks random records to 1e-6). Ids come through
the stream rule of ``batching.prepare_ids``, as ``prepare_doc`` gives them:

* spacy_lm's whitespace tokenizer (the usual one for corpus LMs) is ``str.split``, so its
  ORTH and LOWER ids are read from the words directly, with no Doc at all (spaCy's LOWER is
  ``str.lower`` of the text);
* any other tokenizer makes its Doc (the tokenizer alone), whose ids come from its attribute
  array (``TokenVocab.doc_ids``).
"""
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import IS_SPACE
from spacy.tokens import Doc

from ..batching import PreparedDoc, prepare_batch
from ..text.tokenizer import WhitespaceTokenizer
from ..text.vocab import ATTR_IDS, TokenVocab
from .settings import Scores


class ScoreOnlyPath:
    """An LM component scored straight from texts (see the module docstring)."""

    def __init__(self, nlp: Any, component: Any, total_nll: Optional[Callable[[Sequence[PreparedDoc]], Any]] = None
                 ) -> None:
        self.nlp, self.component = nlp, component
        self.total_nll = total_nll or component.total_nll
        self.vocab: TokenVocab = component.lm_vocab
        self.backward = bool(getattr(component, "backward", False))
        self.split_words = isinstance(nlp.tokenizer, WhitespaceTokenizer) and self.vocab.attr in ("ORTH", "LOWER")

    def prepare(self, texts: Sequence[str]) -> Tuple[List[Optional[PreparedDoc]], List[int]]:
        """Each text's prepared ids (None when it has no token but whitespace) and its token
        count (``len(doc)``)."""
        if not self.split_words:
            docs = list(self.nlp.tokenizer.pipe(texts))
            return self.prepare_docs(docs), [len(doc) for doc in docs]
        lower = self.vocab.attr == "LOWER"  # spaCy's LOWER is str.lower of the text
        split = [(text.lower() if lower else text).split() for text in texts]
        n_tokens = [len(words) for words in split]
        words: List[str] = []
        for doc_words in split:
            words += doc_words
        ids = self.vocab.ids_of_strings(words)
        positions = numpy.arange(len(ids), dtype="int64") - numpy.repeat(numpy.cumsum(n_tokens) - n_tokens, n_tokens)
        return prepare_batch(ids, positions, n_tokens, self.vocab.eos_id, self.backward), n_tokens

    def prepare_docs(self, docs: Sequence[Doc]) -> List[Optional[PreparedDoc]]:
        """Prepared ids of tokenised docs (``prepare_doc``'s, for whole docs), all docs' attribute
        arrays mapped to ids in one pass."""
        arrays = [doc.to_array([ATTR_IDS[self.vocab.attr], IS_SPACE]).reshape(-1, 2) for doc in docs]
        if not arrays:
            return []
        sizes = numpy.asarray([len(a) for a in arrays], dtype="int64")
        array = numpy.concatenate(arrays)
        owner = numpy.repeat(numpy.arange(len(arrays)), sizes)
        kept = array[:, 1] == 0  # whitespace tokens are not read
        index = numpy.arange(len(array)) - numpy.repeat(numpy.cumsum(sizes) - sizes, sizes)
        lengths = numpy.bincount(owner[kept], minlength=len(arrays))
        return prepare_batch(self.vocab.ids_of_hashes(array[kept, 0]), index[kept], lengths, self.vocab.eos_id,
                             self.backward)

    def warm_up(self) -> None:
        """Build what the LM builds at its first call (an ``ngram_lm``'s probing tables), so that a
        worker is ready before its first task (and a forked one inherits it)."""
        eos = self.vocab.eos_id
        self.total_nll(prepare_batch(numpy.asarray([eos]), numpy.asarray([0]), [1], eos))

    def score_docs(self, docs: Sequence[Doc]) -> List[Scores]:
        """The scores of docs already tokenised (the query stage: no tokenizer)."""
        return self._scores(self.prepare_docs(docs), [len(doc) for doc in docs])

    def score(self, texts: Sequence[str]) -> List[Scores]:
        """``perplexity``, ``logprob`` (nats), ``n_tokens``, ``n_predicted`` per text, as
        ``nlp(text)``'s ``doc._.lm_*`` give them (None and 0 for a text with no tokens)."""
        return self._scores(*self.prepare(texts))

    def _scores(self, prepared: List[Optional[PreparedDoc]], n_tokens: Sequence[int]) -> List[Scores]:
        live = [i for i, p in enumerate(prepared) if p is not None]
        totals = self.total_nll([prepared[i] for i in live]) if live else []
        scores: List[Dict[str, Any]] = [{"perplexity": None, "logprob": None, "n_tokens": n, "n_predicted": 0}
                                        for n in n_tokens]
        for i, total in zip(live, numpy.asarray(totals).tolist()):
            n_predicted = len(prepared[i][1])  # type: ignore[index]
            scores[i].update(perplexity=math.exp(total / n_predicted), logprob=-total, n_predicted=n_predicted)
        return scores


def score_only_path(nlp: Any, name: str, ngram_backend: str = "numpy",
                    arpa: Optional[str] = None) -> Optional[ScoreOnlyPath]:
    """The score-only path for component ``name`` when only the tokenizer runs before it (the
    enabled pipes are ``[name]``) and it has ``total_nll``; None otherwise (``nlp.pipe`` then).
    ``ngram_backend="kenlm"``: an ``ngram_lm`` is queried by KenLM (over ``arpa`` when it was read
    from that file); other LMs are not n-gram models and keep their own ``total_nll``."""
    component = nlp.get_pipe(name)
    if nlp.pipe_names != [name] or not hasattr(component, "total_nll"):
        return None
    if getattr(component, "lm_vocab", None) is None:
        return None
    total_nll = None
    if ngram_backend == "kenlm" and nlp.get_pipe_meta(name).factory == "ngram_lm":
        from ..ngram.kenlm_query import KenLMQuery

        total_nll = KenLMQuery.from_component(component, arpa).total_nll
    return ScoreOnlyPath(nlp, component, total_nll)
