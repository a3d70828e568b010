"""Sampling warpers (spacy_lm.decoding.warpers) at their extremes equal greedy decoding."""
import pytest

from spacy_lm.decoding import GenerationConfig, generate

from .toy_lms import random_lm, as_tuples, ids_of, LSTM_PROMPTS


def test_top_k_1_sampling_equals_greedy(lstm):
    for lm, prompts in ((random_lm(), [[2], [5, 6], []]), (lstm, [ids_of(lstm, t) for t in LSTM_PROMPTS])):
        greedy = generate(lm, prompts, GenerationConfig(max_new_tokens=8))
        sampled = generate(lm, prompts, GenerationConfig(max_new_tokens=8, do_sample=True, top_k=1, seed=3))
        assert [as_tuples(g[0]) for g in sampled] == [as_tuples(g[0]) for g in greedy]


@pytest.mark.parametrize("setting", [{"top_p": 1e-6}, {"min_p": 1.0}, {"temperature": 1e-4}])
def test_extreme_warpers_equal_greedy(setting):
    lm = random_lm(seed=4)
    greedy = generate(lm, [[2], [7]], GenerationConfig(max_new_tokens=8))
    sampled = generate(lm, [[2], [7]], GenerationConfig(max_new_tokens=8, do_sample=True, seed=0, **setting))
    assert [g[0].token_ids for g in sampled] == [g[0].token_ids for g in greedy]
