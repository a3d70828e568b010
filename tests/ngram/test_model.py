"""The backoff model's queries and tables (spacy_lm.ngram.model)."""
import numpy
import pytest

from spacy_lm.ngram import estimate

from .streams import EOS, make_stream, random_sentences, brute_log10


def test_training_text_scores_match_brute_force_queries():
    V = 20
    sentences = random_sentences(400, V, seed=3)
    model = estimate(make_stream(sentences, V), V, 4)
    for s in sentences[:20] + [[7, 7, 7, 7, 7, 2]]:
        logp, _ = model.score(make_stream([s], V))
        numpy.testing.assert_allclose(logp, brute_log10(model, s), atol=1e-5)


def test_argmax_flags_match_the_full_distribution():
    V = 20
    sentences = random_sentences(300, V, seed=4)
    model = estimate(make_stream(sentences, V), V, 3)
    for s in sentences[:30]:
        _, correct = model.score(make_stream([s], V))
        width = 2
        history = [model.bos_id]
        for i, token in enumerate(list(s) + [EOS]):
            ctx = history[-width:]
            row = numpy.asarray([[-1] * (width - len(ctx)) + ctx])
            assert correct[i] == (int(model.next_log10(row)[0].argmax()) == token)
            history.append(token)


def test_corrupt_tables_are_coded_errors():
    """Deserialised tables that do not fit together raise E060, naming what is wrong."""
    from spacy_lm.ngram import NGramModel

    msg = estimate(make_stream(random_sentences(50, 6), 6), 6, 2).to_msg()
    with pytest.raises(ValueError, match=r"\[E060\].*does not cover the vocabulary"):
        NGramModel.from_msg({**msg, "n_vocab": msg["n_vocab"] + 1})
    with pytest.raises(ValueError, match=r"\[E060\].*not strictly increasing"):
        NGramModel.from_msg({**msg, "keys": [list(k)[::-1] for k in msg["keys"]]})
