"""Which training recipe wins on the `spacy train` path: perplexity vs tokens and vs seconds.

Each recipe trains configs/lstm_lm.cfg (stream training: 20 streams x 35 tokens a step) on
WikiText-2 train for the same number of steps, evaluated ``--evals`` times on the first
``--dev-lines`` lines of valid, and logs every evaluation with the tokens and seconds so far
(seconds include the evaluations, as a user's run does). Recipes differ only in the optimizer:

* ``adam``: Adam lr 0.002, gradients clipped to a global norm of 0.25 by the component.
* ``sgd``: plain SGD lr 20, the same global-norm clip (pytorch/examples word_language_model).

Reads ../shared/data/wikitext-2 (override with --data-dir) and fails clearly when it is missing.

    python benchmarks/lm_recipe.py --recipe adam --max-steps 1500 --evals 5
    python benchmarks/lm_recipe.py --recipe sgd --max-steps 1500 --evals 5
    python benchmarks/lm_recipe.py --recipe sgd --max-steps 1500 --evals 5 \
        --set components.lstm_lm.model.output '"full"' --results-name lm_recipe_sgd_full
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List

from spacy.util import registry

from _common import DEFAULT_DATA, REPO, machine_info, set_threads, write_results

CONFIG = REPO / "configs" / "lstm_lm.cfg"
RECIPES: Dict[str, Dict[str, object]] = {
    "adam": {"training.optimizer": {"@optimizers": "Adam.v1", "learn_rate": 0.002, "beta1": 0.9, "beta2": 0.999,
                                    "eps": 1e-8, "L2": 0.0, "L2_is_weight_decay": True, "grad_clip": 0.0,
                                    "use_averages": False},
             "components.lstm_lm.grad_norm_clip": 0.25},
    "sgd": {"training.optimizer": {"@optimizers": "SGD.v1", "learn_rate": 20.0, "L2": 0.0, "grad_clip": 0.0,
                                   "use_averages": False, "L2_is_weight_decay": True},
            "components.lstm_lm.grad_norm_clip": 0.25},
}
CURVE: List[Dict[str, float]] = []


@registry.loggers("bench.CurveLogger.v1")
def curve_logger():
    """Record each evaluation with the tokens and wall-clock seconds so far."""

    def setup(nlp, stdout=sys.stdout, stderr=sys.stderr):
        start = time.perf_counter()

        def log_step(info):
            if info is None or info.get("score") is None:
                return
            row = {"step": info["step"], "tokens": info["words"], "seconds": round(time.perf_counter() - start, 1),
                   "loss": float(info["losses"].get("lstm_lm", 0.0)), "score": float(info["score"])}
            for key in ("lm_perplexity", "lm_stream_perplexity"):
                if info["other_scores"].get(key) is not None:
                    row[key] = float(info["other_scores"][key])
            CURVE.append(row)
            print(json.dumps(row), file=stdout, flush=True)

        return log_step, lambda: None

    return setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), required=True)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--max-steps", type=int, default=1500)
    parser.add_argument("--evals", type=int, default=5)
    parser.add_argument("--dev-lines", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output-dir", type=Path, default=Path("/tmp/lm_recipe"))
    parser.add_argument("--set", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="more config overrides (JSON values), e.g. --set components.lstm_lm.model.output '\"full\"'")
    parser.add_argument("--results-name", default=None, help="results/<name>.json (default lm_recipe_<recipe>)")
    args = parser.parse_args()
    train = next((p for p in (args.data_dir / "train.txt", args.data_dir / "train.txt.gz") if p.exists()), None)
    if train is None or not (args.data_dir / "valid.txt").exists():
        sys.exit(f"WikiText-2 not found under {args.data_dir} (train.txt[.gz], valid.txt). This benchmark reads "
                 "../shared/data/wikitext-2; pass --data-dir.")
    set_threads(args.threads)
    from spacy.cli.train import train as spacy_train

    frequency = max(1, args.max_steps // args.evals)
    overrides = {"paths.train": str(train), "paths.dev": str(args.data_dir / "valid.txt"),
                 "corpora.dev.limit": args.dev_lines, "training.max_steps": frequency * (args.max_steps // frequency),
                 "training.eval_frequency": frequency, "training.logger": {"@loggers": "bench.CurveLogger.v1"},
                 **RECIPES[args.recipe], **{k: json.loads(v) for k, v in args.set}}
    load_at_start = os.getloadavg()
    start = time.perf_counter()
    name = args.results_name or f"lm_recipe_{args.recipe}"
    spacy_train(CONFIG, args.output_dir / name, overrides=overrides)
    payload = {"recipe": args.recipe, "overrides": {k: v for k, v in overrides.items() if k != "training.logger"},
               "curve": CURVE, "seconds": round(time.perf_counter() - start, 1), "load_average_at_start": load_at_start,
               "machine": machine_info(args.threads)}
    write_results(name, payload)


if __name__ == "__main__":
    main()
