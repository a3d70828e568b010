r"""The LSTM stage of `spacy lm score` (issue #34): ``lstm_lm.total_nll``, the score-only path, beside
today's path (``nlp.pipe``) and PyTorch's eval at the same weights.

Model: corpus_scoring.py's ``lstm_lm`` (width 200, depth 2, full softmax tied to the embedding,
WikiText-2 train vocabulary, 33,278 ids), built by its ``build_models`` into ``--work-dir``/lstm
when it is not there yet (``--lstm-seconds`` of training; speed does not depend on how well it is
trained). Texts: the first ``--docs`` docs (the same number from each shard) of the JSONL shards
corpus_scoring's ``build_shards`` writes from real text in ../shared/data (WikiText-2 valid and
test lines, IMDB reviews, SST-2 sentences; override with --data-dir; fails clearly when missing).

Measured in one process, 1 thread (OMP_NUM_THREADS=1, BLAS and torch limited to 1), the paths
alternated over ``--rounds`` rounds (medians quoted), tokens/s of predicted tokens (each doc's
tokens and its closing ``<eos>``, as ``n_predicted``):

* today: ``nlp.pipe(texts, batch_size=64)`` reading ``doc._.lm_logprob`` (what
  ``scoring.scorer.TextScorer`` did: tokenizer, per-token NLL and top-1 flags, Doc extensions);
* ours: ``lstm_lm.total_nll(prepared, batch_size=b)`` for each of ``--batch-sizes`` (docs
  tokenised with ``nlp.make_doc`` and prepared with ``prepare_doc`` beforehand: that time is
  reported apart, per round);
* torch: the same weights in ``nn.Embedding`` + ``nn.LSTM`` + ``nn.Linear`` (tied), under
  ``torch.inference_mode``, the same length-sorted batches (packed sequences), NLL by
  ``log_softmax`` + ``gather`` over ``NLL_ROWS`` rows at a time; its totals are checked against ours
  (1e-4 relative) and the largest difference recorded;
* the floor of any exact full-softmax scorer: the output matmul alone, ``(rows, width) @ (width,
  vocab)`` on random rows (rows/s, once per round).

``--ablations`` adds, at the default batch size: the NLL through ``score`` (with its argmax),
other ``NLL_ROWS`` and windows, and batches cut by a token budget instead of a doc count.

    python benchmarks/lstm_scoring_speed.py            # writes benchmarks/results/lstm_scoring_speed.json
    python benchmarks/lstm_scoring_speed.py --docs 250 --rounds 2 --batch-sizes 128 --torch-batch-sizes '' \
        --skip-today --ablations --name lstm_scoring_ablations
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before NumPy / torch load their thread pools

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Sequence  # noqa: E402

import numpy  # noqa: E402

FLOOR_ROWS = 16384
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine_info, set_threads, write_results  # noqa: E402
from corpus_scoring import DEFAULT_DATA, build_models, build_shards, read_docs  # noqa: E402


# ---------------------------------------------------------------- PyTorch at our weights
def torch_model(lm):
    """``nn.Embedding`` + ``nn.LSTM`` + ``nn.Linear`` carrying the lstm_lm's weights (tied, full
    softmax). Ours: gates in PyTorch's order, one bias per gate (PyTorch's ``bias_hh`` zero)."""
    import torch
    from torch import nn

    model = lm.model
    rnn = model.get_ref("rnn")
    if rnn.name != "lstm" or model.get_ref("output").name != "output_softmax" or not model.attrs["tied"]:
        sys.exit("this benchmark maps a tied LSTM with a full softmax to PyTorch")
    E = model.get_ref("embedding").get_param("E")
    width, depth = rnn.get_dim("nO"), rnn.attrs["depth"]

    class TorchLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(E.shape[0], E.shape[1])
            self.rnn = nn.LSTM(E.shape[1], width, depth)
            self.decoder = nn.Linear(width, E.shape[0])
            self.decoder.weight = self.encoder.weight

    peer = TorchLM().eval()
    with torch.no_grad():
        peer.encoder.weight.copy_(torch.from_numpy(numpy.asarray(E)))
        peer.decoder.bias.copy_(torch.from_numpy(numpy.asarray(model.get_ref("output").get_param("b"))))
        for layer in range(depth):
            for ours, theirs in (("W", "weight_ih"), ("U", "weight_hh"), ("b", "bias_ih")):
                getattr(peer.rnn, f"{theirs}_l{layer}").copy_(torch.from_numpy(rnn.get_param(f"{ours}{layer}_0")))
            getattr(peer.rnn, f"bias_hh_l{layer}").zero_()
    return peer


def torch_total_nll(peer, prepared: Sequence, batch_size: int, rows: int) -> numpy.ndarray:
    """Summed NLL per doc (float64, input order): docs sorted by length, batches of
    ``batch_size``, each read whole as a packed sequence, ``log_softmax`` + ``gather``."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    totals = numpy.zeros(len(prepared), dtype="float64")
    by_length = sorted(range(len(prepared)), key=lambda i: -len(prepared[i][0]))
    with torch.inference_mode():
        for start in range(0, len(by_length), batch_size):
            indices = by_length[start : start + batch_size]
            lengths = [len(prepared[i][0]) for i in indices]
            ids = numpy.zeros((lengths[0], len(indices)), dtype="int64")
            targets = numpy.zeros_like(ids)
            for j, i in enumerate(indices):
                ids[: lengths[j], j] = prepared[i][0]
                targets[: lengths[j], j] = prepared[i][1]
            packed = pack_padded_sequence(peer.encoder(torch.from_numpy(ids)), torch.tensor(lengths))
            hidden, _ = pad_packed_sequence(peer.rnn(packed)[0])
            real = torch.from_numpy(numpy.arange(lengths[0])[:, None] < numpy.asarray(lengths)[None, :])
            hidden_rows, target_rows = hidden[real], torch.from_numpy(targets)[real]
            column = torch.arange(len(indices)).expand(lengths[0], -1)[real]
            nll = torch.empty(hidden_rows.shape[0])
            for r in range(0, hidden_rows.shape[0], rows):
                log_probs = torch.log_softmax(peer.decoder(hidden_rows[r : r + rows]), dim=-1)
                nll[r : r + rows] = -log_probs.gather(1, target_rows[r : r + rows, None])[:, 0]
            sums = torch.zeros(len(indices), dtype=torch.float64).index_add_(0, column, nll.double())
            totals[numpy.asarray(indices)] = sums.numpy()
    return totals


# ---------------------------------------------------------------- ours
def today(nlp, texts: List[str]) -> numpy.ndarray:
    """What TextScorer did: nlp.pipe at batch 64, the total read from doc._.lm_logprob."""
    return numpy.asarray([-doc._.lm_logprob for doc in nlp.pipe(texts, batch_size=64)], dtype="float64")


def token_budget_batches(prepared: Sequence, budget: int) -> List[List[int]]:
    """Indices sorted longest first, cut whenever a batch would pass ``budget`` targets."""
    by_length = sorted(range(len(prepared)), key=lambda i: -len(prepared[i][0]))
    batches: List[List[int]] = [[]]
    n = 0
    for i in by_length:
        if batches[-1] and n + len(prepared[i][1]) > budget:
            batches.append([])
            n = 0
        batches[-1].append(i)
        n += len(prepared[i][1])
    return batches


def by_token_budget(lm, prepared: Sequence, budget: int) -> numpy.ndarray:
    totals = numpy.zeros(len(prepared), dtype="float64")
    for indices in token_budget_batches(prepared, budget):
        totals[indices] = lm.total_nll([prepared[i] for i in indices], batch_size=len(indices))
    return totals


def patched(module, name: str, value, run: Callable[[], numpy.ndarray]) -> Callable[[], numpy.ndarray]:
    """``run`` with ``module.name`` set to ``value`` for its duration (an ablation)."""
    def call():
        old = getattr(module, name)
        setattr(module, name, value)
        try:
            return run()
        finally:
            setattr(module, name, old)
    return call


def output_matmul(lm, n_rows: int) -> Callable[[], numpy.ndarray]:
    """The floor of any exact full-softmax scorer: only the (rows x width) @ (width x vocab)
    matmul, ``NLL_ROWS`` rows at a time, on random hidden rows."""
    from spacy_lm.layers import output as output_contract

    W_T = numpy.ascontiguousarray(lm.model.get_ref("embedding").get_param("E").T)
    hidden = numpy.random.default_rng(0).uniform(-1, 1, (n_rows, W_T.shape[0])).astype("float32")

    def run():
        rows = output_contract.NLL_ROWS
        for start in range(0, n_rows, rows):
            numpy.matmul(hidden[start : start + rows], W_T)
        return numpy.zeros(0)
    return run


def timed(run: Callable[[], numpy.ndarray]):
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/spacy_lm_corpus_scoring"))
    parser.add_argument("--mb", type=float, default=16.0, help="JSONL shards written (MB in all)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--docs", type=int, default=500, help="(~95k tokens: 3 rounds take ~10 minutes)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", default="16,32,64,128,256")
    parser.add_argument("--torch-batch-sizes", default="64", help="'' for none")
    parser.add_argument("--lstm-seconds", type=float, default=60.0)
    parser.add_argument("--ablations", action="store_true")
    parser.add_argument("--skip-today", action="store_true")
    parser.add_argument("--name", default="lstm_scoring_speed")
    args = parser.parse_args()
    import spacy
    import torch

    from spacy_lm.batching import prepare_doc
    from spacy_lm.layers import output as output_contract
    from spacy_lm.pipeline import lstm_lm as lstm_lm_module

    set_threads(1)
    load_start = os.getloadavg()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    corpus = build_shards(args.data_dir, args.work_dir / "lstm_scoring_corpus", args.mb, args.shards)
    models = build_models(args.data_dir, args.work_dir, args.lstm_seconds)
    nlp = spacy.load(args.work_dir / "lstm")
    lm = nlp.get_pipe("lstm_lm")
    texts = read_docs(corpus["shards"], args.docs)
    prepare_s, prepared = timed(lambda: [prepare_doc(lm.lm_vocab, nlp.make_doc(t), lm.backward) for t in texts])
    kept = [i for i, p in enumerate(prepared) if p is not None]
    if len(kept) < len(texts):  # today's path gives them no score: compare the others
        texts, prepared = [texts[i] for i in kept], [prepared[i] for i in kept]
    n_tokens = sum(len(p[1]) for p in prepared)
    lengths = [len(p[1]) for p in prepared]
    print(f"{len(texts)} docs, {n_tokens:,} predicted tokens (median {statistics.median(lengths):.0f}, "
          f"max {max(lengths)}); tokenise + prepare {prepare_s:.2f}s", flush=True)
    peer = torch_model(lm)
    default = lstm_lm_module.SCORE_BATCH_SIZE
    paths: Dict[str, Callable[[], numpy.ndarray]] = {}
    if not args.skip_today:
        paths["today_nlp_pipe_64"] = lambda: today(nlp, texts)
    for b in [int(b) for b in args.batch_sizes.split(",") if b]:
        paths[f"total_nll_{b}"] = lambda b=b: lm.total_nll(prepared, batch_size=b)
    for b in [int(b) for b in args.torch_batch_sizes.split(",") if b]:
        paths[f"torch_{b}"] = lambda b=b: torch_total_nll(peer, prepared, b, output_contract.NLL_ROWS)
    if args.ablations:
        ours = lambda: lm.total_nll(prepared, batch_size=default)  # noqa: E731
        paths[f"ablation_{default}_nll_through_score"] = patched(
            lstm_lm_module, "token_nll", lambda model, hidden, targets: model.score(hidden, targets)[0], ours)
        for rows in sorted({128, 256, 1024, 2048} - {output_contract.NLL_ROWS}):
            paths[f"ablation_{default}_nll_rows_{rows}"] = patched(output_contract, "NLL_ROWS", rows, ours)
        for window in (64, 128, 256, 1024):
            paths[f"ablation_{default}_window_{window}"] = patched(lstm_lm_module, "PREDICT_WINDOW", window, ours)
        for budget in (4096, 16384):
            paths[f"ablation_token_budget_{budget}"] = lambda budget=budget: by_token_budget(lm, prepared, budget)
    floor = output_matmul(lm, FLOOR_ROWS)
    floor_s: List[float] = []
    seconds: Dict[str, List[float]] = {name: [] for name in paths}
    totals: Dict[str, numpy.ndarray] = {}
    rounds = []
    for r in range(args.rounds):
        prepare_round, _ = timed(lambda: [prepare_doc(lm.lm_vocab, nlp.make_doc(t), lm.backward) for t in texts])
        floor_s.append(timed(floor)[0])
        rounds.append({"tokenise_prepare_s": prepare_round, "tokenise_prepare_tokens_per_s": n_tokens / prepare_round,
                       "output_matmul_rows_per_s": FLOOR_ROWS / floor_s[-1], "load_average": os.getloadavg()})
        for name, run in paths.items():
            elapsed, totals[name] = timed(run)
            seconds[name].append(elapsed)
            print(f"round {r}: {name} {n_tokens / elapsed:,.0f} tokens/s ({elapsed:.1f}s)", flush=True)
    tokens_per_s = {name: n_tokens / statistics.median(s) for name, s in seconds.items()}
    floor_rate = FLOOR_ROWS / statistics.median(floor_s)
    print(f"output matmul alone (the floor of an exact full softmax): {floor_rate:,.0f} rows/s")
    reference = totals[f"total_nll_{default}"] if f"total_nll_{default}" in totals else next(iter(totals.values()))
    agreement = {name: float(numpy.max(numpy.abs(t - reference) / numpy.abs(reference))) for name, t in totals.items()}
    best = max((n for n in tokens_per_s if n.startswith("total_nll_")), key=tokens_per_s.get)
    ratios = {}
    if "today_nlp_pipe_64" in tokens_per_s:
        ratios.update({f"{name}_over_today": tokens_per_s[name] / tokens_per_s["today_nlp_pipe_64"]
                       for name in tokens_per_s if name != "today_nlp_pipe_64"})
    for name in tokens_per_s:
        if name.startswith("torch_"):
            ours = f"total_nll_{name[len('torch_'):]}"
            if ours in tokens_per_s:
                ratios[f"{ours}_over_{name}"] = tokens_per_s[ours] / tokens_per_s[name]
            ratios[f"{best}_over_{name}"] = tokens_per_s[best] / tokens_per_s[name]
    torch_ok = {name: value <= 1e-4 for name, value in agreement.items() if name.startswith("torch_")}
    for name, rate in tokens_per_s.items():
        print(f"{name:40s} {rate:10,.0f} tokens/s  max rel. diff to total_nll_{default} {agreement[name]:.2e}")
    print({name: round(value, 3) for name, value in ratios.items()})
    payload = {
        "model": {"path": str(args.work_dir / "lstm"), "vocab": len(lm.lm_vocab), "width": lm.model.get_dim("nO"),
                  "depth": lm.model.get_ref("rnn").attrs["depth"], "built": models},
        "corpus": {k: corpus[k] for k in ("mb_target", "n_shards", "docs", "made_of")},
        "docs": len(texts), "predicted_tokens": n_tokens, "median_tokens": statistics.median(lengths),
        "max_tokens": max(lengths), "rounds": args.rounds, "tokenise_prepare_s_first": prepare_s,
        "per_round": rounds, "seconds": seconds, "tokens_per_s_median": tokens_per_s, "ratios": ratios,
        "output_matmul_floor_rows_per_s_median": floor_rate, "best": best, "default_batch_size": default,
        "nll_rows": output_contract.NLL_ROWS, "predict_window": lstm_lm_module.PREDICT_WINDOW,
        "max_relative_difference_to_default": agreement, "torch_agrees_to_1e-4": torch_ok,
        "machine": machine_info(1), "torch_threads": torch.get_num_threads(), "load_average_at_start": load_start,
    }
    write_results(args.name, payload)
    if torch_ok and not all(torch_ok.values()):
        sys.exit(f"PyTorch's totals differ from ours by more than 1e-4 relative: {agreement}")


if __name__ == "__main__":
    main()
