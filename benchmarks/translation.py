"""Translation on Multi30k: our `translator` (spacy_lm.Seq2SeqAttention.v1) vs Joey NMT's RNN.

Reads ../shared/data/multi30k (train 29,000 pairs, val, test_2016_flickr; override with
--data-dir) and fails clearly when it is missing. Each system trains for the same wall-clock
budget on this machine (validation included: both keep the checkpoint with the best dev BLEU),
then translates test_2016_flickr greedily and with beam 5. Reported, for both:

* sacreBLEU on detokenised, cased text (with its signature) and tokenised lower-cased BLEU, the
  Multi30k literature's convention (bentrevett/pytorch-seq2seq: spaCy tokens, lower-cased), both
  computed by spacy_lm.metrics.translation on the same tokens; chrF;
* parameters, training seconds, target tokens per training second (each target's <eos> counted).

Ours trains with nlp.update exactly as `spacy train` does (Adam 1e-3, batches of 128 pairs,
dropout 0.3, global-norm clip 1.0). Runs are sequential (one system at a time, 2 threads); the
load average is recorded. Usage:

    python benchmarks/translation.py --budget 720 --directions de-en,en-de --peer joey
"""
import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, machine_info, set_threads, write_results  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "multi30k"
SPLITS = ("train", "val", "test_2016_flickr")


def load_pairs(data_dir: Path, src: str, tgt: str) -> Dict[str, List[Tuple[str, str]]]:
    from spacy_lm.corpora.parallel import read_parallel

    for split in SPLITS:
        for lang in (src, tgt):
            if not (data_dir / f"{split}.{lang}.gz").exists():
                sys.exit(f"Multi30k file {split}.{lang}.gz not found under {data_dir}: this benchmark reads "
                         f"../shared/data/multi30k; pass --data-dir.")
    return {split: list(read_parallel(data_dir / f"{split}.{src}.gz", data_dir / f"{split}.{tgt}.gz"))
            for split in SPLITS}


def n_params(model) -> int:
    return int(sum(node.get_param(name).size for node in model.walk() for name in node.param_names
                   if node.has_param(name)))


def build(src: str, tgt: str, pairs: List[Tuple[str, str]], seed: int, model: Dict[str, Any]):
    import spacy
    from spacy.training import Example
    from thinc.api import fix_random_seed

    from spacy_lm.extensions import install_translation_extensions

    fix_random_seed(seed)
    install_translation_extensions()
    nlp = spacy.blank(src)
    translator = nlp.add_pipe("translator", config={"target_lang": tgt, "model": model})

    def examples(split_pairs):
        out = []
        for s, t in split_pairs:
            doc = nlp.make_doc(s)
            ref = doc.copy()
            ref._.translation = t
            out.append(Example(doc, ref))
        return out

    train = examples(pairs)
    nlp.initialize(lambda: train)
    return nlp, translator, train, examples


def scores(translator, hyps: List[str], refs: List[str]) -> Dict[str, Any]:
    from spacy_lm.metrics.translation import corpus_scores

    result = corpus_scores(hyps, refs, translator.target_tokens)
    return {k: (v * 100 if isinstance(v, float) else v) for k, v in result.items()}


def run_ours(data: Dict[str, List[Tuple[str, str]]], src: str, tgt: str, budget: float, batch_size: int,
             seed: int, model: Dict[str, Any], dev_size: int) -> Dict[str, Any]:
    from spacy.util import minibatch

    nlp, translator, train, examples = build(src, tgt, data["train"], seed, model)
    dev = data["val"][:dev_size]
    from thinc.api import Adam

    optimizer = Adam(0.001, L2=0.0, grad_clip=0.0, L2_is_weight_decay=True)  # configs/translator.cfg's
    rng = random.Random(seed)
    trained_s, tokens, steps, epochs = 0.0, 0, 0, 0
    best: Dict[str, Any] = {"tok_bleu": -1.0}
    history = []
    start = time.perf_counter()
    while time.perf_counter() - start < budget:
        rng.shuffle(train)
        epochs += 1
        for batch in minibatch(train, batch_size):
            if time.perf_counter() - start >= budget:
                break
            t0 = time.perf_counter()
            losses: Dict[str, float] = {}
            nlp.update(batch, sgd=optimizer, losses=losses, drop=model.get("dropout", 0.3))
            trained_s += time.perf_counter() - t0
            tokens += sum(len(translator.target_tokens(eg.reference._.translation)) + 1 for eg in batch)
            steps += 1
        hyps = translator.translate([s for s, _ in dev])
        dev_scores = scores(translator, hyps, [t for _, t in dev])
        history.append({"epoch": epochs, "steps": steps, "elapsed_s": time.perf_counter() - start,
                        "loss": losses.get("translator"), "dev_tok_bleu": dev_scores["translation_tok_bleu"],
                        "dev_bleu": dev_scores["translation_bleu"]})
        print(f"ours {src}-{tgt} epoch {epochs} steps {steps} {history[-1]}", flush=True)
        if dev_scores["translation_tok_bleu"] > best["tok_bleu"]:
            best = {"tok_bleu": dev_scores["translation_tok_bleu"], "bytes": translator.to_bytes(), "epoch": epochs}
    wall = time.perf_counter() - start
    translator.from_bytes(best["bytes"])
    test_src = [s for s, _ in data["test_2016_flickr"]]
    test_ref = [t for _, t in data["test_2016_flickr"]]
    result: Dict[str, Any] = {"system": "spacy_lm translator", "direction": f"{src}-{tgt}", "model": model,
                              "parameters": n_params(translator.model), "train_wall_s": wall,
                              "train_update_s": trained_s, "steps": steps, "epochs": epochs,
                              "best_epoch": best["epoch"], "target_tokens": tokens,
                              "tokens_per_s": tokens / trained_s, "history": history,
                              "vocab": {"source": len(translator.source_vocab), "target": len(translator.lm_vocab)}}
    for name, beams in (("greedy", 1), ("beam5", 5)):
        t0 = time.perf_counter()
        hyps = translator.translate(test_src, num_beams=beams)
        result[name] = {**scores(translator, hyps, test_ref), "decode_s": time.perf_counter() - t0,
                        "samples": [{"source": s, "reference": r, "output": h}
                                    for s, r, h in list(zip(test_src, test_ref, hyps))[:5]]}
        print(f"ours {src}-{tgt} {name}: {result[name]['translation_tok_bleu']:.2f} tok-BLEU, "
              f"{result[name]['translation_bleu']:.2f} sacreBLEU", flush=True)
    return result


def run_peer(data_dir: Path, src: str, tgt: str, budget: float, tokenize) -> Dict[str, Any]:
    import translation_peer as peer

    return peer.run(data_dir, src, tgt, budget, tokenize)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget", type=float, default=720.0, help="training seconds per system and direction")
    parser.add_argument("--directions", default="de-en,en-de")
    parser.add_argument("--peer", choices=("joey", "none"), default="joey")
    parser.add_argument("--peer-directions", default="de-en")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dev-size", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="translation_multi30k")
    args = parser.parse_args()
    set_threads(args.threads)
    model = {"cell": "gru", "embed_size": 256, "encoder_width": 256, "decoder_width": 256, "bidirectional": True,
             "attention": "general", "input_feeding": True, "dropout": 0.3}
    payload: Dict[str, Any] = {"machine": machine_info(args.threads), "budget_s": args.budget, "runs": []}
    for direction in filter(None, args.directions.split(",")):
        src, tgt = direction.split("-")
        data = load_pairs(args.data_dir, src, tgt)
        payload["runs"].append(run_ours(data, src, tgt, args.budget, args.batch_size, args.seed, model, args.dev_size))
        write_results(args.name, payload)
    if args.peer != "none":
        import spacy

        for direction in args.peer_directions.split(","):
            src, tgt = direction.split("-")
            tokenizer = spacy.blank(tgt)
            payload["runs"].append(run_peer(args.data_dir, src, tgt, args.budget,
                                            lambda text: [t.text for t in tokenizer(text) if not t.is_space]))
            write_results(args.name, payload)
    for run in payload["runs"]:
        print(f"{run['system']:<22} {run['direction']} params {run['parameters']:,} tok/s {run['tokens_per_s']:.0f} "
              f"greedy tok-BLEU {run['greedy']['translation_tok_bleu']:.2f} beam5 {run['beam5']['translation_tok_bleu']:.2f} "
              f"sacreBLEU greedy {run['greedy']['translation_bleu']:.2f} beam5 {run['beam5']['translation_bleu']:.2f}")


if __name__ == "__main__":
    main()
