"""The PyTorch peer of the `qa` component: a DrQA-style reader (Chen et al. 2017) written here.

What is compared: the same-sized reader as ours (spacy_lm.SpanReader.v1), trained from scratch on
SQuAD v1.1 train (no pretrained vectors) under a wall-clock budget, then SQuAD v1.1 dev EM / F1
(all 10,570 questions, official metric: ``spacy_lm.metrics.qa.squad_scores``), XQuAD-en EM / F1,
training tokens/s (context + question tokens fed per second of training), inference questions/s
and the number of parameters.

The model (DrQA's document reader, written for this benchmark):

* vocabulary: lower-cased train tokens (contexts and questions) seen >= ``--vocab-min-freq`` times,
  at most ``--max-vocab``; 0 = padding, 1 = unknown; embeddings of ``--embed`` learned from scratch;
* per context token: its embedding, the aligned question embedding (softmax over the question of
  ReLU(W e_c) . ReLU(W e_q), weighted sum of the question embeddings), exact match of the
  original form and of the lower-cased form with any question token, and the token's term
  frequency in the context (count / context length);
* context and question: ``--depth`` bidirectional ``--cell`` layers of ``--width`` per direction
  (each direction reads only the real tokens; dropout ``--dropout`` on the embeddings and between layers); the question is
  pooled by self-attention (a learned linear score, softmax, weighted sum);
* start and end scores: bilinear p_i W q (one W each); loss = CE(start) + CE(end);
* best span: argmax of start + end logits over the band end - start < ``--max-answer-length``
  (15) of their outer sum, vectorised.

Contexts longer than ``--max-context`` (400) tokens: training reads a random window that holds the
answer; inference reads windows every ``--stride`` tokens and keeps the best-scoring span.
Adamax (lr 2e-3, DrQA's), batches of 32 questions (length-bucketed), gradient norm clipped at 10.

Data: train = SQuAD v1.1 train without its last 20 articles (``qa_baselines.load_split``: same
tokens as the component, ``spacy.blank("en").make_doc``); those 20 articles are the held-out
slice, scored every ``--eval-minutes`` of training time (the best state is kept). The budget counts
training time only (the held-out evaluations are not in it). ``--max-train-questions`` takes a
seeded sample of the train questions (learning curve: 5000 / 20000 / all). Reads
../shared/data (``--data-dir``); exits with a clear message when missing. The JSON is rewritten
after every evaluation (``"finished": false`` until the end).

    # the long run (the lead schedules it; 1 thread, 40 minutes of training):
    python benchmarks/qa_peer.py --threads 1 --budget-minutes 40 --eval-minutes 5
    # learning curve
    python benchmarks/qa_peer.py --budget-minutes 40 --max-train-questions 20000 \\
        --output benchmarks/results/qa_peer_20k.json
    # smoke test (correctness, not a result)
    python benchmarks/qa_peer.py --budget-minutes 2 --eval-minutes 1 --heldout-questions 500 \\
        --output /tmp/qa_peer_smoke.json
"""
import argparse
import copy
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from _common import machine_info, set_threads, write_results  # noqa: E402
from qa_baselines import DATA_ROOT, Paragraph, Question, load_split, score_predictions  # noqa: E402

PAD, UNK = 0, 1
Item = Tuple[Paragraph, Question]


# ---------------------------------------------------------------- data
def build_vocab(paragraphs: Sequence[Paragraph], min_freq: int, max_size: int) -> Dict[str, int]:
    counts: Counter = Counter()
    for p in paragraphs:
        counts.update(w.lower() for w in p.words)
        for q in p.questions:
            counts.update(w.lower() for w in q.words)
    vocab = {"<pad>": PAD, "<unk>": UNK}
    for word, n in counts.most_common(max_size - 2):
        if n < min_freq:
            break
        vocab[word] = len(vocab)
    return vocab


class Encoded:
    """Ids and question-independent features of a paragraph, computed once."""

    def __init__(self, p: Paragraph, vocab: Dict[str, int]):
        lower = [w.lower() for w in p.words]
        self.ids = numpy.asarray([vocab.get(w, UNK) for w in lower], dtype="int64")
        counts = Counter(lower)
        self.tf = numpy.asarray([counts[w] for w in lower], dtype="float32") / max(len(lower), 1)
        self.words, self.lower = p.words, lower


def question_inputs(enc: Encoded, q: Question, vocab: Dict[str, int], max_question: int):
    words = q.words[:max_question] or ["?"]
    q_ids = numpy.asarray([vocab.get(w.lower(), UNK) for w in words], dtype="int64")
    orig, low = set(words), {w.lower() for w in words}
    em = numpy.asarray([[w in orig, lw in low] for w, lw in zip(enc.words, enc.lower)], dtype="float32")
    feats = numpy.concatenate([em.reshape(-1, 2), enc.tf[:, None]], axis=1)
    return q_ids, feats


def windows(n: int, max_context: int, stride: int) -> List[int]:
    if n <= max_context:
        return [0]
    offsets = list(range(0, n - max_context, stride))
    return offsets + [n - max_context]


def make_batch(torch, rows: List[Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]]):
    """rows of (context ids, context features, question ids) -> padded tensors and lengths."""
    c_len = torch.tensor([len(r[0]) for r in rows])
    q_len = torch.tensor([len(r[2]) for r in rows])
    B, Tc, Tq = len(rows), int(c_len.max()), int(q_len.max())
    c_ids = numpy.zeros((B, Tc), dtype="int64")
    feats = numpy.zeros((B, Tc, 3), dtype="float32")
    q_ids = numpy.zeros((B, Tq), dtype="int64")
    for i, (ci, cf, qi) in enumerate(rows):
        c_ids[i, : len(ci)], feats[i, : len(ci)], q_ids[i, : len(qi)] = ci, cf, qi
    return torch.from_numpy(c_ids), torch.from_numpy(feats), c_len, torch.from_numpy(q_ids), q_len


# ---------------------------------------------------------------- model
def build_birnn(cell: str, n_in: int, width: int, depth: int, dropout: float):
    """Stacked bidirectional RNN over padded batches, exact without packing: each direction is a
    one-way nn.LSTM/nn.GRU; the backward one reads every row reversed within its own length. (The
    packed path of PyTorch's CPU RNNs spends ~90% of the backward pass zero-filling full-size
    gradients in per-step slice backwards: 2.3 s a batch here vs a fraction of it this way.)"""
    import torch
    from torch import nn

    rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]

    class BiRNN(nn.Module):
        def __init__(self):
            super().__init__()
            sizes = [n_in] + [2 * width] * (depth - 1)
            self.fwd = nn.ModuleList([rnn_class(n, width, batch_first=True) for n in sizes])
            self.bwd = nn.ModuleList([rnn_class(n, width, batch_first=True) for n in sizes])
            self.drop = nn.Dropout(dropout)

        def forward(self, x, lengths):
            T = x.shape[1]
            t = torch.arange(T)[None, :]
            rev = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # its own inverse
            index = rev[:, :, None]
            for i, (fwd, bwd) in enumerate(zip(self.fwd, self.bwd)):
                if i:
                    x = self.drop(x)
                back = bwd(x.gather(1, index.expand(-1, -1, x.shape[2])))[0]
                x = torch.cat([fwd(x)[0], back.gather(1, index.expand(-1, -1, width))], dim=-1)
            return x

    return BiRNN()


def build_reader(n_vocab: int, embed: int, width: int, depth: int, cell: str, dropout: float):
    import torch
    from torch import nn

    class Reader(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(n_vocab, embed, padding_idx=PAD)
            self.align = nn.Linear(embed, embed)
            self.context_rnn = build_birnn(cell, 2 * embed + 3, width, depth, dropout)
            self.question_rnn = build_birnn(cell, embed, width, depth, dropout)
            self.question_score = nn.Linear(2 * width, 1)
            self.start = nn.Linear(2 * width, 2 * width)
            self.end = nn.Linear(2 * width, 2 * width)
            self.drop = nn.Dropout(dropout)

        def forward(self, c_ids, feats, c_len, q_ids, q_len):
            c_mask = torch.arange(c_ids.shape[1])[None, :] < c_len[:, None]
            q_mask = torch.arange(q_ids.shape[1])[None, :] < q_len[:, None]
            c_emb, q_emb = self.drop(self.embed(c_ids)), self.drop(self.embed(q_ids))
            affinity = torch.relu(self.align(c_emb)) @ torch.relu(self.align(q_emb)).transpose(1, 2)
            affinity = affinity.masked_fill(~q_mask[:, None, :], -1e30)
            aligned = torch.softmax(affinity, dim=-1) @ q_emb
            p = self.context_rnn(torch.cat([c_emb, aligned, feats], dim=-1), c_len)
            qh = self.question_rnn(q_emb, q_len)
            weights = torch.softmax(self.question_score(qh).squeeze(-1).masked_fill(~q_mask, -1e30), dim=-1)
            q = (weights.unsqueeze(-1) * qh).sum(dim=1)
            start = (p @ self.start(q).unsqueeze(-1)).squeeze(-1).masked_fill(~c_mask, -1e30)
            end = (p @ self.end(q).unsqueeze(-1)).squeeze(-1).masked_fill(~c_mask, -1e30)
            return start, end

    return Reader()


def best_spans(torch, start, end, max_answer_length: int):
    """(score, start, end inclusive) of the best span with end - start < max_answer_length."""
    T = start.shape[1]
    band = torch.ones(T, T, dtype=torch.bool).triu().tril(max_answer_length - 1)
    scores = (start[:, :, None] + end[:, None, :]).masked_fill(~band, -1e30)
    value, flat = scores.view(len(start), -1).max(dim=-1)
    return value, flat // T, flat % T


# ---------------------------------------------------------------- training / inference
class Trainer:
    def __init__(self, args, vocab: Dict[str, int]):
        import torch

        torch.manual_seed(args.seed)
        self.torch, self.args, self.vocab = torch, args, vocab
        self.model = build_reader(len(vocab), args.embed, args.width, args.depth, args.cell, args.dropout)
        self.optimizer = torch.optim.Adamax(self.model.parameters(), lr=args.lr)
        self.rng = numpy.random.default_rng(args.seed)
        self.encoded: Dict[int, Tuple[Paragraph, Encoded]] = {}

    def enc(self, p: Paragraph) -> Encoded:
        entry = self.encoded.get(id(p))
        if entry is None or entry[0] is not p:  # ids of freed paragraphs are reused
            entry = self.encoded[id(p)] = (p, Encoded(p, self.vocab))
        return entry[1]

    def train_rows(self, items: Sequence[Item]):
        rows, starts, ends = [], [], []
        a = self.args
        for p, q in items:
            enc = self.enc(p)
            q_ids, feats = question_inputs(enc, q, self.vocab, a.max_question)
            s, e = q.spans[0]
            off = 0
            if len(enc.ids) > a.max_context:
                lo, hi = max(0, e - a.max_context), min(s, len(enc.ids) - a.max_context)
                off = int(self.rng.integers(lo, hi + 1))
            sl = slice(off, off + a.max_context)
            rows.append((enc.ids[sl], feats[sl], q_ids))
            starts.append(s - off)
            ends.append(e - 1 - off)
        return rows, self.torch.tensor(starts), self.torch.tensor(ends)

    def batches(self, items: Sequence[Item]) -> List[List[Item]]:
        """Shuffled, then sorted by context length within chunks of 50 batches (bucketing)."""
        order = self.rng.permutation(len(items))
        size = self.args.batch_size
        out = []
        for lo in range(0, len(order), size * 50):
            chunk = sorted(order[lo: lo + size * 50], key=lambda i: len(items[i][0].words))
            out.extend([[items[i] for i in chunk[b: b + size]] for b in range(0, len(chunk), size)])
        return [out[i] for i in self.rng.permutation(len(out))]

    def step(self, batch: List[Item]) -> Tuple[float, int]:
        torch = self.torch
        self.model.train()
        rows, gold_s, gold_e = self.train_rows(batch)
        start, end = self.model(*make_batch(torch, rows))
        loss = torch.nn.functional.cross_entropy(start, gold_s) + torch.nn.functional.cross_entropy(end, gold_e)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.args.clip)
        self.optimizer.step()
        return float(loss.item()), sum(len(r[0]) + len(r[2]) for r in rows)

    def predict(self, paragraphs: Sequence[Paragraph], limit: int = 0) -> Dict[str, str]:
        """qid -> answer text; windows of long contexts read separately, the best span kept."""
        torch, a = self.torch, self.args
        jobs = []  # (paragraph, question, offset)
        for p in paragraphs:
            for q in p.questions:
                jobs.extend((p, q, off) for off in windows(len(p.words), a.max_context, a.stride))
        if limit:  # the first ``limit`` questions only
            keep = set(list(dict.fromkeys(j[1].id for j in jobs))[:limit])
            jobs = [j for j in jobs if j[1].id in keep]
        jobs.sort(key=lambda j: min(len(j[0].words) - j[2], a.max_context))
        best: Dict[str, Tuple[float, str]] = {}
        self.model.eval()
        with torch.no_grad():
            for lo in range(0, len(jobs), a.eval_batch_size):
                chunk = jobs[lo: lo + a.eval_batch_size]
                rows = []
                for p, q, off in chunk:
                    q_ids, feats = question_inputs(self.enc(p), q, self.vocab, a.max_question)
                    sl = slice(off, off + a.max_context)
                    rows.append((self.enc(p).ids[sl], feats[sl], q_ids))
                start, end = self.model(*make_batch(torch, rows))
                value, s, e = best_spans(torch, start, end, a.max_answer_length)
                for (p, q, off), v, si, ei in zip(chunk, value.tolist(), s.tolist(), e.tolist()):
                    if q.id not in best or v > best[q.id][0]:
                        best[q.id] = (v, p.text(off + si, off + ei + 1))
        return {qid: text for qid, (_, text) in best.items()}


def evaluate(trainer: Trainer, paragraphs: Sequence[Paragraph], limit: int = 0) -> Dict[str, float]:
    t = time.perf_counter()
    preds = trainer.predict(paragraphs, limit)
    seconds = time.perf_counter() - t
    if limit:
        paragraphs = [Paragraph(p.title, p.context, p.words, p.starts, p.ends, p.is_word,
                                [q for q in p.questions if q.id in preds]) for p in paragraphs]
    scores = score_predictions(paragraphs, preds)
    return {**scores, "seconds": seconds, "questions_per_s": len(preds) / seconds}


# ---------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA_ROOT)
    parser.add_argument("--embed", type=int, default=128)
    parser.add_argument("--width", type=int, default=96, help="hidden size per direction")
    parser.add_argument("--depth", type=int, default=2, help="BiRNN layers (context and question)")
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--vocab-min-freq", type=int, default=2)
    parser.add_argument("--max-vocab", type=int, default=50000)
    parser.add_argument("--max-context", type=int, default=400)
    parser.add_argument("--stride", type=int, default=200, help="window step for contexts over --max-context")
    parser.add_argument("--max-question", type=int, default=60)
    parser.add_argument("--max-answer-length", type=int, default=15)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adamax learning rate (DrQA's)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--clip", type=float, default=10.0)
    parser.add_argument("--budget-minutes", type=float, default=40.0, help="training time (evaluations excluded)")
    parser.add_argument("--eval-minutes", type=float, default=5.0, help="held-out evaluation every N training minutes")
    parser.add_argument("--heldout-questions", type=int, default=0, help="first N held-out questions; 0 = all")
    parser.add_argument("--max-train-questions", type=int, default=0, help="seeded sample of train; 0 = all")
    parser.add_argument("--limit-articles", type=int, default=0, help="first N train articles (smoke)")
    parser.add_argument("--skip-final", action="store_true", help="no dev / XQuAD evaluation (smoke)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=100, help="print the mean loss every N steps")
    parser.add_argument("--output", type=Path, default=None, help="default benchmarks/results/qa_peer.json")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    set_threads(args.threads)
    load_at_start = os.getloadavg()
    wall0 = time.perf_counter()
    output = (args.output or (_common.RESULTS / "qa_peer.json")).resolve()
    _common.RESULTS = output.parent

    train = load_split(args.data_dir, "train", limit_articles=args.limit_articles)
    heldout = load_split(args.data_dir, "heldout")
    items = [(p, q) for p in train for q in p.questions if q.spans]
    n_unaligned = sum(len(p.questions) for p in train) - len(items)
    if args.max_train_questions:
        pick = numpy.random.default_rng(args.seed).permutation(len(items))[: args.max_train_questions]
        items = [items[i] for i in sorted(pick)]
    vocab_from = list({id(p): p for p, _ in items}.values()) if args.max_train_questions else train
    vocab = build_vocab(vocab_from, args.vocab_min_freq, args.max_vocab)
    trainer = Trainer(args, vocab)
    n_params = sum(p.numel() for p in trainer.model.parameters())
    prep_s = time.perf_counter() - wall0
    print(f"train {len(items)} questions ({n_unaligned} without a token span), held-out "
          f"{sum(len(p.questions) for p in heldout)}, vocab {len(vocab)}, params {n_params:,} "
          f"(data {prep_s:.0f}s)", flush=True)

    payload: Dict[str, object] = {
        "system": "pytorch DrQA-style reader (benchmarks/qa_peer.py)", "finished": False,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "train_questions": len(items), "train_questions_without_span": n_unaligned, "vocab_size": len(vocab),
        "parameters": n_params, "data_seconds": prep_s, "evaluations": [],
        "machine": machine_info(args.threads), "load_average_at_start": load_at_start}

    def save() -> None:
        payload["wall_seconds"] = time.perf_counter() - wall0
        write_results(output.stem, payload)

    budget, every = args.budget_minutes * 60, args.eval_minutes * 60
    train_s, tokens, steps, epoch = 0.0, 0, 0, 0
    losses: List[float] = []
    best_f1, best_state = -1.0, None
    next_eval = min(every, budget)
    done = False
    while not done:
        epoch += 1
        for batch in trainer.batches(items):
            t = time.perf_counter()
            loss, n_tokens = trainer.step(batch)
            train_s += time.perf_counter() - t
            tokens, steps = tokens + n_tokens, steps + 1
            losses.append(loss)
            if steps % args.log_every == 0:
                print(f"epoch {epoch} step {steps} loss {numpy.mean(losses[-args.log_every:]):.3f} "
                      f"{tokens / train_s:,.0f} tok/s ({train_s / 60:.1f} min)", flush=True)
            if train_s >= next_eval or train_s >= budget:
                res = evaluate(trainer, heldout, args.heldout_questions)
                row = {"train_minutes": train_s / 60, "steps": steps, "epoch": epoch,
                       "epochs_done": steps * args.batch_size / len(items), "loss": float(numpy.mean(losses[-200:])),
                       "heldout": res}
                payload["evaluations"].append(row)
                print(f"  held-out ({res['n_questions']} q): EM {res['exact_match']:.2f} F1 {res['f1']:.2f} "
                      f"[{res['questions_per_s']:.0f} q/s] at {train_s / 60:.1f} min", flush=True)
                if res["f1"] > best_f1:
                    best_f1, best_state = res["f1"], copy.deepcopy(trainer.model.state_dict())
                    payload["best"] = {"train_minutes": row["train_minutes"], "steps": steps, "heldout": res}
                payload["training"] = {"seconds": train_s, "steps": steps, "tokens": tokens,
                                       "tokens_per_s": tokens / train_s, "epochs_done": row["epochs_done"],
                                       "loss_first_100": float(numpy.mean(losses[:100])),
                                       "loss_last_100": float(numpy.mean(losses[-100:]))}
                save()
                next_eval += every
                if train_s >= budget:
                    done = True
                    break

    trainer.model.load_state_dict(best_state)
    if not args.skip_final:
        for split in ("dev", "xquad"):
            res = evaluate(trainer, load_split(args.data_dir, split))
            payload[split] = res
            print(f"{split} ({res['n_questions']} q): EM {res['exact_match']:.2f} F1 {res['f1']:.2f} "
                  f"[{res['questions_per_s']:.1f} q/s inference]", flush=True)
        payload["inference_questions_per_s"] = payload["dev"]["questions_per_s"]
    payload["finished"] = True
    print(f"params {n_params:,}; training {tokens / train_s:,.0f} tokens/s over {train_s:.0f}s, {steps} steps")
    save()


if __name__ == "__main__":
    main()
