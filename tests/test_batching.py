"""spacy_lm.batching: the <eos> stream rule, windows with carried state, row gather/scatter."""
import numpy
import pytest
import spacy
from spacy.tokens import Doc
from thinc.api import NumpyOps, fix_random_seed

from spacy_lm.architectures.lstm_lm import build_lstm_language_model
from spacy_lm.batching import SequenceBatch, prepare_doc, prompt_ids, run_windows, stream_prefix, window_loss
from spacy_lm.vocab import TokenVocab

VOCAB = TokenVocab(["<unk>", "<eos>", "the", "cat", "sat", "a", "dog"])


def doc(text: str) -> Doc:
    nlp = spacy.blank("en")
    return nlp.make_doc(text)


def test_a_doc_is_one_stream_opened_and_closed_by_eos():
    inputs, targets, positions = prepare_doc(VOCAB, doc("the  cat sat"))  # the double space is a token
    assert inputs.tolist() == [1, 2, 3, 4] and targets.tolist() == [2, 3, 4, 1]
    assert positions.tolist() == [0, 2, 3, -1]
    inputs, targets, positions = prepare_doc(VOCAB, Doc(spacy.blank("en").vocab, words=["a", "dog", "<eos>"]))
    assert inputs.tolist() == [1, 5, 6] and targets.tolist() == [5, 6, 1] and positions.tolist() == [0, 1, 2]
    assert prepare_doc(VOCAB, doc("  ")) is None
    assert prompt_ids(VOCAB, doc("the zebra")) == [2, 0]
    assert stream_prefix(VOCAB, [2, 0]) == [1, 2, 0]
    with pytest.raises(TypeError, match="E010"):
        prepare_doc(VOCAB, "the cat")


def make_model(cell: str):
    fix_random_seed(0)
    model = build_lstm_language_model(width=6, depth=2, dropout=0.0, cell=cell)
    model.set_dim("nV", len(VOCAB))
    model.initialize()
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_windows_carry_the_state_exactly(cell):
    """Scoring in windows of 3 steps equals one pass over the whole batch."""
    model = make_model(cell)
    docs = [doc("the cat sat the cat sat a dog"), doc("a dog"), doc("the cat sat on a mat the end")]
    batch = SequenceBatch.from_docs(NumpyOps(), VOCAB, docs)
    width = model.get_dim("nO")

    def rows(size):
        windows = [(w, h) for w, h, _, _ in run_windows(model, batch, size, False)]
        return batch.gather_rows(docs, windows, width)

    for short, whole in zip(rows(3), rows(100)):
        numpy.testing.assert_allclose(short, whole, rtol=1e-5, atol=1e-6)


def test_gather_and_scatter_rows_are_adjoint():
    model = make_model("lstm")
    docs = [doc("the cat sat"), doc(" "), doc("a dog the cat sat a")]
    batch = SequenceBatch.from_docs(NumpyOps(), VOCAB, docs)
    windows = [(w, h) for w, h, _, _ in run_windows(model, batch, 2, False)]
    rows = batch.gather_rows(docs, windows, 6)
    assert [r.shape for r in rows] == [(3, 6), (1, 6), (6, 6)] and not rows[1].any()
    rng = numpy.random.default_rng(0)
    d_rows = [rng.normal(size=r.shape).astype("float32") for r in rows]
    d_hiddens = [numpy.zeros_like(h) for _, h in windows]
    batch.scatter_rows(d_rows, [w for w, _ in windows], d_hiddens)
    lhs = sum(float((d * r).sum()) for d, r in zip(d_rows, rows))
    rhs = sum(float((d * h).sum()) for d, (_, h) in zip(d_hiddens, windows))
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_window_loss_covers_real_positions_only():
    model = make_model("lstm")
    docs = [doc("the cat sat a dog"), doc("a")]
    batch = SequenceBatch.from_docs(NumpyOps(), VOCAB, docs)
    (window, hidden, _, _), = list(run_windows(model, batch, 10, True))
    assert window.k == 2 and window.real_host.tolist() == [0, 1, 2, 3, 4, 6, 8, 10]
    total, d_hidden = window_loss(model, window, hidden, 1.0, "lstm_lm")
    assert total > 0
    assert not d_hidden[2:, 1].any() and d_hidden[:2, 1].any()  # padded steps get no gradient
