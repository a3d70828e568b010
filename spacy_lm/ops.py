"""Softmax maths, written once: every layer, component and the decoder imports it from here.

All functions take a Thinc ``Ops`` (or work on its ``xp`` arrays), so NumPy and CuPy run
the same code. Rows are the last axis.
"""
from typing import Optional, Tuple

from thinc.api import Ops
from thinc.types import Floats1d, Floats2d, FloatsXd, Ints1d


def softmax(ops: Ops, scores: FloatsXd) -> FloatsXd:
    """Probabilities along the last axis (a fresh array)."""
    xp = ops.xp
    out = xp.exp(scores - scores.max(axis=-1, keepdims=True))
    out /= out.sum(axis=-1, keepdims=True)
    return out


def log_softmax(ops: Ops, logits: Floats2d, *, inplace: bool = False) -> Floats2d:
    """Row-wise log-probabilities; with ``inplace`` the logits buffer is overwritten
    (one (rows x vocab) allocation less per decoding step)."""
    out = logits if inplace else logits.copy()
    out -= out.max(axis=-1, keepdims=True)
    out -= log_normalizer(ops, out)[..., None]
    return out


def log_normalizer(ops: Ops, shifted: FloatsXd, *, overwrite: bool = False) -> FloatsXd:
    """``log(sum(exp(shifted)))`` along the last axis, for scores already shifted by their
    row max: what :func:`log_softmax` subtracts, so callers that need only some entries
    (a target, a maximum) get exactly its values. ``overwrite`` exponentiates in place."""
    xp = ops.xp
    exp = xp.exp(shifted, out=shifted) if overwrite else xp.exp(shifted)
    return xp.log(exp.sum(axis=-1))


def log_softmax_backward(ops: Ops, log_probs: Floats2d, d_log_probs: Floats2d) -> Floats2d:
    """Gradient w.r.t. the logits of ``log_softmax``, given its output and the gradient of
    that output: ``d - softmax * sum(d)`` (a fresh array)."""
    xp = ops.xp
    out = xp.exp(log_probs)
    out *= -d_log_probs.sum(axis=-1, keepdims=True)
    out += d_log_probs
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
