"""HF's logits processors (spacy_lm.decoding.processors): min_new_tokens, no-repeat
n-grams, repetition penalty."""
import numpy
import pytest

from spacy_lm.decoding import GenerationConfig, generate

from .toy_lms import EOS, BigramLM, random_lm, flat_lm, chain_lm


def test_min_new_tokens_prevents_early_eos():
    logits = numpy.random.default_rng(0).normal(size=(10, 10))
    logits[:, EOS] = 5.0  # <eos> is everyone's favourite
    lm = BigramLM(logits)
    (gen,), = generate(lm, [[2]], GenerationConfig(max_new_tokens=8))
    assert gen.token_ids == [] and gen.finish_reason == "eos"
    for config in (GenerationConfig(max_new_tokens=8, min_new_tokens=3),
                   GenerationConfig(max_new_tokens=8, min_new_tokens=3, do_sample=True, seed=1),
                   GenerationConfig(max_new_tokens=8, min_new_tokens=3, num_beams=3)):
        for gen in generate(lm, [[2], []], config)[0]:
            assert len(gen.token_ids) == 3 and gen.finish_reason == "eos"


def test_no_repeat_ngram_size_1_repeats_nothing():
    lm = chain_lm()
    (cycling,), = generate(lm, [[2]], GenerationConfig(max_new_tokens=12))
    assert len(set(cycling.token_ids)) < len(cycling.token_ids)
    for config in (GenerationConfig(max_new_tokens=12, no_repeat_ngram_size=1),
                   GenerationConfig(max_new_tokens=12, no_repeat_ngram_size=1, do_sample=True, seed=0),
                   GenerationConfig(max_new_tokens=12, no_repeat_ngram_size=1, num_beams=3)):
        for gen in generate(lm, [[2]], config)[0]:
            assert len(set(gen.token_ids)) == len(gen.token_ids) and 2 not in gen.token_ids
    flat = flat_lm()
    gen = generate(flat, [[]], GenerationConfig(max_new_tokens=20, no_repeat_ngram_size=1, do_sample=True, seed=2))
    assert len(set(gen[0][0].token_ids)) == len(gen[0][0].token_ids) == 20


def test_no_repeat_ngram_size_2_repeats_no_bigram():
    lm = chain_lm()
    gen = generate(lm, [[2, 3]], GenerationConfig(max_new_tokens=12, no_repeat_ngram_size=2))[0][0]
    sequence = [2, 3] + gen.token_ids
    bigrams = list(zip(sequence, sequence[1:]))
    assert len(bigrams) == len(set(bigrams)) and len(gen.token_ids) > 4


def test_repetition_penalty_scales_seen_logprobs():
    """HF's penalty on log-probs: a seen token's (prompt included) log-prob times the penalty."""
    lm = random_lm(seed=2, scale=1.0)
    prompt = [3, 4]
    plain = generate(lm, [prompt], GenerationConfig(max_new_tokens=10))[0][0]
    penalised = generate(lm, [prompt], GenerationConfig(max_new_tokens=10, repetition_penalty=3.0))[0][0]
    assert penalised.token_ids != plain.token_ids
    seen = set(prompt)
    previous = prompt[-1]
    ended = [EOS] if penalised.finish_reason == "eos" else []
    for token_id, logprob in zip(penalised.token_ids + ended, penalised.logprobs + [None] * len(ended)):
        scores = lm.host_table[previous].copy()
        scores[list(seen)] *= 3.0
        assert int(scores.argmax()) == token_id
        if logprob is not None:  # logprobs stay the model's own, whatever the processors did
            assert logprob == pytest.approx(float(lm.host_table[previous, token_id]))
        seen.add(token_id)
        previous = token_id
