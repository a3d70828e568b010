"""The attention maths of the span reader (DrQA, Chen et al. 2017), written on ``ops.xp`` so
NumPy and CuPy run it alike; each function returns its output and a backprop closure.

* :func:`masked_softmax`: softmax along an axis with padded positions at probability 0.
* :func:`aligned_attention`: the *aligned question embedding* of each context token: a softmax,
  over the question's tokens, of the dot products of the (ReLU-projected) embeddings, applied to
  the question's embeddings. It lets the reader see soft matches ("car" ~ "vehicle") that the
  exact-match features miss.
* :func:`self_attentive_pool`: the question vector: a learned score per question state, softmax
  over the real tokens, weighted sum.
"""
from typing import Callable, Tuple

from thinc.api import Ops
from thinc.types import Floats1d, Floats2d, Floats3d

MASKED = -1e9  # a finite "minus infinity": exp underflows to 0 and no NaN comes of inf - inf


def masked_softmax(ops: Ops, scores, mask, axis: int = -1):
    """Softmax of ``scores`` along ``axis``; where ``mask`` is 0 the probability is 0. ``mask``
    broadcasts against ``scores`` (1.0 real, 0.0 padding); rows with no real entry give zeros."""
    xp = ops.xp
    shifted = xp.where(mask > 0, scores, MASKED)
    shifted = shifted - shifted.max(axis=axis, keepdims=True)
    probs = xp.exp(shifted) * (mask > 0)
    total = probs.sum(axis=axis, keepdims=True)
    return probs / xp.maximum(total, 1e-30)


def softmax_backward(probs, d_probs, axis: int = -1):
    """Gradient of the scores from that of a softmax's output (zero at masked positions,
    whose probability is 0)."""
    return probs * (d_probs - (d_probs * probs).sum(axis=axis, keepdims=True))


def aligned_attention(ops: Ops, context_keys: Floats3d, question_keys: Floats3d, question_values: Floats3d,
                      question_mask: Floats2d) -> Tuple[Floats3d, Callable]:
    """Batch-major ``(B, Tc, k)`` / ``(B, Tq, k)`` keys and ``(B, Tq, nE)`` values → ``(B, Tc, nE)``.
    ``question_mask`` (B, Tq). Backprop returns d(context_keys), d(question_keys), d(values)."""
    xp = ops.xp
    scores = xp.matmul(context_keys, question_keys.transpose(0, 2, 1))  # (B, Tc, Tq)
    probs = masked_softmax(ops, scores, question_mask[:, None, :])
    aligned = xp.matmul(probs, question_values)

    def backprop(d_aligned: Floats3d):
        d_values = xp.matmul(probs.transpose(0, 2, 1), d_aligned)
        d_probs = xp.matmul(d_aligned, question_values.transpose(0, 2, 1))
        d_scores = softmax_backward(probs, d_probs)
        d_context = xp.matmul(d_scores, question_keys)
        d_question = xp.matmul(d_scores.transpose(0, 2, 1), context_keys)
        return d_context, d_question, d_values

    return aligned, backprop


def self_attentive_pool(ops: Ops, states: Floats3d, weights: Floats1d, mask: Floats2d
                        ) -> Tuple[Floats2d, Callable]:
    """Time-major ``states`` (T, B, H), ``weights`` (H,), ``mask`` (T, B) → ``(B, H)``.
    Backprop returns d(states) and d(weights)."""
    xp = ops.xp
    scores = xp.matmul(states, weights)  # (T, B)
    probs = masked_softmax(ops, scores, mask, axis=0)
    pooled = (probs[:, :, None] * states).sum(axis=0)

    def backprop(d_pooled: Floats2d):
        d_states = probs[:, :, None] * d_pooled[None, :, :]
        d_probs = (states * d_pooled[None, :, :]).sum(axis=-1)
        d_scores = softmax_backward(probs, d_probs, axis=0)
        d_states += d_scores[:, :, None] * weights[None, None, :]
        d_weights = (d_scores[:, :, None] * states).sum(axis=(0, 1))
        return d_states, d_weights

    return pooled, backprop
