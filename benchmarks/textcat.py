"""Text classification: spacy_lm.TextCatLSTM.v1 (from scratch) vs spaCy's TextCatBOW.v3 (and,
with --ensemble, TextCatEnsemble.v2) vs fastText, on SST-2 (sentence split), SST-5 and IMDB.

Every spaCy system is spaCy's own `textcat` component trained the same way in this process
(Adam, --epochs over shuffled minibatches of --batch-size docs, dev accuracy after every epoch and
the best epoch's weights kept, as `spacy train` keeps model-best); scores are on the test split.
Dev: SST's own dev files; IMDB has none, so 2,500 reviews of train are held out (seed 0).
fastText (`pip install fasttext-wheel`) runs twice: its supervised defaults, and the tuned
setting wordNgrams=2 with 25 epochs; it is skipped with a message when missing.

Measured per dataset and system: test accuracy and macro-F1, training wall seconds, and
inference words/s (nlp.pipe over the test docs; fastText: predict per line).

    python benchmarks/textcat.py                                # all data, writes results/textcat.json
    python benchmarks/textcat.py --limit 200 --epochs 1 --name textcat_smoke   # a smoke run
"""
import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPO, write_results  # noqa: E402

DATA = REPO.parent / "shared" / "data"
DATASETS = {
    # name: (train, test, dev or None (held out of train), format, label names by raw label)
    "sst2": ("sst2/sentence/stsa.binary.train", "sst2/sentence/stsa.binary.test",
             "sst2/sentence/stsa.binary.dev", "label_first", {"0": "NEG", "1": "POS"}),
    "sst5": ("sst5/stsa.fine.train", "sst5/stsa.fine.test", "sst5/stsa.fine.dev", "label_first",
             {str(i): f"L{i}" for i in range(5)}),
    "imdb": ("imdb/train.csv.gz", "imdb/test.csv.gz", None, "csv", {"0": "NEG", "1": "POS"}),
}
MULTIHASH = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 64,
             "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"], "rows": [5000, 1000, 2500, 500],
             "include_static_vectors": False}


def bow(ngram_size: int, output_layer: bool = True) -> dict:
    """spacy.TextCatBOW.v3; without its output layer it is a wide-and-deep system's linear part."""
    return {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": ngram_size,
            "no_output_layer": not output_layer, "length": 262144}


def lstm(version: int, width: int, linear_ngrams: int = 0) -> dict:
    """spacy_lm.TextCatLSTM.v1 (mean+max pooling) or .v2 (concat pooling + LayerNorm), optionally
    wide and deep with a BOW of ``linear_ngrams`` (v1 concatenates its scores, v2 sums logits)."""
    config = {"@architectures": f"spacy_lm.TextCatLSTM.v{version}", "tok2vec": MULTIHASH, "width": width,
              "depth": 1, "dropout": 0.2, "exclusive_classes": True}
    config.update({"pooling": "mean_max"} if version == 1 else {"pooling": "concat", "normalize": True})
    if linear_ngrams:
        config["linear_model"] = bow(linear_ngrams, output_layer=False)
    return config


SYSTEMS = {
    "spacy_lm_lstm": lstm(1, 128),
    "spacy_lm_lstm_bow": lstm(1, 128, linear_ngrams=2),
    "spacy_lm_lstm_v2": lstm(2, 128),
    "spacy_lm_lstm_v2_w64": lstm(2, 64),
    "spacy_lm_lstm_v2_bow": lstm(2, 64, linear_ngrams=2),  # configs/textcat_lstm.cfg
    "spacy_lm_lstm_v2_bow1": lstm(2, 64, linear_ngrams=1),
    "spacy_lm_lstm_v2_bow1_w128": lstm(2, 128, linear_ngrams=1),
    "spacy_bow_v3": bow(1),
    "spacy_bow_v3_bigram": bow(2),  # the peer of the wide-and-deep systems' linear part (and of tuned fastText)
    "spacy_ensemble_v2": {"@architectures": "spacy.TextCatEnsemble.v2",
                          "tok2vec": {"@architectures": "spacy.Tok2Vec.v2", "embed": MULTIHASH,
                                      "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 64,
                                                 "window_size": 1, "maxout_pieces": 3, "depth": 2}},
                          "linear_model": bow(1)},
}


IMDB_DEV_SIZE = 2500


def read_file(dataset: str, rel_path: str, data_dir: Path) -> List[Tuple[str, str]]:
    from spacy_lm.corpora.labelled import iter_labelled_texts

    spec = DATASETS[dataset]
    path = data_dir / rel_path
    if not path.exists():
        sys.exit(f"{path} not found: this benchmark reads ../shared/data ({dataset}); pass --data-dir.")
    return [(text, spec[4][raw]) for text, raw in iter_labelled_texts(path, format=spec[3])]


def read_splits(dataset: str, data_dir: Path, limit: int = 0) -> Dict[str, List[Tuple[str, str]]]:
    """train / dev / test pairs; IMDB's dev is 2,500 reviews held out of train (seed 0)."""
    spec = DATASETS[dataset]
    splits = {"train": read_file(dataset, spec[0], data_dir), "test": read_file(dataset, spec[1], data_dir)}
    rng = random.Random(0)
    if spec[2] is None:
        rng.shuffle(splits["train"])  # IMDB's files are sorted by label
        splits["dev"], splits["train"] = splits["train"][:IMDB_DEV_SIZE], splits["train"][IMDB_DEV_SIZE:]
    else:
        splits["dev"] = read_file(dataset, spec[2], data_dir)
    if limit:
        for name, pairs in splits.items():
            rng.shuffle(pairs)
            splits[name] = pairs[:limit]
    return splits


def make_examples(nlp, pairs, labels):
    from spacy.training import Example

    return [Example.from_dict(nlp.make_doc(t), {"cats": {lab: float(lab == y) for lab in labels}})
            for t, y in pairs]


def evaluate(nlp, examples, labels) -> Tuple[Dict[str, float], float]:
    """textcat scores of nlp over examples, and inference words/s."""
    from spacy_lm.metrics.scorers import textcat_score

    docs = [eg.predicted.copy() for eg in examples]
    n_words = sum(len(d) for d in docs)
    start = time.perf_counter()
    predicted = list(nlp.pipe(docs, batch_size=128))
    infer_s = time.perf_counter() - start
    gold = [type(eg)(doc, eg.reference) for eg, doc in zip(examples, predicted)]
    return textcat_score(gold, labels=labels, multi_label=False), n_words / infer_s


def run_spacy(system: str, dataset: str, splits, args) -> Dict[str, object]:
    import spacy
    from spacy.util import minibatch
    from thinc.api import Adam, fix_random_seed

    import spacy_lm  # noqa: F401  (registers the architecture and scorer)

    fix_random_seed(args.seed)
    labels = sorted(set(DATASETS[dataset][4].values()))
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat", config={"model": SYSTEMS[system]})
    examples = make_examples(nlp, splits["train"], labels)
    dev = make_examples(nlp, splits["dev"], labels)
    nlp.initialize(lambda: examples, sgd=None)
    optimizer = Adam(args.learn_rate)
    rng = random.Random(args.seed)
    best = (-1.0, 0, None)
    dev_curve = []
    train_s = 0.0
    epochs = args.imdb_epochs if dataset == "imdb" and args.imdb_epochs else args.epochs
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        rng.shuffle(examples)
        for batch in minibatch(examples, args.batch_size):
            nlp.update(batch, sgd=optimizer, drop=args.dropout)
        train_s += time.perf_counter() - start
        dev_acc = evaluate(nlp, dev, labels)[0]["cats_accuracy"]
        dev_curve.append(round(dev_acc, 4))
        print(f"  {dataset} {system} epoch {epoch}: dev accuracy {dev_acc:.4f}", flush=True)
        if dev_acc > best[0]:
            best = (dev_acc, epoch, nlp.to_bytes())
    nlp.from_bytes(best[2])
    scores, words_per_s = evaluate(nlp, make_examples(nlp, splits["test"], labels), labels)
    return {"accuracy": scores["cats_accuracy"], "macro_f1": scores["cats_macro_f"], "ece": scores["cats_ece"],
            "best_epoch": best[1], "dev_accuracy": best[0], "dev_curve": dev_curve,
            "train_s": round(train_s, 2), "infer_words_per_s": round(words_per_s, 1)}


def run_fasttext(dataset: str, splits, args, **settings) -> Dict[str, object]:
    """fastText supervised with ``settings`` (1 thread). Its Python predict() breaks under
    NumPy 2 (np.array(copy=False)), so predictions go through the C++ binding directly."""
    import tempfile

    from spacy_lm.metrics.scorers import macro_f1

    try:
        import fasttext
    except ImportError:
        print("fastText is not installed (pip install fasttext-wheel): skipped")
        return {"skipped": "fasttext not installed"}
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for text, label in splits["train"]:
            f.write(f"__label__{label} {' '.join(text.split())}\n")
    start = time.perf_counter()
    model = fasttext.train_supervised(f.name, verbose=0, thread=1, seed=args.seed, **settings)
    train_s = time.perf_counter() - start
    texts = [" ".join(t.split()) for t, _ in splits["test"]]
    start = time.perf_counter()
    preds = [model.f.predict(t + "\n", 1, 0.0, "strict")[0][1][len("__label__"):] for t in texts]
    infer_s = time.perf_counter() - start
    gold = [y for _, y in splits["test"]]
    labels = sorted(set(DATASETS[dataset][4].values()))
    return {"settings": settings, "accuracy": sum(p == g for p, g in zip(preds, gold)) / len(gold),
            "macro_f1": macro_f1(gold, preds, labels), "train_s": round(train_s, 2),
            "infer_words_per_s": round(sum(len(t.split()) for t in texts) / infer_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--systems", nargs="+", default=["spacy_lm_lstm", "spacy_bow_v3"], choices=list(SYSTEMS))
    parser.add_argument("--lstm-config", type=json.loads, default={},
                        help="JSON overrides for spacy_lm_lstm's architecture, e.g. '{\"width\": 256}'")
    parser.add_argument("--limit", type=int, default=0, help="examples per split (0: all)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--imdb-epochs", type=int, default=None, help="epochs on IMDB (default --epochs)")
    parser.add_argument("--ensemble-datasets", nargs="*", default=["sst2", "sst5"],
                        help="datasets on which spacy_ensemble_v2 runs when it is in --systems (slow on CPU)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="weights and batch order (the splits stay seed 0)")
    parser.add_argument("--learn-rate", type=float, default=0.001)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--no-fasttext", action="store_true")
    parser.add_argument("--name", default="textcat", help="results/<name>.json")
    args = parser.parse_args()
    SYSTEMS["spacy_lm_lstm"].update(args.lstm_config)
    results: Dict[str, object] = {}
    for dataset in args.datasets:
        splits = read_splits(dataset, args.data_dir, args.limit)
        row: Dict[str, object] = {f"n_{k}": len(v) for k, v in splits.items()}
        for system in args.systems:
            if system == "spacy_ensemble_v2" and dataset not in args.ensemble_datasets:
                continue
            row[system] = run_spacy(system, dataset, splits, args)
            print(dataset, system, row[system], flush=True)
        if not args.no_fasttext:
            for name, settings in {"fasttext_default": {}, "fasttext_tuned": {"wordNgrams": 2, "epoch": 25}}.items():
                row[name] = run_fasttext(dataset, splits, args, **settings)
                print(dataset, name, row[name], flush=True)
        results[dataset] = row
    write_results(args.name, {"settings": {**vars(args), "data_dir": str(args.data_dir),
                                           "spacy_lm_lstm": SYSTEMS["spacy_lm_lstm"]}, "results": results})


if __name__ == "__main__":
    main()
