"""Text classification: spacy_lm.TextCatLSTM.v1 (from scratch) vs spaCy's TextCatBOW.v3 (and,
with --ensemble, TextCatEnsemble.v2) vs fastText, on SST-2 (sentence split), SST-5 and IMDB.

Every spaCy system is spaCy's own `textcat` component trained the same way in this process
(Adam, fixed --epochs over shuffled minibatches of --batch-size docs, no early stopping);
scores are on the test split. fastText (`pip install fasttext`, a C++ build) runs with its
supervised defaults plus --epochs and word bigrams, and is skipped with a message when missing.

Measured per dataset and system: test accuracy and macro-F1, training wall seconds, and
inference words/s (nlp.pipe over the test docs; fastText: predict per line).

    python benchmarks/textcat.py                                # all data, writes results/textcat.json
    python benchmarks/textcat.py --limit 200 --epochs 1 --name textcat_smoke   # a smoke run
"""
import argparse
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
    # name: (train, test, format, label names by raw label)
    "sst2": ("sst2/sentence/stsa.binary.train", "sst2/sentence/stsa.binary.test", "label_first",
             {"0": "NEG", "1": "POS"}),
    "sst5": ("sst5/stsa.fine.train", "sst5/stsa.fine.test", "label_first",
             {str(i): f"L{i}" for i in range(5)}),
    "imdb": ("imdb/train.csv.gz", "imdb/test.csv.gz", "csv", {"0": "NEG", "1": "POS"}),
}
MULTIHASH = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 64,
             "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"], "rows": [5000, 1000, 2500, 500],
             "include_static_vectors": False}
SYSTEMS = {
    "spacy_lm_lstm": {"@architectures": "spacy_lm.TextCatLSTM.v1", "tok2vec": MULTIHASH, "width": 128,
                      "depth": 1, "dropout": 0.2, "pooling": "mean_max", "exclusive_classes": True},
    "spacy_bow_v3": {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": 1,
                     "no_output_layer": False, "length": 262144},
    "spacy_ensemble_v2": {"@architectures": "spacy.TextCatEnsemble.v2",
                          "tok2vec": {"@architectures": "spacy.Tok2Vec.v2", "embed": MULTIHASH,
                                      "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 64,
                                                 "window_size": 1, "maxout_pieces": 3, "depth": 2}},
                          "linear_model": {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True,
                                           "ngram_size": 1, "no_output_layer": False, "length": 262144}},
}


def read(dataset: str, split: int, limit: int) -> List[Tuple[str, str]]:
    from spacy_lm.readers import iter_labelled_texts

    spec = DATASETS[dataset]
    path = DATA / spec[split]
    if not path.exists():
        sys.exit(f"{path} not found: this benchmark reads ../shared/data ({dataset}).")
    names = spec[3]
    pairs = [(text, names[raw]) for text, raw in iter_labelled_texts(path, format=spec[2])]
    if limit:
        random.Random(0).shuffle(pairs)  # IMDB's files are sorted by label
        pairs = pairs[:limit]
    return pairs


def run_spacy(system: str, dataset: str, train, test, args) -> Dict[str, object]:
    import spacy
    from spacy.training import Example
    from spacy.util import minibatch
    from thinc.api import Adam, fix_random_seed

    import spacy_lm  # noqa: F401  (registers the architecture and scorer)
    from spacy_lm.scorers import textcat_score

    fix_random_seed(0)
    labels = sorted(set(DATASETS[dataset][3].values()))
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat", config={"model": SYSTEMS[system]})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {lab: float(lab == y) for lab in labels}})
                for t, y in train]
    nlp.initialize(lambda: examples, sgd=None)
    optimizer = Adam(args.learn_rate)
    rng = random.Random(0)
    start = time.perf_counter()
    for _ in range(args.epochs):
        rng.shuffle(examples)
        for batch in minibatch(examples, args.batch_size):
            nlp.update(batch, sgd=optimizer, drop=0.2)
    train_s = time.perf_counter() - start
    gold = [Example.from_dict(nlp.make_doc(t), {"cats": {lab: float(lab == y) for lab in labels}})
            for t, y in test]
    docs = [eg.predicted for eg in gold]
    n_words = sum(len(d) for d in docs)
    start = time.perf_counter()
    predicted = list(nlp.pipe(docs, batch_size=128))
    infer_s = time.perf_counter() - start
    for eg, doc in zip(gold, predicted):
        eg.predicted = doc
    scores = textcat_score(gold, labels=labels, multi_label=False)
    return {"accuracy": scores["cats_accuracy"], "macro_f1": scores["cats_macro_f"], "ece": scores["cats_ece"],
            "train_s": round(train_s, 2), "infer_words_per_s": round(n_words / infer_s, 1)}


def run_fasttext(dataset: str, train, test, args) -> Dict[str, object]:
    import tempfile

    try:
        import fasttext
    except ImportError:
        print("fastText is not installed (pip install fasttext needs a C++ build): skipped")
        return {"skipped": "fasttext not installed"}
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for text, label in train:
            f.write(f"__label__{label} {' '.join(text.split())}\n")
    start = time.perf_counter()
    model = fasttext.train_supervised(f.name, epoch=max(args.epochs, 5), wordNgrams=2, verbose=0, thread=1)
    train_s = time.perf_counter() - start
    texts = [" ".join(t.split()) for t, _ in test]
    start = time.perf_counter()
    preds = [model.predict(t)[0][0][len("__label__"):] for t in texts]
    infer_s = time.perf_counter() - start
    gold = [y for _, y in test]
    labels = sorted(set(DATASETS[dataset][3].values()))
    f1s = []
    for lab in labels:
        tp = sum(p == lab and g == lab for p, g in zip(preds, gold))
        fp = sum(p == lab and g != lab for p, g in zip(preds, gold))
        fn = sum(p != lab and g == lab for p, g in zip(preds, gold))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": sum(p == g for p, g in zip(preds, gold)) / len(gold), "macro_f1": sum(f1s) / len(f1s),
            "train_s": round(train_s, 2),
            "infer_words_per_s": round(sum(len(t.split()) for t in texts) / infer_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--limit", type=int, default=0, help="train/test examples per dataset (0: all)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learn-rate", type=float, default=0.001)
    parser.add_argument("--ensemble", action="store_true", help="also spaCy's TextCatEnsemble.v2")
    parser.add_argument("--no-fasttext", action="store_true")
    parser.add_argument("--name", default="textcat", help="results/<name>.json")
    args = parser.parse_args()
    systems = ["spacy_lm_lstm", "spacy_bow_v3"] + (["spacy_ensemble_v2"] if args.ensemble else [])
    results: Dict[str, object] = {}
    for dataset in args.datasets:
        train = read(dataset, 0, args.limit)
        test = read(dataset, 1, args.limit)
        row: Dict[str, object] = {"n_train": len(train), "n_test": len(test)}
        for system in systems:
            row[system] = run_spacy(system, dataset, train, test, args)
            print(dataset, system, row[system], flush=True)
        if not args.no_fasttext:
            row["fasttext"] = run_fasttext(dataset, train, test, args)
        results[dataset] = row
    write_results(args.name, {"settings": vars(args), "results": results})


if __name__ == "__main__":
    main()
