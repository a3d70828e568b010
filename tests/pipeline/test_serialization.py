"""Loading saved components: a swapped vocabulary file (E034), a config edited after saving
(E035), damaged data (E006), pipelines saved before the checks, and unedited round trips."""
import pytest
import spacy
import srsly
from spacy.training import Example
from thinc.api import Config

from spacy_lm.pipeline.lstm_lm import LSTMLanguageModel
from spacy_lm.pipeline.ngram_lm import NGramLanguageModel
from spacy_lm.pipeline.serialization import part_digest
from spacy_lm.text.vocab import SPECIALS, TokenVocab

from ..conftest import make_examples, train_tiny_lm

LM_CONFIG = {"model": {"width": 8, "depth": 1, "dropout": 0.0}, "max_length": 5}
TEXTS = ["the cat sat on the mat", "a dog saw the cat", "the dog sat"]


@pytest.fixture(scope="module")
def lstm_nlp():
    return train_tiny_lm(n_steps=2, texts=TEXTS, config=LM_CONFIG)[0]


@pytest.fixture(scope="module")
def ngram_nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 2})
    examples = make_examples(nlp, TEXTS)
    nlp.initialize(lambda: examples)
    return nlp


def surprisals(nlp, texts=TEXTS):
    return [[t._.lm_surprisal for t in doc] for doc in nlp.pipe(texts)]


def same_size_other_strings(vocab: TokenVocab) -> bytes:
    """A vocabulary of the same size whose ids mean other words (the strings reversed)."""
    words = vocab.strings[len(SPECIALS):]
    return TokenVocab(list(SPECIALS) + words[::-1], attr=vocab.attr).to_bytes()


def fresh(nlp, name):
    """An uninitialized component of the same configuration."""
    if name == "ngram_lm":
        return NGramLanguageModel(nlp.vocab, order=2)
    return LSTMLanguageModel(nlp.vocab, spacy.blank("en").add_pipe("lstm_lm", config=LM_CONFIG).model)


# ---------------------------------------------------------------- the vocabulary file
@pytest.mark.parametrize("name", ["lstm_lm", "ngram_lm"])
def test_a_same_size_vocabulary_of_other_strings_is_refused_from_disk(name, lstm_nlp, ngram_nlp, tmp_path):
    nlp = lstm_nlp if name == "lstm_lm" else ngram_nlp
    nlp.to_disk(tmp_path / "pipeline")
    vocab_file = tmp_path / "pipeline" / name / "lm_vocab"
    vocab_file.write_bytes(same_size_other_strings(nlp.get_pipe(name).lm_vocab))
    with pytest.raises(ValueError, match=r"\[E034\]") as info:
        spacy.load(tmp_path / "pipeline")
    message = str(info.value)
    assert f"'{name}': the vocabulary file lm_vocab in {tmp_path / 'pipeline' / name}" in message
    assert "checksum" in message and "save it again with nlp.to_disk" in message


@pytest.mark.parametrize("name", ["lstm_lm", "ngram_lm"])
def test_a_same_size_vocabulary_of_other_strings_is_refused_from_bytes(name, lstm_nlp, ngram_nlp):
    nlp = lstm_nlp if name == "lstm_lm" else ngram_nlp
    pipe = nlp.get_pipe(name)
    msg = srsly.msgpack_loads(pipe.to_bytes())
    msg["lm_vocab"] = same_size_other_strings(pipe.lm_vocab)
    component = fresh(nlp, name)
    with pytest.raises(ValueError, match=r"\[E034\] '.*': the vocabulary file lm_vocab in bytes .*checksum"):
        component.from_bytes(srsly.msgpack_dumps(msg))
    assert component.lm_vocab is None


def test_a_pipeline_saved_without_a_checksum_loads_unchecked(lstm_nlp, tmp_path):
    """As spacy-lm 0.1 saved it (tests/data/lstm_lm_0.1.0 is loaded in test_lstm_lm.py)."""
    path = tmp_path / "pipeline"
    lstm_nlp.to_disk(path)
    cfg = srsly.read_json(path / "lstm_lm" / "cfg")
    assert cfg["vocab_checksum"] == lstm_nlp.get_pipe("lstm_lm").lm_vocab.checksum
    assert cfg["vocab_size"] == len(lstm_nlp.get_pipe("lstm_lm").lm_vocab)
    del cfg["vocab_checksum"], cfg["vocab_size"]
    srsly.write_json(path / "lstm_lm" / "cfg", cfg)
    assert surprisals(spacy.load(path)) == surprisals(lstm_nlp)


def test_the_checksum_is_of_the_strings_in_order():
    vocab = TokenVocab(list(SPECIALS) + ["a", "b"])
    assert vocab.checksum == TokenVocab(list(SPECIALS) + ["a", "b"], attr="LOWER").checksum
    assert vocab.checksum != TokenVocab(list(SPECIALS) + ["b", "a"]).checksum
    assert len(vocab.checksum) == 64 and int(vocab.checksum, 16) >= 0


# ---------------------------------------------------------------- the config vs the saved weights
def edit_config(path, name, **settings):
    config = Config().from_disk(path / "config.cfg")
    config["components"][name]["model"].update(settings)
    config.to_disk(path / "config.cfg")


def test_an_edited_width_is_named_not_called_corrupt(lstm_nlp, tmp_path):
    path = tmp_path / "pipeline"
    lstm_nlp.to_disk(path)
    edit_config(path, "lstm_lm", width=12)
    with pytest.raises(ValueError, match=r"\[E035\]") as info:
        spacy.load(path)
    message = str(info.value)
    assert "config.cfg says components.lstm_lm.model.width = 12 but the saved weights have width 8" in message
    assert "dim nO" in message and "the config was edited after saving" in message
    assert "E006" not in message and "corrupt" not in message


def test_an_edited_cell_is_named(lstm_nlp, tmp_path):
    """Thinc itself would load the LSTM's weights into the configured GRU without a word."""
    path = tmp_path / "pipeline"
    lstm_nlp.to_disk(path)
    edit_config(path, "lstm_lm", cell="gru")
    with pytest.raises(ValueError, match=r'\[E035\].*config.cfg says components.lstm_lm.model.cell = "gru" '
                                         r'but the saved weights have cell "lstm"'):
        spacy.load(path)


def test_bytes_of_another_width_are_named_without_a_config(lstm_nlp):
    config = {**LM_CONFIG, "model": {**LM_CONFIG["model"], "width": 12}}
    wide = spacy.blank("en").add_pipe("lstm_lm", config=config)
    with pytest.raises(ValueError, match=r"\[E035\] 'lstm_lm': the configured model has nO = 12 but the saved "
                                         r"weights have nO = 8 \(layer lstm_language_model, dim nO\)"):
        wide.from_bytes(lstm_nlp.get_pipe("lstm_lm").to_bytes())


def test_an_edited_sentiment_width_is_named(tmp_path):
    tok2vec = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 8, "attrs": ["NORM"], "rows": [50],
               "include_static_vectors": False}
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config={"model": {"@architectures": "spacy_lm.SentimentLSTM.v1",
                                                       "tok2vec": tok2vec, "width": 8, "depth": 1}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"POS": p, "NEG": 1.0 - p}})
                for t, p in [("good film", 1.0), ("bad film", 0.0)]]
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path / "pipeline")
    edit_config(tmp_path / "pipeline", "sentiment_scorer", width=6)
    with pytest.raises(ValueError, match=r"\[E035\] 'sentiment_scorer': config.cfg says "
                                         r"components.sentiment_scorer.model.width = 6"):
        spacy.load(tmp_path / "pipeline")


def drop_digests(component_dir):
    """The cfg as spacy-lm 0.1 saved it: no digests."""
    cfg = srsly.read_json(component_dir / "cfg")
    del cfg["digests"]
    srsly.write_json(component_dir / "cfg", cfg)


def edit_component(path, name, **settings):
    config = Config().from_disk(path / "config.cfg")
    config["components"][name].update(settings)
    config.to_disk(path / "config.cfg")


def test_an_edited_depth_is_named(lstm_nlp, tmp_path):
    """Thinc restores the saved attrs: depth 2 in config.cfg used to load and run depth 1."""
    path = tmp_path / "pipeline"
    lstm_nlp.to_disk(path)
    edit_config(path, "lstm_lm", depth=2)
    with pytest.raises(ValueError, match=r"\[E035\] 'lstm_lm': config.cfg says components.lstm_lm.model.depth = 2 "
                                         r"but the saved weights have depth 1 \(layer lstm, attr depth\)"):
        spacy.load(path)


def test_an_edited_dropout_is_the_configs(lstm_nlp, tmp_path):
    path = tmp_path / "pipeline"
    lstm_nlp.to_disk(path)
    edit_config(path, "lstm_lm", dropout=0.3)
    loaded = spacy.load(path)
    assert loaded.get_pipe("lstm_lm").model.attrs["dropout_rate"] == 0.3
    assert loaded.config["components"]["lstm_lm"]["model"]["dropout"] == 0.3
    assert surprisals(loaded) == surprisals(lstm_nlp)  # no dropout at inference


@pytest.mark.parametrize("name,setting,value", [("lstm_lm", "attr", "LOWER"), ("lstm_lm", "max_size", 3),
                                                ("lstm_lm", "min_freq", 2), ("ngram_lm", "order", 3),
                                                ("ngram_lm", "prune", [0, 1]),
                                                ("ngram_lm", "discount_fallback", [0.4, 1.0, 1.5])])
def test_an_edited_structural_setting_is_named(name, setting, value, lstm_nlp, ngram_nlp, tmp_path):
    nlp = lstm_nlp if name == "lstm_lm" else ngram_nlp
    path = tmp_path / "pipeline"
    nlp.to_disk(path)
    saved = nlp.get_pipe(name).cfg[setting]
    edit_component(path, name, **{setting: value})
    with pytest.raises(ValueError, match=r"\[E035\]") as info:
        spacy.load(path)
    message = str(info.value)
    assert f"'{name}': config.cfg says components.{name}.{setting} = " in message
    assert f"but the saved weights have {setting} {saved if not isinstance(saved, str) else repr(saved)}"\
        .replace("'", '"') in message


def test_an_edited_structural_setting_of_a_component_built_by_hand_is_named(ngram_nlp):
    other = NGramLanguageModel(ngram_nlp.vocab, order=4)
    with pytest.raises(ValueError, match=r"\[E035\] 'ngram_lm': the configured component has order = 4 but "
                                         r"the saved weights have order 2"):
        other.from_bytes(ngram_nlp.get_pipe("ngram_lm").to_bytes())


def test_an_edited_runtime_setting_is_the_configs(lstm_nlp, tmp_path):
    path = tmp_path / "pipeline"
    lstm_nlp.to_disk(path)
    edit_component(path, "lstm_lm", max_length=3, grad_norm_clip=0.5)
    lm = spacy.load(path).get_pipe("lstm_lm")
    assert (lm.cfg["max_length"], lm.cfg["grad_norm_clip"]) == (3, 0.5)
    assert lm.cfg["vocab_checksum"] == lstm_nlp.get_pipe("lstm_lm").lm_vocab.checksum  # saved facts stay


def test_every_cfg_key_is_sorted(lstm_nlp, ngram_nlp):
    """A new cfg key must be classified: structural (E035 on an edit), runtime (the config's) or
    a fact about the saved files."""
    facts = {"format", "spacy_lm_version", "vocab_checksum", "vocab_size", "source_vocab_checksum",
             "source_vocab_size", "digests"}
    vae = spacy.blank("en").add_pipe("sentence_vae")
    translator = spacy.blank("en").add_pipe("translator")
    for pipe in (lstm_nlp.get_pipe("lstm_lm"), ngram_nlp.get_pipe("ngram_lm"), vae, translator):
        structural, runtime = set(pipe.structural_settings), set(pipe.runtime_settings)
        assert not structural & runtime
        assert set(pipe.cfg) - facts == structural | runtime, type(pipe).__name__


def test_an_ngram_lm_from_arpa_saves_the_order_it_runs(ngram_nlp, tmp_path):
    ngram_nlp.get_pipe("ngram_lm").to_arpa(tmp_path / "lm.arpa")
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm")  # order 5 configured; the file's is 2
    nlp.config["initialize"]["components"]["ngram_lm"] = {"arpa": str(tmp_path / "lm.arpa")}
    nlp.initialize()
    assert nlp.config["components"]["ngram_lm"]["order"] == 2
    nlp.to_disk(tmp_path / "pipeline")
    assert surprisals(spacy.load(tmp_path / "pipeline")) == surprisals(ngram_nlp)


def test_damaged_model_bytes_without_digests_stay_incomplete_or_corrupt(lstm_nlp, tmp_path):
    path = tmp_path / "pipeline"
    lstm_nlp.to_disk(path)
    drop_digests(path / "lstm_lm")
    (path / "lstm_lm" / "model").write_bytes(srsly.msgpack_dumps({"nodes": "not a model"}))
    with pytest.raises(ValueError, match=r"\[E006\].*incomplete or corrupt"):
        spacy.load(path)


# ---------------------------------------------------------------- digests of the saved parts
def flip_middle(data: bytes, n: int = 4) -> bytes:
    """``data`` with ``n`` bytes in its middle inverted (the length kept)."""
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + n]) + data[middle + n :]


@pytest.mark.parametrize("name", ["lstm_lm", "ngram_lm"])
def test_the_cfg_records_a_digest_of_every_part(name, lstm_nlp, ngram_nlp, tmp_path):
    nlp = lstm_nlp if name == "lstm_lm" else ngram_nlp
    nlp.to_disk(tmp_path / "pipeline")
    directory = tmp_path / "pipeline" / name
    digests = srsly.read_json(directory / "cfg")["digests"]
    assert sorted(digests) == ["lm_vocab", "model"]
    assert digests == {part: part_digest((directory / part).read_bytes()) for part in digests}


@pytest.mark.parametrize("name", ["lstm_lm", "ngram_lm"])
def test_flipped_model_bytes_are_a_damaged_file_named(name, lstm_nlp, ngram_nlp, tmp_path):
    """Flipped float bytes load as other weights: before the digests they changed the scores
    silently (scores at 106 of 111 positions, issue #30)."""
    nlp = lstm_nlp if name == "lstm_lm" else ngram_nlp
    nlp.to_disk(tmp_path / "pipeline")
    model_file = tmp_path / "pipeline" / name / "model"
    model_file.write_bytes(flip_middle(model_file.read_bytes()))
    with pytest.raises(ValueError, match=r"^\[E230\] '" + name + r"': the file 'model' in .*" + name
                       + r" is damaged .*: the directory is damaged; save the pipeline again") as info:
        spacy.load(tmp_path / "pipeline")
    assert "\n" not in str(info.value)


def test_a_flipped_byte_in_the_vocabulary_is_a_damaged_file(lstm_nlp, tmp_path):
    lstm_nlp.to_disk(tmp_path / "pipeline")
    vocab_file = tmp_path / "pipeline" / "lstm_lm" / "lm_vocab"
    vocab_file.write_bytes(flip_middle(vocab_file.read_bytes(), 1))
    with pytest.raises(ValueError, match=r"\[E230\] 'lstm_lm': the file 'lm_vocab' in .* is damaged"):
        spacy.load(tmp_path / "pipeline")


@pytest.mark.parametrize("name", ["lstm_lm", "ngram_lm"])
def test_flipped_model_bytes_are_damaged_from_bytes(name, lstm_nlp, ngram_nlp):
    nlp = lstm_nlp if name == "lstm_lm" else ngram_nlp
    msg = srsly.msgpack_loads(nlp.get_pipe(name).to_bytes())
    msg["model"] = flip_middle(msg["model"])
    component = fresh(nlp, name)
    with pytest.raises(ValueError, match=r"\[E230\] '.*': the file 'model' in bytes is damaged"):
        component.from_bytes(srsly.msgpack_dumps(msg))
    assert component.lm_vocab is None


def test_flipped_model_bytes_without_digests_load_unchecked(lstm_nlp, tmp_path):
    """A cfg saved by spacy-lm 0.1 has no digests: its parts load as they are."""
    path = tmp_path / "pipeline"
    lstm_nlp.to_disk(path)
    drop_digests(path / "lstm_lm")
    model_file = path / "lstm_lm" / "model"
    model_file.write_bytes(flip_middle(model_file.read_bytes()))
    assert spacy.load(path).pipe_names == ["lstm_lm"]


# ---------------------------------------------------------------- unedited round trips
def test_unedited_round_trips_score_identically(lstm_nlp, ngram_nlp, tmp_path):
    for nlp in (lstm_nlp, ngram_nlp):
        nlp.to_disk(tmp_path / nlp.pipe_names[0])
        assert surprisals(spacy.load(tmp_path / nlp.pipe_names[0])) == surprisals(nlp)
        restored = spacy.blank("en")
        restored.add_pipe(nlp.pipe_names[0], config=LM_CONFIG if nlp is lstm_nlp else {"order": 2})
        assert surprisals(restored.from_bytes(nlp.to_bytes())) == surprisals(nlp)
