"""spacy_lm.Seq2SeqAttention.v1: gradients of the seq2seq contract checked against finite
differences for each cell, attention and input feeding; step-by-step decoding equals the
teacher-forced pass; states keep each row's source when selected and concatenated."""
import numpy
import pytest
from thinc.api import Ops

from spacy_lm.architectures.seq2seq import build_seq2seq_attention
from tests.gradcheck import assert_param_grads_match, to_float64

CASES = [("gru", "general", True, True, 1), ("lstm", "bahdanau", True, False, 1), ("gru", "dot", False, True, 2),
         ("lstm", "general", False, True, 2)]


def _model(cell, attention, bidirectional, input_feeding, depth, dropout=0.0):
    enc = 2 if bidirectional else 4
    model = build_seq2seq_attention(cell=cell, embed_size=3, encoder_width=enc, decoder_width=4, depth=depth,
                                    bidirectional=bidirectional, attention=attention, input_feeding=input_feeding,
                                    dropout=dropout)
    model.set_dim("nV", 7)
    model.set_dim("nV_src", 6)
    model.initialize()
    to_float64(model)
    for node in model.walk():  # Thinc's Linear calls BLIS gemm (float32 only) through NumpyOps
        node.ops = Ops()
    return model


def _batch(rng):
    src = rng.integers(0, 6, (5, 3)).astype("int32")
    src_lengths = numpy.asarray([5, 2, 3], dtype="int32")
    tgt = rng.integers(0, 7, (4, 3)).astype("int32")
    return src, src_lengths, tgt


@pytest.mark.parametrize("cell,attention,bidirectional,input_feeding,depth", CASES)
def test_seq2seq_gradients_match_finite_differences(cell, attention, bidirectional, input_feeding, depth):
    model = _model(cell, attention, bidirectional, input_feeding, depth)
    rng = numpy.random.default_rng(0)
    src, src_lengths, tgt = _batch(rng)
    w_hidden = rng.standard_normal((4, 3, 4))

    def objective(backward: bool = False) -> float:
        (hidden, _), backprop = model.forward_train(src, src_lengths, tgt, True)
        if backward:
            backprop(w_hidden)
        return float((hidden * w_hidden).sum())

    checked = assert_param_grads_match(model, objective)
    # embeddings (2), encoder, bridge, decoder, combine, and the attention's own weights
    assert checked >= 2 + 3 * depth + 2 + 3 * depth + 2 + {"dot": 0, "general": 1, "bahdanau": 3}[attention]


@pytest.mark.parametrize("cell,attention,bidirectional,input_feeding,depth", CASES)
def test_step_equals_teacher_forced_decode(cell, attention, bidirectional, input_feeding, depth):
    model = _model(cell, attention, bidirectional, input_feeding, depth)
    src, src_lengths, tgt = _batch(numpy.random.default_rng(1))
    (hidden, attn), _ = model.forward_train(src, src_lengths, tgt, False)
    state = model.start_state(src, src_lengths)
    for t in range(tgt.shape[0]):
        log_probs, state, a = model.step_with_attention(tgt[t], state)
        numpy.testing.assert_allclose(log_probs, model.log_probs(hidden[t]), rtol=1e-7, atol=1e-9)
        numpy.testing.assert_allclose(a, attn[t], rtol=1e-7, atol=1e-9)
    # attention is a distribution over each row's real source positions only
    numpy.testing.assert_allclose(attn.sum(axis=-1), 1.0)
    assert (attn[:, 1, 2:] == 0).all() and (attn[:, 2, 3:] == 0).all()


def test_padding_of_a_source_does_not_change_its_translation():
    model = _model("gru", "general", True, True, 1)
    rng = numpy.random.default_rng(2)
    src, src_lengths, tgt = _batch(rng)
    alone = model.start_state(src[:2, 1:2], src_lengths[1:2])
    batch = model.start_state(src, src_lengths)
    lp_alone, _ = model.step(tgt[0, 1:2], alone)
    lp_batch, _ = model.step(tgt[0], batch)
    numpy.testing.assert_allclose(lp_alone[0], lp_batch[1], rtol=1e-7, atol=1e-9)


def test_select_and_concat_keep_each_rows_source():
    model = _model("lstm", "bahdanau", True, True, 1)
    src, src_lengths, tgt = _batch(numpy.random.default_rng(3))
    state = model.start_state(src, src_lengths)
    short = model.start_state(src[:2, 1:2], src_lengths[1:2])
    joined = model.concat_states([model.select_state(state, [2, 0]), short])
    lp_joined, _ = model.step(numpy.asarray([tgt[0, 2], tgt[0, 0], tgt[0, 1]]), joined)
    lp_full, _ = model.step(tgt[0], state)
    numpy.testing.assert_allclose(lp_joined, lp_full[[2, 0, 1]], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("setting,value", [("cell", "rnn"), ("attention", "cosine"), ("dropout", 1.0),
                                           ("decoder_width", 0)])
def test_bad_settings_are_named(setting, value):
    with pytest.raises(ValueError, match=setting if setting != "attention" else "attention"):
        build_seq2seq_attention(**{setting: value})


def test_dot_attention_needs_matching_widths():
    with pytest.raises(ValueError, match="E130"):
        build_seq2seq_attention(attention="dot", encoder_width=256, decoder_width=256, bidirectional=True)
