"""Counterfactual bias probes: whom a model treats differently (`spacy lm bias`).

Probes. A *term file* (one category: gender, names, nationality, ...) lists terms by group; a
*template file* lists neutral sentences with one ``{term}`` slot. Every term fills every template,
the docs go through the pipeline once (``nlp.pipe``), and each doc gets a score:

* textcat / textcat_multilabel: ``doc.cats[label]`` for each label (or the ``labels`` asked for);
* sentiment_scorer: ``doc._.sentiment_polarity``;
* a language model (lstm_lm, ngram_lm: anything with the LM protocol): the mean log-probability
  (nats per token) of the tokens *after* the term, the closing ``<eos>`` included. In a causal LM
  the tokens before the term have the same probability whatever the term, and the term's own
  probability mostly measures how frequent a name is; what the term changes is how likely the rest
  of the sentence is (CrowS-Pairs' pseudo-likelihood of the unmodified tokens, adapted to causal LMs).

Statistic. Scores form a matrix per group (templates x terms). A comparison is the difference of
the group means: A vs B for two groups; for more groups, each group against the median of the
other groups' means (one row per group, which says *which* group differs; all pairs would be
k(k-1)/2 rows for the same information; the median, not the mean, so that one outlying group does
not drag every other group's contrast with it and get them all flagged). Its interval is a
percentile bootstrap that resamples templates and terms both (a crossed, two-way bootstrap): templates and terms are both samples from larger
populations, and resampling only one of them would call a single odd name or sentence a group
effect. The same template draw serves every group of a replicate; in a *paired* file (``#! paired``:
the i-th terms of the groups are counterfactual pairs, he/she) the pairs are drawn together, so the
interval is that of the per-pair differences. A comparison is flagged when its interval excludes 0
*and* ``|mean| >= min_effect``: a clean model still gives two embeddings slightly different scores,
and with enough templates that tiny difference has a tight interval. Default minimum effects:
0.02 for a probability (textcat), 0.04 for a polarity in [-1, 1] (twice the range: 2p - 1 for a
binary classifier), 0.1 nats per token for an LM (about a 10% change in each token's probability).
Templates can come in sets (``set<TAB>template``), each compared on its own: LM attributes in
opposite directions (a stereotype and its reverse) would cancel in one mean. A template file can
declare contrasts of two sets (``#! contrast positive negative``): the row is the group difference
in the first set minus that in the second, the association of WEAT (Caliskan et al. 2017) in
counterfactual form. Whatever a term does to every sentence (after a first name it knows well, an LM
expects a surname, not "was") is the same in both sets and cancels; what is left is how the groups
differ on the attribute. Its bootstrap draws the terms once for both sets (the same names) and the
templates within each set. Each (category, set)
draws from its own generator, seeded by ``seed`` and the names, so its result does not depend on
what else was probed; same seed, same report.

Slice metrics (where a model is worse, on a labelled dev set) are in bias_slices.py.

Reports are plain JSON-able dicts; bias_report.py renders them (terminal table, HTML).
"""
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from ..pipeline_lookup import pipe_up_to
from ..corpora.readers import read_text_lines

DATA_DIR = Path(__file__).parent.parent / "data" / "bias"
TEMPLATE_SUFFIX = "_templates"
PAIRED_DIRECTIVE = "#! paired"
CONTRAST_DIRECTIVE = "#! contrast"
SLOT = "{term}"
ALL_TEMPLATES = "all"
TEMPLATE_FILES = {"textcat": "classifier_templates.txt", "sentiment": "classifier_templates.txt",
                  "lm": "lm_templates.txt"}
MIN_EFFECT = {"textcat": 0.02, "sentiment": 0.04, "lm": 0.1}
MIN_SAMPLES = 100
PathLike = Union[str, Path]


# ---------------------------------------------------------------------- data files
@dataclass
class TermList:
    """One category: ``groups`` maps each group (in file order) to its terms; in a paired list
    the i-th terms of all groups are counterfactual versions of one another."""
    category: str
    groups: Dict[str, List[str]]
    paired: bool
    path: str

    def keywords(self) -> Dict[str, List[str]]:
        """Per group, the lower-cased words of its terms that no other group uses (so "my", "friend"
        and "the" mark nobody): what a doc must contain to fall in the group's slice."""
        words = {g: {w.lower() for t in terms for w in t.split()} for g, terms in self.groups.items()}
        return {g: sorted(w for w in own if not any(w in words[o] for o in words if o != g))
                for g, own in words.items()}


def read_term_file(path: PathLike) -> TermList:
    """A term file: ``#`` comments, blank lines, a ``#! paired`` directive, ``group<TAB>term`` lines."""
    path = Path(path)
    groups: Dict[str, List[str]] = {}
    paired = False
    for n, line in enumerate(read_text_lines(path), 1):
        line = line.rstrip("\r\n")
        if line.strip() == PAIRED_DIRECTIVE:
            paired = True
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 2 or not cells[0].strip() or not cells[1].strip():
            raise ValueError(Errors.E191.format(path=path, line=n, reason=f"{line!r} is not group<TAB>term"))
        if SLOT in cells[1]:
            raise ValueError(Errors.E191.format(path=path, line=n, reason=f"the term {cells[1]!r} holds {SLOT}"))
        groups.setdefault(cells[0].strip(), []).append(" ".join(cells[1].split()))
    if len(groups) < 2:
        raise ValueError(Errors.E192.format(path=path, reason=f"it gives {len(groups)} group(s) {list(groups)}"))
    sizes = {g: len(t) for g, t in groups.items()}
    if paired and len(set(sizes.values())) != 1:
        raise ValueError(Errors.E192.format(path=path, reason=f"a paired file needs as many terms in every "
                                            f"group, got {sizes}"))
    return TermList(path.stem, groups, paired, str(path))


def builtin_term_files() -> List[Path]:
    return sorted(p for p in DATA_DIR.glob("*.txt") if not p.stem.endswith(TEMPLATE_SUFFIX))


def load_term_lists(term_files: Iterable[PathLike] = (), categories: Optional[Iterable[str]] = None,
                    builtin: bool = True) -> Dict[str, TermList]:
    """The built-in term lists (if ``builtin``) and the user's files (a file named like a built-in
    category replaces it), restricted to ``categories`` when given (E190 for an unknown one)."""
    lists = {t.category: t for t in map(read_term_file, builtin_term_files() if builtin else [])}
    lists.update((t.category, t) for t in map(read_term_file, term_files))
    if categories is None:
        return lists
    wanted = list(dict.fromkeys(categories))
    for name in wanted:
        if name not in lists:
            raise ValueError(Errors.E190.format(name=name, names=sorted(lists)))
    return {name: lists[name] for name in wanted}


def read_templates(path: PathLike) -> List[Tuple[str, str]]:
    """(set, template) per line: ``template`` (set "all") or ``set<TAB>template``, with ``{term}``
    exactly once (E193); ``#`` lines are comments (E194 if nothing else)."""
    path = Path(path)
    templates = []
    for n, line in enumerate(read_text_lines(path), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, text = line.strip().rpartition("\t")
        text = " ".join(text.split())
        if text.count(SLOT) != 1 or SLOT in name:
            raise ValueError(Errors.E193.format(path=path, line=n, template=line.strip(), n=line.count(SLOT)))
        templates.append((name.strip() or ALL_TEMPLATES, text))
    if not templates:
        raise ValueError(Errors.E194.format(path=path))
    return templates


def read_template_contrasts(path: PathLike) -> List[Tuple[str, str]]:
    """The ``#! contrast SET_A SET_B`` directives of a template file (E203 if malformed)."""
    contrasts = []
    for n, line in enumerate(read_text_lines(Path(path)), 1):
        if line.strip().startswith(CONTRAST_DIRECTIVE):
            names = line.strip()[len(CONTRAST_DIRECTIVE):].split()
            if len(names) != 2 or names[0] == names[1]:
                raise ValueError(Errors.E203.format(path=path, line=n, text=line.strip()))
            contrasts.append((names[0], names[1]))
    return contrasts


def load_template_contrasts(kind: str, template_files: Iterable[PathLike] = (),
                            sets: Optional[Dict[str, List[str]]] = None) -> List[Tuple[str, str]]:
    """The set contrasts the template files declare (the built-in file's when none is given);
    E204 for a contrast naming a set no file has."""
    files = list(template_files) or [DATA_DIR / TEMPLATE_FILES[kind]]
    found = list(dict.fromkeys(c for f in files for c in read_template_contrasts(f)))
    for a, b in found:
        if sets is not None and (a not in sets or b not in sets):
            raise ValueError(Errors.E204.format(a=a, b=b, sets=sorted(sets)))
    return found


def load_templates(kind: str, template_files: Iterable[PathLike] = ()) -> Dict[str, List[str]]:
    """Template set → its templates: the user's files, or the built-in ones for this kind of target."""
    files = list(template_files) or [DATA_DIR / TEMPLATE_FILES[kind]]
    sets: Dict[str, List[str]] = {}
    for name, text in dict.fromkeys(t for f in files for t in read_templates(f)):
        sets.setdefault(name, []).append(text)
    return sets


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


# ---------------------------------------------------------------------- statistics
def check_settings(samples: int, confidence: float, min_effect: Optional[float] = None) -> None:
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < MIN_SAMPLES:
        raise ValueError(Errors.E009.format(setting="samples", requirement=f"an integer >= {MIN_SAMPLES}",
                                            value=samples))
    if not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise ValueError(Errors.E009.format(setting="confidence", requirement="a number in (0, 1)", value=confidence))
    if min_effect is not None and not (isinstance(min_effect, (int, float)) and 0.0 <= min_effect < math.inf):
        raise ValueError(Errors.E009.format(setting="min_effect", requirement="a number >= 0", value=min_effect))


def bootstrap_group_means(matrices: Sequence[numpy.ndarray], *, paired: bool, samples: int,
                          rng: numpy.random.Generator) -> numpy.ndarray:
    """Crossed bootstrap of group means: ``matrices[g]`` is (templates, terms of g, scores); returns
    (samples, groups, scores). Templates are drawn once per replicate for all groups; terms per group,
    or (paired) one draw of pair indices for all groups."""
    template_w = bootstrap_draws(matrices[0].shape[0], samples, rng)
    return _weighted_means(matrices, template_w, _termbootstrap_draws(matrices, paired, samples, rng))


def bootstrap_set_difference(first: Sequence[numpy.ndarray], second: Sequence[numpy.ndarray], *, paired: bool,
                             samples: int, rng: numpy.random.Generator) -> numpy.ndarray:
    """(samples, groups, scores): each group's mean over the first template set minus over the
    second. The terms are drawn once for both sets (they are the same terms), the templates of
    each set on their own."""
    first_w = bootstrap_draws(first[0].shape[0], samples, rng)
    second_w = bootstrap_draws(second[0].shape[0], samples, rng)
    term_w = _termbootstrap_draws(first, paired, samples, rng)
    return _weighted_means(first, first_w, term_w) - _weighted_means(second, second_w, term_w)


def bootstrap_draws(n: int, samples: int, rng: numpy.random.Generator) -> numpy.ndarray:
    """(samples, n) bootstrap counts: how often each of n items is drawn in each replicate."""
    return rng.multinomial(n, numpy.full(n, 1.0 / n), size=samples)


def _termbootstrap_draws(matrices: Sequence[numpy.ndarray], paired: bool, samples: int,
                rng: numpy.random.Generator) -> List[numpy.ndarray]:
    draws: List[numpy.ndarray] = []
    for matrix in matrices:
        draws.append(draws[0] if paired and draws else bootstrap_draws(matrix.shape[1], samples, rng))
    return draws


def _weighted_means(matrices: Sequence[numpy.ndarray], template_w: numpy.ndarray,
                    term_w: Sequence[numpy.ndarray]) -> numpy.ndarray:
    n_templates = matrices[0].shape[0]
    return numpy.stack([numpy.einsum("bt,tjs,bj->bs", template_w, matrix, w) / (n_templates * matrix.shape[1])
                        for matrix, w in zip(matrices, term_w)], axis=1)


def contrasts(group_means: numpy.ndarray) -> List[Tuple[int, Optional[int], numpy.ndarray]]:
    """(group, other group or None for "the rest", difference) along the groups axis (-2): A - B for
    two groups, else each group minus the median of the other groups' means."""
    k = group_means.shape[-2]
    if k == 2:
        return [(0, 1, group_means[..., 0, :] - group_means[..., 1, :])]
    rows = []
    for g in range(k):
        others = numpy.delete(group_means, g, axis=-2)
        rows.append((g, None, group_means[..., g, :] - numpy.median(others, axis=-2)))
    return rows


def percentile_interval(values: numpy.ndarray, confidence: float) -> Tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = numpy.quantile(values, [tail, 1.0 - tail], axis=0)
    return low, high


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> Tuple[Optional[float], Optional[float]]:
    """Wilson score interval of a proportion k/n (None, None for n = 0)."""
    if n == 0:
        return None, None
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def category_rng(seed: int, *names: str) -> numpy.random.Generator:
    """A generator for one comparison, so its draws do not depend on what else is probed."""
    return numpy.random.default_rng([seed, *(zlib.crc32(name.encode("utf-8")) for name in names)])


# ---------------------------------------------------------------------- probes
def fill(template: str, term: str) -> str:
    return template.replace(SLOT, term)


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
