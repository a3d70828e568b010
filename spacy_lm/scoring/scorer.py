"""The worker side of `spacy lm score`: ``TextScorer`` loads the pipeline once (per process or
Ray actor) and turns texts into small score dicts, never documents, so that only numbers travel
back to the driver. Every engine (engines.py) maps ``TextScorer.score`` over chunks of texts."""
from typing import Any, List, Optional, Sequence

from ..pipeline_lookup import find_lm_component
from .settings import Scores, ScoreSettings


class TextScorer:
    """The pipeline loaded once (per process or actor): texts in, score dicts out."""

    def __init__(self, settings: ScoreSettings) -> None:
        import spacy

        if settings.code:
            from spacy.util import import_file

            import_file("spacy_lm_user_code", settings.code)
        if settings.gpu_id >= 0:
            from thinc.api import require_gpu

            require_gpu(settings.gpu_id)
        self.settings = settings
        self.nlp = spacy.load(settings.model)
        self._enable_upto(self.nlp, find_lm_component(self.nlp, settings.component))
        self.prefilter = self._load_prefilter(settings.prefilter) if settings.prefilter else None

    @staticmethod
    def _enable_upto(nlp: Any, name: str) -> None:
        """Run the pipeline up to its LM only (components after it cannot change the score)."""
        names = nlp.pipe_names
        nlp.select_pipes(enable=names[: names.index(name) + 1])

    def _load_prefilter(self, path: str) -> Any:
        """An ARPA file becomes an ``ngram_lm`` over the main pipeline's tokenizer; a pipeline
        keeps its own tokenizer."""
        import spacy

        if path.endswith((".arpa", ".arpa.gz")):
            nlp = spacy.blank(self.nlp.lang, vocab=self.nlp.vocab)
            nlp.tokenizer = self.nlp.tokenizer
            nlp.add_pipe("ngram_lm", name="prefilter").load_arpa(path)
            return nlp
        nlp = spacy.load(path)
        self._enable_upto(nlp, find_lm_component(nlp))
        return nlp

    def score(self, texts: Sequence[str]) -> List[Scores]:
        """One dict per text: ``perplexity``, ``logprob`` (nats), ``n_tokens``, ``n_predicted``
        (tokens scored, the closing ``<eos>`` included), and ``prefilter_perplexity`` with a
        prefilter; a text the prefilter rejects has ``perplexity`` None."""
        settings = self.settings
        scores: List[Scores] = [{} for _ in texts]
        survivors = list(range(len(texts)))
        if self.prefilter is not None:
            docs = self.prefilter.pipe(texts, batch_size=settings.batch_size)
            for i, doc in enumerate(docs):
                scores[i]["prefilter_perplexity"] = doc._.lm_perplexity
            survivors = [i for i in survivors if _passes(scores[i]["prefilter_perplexity"], settings.max_ppl)]
        docs = self.nlp.pipe((texts[i] for i in survivors), batch_size=settings.batch_size)
        for i, doc in zip(survivors, docs):
            scores[i].update(perplexity=doc._.lm_perplexity, logprob=doc._.lm_logprob, n_tokens=len(doc),
                             n_predicted=doc._.lm_n_predicted)
        return scores


def _passes(perplexity: Optional[float], max_ppl: Optional[float]) -> bool:
    return perplexity is not None and max_ppl is not None and perplexity <= max_ppl
