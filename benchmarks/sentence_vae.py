"""Sentence VAE: our `sentence_vae` component vs the same model in PyTorch vs our `lstm_lm`.

Side by side in one process, on the same sentences, vocabulary, sizes, batches and budget:

* ``ours``: the `sentence_vae` component (spacy_lm.SentenceVAE.v1: GRU 256, embedding 300,
  latent 16, one layer, decoder state initialised from z, dropout 0.5, word dropout 0.25,
  logistic KL annealing k=0.0025, x0=2500).
* ``pytorch``: the same model written here in PyTorch as timbmg/Sentence-VAE (the most-used
  reference implementation) builds it: one nn.Embedding shared by encoder and decoder, GRU
  encoder whose final state gives mean and log-variance (two nn.Linear), decoder GRU started
  from ``latent2hidden(z)``, embedding dropout on the decoder input only, word dropout replacing
  decoder inputs except the first with ``<unk>``, loss = (summed NLL + beta * summed KL) / batch
  size, beta = 1 / (1 + exp(-k (step - x0))), Adam lr 0.001, no gradient clipping. Written for
  this benchmark (packed sequences; the output layer runs on real positions only).
* ``lstm_lm``: our `lstm_lm` (LSTMLanguageModel.v2, GRU 256, embedding 300, dropout 0.5,
  untied, full softmax), one doc per sentence, each from a fresh state.

Sentences: a sentence's tokens are its words and one closing ``<eos>`` (the LM scorers'
convention); the decoders read ``<eos>`` as the start symbol. NLL per sentence in nats;
perplexity = exp(sum NLL / sum tokens). The VAE maths (KL, IW-NLL, MI, active units) is
spacy_lm/metrics/vae.py for both VAEs.

Data (../shared/data, or --data-dir; fails clearly when missing):

* ``multi30k``: the English captions of multi30k ({train,val,test_2016_flickr}.en.gz),
  tokenised with spacy.blank("en").tokenizer, lowercased, <= 60 words kept; vocabulary
  min_freq 2.
* ``wikitext2``: each non-empty, non-heading line of WikiText-2 cut into sentences after each
  ``.`` token (it stays the sentence's last word), sentences of 1..60 words kept (the number
  dropped is reported); vocabulary min_freq 1 (the corpus has its own ``<unk>``).

Protocol: the models alternate epoch by epoch (ours 1, pytorch 1, lstm_lm 1, ours 2, ...), all
with seed --seed and the same batches of 32 (one seeded shuffle per epoch). ``--seconds`` is
each model's training budget (time in update steps), checked before every batch: a model stops
mid-epoch once it has used it. Validation may be printed per epoch (ELBO, KL, AU; no
selection); test is evaluated once, at the end. Training tokens/s counts tokens including
``<eos>`` over the wall time of the update steps only (for PyTorch: building the padded tensors
from id arrays, forward, backward, Adam; for ours: ``nlp.update`` on prebuilt Examples).

Both optimizers are Adam(lr 0.001, betas 0.9/0.999, eps 1e-8) with PyTorch's defaults (no
weight decay, no clipping, no parameter averaging): Thinc's Adam is built with grad_clip=0.0,
L2=0.0, use_averages=False (``--adam thinc`` keeps Thinc's own defaults for ours and lstm_lm).

    python benchmarks/sentence_vae.py --dataset multi30k --epochs 10 --seconds 540 \\
        --output benchmarks/results/sentence_vae_multi30k.json
    python benchmarks/sentence_vae.py --dataset wikitext2 --epochs 1 --iw-limit 200 \\
        --output benchmarks/results/sentence_vae_wikitext2.json
    # smoke test: 500 training sentences, 1 epoch, small evaluation
    python benchmarks/sentence_vae.py --dataset multi30k --limit 500 --eval-limit 100 --iw-samples 20 \\
        --output /tmp/sentence_vae_smoke.json
"""
import argparse
import gzip
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy

import _common
from _common import REPO, machine_info, set_threads, write_results
from spacy_lm.text.detokenize import detokenize_text

DATA_ROOT = REPO.parent / "shared" / "data"
MAX_WORDS = 60
BATCH_SIZE = 32
SIZES = dict(cell="gru", embed_size=300, width=256, latent_size=16, depth=1)
VAE_CFG = dict(dropout=0.5, word_dropout=0.25, k=0.0025, x0=2500, lr=0.001)
MIN_FREQ = {"multi30k": 2, "wikitext2": 1}
MODEL_NAMES = ("ours", "pytorch", "lstm_lm")


# ---------------------------------------------------------------- data
def _require(path: Path, what: str) -> Path:
    if not path.exists():
        sys.exit(f"{what} not found: {path}. This benchmark reads ../shared/data "
                 f"(multi30k/, wikitext-2/); pass --data-dir.")
    return path


def prepare_multi30k(data_dir: Path) -> Dict[str, object]:
    """Lowercased spaCy tokens of each English caption; captions of more than 60 words dropped."""
    import spacy

    tokenizer = spacy.blank("en").tokenizer
    folder = _require(data_dir / "multi30k", "multi30k folder")
    files = {"train": "train.en.gz", "valid": "val.en.gz", "test": "test_2016_flickr.en.gz"}
    splits, dropped = {}, {}
    for split, name in files.items():
        with gzip.open(_require(folder / name, f"multi30k {split} file"), "rt", encoding="utf-8") as handle:
            lines = [line.strip() for line in handle]
        sentences = []
        n_dropped = 0
        for doc in tokenizer.pipe(lines):
            words = [t.lower_ for t in doc if not t.is_space]
            if 1 <= len(words) <= MAX_WORDS:
                sentences.append(words)
            else:
                n_dropped += 1
        splits[split], dropped[split] = sentences, n_dropped
    return {"splits": splits, "dropped": dropped, "files": files}


def prepare_wikitext2(data_dir: Path) -> Dict[str, object]:
    """Sentences of the non-heading lines, cut after each ``.`` token; 1..60 words kept."""
    folder = _require(data_dir / "wikitext-2", "wikitext-2 folder")
    splits, dropped = {}, {}
    for split in ("train", "valid", "test"):
        plain, packed = folder / f"{split}.txt", folder / f"{split}.txt.gz"
        if plain.exists():
            handle = open(plain, encoding="utf-8")
        else:
            handle = gzip.open(_require(packed, f"wikitext-2 {split} file"), "rt", encoding="utf-8")
        sentences, n_dropped = [], 0
        with handle:
            for line in handle:
                words = line.split()
                if not words or (words[0] == "=" and words[-1] == "="):
                    continue
                current: List[str] = []
                for word in words:
                    current.append(word)
                    if word == ".":
                        sentences.append(current)
                        current = []
                if current:
                    sentences.append(current)
        kept = [s for s in sentences if len(s) <= MAX_WORDS]
        n_dropped = len(sentences) - len(kept)
        splits[split], dropped[split] = kept, n_dropped
    return {"splits": splits, "dropped": dropped, "files": ["train.txt.gz", "valid.txt", "test.txt"]}


PREPARE = {"multi30k": prepare_multi30k, "wikitext2": prepare_wikitext2}


def build_vocab(train: Sequence[Sequence[str]], min_freq: int):
    from spacy_lm.text.vocab import TokenVocab

    counts: Counter = Counter()
    for words in train:
        counts.update(words)
    return TokenVocab.from_counts(counts, attr="ORTH", min_freq=min_freq, max_size=None)


def to_ids(vocab, sentences: Sequence[Sequence[str]]) -> List[numpy.ndarray]:
    """Each sentence's targets: word ids and the closing <eos>."""
    return [numpy.asarray([vocab.id_of(w) for w in words] + [vocab.eos_id], dtype="int64") for words in sentences]


def epoch_batches(n: int, seed: int, epoch: int) -> List[numpy.ndarray]:
    order = numpy.random.default_rng([seed, epoch]).permutation(n)
    return [order[i : i + BATCH_SIZE] for i in range(0, n, BATCH_SIZE)]


def kl_weight(step: int, k: float = VAE_CFG["k"], x0: float = VAE_CFG["x0"]) -> float:
    return float(1.0 / (1.0 + math.exp(-k * (step - x0))))


def vae_summary(rec: numpy.ndarray, kl: numpy.ndarray, iw: Optional[numpy.ndarray], mean: numpy.ndarray,
                logvar: numpy.ndarray, n_tokens: int, seed: int) -> Dict[str, object]:
    """The VAE scores from per-sentence arrays, with spacy_lm.metrics.vae (as the component)."""
    from spacy_lm.metrics import vae as vae_metrics

    n = len(rec)
    # vae_elbo as the component reports it: a lower bound on log p(x), so negative
    out = {"vae_elbo": -float((rec + kl).mean()), "vae_rec_nll": float(rec.mean()), "vae_kl": float(kl.mean()),
           "vae_mi": vae_metrics.mutual_information(mean, logvar, seed=seed),
           "vae_active_units": vae_metrics.active_units(mean), "vae_n_sentences": n, "vae_n_tokens": n_tokens}
    if iw is not None:
        out["vae_iw_nll"] = float(iw.mean())
        out["vae_perplexity"] = float(math.exp(iw.sum() / n_tokens))
    return out


# ---------------------------------------------------------------- the PyTorch VAE
class TorchVAE:
    """The timbmg/Sentence-VAE model and training step, written for this benchmark."""
    name = "pytorch"

    def __init__(self, vocab, seed: int) -> None:
        import torch
        from torch import nn

        torch.manual_seed(seed)
        self.torch = torch
        self.vocab = vocab
        V, E, H, Z = len(vocab), SIZES["embed_size"], SIZES["width"], SIZES["latent_size"]

        class SentenceVAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(V, E)  # one table: encoder and decoder inputs
                self.embedding_dropout = nn.Dropout(VAE_CFG["dropout"])
                self.encoder_rnn = nn.GRU(E, H, batch_first=True)
                self.decoder_rnn = nn.GRU(E, H, batch_first=True)
                self.hidden2mean = nn.Linear(H, Z)
                self.hidden2logv = nn.Linear(H, Z)
                self.latent2hidden = nn.Linear(Z, H)
                self.outputs2vocab = nn.Linear(H, V)

        self.model = SentenceVAE()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=VAE_CFG["lr"])
        self.step = 0
        self.n_params = sum(p.numel() for p in self.model.parameters())
        self.gen = torch.Generator().manual_seed(seed)

    # -- tensors
    def _pad(self, targets: Sequence[numpy.ndarray]):
        """(inputs, targets, lengths): inputs = <eos> + words, targets = words + <eos>, padded with 0."""
        torch = self.torch
        lengths = numpy.asarray([len(t) for t in targets], dtype="int64")
        T = int(lengths.max())
        tgt = numpy.zeros((len(targets), T), dtype="int64")
        for i, t in enumerate(targets):
            tgt[i, : len(t)] = t
        inp = numpy.empty_like(tgt)
        inp[:, 0] = self.vocab.eos_id
        inp[:, 1:] = tgt[:, :-1]
        return torch.from_numpy(inp), torch.from_numpy(tgt), torch.from_numpy(lengths)

    def _encode(self, inp, lengths):
        from torch.nn.utils.rnn import pack_padded_sequence

        m = self.model
        packed = pack_padded_sequence(m.embedding(inp), lengths, batch_first=True, enforce_sorted=False)
        _, hidden = m.encoder_rnn(packed)
        hidden = hidden[0]
        return m.hidden2mean(hidden), m.hidden2logv(hidden)

    def _decode_nll(self, inp, tgt, lengths, z, train: bool):
        """Summed NLL per row (nats), the decoder started from latent2hidden(z)."""
        torch = self.torch
        from torch.nn.utils.rnn import pack_padded_sequence, PackedSequence

        m = self.model
        if train and VAE_CFG["word_dropout"] > 0:
            drop = torch.rand(inp.shape) < VAE_CFG["word_dropout"]
            drop[:, 0] = False  # the start symbol is never dropped (padding is never read)
            inp = inp.masked_fill(drop, self.vocab.unk_id)
        emb = m.embedding(inp)
        if train:
            emb = m.embedding_dropout(emb)
        hidden = m.latent2hidden(z).unsqueeze(0)
        packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        out, _ = m.decoder_rnn(packed, hidden)
        packed_tgt = pack_padded_sequence(tgt, lengths, batch_first=True, enforce_sorted=False)
        rows = torch.nn.functional.cross_entropy(m.outputs2vocab(out.data), packed_tgt.data, reduction="none")
        # back to (batch, time) to sum per sentence
        per_row = PackedSequence(rows, out.batch_sizes, out.sorted_indices, out.unsorted_indices)
        from torch.nn.utils.rnn import pad_packed_sequence
        padded, _ = pad_packed_sequence(per_row, batch_first=True)
        return padded.sum(dim=1)

    # -- training
    def train_batch(self, targets: Sequence[numpy.ndarray]) -> Dict[str, float]:
        torch = self.torch
        self.model.train()
        inp, tgt, lengths = self._pad(targets)
        mean, logv = self._encode(inp, lengths)
        z = mean + torch.exp(0.5 * logv) * torch.randn_like(mean)
        nll = self._decode_nll(inp, tgt, lengths, z, train=True).sum()
        kl = -0.5 * torch.sum(1 + logv - mean.pow(2) - logv.exp())
        beta = kl_weight(self.step)
        loss = (nll + beta * kl) / len(targets)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {"loss": float(loss), "rec": float(nll) / len(targets), "kl": float(kl) / len(targets), "beta": beta}

    # -- evaluation
    def posterior(self, targets: Sequence[numpy.ndarray], batch: int = 256):
        torch = self.torch
        self.model.eval()
        means, logvars = [], []
        with torch.no_grad():
            for start in range(0, len(targets), batch):
                inp, _, lengths = self._pad(targets[start : start + batch])
                mean, logv = self._encode(inp, lengths)
                means.append(mean.double().numpy())
                logvars.append(logv.double().numpy())
        return numpy.concatenate(means), numpy.concatenate(logvars)

    def log_px(self, targets: Sequence[numpy.ndarray], z: numpy.ndarray, rows: int = 2048) -> numpy.ndarray:
        """log p(x_i | z_ij) for z ``(N, k, Z)``: ``(N, k)``."""
        torch = self.torch
        N, k, _ = z.shape
        out = numpy.empty((N, k))
        per = max(1, rows // k)  # sentences per decoder call
        self.model.eval()
        with torch.no_grad():
            for start in range(0, N, per):
                chunk = targets[start : start + per]
                inp, tgt, lengths = self._pad(chunk)
                reps = lambda x: x.repeat_interleave(k, dim=0)
                zz = torch.from_numpy(z[start : start + len(chunk)].reshape(-1, z.shape[-1])).float()
                nll = self._decode_nll(reps(inp), reps(tgt), reps(lengths), zz, train=False)
                out[start : start + len(chunk)] = -nll.double().numpy().reshape(len(chunk), k)
        return out

    def evaluate(self, targets: Sequence[numpy.ndarray], iw_samples: int, seed: int) -> Dict[str, object]:
        from spacy_lm.metrics import vae as vae_metrics

        rng = numpy.random.default_rng(seed)
        mean, logvar = self.posterior(targets)
        std = numpy.exp(0.5 * logvar)
        z1 = mean[:, None, :] + std[:, None, :] * rng.standard_normal((len(targets), 1, mean.shape[1]))
        rec = -self.log_px(targets, z1)[:, 0]
        kl = vae_metrics.gaussian_kl(mean, logvar)
        iw = None
        if iw_samples:
            zk = mean[:, None, :] + std[:, None, :] * rng.standard_normal((len(targets), iw_samples, mean.shape[1]))
            iw = vae_metrics.iw_nll(self.log_px(targets, zk), zk, mean, logvar)
        n_tokens = int(sum(len(t) for t in targets))
        return vae_summary(rec, kl, iw, mean, logvar, n_tokens, seed)

    # -- generation (greedy, as timbmg's inference)
    def greedy(self, z: numpy.ndarray, max_len: int = MAX_WORDS + 1) -> List[str]:
        torch = self.torch
        m = self.model
        self.model.eval()
        with torch.no_grad():
            zt = torch.from_numpy(numpy.asarray(z)).float()
            hidden = m.latent2hidden(zt).unsqueeze(0)
            token = torch.full((len(zt), 1), self.vocab.eos_id, dtype=torch.long)
            words: List[List[str]] = [[] for _ in range(len(zt))]
            done = numpy.zeros(len(zt), dtype=bool)
            for _ in range(max_len):
                out, hidden = m.decoder_rnn(m.embedding(token), hidden)
                token = m.outputs2vocab(out[:, 0]).argmax(dim=-1, keepdim=True)
                for i, t in enumerate(token[:, 0].tolist()):
                    if not done[i]:
                        if t == self.vocab.eos_id:
                            done[i] = True
                        else:
                            words[i].append(self.vocab.string_of(t))
                if done.all():
                    break
        return [detokenize_text(w) for w in words]

    def sample(self, n: int, seed: int) -> List[str]:
        return self.greedy(numpy.random.default_rng(seed).standard_normal((n, SIZES["latent_size"])))

    def reconstruct(self, targets: Sequence[numpy.ndarray]) -> List[str]:
        mean, _ = self.posterior(targets)
        return self.greedy(mean)

    def interpolate(self, a: numpy.ndarray, b: numpy.ndarray, n_steps: int) -> List[str]:
        mean, _ = self.posterior([a, b])
        ts = numpy.linspace(0.0, 1.0, n_steps)[:, None]
        return self.greedy((1 - ts) * mean[0] + ts * mean[1])


# ---------------------------------------------------------------- ours
def make_adam(kind: str):
    from thinc.api import Adam

    if kind == "thinc":
        return Adam(VAE_CFG["lr"])
    return Adam(VAE_CFG["lr"], L2=0.0, grad_clip=0.0, use_averages=False)


def thinc_n_params(model) -> int:
    total = 0
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                total += int(node.get_param(name).size)
    return total


class OurVAE:
    name = "ours"

    def __init__(self, vocab, train_words, seed: int, adam: str, min_freq: int) -> None:
        import spacy
        from spacy.tokens import Doc
        from spacy.training import Example
        from thinc.api import fix_random_seed

        import spacy_lm  # noqa: F401  (registers the factories)

        fix_random_seed(seed)
        self.nlp = spacy.blank("en")
        self.Doc, self.Example = Doc, Example
        self.config = {
            "model": {"@architectures": "spacy_lm.SentenceVAE.v1", "cell": SIZES["cell"],
                      "embed_size": SIZES["embed_size"], "width": SIZES["width"],
                      "latent_size": SIZES["latent_size"], "depth": SIZES["depth"], "bidirectional": False,
                      "condition": "init", "dropout": VAE_CFG["dropout"]},
            "attr": "ORTH", "min_freq": min_freq, "max_size": None, "max_length": MAX_WORDS,
            "word_dropout": VAE_CFG["word_dropout"], "free_bits": 0.0,
            "kl_annealing": {"@schedules": "spacy_lm.kl_logistic.v1", "k": VAE_CFG["k"], "x0": VAE_CFG["x0"]}}
        self.vae = self.nlp.add_pipe("sentence_vae", config=self.config)
        self.train_examples = self.examples(train_words)
        self.nlp.initialize(lambda: self.train_examples)
        assert self.vae.lm_vocab.strings == vocab.strings, "sentence_vae built another vocabulary"
        self.optimizer = make_adam(adam)
        self.n_params = thinc_n_params(self.vae.model)

    def docs(self, sentences):
        return [self.Doc(self.nlp.vocab, words=list(words)) for words in sentences]

    def examples(self, sentences):
        return [self.Example(d, d) for d in self.docs(sentences)]

    def train_batch(self, indices) -> Dict[str, float]:
        # nlp.update's drop sets every dropout_rate in the model (spaCy's convention): pass the
        # architecture's own 0.5, else its default 0.0 switches the embedding dropout off
        losses: Dict[str, float] = {}
        self.nlp.update([self.train_examples[i] for i in indices], sgd=self.optimizer, losses=losses,
                        drop=VAE_CFG["dropout"])
        return losses

    def evaluate(self, sentences, iw_samples: int, seed: int) -> Dict[str, object]:
        """evaluate_docs needs k >= 1: with 0 (ELBO, KL, MI, AU only) k = 1 and its IW keys dropped."""
        scores = dict(self.vae.evaluate_docs(self.docs(sentences), iw_samples=max(1, iw_samples), seed=seed))
        if not iw_samples:
            for key in ("vae_iw_nll", "vae_perplexity", "vae_score"):
                scores.pop(key, None)
        return scores


class OurLSTM:
    name = "lstm_lm"

    def __init__(self, vocab, train_words, seed: int, adam: str, min_freq: int) -> None:
        import spacy
        from spacy.tokens import Doc
        from spacy.training import Example
        from thinc.api import fix_random_seed

        import spacy_lm  # noqa: F401

        fix_random_seed(seed)
        self.nlp = spacy.blank("en")
        self.Doc, self.Example = Doc, Example
        self.config = {"model": {"@architectures": "spacy_lm.LSTMLanguageModel.v2", "cell": SIZES["cell"],
                                 "width": SIZES["width"], "depth": SIZES["depth"], "embed_size": SIZES["embed_size"],
                                 "dropout": VAE_CFG["dropout"], "tie_weights": False, "output": "full"},
                       "max_length": MAX_WORDS + 1, "min_freq": min_freq, "max_size": None}
        self.lm = self.nlp.add_pipe("lstm_lm", config=self.config)
        self.train_examples = self.examples(train_words)
        self.nlp.initialize(lambda: self.train_examples)
        assert self.lm.lm_vocab.strings == vocab.strings, "lstm_lm built another vocabulary"
        self.optimizer = make_adam(adam)
        self.n_params = thinc_n_params(self.lm.model)

    def docs(self, sentences):
        return [self.Doc(self.nlp.vocab, words=list(words)) for words in sentences]

    def examples(self, sentences):
        return [self.Example(d, d) for d in self.docs(sentences)]

    def train_batch(self, indices) -> Dict[str, float]:
        losses: Dict[str, float] = {}
        self.nlp.update([self.train_examples[i] for i in indices], sgd=self.optimizer, losses=losses,
                        drop=VAE_CFG["dropout"])
        return losses

    def evaluate(self, sentences, iw_samples: int = 0, seed: int = 0) -> Dict[str, object]:
        docs = list(self.lm.pipe(self.docs(sentences), batch_size=256))
        nll = numpy.asarray([-d._.lm_logprob for d in docs], dtype="float64")
        n_tokens = int(sum(d._.lm_n_predicted for d in docs))
        assert n_tokens == sum(len(s) + 1 for s in sentences), "lstm_lm predicted another token count"
        return {"lm_nll": float(nll.mean()), "lm_perplexity": float(math.exp(nll.sum() / n_tokens)),
                "lm_n_sentences": len(docs), "lm_n_tokens": n_tokens}


# ---------------------------------------------------------------- protocol
def fmt(value, spec=".2f"):
    return "-" if value is None else format(value, spec)


def print_table(results: Dict[str, Dict[str, object]], split: str) -> None:
    cols = [("-ELBO", "neg_elbo"), ("rec", "vae_rec_nll"), ("KL", "vae_kl"), ("IW-NLL", "vae_iw_nll"),
            ("ppl", "vae_perplexity"), ("MI", "vae_mi"), ("AU", "vae_active_units")]
    print(f"\n{split}: {'model':8s} " + " ".join(f"{c:>8s}" for c, _ in cols) + f" {'NLL(lm)':>8s} {'ppl(lm)':>8s}"
          f" {'tok/s':>8s} {'train s':>8s}")
    for name, res in results.items():
        scores = res.get(split) or {}
        cells = [fmt(scores.get(key), ".0f" if key == "vae_active_units" else ".2f") for _, key in cols]
        print(f"{'':{len(split) + 2}s}{name:8s} " + " ".join(f"{c:>8s}" for c in cells)
              + f" {fmt(scores.get('lm_nll')):>8s} {fmt(scores.get('lm_perplexity')):>8s}"
              f" {fmt(res.get('train_tokens_per_s'), ',.0f'):>8s} {fmt(res.get('train_seconds'), '.0f'):>8s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=tuple(PREPARE), required=True)
    parser.add_argument("--data-dir", type=Path, default=DATA_ROOT)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="per-model training budget (update-step time), checked before every batch: a model "
                             "stops mid-epoch once it has used it; 0 = no budget")
    parser.add_argument("--iw-samples", type=int, default=500, help="importance samples for the test IW-NLL")
    parser.add_argument("--valid-iw-samples", type=int, default=50, help="importance samples for the valid IW-NLL")
    parser.add_argument("--iw-limit", type=int, default=0,
                        help="compute IW-NLL on the first N test (and valid) sentences only; 0 = all")
    parser.add_argument("--eval-limit", type=int, default=0,
                        help="evaluate on the first N valid/test sentences only (smoke runs); 0 = all")
    parser.add_argument("--dev-every-epoch", action="store_true", help="print valid ELBO/KL/AU after each epoch")
    parser.add_argument("--limit", type=int, default=0, help="first N training sentences only (smoke runs)")
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--adam", choices=("torch", "thinc"), default="torch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=200)
    parser.add_argument("--output", type=Path, default=None,
                        help="results JSON (default benchmarks/results/sentence_vae_<dataset>.json)")
    args = parser.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = set(names) - set(MODEL_NAMES)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {MODEL_NAMES}")
    set_threads(args.threads)
    load_at_start = os.getloadavg()
    wall_start = time.perf_counter()

    data = PREPARE[args.dataset](args.data_dir)
    splits = data["splits"]
    train_words = splits["train"][: args.limit] if args.limit else splits["train"]
    eval_words = {s: (splits[s][: args.eval_limit] if args.eval_limit else splits[s]) for s in ("valid", "test")}
    min_freq = MIN_FREQ[args.dataset]
    vocab = build_vocab(train_words, min_freq)
    train_ids = to_ids(vocab, train_words)
    eval_ids = {s: to_ids(vocab, w) for s, w in eval_words.items()}
    iw_words = {s: (w[: args.iw_limit] if args.iw_limit else w) for s, w in eval_words.items()}
    data_info = {"dataset": args.dataset, "files": data["files"], "dropped_over_60_words": data["dropped"],
                 "n_sentences": {"train": len(train_words), **{s: len(w) for s, w in eval_words.items()}},
                 "n_tokens_incl_eos": {"train": int(sum(len(t) for t in train_ids)),
                                       **{s: int(sum(len(t) for t in ids)) for s, ids in eval_ids.items()}},
                 "vocab_size": len(vocab), "vocab_min_freq": min_freq, "vocab_checksum": vocab.checksum,
                 "unk_rate": {s: float(numpy.mean(numpy.concatenate(ids) == vocab.unk_id))
                              for s, ids in [("train", train_ids), *eval_ids.items()]},
                 "train_limit": args.limit, "eval_limit": args.eval_limit,
                 "iw_limit": args.iw_limit, "iw_n_sentences": {s: len(w) for s, w in iw_words.items()}}
    print(f"{args.dataset}: {data_info['n_sentences']} sentences, {data_info['n_tokens_incl_eos']} tokens, "
          f"vocab {len(vocab)}, dropped {data['dropped']}", flush=True)

    models = {}
    for name in names:
        t0 = time.perf_counter()
        if name == "pytorch":
            models[name] = TorchVAE(vocab, args.seed)
        elif name == "ours":
            models[name] = OurVAE(vocab, train_words, args.seed, args.adam, min_freq)
        else:
            models[name] = OurLSTM(vocab, train_words, args.seed, args.adam, min_freq)
        print(f"[{name}] built in {time.perf_counter() - t0:.1f}s, {models[name].n_params:,} params", flush=True)

    state = {n: {"train_seconds": 0.0, "train_tokens": 0, "steps": 0, "epochs_done": 0, "stopped_mid_epoch": False,
                 "history": [], "out_of_time": False, "batch_rates": []} for n in names}
    for epoch in range(1, args.epochs + 1):
        batches = epoch_batches(len(train_ids), args.seed, epoch)
        for name in names:
            st = state[name]
            if st["out_of_time"]:
                continue
            model = models[name]
            epoch_tokens, epoch_seconds, log = 0, 0.0, []
            for b, indices in enumerate(batches):
                if args.seconds and st["train_seconds"] >= args.seconds:
                    st["out_of_time"] = True
                    st["stopped_mid_epoch"] = b > 0
                    break
                batch_ids = [train_ids[i] for i in indices]
                start = time.perf_counter()
                losses = model.train_batch(batch_ids if name == "pytorch" else indices)
                elapsed = time.perf_counter() - start
                n_tok = int(sum(len(t) for t in batch_ids))
                st["train_seconds"] += elapsed
                st["train_tokens"] += n_tok
                st["steps"] += 1
                st["batch_rates"].append(n_tok / elapsed)
                epoch_tokens += n_tok
                epoch_seconds += elapsed
                log.append(losses)
                if args.log_every and (b + 1) % args.log_every == 0:
                    recent = log[-args.log_every :]
                    summary = {k: numpy.mean([l[k] for l in recent if k in l]) for k in recent[-1]}
                    print(f"[{name}] epoch {epoch} batch {b + 1}/{len(batches)} "
                          + " ".join(f"{k} {v:.3f}" for k, v in summary.items())
                          + f" {epoch_tokens / epoch_seconds:,.0f} tok/s load {os.getloadavg()[0]:.2f}", flush=True)
            else:
                st["epochs_done"] = epoch
            entry = {"epoch": epoch, "batches": len(log), "tokens": epoch_tokens, "seconds": epoch_seconds,
                     "tokens_per_s": epoch_tokens / epoch_seconds if epoch_seconds else None,
                     "load_average": os.getloadavg()}
            if log:
                keys = log[-1].keys()
                entry["train_mean_losses"] = {k: float(numpy.mean([l[k] for l in log if k in l])) for k in keys}
            if args.dev_every_epoch and log:
                dev = models[name].evaluate(eval_ids["valid"] if name == "pytorch" else eval_words["valid"],
                                            0, args.seed)
                entry["valid"] = dev
                print(f"[{name}] epoch {epoch} valid " + " ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in dev.items()), flush=True)
            st["history"].append(entry)
            print(f"[{name}] epoch {epoch} done: {len(log)} batches, {entry['tokens_per_s'] or 0:,.0f} tok/s, "
                  f"{epoch_seconds:.0f}s, load {entry['load_average'][0]:.2f}", flush=True)
        if all(state[n]["out_of_time"] for n in names):
            break

    # ---- final evaluation: valid, then test once
    results: Dict[str, Dict[str, object]] = {}
    for name in names:
        model, st = models[name], state[name]
        res = {"n_params": model.n_params, "train_seconds": st["train_seconds"], "train_tokens": st["train_tokens"],
               "train_tokens_per_s": st["train_tokens"] / st["train_seconds"] if st["train_seconds"] else None,
               "train_tokens_per_s_epoch_median": float(numpy.median(
                   [h["tokens_per_s"] for h in st["history"] if h["tokens_per_s"]])) if st["history"] else None,
               "train_tokens_per_s_batch_median": float(numpy.median(st["batch_rates"])) if st["batch_rates"] else None,
               "steps": st["steps"], "epochs_completed": st["epochs_done"],
               "stopped_by_budget": st["out_of_time"], "stopped_mid_epoch": st["stopped_mid_epoch"],
               "history": st["history"]}
        if name != "lstm_lm":
            res["final_kl_weight"] = kl_weight(st["steps"])
        if hasattr(model, "config"):
            res["config"] = model.config
        for split, k in (("valid", args.valid_iw_samples), ("test", args.iw_samples)):
            t0 = time.perf_counter()
            ids, words = eval_ids[split], eval_words[split]
            if name == "lstm_lm":
                scores = model.evaluate(words)
            else:
                # ELBO, KL, MI, AU on the whole split; IW-NLL on the (possibly limited) subset
                source = ids if name == "pytorch" else words
                scores = model.evaluate(source, 0, args.seed)
                if k:
                    subset = ids[: len(iw_words[split])] if name == "pytorch" else iw_words[split]
                    iw_scores = model.evaluate(subset, k, args.seed)
                    scores.update({"iw_samples": k, "iw_n_sentences": len(subset),
                                   "vae_iw_nll": iw_scores["vae_iw_nll"],
                                   "vae_perplexity": iw_scores["vae_perplexity"],
                                   "subset_vae_elbo": iw_scores["vae_elbo"],
                                   "subset_vae_n_tokens": iw_scores["vae_n_tokens"]})
            if name != "lstm_lm":  # -ELBO per sentence and exp(-ELBO / tokens), for both VAEs alike
                scores["neg_elbo"] = scores["vae_rec_nll"] + scores["vae_kl"]
                scores["elbo_perplexity"] = math.exp(scores["neg_elbo"] * scores["vae_n_sentences"]
                                                     / scores["vae_n_tokens"])
            scores["eval_seconds"] = time.perf_counter() - t0
            res[split] = scores
            print(f"[{name}] {split}: " + " ".join(
                f"{key} {v:.3f}" if isinstance(v, float) else f"{key} {v}" for key, v in scores.items()), flush=True)
        results[name] = res

    # ---- the lstm_lm on the IW subset too, for a like-for-like NLL comparison
    if "lstm_lm" in results and args.iw_limit:
        for split in ("valid", "test"):
            results["lstm_lm"][f"{split}_iw_subset"] = models["lstm_lm"].evaluate(iw_words[split])

    # ---- show it
    shown = {}
    test_words = eval_words["test"]
    pick = [0, 1, 2, 3, 4]
    pair = (5, 6) if len(test_words) > 6 else (0, 1)
    for name in ("ours", "pytorch"):
        if name not in models:
            continue
        model = models[name]
        try:
            if name == "pytorch":
                recon = model.reconstruct([eval_ids["test"][i] for i in pick])
                interp = model.interpolate(eval_ids["test"][pair[0]], eval_ids["test"][pair[1]], 8)
            else:
                docs = model.docs([test_words[i] for i in pick + list(pair)])
                recon = model.vae.reconstruct(docs[: len(pick)])
                interp = model.vae.interpolate(docs[-2], docs[-1], n_steps=8)
            shown[name] = {"prior_samples": model.sample(10, seed=args.seed) if name == "pytorch"
                           else model.vae.sample(10, seed=args.seed),
                           "reconstructions": [{"input": " ".join(test_words[i]), "output": r}
                                               for i, r in zip(pick, recon)],
                           "interpolation": {"from": " ".join(test_words[pair[0]]), "to": " ".join(test_words[pair[1]]),
                                             "steps": interp}}
        except Exception as err:  # report, don't lose the run
            import traceback
            shown[name] = {"error": traceback.format_exc()}
            print(f"[{name}] generation failed: {err!r}", flush=True)
        print(f"\n[{name}] samples / reconstructions / interpolation:")
        for key, value in shown[name].items():
            print(f"  {key}: {value}")

    # ---- comparison
    for split in ("valid", "test"):
        print_table(results, split)
    comparison = {}
    if "ours" in results and "pytorch" in results:
        o, p = results["ours"], results["pytorch"]
        if o["train_tokens_per_s"] and p["train_tokens_per_s"]:
            comparison["train_tokens_per_s_ratio_ours_over_pytorch"] = o["train_tokens_per_s"] / p["train_tokens_per_s"]
            comparison["train_tokens_per_s_epoch_median_ratio_ours_over_pytorch"] = (
                o["train_tokens_per_s_epoch_median"] / p["train_tokens_per_s_epoch_median"])
            comparison["train_tokens_per_s_batch_median_ratio_ours_over_pytorch"] = (
                o["train_tokens_per_s_batch_median"] / p["train_tokens_per_s_batch_median"])
        for split in ("valid", "test"):
            for key in ("vae_iw_nll", "vae_elbo", "vae_rec_nll", "vae_kl"):
                if o[split].get(key) is not None and p[split].get(key) is not None:
                    comparison[f"{split}_{key}_ours_minus_pytorch"] = o[split][key] - p[split][key]
    if "ours" in results and "lstm_lm" in results:
        for split in ("valid", "test"):
            lm = results["lstm_lm"].get(f"{split}_iw_subset", results["lstm_lm"][split])
            if results["ours"][split].get("vae_iw_nll") is not None:
                comparison[f"{split}_iw_nll_ours_minus_lstm_lm_nll"] = results["ours"][split]["vae_iw_nll"] - lm["lm_nll"]
    if "pytorch" in results and "lstm_lm" in results:
        for split in ("valid", "test"):
            lm = results["lstm_lm"].get(f"{split}_iw_subset", results["lstm_lm"][split])
            if results["pytorch"][split].get("vae_iw_nll") is not None:
                comparison[f"{split}_iw_nll_pytorch_minus_lstm_lm_nll"] = (
                    results["pytorch"][split]["vae_iw_nll"] - lm["lm_nll"])
    if "ours" in results:
        t = results["ours"]["test"]
        comparison["goal_no_collapse"] = bool(t["vae_kl"] >= 3.0 and t["vae_active_units"] >= 5)
        if "pytorch" in results and "vae_iw_nll" in t:
            comparison["goal_iw_nll_le_pytorch"] = t["vae_iw_nll"] <= results["pytorch"]["test"]["vae_iw_nll"]
        if "lstm_lm" in results and "vae_iw_nll" in t:
            lm = results["lstm_lm"].get("test_iw_subset", results["lstm_lm"]["test"])
            comparison["goal_iw_nll_le_lstm_lm"] = t["vae_iw_nll"] <= lm["lm_nll"]
        if "train_tokens_per_s_ratio_ours_over_pytorch" in comparison:
            comparison["goal_speed_ge_1x_pytorch"] = comparison["train_tokens_per_s_ratio_ours_over_pytorch"] >= 1.0
    print("\n" + "\n".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in comparison.items()))

    payload = {"data": data_info, "sizes": SIZES, "vae_config": VAE_CFG, "batch_size": BATCH_SIZE,
               "epochs": args.epochs, "seconds_budget": args.seconds,
               "budget_rule": "per model, update-step time, checked before each batch (stops mid-epoch)",
               "adam": "torch defaults (no L2, no clipping, no averaging) for all" if args.adam == "torch"
               else "thinc defaults for ours/lstm_lm, torch defaults for pytorch",
               "iw_samples": {"valid": args.valid_iw_samples, "test": args.iw_samples},
               "iw_note": (f"IW-NLL (and the perplexity from it) on the first {args.iw_limit} sentences of each split; "
                           "ELBO, rec, KL, MI, AU on the whole split" if args.iw_limit else "IW-NLL on the whole split"),
               "models": names, "results": results, "comparison": comparison, "generation": shown,
               "machine": machine_info(args.threads), "load_average_at_start": load_at_start,
               "wall_seconds": time.perf_counter() - wall_start}
    output = args.output or (_common.RESULTS / f"sentence_vae_{args.dataset}.json")
    _common.RESULTS = output.resolve().parent  # write_results writes RESULTS/<name>.json
    write_results(output.stem, payload)


if __name__ == "__main__":
    main()
