"""Slice metrics: where a model is worse, on a labelled dev set (`spacy lm bias MODEL --dev PATH`).

Docs are put in slices by keyword group (a doc with any keyword of a group, see
``TermList.keywords``: the words of a group's terms that no other group of the category uses) or by
a field (``field:NAME``: a DocBin doc's ``user_data[NAME]``, or a csv/tsv column). A doc can be in
several slices of one category, or in none. Per slice, beside the overall figure:

* classifiers (textcat, textcat_multilabel): accuracy with a Wilson score interval (it stays inside
  [0, 1] and is honest for small slices, where the normal interval is not). A doc is correct when
  the top label is the gold one (exclusive) or every label agrees at 0.5 (multilabel);
* sentiment_scorer: the sign accuracy, as spacy_lm's sentiment scorer counts it (polarity >= 0 is
  positive; docs whose gold polarity is 0 are not scored);
* language models: perplexity pooled over the slice's tokens (the closing <eos> counted), with a
  percentile bootstrap interval over docs (tokens of one doc are not independent).

Same seed, same intervals. The report is a JSON-able dict; bias_report.py renders it.
"""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from ..pipeline_lookup import pipe_up_to
from .bias import ProbeTarget, find_probe_target
from .bias_stats import bootstrap_draws, check_settings, percentile_interval, wilson_interval
from .bias_terms import PathLike, TermList, load_term_lists

FIELD_PREFIX = "field:"
METRICS = {"textcat": "accuracy", "sentiment": "sign_accuracy", "lm": "perplexity"}

@dataclass
class DevDoc:
    doc: Doc  # to run through the pipeline
    gold: Optional[Dict[str, float]]  # gold cats (None for a language model's text)
    field: Optional[Any] = None  # the value of the field:NAME slice, if asked for


def read_dev_set(nlp: Language, path: PathLike, *, kind: str, format: str = "label_first",
                 label_map: Optional[Dict[str, str]] = None, text_column: str = "text",
                 label_column: str = "label", field: Optional[str] = None) -> List[DevDoc]:
    """A labelled dev set: a DocBin (gold ``doc.cats``, fields from ``user_data``) or a labelled text
    file (readers.iter_labelled_texts; a field is a csv/tsv column). For a language model: a
    DocBin or a text file one doc per line (corpus.read_corpus_docs), fields from DocBins only."""
    from ..corpora.corpus import read_corpus_docs
    from ..corpora.labelled import is_docbin, iter_docbin_docs, iter_labelled_texts

    path = Path(path)
    if is_docbin(path):
        items = [DevDoc(nlp.make_doc(d.text) if kind != "lm" else d, dict(d.cats) or None,
                        d.user_data.get(field) if field else None) for _, d in iter_docbin_docs(path, nlp.vocab)]
        if field and all(item.field is None for item in items):
            raise ValueError(Errors.E202.format(field=field, path=path, reason="no doc has that user_data key"))
    elif kind == "lm":
        if field:
            raise ValueError(Errors.E202.format(field=field, path=path, reason="a text file has no fields"))
        items = [DevDoc(d, None) for d in read_corpus_docs(nlp, path)]
    else:
        pairs = list(iter_labelled_texts(path, format=format, text_column=text_column, label_column=label_column))
        values: List[Any] = [None] * len(pairs)
        if field:
            if format == "label_first":
                raise ValueError(Errors.E202.format(field=field, path=path, reason="label_first lines have no fields"))
            values = [v for v, _ in iter_labelled_texts(path, format=format, text_column=field,
                                                        label_column=label_column)]
        labels = sorted({(label_map or {}).get(raw, raw) for _, raw in pairs})
        items = [DevDoc(nlp.make_doc(text), {lab: float(lab == (label_map or {}).get(raw, raw)) for lab in labels},
                        value) for (text, raw), value in zip(pairs, values)]
    if not items:
        raise ValueError(Errors.E199.format(path=path, what=""))
    return items


def slice_metrics(nlp: Language, dev: Sequence[DevDoc], *, component: Optional[str] = None,
                  slice_by: Optional[Iterable[str]] = None, term_files: Iterable[PathLike] = (),
                  builtin_terms: bool = True, confidence: float = 0.95, samples: int = 2000, seed: int = 0,
                  batch_size: int = 64, path: str = "the dev set") -> Dict[str, Any]:
    """Per slice (keyword groups of term-list categories, or ``field:NAME`` values): the count and
    accuracy (Wilson interval) or perplexity (bootstrap over docs), beside the overall figure."""
    check_settings(samples, confidence)
    target = find_probe_target(nlp, component)
    metric = _doc_metric(nlp, target, dev, path)
    docs = pipe_up_to(nlp, target.name, [item.doc for item in dev], batch_size=batch_size)
    values = [metric(doc, item.gold) for doc, item in zip(docs, dev)]
    if all(v is None for v in values):
        raise ValueError(Errors.E199.format(path=path, what=" the model can be scored on"))
    specs = list(slice_by) if slice_by is not None else None
    lists = load_term_lists(term_files, builtin=builtin_terms)
    rng = numpy.random.default_rng(seed)
    summary = _summarise_lm if target.kind == "lm" else _summarise_accuracy
    rows = [{"slice": "all", "group": "all", **summary(values, confidence, samples, rng)}]
    for spec, group, members in _slices(specs, lists, docs, dev):
        rows.append({"slice": spec, "group": group, **summary([values[i] for i in members], confidence, samples, rng)})
    return {"component": target.name, "target": target.kind,
            "metric": METRICS[target.kind],
            "confidence": confidence, "samples": samples, "seed": seed, "slices": rows}


def _doc_metric(nlp: Language, target: ProbeTarget, dev: Sequence[DevDoc], path: str) -> Callable:
    """doc, gold → 1/0 (correct), (nll, n_tokens) for an LM, or None (not scored)."""
    pipe = nlp.get_pipe(target.name)
    if target.kind == "lm":
        return lambda doc, gold: (-doc._.lm_logprob, doc._.lm_n_predicted) if doc._.lm_n_predicted else None
    if target.kind == "sentiment":
        from ..pipeline.sentiment_scorer import spread_label_values
        from ..metrics.scorers import gold_sentiment

        values = pipe.label_values or spread_label_values(sorted({k for d in dev for k in (d.gold or {})}))
        mode = pipe.cfg.get("target", "classes")

        def sign(doc: Doc, gold: Optional[Dict[str, float]]) -> Optional[int]:
            found = gold_sentiment(gold or {}, values, mode)
            if found is None or found[0] == 0:
                return None
            return int((doc._.sentiment_polarity >= 0) == (found[0] > 0))

        return sign
    labels = list(pipe.labels)
    for i, item in enumerate(dev):
        unknown = sorted(k for k, v in (item.gold or {}).items() if k not in labels and v)
        if unknown:
            raise ValueError(Errors.E200.format(path=path, i=i, text=item.doc.text[:60], unknown=unknown,
                                                name=target.name, labels=labels))
    from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer

    if isinstance(pipe, MultiLabel_TextCategorizer):
        return lambda doc, gold: None if not gold else int(all(
            (doc.cats[k] >= 0.5) == (gold.get(k, 0.0) >= 0.5) for k in labels))
    return lambda doc, gold: None if not gold or max(gold.values()) <= 0 else int(
        max(labels, key=lambda k: doc.cats[k]) == max(gold, key=lambda k: gold[k]))


def _slices(specs: Optional[List[str]], lists: Dict[str, TermList], docs: List[Doc],
            dev: Sequence[DevDoc]) -> Iterable[Tuple[str, str, List[int]]]:
    words = [{t.lower_ for t in doc} for doc in docs]
    for spec in specs if specs is not None else list(lists):
        if spec.startswith(FIELD_PREFIX):
            found: Dict[str, List[int]] = {}
            for i, item in enumerate(dev):
                if item.field is not None:
                    found.setdefault(str(item.field), []).append(i)
            for value in sorted(found):
                yield spec, value, found[value]
            continue
        if spec not in lists:
            raise ValueError(Errors.E198.format(spec=spec, categories=sorted(lists)))
        for group, keywords in lists[spec].keywords().items():
            yield spec, group, [i for i, w in enumerate(words) if w.intersection(keywords)]


def _summarise_accuracy(values: List[Optional[int]], confidence: float, samples: int, rng) -> Dict[str, Any]:
    scored = [v for v in values if v is not None]
    n, k = len(scored), sum(scored)
    low, high = wilson_interval(k, n, confidence)
    return {"n_docs": len(values), "n_scored": n, "value": k / n if n else None, "ci": [low, high]}


def _summarise_lm(values: List[Optional[Tuple[float, int]]], confidence: float, samples: int, rng) -> Dict[str, Any]:
    scored = numpy.array([v for v in values if v is not None], dtype="float64").reshape(-1, 2)
    n = scored.shape[0]
    if n == 0:
        return {"n_docs": len(values), "n_scored": 0, "n_tokens": 0, "value": None, "ci": [None, None]}
    weights = bootstrap_draws(n, samples, rng)
    boot = numpy.exp((weights @ scored[:, 0]) / numpy.maximum(weights @ scored[:, 1], 1))
    low, high = percentile_interval(boot, confidence)
    return {"n_docs": len(values), "n_scored": n, "n_tokens": int(scored[:, 1].sum()),
            "value": float(math.exp(scored[:, 0].sum() / scored[:, 1].sum())), "ci": [float(low), float(high)]}
