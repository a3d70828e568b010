"""`weighted_textcat` / `weighted_textcat_multilabel`: spaCy's text categorizers with
per-class loss weights for imbalanced labels.

spaCy's `textcat` computes its gradient in ``get_loss``, which a model architecture cannot
reach, so the weights live in these two thin subclasses of spaCy's `TextCategorizer` and
`MultiLabel_TextCategorizer`. Everything else (labels, thresholds, serialization, scoring
keys, ``add_label``) is spaCy's.

``class_weights``: ``{label: weight}`` (labels not listed weigh 1.0), ``"balanced"``
(``n_docs / (n_labels * n_docs_with_label)`` from the training data, computed once in
``initialize`` and saved), or null (spaCy's unweighted loss).

- exclusive: each doc's gradient (softmax cross-entropy: ``probs - truth``) is scaled by the
  weight of its gold class (weighted cross-entropy);
- multilabel: each label's column of the gradient (logistic: ``probs - truth``) is scaled by
  that label's weight.

Both also refuse gold labels the component does not know (spaCy ignores them silently).
"""
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

from spacy.language import Language
from spacy.pipeline.textcat import DEFAULT_SINGLE_TEXTCAT_MODEL, TextCategorizer
from spacy.pipeline.textcat_multilabel import DEFAULT_MULTI_TEXTCAT_MODEL, MultiLabel_TextCategorizer
from spacy.training import Example, validate_examples
from thinc.api import Model, Optimizer

from ..errors import Errors
from ..checks import check_drop

ClassWeights = Optional[Union[Dict[str, float], str]]


class _ClassWeightsMixin:
    def _init_weights(self, class_weights: ClassWeights) -> None:
        if isinstance(class_weights, str) and class_weights != "balanced":
            raise ValueError(Errors.E009.format(setting="class_weights", value=class_weights,
                                                requirement="a dict {label: weight}, 'balanced' or null"))
        if isinstance(class_weights, dict):
            bad = {k: v for k, v in class_weights.items() if not (isinstance(v, (int, float)) and v > 0)}
            if bad:
                raise ValueError(Errors.E009.format(setting="class_weights", requirement="positive numbers",
                                                    value=bad))
            class_weights = {k: float(v) for k, v in class_weights.items()}
        self.cfg["class_weights"] = class_weights

    def _check_known_labels(self, examples: Iterable[Example]) -> None:
        known = set(self.labels)
        for eg in examples:
            unknown = sorted(set(eg.reference.cats) - known)
            if unknown:
                raise ValueError(Errors.E075.format(name=self.name, unknown=unknown, labels=list(self.labels)))

    def _resolve_weights(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        weights = self.cfg.get("class_weights")
        if weights == "balanced":
            counts = {label: 0 for label in self.labels}
            n_docs = 0
            for eg in get_examples():
                n_docs += 1
                for label, value in eg.reference.cats.items():
                    if value >= 0.5 and label in counts:
                        counts[label] += 1
            self.cfg["class_weights"] = {
                label: (n_docs / (len(counts) * count) if count else 1.0) for label, count in counts.items()
            }
        elif isinstance(weights, dict):
            unknown = sorted(set(weights) - set(self.labels))
            if unknown:
                raise ValueError(Errors.E076.format(unknown=unknown, name=self.name, labels=list(self.labels)))

    def _weight_vector(self):
        weights = self.cfg.get("class_weights")
        if not isinstance(weights, dict):
            return None
        return self.model.ops.asarray1f([weights.get(label, 1.0) for label in self.labels])

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   labels: Optional[Iterable[str]] = None, **kwargs: Any) -> None:
        super().initialize(get_examples, nlp=nlp, labels=labels, **kwargs)
        self._check_known_labels(get_examples())
        self._resolve_weights(get_examples)

    # Loading keeps the configured ``threshold`` and ``class_weights`` (spaCy's cfg.update would
    # let the saved ones win over an edited config.cfg); the saved labels stay spaCy's. A
    # configured "balanced" keeps the weights it resolved to at initialize, which were saved.
    def from_disk(self, path, *, exclude: Iterable[str] = tuple()):
        return self._keeping_config(lambda: super(_ClassWeightsMixin, self).from_disk(path, exclude=exclude))

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()):
        return self._keeping_config(lambda: super(_ClassWeightsMixin, self).from_bytes(bytes_data, exclude=exclude))

    def _keeping_config(self, load: Callable[[], Any]):
        threshold, weights = self.cfg.get("threshold"), self.cfg.get("class_weights")
        loaded = load()
        self.cfg["threshold"] = threshold
        if weights != "balanced":
            self.cfg["class_weights"] = weights
        return loaded

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """spaCy's update, with the dropout rate checked (E231) first."""
        return super().update(examples, drop=check_drop(drop, self.name), sgd=sgd, losses=losses)

    def get_loss(self, examples: Iterable[Example], scores) -> Tuple[float, Any]:
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.get_loss")
        self._validate_categories(examples)
        self._check_known_labels(examples)
        truths, not_missing = self._examples_to_truth(examples)
        not_missing = self.model.ops.asarray(not_missing)
        d_scores = scores - truths
        d_scores *= not_missing
        weights = self._weight_vector()
        if weights is not None:
            if self.model.attrs.get("multi_label", False):
                d_scores *= weights
            else:
                xp = self.model.ops.xp
                row = (truths * weights).sum(axis=1, keepdims=True)
                d_scores *= xp.where(truths.sum(axis=1, keepdims=True) > 0, row, 1.0).astype(d_scores.dtype)
        return float((d_scores**2).mean()), d_scores


class WeightedTextCategorizer(_ClassWeightsMixin, TextCategorizer):
    def __init__(self, vocab, model: Model, name: str = "weighted_textcat", *, threshold: float,
                 scorer: Optional[Callable], class_weights: ClassWeights = None) -> None:
        super().__init__(vocab, model, name, threshold=threshold, scorer=scorer)
        self._init_weights(class_weights)


class WeightedMultiLabelTextCategorizer(_ClassWeightsMixin, MultiLabel_TextCategorizer):
    def __init__(self, vocab, model: Model, name: str = "weighted_textcat_multilabel", *, threshold: float,
                 scorer: Optional[Callable], class_weights: ClassWeights = None) -> None:
        super().__init__(vocab, model, name, threshold=threshold, scorer=scorer)
        self._init_weights(class_weights)


TEXTCAT_SCORE_WEIGHTS = {"cats_score": 1.0, "cats_accuracy": 0.0, "cats_macro_f": 0.0, "cats_ece": None,
                         "cats_micro_f": None, "cats_macro_auc": None, "cats_f_per_type": None}


@Language.factory(
    "weighted_textcat",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.0,
        "model": DEFAULT_SINGLE_TEXTCAT_MODEL,
        "scorer": {"@scorers": "spacy_lm.textcat_scorer.v1", "multi_label": False},
        "class_weights": None,
    },
    default_score_weights=TEXTCAT_SCORE_WEIGHTS,
)
def make_weighted_textcat(nlp: Language, name: str, model: Model, threshold: float, scorer: Optional[Callable],
                          class_weights: ClassWeights) -> WeightedTextCategorizer:
    """spaCy's `textcat` (exclusive classes) with per-class loss weights."""
    return WeightedTextCategorizer(nlp.vocab, model, name, threshold=threshold, scorer=scorer,
                                   class_weights=class_weights)


@Language.factory(
    "weighted_textcat_multilabel",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.5,
        "model": DEFAULT_MULTI_TEXTCAT_MODEL,
        "scorer": {"@scorers": "spacy_lm.textcat_scorer.v1", "multi_label": True},
        "class_weights": None,
    },
    default_score_weights=TEXTCAT_SCORE_WEIGHTS,
)
def make_weighted_textcat_multilabel(nlp: Language, name: str, model: Model, threshold: float,
                                     scorer: Optional[Callable],
                                     class_weights: ClassWeights) -> WeightedMultiLabelTextCategorizer:
    """spaCy's `textcat_multilabel` with per-label loss weights."""
    return WeightedMultiLabelTextCategorizer(nlp.vocab, model, name, threshold=threshold, scorer=scorer,
                                             class_weights=class_weights)
