"""The general LMs of LM transfer (ULMFiT step 1, configs/lstm_lm_pretrain.cfg): perplexity per source.

Each model dir is a forward or backward `lstm_lm` trained on the mixture of WikiText-2 train, the
IMDB train reviews (text only) and the SQuAD train contexts, the last 1,000 docs of each held out.
This scores, per direction, each source's held-out docs read as one stream (exactly, state carried),
WikiText-2 valid and test (the published LM splits), and the SST dev sentences (the text of the
classification task, never trained on), and prints the corpus statistics of the mixture. A backward
LM reads each stream right to left; the two directions' perplexities over the same tokens are
comparable (the same events, another factorisation).

    python benchmarks/lm_pretrain.py --model forward=W/lm_forward/model-best \\
        --model backward=W/lm_backward/model-best --train-log forward=W/lm_forward.log ...

Reads ../shared/data (or --data-dir; fails clearly when missing).
"""
import argparse
import re
import sys
import time
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import REPO, write_results  # noqa: E402

DATA = REPO.parent / "shared" / "data"
HELD_OUT = -1000  # the config's take / skip


def sources(data: Path) -> Dict[str, Dict]:
    """The held-out part of each source, as configs/lstm_lm_pretrain.cfg's dev reader reads it."""
    return {"text (WikiText-2 train, last 1,000 lines)": {"path": data / "wikitext-2/train.txt.gz", "skip": HELD_OUT},
            "reviews (IMDB train, last 1,000)": {"path": data / "imdb/train.csv.gz", "strip_html": True,
                                                 "skip": HELD_OUT},
            "contexts (SQuAD train, last 1,000)": {"path": data / "squad-v1.1/train-v1.1.json.gz", "skip": HELD_OUT},
            "WikiText-2 valid": {"path": data / "wikitext-2/valid.txt"},
            "WikiText-2 test": {"path": data / "wikitext-2/test.txt"},
            "SST dev sentences": {"path": data / "sst5/stsa.fine.dev", "format": "lines"}}


def sst_docs(nlp, path: Path):
    """SST's dev sentences without their leading label."""
    from spacy.tokens import Doc

    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()[1:]
        if words:
            yield Doc(nlp.vocab, words=words)


def train_seconds(log: Path) -> float:
    """The last 'elapsed' of a ProgressLogger log, in seconds."""
    found = re.findall(r"elapsed (?:(\d+)h)?(\d+)m(\d+)s", log.read_text(errors="replace"))
    if not found:
        return float("nan")
    h, m, s = found[-1]
    return int(h or 0) * 3600 + int(m) * 60 + int(s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="DIRECTION=model dir")
    parser.add_argument("--train-log", action="append", default=[], help="DIRECTION=spacy train log")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--name", default="lm_pretrain")
    args = parser.parse_args()
    for part in ("wikitext-2/train.txt.gz", "imdb/train.csv.gz", "squad-v1.1/train-v1.1.json.gz", "sst5/stsa.fine.dev"):
        if not (args.data_dir / part).exists():
            sys.exit(f"{args.data_dir / part} not found: this benchmark reads ../shared/data (or --data-dir).")
    import spacy

    from spacy_lm.corpora.mixture import iter_source_docs

    models = dict(item.split("=", 1) for item in args.model)
    logs = dict(item.split("=", 1) for item in args.train_log)
    result: Dict[str, object] = {"perplexity": {}, "tokens": {}, "score_seconds": {}, "train_seconds": {},
                                 "models": models}
    for direction, model_dir in models.items():
        nlp = spacy.load(model_dir)
        lm = nlp.get_pipe("lstm_lm")
        result["perplexity"][direction] = {}
        for name, settings in sources(args.data_dir).items():
            if name.startswith("SST"):
                docs: List = list(sst_docs(nlp, settings["path"]))
            else:
                docs = list(iter_source_docs(nlp, name, settings))
            start = time.perf_counter()
            scores = lm.score_stream(docs)
            result["score_seconds"][f"{direction} {name}"] = round(time.perf_counter() - start, 1)
            result["perplexity"][direction][name] = round(scores["lm_stream_perplexity"], 2)
            result["tokens"][name] = scores["lm_stream_n_predicted"]
            print(f"{direction:8} {name:40} ppl {scores['lm_stream_perplexity']:8.2f}  "
                  f"({scores['lm_stream_n_predicted']:,} tokens)", flush=True)
        if direction in logs:
            result["train_seconds"][direction] = train_seconds(Path(logs[direction]))
        result["vocab_size"] = len(lm.lm_vocab)
    write_results(args.name, result)


if __name__ == "__main__":
    main()
