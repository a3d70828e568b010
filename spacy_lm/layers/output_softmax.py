"""`spacy_lm.OutputSoftmax.v1`: the vocabulary projection, optionally tied to an embedding.

At inference it returns logits, like Thinc's ``Softmax_v2(normalize_outputs=False)``;
the loss is :func:`spacy_lm.ops.softmax_cross_entropy` over integer targets, which never
builds a dense one-hot matrix (Thinc's ``CategoricalCrossentropy`` does, and is 7x slower here).
``loss`` / ``score`` / ``nll`` / ``log_probs`` / ``grow`` in its attrs implement the output contract
(:mod:`spacy_lm.layers.output`). Grown, the new rows of ``W`` and ``b`` are the means of the
old ones, so a new class's logit is the mean of the old logits and those stay as they were.
"""
from typing import Any, Callable, Optional, Tuple

from thinc.api import Model, registry
from thinc.types import Floats1d, Floats2d, Ints1d

from ..errors import Errors
from .embedding import grow_rows, resize_dim
from ..ops import log_normalizer, log_softmax, softmax_cross_entropy


@registry.layers("spacy_lm.OutputSoftmax.v1")
def OutputSoftmax(
    nO: Optional[int] = None, nI: Optional[int] = None, tied_embedding: Optional[Model] = None
) -> Model[Floats2d, Floats2d]:
    """Logits over ``nO`` classes. With ``tied_embedding`` the weights are its table ``E``."""
    # The tied table is also a child layer: Thinc restores refs only within a node's own tree.
    tied = [tied_embedding] if tied_embedding is not None else []
    return Model(
        "output_softmax",
        forward,
        init=init,
        dims={"nO": nO, "nI": nI},
        layers=tied,
        refs={"embedding": tied_embedding} if tied else {},
        attrs={"tied": tied_embedding is not None, "loss": loss, "score": score, "nll": nll,
               "log_probs": log_probs, "grow": grow},
    )


def _weights(model: Model) -> Tuple[Model, str]:
    if model.attrs["tied"]:
        return model.get_ref("embedding"), "E"
    return model, "W"


def init(model: Model, X=None, Y=None) -> None:
    nO = model.get_dim("nO")
    nI = model.get_dim("nI")
    if model.attrs["tied"]:
        embedding = model.get_ref("embedding")
        if embedding.get_dim("nO") != nI or embedding.get_dim("nV") != nO:
            raise ValueError(Errors.E101.format(nO=nO, nI=nI, nV=embedding.get_dim("nV"),
                                                width=embedding.get_dim("nO")))
    else:
        values = model.ops.xp.random.uniform(-0.1, 0.1, (nO, nI)).astype("float32")
        model.set_param("W", model.ops.asarray(values))
    model.set_param("b", model.ops.alloc1f(nO))


def forward(model: Model, X: Floats2d, is_train: bool) -> Tuple[Floats2d, Callable]:
    owner, name = _weights(model)
    W = owner.get_param(name)
    xp = model.ops.xp
    logits = xp.matmul(X, W.T)
    logits += model.get_param("b")

    def backprop(d_logits: Floats2d) -> Floats2d:
        owner.inc_grad(name, xp.matmul(d_logits.T, X))
        model.inc_grad("b", d_logits.sum(axis=0))
        return xp.matmul(d_logits, W)

    return logits, backprop


# ---------------------------------------------------------------- the output contract
def loss(model: Model, hidden: Floats2d, targets: Ints1d, grad_scale: float) -> Tuple[Floats1d, Floats2d]:
    """Fused softmax cross-entropy; the logits buffer is reused for their gradient."""
    logits, bp_output = model(hidden, True)
    nll, d_logits = softmax_cross_entropy(model.ops, logits, targets, grad_scale=grad_scale, overwrite=True)
    return nll, bp_output(d_logits)


def score(model: Model, hidden: Floats2d, targets: Ints1d, rows: int) -> Tuple[Floats1d, Any]:
    """NLL and top-1 hits, ``rows`` rows of logits at a time (bounded memory on long docs)."""
    xp = model.ops.xp
    nll = xp.empty((hidden.shape[0],), dtype="float32")
    correct = xp.empty((hidden.shape[0],), dtype="bool")
    for start in range(0, hidden.shape[0], rows):
        chunk = slice(start, start + rows)
        logits, _ = model(hidden[chunk], False)
        correct[chunk] = logits.argmax(axis=1) == targets[chunk]
        nll[chunk], _ = softmax_cross_entropy(model.ops, logits, targets[chunk], overwrite=True)
    return nll, correct


def nll(model: Model, hidden: Floats2d, targets: Ints1d, rows: int) -> Floats1d:
    """``score``'s NLL alone, ``rows`` rows at a time, in two passes over the scores instead of
    six. The matmul gives each row's logits minus its target's logit at once (the bias and the
    row's ``-logit[target]`` ride in two extra columns; so the rows of ``W.T`` are contiguous,
    which the matmul, most of the time, likes), then NLL = ``log(sum(exp))``. The target's own
    term is exp(0) = 1, so the sum cannot underflow; a row whose sum overflows (a word more than
    88 nats above the target) is scored again by ``score``, shifted by its max."""
    xp = model.ops.xp
    owner, name = _weights(model)
    W = owner.get_param(name)
    b = model.get_param("b")
    nI = W.shape[1]
    W_aug = xp.empty((nI + 2, W.shape[0]), dtype=W.dtype)  # W.T; the bias; ones (times -logit[target])
    W_aug[:nI] = W.T
    W_aug[nI] = b
    W_aug[nI + 1] = 1
    out = xp.empty((hidden.shape[0],), dtype="float32")
    for start in range(0, hidden.shape[0], rows):
        chunk = slice(start, start + rows)
        X, target = hidden[chunk], targets[chunk]
        X_aug = xp.empty((X.shape[0], nI + 2), dtype=W_aug.dtype)
        X_aug[:, :nI] = X
        X_aug[:, nI] = 1
        X_aug[:, nI + 1] = -((X * W[target]).sum(axis=1) + b[target])
        out[chunk] = log_normalizer(model.ops, xp.matmul(X_aug, W_aug), overwrite=True)
    overflow = xp.nonzero(xp.isinf(out))[0]
    if overflow.size:
        out[overflow] = score(model, hidden[overflow], targets[overflow], rows)[0]
    return out


def log_probs(model: Model, hidden: Floats2d) -> Floats2d:
    logits, _ = model(hidden, False)
    return log_softmax(model.ops, logits, inplace=True)


def grow(model: Model, nO: int) -> None:
    """``nO`` classes: ``W`` (untied) and ``b`` grown with mean rows; a tied table must have
    been grown to ``nO`` rows by its owner (E101 otherwise)."""
    if model.attrs["tied"]:
        embedding = model.get_ref("embedding")
        if embedding.get_dim("nV") != nO:
            raise ValueError(Errors.E101.format(nO=nO, nI=model.get_dim("nI"), nV=embedding.get_dim("nV"),
                                                width=embedding.get_dim("nO")))
    else:
        grow_rows(model, "W", nO)
    grow_rows(model, "b", nO)
    resize_dim(model, "nO", nO)
