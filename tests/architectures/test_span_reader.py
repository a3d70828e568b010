"""`spacy_lm.SpanReader.v1`: its contract, finite-difference gradients of the reader's parameters
and embedding (through the recurrent stacks, the aligned attention, the pooling and the bilinear
scores), padding that does not change a row's scores, frozen LM features (v1, and v2's forward and
backward encoders: v2 reads <eos> first, its backward half reads each row's real tokens reversed)
and bad settings."""
import numpy
import pytest
from thinc.api import fix_random_seed

from spacy_lm.architectures.span_reader import EOS_ID, build_lm_features, build_lm_features_v2, build_span_reader
from spacy_lm.types import ReaderBatch, SpanReaderModel
from tests.gradcheck import assert_grads_close, numeric_grad, to_float64


def make_batch(rng, B=3, Tq=4, Tc=7, nV=11, lm=False):
    q_lengths = numpy.asarray([4, 2, 3][:B], dtype="int32")
    c_lengths = numpy.asarray([7, 6, 4][:B], dtype="int32")
    ids = lambda T: rng.integers(0, nV, size=(T, B)).astype("int32")  # noqa: E731
    return ReaderBatch(ids(Tq), q_lengths, ids(Tc), c_lengths, rng.random((Tc, B, 3)).astype("float32"),
                       ids(Tq) if lm else None, ids(Tc) if lm else None)


def make_reader(lm=False, cell="lstm"):
    """lm: False, True (LMFeatures.v1) or "bilm" (LMFeatures.v2, backward = true)."""
    fix_random_seed(0)
    lm_features = None
    if lm == "bilm":
        lm_features = build_lm_features_v2(width=3, depth=1, embed_size=4, backward=True)
    elif lm:
        lm_features = build_lm_features(width=3, depth=1, embed_size=4)
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


@pytest.mark.parametrize("cell,lm", [("lstm", False), ("gru", False), ("lstm", True), ("lstm", "bilm")])
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


def make_features(version, backward=False, nV=11, cell="lstm"):
    fix_random_seed(0)
    if version == 1:
        model = build_lm_features(width=3, depth=2, embed_size=4, cell=cell)
    else:
        model = build_lm_features_v2(width=3, depth=2, embed_size=4, cell=cell, backward=backward)
    model.set_dim("nV", nV)
    model.initialize()
    return model


def tree(model):
    """Each node's name, dims, params' shapes and refs, in walk order."""
    return [(node.name, {d: node.maybe_get_dim(d) for d in node.dim_names},
             {p: node.get_param(p).shape for p in node.param_names}, sorted(node.ref_names)) for node in model.walk()]


def test_lm_features_v2_without_backward_is_v1s_tree_reading_eos_first():
    v1, v2 = make_features(1), make_features(2)
    assert tree(v2) == tree(v1)
    v2.from_bytes(v1.to_bytes())
    rng = numpy.random.default_rng(3)
    ids = rng.integers(2, 11, size=(5, 2)).astype("int32")
    lengths = numpy.asarray([5, 3], dtype="int32")
    with_eos = numpy.concatenate([numpy.full((1, 2), EOS_ID, dtype="int32"), ids])
    expected = v1((with_eos, lengths + 1), False)[0][1:]
    numpy.testing.assert_allclose(v2((ids, lengths), False)[0], expected, rtol=1e-6, atol=1e-6)
    assert build_lm_features_v2(enabled=False, backward=True) is None


def encoder_alone(model, prefix, cell):
    """A one-direction v2 holding the ``prefix`` encoder of ``model``."""
    one = make_features(2, cell=cell)
    one.get_ref("embedding").from_bytes(model.get_ref(prefix + "embedding").to_bytes())
    one.get_ref("rnn").from_bytes(model.get_ref(prefix + "rnn").to_bytes())
    return one


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_lm_features_v2_backward_half_reads_each_row_reversed(cell):
    """Padded rows: each row's halves equal its encoders run alone on the row (forward) and on its
    real tokens reversed, the outputs put back in token order (backward); padding gives zeros."""
    model = make_features(2, backward=True, cell=cell)
    assert model.get_dim("nO") == 6 and model.get_ref("backward_rnn") is not model.get_ref("rnn")
    forward_alone, backward_alone = (encoder_alone(model, prefix, cell) for prefix in ("", "backward_"))
    rng = numpy.random.default_rng(4)
    ids = rng.integers(0, 11, size=(6, 3)).astype("int32")
    lengths = numpy.asarray([6, 2, 4], dtype="int32")
    ids[numpy.arange(6)[:, None] >= lengths[None, :]] = 0
    both = model((ids, lengths), False)[0]
    assert both.shape == (6, 3, 6)
    for b, n in enumerate(lengths):
        row = ids[:n, b: b + 1]
        one_length = numpy.asarray([n], dtype="int32")
        forward = forward_alone((row, one_length), False)[0][:, 0]
        backward = backward_alone((row[::-1].copy(), one_length), False)[0][::-1, 0]
        numpy.testing.assert_allclose(both[:n, b, :3], forward, rtol=1e-5, atol=1e-6)
        numpy.testing.assert_allclose(both[:n, b, 3:], backward, rtol=1e-5, atol=1e-6)
        assert not both[n:, b].any()


@pytest.mark.parametrize("setting,value", [("width", 0), ("depth", 0), ("embed_size", -1), ("dropout", 1.0),
                                           ("cell", "rnn")])
def test_bad_settings_are_clear_errors(setting, value):
    with pytest.raises(ValueError, match="E009"):
        build_span_reader(**{setting: value})


def test_lm_features_v2_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="E009"):
        build_lm_features_v2(backward="yes")
    with pytest.raises(ValueError, match="E009"):
        build_lm_features_v2(width=0, backward=True)
