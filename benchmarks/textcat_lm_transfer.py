"""LM transfer for text classification (ULMFiT in spaCy): train `lstm_lm` on the task's own
training text, source it into configs/textcat_lstm_lm.cfg (spaCy's `textcat` reading the LM's
hidden states through spacy_lm.LSTMLMListener.v1), fine-tune, and score the test split.

The pipeline is built the way `spacy train` builds it: configs/textcat_lstm_lm.cfg, the LM sourced
from disk, `spacy.training.initialize.init_nlp`. The loops are our own so that batches hold docs
of similar length (IMDB reviews run from 10 to 2,500 tokens; padding would dominate) and each
phase can be capped in wall time:

1. LM: `nlp.update` on the training texts (IMDB: train minus the 2,500 dev reviews; SST-2:
   train sentences, optionally with --lm-extra WikiText-2 train lines), Adam, length-bucketed
   batches; LM perplexity on the dev texts at the end.
2. Classifier: the first --frozen-epochs epochs with the LM frozen (annotating only: the
   listener gets its hidden states without gradient), then joint fine-tuning (LM loss plus the
   classification gradient through the listener). Dev accuracy after every epoch; the best
   epoch's weights are kept, as `spacy train` keeps model-best.
3. Test accuracy, macro-F1, ECE and inference words/s of the whole pipeline.

Reads ../shared/data (or --data-dir; fails clearly when missing).

    python benchmarks/textcat_lm_transfer.py --dataset imdb --gpu-id 0          # on a GPU
    python benchmarks/textcat_lm_transfer.py --dataset sst2 --limit 300 --lm-epochs 1 \\
        --cls-epochs 1 --name transfer_smoke                                    # a smoke run
"""
import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPO, write_results  # noqa: E402
from textcat import DATA, DATASETS, evaluate, read_splits  # noqa: E402

TOKENIZERS = {  # the benchmark corpora's own tokenisation: SST is PTB-tokenised, IMDB raw text
    "sst2": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"},
    "sst5": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"},
    "imdb": {"@tokenizers": "spacy.Tokenizer.v1"},
}


def length_batches(examples: List, batch_size: int, rng: random.Random) -> List[List]:
    """Batches of docs of similar length, in random order (little padding, still shuffled)."""
    keyed = sorted(examples, key=lambda eg: (len(eg.reference), rng.random()))
    batches = [keyed[i: i + batch_size] for i in range(0, len(keyed), batch_size)]
    rng.shuffle(batches)
    return batches


def wikitext_lines(data_dir: Path, limit: int) -> List[str]:
    """WikiText-2 train paragraphs (headings and blank lines dropped) as extra LM text."""
    from spacy_lm.corpora.files import open_text

    path = data_dir / "wikitext-2" / "train.txt.gz"
    if not path.exists():
        sys.exit(f"{path} not found: --lm-extra reads WikiText-2 from the data dir.")
    with open_text(path) as handle:
        lines = [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("=")]
    return lines[:limit] if limit else lines


def tokenize(args, splits, tokenizer) -> Dict[str, List]:
    """Docs of every split (and the extra LM text), tokenised once in ``--n-process`` processes
    (before CUDA is initialised: forked workers must not inherit it)."""
    import spacy

    nlp = spacy.blank("en", config={"nlp": {"tokenizer": tokenizer}})
    texts = {name: [t for t, _ in pairs] for name, pairs in splits.items()}
    if args.lm_extra:
        texts["lm_extra"] = wikitext_lines(args.data_dir, args.limit)
    start = time.perf_counter()
    docs = {name: list(nlp.pipe(ts, batch_size=256, n_process=args.n_process)) for name, ts in texts.items()}
    print(f"tokenised {sum(len(d) for d in docs.values())} docs in {time.perf_counter() - start:.1f} s", flush=True)
    return docs


def labelled(docs, pairs, labels) -> List:
    from spacy.training import Example

    return [Example.from_dict(doc, {"cats": {lab: float(lab == y) for lab in labels}}) for doc, (_, y) in
            zip(docs, pairs)]


def train_lm(args, docs, tokenizer) -> Tuple[Path, Dict[str, object]]:
    import spacy
    from spacy.training import Example
    from thinc.api import Adam, fix_random_seed

    fix_random_seed(args.seed)
    nlp = spacy.blank("en", config={"nlp": {"tokenizer": tokenizer}})
    nlp.add_pipe("lstm_lm", config={
        "model": {"@architectures": "spacy_lm.LSTMLanguageModel.v1", "width": args.lm_width,
                  "depth": args.lm_depth, "dropout": args.lm_dropout}, "attr": args.lm_attr,
        "min_freq": args.lm_min_freq, "max_size": args.lm_vocab, "max_length": args.bptt})
    examples = [Example(doc, doc) for doc in docs["train"] + docs.get("lm_extra", [])]
    dev = [Example(doc, doc) for doc in docs["dev"]]
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(args.lm_learn_rate, grad_clip=1.0))
    rng = random.Random(args.seed)
    n_tokens = sum(len(eg.reference) for eg in examples)
    start = time.perf_counter()
    steps, epochs_done, losses = 0, 0.0, []
    for epoch in range(args.lm_epochs):
        batches = length_batches(examples, args.lm_batch_size, rng)
        for i, batch in enumerate(batches):
            step_losses = nlp.update(batch, sgd=optimizer, drop=args.lm_dropout)
            losses.append(step_losses["lstm_lm"])
            steps += 1
            if steps % 50 == 0:
                print(f"  LM step {steps} (epoch {epoch + 1}): loss {sum(losses[-50:]) / 50:.3f}, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
            if time.perf_counter() - start > args.lm_time:
                break
        epochs_done = epoch + (i + 1) / len(batches)
        if time.perf_counter() - start > args.lm_time:
            break
    train_s = time.perf_counter() - start
    scores = nlp.evaluate(dev[: args.lm_dev_docs])
    out = Path(tempfile.mkdtemp()) / "lm"
    nlp.to_disk(out)
    row = {"train_tokens": n_tokens, "steps": steps, "epochs": round(epochs_done, 3), "train_s": round(train_s, 1),
           "train_tokens_per_s": round(n_tokens * epochs_done / train_s, 1),
           "vocab": len(nlp.get_pipe("lstm_lm").lm_vocab),
           "dev_perplexity": scores.get("lm_perplexity"), "dev_accuracy": scores.get("lm_accuracy"),
           "first_loss": losses[0] if losses else None, "last_loss": sum(losses[-50:]) / max(1, len(losses[-50:]))}
    print("LM", row, flush=True)
    return out, row


def write_label_first(pairs, labels_by_name, path: Path) -> None:
    raw = {name: raw for raw, name in labels_by_name.items()}
    with path.open("w", encoding="utf-8") as f:
        for text, label in pairs:
            f.write(f"{raw[label]} {' '.join(text.split())}\n")


def build_classifier(args, lm_dir: Path, tokenizer, splits):
    """configs/textcat_lstm_lm.cfg with the LM sourced, initialised as `spacy train` does."""
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config

    spec = DATASETS[args.dataset]
    tmp = Path(tempfile.mkdtemp())
    write_label_first(splits["train"][:200], spec[4], tmp / "train.txt")  # initialize reads labels only
    write_label_first(splits["dev"][:200], spec[4], tmp / "dev.txt")
    overrides = {
        "paths.lm_pipeline": str(lm_dir), "paths.train": str(tmp / "train.txt"), "paths.dev": str(tmp / "dev.txt"),
        "paths.format": "label_first", "nlp.tokenizer": tokenizer, "system.seed": args.seed,
        "components.textcat.model.tok2vec.width": args.lm_width,
        "components.textcat.model.depth": args.cls_depth, "components.textcat.model.width": args.cls_width,
        "components.textcat.model.pooling": args.pooling, "components.textcat.model.dropout": args.cls_dropout,
        "corpora.train.labels": dict(spec[4]), "corpora.dev.labels": dict(spec[4]),
        "training.optimizer.learn_rate": args.cls_learn_rate,
    }
    config = load_config(REPO / "configs" / "textcat_lstm_lm.cfg", overrides=overrides, interpolate=False)
    nlp = init_nlp(config, use_gpu=args.gpu_id)
    return nlp


def test_scores(args, nlp, test, labels, report) -> Dict[str, object]:
    """Test scores over chunks of the (shuffled) test set, each chunk sorted by length for
    batching; stops after --test-time seconds and says how many docs were scored."""
    from spacy_lm.metrics.scorers import textcat_score

    gold, n_words, infer_s = [], 0, 0.0
    for i in range(0, len(test), 2500):
        chunk = sorted(test[i: i + 2500], key=lambda eg: len(eg.predicted))
        docs = [eg.predicted.copy() for eg in chunk]
        start = time.perf_counter()
        predicted = list(nlp.pipe(docs, batch_size=128))
        infer_s += time.perf_counter() - start
        n_words += sum(len(d) for d in docs)
        gold.extend(type(eg)(doc, eg.reference) for eg, doc in zip(chunk, predicted))
        scores = textcat_score(gold, labels=labels, multi_label=False)
        report({"accuracy": scores["cats_accuracy"], "macro_f1": scores["cats_macro_f"], "ece": scores["cats_ece"],
                "n_test_scored": len(gold), "infer_words_per_s": round(n_words / infer_s, 1)})
        if infer_s > args.test_time:
            break
    return report(None)


def train_classifier(args, nlp, docs, splits, save) -> Dict[str, object]:
    from thinc.api import Adam, fix_random_seed

    fix_random_seed(args.seed)
    labels = sorted(set(DATASETS[args.dataset][4].values()))
    examples = labelled(docs["train"], splits["train"], labels)
    dev = labelled(docs["dev"], splits["dev"], labels)
    optimizer = Adam(args.cls_learn_rate, grad_clip=1.0)
    rng = random.Random(args.seed)
    best = (-1.0, 0, None)
    curve, train_s = [], 0.0
    start_all = time.perf_counter()
    for epoch in range(1, args.cls_epochs + 1):
        frozen = epoch <= args.frozen_epochs
        start = time.perf_counter()
        for batch in length_batches(examples, args.cls_batch_size, rng):
            if frozen:
                nlp.update(batch, sgd=optimizer, drop=args.cls_dropout, exclude=["lstm_lm"], annotates=["lstm_lm"])
            else:
                nlp.update(batch, sgd=optimizer, drop=args.cls_dropout)
            if time.perf_counter() - start_all > args.cls_time:
                break
        train_s += time.perf_counter() - start
        dev_acc = evaluate(nlp, dev, labels)[0]["cats_accuracy"]
        curve.append({"epoch": epoch, "lm_frozen": frozen, "dev_accuracy": round(dev_acc, 4),
                      "epoch_s": round(time.perf_counter() - start, 1)})
        print("  classifier", curve[-1], flush=True)
        save({"dev_curve": curve})
        if dev_acc > best[0]:
            best = (dev_acc, epoch, nlp.to_bytes())
        if time.perf_counter() - start_all > args.cls_time:
            break
    nlp.from_bytes(best[2])
    row = {"best_epoch": best[1], "dev_accuracy": best[0], "dev_curve": curve, "train_s": round(train_s, 1)}

    def report(scores):
        if scores is not None:
            row.update(scores)
            print("  test", scores, flush=True)
            save(row)
        return row

    test = labelled(docs["test"], splits["test"], labels)
    random.Random(args.seed).shuffle(test)  # IMDB's test file is sorted by label
    return test_scores(args, nlp, test, labels, report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="imdb", choices=list(DATASETS))
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="examples per split (0: all)")
    parser.add_argument("--lm-extra", action="store_true", help="also WikiText-2 train lines for the LM")
    parser.add_argument("--lm-width", type=int, default=400)
    parser.add_argument("--lm-depth", type=int, default=2)
    parser.add_argument("--lm-dropout", type=float, default=0.2)
    parser.add_argument("--lm-vocab", type=int, default=30000)
    parser.add_argument("--lm-min-freq", type=int, default=2)
    parser.add_argument("--bptt", type=int, default=70)
    parser.add_argument("--lm-batch-size", type=int, default=64)
    parser.add_argument("--lm-learn-rate", type=float, default=0.002)
    parser.add_argument("--lm-epochs", type=int, default=2)
    parser.add_argument("--lm-time", type=float, default=1e9, help="wall-time cap of the LM phase (s)")
    parser.add_argument("--lm-dev-docs", type=int, default=1000)
    parser.add_argument("--cls-depth", type=int, default=0, help="biLSTM layers over the LM states (0: pool them)")
    parser.add_argument("--cls-width", type=int, default=128)
    parser.add_argument("--pooling", default="mean_max", choices=["mean_max", "attention"])
    parser.add_argument("--cls-dropout", type=float, default=0.2)
    parser.add_argument("--cls-batch-size", type=int, default=32)
    parser.add_argument("--cls-learn-rate", type=float, default=0.001)
    parser.add_argument("--cls-epochs", type=int, default=3)
    parser.add_argument("--frozen-epochs", type=int, default=1)
    parser.add_argument("--cls-time", type=float, default=1e9, help="wall-time cap of the classifier phase (s)")
    parser.add_argument("--test-time", type=float, default=1e9, help="stop scoring test chunks after this (s)")
    parser.add_argument("--lm-attr", default="LOWER", choices=["ORTH", "LOWER", "NORM"])
    parser.add_argument("--n-process", type=int, default=1, help="tokeniser processes")
    parser.add_argument("--name", default=None, help="results/<name>.json (default textcat_lm_transfer_<dataset>)")
    args = parser.parse_args()
    import spacy

    import spacy_lm  # noqa: F401

    splits = read_splits(args.dataset, args.data_dir, args.limit)
    tokenizer = TOKENIZERS[args.dataset]
    docs = tokenize(args, splits, tokenizer)
    device = "cpu"
    if args.gpu_id >= 0:
        spacy.require_gpu(args.gpu_id)
        device = f"gpu {args.gpu_id}"
    payload: Dict[str, object] = {"settings": {**vars(args), "data_dir": str(args.data_dir), "device": device},
                                  "splits": {k: len(v) for k, v in docs.items()}}
    name = args.name or f"textcat_lm_transfer_{args.dataset}"

    def save(part: str):
        def write(row):  # results are rewritten after every phase: a capped run keeps what it measured
            payload[part] = row
            write_results(name, payload)
        return write

    lm_dir, lm_row = train_lm(args, docs, tokenizer)
    save("lm")(lm_row)
    nlp = build_classifier(args, lm_dir, tokenizer, splits)
    train_classifier(args, nlp, docs, splits, save("classifier"))


if __name__ == "__main__":
    main()
