"""Top alternatives per step (spacy_lm.decoding.context.top_alternatives), for every
strategy: the model's own log-probs before processors and warpers."""
from typing import List

import numpy
import pytest
import srsly

from spacy_lm.decoding import Generation, GenerationConfig, generate

from .toy_lms import random_lm, ids_of


def step_distribution(lm, prefix: List[int]) -> numpy.ndarray:
    """The model's own next-token log-probs after ``prefix``, read anew."""
    return lm.ops.to_numpy(lm.prime([prefix])[0])[0]


def check_alternatives(lm, prompt: List[int], generation: Generation, k: int) -> None:
    """Each step's alternatives are the k best of the model's distribution after the chosen
    prefix, best first, and the chosen token's entry (if listed) has its log-prob."""
    assert len(generation.alternatives) == len(generation.token_ids)
    for i, (token_id, logprob, alts) in enumerate(zip(generation.token_ids, generation.logprobs,
                                                      generation.alternatives)):
        dist = step_distribution(lm, prompt + generation.token_ids[:i])
        values = [alt["logprob"] for alt in alts]
        assert len(alts) == min(k, len(dist)) and values == sorted(values, reverse=True)
        numpy.testing.assert_allclose(values, numpy.sort(dist)[::-1][:len(alts)], rtol=1e-5, atol=1e-6)
        for alt in alts:
            assert alt["token"] == lm.lm_vocab.string_of(alt["token_id"])
            assert alt["logprob"] == pytest.approx(float(dist[alt["token_id"]]), abs=1e-6)
        assert logprob == pytest.approx(float(dist[token_id]), abs=1e-5)


def test_no_alternatives_by_default_and_none_in_the_dict():
    gen = generate(random_lm(), [[2]], GenerationConfig(max_new_tokens=4))[0][0]
    assert gen.alternatives is None and "alternatives" not in gen.to_dict()
    assert Generation.from_dict(gen.to_dict()) == gen


def test_greedy_alternatives_start_with_the_chosen_token():
    lm = random_lm()
    prompts = [[2], [], [5, 3]]
    for prompt, (gen,) in zip(prompts, generate(lm, prompts, GenerationConfig(max_new_tokens=6, top_alternatives=4))):
        assert gen.token_ids
        check_alternatives(lm, prompt, gen, 4)
        assert [alts[0]["token_id"] for alts in gen.alternatives] == gen.token_ids
        assert [alts[0]["logprob"] for alts in gen.alternatives] == pytest.approx(gen.logprobs, abs=1e-6)


def test_alternatives_are_the_models_log_probs_before_processors_and_warpers():
    """Temperature, top-k, repetition penalty and min_new_tokens change what is chosen, not
    what is recorded: the raw distribution, so a banned <eos> can lead the list."""
    lm = random_lm(eos_bias=6.0)  # <eos> is the most likely token everywhere
    config = GenerationConfig(max_new_tokens=5, min_new_tokens=5, do_sample=True, seed=1, temperature=0.7,
                              top_k=3, repetition_penalty=1.3, num_return_sequences=2, top_alternatives=3)
    for gen in generate(lm, [[2]], config)[0]:
        assert len(gen.token_ids) == 5 and lm.lm_vocab.eos_id not in gen.token_ids
        check_alternatives(lm, [2], gen, 3)
        assert all(alts[0]["token"] == "<eos>" for alts in gen.alternatives)


@pytest.mark.parametrize("num_beams", [2, 4])
def test_beam_alternatives_follow_each_hypothesis_prefix(num_beams):
    lm = random_lm(seed=3)
    config = GenerationConfig(max_new_tokens=6, num_beams=num_beams, num_return_sequences=num_beams,
                              top_alternatives=5)
    results = generate(lm, [[2], [4, 7]], config)
    for prompt, gens in zip([[2], [4, 7]], results):
        assert len({tuple(g.token_ids) for g in gens}) > 1  # distinct hypotheses, distinct histories
        for gen in gens:
            check_alternatives(lm, prompt, gen, 5)


def test_alternatives_clamp_to_the_vocabulary_survive_msgpack_and_empty_runs():
    lm = random_lm(n_vocab=6)
    gen = generate(lm, [[2]], GenerationConfig(max_new_tokens=3, top_alternatives=50))[0][0]
    assert all(len(alts) == 6 for alts in gen.alternatives)
    assert Generation.from_dict(srsly.msgpack_loads(srsly.msgpack_dumps(gen.to_dict()))) == gen
    assert Generation.from_dict(srsly.json_loads(srsly.json_dumps(gen.to_dict()))) == gen
    empty = generate(lm, [[2]], GenerationConfig(max_new_tokens=0, top_alternatives=2))[0][0]
    assert empty.alternatives == [] and empty.token_ids == []


def test_lstm_alternatives_through_the_protocol(lstm):
    prompt = ids_of(lstm, "the cat")
    for config in (GenerationConfig(max_new_tokens=4, top_alternatives=3),
                   GenerationConfig(max_new_tokens=4, num_beams=2, top_alternatives=3)):
        gen = generate(lstm, [prompt], config)[0][0]
        check_alternatives(lstm, prompt, gen, 3)


@pytest.mark.gpu
def test_cupy_alternatives_match_numpy():
    from thinc.api import CupyOps

    for config in (GenerationConfig(max_new_tokens=6, top_alternatives=4),
                   GenerationConfig(max_new_tokens=6, num_beams=3, top_alternatives=4)):
        host = generate(random_lm(seed=3), [[2], []], config)
        device = generate(random_lm(seed=3, ops=CupyOps()), [[2], []], config)
        for h, d in zip(host, device):
            assert [[[a["token_id"] for a in step] for step in g.alternatives] for g in d] == \
                [[[a["token_id"] for a in step] for step in g.alternatives] for g in h]
