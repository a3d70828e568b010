"""Finding components in a pipeline, and running a pipeline up to one (``pipe_up_to``): the language model an LM command scores or generates
with, the sentiment or text classifier `spacy lm explain` asks, the VAE of `spacy lm vae`, the translator of
`spacy lm translate`. Every lookup takes an explicit name
(checked against the pipeline) or picks the first component that fits.
"""
from typing import Iterable, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc

from .errors import Errors

SENTIMENT_FACTORY = "sentiment_scorer"
VAE_FACTORY = "sentence_vae"
TRANSLATOR_FACTORY = "translator"
TEXTCAT_FACTORIES = ("textcat", "textcat_multilabel", "weighted_textcat", "weighted_textcat_multilabel")


def _named(nlp: Language, name: str) -> str:
    if name not in nlp.pipe_names:
        raise ValueError(Errors.E040.format(name=name, names=nlp.pipe_names))
    return name


def find_lm_component(nlp: Language, name: Optional[str] = None) -> str:
    """The named component, or the first one that implements the LM protocol
    (``initial_state`` and ``step``; it writes ``doc._.lm_logprob``)."""
    if name is not None:
        return _named(nlp, name)
    for pipe_name, pipe in nlp.pipeline:
        if hasattr(pipe, "initial_state") and hasattr(pipe, "step"):
            return pipe_name
    raise ValueError(Errors.E041.format(what="language-model", names=nlp.pipe_names))


def _find_by_factory(nlp: Language, factory: str, name: Optional[str]) -> str:
    if name is not None:
        return _named(nlp, name)
    for pipe_name in nlp.pipe_names:
        if nlp.get_pipe_meta(pipe_name).factory == factory:
            return pipe_name
    raise ValueError(Errors.E041.format(what=factory, names=nlp.pipe_names))


def find_sentiment_component(nlp: Language, name: Optional[str] = None) -> str:
    """The named component, or the first component made by the `sentiment_scorer` factory.
    Found by its factory name, so this module imports no component (explain.py uses it, and
    the component imports explain.py)."""
    return _find_by_factory(nlp, SENTIMENT_FACTORY, name)


def find_textcat_component(nlp: Language, name: Optional[str] = None) -> str:
    """The named component, or the first made by spaCy's `textcat` / `textcat_multilabel` (or
    this package's `weighted_` variants): the classifiers `spacy lm explain` attributes."""
    if name is not None:
        return _named(nlp, name)
    for pipe_name in nlp.pipe_names:
        if nlp.get_pipe_meta(pipe_name).factory in TEXTCAT_FACTORIES:
            return pipe_name
    raise ValueError(Errors.E041.format(what="textcat", names=nlp.pipe_names))


def find_vae_component(nlp: Language, name: Optional[str] = None) -> str:
    """The named component, or the first component made by the `sentence_vae` factory."""
    return _find_by_factory(nlp, VAE_FACTORY, name)


def find_translator_component(nlp: Language, name: Optional[str] = None) -> str:
    """The named component, or the first component made by the `translator` factory. A named
    component must be a translator (have ``translate_docs``): E136 otherwise."""
    found = _find_by_factory(nlp, TRANSLATOR_FACTORY, name)
    if not callable(getattr(nlp.get_pipe(found), "translate_docs", None)):
        raise ValueError(Errors.E136.format(name=found, factory=nlp.get_pipe_meta(found).factory,
                                            names=nlp.pipe_names))
    return found


def pipe_up_to(nlp: Language, name: str, texts: Iterable[Union[str, Doc]], *, including: bool = True,
               batch_size: Optional[int] = None) -> List[Doc]:
    """``texts`` through the pipeline up to component ``name``, with it or (``including=False``)
    only the components before it: what comes after cannot change what it reads or writes."""
    names = nlp.pipe_names
    with nlp.select_pipes(enable=names[: names.index(name) + int(including)]):
        return list(nlp.pipe(texts, batch_size=batch_size))
