"""`spacy_lm.GlobalAttention.v1`: attention of a decoder state over a source memory.

Scores (Luong et al. 2015's names; "bahdanau" is Bahdanau et al. 2015's additive score)::

    dot:      e_s = q · m_s                       (needs nQ == nM)
    general:  e_s = q · (W_a m_s)
    bahdanau: e_s = v · tanh(W_q q + W_k m_s)

then ``a = softmax(e + mask)`` over the source positions and the context ``c = Σ_s a_s m_s``.
The part that depends on the memory alone (``W_a m``, ``W_k m``: the keys) is computed once
per batch by :func:`keys`; the layer's forward is one decoder step. Batch-major arrays:
memory ``M`` (B, S, nM), keys ``K`` (B, S, nQ or nA), query ``q`` (B, nQ); ``mask`` (B, S)
is 0 at real source positions and -inf at padding (every row has at least one real position).

Forward: ``(q, K, M, mask)`` → ``(c (B, nM), a (B, S))``. Backprop takes ``dc`` and returns
``(dq, dK, dM)``; parameter gradients of the score are accumulated (those of the keys' own
projection in :func:`keys`' backprop).
"""
from typing import Callable, Optional, Tuple

from thinc.api import Model, registry
from thinc.types import Floats2d, Floats3d

from ..errors import Errors
from .recurrent import one_blas_thread, step_matmul

KINDS = ("dot", "general", "bahdanau")


@registry.layers("spacy_lm.GlobalAttention.v1")
def GlobalAttention(kind: str = "general", nQ: Optional[int] = None, nM: Optional[int] = None,
                    nA: Optional[int] = None) -> Model:
    """``nQ``: query (decoder) width; ``nM``: memory (encoder output) width; ``nA``: the
    additive score's hidden size (bahdanau only; default nQ)."""
    if kind not in KINDS:
        raise ValueError(Errors.E009.format(setting="attention", requirement=f"one of {KINDS}", value=kind))
    if kind == "dot" and nQ is not None and nM is not None and nQ != nM:
        raise ValueError(Errors.E130.format(nQ=nQ, nM=nM))
    return Model(f"attention_{kind}", forward, init=init, dims={"nQ": nQ, "nM": nM, "nA": nA or nQ},
                 attrs={"kind": kind})


def init(model: Model, X=None, Y=None) -> None:
    kind = model.attrs["kind"]
    nQ, nM = model.get_dim("nQ"), model.get_dim("nM")
    xp = model.ops.xp

    def uniform(shape, fan_in):
        scale = 1.0 / fan_in**0.5
        return model.ops.asarray(xp.random.uniform(-scale, scale, shape).astype("float32"))

    if kind == "general":
        model.set_param("Wa", uniform((nQ, nM), nM))
    elif kind == "bahdanau":
        nA = model.get_dim("nA")
        model.set_param("Wk", uniform((nA, nM), nM))
        model.set_param("Wq", uniform((nA, nQ), nQ))
        model.set_param("v", uniform((nA,), nA))


def keys(model: Model, M: Floats3d) -> Tuple[Floats3d, Callable[[Floats3d], Floats3d]]:
    """The keys of memory ``M`` (B, S, nM) and their backprop (dK → dM; parameter gradients
    accumulated)."""
    kind = model.attrs["kind"]
    if kind == "dot":
        return M, lambda dK: dK
    W = model.get_param("Wa" if kind == "general" else "Wk")
    name = "Wa" if kind == "general" else "Wk"
    B, S, nM = M.shape
    M2d = M.reshape(B * S, nM)
    K = (M2d @ W.T).reshape(B, S, W.shape[0])

    def backprop(dK: Floats3d) -> Floats3d:
        dK2d = dK.reshape(B * S, W.shape[0])
        model.inc_grad(name, dK2d.T @ M2d)
        return (dK2d @ W).reshape(B, S, nM)

    return K, backprop


def forward(model: Model, inputs, is_train: bool):
    q, K, M, mask = inputs
    xp = model.ops.xp
    kind = model.attrs["kind"]
    if kind == "bahdanau":
        Wq, v = model.get_param("Wq"), model.get_param("v")
        hidden = xp.tanh(K + step_matmul(model.ops, q, Wq, trans_b=True)[:, None, :])  # (B, S, nA)
        scores = hidden @ v
    else:
        hidden = None
        scores = xp.matmul(K, q[:, :, None])[:, :, 0]
    scores = scores + mask
    scores -= scores.max(axis=1, keepdims=True)
    a = xp.exp(scores)
    a /= a.sum(axis=1, keepdims=True)
    c = xp.matmul(a[:, None, :], M)[:, 0, :]

    def backprop(dc: Floats2d) -> Tuple[Floats2d, Floats3d, Floats3d]:
        da = xp.matmul(M, dc[:, :, None])[:, :, 0]
        dM = a[:, :, None] * dc[:, None, :]
        de = a * (da - (a * da).sum(axis=1, keepdims=True))
        if hidden is None:
            dq = xp.matmul(de[:, None, :], K)[:, 0, :]
            dK = de[:, :, None] * q[:, None, :]
            return dq, dK, dM
        model.inc_grad("v", xp.einsum("bs,bsa->a", de, hidden))
        dK = de[:, :, None] * v * (1.0 - hidden**2)
        dqa = dK.sum(axis=1)
        model.inc_grad("Wq", dqa.T @ q)
        with one_blas_thread(model.ops):  # a small per-step product, as Thinc's BLIS gemm ran it before
            dq = step_matmul(model.ops, dqa, Wq)
        return dq, dK, dM

    return (c, a), backprop


def source_mask(ops, lengths, S: int, dtype="float32") -> Floats2d:
    """(B, S): 0 where ``s < lengths[b]``, -inf elsewhere."""
    xp = ops.xp
    lengths = xp.asarray(lengths).reshape(-1, 1)
    return xp.where(xp.arange(S).reshape(1, S) < lengths, 0.0, -xp.inf).astype(dtype)
