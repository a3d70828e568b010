"""lstm_lm's reading direction (a backward LM) and BPT3C (``grad_tokens``)."""
import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_lm.batching import mark_chunk

from ..conftest import TINY_LM_CONFIG, TINY_TEXTS, make_examples, train_tiny_lm


def reversed_doc(nlp, text):
    return Doc(nlp.vocab, words=text.split()[::-1])


def backward_copy(forward_nlp):
    """A backward lstm_lm holding the forward one's weights and vocabulary."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_lm", config={**TINY_LM_CONFIG, "direction": "backward"})
    nlp.initialize(lambda: make_examples(nlp))
    lm, source = nlp.get_pipe("lstm_lm"), forward_nlp.get_pipe("lstm_lm")
    lm.lm_vocab = source.lm_vocab
    lm.model.from_bytes(source.model.to_bytes())
    return nlp


def test_backward_perplexity_equals_forward_perplexity_on_reversed_text():
    forward, _ = train_tiny_lm(n_steps=20)
    backward = backward_copy(forward)
    texts = ["the cat sat on the mat", "a dog saw the cat", "dog"]
    for text in texts:
        b = backward(text)
        f = forward(reversed_doc(forward, text))
        assert b._.lm_perplexity == pytest.approx(f._.lm_perplexity, rel=1e-5)
        # token i's surprisal is that of the same token read right to left
        numpy.testing.assert_allclose([t._.lm_surprisal for t in b], [t._.lm_surprisal for t in f][::-1], rtol=1e-5)
    # ... and as one stream: the docs in reverse order, each reversed
    lm_b, lm_f = backward.get_pipe("lstm_lm"), forward.get_pipe("lstm_lm")
    stream_b = lm_b.score_stream([backward.make_doc(t) for t in texts])
    stream_f = lm_f.score_stream([reversed_doc(forward, t) for t in texts[::-1]])
    assert stream_b["lm_stream_perplexity"] == pytest.approx(stream_f["lm_stream_perplexity"], rel=1e-6)
    # the test can fail: read forward, the same weights give another perplexity
    assert abs(forward(texts[0])._.lm_perplexity - backward(texts[0])._.lm_perplexity) > 1e-3


def test_a_backward_lm_trains_saves_and_loads(tmp_path):
    config = {**TINY_LM_CONFIG, "direction": "backward"}
    nlp, history = train_tiny_lm(n_steps=30, config=config)
    assert history[-1] < 0.5 * history[0]
    nlp.to_disk(tmp_path / "lm")
    loaded = spacy.load(tmp_path / "lm")
    assert loaded.get_pipe("lstm_lm").cfg["direction"] == "backward"
    text = "the dog sat on the mat"
    assert loaded(text)._.lm_perplexity == pytest.approx(nlp(text)._.lm_perplexity, rel=1e-6)
    # the direction is fixed by the saved weights: a config that flips it is refused
    with pytest.raises(ValueError, match="E035"):
        spacy.load(tmp_path / "lm", config={"components": {"lstm_lm": {"direction": "forward"}}})


def test_backward_stream_chunks_carry_their_state_right_to_left():
    """A stream read backward in two chunks scores as the whole stream read backward."""
    nlp, _ = train_tiny_lm(n_steps=20, config={**TINY_LM_CONFIG, "direction": "backward", "max_length": 3})
    lm = nlp.get_pipe("lstm_lm")
    words = "the cat sat on the mat and a dog saw the cat".split()
    whole = Doc(nlp.vocab, words=words)
    mark_chunk(whole, 0, 0, None, backward=True)
    expected = lm.predict([whole])[0]["nll"].astype("float64")  # in reading order: the last word first
    last, first = Doc(nlp.vocab, words=words[7:]), Doc(nlp.vocab, words=words[:7])
    mark_chunk(last, 0, 0, None, backward=True)
    mark_chunk(first, 0, 1, words[7], backward=True)
    loss1 = lm.update([Example(last, last.copy())])["lstm_lm"]
    loss2 = lm.update([Example(first, first.copy())])["lstm_lm"]
    assert loss1 == pytest.approx(expected[:5].mean(), rel=1e-5)
    assert loss2 == pytest.approx(expected[5:].mean(), rel=1e-5)
    forward_chunk = Doc(nlp.vocab, words=words[:3])
    mark_chunk(forward_chunk, 0, 0, None)
    with pytest.raises(ValueError, match="E290"):
        lm.update([Example(forward_chunk, forward_chunk.copy())])


def test_bad_direction_and_generation_with_a_backward_lm():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="E291"):
        nlp.add_pipe("lstm_lm", config={**TINY_LM_CONFIG, "direction": "left"})
    with pytest.raises(ValueError, match="grad_tokens"):
        nlp.add_pipe("lstm_lm", config={**TINY_LM_CONFIG, "grad_tokens": 0})
    backward, _ = train_tiny_lm(n_steps=2, config={**TINY_LM_CONFIG, "direction": "backward"})
    with pytest.raises(ValueError, match="E292"):
        backward.get_pipe("lstm_lm").prime([[2, 3]])


class RowSink:
    """Stands for a listener: takes the rows and sends a gradient of ones on every row."""

    def __init__(self):
        self.rows = None

    def receive(self, batch_id, rows, backprop):
        self.rows = rows
        self.backprop = backprop


def encode_calls(lm, monkeypatch):
    calls = []
    encode = lm.model.encode

    def spy(ids, lengths, state, is_train):
        calls.append((int(ids.shape[0]), is_train))
        return encode(ids, lengths, state, is_train)

    monkeypatch.setattr(lm.model, "encode", spy)
    return calls


def test_grad_tokens_trains_only_the_last_windows_of_a_doc(monkeypatch):
    """BPT3C: with grad_tokens the early windows of a long doc run without a backward pass, the
    rows still cover the whole doc, and the gradient reaches the weights through the last windows."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    lm = nlp.add_pipe("lstm_lm", config={**TINY_LM_CONFIG, "max_length": 4, "grad_tokens": 4})
    nlp.initialize(lambda: make_examples(nlp))
    sink = RowSink()
    monkeypatch.setattr(type(lm), "listeners", property(lambda self: [sink]))
    doc = nlp.make_doc(" ".join(TINY_TEXTS[:2]))  # 12 tokens: 13 steps in windows of 4
    calls = encode_calls(lm, monkeypatch)
    lm.update([Example(doc, doc.copy())])
    assert [train for _, train in calls] == [False, False, True, True]  # steps 8-12 hold the last 4 tokens
    assert len(sink.rows[0]) == len(doc) and float(numpy.abs(sink.rows[0][0]).sum()) > 0
    sink.backprop([numpy.ones_like(r) for r in sink.rows])
    assert lm.model.get_ref("embedding").has_grad("E")
    # without grad_tokens every window is trained
    lm.cfg["grad_tokens"] = None
    calls.clear()
    lm.update([Example(doc, doc.copy())])
    assert [train for _, train in calls] == [True, True, True, True]


def test_annotate_false_only_encodes_and_listeners_get_the_same_states(tmp_path, monkeypatch):
    nlp, _ = train_tiny_lm(n_steps=5)
    lm = nlp.get_pipe("lstm_lm")
    sink = RowSink()
    docs = [nlp.make_doc(t) for t in TINY_TEXTS[:3]]
    with monkeypatch.context() as patch:
        patch.setattr(type(lm), "listeners", property(lambda self: [sink]))
        lm.predict(docs)
        annotated = [r.copy() for r in sink.rows]
        lm.cfg["annotate"] = False
        assert lm.predict(docs) == [None, None, None]
        for a, b in zip(annotated, sink.rows):
            numpy.testing.assert_array_equal(a, b)
    doc = nlp("the cat sat")
    assert doc._.lm_perplexity is None and doc._.lm_n_predicted == 0
    # a runtime setting: a saved LM loads annotating or not, as the config says
    lm.cfg["annotate"] = True
    nlp.to_disk(tmp_path / "lm")
    quiet = spacy.load(tmp_path / "lm", config={"components": {"lstm_lm": {"annotate": False}}})
    assert quiet("the cat sat")._.lm_perplexity is None
    assert spacy.load(tmp_path / "lm")("the cat sat")._.lm_perplexity > 0
