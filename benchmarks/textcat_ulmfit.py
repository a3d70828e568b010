"""ULMFiT with the shipped configs, as a user runs it: three `spacy train` steps, each output feeding
the next by path, then the test split scored once.

1. configs/lstm_lm.cfg on WikiText-2 train (lower-cased: --components.lstm_lm.attr LOWER), valid as
   dev (skipped with --general-lm DIR, a step-1 output to reuse);
2. configs/lstm_lm_finetune.cfg on the task's training text (labels stripped; dev text as dev);
3. configs/textcat_lstm_lm.cfg (spacy_lm.TextCatLSTM.v2 over the LM's states, DiscriminativeAdam,
   gradual unfreezing, slanted triangular rates), model-best chosen on dev by spaCy.

Measured: wall seconds of each step, the LM's dev perplexity after steps 1 and 2, dev and test
accuracy / macro-F1 / ECE of model-best, and inference words/s of the whole pipeline (LM + textcat,
nlp.pipe at batch 128). Reads ../shared/data (or --data-dir; fails clearly when missing).

    python benchmarks/textcat_ulmfit.py --dataset sst2
    python benchmarks/textcat_ulmfit.py --dataset sst5 --general-lm /tmp/ulmfit/lm_general
    python benchmarks/textcat_ulmfit.py --dataset sst2 --general-steps 20 --finetune-steps 20 \\
        --textcat-steps 20 --limit 200 --name ulmfit_smoke                       # a smoke run
"""
import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPO, write_results  # noqa: E402
from textcat import DATA, DATASETS, read_splits  # noqa: E402
from textcat_speed import words_per_s  # noqa: E402

CONFIGS = REPO / "configs"
TOKENIZER = {"sst2": "spacy_lm.WhitespaceTokenizer.v1", "sst5": "spacy_lm.WhitespaceTokenizer.v1",
             "imdb": "spacy.Tokenizer.v1"}


def spacy_train(config: str, output: Path, overrides: List[str], log: Path) -> float:
    """Run `python -m spacy train`, its output in ``log``; wall seconds."""
    cmd = [sys.executable, "-m", "spacy", "train", str(CONFIGS / config), "--output", str(output), *overrides]
    start = time.perf_counter()
    with log.open("w") as handle:
        result = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT)
    if result.returncode:
        sys.exit(f"spacy train {config} failed (rc {result.returncode}): see {log}")
    return time.perf_counter() - start


def write_splits(dataset: str, splits, folder: Path) -> Dict[str, Path]:
    """The classifier's files in the dataset's own format (label_first or csv) and the LM's text."""
    import csv

    paths = {}
    for split in ("train", "dev"):
        text = folder / f"{split}_text.txt"
        text.write_text("".join(" ".join(t.split()) + "\n" for t, _ in splits[split]), encoding="utf-8")
        paths[f"{split}_text"] = text
        raw = {name: raw for raw, name in DATASETS[dataset][4].items()}
        if DATASETS[dataset][3] == "csv":
            path = folder / f"{split}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["text", "label"])
                writer.writerows([t, raw[y]] for t, y in splits[split])
        else:
            path = folder / f"{split}.txt"
            path.write_text("".join(f"{raw[y]} {t}\n" for t, y in splits[split]), encoding="utf-8")
        paths[split] = path
    return paths


def lm_dev_perplexity(model_dir: Path) -> float:
    meta = json.loads((model_dir / "meta.json").read_text())
    perf = meta.get("performance", {})
    return perf.get("lm_stream_perplexity") or perf.get("lm_perplexity")


def score(nlp, pairs, label_of: Dict[str, str]) -> Dict[str, float]:
    from spacy.training import Example

    from spacy_lm.metrics.scorers import textcat_score

    labels = sorted(label_of.values())
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {lab: float(lab == label_of[y]) for lab in labels}})
                for t, y in pairs]
    docs = list(nlp.pipe((eg.predicted for eg in examples), batch_size=128))
    scores = textcat_score([Example(d, eg.reference) for d, eg in zip(docs, examples)], labels=labels,
                           multi_label=False)
    return {k: scores[k] for k in ("cats_accuracy", "cats_macro_f", "cats_ece")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="sst2", choices=list(DATASETS))
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--work-dir", type=Path, default=None, help="step outputs (default: a temp dir)")
    parser.add_argument("--general-lm", type=Path, default=None, help="a step-1 output to reuse (skips step 1)")
    parser.add_argument("--finetuned-lm", type=Path, default=None, help="a step-2 output to reuse (skips steps 1-2)")
    parser.add_argument("--general-steps", type=int, default=10000)
    parser.add_argument("--finetune-steps", type=int, default=1000)
    parser.add_argument("--textcat-steps", type=int, default=1200)
    parser.add_argument("--limit", type=int, default=0, help="examples per split (0: all)")
    parser.add_argument("--textcat-overrides", type=shlex.split, default=[],
                        help="extra step-3 overrides in one string: --textcat-overrides='--section.key value ...'")
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--name", default=None, help="results/<name>.json (default textcat_ulmfit_<dataset>)")
    args = parser.parse_args()
    wiki = args.data_dir / "wikitext-2"
    if not (wiki / "train.txt.gz").exists() and args.general_lm is None:
        sys.exit(f"{wiki}/train.txt.gz not found: step 1 reads WikiText-2 from the data dir (or pass --general-lm).")
    splits = read_splits(args.dataset, args.data_dir, args.limit)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ulmfit_"))
    work.mkdir(parents=True, exist_ok=True)
    paths = write_splits(args.dataset, splits, work)
    common = ["--gpu-id", str(args.gpu_id)]
    quiet = ["--training.logger.progress_bar", "null"]  # the LM configs' ConsoleLogger.v3
    tokenizer = ["--nlp.tokenizer.@tokenizers", TOKENIZER[args.dataset]]
    seconds: Dict[str, float] = {}
    general = args.general_lm
    if general is None:
        general = work / "lm_general"
        seconds["pretrain"] = spacy_train("lstm_lm.cfg", general, [
            "--paths.train", str(wiki / "train.txt.gz"), "--paths.dev", str(wiki / "valid.txt"),
            "--components.lstm_lm.attr", "LOWER", "--training.max_steps", str(args.general_steps), *common, *quiet],
            work / "lm_general.log")
    task_lm = args.finetuned_lm
    if task_lm is None:
        task_lm = work / "lm_task"
        seconds["finetune"] = spacy_train("lstm_lm_finetune.cfg", task_lm, [
            "--paths.lm_pipeline", str(general / "model-best"), "--paths.train", str(paths["train_text"]),
            "--paths.dev", str(paths["dev_text"]), "--training.max_steps", str(args.finetune_steps), *tokenizer,
            *common, *quiet], work / "lm_task.log")
    # the model's label for each label name of the splits: the config maps 0/1 to NEG/POS; other
    # datasets keep their raw labels ("0".."4")
    label_of = {name: name for name in DATASETS[args.dataset][4].values()}
    labels: List[str] = []
    if set(label_of) != {"NEG", "POS"}:
        labels = ["--corpora.train.labels", "null", "--corpora.dev.labels", "null"]
        label_of = {name: raw for raw, name in DATASETS[args.dataset][4].items()}
    fmt = ["--paths.format", DATASETS[args.dataset][3]]
    seconds["textcat"] = spacy_train("textcat_lstm_lm.cfg", work / "textcat", [
        "--paths.lm_pipeline", str(task_lm / "model-best"), "--paths.train", str(paths["train"]),
        "--paths.dev", str(paths["dev"]), "--training.max_steps", str(args.textcat_steps), *fmt, *labels,
        *tokenizer, *common, *args.textcat_overrides], work / "textcat.log")
    import spacy

    if args.gpu_id >= 0:
        spacy.require_gpu(args.gpu_id)
    nlp = spacy.load(work / "textcat" / "model-best")
    dev, test = score(nlp, splits["dev"], label_of), score(nlp, splits["test"], label_of)
    docs = [nlp.make_doc(t) for t, _ in splits["test"]]
    speed = words_per_s(nlp, docs, 128)
    result = {"dataset": args.dataset, "n": {k: len(v) for k, v in splits.items()}, "work_dir": str(work),
              "general_lm": str(general), "finetuned_lm": str(task_lm), "seconds": {k: round(v, 1) for k, v in seconds.items()},
              "lm_dev_perplexity": {"general": lm_dev_perplexity(general / "model-best"),
                                    "finetuned": lm_dev_perplexity(task_lm / "model-best")},
              "dev": dev, "test": test, "infer_words_per_s": round(speed, 1),
              "textcat_overrides": args.textcat_overrides,
              "steps": {"general": args.general_steps, "finetune": args.finetune_steps,
                        "textcat": args.textcat_steps}}
    print(json.dumps(result, indent=2))
    write_results(args.name or f"textcat_ulmfit_{args.dataset}", result)


if __name__ == "__main__":
    main()
