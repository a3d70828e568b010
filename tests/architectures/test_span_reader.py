"""`spacy_lm.SpanReader.v1`: its contract, finite-difference gradients of the reader's parameters
and embedding (through the recurrent stacks, the aligned attention, the pooling and the bilinear
scores), padding that does not change a row's scores, frozen LM features and bad settings."""
import numpy
import pytest
from thinc.api import fix_random_seed

from spacy_lm.architectures.span_reader import build_lm_features, build_span_reader
from spacy_lm.types import ReaderBatch, SpanReaderModel
from tests.gradcheck import assert_grads_close, numeric_grad, to_float64


def make_batch(rng, B=3, Tq=4, Tc=7, nV=11, lm=False):
    q_lengths = numpy.asarray([4, 2, 3][:B], dtype="int32")
    c_lengths = numpy.asarray([7, 6, 4][:B], dtype="int32")
    ids = lambda T: rng.integers(0, nV, size=(T, B)).astype("int32")  # noqa: E731
    return ReaderBatch(ids(Tq), q_lengths, ids(Tc), c_lengths, rng.random((Tc, B, 3)).astype("float32"),
                       ids(Tq) if lm else None, ids(Tc) if lm else None)


def make_reader(lm=False, cell="lstm"):
    fix_random_seed(0)
    lm_features = build_lm_features(width=3, depth=1, embed_size=4) if lm else None
    model = build_span_reader(width=3, depth=2, embed_size=5, cell=cell, dropout=0.0, lm_features=lm_features)
    model.set_dim("nV", 11)
    if lm:
        model.get_ref("lm_features").set_dim("nV", 11)
    model.initialize()
    rng = numpy.random.default_rng(0)
    model.set_param("w_question", rng.normal(size=6).astype("float32"))  # not the zero init: test its path
    return model


def test_the_reader_implements_its_contract():
    assert isinstance(make_reader(), SpanReaderModel)
    assert build_lm_features(enabled=False) is None


@pytest.mark.parametrize("cell,lm", [("lstm", False), ("gru", False), ("lstm", True)])
def test_reader_and_embedding_gradients_match_finite_differences(cell, lm):
    model = make_reader(lm=lm, cell=cell)
    to_float64(model)
    rng = numpy.random.default_rng(1)
    batch = make_batch(rng, lm=lm)
    batch = batch._replace(context_features=batch.context_features.astype("float64"))
    mask = numpy.arange(7)[None, :] < batch.context_lengths[:, None]
    weights = rng.normal(size=(2, 3, 7)) * mask

    def objective(backward=False):
        (start, end), backprop = model.span_logits(batch, True)
        if backward:
            backprop((weights[0], weights[1]))
        return float((start * weights[0]).sum() + (end * weights[1]).sum())

    # The reader's own parameters and the embedding: their gradients pass through both recurrent
    # stacks' input gradients, the attention and the pooling (the cells' own weights are checked in
    # tests/layers/test_lstm.py and test_gru.py).
    objective(backward=True)
    nodes = [model, model.get_ref("embedding")]
    checked = 0
    for node in nodes:
        for name in node.param_names:
            analytic = numpy.array(node.get_grad(name))
            assert_grads_close(analytic, numeric_grad(objective, node.get_param(name)), rtol=1e-4, atol=1e-6)
            checked += 1
    assert checked == 6
    cell = model.get_ref("context_rnn")
    assert any(numpy.asarray(cell.get_grad(n)).any() for n in cell.param_names if cell.has_grad(n))
    if lm:  # frozen: no gradient reaches the LM features
        for node in model.get_ref("lm_features").walk():
            for name in node.param_names:
                assert not node.has_grad(name) or not numpy.asarray(node.get_grad(name)).any()


def test_padding_does_not_change_a_rows_scores():
    model = make_reader()
    rng = numpy.random.default_rng(2)
    batch = make_batch(rng)
    (start, end), _ = model.span_logits(batch, False)
    one = ReaderBatch(batch.question_ids[:2, 1:2], batch.question_lengths[1:2], batch.context_ids[:6, 1:2],
                      batch.context_lengths[1:2], batch.context_features[:6, 1:2])
    (start1, end1), _ = model.span_logits(one, False)
    numpy.testing.assert_allclose(start[1, :6], start1[0], rtol=1e-5, atol=1e-5)
    numpy.testing.assert_allclose(end[1, :6], end1[0], rtol=1e-5, atol=1e-5)
    assert (start[2, 4:] < -1e8).all() and (end[2, 4:] < -1e8).all()


@pytest.mark.parametrize("setting,value", [("width", 0), ("depth", 0), ("embed_size", -1), ("dropout", 1.0),
                                           ("cell", "rnn")])
def test_bad_settings_are_clear_errors(setting, value):
    with pytest.raises(ValueError, match="E009"):
        build_span_reader(**{setting: value})
