"""WikiText-2 perplexity: spacy_lm's LSTM (or GRU) LM vs PyTorch, same recipe, same budget.

Recipe (pytorch/examples word_language_model, for both models): emsize 200, nhid 200,
2 layers, dropout 0.2, tied; train batch 20, bptt 35, hidden state carried across windows
(truncated BPTT); SGD lr 20, global gradient-norm clip 0.25, lr / 4 after an epoch whose
validation perplexity did not improve; evaluation batch 10. Every line ends with one
``<eos>`` (blank lines too), so train/valid/test have 2,088,628 / 217,646 / 245,569 tokens,
and perplexity is exp(mean NLL) over all (n_steps - 1) * batch predicted tokens.

Reads ../shared/data/wikitext-2 (or --data-dir) and fails clearly when it is missing.

    # both models, one after the other, in one process:
    python benchmarks/lm_wikitext2.py --epochs 1
    # or in two processes side by side (one thread each), then merge:
    python benchmarks/lm_wikitext2.py --epochs 1 --model spacy_lm --threads 1 &
    python benchmarks/lm_wikitext2.py --epochs 1 --model pytorch --threads 1 &
    wait; python benchmarks/lm_wikitext2.py --merge
    # the GRU (nn.GRU on the PyTorch side): add --cell gru to each of these commands; results go
    # to lm_wikitext2_gru_{spacy_lm,pytorch}.json and lm_wikitext2_gru.json (the LSTM's stay).
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy

from _common import (CELLS, CONFIG, DEFAULT_DATA, RESULTS, TorchLM, ThincLM, batchify, evaluate, load_wikitext2,
                     machine_info, set_threads, windows, write_results)

MODELS = {"spacy_lm": ThincLM, "pytorch": TorchLM}
KENLM_5GRAM_TEST_PPL = 220.1  # measured on this split (issue #2), for orientation


def results_name(cell: str, name: str = "") -> str:
    base = "lm_wikitext2" if cell == "lstm" else f"lm_wikitext2_{cell}"
    return f"{base}_{name}" if name else base


def train_one(name: str, data, epochs: int, max_batches: int, seed: int, log_every: int, cell: str,
              seconds: float = 0.0):
    """Train and evaluate one model; ``seconds`` > 0 stops training (valid evaluations included)
    once that much wall-clock time has passed, for equal-time comparisons."""
    n_vocab = len(data["vocab"])
    lm = MODELS[name](n_vocab, seed=seed, cell=cell)
    train = batchify(data["ids"]["train"], CONFIG["batch_size"])
    valid = batchify(data["ids"]["valid"], CONFIG["eval_batch_size"])
    test = batchify(data["ids"]["test"], CONFIG["eval_batch_size"])
    lr = CONFIG["lr"]
    best_val = None
    history = []
    start = time.perf_counter()
    n_tokens = 0
    out_of_time = False
    for epoch in range(1, epochs + 1):
        lm.reset(CONFIG["batch_size"])
        losses = []
        epoch_start = time.perf_counter()
        for i, (x, y) in enumerate(windows(train, CONFIG["bptt"])):
            if max_batches and i >= max_batches:
                break
            if seconds and time.perf_counter() - start > seconds:
                out_of_time = True
                break
            losses.append(lm.train_step(x, y, lr))
            n_tokens += x.size
            if log_every and (i + 1) % log_every == 0:
                print(f"[{name}] epoch {epoch} batch {i + 1} loss {numpy.mean(losses[-log_every:]):.3f} "
                      f"ppl {numpy.exp(numpy.mean(losses[-log_every:])):.1f} "
                      f"{n_tokens / (time.perf_counter() - start):,.0f} tok/s "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
        train_seconds = time.perf_counter() - epoch_start
        val_ppl = evaluate(lm, valid)
        history.append({"epoch": epoch, "lr": lr, "train_loss_last_200": float(numpy.mean(losses[-200:])),
                        "valid_ppl": val_ppl, "train_seconds": train_seconds})
        print(f"[{name}] epoch {epoch} valid ppl {val_ppl:.2f} ({train_seconds:.0f}s)", flush=True)
        if best_val is not None and val_ppl >= best_val:
            lr /= 4.0
        best_val = val_ppl if best_val is None else min(best_val, val_ppl)
        if out_of_time:
            break
    test_ppl = evaluate(lm, test)
    final_val = history[-1]["valid_ppl"]
    print(f"[{name}] test ppl {test_ppl:.2f}", flush=True)
    return {"valid_ppl": final_val, "test_ppl": test_ppl, "history": history, "cell": cell,
            "built_with": getattr(lm, "built_with", "nn.LSTM" if cell == "lstm" else "nn.GRU"),
            "train_tokens_per_s": n_tokens / (time.perf_counter() - start), "train_tokens": n_tokens,
            "seconds_budget": seconds, "seconds_used": time.perf_counter() - start}


def merge(cell: str) -> None:
    parts = {name: json.loads((RESULTS / f"{results_name(cell, name)}.json").read_text()) for name in MODELS}
    ours, peer = parts["spacy_lm"], parts["pytorch"]
    result = {"spacy_lm": ours, "pytorch": peer, "kenlm_5gram_test_ppl": KENLM_5GRAM_TEST_PPL,
              "test_ppl_ratio_ours_over_pytorch": ours["test_ppl"] / peer["test_ppl"],
              "valid_ppl_ratio_ours_over_pytorch": ours["valid_ppl"] / peer["valid_ppl"]}
    print(f"test ppl: spacy_lm {ours['test_ppl']:.2f}  pytorch {peer['test_ppl']:.2f}  "
          f"ratio {result['test_ppl_ratio_ours_over_pytorch']:.4f}  (KenLM 5-gram {KENLM_5GRAM_TEST_PPL})")
    write_results(results_name(cell), result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", choices=["both", *MODELS], default="both")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-batches", type=int, default=0, help="cap batches per epoch (smoke runs)")
    parser.add_argument("--log-every", type=int, default=200)
    parser.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell of both models")
    parser.add_argument("--merge", action="store_true", help="combine the two per-model result files")
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="wall-clock training budget (valid evaluations included); with --epochs as a cap. "
                             "Results go to lm_wikitext2[_cell]_<model>_<seconds>s.json")
    args = parser.parse_args()
    if args.merge:
        return merge(args.cell)
    set_threads(args.threads)
    data = load_wikitext2(args.data_dir)
    counts = {k: int(v.shape[0]) for k, v in data["ids"].items()}
    assert counts == {"train": 2088628, "valid": 217646, "test": 245569}, counts
    names = list(MODELS) if args.model == "both" else [args.model]
    for name in names:
        result = train_one(name, data, args.epochs, args.max_batches, args.seed, args.log_every, args.cell,
                           args.seconds)
        result.update({"config": CONFIG, "epochs": args.epochs, "token_counts": counts,
                       "machine": machine_info(args.threads), "max_batches": args.max_batches})
        suffix = f"_{int(args.seconds)}s" if args.seconds else ""
        write_results(results_name(args.cell, name) + suffix, result)
    if args.model == "both" and not args.seconds:
        merge(args.cell)


if __name__ == "__main__":
    main()
