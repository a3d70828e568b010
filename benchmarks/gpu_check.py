"""GPU check (run on a machine with CUDA and CuPy): the same LSTM LM trained on NumpyOps and on
CupyOps from identical weights and batches must follow the same loss curve and gradients; then
training speed on the GPU, and a short `spacy train --gpu-id 0` of configs/lstm_lm.cfg.

Data: WikiText-2 train from --data-dir (../shared/data/wikitext-2 by default); when it is missing
(a device machine gets only the repository) a synthetic Zipfian stream of the same vocabulary
size is used, and the output says so.

    python benchmarks/gpu_check.py --steps 300
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CONFIG, DEFAULT_DATA, batchify, read_split, windows, write_results  # noqa: E402


def load_stream(data_dir: Path, n_vocab: int):
    if (data_dir / "train.txt.gz").exists() or (data_dir / "train.txt").exists():
        tokens = read_split(data_dir, "train")[:400_000]
        vocab = {}
        ids = numpy.asarray([vocab.setdefault(t, len(vocab)) for t in tokens], dtype="int32")
        return ids, len(vocab), "wikitext-2 train (first 400k tokens)"
    rng = numpy.random.default_rng(0)
    ids = (rng.zipf(1.2, size=400_000) % n_vocab).astype("int32")
    return ids, n_vocab, "synthetic Zipf(1.2) stream (WikiText-2 not found)"


def build(ops, n_vocab):
    from thinc.api import fix_random_seed, set_current_ops
    from spacy_lm.architectures.lstm_lm import build_lstm_language_model

    set_current_ops(ops)
    fix_random_seed(0)
    model = build_lstm_language_model(width=CONFIG["nhid"], depth=CONFIG["nlayers"], dropout=0.0)
    model.set_dim("nV", n_vocab)
    model.initialize()
    return model


def copy_params(src, dst):
    for a, b in zip(src.walk(), dst.walk()):
        for name in a.param_names:
            b.set_param(name, b.ops.asarray(a.ops.to_numpy(a.get_param(name))))


def train_steps(model, batches, lr):
    from spacy_lm.ops import softmax_cross_entropy
    from spacy_lm.training.clipping import clip_global_grad_norm, sgd_step

    ops = model.ops
    losses, first_grads, state = [], None, None
    start = time.perf_counter()
    for i, (x, y) in enumerate(batches):
        x, y = ops.asarray(x), ops.asarray(y)
        (logits, state), backprop = model((x, None, state), is_train=True)
        nll, d = softmax_cross_entropy(ops, logits, y, grad_scale=1.0 / y.shape[0], overwrite=True)
        backprop((d, None))
        if i == 0:
            first_grads = {f"{n.name}.{p}": ops.to_numpy(n.get_grad(p)).copy() for n in model.walk()
                           for p in n.grad_names}
        clip_global_grad_norm(model, CONFIG["clip"])
        sgd_step(model, lr)
        losses.append(float(nll.mean()))
    ops.xp.cuda.Stream.null.synchronize() if hasattr(ops.xp, "cuda") else None
    elapsed = time.perf_counter() - start
    return losses, first_grads, sum(x.size for x, _ in batches) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cpu-steps", type=int, default=30, help="steps compared against the CPU")
    parser.add_argument("--compare-lr", type=float, default=1.0,
                        help="SGD rate of the CPU-vs-GPU comparison. At the recipe's lr 20 the two curves "
                             "agree for ~7 steps and then drift apart (0.22 by step 17 on an H200): "
                             "float32 rounding differences amplified by the unstable large-step dynamics")
    parser.add_argument("--skip-spacy-train", action="store_true")
    args = parser.parse_args()
    import cupy  # noqa: F401  (fails clearly without CuPy)
    from thinc.api import CupyOps, NumpyOps

    ids, n_vocab, source = load_stream(args.data_dir, 33278)
    print(f"data: {source}; vocabulary {n_vocab}")
    train = batchify(ids, CONFIG["batch_size"])
    batches = [b for _, b in zip(range(args.steps), windows(train, CONFIG["bptt"]))]
    cpu_model = build(NumpyOps(), n_vocab)
    gpu_model = build(CupyOps(), n_vocab)
    copy_params(cpu_model, gpu_model)
    cpu_losses, cpu_grads, cpu_speed = train_steps(cpu_model, batches[: args.cpu_steps], args.compare_lr)
    gpu_model_cmp = build(CupyOps(), n_vocab)
    copy_params(build(NumpyOps(), n_vocab), gpu_model_cmp)
    gpu_losses, gpu_grads, _ = train_steps(gpu_model_cmp, batches[: args.cpu_steps], args.compare_lr)
    grad_rel = {k: float(numpy.abs(cpu_grads[k] - gpu_grads[k]).max() / (numpy.abs(cpu_grads[k]).max() + 1e-12))
                for k in cpu_grads}
    loss_diff = float(numpy.max(numpy.abs(numpy.asarray(cpu_losses) - numpy.asarray(gpu_losses))))
    print(f"loss curves over {args.cpu_steps} steps (SGD lr {args.compare_lr}): max |cpu - gpu| = {loss_diff:.2e}")
    print(f"first-step gradients, max relative difference per parameter: {max(grad_rel.values()):.2e}")
    gpu_losses_long, _, gpu_speed = train_steps(gpu_model, batches, CONFIG["lr"])
    print(f"GPU training: {gpu_speed:,.0f} tokens/s (batch {CONFIG['batch_size']}, bptt {CONFIG['bptt']}); "
          f"CPU {cpu_speed:,.0f} tokens/s; loss {gpu_losses_long[0]:.2f} -> {gpu_losses_long[-1]:.2f}")
    result = {"data": source, "compare_lr": args.compare_lr, "cpu_gpu_max_loss_diff": loss_diff, "grad_max_rel_diff": grad_rel,
              "gpu_train_tokens_per_s": gpu_speed, "cpu_train_tokens_per_s": cpu_speed,
              "gpu_loss_first_last": [gpu_losses_long[0], gpu_losses_long[-1]], "cpu_losses": cpu_losses,
              "gpu_losses": gpu_losses}
    if not args.skip_spacy_train:
        with tempfile.TemporaryDirectory() as tmp:
            words = [str(i) for i in ids[:200_000]]
            lines = [" ".join(words[i : i + 60]) for i in range(0, len(words), 60)]
            (Path(tmp) / "train.txt").write_text("\n".join(lines[:-200]) + "\n")
            (Path(tmp) / "dev.txt").write_text("\n".join(lines[-200:]) + "\n")
            repo = Path(__file__).resolve().parent.parent
            cmd = [sys.executable, "-m", "spacy", "train", str(repo / "configs" / "lstm_lm.cfg"),
                   "--paths.train", f"{tmp}/train.txt", "--paths.dev", f"{tmp}/dev.txt", "--gpu-id", "0",
                   "--training.max_steps", str(args.steps), "--training.eval_frequency", "100",
                   "--output", f"{tmp}/out"]
            start = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True)
            print(out.stdout[-3000:], out.stderr[-2000:])
            result["spacy_train_gpu_returncode"] = out.returncode
            result["spacy_train_gpu_seconds"] = time.perf_counter() - start
            if out.returncode == 0:
                result["spacy_train_gpu_meta"] = json.loads((Path(tmp) / "out/model-last/meta.json").read_text())[
                    "performance"]
    write_results("gpu_check", result)
    ok = loss_diff < 1e-2 and max(grad_rel.values()) < 1e-3
    print("GPU CHECK", "PASSED" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
