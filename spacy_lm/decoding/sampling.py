"""Greedy decoding (argmax) and sampling (inverse CDF on host uniforms): one row per
returned sequence."""
from typing import List, Optional, Tuple

import numpy

from .context import DecodingContext, Strategy
from .outputs import Alternative, Generation, Hypothesis


class Sampler(Strategy):
    """Greedy decoding (argmax) or sampling; ``num_return_sequences`` rows per prompt."""

    def __init__(self, ctx: DecodingContext, emit: bool) -> None:
        super().__init__(ctx, emit)
        self.n = ctx.config.num_return_sequences
        self.rng = numpy.random.default_rng(ctx.config.seed) if ctx.config.do_sample else None
        self._results: List[List[Generation]] = [[ctx.empty() for _ in range(self.n)] for _ in ctx.prompts]

    def start(self) -> Tuple[List[Hypothesis], Optional[numpy.ndarray]]:
        rows = [self.ctx.new_hyp(p, j) for p in range(len(self.ctx.prompts)) for j in range(self.n)]
        expand = numpy.repeat(numpy.arange(len(self.ctx.prompts)), self.n) if self.n > 1 else None
        return rows, expand

    def choose(self, scores):
        """Row-wise argmax, or a draw by inverse CDF: host uniforms, arithmetic on ``ops.xp``."""
        xp = self.ctx.xp
        if self.rng is None:
            return xp.argmax(scores, axis=1)
        uniform = 1.0 - self.rng.random(scores.shape[0])  # in (0, 1]: a zero would pick token 0
        cdf = xp.cumsum(xp.exp(scores - scores.max(axis=1, keepdims=True)), axis=1)
        target = self.ctx.ops.asarray(uniform.astype(scores.dtype))[:, None] * cdf[:, -1:]
        return xp.minimum((cdf < target).sum(axis=1), scores.shape[1] - 1)

    def advance(self, scores, log_probs, rows: List[Hypothesis], step: int,
                alternatives: Optional[List[List[Alternative]]] = None):
        ids = self.choose(scores)
        logprobs = self._chosen_logprobs(log_probs, ids)
        kept, parents, tokens = [], [], []
        for r, (row, token_id, logprob) in enumerate(zip(rows, self.ctx.ops.to_numpy(ids).tolist(), logprobs)):
            if token_id == self.ctx.eos:
                self._finish(row, "eos")
                continue
            row.append(token_id, self.ctx.vocab.string_of(token_id), logprob,
                       None if alternatives is None else alternatives[r])
            if self.emit and row.index == 0:
                self._events.append((row.prompt, row.stream_token(-1)))
            reason = self.ctx.end_reason(row)
            if reason is not None:
                self._finish(row, reason)
            else:
                kept.append(row)
                parents.append(r)
                tokens.append(token_id)
        return kept, parents, tokens

    def _finish(self, row: Hypothesis, reason: str) -> None:
        self._results[row.prompt][row.index] = row.generation(sum(row.logprobs), reason)

    def results(self) -> List[List[Generation]]:
        return self._results
