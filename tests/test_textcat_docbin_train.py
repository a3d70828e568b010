"""The shipped text-classification configs train on spaCy's own data format, `.spacy` DocBin
files (made here, tiny), as `spacy.Corpus.v1` configs do; and `spacy train` on an empty
training corpus gives E003 with exit code 1 instead of Thinc's "Cannot get dimension 'nI'" (#13)."""
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin

from .conftest import train_tiny_lm
from .sentiment_fixtures import write_lexicon

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
DATA = [("i like it a lot .", "POS"), ("i hate it .", "NEG"), ("what a great film .", "POS"),
        ("awful and boring .", "NEG")] * 3
TINY = {"training.max_steps": 5, "training.eval_frequency": 5}


def write_docbin(path: Path, names=("POS", "NEG")) -> str:
    nlp = spacy.blank("en")
    docs = []
    for text, label in DATA:
        doc = nlp(text)
        doc.cats = {names[0]: float(label == "POS"), names[1]: float(label == "NEG")}
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)
    return str(path)


def check_trained(out: Path, extension: str, names=("NEG", "POS")) -> None:
    nlp = spacy.load(out / "model-last")
    doc = nlp("i like it .")
    if extension == "cats":
        assert sorted(doc.cats) == list(names)
    else:
        assert doc._.sentiment_label in ("negative", "neutral", "positive")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["textcat_lstm.cfg", "textcat_lstm_lm.cfg", "sentiment_lstm.cfg"])
def test_configs_train_on_docbin_files(tmp_path, name):
    data = write_docbin(tmp_path / "train.spacy")
    overrides = {"paths.train": data, "paths.dev": data, **TINY}
    if name.startswith("textcat"):
        overrides.update({"components.textcat.model.width": 8, "components.textcat.model.tok2vec.width": 8})
    if name == "textcat_lstm_lm.cfg":
        lm, _ = train_tiny_lm(n_steps=1)
        lm.to_disk(tmp_path / "lm")
        overrides.update({"paths.lm_pipeline": str(tmp_path / "lm"),
                          "components.textcat.model.tok2vec.width": 16})
    if name == "sentiment_lstm.cfg":
        overrides.update({"components.sentiment_scorer.model.width": 8,
                          "components.sentiment_scorer.model.tok2vec.width": 8,
                          "components.sentiment_scorer.model.lexicon.lexicon": write_lexicon(tmp_path / "l.tsv")})
    train(CONFIGS / name, tmp_path / "out", overrides=overrides)
    check_trained(tmp_path / "out", "cats" if name.startswith("textcat") else "sentiment")


@pytest.mark.slow
def test_docbin_with_other_label_names_and_labels_null(tmp_path):
    """The configs map SST's raw "0"/"1": a DocBin with other names says how to keep them (E047),
    and the documented override does."""
    data = write_docbin(tmp_path / "train.spacy", names=("positive", "negative"))
    overrides = {"paths.train": data, "paths.dev": data, **TINY, "components.textcat.model.width": 8,
                 "components.textcat.model.tok2vec.width": 8}
    with pytest.raises(ValueError, match=r"\[E047\] .*--corpora.train.labels null --corpora.dev.labels null"):
        train(CONFIGS / "textcat_lstm.cfg", tmp_path / "out", overrides=overrides)
    train(CONFIGS / "textcat_lstm.cfg", tmp_path / "out",
          overrides={**overrides, "corpora.train.labels": None, "corpora.dev.labels": None})
    check_trained(tmp_path / "out", "cats", names=("negative", "positive"))


@pytest.mark.slow
def test_spacy_train_sentiment_lstm_on_an_empty_corpus_exits_1_with_e003(tmp_path):
    empty = tmp_path / "train.txt"
    empty.write_text("", encoding="utf-8")
    dev = tmp_path / "dev.txt"
    dev.write_text("1 i like it\n0 i hate it\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "spacy", "train", str(CONFIGS / "sentiment_lstm.cfg"), "--paths.train", str(empty),
           "--paths.dev", str(dev), "--components.sentiment_scorer.model.lexicon.lexicon",
           write_lexicon(tmp_path / "l.tsv"), "--training.max_steps", "2"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[E003] Cannot initialize 'sentiment_scorer': the training corpus has no tokens" in result.stderr
    assert "Cannot get dimension" not in result.stderr
