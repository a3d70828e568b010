"""spacy_lm.batching: the <eos> stream rule, windows with carried state, row gather/scatter."""
import numpy
import pytest
import spacy
from spacy.tokens import Doc
from thinc.api import NumpyOps, fix_random_seed

from spacy_lm.architectures.lstm_lm import build_lstm_language_model
from spacy_lm.batching import SequenceBatch, prepare_doc, prompt_ids, run_windows, stream_prefix, window_loss
from spacy_lm.text.vocab import TokenVocab

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


# ---------------------------------------------------------------------- stream chunks
def chunk_doc(words, stream, chunk, previous):
    from spacy_lm.batching import mark_chunk

    d = Doc(spacy.blank("en").vocab, words=words)
    mark_chunk(d, stream, chunk, previous)
    return d


def test_a_marked_chunk_is_read_as_a_continuation():
    from spacy_lm.batching import chunk_mark

    first = chunk_doc(["the", "cat", "<eos>"], 3, 0, None)
    assert chunk_mark(first) == (3, 0, None, False) and chunk_mark(doc("the cat")) is None
    inputs, targets, positions = prepare_doc(VOCAB, first)
    assert inputs.tolist() == [1, 2, 3] and targets.tolist() == [2, 3, 1] and positions.tolist() == [0, 1, 2]
    inputs, targets, positions = prepare_doc(VOCAB, chunk_doc(["sat", "a"], 3, 1, "cat"))
    assert inputs.tolist() == [3, 4] and targets.tolist() == [4, 5]  # no <eos> opens or closes it
    inputs, _, _ = prepare_doc(VOCAB, chunk_doc(["dog"], 0, 2, "zebra"))
    assert inputs.tolist() == [0]  # an unknown previous token is <unk>
    lower = TokenVocab(["<unk>", "<eos>", "cat", "dog"], attr="LOWER")
    assert prepare_doc(lower, chunk_doc(["dog"], 0, 1, "Cat"))[0].tolist() == [2]  # the vocabulary's attr
    # unmarked docs keep the stream rule; a copy keeps the mark
    assert prepare_doc(VOCAB, doc("the cat"))[1].tolist() == [2, 3, 1]
    assert chunk_mark(first.copy()) == (3, 0, None, False)


def test_stream_segments_join_docs_and_cut_them():
    from spacy_lm.batching import stream_segments

    prepared = [prepare_doc(VOCAB, doc("the cat")), None, prepare_doc(VOCAB, doc("a dog sat"))]
    (whole,) = stream_segments(prepared)
    assert whole[0].tolist() == [1, 2, 3, 1, 5, 6, 4] and whole[1].tolist() == [2, 3, 1, 5, 6, 4, 1]
    parts = stream_segments(prepared, 3)
    assert [len(p[1]) for p in parts] == [2, 2, 3]
    assert numpy.concatenate([p[1] for p in parts]).tolist() == whole[1].tolist()
    assert len(stream_segments(prepared, 50)) == 7 and stream_segments([None]) == []
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=r"E009.*n_segments"):
            stream_segments(prepared, bad)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_run_windows_from_a_given_state_continues_exactly(cell):
    """Two chunks in two runs, the first run's final rows (batch order) given to the second,
    equal one run over the joined chunks; rows are matched through batch.order."""
    model = make_model(cell)
    ops = NumpyOps()
    words = ["the", "cat", "sat", "a", "dog", "the", "cat", "a"]
    whole = SequenceBatch.from_docs(ops, VOCAB, [chunk_doc(words, 0, 0, None), doc("a dog")])
    expected = [h for _, h, _, _ in run_windows(model, whole, 100, False)][0][:, 0]
    first = SequenceBatch.from_docs(ops, VOCAB, [doc("a"), chunk_doc(words[:3], 0, 0, None)])
    assert first.order == [1, 0]
    runs = list(run_windows(model, first, 2, False, keep_finished=True))
    h1_rows = numpy.concatenate([h for _, h, _, _ in runs])[:3, 0]
    carried = model.select_state(runs[-1][2], ops.asarray1i([0]))
    second = SequenceBatch.from_docs(ops, VOCAB, [chunk_doc(words[3:], 0, 1, words[2])])
    h2 = numpy.concatenate([h for _, h, _, _ in run_windows(model, second, 2, False, state=carried)])[:, 0]
    numpy.testing.assert_allclose(numpy.concatenate([h1_rows, h2]), expected, rtol=1e-5, atol=1e-6)


def test_window_columns_select_and_repeat_sequences():
    ops = NumpyOps()
    prepared = [(numpy.arange(n, dtype="int32"), numpy.arange(n, dtype="int32") + 10, numpy.arange(n, dtype="int32"))
                for n in (5, 3, 2)]
    window = next(SequenceBatch(ops, prepared).windows(5))
    picked = window.columns(ops, [1, 1, 2])
    assert picked.n_steps == 3 and picked.k == 3
    assert picked.lengths_host.tolist() == [3, 3, 2]
    numpy.testing.assert_array_equal(picked.ids[:, 0], [0, 1, 2])
    numpy.testing.assert_array_equal(picked.target_grid[:2, 2], [10, 11])
    # real positions are those of the picked sequences, time-major
    assert picked.real_host.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    numpy.testing.assert_array_equal(picked.targets[picked.real], [10, 10, 10, 11, 11, 11, 12, 12])


def test_a_backward_reading_reverses_tokens_and_keeps_positions():
    inputs, targets, positions = prepare_doc(VOCAB, doc("the cat sat"), backward=True)
    assert targets.tolist() == [4, 3, 2, 1] and inputs.tolist() == [1, 4, 3, 2]  # <eos> sat cat the -> <eos>
    assert positions.tolist() == [2, 1, 0, -1]
    # a backward chunk: the token after it comes first, its words read right to left
    from spacy_lm.batching import mark_chunk

    chunk = Doc(spacy.blank("en").vocab, words=["the", "cat"])
    mark_chunk(chunk, 0, 1, "sat", backward=True)
    inputs, targets, _ = prepare_doc(VOCAB, chunk, backward=True)
    assert inputs.tolist() == [4, 3] and targets.tolist() == [3, 2]
    with pytest.raises(ValueError, match="E290"):
        prepare_doc(VOCAB, chunk)
    with pytest.raises(ValueError, match="E290"):
        prepare_doc(VOCAB, chunk_doc(["the"], 0, 1, "cat"), backward=True)


def test_rows_of_a_backward_batch_map_to_their_tokens():
    docs = [doc("the cat sat"), doc("a dog")]
    batch = SequenceBatch.from_docs(NumpyOps(), VOCAB, docs, backward=True)
    # hidden state of step s = s (one column per sequence), so each row names the step that read it
    windows = []
    for window in batch.windows(2):
        T, k = window.n_steps, window.k
        hidden = numpy.broadcast_to((window.start + numpy.arange(T, dtype="f")).reshape(T, 1, 1), (T, k, 1)).copy()
        windows.append((window, hidden))
    rows = batch.gather_rows(docs, windows, 1)
    # "the cat sat" read as <eos> sat cat the: sat is read at step 1, cat at 2, the at 3
    assert rows[0][:, 0].tolist() == [3.0, 2.0, 1.0]
    assert rows[1][:, 0].tolist() == [2.0, 1.0]


@pytest.mark.parametrize("backward", [False, True])
def test_prepare_batch_equals_prepare_ids_per_doc(backward):
    from spacy_lm.batching import prepare_batch, prepare_ids

    eos = 1
    docs = [[5, 6, 7], [], [8, eos], [eos], [9, eos, 4], [3]]
    ids = numpy.asarray([t for doc in docs for t in doc], dtype="int32")
    positions = numpy.concatenate([numpy.arange(len(doc)) for doc in docs]).astype("int32")
    got = prepare_batch(ids, positions, [len(doc) for doc in docs], eos, backward)
    for doc, prepared in zip(docs, got):
        if not doc:
            assert prepared is None
            continue
        order = slice(None, None, -1) if backward else slice(None)
        expected = prepare_ids(numpy.asarray(doc)[order], numpy.arange(len(doc))[order], eos)
        for a, b in zip(prepared, expected):
            assert a.tolist() == b.tolist()
