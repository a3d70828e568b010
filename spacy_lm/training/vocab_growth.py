"""`spacy_lm.grow_lm_vocabulary.v1`: ULMFiT's vocabulary growth, as an ``[initialize.after_init]``
callback.

ULMFiT fine-tunes a general LM on the task's text (Howard & Ruder 2018). The words of the task
that the general LM never saw are added to its vocabulary, their embedding and output rows
initialised with the mean of the trained rows (fastai's ``convert_weights``). A sourced
component is not re-initialized by ``nlp.initialize`` (`spacy train` disables it there), so
without this step the task words read as ``<unk>``.

spaCy calls the callback with the pipeline once ``nlp.initialize`` is done. It counts the words
of a config corpus (``corpora.train``) with the component's token attribute, appends those its
vocabulary lacks (``TokenVocab.extend``: after the existing ids, most frequent first) and grows
the model to match (``grow_vocabulary`` of `spacy_lm.LSTMLanguageModel.v1`/`.v2`). The component
gets the grown vocabulary as a new ``lm_vocab`` once its model has grown (a failure leaves it as
it was). The grown vocabulary and weights are saved with the component, so the trained pipeline
loads from its config as any other. The callback must run before the first optimizer step:
Adam's moments are sized to the tables they were made for.

    [initialize.after_init]
    @callbacks = "spacy_lm.grow_lm_vocabulary.v1"
    component = "lstm_lm"
    corpus = "corpora.train"
    min_freq = 2
    max_new = 20000
"""
from typing import Callable

from spacy.language import Language
from spacy.util import registry
from wasabi import msg

from ..checks import check_count
from ..corpora.corpus import config_corpus
from ..errors import Errors
from ..text.vocab import TokenVocab

NAME = "spacy_lm.grow_lm_vocabulary.v1"


@registry.callbacks("spacy_lm.grow_lm_vocabulary.v1")
def make_grow_lm_vocabulary(component: str = "lstm_lm", corpus: str = "corpora.train", min_freq: int = 2,
                            max_new: int = 20000) -> Callable[[Language], Language]:
    """An ``after_init`` callback adding the words of ``corpus`` (a config section, e.g.
    "corpora.train") seen at least ``min_freq`` times that lstm_lm ``component`` lacks, at most
    ``max_new`` of them (the most frequent), to its vocabulary and model."""
    check_count("min_freq", min_freq, 1, where=NAME)
    check_count("max_new", max_new, 0, where=NAME)

    def grow_lm_vocabulary(nlp: Language) -> Language:
        grow_vocabulary(nlp, component, corpus=corpus, min_freq=min_freq, max_new=max_new)
        return nlp

    return grow_lm_vocabulary


def grow_vocabulary(nlp: Language, component: str, *, corpus: str, min_freq: int, max_new: int) -> int:
    """Grow lstm_lm ``component`` of ``nlp`` by the new words of ``corpus``; returns how many."""
    if component not in nlp.component_names:
        raise ValueError(Errors.E310.format(name=component, names=nlp.component_names))
    pipe = nlp.get_pipe(component)
    if not hasattr(pipe, "lm_vocab") or not callable(getattr(getattr(pipe, "model", None), "grow_vocabulary", None)):
        raise ValueError(Errors.E311.format(name=component, kind=type(pipe).__name__))
    vocab = pipe.lm_vocab
    if not isinstance(vocab, TokenVocab):
        raise ValueError(Errors.E312.format(name=component))
    get_examples = config_corpus(nlp, corpus, component)
    counts = TokenVocab.count((eg.reference for eg in get_examples()), attr=vocab.attr)
    if not counts:
        raise ValueError(Errors.E313.format(corpus=corpus))
    # A grown copy, set once the model has grown: a failure leaves the component as it was, and
    # whoever kept the old vocabulary with a model of its size (qa's LM features) keeps both.
    grown = TokenVocab(vocab.strings, attr=vocab.attr)
    added = grown.extend(counts, min_freq=min_freq, max_new=max_new)
    pipe.model.grow_vocabulary(len(grown))
    pipe.lm_vocab = grown
    msg.info(f"added {len(added)} task words to {component}'s vocabulary ({len(vocab)} -> {len(grown)})")
    return len(added)
