"""`sentiment_scorer`: lexicon mode (extensions, DocBin, multiprocessing) and the trained mode
(the test_overfitting_IO pattern, save/load, attributions, real and five-class targets)."""
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import make_tempdir
from thinc.api import Adam, fix_random_seed

LEXICON_TSV = "like\t2.0\nhate\t-2.7\ngreat\t3.1\nawful\t-2.0\nboring\t-1.3\ngood\t1.9\nbad\t-2.5\n"
TRAIN = [("I like it a lot", "POS"), ("I hate it", "NEG"), ("what a great film", "POS"),
         ("awful and boring", "NEG"), ("a film", "POS"), ("a lot of it", "NEG")]
TOK2VEC = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 12, "attrs": ["NORM", "PREFIX"],
           "rows": [200, 100], "include_static_vectors": False}


@pytest.fixture(scope="module")
def lexicon_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("lexicon") / "lexicon.tsv"
    path.write_text(LEXICON_TSV, encoding="utf-8")
    return str(path)


def lexicon_nlp(lexicon_path, sentencizer=True):
    nlp = spacy.blank("en")
    if sentencizer:
        nlp.add_pipe("sentencizer")
    nlp.add_pipe("sentiment_scorer", config={"model": {"@architectures": "spacy_lm.LexiconSentiment.v1",
                                                        "lexicon": lexicon_path}})
    return nlp


def neural_config(lexicon_path, *, target="classes", lexicon=True, steps=16):
    model = {"@architectures": "spacy_lm.SentimentLSTM.v1", "tok2vec": TOK2VEC, "width": 8, "depth": 1,
             "dropout": 0.0}
    if lexicon:
        model["lexicon"] = {"@architectures": "spacy_lm.LexiconSentiment.v1", "lexicon": lexicon_path}
    return {"model": model, "target": target, "attribution_steps": steps}


def examples_for(nlp, data, cats_of):
    return [Example.from_dict(nlp.make_doc(t), {"cats": cats_of(label)}) for t, label in data]


def binary_cats(label):
    return {"POS": float(label == "POS"), "NEG": float(label == "NEG")}


# ------------------------------------------------------------------ lexicon mode
def test_lexicon_mode_writes_every_extension(lexicon_path):
    nlp = lexicon_nlp(lexicon_path)
    doc = nlp("I like it. But the end was awful and boring!")
    assert doc._.sentiment_label == "negative"
    assert -1.0 <= doc._.sentiment_polarity < -0.05
    assert doc.sentiment == pytest.approx(doc._.sentiment_polarity)
    assert sum(t._.sentiment_contribution for t in doc) == pytest.approx(doc._.sentiment_polarity)
    assert doc[1]._.sentiment_contribution > 0 and doc[2]._.sentiment_contribution == 0.0
    first, second = list(doc.sents)
    assert first._.sentiment_polarity > 0 > second._.sentiment_polarity
    assert doc[0:2]._.sentiment_polarity is None  # not a sentence
    assert doc[:]._.sentiment_polarity == doc._.sentiment_polarity
    assert doc._.sentiment_base == 0.0 and doc._.sentiment_probs is None


def test_lexicon_mode_empty_and_neutral(lexicon_path):
    nlp = lexicon_nlp(lexicon_path)
    for text in ("", "the table"):
        doc = nlp(text)
        assert doc._.sentiment_polarity == 0.0 and doc._.sentiment_label == "neutral"
    # without a sentencizer: no sentence scores, everything else as before
    doc = lexicon_nlp(lexicon_path, sentencizer=False)("I like it")
    assert doc._.sentiment_sentences == [] and doc._.sentiment_label == "positive"


def test_payload_survives_docbin_and_multiprocessing(lexicon_path):
    nlp = lexicon_nlp(lexicon_path)
    texts = ["I like it. It is bad.", "great", "boring film"]
    docs = list(nlp.pipe(texts))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    restored = list(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))
    for a, b in zip(docs, restored):  # msgpack gives tuples for lists
        assert b._.sentiment_polarity == a._.sentiment_polarity
        assert list(b._.sentiment_tokens) == a._.sentiment_tokens
        assert [list(s) for s in b._.sentiment_sentences] == a._.sentiment_sentences
        assert [s._.sentiment_polarity for s in b.sents] == [s._.sentiment_polarity for s in a.sents]
    piped = list(nlp.pipe(texts, n_process=2, batch_size=1))
    assert [d._.sentiment_polarity for d in piped] == [d._.sentiment_polarity for d in docs]


def test_lexicon_pipeline_save_load_needs_no_lexicon_file(lexicon_path, tmp_path):
    import shutil

    src = tmp_path / "lex.tsv"
    shutil.copy(lexicon_path, src)
    nlp = lexicon_nlp(str(src))
    before = nlp("I hate it")._.sentiment_polarity
    nlp.to_disk(tmp_path / "pipe")
    src.unlink()  # the lexicon is saved with the model
    assert spacy.load(tmp_path / "pipe")("I hate it")._.sentiment_polarity == before


def test_lexicon_update_is_noop_and_scores(lexicon_path):
    nlp = lexicon_nlp(lexicon_path)
    examples = examples_for(nlp, TRAIN[:4], binary_cats)
    nlp.initialize(lambda: examples)
    assert nlp.get_pipe("sentiment_scorer").label_values == {"NEG": -1.0, "POS": 1.0}
    assert nlp.update(examples) == {"sentiment_scorer": 0.0}
    scores = nlp.evaluate(examples)
    assert scores["sentiment_sign_acc"] == 1.0 and scores["sentiment_accuracy"] == 1.0


def test_bad_settings_raise_coded_errors(lexicon_path):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="E009"):
        nlp.add_pipe("sentiment_scorer", config={"target": "ordinal"})
    with pytest.raises(ValueError, match="E017"):
        nlp.add_pipe("sentiment_scorer", name="s2", config={"label_values": {"NEG": -2.0, "POS": 1.0}})
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path))
    with pytest.raises(ValueError, match="E016"):
        nlp.initialize(lambda: [Example(nlp.make_doc("x"), nlp.make_doc("x"))])
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path))
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    with pytest.raises(ValueError, match="E018"):
        nlp.update([Example.from_dict(nlp.make_doc("a b"), {"cats": {"FUNNY": 1.0}})])


# ------------------------------------------------------------------ trained mode
def train(nlp, examples, steps=40):
    optimizer = Adam(0.02)
    losses = {}
    for _ in range(steps):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
    return losses


def test_untrained_model_has_the_lexicon_sign(lexicon_path):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path, steps=0))
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    lex = lexicon_nlp(lexicon_path, sentencizer=False)
    for text in ("I like it a lot", "I hate it", "awful", "not great", "a film"):
        ours, zero_shot = nlp(text)._.sentiment_polarity, lex(text)._.sentiment_polarity
        assert (ours > 0) == (zero_shot > 0) and (ours == 0) == (zero_shot == 0), text


@pytest.mark.parametrize("use_lexicon", [True, False])
def test_overfitting_IO(lexicon_path, use_lexicon):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path, lexicon=use_lexicon))
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    losses = train(nlp, examples)
    assert losses["sentiment_scorer"] < 0.05
    texts = [t for t, _ in TRAIN]
    for text, label in TRAIN:
        doc = nlp(text)
        assert (doc._.sentiment_polarity > 0) == (label == "POS"), (text, doc._.sentiment_polarity)
        assert doc._.sentiment_label == ("positive" if label == "POS" else "negative")
        assert doc._.sentiment_probs[label] > 0.9
    doc = nlp("I like it. I hate it.")
    assert [s._.sentiment_polarity > 0 for s in doc.sents] == [True, False]
    with make_tempdir() as d:
        nlp.to_disk(d)
        nlp2 = spacy.load(d)
        for text in texts:
            a, b = nlp(text), nlp2(text)
            assert b._.sentiment_polarity == a._.sentiment_polarity
            assert b._.sentiment_tokens == a._.sentiment_tokens
    # batched vs alone: float rounding only
    for piped, text in zip(nlp.pipe(texts), texts):
        assert piped._.sentiment_polarity == pytest.approx(nlp(text)._.sentiment_polarity, abs=1e-5)
    scores = nlp.evaluate(examples)
    assert scores["sentiment_accuracy"] == 1.0 and scores["sentiment_macro_f"] == 1.0
    assert scores["sentiment_mae"] < 0.1
    empty = nlp("")
    assert empty._.sentiment_polarity == 0.0 and empty._.sentiment_label == "neutral"


def test_contributions_sum_to_doc_score(lexicon_path):
    """Integrated gradients are complete: Σ contributions + base = polarity, up to the
    midpoint-rule error; with 64 points we require |error| < 0.01 on a model trained a little."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path, steps=64))
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    train(nlp, examples, steps=8)
    for text in ("I like it a lot", "awful and boring", "what a great film but I hate it"):
        doc = nlp(text)
        total = sum(doc._.sentiment_tokens) + doc._.sentiment_base
        assert abs(total - doc._.sentiment_polarity) < 0.01, (text, total, doc._.sentiment_polarity)
        assert any(abs(c) > 1e-3 for c in doc._.sentiment_tokens)
    # IG leaves no gradient behind: the next update is the same as without explaining
    assert all(not node.has_grad(name) or not node.get_grad(name).any()
               for node in nlp.get_pipe("sentiment_scorer").model.walk() for name in node.param_names)


def test_real_and_five_class_targets(lexicon_path):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path, target="real", steps=0))
    data = [("I like it a lot", 0.9), ("I hate it", 0.1), ("a film", 0.5), ("awful and boring", 0.0)]
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"POSITIVE": v}}) for t, v in data]
    nlp.initialize(lambda: examples)
    train(nlp, examples, steps=60)
    for text, value in data:
        assert nlp(text)._.sentiment_polarity == pytest.approx(2 * value - 1, abs=0.15)
    assert nlp.evaluate(examples)["sentiment_pearson"] > 0.95

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path, steps=0))
    fine = [("awful and boring", "L0"), ("I hate it", "L1"), ("a film", "L2"), ("I like it", "L3"),
            ("what a great film", "L4")]
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {f"L{i}": float(f"L{i}" == lab) for i in range(5)}})
                for t, lab in fine]
    nlp.initialize(lambda: examples)
    assert nlp.get_pipe("sentiment_scorer").label_values == {"L0": -1.0, "L1": -0.5, "L2": 0.0, "L3": 0.5,
                                                             "L4": 1.0}
    train(nlp, examples, steps=60)
    assert nlp.evaluate(examples)["sentiment_accuracy"] == 1.0


def test_lm_listener_as_encoder():
    """SentimentLSTM.v1 over an lstm_lm's states (LSTMLMListener.v1, depth 0): trains, explains."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_lm", config={"model": {"width": 16, "depth": 1, "dropout": 0.0}, "max_length": 5})
    model = {"@architectures": "spacy_lm.SentimentLSTM.v1", "width": 8, "depth": 0, "dropout": 0.0,
             "tok2vec": {"@architectures": "spacy_lm.LSTMLMListener.v1", "width": 16}}
    nlp.add_pipe("sentiment_scorer", config={"model": model, "attribution_steps": 16})
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    losses = train(nlp, examples, steps=30)
    assert losses["sentiment_scorer"] < 0.1 and losses["lstm_lm"] > 0
    for text, label in TRAIN:
        doc = nlp(text)
        assert (doc._.sentiment_polarity > 0) == (label == "POS")
        assert abs(sum(doc._.sentiment_tokens) + doc._.sentiment_base - doc._.sentiment_polarity) < 0.01


def test_bidirectional_lm_listener_as_encoder():
    """SentimentLSTM.v1 over a forward and a backward lstm_lm (BiLMListener.v1): trains, explains."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    lm = {"model": {"width": 16, "depth": 1, "dropout": 0.0}, "max_length": 5}
    nlp.add_pipe("lstm_lm", config=lm)
    nlp.add_pipe("lstm_lm", name="lstm_lm_backward", config={**lm, "direction": "backward"})
    model = {"@architectures": "spacy_lm.SentimentLSTM.v1", "width": 8, "depth": 0, "dropout": 0.0,
             "tok2vec": {"@architectures": "spacy_lm.BiLMListener.v1", "width": 16}}
    nlp.add_pipe("sentiment_scorer", config={"model": model, "attribution_steps": 16})
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    losses = train(nlp, examples, steps=30)
    assert losses["sentiment_scorer"] < 0.1 and losses["lstm_lm"] > 0 and losses["lstm_lm_backward"] > 0
    for text, label in TRAIN:
        doc = nlp(text)
        assert (doc._.sentiment_polarity > 0) == (label == "POS")
        assert abs(sum(doc._.sentiment_tokens) + doc._.sentiment_base - doc._.sentiment_polarity) < 0.01


# ------------------------------------------------------------------ the mode is chosen once
def test_mode_is_picked_once_from_the_model(lexicon_path):
    from spacy_lm.pipeline.sentiment_scorer import _LexiconMode, _TrainedMode

    lexicon = lexicon_nlp(lexicon_path).get_pipe("sentiment_scorer")
    nlp = spacy.blank("en")
    trained = nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path))
    assert isinstance(lexicon._mode, _LexiconMode) and lexicon.kind == "lexicon"
    assert isinstance(trained._mode, _TrainedMode) and trained.kind == "neural"


def test_lexicon_mode_never_runs_trained_mode_code(lexicon_path, monkeypatch):
    """Every trained-mode hook raises: a lexicon pipeline predicts, explains, initializes,
    updates, evaluates and round-trips through bytes and disk without reaching one."""
    from spacy_lm.analysis.explain import explain_texts
    from spacy_lm.pipeline import sentiment_scorer as module

    def forbidden(*args, **kwargs):
        raise AssertionError("trained-mode code ran for a lexicon model")

    for name, value in vars(module._TrainedMode).items():
        if callable(value) and not name.startswith("__"):
            monkeypatch.setattr(module._TrainedMode, name, forbidden)
    for name in ("integrated_gradients", "logits_to_polarity"):
        monkeypatch.setattr(module, name, forbidden)
    nlp = lexicon_nlp(lexicon_path)
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    assert nlp.update(examples, sgd=Adam(0.01))["sentiment_scorer"] == 0.0
    pipe = nlp.get_pipe("sentiment_scorer")
    assert pipe.get_loss(examples, None) == (0.0, None)
    doc = explain_texts(nlp, ["I like it. I hate it."])[0]
    assert len(doc._.sentiment_tokens) == len(doc)
    assert "sentiment_score" in nlp.evaluate(examples)
    pipe.from_bytes(pipe.to_bytes())
    with make_tempdir() as d:
        nlp.to_disk(d)
        assert spacy.load(d)("great")._.sentiment_polarity == nlp("great")._.sentiment_polarity > 0


# ------------------------------------------------------------------ bad input gets a clear answer (#13)
def test_nan_weights_raise_e079_naming_the_component(lexicon_path):
    """A trained model with NaN weights: E079 at the doc, not a NaN polarity labelled neutral."""
    import numpy

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", name="my_sentiment", config=neural_config(lexicon_path, steps=0))
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    output = nlp.get_pipe("my_sentiment").model.get_ref("output_layer")
    output.set_param("W", numpy.full_like(output.get_param("W"), numpy.nan))
    with pytest.raises(ValueError, match=r"\[E079\] 'my_sentiment' computed sentiment logits that are not finite"):
        nlp("I like it")
    with pytest.raises(ValueError, match=r"\[E079\] 'my_sentiment'"):
        nlp.get_pipe("my_sentiment").explain([nlp.make_doc("I hate it")])
    assert nlp("")._.sentiment_polarity == 0.0  # nothing computed for an empty doc


def test_empty_training_corpus_raises_e003(lexicon_path):
    """Neither 'Cannot get dimension nI' from Thinc nor E016: the corpus is empty (or all empty docs)."""
    empty_doc = spacy.blank("en").make_doc("")
    for data in ([], [Example(empty_doc, empty_doc)]):  # a reader's generator, as `spacy train` passes
        nlp = spacy.blank("en")
        nlp.add_pipe("sentiment_scorer", config=neural_config(lexicon_path))
        with pytest.raises(ValueError, match=r"\[E003\] Cannot initialize 'sentiment_scorer': the training corpus"):
            nlp.initialize(lambda: iter(data))
    lexicon = lexicon_nlp(lexicon_path)
    lexicon.initialize(lambda: iter([]))  # nothing to learn: an empty corpus is fine for the lexicon


def test_default_lexicon_works_after_a_plain_install():
    """vaderSentiment is a dependency: the default zero-shot mode scores without extras."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer")
    assert nlp("a good film")._.sentiment_label == "positive"
    assert nlp("a bad film")._.sentiment_label == "negative"


def test_unreadable_lexicon_fails_at_add_pipe_not_at_the_first_doc(tmp_path, monkeypatch):
    import builtins

    bad = tmp_path / "bad.tsv"
    bad.write_text("good\tvery\n", encoding="utf-8")
    for name, config in (("lexicon", {"model": {"@architectures": "spacy_lm.LexiconSentiment.v1",
                                                "lexicon": str(bad)}}),
                         ("prior", neural_config(str(bad)))):
        with pytest.raises(ValueError, match=r"\[E015\] Cannot read the sentiment lexicon .*bad.tsv \(line 1\)"):
            spacy.blank("en").add_pipe("sentiment_scorer", name=name, config=config)
    # A TSV that is not there: initialize says so (a saved pipeline, though, carries its lexicon).
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config={"model": {"@architectures": "spacy_lm.LexiconSentiment.v1",
                                                       "lexicon": str(tmp_path / "absent.tsv")}})
    with pytest.raises(ValueError, match=r"\[E015\] .*absent.tsv .*no such file"):
        nlp.initialize()
    # No vaderSentiment: E014 at add_pipe.
    real_import = builtins.__import__

    def no_vader(name, *args, **kwargs):
        if name.startswith("vaderSentiment"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vader)
    with pytest.raises(ImportError, match=r"\[E014\] The VADER lexicon needs the package `vaderSentiment`"):
        spacy.blank("en").add_pipe("sentiment_scorer")


# ------------------------------------------------------------------ long docs, saved settings, drop (#30)
def trained_nlp(lexicon_path, **settings):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config={**neural_config(lexicon_path, steps=8), **settings})
    examples = examples_for(nlp, TRAIN, binary_cats)
    nlp.initialize(lambda: examples)
    train(nlp, examples, steps=5)
    return nlp


def test_max_attribution_tokens_skips_long_docs_and_says_so(lexicon_path):
    """Docs over max_attribution_tokens get no integrated gradients (their cost grows with
    length × steps); the doc says why; the polarity and shorter docs are unchanged."""
    nlp = trained_nlp(lexicon_path, max_attribution_tokens=4)
    pipe = nlp.get_pipe("sentiment_scorer")
    short, long = nlp("I hate it"), nlp("I like it a lot")
    assert len(short._.sentiment_tokens) == 3 and short._.sentiment_tokens_skipped is None
    assert long._.sentiment_tokens is None and long._.sentiment_base is None and long[0]._.sentiment_contribution is None
    assert long._.sentiment_tokens_skipped == "5 tokens > max_attribution_tokens = 4"
    assert pipe.explain([nlp.make_doc("I like it a lot")])[0]["tokens"] is None  # explain keeps the limit
    pipe.cfg["max_attribution_tokens"] = None  # no limit
    full = nlp("I like it a lot")
    assert full._.sentiment_polarity == long._.sentiment_polarity and len(full._.sentiment_tokens) == 5
    assert full._.sentiment_tokens_skipped is None
    pipe.cfg["attribution_steps"] = 0
    assert nlp("I hate it")._.sentiment_tokens_skipped == "attribution_steps is 0"
    assert nlp("")._.sentiment_tokens_skipped is None
    default = trained_nlp(lexicon_path)  # default limit (1000): the same tokens as without one
    assert default.get_pipe("sentiment_scorer").cfg["max_attribution_tokens"] == 1000
    assert default("I like it a lot")._.sentiment_tokens == full._.sentiment_tokens
    for bad in (0, -1):  # (spaCy's config validation refuses a float or a string first)
        with pytest.raises(ValueError, match=r"\[E009\] max_attribution_tokens must be an integer >= 1 or null"):
            spacy.blank("en").add_pipe("sentiment_scorer", config={"max_attribution_tokens": bad})


def edited_load(path, **edits):
    """spacy.load of a saved pipeline after editing [components.sentiment_scorer] in its config.cfg."""
    from thinc.api import Config

    config = Config().from_disk(path / "config.cfg")
    config["components"]["sentiment_scorer"].update(edits)
    config.to_disk(path / "config.cfg")
    return spacy.load(path)


def test_saved_pipeline_runs_with_the_edited_config(lexicon_path, tmp_path):
    """Runtime settings edited in a saved pipeline's config.cfg are used (and nlp.config says
    so); settings the weights fix (target, the labels) are E035 naming them."""
    nlp = trained_nlp(lexicon_path)
    nlp.to_disk(tmp_path / "p")
    loaded = edited_load(tmp_path / "p", neutral_threshold=0.99, attribution_steps=4, max_attribution_tokens=3,
                         label_values={"NEG": -0.5, "POS": 1.0})
    pipe = loaded.get_pipe("sentiment_scorer")
    assert (pipe.cfg["neutral_threshold"], pipe.cfg["attribution_steps"], pipe.cfg["max_attribution_tokens"]) == (
        0.99, 4, 3)
    assert pipe.label_values == {"NEG": -0.5, "POS": 1.0}
    assert loaded.config["components"]["sentiment_scorer"]["max_attribution_tokens"] == 3
    doc = loaded("I hate it")
    assert doc._.sentiment_label == "neutral" and len(doc._.sentiment_tokens) == 3
    probs = doc._.sentiment_probs
    assert doc._.sentiment_polarity == pytest.approx(-0.5 * probs["NEG"] + probs["POS"], abs=1e-6)
    assert doc._.sentiment_tokens != nlp("I hate it")._.sentiment_tokens  # 4 points, not 8
    assert loaded("I like it a lot")._.sentiment_tokens_skipped == "5 tokens > max_attribution_tokens = 3"
    off = edited_load(tmp_path / "p", attribution_steps=0)  # a saved pipeline turns attributions off
    assert off("I hate it")._.sentiment_tokens is None
    with pytest.raises(ValueError, match=r"\[E035\].*config.cfg says components.sentiment_scorer.target = \"real\""):
        edited_load(tmp_path / "p", target="real", label_values=None)
    with pytest.raises(ValueError, match=r"\[E035\].*components.sentiment_scorer.label_values has labels \['BAD'"):
        edited_load(tmp_path / "p", target="classes", label_values={"BAD": -1.0, "GOOD": 1.0})


@pytest.mark.parametrize("drop", [float("nan"), 1.0, -0.1, 1.5, "0.1"])
def test_update_rejects_a_bad_drop(lexicon_path, drop):
    """A dropout rate outside [0, 1) or NaN is one coded line (E231, as every component's), in either mode."""
    trained = trained_nlp(lexicon_path)
    examples = examples_for(trained, TRAIN, binary_cats)
    for nlp in (trained, lexicon_nlp(lexicon_path)):
        with pytest.raises(ValueError, match=r"\[E231\] 'sentiment_scorer': dropout must be a number in \[0, 1\)"):
            nlp.get_pipe("sentiment_scorer").update(examples, drop=drop)
