"""ULMFiT's vocabulary growth: `TokenVocab.extend` and `spacy_lm.grow_lm_vocabulary.v1` on a
sourced lstm_lm (the model side is tested in tests/architectures/test_lstm_lm_architecture.py)."""
from collections import Counter
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import load_config, registry
from thinc.api import Adam, fix_random_seed

from spacy_lm.text.vocab import EOS, UNK, TokenVocab
from spacy_lm.training.vocab_growth import make_grow_lm_vocabulary

from ..conftest import train_tiny_lm

REPO = Path(__file__).resolve().parents[2]
CALLBACK = "spacy_lm.grow_lm_vocabulary.v1"
SMALL = {"width": 8, "depth": 1, "dropout": 0.0}
MODELS = {
    "full": {"model": SMALL, "max_length": 8},
    # the general vocabulary has 12 ids: head [0, 4), clusters [4, 8) and [8, 12), the last grown
    "adaptive": {"model": {"@architectures": "spacy_lm.LSTMLanguageModel.v2", **SMALL, "output": "adaptive",
                           "cutoffs": [4, 8], "div_value": 2.0}, "max_length": 8},
}
# The task's text: zebra (4 times) and sofa (3) are new words, llama (once) is below min_freq = 2.
TASK_TEXTS = ["the zebra sat on the sofa", "a zebra saw a sofa", "the zebra and the dog sat on the sofa",
              "a llama saw a zebra"]


def general_lm(kind):
    nlp, _ = train_tiny_lm(n_steps=10, config=MODELS[kind])
    return nlp


def write_task(tmp_path, texts=TASK_TEXTS):
    path = tmp_path / "task.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf8")
    return path


def sourcing(nlp1, corpus_path):
    """A second pipeline sourcing nlp1's lstm_lm, its [corpora.train] the task text."""
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("lstm_lm", source=nlp1)
    nlp2.config["corpora"] = {"train": {"@readers": "spacy_lm.PlainTextCorpus.v1", "path": str(corpus_path)}}
    return nlp2


def grow(nlp, **settings):
    assert registry.callbacks.get(CALLBACK) is make_grow_lm_vocabulary
    return registry.callbacks.get(CALLBACK)(**settings)(nlp)


def surprisals(doc):
    return [t._.lm_surprisal for t in doc] + [doc._.lm_end_surprisal]


# ---------------------------------------------------------------- TokenVocab.extend
def test_extend_appends_new_words_after_the_old_ids_most_frequent_first():
    vocab = TokenVocab([UNK, EOS, "the", "cat"])
    old_ids = {s: vocab.id_of(s) for s in vocab.strings}
    checksum = vocab.checksum
    counts = Counter({"the": 9, "zebra": 2, "sofa": 5, "aardvark": 2, "llama": 1, EOS: 4, UNK: 3})
    added = vocab.extend(counts, min_freq=2)
    assert added == ["sofa", "aardvark", "zebra"]  # by count, ties by text; no specials, no known words
    assert vocab.strings == [UNK, EOS, "the", "cat", "sofa", "aardvark", "zebra"]
    assert {s: vocab.id_of(s) for s in old_ids} == old_ids
    assert vocab.id_of("llama") == vocab.unk_id and vocab.checksum != checksum
    doc = Doc(spacy.blank("en").vocab, words=["the", "zebra", "llama", "sofa"])
    assert vocab.ids(doc) == vocab.doc_ids(doc)[0].tolist() == [2, 6, vocab.unk_id, 4]
    assert vocab.extend(counts, min_freq=2) == []  # nothing new the second time
    assert vocab.extend(counts, min_freq=1, max_new=0) == []
    assert vocab.extend(Counter({"b": 1, "a": 1, "c": 1}), max_new=2) == ["a", "b"]
    assert TokenVocab.from_bytes(vocab.to_bytes()).strings == vocab.strings


@pytest.mark.parametrize("settings,name", [({"min_freq": 0}, "min_freq"), ({"max_new": -1}, "max_new"),
                                           ({"min_freq": 1.5}, "min_freq")])
def test_extend_checks_its_settings(settings, name):
    with pytest.raises(ValueError, match=rf"E009.*{name}"):
        TokenVocab([UNK, EOS]).extend(Counter({"a": 3}), **settings)


# ---------------------------------------------------------------- the callback
@pytest.mark.parametrize("kind", list(MODELS))
def test_task_words_get_their_own_ids_and_train(tmp_path, capsys, kind):
    nlp1 = general_lm(kind)
    nlp2 = sourcing(nlp1, write_task(tmp_path))
    lm = nlp2.get_pipe("lstm_lm")
    V = len(lm.lm_vocab)
    assert V == 12 and lm.lm_vocab.id_of("zebra") == lm.lm_vocab.unk_id  # before: task words read as <unk>
    old_doc = nlp2.make_doc("the cat sat on the mat")
    old_hidden = lm.encode_docs([old_doc])[0].copy()
    old_vocab = lm.lm_vocab

    assert grow(nlp2) is nlp2
    assert f"added 2 task words to lstm_lm's vocabulary ({V} -> {V + 2})" in capsys.readouterr().out
    vocab = lm.lm_vocab
    assert vocab.strings == old_vocab.strings + ["zebra", "sofa"] and len(old_vocab) == V
    assert (vocab.id_of("zebra"), vocab.id_of("sofa"), vocab.id_of("llama")) == (V, V + 1, vocab.unk_id)
    assert lm.model.get_dim("nV") == V + 2
    numpy.testing.assert_array_equal(lm.encode_docs([old_doc])[0], old_hidden)  # old words read as before
    task_doc = nlp2("the zebra sat on the sofa")
    assert task_doc._.lm_n_predicted == 7 and all(v > 0 for v in surprisals(task_doc))

    fix_random_seed(0)
    examples = [Example(nlp2.make_doc(t), nlp2.make_doc(t)) for t in TASK_TEXTS]
    optimizer = Adam(0.05)
    history = []
    for _ in range(15):
        losses = {}
        nlp2.update(examples, sgd=optimizer, losses=losses)
        history.append(losses["lstm_lm"])
    assert history[-1] < 0.8 * history[0]
    trained_doc = nlp2("the zebra sat on the sofa")  # the new words themselves became likelier
    assert trained_doc[1]._.lm_surprisal < task_doc[1]._.lm_surprisal
    assert trained_doc[5]._.lm_surprisal < task_doc[5]._.lm_surprisal

    # (d) save/load: the grown vocabulary sizes the model built from the config
    text = "a zebra saw the sofa and the cat"
    expected = surprisals(nlp2(text))
    nlp3 = spacy.util.load_model_from_config(nlp2.config)
    nlp3.from_bytes(nlp2.to_bytes())
    assert nlp3.get_pipe("lstm_lm").lm_vocab.strings == vocab.strings
    numpy.testing.assert_array_equal(surprisals(nlp3(text)), expected)
    nlp2.to_disk(tmp_path / "grown")
    nlp4 = spacy.load(tmp_path / "grown")
    assert nlp4.get_pipe("lstm_lm").model.get_dim("nV") == V + 2
    numpy.testing.assert_array_equal(surprisals(nlp4(text)), expected)


def test_min_freq_and_max_new_choose_the_words(tmp_path, capsys):
    nlp2 = sourcing(general_lm("full"), write_task(tmp_path))
    grow(nlp2, min_freq=1, max_new=2)
    vocab = nlp2.get_pipe("lstm_lm").lm_vocab
    assert vocab.strings[-2:] == ["zebra", "sofa"] and "llama" not in vocab
    grow(nlp2, min_freq=1)  # again: only what is still missing
    assert vocab is not nlp2.get_pipe("lstm_lm").lm_vocab
    assert nlp2.get_pipe("lstm_lm").lm_vocab.strings[-3:] == ["zebra", "sofa", "llama"]
    out = capsys.readouterr().out
    assert "added 2 task words to lstm_lm's vocabulary (12 -> 14)" in out
    assert "added 1 task words to lstm_lm's vocabulary (14 -> 15)" in out


def test_the_finetune_config_grows_the_sourced_lm_in_spacy_train_s_initialization(tmp_path, capsys):
    """configs/lstm_lm_finetune.cfg as `spacy train` initializes it: the sourced lstm_lm is not
    re-initialized, and [initialize.after_init] adds the task words."""
    from spacy.training.initialize import init_nlp

    nlp1 = general_lm("full")
    nlp1.to_disk(tmp_path / "general")
    task = write_task(tmp_path)
    config = load_config(REPO / "configs" / "lstm_lm_finetune.cfg", overrides={
        "paths.lm_pipeline": str(tmp_path / "general"), "paths.train": str(task), "paths.dev": str(task),
        "corpora.train.n_streams": 2, "corpora.train.chunk_length": 5, "training.logger.progress_bar": None})
    assert config["initialize"]["after_init"]["@callbacks"] == CALLBACK
    nlp = init_nlp(config)
    vocab = nlp.get_pipe("lstm_lm").lm_vocab
    assert vocab.strings == nlp1.get_pipe("lstm_lm").lm_vocab.strings + ["zebra", "sofa"]
    numpy.testing.assert_array_equal(nlp.get_pipe("lstm_lm").model.get_ref("embedding").get_param("E")[:12],
                                     nlp1.get_pipe("lstm_lm").model.get_ref("embedding").get_param("E"))
    assert "added 2 task words to lstm_lm's vocabulary (12 -> 14)" in capsys.readouterr().out
    # the config's optimizer (discriminative Adam, its layer groups) steps the grown tables
    optimizer = registry.resolve({"optimizer": config.interpolate()["training"]["optimizer"]})["optimizer"]
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in TASK_TEXTS]
    E = nlp.get_pipe("lstm_lm").model.get_ref("embedding").get_param("E")
    zebra = E[12].copy()
    for _ in range(3):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        assert numpy.isfinite(losses["lstm_lm"])
    assert not numpy.array_equal(nlp.get_pipe("lstm_lm").model.get_ref("embedding").get_param("E")[12], zebra)


# ---------------------------------------------------------------- (f) errors
def test_errors_name_what_is_wrong(tmp_path):
    task = write_task(tmp_path)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("lstm_lm", config=MODELS["full"])  # never initialized
    nlp.config["corpora"] = {"train": {"@readers": "spacy_lm.PlainTextCorpus.v1", "path": str(task)}}
    with pytest.raises(ValueError, match=r"E310.*'nope'.*sentencizer"):
        grow(nlp, component="nope")
    with pytest.raises(ValueError, match=r"E311.*'sentencizer'.*not an lstm_lm"):
        grow(nlp, component="sentencizer")
    with pytest.raises(ValueError, match=r"E312.*'lstm_lm' has no vocabulary"):
        grow(nlp)
    with pytest.raises(ValueError, match=r"E009.*min_freq"):
        registry.callbacks.get(CALLBACK)(min_freq=0)
    with pytest.raises(ValueError, match=r"E009.*max_new"):
        registry.callbacks.get(CALLBACK)(max_new=-1)
    empty = sourcing(general_lm("full"), write_task(tmp_path, texts=[""]))
    with pytest.raises(ValueError, match=r"E313.*corpora.train"):
        grow(empty)
    assert len(empty.get_pipe("lstm_lm").lm_vocab) == 12
