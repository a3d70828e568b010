"""Counterfactual bias probes: whom a model treats differently (`spacy lm bias`).

Probes. Every term of a term file fills every template (bias_terms.py: the file formats), the docs
go through the pipeline once (``nlp.pipe``), and each doc gets a score:

* textcat / textcat_multilabel: ``doc.cats[label]`` for each label (or the ``labels`` asked for);
* sentiment_scorer: ``doc._.sentiment_polarity``;
* a language model (lstm_lm, ngram_lm: anything with the LM protocol): the mean log-probability
  (nats per token) of the tokens *after* the term, the closing ``<eos>`` included. In a causal LM
  the tokens before the term have the same probability whatever the term, and the term's own
  probability mostly measures how frequent a name is; what the term changes is how likely the rest
  of the sentence is (CrowS-Pairs' pseudo-likelihood of the unmodified tokens, adapted to causal LMs).

Comparisons. Per category the groups' mean scores are compared, with a crossed bootstrap interval
(bias_stats.py: the statistic). A comparison is flagged when its interval excludes 0 *and*
``|mean| >= min_effect``: a clean model still gives two embeddings slightly different scores, and
with enough templates that tiny difference has a tight interval. Default minimum effects: 0.02 for a
probability (textcat), 0.04 for a polarity in [-1, 1] (twice the range: 2p - 1 for a binary
classifier), 0.1 nats per token for an LM (about a 10% change in each token's probability).
Templates can come in sets (``set<TAB>template``), each compared on its own: LM attributes in
opposite directions (a stereotype and its reverse) would cancel in one mean. A template file can
declare contrasts of two sets (``#! contrast positive negative``): the row is the group difference
in the first set minus that in the second, the association of WEAT (Caliskan et al. 2017) in
counterfactual form. Whatever a term does to every sentence (after a first name it knows well, an LM
expects a surname, not "was") is the same in both sets and cancels; what is left is how the groups
differ on the attribute.

Slice metrics (where a model is worse, on a labelled dev set) are in bias_slices.py.

Reports are plain JSON-able dicts; bias_report.py renders them (terminal table, HTML).
"""
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from ..pipeline_lookup import pipe_up_to
from .bias_stats import (bootstrap_group_means, bootstrap_set_difference, category_rng, check_settings, contrasts,
                         percentile_interval)
from .bias_terms import (SLOT, PathLike, TermList, fill, load_template_contrasts, load_templates,
                         load_term_lists)

MIN_EFFECT = {"textcat": 0.02, "sentiment": 0.04, "lm": 0.1}


# ---------------------------------------------------------------------- what is scored
@dataclass
class ProbeTarget:
    """A component and how a doc is scored: ``scores`` names the columns ``score(doc, n_after)`` gives."""
    name: str
    kind: str  # "textcat", "sentiment" or "lm"
    scores: List[str]
    score: Callable[[Doc, int], List[float]]


def _kind(nlp: Language, name: str) -> Optional[str]:
    from spacy.pipeline import TextCategorizer

    from ..pipeline_lookup import SENTIMENT_FACTORY

    pipe = nlp.get_pipe(name)
    if isinstance(pipe, TextCategorizer):
        return "textcat"
    if nlp.get_pipe_meta(name).factory == SENTIMENT_FACTORY:
        return "sentiment"
    if hasattr(pipe, "initial_state") and hasattr(pipe, "step"):
        return "lm"
    return None


def find_probe_target(nlp: Language, component: Optional[str] = None,
                      labels: Optional[Sequence[str]] = None) -> ProbeTarget:
    """The named component, or the first classifier, else the first sentiment_scorer, else the first
    language model (an LM in a classifier's pipeline is usually its encoder, not what is asked about)."""
    names = nlp.pipe_names
    if component is not None:
        if component not in names:
            raise ValueError(Errors.E040.format(name=component, names=names))
        if _kind(nlp, component) is None:
            raise ValueError(Errors.E196.format(name=component, factory=nlp.get_pipe_meta(component).factory,
                                                names=names))
        name = component
    else:
        kinds = {n: _kind(nlp, n) for n in names}
        found = [n for kind in ("textcat", "sentiment", "lm") for n in names if kinds[n] == kind]
        if not found:
            raise ValueError(Errors.E195.format(names=names))
        name = found[0]
    kind = _kind(nlp, name)
    if kind == "textcat":
        model_labels = list(nlp.get_pipe(name).labels)
        wanted = list(labels) if labels else model_labels
        unknown = [label for label in wanted if label not in model_labels]
        if unknown:
            raise ValueError(Errors.E197.format(unknown=unknown, name=name, labels=model_labels))
        return ProbeTarget(name, kind, [f"cats[{label}]" for label in wanted],
                           lambda doc, _: [float(doc.cats[label]) for label in wanted])
    if labels:
        raise ValueError(Errors.E197.format(unknown=list(labels), name=name, labels=[]))
    if kind == "sentiment":
        return ProbeTarget(name, kind, ["sentiment_polarity"], lambda doc, _: [float(doc._.sentiment_polarity)])
    return ProbeTarget(name, kind, ["logprob_after_term"], lambda doc, n: [_logprob_after(doc, n)])


def _logprob_after(doc: Doc, n_after: int) -> float:
    """Mean log-probability (nats per token) of the last ``n_after`` tokens and the closing <eos>."""
    bits = [s for s in (doc._.lm_surprisals or [])[len(doc) - n_after:] if s is not None] if n_after else []
    if doc._.lm_end_surprisal is not None:
        bits.append(doc._.lm_end_surprisal)
    return -math.log(2.0) * sum(bits) / len(bits) if bits else float("nan")


# ---------------------------------------------------------------------- probes
def probe_bias(nlp: Language, *, component: Optional[str] = None, categories: Optional[Iterable[str]] = None,
               term_files: Iterable[PathLike] = (), template_files: Iterable[PathLike] = (),
               builtin_terms: bool = True, labels: Optional[Sequence[str]] = None, samples: int = 2000,
               confidence: float = 0.95, min_effect: Optional[float] = None, seed: int = 0,
               batch_size: int = 64) -> Dict[str, Any]:
    """Fill every template with every term, score the docs, and compare the groups of each category.
    Returns a JSON-able report: settings, and ``results``, one row per comparison and score."""
    check_settings(samples, confidence, min_effect)
    target = find_probe_target(nlp, component, labels)
    lists = load_term_lists(term_files, categories, builtin=builtin_terms)
    template_sets = load_templates(target.kind, template_files)
    set_contrasts = load_template_contrasts(target.kind, template_files, template_sets)
    effect = MIN_EFFECT[target.kind] if min_effect is None else float(min_effect)
    pairs = list(dict.fromkeys((tpl, term) for tl in lists.values() for terms in tl.groups.values()
                               for term in terms for tpls in template_sets.values() for tpl in tpls))
    scores = _score_filled(nlp, target, pairs, batch_size)
    unknown = unknown_terms(nlp, target, lists)
    rows = [row for terms in lists.values()
            for row in [r for name, tpls in template_sets.items()
                        for r in _compare(terms, name, tpls, scores, target, samples, confidence, effect, seed)]
            + [r for first, second in set_contrasts
               for r in _compare_sets(terms, first, second, template_sets, scores, target, samples, confidence,
                                      effect, seed)]]
    results = [{**row, "n_unknown_terms": unknown[row["category"]]} for row in rows]
    return {"component": target.name, "target": target.kind, "scores": target.scores, "seed": seed,
            "samples": samples, "confidence": confidence, "min_effect": effect,
            "template_sets": {name: len(tpls) for name, tpls in template_sets.items()},
            "set_contrasts": [list(c) for c in set_contrasts],
            "categories": {c: {"path": t.path, "paired": t.paired, "groups": {g: len(v) for g, v in t.groups.items()}}
                           for c, t in lists.items()},
            "n_flagged": sum(r["flagged"] for r in results), "results": results}


def unknown_terms(nlp: Language, target: ProbeTarget, lists: Dict[str, TermList]) -> Dict[str, Dict[str, int]]:
    """Per category and group, how many terms have a token the LM's vocabulary maps to <unk>
    (0 for classifiers, whose hashed features have no unknown). A group of unknown names is
    scored by what the LM predicts after <unk>, not after the names: read such a row with care."""
    vocab = getattr(nlp.get_pipe(target.name), "lm_vocab", None) if target.kind == "lm" else None

    def is_unknown(term: str) -> bool:
        ids, _ = vocab.doc_ids(nlp.make_doc(term))
        return bool((ids == vocab.unk_id).any())

    return {c: {g: sum(map(is_unknown, terms)) if vocab is not None else 0 for g, terms in t.groups.items()}
            for c, t in lists.items()}


def _tokens_after(nlp: Language, template: str, term: str) -> int:
    """Tokens of the filled template after the term (as the pipeline's tokenizer splits it)."""
    before = template.split(SLOT, 1)[0] + term
    return max(0, len(nlp.make_doc(fill(template, term))) - len(nlp.make_doc(before)))


def _score_filled(nlp: Language, target: ProbeTarget, pairs: List[Tuple[str, str]],
                  batch_size: int) -> Dict[str, numpy.ndarray]:
    """Filled text → its scores, for each (template, term)."""
    texts = [fill(tpl, term) for tpl, term in pairs]
    after = [_tokens_after(nlp, tpl, term) if target.kind == "lm" else 0 for tpl, term in pairs]
    docs = pipe_up_to(nlp, target.name, texts, batch_size=batch_size)
    return {text: numpy.asarray(target.score(doc, n), dtype="float64") for text, doc, n in zip(texts, docs, after)}


def _compare(terms: TermList, template_set: str, templates: List[str], scores: Dict[str, numpy.ndarray],
             target: ProbeTarget, samples: int, confidence: float, effect: float, seed: int) -> List[Dict[str, Any]]:
    matrices = _group_matrices(terms, templates, scores)
    point = numpy.stack([m.mean(axis=(0, 1)) for m in matrices])  # (groups, scores)
    per_template = numpy.stack([m.mean(axis=1) for m in matrices], axis=1)  # (templates, groups, scores)
    boot = bootstrap_group_means(matrices, paired=terms.paired, samples=samples,
                                 rng=category_rng(seed, terms.category, template_set))
    return _rows(terms, template_set, point, boot, per_template, templates, len(templates), target, confidence,
                 effect)


def _compare_sets(terms: TermList, first: str, second: str, sets: Dict[str, List[str]],
                  scores: Dict[str, numpy.ndarray], target: ProbeTarget, samples: int, confidence: float,
                  effect: float, seed: int) -> List[Dict[str, Any]]:
    """Rows of a set contrast: (group − versus) over the first set minus over the second."""
    first_m, second_m = (_group_matrices(terms, sets[name], scores) for name in (first, second))
    per_set = numpy.stack([numpy.stack([m.mean(axis=(0, 1)) for m in ms]) for ms in (first_m, second_m)])
    boot = bootstrap_set_difference(first_m, second_m, paired=terms.paired, samples=samples,
                                    rng=category_rng(seed, terms.category, first, second))
    return _rows(terms, f"{first} - {second}", per_set[0] - per_set[1], boot, per_set, [first, second],
                 len(sets[first]) + len(sets[second]), target, confidence, effect)


def _group_matrices(terms: TermList, templates: List[str], scores: Dict[str, numpy.ndarray]) -> List[numpy.ndarray]:
    """Per group, its (templates, terms, scores) matrix."""
    return [numpy.array([[scores[fill(tpl, term)] for term in group] for tpl in templates])
            for group in terms.groups.values()]


def _rows(terms: TermList, template_set: str, point: numpy.ndarray, boot: numpy.ndarray, parts: numpy.ndarray,
          part_names: List[str], n_templates: int, target: ProbeTarget, confidence: float,
          effect: float) -> List[Dict[str, Any]]:
    """One row per contrast of groups and score: ``point`` (groups, scores), ``boot`` (samples, groups,
    scores), ``parts`` (parts, groups, scores): the means of each template (or each set of a set
    contrast), reported as ``by_template``, largest difference first."""
    groups = list(terms.groups)
    rows = []
    for (g, other, diff), (_, _, boot_diff), (_, _, part_diff) in zip(contrasts(point), contrasts(boot),
                                                                   contrasts(parts)):
        low, high = percentile_interval(boot_diff, confidence)
        for s, score in enumerate(target.scores):
            rows.append({"category": terms.category, "group": groups[g],
                         "versus": "rest" if other is None else groups[other], "templates": template_set,
                         "score": score, **_interval_row(float(diff[s]), float(low[s]), float(high[s]), effect),
                         "paired": terms.paired, "n_templates": n_templates,
                         "n_terms": {name: len(terms.groups[name]) for name in groups},
                         "n_docs": n_templates * sum(len(v) for v in terms.groups.values()),
                         "group_means": {name: float(point[i, s]) for i, name in enumerate(groups)},
                         "by_template": sorted(([name, float(part_diff[t, s])] for t, name in enumerate(part_names)),
                                               key=lambda item: -abs(item[1]) if math.isfinite(item[1]) else 0.0)})
    return rows


def _interval_row(mean: float, low: float, high: float, effect: float) -> Dict[str, Any]:
    """Flagged: the interval excludes 0 and the effect is at least ``effect`` (all finite)."""
    finite = all(math.isfinite(v) for v in (mean, low, high))
    return {"mean": mean, "ci": [low, high],
            "flagged": bool(finite and (low > 0 or high < 0) and abs(mean) >= effect)}
