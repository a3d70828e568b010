"""Decoding against the LanguageModel protocol: a toy bigram LM (every expectation computable)
and the tiny trained `lstm_lm` (the real thing)."""
from typing import List, Sequence

import numpy
import pytest
import srsly
from thinc.api import NumpyOps

from spacy_lm.decoding import Generation, GenerationConfig, StreamToken, generate, stream
from spacy_lm.types import is_language_model
from spacy_lm.text.vocab import TokenVocab

EOS = 1


class BigramLM:
    """A fixed bigram table: the next token depends only on the previous one (``<eos>`` before
    the first). Counts calls, so tests can see that no prefix is read twice."""

    def __init__(self, logits: numpy.ndarray, ops=None) -> None:
        n_vocab = logits.shape[0]
        self.lm_vocab = TokenVocab(["<unk>", "<eos>"] + [f"w{i}" for i in range(2, n_vocab)])
        self.ops = ops if ops is not None else NumpyOps()
        logits = logits.astype("float64")
        log_z = numpy.log(numpy.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True))
        self.host_table = (logits - logits.max(1, keepdims=True) - log_z).astype("float32")
        self.table = self.ops.asarray(self.host_table)
        self.n_prime = 0
        self.step_rows: List[int] = []

    def initial_state(self, batch_size: int):
        return self.ops.asarray1i(numpy.full(batch_size, EOS, dtype="int32"))

    def prime(self, prompts: Sequence[Sequence[int]]):
        self.n_prime += 1
        last = self.ops.asarray1i(numpy.asarray([p[-1] if len(p) else EOS for p in prompts], dtype="int32"))
        return self.table[last], last

    def step(self, state, token_ids):
        ids = self.ops.asarray1i(token_ids)
        self.step_rows.append(len(ids))
        return self.table[ids], ids

    def select_state(self, state, indices):
        return state[self.ops.asarray1i(indices)]


def random_lm(n_vocab: int = 12, seed: int = 0, scale: float = 2.0, eos_bias: float = 0.0, ops=None) -> BigramLM:
    logits = numpy.random.default_rng(seed).normal(size=(n_vocab, n_vocab)) * scale
    logits[:, EOS] += eos_bias
    return BigramLM(logits, ops=ops)


def flat_lm(n_vocab: int = 30) -> BigramLM:
    """Almost uniform, rarely ending: samples from different seeds cannot coincide."""
    return random_lm(n_vocab, seed=1, scale=0.1, eos_bias=-4.0)


def chain_lm(n_vocab: int = 8) -> BigramLM:
    """w2 -> w3 -> ... -> w(V-1) -> w2 with high probability; greedy decoding cycles."""
    logits = numpy.full((n_vocab, n_vocab), -4.0)
    for i in range(n_vocab):
        logits[i, 2 if i < 2 or i == n_vocab - 1 else i + 1] = 4.0
    logits[:, EOS] = -6.0
    return BigramLM(logits)


def as_tuples(generation: Generation):
    return list(zip(generation.token_ids, generation.tokens, generation.logprobs))


def sequence_logprob(lm, prompt: List[int], generation: Generation) -> float:
    """log P(tokens, then <eos> if the sequence ended with it), each prefix read anew."""
    ids = list(generation.token_ids) + ([lm.lm_vocab.eos_id] if generation.finish_reason == "eos" else [])
    total = 0.0
    for i, token_id in enumerate(ids):
        log_probs, _ = lm.prime([prompt + ids[:i]])
        total += float(lm.ops.to_numpy(log_probs)[0, token_id])
    return total


@pytest.fixture
def lstm(trained_lm):
    nlp, _ = trained_lm
    return nlp.get_pipe("lstm_lm")


def ids_of(lm, text: str) -> List[int]:
    return [lm.lm_vocab.id_of(w) for w in text.split()]


LSTM_PROMPTS = ["the cat", "a dog saw", "", "the"]


def test_toy_and_lstm_implement_the_protocol(lstm):
    assert is_language_model(random_lm())
    assert is_language_model(lstm)
    with pytest.raises(TypeError, match="LanguageModel protocol"):
        generate(object(), [[2]])


NAN_CONFIGS = [GenerationConfig(max_new_tokens=5), GenerationConfig(max_new_tokens=5, do_sample=True, seed=0),
               GenerationConfig(max_new_tokens=5, num_beams=3),
               GenerationConfig(max_new_tokens=5, min_new_tokens=3, do_sample=True, top_k=2, seed=0)]


@pytest.mark.parametrize("config", NAN_CONFIGS)
@pytest.mark.parametrize("nan_row", [EOS, 3])  # read by prime (empty prompt), or by the first step
def test_non_finite_log_probs_raise_e079_naming_the_lm(config, nan_row):
    """NaN from the model is caught where the LM's log-probs come in, before the processors'
    own -inf bans (which are no error: min_new_tokens and top_k run fine on finite rows)."""
    lm = chain_lm()  # greedy from <eos>: w2, then w3 (read by the first step)
    lm.name = "toy_lm"
    assert generate(lm, [[]], config)[0][0].token_ids
    lm.table[nan_row, 4] = numpy.nan
    with pytest.raises(ValueError, match=r"\[E079\] 'toy_lm' computed log-probabilities that are not finite"):
        generate(lm, [[]], config)
    with pytest.raises(ValueError, match=r"\[E079\] 'toy_lm'"):
        list(stream(lm, [], config))


# ---------------------------------------------------------------------------- greedy
def test_greedy_is_argmax_of_full_forward_lstm(lstm):
    config = GenerationConfig(max_new_tokens=8)
    prompts = [ids_of(lstm, t) for t in LSTM_PROMPTS]
    for prompt, (gen,) in zip(prompts, generate(lstm, prompts, config)):
        expected = gen.token_ids + ([lstm.lm_vocab.eos_id] if gen.finish_reason == "eos" else [])
        assert expected, "greedy produced nothing to check"
        for i, token_id in enumerate(expected):
            log_probs, _ = lstm.prime([prompt + gen.token_ids[:i]])
            log_probs = lstm.ops.to_numpy(log_probs)[0]
            assert int(log_probs.argmax()) == token_id
            if i < len(gen.token_ids):
                assert gen.logprobs[i] == pytest.approx(float(log_probs[token_id]), abs=1e-5)
        assert gen.score == pytest.approx(sum(gen.logprobs))
        assert gen.tokens == [lstm.lm_vocab.string_of(i) for i in gen.token_ids]


def test_greedy_is_argmax_of_bigram_table():
    lm = random_lm()
    (gen,), = generate(lm, [[3]], GenerationConfig(max_new_tokens=10))
    previous = 3
    for token_id, logprob in zip(gen.token_ids, gen.logprobs):
        assert token_id == int(lm.host_table[previous].argmax())
        assert logprob == pytest.approx(float(lm.host_table[previous, token_id]))
        previous = token_id
    if gen.finish_reason == "eos":
        assert int(lm.host_table[previous].argmax()) == EOS
    else:
        assert gen.finish_reason == "length" and len(gen.token_ids) == 10


def test_prime_once_and_only_running_rows_step():
    lm = random_lm(eos_bias=1.0)
    prompts = [[2], [3, 4], [], [5]]
    results = generate(lm, prompts, GenerationConfig(max_new_tokens=6))
    assert lm.n_prime == 1
    assert len(lm.step_rows) <= 5  # the first token comes from prime
    assert lm.step_rows == sorted(lm.step_rows, reverse=True)
    lengths = [len(r[0].token_ids) for r in results]
    # A row steps once per token after its first, unless that token ended it.
    for n_steps, n_rows in enumerate(lm.step_rows, start=1):
        assert n_rows == sum(1 for r in results if len(r[0].token_ids) > n_steps
                             or (len(r[0].token_ids) == n_steps and r[0].finish_reason == "eos"))
    assert max(lengths) > 0


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


def test_num_beams_1_equals_greedy(lstm):
    prompts = [ids_of(lstm, t) for t in LSTM_PROMPTS]
    beam = GenerationConfig(max_new_tokens=8, num_beams=3)
    greedy = generate(lstm, prompts, GenerationConfig(max_new_tokens=8))
    one_beam = generate(lstm, prompts, beam.replace(num_beams=1))
    assert [as_tuples(g[0]) for g in one_beam] == [as_tuples(g[0]) for g in greedy]
    assert [g[0].score for g in one_beam] == [g[0].score for g in greedy]


def test_batch_equals_each_prompt_alone(lstm):
    toy = random_lm(eos_bias=0.5)
    cases = ((toy, [[2], [3, 4, 5], [], [0, 0]]), (lstm, [ids_of(lstm, t) for t in LSTM_PROMPTS]))
    for config in (GenerationConfig(max_new_tokens=7), GenerationConfig(max_new_tokens=7, num_beams=3,
                                                                         num_return_sequences=2)):
        for lm, prompts in cases:
            batched = generate(lm, prompts, config)
            for prompt, together in zip(prompts, batched):
                (alone,) = generate(lm, [prompt], config)
                assert [g.token_ids for g in together] == [g.token_ids for g in alone]
                assert [g.score for g in together] == pytest.approx([g.score for g in alone], abs=1e-5)


def test_empty_and_unknown_prompts(lstm):
    unk = lstm.lm_vocab.unk_id
    for config in (GenerationConfig(max_new_tokens=5), GenerationConfig(max_new_tokens=5, num_beams=2),
                   GenerationConfig(max_new_tokens=5, do_sample=True, seed=0)):
        results = generate(lstm, [[], [unk, unk, unk], ids_of(lstm, "zebra xylophone")], config)
        assert len(results) == 3
        for (gen,) in results:
            assert gen.finish_reason in ("eos", "length") and len(gen.token_ids) <= 5
            assert all(0 <= i < len(lstm.lm_vocab) for i in gen.token_ids)
    assert generate(lstm, [], GenerationConfig()) == []


def test_out_of_vocabulary_ids_are_errors():
    with pytest.raises(ValueError, match="outside the vocabulary"):
        generate(random_lm(), [[2, 99]])
    with pytest.raises(ValueError, match="stop_token_ids"):
        generate(random_lm(), [[2]], GenerationConfig(stop_token_ids=[99]))


# ---------------------------------------------------------------------------- lengths and stops
def test_max_new_tokens_bounds_the_output():
    lm = flat_lm()
    for n in (0, 1, 7):
        for config in (GenerationConfig(max_new_tokens=n), GenerationConfig(max_new_tokens=n, do_sample=True, seed=0),
                       GenerationConfig(max_new_tokens=n, num_beams=2)):
            for (gen, *_) in generate(lm, [[2], []], config):
                assert len(gen.token_ids) <= n
                assert (gen.finish_reason == "length") == (len(gen.token_ids) == n)


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


def test_stop_strings_end_the_text():
    lm = chain_lm()
    (plain,), = generate(lm, [[2]], GenerationConfig(max_new_tokens=10))
    assert plain.tokens[:4] == ["w3", "w4", "w5", "w6"]
    for stops, last in ((["w5"], "w5"), (["4 w5 w"], "w6"), (["w"], "w3"), (["zzz", "w4 w5"], "w5")):
        for config in (GenerationConfig(max_new_tokens=10, stop_strings=stops),
                       GenerationConfig(max_new_tokens=10, stop_strings=stops, num_beams=2)):
            gen = generate(lm, [[2]], config)[0][0]
            text = " ".join(gen.tokens)
            assert gen.finish_reason == "stop_string" and gen.tokens[-1] == last
            assert any(s in text for s in stops)
            assert not any(s in " ".join(gen.tokens[:-1]) for s in stops)
    # Stop strings are searched in what detokenize makes of the generated tokens only.
    gen = generate(lm, [[2]], GenerationConfig(max_new_tokens=10, stop_strings=["34"]),
                   detokenize=lambda tokens: "".join(t[1:] for t in tokens))[0][0]
    assert gen.tokens == ["w3", "w4"] and gen.finish_reason == "stop_string"


def test_stop_token_ids_end_and_are_kept():
    lm = chain_lm()
    gen = generate(lm, [[2]], GenerationConfig(max_new_tokens=10, stop_token_ids=[5]))[0][0]
    assert gen.token_ids == [3, 4, 5] and gen.finish_reason == "stop_token"


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


# ---------------------------------------------------------------------------- sampling
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


# ---------------------------------------------------------------------------- beam search
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


# ---------------------------------------------------------------------------- streaming
def stream_tuples(lm, prompt, config, **kwargs):
    return [(t.token_id, t.token, t.logprob) for t in stream(lm, prompt, config, **kwargs)]


def test_stream_equals_generate(lstm):
    configs = [
        GenerationConfig(max_new_tokens=10),
        GenerationConfig(max_new_tokens=10, do_sample=True, seed=11),
        GenerationConfig(max_new_tokens=10, do_sample=True, seed=12, num_return_sequences=3, top_p=0.95),
        GenerationConfig(max_new_tokens=10, num_beams=3),
        GenerationConfig(max_new_tokens=10, num_beams=4, num_return_sequences=2, length_penalty=0.5),
        GenerationConfig(max_new_tokens=10, num_beams=2, early_stopping=True),
        GenerationConfig(max_new_tokens=10, do_sample=True, seed=3, stop_strings=["w7"]),
    ]
    cases = [(random_lm(seed=s, eos_bias=0.5), [2]) for s in range(3)] + [(flat_lm(), [])]
    cases += [(lstm, ids_of(lstm, t)) for t in LSTM_PROMPTS[:2]]
    for lm, prompt in cases:
        for config in configs:
            expected = as_tuples(generate(lm, [prompt], config)[0][0])
            assert stream_tuples(lm, prompt, config) == expected


def test_stream_yields_before_the_end():
    lm = flat_lm()
    tokens = stream(lm, [2], GenerationConfig(max_new_tokens=5, do_sample=True, seed=0))
    first = next(tokens)
    assert isinstance(first, StreamToken) and lm.step_rows == []  # decided from prime alone
    assert len(list(tokens)) == 4
    # Beams that agree early stream early: here every beam starts with w3.
    chain = chain_lm()
    beams = stream(chain, [2], GenerationConfig(max_new_tokens=6, num_beams=2, length_penalty=0.0))
    assert next(beams).token_id == 3 and len(chain.step_rows) < 5


# ---------------------------------------------------------------------------- settings
@pytest.mark.parametrize("overrides,match", [
    ({"top_p": 1.5}, "top_p"),
    ({"top_p": 0.0}, "top_p"),
    ({"do_sample": True, "temperature": 0.0}, "temperature"),
    ({"max_new_tokens": -1}, "max_new_tokens"),
    ({"min_new_tokens": -1}, "min_new_tokens"),
    ({"min_new_tokens": 5, "max_new_tokens": 3}, "min_new_tokens"),
    ({"num_beams": 2, "num_return_sequences": 3}, "num_return_sequences"),
    ({"num_return_sequences": 2}, "num_return_sequences"),
    ({"num_beams": 2, "do_sample": True}, "not supported"),
    ({"typical_p": 0.0}, "typical_p"),
    ({"min_p": 1.5}, "min_p"),
    ({"repetition_penalty": 0.0}, "repetition_penalty"),
    ({"top_k": -1}, "top_k"),
    ({"stop_strings": [""]}, "stop_strings"),
    ({"top_alternatives": -1}, "top_alternatives"),
    ({"top_alternatives": 1.5}, "top_alternatives"),
])
def test_invalid_settings_are_clear_errors(overrides, match):
    with pytest.raises(ValueError, match=match):
        GenerationConfig(**overrides)
    with pytest.raises(ValueError, match=match):
        GenerationConfig().replace(**overrides)


def test_replace_rejects_unknown_settings():
    with pytest.raises(ValueError, match="max_length") as info:
        GenerationConfig().replace(max_length=5)
    assert "max_new_tokens" in str(info.value)  # the valid names are listed
    config = GenerationConfig().replace(max_new_tokens=3, stop_strings="end")
    assert config.max_new_tokens == 3 and config.stop_strings == ("end",)
    assert GenerationConfig().max_new_tokens == 20


def test_generation_is_msgpack_serializable():
    gen = generate(random_lm(), [[2]], GenerationConfig(max_new_tokens=5, do_sample=True, seed=0))[0][0]
    data = srsly.msgpack_loads(srsly.msgpack_dumps(gen.to_dict()))
    assert Generation.from_dict(data) == gen
    assert all(type(i) is int for i in data["token_ids"]) and type(data["score"]) is float


# ---------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_cupy_arrays_decode_like_numpy():
    from thinc.api import CupyOps

    configs = [GenerationConfig(max_new_tokens=8), GenerationConfig(max_new_tokens=8, num_beams=3),
               GenerationConfig(max_new_tokens=8, do_sample=True, seed=0, top_k=5, top_p=0.9, typical_p=0.9,
                                min_p=0.05, repetition_penalty=1.3, no_repeat_ngram_size=2, min_new_tokens=2)]
    for config in configs:
        host = generate(random_lm(seed=3), [[2], []], config)
        device = generate(random_lm(seed=3, ops=CupyOps()), [[2], []], config)
        assert [[g.token_ids for g in r] for r in device] == [[g.token_ids for g in r] for r in host]


@pytest.mark.parametrize("overrides,code", [
    ({"num_beams": 2, "do_sample": True}, "E068"),
    ({"num_return_sequences": 2}, "E069"),
    ({"num_beams": 2, "num_return_sequences": 3}, "E009"),
    ({"top_p": 0.0}, "E009"),
])
def test_generation_config_errors_are_coded(overrides, code):
    with pytest.raises(ValueError, match=rf"\[{code}\]"):
        GenerationConfig(**overrides)
    with pytest.raises(ValueError, match=r"\[E070\] Unknown generation setting\(s\) \['max_length'\]"):
        GenerationConfig().replace(max_length=5)


def test_decoding_input_errors_are_coded():
    with pytest.raises(TypeError, match=r"\[E071\] object does not implement"):
        generate(object(), [[2]])
    with pytest.raises(ValueError, match=r"\[E072\] Prompt 1 has token ids \[99\]"):
        generate(random_lm(), [[2], [2, 99]])
    with pytest.raises(ValueError, match=r"\[E009\] stop_token_ids .*\[99\]"):
        generate(random_lm(), [[2]], GenerationConfig(stop_token_ids=[99]))
    lm = random_lm()
    lm.lm_vocab = None
    with pytest.raises(ValueError, match=r"\[E005\] 'BigramLM' is not initialized"):
        generate(lm, [[2]])


class ConditionedLM:
    """How a conditional model (a sentence VAE's z, a translator's source) meets the decoder:
    the condition rides in the state and is reordered with it; prompts are target prefixes.
    Here the condition of row i is a token that the row's distribution is pushed towards."""

    def __init__(self, base: BigramLM, conditions: Sequence[int], boost: float = 8.0) -> None:
        self.base = base
        self.lm_vocab = base.lm_vocab
        self.ops = base.ops
        self.conditions = numpy.asarray(conditions, dtype="int32")
        self.boost = boost

    def _condition(self, log_probs, conditions):
        scores = numpy.array(log_probs, dtype="float64")
        scores[numpy.arange(len(conditions)), conditions] += self.boost
        scores -= numpy.log(numpy.exp(scores).sum(axis=1, keepdims=True))
        return scores.astype("float32")

    def initial_state(self, batch_size: int):
        return self.base.initial_state(batch_size), self.conditions[:batch_size].copy()

    def prime(self, prompts):
        log_probs, state = self.base.prime(prompts)
        conditions = self.conditions[: len(prompts)].copy()
        return self._condition(log_probs, conditions), (state, conditions)

    def step(self, state, token_ids):
        base_state, conditions = state
        log_probs, base_state = self.base.step(base_state, token_ids)
        return self._condition(log_probs, conditions), (base_state, conditions)

    def select_state(self, state, indices):
        base_state, conditions = state
        return self.base.select_state(base_state, indices), conditions[numpy.asarray(indices)]


@pytest.mark.parametrize("num_beams", [1, 3])
def test_a_conditional_model_decodes_through_the_protocol(num_beams):
    base = random_lm(n_vocab=10, seed=2, eos_bias=-6.0)
    lm = ConditionedLM(base, conditions=[4, 7])
    assert is_language_model(lm)
    config = GenerationConfig(max_new_tokens=4, num_beams=num_beams, num_return_sequences=num_beams)
    # The prompts are target prefixes: token 7 in the first prompt is neither checked against
    # its condition (4) nor counted as anything but the target's own history.
    results = generate(lm, [[7, 2], [3]], config)
    for generations, condition in zip(results, [4, 7]):
        assert len(generations) == num_beams
        for generation in generations:  # beams were reordered: each kept its own condition
            assert generation.token_ids.count(condition) >= 3


# ---------------------------------------------------------------------------- top alternatives per step
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
