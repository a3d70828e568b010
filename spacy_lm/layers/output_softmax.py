"""`spacy_lm.OutputSoftmax.v1`: the vocabulary projection, optionally tied to an embedding.

At inference it returns logits, like Thinc's ``Softmax_v2(normalize_outputs=False)``;
the loss is :func:`softmax_cross_entropy` over integer targets, which never builds a
dense one-hot matrix (Thinc's ``CategoricalCrossentropy`` does, and is 7x slower here).
"""
from typing import Callable, Optional, Tuple

from thinc.api import Model, Ops, registry
from thinc.types import Floats1d, Floats2d, Ints1d


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
        attrs={"tied": tied_embedding is not None},
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
            raise ValueError(
                f"Cannot tie output weights ({nO} x {nI}) to an embedding table "
                f"({embedding.get_dim('nV')} x {embedding.get_dim('nO')}): sizes differ"
            )
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


def log_softmax(ops: Ops, logits: Floats2d, *, inplace: bool = False) -> Floats2d:
    """Row-wise log-probabilities; with ``inplace`` the logits buffer is overwritten
    (one (rows x vocab) allocation less per decoding step)."""
    xp = ops.xp
    out = logits if inplace else logits.copy()
    out -= out.max(axis=-1, keepdims=True)
    out -= xp.log(xp.exp(out).sum(axis=-1, keepdims=True))
    return out


def softmax_cross_entropy(
    ops: Ops, logits: Floats2d, targets: Ints1d, weights: Optional[Floats1d] = None,
    *, grad_scale: float = 1.0, overwrite: bool = False
) -> Tuple[Floats1d, Floats2d]:
    """Per-row negative log-likelihood (nats) of ``targets`` and its gradient w.r.t. ``logits``.

    The gradient is ``(softmax - onehot) * weights * grad_scale``; rows with weight 0
    (padding) get zero gradient. With ``overwrite`` the logits buffer is reused for the
    gradient, saving one (rows x vocab) allocation per step.
    """
    xp = ops.xp
    if targets.shape[0] != logits.shape[0]:
        raise ValueError(f"{targets.shape[0]} targets for {logits.shape[0]} rows of logits")
    rows = xp.arange(logits.shape[0])
    buf = logits if overwrite else logits.copy()
    buf -= buf.max(axis=1, keepdims=True)
    target_logit = buf[rows, targets]
    xp.exp(buf, out=buf)
    sums = buf.sum(axis=1)
    nll = xp.log(sums) - target_logit
    scale = grad_scale / sums
    if weights is not None:
        scale = scale * weights
        nll = nll * (weights > 0)
    buf *= scale.reshape(-1, 1).astype(buf.dtype)
    buf[rows, targets] -= grad_scale if weights is None else grad_scale * weights
    return nll, buf
