"""Shared pieces of the language-model benchmarks: WikiText-2 as pytorch/examples reads it,
the PyTorch peer model (pytorch/examples word_language_model, LSTM or GRU, tied), and one
training recipe (SGD, global-norm clipping, truncated BPTT) applied identically to both models.
``cell`` ("lstm" or "gru") picks nn.LSTM / nn.GRU on the PyTorch side and the same cell in
our language model. ``output`` ("full" or "adaptive") picks the output layer: a full softmax
(tied, as pytorch/examples), or an adaptive softmax (ADAPTIVE's cutoffs and div_value, untied on
both sides: PyTorch's nn.AdaptiveLogSoftmaxWithLoss cannot share rows with nn.Embedding; ours is
spacy_lm.LSTMLanguageModel.v2 with output="adaptive").

Reads ../shared/data/wikitext-2 (override with --data-dir); fails clearly when it is missing.
"""
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "wikitext-2"
# SPACY_LM_RESULTS redirects the JSON (e.g. to a device machine's output folder).
RESULTS = Path(os.environ.get("SPACY_LM_RESULTS", REPO / "benchmarks" / "results"))

# pytorch/examples word_language_model defaults.
CONFIG = dict(emsize=200, nhid=200, nlayers=2, dropout=0.2, bptt=35, batch_size=20,
              eval_batch_size=10, lr=20.0, clip=0.25, tied=True)
CELLS = ("lstm", "gru")
OUTPUTS = ("full", "adaptive")
ADAPTIVE = dict(cutoffs=[2000, 10000], div_value=4.0)  # nn.AdaptiveLogSoftmaxWithLoss settings, head_bias False


def read_split(data_dir: Path, split: str) -> List[str]:
    """Tokens of one split with one ``<eos>`` per line (blank lines included), as data.Corpus."""
    plain = data_dir / f"{split}.txt"
    packed = data_dir / f"{split}.txt.gz"
    if plain.exists():
        handle = open(plain, encoding="utf-8")
    elif packed.exists():
        handle = gzip.open(packed, "rt", encoding="utf-8")
    else:
        sys.exit(f"WikiText-2 split '{split}' not found under {data_dir} (expected {plain.name} or "
                 f"{packed.name}). This benchmark reads ../shared/data/wikitext-2; pass --data-dir.")
    tokens: List[str] = []
    with handle:
        for line in handle:
            tokens.extend(line.split())
            tokens.append("<eos>")
    return tokens


def load_wikitext2(data_dir: Path) -> Dict[str, object]:
    splits = {name: read_split(data_dir, name) for name in ("train", "valid", "test")}
    vocab: Dict[str, int] = {}
    for name in ("train", "valid", "test"):  # data.Corpus adds words in this order
        for tok in splits[name]:
            if tok not in vocab:
                vocab[tok] = len(vocab)
    ids = {name: numpy.asarray([vocab[t] for t in toks], dtype="int32") for name, toks in splits.items()}
    return {"vocab": vocab, "ids": ids}


def batchify(ids: numpy.ndarray, batch_size: int) -> numpy.ndarray:
    """(n_steps, batch) time-major columns, as pytorch/examples batchify."""
    n = len(ids) // batch_size
    return numpy.ascontiguousarray(ids[: n * batch_size].reshape(batch_size, n).T)


def windows(source: numpy.ndarray, bptt: int):
    for i in range(0, source.shape[0] - 1, bptt):
        seq_len = min(bptt, source.shape[0] - 1 - i)
        yield source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].reshape(-1)


# ---------------------------------------------------------------- PyTorch peer
def build_torch_model(n_vocab: int, cfg=CONFIG, cell: str = "lstm", output: str = "full"):
    """pytorch/examples' RNNModel; with ``output="adaptive"`` its ``forward`` returns hidden rows
    and ``model.decoder`` is an nn.AdaptiveLogSoftmaxWithLoss (call it with the targets)."""
    from torch import nn

    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    adaptive = output == "adaptive"
    rnn_class = nn.LSTM if cell == "lstm" else nn.GRU

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(cfg["dropout"])
            self.encoder = nn.Embedding(n_vocab, cfg["emsize"])
            self.rnn = rnn_class(cfg["emsize"], cfg["nhid"], cfg["nlayers"], dropout=cfg["dropout"])
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
            if adaptive:
                self.decoder = nn.AdaptiveLogSoftmaxWithLoss(cfg["nhid"], n_vocab, **ADAPTIVE)
                return
            self.decoder = nn.Linear(cfg["nhid"], n_vocab)
            if cfg["tied"]:
                self.decoder.weight = self.encoder.weight
            nn.init.zeros_(self.decoder.bias)

        def forward(self, x, hidden):
            emb = self.drop(self.encoder(x))
            out, hidden = self.rnn(emb, hidden)
            out = self.drop(out)
            if adaptive:
                return out.view(-1, cfg["nhid"]), hidden
            return self.decoder(out).view(-1, n_vocab), hidden

        def init_hidden(self, bsz):
            w = next(self.parameters())
            shape = (cfg["nlayers"], bsz, cfg["nhid"])
            return (w.new_zeros(shape), w.new_zeros(shape)) if cell == "lstm" else w.new_zeros(shape)

    return RNNModel()


class TorchLM:
    name = "pytorch"

    def __init__(self, n_vocab: int, seed: int = 0, cell: str = "lstm", output: str = "full"):
        import torch
        torch.manual_seed(seed)
        self.torch = torch
        self.model = build_torch_model(n_vocab, cell=cell, output=output)
        if output == "adaptive":
            self.name = "pytorch_adaptive"
            self.criterion = lambda rows, targets: self.model.decoder(rows, targets).loss
        else:
            self.criterion = torch.nn.CrossEntropyLoss()
        self.hidden = None

    def reset(self, batch_size: int) -> None:
        self.hidden = self.model.init_hidden(batch_size)

    def train_step(self, data: numpy.ndarray, targets: numpy.ndarray, lr: float) -> float:
        torch = self.torch
        self.model.train()
        # an LSTM's hidden is (h, c), a GRU's one tensor
        self.hidden = self.hidden.detach() if self.torch.is_tensor(self.hidden) else tuple(
            h.detach() for h in self.hidden)
        self.model.zero_grad()
        out, self.hidden = self.model(torch.from_numpy(data).long(), self.hidden)
        loss = self.criterion(out, torch.from_numpy(targets).long())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), CONFIG["clip"])
        with torch.no_grad():
            for p in self.model.parameters():
                if p.grad is not None:  # an adaptive softmax's tail absent from the batch has none
                    p.add_(p.grad, alpha=-lr)
        return float(loss.item())

    def eval_step(self, data: numpy.ndarray, targets: numpy.ndarray) -> float:
        """Summed NLL (nats) of the window."""
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            out, self.hidden = self.model(torch.from_numpy(data).long(), self.hidden)
            return float(self.criterion(out, torch.from_numpy(targets).long()).item()) * targets.shape[0]


# ---------------------------------------------------------------- ours
def build_thinc_model(cell: str, output: str = "full"):
    """Our LM with ``cell`` and ``output``, and how it was built (recorded in the results)."""
    from spacy_lm.architectures.lstm_lm import build_lstm_language_model, build_lstm_language_model_v2

    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    sizes = dict(width=CONFIG["nhid"], depth=CONFIG["nlayers"], embed_size=CONFIG["emsize"], dropout=CONFIG["dropout"])
    if output == "adaptive":
        model = build_lstm_language_model_v2(**sizes, tie_weights=False, cell=cell, output="adaptive", **ADAPTIVE)
        return model, f"build_lstm_language_model_v2(cell={cell!r}, output='adaptive', tie_weights=False, **{ADAPTIVE})"
    model = build_lstm_language_model(**sizes, tie_weights=CONFIG["tied"], cell=cell)
    return model, f"build_lstm_language_model(cell={cell!r})"


class ThincLM:
    """Full softmax: the Thinc forward (logits) + softmax_cross_entropy, as before. Adaptive:
    the component's path, ``encode`` + ``loss`` (training) and ``score`` (evaluation)."""
    name = "spacy_lm"

    def __init__(self, n_vocab: int, seed: int = 0, cell: str = "lstm", output: str = "full"):
        from thinc.api import fix_random_seed
        from spacy_lm.training.clipping import clip_global_grad_norm, sgd_step

        fix_random_seed(seed)
        self.adaptive = output == "adaptive"
        if self.adaptive:
            self.name = "spacy_lm_adaptive"
        self.model, self.built_with = build_thinc_model(cell, output)
        self.model.set_dim("nV", n_vocab)
        self.model.initialize()
        self._clip = clip_global_grad_norm
        self._sgd = sgd_step
        self.state = None  # opaque: an LSTM's (h, c), a GRU's h

    def reset(self, batch_size: int) -> None:
        self.state = None

    def train_step(self, data: numpy.ndarray, targets: numpy.ndarray, lr: float) -> float:
        from spacy_lm.ops import softmax_cross_entropy

        ops = self.model.ops
        if self.adaptive:
            (hidden, self.state), backprop = self.model.encode(data, None, self.state, is_train=True)
            T, B, width = hidden.shape
            nll, d_hidden = self.model.loss(hidden.reshape(T * B, width), targets, 1.0 / targets.shape[0])
            backprop(d_hidden.reshape(T, B, width))
        else:
            (logits, self.state), backprop = self.model((data, None, self.state), is_train=True)
            nll, d_logits = softmax_cross_entropy(ops, logits, targets, grad_scale=1.0 / targets.shape[0],
                                                  overwrite=True)
            backprop((d_logits, None))
        self._clip(self.model, CONFIG["clip"])
        self._sgd(self.model, lr)
        return float(nll.mean())

    def eval_step(self, data: numpy.ndarray, targets: numpy.ndarray) -> float:
        from spacy_lm.ops import softmax_cross_entropy

        if self.adaptive:  # score also finds the top-1 word, as the component's evaluation does
            (hidden, self.state), _ = self.model.encode(data, None, self.state, is_train=False)
            nll, _ = self.model.score(hidden.reshape(-1, hidden.shape[-1]), targets)
            return float(nll.sum())
        (logits, self.state), _ = self.model((data, None, self.state), is_train=False)
        nll, _ = softmax_cross_entropy(self.model.ops, logits, targets, overwrite=True)
        return float(nll.sum())


def evaluate(lm, source: numpy.ndarray) -> float:
    """Perplexity over a batchified split, state carried across windows (pytorch convention)."""
    lm.reset(source.shape[1])
    total = 0.0
    for data, targets in windows(source, CONFIG["bptt"]):
        total += lm.eval_step(data, targets)
    n_predicted = (source.shape[0] - 1) * source.shape[1]
    return float(numpy.exp(total / n_predicted))


def profile_top(run: Callable[[], None], n_rows: int = 15) -> List[str]:
    """cProfile ``run()`` and return (and print) the top ``n_rows`` functions by own time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(n_rows)
    print(out.getvalue())
    return out.getvalue().splitlines()[: n_rows + 25]


def set_threads(n: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)


def machine_info(threads: int) -> Dict[str, object]:
    import thinc
    import torch
    info = {"python": platform.python_version(), "numpy": numpy.__version__, "torch": torch.__version__,
            "thinc": thinc.__version__, "threads": threads, "cpus": os.cpu_count(),
            "machine": platform.machine(), "processor": platform.processor(),
            "load_average_when_recorded": os.getloadavg()}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                        for d in threadpool_info()]
    except ImportError:
        pass
    return info


def write_results(name: str, payload: Dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload["command"] = "python " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    payload["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    payload["load_average_at_end"] = os.getloadavg()  # the machine is shared: read ratios with this
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")
    return path
