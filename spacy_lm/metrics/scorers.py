"""Scorers for `spacy train` / `spacy evaluate`: scorer functions and their registered factories
(reading and scoring whole corpora is corpora/corpus.py; finding components, pipeline_lookup.py).

`spacy_lm.perplexity_scorer.v1` reads the annotations every LM component writes
(see extensions.py) and pools them over the corpus: perplexity is exp of the mean NLL
over all predicted tokens, not a mean of per-doc perplexities. `spacy_lm.perplexity_scorer.v2`
adds the corpus read as one stream (``lm_stream_*``, from the component's ``score_stream``).
"""
import math
import warnings
from functools import partial
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from spacy.training import Example
from spacy.util import registry

from ..errors import Errors, Warnings
from ..extensions import SENTIMENT_LABELS, polarity_label


def perplexity_score(examples: Iterable[Example], *, warn_empty: bool = True, **kwargs: Any) -> Dict[str, Any]:
    """lm_perplexity, lm_loss (mean NLL, nats), lm_accuracy (next-token top-1),
    lm_score = 1 / perplexity (the geometric-mean token probability: higher is better,
    so `spacy train` keeps the lowest-perplexity model as model-best) and lm_n_predicted.

    With no token scored (an empty dev corpus) the scores are None, as spaCy's scorers give
    for missing annotations, with a warning (W010) unless ``warn_empty`` is False: spaCy's
    training loop drops None scores, and its table and meta.json then show them as 0.0."""
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
        if warn_empty:
            warnings.warn(Warnings.W010)
        return {"lm_perplexity": None, "lm_loss": None, "lm_accuracy": None, "lm_score": None,
                "lm_n_predicted": 0}
    loss = total_nll / n_predicted
    perplexity = math.exp(loss)
    return {"lm_perplexity": perplexity, "lm_loss": loss, "lm_accuracy": n_correct / n_predicted,
            "lm_score": 1.0 / perplexity, "lm_n_predicted": n_predicted}


@registry.scorers("spacy_lm.perplexity_scorer.v1")
def make_perplexity_scorer() -> Callable[..., Dict[str, Any]]:
    return perplexity_score


def stream_scores(total_nll: float, n_correct: int, n_predicted: int) -> Dict[str, Any]:
    """The ``lm_stream_*`` keys of a corpus read as one stream (``score_stream`` of an LM
    component): perplexity, mean NLL (nats), top-1 accuracy, tokens predicted."""
    if n_predicted == 0:
        return {"lm_stream_perplexity": None, "lm_stream_loss": None, "lm_stream_accuracy": None,
                "lm_stream_n_predicted": 0}
    loss = total_nll / n_predicted
    return {"lm_stream_perplexity": math.exp(loss), "lm_stream_loss": loss,
            "lm_stream_accuracy": n_correct / n_predicted, "lm_stream_n_predicted": n_predicted}


def takes_lm(scorer: Optional[Callable]) -> bool:
    """Whether a scorer wants the LM component itself (``lm=component``) next to the examples:
    scorers made by ``spacy_lm.perplexity_scorer.v2`` do; others get only what spaCy passes."""
    return bool(getattr(scorer, "takes_lm", False))


def perplexity_stream_score(examples: Iterable[Example], *, lm: Any = None, stream: bool = True,
                            n_segments: int = 1, **kwargs: Any) -> Dict[str, Any]:
    """``perplexity_score``'s keys, plus (with ``stream`` and an ``lm`` that has
    ``score_stream``) the ``lm_stream_*`` keys of the predicted docs read in corpus order as one
    stream: the state carried across docs, as the benchmarks read a test set."""
    examples = list(examples)
    scores = perplexity_score(examples)
    if stream and lm is not None:
        scores.update(lm.score_stream([eg.predicted for eg in examples], n_segments=n_segments))
    return scores


@registry.scorers("spacy_lm.perplexity_scorer.v2")
def make_perplexity_scorer_v2(stream: bool = True, n_segments: int = 1) -> Callable[..., Dict[str, Any]]:
    """v1's per-doc keys, and with ``stream`` the ``lm_stream_*`` keys (``lstm_lm`` and
    ``ngram_lm`` pass themselves as ``lm``). n_segments > 1 reads the stream as that many
    contiguous segments in one batch, each from a fresh state (pytorch/examples evaluates in
    10): faster, and slightly different from one stream."""
    from ..batching import check_n_segments

    check_n_segments(n_segments)

    def score(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        return perplexity_stream_score(examples, **{**kwargs, "stream": stream, "n_segments": n_segments})

    score.takes_lm = True  # type: ignore[attr-defined]
    return score


# ---------------------------------------------------------------------- sentence_vae
@registry.scorers("spacy_lm.vae_scorer.v1")
def make_vae_scorer(iw_samples: int = 500, seed: int = 0) -> Callable[..., Dict[str, Any]]:
    """The sentence VAE's corpus scores (``SentenceVAE.evaluate_docs``: ELBO, rec NLL, KL,
    IW-NLL with ``iw_samples`` samples, perplexity from it, MI, active units; ``vae_score`` =
    1 / perplexity). 500 samples is the literature's evaluation; a dev set during training
    can take fewer (the shipped config: 10). Needs the component (``sentence_vae`` passes itself)."""
    if not isinstance(iw_samples, int) or isinstance(iw_samples, bool) or iw_samples < 1:
        raise ValueError(Errors.E009.format(setting="iw_samples", requirement="an integer >= 1", value=iw_samples))

    def score(examples: Iterable[Example], *, lm: Any = None, **kwargs: Any) -> Dict[str, Any]:
        if lm is None:
            raise ValueError(Errors.E125)
        return lm.evaluate_docs([eg.predicted for eg in examples], iw_samples=iw_samples, seed=seed)

    score.takes_lm = True  # type: ignore[attr-defined]
    return score


# ---------------------------------------------------------------------- translator
def translation_score(examples: Iterable[Example], *, lm: Any, perplexity: bool = True) -> Dict[str, Any]:
    """``translation_metrics.corpus_scores`` of the predicted docs' ``doc._.translation`` (None
    counts as "") against the reference docs' (the gold target text; a reference without one
    is E147), tokenised for tok-BLEU by ``lm.target_tokens``. With ``perplexity``, also
    ``translation_perplexity``: exp(total NLL / target tokens) from
    ``lm.teacher_forced_nll(examples) -> (total_nll, n_tokens)``, i.e. of the gold targets
    read with teacher forcing (each token predicted from the gold prefix, not from the
    model's own output); None when no token is scored."""
    from ..extensions import install_translation_extensions
    from .translation import corpus_scores

    install_translation_extensions()
    examples = list(examples)
    hypotheses, references = [], []
    for i, eg in enumerate(examples):
        reference = eg.reference._.translation
        if reference is None:
            raise ValueError(Errors.E147.format(i=i, text=eg.reference.text[:60]))
        references.append(reference)
        hypotheses.append(eg.predicted._.translation or "")
    scores = corpus_scores(hypotheses, references, lm.target_tokens)
    if perplexity:
        total_nll, n_tokens = lm.teacher_forced_nll(examples) if examples else (0.0, 0)
        scores["translation_perplexity"] = math.exp(total_nll / n_tokens) if n_tokens else None
    return scores


@registry.scorers("spacy_lm.translation_scorer.v1")
def make_translation_scorer(perplexity: bool = True) -> Callable[..., Dict[str, Any]]:
    """The translator's corpus scores: translation_bleu (sacreBLEU, cased, 13a) and its
    signature, translation_tok_bleu (lower-cased target tokens, the Multi30k convention),
    translation_chrf, translation_n, and with ``perplexity`` the teacher-forced
    translation_perplexity of the gold targets (see ``translation_score``). Scores are 0-1.
    Needs the component (``translator`` passes itself as ``lm``)."""

    def score(examples: Iterable[Example], *, lm: Any = None, **kwargs: Any) -> Dict[str, Any]:
        if lm is None:
            raise ValueError(Errors.E148)
        return translation_score(examples, lm=lm, perplexity=perplexity)

    score.takes_lm = True  # type: ignore[attr-defined]
    return score


# ---------------------------------------------------------------------- text classification
ECE_BINS = 10


def _expected_calibration_error(confidences, outcomes, n_bins: int = ECE_BINS) -> Optional[float]:
    """Σ_b |B|/n · |mean outcome(B) − mean confidence(B)| over ``n_bins`` equal-width bins."""
    import numpy

    conf = numpy.asarray(confidences, dtype="float64")
    hits = numpy.asarray(outcomes, dtype="float64")
    if conf.size == 0:
        return None
    bins = numpy.minimum((conf * n_bins).astype("int64"), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(hits[in_bin].mean() - conf[in_bin].mean())
    return float(ece)


def _looks_exclusive(examples, attr: str) -> bool:
    """No explicit setting: exclusive when every annotated doc has exactly one positive gold
    label and every prediction sums to 1 (a softmax)."""
    seen = False
    for eg in examples:
        gold = getattr(eg.reference, attr)
        pred = getattr(eg.predicted, attr)
        if gold and sum(1 for v in gold.values() if v >= 1.0) != 1:
            return False
        if pred and abs(sum(pred.values()) - 1.0) > 1e-3:
            return False
        seen = seen or bool(gold)
    return seen


def textcat_score(examples: Iterable[Example], *, labels: Iterable[str] = (), multi_label: Optional[bool] = None,
                  threshold: Optional[float] = None, positive_label: Optional[str] = None,
                  attr: str = "cats", **kwargs: Any) -> Dict[str, Any]:
    """spaCy's `Scorer.score_cats` keys (cats_score, cats_micro/macro_p/r/f, cats_f_per_type with
    per-class p/r/f, cats_auc_per_type, cats_macro_auc) plus:

    - cats_accuracy: exclusive: top-1 accuracy over docs with a gold class; multilabel: the
      share of docs whose every label is right at ``threshold`` (subset accuracy).
    - cats_confusion_matrix: exclusive: ``{gold: {predicted: count}}``; multilabel: per label
      ``{label: {"1"|"0" gold: {"1"|"0" predicted: count}}}``.
    - cats_ece: expected calibration error (10 equal-width bins): exclusive on the top-class
      probability; multilabel per label on P(label) vs its gold value, averaged over labels.

    ``multi_label=None`` infers the setting from the data (see _looks_exclusive); the scorer's
    config sets it explicitly. A gold label the component does not know raises a ValueError.
    """
    from spacy.scorer import Scorer

    examples = list(examples)
    labels = list(labels)
    if multi_label is None:
        multi_label = not _looks_exclusive(examples, attr)
    kwargs = {k: v for k, v in kwargs.items() if k == "getter"}
    if threshold is None:
        threshold = 0.5 if multi_label else 0.0
    if labels:
        known = set(labels)
        for eg in examples:
            unknown = sorted(set(getattr(eg.reference, attr)) - known)
            if unknown:
                raise ValueError(Errors.E044.format(attr=attr, unknown=unknown, labels=labels))
    scores = Scorer.score_cats(examples, attr, labels=labels, multi_label=multi_label, threshold=threshold,
                               positive_label=positive_label, **kwargs)
    prefix = f"{attr}_"
    if not labels:
        scores.update({f"{prefix}accuracy": None, f"{prefix}confusion_matrix": {}, f"{prefix}ece": None})
        return scores
    if multi_label:
        matrix = {label: {g: {p: 0 for p in ("1", "0")} for g in ("1", "0")} for label in labels}
        n_docs = n_exact = 0
        per_label: Dict[str, tuple] = {label: ([], []) for label in labels}
        for eg in examples:
            gold = getattr(eg.reference, attr)
            pred = getattr(eg.predicted, attr)
            if not gold:
                continue
            n_docs += 1
            all_right = True
            for label in labels:
                if label not in gold:
                    continue
                g = gold[label] >= 0.5
                prob = float(pred.get(label, 0.0))
                p = prob >= threshold
                matrix[label]["1" if g else "0"]["1" if p else "0"] += 1
                all_right = all_right and g == p
                per_label[label][0].append(prob)
                per_label[label][1].append(float(g))
            n_exact += all_right
        eces = [e for e in (_expected_calibration_error(*per_label[label]) for label in labels) if e is not None]
        accuracy = n_exact / n_docs if n_docs else None
        ece = sum(eces) / len(eces) if eces else None
    else:
        matrix = {g: {p: 0 for p in labels} for g in labels}
        confidences, hits = [], []
        for eg in examples:
            gold = getattr(eg.reference, attr)
            pred = getattr(eg.predicted, attr)
            gold_label = max(labels, key=lambda label: gold.get(label, 0.0))
            if gold.get(gold_label, 0.0) < 1.0 or not pred:
                continue
            pred_label = max(labels, key=lambda label: pred.get(label, 0.0))
            matrix[gold_label][pred_label] += 1
            confidences.append(float(pred.get(pred_label, 0.0)))
            hits.append(float(pred_label == gold_label))
        accuracy = sum(hits) / len(hits) if hits else None
        ece = _expected_calibration_error(confidences, hits)
    scores[f"{prefix}accuracy"] = accuracy
    scores[f"{prefix}confusion_matrix"] = matrix
    scores[f"{prefix}ece"] = ece
    return scores


@registry.scorers("spacy_lm.textcat_scorer.v1")
def make_textcat_scorer(multi_label: Optional[bool] = None) -> Callable[..., Dict[str, Any]]:
    """spaCy's textcat scores plus accuracy, confusion matrix and calibration (ECE).

    multi_label: false for `textcat`, true for `textcat_multilabel` (spaCy's components do
    not pass it to their scorer); null infers it from the examples.
    """
    if multi_label is None:
        return textcat_score
    return partial(textcat_score, multi_label=multi_label)


# ---------------------------------------------------------------------- sentiment
def gold_sentiment(cats: Dict[str, float], label_values: Optional[Dict[str, float]],
                   target: str = "classes") -> Optional[Tuple[float, Optional[str]]]:
    """(gold polarity, gold class) from ``doc.cats``: classes: the label-weighted mean
    polarity and the top label; real: ``2 * cats[label] - 1`` and no class. None if unlabelled."""
    if not label_values:
        return None
    known = {k: float(v) for k, v in cats.items() if k in label_values}
    if not known:
        return None
    if target == "real":
        label = next(iter(label_values))
        return (2.0 * known[label] - 1.0, None) if label in known else None
    total = sum(known.values())
    if total <= 0:
        return None
    polarity = sum(label_values[k] * v for k, v in known.items()) / total
    return polarity, max(known, key=lambda k: known[k])


def nearest_label(polarity: float, label_values: Dict[str, float]) -> str:
    """The label whose polarity is closest (ties go to the more positive label, so with two
    labels a polarity of exactly 0 counts as positive, as the sign accuracy does)."""
    return min(label_values, key=lambda k: (abs(polarity - label_values[k]), -label_values[k]))


def macro_f1(golds: List[str], preds: List[str], classes: Iterable[str]) -> Optional[float]:
    """Mean F1 over ``classes`` seen in gold or predictions (None if none is), for label lists
    outside spaCy's Scorer (peers' predictions in benchmarks, project tables)."""
    f1s = []
    for c in classes:
        tp = sum(1 for g, p in zip(golds, preds) if g == c and p == c)
        fp = sum(1 for g, p in zip(golds, preds) if g != c and p == c)
        fn = sum(1 for g, p in zip(golds, preds) if g == c and p != c)
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s) if f1s else None


def _pearson(xs: List[float], ys: List[float]) -> Optional[float]:
    import numpy

    if len(xs) < 2:
        return None
    x = numpy.asarray(xs, dtype="float64")
    y = numpy.asarray(ys, dtype="float64")
    if x.std() == 0 or y.std() == 0:
        return None
    return float(numpy.corrcoef(x, y)[0, 1])


def sentiment_score(examples: Iterable[Example], *, label_values: Optional[Dict[str, float]] = None,
                    target: str = "classes", neutral_threshold: float = 0.05,
                    **kwargs: Any) -> Dict[str, Any]:
    """Polarity scores against graded gold labels:

    - sentiment_sign_acc: the sign of the predicted polarity (>= 0 counts as positive) against
      the gold sign, over docs whose gold polarity is not 0;
    - sentiment_accuracy / sentiment_macro_f: classes: the gold's top label against the
      predicted class (the most probable label of a class model, else the label whose polarity
      is nearest); real target or no labels: negative / neutral / positive at ``neutral_threshold``;
    - sentiment_mae, sentiment_pearson: predicted vs gold polarity;
    - sentiment_score: accuracy for classes, Pearson for a real target (what `spacy train` keeps).

    Gold comes from ``doc.cats`` through ``label_values`` ({label: polarity}); without labels,
    from the reference doc's ``doc.sentiment``.
    """
    preds: List[float] = []
    golds: List[float] = []
    gold_classes: List[str] = []
    pred_classes: List[str] = []
    use_classes = bool(label_values) and target == "classes"
    for eg in examples:
        doc = eg.predicted
        value = doc._.sentiment_polarity if doc.has_extension("sentiment_polarity") else None
        pred = float(doc.sentiment if value is None else value)
        if label_values:
            gold = gold_sentiment(eg.reference.cats, label_values, target)
            if gold is None:
                continue
            gold_polarity, gold_class = gold
        else:
            gold_polarity, gold_class = float(eg.reference.sentiment), None
        preds.append(pred)
        golds.append(gold_polarity)
        if use_classes:
            probs = doc._.sentiment_probs if doc.has_extension("sentiment_probs") else None
            if probs and all(k in probs for k in label_values):
                pred_classes.append(max(label_values, key=lambda k: (probs[k], label_values[k])))
            else:
                pred_classes.append(nearest_label(pred, label_values))
            gold_classes.append(gold_class)
        else:
            pred_classes.append(polarity_label(pred, neutral_threshold))
            gold_classes.append(polarity_label(gold_polarity, neutral_threshold))
    signed = [(p, g) for p, g in zip(preds, golds) if g != 0]
    n = len(preds)
    scores: Dict[str, Any] = {
        "sentiment_sign_acc": sum((p >= 0) == (g > 0) for p, g in signed) / len(signed) if signed else None,
        "sentiment_accuracy": sum(g == p for g, p in zip(gold_classes, pred_classes)) / n if n else None,
        "sentiment_macro_f": macro_f1(gold_classes, pred_classes,
                                       list(label_values) if use_classes else SENTIMENT_LABELS),
        "sentiment_mae": sum(abs(p - g) for p, g in zip(preds, golds)) / n if n else None,
        "sentiment_pearson": _pearson(preds, golds),
        "sentiment_n": n,
    }
    scores["sentiment_score"] = scores["sentiment_accuracy"] if use_classes else scores["sentiment_pearson"]
    return scores


@registry.scorers("spacy_lm.sentiment_scorer.v1")
def make_sentiment_score() -> Callable[..., Dict[str, Any]]:
    """Sign accuracy, class accuracy, macro-F1, MAE and Pearson for `sentiment_scorer`
    (the component's own factory is `spacy_lm.pipeline.sentiment_scorer.make_sentiment_scorer`)."""
    return sentiment_score
