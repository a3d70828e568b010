"""Integrated gradients (spacy_lm/explain.py) and the gradients they rest on."""
import numpy
import pytest

from spacy_lm.architectures.sentiment_lstm import forward_from_inputs, lexicon_valences, logits_to_polarity
from spacy_lm.explain import explain_texts, integrated_gradients
from spacy_lm.pipeline_lookup import find_sentiment_component

from .gradcheck import numeric_grad
from .sentiment_fixtures import trained_sentiment_nlp, write_lexicon


@pytest.fixture(scope="module")
def nlp(tmp_path_factory):
    return trained_sentiment_nlp(write_lexicon(tmp_path_factory.mktemp("lex") / "lex.tsv"))


def polarity_and_grads(model, Xs, valences, values):
    logits, backprop = forward_from_inputs(model, Xs, valences, True)
    polarity, _, bp_pol = logits_to_polarity(model.ops, logits, values)
    dXs, dV = backprop(bp_pol(model.ops.xp.ones_like(polarity)))
    return polarity, dXs, dV


def test_polarity_gradient_matches_finite_differences(tmp_path):
    """d polarity / d inputs (tok2vec rows and lexicon valences) against central differences,
    float64, dropout off: the gradient integrated gradients integrate."""
    from spacy_lm.explain import _inference_with_backprop

    from .gradcheck import to_float64

    from thinc.api import Ops

    nlp = trained_sentiment_nlp(write_lexicon(tmp_path / "lex.tsv"), steps=5)
    model = nlp.get_pipe("sentiment_scorer").model
    docs = [nlp.make_doc("I like it but awful")]
    X = model.get_ref("tok2vec").predict(docs)[0].astype("float64")
    V = numpy.asarray(lexicon_valences(model, docs)[0], dtype="float64")
    for node in model.walk():  # generic Ops: BLIS gemm (NumpyOps) is float32-only
        node.ops = Ops()
    to_float64(model)
    values = model.ops.asarray([-1.0, 1.0], dtype="float64")
    with _inference_with_backprop(model):
        _, dXs, dV = polarity_and_grads(model, [X], [V], values)

        def f():
            logits, _ = forward_from_inputs(model, [X], [V], True)
            return float(logits_to_polarity(model.ops, logits, values)[0][0])

        numpy.testing.assert_allclose(dXs[0], numeric_grad(f, X), rtol=1e-4, atol=1e-7)
        numpy.testing.assert_allclose(dV[0], numeric_grad(f, V), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("steps,max_steps,tolerance", [(8, 8, 0.05), (64, 64, 0.005), (2, 512, 0.002)])
def test_completeness(nlp, steps, max_steps, tolerance):
    """Σ attributions = F(x) - F(0) up to the midpoint rule's error: one pass of 8 or 64 points
    (max_steps = steps), or 2 points refined 4× at a time until the gap is under ``tolerance``."""
    pipe = nlp.get_pipe("sentiment_scorer")
    docs = [nlp.make_doc(t) for t in ("I like it a lot", "awful and boring film", "great but I hate it", "x")]
    results = integrated_gradients(pipe.model, docs, pipe._values_array(), steps=steps, tolerance=tolerance,
                                   max_steps=max_steps)
    for doc, (attr, base, score) in zip(docs, results):
        assert len(attr) == len(doc)
        assert abs(sum(attr) - (score - base)) < tolerance
    assert any(abs(a) > 1e-3 for a in results[0][0])
    with pytest.raises(ValueError):
        integrated_gradients(pipe.model, docs, pipe._values_array(), steps=0)


def test_explain_texts_forces_attributions(nlp):
    pipe = nlp.get_pipe("sentiment_scorer")
    pipe.cfg["attribution_steps"] = 0
    try:
        assert nlp("I like it")._.sentiment_tokens is None
        doc = explain_texts(nlp, ["I like it. I hate it."], steps=16)[0]
        assert len(doc._.sentiment_tokens) == len(doc)
        assert len(doc._.sentiment_sentences) == 2  # the sentencizer before it ran
    finally:
        pipe.cfg["attribution_steps"] = 16
    assert find_sentiment_component(nlp) == "sentiment_scorer"
    with pytest.raises(ValueError, match="no sentiment_scorer"):
        find_sentiment_component(type(nlp)())
