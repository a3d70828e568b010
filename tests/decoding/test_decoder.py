"""The one decoding loop (spacy_lm.decoding.decoder) against the LanguageModel protocol: a toy
bigram LM (every expectation computable) and the tiny trained `lstm_lm` (the real thing)."""
from typing import Sequence

import numpy
import pytest

from spacy_lm.decoding import GenerationConfig, StreamToken, generate, stream
from spacy_lm.types import is_language_model

from .toy_lms import EOS, BigramLM, random_lm, flat_lm, chain_lm, as_tuples, ids_of, LSTM_PROMPTS


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


def test_max_new_tokens_bounds_the_output():
    lm = flat_lm()
    for n in (0, 1, 7):
        for config in (GenerationConfig(max_new_tokens=n), GenerationConfig(max_new_tokens=n, do_sample=True, seed=0),
                       GenerationConfig(max_new_tokens=n, num_beams=2)):
            for (gen, *_) in generate(lm, [[2], []], config):
                assert len(gen.token_ids) <= n
                assert (gen.finish_reason == "length") == (len(gen.token_ids) == n)


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
