"""The modified Kneser-Ney estimator (spacy_lm.ngram.kneser_ney), on id streams made here."""
import math

import numpy
import pytest

from spacy_lm.ngram import estimate, sentence_stream
from spacy_lm.ngram.kneser_ney import _discounts

from .streams import UNK, EOS, make_stream, random_sentences


def test_sentence_stream_restarts_at_every_eos():
    # doc 1: "a b </s>"  doc 2: "c </s> d </s>" (a marker inside the doc)
    stream = sentence_stream(numpy.asarray([1, 2, 3, 1, 4, 1]), numpy.asarray([2, 3, 1, 4, 1, 5])[[0, 1, 2, 3, 4, 5]],
                             EOS, 9)
    assert stream.tolist() == [9, 2, 3, 1, 9, 4, 1, 9, 5]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("prune", [[], [0, 1]])
def test_distributions_sum_to_one(order, prune):
    V = 25
    sentences = random_sentences(1500, V)
    model = estimate(make_stream(sentences, V), V, order, prune=prune)
    B = model.bos_id
    w = max(1, order - 1)
    contexts = [[B], [B, 2], [2, 3], [3, 2, 2], [5, 7, 2], [24, 24, 24], [B, 24]]
    rows = numpy.asarray([([-1] * w + c)[-w:] for c in contexts])
    probs = 10.0 ** model.next_log10(rows)
    numpy.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=2e-6)
    assert probs[:, EOS].min() > 0 and probs[:, UNK].min() > 0


def test_hand_computed_bigram_model():
    """Corpus "a b", "a b", "b": every value derived by hand from the lmplz formulas.
    Unigram adjusted counts: a 1 ({<s>}), b 2 ({a, <s>}), </s> 1 ({b}); n3 = 0, so the
    unigram discounts fall back to 0.5 / 1 / 1.5: denominator 4, gamma = (0.5 + 1 + 0.5) / 4,
    uniform over |V| = 4 (<unk>, </s>, a, b).
    Bigram raw counts: <s> a 2, a b 2, b </s> 3, <s> b 1: n1..n4 = 1, 2, 1, 0, Y = 1/5,
    D1 = 1 - 2Y(2/1) = 0.2, D2 = 2 - 3Y(1/2) = 1.7, D3+ = 3 - 4Y(0/1) = 3."""
    a, b, V = 2, 3, 4
    model = estimate(make_stream([[a, b], [a, b], [b]], V), V, 2)
    assert model.discounts[0] == [0.5, 1.0, 1.5]
    numpy.testing.assert_allclose(model.discounts[1], [0.2, 1.7, 3.0], rtol=1e-9)
    p1 = 10.0 ** model.logprob[0].astype("float64")
    numpy.testing.assert_allclose(p1[[UNK, EOS, a, b]], [0.125, 0.25, 0.25, 0.375], rtol=1e-6)
    assert model.logprob[0][model.bos_id] == -99.0
    g_bos, g_a, g_b = (1.7 + 0.2) / 3, 1.7 / 2, 3.0 / 3
    expected = {
        (model.bos_id, a): (2 - 1.7) / 3 + g_bos * 0.25, (model.bos_id, b): (1 - 0.2) / 3 + g_bos * 0.375,
        (a, b): (2 - 1.7) / 2 + g_a * 0.375, (b, EOS): (3 - 3.0) / 3 + g_b * 0.25,
    }
    words = model.ngram_ids(2)
    assert sorted(map(tuple, words.tolist())) == sorted(expected)
    for row, (ctx, w) in enumerate(words.tolist()):
        assert 10.0 ** model.logprob[1][row] == pytest.approx(expected[(ctx, w)], rel=1e-6)
    bo = model.backoff[0]
    for ctx, gamma in ((model.bos_id, g_bos), (a, g_a), (b, g_b)):
        assert bo[ctx] == pytest.approx(math.log10(gamma), abs=1e-6)
    assert bo[EOS] == 0.0 and bo[UNK] == 0.0  # not contexts
    # Unseen bigram "a a": backoff(a) * p(a); then "a </s>": backoff(a) * p(</s>)
    logp, _ = model.score(make_stream([[a, a]], V))
    numpy.testing.assert_allclose(10.0 ** logp, [expected[(model.bos_id, a)], g_a * 0.25, g_a * 0.25], rtol=1e-6)


def test_discounts_from_counts_of_counts():
    counts = numpy.asarray([1] * 10 + [2] * 5 + [3] * 3 + [4] * 2 + [9] * 7)
    d1, d2, d3 = _discounts(counts, 3, None)  # Y = 10 / (10 + 2*5) = 0.5
    assert d1 == pytest.approx(1 - 2 * 0.5 * 5 / 10)
    assert d2 == pytest.approx(2 - 3 * 0.5 * 3 / 5)
    assert d3 == pytest.approx(3 - 4 * 0.5 * 2 / 3)


def test_small_data_without_fallback_raises():
    with pytest.raises(ValueError, match="E012"):
        estimate(make_stream([[2, 3]], 4), 4, 2, discount_fallback=None)


def test_adjusted_counts_keep_raw_counts_after_bos():
    """In a trigram model, bigrams after <s> keep raw counts ("<s> a" 3, "<s> c" 2) while
    others get the number of distinct left words ("a b": {<s>, c} = 2, "a </s>": {c} = 1)."""
    a, b, c, V = 2, 3, 4, 5
    sents = [[a, b]] * 3 + [[c, a, b], [c, c, a]]
    model = estimate(make_stream(sents, V), V, 3)
    # Bigram counts: <s> a 3, <s> c 2, a b 2, c a 2 ({<s>, c}), a </s> 1, b </s> 1, c c 1:
    # n1..n4 = 3, 3, 1, 0 -> Y = 1/3, D1 = 1/3, D2 = 5/3, D3+ = 3.
    D = model.discounts[1]
    numpy.testing.assert_allclose(D, [1 / 3, 5 / 3, 3.0], rtol=1e-9)
    gamma_bos = (D[2] + D[1]) / 5
    gamma_a = (D[1] + D[0]) / 3
    words = model.ngram_ids(2).tolist()
    p = {tuple(w): 10.0 ** model.logprob[1][i] for i, w in enumerate(words)}
    p1 = 10.0 ** model.logprob[0].astype("float64")
    assert len(p) == 7
    assert p[(model.bos_id, a)] == pytest.approx((3 - D[2]) / 5 + gamma_bos * p1[a], rel=1e-6)
    assert p[(a, b)] == pytest.approx((2 - D[1]) / 3 + gamma_a * p1[b], rel=1e-6)
    assert model.backoff[0][a] == pytest.approx(math.log10(gamma_a), abs=1e-6)


def test_pruning_drops_rare_ngrams_and_keeps_prefixes():
    V = 30
    stream = make_stream(random_sentences(800, V), V)
    full = estimate(stream, V, 3)
    pruned = estimate(stream, V, 3, prune=[0, 1, 2])
    assert pruned.sizes()[0] == full.sizes()[0]
    assert pruned.sizes()[1] < full.sizes()[1] and pruned.sizes()[2] < full.sizes()[2]
    pruned.validate()
    for bad in ([1, 0], [0, 2, 1], [-1]):
        with pytest.raises(ValueError, match="E013"):
            estimate(stream, V, 3, prune=bad)


def test_small_data_fallback_warns_with_code(caplog):
    with caplog.at_level("WARNING", logger="spacy"):
        model = estimate(make_stream([[2, 3]], 4), 4, 2, discount_fallback=[0.5, 1.0, 1.5])
    assert model.discounts[-1] == [0.5, 1.0, 1.5]
    assert any("[W001]" in r.getMessage() and "[0.5, 1.0, 1.5]" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("fallback", [[1.2, 1.0, 1.5], [0.5, 2.5, 1.5], [0.5, 1.0, 3.5], [0.0, 1.0, 1.5],
                                      [0.5, 1.0, 0.0], [-0.5, 1.0, 1.5], [0.5, float("nan"), 1.5], [0.5, 1.0],
                                      [0.5, True, 1.5], "0.5 1 1.5"])
def test_a_discount_fallback_out_of_range_is_refused_before_estimating(fallback):
    """D_j > j made negative probabilities (NaN log-probs, only a RuntimeWarning) and D_j = 0
    zero probabilities; both surfaced at scoring as 'training diverged or files damaged'."""
    with pytest.raises(ValueError, match=r"\[E009\] discount_fallback must be null or \[D1, D2, D3\+\] with "
                                         r"0 < D1 <= 1, 0 < D2 <= 2 and 0 < D3\+ <= 3"):
        estimate(make_stream([[2, 3]], 4), 4, 2, discount_fallback=fallback)


def test_the_discount_fallback_range_is_exact():
    """The bounds themselves give finite log-probabilities everywhere (no NaN, no -inf)."""
    stream = make_stream([[2, 3], [3, 3, 4], [2, 2, 3, 4, 4]], 5)
    for fallback in ([1.0, 2.0, 3.0], [1e-6, 1e-6, 1e-6], [1, 2, 3]):
        with numpy.errstate(all="raise"):
            model = estimate(stream, 5, 3, discount_fallback=fallback)
        contexts = numpy.array([[a, b] for a in range(-1, 6) for b in range(5)] + [[-1, 5]])
        assert numpy.isfinite(model.next_log10(contexts)).all()
