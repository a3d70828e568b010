"""Text classification inference speed: spacy_lm.TextCatLSTM (one or more settings) vs spaCy's
TextCatEnsemble.v2, words/s of ``nlp.pipe(docs, batch_size=128)`` over SST-2's test split.

Speed does not depend on the weights' values, so every pipeline is only initialised (on the
training labels), not trained. The systems take turns in one process, ``--repeats`` rounds, the
order rotating each round; medians and the ratio to the Ensemble are printed and written to
results/<name>.json with the load average and the command. Docs are made once (whitespace
tokenizer, SST is tokenised already), so tokenisation is not timed.

    python benchmarks/textcat_speed.py                            # shipped config vs Ensemble v2
    python benchmarks/textcat_speed.py --variants '{"w64": {"width": 64}}'
    python benchmarks/textcat_speed.py --no-shipped --pipeline forward=W/textcat_forward/model-best \
        --pipeline both=W/textcat_both/model-best      # trained LM-transfer pipelines beside the Ensemble

A ``--pipeline`` is loaded from disk with its LMs' ``annotate`` false (they only encode: the
classifier reads their states, no surprisal is computed) and also timed annotating (``NAME+lm``).

Reads ../shared/data/sst2 (pass --data-dir); fails clearly when it is missing.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPO, write_results  # noqa: E402
from textcat import DATASETS, SYSTEMS, read_splits  # noqa: E402


def shipped_architecture() -> dict:
    """The [components.textcat.model] block of configs/textcat_lstm.cfg, as a dict."""
    from thinc.api import Config

    config = Config().from_disk(REPO / "configs" / "textcat_lstm.cfg", interpolate=False)
    return json.loads(json.dumps(config["components"]["textcat"]["model"]))


def load_pipeline(path: str, texts, annotate: bool):
    """A trained pipeline from disk; its lstm_lm components annotating or only encoding."""
    import spacy

    import spacy_lm  # noqa: F401

    config = spacy.util.load_config(Path(path) / "config.cfg")
    lms = [name for name, block in config["components"].items() if block.get("factory") == "lstm_lm"]
    nlp = spacy.load(path, config={"components": {name: {"annotate": annotate} for name in lms}})
    return nlp, [nlp.make_doc(t) for t in texts]


def build(architecture: dict, labels, texts):
    import spacy

    import spacy_lm  # noqa: F401

    nlp = spacy.blank("en", config={"nlp": {"tokenizer": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}})
    textcat = nlp.add_pipe("textcat", config={"model": architecture})
    for label in labels:
        textcat.add_label(label)
    nlp.initialize()
    return nlp, [nlp.make_doc(t) for t in texts]


def words_per_s(nlp, docs, batch_size: int) -> float:
    start = time.perf_counter()
    for _ in nlp.pipe((d.copy() for d in docs), batch_size=batch_size):
        pass
    return sum(len(d) for d in docs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--variants", type=json.loads, default={},
                        help="JSON {name: overrides of the shipped architecture}; null removes a setting")
    parser.add_argument("--no-shipped", action="store_true", help="time only --variants beside the Ensemble")
    parser.add_argument("--pipeline", action="append", default=[], help="NAME=DIR of a trained pipeline")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--name", default="textcat_speed")
    args = parser.parse_args()
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    splits = read_splits("sst2", args.data_dir)
    labels = sorted(set(DATASETS["sst2"][4].values()))
    texts = [t for t, _ in splits["test"]]
    base = shipped_architecture()
    systems = {} if args.no_shipped else {"shipped": base}
    for name, overrides in args.variants.items():  # a null override removes the setting
        systems[name] = {k: v for k, v in {**base, **overrides}.items() if k not in overrides or v is not None}
    systems["spacy_ensemble_v2"] = SYSTEMS["spacy_ensemble_v2"]
    built = {name: build(arch, labels, texts) for name, arch in systems.items()}
    for item in args.pipeline:
        name, path = item.split("=", 1)
        built[name] = load_pipeline(path, texts, annotate=False)
        built[name + "+lm"] = load_pipeline(path, texts, annotate=True)
        systems[name] = path
    for nlp, docs in built.values():  # warm up (allocations, BLIS packing buffers)
        words_per_s(nlp, docs[:512], args.batch_size)
    load_before = os.getloadavg()
    rates = {name: [] for name in built}
    names = list(built)
    for round_ in range(args.repeats):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            rates[name].append(words_per_s(*built[name], args.batch_size))
    medians = {name: statistics.median(r) for name, r in rates.items()}
    peer = medians["spacy_ensemble_v2"]
    for name, median in medians.items():
        print(f"{name:>20}: {median:10,.0f} words/s  ({median / peer:.2f}x Ensemble v2)")
    write_results(args.name, {
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "threads": os.environ.get("OMP_NUM_THREADS"), "n_test_docs": len(texts),
        "n_words": sum(len(d) for d in built["spacy_ensemble_v2"][1]), "batch_size": args.batch_size,
        "architectures": systems, "words_per_s": rates,
        "median_words_per_s": medians, "ratio_to_ensemble_v2": {n: m / peer for n, m in medians.items()}})


if __name__ == "__main__":
    main()
