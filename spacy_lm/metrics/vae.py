"""The sentence-VAE evaluation maths, once, on host arrays (NumPy, float64), so `sentence_vae`'s
scorer and the benchmarks' PyTorch VAE report the same quantities the same way.

Conventions (all in nats, per sentence unless said otherwise; a sentence's tokens are its words
and one closing ``<eos>``, as the LM scorers count them):

* ``kl``: KL(q(z|x) || N(0, I)) of the diagonal-Gaussian posterior, analytic.
* ``iw_nll``: -log p(x) estimated by importance weighting with ``k`` posterior samples
  (Burda et al. 2016): ``-(logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k)``.
  An upper bound on the true NLL that tightens as ``k`` grows; the ELBO is the ``k = 1`` case.
* ``mutual_information``: I(x; z) under q, as He et al. 2019 (``calc_mi``): the negative
  posterior entropy minus the aggregate posterior's log density at one sample per sentence,
  q(z) estimated by the mixture of *all* given posteriors (He et al. use each batch).
* ``active_units``: dimensions whose ``Cov_x(E[z|x])`` exceeds 0.01 (Burda et al. 2016).

:func:`vae_scores` turns per-batch host arrays into the scorer's keys; drawing the samples with
a model is :mod:`spacy_lm.metrics.vae_estimates`'s.
"""
import math
from typing import Any, Dict, List, Optional

import numpy

LOG_2PI = math.log(2.0 * math.pi)
ACTIVE_THRESHOLD = 0.01
SCORE_KEYS = ("vae_elbo", "vae_rec_nll", "vae_kl", "vae_iw_nll", "vae_perplexity", "vae_score", "vae_mi",
              "vae_active_units")


def gaussian_kl(mean: numpy.ndarray, logvar: numpy.ndarray) -> numpy.ndarray:
    """KL(N(mean, exp(logvar)) || N(0, I)) per row, summed over dimensions: ``(N,)``."""
    mean = numpy.asarray(mean, dtype="float64")
    logvar = numpy.asarray(logvar, dtype="float64")
    return 0.5 * (mean**2 + numpy.exp(logvar) - 1.0 - logvar).sum(axis=-1)


def log_normal(z: numpy.ndarray, mean: numpy.ndarray, logvar: numpy.ndarray) -> numpy.ndarray:
    """log N(z; mean, exp(logvar)) summed over the last axis (shapes broadcast)."""
    z = numpy.asarray(z, dtype="float64")
    mean = numpy.asarray(mean, dtype="float64")
    logvar = numpy.asarray(logvar, dtype="float64")
    return -0.5 * (LOG_2PI + logvar + (z - mean) ** 2 / numpy.exp(logvar)).sum(axis=-1)


def log_standard_normal(z: numpy.ndarray) -> numpy.ndarray:
    z = numpy.asarray(z, dtype="float64")
    return -0.5 * (LOG_2PI + z**2).sum(axis=-1)


def logsumexp(values: numpy.ndarray, axis: int) -> numpy.ndarray:
    values = numpy.asarray(values, dtype="float64")
    top = values.max(axis=axis, keepdims=True)
    return (top + numpy.log(numpy.exp(values - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def iw_nll(log_px_given_z: numpy.ndarray, z: numpy.ndarray, mean: numpy.ndarray,
           logvar: numpy.ndarray) -> numpy.ndarray:
    """Importance-weighted NLL per sentence from ``k`` samples ``z`` ``(N, k, Z)`` of q(z|x) and
    the decoder's ``log p(x|z_i)`` ``(N, k)``: ``(N,)``."""
    log_px_given_z = numpy.asarray(log_px_given_z, dtype="float64")
    k = log_px_given_z.shape[1]
    log_w = (log_px_given_z + log_standard_normal(z)
             - log_normal(z, numpy.asarray(mean)[:, None, :], numpy.asarray(logvar)[:, None, :]))
    return -(logsumexp(log_w, axis=1) - math.log(k))


def mutual_information(mean: numpy.ndarray, logvar: numpy.ndarray, seed: int = 0,
                       chunk: int = 512) -> Optional[float]:
    """I(x; z) under the aggregate posterior of the given sentences (None for fewer than 2)."""
    mean = numpy.asarray(mean, dtype="float64")
    logvar = numpy.asarray(logvar, dtype="float64")
    N, Z = mean.shape
    if N < 2:
        return None
    neg_entropy = float((-0.5 * Z * LOG_2PI - 0.5 * (1.0 + logvar).sum(axis=1)).mean())
    rng = numpy.random.default_rng(seed)
    z = mean + numpy.exp(0.5 * logvar) * rng.standard_normal(mean.shape)
    log_qz = numpy.empty(N)
    for start in range(0, N, chunk):
        block = z[start : start + chunk, None, :]  # (n, 1, Z) against every posterior (1, N, Z)
        log_q = log_normal(block, mean[None], logvar[None])  # (n, N)
        log_qz[start : start + chunk] = logsumexp(log_q, axis=1) - math.log(N)
    return neg_entropy - float(log_qz.mean())


def active_units(mean: numpy.ndarray, threshold: float = ACTIVE_THRESHOLD) -> int:
    """How many latent dimensions vary with x: ``Var_x(E[z|x]) > threshold``."""
    mean = numpy.asarray(mean, dtype="float64")
    if mean.shape[0] < 2:
        return 0
    return int((mean.var(axis=0) > threshold).sum())


def vae_scores(means: List[numpy.ndarray], logvars: List[numpy.ndarray], iw: List[numpy.ndarray],
               rec: List[numpy.ndarray], n_tokens: int, seed: int = 0) -> Dict[str, Any]:
    """The scorer's keys from per-batch host arrays (see ``SentenceVAE.evaluate_docs``):
    posterior means and log-variances, IW-NLL and one-sample reconstruction NLL per sentence."""
    if not iw:
        empty: Dict[str, Any] = {key: None for key in SCORE_KEYS}
        return {**empty, "vae_n_sentences": 0, "vae_n_tokens": 0}
    mean = numpy.concatenate(means)
    logvar = numpy.concatenate(logvars)
    iw_all = numpy.concatenate(iw)
    rec_all = numpy.concatenate(rec)
    kl = gaussian_kl(mean, logvar)
    perplexity = math.exp(float(iw_all.sum()) / n_tokens)
    return {"vae_elbo": -float((rec_all + kl).mean()), "vae_rec_nll": float(rec_all.mean()),
            "vae_kl": float(kl.mean()), "vae_iw_nll": float(iw_all.mean()), "vae_perplexity": perplexity,
            "vae_score": 1.0 / perplexity, "vae_mi": mutual_information(mean, logvar, seed=seed),
            "vae_active_units": active_units(mean), "vae_n_sentences": int(len(iw_all)),
            "vae_n_tokens": int(n_tokens)}
