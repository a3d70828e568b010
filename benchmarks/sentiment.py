"""Sentiment: `sentiment_scorer` zero-shot (spacy_lm.LexiconSentiment.v1, VADER's lexicon) and
trained (spacy_lm.SentimentLSTM.v1 with the lexicon prior) against VADER, TextBlob and asent,
on SST-2 (sentence split, test), SST-5 (test) and IMDB (test).

Every system is scored by the same function (spacy_lm.metrics.scorers.sentiment_score) from its doc
polarity: sign accuracy (polarity >= 0 is positive), class accuracy and macro-F1 (binary: the
sign; SST-5: the class whose polarity in (-1, -0.5, 0, 0.5, 1) is nearest, or the most probable
class of the trained model), MAE and Pearson r against the gold polarity. Peers: VADER's
``compound``, TextBlob's ``polarity``, asent's ``compound`` (spaCy blank "en" + sentencizer +
asent_en_v1); a peer that is not installed (or cannot run offline) is skipped with a message.
IMDB's ``<br />`` tags are replaced by spaces for every system.

The trained model is trained here on the dataset's train split (Adam, --epochs over shuffled
minibatches, the epoch with the best dev accuracy is kept, the untrained model (= the lexicon)
included; IMDB: not trained by default, it takes too long on a CPU). ``trained_phrases`` (SST-2
only, opt-in) trains on GLUE's SST-2 train split instead: all 67k labelled phrases of the
train-set trees, the usual way to train on SST; no dev or test sentence is among them. docs/s: wall time from raw text to polarity (tokenisation included);
the trained model's docs/s is without token attributions, and ``docs_per_s_with_ig`` with
integrated gradients (32 points) on the first 200 test docs.

    python benchmarks/sentiment.py                         # writes results/sentiment.json
    python benchmarks/sentiment.py --limit 200 --epochs 1 --name sentiment_smoke
    python benchmarks/sentiment.py --datasets sst2 --systems trained_phrases --merge   # add one system
"""
import argparse
import random
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPO, write_results  # noqa: E402

DATA = REPO.parent / "shared" / "data"
DATASETS = {
    # name: (train, dev, test, format, label names by raw label)
    "sst2": ("sst2/sentence/stsa.binary.train", "sst2/sentence/stsa.binary.dev", "sst2/sentence/stsa.binary.test",
             "label_first", {"0": "NEG", "1": "POS"}),
    "sst5": ("sst5/stsa.fine.train", "sst5/stsa.fine.dev", "sst5/stsa.fine.test", "label_first",
             {str(i): f"L{i}" for i in range(5)}),
    "imdb": ("imdb/train.csv.gz", None, "imdb/test.csv.gz", "csv", {"0": "NEG", "1": "POS"}),
}
PEERS = ("vader", "textblob", "asent")
TOK2VEC = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 64, "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
           "rows": [5000, 1000, 2500, 500], "include_static_vectors": False}


def read_splits(dataset: str, data_dir: Path, limit: int, train_limit: int,
                phrases: bool = False) -> Dict[str, List[Tuple[str, str]]]:
    from spacy_lm.corpora.labelled import iter_labelled_texts

    train, dev, test, fmt, names = DATASETS[dataset]
    splits = {}
    for split, rel in (("train", train), ("dev", dev), ("test", test)):
        if rel is None:
            continue
        path = data_dir / rel
        if not path.exists():
            sys.exit(f"{dataset}: {path} not found. The benchmark reads ../shared/data/{{sst2,sst5,imdb}}; "
                     f"pass --data-dir.")
        if split == "train" and phrases and dataset == "sst2":
            # GLUE's SST-2 train: every labelled phrase of the train-set trees (no dev/test sentence).
            path = data_dir / "sst2/glue/train.tsv"
            reader = iter_labelled_texts(path, format="tsv", text_column="sentence")
        else:
            reader = iter_labelled_texts(path, format=fmt)
        pairs = [(t.replace("<br />", " ").strip(), names[y]) for t, y in reader]
        cap = train_limit if split == "train" else limit
        if cap and len(pairs) > cap:
            random.Random(0).shuffle(pairs)
            pairs = pairs[:cap]
        splits[split] = pairs
    return splits


def label_values(dataset: str) -> Dict[str, float]:
    from spacy_lm.pipeline.sentiment_scorer import spread_label_values

    return spread_label_values(sorted(set(DATASETS[dataset][4].values())))


def score(nlp, pairs, polarities: List[float], values: Dict[str, float],
          probs: Optional[List[Optional[Dict[str, float]]]] = None) -> Dict[str, object]:
    from spacy.training import Example

    from spacy_lm.extensions import install_sentiment_extensions
    from spacy_lm.metrics.scorers import sentiment_score

    install_sentiment_extensions()
    examples = []
    for i, ((text, label), polarity) in enumerate(zip(pairs, polarities)):
        pred = nlp.make_doc(text[:200])  # the scorer reads only the polarity (and probs)
        pred._.sentiment_polarity = float(polarity)
        pred._.sentiment_probs = probs[i] if probs else None
        ref = pred.copy()
        ref.cats = {lab: float(lab == label) for lab in values}
        examples.append(Example(pred, ref))
    s = sentiment_score(examples, label_values=values)
    return {"sign_accuracy": s["sentiment_sign_acc"], "accuracy": s["sentiment_accuracy"],
            "macro_f1": s["sentiment_macro_f"], "mae": s["sentiment_mae"], "pearson": s["sentiment_pearson"],
            "n": s["sentiment_n"]}


def timed(fn: Callable[[List[str]], List[float]], texts: List[str]) -> Tuple[List[float], float]:
    start = time.perf_counter()
    out = fn(texts)
    return out, len(texts) / (time.perf_counter() - start)


# ---------------------------------------------------------------------- systems
def ours_lexicon():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer")
    nlp.initialize()
    return lambda texts: [d._.sentiment_polarity for d in nlp.pipe(texts, batch_size=256)]


def peer(name: str) -> Optional[Callable[[List[str]], List[float]]]:
    try:
        if name == "vader":
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            analyzer = SentimentIntensityAnalyzer()
            return lambda texts: [analyzer.polarity_scores(t)["compound"] for t in texts]
        if name == "textblob":
            from textblob import TextBlob

            TextBlob("a good test").sentiment  # fails here if it needs data it cannot fetch offline
            return lambda texts: [TextBlob(t).sentiment.polarity for t in texts]
        if name == "asent":
            import asent  # noqa: F401
            import spacy

            nlp = spacy.blank("en")
            nlp.add_pipe("sentencizer")
            nlp.add_pipe("asent_en_v1")
            nlp("a good test")
            return lambda texts: [d._.polarity.compound for d in nlp.pipe(texts, batch_size=256)]
    except Exception as err:  # ImportError, missing corpora, ...
        print(f"  peer {name} skipped: {type(err).__name__}: {err}", flush=True)
        return None
    raise ValueError(name)


def train_ours(dataset: str, splits, args, epochs: int) -> Tuple[object, Dict[str, object]]:
    import spacy
    from spacy.training import Example
    from spacy.util import minibatch
    from thinc.api import Adam, fix_random_seed

    fix_random_seed(0)
    values = label_values(dataset)
    model = {"@architectures": "spacy_lm.SentimentLSTM.v1", "tok2vec": TOK2VEC, "width": args.width, "depth": args.depth,
             "dropout": args.dropout, "lexicon": {"@architectures": "spacy_lm.LexiconSentiment.v1"}}
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config={"model": model, "label_values": values, "attribution_steps": 0})

    def examples(pairs):
        return [Example.from_dict(nlp.make_doc(t), {"cats": {lab: float(lab == y) for lab in values}})
                for t, y in pairs]

    train = examples(splits["train"])
    dev = examples(splits["dev"]) if "dev" in splits else None
    nlp.initialize(lambda: train)
    optimizer = Adam(args.learn_rate)
    rng = random.Random(0)
    info: Dict[str, object] = {"dev_curve": []}
    if dev is not None:
        dev_acc = nlp.evaluate(dev)["sentiment_accuracy"]
        info["dev_accuracy_untrained"] = dev_acc
        best = (dev_acc, 0, nlp.to_bytes())
    train_s = 0.0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        rng.shuffle(train)
        for batch in minibatch(train, args.batch_size):
            nlp.update(batch, sgd=optimizer, drop=args.dropout)
        train_s += time.perf_counter() - start
        if dev is not None:
            dev_acc = nlp.evaluate(dev)["sentiment_accuracy"]
            info["dev_curve"].append(round(dev_acc, 4))
            print(f"  {dataset} trained epoch {epoch}: dev accuracy {dev_acc:.4f} ({train_s:.0f}s)", flush=True)
            if dev_acc > best[0]:
                best = (dev_acc, epoch, nlp.to_bytes())
    if dev is not None:
        nlp.from_bytes(best[2])
        info.update({"best_epoch": best[1], "dev_accuracy": best[0]})
    info["train_s"] = round(train_s, 1)
    return nlp, info


def run_trained(nlp, pairs, values) -> Dict[str, object]:
    texts = [t for t, _ in pairs]
    start = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=128))
    docs_per_s = len(texts) / (time.perf_counter() - start)
    row = score(nlp, pairs, [d._.sentiment_polarity for d in docs], values, [d._.sentiment_probs for d in docs])
    row["docs_per_s"] = round(docs_per_s, 1)
    pipe = nlp.get_pipe("sentiment_scorer")
    sample = [nlp.make_doc(t) for t in texts[:200]]
    start = time.perf_counter()
    results = pipe.explain(sample, steps=32)
    row["docs_per_s_with_ig"] = round(len(sample) / (time.perf_counter() - start), 1)
    gaps = [abs(sum(r["tokens"]) + r["base"] - r["polarity"]) for r in results if r["tokens"]]
    row["ig_completeness_max_abs_error"] = max(gaps) if gaps else None
    row["ig_completeness_mean_abs_error"] = sum(gaps) / len(gaps) if gaps else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--systems", nargs="+", default=["lexicon", "trained", *PEERS],
                        choices=["lexicon", "trained", "trained_phrases", *PEERS])
    parser.add_argument("--train-on", nargs="+", default=["sst2", "sst5"], help="datasets the trained mode trains on")
    parser.add_argument("--limit", type=int, default=0, help="dev/test examples per split (0: all)")
    parser.add_argument("--train-limit", type=int, default=0, help="training examples (0: all)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--phrase-epochs", type=int, default=2, help="epochs of trained_phrases (SST-2 phrases)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learn-rate", type=float, default=0.002)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--name", default="sentiment", help="results/<name>.json")
    parser.add_argument("--merge", action="store_true",
                        help="update results/<name>.json (these datasets and systems) instead of replacing it")
    args = parser.parse_args()
    if not args.data_dir.exists():
        sys.exit(f"--data-dir {args.data_dir} does not exist (expected ../shared/data with sst2/, sst5/, imdb/)")
    import spacy

    import spacy_lm  # noqa: F401

    make = spacy.blank("en")
    results: Dict[str, object] = {}
    for dataset in args.datasets:
        splits = read_splits(dataset, args.data_dir, args.limit, args.train_limit)
        values = label_values(dataset)
        test = splits["test"]
        texts = [t for t, _ in test]
        row: Dict[str, object] = {"n_train": len(splits["train"]), "n_test": len(test), "label_values": values}
        print(f"{dataset}: {len(test)} test docs", flush=True)
        for system in args.systems:
            if system in ("trained", "trained_phrases"):
                if dataset not in args.train_on or (system == "trained_phrases" and dataset != "sst2"):
                    row[system] = {"skipped": f"not trained on {dataset}"}
                    continue
                train_splits = splits
                if system == "trained_phrases":
                    train_splits = read_splits(dataset, args.data_dir, args.limit, args.train_limit, phrases=True)
                    row["n_train_phrases"] = len(train_splits["train"])
                nlp, info = train_ours(dataset, train_splits, args, epochs=args.phrase_epochs
                                       if system == "trained_phrases" else args.epochs)
                row[system] = {**run_trained(nlp, test, values), **info}
            else:
                fn = ours_lexicon() if system == "lexicon" else peer(system)
                if fn is None:
                    row[system] = {"skipped": "not installed or cannot run offline"}
                    continue
                polarities, docs_per_s = timed(fn, texts)
                row[system] = {**score(make, test, polarities, values), "docs_per_s": round(docs_per_s, 1)}
            print(f"  {dataset} {system}: {row[system]}", flush=True)
        results[dataset] = row
    payload: Dict[str, object] = {"settings": {**vars(args), "data_dir": str(args.data_dir)}, "results": results}
    previous = HERE / "results" / f"{args.name}.json"
    if args.merge and previous.exists():
        import json

        old = json.loads(previous.read_text())
        for dataset, row in results.items():
            old["results"].setdefault(dataset, {}).update(row)
        payload = {"settings": old["settings"], "merged_settings": [*old.get("merged_settings", []),
                                                                    {**vars(args), "data_dir": str(args.data_dir)}],
                   "results": old["results"],
                   "previous_commands": [*old.get("previous_commands", []), old["command"]]}
    write_results(args.name, payload)


if __name__ == "__main__":
    main()
