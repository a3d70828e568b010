"""Completeness of integrated gradients (spacy_lm/analysis/explain.py) on real models: how far
Σ attributions is from F(x) − F(x'), per doc, and where the gap comes from.

Two numbers are told apart: the *Riemann* gap, against F(x) of the IG pass itself (what the
refinement to ``tolerance`` controls), and the *reported* gap, against the score the component
gives at inference (``nlp(text)``: what a user compares with). Where they differ, the IG pass
and inference do not compute the same function; where the Riemann gap stays large after
refinement, the path crosses a region steeper than ``max_steps`` points resolve: for the worst
docs F(α·x) is traced on a fine grid to show where.

    python benchmarks/ig_completeness.py --sentiment sst5          # trains the SST-5 sentiment model (~4 min)
    python benchmarks/ig_completeness.py --textcat projects/sst2_sentiment/training/textcat_scratch/model-best \\
        --texts ../shared/data/sst2/sentence/stsa.binary.dev --name ig_completeness_textcat_sst2

Reads ../shared/data (override with --data-dir); writes benchmarks/results/<name>.json.
"""
import argparse
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List

import numpy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPO, write_results  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def trace_path(forward, X, extras, target: int, points: int = 4096) -> Dict[str, object]:
    """F(α·x) on a fine grid: where it changes fastest (max |ΔF| between grid points)."""
    alphas = numpy.linspace(0.0, 1.0, points + 1)
    values = []
    for start in range(0, len(alphas), 256):
        chunk = alphas[start:start + 256]
        F, _ = forward([X * float(a) for a in chunk], None if extras is None else [extras * float(a) for a in chunk])
        values.extend(float(v) for v in numpy.asarray(F)[:, target])
    values = numpy.asarray(values)
    steps = numpy.abs(numpy.diff(values))
    k = int(steps.argmax())
    return {"F_at_0": values[0], "F_at_1": values[-1], "largest_jump": float(steps[k]),
            "jump_at_alpha": float(alphas[k]), "grid": points,
            "share_of_change_in_largest_step": float(steps[k] / max(abs(values[-1] - values[0]), 1e-12))}


def sentiment_report(args) -> Dict[str, object]:
    from sentiment import read_splits, train_ours

    from spacy_lm.analysis.explain import _inference_with_backprop, completeness_gap, integrated_gradients
    from spacy_lm.architectures.sentiment_lstm import forward_from_inputs, lexicon_valences, logits_to_polarity

    splits = read_splits(args.sentiment, args.data_dir, 0, 0)
    train_args = SimpleNamespace(width=64, depth=1, dropout=0.2, learn_rate=0.002, batch_size=32)
    start = time.perf_counter()
    nlp, info = train_ours(args.sentiment, splits, train_args, epochs=args.epochs)
    pipe = nlp.get_pipe("sentiment_scorer")
    model, values = pipe.model, pipe._values_array()
    docs = [nlp.make_doc(t) for t, _ in splits["test"][: args.limit]]
    docs = [d for d in docs if len(d)]
    predicted = [d._.sentiment_polarity for d in nlp.pipe([d.text for d in docs])]
    results = integrated_gradients(model, docs, values, steps=32)
    riemann = [completeness_gap([r]) for r in results]
    reported = [abs(sum(a) + base - p) for (a, base, _), p in zip(results, predicted)]
    f_mismatch = [abs(score - p) for (_, _, score), p in zip(results, predicted)]

    def polarity_forward(Xi, Vi):
        logits, _ = forward_from_inputs(model, Xi, Vi, True)
        return logits_to_polarity(model.ops, logits, values)[0].reshape(-1, 1), None

    worst = sorted(range(len(docs)), key=lambda i: -reported[i])[:3]
    traces = []
    with _inference_with_backprop(model):
        for i in worst:
            X = model.get_ref("tok2vec").predict([docs[i]])[0]
            V = lexicon_valences(model, [docs[i]])
            traces.append({"text": docs[i].text, "reported_gap": reported[i], "riemann_gap": riemann[i],
                           "ig_F_x": results[i][2], "predict_F_x": predicted[i],
                           **trace_path(polarity_forward, X, None if V is None else V[0], 0)})
    return {"model": f"spacy_lm.SentimentLSTM.v1 trained on {args.sentiment} ({info.get('train_s')} s)",
            "docs": len(docs), "seconds": round(time.perf_counter() - start, 1), **summary(riemann, reported, f_mismatch),
            "worst": traces}


def textcat_report(args) -> Dict[str, object]:
    import spacy

    from spacy_lm.analysis.explain import _inference_with_backprop, _ngram_contributions, _TextcatNetwork, explain_textcat
    from spacy_lm.corpora.labelled import iter_labelled_texts

    nlp = spacy.load(args.textcat)
    texts = [t for t, _ in iter_labelled_texts(Path(args.texts), format="label_first")][: args.limit]
    start = time.perf_counter()
    items = explain_textcat(nlp, texts, steps=32)
    seconds = time.perf_counter() - start
    riemann, reported, f_mismatch, rows = [], [], [], []
    for item, doc in zip(items, nlp.pipe(texts)):
        for label, row in item["labels"].items():
            riemann.append(row["gap"])
            reported.append(abs(sum(row["attributions"]) + row["base"] - doc.cats[label]))
            f_mismatch.append(abs(row["score"] - doc.cats[label]))
            rows.append((item["text"], label))
    name = nlp.pipe_names[-1]
    model = nlp.get_pipe(name).model
    network = _TextcatNetwork(model)
    labels = list(nlp.get_pipe(name).labels)
    traces = []
    with _inference_with_backprop(model):
        for k in sorted(range(len(rows)), key=lambda k: -riemann[k])[:3]:
            text, label = rows[k]
            doc = nlp.make_doc(text)
            X = model.get_ref("tok2vec").predict([doc])[0]
            C = None
            if network.linear is not None:
                network.linear_bias, Cs, _ = _ngram_contributions(network.linear, [doc], model.ops)
                C = Cs[0]
            traces.append({"text": text, "label": label, "riemann_gap": riemann[k], "reported_gap": reported[k],
                           **trace_path(lambda Xi, Ci: (network.forward(Xi, Ci)[0], None), X, C, labels.index(label))})
    return {"model": args.textcat, "docs": len(texts), "labels": labels, "seconds": round(seconds, 1),
            "docs_per_s": round(len(texts) / seconds, 1), **summary(riemann, reported, f_mismatch), "worst": traces}


def summary(riemann: List[float], reported: List[float], f_mismatch: List[float]) -> Dict[str, object]:
    def stats(values):
        values = numpy.asarray(values)
        return {"max": float(values.max()), "mean": float(values.mean()), "median": float(numpy.median(values)),
                "over_0.01": int((values > 0.01).sum())}

    return {"riemann_gap": stats(riemann), "reported_gap": stats(reported),
            "ig_score_vs_inference_score": stats(f_mismatch)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentiment", choices=["sst2", "sst5"], help="train and check the sentiment model")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--textcat", help="a pipeline with a textcat component (TextCatLSTM)")
    parser.add_argument("--texts", help="label_first file of texts for --textcat")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--name", default="ig_completeness")
    args = parser.parse_args()
    if not args.data_dir.exists():
        sys.exit(f"{args.data_dir} not found: pass --data-dir (the folder with sst2/, sst5/)")
    report: Dict[str, object] = {"load_average_before": os.getloadavg()}
    if args.sentiment:
        report["sentiment"] = sentiment_report(args)
    if args.textcat:
        report["textcat"] = textcat_report(args)
    report["load_average_after"] = os.getloadavg()
    write_results(args.name, report)


if __name__ == "__main__":
    main()
