"""GPU training and evaluation speed of our LM with the fused LSTM/GRU step kernels (issue #19):
spacy_lm fused vs spacy_lm unfused (the generic ``ops.xp`` step on CupyOps) vs PyTorch nn.LSTM
(nn.GRU with ``--cell gru``; cuDNN), in one process on one GPU.

Config: pytorch/examples word_language_model (emsize 200, nhid 200, 2 layers, dropout 0.2, bptt 35,
tied, full softmax), at each ``--batch-sizes`` (default 20, the config's, and 64, 128), for training
and evaluation alike. Timed batches alternate the systems' order after a warm-up; every step ends in
a host read of its loss (a device sync), and medians are reported. Both of our models start from the
same weights; the fused one runs with `spacy_lm.layers.fused_cells.ENABLED` set, the other without.

Data: WikiText-2 train from --data-dir (../shared/data/wikitext-2 by default); when it is missing (a
device machine gets only the repository) a synthetic Zipfian stream over WikiText-2's 33,278 words
is used, and the result says so (speed does not depend on which words).

Needs a CUDA GPU with CuPy and a CUDA build of PyTorch (``--no-pytorch`` drops the peer); exits
with a message otherwise.

    python benchmarks/fused_speed.py                      # -> results/fused_speed.json
    python benchmarks/fused_speed.py --cell gru           # -> results/fused_speed_gru.json
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (CELLS, CONFIG, DEFAULT_DATA, TorchLM, ThincLM, batchify, read_split, windows,  # noqa: E402
                     write_results)

N_VOCAB = 33278  # WikiText-2's vocabulary, as the LM speed benchmarks


def require_gpu(need_torch: bool) -> str:
    """The GPU's name, or exit saying what is missing."""
    try:
        import cupy

        n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # ImportError, or CUDA without a device/driver
        sys.exit(f"fused_speed.py needs a CUDA GPU with CuPy: {type(err).__name__}: {err}")
    if n_devices < 1:
        sys.exit("fused_speed.py needs a CUDA GPU with CuPy: CuPy sees no device")
    if need_torch:
        try:
            import torch
        except ImportError as err:
            sys.exit(f"fused_speed.py needs PyTorch for its peer (or pass --no-pytorch): {err}")
        if not torch.cuda.is_available():
            sys.exit("fused_speed.py needs a CUDA build of PyTorch that sees the GPU (or pass --no-pytorch)")
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def load_ids(data_dir: Path):
    """Token ids of WikiText-2 train, or a synthetic stream; and where they came from."""
    if (data_dir / "train.txt").exists() or (data_dir / "train.txt.gz").exists():
        vocab: dict = {}
        ids = numpy.asarray([vocab.setdefault(t, len(vocab)) for t in read_split(data_dir, "train")], dtype="int32")
        return ids, max(len(vocab), N_VOCAB), f"wikitext-2 train ({data_dir})"
    rng = numpy.random.default_rng(0)
    ids = (rng.zipf(1.2, size=1_000_000) % N_VOCAB).astype("int32")
    return ids, N_VOCAB, f"synthetic Zipf(1.2) stream over {N_VOCAB} ids (WikiText-2 not found under {data_dir})"


class GpuThincLM(ThincLM):
    """Our LM on CupyOps; ``fused`` sets the fused-kernel switch around each of its steps."""

    def __init__(self, n_vocab: int, cell: str, fused: bool):
        from thinc.api import CupyOps, set_current_ops

        set_current_ops(CupyOps())
        super().__init__(n_vocab, seed=0, cell=cell)
        self.fused = fused
        self.name = "spacy_lm_fused" if fused else "spacy_lm_unfused"

    def _switched(self, step, data, targets, *args):
        from spacy_lm.layers import fused_cells

        ops = self.model.ops
        previous, fused_cells.ENABLED = fused_cells.ENABLED, self.fused
        try:
            return step(ops.asarray(data), ops.asarray(targets), *args)
        finally:
            fused_cells.ENABLED = previous

    def train_step(self, data, targets, lr):
        return self._switched(super().train_step, data, targets, lr)

    def eval_step(self, data, targets):
        return self._switched(super().eval_step, data, targets)


class CudaTorchLM(TorchLM):
    """pytorch/examples' model on the GPU (cuDNN's LSTM/GRU), same recipe as TorchLM."""

    name = "pytorch_cudnn"

    def __init__(self, n_vocab: int, cell: str):
        super().__init__(n_vocab, seed=0, cell=cell)
        self.device = self.torch.device("cuda")
        self.model.to(self.device)

    def _tensors(self, data, targets):
        torch = self.torch
        return (torch.from_numpy(data).long().to(self.device), torch.from_numpy(targets).long().to(self.device))

    def train_step(self, data, targets, lr):
        torch = self.torch
        self.model.train()
        self.hidden = self.hidden.detach() if torch.is_tensor(self.hidden) else tuple(h.detach() for h in self.hidden)
        self.model.zero_grad()
        x, y = self._tensors(data, targets)
        out, self.hidden = self.model(x, self.hidden)
        loss = self.criterion(out, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), CONFIG["clip"])
        with torch.no_grad():
            for p in self.model.parameters():
                if p.grad is not None:
                    p.add_(p.grad, alpha=-lr)
        return float(loss.item())

    def eval_step(self, data, targets):
        torch = self.torch
        self.model.eval()
        x, y = self._tensors(data, targets)
        with torch.no_grad():
            out, self.hidden = self.model(x, self.hidden)
            return float(self.criterion(out, y).item()) * targets.shape[0]


def time_systems(systems, ids, batch_size: int, n_batches: int, warmup: int):
    """tokens/s of every timed step, per system and mode, systems alternating their order."""
    source = batchify(ids, batch_size)
    batches = [w for _, w in zip(range(warmup + n_batches), windows(source, CONFIG["bptt"]))]
    if len(batches) < warmup + n_batches:
        sys.exit(f"only {len(batches)} windows at batch {batch_size}: fewer than --warmup + --batches")
    rates = {s.name: {"train": [], "eval": []} for s in systems}
    losses = {s.name: [] for s in systems}
    for mode in ("train", "eval"):
        for s in systems:
            s.reset(batch_size)
        for i, (x, y) in enumerate(batches):
            for s in systems if i % 2 == 0 else systems[::-1]:
                start = time.perf_counter()
                value = s.train_step(x, y, CONFIG["lr"]) if mode == "train" else s.eval_step(x, y)
                elapsed = time.perf_counter() - start  # the step read its loss back: the GPU is done
                if mode == "train":
                    losses[s.name].append(value)
                if i >= warmup:
                    rates[s.name][mode].append(x.size / elapsed)
    return rates, losses


def summarise(rates, batch_size: int) -> dict:
    out = {}
    for name, modes in rates.items():
        for mode, values in modes.items():
            out[f"{name}_{mode}_tokens_per_s_median"] = float(numpy.median(values))
    for mode in ("train", "eval"):
        fused = out.get(f"spacy_lm_fused_{mode}_tokens_per_s_median")
        unfused = out.get(f"spacy_lm_unfused_{mode}_tokens_per_s_median")
        peer = out.get(f"pytorch_cudnn_{mode}_tokens_per_s_median")
        if fused and unfused:
            out[f"{mode}_ratio_fused_over_unfused"] = fused / unfused
        for name, value in (("fused", fused), ("unfused", unfused)):
            if value and peer:
                out[f"{mode}_ratio_{name}_over_pytorch"] = value / peer
        line = ", ".join(f"{n} {out[k]:,.0f}" for n in ("spacy_lm_fused", "spacy_lm_unfused", "pytorch_cudnn")
                         if (k := f"{n}_{mode}_tokens_per_s_median") in out)
        print(f"batch {batch_size} {mode}: {line} tok/s; fused/unfused "
              f"{out.get(f'{mode}_ratio_fused_over_unfused', float('nan')):.2f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell of every model")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[CONFIG["batch_size"], 64, 128])
    parser.add_argument("--batches", type=int, default=20, help="timed batches per system, mode and batch size")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-pytorch", action="store_true", help="time our two systems only")
    parser.add_argument("--results-name", default=None, help="results name (default fused_speed[_gru])")
    args = parser.parse_args()
    gpu = require_gpu(need_torch=not args.no_pytorch)
    load_at_start = os.getloadavg()
    ids, n_vocab, source = load_ids(args.data_dir)
    print(f"GPU: {gpu}; data: {source}; vocabulary {n_vocab}")
    systems = [GpuThincLM(n_vocab, args.cell, fused=True), GpuThincLM(n_vocab, args.cell, fused=False)]
    for a, b in zip(systems[0].model.walk(), systems[1].model.walk()):  # the same weights
        for name in a.param_names:
            b.set_param(name, a.get_param(name).copy())
    if not args.no_pytorch:
        systems.append(CudaTorchLM(n_vocab, args.cell))
    import cupy
    import thinc

    result = {"config": CONFIG, "cell": args.cell, "data": source, "n_vocab": n_vocab, "gpu": gpu,
              "timed_batches": args.batches, "warmup": args.warmup, "batch_sizes": args.batch_sizes,
              "spacy_lm_built_with": systems[0].built_with, "systems": [s.name for s in systems],
              "versions": {"cupy": cupy.__version__, "thinc": thinc.__version__, "numpy": numpy.__version__},
              "load_average_at_start": load_at_start, "per_batch_size": {}}
    if not args.no_pytorch:
        torch = systems[-1].torch
        result["versions"].update(torch=torch.__version__, cudnn=torch.backends.cudnn.version())
    for batch_size in args.batch_sizes:
        rates, losses = time_systems(systems, ids, batch_size, args.batches, args.warmup)
        entry = summarise(rates, batch_size)
        entry["train_loss_first_last"] = {name: [values[0], values[-1]] for name, values in losses.items()}
        result["per_batch_size"][str(batch_size)] = entry
    write_results(args.results_name or "fused_speed" + ("" if args.cell == "lstm" else f"_{args.cell}"), result)


if __name__ == "__main__":
    main()
