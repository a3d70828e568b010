"""textcat reading a forward and a backward lstm_lm together (spacy_lm.BiLMListener.v1)."""
import numpy
import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam, NumpyOps, fix_random_seed

from spacy_lm.architectures.listener import LSTMLMListener, build_bilm_listener

LM = {"model": {"width": 8, "depth": 1, "dropout": 0.0}, "max_length": 3}
TRAIN = [
    ("I like it a lot", {"POS": 1.0, "NEG": 0.0}),
    ("I hate it", {"POS": 0.0, "NEG": 1.0}),
    ("good good", {"POS": 1.0, "NEG": 0.0}),
    ("bad  stuff", {"POS": 0.0, "NEG": 1.0}),
]


def build(combine="concat"):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_lm", config=LM)
    nlp.add_pipe("lstm_lm", name="lstm_lm_backward", config={**LM, "direction": "backward"})
    nlp.add_pipe("textcat", config={
        "model": {"@architectures": "spacy_lm.TextCatLSTM.v2", "width": 8, "depth": 1, "dropout": 0.0,
                  "tok2vec": {"@architectures": "spacy_lm.BiLMListener.v1", "width": 8, "combine": combine}}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN]
    nlp.initialize(lambda: examples)
    return nlp, examples


def test_both_lms_feed_the_listener_and_rows_are_their_states():
    nlp, _ = build()
    forward, backward = nlp.get_pipe("lstm_lm"), nlp.get_pipe("lstm_lm_backward")
    assert forward.listening_components == backward.listening_components == ["textcat"]
    bilm = nlp.get_pipe("textcat").model.get_ref("tok2vec")
    assert bilm.get_dim("nO") == 16
    docs = [nlp.make_doc(t) for t, _ in TRAIN]
    forward.predict(docs)
    backward.predict(docs)
    rows, _ = bilm(docs, is_train=False)
    for r, f, b in zip(rows, forward.encode_docs(docs), backward.encode_docs(docs)):
        numpy.testing.assert_allclose(r, numpy.hstack([f, b]), rtol=1e-5, atol=1e-6)
    # the backward half of the first token has read the whole doc: it differs from the forward half
    assert not numpy.allclose(rows[0][0, :8], rows[0][0, 8:])


@pytest.mark.parametrize("combine", ["concat", "mix"])
def test_overfitting_IO_and_save_load(combine, tmp_path):
    nlp, examples = build(combine)
    optimizer = Adam(0.02)
    for _ in range(40):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
    assert losses["textcat"] < 0.05
    texts = [t for t, _ in TRAIN]
    cats = [nlp(t).cats for t in texts]
    assert cats[0]["POS"] > 0.9 and cats[1]["NEG"] > 0.9
    for doc, expected in zip(nlp.pipe(texts, batch_size=3), cats):
        assert doc.cats == pytest.approx(expected)
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(tmp_path / "m")
    for text, expected in zip(texts, cats):
        assert loaded(text).cats == pytest.approx(expected, abs=1e-6)


class Upstream:
    """A fake LM: hands fixed rows to a listener and records the gradient sent back."""

    def __init__(self, rows):
        self.rows, self.grads = rows, None

    def feed(self, listener, docs):
        def backprop(d_rows):
            self.grads = d_rows
            return []

        listener.receive(LSTMLMListener.get_batch_id(docs), self.rows, backprop)


@pytest.mark.parametrize("combine", ["concat", "mix"])
def test_gradients_match_finite_differences(combine):
    nlp = spacy.blank("en")
    docs = [nlp.make_doc("a b c"), nlp.make_doc("d e")]
    rng = numpy.random.default_rng(0)
    model = build_bilm_listener(3, combine=combine)
    model.initialize()
    if combine == "mix":
        model.set_param("mix", numpy.asarray([0.3, -0.2], dtype="f"))
        model.set_param("gamma", numpy.asarray([1.5], dtype="f"))
    fwd = Upstream([rng.normal(size=(len(d), 3)).astype("f") for d in docs])
    bwd = Upstream([rng.normal(size=(len(d), 3)).astype("f") for d in docs])
    weights = [rng.normal(size=(len(d), model.get_dim("nO"))).astype("f") for d in docs]

    def loss():
        fwd.feed(model.layers[0], docs)
        bwd.feed(model.layers[1], docs)
        out, backprop = model(docs, is_train=True)
        return float(sum((w.astype("float64") * o).sum() for w, o in zip(weights, out))), backprop

    value, backprop = loss()
    backprop(weights)
    eps = 1e-2
    for upstream in (fwd, bwd):
        for i, rows in enumerate(upstream.rows):
            analytic = upstream.grads[i].copy()
            rows[0, 1] += eps
            up, _ = loss()
            rows[0, 1] -= 2 * eps
            down, _ = loss()
            rows[0, 1] += eps
            assert analytic[0, 1] == pytest.approx((up - down) / (2 * eps), rel=1e-3, abs=1e-3)
    if combine == "mix":
        for name in ("mix", "gamma"):
            model.set_grad(name, model.ops.alloc1f(len(model.get_param(name))))
            _, backprop = loss()
            backprop(weights)
            analytic = model.get_grad(name).copy()
            param = model.get_param(name)
            for k in range(len(param)):
                param[k] += eps
                up, _ = loss()
                param[k] -= 2 * eps
                down, _ = loss()
                param[k] += eps
                assert analytic[k] == pytest.approx((up - down) / (2 * eps), rel=1e-3, abs=1e-3)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="E293"):
        build_bilm_listener(8, forward="lm", backward="lm")
    with pytest.raises(ValueError, match="combine"):
        build_bilm_listener(8, combine="sum")
