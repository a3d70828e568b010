"""The probing tables of corpus scoring (spacy_lm.ngram.hashed) against the sorted-key model."""
import numpy
import pytest

from spacy_lm.ngram import estimate
from spacy_lm.ngram.hashed import HashedNGramIndex, ProbingTable, pack, unpack

from .streams import make_stream, random_sentences


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_token_log10_equals_the_sorted_model(order):
    V = 30
    sentences = random_sentences(300, V, seed=order)
    model = estimate(make_stream(sentences, V), V, order)
    index = HashedNGramIndex(model)
    # Held-out sentences (unseen n-grams, so every backoff path is taken) and training ones.
    test = random_sentences(60, V, seed=100 + order) + sentences[:20]
    stream = make_stream(test, V)
    expected, _ = model.score(stream)
    got = index.token_log10(stream)
    assert (got[stream == model.bos_id] == 0).all()
    numpy.testing.assert_allclose(got[stream != model.bos_id], expected, rtol=1e-6, atol=1e-5)


def test_total_log10_sums_each_doc():
    V = 25
    sentences = random_sentences(200, V, seed=7)
    model = estimate(make_stream(sentences, V), V, 4)
    index = HashedNGramIndex(model)
    docs = random_sentences(10, V, seed=8)
    streams = [make_stream([doc], V) for doc in docs]
    starts = numpy.cumsum([0] + [len(s) for s in streams[:-1]])
    totals = index.total_log10(numpy.concatenate(streams), starts)
    expected = [model.score(s)[0].sum() for s in streams]
    numpy.testing.assert_allclose(totals, expected, rtol=1e-6)
    assert index.total_log10(numpy.zeros(0, dtype="int64"), numpy.zeros(0, dtype="int64")).shape == (0,)


def test_probing_table_finds_every_key_and_only_those():
    rng = numpy.random.default_rng(0)
    keys = numpy.unique(rng.integers(0, 2**40, size=5000, dtype="uint64"))
    values = pack(rng.normal(size=len(keys)).astype("float32"), rng.normal(size=len(keys)).astype("float32"))
    table = ProbingTable(keys, values)
    assert len(numpy.unique(table.slot_of)) == len(keys)
    found, got = table.find(keys[::-1].copy())
    assert (found == table.slot_of[::-1]).all()
    assert (got == values[::-1]).all()
    absent = numpy.setdiff1d(rng.integers(0, 2**40, size=5000, dtype="uint64"), keys)
    found, got = table.find(absent)
    assert (found == -1).all() and (got == 0).all()
    lp, bo = unpack(values)
    assert lp.dtype == bo.dtype == numpy.float32


def test_argsort_u32_is_a_stable_argsort():
    from spacy_lm.ngram.hashed import argsort_u32

    values = numpy.random.default_rng(1).integers(0, 2**32, size=10_000, dtype="int64")
    values[::7] = values[3]  # ties keep input order
    assert (argsort_u32(values) == numpy.argsort(values, kind="stable")).all()
