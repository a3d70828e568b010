"""Token attributions by integrated gradients (IG): `spacy_lm.SentimentLSTM.v1` (the doc's
polarity) and `spacy_lm.TextCatLSTM.v1` / `.v2` in spaCy's `textcat` / `textcat_multilabel`
(each label's score).

Why IG: it is exact in the sense that matters for reading a view. Completeness gives
Σ_t attribution_t = F(x) − F(x'), so token contributions plus the baseline's score add up
to the doc's score (up to the Riemann error of ``steps``), and it needs only our own
backprop, which we have for every layer. Gradient × input is IG with one step (not
complete for a nonlinear model); occlusion needs one forward per token and its numbers do
not add up.

Inputs and baseline: the tok2vec rows of each token, plus the model's per-doc extras, against
the all-zero baseline (no embedding, no extras) of the same length. The extras are the
sentiment model's lexicon valences (one per token), and a textcat model's ``linear_model``
(wide and deep: `spacy.TextCatBOW.v3`): its scores are b + Σ_p w_p over the doc's n-gram
positions p, so each position's weight row w_p is an input, scaled on the path as the
embeddings are (the BOW baseline is its bias b), and its attribution is split evenly over the
n tokens of its n-gram. The midpoint rule over ``steps`` points is used, refined (4× the
points, up to ``max_steps``) for docs whose completeness gap is over ``tolerance``; all points
of a chunk of docs run as one batch. A token's attribution is the sum over its inputs'
dimensions. With `spacy_lm.LSTMLMListener.v1` as tok2vec the inputs are the LM's states, so
context the LM carried is credited to the token where it is read.

Thinc's `Softmax` layer backpropagates the cross-entropy shortcut (its backprop takes the
gradient of the logits, not of the probabilities), so for IG its output is differentiated
through the softmax Jacobian here; `softmax_activation` and `Logistic` are exact already.
"""
import contextlib
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats1d, Floats2d, FloatsXd

from ..architectures.sentiment_lstm import forward_from_inputs, lexicon_valences, logits_to_polarity
from ..architectures.textcat_lstm import ARCHITECTURE as TEXTCAT_V1, ARCHITECTURE_V2 as TEXTCAT_V2
from ..architectures.textcat_lstm import ARCHITECTURE_V3 as TEXTCAT_V3
from ..checks import require_finite
from ..errors import Errors
from ..pipeline_lookup import find_sentiment_component, find_textcat_component, pipe_up_to

ROWS_PER_CHUNK = 20000  # interpolated token rows run at once (bounds memory on long docs)


@contextlib.contextmanager
def _inference_with_backprop(model: Model) -> Iterator[None]:
    """Run with is_train=True (our LSTM keeps what backprop needs only then), but with every
    dropout at 0 and the gradients the pass leaves behind set back to what they were."""
    rates = {}
    for node in model.walk():
        if "dropout_rate" in node.attrs:
            rates[node.id] = node.attrs["dropout_rate"]
            node.attrs["dropout_rate"] = 0.0
    saved = {(node.id, name): node.get_grad(name).copy() for node in model.walk()
             for name in node.param_names if node.has_grad(name)}
    try:
        yield
    finally:
        for node in model.walk():
            if node.id in rates:
                node.attrs["dropout_rate"] = rates[node.id]
            for name in node.param_names:
                if (node.id, name) in saved:
                    node.set_grad(name, saved[(node.id, name)])
                elif node.has_grad(name):
                    node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))


Attribution = Tuple[List[float], float, float]  # token attributions, F(x'), F(x)
# (inputs, extras) → (F: one column per target, backprop(dF) → (d inputs, d extras))
TargetForward = Callable[[List[Floats2d], Optional[List[FloatsXd]]], Tuple[Floats2d, Callable]]


def integrated_gradients(model: Model, docs: List[Doc], values, steps: int = 32, *, tolerance: float = 0.01,
                         max_steps: int = 512, name: Optional[str] = None) -> List[Attribution]:
    """`spacy_lm.SentimentLSTM.v1`: per doc (token attributions, baseline polarity F(x'),
    polarity F(x)). ``values``: the class polarities (array) or None for a real-valued model.

    A confident model can cross a steep region of the path between two of the ``steps``
    points; docs whose completeness gap |Σ attributions − (F(x) − F(x'))| exceeds
    ``tolerance`` are recomputed with 4× the points, up to ``max_steps``. Non-finite results
    (NaN weights) raise E079 naming ``name`` (default: the model's name)."""
    ops = model.ops

    def polarity_forward(Xi: List[Floats2d], Vi: Optional[List[FloatsXd]]) -> Tuple[Floats2d, Callable]:
        logits, backprop = forward_from_inputs(model, Xi, Vi, True)
        polarity, _, bp_polarity = logits_to_polarity(ops, logits, values)
        return polarity.reshape(-1, 1), lambda dF: backprop(bp_polarity(dF[:, 0]))

    Xs = model.get_ref("tok2vec").predict(docs) if docs else []
    per_doc = _integrate(model, polarity_forward, Xs, lexicon_valences(model, docs) if docs else None, None,
                         n_targets=1, steps=steps, tolerance=tolerance, max_steps=max_steps)
    _require_finite(per_doc, name or model.name, "sentiment polarities")
    return [targets[0] for targets in per_doc]


def textcat_integrated_gradients(model: Model, docs: List[Doc], steps: int = 32, *, tolerance: float = 0.01,
                                 max_steps: int = 512, name: Optional[str] = None) -> List[List[Attribution]]:
    """`spacy_lm.TextCatLSTM.v1` / `.v2` (with or without a ``linear_model``): per doc, per
    output column (the component's labels, in order), (token attributions, F(x'), F(x)) of that
    label's score: a probability (exclusive classes) or a logistic (multilabel). Non-finite
    results raise E079 naming ``name`` (default: the architecture), as the component does."""
    network = _TextcatNetwork(model)
    if not docs:
        return []
    Xs = model.get_ref("tok2vec").predict(docs)
    extras = maps = None
    if network.linear is not None:
        network.linear_bias, extras, maps = _ngram_contributions(network.linear, docs, model.ops)
    per_doc = _integrate(model, network.forward, Xs, extras, maps, n_targets=int(model.get_dim("nO")), steps=steps,
                         tolerance=tolerance, max_steps=max_steps)
    _require_finite(per_doc, name or model.attrs.get("architecture") or model.name, "cats")
    return per_doc


def _require_finite(per_doc: List[List[Attribution]], name: str, what: str) -> None:
    """E079 (as the component's own predict) when a score, baseline or attribution is NaN or
    infinite: NaN weights give NaN everywhere, never a number to show."""
    values = [v for targets in per_doc for attr, base, score in targets for v in (base, score, *attr)]
    require_finite(numpy, numpy.asarray(values, dtype="float64"), name=name, what=f"{what} or token attributions")


def _integrate(model: Model, forward: TargetForward, Xs: List[Floats2d], extras: Optional[List[FloatsXd]],
               unit_maps: Optional[List[Floats2d]], *, n_targets: int, steps: int, tolerance: float,
               max_steps: int) -> List[List[Attribution]]:
    """IG of each target column of ``forward`` for each doc, refined where the gap is large.
    ``extras[b]``: inputs beside the tok2vec rows (first axis: units); ``unit_maps[b]``
    (tokens × units) spreads their attributions over the tokens (None: one unit per token).

    The path [0, 1] is cut into intervals, one point at each midpoint, weighted by its length
    (the midpoint rule; ``steps`` equal intervals at first). A doc whose gap exceeds
    ``tolerance`` gets 4× the points (at most ``max_steps``): half of the new ones spread evenly,
    half put into the intervals where F changed most between the points already evaluated. On
    long SST-5 sentences F(α·x) of a trained LSTM turns within 1/4000 of the path (a gate
    flips and the recurrence carries it); even points step over such a turn or land on it, and
    the gap of 512 even points was up to 0.16-0.33 (benchmarks/ig_completeness.py)."""
    if steps < 1:
        raise ValueError(Errors.E042.format(steps=steps))
    results: List[Optional[List[Attribution]]] = [None] * len(Xs)
    edges = [numpy.linspace(0.0, 1.0, steps + 1) for _ in Xs]
    pending = list(range(len(Xs)))

    def pick(values: Optional[List]) -> Optional[List]:
        return None if values is None else [values[b] for b in pending]

    with _inference_with_backprop(model):
        while pending:
            passed = _ig_pass(model.ops, forward, [Xs[b] for b in pending], pick(extras), pick(unit_maps),
                              n_targets, [edges[b] for b in pending])
            for b, (result, curve) in zip(pending, passed):
                results[b] = result
                edges[b] = _refined_edges(edges[b], curve, min(4 * (len(edges[b]) - 1), max_steps))
            if steps >= max_steps:
                break
            steps = min(4 * steps, max_steps)
            pending = [b for b in pending if completeness_gap(results[b]) > tolerance]  # type: ignore[arg-type]
    return results  # type: ignore[return-value]


def completeness_gap(targets: Sequence[Attribution]) -> float:
    """The largest |Σ attributions − (F(x) − F(x'))| over a doc's targets."""
    return max((abs(sum(attr) - (score - base)) for attr, base, score in targets), default=0.0)


def _refined_edges(edges: numpy.ndarray, curve: numpy.ndarray, n_intervals: int) -> numpy.ndarray:
    """Cut the intervals between ``edges`` into ``n_intervals``: each in two or more, half of the
    new points by how much F changed next to the interval's midpoint. ``curve``: F at 0, at
    each midpoint and at 1 (rows), one column per target."""
    n_old = len(edges) - 1
    extra = n_intervals - n_old
    if extra <= 0:
        return edges
    change = numpy.abs(numpy.diff(curve, axis=0)).max(axis=1)  # between consecutive samples
    activity = numpy.maximum(change[:-1], change[1:])  # on either side of each midpoint
    even = numpy.full(n_old, (extra // 2) / n_old)
    guided = activity / activity.sum() * (extra - extra // 2) if activity.sum() > 0 else numpy.full(n_old, 0.0)
    pieces = 1 + numpy.floor(even + guided).astype(int)
    cuts = [numpy.linspace(edges[i], edges[i + 1], k + 1)[:-1] for i, k in enumerate(pieces)]
    return numpy.concatenate(cuts + [edges[-1:]])


def _ig_pass(ops, forward: TargetForward, Xs: List[Floats2d], extras: Optional[List[FloatsXd]],
             unit_maps: Optional[List[Floats2d]], n_targets: int, edges: List[numpy.ndarray]
             ) -> List[Tuple[List[Attribution], numpy.ndarray]]:
    """One midpoint-rule pass (+ the baseline and the input itself), one forward and backward
    per target; per doc its attributions and F at 0, at the midpoints and at 1. A point's
    weight (its interval's length) is put into dF, so the weighted gradients come back summed.
    The points run in chunks of at most ROWS_PER_CHUNK token rows (a long doc's points spread
    over several chunks, its gradients summed in point order), so memory grows with the doc's
    length, never with length × points."""
    xp = ops.xp
    # Per doc: the midpoints, then 0 (baseline) and 1 (the input), forward only (weight 0).
    points = [list((e[:-1] + e[1:]) / 2) + [0.0, 1.0] for e in edges]
    weights = [list(numpy.diff(e)) + [0.0, 0.0] for e in edges]
    curves = [numpy.zeros((len(p), n_targets), dtype="f") for p in points]  # F at each point
    summed: List[List[List[Any]]] = [[[None, None] for _ in range(n_targets)] for _ in Xs]  # Σ dX, Σ dE
    for chunk in _chunks([X.shape[0] for X in Xs], [len(p) for p in points]):
        Xi: List[Floats2d] = []
        Ei: Optional[List[FloatsXd]] = [] if extras is not None else None
        w: List[float] = []
        for b, lo, hi in chunk:
            for a in points[b][lo:hi]:
                Xi.append(Xs[b] * float(a))
                if Ei is not None:
                    Ei.append(extras[b] * float(a))  # type: ignore[index]
            w.extend(weights[b][lo:hi])
        for k in range(n_targets):
            F, backprop = forward(Xi, Ei)
            dF = xp.zeros_like(F)
            dF[:, k] = xp.asarray(w, dtype=F.dtype)
            dXs, dE = backprop(dF)
            row = 0
            for b, lo, hi in chunk:
                if k == 0:  # every forward gives all the targets' columns
                    curves[b][lo:hi] = ops.to_numpy(F[row:row + hi - lo])
                acc = summed[b][k]
                for r in range(row, row + min(hi, len(points[b]) - 2) - lo):  # the midpoints' rows
                    acc[0] = dXs[r] if acc[0] is None else acc[0] + dXs[r]
                    if dE is not None:
                        acc[1] = dE[r] if acc[1] is None else acc[1] + dE[r]
                row += hi - lo
    results: List[Tuple[List[Attribution], numpy.ndarray]] = []
    for b, X in enumerate(Xs):
        F_doc = curves[b]
        targets: List[Attribution] = []
        for k, (dX, dE) in enumerate(summed[b]):
            attr = (dX * X).sum(axis=1)
            if dE is not None:
                units = dE * extras[b]  # type: ignore[index]
                units = units.sum(axis=tuple(range(1, units.ndim))) if units.ndim > 1 else units
                attr = attr + (units if unit_maps is None else unit_maps[b] @ units)
            targets.append(([float(v) for v in ops.to_numpy(attr).tolist()], float(F_doc[-2, k]),
                            float(F_doc[-1, k])))
        results.append((targets, numpy.vstack([F_doc[-2:-1], F_doc[:-2], F_doc[-1:]])))
    return results


def _chunks(lengths: List[int], n_points: List[int]) -> Iterator[List[Tuple[int, int, int]]]:
    """``(doc, first point, end point)`` pieces in chunks of at most ROWS_PER_CHUNK token rows:
    docs whole while they fit, a longer doc's points split over chunks of their own (one point
    per chunk at least)."""
    chunk: List[Tuple[int, int, int]] = []
    rows = 0
    for b, (n, points) in enumerate(zip(lengths, n_points)):
        n = max(n, 1)
        if n * points > ROWS_PER_CHUNK:
            if chunk:
                yield chunk
                chunk, rows = [], 0
            step = max(1, ROWS_PER_CHUNK // n)
            for lo in range(0, points, step):
                yield [(b, lo, min(lo + step, points))]
            continue
        if chunk and rows + n * points > ROWS_PER_CHUNK:
            yield chunk
            chunk, rows = [], 0
        chunk.append((b, 0, points))
        rows += n * points
    if chunk:
        yield chunk


# ---------------------------------------------------------------------------- textcat
def _is_softmax_layer(layer: Model) -> bool:
    return layer.name in ("softmax", "resizable(softmax)")


def _run_layers(layers: Sequence[Model], X) -> Tuple[Any, Callable]:
    """``chain(*layers)`` in training mode (dropout is off, see _inference_with_backprop), with
    Thinc's `Softmax` differentiated through its Jacobian (see the module docstring)."""
    backprops = []
    for layer in layers:
        Y, backprop = layer(X, True)
        if _is_softmax_layer(layer):
            backprop = _through_softmax(layer.ops, Y, backprop)
        backprops.append(backprop)
        X = Y

    def run_back(dY):
        for backprop in reversed(backprops):
            dY = backprop(dY)
        return dY

    return X, run_back


def _through_softmax(ops, probs: Floats2d, backprop_logits: Callable) -> Callable:
    return lambda d_probs: backprop_logits(ops.backprop_softmax(probs, d_probs, axis=-1))


class _TextcatNetwork:
    """A TextCatLSTM model seen from its tok2vec output (and its linear model's n-gram
    weights): the three shapes textcat_lstm.py builds (deep; v1 wide & deep concatenated;
    v2 wide & deep summed as logits)."""

    def __init__(self, model: Model) -> None:
        architecture = model.attrs.get("architecture")
        if architecture not in (TEXTCAT_V1, TEXTCAT_V2, TEXTCAT_V3):
            raise ValueError(Errors.E172.format(model=architecture or model.name))
        tok2vec = model.get_ref("tok2vec")
        self.ops = model.ops  # the linear model runs on the CPU inside (with_cpu); its scores come back here
        first = model.layers[0]
        self.linear: Optional[Model] = None
        self.linear_bias = None
        self.combine = "deep"
        if first is tok2vec:
            self.deep, self.tail = list(model.layers[1:]), []
        else:  # add(chain(tok2vec, ..., output), linear) or concatenate(chain(tok2vec, ...), linear)
            deep_chain, self.linear = first.layers
            self.combine = "sum" if first.name == "add" else "concat"
            self.deep, self.tail = list(deep_chain.layers[1:]), list(model.layers[1:])

    def forward(self, Xs: List[Floats2d], contributions: Optional[List[FloatsXd]]) -> Tuple[Floats2d, Callable]:
        H, bp_deep = _run_layers(self.deep, Xs)
        if self.linear is None:
            return H, lambda dF: (bp_deep(dF), None)
        ops = self.ops
        L = ops.xp.stack([self.linear_bias + C.sum(axis=0) for C in contributions])  # type: ignore[union-attr]
        width = H.shape[1]
        Z = H + L if self.combine == "sum" else ops.xp.hstack([H, L])
        F, bp_tail = _run_layers(self.tail, Z)

        def backprop(dF: Floats2d):
            dZ = bp_tail(dF)
            dH, dL = (dZ, dZ) if self.combine == "sum" else (dZ[:, :width], dZ[:, width:])
            dC = [ops.xp.broadcast_to(dL[r], C.shape) for r, C in enumerate(contributions)]  # type: ignore[arg-type]
            return bp_deep(ops.xp.ascontiguousarray(dH)), dC

        return F, backprop


def _ngram_contributions(linear: Model, docs: List[Doc], ops) -> Tuple[Floats1d, List[Floats2d], List[Floats2d]]:
    """A `spacy.TextCatBOW.v3`-style linear model (extract_ngrams → SparseLinear, no output
    layer) as bias b + Σ_p w_p: (b, per doc the rows w_p of its n-gram positions, per doc the
    tokens × positions map that gives each of an n-gram's tokens 1/n of it). Its scores are
    linear in the n-gram counts, so the positions sum to the model's output exactly."""
    extract = next((node for node in linear.walk() if node.name == "extract_ngrams"), None)
    sparse = linear.maybe_get_ref("output_layer")
    if extract is None or sparse is None:
        raise ValueError(Errors.E173.format(model=linear.name))
    xp = sparse.ops.xp
    no_keys = (xp.zeros((0,), dtype="uint64"), xp.zeros((0,), dtype="f"), xp.zeros((1,), dtype="int32"))
    bias = ops.asarray(sparse.predict(no_keys)[0])  # the output of a doc without n-grams
    contributions, maps = [], []
    for doc in docs:
        unigrams = sparse.ops.asarray(doc.to_array([extract.attrs["attr"]]))
        grams = [(1, unigrams)] + [(n, sparse.ops.ngrams(n, unigrams))  # (ngrams fails on fewer than n ids)
                                   for n in range(2, extract.attrs["ngram_size"] + 1) if n <= len(doc)]
        keys = xp.concatenate([g for _, g in grams]).reshape(-1)
        token_map = numpy.zeros((len(doc), keys.shape[0]), dtype="f")
        column = 0
        for n, g in grams:
            for start in range(g.shape[0]):
                token_map[start:start + n, column] = 1.0 / n
                column += 1
        if keys.shape[0]:
            ones = xp.ones((keys.shape[0],), dtype="f")
            rows = ops.asarray(sparse.predict((keys, ones, sparse.ops.asarray(ones, dtype="int32")))) - bias
        else:
            rows = ops.alloc2f(0, bias.shape[0])
        contributions.append(rows)
        maps.append(ops.asarray(token_map))
    return bias, contributions, maps


def explain_textcat(nlp: Language, texts: Iterable[str], *, component: Optional[str] = None,
                    labels: Optional[Sequence[str]] = None, steps: int = 32) -> List[Dict[str, Any]]:
    """Run the pipeline up to its text classifier and attribute each label's score to the
    tokens: per text {"text", "component", "multi_label", "tokens", "whitespace", "labels":
    {label: {"score", "base", "attributions", "gap"}}} (``labels``: a subset, default all)."""
    name = find_textcat_component(nlp, component)
    pipe = nlp.get_pipe(name)
    known = list(pipe.labels)
    chosen = known if not labels else list(labels)
    unknown = [label for label in chosen if label not in known]
    if unknown:
        raise ValueError(Errors.E174.format(labels=unknown, component=name, known=known))
    docs = pipe_up_to(nlp, name, texts, including=False)
    empty = [i for i, doc in enumerate(docs) if not len(doc)]
    if empty:  # spaCy's textcat itself scores an empty doc 0 alone but by its biases in a batch
        raise ValueError(Errors.E175.format(i=empty[0], n=len(empty)))
    per_doc = textcat_integrated_gradients(pipe.model, docs, steps=steps, name=name)
    items = []
    for doc, targets in zip(docs, per_doc):
        by_label = {}
        for label in chosen:
            attr, base, score = targets[known.index(label)]
            by_label[label] = {"score": score, "base": base, "attributions": attr,
                               "gap": abs(sum(attr) - (score - base))}
        items.append({"text": doc.text, "component": name, "multi_label": bool(pipe.model.attrs.get("multi_label")),
                      "tokens": [t.text for t in doc], "whitespace": [t.whitespace_ for t in doc], "labels": by_label})
    return items


def explain_texts(nlp, texts: List[str], *, component: Optional[str] = None, steps: int = 32) -> List[Doc]:
    """Run the pipeline up to its sentiment component and annotate with token contributions
    (integrated gradients for a trained model, the lexicon's exact shares otherwise)."""
    name = find_sentiment_component(nlp, component)
    pipe = nlp.get_pipe(name)
    docs = pipe_up_to(nlp, name, texts, including=False)
    pipe.set_annotations(docs, pipe.explain(docs, steps=steps))
    return docs
