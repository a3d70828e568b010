"""`spacy lm score` at scale: engines (local processes, Ray Data) and CCNet's scorer (kenlm).

Input, built honestly from real text in ../shared/data (override with --data-dir): every line of
WikiText-2 valid and test (train is the LM's), every IMDB review (train and test) and every SST-2 sentence, one JSONL doc each,
cycled into ``--shards`` shards until ``--mb`` MB of JSONL are written (its size, docs and
tokens are in the JSON). The model is ours, built here: ``ngram_lm`` order 5 (KenLM lmplz's
estimator) on WikiText-2 train with the whitespace tokenizer, exported to ARPA for kenlm.

Measured, in one process, engines alternated over ``--reps`` rounds (medians quoted):

* scaling: ``score_corpus`` with the local engine at 1 and 2 workers and the Ray engine at 1 and
  2 actors (a local Ray runtime, started once before the first Ray run and not timed; its start
  time is reported apart): docs/s and tokens/s of the whole run (read, score, write parquet).
* peer, per core (one process, CPU seconds; ``peer_query`` lists the stages): n-gram queries
  from tokenised Docs, from token strings and from ids alone (the probing tables), ours through
  the kenlm backend, the path before #34 (``nlp.pipe``), and end to end from the JSONL lines (ours:
  ``TextScorer.score``; kenlm: ``json.loads``, ``str.split``, ``Model.score``: CCNet's loop
  without its sentencepiece).
* LSTM rescoring: an ``lstm_lm`` (width 200, depth 2, WikiText-2 vocabulary, trained
  ``--lstm-seconds``) scoring a sample of the same docs, before #34 (``nlp.pipe``) and now
  (``TextScorer``: the score-only path, ``lstm_lm.total_nll``), alternated; and the cascade
  (n-gram prefilter at the ``--keep-pct`` percentile of n-gram perplexity, LSTM on the survivors)
  in docs/s. ``lstm_scoring_speed.py`` compares the LSTM stage with PyTorch.

    python benchmarks/corpus_scoring.py                  # writes benchmarks/results/corpus_scoring.json
    python benchmarks/corpus_scoring.py --mb 8 --reps 1 --skip-ray
    python benchmarks/corpus_scoring.py --mb 512 --shards 8 --reps 1 --scaling-only --work-dir /tmp/cs512 \
        --name corpus_scoring_512mb         # how the fixed start costs weigh on a larger input

Needs the ``bench`` extra (kenlm) and ``ray`` (in ``dev``).
"""
import argparse
import csv
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_results  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
LN10 = 2.302585092994046


def require(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"{path} not found: this benchmark reads ../shared/data (wikitext-2, imdb, sst2); pass --data-dir.")
    return path


def source_texts(data_dir: Path) -> Iterator[str]:
    """Real text: WikiText-2 train lines, IMDB reviews, SST-2 sentences (blank lines skipped)."""
    from spacy_lm.corpora.files import open_text

    for split in ("valid.txt", "test.txt"):  # not train: the n-gram LM was estimated on it
        with open_text(require(data_dir / "wikitext-2" / split)) as lines:
            for line in lines:
                if line.strip():
                    yield line.strip()
    for split in ("train", "test"):
        with gzip.open(require(data_dir / "imdb" / f"{split}.csv.gz"), "rt", encoding="utf-8") as file_:
            for row in csv.DictReader(file_):
                yield " ".join(row["text"].replace("<br />", " ").split())
    with open(require(data_dir / "sst2" / "sentence" / "stsa.binary.train"), encoding="utf-8") as file_:
        for line in file_:
            if line.strip():
                yield line.strip()[2:]


def build_shards(data_dir: Path, out: Path, mb: float, n_shards: int) -> Dict[str, object]:
    """JSONL shards of ``mb`` MB in all, the real texts cycled; cached in ``out``."""
    info_path = out / "corpus.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info["mb_target"] == mb and info["n_shards"] == n_shards:
            return info
    out.mkdir(parents=True, exist_ok=True)
    pool = list(source_texts(data_dir))
    budget = int(mb * 1e6)
    per_shard = budget // n_shards
    paths, docs, tokens, size, i = [], 0, 0, 0, 0
    for s in range(n_shards):
        path = out / f"shard-{s:02d}.jsonl"
        written = 0
        with path.open("w", encoding="utf-8") as file_:
            while written < per_shard:
                text = pool[i % len(pool)]
                line = json.dumps({"id": f"doc-{i}", "text": text, "source_index": i % len(pool)}) + "\n"
                file_.write(line)
                written += len(line.encode("utf-8"))
                tokens += len(text.split())
                docs += 1
                i += 1
        size += written
        paths.append(str(path))
    info = {"mb_target": mb, "n_shards": n_shards, "shards": paths, "bytes": size, "docs": docs,
            "whitespace_tokens": tokens, "distinct_texts": len(pool),
            "made_of": "WikiText-2 valid+test lines + IMDB train/test reviews + SST-2 train sentences, cycled"}
    info_path.write_text(json.dumps(info, indent=2))
    return info


def build_models(data_dir: Path, out: Path, lstm_seconds: float) -> Dict[str, object]:
    """ngram_lm order 5 (+ its ARPA) and an lstm_lm, both on WikiText-2 train; cached."""
    import spacy
    from spacy.training import Example
    from thinc.api import Adam, fix_random_seed

    from spacy_lm.corpora.plain_text import read_plain_text_docs

    whitespace = {"nlp": {"tokenizer": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}}  # saved with the pipeline
    info: Dict[str, object] = {}
    train = require(data_dir / "wikitext-2" / "train.txt.gz")
    if not (out / "ngram" / "meta.json").exists():
        nlp = spacy.blank("en", config=whitespace)
        nlp.add_pipe("ngram_lm", config={"order": 5})
        start = time.perf_counter()
        nlp.initialize(lambda: (Example(d, d) for d in read_plain_text_docs(train, nlp.vocab, eos_marker="<eos>")))
        info["ngram_build_s"] = time.perf_counter() - start
        nlp.to_disk(out / "ngram")
        nlp.get_pipe("ngram_lm").to_arpa(out / "ngram.arpa")
    if not (out / "lstm" / "meta.json").exists():
        fix_random_seed(0)
        nlp = spacy.blank("en", config=whitespace)
        nlp.add_pipe("lstm_lm", config={"model": {"width": 200, "depth": 2, "dropout": 0.0}, "max_length": 35})
        docs = list(read_plain_text_docs(train, nlp.vocab, eos_marker="<eos>"))
        examples = [Example(d, d) for d in docs if len(d)]
        nlp.initialize(lambda: examples)
        optimizer, steps, start = Adam(0.002), 0, time.perf_counter()
        while time.perf_counter() - start < lstm_seconds:
            batch = examples[(steps * 32) % len(examples):][:32]
            nlp.update(batch, sgd=optimizer)
            steps += 1
        info["lstm_train"] = {"seconds": lstm_seconds, "steps": steps, "batch": 32}
        nlp.to_disk(out / "lstm")
    return info


def read_docs(paths: List[str], limit: int) -> List[str]:
    """``limit`` texts, the same number from the start of each shard (all sources represented)."""
    texts: List[str] = []
    for path in paths:
        with open(path, encoding="utf-8") as file_:
            for n, line in enumerate(file_):
                if n >= limit // len(paths):
                    break
                texts.append(json.loads(line)["text"])
    return texts


def peer_query(work: Path, texts: List[str], reps: int = 3) -> Dict[str, object]:
    """Per-core tokens/s (CPU seconds, one process), ours and kenlm's alternated, medians:

    * query from tokenised docs (#16's definition): ours ``score_only.score_docs`` over Docs
      already tokenised (ids from their attribute arrays, probing tables); kenlm ``Model.score``
      over the same tokens joined by spaces (its figure includes its own word hashing);
    * query from token strings: ours ``score_only.score`` over the same joined strings (split,
      vocabulary look-up, tables), kenlm as above: both start from the same strings;
    * tables alone: ours ``ngram_lm.total_nll`` over prepared ids (no strings at all);
    * ours with the kenlm backend (``--ngram-backend kenlm``) from the joined strings;
    * before this issue: ``nlp.pipe`` reading ``doc._.lm_logprob`` (the path #16 measured);
    * end to end from the JSONL lines: ours json + ``TextScorer.score`` in chunks of 1,024;
      kenlm json, ``str.split`` and ``Model.score`` (CCNet's loop without its sentencepiece).
    """
    import kenlm
    import spacy

    from spacy_lm.scoring.scorer import TextScorer
    from spacy_lm.scoring.settings import ScoreSettings

    nlp = spacy.load(work / "ngram")
    config = kenlm.Config()
    config.show_progress = False
    model = kenlm.Model(str(work / "ngram.arpa"), config)
    docs = [nlp.make_doc(text) for text in texts]
    joined = [" ".join(t.text for t in doc) for doc in docs]
    lines = [json.dumps({"text": text}) for text in texts]
    scorer = TextScorer(ScoreSettings(model=str(work / "ngram"), batch_size=256))
    start = time.process_time()
    kenlm_scorer = TextScorer(ScoreSettings(model=str(work / "ngram"), ngram_backend="kenlm"))
    kenlm_backend_load_s = time.process_time() - start
    score_only = scorer.score_only
    component = nlp.get_pipe("ngram_lm")
    prepared = [p for p in score_only.prepare_docs(docs) if p is not None]
    component.total_nll(prepared[:10])  # builds the probing tables (timed apart below)
    n_tokens = sum(len(doc) + 1 for doc in docs)  # + </s>, as both count
    chunk = 1024

    def chunked(function, items):
        out = []
        for i in range(0, len(items), chunk):
            out += function(items[i : i + chunk])
        return out

    stages = {
        "ours_query_from_docs": lambda: chunked(score_only.score_docs, docs),
        "ours_query_from_strings": lambda: chunked(score_only.score, joined),
        "ours_tables_only": lambda: component.total_nll(prepared),
        "ours_kenlm_backend_from_strings": lambda: chunked(kenlm_scorer.score, joined),
        "kenlm_query": lambda: [model.score(line, bos=True, eos=True) for line in joined],
        "ours_before_nlp_pipe": lambda: [d._.lm_logprob for d in nlp.pipe(texts, batch_size=256)],
        "ours_end_to_end": lambda: chunked(scorer.score, [json.loads(line)["text"] for line in lines]),
        "kenlm_end_to_end": lambda: [model.score(" ".join(json.loads(line)["text"].split()), bos=True, eos=True)
                                     for line in lines],
    }
    runs: Dict[str, List[float]] = {name: [] for name in stages}
    results: Dict[str, object] = {}
    for _ in range(reps):
        for name, stage in stages.items():
            start = time.process_time()
            results[name] = stage()
            runs[name].append(time.process_time() - start)
    rates = {name: n_tokens / statistics.median(values) for name, values in runs.items()}
    totals = {"ours_query_from_docs": -sum(s["logprob"] for s in results["ours_query_from_docs"]) / LN10,
              "ours_kenlm_backend": -sum(s["logprob"] for s in results["ours_kenlm_backend_from_strings"]) / LN10,
              "kenlm": -sum(results["kenlm_query"])}
    start = time.process_time()
    from spacy_lm.ngram.hashed import HashedNGramIndex

    HashedNGramIndex(component.model)
    build_s = time.process_time() - start
    kenlm_rate = rates["kenlm_query"]
    return {"docs": len(docs), "tokens": n_tokens, "cpu_seconds": runs,
            "tokens_per_cpu_s": {k: round(v, 1) for k, v in rates.items()},
            "ratio_query_ours_over_kenlm": rates["ours_query_from_docs"] / kenlm_rate,
            "ratio_query_from_strings_ours_over_kenlm": rates["ours_query_from_strings"] / kenlm_rate,
            "ratio_tables_only_ours_over_kenlm": rates["ours_tables_only"] / kenlm_rate,
            "ratio_kenlm_backend_over_kenlm": rates["ours_kenlm_backend_from_strings"] / kenlm_rate,
            "ratio_query_now_over_before": rates["ours_query_from_docs"] / rates["ours_before_nlp_pipe"],
            "ratio_end_to_end_ours_over_kenlm": rates["ours_end_to_end"] / rates["kenlm_end_to_end"],
            "total_log10_neg": totals,
            "total_logprob_relative_difference": abs(totals["ours_query_from_docs"] - totals["kenlm"]) / abs(totals["kenlm"]),
            "probing_tables_build_cpu_s": build_s, "kenlm_backend_load_cpu_s": kenlm_backend_load_s}


def lstm_rescoring(work: Path, texts: List[str], keep_pct: float) -> Dict[str, object]:
    """LSTM tokens/s on its own, and the cascade's docs/s (n-gram on all, LSTM on survivors)."""
    import numpy

    from spacy_lm.scoring.scorer import TextScorer
    from spacy_lm.scoring.settings import ScoreSettings

    ngram = TextScorer(ScoreSettings(model=str(work / "ngram"), batch_size=256))
    ngram_ppl = [s["perplexity"] for s in ngram.score(texts)]
    max_ppl = float(numpy.percentile(ngram_ppl, keep_pct))
    lstm = TextScorer(ScoreSettings(model=str(work / "lstm"), batch_size=64))
    cascade = TextScorer(ScoreSettings(model=str(work / "lstm"), prefilter=str(work / "ngram.arpa"),
                                       max_ppl=max_ppl, batch_size=64))
    lstm.score(texts[:64])
    before_s, lstm_runs = [], []
    for _ in range(2):  # alternated: before this issue (nlp.pipe, batch 64) and the score-only path
        start = time.perf_counter()
        before = [doc._.lm_logprob for doc in lstm.nlp.pipe(texts, batch_size=64)]
        before_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        scores = lstm.score(texts)
        lstm_runs.append(time.perf_counter() - start)
    lstm_s, before_s_median = statistics.median(lstm_runs), statistics.median(before_s)
    agreement = max(abs(s["logprob"] - b) / abs(b) for s, b in zip(scores, before) if b)
    start = time.perf_counter()
    cascaded = cascade.score(texts)
    cascade_s = time.perf_counter() - start
    tokens = sum(s["n_predicted"] for s in scores)
    survivors = sum(s.get("perplexity") is not None for s in cascaded)
    return {"docs": len(texts), "tokens": tokens, "lstm_seconds": lstm_s, "lstm_tokens_per_s": tokens / lstm_s,
            "lstm_before_seconds": before_s_median, "lstm_before_tokens_per_s": tokens / before_s_median,
            "lstm_now_over_before": before_s_median / lstm_s, "lstm_max_relative_difference_to_before": agreement,
            "lstm_docs_per_s": len(texts) / lstm_s, "cascade_max_ppl": max_ppl, "cascade_keep_pct": keep_pct,
            "cascade_survivors": survivors, "cascade_seconds": cascade_s, "cascade_docs_per_s": len(texts) / cascade_s,
            "cascade_speedup_over_lstm_alone": lstm_s / cascade_s}


def start_ray_runtime() -> float:
    """Seconds to start a local Ray runtime as the engine does: not part of any timed run."""
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
    return time.perf_counter() - start


def scaling(work: Path, shards: List[str], reps: int, skip_ray: bool) -> Dict[str, object]:
    import shutil

    from spacy_lm.scoring import ScoreSettings, score_corpus

    settings = ScoreSettings(model=str(work / "ngram"), batch_size=256, chunk_size=1024, bucket=(30, 60))
    configs = [("local", 1), ("local", 2)] + ([] if skip_ray else [("ray", 1), ("ray", 2)])
    runs: Dict[str, List[Dict[str, float]]] = {f"{e}_{w}": [] for e, w in configs}
    ray_start_s = None
    for rep in range(reps):
        for engine, workers in configs:
            if engine == "ray" and ray_start_s is None:
                ray_start_s = start_ray_runtime()
            out = work / "out" / f"{engine}_{workers}_{rep}"
            shutil.rmtree(out, ignore_errors=True)
            summary = score_corpus(shards, out, settings, engine=engine, workers=workers)
            print(f"{engine} x{workers} rep {rep}: {summary['seconds']:.1f} s, {summary['docs_per_s']:,.0f} docs/s, "
                  f"{summary['tokens_per_s']:,.0f} tokens/s, load {os.getloadavg()[0]:.2f}", flush=True)
            runs[f"{engine}_{workers}"].append({k: summary[k] for k in ("seconds", "docs_per_s", "tokens_per_s", "n_in",
                                                                          "n_out", "n_tokens")})
    medians = {name: {k: statistics.median(r[k] for r in values) for k in ("seconds", "docs_per_s", "tokens_per_s")}
               for name, values in runs.items()}
    ratios = {"local_2_over_local_1": medians["local_2"]["tokens_per_s"] / medians["local_1"]["tokens_per_s"]}
    if not skip_ray:
        ratios["ray_2_over_ray_1"] = medians["ray_2"]["tokens_per_s"] / medians["ray_1"]["tokens_per_s"]
        for w in (1, 2):
            ratios[f"ray_overhead_{w}_workers"] = medians[f"local_{w}"]["tokens_per_s"] / medians[f"ray_{w}"]["tokens_per_s"] - 1
    return {"runs": runs, "medians": medians, "ratios": ratios, "ray_start_seconds": ray_start_s,
            "settings": "ngram order 5, --bucket 30,60 (cutoffs from a 2,000-doc sample), parquet, batch 256, chunk 1024"}


DUMP_TEXT_BYTES = 25e12  # one Common Crawl dump: 20-30 TB of WET plain text (CCNet, section 3)


def paper_estimate(corpus: Dict[str, object], scale: Dict[str, object], lstm: Dict[str, object]) -> Dict[str, object]:
    """Core-hours for one Common Crawl dump at the measured per-core rates (bytes of input per
    second, from the 1-worker local run), n-gram only, LSTM only and the cascade."""
    bytes_per_token = corpus["bytes"] / corpus["whitespace_tokens"]
    ngram_bytes_per_core_s = scale["medians"]["local_1"]["tokens_per_s"] * bytes_per_token
    lstm_bytes_per_core_s = lstm["lstm_tokens_per_s"] * bytes_per_token
    keep = lstm["cascade_survivors"] / lstm["docs"]
    ngram_h = DUMP_TEXT_BYTES / ngram_bytes_per_core_s / 3600
    lstm_h = DUMP_TEXT_BYTES / lstm_bytes_per_core_s / 3600
    return {"dump_text_bytes": DUMP_TEXT_BYTES, "bytes_per_token": bytes_per_token,
            "ngram_core_hours": ngram_h, "lstm_core_hours": lstm_h,
            "cascade_core_hours": ngram_h + keep * lstm_h, "cascade_keep_fraction": keep,
            "ngram_hours_on_27200_cores": ngram_h / 27200}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/spacy_lm_corpus_scoring"))
    parser.add_argument("--mb", type=float, default=128.0, help="JSONL input size in MB")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--peer-docs", type=int, default=40000)
    parser.add_argument("--lstm-docs", type=int, default=2000)
    parser.add_argument("--lstm-seconds", type=float, default=120.0)
    parser.add_argument("--keep-pct", type=float, default=60.0)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--scaling-only", action="store_true", help="Only the score_corpus runs (e.g. a larger --mb)")
    parser.add_argument("--name", default="corpus_scoring")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per worker; the driver the same
    args.work_dir.mkdir(parents=True, exist_ok=True)
    corpus = build_shards(args.data_dir, args.work_dir / "corpus", args.mb, args.shards)
    print(f"corpus: {corpus['bytes'] / 1e6:.1f} MB, {corpus['docs']:,} docs, {corpus['whitespace_tokens']:,} tokens", flush=True)
    models = build_models(args.data_dir, args.work_dir, args.lstm_seconds)
    load_start = os.getloadavg()
    if args.scaling_only:
        scale = scaling(args.work_dir, corpus["shards"], args.reps, args.skip_ray)
        print(json.dumps(scale["ratios"], indent=1))
        write_results(args.name, {"corpus": corpus, "scaling": scale, "load_average_at_start": load_start,
                                  "cpus": os.cpu_count()})
        return
    texts = read_docs(corpus["shards"], args.peer_docs)
    peer = peer_query(args.work_dir, texts)
    print(json.dumps(peer["tokens_per_cpu_s"]), flush=True)
    lstm = lstm_rescoring(args.work_dir, texts[: args.lstm_docs], args.keep_pct)
    print(f"lstm {lstm['lstm_tokens_per_s']:,.0f} tokens/s; cascade {lstm['cascade_docs_per_s']:,.1f} docs/s", flush=True)
    scale = scaling(args.work_dir, corpus["shards"], args.reps, args.skip_ray)
    goals = {"two_workers_ge_1.8x": scale["ratios"]["local_2_over_local_1"] >= 1.8,
             "query_tables_ge_1.0x_kenlm": peer["ratio_tables_only_ours_over_kenlm"] >= 1.0,
             "query_from_strings_ge_1.0x_kenlm": peer["ratio_query_from_strings_ours_over_kenlm"] >= 1.0,
             "query_from_docs_ge_1.0x_kenlm": peer["ratio_query_ours_over_kenlm"] >= 1.0,
             "end_to_end_ge_0.5x_kenlm": peer["ratio_end_to_end_ours_over_kenlm"] >= 0.5,
             "lstm_ge_1.5x_before": lstm["lstm_now_over_before"] >= 1.5}
    if not args.skip_ray:
        goals["ray_overhead_le_15pct"] = max(scale["ratios"]["ray_overhead_1_workers"],
                                             scale["ratios"]["ray_overhead_2_workers"]) <= 0.15
    payload = {"corpus": corpus, "models": models, "peer_kenlm": peer, "lstm_rescoring": lstm, "scaling": scale,
               "goals_met": goals, "common_crawl_estimate": paper_estimate(corpus, scale, lstm), "load_average_at_start": load_start, "cpus": os.cpu_count()}
    print(json.dumps({"ratios": scale["ratios"], "peer": {k: peer[k] for k in peer if k.startswith("ratio")},
                      "goals": goals}, indent=1))
    write_results(args.name, payload)


if __name__ == "__main__":
    main()
