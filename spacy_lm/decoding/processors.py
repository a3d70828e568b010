"""HuggingFace's logits processors (repetition penalty, no-repeat n-grams, min_new_tokens),
applied in HF's order to the model's log-probabilities, then the sampling warpers."""
from typing import List, Tuple

from .context import DecodingContext
from .outputs import Hypothesis
from .warpers import NEG_INF, warp


def initial_seen(ctx: DecodingContext, rows: List[Hypothesis]):
    """(rows, V) mask of the tokens each row has read, for ``repetition_penalty``."""
    if ctx.config.repetition_penalty == 1.0:
        return None
    seen = ctx.xp.zeros((len(rows), len(ctx.vocab)), dtype="bool")
    pairs = [(r, t) for r, row in enumerate(rows) for t in ctx.prompts[row.prompt]]
    if pairs:
        r_idx, t_idx = zip(*pairs)
        seen[ctx.ops.asarray1i(list(r_idx)), ctx.ops.asarray1i(list(t_idx))] = True
    return seen


def apply_processors(ctx: DecodingContext, log_probs, rows: List[Hypothesis], seen, step: int):
    """Next-token scores after HF's processors (and, when sampling, its warpers), in HF's order.
    Bans are written into ``log_probs`` itself (the protocol gives the caller the returned
    array), saving a (rows x vocab) copy a step: a banned entry is never chosen, so the
    log-probs read later for chosen tokens are the model's own. Processors that change
    values (repetition penalty, warpers) work on a copy."""
    xp = ctx.xp
    config = ctx.config
    scores = log_probs
    if seen is not None:
        penalty = config.repetition_penalty
        scores = xp.where(seen, xp.where(scores < 0, scores * penalty, scores / penalty), scores)
    banned: List[Tuple[int, int]] = []
    if config.no_repeat_ngram_size:
        n = config.no_repeat_ngram_size
        banned = [(r, t) for r, row in enumerate(rows)
                  for t in _repeated_ngram_ends(ctx.prompts[row.prompt] + row.token_ids, n)]
    ending_banned = step < config.min_new_tokens
    if banned or ending_banned:
        _ban(ctx, scores, banned)
        if ending_banned:
            scores[:, ctx.ops.asarray1i([ctx.eos, *sorted(ctx.stop_ids)])] = NEG_INF
        # A row with nothing left to choose ends: argmax and softmax cannot work on only -inf.
        dead = ~xp.isfinite(scores.max(axis=1))
        scores[:, ctx.eos] = xp.where(dead, 0.0, scores[:, ctx.eos])
    if config.do_sample:
        scores = warp(ctx.ops, scores, config)
    return scores


def _repeated_ngram_ends(sequence: List[int], n: int) -> List[int]:
    """Tokens that would repeat an n-gram of ``sequence`` if they came next (HF's NoRepeatNGram)."""
    if len(sequence) + 1 < n:
        return []
    prefix = sequence[len(sequence) - n + 1:] if n > 1 else []
    return [sequence[i + n - 1] for i in range(len(sequence) - n + 1) if sequence[i:i + n - 1] == prefix]


def _ban(ctx: DecodingContext, scores, pairs: List[Tuple[int, int]]) -> None:
    if pairs:
        rows, cols = zip(*pairs)
        scores[ctx.ops.asarray1i(list(rows)), ctx.ops.asarray1i(list(cols))] = NEG_INF
