"""HuggingFace's sampling warpers (temperature, top-k, top-p, min-p, typical-p), on ``ops.xp``
arrays so NumPy and CuPy run the same code."""
import math

from ..ops import log_softmax, softmax
from .config import GenerationConfig

NEG_INF = -math.inf


def warp(ops, scores, config: GenerationConfig):
    """Sampling warpers in HF's order; each keeps at least the best token of a row."""
    xp = ops.xp
    filtering = config.top_k or config.top_p < 1.0 or config.min_p > 0.0 or config.typical_p < 1.0
    if config.temperature == 1.0 and not filtering:
        return scores
    scores = scores / config.temperature  # a new array, so the warpers below may write to it
    if config.top_k:
        _top_k(xp, scores, config.top_k)
    if config.top_p < 1.0:
        _top_p(ops, scores, config.top_p)
    if config.min_p > 0.0:
        _min_p(xp, scores, config.min_p)
    if config.typical_p < 1.0:
        _typical_p(ops, scores, config.typical_p)
    return scores


def _top_k(xp, scores, k: int) -> None:
    """Keep the k best tokens (and any tied with the k-th, as HF)."""
    n_vocab = scores.shape[1]
    if k >= n_vocab:
        return
    kth = xp.partition(scores, n_vocab - k, axis=1)[:, n_vocab - k:n_vocab - k + 1]
    scores[scores < kth] = NEG_INF


def _top_p(ops, scores, top_p: float) -> None:
    """Drop the least likely tokens whose total probability stays within 1 - top_p (HF)."""
    xp = ops.xp
    ascending = xp.sort(scores, axis=1)
    cdf = xp.cumsum(softmax(ops, ascending), axis=1)
    n_dropped = xp.minimum((cdf <= 1.0 - top_p).sum(axis=1), scores.shape[1] - 1)
    threshold = ascending[xp.arange(scores.shape[0]), n_dropped][:, None]
    scores[scores < threshold] = NEG_INF


def _min_p(xp, scores, min_p: float) -> None:
    """Drop tokens less likely than min_p times the best one (compared in log space)."""
    threshold = scores.max(axis=1, keepdims=True) + math.log(min_p)
    scores[scores < threshold] = NEG_INF


def _typical_p(ops, scores, mass: float) -> None:
    """Keep the tokens whose surprisal is closest to the entropy, up to ``mass`` (HF's typical)."""
    xp = ops.xp
    log_p = log_softmax(ops, scores)
    p = xp.exp(log_p)
    entropy = -(xp.where(p > 0, log_p, 0.0) * p).sum(axis=1, keepdims=True)
    shifted = xp.abs(-log_p - entropy)
    order = xp.argsort(shifted, axis=1)
    sorted_shifted = xp.take_along_axis(shifted, order, axis=1)
    cdf = xp.cumsum(xp.take_along_axis(p, order, axis=1), axis=1)
    last = xp.minimum((cdf < mass).sum(axis=1), scores.shape[1] - 1)
    threshold = sorted_shifted[xp.arange(scores.shape[0]), last][:, None]
    scores[shifted > threshold] = NEG_INF
