"""Scorers for `spacy train` / `spacy evaluate`.

`spacy_lm.perplexity_scorer.v1` reads the annotations every LM component writes
(see extensions.py) and pools them over the corpus: perplexity is exp of the mean NLL
over all predicted tokens, not a mean of per-doc perplexities.
"""
import math
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Union

from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import registry

from .vocab import EOS


def perplexity_score(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """lm_perplexity, lm_loss (mean NLL, nats), lm_accuracy (next-token top-1) and
    lm_score = 1 / perplexity (the geometric-mean token probability: higher is better,
    so `spacy train` keeps the lowest-perplexity model as model-best)."""
    total_nll = 0.0
    n_predicted = 0
    n_correct = 0
    for eg in examples:
        doc = eg.predicted
        if not doc.has_extension("lm_logprob") or doc._.lm_logprob is None:
            continue
        total_nll -= doc._.lm_logprob
        n_predicted += doc._.lm_n_predicted
        n_correct += doc._.lm_n_correct
    if n_predicted == 0:
        return {"lm_perplexity": None, "lm_loss": None, "lm_accuracy": None, "lm_score": None}
    loss = total_nll / n_predicted
    perplexity = math.exp(loss)
    return {"lm_perplexity": perplexity, "lm_loss": loss, "lm_accuracy": n_correct / n_predicted,
            "lm_score": 1.0 / perplexity, "lm_n_predicted": n_predicted}


@registry.scorers("spacy_lm.perplexity_scorer.v1")
def make_perplexity_scorer() -> Callable[..., Dict[str, Any]]:
    return perplexity_score


def find_lm_component(nlp, name: Optional[str] = None) -> str:
    """The named component, or the first one that writes ``doc._.lm_logprob``."""
    if name is not None:
        if name not in nlp.pipe_names:
            raise ValueError(f"No component '{name}' in the pipeline; it has {nlp.pipe_names}")
        return name
    for pipe_name, pipe in nlp.pipeline:
        if hasattr(pipe, "initial_state") and hasattr(pipe, "step"):
            return pipe_name
    raise ValueError(f"The pipeline has no language-model component (components: {nlp.pipe_names})")


def read_corpus_docs(nlp, path: Union[str, Path], *, limit: int = 0) -> Iterable[Doc]:
    """Docs of a .spacy DocBin, or of a text file one doc per line. With the whitespace
    tokenizer lines are read as the benchmark readers read them (one ``<eos>`` marker per
    line, blank lines too); otherwise each non-blank line goes through the pipeline's tokenizer."""
    from .readers import open_text, read_plain_text_docs
    from .tokenizer import WhitespaceTokenizer

    path = Path(path)
    if path.suffix == ".spacy":
        docs = DocBin().from_disk(path).get_docs(nlp.vocab)
        return islice(docs, limit) if limit else docs
    if isinstance(nlp.tokenizer, WhitespaceTokenizer):
        return read_plain_text_docs(path, nlp.vocab, eos_marker=EOS, limit=limit)

    def lines() -> Iterable[Doc]:
        with open_text(path) as handle:
            texts = (line.strip() for line in handle)
            docs = (nlp.make_doc(t) for t in texts if t)
            yield from (islice(docs, limit) if limit else docs)

    return lines()


def corpus_perplexity(nlp, docs: Iterable[Doc], *, component: Optional[str] = None, batch_size: int = 64,
                      progress: bool = False) -> Dict[str, Any]:
    """Run the pipeline up to the LM component over ``docs`` and pool perplexity scores."""
    name = find_lm_component(nlp, component)
    upto = nlp.pipe_names.index(name)
    enabled = nlp.pipe_names[: upto + 1]
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, desc="Scoring", unit=" docs")
    with nlp.select_pipes(enable=enabled):
        examples = [Example(doc, doc) for doc in nlp.pipe(docs, batch_size=batch_size)]
    scores = perplexity_score(examples)
    scores["n_docs"] = len(examples)
    scores["component"] = name
    return scores
