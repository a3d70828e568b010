"""Token attributions for `spacy_lm.SentimentLSTM.v1`: integrated gradients (IG).

Why IG: it is exact in the sense that matters for reading a view. Completeness gives
Σ_t attribution_t = F(x) − F(x'), so token contributions plus the baseline's polarity add up
to the doc's polarity (up to the Riemann error of ``steps``), and it needs only our own
backprop, which we have for every layer. Gradient × input is IG with one step (not
complete for a nonlinear model); occlusion needs one forward per token and its numbers do
not add up.

Inputs and baseline: the tok2vec rows of each token and its lexicon valence (when the model
has the lexicon prior), against the all-zero baseline (no embedding, no valence) of the same
length. F is the doc polarity in [-1, 1]. The midpoint rule over ``steps`` points is used,
refined (4× the points, up to ``max_steps``) for docs whose completeness gap is over
``tolerance``; all points of a chunk of docs run as one batch. A token's attribution is the
sum over its inputs' dimensions. With `spacy_lm.LSTMLMListener.v1` as tok2vec the inputs are
the LM's states, so context the LM carried is credited to the token where it is read.
"""
import contextlib
from typing import Iterator, List, Optional, Tuple

from spacy.tokens import Doc
from thinc.api import Model

from .architectures.sentiment_lstm import forward_from_inputs, lexicon_valences, logits_to_polarity
from .errors import Errors
from .pipeline_lookup import find_sentiment_component

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


def integrated_gradients(model: Model, docs: List[Doc], values, steps: int = 32, *, tolerance: float = 0.01,
                         max_steps: int = 512) -> List[Tuple[List[float], float, float]]:
    """Per doc: (token attributions, baseline polarity F(x'), polarity F(x)).
    ``values``: the class polarities (array) or None for a real-valued model.

    A confident model can cross a steep region of the path between two of the ``steps``
    points; docs whose completeness gap |Σ attributions − (F(x) − F(x'))| exceeds
    ``tolerance`` are recomputed with 4× the points, up to ``max_steps``."""
    if steps < 1:
        raise ValueError(Errors.E042.format(steps=steps))
    Xs = model.get_ref("tok2vec").predict(docs)
    valences = lexicon_valences(model, docs)
    results: List[Optional[Tuple[List[float], float, float]]] = [None] * len(docs)
    pending = list(range(len(docs)))
    with _inference_with_backprop(model):
        while pending:
            for b, result in zip(pending, _ig_pass(model, [Xs[b] for b in pending],
                                                   None if valences is None else [valences[b] for b in pending],
                                                   values, steps)):
                results[b] = result
            steps *= 4
            if steps > max_steps:
                break
            pending = [b for b in pending if abs(sum(results[b][0]) - (results[b][2] - results[b][1])) > tolerance]
    return results  # type: ignore[return-value]


def _ig_pass(model: Model, Xs: List, valences: Optional[List], values, steps: int
             ) -> List[Tuple[List[float], float, float]]:
    """One midpoint-rule pass over ``steps`` points (+ the baseline and the input itself)."""
    ops = model.ops
    xp = ops.xp
    results: List[Tuple[List[float], float, float]] = []
    alphas = [(j + 0.5) / steps for j in range(steps)] + [0.0, 1.0]
    n_points = len(alphas)
    for chunk in _chunks([X.shape[0] for X in Xs], n_points):
        Xi: List = []
        Vi: Optional[List] = [] if valences is not None else None
        for b in chunk:
            for a in alphas:
                Xi.append(Xs[b] * a)
                if Vi is not None:
                    Vi.append(valences[b] * a)
        logits, backprop = forward_from_inputs(model, Xi, Vi, True)
        polarity, _, bp_polarity = logits_to_polarity(ops, logits, values)
        d_pol = xp.ones_like(polarity)
        d_pol[steps::n_points] = 0.0  # baseline and input rows: forward only
        d_pol[steps + 1::n_points] = 0.0
        dXs, dV = backprop(bp_polarity(d_pol))
        for k, b in enumerate(chunk):
            rows = range(k * n_points, k * n_points + steps)
            grad_x = sum(dXs[r] for r in rows) / steps
            attr = (grad_x * Xs[b]).sum(axis=1)
            if dV is not None:
                attr = attr + (sum(dV[r] for r in rows) / steps) * valences[b]
            base = float(polarity[k * n_points + steps])
            score = float(polarity[k * n_points + steps + 1])
            results.append(([float(v) for v in ops.to_numpy(attr).tolist()], base, score))
    return results


def _chunks(lengths: List[int], n_points: int) -> Iterator[List[int]]:
    chunk: List[int] = []
    rows = 0
    for b, n in enumerate(lengths):
        if chunk and rows + n * n_points > ROWS_PER_CHUNK:
            yield chunk
            chunk, rows = [], 0
        chunk.append(b)
        rows += max(n, 1) * n_points
    if chunk:
        yield chunk


def explain_texts(nlp, texts: List[str], *, component: Optional[str] = None, steps: int = 32) -> List[Doc]:
    """Run the pipeline up to its sentiment component and annotate with token contributions
    (integrated gradients for a trained model, the lexicon's exact shares otherwise)."""
    name = find_sentiment_component(nlp, component)
    pipe = nlp.get_pipe(name)
    before = nlp.pipe_names[: nlp.pipe_names.index(name)]
    with nlp.select_pipes(enable=before):
        docs = list(nlp.pipe(texts))
    pipe.set_annotations(docs, pipe.explain(docs, steps=steps))
    return docs
