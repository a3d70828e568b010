"""Sampling (spacy_lm.decoding.sampling): seeds, several sequences, unmodified log-probs,
the model's distribution."""
import numpy
import pytest

from spacy_lm.decoding import GenerationConfig, generate

from .toy_lms import EOS, random_lm, flat_lm


def test_same_seed_same_text_different_seeds_differ():
    lm = flat_lm()
    config = GenerationConfig(max_new_tokens=20, do_sample=True, seed=7)
    first = generate(lm, [[2], []], config)
    again = generate(lm, [[2], []], config)
    other = generate(lm, [[2], []], config.replace(seed=8))
    assert [g[0].token_ids for g in first] == [g[0].token_ids for g in again]
    assert [g[0].token_ids for g in first] != [g[0].token_ids for g in other]
    assert first[0][0].token_ids != first[1][0].token_ids


def test_num_return_sequences_sampling():
    lm = flat_lm()
    (gens,) = generate(lm, [[2]], GenerationConfig(max_new_tokens=10, do_sample=True, seed=0, num_return_sequences=3))
    assert len(gens) == 3 and len({tuple(g.token_ids) for g in gens}) == 3
    assert lm.n_prime == 1


def test_sampled_logprobs_are_unmodified_model_logprobs():
    lm = random_lm(seed=2)
    config = GenerationConfig(max_new_tokens=10, do_sample=True, seed=0, temperature=0.5, top_k=4, top_p=0.9,
                              typical_p=0.95, min_p=0.01, repetition_penalty=1.2)
    gen = generate(lm, [[3]], config)[0][0]
    previous = 3
    for token_id, logprob in zip(gen.token_ids, gen.logprobs):
        assert logprob == pytest.approx(float(lm.host_table[previous, token_id]))
        previous = token_id
    assert gen.score == pytest.approx(sum(gen.logprobs))


def test_sampling_follows_the_distribution():
    """Inverse-CDF draws: first-token frequencies match the model's probabilities."""
    lm = random_lm(n_vocab=6, seed=5, scale=1.0)
    config = GenerationConfig(max_new_tokens=1, do_sample=True, seed=0, num_return_sequences=4000)
    (gens,) = generate(lm, [[2]], config)
    counts = numpy.bincount([g.token_ids[0] if g.token_ids else EOS for g in gens], minlength=6)
    expected = numpy.exp(lm.host_table[2].astype("float64"))
    assert numpy.abs(counts / 4000 - expected).max() < 0.03
