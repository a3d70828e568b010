"""spacy_lm/architectures/pooled_encoder.py: the encoder TextCatLSTM.v1 and SentimentLSTM.v1 share,
its ``cell`` setting ("lstm" | "gru"), its errors, and configs written before ``cell`` existed."""
import importlib.util
from pathlib import Path

import pytest
import spacy
from spacy.training import Example
from spacy.util import load_model_from_config, registry
from thinc.api import Adam, Config, fix_random_seed

from spacy_lm.architectures.pooled_encoder import build_pooled_encoder

from ..sentiment_fixtures import TOK2VEC, TRAIN, write_lexicon

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
HAS_GRU = importlib.util.find_spec("spacy_lm.layers.gru") is not None
CELLS = ["lstm", pytest.param("gru", marks=pytest.mark.skipif(not HAS_GRU, reason="spacy_lm/layers/gru.py not there yet"))]


def cats(label):
    return {"POS": float(label == "POS"), "NEG": float(label == "NEG")}


def node_names(model):
    return [node.name for node in model.walk()]


def train_losses(nlp, component, n_steps=25):
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": cats(y)}) for t, y in TRAIN]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.02)
    losses = []
    for _ in range(n_steps):
        step = {}
        nlp.update(examples, sgd=optimizer, losses=step)
        losses.append(step[component])
    return losses


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("pooling", ["mean_max", "attention"])
def test_textcat_lstm_trains_with_each_cell(cell, pooling):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    model = {"@architectures": "spacy_lm.TextCatLSTM.v1", "tok2vec": TOK2VEC, "width": 6, "depth": 1,
             "dropout": 0.0, "pooling": pooling, "cell": cell}
    nlp.add_pipe("textcat", config={"model": model})
    losses = train_losses(nlp, "textcat")
    assert losses[-1] < 0.5 * losses[0]
    assert f"sequence_{cell}" in node_names(nlp.get_pipe("textcat").model)
    assert nlp("I like it").cats["POS"] > 0.5 > nlp("I hate it").cats["POS"]


@pytest.mark.parametrize("cell", CELLS)
def test_sentiment_lstm_trains_with_each_cell(cell, tmp_path):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    model = {"@architectures": "spacy_lm.SentimentLSTM.v1", "tok2vec": TOK2VEC, "width": 6, "depth": 1,
             "dropout": 0.0, "cell": cell,
             "lexicon": {"@architectures": "spacy_lm.LexiconSentiment.v1", "lexicon": write_lexicon(tmp_path / "l.tsv")}}
    nlp.add_pipe("sentiment_scorer", config={"model": model, "attribution_steps": 4})
    losses = train_losses(nlp, "sentiment_scorer")
    assert losses[-1] < 0.5 * losses[0]
    assert f"sequence_{cell}" in node_names(nlp.get_pipe("sentiment_scorer").model)
    doc = nlp("a film")  # not in the lexicon: learned, not the prior
    assert doc._.sentiment_polarity > 0 and len(doc._.sentiment_tokens) == 2
    nlp.to_disk(tmp_path / "p")
    assert spacy.load(tmp_path / "p")("a film")._.sentiment_polarity == pytest.approx(doc._.sentiment_polarity)


@pytest.mark.parametrize("name,component", [("textcat_lstm.cfg", "textcat"), ("textcat_lstm_lm.cfg", "textcat"),
                                            ("sentiment_lstm.cfg", "sentiment_scorer")])
def test_configs_without_cell_build_as_lstm(name, component):
    """Configs written before the setting existed (no ``cell`` key) build the same LSTM model."""
    config = Config().from_disk(CONFIGS / name).interpolate()
    model_cfg = config["components"][component]["model"]
    assert model_cfg.pop("cell") == "lstm"  # the shipped configs spell it out
    names = node_names(registry.resolve({"m": model_cfg})["m"])
    assert "sequence_lstm" in names and "sequence_gru" not in names
    if name != "textcat_lstm_lm.cfg":  # that one sources a trained lstm_lm
        nlp = load_model_from_config(config, auto_fill=True)
        assert "sequence_lstm" in node_names(nlp.get_pipe(component).model)
        assert nlp.config["components"][component]["model"]["cell"] == "lstm"  # filled with the default


def test_pooled_encoder_pieces_and_width():
    encoder = build_pooled_encoder(5, 3, 2, 0.1, "mean_max", "lstm")
    assert [layer.name for layer in encoder.layers] == ["sequence_lstm", "mean_max_pool", "dropout"]
    assert encoder.nO == 2 * 3 * 2
    flat = build_pooled_encoder(5, 3, 0, 0.0, "attention")
    assert [layer.name for layer in flat.layers] == ["attention_pool", "dropout"] and flat.nO == 5
    assert build_pooled_encoder(None, 3, 0, 0.0).nO is None


@pytest.mark.parametrize("architecture", ["spacy_lm.TextCatLSTM.v1", "spacy_lm.SentimentLSTM.v1"])
@pytest.mark.parametrize("setting,value", [("pooling", "sum"), ("depth", -1), ("width", 0), ("dropout", 1.0),
                                           ("cell", "rnn")])
def test_bad_settings_name_the_architecture_and_value(architecture, setting, value):
    cfg = {"@architectures": architecture, "tok2vec": TOK2VEC, "width": 4, "depth": 1, "dropout": 0.0,
           setting: value}
    with pytest.raises(ValueError, match=rf"E043.*{architecture}.*{setting}.*{value!r}"):
        registry.resolve({"m": cfg})
