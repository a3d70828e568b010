"""What one decoding call shares: the model, its vocabulary, the settings and the prompts
(:class:`DecodingContext`), and the contract of a decoding strategy (:class:`Strategy`)."""
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import numpy

from ..checks import require_finite
from ..errors import Errors
from ..text.vocab import TokenVocab
from ..types import LanguageModel, is_language_model
from .config import GenerationConfig
from .outputs import Alternative, Event, Generation, Hypothesis, empty_generation

Detokenize = Callable[[List[str]], str]


@dataclass
class DecodingContext:
    """What every decoding strategy needs: the model, its arrays, the settings, the prompts."""

    lm: LanguageModel
    vocab: TokenVocab
    config: GenerationConfig
    prompts: List[List[int]]
    detokenize: Detokenize
    stop_ids: frozenset

    @property
    def ops(self):
        return self.lm.ops

    @property
    def xp(self):
        return self.lm.ops.xp

    @property
    def eos(self) -> int:
        return self.vocab.eos_id

    @property
    def name(self) -> str:
        return getattr(self.lm, "name", type(self.lm).__name__)

    def check(self, log_probs) -> None:
        """E079 unless the LM's raw log-probs (before any ban) are all finite."""
        require_finite(self.xp, log_probs, name=self.name, what="log-probabilities")

    def new_hyp(self, prompt: int, index: int) -> Hypothesis:
        """A fresh row; it records alternatives only when they are asked for."""
        return Hypothesis(prompt, index, alternatives=[] if self.config.top_alternatives else None)

    def empty(self) -> Generation:
        return empty_generation(bool(self.config.top_alternatives))

    def end_reason(self, hyp: Hypothesis) -> Optional[str]:
        """Why ``hyp`` ends after its last (non-<eos>) token, if it does."""
        if hyp.token_ids[-1] in self.stop_ids:
            return "stop_token"
        if self.config.stop_strings:
            text = self.detokenize(hyp.tokens)
            if any(stop in text for stop in self.config.stop_strings):
                return "stop_string"
        if len(hyp.token_ids) >= self.config.max_new_tokens:
            return "length"
        return None


def make_context(lm: LanguageModel, prompts: Sequence[Sequence[int]], config: Optional[GenerationConfig],
                 detokenize: Detokenize) -> DecodingContext:
    if not is_language_model(lm):
        raise TypeError(Errors.E071.format(type=type(lm).__name__))
    config = GenerationConfig() if config is None else config
    config.validate()
    vocab = lm.lm_vocab
    if vocab is None:
        raise ValueError(Errors.E005.format(name=getattr(lm, "name", type(lm).__name__)))
    n_vocab = len(vocab)
    prompts = [[int(t) for t in prompt] for prompt in prompts]
    for i, prompt in enumerate(prompts):
        bad = [t for t in prompt if not 0 <= t < n_vocab]
        if bad:
            raise ValueError(Errors.E072.format(i=i, ids=bad[:5], last=n_vocab - 1))
    bad = [t for t in config.stop_token_ids if t >= n_vocab]
    if bad:
        raise ValueError(Errors.E009.format(setting="stop_token_ids", value=bad,
                                            requirement=f"ids inside the vocabulary (0..{n_vocab - 1})"))
    return DecodingContext(lm, vocab, config, prompts, detokenize, frozenset(config.stop_token_ids))


def top_alternatives(ctx: DecodingContext, log_probs) -> List[List[Alternative]]:
    """Per row, the ``top_alternatives`` most likely tokens of the model's own log-probs, best
    first (ties: lower id first, as argmax), as plain dicts on the host."""
    xp = ctx.xp
    n_vocab = log_probs.shape[1]
    k = min(ctx.config.top_alternatives, n_vocab)
    ids = xp.argpartition(log_probs, n_vocab - k, axis=1)[:, n_vocab - k:]
    values = ctx.ops.to_numpy(xp.take_along_axis(log_probs, ids, axis=1)).astype("float64")
    ids = ctx.ops.to_numpy(ids)
    string_of = ctx.vocab.string_of
    rows = []
    for row_ids, row_values in zip(ids, values):
        order = numpy.lexsort((row_ids, -row_values))
        rows.append([{"token_id": int(row_ids[j]), "token": string_of(int(row_ids[j])),
                      "logprob": float(row_values[j])} for j in order])
    return rows


class Strategy:
    """How rows advance one token; the loop in :func:`.decoder._decode` is shared by all strategies."""

    def __init__(self, ctx: DecodingContext, emit: bool) -> None:
        self.ctx = ctx
        self.emit = emit
        self._events: List[Event] = []

    def take_events(self) -> List[Event]:
        events, self._events = self._events, []
        return events

    def _chosen_logprobs(self, log_probs, ids) -> List[float]:
        """Unmodified log-probs of the chosen ids (one per row), on the host."""
        xp = self.ctx.xp
        return self.ctx.ops.to_numpy(log_probs[xp.arange(log_probs.shape[0]), ids]).tolist()
