"""SQuAD v1.1 question answering: our `qa` pipelines on SQuAD dev and XQuAD-en, beside the
baselines (benchmarks/qa_baselines.py) and the PyTorch DrQA-style peer (benchmarks/qa_peer.py).

    python benchmarks/qa.py eval --model qa_model/model-best --name no_lm [--train-log train.log]
        SQuAD dev (all 10,570 questions) and XQuAD-en (1,190) EM / F1 with the official metric,
        inference questions/s; merged into benchmarks/results/qa.json under "ours"/NAME.
    python benchmarks/qa.py table
        prints the markdown table of benchmarks/README.md from qa.json, qa_baselines.json, qa_peer*.json.

Training runs are `spacy train configs/qa.cfg` (see benchmarks/README.md for the commands and
budgets). Reads ../shared/data/squad-v1.1 and ../shared/data/xquad-en (--data-dir); fails
clearly when they are missing. XQuAD-en is a subset of SQuAD dev: reported, never tuned on.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, write_results  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def data_files(data_dir: Path) -> Dict[str, Path]:
    files = {"dev": data_dir / "squad-v1.1" / "dev-v1.1.json.gz", "xquad_en": data_dir / "xquad-en" / "xquad.en.json"}
    for name, path in files.items():
        if not path.exists():
            sys.exit(f"{name}: {path} not found. This benchmark reads ../shared/data/squad-v1.1 and "
                     f"../shared/data/xquad-en; pass --data-dir to a folder holding both.")
    return files


def evaluate(nlp, path: Path, batch_size: int = 16) -> Dict[str, Any]:
    """EM / F1 over every question of a SQuAD-format file and inference questions/s."""
    from spacy_lm.corpora.squad import read_squad
    from spacy_lm.metrics.qa import squad_scores

    records = list(read_squad(path))
    references = {q["id"]: [a["text"] for a in q["answers"]] for r in records for q in r["qas"]}
    docs = []
    for record in records:
        doc = nlp.make_doc(record["context"])
        doc._.questions = [{"id": q["id"], "text": q["question"].strip()} for q in record["qas"]]
        docs.append(doc)
    predictions: Dict[str, str] = {}
    start = time.perf_counter()
    for doc in nlp.pipe(docs, batch_size=batch_size):
        predictions.update({a["id"]: a["text"] for a in doc._.answers})
    seconds = time.perf_counter() - start
    scores = squad_scores(predictions, references)
    return {"exact_match": round(scores["exact_match"], 2), "f1": round(scores["f1"], 2),
            "questions": len(references), "seconds": round(seconds, 1),
            "questions_per_second": round(len(references) / seconds, 1)}


def train_summary(model: Path) -> Dict[str, Any]:
    """What the training run's saved meta and config say (steps, settings, held-out scores)."""
    import srsly

    meta = srsly.read_json(model / "meta.json") if (model / "meta.json").exists() else {}
    return {"performance": meta.get("performance"), "spacy_lm_pipeline": meta.get("pipeline"),
            "components": meta.get("components")}


def run_eval(args) -> None:
    import spacy
    from threadpoolctl import threadpool_limits

    files = data_files(Path(args.data_dir))
    threadpool_limits(args.threads)
    nlp = spacy.load(args.model)
    qa = nlp.get_pipe("qa")
    entry: Dict[str, Any] = {"model": str(args.model), "config": nlp.config["components"]["qa"].copy(),
                             "training": {k: nlp.config["training"][k] for k in ("max_epochs", "max_steps", "dropout")},
                             "n_parameters": int(sum(node.get_param(n).size for node in qa.model.walk()
                                                     for n in node.param_names if node.has_param(n))),
                             "note": args.note, "train": train_summary(Path(args.model))}
    for split, path in files.items():
        entry[split] = evaluate(nlp, path)
        print(split, entry[split], flush=True)
    out = RESULTS / "qa.json"
    payload = json.loads(out.read_text()) if out.exists() else {"ours": {}}
    payload.setdefault("ours", {})[args.name] = {**entry, "load_average": os.getloadavg()}
    payload.pop("command", None)
    write_results("qa", payload)


def _row(name: str, dev: Dict[str, Any], xquad: Dict[str, Any]) -> str:
    cell = lambda d, k: f"{d[k]:.1f}" if isinstance(d.get(k), (int, float)) else "–"  # noqa: E731
    return f"| {name} | {cell(dev, 'exact_match')} | {cell(dev, 'f1')} | {cell(xquad, 'exact_match')} | {cell(xquad, 'f1')} |"


def run_table(args) -> None:
    """The rows of every result file there: baselines, ours, the peer runs."""
    rows: List[str] = []
    baselines = RESULTS / "qa_baselines.json"
    if baselines.exists():
        results = json.loads(baselines.read_text())["results"]
        for name in ("random", "sliding_window", "sliding_window_no_distance", "word_overlap"):
            rows.append(_row(f"baseline: {name}", results["dev"].get(name, {}), results["xquad"].get(name, {})))
    ours = RESULTS / "qa.json"
    if ours.exists():
        for name, result in json.loads(ours.read_text()).get("ours", {}).items():
            rows.append(_row(f"spacy_lm qa: {name}", result["dev"], result["xquad_en"]))
    for peer in sorted(RESULTS.glob("qa_peer*.json")):
        result = json.loads(peer.read_text())
        rows.append(_row(f"PyTorch peer ({peer.stem})", result.get("dev", {}), result.get("xquad", {})))
    print("| model | dev EM | dev F1 | XQuAD-en EM | XQuAD-en F1 |\n|---|---:|---:|---:|---:|")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval")
    ev.add_argument("--model", required=True)
    ev.add_argument("--name", required=True)
    ev.add_argument("--note", default="")
    ev.add_argument("--threads", type=int, default=1)
    ev.add_argument("--data-dir", default=str(DATA))
    sub.add_parser("table")
    args = parser.parse_args()
    run_eval(args) if args.command == "eval" else run_table(args)


if __name__ == "__main__":
    main()
