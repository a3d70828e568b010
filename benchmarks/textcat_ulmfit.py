"""LM transfer for text classification with the shipped configs, as a user runs them: `spacy train`
steps, each output feeding the next by path; dev chooses, test is scored once per run.

1. General LMs (skipped with --general-lm / --general-lm-backward, step-1 outputs to reuse):
   configs/lstm_lm_pretrain.cfg on WikiText-2 train + the IMDB *train* reviews (text only) + the
   SQuAD train contexts (never an evaluation split), forward and ``--system.direction backward``.
2. Task LMs: configs/lstm_lm_finetune.cfg on the task's training text (labels stripped; the
   vocabulary grown by the task's new words), one per direction. ``--finetune-steps 0`` skips it
   (IMDB: the general LM has read the IMDB train reviews already).
3. Classifiers, per seed and per fraction of the training labels (the LM steps always read the
   whole training *text*: labels are what the learning curve withholds):
   - ``scratch``: configs/textcat_lstm.cfg (no LM);
   - ``forward`` / ``backward``: configs/textcat_lstm_lm.cfg over that direction's task LM;
   - ``both``: configs/textcat_bilm_lm.cfg (spacy_lm.BiLMListener.v1 over both task LMs);
   - ``avg``: ULMFiT's forward + backward classifiers, their probabilities averaged (needs both
     runs of the same seed and fraction; costs no training).

Per run: wall seconds of each step, dev and test accuracy / macro-F1 / ECE, inference words/s of
the pipeline (nlp.pipe, batch 128). JSON is rewritten after every run (a partial run keeps what it
measured). Reads ../shared/data (or --data-dir; fails clearly when missing).

    python benchmarks/textcat_ulmfit.py --dataset sst2 --general-lm W/lm_forward/model-best \\
        --general-lm-backward W/lm_backward/model-best --systems scratch forward backward both avg
    python benchmarks/textcat_ulmfit.py --dataset sst2 ... --fractions 0.1 0.3 1.0   # learning curve
    python benchmarks/textcat_ulmfit.py --dataset sst2 --pretrain-steps 20 --finetune-steps 20 \\
        --textcat-steps 20 --limit 200 --systems forward --name ulmfit_smoke     # a smoke run
"""
import argparse
import json
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPO, write_results  # noqa: E402
from textcat import DATA, DATASETS, read_splits  # noqa: E402
from textcat_speed import words_per_s  # noqa: E402

CONFIGS = REPO / "configs"
TOKENIZER = {"sst2": "spacy_lm.WhitespaceTokenizer.v1", "sst5": "spacy_lm.WhitespaceTokenizer.v1",
             "imdb": "spacy.Tokenizer.v1"}
DIRECTIONS = ("forward", "backward")
SYSTEMS = ("scratch", "forward", "backward", "both", "avg")
QUIET = ["--training.logger.progress_bar", "null"]


def spacy_train(config: str, output: Path, overrides: List[str], log: Path) -> float:
    """Run `python -m spacy train`, its output in ``log``; wall seconds."""
    cmd = [sys.executable, "-m", "spacy", "train", str(CONFIGS / config), "--output", str(output), *overrides]
    start = time.perf_counter()
    with log.open("w") as handle:
        handle.write(" ".join(shlex.quote(c) for c in cmd) + "\n")
        handle.flush()
        result = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT)
    if result.returncode:
        sys.exit(f"spacy train {config} failed (rc {result.returncode}): see {log}")
    return time.perf_counter() - start


def write_labelled(dataset: str, pairs, path: Path) -> Path:
    """Labelled pairs in the dataset's own format (label_first or csv)."""
    import csv

    raw = {name: raw for raw, name in DATASETS[dataset][4].items()}
    if DATASETS[dataset][3] == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows([t, raw[y]] for t, y in pairs)
    else:
        path.write_text("".join(f"{raw[y]} {t}\n" for t, y in pairs), encoding="utf-8")
    return path


def write_text(pairs, path: Path) -> Path:
    path.write_text("".join(" ".join(t.split()) + "\n" for t, _ in pairs), encoding="utf-8")
    return path


def label_fraction(pairs, fraction: float):
    """The first ``fraction`` of the pairs in one fixed shuffled order: every system and seed gets
    the same subset, and a smaller subset is part of every larger one."""
    if fraction >= 1.0:
        return pairs
    order = list(pairs)
    random.Random(1234).shuffle(order)
    return order[: max(1, round(fraction * len(order)))]


def lm_dev_perplexity(model_dir: Path) -> Optional[float]:
    perf = json.loads((model_dir / "meta.json").read_text()).get("performance", {})
    return perf.get("lm_stream_perplexity") or perf.get("lm_perplexity")


def predict_cats(nlp, texts: List[str]) -> List[Dict[str, float]]:
    return [dict(doc.cats) for doc in nlp.pipe(texts, batch_size=128)]


def score_cats(cats: List[Dict[str, float]], pairs, label_of: Dict[str, str]) -> Dict[str, float]:
    import spacy
    from spacy.training import Example

    from spacy_lm.metrics.scorers import textcat_score

    labels = sorted(label_of.values())
    make = spacy.blank("en").make_doc
    examples = []
    for (text, y), predicted in zip(pairs, cats):
        doc = make(text)
        doc.cats = predicted
        gold = make(text)
        gold.cats = {lab: float(lab == label_of[y]) for lab in labels}
        examples.append(Example(doc, gold))
    scores = textcat_score(examples, labels=labels, multi_label=False)
    return {k: round(float(scores[k]), 4) for k in ("cats_accuracy", "cats_macro_f", "cats_ece")}


def general_lms(args, work: Path, seconds: Dict[str, float]) -> Dict[str, Path]:
    """Step 1 outputs (model dirs) by direction: given, or trained here."""
    given = {"forward": args.general_lm, "backward": args.general_lm_backward}
    out = {}
    for direction in DIRECTIONS:
        if given[direction] is not None:
            out[direction] = given[direction]
            continue
        data = args.data_dir
        for part in ("wikitext-2/train.txt.gz", "imdb/train.csv.gz", "squad-v1.1/train-v1.1.json.gz"):
            if not (data / part).exists():
                sys.exit(f"{data / part} not found: step 1 reads it from the data dir (or pass --general-lm).")
        output = work / f"lm_general_{direction}"
        seconds[f"pretrain_{direction}"] = spacy_train("lstm_lm_pretrain.cfg", output, [
            "--paths.text", str(data / "wikitext-2/train.txt.gz"), "--paths.reviews", str(data / "imdb/train.csv.gz"),
            "--paths.contexts", str(data / "squad-v1.1/train-v1.1.json.gz"), "--system.direction", direction,
            "--training.max_steps", str(args.pretrain_steps), *args.common, *QUIET], work / f"lm_general_{direction}.log")
        out[direction] = output / "model-best"
    return out


def task_lms(args, general: Dict[str, Path], paths: Dict[str, Path], work: Path,
             seconds: Dict[str, float]) -> Dict[str, Path]:
    """Step 2 outputs by direction (the general LMs when --finetune-steps is 0)."""
    if args.finetune_steps == 0:
        return dict(general)
    given = {"forward": args.finetuned_lm, "backward": args.finetuned_lm_backward}
    out = {}
    for direction in DIRECTIONS:
        if given[direction] is not None:
            out[direction] = given[direction]
            continue
        output = work / f"lm_task_{direction}"
        if not (output / "model-best").exists():
            seconds[f"finetune_{direction}"] = spacy_train("lstm_lm_finetune.cfg", output, [
                "--paths.lm_pipeline", str(general[direction]), "--paths.train", str(paths["train_text"]),
                "--paths.dev", str(paths["dev_text"]), "--system.direction", direction,
                "--training.max_steps", str(args.finetune_steps), *args.tokenizer, *args.common, *QUIET],
                work / f"lm_task_{direction}.log")
        out[direction] = output / "model-best"
    return out


def train_classifier(system: str, args, lms: Dict[str, Path], train: Path, dev: Path, output: Path,
                     seed: int) -> float:
    common = ["--paths.train", str(train), "--paths.dev", str(dev), "--system.seed", str(seed), *args.fmt,
              *args.labels, *args.tokenizer, *args.common]
    if system == "scratch":
        return spacy_train("textcat_lstm.cfg", output, [*common, *args.scratch_overrides], output.parent / (output.name + ".log"))
    steps = ["--training.max_steps", str(args.textcat_steps), *args.textcat_overrides]
    if system == "both":
        return spacy_train(args.both_config, output, [
            "--paths.lm_pipeline", str(lms["forward"]), "--paths.lm_backward_pipeline", str(lms["backward"]),
            *common, *steps], output.parent / (output.name + ".log"))
    return spacy_train(args.transfer_config, output, ["--paths.lm_pipeline", str(lms[system]), *common, *steps],
                       output.parent / (output.name + ".log"))


def summarise(runs: List[Dict]) -> Dict[str, Dict[str, float]]:
    """Mean (and each seed's) test accuracy per system and fraction."""
    groups: Dict[Tuple[str, float], List[Dict]] = {}
    for run in runs:
        groups.setdefault((run["system"], run["fraction"]), []).append(run)
    out = {}
    for (system, fraction), group in sorted(groups.items()):
        accs = [r["test"]["cats_accuracy"] for r in group]
        out[f"{system}@{fraction}"] = {"seeds": [r["seed"] for r in group], "test_accuracy": accs,
                                      "mean": round(statistics.mean(accs), 4),
                                      "dev_mean": round(statistics.mean(r["dev"]["cats_accuracy"] for r in group), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="sst2", choices=list(DATASETS))
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--work-dir", type=Path, default=None, help="step outputs (default: a temp dir)")
    parser.add_argument("--general-lm", type=Path, default=None, help="a forward step-1 model dir to reuse")
    parser.add_argument("--general-lm-backward", type=Path, default=None, help="a backward step-1 model dir")
    parser.add_argument("--finetuned-lm", type=Path, default=None, help="a forward step-2 model dir to reuse")
    parser.add_argument("--finetuned-lm-backward", type=Path, default=None, help="a backward step-2 model dir")
    parser.add_argument("--lm-text", default=None, choices=list(DATASETS),
                        help="fine-tune the LMs on this dataset's training text (default: --dataset's)")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--fractions", nargs="+", type=float, default=[1.0])
    parser.add_argument("--pretrain-steps", type=int, default=14000)
    parser.add_argument("--finetune-steps", type=int, default=1000)
    parser.add_argument("--textcat-steps", type=int, default=1200)
    parser.add_argument("--limit", type=int, default=0, help="examples per split (0: all)")
    parser.add_argument("--textcat-overrides", type=shlex.split, default=[],
                        help="extra overrides of the transfer configs in one string: '--section.key value ...'")
    parser.add_argument("--scratch-overrides", type=shlex.split, default=[])
    parser.add_argument("--transfer-config", default="textcat_lstm_lm.cfg",
                        help="forward/backward classifier config: a name in configs/ or a path")
    parser.add_argument("--both-config", default="textcat_bilm_lm.cfg", help="bidirectional classifier config")
    parser.add_argument("--reuse", action="store_true",
                        help="score classifiers already in --work-dir instead of training them again")
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--name", default=None, help="results/<name>.json (default textcat_ulmfit_<dataset>)")
    args = parser.parse_args()
    if "avg" in args.systems and not {"forward", "backward"} <= set(args.systems):
        sys.exit("--systems avg averages the forward and backward classifiers: list forward and backward too.")
    splits = read_splits(args.dataset, args.data_dir, args.limit)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ulmfit_"))
    work.mkdir(parents=True, exist_ok=True)
    args.common = ["--gpu-id", str(args.gpu_id)]
    args.tokenizer = ["--nlp.tokenizer.@tokenizers", TOKENIZER[args.dataset]]
    args.fmt = ["--paths.format", DATASETS[args.dataset][3]]
    # the model's label for each label name of the splits: the configs map 0/1 to NEG/POS; other
    # datasets keep their raw labels ("0".."4")
    label_of = {name: name for name in DATASETS[args.dataset][4].values()}
    args.labels = []
    if set(label_of) != {"NEG", "POS"}:
        args.labels = ["--corpora.train.labels", "null", "--corpora.dev.labels", "null"]
        label_of = {name: raw for raw, name in DATASETS[args.dataset][4].items()}
    lm_splits = read_splits(args.lm_text, args.data_dir, args.limit) if args.lm_text else splits
    paths = {"train_text": write_text(lm_splits["train"], work / "train_text.txt"),
             "dev_text": write_text(lm_splits["dev"], work / "dev_text.txt"),
             "dev": write_labelled(args.dataset, splits["dev"], work / f"dev.{DATASETS[args.dataset][3]}")}
    seconds: Dict[str, float] = {}
    uses_lm = any(s != "scratch" for s in args.systems)
    general = general_lms(args, work, seconds) if uses_lm else {}
    lms = task_lms(args, general, paths, work, seconds) if uses_lm else {}
    result = {"dataset": args.dataset, "n": {k: len(v) for k, v in splits.items()}, "work_dir": str(work),
              "general_lms": {k: str(v) for k, v in general.items()}, "task_lms": {k: str(v) for k, v in lms.items()},
              "lm_dev_perplexity": {f"{stage}_{d}": lm_dev_perplexity(p) for stage, group in
                                    (("general", general), ("task", lms)) for d, p in group.items()},
              "lm_seconds": {k: round(v, 1) for k, v in seconds.items()},
              "steps": {"pretrain": args.pretrain_steps, "finetune": args.finetune_steps,
                        "textcat": args.textcat_steps}, "runs": []}
    import spacy

    if args.gpu_id >= 0:
        spacy.require_gpu(args.gpu_id)
    texts = {split: [t for t, _ in splits[split]] for split in ("dev", "test")}
    for fraction in args.fractions:
        train_pairs = label_fraction(splits["train"], fraction)
        train = write_labelled(args.dataset, train_pairs, work / f"train_{fraction}.{DATASETS[args.dataset][3]}")
        for seed in args.seeds:
            cats: Dict[str, Dict[str, List]] = {}
            for system in args.systems:
                if system == "avg":
                    cats["avg"] = {split: [{k: (a[k] + b[k]) / 2 for k in a} for a, b in
                                           zip(cats["forward"][split], cats["backward"][split])]
                                   for split in ("dev", "test")}
                    took, speed = 0.0, None
                else:
                    output = work / f"textcat_{system}_{fraction}_{seed}"
                    if args.reuse and (output / "model-best").exists():
                        took = None  # trained by an earlier run: see that run's JSON for its time
                    else:
                        took = train_classifier(system, args, lms, train, paths["dev"], output, seed)
                    nlp = spacy.load(output / "model-best")
                    cats[system] = {split: predict_cats(nlp, texts[split]) for split in ("dev", "test")}
                    speed = round(words_per_s(nlp, [nlp.make_doc(t) for t in texts["test"]], 128), 1)
                run = {"system": system, "fraction": fraction, "seed": seed,
                       "n_train": len(train_pairs),
                       "dev": score_cats(cats[system]["dev"], splits["dev"], label_of),
                       "test": score_cats(cats[system]["test"], splits["test"], label_of),
                       "train_seconds": None if took is None else round(took, 1), "infer_words_per_s": speed}
                print(json.dumps(run), flush=True)
                result["runs"].append(run)
                result["summary"] = summarise(result["runs"])
                write_results(args.name or f"textcat_ulmfit_{args.dataset}", result)
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
