"""Integrated gradients (spacy_lm/analysis/explain.py) and the gradients they rest on."""
import numpy
import pytest

from spacy_lm.architectures.sentiment_lstm import forward_from_inputs, lexicon_valences, logits_to_polarity
from spacy_lm.analysis.explain import explain_texts, integrated_gradients
from spacy_lm.pipeline_lookup import find_sentiment_component

from ..gradcheck import numeric_grad
from ..sentiment_fixtures import trained_sentiment_nlp, write_lexicon


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
    from spacy_lm.analysis.explain import _inference_with_backprop

    from ..gradcheck import to_float64

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


# ---------------------------------------------------------------------------- textcat (TextCatLSTM)
def trained_textcat(factory="textcat", linear=True, version=2, steps=30):
    from thinc.api import Adam

    from ..architectures.test_textcat_lstm import TRAIN, TRAIN_MULTI, build_nlp

    data = TRAIN if factory == "textcat" else TRAIN_MULTI
    nlp, examples = build_nlp(factory, data, "concat" if version == 2 else "mean_max", factory == "textcat",
                              linear, version)
    optimizer = Adam(0.02)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp


TEXTCAT_TEXTS = ["I like it a lot", "I hate it", "what a great film", "awful and boring", "great", "boring film ."]


@pytest.mark.parametrize("factory,linear,version", [("textcat", False, 1), ("textcat", True, 2),
                                                    ("textcat_multilabel", True, 2), ("textcat_multilabel", True, 1)])
def test_textcat_completeness_and_scores(factory, linear, version):
    """Per label: the score is the component's own cats, the attributions sum to score − base
    (gap under the refinement tolerance), one per token; with the n-gram model as well."""
    from spacy_lm.analysis.explain import explain_textcat

    nlp = trained_textcat(factory, linear, version)
    items = explain_textcat(nlp, TEXTCAT_TEXTS, steps=8)
    labels = list(nlp.get_pipe(factory).labels)
    assert len(items) == len(TEXTCAT_TEXTS)
    for item in items:
        doc = nlp(item["text"])
        assert item["tokens"] == [t.text for t in doc] and item["multi_label"] is (factory != "textcat")
        assert list(item["labels"]) == labels
        for label, row in item["labels"].items():
            assert row["score"] == pytest.approx(doc.cats[label], abs=1e-5)
            assert len(row["attributions"]) == len(doc)
            assert row["gap"] == pytest.approx(abs(sum(row["attributions"]) - (row["score"] - row["base"])), abs=1e-6)
            assert row["gap"] < 0.01
    if factory == "textcat":  # exclusive: the two labels' attributions are opposite
        for item in items:
            pos, neg = item["labels"]["POS"]["attributions"], item["labels"]["NEG"]["attributions"]
            numpy.testing.assert_allclose(pos, [-v for v in neg], atol=2e-3)
    assert max(abs(a) for item in items for row in item["labels"].values() for a in row["attributions"]) > 0.05


def test_textcat_gradient_matches_finite_differences():
    """d P(label) / d tok2vec rows through Thinc's Softmax layer (whose own backprop is the
    cross-entropy shortcut): the Jacobian IG integrates, against central differences."""
    from thinc.api import Ops

    from spacy_lm.analysis.explain import _inference_with_backprop, _TextcatNetwork

    from ..gradcheck import to_float64

    nlp = trained_textcat("textcat", linear=False, version=1, steps=10)
    model = nlp.get_pipe("textcat").model
    X = model.get_ref("tok2vec").predict([nlp.make_doc("I like it a lot")])[0].astype("float64")
    for node in model.walk():
        node.ops = Ops()
    to_float64(model)
    network = _TextcatNetwork(model)
    with _inference_with_backprop(model):
        F, backprop = network.forward([X], None)
        dF = numpy.zeros_like(F)
        dF[0, 1] = 1.0
        dXs, _ = backprop(dF)
        numpy.testing.assert_allclose(dXs[0], numeric_grad(lambda: float(network.forward([X], None)[0][0, 1]), X),
                                      rtol=1e-4, atol=1e-8)


def test_ngram_contributions_add_up_to_the_linear_model():
    from spacy_lm.analysis.explain import _ngram_contributions, _TextcatNetwork

    nlp = trained_textcat("textcat", linear=True, version=2)
    model = nlp.get_pipe("textcat").model
    linear = _TextcatNetwork(model).linear
    docs = [nlp.make_doc(t) for t in TEXTCAT_TEXTS + ["", "a"]]
    bias, contributions, maps = _ngram_contributions(linear, docs, model.ops)
    summed = numpy.stack([bias + c.sum(axis=0) for c in contributions])
    numpy.testing.assert_allclose(summed[:-2], linear.predict(docs[:-2]), atol=1e-5)
    assert abs(summed[:-2] - bias).max() > 1e-3  # the weights are not all zero
    for doc, c, m in zip(docs, contributions, maps):
        n = len(doc)
        assert c.shape[0] == n + max(n - 1, 0) and m.shape == (n, c.shape[0])  # unigrams + bigrams
        numpy.testing.assert_allclose(m.sum(axis=0), 1.0)  # each n-gram's weight is spread whole


def test_explain_textcat_errors():
    import spacy

    from spacy_lm.analysis.explain import explain_textcat

    nlp = trained_textcat("textcat", linear=False, version=1, steps=1)
    with pytest.raises(ValueError, match=r"Unknown label\(s\) \['FUNNY'\]"):
        explain_textcat(nlp, ["good"], labels=["FUNNY"])
    with pytest.raises(ValueError, match="no textcat component"):
        explain_textcat(spacy.blank("en"), ["good"])
    with pytest.raises(ValueError, match="steps >= 1"):
        explain_textcat(nlp, ["good"], steps=0)
    with pytest.raises(ValueError, match=r"Text 1 is empty"):
        explain_textcat(nlp, ["good", "", "bad"])
    bow = spacy.blank("en")
    bow.add_pipe("textcat").add_label("POS")
    bow.get_pipe("textcat").add_label("NEG")
    bow.initialize()
    with pytest.raises(ValueError, match="TextCatLSTM.v1, .v2 or .v3"):
        explain_textcat(bow, ["good"])
    assert explain_textcat(nlp, ["good film"], labels=["NEG"])[0]["labels"].keys() == {"NEG"}


def _nan_param(model, name: str) -> None:
    """Set the first parameter called ``name`` in ``model`` to NaN (a diverged or damaged model)."""
    node = next(node for node in model.walk() if name in node.param_names and node.has_param(name))
    node.set_param(name, numpy.full_like(node.get_param(name), numpy.nan))


@pytest.mark.parametrize("linear,version", [(False, 1), (True, 2)])
def test_explain_textcat_nan_weights_raise_e079(linear, version):
    """NaN weights: E079 naming the component (as nlp() raises), not NaN scores and attributions."""
    from spacy_lm.analysis.explain import explain_textcat, textcat_integrated_gradients

    nlp = trained_textcat("textcat", linear=linear, version=version, steps=2)
    model = nlp.get_pipe("textcat").model
    _nan_param(model, "W")
    with pytest.raises(ValueError, match=r"\[E079\]"):
        nlp("good film")
    with pytest.raises(ValueError, match=r"\[E079\] 'textcat' computed cats or token attributions that are not"):
        explain_textcat(nlp, ["good film", "boring"], steps=4)
    with pytest.raises(ValueError, match=r"\[E079\] 'spacy_lm.TextCatLSTM"):
        textcat_integrated_gradients(model, [nlp.make_doc("good")], steps=4)


def test_sentiment_explain_nan_weights_raise_e079(tmp_path):
    """The sentiment explain path (explain_texts, integrated_gradients) with a NaN embedding table."""
    nlp = trained_sentiment_nlp(write_lexicon(tmp_path / "lex.tsv"), steps=2)
    pipe = nlp.get_pipe("sentiment_scorer")
    _nan_param(pipe.model, "E")
    with pytest.raises(ValueError, match=r"\[E079\] 'sentiment_scorer'"):
        explain_texts(nlp, ["I like it"], steps=4)
    docs = [nlp.make_doc("I like it")]
    with pytest.raises(ValueError, match=r"\[E079\] 'my_name' computed sentiment polarities or token attributions"):
        integrated_gradients(pipe.model, docs, pipe._values_array(), steps=4, name="my_name")


def _attributions(results):
    """Flatten per-doc (targets of) attributions, baselines and scores into one array."""
    rows = [r for doc in results for r in (doc if isinstance(doc, list) else [doc])]
    return numpy.asarray([v for attr, base, score in rows for v in (*attr, base, score)], dtype="f8")


@pytest.mark.parametrize("which", ["sentiment", "textcat"])
def test_chunked_points_give_the_unchunked_attributions(nlp, monkeypatch, which):
    """A doc whose points do not fit in ROWS_PER_CHUNK token rows runs them in several chunks
    (a few points each): the same attributions, baselines and scores (1e-6), refinement included."""
    import spacy_lm.analysis.explain as explain

    texts = ["I like it a lot but awful and boring", "great", "what a great film , I hate it"]
    if which == "sentiment":
        pipe = nlp.get_pipe("sentiment_scorer")
        docs = [nlp.make_doc(t) for t in texts]

        def run():
            return explain.integrated_gradients(pipe.model, docs, pipe._values_array(), steps=8, tolerance=1e-4,
                                                max_steps=32)
    else:
        textcat = trained_textcat("textcat", linear=True, version=2, steps=5)
        docs = [textcat.make_doc(t) for t in texts]

        def run():
            return explain.textcat_integrated_gradients(textcat.get_pipe("textcat").model, docs, steps=8,
                                                        tolerance=1e-4, max_steps=32)
    whole = run()
    monkeypatch.setattr(explain, "ROWS_PER_CHUNK", 20)  # 9 tokens × 3 points per chunk
    chunked = run()
    numpy.testing.assert_allclose(_attributions(chunked), _attributions(whole), rtol=0, atol=1e-6)
    assert any(abs(v) > 1e-3 for v in _attributions(whole))


def test_memory_is_bounded_by_rows_per_chunk(monkeypatch):
    """No forward pass gets more than ROWS_PER_CHUNK token rows (at least one point of a doc),
    whatever the steps: peak memory grows with a doc's length, not with length × steps."""
    from thinc.api import Linear

    import spacy_lm.analysis.explain as explain

    monkeypatch.setattr(explain, "ROWS_PER_CHUNK", 50)
    seen = []
    inner = _steep_turn(0.5, sharpness=4.0)

    def forward(Xi, Ei):
        seen.append(sum(x.shape[0] for x in Xi))
        return inner(Xi, Ei)

    docs = [numpy.ones((n, 2), dtype="f") for n in (30, 3, 4, 120)]
    results = explain._integrate(Linear(1, 1), forward, docs, None, None, n_targets=1, steps=16, tolerance=0.0,
                                 max_steps=64)
    assert max(seen) <= 120 and sorted(set(seen))[-2] <= 50  # the 120-token doc alone, one point a pass
    assert seen.count(120) >= 16 + 2  # each of its points (and the baseline and input) once
    for attr, base, score in (targets[0] for targets in results):
        assert abs(sum(attr) - (score - base)) < 1e-3


def _steep_turn(centre: float, sharpness: float = 4000.0):
    """F(α·x) = σ(sharpness · (α − centre)) for x of ones (6 entries): a turn 1/4000 of the path wide."""
    def forward(Xi, Ei):
        alpha = numpy.asarray([x.sum() / 6.0 for x in Xi], dtype="f8")
        F = 1.0 / (1.0 + numpy.exp(numpy.clip(-sharpness * (alpha - centre), -50, 50)))

        def backprop(dF):
            grads = dF[:, 0] * sharpness * F * (1.0 - F) / 6.0
            return [numpy.full(x.shape, g, dtype="f") for x, g in zip(Xi, grads)], None

        return F.reshape(-1, 1).astype("f"), backprop

    return forward


@pytest.mark.parametrize("centre", [0.3137, 0.71])
def test_refinement_puts_points_where_the_path_turns(centre):
    """512 even points step over (or land on) a turn narrower than their spacing; refining from
    32 points by where F changed most closes the gap with the same 512 points at most."""
    from thinc.api import Linear

    from spacy_lm.analysis.explain import _integrate, completeness_gap

    X = numpy.ones((3, 2), dtype="f")
    even = _integrate(Linear(1, 1), _steep_turn(centre), [X], None, None, n_targets=1, steps=512,
                      tolerance=0.0, max_steps=512)
    guided = _integrate(Linear(1, 1), _steep_turn(centre), [X], None, None, n_targets=1, steps=32,
                        tolerance=0.001, max_steps=512)
    assert completeness_gap(even[0]) > 0.3
    assert completeness_gap(guided[0]) < 0.001
    assert guided[0][0][2] - guided[0][0][1] == pytest.approx(1.0, abs=1e-4)


def test_textcat_reading_an_lstm_lm_through_the_listener():
    """LM transfer: the attributions' inputs are the LM's states; the scores are the pipeline's."""
    from thinc.api import Adam

    from spacy_lm.analysis.explain import explain_textcat

    from ..pipeline.test_lstm_lm_listener import build

    nlp, examples = build()
    optimizer = Adam(0.02)
    for _ in range(15):
        nlp.update(examples, sgd=optimizer)
    texts = ["I like it a lot", "bad  stuff", "good"]
    for item, doc in zip(explain_textcat(nlp, texts, steps=8), nlp.pipe(texts)):
        assert len(item["labels"]["POS"]["attributions"]) == len(doc)
        for label, row in item["labels"].items():
            assert row["score"] == pytest.approx(doc.cats[label], abs=1e-5) and row["gap"] < 0.01
