"""Non-neural baselines of the SQuAD paper (Rajpurkar et al. 2016) on SQuAD v1.1 dev and XQuAD-en.

What the `qa` component's reader should beat, scored with the official SQuAD v1.1 EM / F1
(``spacy_lm.metrics.qa.squad_scores``; max over the reference answers):

* ``random``: a random token span whose length (in tokens) is drawn from the train answers'
  length distribution, its start uniform over the paragraph; the mean over ``--seeds`` seeds.
  (The paper drew among parse constituents, F1 ~4; any token span is a harder draw.)
* ``sliding_window``: MCTest's sliding window (Richardson et al. 2013) as the SQuAD paper adapts it.
  Candidates: every span of 1..``--max-length`` tokens with a word (not punctuation or space) at
  each edge and no question word inside. Score = the inverse-count weighted question words
  (IC(w) = log(1 + 1 / count of w in the paragraph)) in the best window of |Q| + len(span) tokens
  that covers the span (|Q| = distinct question words), minus MCTest's distance term: tokens
  from the span to the nearest question word / (paragraph length - 1). Ties go to the length
  most frequent among train answers. Vectorised per span length: prefix sums and a sliding max.
* ``word_overlap``: the context sentence (spaCy's ``sentencizer``) with the most IC-weighted
  question words, then in it the span of 1..``--max-length`` tokens (same candidate rule) closest
  to the question words it shares: score = sum over those words of IC(w) / tokens from the span to
  w's nearest occurrence in the sentence; ties again by the train length prior.

Choices made on the held-out train articles (EM / F1): lower-cased words with stop words kept
(dropping spaCy's stop words from the question: sliding window F1 12.1 -> 7.7); ``--max-length``
3 / 5 / 10: sliding window F1 9.1 / 11.0 / 12.1, word overlap 10.6 / 11.4 / 11.8; word overlap
by the nearest question word alone (ties to the likeliest length, i.e. one token): F1 5.8.

Tokens are what the component sees: ``spacy.blank("en")``'s ``make_doc``, words matched
lower-cased, answer text = ``context[token.idx of the first : end of the last token]``. Train
answers are mapped to tokens with ``doc.char_span(..., alignment_mode="expand")``.

Data: ../shared/data/squad-v1.1/{train,dev}-v1.1.json.gz and ../shared/data/xquad-en/xquad.en.json
(``--data-dir``; exits with a clear message when missing). The variant was chosen on the last 20
train articles (``--split heldout``), never on dev or XQuAD.

    python benchmarks/qa_baselines.py                      # -> results/qa_baselines.json
    python benchmarks/qa_baselines.py --split heldout --output /tmp/qa_baselines_heldout.json

The helpers :func:`load_split`, :func:`answer_length_prior` and :func:`score_predictions` are
reused by benchmarks/qa_peer.py.
"""
import argparse
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from _common import REPO, write_results  # noqa: E402

DATA_ROOT = REPO.parent / "shared" / "data"
FILES = {"train": ("squad-v1.1", "train-v1.1.json.gz"), "dev": ("squad-v1.1", "dev-v1.1.json.gz"),
         "xquad": ("xquad-en", "xquad.en.json")}
HELD_OUT_ARTICLES = 20  # the last 20 train articles: tuning slice, never trained on by the peer


# ---------------------------------------------------------------- data
@dataclass
class Question:
    id: str
    text: str
    words: List[str]                     # token texts of the question (spacy.blank("en"))
    answers: List[str]                   # reference answer texts
    spans: List[Tuple[int, int]] = field(default_factory=list)  # answer token spans [start, end)


@dataclass
class Paragraph:
    title: str
    context: str
    words: List[str]                     # token texts
    starts: numpy.ndarray                # token.idx
    ends: numpy.ndarray                  # token.idx + len(token)
    is_word: numpy.ndarray               # neither punctuation nor whitespace
    questions: List[Question]
    sent_starts: Optional[numpy.ndarray] = None  # token indices where a sentence starts

    def text(self, start: int, end: int) -> str:
        """The answer text of token span [start, end)."""
        return self.context[int(self.starts[start]): int(self.ends[end - 1])]


def data_path(data_dir: Path, split: str) -> Path:
    folder, name = FILES[split]
    path = Path(data_dir) / folder / name
    if not path.is_file():
        sys.exit(f"SQuAD data not found: {path}. This benchmark reads ../shared/data/squad-v1.1/"
                 "{train,dev}-v1.1.json.gz and ../shared/data/xquad-en/xquad.en.json; pass --data-dir.")
    return path


def load_split(data_dir: Path, split: str, sentences: bool = False, limit_articles: int = 0) -> List[Paragraph]:
    """Paragraphs of ``split`` ("train", "heldout" = the last 20 train articles, "dev", "xquad"),
    tokenised as the component tokenises them; ``limit_articles`` keeps the first n (smoke runs)."""
    import spacy
    from spacy_lm.corpora.squad import read_squad

    path = data_path(data_dir, "train" if split == "heldout" else split)
    records = list(read_squad(path))
    if split in ("train", "heldout"):
        titles = list(dict.fromkeys(r["title"] for r in records))
        held = set(titles[-HELD_OUT_ARTICLES:])
        records = [r for r in records if (r["title"] in held) == (split == "heldout")]
    if limit_articles:
        keep = set(list(dict.fromkeys(r["title"] for r in records))[:limit_articles])
        records = [r for r in records if r["title"] in keep]
    nlp = spacy.blank("en")
    if sentences:
        nlp.add_pipe("sentencizer")
    contexts = nlp.pipe([r["context"] for r in records], batch_size=256) if sentences else \
        nlp.tokenizer.pipe([r["context"] for r in records], batch_size=256)
    questions = iter(nlp.tokenizer.pipe([qa["question"] for r in records for qa in r["qas"]], batch_size=1000))
    paragraphs = []
    for record, doc in zip(records, contexts):
        qs = []
        for qa in record["qas"]:
            qdoc = next(questions)
            q = Question(qa["id"], qa["question"], [t.text for t in qdoc], [a["text"] for a in qa["answers"]])
            for a in qa["answers"]:
                span = doc.char_span(a["answer_start"], a["answer_start"] + len(a["text"]), alignment_mode="expand")
                if span is not None and len(span):
                    q.spans.append((span.start, span.end))
            qs.append(q)
        starts = numpy.asarray([t.idx for t in doc], dtype="int64")
        paragraphs.append(Paragraph(
            record["title"], record["context"], [t.text for t in doc], starts,
            starts + numpy.asarray([len(t.text) for t in doc], dtype="int64"),
            numpy.asarray([not (t.is_punct or t.is_space) for t in doc], dtype=bool), qs,
            numpy.asarray([t.i for t in doc if t.is_sent_start], dtype="int64") if sentences else None))
    return paragraphs


def answer_length_prior(paragraphs: Sequence[Paragraph], max_length: int = 0) -> numpy.ndarray:
    """p[l] = share of (first) train answers of l tokens, l = 0..max (p[0] = 0)."""
    lengths = Counter(q.spans[0][1] - q.spans[0][0] for p in paragraphs for q in p.questions if q.spans)
    top = max_length or max(lengths)
    prior = numpy.zeros(top + 1)
    for length, n in lengths.items():
        prior[min(length, top)] += n
    return prior / prior.sum()


def score_predictions(paragraphs: Sequence[Paragraph], predictions: Dict[str, str]) -> Dict[str, float]:
    """Official SQuAD v1.1 EM / F1 (0..100) of ``predictions`` (qid -> text) over all questions."""
    from spacy_lm.metrics.qa import squad_scores

    references = {q.id: q.answers for p in paragraphs for q in p.questions}
    scores = squad_scores({qid: predictions.get(qid, "") for qid in references}, references)
    return {"exact_match": float(scores["exact_match"]), "f1": float(scores["f1"]), "n_questions": len(references)}


def count_questions(paragraphs: Sequence[Paragraph]) -> int:
    return sum(len(p.questions) for p in paragraphs)


# ---------------------------------------------------------------- baselines
def random_span(paragraphs: Sequence[Paragraph], prior: numpy.ndarray, seed: int) -> Dict[str, str]:
    rng = numpy.random.default_rng(seed)
    preds = {}
    for p in paragraphs:
        n = len(p.words)
        for q in p.questions:
            length = min(int(rng.choice(len(prior), p=prior)), n)
            start = int(rng.integers(0, n - length + 1))
            preds[q.id] = p.text(start, start + length)
    return preds


def _question_marks(p: Paragraph, lower: List[str], q: Question) -> Tuple[numpy.ndarray, int]:
    """(IC weight of each paragraph token that is a question word else 0, number of distinct
    question words)."""
    words = {w.lower() for w, ok in zip(q.words, _is_word_list(q.words)) if ok}
    qset = words & {w for w, ok in zip(lower, p.is_word) if ok}
    n_q = len(words)
    counts = Counter(lower)
    marks = numpy.asarray([numpy.log1p(1.0 / counts[w]) if ok and w in qset else 0.0
                           for w, ok in zip(lower, p.is_word)])
    return marks, n_q


def _is_word_list(words: Sequence[str]) -> List[bool]:
    return [any(ch.isalnum() for ch in w) for w in words]


def _distance_to(mask: numpy.ndarray) -> numpy.ndarray:
    """Tokens from each position to the nearest True of ``mask`` (len(mask) where none)."""
    n = len(mask)
    idx = numpy.arange(n)
    left = numpy.where(mask, idx, -10 * n - 1)
    left = numpy.maximum.accumulate(left)
    right = numpy.where(mask, idx, 11 * n + 1)
    right = numpy.minimum.accumulate(right[::-1])[::-1]
    return numpy.minimum(idx - left, right - idx).clip(max=n)


def _best_span(candidates: List[Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]],
               prior: numpy.ndarray) -> Optional[Tuple[int, int]]:
    """Highest score (rounded, so equal sums tie), then the likelier length, then leftmost."""
    if not candidates:
        return None
    score = numpy.concatenate([c[0] for c in candidates]).round(9)
    start = numpy.concatenate([c[1] for c in candidates])
    length = numpy.concatenate([c[2] for c in candidates])
    if not len(score):
        return None
    logp = numpy.log(prior[numpy.minimum(length, len(prior) - 1)] + 1e-12)
    best = numpy.lexsort((start, -logp, -score))[0]
    return int(start[best]), int(start[best] + length[best])


def _valid_starts(is_word: numpy.ndarray, is_q: numpy.ndarray, length: int, lo: int, hi: int) -> numpy.ndarray:
    """Starts a in [lo, hi - length] of spans with words at both edges and no question word."""
    q_cum = numpy.concatenate([[0], numpy.cumsum(is_q)])
    a = numpy.arange(lo, hi - length + 1)
    ok = is_word[a] & is_word[a + length - 1] & (q_cum[a + length] - q_cum[a] == 0)
    return a[ok]


def sliding_window(p: Paragraph, lower: List[str], q: Question, prior: numpy.ndarray,
                   max_length: int, distance: bool = True) -> Optional[Tuple[int, int]]:
    marks, n_q = _question_marks(p, lower, q)
    n = len(marks)
    is_q = marks > 0
    cum = numpy.concatenate([[0.0], numpy.cumsum(marks)])
    dist = _distance_to(is_q) if is_q.any() else None
    candidates = []
    for length in range(1, min(max_length, n) + 1):
        starts = _valid_starts(p.is_word, is_q, length, 0, n)
        if not len(starts):
            continue
        k = n_q + length  # window size |S| = |Q| + |A|
        s = numpy.arange(-n_q, n)  # window starts, hanging over the edges where needed
        sums = cum[numpy.clip(s + k, 0, n)] - cum[numpy.clip(s, 0, n)]
        best_window = numpy.lib.stride_tricks.sliding_window_view(sums, n_q + 1).max(axis=1)  # s in [a-|Q|, a]
        score = best_window[starts]
        if distance:
            if dist is None:
                score = score - 1.0
            else:
                span_dist = numpy.lib.stride_tricks.sliding_window_view(dist, length).min(axis=1)[starts]
                score = score - span_dist / max(n - 1, 1)
        candidates.append((score, starts, numpy.full(len(starts), length)))
    return _best_span(candidates, prior)


def word_overlap(p: Paragraph, lower: List[str], q: Question, prior: numpy.ndarray,
                 max_length: int) -> Optional[Tuple[int, int]]:
    marks, _ = _question_marks(p, lower, q)
    n = len(marks)
    bounds = list(p.sent_starts) + [n]
    seen_score, sent = -1.0, (0, n)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        # IC of the distinct question words in the sentence
        score = sum({lower[i]: marks[i] for i in range(lo, hi) if marks[i] > 0}.values())
        if score > seen_score:
            seen_score, sent = score, (lo, hi)
    lo, hi = sent
    is_q = marks > 0
    # one distance array per distinct question word of the sentence, weighted by its IC
    shared: Dict[str, float] = {lower[i]: marks[i] for i in range(lo, hi) if marks[i] > 0}
    in_sent = numpy.zeros(n, dtype=bool)
    in_sent[lo:hi] = True
    lower_arr = numpy.asarray(lower, dtype=object)
    dists = [(ic, _distance_to(in_sent & (lower_arr == w))) for w, ic in shared.items()]
    candidates = []
    for length in range(1, min(max_length, hi - lo) + 1):
        starts = _valid_starts(p.is_word, is_q, length, lo, hi)
        if len(starts):
            score = numpy.zeros(len(starts))
            for ic, dist in dists:  # closeness: IC / tokens to the word's nearest occurrence
                span_dist = numpy.lib.stride_tricks.sliding_window_view(dist, length).min(axis=1)[starts]
                score += ic / numpy.maximum(span_dist, 1)
            candidates.append((score, starts, numpy.full(len(starts), length)))
    return _best_span(candidates, prior)


def run_heuristic(name: str, paragraphs: Sequence[Paragraph], prior: numpy.ndarray, max_length: int,
                  **kwargs) -> Dict[str, str]:
    fn = {"sliding_window": sliding_window, "word_overlap": word_overlap}[name]
    preds = {}
    for p in paragraphs:
        lower = [w.lower() for w in p.words]
        for q in p.questions:
            span = fn(p, lower, q, prior, max_length, **kwargs)
            preds[q.id] = p.text(*span) if span else ""
    return preds


# ---------------------------------------------------------------- main
def machine() -> Dict[str, object]:
    try:
        return _common.machine_info(1)
    except ImportError:  # machine_info records torch's version; the baselines do not need torch
        return {"python": platform.python_version(), "numpy": numpy.__version__, "cpus": os.cpu_count(),
                "machine": platform.machine(), "load_average_when_recorded": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA_ROOT)
    parser.add_argument("--split", default="dev,xquad",
                        help="comma-separated: dev, xquad, heldout (the last 20 train articles)")
    parser.add_argument("--seeds", type=int, default=3, help="random-span seeds (the mean is reported)")
    parser.add_argument("--max-length", type=int, default=10, help="longest candidate span (tokens)")
    parser.add_argument("--limit-articles", type=int, default=0, help="first N articles of each split (smoke)")
    parser.add_argument("--output", type=Path, default=None, help="default benchmarks/results/qa_baselines.json")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    t0 = time.perf_counter()
    train = load_split(args.data_dir, "train")
    prior = answer_length_prior(train)
    train_tokens = {"questions": count_questions(train), "answer_length_prior": [round(x, 4) for x in prior[:16]],
                    "mean_answer_tokens": float((numpy.arange(len(prior)) * prior).sum())}
    print(f"train: {train_tokens['questions']} questions, answer length prior[1..5] "
          f"{[round(x, 3) for x in prior[1:6]]} ({time.perf_counter() - t0:.0f}s)")
    del train
    results: Dict[str, Dict[str, object]] = {}
    for split in [s.strip() for s in args.split.split(",") if s.strip()]:
        paragraphs = load_split(args.data_dir, split, sentences=True, limit_articles=args.limit_articles)
        res: Dict[str, object] = {"questions": count_questions(paragraphs), "paragraphs": len(paragraphs)}
        runs = [score_predictions(paragraphs, random_span(paragraphs, prior, seed)) for seed in range(args.seeds)]
        res["random"] = {"exact_match": float(numpy.mean([r["exact_match"] for r in runs])),
                         "f1": float(numpy.mean([r["f1"] for r in runs])), "per_seed": runs}
        for name, kwargs in (("sliding_window", {"distance": True}), ("sliding_window_no_distance", {"distance": False}),
                             ("word_overlap", {})):
            start = time.perf_counter()
            preds = run_heuristic(name.replace("_no_distance", ""), paragraphs, prior, args.max_length, **kwargs)
            res[name] = {**score_predictions(paragraphs, preds), "seconds": time.perf_counter() - start}
        results[split] = res
        print(f"{split} ({res['questions']} questions): " + ", ".join(
            f"{k} EM {v['exact_match']:.1f} F1 {v['f1']:.1f}" for k, v in res.items() if isinstance(v, dict)))
    payload = {"results": results, "train": train_tokens, "max_length": args.max_length, "seeds": args.seeds,
               "tokenizer": 'spacy.blank("en").make_doc; sentences: sentencizer',
               "paper_dev_f1": {"random": 4.1, "sliding_window": 20.2, "logistic_regression": 51.0},
               "machine": machine(), "load_average_at_start": load_at_start,
               "wall_seconds": time.perf_counter() - t0}
    output = args.output or (_common.RESULTS / "qa_baselines.json")
    _common.RESULTS = output.resolve().parent
    write_results(output.stem, payload)


if __name__ == "__main__":
    main()
