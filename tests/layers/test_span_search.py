"""layers/span_search.py: the vectorised best-span search equals a brute-force double loop."""
import numpy
import pytest
from thinc.api import NumpyOps

from spacy_lm.layers.span_search import best_spans


def brute_force(start, end, length, max_length, k):
    spans = [((i, j), start[i] + end[j]) for i in range(length) for j in range(i, min(length, i + max_length))]
    spans.sort(key=lambda item: -item[1])
    return spans[:k]


@pytest.mark.parametrize("max_length,top_k", [(1, 1), (3, 1), (4, 5), (15, 3), (40, 2)])
def test_best_spans_equal_a_double_loop(max_length, top_k):
    rng = numpy.random.default_rng(0)
    B, T = 5, 12
    start = rng.normal(size=(B, T)).astype("float32")
    end = rng.normal(size=(B, T)).astype("float32")
    lengths = numpy.asarray([12, 9, 5, 1, 3], dtype="int32")
    spans, scores = best_spans(NumpyOps(), start, end, lengths, max_length, top_k)
    for b in range(B):
        expected = brute_force(start[b], end[b], lengths[b], max_length, top_k)
        real = len(expected)
        assert [tuple(s) for s in spans[b, :real].tolist()] == [span for span, _ in expected]
        numpy.testing.assert_allclose(scores[b, :real], [score for _, score in expected], rtol=1e-6)
        assert (scores[b, real:] < -1e8).all()  # fewer real spans than k: the rest are masked


def test_spans_never_run_past_the_length_or_the_limit():
    rng = numpy.random.default_rng(1)
    start = rng.normal(size=(3, 30)).astype("float32")
    end = numpy.zeros((3, 30), dtype="float32")
    end[:, -1] = 100.0  # the best end lies past every row's length
    spans, _ = best_spans(NumpyOps(), start, end, numpy.asarray([30, 20, 7], dtype="int32"), 4, 1)
    for (s, e), length in zip(spans[:, 0].tolist(), [30, 20, 7]):
        assert 0 <= s <= e < length and e - s < 4
