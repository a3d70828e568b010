"""Training and evaluation speed: spacy_lm's LSTM (or GRU) LM vs PyTorch nn.LSTM (nn.GRU),
in one process.

Config: pytorch/examples word_language_model (emsize 200, nhid 200, 2 layers, dropout 0.2,
bptt 35, batch 20, tied, full softmax over WikiText-2's 33,278 words). Both models get the
same threads and the same real WikiText-2 windows (../shared/data/wikitext-2, or --data-dir);
timed batches alternate ours/peer after a warm-up, and medians are reported.

    python benchmarks/lm_speed.py --threads 2 --batches 40             # -> results/lm_speed.json
    python benchmarks/lm_speed.py --threads 2 --batches 40 --cell gru  # -> results/lm_speed_gru.json
"""
import argparse
import os
import time
from pathlib import Path

import numpy

from _common import (CELLS, CONFIG, DEFAULT_DATA, TorchLM, ThincLM, batchify, load_wikitext2, machine_info,
                     profile_top, set_threads, windows, write_results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, default=40, help="timed batches per model and mode")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also profile our training step")
    parser.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell of both models")
    parser.add_argument("--output", default=None, help="results name (default lm_speed, lm_speed_gru)")
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
    output = args.output or ("lm_speed" if args.cell == "lstm" else f"lm_speed_{args.cell}")
    models = [ThincLM(n_vocab, cell=args.cell), TorchLM(n_vocab, cell=args.cell)]
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
    result = {"config": CONFIG, "cell": args.cell, "spacy_lm_built_with": models[0].built_with,
              "machine": machine_info(args.threads), "timed_batches": args.batches,
              "load_average_at_start": load_at_start}
    for name, modes in times.items():
        for mode, rates in modes.items():
            result[f"{name}_{mode}_tokens_per_s_median"] = float(numpy.median(rates))
    for mode in ("train", "eval"):
        result[f"{mode}_ratio_ours_over_pytorch"] = (
            result[f"spacy_lm_{mode}_tokens_per_s_median"] / result[f"pytorch_{mode}_tokens_per_s_median"])
        print(f"{mode}: spacy_lm {result[f'spacy_lm_{mode}_tokens_per_s_median']:,.0f} tok/s, "
              f"pytorch {result[f'pytorch_{mode}_tokens_per_s_median']:,.0f} tok/s, "
              f"ratio {result[f'{mode}_ratio_ours_over_pytorch']:.3f}")
    if args.profile:
        ours = models[0]
        ours.reset(CONFIG["batch_size"])
        result["profile_train_top"] = profile_top(
            lambda: [ours.train_step(x, y, CONFIG["lr"]) for _, (x, y) in train_windows[: args.batches]])
    write_results(output, result)


if __name__ == "__main__":
    main()
