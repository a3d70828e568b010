"""Importance-weighted NLL of sentences under a sentence-VAE model (the `sentence_vae` scorer's
and ``doc._.vae_nll``'s estimate; the maths on host arrays is :mod:`spacy_lm.metrics.vae`).

A sentence's ``k`` posterior samples are drawn from its own seed (:func:`doc_seed`: its tokens),
so a doc's estimate depends neither on its batch nor on ``nlp.pipe`` versus ``nlp(...)``. The
decoder reads sentences × samples in chunks of at most ``EVAL_ROWS`` rows, bounding memory.
"""
import zlib
from typing import Sequence, Tuple

import numpy
from spacy.tokens import Doc
from thinc.types import Floats2d

from ..batching import SequenceBatch, Window, real_rows
from ..checks import require_finite
from ..text.vocab import lm_tokens
from ..types import LatentLMModel
from . import vae as vae_metrics

EVAL_ROWS = 2048  # decoder rows (sentences x samples) per batch when estimating the IW-NLL


def doc_seed(doc: Doc, seed: int = 0) -> int:
    """A doc's own random seed (its tokens and ``seed``): draws depend neither on the batch nor
    on the whitespace between the tokens."""
    tokens = " ".join(t.text for t in lm_tokens(doc))
    return zlib.crc32(tokens.encode("utf8")) ^ (seed * 2654435761 % 2**32)


def standard_normal_draws(docs: Sequence[Doc], order: Sequence[int], k: int, size: int, seed: int) -> numpy.ndarray:
    """Standard-normal draws ``(len(order), k, size)``, each doc's from its own seed."""
    return numpy.stack([numpy.random.default_rng(doc_seed(docs[i], seed)).standard_normal((k, size))
                        for i in order]).astype("float32")


def log_px_given_z(model: LatentLMModel, window: Window, z_rows: Floats2d) -> numpy.ndarray:
    """log p(x|z) of each sequence of the window given its row of ``z_rows``: host array."""
    ops = model.ops
    (hidden, _), _ = model.decode(window.ids, window.lengths, z_rows, False)
    nll, _ = model.score(real_rows(window, hidden), window.targets[window.real])
    per_row = numpy.bincount(window.real_host % window.k, weights=ops.to_numpy(nll).astype("float64"),
                             minlength=window.k)
    return -per_row


def iw_nll_batch(model: LatentLMModel, docs: Sequence[Doc], batch: SequenceBatch, window: Window, mean, logvar,
                 k: int, seed: int, *, name: str) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """IW-NLL (``k`` samples) and log p(x|z) of the first sample, per sequence of the batch
    (``window``: the whole batch; ``mean``, ``logvar``: its posterior). ``name``: the component,
    for E079 on a non-finite likelihood."""
    ops = model.ops
    size = model.get_dim("nZ")
    mean_h = ops.to_numpy(mean).astype("float64")
    logvar_h = ops.to_numpy(logvar).astype("float64")
    eps = standard_normal_draws(docs, batch.order, k, size, seed)
    z = mean_h[:, None, :] + numpy.exp(0.5 * logvar_h)[:, None, :] * eps  # (B, k, Z)
    per_chunk = max(1, EVAL_ROWS // k)
    log_px = numpy.empty((len(batch), k))
    for start in range(0, len(batch), per_chunk):
        end = min(len(batch), start + per_chunk)
        # row (j - start) * k + s: sentence j with its sample s
        repeated = window.columns(ops, numpy.repeat(numpy.arange(start, end), k))
        z_rows = ops.asarray(z[start:end].reshape(-1, size).astype("float32"))
        log_px[start:end] = log_px_given_z(model, repeated, z_rows).reshape(end - start, k)
    require_finite(numpy, log_px, name=name, what="sentence log-likelihoods")
    return vae_metrics.iw_nll(log_px, z, mean_h, logvar_h), log_px[:, 0]
