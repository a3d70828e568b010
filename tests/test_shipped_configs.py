"""First contact: the shipped `configs/lstm_lm.cfg` trains unmodified (only paths and max_steps
given) on corpora of any vocabulary, from a toy to Penn Treebank's 10k words."""
import math
import random
from pathlib import Path

import pytest
import spacy
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
