"""Our LM's training and evaluation speed, two source trees side by side (a refactor must not slow it).

Each round runs one child process per tree (old, new, old, new, ...: alternating, so load drifts hit
both), which builds benchmarks/_common.ThincLM from its own tree (pytorch/examples' config:
emsize/nhid 200, 2 layers, bptt 35, batch 20, tied full softmax over WikiText-2's vocabulary),
warms up, then times training steps and evaluation steps on the same real WikiText-2 windows
(../shared/data/wikitext-2, or --data-dir). Reported: per tree the median over rounds of each
round's median tokens/s, and new/old ratios; the load average before and after.

    git worktree add /tmp/old_main main
    python benchmarks/layout_speed.py --old /tmp/old_main --new . --rounds 5   # -> results/layout_speed.json

No peer library is needed (PyTorch's ratio is lm_speed.py's job); both trees use the installed
spaCy/Thinc and read the data from the same folder.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "wikitext-2"

CHILD = r"""
import json, sys, time
tree, data_dir, batches, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path[:0] = [tree, tree + "/benchmarks"]
import numpy
import spacy_lm
assert spacy_lm.__file__.startswith(tree), (spacy_lm.__file__, tree)
from pathlib import Path
from _common import CONFIG, ThincLM, batchify, load_wikitext2, windows
data = load_wikitext2(Path(data_dir))
train = batchify(data["ids"]["train"], CONFIG["batch_size"])
lm = ThincLM(len(data["vocab"]))
lm.reset(CONFIG["batch_size"])
chunks = list(windows(train, CONFIG["bptt"]))[: warmup + batches]
def timed(step):
    rates = []
    for i, (x, y) in enumerate(chunks):
        start = time.perf_counter()
        step(x, y)
        if i >= warmup:
            rates.append(y.size / (time.perf_counter() - start))
    return sorted(rates)[len(rates) // 2]
train_rate = timed(lambda x, y: lm.train_step(x, y, CONFIG["lr"]))
eval_rate = timed(lambda x, y: lm.eval_step(x, y))
print(json.dumps({"train": train_rate, "eval": eval_rate}))
"""


def run_child(tree: Path, args) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OPENBLAS_NUM_THREADS": str(args.threads)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree.resolve()), str(args.data_dir), str(args.batches),
                          str(args.warmup)], capture_output=True, text=True, env=env, cwd=tree)
    if out.returncode != 0:
        sys.exit(f"the child for {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="the tree before (e.g. a worktree of main)")
    parser.add_argument("--new", type=Path, default=REPO)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not (args.data_dir / "valid.txt").exists():
        sys.exit(f"WikiText-2 not found in {args.data_dir} (this benchmark reads ../shared/data/wikitext-2; "
                 "pass --data-dir)")
    load_before = os.getloadavg()
    rounds = {"old": [], "new": []}
    for r in range(args.rounds):
        for name in ("old", "new"):
            rounds[name].append(run_child(getattr(args, name), args))
            print(f"round {r + 1} {name}: train {rounds[name][-1]['train']:,.0f} tok/s, "
                  f"eval {rounds[name][-1]['eval']:,.0f} tok/s", flush=True)
    medians = {name: {mode: statistics.median(x[mode] for x in rows) for mode in ("train", "eval")}
               for name, rows in rounds.items()}
    ratios = {mode: medians["new"][mode] / medians["old"][mode] for mode in ("train", "eval")}
    print(f"new/old: train {ratios['train']:.3f}x, eval {ratios['eval']:.3f}x")
    result = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "rounds": rounds, "medians": medians,
              "ratios_new_over_old": ratios, "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "threads": args.threads, "batches": args.batches, "old": str(args.old), "new": str(args.new)}
    out = REPO / "benchmarks" / "results" / "layout_speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
