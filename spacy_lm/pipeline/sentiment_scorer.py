"""`sentiment_scorer`: doc, sentence and token polarity, zero-shot or trained.

One component, one set of extensions (extensions.py), two kinds of model:

- `spacy_lm.LexiconSentiment.v1` (the default): a valence lexicon with rules. Works as soon
  as it is added (no training); ``update`` is a no-op. Token contributions are each token's
  share of the polarity (exact).
- `spacy_lm.SentimentLSTM.v1`: trained with `spacy train` on ``doc.cats``: exclusive classes
  (binary, five-class, ...; ``label_values`` gives each class its polarity and the doc's
  polarity is the expected value) or ``target="real"`` (one label whose cats value in [0, 1]
  is the positivity, as SST's phrase scores; polarity = tanh of one output, squared loss).
  Token contributions are integrated gradients (explain.py), ``attribution_steps`` points;
  0 turns them off (faster). They cost ``attribution_steps`` (refined up to 4× and 16× where
  the path turns) forward and backward passes of the doc, so a doc longer than
  ``max_attribution_tokens`` (default 1000; null: no limit) gets none: its
  ``sentiment_tokens`` is None and ``doc._.sentiment_tokens_skipped`` says why (5,000 tokens
  take ~2 min on a CPU at width 64). Memory stays bounded either way (points run in chunks).

The component picks its mode once, from the model's kind (as spaCy's Lemmatizer picks its
mode): ``_LexiconMode`` or ``_TrainedMode`` below, each with the predict / update / get_loss /
initialize / explain / serialization hooks; the component itself only validates, resolves
labels and calls them.

Both write ``doc._.sentiment_polarity`` (also spaCy's ``doc.sentiment``), ``_.sentiment_label``
(negative / neutral / positive, ``neutral_threshold`` around 0), ``_.sentiment_tokens`` (and
``token._.sentiment_contribution``; None with ``_.sentiment_tokens_skipped`` saying why),
``_.sentiment_base`` and, when the doc has sentence boundaries, ``_.sentiment_sentences``
(``span._.sentiment_polarity`` on each sentence).
An empty doc is 0.0 and neutral with either model.

Bad input fails early: a lexicon that cannot be read (E014, E015) at ``add_pipe``; an empty
training corpus (E003) at ``initialize``; a trained model whose outputs are not finite (E079,
NaN weights) at the doc, instead of a NaN polarity labelled "neutral".

Saved pipelines: ``target`` is fixed by the weights (one output or one per label), so a
config.cfg that changes it is E035 naming it, as are ``label_values`` naming other labels;
``neutral_threshold``, ``attribution_steps``, ``max_attribution_tokens`` and the labels'
polarities are the config's: a saved pipeline runs with what config.cfg (``nlp.config``) says.
"""
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import logger
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..about import __version__
from ..architectures.lexicon_sentiment import KIND_ATTR, get_lexicon, get_rules, read_lexicons
from ..architectures.sentiment_lstm import logits_to_polarity
from ..checks import check_setting, is_count, require_finite
from ..errors import Errors
from ..analysis.explain import integrated_gradients
from ..extensions import install_sentiment_extensions, set_sentiment_annotations
from ..ops import log_softmax
from ..metrics.scorers import sentiment_score
from ..text.sentiment_lexicon import contributions, sentence_polarities
from .serialization import LMSerializationMixin, _LoadMismatch
from .trainable import begin_update

FORMAT_VERSION = 1
TARGETS = ("classes", "real")
KINDS = ("lexicon", "neural")
MAX_ATTRIBUTION_TOKENS = 1000  # ~10-50 s of integrated gradients on a CPU (width 64)

DEFAULT_SENTIMENT_MODEL = """
[model]
@architectures = "spacy_lm.LexiconSentiment.v1"
lexicon = "vader"
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_SENTIMENT_MODEL)["model"]
SENTIMENT_SCORE_WEIGHTS = {"sentiment_score": 1.0, "sentiment_sign_acc": 0.0, "sentiment_accuracy": 0.0,
                           "sentiment_macro_f": 0.0, "sentiment_pearson": 0.0, "sentiment_mae": None}


@Language.factory(
    "sentiment_scorer",
    assigns=["doc.sentiment", "doc._.sentiment_polarity", "doc._.sentiment_label", "doc._.sentiment_tokens",
             "doc._.sentiment_tokens_skipped", "doc._.sentiment_sentences", "token._.sentiment_contribution",
             "span._.sentiment_polarity"],
    default_config={
        "model": DEFAULT_MODEL,
        "label_values": None,
        "target": "classes",
        "neutral_threshold": 0.05,
        "attribution_steps": 32,
        "max_attribution_tokens": MAX_ATTRIBUTION_TOKENS,
        "scorer": {"@scorers": "spacy_lm.sentiment_scorer.v1"},
    },
    default_score_weights=SENTIMENT_SCORE_WEIGHTS,
)
def make_sentiment_scorer(nlp: Language, name: str, model: Model, label_values: Optional[Dict[str, float]],
                          target: str, neutral_threshold: float, attribution_steps: int,
                          max_attribution_tokens: Optional[int], scorer: Optional[Callable]) -> "SentimentScorer":
    """Doc / sentence / token polarity from a lexicon (zero-shot) or a trained model.

    label_values: {label in doc.cats: polarity in [-1, 1]}; null: set in initialize (from
    [initialize.components] labels, else the training labels spread evenly over [-1, 1] in
    sorted order, e.g. NEG/POS → -1/1, L0..L4 → -1, -0.5, 0, 0.5, 1).
    target: "classes" (softmax over the labels) or "real" (one label, cats value in [0, 1]).
    neutral_threshold: |polarity| below it is labelled neutral.
    attribution_steps: integrated-gradient points for a trained model's token contributions (0: off).
    max_attribution_tokens: a trained model's docs longer than this get no token contributions
    (their cost grows with length × steps; ``doc._.sentiment_tokens_skipped`` says so); null: no limit.
    """
    return SentimentScorer(nlp.vocab, model, name, label_values=label_values, target=target,
                           neutral_threshold=neutral_threshold, attribution_steps=attribution_steps,
                           max_attribution_tokens=max_attribution_tokens, scorer=scorer)


def spread_label_values(labels: Sequence[str]) -> Dict[str, float]:
    """Sorted labels spread evenly over [-1, 1]; one label (a real target) gets 1.0."""
    names = sorted(labels)
    if len(names) == 1:
        return {names[0]: 1.0}
    return {name: -1.0 + 2.0 * i / (len(names) - 1) for i, name in enumerate(names)}


class SentimentScorer(LMSerializationMixin, TrainablePipe):
    format_version = FORMAT_VERSION
    structural_settings = ("target",)  # the weights have one output (real) or one per label
    runtime_settings = ("neutral_threshold", "attribution_steps", "max_attribution_tokens")

    def __init__(self, vocab: Vocab, model: Model, name: str = "sentiment_scorer", *,
                 label_values: Optional[Dict[str, float]] = None, target: str = "classes",
                 neutral_threshold: float = 0.05, attribution_steps: int = 32,
                 max_attribution_tokens: Optional[int] = MAX_ATTRIBUTION_TOKENS,
                 scorer: Optional[Callable] = sentiment_score) -> None:
        if target not in TARGETS:
            raise ValueError(Errors.E009.format(setting="target", requirement=f"one of {TARGETS}", value=target))
        if not 0.0 <= neutral_threshold < 1.0:
            raise ValueError(Errors.E009.format(setting="neutral_threshold", requirement="in [0, 1)",
                                                value=neutral_threshold))
        if not isinstance(attribution_steps, int) or attribution_steps < 0:
            raise ValueError(Errors.E009.format(setting="attribution_steps", requirement="an integer >= 0",
                                                value=attribution_steps))
        check_setting(max_attribution_tokens is None or is_count(max_attribution_tokens, 1), "max_attribution_tokens",
                      "an integer >= 1 or null (no limit)", max_attribution_tokens)
        if model.attrs.get(KIND_ATTR) not in KINDS:
            raise ValueError(Errors.E009.format(setting=f"the model of '{name}'", requirement=(
                "spacy_lm.LexiconSentiment.v1 or spacy_lm.SentimentLSTM.v1"), value=model.name))
        read_lexicons(model)
        install_sentiment_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self._mode = MODES[model.attrs[KIND_ATTR]]
        self.cfg: Dict[str, Any] = {"label_values": None, "target": target, "neutral_threshold": neutral_threshold,
                                    "attribution_steps": attribution_steps,
                                    "max_attribution_tokens": max_attribution_tokens, "format": FORMAT_VERSION,
                                    "spacy_lm_version": __version__}
        if label_values is not None:
            self.cfg["label_values"] = self._check_label_values(label_values)

    # ------------------------------------------------------------------ labels
    @property
    def kind(self) -> str:
        return self.model.attrs[KIND_ATTR]

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg.get("label_values") or ())

    @property
    def label_values(self) -> Optional[Dict[str, float]]:
        return self.cfg.get("label_values")

    def _check_label_values(self, values: Any) -> Dict[str, float]:
        ok = isinstance(values, dict) and values and all(
            isinstance(v, (int, float)) and -1.0 <= v <= 1.0 for v in values.values())
        if ok and self.cfg["target"] == "real":
            ok = len(values) == 1
        if ok and self.cfg["target"] == "classes":
            ok = len(values) >= 2
        if not ok:
            raise ValueError(Errors.E017.format(name=self.name, value=values))
        return {str(k): float(v) for k, v in values.items()}

    def _values_array(self):
        if self.cfg["target"] == "real":
            return None
        return self.model.ops.asarray1f(list(self.label_values.values()))

    @property
    def is_initialized(self) -> bool:
        return self._mode.is_initialized(self)

    def _require_initialized(self) -> None:
        if not self.is_initialized or not self.label_values:
            raise ValueError(Errors.E005.format(name=self.name))

    # ------------------------------------------------------------------ inference
    def predict(self, docs: Iterable[Doc]) -> List[Dict[str, Any]]:
        """Per doc: polarity, token contributions, base, sentence scores and class probabilities."""
        docs = list(docs)
        for doc in docs:
            if not isinstance(doc, Doc):
                raise TypeError(Errors.E010.format(type=type(doc).__name__, what=repr(doc)[:80]))
        return self._mode.predict(self, docs)

    def set_annotations(self, docs: Iterable[Doc], results: List[Dict[str, Any]]) -> None:
        for doc, result in zip(docs, results):
            set_sentiment_annotations(doc, result, self.cfg["neutral_threshold"])

    def explain(self, docs: Iterable[Doc], steps: Optional[int] = None) -> List[Dict[str, Any]]:
        """``predict`` with token contributions whatever ``attribution_steps`` is (default 32); a
        trained model's docs over ``max_attribution_tokens`` still get none (raise it to explain them)."""
        return self._mode.explain(self, list(docs), steps)

    # ------------------------------------------------------------------ training
    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """One step of the trained model; nothing to learn for the lexicon."""
        examples, drop, losses = begin_update(self.name, examples, drop, losses, "SentimentScorer.update")
        return self._mode.update(self, examples, drop, sgd, losses)

    def get_loss(self, examples: Iterable[Example], logits) -> Tuple[float, Any]:
        """Cross-entropy of the softmax (classes) or squared error of tanh (real), mean over
        docs with gold labels; returns (loss, d_logits). The lexicon has no loss: (0.0, None)."""
        examples = list(examples)
        validate_examples(examples, "SentimentScorer.get_loss")
        return self._mode.get_loss(self, examples, logits)

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   labels: Optional[Union[Dict[str, float], List[str]]] = None) -> None:
        """Fix the labels and their polarities, read the lexicon, initialize the model."""
        validate_get_examples(get_examples, "SentimentScorer.initialize")
        if labels is not None:
            values = labels if isinstance(labels, dict) else spread_label_values(list(labels))
            self.cfg["label_values"] = self._check_label_values(values)
        elif not self.label_values:
            seen = set()
            for eg in get_examples():
                seen.update(eg.reference.cats)
            if seen:
                values = spread_label_values(sorted(seen))
                logger.info("'%s': label polarities from the training labels: %s", self.name, values)
                self.cfg["label_values"] = self._check_label_values(values)
        self._mode.initialize(self, get_examples)

    # ------------------------------------------------------------------ serialization
    def _payload(self) -> Dict[str, bytes]:
        for node in self.model.walk():
            if node.attrs.get(KIND_ATTR) == "lexicon":
                get_lexicon(node)  # saved with the model: a saved pipeline runs where its TSV is not
        self._mode.before_save(self)
        return {"model": self.model.to_bytes()}

    def _restore(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        cfg = dict(cfg)
        configured, saved = self.cfg.get("label_values"), cfg.get("label_values")
        if configured and saved:  # the labels are the weights' outputs; their polarities the config's
            if list(configured) != list(saved):
                raise _LoadMismatch(Errors.E035, configured=f"config.cfg says components.{self.name}.label_values "
                                    f"has labels {list(configured)}", saved=f"labels {list(saved)}",
                                    detail="one output per label, in this order")
            cfg["label_values"] = configured
        self.cfg.update(cfg)
        self._mode.before_load(self)
        self.model.from_bytes(read("model"))


class _LexiconMode:
    """`spacy_lm.LexiconSentiment.v1`: ready as soon as it is added, nothing to learn; token
    contributions are each token's exact share of the polarity."""

    def is_initialized(self, pipe: SentimentScorer) -> bool:
        return True

    def predict(self, pipe: SentimentScorer, docs: List[Doc]) -> List[Dict[str, Any]]:
        model = pipe.model
        alpha = get_rules(model).alpha
        results = []
        for doc, valences in zip(docs, model.predict(docs)):
            scores = model.ops.to_numpy(valences).tolist()
            polarity, contribs = contributions(scores, alpha)
            results.append({"polarity": polarity, "tokens": contribs, "skipped": None, "base": 0.0,
                            "sentences": sentence_polarities(doc, scores, alpha), "probs": None})
        return results

    def explain(self, pipe: SentimentScorer, docs: List[Doc], steps: Optional[int]) -> List[Dict[str, Any]]:
        return self.predict(pipe, docs)  # the contributions are exact: no steps to choose

    def update(self, pipe: SentimentScorer, examples: List[Example], drop: float, sgd: Optional[Optimizer],
               losses: Dict[str, float]) -> Dict[str, float]:
        return losses

    def get_loss(self, pipe: SentimentScorer, examples: List[Example], scores) -> Tuple[float, Any]:
        return 0.0, None

    def initialize(self, pipe: SentimentScorer, get_examples: Callable[[], Iterable[Example]]) -> None:
        pipe.model.initialize()

    def before_save(self, pipe: SentimentScorer) -> None:
        pass

    def before_load(self, pipe: SentimentScorer) -> None:
        pass


class _TrainedMode:
    """`spacy_lm.SentimentLSTM.v1`: logits over the labels (or one real output), trained on
    ``doc.cats``; token contributions are integrated gradients (explain.py)."""

    def is_initialized(self, pipe: SentimentScorer) -> bool:
        return bool(pipe.model.has_param("prior"))

    def predict(self, pipe: SentimentScorer, docs: List[Doc]) -> List[Dict[str, Any]]:
        return self._predict(pipe, docs, pipe.cfg["attribution_steps"])

    def explain(self, pipe: SentimentScorer, docs: List[Doc], steps: Optional[int]) -> List[Dict[str, Any]]:
        return self._predict(pipe, docs, steps or pipe.cfg["attribution_steps"] or 32)

    def _predict(self, pipe: SentimentScorer, docs: List[Doc], steps: int) -> List[Dict[str, Any]]:
        pipe._require_initialized()
        nonempty = [i for i, doc in enumerate(docs) if len(doc)]
        results: List[Dict[str, Any]] = [{"polarity": 0.0, "tokens": [], "skipped": None, "base": 0.0,
                                          "sentences": [], "probs": None} for _ in docs]
        polarity, probs = self._polarities(pipe, [docs[i] for i in nonempty])
        labels = list(pipe.label_values)
        for k, i in enumerate(nonempty):
            results[i]["polarity"] = polarity[k]
            results[i]["probs"] = None if probs is None else dict(zip(labels, probs[k]))
            results[i]["tokens"] = None
            results[i]["base"] = None
        # Sentences: each sentence of a multi-sentence doc is scored as a doc of its own.
        spans = [(i, s) for i in nonempty if docs[i].has_annotation("SENT_START") for s in docs[i].sents]
        multi = [(i, s) for i, s in spans if len(s) < len(docs[i])]
        sent_pol, _ = self._polarities(pipe, [s.as_doc() for _, s in multi])
        for (i, s), p in zip(multi, sent_pol):
            results[i]["sentences"].append([s.start, s.end, p])
        for i, s in spans:
            if len(s) == len(docs[i]):
                results[i]["sentences"] = [[0, len(s), results[i]["polarity"]]]
        limit = pipe.cfg.get("max_attribution_tokens")
        for i in nonempty:
            if not steps:
                results[i]["skipped"] = "attribution_steps is 0"
            elif limit is not None and len(docs[i]) > limit:
                results[i]["skipped"] = f"{len(docs[i])} tokens > max_attribution_tokens = {limit}"
        chosen = [i for i in nonempty if results[i]["skipped"] is None]
        if chosen:
            attributions = integrated_gradients(pipe.model, [docs[i] for i in chosen], pipe._values_array(), steps,
                                                name=pipe.name)
            for i, (tokens, base, _) in zip(chosen, attributions):
                results[i]["tokens"] = tokens
                results[i]["base"] = base
        return results

    def _polarities(self, pipe: SentimentScorer, docs: List[Doc]) -> Tuple[List[float], Optional[List[List[float]]]]:
        if not docs:
            return [], None
        ops = pipe.model.ops
        logits = pipe.model.predict(docs)
        require_finite(ops.xp, logits, name=pipe.name, what="sentiment logits")
        polarity, probs, _ = logits_to_polarity(ops, logits, pipe._values_array())
        return ops.to_numpy(polarity).tolist(), None if probs is None else ops.to_numpy(probs).tolist()

    def update(self, pipe: SentimentScorer, examples: List[Example], drop: float, sgd: Optional[Optimizer],
               losses: Dict[str, float]) -> Dict[str, float]:
        pipe._require_initialized()
        examples = [eg for eg in examples if len(eg.predicted)]
        if not examples:
            return losses
        set_dropout_rate(pipe.model, drop)
        logits, backprop = pipe.model.begin_update([eg.predicted for eg in examples])
        loss, d_logits = self.get_loss(pipe, examples, logits)
        backprop(d_logits)
        if sgd is not None:
            pipe.finish_update(sgd)
        losses[pipe.name] += loss
        return losses

    def get_loss(self, pipe: SentimentScorer, examples: List[Example], logits) -> Tuple[float, Any]:
        pipe._require_initialized()
        ops = pipe.model.ops
        xp = ops.xp
        truth, mask = self._gold(pipe, examples)
        n = max(float(mask.sum()), 1.0)
        if pipe.cfg["target"] == "real":
            polarity = xp.tanh(logits)
            diff = (polarity - truth) * mask
            loss = float((diff**2).sum()) / n
            d_logits = 2.0 * diff * (1.0 - polarity**2) / n
        else:  # soft targets (graded cats), so the log-softmax rather than an integer-target loss
            log_probs = log_softmax(ops, logits)
            loss = float(-(truth * log_probs * mask).sum()) / n
            d_logits = (xp.exp(log_probs) - truth) * mask / n
        if not xp.isfinite(loss):
            raise ValueError(Errors.E004.format(name=pipe.name, loss=loss))
        return loss, d_logits.astype(logits.dtype)

    def _gold(self, pipe: SentimentScorer, examples: List[Example]):
        """Rows of target probabilities (classes) or polarities (real), and a 0/1 mask."""
        import numpy

        labels = list(pipe.label_values)
        real = pipe.cfg["target"] == "real"
        truth = numpy.zeros((len(examples), 1 if real else len(labels)), dtype="float32")
        mask = numpy.zeros((len(examples), 1), dtype="float32")
        for b, eg in enumerate(examples):
            cats = eg.reference.cats
            known = {k: v for k, v in cats.items() if k in pipe.label_values}
            if not known:
                if cats:
                    raise ValueError(Errors.E018.format(name=pipe.name, cats=sorted(cats), labels=labels))
                continue
            if real:
                truth[b, 0] = 2.0 * float(known[labels[0]]) - 1.0
                mask[b] = 1.0
                continue
            row = numpy.asarray([float(known.get(label, 0.0)) for label in labels], dtype="float32")
            if row.sum() > 0:
                truth[b] = row / row.sum()
                mask[b] = 1.0
        ops = pipe.model.ops
        return ops.asarray(truth), ops.asarray(mask)

    def initialize(self, pipe: SentimentScorer, get_examples: Callable[[], Iterable[Example]]) -> None:
        # A sample of docs with tokens sets the encoder's shapes; none at all is an empty corpus.
        docs = list(islice((eg.reference for eg in get_examples() if len(eg.reference)), 16))
        if not docs:
            raise ValueError(Errors.E003.format(name=pipe.name))
        if not pipe.label_values:
            raise ValueError(Errors.E016.format(name=pipe.name))
        self._configure_model(pipe)
        pipe.model.initialize(X=docs)

    def _configure_model(self, pipe: SentimentScorer) -> None:
        model = pipe.model
        n_out = 1 if pipe.cfg["target"] == "real" else len(pipe.label_values)
        if model.has_dim("nO") and model.get_dim("nO") != n_out:
            raise ValueError(Errors.E009.format(setting=f"the model's nO in '{pipe.name}'",
                                                requirement=f"{n_out} (one per label)",
                                                value=model.get_dim("nO")))
        model.set_dim("nO", n_out)
        model.attrs["label_values"] = [1.0] if n_out == 1 else list(pipe.label_values.values())

    def before_save(self, pipe: SentimentScorer) -> None:
        pipe._require_initialized()

    def before_load(self, pipe: SentimentScorer) -> None:
        self._configure_model(pipe)


MODES = {"lexicon": _LexiconMode(), "neural": _TrainedMode()}
