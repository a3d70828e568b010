"""Training and evaluation speed: spacy_lm's LSTM (or GRU) LM vs PyTorch nn.LSTM (nn.GRU),
in one process.

Config: pytorch/examples word_language_model (emsize 200, nhid 200, 2 layers, dropout 0.2,
bptt 35, batch 20, tied, full softmax over WikiText-2's 33,278 words). Both models get the
same threads and the same real WikiText-2 windows (../shared/data/wikitext-2, or --data-dir);
timed batches alternate ours/peer after a warm-up, and medians are reported.

    python benchmarks/lm_speed.py --threads 2 --batches 40             # -> results/lm_speed.json
    python benchmarks/lm_speed.py --threads 2 --batches 40 --cell gru  # -> results/lm_speed_gru.json
    python benchmarks/lm_speed.py --threads 2 --batches 40 --output adaptive  # -> results/lm_speed_adaptive.json

``--output adaptive``: our LSTMLanguageModel.v2 with an adaptive softmax vs PyTorch's
nn.AdaptiveLogSoftmaxWithLoss (cutoffs [2000, 10000], div_value 4, both untied), with our full
softmax model timed alongside for the adaptive/full ratio; ``--output both`` adds PyTorch's
full softmax too. Ratios: ours/PyTorch per output layer, adaptive/full per library.
"""
import argparse
import os
import time
from pathlib import Path

import numpy

from _common import (ADAPTIVE, CELLS, CONFIG, DEFAULT_DATA, TorchLM, ThincLM, batchify, load_wikitext2,
                     machine_info, profile_top, set_threads, windows, write_results)

# Models timed per --output: (library, output layer); our full model is the adaptive run's reference.
MODELS = {"full": [("spacy_lm", "full"), ("pytorch", "full")],
          "adaptive": [("spacy_lm", "adaptive"), ("pytorch", "adaptive"), ("spacy_lm", "full")],
          "both": [("spacy_lm", "full"), ("pytorch", "full"), ("spacy_lm", "adaptive"), ("pytorch", "adaptive")]}


def make_model(library: str, output: str, n_vocab: int, cell: str):
    return (ThincLM if library == "spacy_lm" else TorchLM)(n_vocab, cell=cell, output=output)


def ratios(result: dict) -> None:
    """ours/PyTorch per output layer and adaptive/full per library, for every pair timed."""
    def rate(name: str, mode: str):
        return result.get(f"{name}_{mode}_tokens_per_s_median")

    for mode in ("train", "eval"):
        for suffix in ("", "_adaptive"):
            ours, peer = rate(f"spacy_lm{suffix}", mode), rate(f"pytorch{suffix}", mode)
            if ours and peer:
                key = f"{mode}{suffix}_ratio_ours_over_pytorch"
                result[key] = ours / peer
                print(f"{mode}{suffix}: spacy_lm {ours:,.0f} tok/s, pytorch {peer:,.0f} tok/s, "
                      f"ratio {result[key]:.3f}")
        for name in ("spacy_lm", "pytorch"):
            adaptive, full = rate(f"{name}_adaptive", mode), rate(name, mode)
            if adaptive and full:
                key = f"{mode}_ratio_{name}_adaptive_over_full"
                result[key] = adaptive / full
                print(f"{mode}: {name} adaptive/full {result[key]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, default=40, help="timed batches per model and mode")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also profile our training step")
    parser.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell of both models")
    parser.add_argument("--output", choices=tuple(MODELS), default="full",
                        help="output layer(s) timed: full softmax, adaptive softmax, or both")
    parser.add_argument("--results-name", default=None,
                        help="results name (default lm_speed, lm_speed_gru, lm_speed_adaptive, ...)")
    args = parser.parse_args()
    set_threads(args.threads)
    load_at_start = os.getloadavg()
    data = load_wikitext2(args.data_dir)
    n_vocab = len(data["vocab"])
    assert n_vocab == 33278, n_vocab
    train = batchify(data["ids"]["train"], CONFIG["batch_size"])
    valid = batchify(data["ids"]["valid"], CONFIG["eval_batch_size"])
    train_windows = list(zip(range(args.warmup + args.batches), windows(train, CONFIG["bptt"])))
    eval_windows = list(zip(range(args.warmup + args.batches), windows(valid, CONFIG["bptt"])))
    default_name = "lm_speed" + ("" if args.cell == "lstm" else f"_{args.cell}") + (
        "" if args.output == "full" else "_adaptive")
    output = args.results_name or default_name
    models = [make_model(library, layer, n_vocab, args.cell) for library, layer in MODELS[args.output]]
    times = {m.name: {"train": [], "eval": []} for m in models}
    for mode, batch_list, batch_size in (("train", train_windows, CONFIG["batch_size"]),
                                          ("eval", eval_windows, CONFIG["eval_batch_size"])):
        for m in models:
            m.reset(batch_size)
        for i, (x, y) in batch_list:
            order = models if i % 2 == 0 else models[::-1]
            for m in order:
                start = time.perf_counter()
                if mode == "train":
                    m.train_step(x, y, CONFIG["lr"])
                else:
                    m.eval_step(x, y)
                elapsed = time.perf_counter() - start
                if i >= args.warmup:
                    times[m.name][mode].append(x.size / elapsed)
    result = {"config": CONFIG, "cell": args.cell, "output": args.output,
              "spacy_lm_built_with": [m.built_with for m in models if hasattr(m, "built_with")],
              "machine": machine_info(args.threads), "timed_batches": args.batches,
              "load_average_at_start": load_at_start}
    if len(result["spacy_lm_built_with"]) == 1:
        result["spacy_lm_built_with"] = result["spacy_lm_built_with"][0]
    if args.output != "full":
        result["adaptive"] = {**ADAPTIVE, "tied": False, "head_bias": False}
    for name, modes in times.items():
        for mode, rates in modes.items():
            result[f"{name}_{mode}_tokens_per_s_median"] = float(numpy.median(rates))
    ratios(result)
    if args.profile:
        ours = models[0]
        ours.reset(CONFIG["batch_size"])
        result["profile_train_top"] = profile_top(
            lambda: [ours.train_step(x, y, CONFIG["lr"]) for _, (x, y) in train_windows[: args.batches]])
    write_results(output, result)


if __name__ == "__main__":
    main()
