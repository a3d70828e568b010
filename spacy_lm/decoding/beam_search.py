"""HuggingFace's beam search: ``2 * num_beams`` candidates a step, finished hypotheses kept by
length-penalised score; streaming emits the prefix every beam agrees on."""
from itertools import groupby
from typing import List, Optional, Tuple

import numpy

from .context import DecodingContext, Strategy
from .outputs import Alternative, Generation, Hypothesis


class BeamSearch(Strategy):
    """HF beam search: each step ranks ``2 * num_beams`` continuations of a prompt's beams."""

    def __init__(self, ctx: DecodingContext, emit: bool) -> None:
        super().__init__(ctx, emit)
        self.k = ctx.config.num_beams
        # Per prompt: kept finished hypotheses as (score, order of arrival, hyp, reason).
        self.finished: List[List[Tuple[float, int, Hypothesis, str]]] = [[] for _ in ctx.prompts]
        self.emitted = [0] * len(ctx.prompts)
        self._arrivals = 0

    def start(self) -> Tuple[List[Hypothesis], None]:
        return [self.ctx.new_hyp(p, 0) for p in range(len(self.ctx.prompts))], None

    def advance(self, scores, log_probs, rows: List[Hypothesis], step: int,
                alternatives: Optional[List[List[Alternative]]] = None):
        ids, values, logprobs = self._top_candidates(scores, log_probs)
        kept, parents, tokens = [], [], []
        for p, group in groupby(range(len(rows)), key=lambda r: rows[r].prompt):
            group = list(group)
            running = self._advance_prompt(p, group, rows, ids, values, logprobs, step, alternatives)
            if self._is_done(p, running, step):
                self._emit_final(p)
                continue
            for hyp, parent in running:
                kept.append(hyp)
                parents.append(parent)
                tokens.append(hyp.token_ids[-1])
            self._emit_agreed(p, [hyp for hyp, _ in running])
        return kept, parents, tokens

    def _top_candidates(self, scores, log_probs):
        """Each row's ``2 * num_beams`` best tokens (enough for any prompt), moved to the host."""
        xp = self.ctx.xp
        to_numpy = self.ctx.ops.to_numpy
        n_vocab = scores.shape[1]
        m = min(2 * self.k, n_vocab)
        ids = xp.argpartition(scores, n_vocab - m, axis=1)[:, n_vocab - m :]
        values = xp.take_along_axis(scores, ids, axis=1)
        logprobs = xp.take_along_axis(log_probs, ids, axis=1)
        return to_numpy(ids), to_numpy(values).astype("float64"), to_numpy(logprobs).astype("float64")

    def _advance_prompt(self, p: int, group: List[int], rows: List[Hypothesis], ids, values, logprobs,
                        step: int, alternatives: Optional[List[List[Alternative]]] = None
                        ) -> List[Tuple[Hypothesis, int]]:
        """Rank the continuations of prompt ``p``'s beams; file the finishing ones among the best
        ``num_beams``; return the next beams with their parent rows."""
        beam_scores = numpy.asarray([rows[r].score for r in group], dtype="float64")
        totals = (beam_scores[:, None] + values[group]).ravel()
        token_ids = ids[group].ravel()
        beam_of = numpy.repeat(numpy.arange(len(group)), ids.shape[1])
        order = numpy.lexsort((token_ids, beam_of, -totals))
        order = order[numpy.isfinite(totals[order])][: 2 * self.k]
        running: List[Tuple[Hypothesis, int]] = []
        for rank, c in enumerate(order.tolist()):
            parent_row = group[beam_of[c]]
            parent = rows[parent_row]
            token_id = int(token_ids[c])
            total = float(totals[c])
            if token_id == self.ctx.eos:
                hyp, reason = parent, "eos"
            else:
                hyp = parent.extended(token_id, self.ctx.vocab.string_of(token_id),
                                      float(logprobs[parent_row][c % ids.shape[1]]), total,
                                      None if alternatives is None else alternatives[parent_row])
                reason = self.ctx.end_reason(hyp)
            if reason is not None:
                if rank < self.k:
                    self._add_finished(p, hyp, total, step + 1, reason)
            elif len(running) < self.k:
                running.append((hyp, parent_row))
        return running

    def _add_finished(self, p: int, hyp: Hypothesis, total: float, steps: int, reason: str) -> None:
        score = total / steps ** self.ctx.config.length_penalty
        kept = self.finished[p]
        if len(kept) < self.k or score > min(entry[0] for entry in kept):
            self._arrivals += 1
            kept.append((score, self._arrivals, hyp, reason))
            if len(kept) > self.k:
                kept.remove(min(kept, key=lambda entry: (entry[0], -entry[1])))

    def _is_done(self, p: int, running: List[Tuple[Hypothesis, int]], step: int) -> bool:
        """HF's stopping rule: ``num_beams`` finished and (early_stopping, or no running beam can
        still beat the worst of them by the length-penalised heuristic)."""
        if not running:
            return True
        kept = self.finished[p]
        if len(kept) < self.k:
            return False
        if self.ctx.config.early_stopping:
            return True
        best_running = running[0][0].score / (step + 1) ** self.ctx.config.length_penalty
        return best_running <= min(entry[0] for entry in kept)

    def _ranked(self, p: int) -> List[Tuple[float, int, Hypothesis, str]]:
        return sorted(self.finished[p], key=lambda entry: (-entry[0], entry[1]))

    def _emit_agreed(self, p: int, running: List[Hypothesis]) -> None:
        """Emit the prefix shared by all beams and kept finished hypotheses: whatever wins has it."""
        if not self.emit:
            return
        sequences = [hyp.token_ids for hyp in running] + [entry[2].token_ids for entry in self.finished[p]]
        agreed = common_prefix_length(sequences)
        self._emit_upto(p, running[0], agreed)

    def _emit_final(self, p: int) -> None:
        if self.emit and self.finished[p]:
            best = self._ranked(p)[0][2]
            self._emit_upto(p, best, len(best.token_ids))

    def _emit_upto(self, p: int, hyp: Hypothesis, end: int) -> None:
        for i in range(self.emitted[p], end):
            self._events.append((p, hyp.stream_token(i)))
        self.emitted[p] = max(self.emitted[p], end)

    def results(self) -> List[List[Generation]]:
        n = self.ctx.config.num_return_sequences
        if self.ctx.config.max_new_tokens == 0:
            return [[self.ctx.empty() for _ in range(n)] for _ in self.ctx.prompts]
        return [[hyp.generation(score, reason) for score, _, hyp, reason in self._ranked(p)[:n]]
                for p in range(len(self.ctx.prompts))]


def common_prefix_length(sequences: List[List[int]]) -> int:
    if not sequences:
        return 0
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        token = sequences[0][i]
        if any(s[i] != token for s in sequences):
            return i
    return shortest
