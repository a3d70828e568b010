"""Corpora outside `spacy train`: reading a corpus file into docs, and scoring a corpus with
the pipeline's language model (what `spacy lm score`, the projects and the benchmarks use).
"""
import warnings
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import resolve_dot_names

from ..batching import check_n_segments
from ..checks import check_count
from ..errors import Errors, Warnings
from ..pipeline_lookup import find_lm_component
from ..metrics.scorers import perplexity_score
from ..text.vocab import EOS


def config_corpus(nlp: Optional[Language], corpus: str, name: str) -> Callable[[], Iterable[Example]]:
    """``get_examples`` reading the corpus a pipeline config names (e.g. "corpora.train"): what a
    component's ``initialize(corpus=...)`` counts when spaCy passes none (``spacy assemble``) or
    only a sample (``spacy train`` with ``max_epochs = -1`` initializes on 100 examples)."""
    if nlp is None:
        raise ValueError(Errors.E028.format(name=name, corpus=corpus))
    (reader,) = resolve_dot_names(nlp.config.interpolate(), [corpus])
    return lambda: reader(nlp)


def read_corpus_docs(nlp: Language, path: Union[str, Path], *, limit: int = 0) -> Iterable[Doc]:
    """Docs of a .spacy DocBin, or of a text file one doc per line. With the whitespace
    tokenizer lines are read as the benchmark readers read them (one ``<eos>`` marker per
    line, blank lines too); otherwise each non-blank line goes through the pipeline's tokenizer.
    A file that is not UTF-8 text (or not gzip data although named .gz) raises E062 when
    read; one that is not a DocBin, E087."""
    from .files import read_text_lines
    from .plain_text import read_plain_text_docs
    from ..text.tokenizer import WhitespaceTokenizer

    check_count("limit", limit, 0)
    path = Path(path)
    if path.suffix == ".spacy":
        try:
            doc_bin = DocBin().from_disk(path)
        except ValueError as err:
            raise ValueError(Errors.E087.format(path=path, reason=err)) from err
        docs = doc_bin.get_docs(nlp.vocab)
        return islice(docs, limit) if limit else docs
    if isinstance(nlp.tokenizer, WhitespaceTokenizer):
        return read_plain_text_docs(path, nlp.vocab, eos_marker=EOS, limit=limit)

    def lines() -> Iterable[Doc]:
        texts = (line.strip() for line in read_text_lines(path))
        docs = (nlp.make_doc(t) for t in texts if t)
        yield from (islice(docs, limit) if limit else docs)

    return lines()


def corpus_perplexity(nlp: Language, docs: Iterable[Doc], *, component: Optional[str] = None,
                      batch_size: int = 64, progress: bool = False, stream: bool = False,
                      n_segments: int = 1, strict: bool = False) -> Dict[str, Any]:
    """Run the pipeline up to the LM component over ``docs`` and pool perplexity scores.
    With ``stream``, also the docs read in order as one stream (the component's
    ``score_stream``, in ``n_segments`` segments): the ``lm_stream_*`` keys.
    If no token was scored (no docs, or only empty ones) the scores are None with a warning
    (W011), or, with ``strict``, a ValueError (E086)."""
    check_count("batch_size", batch_size, 1)
    name = find_lm_component(nlp, component)
    pipe = nlp.get_pipe(name)
    if stream:
        check_n_segments(n_segments)
        if not callable(getattr(pipe, "score_stream", None)):
            raise ValueError(Errors.E078.format(name=name))
    upto = nlp.pipe_names.index(name)
    enabled = nlp.pipe_names[: upto + 1]
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, desc="Scoring", unit=" docs")
    with nlp.select_pipes(enable=enabled):
        examples = [Example(doc, doc) for doc in nlp.pipe(docs, batch_size=batch_size)]
    scores = perplexity_score(examples, warn_empty=False)
    if not scores["lm_n_predicted"]:
        if strict:
            raise ValueError(Errors.E086.format(n_docs=len(examples)))
        warnings.warn(Warnings.W011.format(n_docs=len(examples)))
    if stream:
        scores.update(pipe.score_stream([eg.predicted for eg in examples], n_segments=n_segments))
    scores["n_docs"] = len(examples)
    scores["component"] = name
    return scores
