"""First contact: the shipped `configs/lstm_lm.cfg` trains unmodified (only paths and max_steps
given) on corpora of any vocabulary, from a toy to Penn Treebank's 10k words, and says how far
it is when its output is not a terminal."""
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.cli.train import train

REPO = Path(__file__).resolve().parent.parent
LSTM_LM_CFG = REPO / "configs" / "lstm_lm.cfg"


def write_corpus(folder: Path, n_words: int, n_tokens: int) -> dict:
    """Every one of ``n_words`` word types at least once, 20 tokens a line; returns the path overrides."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(n_words)]
    tokens = words + [rng.choice(words) for _ in range(n_tokens - n_words)]
    rng.shuffle(tokens)
    lines = [" ".join(tokens[i : i + 20]) for i in range(0, len(tokens), 20)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "dev.txt").write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    return {"paths.train": str(folder / "train.txt"), "paths.dev": str(folder / "dev.txt")}


@pytest.mark.parametrize("n_words,n_tokens,clusters", [
    (40, 2000, []),  # a toy corpus: fewer words than cutoffs[0], the head is a full softmax
    # Penn Treebank's vocabulary: 10,000 ids with <unk> and <eos> (refused with E103 before)
    (9998, 30000, [2000]),
])
def test_shipped_lstm_lm_config_trains_on_any_vocabulary(tmp_path, n_words, n_tokens, clusters):
    overrides = write_corpus(tmp_path / "corpus", n_words, n_tokens)
    train(LSTM_LM_CFG, tmp_path / "out", overrides={**overrides, "training.max_steps": 3})
    nlp = spacy.load(tmp_path / "out" / "model-last")
    lm = nlp.get_pipe("lstm_lm")
    assert nlp.config["components"]["lstm_lm"]["model"]["cutoffs"] == [2000, 10000]  # the config as shipped
    assert len(lm.lm_vocab) == n_words + 2  # <unk>, <eos>
    assert lm.model.get_ref("output").attrs["cutoffs"] == clusters
    doc = nlp("w1 w2 w3 w4")
    assert math.isfinite(doc._.lm_perplexity)


def test_spacy_train_off_a_terminal_prints_progress_and_keeps_the_log(tmp_path):
    """Under nohup / CI / a pipe the shipped logger prints progress lines between evaluations
    (ConsoleLogger.v3's bar printed nothing) and train_log.jsonl holds every evaluation."""
    overrides = write_corpus(tmp_path / "corpus", 40, 2000)
    log = tmp_path / "out" / "train_log.jsonl"
    cmd = [sys.executable, "-m", "spacy", "train", str(LSTM_LM_CFG), "--output", str(tmp_path / "out"),
           "--paths.train", overrides["paths.train"], "--paths.dev", overrides["paths.dev"],
           "--training.max_steps", "6", "--training.eval_frequency", "3", "--training.logger.output_file", str(log),
           "--training.logger.progress_steps", "2"]
    result = subprocess.run(cmd, capture_output=True, text=True)  # stdout and stderr are pipes, not a TTY
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert [line.split("  ")[0] for line in lines] == ["step 2/6 (33%)", "step 5/6 (83%)"]
    assert all(" words/s  loss/update lstm_lm " in line and " eta " in line for line in lines)
    assert [row["step"] for row in srsly.read_jsonl(log)] == [0, 3, 6]
