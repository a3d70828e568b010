"""WikiText-2 n-gram LMs: spacy_lm's modified Kneser-Ney estimator vs KenLM lmplz vs NLTK.

Same conventions for every system: each line of train/test (blank lines too) is a sentence
``<s> ... </s>``, one ``</s>`` per line is predicted and counted (245,569 test tokens), and a
literal ``<unk>`` is an ordinary word (lmplz rejects ``<unk>`` in its input, so it is renamed
``<UNK>`` in the text lmplz and KenLM's query read; ours counts it under the ``<unk>`` id).
Perplexity = 10 ** (-sum log10 p / n_tokens).

Measured, each system in its own process: build CPU seconds (reading the text, counting,
estimating; for lmplz the whole run), peak RSS (``ru_maxrss`` of that process; ours also gives
the RSS after imports), test perplexity, and query speed in tokens per CPU-second
(ours: vectorised ``NGramModel.score``; KenLM: ``kenlm.Model.score`` per line from Python;
NLTK: ``KneserNeyInterpolated`` order 3 trained on a slice, scoring a slice of test tokens).

lmplz is looked for in $KENLM_BIN, then in ~/.cache/spacy_lm/kenlm-*/bin; if absent it is
built there from the kenlm sdist (pip download, cmake, make: needs cmake, g++ and Boost:
``apt-get install libboost-program-options-dev libboost-system-dev libboost-thread-dev
zlib1g-dev libbz2-dev liblzma-dev``). If that fails the lmplz column is skipped with a message
and the issue's figures (220.14 ppl, 5.4 CPU-s, 264 MB) are used for the goals.

    python benchmarks/ngram.py                      # writes benchmarks/results/ngram.json
    python benchmarks/ngram.py --no-lmplz --nltk-train-lines 500
"""
import argparse
import glob
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import DEFAULT_DATA, write_results  # noqa: E402

ISSUE_LMPLZ = {"test_ppl": 220.14, "build_cpu_s": 5.4, "peak_rss_mb": 264.0, "source": "issue #4"}
ISSUE_NLTK_TOKENS_PER_CPU_S = 43.0
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "spacy_lm"
UNK_RENAMED = "<UNK>"


def split_path(data_dir: Path, split: str) -> Path:
    for name in (f"{split}.txt", f"{split}.txt.gz"):
        if (data_dir / name).exists():
            return data_dir / name
    sys.exit(f"WikiText-2 split '{split}' not found under {data_dir}. This benchmark reads "
             "../shared/data/wikitext-2; pass --data-dir.")


def read_lines(path: Path) -> List[List[str]]:
    from spacy_lm.corpora.files import open_text

    with open_text(path) as handle:
        return [line.split() for line in handle]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------- workers (own process each)
def import_ngram_only():
    """spacy_lm.ngram without spacy_lm/__init__ (which imports spaCy, thinc and, through thinc,
    torch: ~250 MB of RSS that is not the estimator's). spacy_lm/ngram/ itself needs only numpy."""
    import importlib.util
    import types

    if "spacy_lm" not in sys.modules:
        package = types.ModuleType("spacy_lm")
        package.__path__ = [str(HERE.parent / "spacy_lm")]
        sys.modules["spacy_lm"] = package
    import importlib

    return importlib.import_module("spacy_lm.ngram")


def read_ids(path: Path, index: Dict[str, int], grow: bool):
    """Token ids of every line + one <eos> id per line, in a compact array (ids in first-seen
    order when ``grow``; unknown words -> 0 otherwise)."""
    import array

    from_text = array.array("i")
    eos = index["<eos>"]
    with open_text_plain(path) as handle:
        for line in handle:
            if grow:
                from_text.extend([index.setdefault(w, len(index)) for w in line.split()])
            else:
                from_text.extend([index.get(w, 0) for w in line.split()])
            from_text.append(eos)
    return from_text


def open_text_plain(path: Path):
    import gzip

    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def worker_ours(args) -> Dict[str, object]:
    import numpy

    ngram = import_ngram_only()
    base_rss = rss_mb()
    start = time.process_time()
    wall = time.perf_counter()
    # Vocabulary as TokenVocab.from_counts builds it: <unk>, <eos>, then types by frequency
    # (ties by first occurrence); a literal <unk> is id 0 and counted as a word.
    first_seen = {"<unk>": 0, "<eos>": 1}
    raw_ids = numpy.frombuffer(read_ids(split_path(args.data_dir, "train"), first_seen, True), dtype="int32")
    freq = numpy.bincount(raw_ids, minlength=len(first_seen))
    order = numpy.argsort(-freq[2:], kind="stable") + 2
    remap = numpy.empty(len(first_seen), dtype="int32")
    remap[:2] = [0, 1]
    remap[order] = numpy.arange(2, len(first_seen), dtype="int32")
    targets = remap[raw_ids]
    del raw_ids
    strings = ["<unk>", "<eos>"] + [None] * (len(first_seen) - 2)
    for w, i in first_seen.items():
        if i >= 2:
            strings[remap[i]] = w
    stream = stream_of(ngram, targets, len(strings))
    del targets
    model = ngram.estimate(stream, len(strings), args.order)
    build_cpu = time.process_time() - start
    build_wall = time.perf_counter() - wall
    peak = rss_mb()
    del stream
    index = {w: i for i, w in enumerate(strings)}
    test = stream_of(ngram, numpy.frombuffer(read_ids(split_path(args.data_dir, "test"), index, False),
                                             dtype="int32"), len(strings))
    t0 = time.process_time()
    log10p, _ = model.score(test, with_argmax=False)
    score_cpu = time.process_time() - t0
    t0 = time.process_time()
    model.score(test, with_argmax=True)
    score_argmax_cpu = time.process_time() - t0
    n = len(log10p)
    return {"system": "spacy_lm", "order": args.order, "build_cpu_s": build_cpu, "build_wall_s": build_wall,
            "peak_rss_mb": peak, "rss_after_imports_mb": base_rss, "ngrams": model.sizes(),
            "discounts": model.discounts, "test_tokens": n,
            "test_ppl": float(10.0 ** (-float(log10p.sum(dtype="float64")) / n)),
            "query_tokens_per_cpu_s": n / max(score_cpu, 1e-9),
            "query_with_argmax_tokens_per_cpu_s": n / max(score_argmax_cpu, 1e-9),
            "vocab_size": len(strings)}


def stream_of(ngram, targets, n_vocab):
    """Targets (one <eos> per line) as a sentence stream: <s> before every line."""
    import numpy

    inputs = numpy.empty_like(targets)
    inputs[0] = 1
    inputs[1:] = targets[:-1]
    return ngram.sentence_stream(inputs, targets, 1, n_vocab)


def to_stream(vocab, lines):
    """Lines (lists of words) as a sentence stream over ``vocab`` (a TokenVocab)."""
    import numpy

    from spacy_lm import ngram

    targets = []
    for words in lines:
        targets.extend(vocab.id_of(w) for w in words)
        targets.append(vocab.eos_id)
    return stream_of(ngram, numpy.asarray(targets, dtype="int32"), len(vocab))


def worker_component(args) -> Dict[str, object]:
    """The spaCy route: PlainTextCorpus docs -> ngram_lm.initialize -> nlp.pipe on test."""
    import spacy
    from spacy.training import Example

    from spacy_lm.corpora.plain_text import read_plain_text_docs
    from spacy_lm.corpora.corpus import corpus_perplexity
    from spacy_lm.text.tokenizer import WhitespaceTokenizer

    nlp = spacy.blank("en")
    nlp.tokenizer = WhitespaceTokenizer(nlp.vocab)
    nlp.add_pipe("ngram_lm", config={"order": args.order})
    path = split_path(args.data_dir, "train")
    start = time.process_time()
    nlp.initialize(lambda: (Example(d, d) for d in read_plain_text_docs(path, nlp.vocab, eos_marker="<eos>")))
    build_cpu = time.process_time() - start
    peak = rss_mb()
    docs = list(read_plain_text_docs(split_path(args.data_dir, "test"), nlp.vocab, eos_marker="<eos>"))
    start = time.process_time()
    scores = corpus_perplexity(nlp, docs, batch_size=256)
    score_cpu = time.process_time() - start
    return {"system": "spacy_lm ngram_lm component", "build_cpu_s": build_cpu, "peak_rss_mb": peak,
            "test_ppl": scores["lm_perplexity"], "test_tokens": scores["lm_n_predicted"],
            "lm_accuracy": scores["lm_accuracy"],
            "pipe_tokens_per_cpu_s": scores["lm_n_predicted"] / max(score_cpu, 1e-9)}


def worker_kenlm_query(args) -> Dict[str, object]:
    import kenlm

    model = kenlm.Model(args.arpa)
    lines = [" ".join(UNK_RENAMED if w == "<unk>" else w for w in words)
             for words in read_lines(split_path(args.data_dir, "test"))]
    start = time.process_time()
    total = sum(model.score(line, bos=True, eos=True) for line in lines)
    cpu = time.process_time() - start
    n = sum(len(line.split()) + 1 for line in lines)
    return {"test_ppl": 10.0 ** (-total / n), "test_tokens": n, "query_tokens_per_cpu_s": n / max(cpu, 1e-9)}


def worker_nltk(args) -> Dict[str, object]:
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    train = [w for w in read_lines(split_path(args.data_dir, "train"))[: args.nltk_train_lines]]
    start = time.process_time()
    grams, vocab = padded_everygram_pipeline(3, train)
    lm = KneserNeyInterpolated(3)
    lm.fit(grams, vocab)
    build_cpu = time.process_time() - start
    test = read_lines(split_path(args.data_dir, "test"))
    pairs = []
    for words in test:
        padded = ["<s>", "<s>"] + words + ["</s>"]
        for i in range(2, len(padded)):
            pairs.append((padded[i], padded[i - 2 : i]))
            if len(pairs) >= args.nltk_test_tokens:
                break
        if len(pairs) >= args.nltk_test_tokens:
            break
    start = time.process_time()
    total = sum(lm.logscore(w, ctx) for w, ctx in pairs)  # log2
    cpu = time.process_time() - start
    return {"system": "nltk KneserNeyInterpolated", "order": 3, "train_lines": args.nltk_train_lines,
            "build_cpu_s": build_cpu, "peak_rss_mb": rss_mb(), "scored_tokens": len(pairs),
            "slice_ppl": 2.0 ** (-total / len(pairs)) if math.isfinite(total) else None,
            "query_tokens_per_cpu_s": len(pairs) / max(cpu, 1e-9)}


WORKERS = {"ours": worker_ours, "component": worker_component, "kenlm_query": worker_kenlm_query,
           "nltk": worker_nltk}


def run_worker(name: str, args, extra: Optional[List[str]] = None) -> Optional[Dict[str, object]]:
    cmd = [sys.executable, __file__, "--worker", name, "--data-dir", str(args.data_dir), "--order", str(args.order),
           "--nltk-train-lines", str(args.nltk_train_lines), "--nltk-test-tokens", str(args.nltk_test_tokens)]
    print(f"[{name}] running ...", flush=True)
    proc = subprocess.run(cmd + (extra or []), capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"[{name}] failed:\n{proc.stderr[-2000:]}", flush=True)
        return None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"[{name}] {json.dumps(result)}", flush=True)
    return result


# ---------------------------------------------------------------- lmplz
def find_or_build_lmplz(allow_build: bool) -> Optional[Path]:
    candidates = []
    if os.environ.get("KENLM_BIN"):
        candidates.append(Path(os.environ["KENLM_BIN"]) / "lmplz")
    candidates += [Path(p) for p in sorted(glob.glob(str(CACHE / "kenlm-*" / "bin" / "lmplz")))]
    found = shutil.which("lmplz")
    if found:
        candidates.append(Path(found))
    for c in candidates:
        if c.exists() and os.access(c, os.X_OK):
            return c
    if not allow_build:
        return None
    print("lmplz not found: building it from the kenlm sdist into", CACHE, flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                            "--no-build-isolation", "kenlm", "-d", tmp], check=True, capture_output=True)
            sdist = next(Path(tmp).glob("kenlm-*.tar.gz"))
            with tarfile.open(sdist) as tar:
                tar.extractall(tmp)
            src = next(p for p in Path(tmp).iterdir() if p.is_dir() and p.name.startswith("kenlm-"))
            build = src / "build"
            build.mkdir()
            subprocess.run(["cmake", "..", "-DCMAKE_BUILD_TYPE=Release"], cwd=build, check=True, capture_output=True)
            subprocess.run(["make", f"-j{os.cpu_count() or 1}", "lmplz"], cwd=build, check=True, capture_output=True)
            target = CACHE / src.name / "bin"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(build / "bin" / "lmplz", target / "lmplz")
            return target / "lmplz"
    except (subprocess.CalledProcessError, StopIteration, OSError) as err:
        detail = getattr(err, "stderr", b"") or b""
        print(f"Could not build lmplz ({err}); {detail[-500:].decode(errors='replace') if detail else ''}\n"
              "Skipping lmplz: the issue's figures are used for the goals.", flush=True)
        return None


def run_lmplz(lmplz: Path, args, workdir: Path) -> Dict[str, object]:
    text = workdir / "train.lmplz.txt"
    with open(text, "w", encoding="utf-8") as out:
        for words in read_lines(split_path(args.data_dir, "train")):
            out.write(" ".join(UNK_RENAMED if w == "<unk>" else w for w in words) + "\n")
    arpa = workdir / "lmplz.arpa"
    cmd = [str(lmplz), "-o", str(args.order), "-S", args.lmplz_memory, "-T", str(workdir), "--text", str(text),
           "--arpa", str(arpa)]
    print("[lmplz]", " ".join(cmd), flush=True)
    with open(workdir / "lmplz.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"lmplz failed, see {workdir / 'lmplz.log'}")
    return {"system": "kenlm lmplz", "order": args.order, "memory_flag": args.lmplz_memory,
            "build_cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024.0,
            "arpa": str(arpa)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--order", type=int, default=5)
    parser.add_argument("--nltk-train-lines", type=int, default=2000)
    parser.add_argument("--nltk-test-tokens", type=int, default=300)
    parser.add_argument("--lmplz-memory", default="1G", help="lmplz -S (sorting memory)")
    parser.add_argument("--no-lmplz", action="store_true")
    parser.add_argument("--no-build", action="store_true", help="do not build lmplz when it is missing")
    parser.add_argument("--no-component", action="store_true", help="skip the spaCy-component route")
    parser.add_argument("--import-lmplz-arpa", action="store_true",
                        help="also read lmplz's ARPA into ngram_lm and score test with it (slow: Python parsing)")
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--arpa")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    for split in ("train", "test"):
        split_path(args.data_dir, split)
    ours = run_worker("ours", args)
    component = None if args.no_component else run_worker("component", args)
    lmplz_result = None
    lmplz = None if args.no_lmplz else find_or_build_lmplz(not args.no_build)
    if args.no_lmplz:
        print("lmplz skipped (--no-lmplz): the issue's figures are used for the goals.")
    workdir = Path(tempfile.mkdtemp(prefix="ngram_bench_"))
    if lmplz is not None:
        lmplz_result = run_lmplz(lmplz, args, workdir)
        query = run_worker("kenlm_query", args, ["--arpa", lmplz_result["arpa"]])
        if query:
            lmplz_result.update(query)
        print(f"[lmplz] {json.dumps(lmplz_result)}", flush=True)
        if args.import_lmplz_arpa:
            lmplz_result["imported_into_ngram_lm"] = import_arpa_check(lmplz_result["arpa"], args)
    nltk_result = run_worker("nltk", args)
    reference = lmplz_result if lmplz_result and "test_ppl" in lmplz_result else ISSUE_LMPLZ
    payload: Dict[str, object] = {"spacy_lm": ours, "spacy_lm_component": component, "lmplz": lmplz_result,
                                  "lmplz_issue_figures": ISSUE_LMPLZ, "nltk": nltk_result,
                                  "reference_for_goals": "lmplz (this run)" if reference is lmplz_result else "issue #4"}
    if ours:
        nltk_speed = nltk_result["query_tokens_per_cpu_s"] if nltk_result else ISSUE_NLTK_TOKENS_PER_CPU_S
        ratios = {
            "test_ppl_ours_over_lmplz": ours["test_ppl"] / reference["test_ppl"],
            "build_cpu_ours_over_lmplz": ours["build_cpu_s"] / reference["build_cpu_s"],
            "peak_rss_ours_over_lmplz": ours["peak_rss_mb"] / reference["peak_rss_mb"],
            "query_speed_ours_over_nltk": ours["query_tokens_per_cpu_s"] / nltk_speed,
            "query_speed_ours_with_argmax_over_nltk": ours["query_with_argmax_tokens_per_cpu_s"] / nltk_speed,
        }
        if lmplz_result and "query_tokens_per_cpu_s" in lmplz_result:
            ratios["query_speed_ours_over_kenlm_python"] = (ours["query_tokens_per_cpu_s"]
                                                           / lmplz_result["query_tokens_per_cpu_s"])
        goals = {"ppl_within_0.5pct": abs(ratios["test_ppl_ours_over_lmplz"] - 1) <= 0.005,
                 "build_le_2x": ratios["build_cpu_ours_over_lmplz"] <= 2.0,
                 "memory_le_2x": ratios["peak_rss_ours_over_lmplz"] <= 2.0,
                 "speed_ge_100x_nltk": ratios["query_speed_ours_over_nltk"] >= 100.0}
        payload["ratios"] = ratios
        payload["goals_met"] = goals
        for key, value in ratios.items():
            print(f"{key}: {value:.4f}")
        print("goals:", goals)
    import platform

    payload["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "machine": platform.machine()}
    write_results("ngram", payload)
    shutil.rmtree(workdir, ignore_errors=True)


def import_arpa_check(arpa: str, args) -> Dict[str, object]:
    """Read lmplz's ARPA with ngram_lm (``<UNK>`` is then an ordinary word) and score test."""
    from spacy_lm.pipeline.ngram_lm import NGramLanguageModel

    start = time.process_time()
    pipe = NGramLanguageModel.from_arpa(arpa)
    load_cpu = time.process_time() - start
    vocab = pipe.lm_vocab
    lines = [[UNK_RENAMED if w == "<unk>" else w for w in words]
             for words in read_lines(split_path(args.data_dir, "test"))]
    log10p, _ = pipe.model.score(to_stream(vocab, lines), with_argmax=False)
    return {"load_cpu_s": load_cpu, "test_ppl": float(10.0 ** (-float(log10p.sum(dtype="float64")) / len(log10p)))}


if __name__ == "__main__":
    main()
