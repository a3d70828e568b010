"""`sentence_vae`: a variational autoencoder for sentences (Bowman et al. 2016) as a spaCy component.

Each doc is one sentence (`spacy_lm.SentenceCorpus.v1` cuts longer texts into sentence docs).
Its tokens are read as the LM components read them (:mod:`spacy_lm.batching`): the decoder
reads ``<eos>`` + tokens and predicts tokens + ``<eos>``; the encoder reads tokens + ``<eos>``.

Training (``update``) maximises the ELBO of each batch: the summed token NLL of the decoder
given z ~ q(z|x) (one sample, reparameterised) plus β·KL(q(z|x) || N(0, I)), averaged over the
batch's sentences. Against posterior collapse (KL → 0, the decoder ignoring z):

* ``kl_annealing``: β per update from a schedule (`spacy_lm.kl_logistic.v1`, ``kl_linear``,
  ``kl_cyclical``, or any Thinc schedule);
* ``word_dropout``: while training, each decoder input token but the first ``<eos>`` is
  replaced by ``<unk>`` with this probability (off at inference);
* ``free_bits``: a floor λ (nats) on each latent dimension's batch-mean KL (Kingma et al.
  2016): dimensions below it get no KL gradient;
* ``aggressive_steps``: He et al. 2019's aggressive encoder training, simplified: for the first
  ``aggressive_until`` updates, that many encoder-only steps on the batch before each joint step.

``losses[name]`` is the objective (rec + β·KL per sentence); ``losses[name + "_rec"]`` and
``losses[name + "_kl"]`` report its parts (the KL unweighted, without free bits).

Annotations: ``doc._.vae_mean``, ``doc._.vae_logvar`` (lists of floats), ``doc._.vae_nll`` (an
importance-weighted estimate of -log p(doc) in nats with ``nll_samples`` samples; None when 0)
and ``doc._.vae_vector`` (the mean as a NumPy array, for downstream components). Random draws
at inference are seeded per doc from its text, so ``nlp.pipe`` and ``nlp(...)`` agree.

Generation goes through the one decoder (:mod:`spacy_lm.decoding`): :meth:`decoder` gives a
:class:`spacy_lm.types.LanguageModel` whose state carries z, and :meth:`sample`,
:meth:`reconstruct` and :meth:`interpolate` are built on it (:mod:`.vae_generation`). The IW-NLL
estimate is :mod:`spacy_lm.metrics.vae_estimates`'s, its corpus scores :mod:`spacy_lm.metrics.vae`'s.
"""
import math
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..batching import PreparedDoc, SequenceBatch, Window, prepare_doc, window_loss
from ..checks import check_setting as _check, is_count as _is_count, require_finite
from ..errors import Errors
from ..extensions import install_vae_extensions, set_vae_annotations
from ..metrics.vae import vae_scores
from ..metrics.vae_estimates import iw_nll_batch
from ..text.vocab import lm_tokens
from ..types import LatentLMModel
from .recurrent_base import RecurrentPipe, check_recurrent_settings
from .vae_generation import VAEGenerationMixin

FORMAT_VERSION = 1
ENCODER_REFS = ("encoder", "to_mean", "to_logvar")

DEFAULT_SENTENCE_VAE_MODEL = """
[model]
@architectures = "spacy_lm.SentenceVAE.v1"
cell = "gru"
embed_size = 300
width = 256
latent_size = 16
depth = 1
bidirectional = false
condition = "init"
dropout = 0.5
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_SENTENCE_VAE_MODEL)["model"]
DEFAULT_KL = {"@schedules": "spacy_lm.kl_logistic.v1", "k": 0.0025, "x0": 2500}


@Language.factory(
    "sentence_vae",
    assigns=["doc._.vae_mean", "doc._.vae_logvar", "doc._.vae_nll"],
    default_config={
        "model": DEFAULT_MODEL,
        "attr": "ORTH",
        "min_freq": 1,
        "max_size": 50000,
        "max_length": 60,
        "word_dropout": 0.25,
        "free_bits": 0.0,
        "kl_annealing": DEFAULT_KL,
        "aggressive_steps": 0,
        "aggressive_until": 0,
        "nll_samples": 10,
        "grad_norm_clip": None,
        "scorer": {"@scorers": "spacy_lm.vae_scorer.v1", "iw_samples": 10},
    },
    default_score_weights={"vae_score": 1.0, "vae_iw_nll": None, "vae_elbo": None, "vae_kl": None,
                           "vae_rec_nll": None, "vae_perplexity": None, "vae_mi": None,
                           "vae_active_units": None},
)
def make_sentence_vae(nlp: Language, name: str, model: Model, attr: str, min_freq: int, max_size: Optional[int],
                      max_length: int, word_dropout: float, free_bits: float, kl_annealing: Iterator[float],
                      aggressive_steps: int, aggressive_until: int, nll_samples: int,
                      grad_norm_clip: Optional[float], scorer: Optional[Callable]) -> "SentenceVAE":
    """A sentence VAE writing each doc's posterior (mean, log-variance) and IW-NLL.

    max_length: training sentences are cut to this many tokens (their <eos> kept); inference
        reads them whole. kl_annealing: the β schedule (one value per update).
    """
    return SentenceVAE(nlp.vocab, model, name, attr=attr, min_freq=min_freq, max_size=max_size,
                       max_length=max_length, word_dropout=word_dropout, free_bits=free_bits,
                       kl_annealing=kl_annealing, aggressive_steps=aggressive_steps,
                       aggressive_until=aggressive_until, nll_samples=nll_samples,
                       grad_norm_clip=grad_norm_clip, scorer=scorer, tokenizer=nlp.tokenizer)


class SentenceVAE(VAEGenerationMixin, RecurrentPipe):
    format_version = FORMAT_VERSION
    contract = LatentLMModel
    # The saved vocabulary was built with these (config.cfg editing one: E035); training and
    # inference settings are the config's (see serialization.py).
    structural_settings = ("attr", "min_freq", "max_size")
    runtime_settings = ("max_length", "word_dropout", "free_bits", "aggressive_steps", "aggressive_until",
                        "nll_samples", "grad_norm_clip")

    def __init__(self, vocab: Vocab, model: Model, name: str = "sentence_vae", *, attr: str = "ORTH",
                 min_freq: int = 1, max_size: Optional[int] = 50000, max_length: int = 60,
                 word_dropout: float = 0.25, free_bits: float = 0.0, kl_annealing: Optional[Iterator[float]] = None,
                 aggressive_steps: int = 0, aggressive_until: int = 0, nll_samples: int = 10,
                 grad_norm_clip: Optional[float] = None, scorer: Optional[Callable] = None,
                 tokenizer: Optional[Callable[[str], Doc]] = None) -> None:
        check_recurrent_settings(attr, max_length, grad_norm_clip)
        _check(isinstance(word_dropout, (int, float)) and 0.0 <= word_dropout < 1.0, "word_dropout", "in [0, 1)",
               word_dropout)
        _check(isinstance(free_bits, (int, float)) and math.isfinite(free_bits) and free_bits >= 0, "free_bits",
               "a finite number >= 0 (nats per latent dimension)", free_bits)
        _check(_is_count(aggressive_steps, 0), "aggressive_steps", "an integer >= 0", aggressive_steps)
        _check(_is_count(aggressive_until, 0), "aggressive_until", "an integer >= 0", aggressive_until)
        _check(_is_count(nll_samples, 0), "nll_samples", "an integer >= 0 (0: no doc._.vae_nll)", nll_samples)
        super().__init__(vocab, model, name, scorer=scorer, tokenizer=tokenizer,
                         cfg={"attr": attr, "min_freq": min_freq, "max_size": max_size, "max_length": max_length,
                              "word_dropout": float(word_dropout), "free_bits": float(free_bits),
                              "aggressive_steps": aggressive_steps, "aggressive_until": aggressive_until,
                              "nll_samples": nll_samples, "grad_norm_clip": grad_norm_clip})
        install_vae_extensions()
        self.model: LatentLMModel = model
        self.kl_annealing = kl_annealing
        self.n_updates = 0

    @property
    def latent_size(self) -> int:
        return self.model.get_dim("nZ")

    # ------------------------------------------------------------------ batches
    def _prepare(self, doc: Doc, truncate: bool) -> Optional[PreparedDoc]:
        prepared = prepare_doc(self._require_initialized(), doc)
        return self._truncate(prepared) if truncate else prepared

    def _batch(self, docs: Sequence[Doc], truncate: bool = False) -> SequenceBatch:
        return SequenceBatch(self.model.ops, [self._prepare(d, truncate) for d in docs])

    @staticmethod
    def _window(batch: SequenceBatch) -> Window:
        """The whole batch as one window (a sentence is read at once)."""
        return next(batch.windows(len(batch.seqs[0][0])))

    def _posterior(self, window: Window, is_train: bool = False):
        """q(z|x) of the window's sequences: the encoder reads tokens + <eos> (the targets)."""
        return self.model.posterior(window.target_grid, window.lengths, is_train)

    # ------------------------------------------------------------------ encoding
    def encode(self, docs: Iterable[Union[str, Doc]], *, strict: bool = True) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Posterior mean and log-variance ``(len(docs), nZ)`` of each doc (host arrays).
        ``strict``: an empty doc or one whose every token is unknown is an error (E121/E122);
        otherwise an empty doc gets NaN rows."""
        docs = [self._as_doc(d) for d in docs]
        vocab = self._require_initialized()
        if strict:
            for i, doc in enumerate(docs):
                tokens = lm_tokens(doc)
                if not tokens:
                    raise ValueError(Errors.E121.format(name=self.name, i=i, text=doc.text[:60]))
                unk = vocab.string_of(vocab.unk_id)
                if all(i_ == vocab.unk_id for i_ in vocab.ids(tokens)) and all(t.text != unk for t in tokens):
                    raise ValueError(Errors.E122.format(name=self.name, i=i, text=doc.text[:60], n=len(tokens),
                                                        attr=vocab.attr))
        Z = self.latent_size
        means = numpy.full((len(docs), Z), numpy.nan, dtype="float32")
        logvars = numpy.full((len(docs), Z), numpy.nan, dtype="float32")
        batch = self._batch(docs)
        if len(batch):
            window = self._window(batch)
            (mean, logvar), _ = self._posterior(window)
            ops = self.model.ops
            means[batch.order] = ops.to_numpy(mean)
            logvars[batch.order] = ops.to_numpy(logvar)
            require_finite(numpy, means[batch.order], name=self.name, what="posterior means")
        return means, logvars

    def _iw_nll_batch(self, docs: Sequence[Doc], batch: SequenceBatch, mean, logvar, k: int, seed: int
                      ) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """IW-NLL (k samples) and log p(x|z) of the first sample, per sequence of the batch."""
        return iw_nll_batch(self.model, docs, batch, self._window(batch), mean, logvar, k, seed, name=self.name)

    # ------------------------------------------------------------------ inference
    def predict(self, docs: Iterable[Doc]) -> List[Optional[Dict[str, Any]]]:
        docs = list(docs)
        results: List[Optional[Dict[str, Any]]] = [None] * len(docs)
        batch = self._batch(docs)
        if not len(batch):
            return results
        window = self._window(batch)
        (mean, logvar), _ = self._posterior(window)
        ops = self.model.ops
        mean_h, logvar_h = ops.to_numpy(mean), ops.to_numpy(logvar)
        require_finite(numpy, mean_h, name=self.name, what="posterior means")
        k = self.cfg["nll_samples"]
        nll = self._iw_nll_batch(docs, batch, mean, logvar, k, 0)[0] if k else None
        for j, i in enumerate(batch.order):
            results[i] = {"mean": mean_h[j], "logvar": logvar_h[j], "nll": None if nll is None else float(nll[j]),
                          "n_tokens": len(batch.seqs[j][1])}
        return results

    def set_annotations(self, docs: Iterable[Doc], results: List[Optional[Dict[str, Any]]]) -> None:
        for doc, result in zip(docs, results):
            set_vae_annotations(doc, result)

    def evaluate_docs(self, docs: Iterable[Union[str, Doc]], *, iw_samples: int = 500, seed: int = 0,
                      batch_size: int = 64) -> Dict[str, Any]:
        """Corpus scores of the docs as sentences (see :mod:`spacy_lm.metrics.vae`):
        ``vae_elbo`` (mean per sentence of E_q[log p(x|z)] - KL, one sample: a lower bound on
        log p(x)), ``vae_rec_nll``, ``vae_kl``, ``vae_iw_nll`` (``iw_samples`` samples),
        ``vae_perplexity`` (exp of the summed IW-NLL over the tokens, each sentence's closing
        ``<eos>`` counted), ``vae_score`` (1 / perplexity), ``vae_mi``, ``vae_active_units``,
        ``vae_n_sentences``, ``vae_n_tokens``. Empty docs are skipped; none left: None values."""
        _check(_is_count(iw_samples, 1), "iw_samples", "an integer >= 1", iw_samples)
        _check(_is_count(batch_size, 1), "batch_size", "an integer >= 1", batch_size)
        docs = [self._as_doc(d) for d in docs]
        self._require_initialized()
        ops = self.model.ops
        means, logvars, iw, rec, n_tokens = [], [], [], [], 0
        for start in range(0, len(docs), batch_size):
            part = docs[start : start + batch_size]
            batch = self._batch(part)
            if not len(batch):
                continue
            window = self._window(batch)
            (mean, logvar), _ = self._posterior(window)
            nll, log_px_first = self._iw_nll_batch(part, batch, mean, logvar, iw_samples, seed)
            means.append(ops.to_numpy(mean))
            logvars.append(ops.to_numpy(logvar))
            iw.append(nll)
            rec.append(-log_px_first)
            n_tokens += batch.n_targets
        return vae_scores(means, logvars, iw, rec, n_tokens, seed)

    # ------------------------------------------------------------------ training
    def _word_dropout(self, ids):
        rate = self.cfg["word_dropout"]
        if rate <= 0:
            return ids
        xp = self.model.ops.xp
        drop = xp.random.uniform(0.0, 1.0, ids.shape) < rate
        drop[0] = False  # the start <eos> stays
        return xp.where(drop, self.lm_vocab.unk_id, ids).astype("int32")

    def _elbo_step(self, window: Window, beta: float, n: int) -> Tuple[float, numpy.ndarray]:
        """Forward and backward of rec + β·KL (per sentence of ``n``) over one window; returns
        the summed NLL and the batch-mean KL per latent dimension (host). Gradients are
        accumulated, not applied."""
        ops = self.model.ops
        xp = ops.xp
        (mean, logvar), bp_posterior = self._posterior(window, True)
        eps = xp.random.normal(0.0, 1.0, mean.shape).astype(mean.dtype)
        std = xp.exp(0.5 * logvar)
        z = mean + std * eps
        (hidden, _), bp_decode = self.model.decode(self._word_dropout(window.ids), window.lengths, z, True)
        rec_total, d_hidden = window_loss(self.model, window, hidden, 1.0 / n, self.name)
        kl_per_dim = (0.5 * (mean**2 + xp.exp(logvar) - 1.0 - logvar)).mean(axis=0, keepdims=True)
        kl_host = ops.to_numpy(kl_per_dim).reshape(-1).astype("float64")
        if not numpy.isfinite(kl_host).all():
            raise ValueError(Errors.E004.format(name=self.name, loss=float(kl_host.sum())))
        weight = xp.full(kl_per_dim.shape, beta / n, dtype=mean.dtype)
        if self.cfg["free_bits"] > 0:
            weight *= (kl_per_dim > self.cfg["free_bits"]).astype(mean.dtype)
        dz = bp_decode(d_hidden)
        d_mean = dz + weight * mean
        d_logvar = dz * eps * 0.5 * std + weight * 0.5 * (xp.exp(logvar) - 1.0)
        bp_posterior(d_mean, d_logvar)
        return rec_total, kl_host

    def _kl_term(self, kl_per_dim: numpy.ndarray) -> float:
        """Σ_d max(λ, batch-mean KL_d): the KL the objective pays (λ = free_bits)."""
        return float(numpy.maximum(self.cfg["free_bits"], kl_per_dim).sum())

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """One optimizer step: mean over the batch's sentences of rec NLL + β·KL."""
        examples, drop, losses = self._begin_update(examples, drop, losses, "SentenceVAE.update", ("_rec", "_kl"))
        batch = self._batch([eg.reference for eg in examples], truncate=True)
        if not len(batch):
            return losses
        beta = self._next_beta()
        window = self._window(batch)
        n = len(batch)
        set_dropout_rate(self.model, drop)
        if sgd is not None and self.cfg["aggressive_steps"] and self.n_updates < self.cfg["aggressive_until"]:
            for _ in range(self.cfg["aggressive_steps"]):
                self._elbo_step(window, beta, n)
                self._encoder_only_update(sgd)
        rec_total, kl_per_dim = self._elbo_step(window, beta, n)
        losses[self.name] += rec_total / n + beta * self._kl_term(kl_per_dim)
        losses[f"{self.name}_rec"] += rec_total / n
        losses[f"{self.name}_kl"] += float(kl_per_dim.sum())
        self.n_updates += 1
        if sgd is not None:
            self.finish_update(sgd)
        return losses

    def _next_beta(self) -> float:
        if self.kl_annealing is None:
            return 1.0
        beta = float(next(self.kl_annealing))
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(Errors.E009.format(setting="kl_annealing", requirement="values >= 0", value=beta))
        return beta

    def _encoder_only_update(self, sgd: Optimizer) -> None:
        """Apply the encoder's gradients alone and drop the rest (aggressive training)."""
        encoder_ids = set()
        for ref in ENCODER_REFS:
            layer = self.model.get_ref(ref)
            encoder_ids.update(node.id for node in layer.walk())
            layer.finish_update(sgd)
        for node in self.model.walk():
            if node.id not in encoder_ids:
                for name in node.grad_names:
                    node.get_grad(name).fill(0)

    def get_loss(self, examples: Iterable[Example], scores: List[Optional[Dict[str, Any]]]) -> Tuple[float, None]:
        """Mean IW-NLL per sentence of ``predict`` output (the gradient comes from ``update``)."""
        values = [r["nll"] for r in scores if r is not None and r["nll"] is not None]
        return (float(numpy.mean(values)) if values else 0.0), None

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   vocab_size: Optional[int] = None, corpus: Optional[str] = None) -> None:
        """Build the vocabulary from the training sentences and initialize the model."""
        self._count_vocab(get_examples, "SentenceVAE.initialize", nlp=nlp, corpus=corpus, vocab_size=vocab_size)
        self.model.initialize()
        self.n_updates = 0
