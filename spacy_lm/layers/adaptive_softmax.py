"""`spacy_lm.AdaptiveSoftmax.v1`: the adaptive softmax of Grave et al. (2017), as PyTorch's
``torch.nn.AdaptiveLogSoftmaxWithLoss``, for large vocabularies.

Ids are frequency-sorted (the LM vocabulary: special tokens, then words by descending count),
so ``cutoffs`` are id boundaries: the head scores the ``cutoffs[0]`` most frequent words plus
one token per tail cluster; cluster ``i`` (ids ``[cutoffs[i], cutoffs[i + 1])``, the last
ending at ``nO``) is scored through a projection to ``nI // div_value ** (i + 1)`` dims (at
least 1). The clusters follow the vocabulary found at initialization (``nO`` is known only
then): cutoffs at or above ``nO`` are dropped, so one config serves any corpus (WikiText-2's
33k words keep ``[2000, 10000]``, a 5k vocabulary keeps ``[2000]`` and a vocabulary of at most
2,000 ids has no cluster: the head is then a full softmax over ``nO``). ``attrs["cutoffs"]``
holds the cutoffs in use (set by init, saved with the weights), ``attrs["given_cutoffs"]`` the
setting. ``log p(w) = log p_head(cluster of w) + log p_cluster(w)``. Weights have PyTorch's
layouts: ``W`` (head, ``(cutoffs[0] + n_clusters, nI)``) or, tied, ``C`` (the cluster rows
only, the word rows being the embedding's ``E[:cutoffs[0]]``); ``b`` (head bias, if asked);
``P{i}`` ``(proj_i, nI)`` and ``T{i}`` ``(size_i, proj_i)`` per cluster, without bias.

Called as a Thinc model, it returns the full normalised log-probabilities ``(rows, nO)``
(their ``log_softmax`` is themselves, so it is a drop-in for the logits of
`spacy_lm.OutputSoftmax.v1`), with a backprop. Training should use ``loss`` (the output
contract, :mod:`spacy_lm.layers.output`): it scores each tail only on the rows whose target is
in it and never builds a ``(rows, nO)`` array; that is where the speed comes from.

Grown (``grow``, ULMFiT's vocabulary growth), the new ids are the least frequent: they join the
last cluster, whose ``T`` gains rows (the mean of its rows); the head, the other clusters and
the cutoffs are untouched, so the head's log-probabilities (one per word of the head, one per
cluster) stay exactly as they were, and only the words of the last cluster share their
cluster's probability with the new ones. Without clusters the head is a full softmax over
``nO`` and grows as `spacy_lm.OutputSoftmax.v1` does (``W``, ``b`` or the tied table).
"""
import logging
import math
from typing import Any, Callable, List, Optional, Sequence, Tuple

from thinc.api import Model, registry
from thinc.types import Floats1d, Floats2d, Ints1d

from ..errors import Errors
from ..ops import log_normalizer, log_softmax, log_softmax_backward, softmax_cross_entropy
from .embedding import grow_rows, resize_dim

logger = logging.getLogger("spacy")


@registry.layers("spacy_lm.AdaptiveSoftmax.v1")
def AdaptiveSoftmax(
    nO: Optional[int] = None, nI: Optional[int] = None, *, cutoffs: Sequence[int], div_value: float = 4.0,
    head_bias: bool = False, tied_embedding: Optional[Model] = None,
) -> Model[Floats2d, Floats2d]:
    """Log-probabilities over ``nO`` classes; with ``tied_embedding`` the head's word rows
    are the first ``cutoffs[0]`` rows of its table ``E``. The parameters are created in
    ``init``, once the cutoffs in use are known."""
    cutoffs = check_cutoffs(cutoffs)
    if div_value <= 0:
        raise ValueError(Errors.E009.format(setting="div_value", requirement="positive", value=div_value))
    tied = tied_embedding is not None
    # The tied table is also a child layer: Thinc restores refs only within a node's own tree.
    return Model(
        "adaptive_softmax",
        forward,
        init=init,
        dims={"nO": nO, "nI": nI},
        layers=[tied_embedding] if tied else [],
        refs={"embedding": tied_embedding} if tied else {},
        # "cutoffs" (those in use) is set by init, as the parameters: a saved model restores it
        attrs={"given_cutoffs": cutoffs, "div_value": float(div_value),
               "head_bias": bool(head_bias), "tied": tied, "loss": loss, "score": score, "nll": nll,
               "log_probs": log_probs, "grow": grow},
    )


def check_cutoffs(cutoffs: Sequence[int]) -> List[int]:
    """Strictly increasing ints >= 1 (E260); those >= ``nO`` are dropped by ``resolve_cutoffs``."""
    values = list(cutoffs)
    ok = bool(values) and all(isinstance(c, int) and not isinstance(c, bool) for c in values)
    ok = ok and values[0] >= 1 and all(a < b for a, b in zip(values, values[1:]))
    if not ok:
        raise ValueError(Errors.E260.format(cutoffs=values))
    return values


def resolve_cutoffs(cutoffs: Sequence[int], nO: Optional[int]) -> List[int]:
    """The cutoffs that start a non-empty cluster of an ``nO``-class vocabulary (all while
    ``nO`` is unknown); none left means a full softmax in the head."""
    return [int(c) for c in cutoffs if nO is None or c < nO]


def projection_size(nI: int, div_value: float, cluster: int) -> int:
    return max(1, int(nI // div_value ** (cluster + 1)))


def _bounds(model: Model) -> List[int]:
    """Cluster boundaries: the head ends at ``bounds[0]``, cluster ``i`` spans ``bounds[i:i + 2]``."""
    return model.attrs["cutoffs"] + [model.get_dim("nO")]


def init(model: Model, X=None, Y=None) -> None:
    nO, nI = model.get_dim("nO"), model.get_dim("nI")
    cutoffs = resolve_cutoffs(model.attrs["given_cutoffs"], nO)
    if cutoffs != model.attrs["given_cutoffs"]:
        logger.info("AdaptiveSoftmax: cutoffs %s resolved to %s for a vocabulary of %d", model.attrs["given_cutoffs"],
                    cutoffs, nO)
    model.attrs["cutoffs"] = cutoffs
    bounds = [*cutoffs, nO]
    n_clusters = len(cutoffs)
    xp = model.ops.xp

    def uniform(shape: Tuple[int, int], fan_in: int):  # nn.Linear's default initialisation
        bound = fan_in ** -0.5
        return model.ops.asarray(xp.random.uniform(-bound, bound, shape).astype("float32"))

    if model.attrs["tied"]:
        embedding = model.get_ref("embedding")
        if embedding.get_dim("nO") != nI or embedding.get_dim("nV") != nO:
            raise ValueError(Errors.E104.format(c0=bounds[0], nI=nI, nO=nO, nV=embedding.get_dim("nV"),
                                                width=embedding.get_dim("nO")))
        if n_clusters:  # without clusters the head is the embedding table itself
            model.set_param("C", uniform((n_clusters, nI), nI))
    else:
        model.set_param("W", uniform((bounds[0] + n_clusters, nI), nI))
    if model.attrs["head_bias"]:
        model.set_param("b", uniform((bounds[0] + n_clusters, 1), nI).reshape(-1))
    for i in range(n_clusters):
        proj = projection_size(nI, model.attrs["div_value"], i)
        model.set_param(f"P{i}", uniform((proj, nI), nI))
        model.set_param(f"T{i}", uniform((bounds[i + 1] - bounds[i], proj), proj))


def grow(model: Model, nO: int) -> None:
    """``nO`` classes, the new ids in the last cluster (its ``T`` grown with mean rows); with
    no cluster, the head's word rows (``W`` or, tied, the table its owner has grown: E104
    otherwise) and its bias."""
    n_new = nO - model.get_dim("nO")
    if n_new <= 0:
        return
    cutoffs = model.attrs["cutoffs"]
    if cutoffs:
        last = f"T{len(cutoffs) - 1}"
        grow_rows(model, last, model.get_param(last).shape[0] + n_new)
    else:
        if model.attrs["tied"]:
            embedding = model.get_ref("embedding")
            if embedding.get_dim("nV") != nO:
                raise ValueError(Errors.E104.format(c0=nO, nI=model.get_dim("nI"), nO=nO,
                                                    nV=embedding.get_dim("nV"), width=embedding.get_dim("nO")))
        else:
            grow_rows(model, "W", nO)
        if model.attrs["head_bias"]:
            grow_rows(model, "b", nO)
    resize_dim(model, "nO", nO)


# ---------------------------------------------------------------- head and tails
def _head_weight(model: Model) -> Floats2d:
    if model.attrs["tied"]:
        E = model.get_ref("embedding").get_param("E")
        if not model.attrs["cutoffs"]:
            return E
        return model.ops.xp.concatenate((E[: model.attrs["cutoffs"][0]], model.get_param("C")))
    return model.get_param("W")


def _head_logits(model: Model, X: Floats2d) -> Tuple[Floats2d, Floats2d]:
    W = _head_weight(model)
    H = model.ops.xp.matmul(X, W.T)
    if model.attrs["head_bias"]:
        H += model.get_param("b")
    return H, W


def _head_backward(model: Model, X: Floats2d, dH: Floats2d, W: Floats2d) -> Floats2d:
    """Accumulate the head's gradients; return d(X) (a fresh array)."""
    xp = model.ops.xp
    dW = xp.matmul(dH.T, X)
    if model.attrs["tied"]:
        c0 = _bounds(model)[0]
        _inc_rows_grad(model.get_ref("embedding"), "E", c0, dW[:c0])
        if model.attrs["cutoffs"]:
            model.inc_grad("C", dW[c0:])
    else:
        model.inc_grad("W", dW)
    if model.attrs["head_bias"]:
        model.inc_grad("b", dH.sum(axis=0))
    return xp.matmul(dH, W)


def _inc_rows_grad(owner: Model, name: str, n_rows: int, value: Floats2d) -> None:
    """Add ``value`` to the first rows of a parameter's gradient, without a dense temporary
    the size of the whole table once the gradient exists (the tied embedding's)."""
    if owner.has_grad(name):
        owner.get_grad(name)[:n_rows] += value
    else:
        grad = owner.ops.xp.zeros(owner.get_param(name).shape, dtype=value.dtype)
        grad[:n_rows] = value
        owner.set_grad(name, grad)


def _tail_logits(model: Model, i: int, X: Floats2d) -> Tuple[Floats2d, Floats2d]:
    """Cluster ``i``'s projection of ``X`` and its logits."""
    xp = model.ops.xp
    projected = xp.matmul(X, model.get_param(f"P{i}").T)
    return projected, xp.matmul(projected, model.get_param(f"T{i}").T)


def _tail_backward(model: Model, i: int, X: Floats2d, projected: Floats2d, d_logits: Floats2d) -> Floats2d:
    xp = model.ops.xp
    T = model.get_param(f"T{i}")
    model.inc_grad(f"T{i}", xp.matmul(d_logits.T, projected))
    d_projected = xp.matmul(d_logits, T)
    model.inc_grad(f"P{i}", xp.matmul(d_projected.T, X))
    return xp.matmul(d_projected, model.get_param(f"P{i}"))


def _clusters(model: Model, targets: Ints1d) -> Tuple[Any, Ints1d]:
    """Per target: its cluster (-1 for head words) and its id in the head's output."""
    xp = model.ops.xp
    bounds = _bounds(model)
    cluster = xp.searchsorted(xp.asarray(bounds, dtype=targets.dtype), targets, side="right") - 1
    head_targets = xp.where(cluster < 0, targets, bounds[0] + cluster)
    return cluster, head_targets


def _rows_of(model: Model, mask) -> Optional[Ints1d]:
    """Indices where ``mask`` holds, or None (so absent clusters are skipped)."""
    rows = model.ops.xp.nonzero(mask)[0]
    return rows if rows.size else None


# ---------------------------------------------------------------- the output contract
def loss(model: Model, hidden: Floats2d, targets: Ints1d, grad_scale: float) -> Tuple[Floats1d, Floats2d]:
    """Head cross-entropy on every row, each tail's only on its own rows (absent clusters
    are skipped and get no gradient, as in PyTorch); NLL = head NLL + tail NLL."""
    xp = model.ops.xp
    targets = xp.asarray(targets)
    bounds = _bounds(model)
    cluster, head_targets = _clusters(model, targets)
    H, W = _head_logits(model, hidden)
    nll, dH = softmax_cross_entropy(model.ops, H, head_targets, grad_scale=grad_scale, overwrite=True)
    d_hidden = _head_backward(model, hidden, dH, W)
    for i in range(len(bounds) - 1):
        rows = _rows_of(model, cluster == i)
        if rows is None:
            continue
        X_i = hidden[rows]
        projected, logits = _tail_logits(model, i, X_i)
        nll_i, d_logits = softmax_cross_entropy(model.ops, logits, targets[rows] - bounds[i],
                                                grad_scale=grad_scale, overwrite=True)
        nll[rows] += nll_i
        d_hidden[rows] += _tail_backward(model, i, X_i, projected, d_logits)
    return nll, d_hidden


def score(model: Model, hidden: Floats2d, targets: Ints1d, rows: int) -> Tuple[Floats1d, Any]:
    """Exact NLL and top-1 hits of the full distribution, ``rows`` rows at a time."""
    xp = model.ops.xp
    targets = xp.asarray(targets)
    nll = xp.empty((hidden.shape[0],), dtype=hidden.dtype)
    correct = xp.empty((hidden.shape[0],), dtype="bool")
    for start in range(0, hidden.shape[0], rows):
        chunk = slice(start, start + rows)
        nll[chunk], correct[chunk] = _score_rows(model, hidden[chunk], targets[chunk])
    return nll, correct


def _score_rows(model: Model, hidden: Floats2d, targets: Ints1d) -> Tuple[Floats1d, Any]:
    """The full argmax without the full distribution. A word of cluster ``i`` scores at most
    ``log p(cluster i) + max - mean - log(size)`` (its tail's log-normaliser is at least
    ``mean + log(size)``), so a tail is exponentiated only on its targets' rows and on rows
    where that bound beats the best word so far (clusters in id order, so ties keep the lower
    id, as ``argmax`` does). Values are computed as ``log_probs`` computes them."""
    xp = model.ops.xp
    bounds = _bounds(model)
    c0 = bounds[0]
    cluster, head_targets = _clusters(model, targets)
    head_lp = log_softmax(model.ops, _head_logits(model, hidden)[0], inplace=True)
    index = xp.arange(hidden.shape[0])
    nll = -head_lp[index, head_targets]
    best = head_lp[:, :c0].argmax(axis=1)
    best_lp = head_lp[index, best]
    for i in range(len(bounds) - 1):
        rows = _rows_of(model, (cluster == i) | (head_lp[:, c0 + i] > best_lp))
        if rows is None:
            continue
        cluster_lp = head_lp[rows, c0 + i]
        logits = _tail_logits(model, i, hidden[rows])[1]
        top = logits.argmax(axis=1)
        logits -= logits[xp.arange(rows.shape[0]), top].reshape(-1, 1)  # shift by the row max
        own = cluster[rows] == i
        bound = cluster_lp - logits.mean(axis=1) - math.log(logits.shape[1])
        keep = _rows_of(model, own | (bound > best_lp[rows] - 1e-4))  # margin for rounding
        if keep is None:
            continue
        if keep.shape[0] < rows.shape[0]:
            rows, cluster_lp, top, own, logits = rows[keep], cluster_lp[keep], top[keep], own[keep], logits[keep]
        own_rows = xp.nonzero(own)[0]
        target_shifted = logits[own_rows, targets[rows[own_rows]] - bounds[i]]
        log_norm = log_normalizer(model.ops, logits, overwrite=True)
        nll[rows[own_rows]] = -((target_shifted - log_norm[own_rows]) + cluster_lp[own_rows])
        top_lp = (0 - log_norm) + cluster_lp
        better = top_lp > best_lp[rows]
        best[rows[better]] = bounds[i] + top[better]
        best_lp[rows[better]] = top_lp[better]
    return nll, best == targets


def nll(model: Model, hidden: Floats2d, targets: Ints1d, rows: int) -> Floats1d:
    """``score``'s NLL alone, ``rows`` rows at a time: the head on every row, each tail only on
    its own targets' rows (no argmax, so no tail is read for a row whose target is not in it)."""
    xp = model.ops.xp
    targets = xp.asarray(targets)
    out = xp.empty((hidden.shape[0],), dtype=hidden.dtype)
    for start in range(0, hidden.shape[0], rows):
        chunk = slice(start, start + rows)
        out[chunk] = _nll_rows(model, hidden[chunk], targets[chunk])
    return out


def _nll_rows(model: Model, hidden: Floats2d, targets: Ints1d) -> Floats1d:
    """``-(log p_head(head target) + log p_cluster(target))``, computed as ``_score_rows`` does."""
    xp = model.ops.xp
    bounds = _bounds(model)
    cluster, head_targets = _clusters(model, targets)
    head_lp = log_softmax(model.ops, _head_logits(model, hidden)[0], inplace=True)
    out = -head_lp[xp.arange(hidden.shape[0]), head_targets]
    for i in range(len(bounds) - 1):
        rows = _rows_of(model, cluster == i)
        if rows is None:
            continue
        logits = _tail_logits(model, i, hidden[rows])[1]
        logits -= logits.max(axis=1, keepdims=True)
        target_shifted = logits[xp.arange(rows.shape[0]), targets[rows] - bounds[i]]
        out[rows] -= target_shifted - log_normalizer(model.ops, logits, overwrite=True)
    return out


def log_probs(model: Model, hidden: Floats2d) -> Floats2d:
    return forward(model, hidden, False)[0]


def forward(model: Model, X: Floats2d, is_train: bool) -> Tuple[Floats2d, Callable]:
    """Full log-probabilities: the head's for its words, ``log p(cluster) + log p(word | cluster)``
    for the others."""
    xp = model.ops.xp
    bounds = _bounds(model)
    c0 = bounds[0]
    H, W = _head_logits(model, X)
    head_lp = log_softmax(model.ops, H, inplace=True)
    out = xp.empty((X.shape[0], bounds[-1]), dtype=head_lp.dtype)
    out[:, :c0] = head_lp[:, :c0]
    tails = []
    for i in range(len(bounds) - 1):
        projected, logits = _tail_logits(model, i, X)
        tail_lp = log_softmax(model.ops, logits, inplace=True)
        out[:, bounds[i] : bounds[i + 1]] = tail_lp + head_lp[:, c0 + i].reshape(-1, 1)
        tails.append((projected, tail_lp))

    def backprop(d_out: Floats2d) -> Floats2d:
        d_head_lp = xp.empty(head_lp.shape, dtype=d_out.dtype)
        d_head_lp[:, :c0] = d_out[:, :c0]
        dX = None
        for i, (projected, tail_lp) in enumerate(tails):
            d_tail = d_out[:, bounds[i] : bounds[i + 1]]
            d_head_lp[:, c0 + i] = d_tail.sum(axis=1)
            d_logits = log_softmax_backward(model.ops, tail_lp, d_tail)
            dX_i = _tail_backward(model, i, X, projected, d_logits)
            dX = dX_i if dX is None else dX + dX_i
        d_head = _head_backward(model, X, log_softmax_backward(model.ops, head_lp, d_head_lp), W)
        return d_head if dX is None else dX + d_head

    return out, backprop
