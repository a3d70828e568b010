"""The worker side of `spacy lm score`: ``TextScorer`` loads the pipeline once (per process or
Ray actor) and turns texts into small score dicts, never documents, so that only numbers travel
back to the driver. Every worker (worker.py) scores its ranges' records ``chunk_size`` texts at a time.

Where only the tokenizer runs before the LM, texts take the score-only path (token_ids.py: ids
and one total per text, no pipeline Doc); otherwise ``nlp.pipe`` (components before the LM may
change what it reads). The scores are the same either way."""
from typing import Any, List, Optional, Sequence, Tuple

from ..pipeline_lookup import find_lm_component
from .settings import Scores, ScoreSettings
from .token_ids import ScoreOnlyPath, score_only_path


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
        name = find_lm_component(self.nlp, settings.component)
        self._enable_upto(self.nlp, name)
        self.score_only = score_only_path(self.nlp, name, settings.ngram_backend)
        self.prefilter: Any = None
        self.prefilter_score_only: Optional[ScoreOnlyPath] = None
        if settings.prefilter:
            self.prefilter, prefilter_name = self._load_prefilter(settings.prefilter)
            arpa = settings.prefilter if settings.prefilter.endswith(".arpa") else None  # KenLM reads it as is
            self.prefilter_score_only = score_only_path(self.prefilter, prefilter_name, settings.ngram_backend, arpa)

    def warm_up(self) -> None:
        """Ready every score-only path (see ``ScoreOnlyPath.warm_up``); no text is scored."""
        for path in (self.score_only, self.prefilter_score_only):
            if path is not None:
                path.warm_up()

    @staticmethod
    def _enable_upto(nlp: Any, name: str) -> None:
        """Run the pipeline up to its LM only (components after it cannot change the score)."""
        names = nlp.pipe_names
        nlp.select_pipes(enable=names[: names.index(name) + 1])

    def _load_prefilter(self, path: str) -> Tuple[Any, str]:
        """The prefilter pipeline and its LM's name. An ARPA file becomes an ``ngram_lm`` over the
        main pipeline's tokenizer; a pipeline keeps its own tokenizer."""
        import spacy

        if path.endswith((".arpa", ".arpa.gz")):
            nlp = spacy.blank(self.nlp.lang, vocab=self.nlp.vocab)
            nlp.tokenizer = self.nlp.tokenizer
            nlp.add_pipe("ngram_lm", name="prefilter").load_arpa(path)
            return nlp, "prefilter"
        nlp = spacy.load(path)
        name = find_lm_component(nlp)
        self._enable_upto(nlp, name)
        return nlp, name

    def score(self, texts: Sequence[str]) -> List[Scores]:
        """One dict per text: ``perplexity``, ``logprob`` (nats), ``n_tokens``, ``n_predicted``
        (tokens scored, the closing ``<eos>`` included), and ``prefilter_perplexity`` with a
        prefilter; a text the prefilter rejects has ``perplexity`` None."""
        settings = self.settings
        scores: List[Scores] = [{} for _ in texts]
        survivors = list(range(len(texts)))
        if self.prefilter is not None:
            for i, value in enumerate(self._score(self.prefilter, self.prefilter_score_only, texts)):
                scores[i]["prefilter_perplexity"] = value["perplexity"]
            survivors = [i for i in survivors if _passes(scores[i]["prefilter_perplexity"], settings.max_ppl)]
        for i, value in zip(survivors, self._score(self.nlp, self.score_only, [texts[i] for i in survivors])):
            scores[i].update(value)
        return scores

    def _score(self, nlp: Any, score_only: Optional[ScoreOnlyPath], texts: Sequence[str]) -> List[Scores]:
        if score_only is not None:
            return score_only.score(texts)
        return [{"perplexity": doc._.lm_perplexity, "logprob": doc._.lm_logprob, "n_tokens": len(doc),
                 "n_predicted": doc._.lm_n_predicted}
                for doc in nlp.pipe(texts, batch_size=self.settings.batch_size)]


def _passes(perplexity: Optional[float], max_ppl: Optional[float]) -> bool:
    return perplexity is not None and max_ppl is not None and perplexity <= max_ppl
