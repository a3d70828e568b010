"""Training tokens/s and inference questions/s of our `qa` reader and the PyTorch peer
(benchmarks/qa_peer.py) at the same size, alternating in one process on the same paragraphs.

    python benchmarks/qa_speed.py [--rounds 5] [--batches 6] [--articles 12] [--threads 1]

Each round times ``--batches`` training updates of ours (``nlp.update`` on 12 paragraphs, ~55
questions, as configs/qa.cfg batches) and of the peer (one Adamax step on the same questions),
then inference over the same held-out paragraphs (ours ``nlp.pipe``, the peer ``predict``), in
alternating order. Tokens are context + question tokens of each (question, window) row read.
Medians and ratios (ours / peer) go to benchmarks/results/qa_speed.json with the load average:
the machine is shared, read the ratios. Reads ../shared/data/squad-v1.1 (--data-dir).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, set_threads, write_results  # noqa: E402
from qa_baselines import DATA_ROOT, load_split  # noqa: E402
from qa_peer import Trainer, build_vocab  # noqa: E402

SIZE = {"embed": 100, "width": 64, "depth": 2, "cell": "lstm", "dropout": 0.3}  # configs/qa.cfg


def peer_args(threads: int) -> SimpleNamespace:
    return SimpleNamespace(**SIZE, lr=0.002, seed=0, max_context=400, stride=128, max_question=64,
                           max_answer_length=15, batch_size=55, eval_batch_size=64, clip=10.0, threads=threads)


def our_pipeline(paragraphs, batches):
    import spacy
    from thinc.api import Adam, fix_random_seed
    from spacy_lm.corpora.squad import squad_examples

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("qa", config={"max_length": 400, "stride": 128, "batch_size": 64, "grad_norm_clip": 10.0,
                               "model": {"width": SIZE["width"], "depth": SIZE["depth"],
                                         "embed_size": SIZE["embed"], "cell": SIZE["cell"],
                                         "dropout": SIZE["dropout"]}})
    records = [{"title": p.title, "context": p.context,
                "qas": [{"id": q.id, "question": q.text,
                         "answers": [{"text": p.context[p.starts[s]: p.ends[e - 1]], "answer_start": int(p.starts[s])}
                                     for s, e in q.spans[:1]]} for q in p.questions if q.spans]}
               for p in paragraphs]
    examples = list(squad_examples(nlp, records))
    optimizer = Adam(0.002)
    nlp.initialize(lambda: examples, sgd=optimizer)
    return nlp, optimizer, [examples[i: i + batches] for i in range(0, len(examples), batches)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_ROOT)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    train = load_split(args.data_dir, "train", limit_articles=args.articles)
    heldout = load_split(args.data_dir, "heldout", limit_articles=2)
    peer = Trainer(peer_args(args.threads), build_vocab(train, 2, 50000))
    nlp, optimizer, our_batches = our_pipeline(train, 12)
    paragraph_batches = [train[i: i + 12] for i in range(0, len(train), 12)]
    n = min(len(our_batches), len(paragraph_batches))

    def row_tokens(eg):
        context = len([t for t in eg.predicted if not t.is_space])
        return sum(context + len([t for t in nlp.make_doc(q["text"]) if not t.is_space])
                   for q in eg.reference._.questions)

    our_tokens = [sum(row_tokens(eg) for eg in batch) for batch in our_batches]

    def ours_train(lo):
        start = time.perf_counter()
        for batch in our_batches[lo: lo + args.batches]:
            nlp.update(batch, sgd=optimizer)
        return sum(our_tokens[lo: lo + args.batches]) / (time.perf_counter() - start)

    def peer_train(lo):
        tokens, seconds = 0, 0.0
        for paragraphs in paragraph_batches[lo: lo + args.batches]:
            items = [(p, q) for p in paragraphs for q in p.questions if q.spans]
            start = time.perf_counter()
            tokens += peer.step(items)[1]
            seconds += time.perf_counter() - start
        return tokens / seconds

    questions = sum(len(p.questions) for p in heldout)

    def ours_infer():
        docs = []
        for p in heldout:
            doc = nlp.make_doc(p.context)
            doc._.questions = [{"id": q.id, "text": q.text} for q in p.questions]
            docs.append(doc)
        start = time.perf_counter()
        list(nlp.pipe(docs, batch_size=16))
        return questions / (time.perf_counter() - start)

    def peer_infer():
        start = time.perf_counter()
        peer.predict(heldout)
        return questions / (time.perf_counter() - start)

    rounds = []
    for r in range(args.rounds):
        lo = (r * args.batches) % max(1, n - args.batches)
        first, second = ((ours_train, peer_train) if r % 2 == 0 else (peer_train, ours_train))
        speeds = {first.__name__: first(lo), second.__name__: second(lo)}
        speeds["ours_infer"], speeds["peer_infer"] = (ours_infer(), peer_infer()) if r % 2 == 0 else \
            tuple(reversed((peer_infer(), ours_infer())))
        rounds.append(speeds)
        print(r, {k: round(v, 1) for k, v in speeds.items()}, flush=True)
    median = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ratios = {"train_tokens_per_s": median["ours_train"] / median["peer_train"],
              "infer_questions_per_s": median["ours_infer"] / median["peer_infer"]}
    print("medians", {k: round(v, 1) for k, v in median.items()}, "ours/peer", {k: round(v, 2) for k, v in ratios.items()})
    write_results("qa_speed", {"size": SIZE, "rounds": rounds, "median": median, "ratio_ours_over_peer": ratios,
                               "held_out_questions": questions, "machine": machine_info(args.threads)})


if __name__ == "__main__":
    main()
