"""lstm_lm as an encoder: textcat reading its hidden states through spacy_lm.LSTMLMListener.v1."""
import numpy
import pytest
import spacy
from spacy.training import Example
from spacy.util import make_tempdir
from thinc.api import Adam, fix_random_seed

from spacy_lm.architectures.listener import LSTMLMListener

LM_CONFIG = {"model": {"width": 16, "depth": 1, "dropout": 0.0}, "max_length": 3}
TRAIN = [
    ("I like it a lot", {"POS": 1.0, "NEG": 0.0}),
    ("I hate it  ", {"POS": 0.0, "NEG": 1.0}),
    ("good good", {"POS": 1.0, "NEG": 0.0}),
    ("bad  stuff", {"POS": 0.0, "NEG": 1.0}),
]
TRAIN_MULTI = [
    ("I like it a lot", {"POS": 1.0, "FUNNY": 1.0}),
    ("I hate it  ", {"POS": 0.0, "FUNNY": 0.0}),
    ("good good", {"POS": 1.0, "FUNNY": 0.0}),
    ("bad  stuff", {"POS": 0.0, "FUNNY": 1.0}),
]


def textcat_config(exclusive=True, depth=1):
    return {"model": {"@architectures": "spacy_lm.TextCatLSTM.v1", "width": 8, "depth": depth, "dropout": 0.0,
                      "exclusive_classes": exclusive,
                      "tok2vec": {"@architectures": "spacy_lm.LSTMLMListener.v1", "width": 16}},
            "scorer": {"@scorers": "spacy_lm.textcat_scorer.v1"}}


def build(factory="textcat", data=TRAIN, exclusive=True, depth=1):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_lm", config=LM_CONFIG)
    nlp.add_pipe(factory, config=textcat_config(exclusive, depth))
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in data]
    nlp.initialize(lambda: examples)
    return nlp, examples


def lm_params(nlp):
    model = nlp.get_pipe("lstm_lm").model
    return {(node.id, name): node.ops.to_numpy(node.get_param(name)).copy()
            for node in model.walk() for name in node.param_names}


def test_initialize_wires_the_listener():
    nlp, _ = build()
    lm = nlp.get_pipe("lstm_lm")
    assert lm.listening_components == ["textcat"]
    (listener,) = lm.listeners
    assert isinstance(listener, LSTMLMListener) and listener.upstream_name == "lstm_lm"


def test_listener_rows_match_encode_docs():
    nlp, _ = build()
    lm = nlp.get_pipe("lstm_lm")
    docs = [nlp.make_doc(t) for t, _ in TRAIN] + [nlp.make_doc(" ")]
    lm.predict(docs)
    (listener,) = lm.listeners
    rows, _ = listener(docs, is_train=False)
    direct = lm.encode_docs(docs)
    for doc, r, d in zip(docs, rows, direct):
        assert r.shape == (len(doc), 16)
        numpy.testing.assert_allclose(r, d, rtol=1e-5, atol=1e-6)
        for token in doc:  # whitespace tokens (skipped by the LM) get zero rows
            assert bool(r[token.i].any()) != token.is_space


@pytest.mark.parametrize("factory,data,exclusive", [("textcat", TRAIN, True),
                                                    ("textcat_multilabel", TRAIN_MULTI, False)])
def test_overfitting_IO_joint(factory, data, exclusive):
    nlp, examples = build(factory, data, exclusive)
    optimizer = Adam(0.02)
    before = lm_params(nlp)
    for _ in range(40):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
    assert losses[factory] < 0.02 and losses["lstm_lm"] > 0
    assert any(not numpy.array_equal(v, lm_params(nlp)[k]) for k, v in before.items())
    texts = [t for t, _ in data]
    for text, cats in data:
        for label, value in cats.items():
            assert abs(nlp(text).cats[label] - value) < 0.3
    with make_tempdir() as d:
        nlp.to_disk(d)
        nlp2 = spacy.load(d)
        assert nlp2.get_pipe("lstm_lm").listening_components == [factory]
        for text in texts:
            assert nlp2(text).cats == nlp(text).cats
    for piped, text in zip(nlp.pipe(texts), texts):
        assert piped.cats == pytest.approx(nlp(text).cats, abs=1e-5)
    scores = nlp.evaluate(examples)
    for key in ("cats_score", "cats_accuracy", "cats_confusion_matrix", "cats_ece", "lm_perplexity"):
        assert key in scores


def test_listener_gradient_reaches_lm_when_not_frozen():
    nlp, examples = build()
    lm = nlp.get_pipe("lstm_lm")
    textcat = nlp.get_pipe("textcat")
    received = []
    losses = {}
    nlp.update(examples, sgd=Adam(0.02))  # the output layer starts at W = 0: no input gradient yet
    lm.update(examples, losses=losses)
    (listener,) = lm.listeners
    original = listener._backprop

    def spy(d_rows):
        received.append(d_rows)
        return original(d_rows)

    listener._backprop = spy
    textcat.update(examples, losses=losses)
    assert received and any(float(abs(d).sum()) > 0 for d in received[0])
    emb = lm.model.get_ref("embedding")
    assert any(float(abs(emb.get_grad(n)).sum()) > 0 for n in emb.param_names if emb.has_grad(n))


def test_frozen_lm_gets_no_gradient():
    nlp, examples = build()
    before = lm_params(nlp)
    optimizer = Adam(0.02)
    lm = nlp.get_pipe("lstm_lm")
    for _ in range(3):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses, exclude=["lstm_lm"], annotates=["lstm_lm"])
    assert "lstm_lm" not in losses and losses["textcat"] > 0
    after = lm_params(nlp)
    assert all(numpy.array_equal(v, after[k]) for k, v in before.items())
    for node in lm.model.walk():
        for name in node.param_names:
            assert not node.has_grad(name) or not node.get_grad(name).any()


def test_frozen_but_not_annotating_is_a_clear_error():
    nlp, examples = build()
    with pytest.raises(ValueError, match="annotating_components"):
        nlp.update(examples, exclude=["lstm_lm"])


def test_empty_docs_get_defined_predictions():
    nlp, examples = build(depth=0)
    docs = list(nlp.pipe(["", "  ", "I like it"]))
    for doc in docs:
        assert set(doc.cats) == {"POS", "NEG"}
        assert all(numpy.isfinite(v) for v in doc.cats.values())
    losses = {}
    nlp.update(examples + [Example.from_dict(nlp.make_doc("  "), {"cats": {"POS": 1.0, "NEG": 0.0}})],
               losses=losses)
    assert numpy.isfinite(losses["textcat"])


def test_unknown_gold_label_in_scorer_is_an_error():
    nlp, examples = build()
    bad = [Example.from_dict(nlp.make_doc("I like it"), {"cats": {"POS": 1.0, "NEG": 0.0, "MEH": 0.0}})]
    with pytest.raises(ValueError, match="MEH"):
        nlp.evaluate(bad)


def test_listener_update_computes_the_plain_lm_loss():
    """With listeners, update takes another code path; its LM loss equals the plain one's."""
    nlp, _ = build()
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t, _ in TRAIN]
    plain = spacy.blank("en")
    plain.add_pipe("lstm_lm", config=LM_CONFIG)
    plain.initialize(lambda: examples)
    plain.get_pipe("lstm_lm").from_bytes(nlp.get_pipe("lstm_lm").to_bytes())
    a = plain.get_pipe("lstm_lm").update(examples)["lstm_lm"]
    b = nlp.get_pipe("lstm_lm").update(examples)["lstm_lm"]
    assert a == pytest.approx(b, rel=1e-6)


def test_freezing_the_listening_component_does_not_stop_the_lm_learning():
    """textcat frozen, lstm_lm trained: the listener never sends a gradient, and the LM still
    learns from its own loss in every step."""
    nlp, examples = build()
    before_lm = lm_params(nlp)
    textcat = nlp.get_pipe("textcat")
    before_textcat = textcat.model.to_bytes()
    optimizer = Adam(0.02)
    history = []
    for _ in range(15):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses, exclude=["textcat"])
        history.append(losses["lstm_lm"])
    assert "textcat" not in losses
    assert history[-1] < 0.8 * history[0]
    after = lm_params(nlp)
    assert any(not numpy.array_equal(v, after[k]) for k, v in before_lm.items())
    assert textcat.model.to_bytes() == before_textcat


def test_listener_reads_states_stored_on_docs_when_batches_differ():
    """As spaCy's Tok2VecListener reads doc.tensor: a downstream component that batches
    differently still gets the upstream's states, with no reference to the upstream."""
    nlp, _ = build()
    texts = [t for t, _ in TRAIN]
    reference = [nlp(t).cats for t in texts]
    docs = list(nlp.pipe(texts, component_cfg={"textcat": {"batch_size": 3}, "lstm_lm": {"batch_size": 2}}))
    for doc, cats in zip(docs, reference):
        assert doc.cats == pytest.approx(cats, abs=1e-5)
    (listener,) = nlp.get_pipe("lstm_lm").listeners
    assert not any(isinstance(getattr(listener, a, None), type(nlp.get_pipe("lstm_lm")))
                   for a in dir(listener) if not a.startswith("__"))
