"""configs/sentiment_lstm.cfg and configs/sentiment_lexicon.cfg run under `spacy train` (tiny data,
a TSV lexicon written here instead of VADER's)."""
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train

from .sentiment_fixtures import write_lexicon

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
LINES = ["1 i like it a lot", "0 i hate it", "1 what a great film", "0 awful and boring"] * 3


@pytest.mark.parametrize("name,lexicon_key", [
    ("sentiment_lstm.cfg", "components.sentiment_scorer.model.lexicon.lexicon"),
    ("sentiment_lexicon.cfg", "components.sentiment_scorer.model.lexicon"),
])
def test_config_trains_and_loads(tmp_path, name, lexicon_key):
    data = tmp_path / "data.txt"
    data.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    overrides = {"paths.train": str(data), "paths.dev": str(data), lexicon_key: write_lexicon(tmp_path / "l.tsv"),
                 "training.max_steps": 6, "training.eval_frequency": 3}
    if name == "sentiment_lstm.cfg":
        overrides.update({"components.sentiment_scorer.model.width": 8,
                          "components.sentiment_scorer.model.tok2vec.width": 8,
                          "components.sentiment_scorer.attribution_steps": 4})
    else:
        overrides = {k: v for k, v in overrides.items() if not k.startswith("training.")}
    train(CONFIGS / name, tmp_path / "out", overrides=overrides)
    nlp = spacy.load(tmp_path / "out" / "model-last")
    doc = nlp("I hate it. What a great film!")
    assert doc._.sentiment_label in ("negative", "neutral", "positive")
    assert len(doc._.sentiment_tokens) == len(doc)
    if name == "sentiment_lexicon.cfg":
        assert [s._.sentiment_polarity > 0 for s in doc.sents] == [False, True]
