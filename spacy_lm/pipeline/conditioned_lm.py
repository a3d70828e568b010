"""One adapter from a conditioned decoder to the language-model protocol.

``sentence_vae`` decodes from latent codes ``z``, ``translator`` from encoded sources: both hold a
batch of start states (the condition rides in the state) and a decoder that steps from them
(:class:`spacy_lm.types.ConditionedDecoderModel`). :class:`ConditionedLM` serves
:class:`spacy_lm.types.LanguageModel` over them, so the one decoder (:mod:`spacy_lm.decoding`)
greedy-decodes, samples, beam-searches and streams both. Row ``i`` of a batch decodes condition
``i``, so ``initial_state`` and ``prime`` take exactly one row (prompt) per condition.
"""
from typing import Any, Dict, List, Sequence, Tuple

import numpy
from thinc.api import Ops
from thinc.types import Floats2d, Ints1d

from ..batching import stream_prefix
from ..errors import Errors
from ..text.vocab import TokenVocab
from ..types import ConditionedDecoderModel, State


class ConditionedLM:
    """The LanguageModel protocol over ``model`` started from ``start`` (``n_conditions`` rows).

    name: the component, for errors. conditions: what a row is conditioned on ("latent codes",
    "sources"). batch_error: the coded message for a batch of another size (E124, E134)."""

    def __init__(self, model: ConditionedDecoderModel, lm_vocab: TokenVocab, start: State, n_conditions: int,
                 *, name: str, conditions: str, batch_error: str = Errors.E134) -> None:
        self.model = model
        self.start = start
        self.n_conditions = n_conditions
        self.name = name
        self.conditions = conditions
        self.batch_error = batch_error
        self._lm_vocab = lm_vocab

    @property
    def lm_vocab(self) -> TokenVocab:
        return self._lm_vocab

    @property
    def ops(self) -> Ops:
        return self.model.ops

    def _check_batch(self, n: int) -> None:
        if n != self.n_conditions:
            held = self.n_conditions
            raise ValueError(self.batch_error.format(name=self.name, n=n, n_held=held, conditions=self.conditions,
                                                     n_z=held, n_sources=held))

    def initial_state(self, batch_size: int) -> State:
        self._check_batch(batch_size)
        return self.start

    def teacher_force(self, rows: Sequence[int], streams: Sequence[Sequence[int]]) -> Tuple[Any, State]:
        """Hidden states ``(T, len(rows), nO)`` of reading equal-length ``streams`` from the
        start states of ``rows``, and the state after them."""
        ids = self.ops.asarray(numpy.asarray(streams, dtype="int32").T.copy())
        start = self.model.select_state(self.start, self.ops.asarray(numpy.asarray(rows, dtype="int32")))
        return self.model.teacher_force(ids, start)

    def prime(self, prompts: Sequence[Sequence[int]]) -> Tuple[Floats2d, State]:
        """Read ``<eos>`` + each prompt from its condition's start state, prompts of one length
        in one teacher-forced pass: next-token log-probs and the state, in prompt order."""
        self._check_batch(len(prompts))
        streams = [stream_prefix(self.lm_vocab, p) for p in prompts]
        by_length: Dict[int, List[int]] = {}
        for i, s in enumerate(streams):
            by_length.setdefault(len(s), []).append(i)
        order, log_probs, states = [], [], []
        for rows in by_length.values():
            hidden, end = self.teacher_force(rows, [streams[i] for i in rows])
            log_probs.append(self.model.log_probs(hidden[-1]))
            states.append(end)
            order.extend(rows)
        if len(states) == 1 and order == sorted(order):
            return log_probs[0], states[0]
        inverse = numpy.argsort(numpy.asarray(order))
        state = self.model.select_state(self.model.concat_states(states), self.ops.asarray(inverse))
        return self.ops.xp.concatenate(log_probs, axis=0)[self.ops.asarray(inverse)], state

    def step(self, state: State, token_ids: Ints1d) -> Tuple[Floats2d, State]:
        return self.model.step(token_ids, state)

    def select_state(self, state: State, indices: Ints1d) -> State:
        return self.model.select_state(state, indices)
