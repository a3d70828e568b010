"""HF beam search (spacy_lm.decoding.beam_search)."""
import numpy
import pytest

from spacy_lm.decoding import GenerationConfig, generate

from .toy_lms import EOS, BigramLM, random_lm, as_tuples, sequence_logprob, ids_of, LSTM_PROMPTS


def test_num_beams_1_equals_greedy(lstm):
    prompts = [ids_of(lstm, t) for t in LSTM_PROMPTS]
    beam = GenerationConfig(max_new_tokens=8, num_beams=3)
    greedy = generate(lstm, prompts, GenerationConfig(max_new_tokens=8))
    one_beam = generate(lstm, prompts, beam.replace(num_beams=1))
    assert [as_tuples(g[0]) for g in one_beam] == [as_tuples(g[0]) for g in greedy]
    assert [g[0].score for g in one_beam] == [g[0].score for g in greedy]


@pytest.mark.parametrize("early_stopping", [False, True])
def test_beams_sorted_and_best_beats_greedy(lstm, early_stopping):
    config = GenerationConfig(max_new_tokens=8, num_beams=4, num_return_sequences=4, length_penalty=0.0,
                              early_stopping=early_stopping)
    cases = [(random_lm(seed=s, eos_bias=1.0), [[2], [5], []]) for s in range(3)]
    cases.append((lstm, [ids_of(lstm, t) for t in LSTM_PROMPTS]))
    for lm, prompts in cases:
        greedy = generate(lm, prompts, GenerationConfig(max_new_tokens=8))
        beams = generate(lm, prompts, config)
        for prompt, (best_greedy,), hyps in zip(prompts, greedy, beams):
            assert len(hyps) == 4
            scores = [h.score for h in hyps]
            assert scores == sorted(scores, reverse=True)
            for hyp in hyps:  # with length_penalty=0 a score is the raw log-prob sum, <eos> included
                assert hyp.score == pytest.approx(sequence_logprob(lm, prompt, hyp), abs=1e-4)
            assert hyps[0].score >= sequence_logprob(lm, prompt, best_greedy) - 1e-4
            assert len({tuple(h.token_ids) + (h.finish_reason,) for h in hyps}) == 4


def test_beam_score_is_length_penalised():
    lm = random_lm(seed=1, eos_bias=1.0)
    for length_penalty in (1.0, 2.0):
        config = GenerationConfig(max_new_tokens=8, num_beams=3, num_return_sequences=3, length_penalty=length_penalty)
        for hyp in generate(lm, [[2]], config)[0]:
            steps = len(hyp.token_ids) + (hyp.finish_reason == "eos")
            assert hyp.score == pytest.approx(sequence_logprob(lm, [2], hyp) / steps ** length_penalty, abs=1e-4)


def test_beam_search_prefers_the_better_path():
    """Greedy takes the likelier first token, beam search the likelier sequence."""
    logits = numpy.full((6, 6), -8.0)
    logits[EOS, 2], logits[EOS, 3] = 1.0, 0.8  # first token: w2 (0.55) or w3 (0.45)
    logits[2, 4], logits[2, 5] = 0.0, 0.0      # after w2 a coin toss between w4 and w5
    logits[3, 4] = 5.0                          # after w3 w4, nearly certain
    logits[4:, EOS] = 5.0
    lm = BigramLM(logits)
    greedy = generate(lm, [[]], GenerationConfig(max_new_tokens=4))[0][0]
    beam = generate(lm, [[]], GenerationConfig(max_new_tokens=4, num_beams=2))[0][0]
    assert greedy.token_ids[0] == 2 and beam.token_ids == [3, 4] and beam.finish_reason == "eos"


def test_beam_early_stopping():
    """True: stop once num_beams hypotheses are finished. False: once, besides, no running beam
    can beat the worst finished one."""
    steps = {}
    for early_stopping in (True, False):
        lm = random_lm(seed=0, eos_bias=2.0)
        config = GenerationConfig(max_new_tokens=30, num_beams=3, num_return_sequences=3, length_penalty=0.0,
                                  early_stopping=early_stopping)
        hyps = generate(lm, [[2]], config)[0]
        assert [h.finish_reason for h in hyps] == ["eos"] * 3
        steps[early_stopping] = len(lm.step_rows)
    assert steps[True] < steps[False] < 29
