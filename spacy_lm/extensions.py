"""Doc and Token extensions written by every language-model component, and (at the end)
those of `sentiment_scorer`.

Values are plain floats, ints and lists (msgpack-able), stored in ``doc.user_data``, so
they survive ``DocBin`` and ``nlp.pipe(n_process=...)``. Token values are read from the
Doc-level list by a getter rather than stored per token.

Units: surprisal in bits (-log2 p); log-probability in nats (natural log);
perplexity = exp(-lm_logprob / lm_n_predicted), counting the closing ``<eos>``.
"""
import math
from typing import Any, Dict, List, Optional

from spacy.tokens import Doc, Token

DOC_EXTENSIONS = {
    "lm_surprisals": None,  # List[Optional[float]], one per token (None for whitespace tokens)
    "lm_end_surprisal": None,  # surprisal of the implicit closing <eos>, None if the doc ends with one
    "lm_logprob": None,  # total log-probability of the doc and its closing <eos>, nats
    "lm_perplexity": None,
    "lm_n_predicted": 0,  # tokens scored, including the closing <eos>
    "lm_n_correct": 0,  # of those, how many were the model's most likely next token
}


def _token_surprisal(token: Token) -> Optional[float]:
    values: Optional[List[Optional[float]]] = token.doc._.lm_surprisals
    return None if values is None else values[token.i]


def _install(owner: Any, defaults: Dict[str, Any], getters: Optional[Dict[str, Any]] = None) -> None:
    """Set the extensions ``owner`` (Doc, Token, Span) lacks: each of ``defaults`` with its
    default value, each of ``getters`` with its getter. Idempotent, as every factory calls it."""
    for name, default in defaults.items():
        if not owner.has_extension(name):
            owner.set_extension(name, default=default)
    for name, getter in (getters or {}).items():
        if not owner.has_extension(name):
            owner.set_extension(name, getter=getter)


def install_extensions() -> None:
    """Idempotent: safe to call from every component factory."""
    _install(Doc, DOC_EXTENSIONS)
    _install(Token, {}, {"lm_surprisal": _token_surprisal})


def set_lm_annotations(doc: Doc, result: Optional[Dict[str, Any]]) -> None:
    """Write one doc's scores. ``result`` holds numpy arrays ``nll`` (nats per predicted
    token), ``correct`` (top-1 hits) and ``positions`` (token index, -1 for the closing
    ``<eos>``), as every LM component's ``predict`` returns them; None for an unscored doc."""
    if result is None:
        doc._.lm_surprisals = [None] * len(doc)
        doc._.lm_end_surprisal = None
        doc._.lm_logprob = None
        doc._.lm_perplexity = None
        doc._.lm_n_predicted = 0
        doc._.lm_n_correct = 0
        return
    log2 = math.log(2.0)
    surprisals: List[Optional[float]] = [None] * len(doc)
    end = None
    for position, value in zip(result["positions"].tolist(), result["nll"].tolist()):
        if position < 0:
            end = value / log2
        else:
            surprisals[position] = value / log2
    total = float(result["nll"].sum(dtype="float64"))
    n = int(result["nll"].shape[0])
    doc._.lm_surprisals = surprisals
    doc._.lm_end_surprisal = end
    doc._.lm_logprob = -total
    doc._.lm_perplexity = math.exp(total / n)
    doc._.lm_n_predicted = n
    doc._.lm_n_correct = int(result["correct"].sum())


# ---------------------------------------------------------------------- sentence_vae
VAE_DOC_EXTENSIONS = {
    "vae_mean": None,  # List[float]: mean of q(z|doc)
    "vae_logvar": None,  # List[float]: log-variance of q(z|doc)
    "vae_nll": None,  # float: importance-weighted estimate of -log p(doc), nats (closing <eos> included)
    "vae_n_tokens": 0,  # tokens the NLL covers, the closing <eos> included
}


def _vae_vector(doc: Doc):
    import numpy

    return None if doc._.vae_mean is None else numpy.asarray(doc._.vae_mean, dtype="float32")


def install_vae_extensions() -> None:
    """Idempotent. ``doc._.vae_vector`` is a getter: the mean as a NumPy array."""
    _install(Doc, VAE_DOC_EXTENSIONS, {"vae_vector": _vae_vector})


def set_vae_annotations(doc: Doc, result: Optional[Dict[str, Any]]) -> None:
    """Write one doc's posterior and NLL (None everywhere for a doc without tokens)."""
    if result is None:
        doc._.vae_mean = None
        doc._.vae_logvar = None
        doc._.vae_nll = None
        doc._.vae_n_tokens = 0
        return
    doc._.vae_mean = [float(v) for v in result["mean"]]
    doc._.vae_logvar = [float(v) for v in result["logvar"]]
    doc._.vae_nll = result["nll"]
    doc._.vae_n_tokens = int(result["n_tokens"])


# ---------------------------------------------------------------------- translator
TRANSLATION_DOC_EXTENSIONS = {
    # str: on a predicted doc, the translator's output (detokenised for the target language); on a
    # training example's reference doc, the gold target text (spaCy's Example needs predicted and
    # reference to share their text, so the target rides here).
    "translation": None,
    "translation_tokens": None,  # List[str]: the output's target-language tokens
    "translation_logprobs": None,  # List[float]: log p (nats) of each output token given the source
    "translation_score": None,  # float: the decoder's score of the output (beam: length-penalised)
    # List[List[float]]: attention, one row per output token over the source tokens (+ the source's
    # closing <eos>, the last column); only when the translator stores attention
    "translation_attention": None,
}


def install_translation_extensions() -> None:
    """Idempotent; also called by `spacy_lm.ParallelCorpus.v1` (references carry ``translation``)."""
    _install(Doc, TRANSLATION_DOC_EXTENSIONS)


def set_translation_annotations(doc: Doc, result: Optional[Dict[str, Any]]) -> None:
    """Write one doc's translation: ``text``, ``tokens``, ``logprobs``, ``score`` and optional
    ``attention`` (plain lists); None resets every value (a doc the translator did not run on)."""
    result = result or {}
    doc._.translation = result.get("text")
    doc._.translation_tokens = result.get("tokens")
    doc._.translation_logprobs = result.get("logprobs")
    doc._.translation_score = result.get("score")
    doc._.translation_attention = result.get("attention")


# ---------------------------------------------------------------------- sentiment_scorer
SENTIMENT_DOC_EXTENSIONS = {
    "sentiment_polarity": None,  # float in [-1, 1] (also written to spaCy's doc.sentiment)
    "sentiment_label": None,  # "negative" | "neutral" | "positive"
    "sentiment_tokens": None,  # List[float]: each token's contribution to the polarity (None: not computed)
    "sentiment_tokens_skipped": None,  # str: why sentiment_tokens is None (attributions off, doc too long)
    "sentiment_base": None,  # float: the polarity no token accounts for (IG baseline; 0 for the lexicon)
    "sentiment_sentences": None,  # List[[start, end, polarity]] when the doc has sentence boundaries
    "sentiment_probs": None,  # Dict[label, probability] of a class model, else None
}
SENTIMENT_LABELS = ("negative", "neutral", "positive")


def _token_contribution(token: Token) -> Optional[float]:
    values = token.doc._.sentiment_tokens
    return None if values is None else values[token.i]


def _span_polarity(span) -> Optional[float]:
    doc = span.doc
    for start, end, polarity in doc._.sentiment_sentences or ():
        if start == span.start and end == span.end:
            return polarity
    if span.start == 0 and span.end == len(doc):
        return doc._.sentiment_polarity
    return None


def install_sentiment_extensions() -> None:
    """Idempotent. Values are plain floats, strings and lists, kept in ``doc.user_data``."""
    from spacy.tokens import Span

    _install(Doc, SENTIMENT_DOC_EXTENSIONS)
    _install(Token, {}, {"sentiment_contribution": _token_contribution})
    _install(Span, {}, {"sentiment_polarity": _span_polarity})


def polarity_label(polarity: float, neutral_threshold: float) -> str:
    if polarity >= neutral_threshold and polarity > 0:
        return "positive"
    if polarity <= -neutral_threshold and polarity < 0:
        return "negative"
    return "neutral"


def set_sentiment_annotations(doc: Doc, result: Dict[str, Any], neutral_threshold: float) -> None:
    """Write one doc's result: ``polarity``, ``tokens``, ``skipped``, ``base``, ``sentences``, ``probs``."""
    polarity = float(result["polarity"])
    doc._.sentiment_polarity = polarity
    doc._.sentiment_label = polarity_label(polarity, neutral_threshold)
    doc._.sentiment_tokens = result.get("tokens")
    doc._.sentiment_tokens_skipped = result.get("skipped")
    doc._.sentiment_base = result.get("base")
    doc._.sentiment_sentences = result.get("sentences") or []
    doc._.sentiment_probs = result.get("probs")
    doc.sentiment = polarity


# ---------------------------------------------------------------------- qa
QA_SPANS_KEY = "answers"  # doc.spans key of the answer spans (gold on reference docs, predicted on docs)
QA_DOC_EXTENSIONS = {
    # List[Dict]: the questions asked of this doc (the context), each {"id": str, "text": str};
    # plain strings are accepted and given ids "q0", "q1", ... (see normalize_questions).
    "questions": None,
    # List[Dict], one per question, in order: {"id", "question", "text", "start_char", "end_char",
    # "score"} (score: the span's probability under the reader, in [0, 1]).
    "answers": None,
    # Dict[str, List[str]] on reference docs: the official answer texts of each question id
    # (what the SQuAD metric compares against; the token spans may be wider, see corpora/squad.py).
    "reference_answers": None,
}


def install_qa_extensions() -> None:
    """Idempotent. Values are plain dicts, strings and lists, kept in ``doc.user_data``."""
    _install(Doc, QA_DOC_EXTENSIONS)


def normalize_questions(questions: Any) -> List[Dict[str, str]]:
    """``doc._.questions`` as a list of ``{"id", "text"}`` dicts (strings get ids "q0", "q1", ...).
    A value of another type raises E270 naming it."""
    from .errors import Errors

    if questions is None:
        return []
    if isinstance(questions, (str, dict)):
        questions = [questions]
    if not isinstance(questions, (list, tuple)):
        raise TypeError(Errors.E270.format(type=type(questions).__name__))
    result = []
    for i, question in enumerate(questions):
        if isinstance(question, str):
            result.append({"id": f"q{i}", "text": question})
        elif isinstance(question, dict) and isinstance(question.get("text"), str):
            result.append({"id": str(question.get("id", f"q{i}")), "text": question["text"]})
        else:
            raise TypeError(Errors.E270.format(type=type(question).__name__))
    return result
