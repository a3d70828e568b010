"""Language models for decoding tests: a toy bigram LM whose every expectation is computable, and
helpers that read the model anew to check what the decoder returned."""
from typing import List, Sequence

import numpy
from thinc.api import NumpyOps

from spacy_lm.decoding import Generation
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


def ids_of(lm, text: str) -> List[int]:
    return [lm.lm_vocab.id_of(w) for w in text.split()]


LSTM_PROMPTS = ["the cat", "a dog saw", "", "the"]
