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


TOK2VEC_0 = {"@architectures": "spacy.Tok2VecListener.v1", "width": 0}  # a known input width of 0


@pytest.mark.parametrize("cfg,match", [
    ({"@architectures": "spacy_lm.TextCatLSTM.v1", "tok2vec": TOK2VEC, "width": 4, "depth": 1, "dropout": 0.0,
      "nO": 0}, r"E009\] spacy_lm.TextCatLSTM.v1 nO .*got 0"),
    ({"@architectures": "spacy_lm.TextCatLSTM.v2", "tok2vec": TOK2VEC, "width": 4, "depth": 1, "dropout": 0.0,
      "nO": -1}, r"E009\] spacy_lm.TextCatLSTM.v2 nO .*got -1"),
    ({"@architectures": "spacy_lm.TextCatLSTM.v1", "tok2vec": TOK2VEC_0, "width": 4, "depth": 1, "dropout": 0.0},
     r"E043\] spacy_lm.TextCatLSTM.v1: tok2vec width"),
    ({"@architectures": "spacy_lm.SentimentLSTM.v1", "tok2vec": TOK2VEC, "width": 4, "nO": 0},
     r"E009\] spacy_lm.SentimentLSTM.v1 nO .*got 0"),
    ({"@architectures": "spacy_lm.SentimentLSTM.v1", "tok2vec": TOK2VEC_0, "width": 4},
     r"E043\] spacy_lm.SentimentLSTM.v1: tok2vec width"),
    ({"@architectures": "spacy_lm.LSTMLMListener.v1", "width": 0}, r"E009\] spacy_lm.LSTMLMListener.v1 width .*got 0"),
    ({"@architectures": "spacy_lm.SentenceVAE.v1", "embed_size": 0}, r"E009\] embed_size .*got 0"),
    ({"@architectures": "spacy_lm.SentenceVAE.v1", "latent_size": -3}, r"E009\] latent_size .*got -3"),
    ({"@architectures": "spacy_lm.Seq2SeqAttention.v1", "embed_size": 0}, r"E009\] embed_size .*got 0"),
    ({"@layers": "spacy_lm.LSTM.v1", "nO": 0, "nI": 3}, r"E009\] spacy_lm.LSTM.v1 nO .*got 0"),
    ({"@layers": "spacy_lm.LSTM.v1", "nO": 3, "nI": -1}, r"E009\] spacy_lm.LSTM.v1 nI .*got -1"),
    ({"@layers": "spacy_lm.LSTM.v1", "nO": 3, "depth": 0}, r"E009\] recurrent depth .*got 0"),
    ({"@layers": "spacy_lm.GRU.v1", "nO": 0}, r"E009\] spacy_lm.GRU.v1 nO .*got 0"),
    ({"@layers": "spacy_lm.GRU.v1", "nO": 2, "nI": 0}, r"E009\] spacy_lm.GRU.v1 nI .*got 0"),
    ({"@layers": "spacy_lm.TokenEmbedding.v1", "nO": 0, "nV": 5}, r"E009\] spacy_lm.TokenEmbedding.v1 nO .*got 0"),
    ({"@layers": "spacy_lm.TokenEmbedding.v1", "nO": 4, "nV": 0}, r"E009\] spacy_lm.TokenEmbedding.v1 nV .*got 0"),
])
def test_non_positive_sizes_are_named_at_build(cfg, match):
    """Every architecture and layer here: a size <= 0 (or not an integer) is one clear error at
    build, not a numpy or ZeroDivision traceback later."""
    with pytest.raises(ValueError, match=match):
        registry.resolve({"m": cfg})


@pytest.mark.parametrize("layer", ["spacy_lm.LSTM.v1", "spacy_lm.GRU.v1", "spacy_lm.TokenEmbedding.v1"])
def test_sizes_set_after_build_are_checked_at_initialization(layer):
    model = registry.resolve({"m": {"@layers": layer}})["m"]
    for dim in model.dim_names:
        model.set_dim(dim, 0)
    with pytest.raises(ValueError, match=rf"E009\] .* must be an integer >= 1"):
        model.initialize()
