"""The one decoding loop (:func:`generate`, :func:`stream`), shared by every strategy; the
contract it keeps is written in :mod:`spacy_lm.decoding`."""
from typing import Generator, Iterator, List, Optional, Sequence

import numpy

from ..types import LanguageModel
from .beam_search import BeamSearch
from .config import GenerationConfig
from .context import Detokenize, make_context, top_alternatives
from .outputs import Event, Generation, StreamToken
from .processors import apply_processors, initial_seen
from .sampling import Sampler


def generate(lm: LanguageModel, prompts: Sequence[Sequence[int]], config: Optional[GenerationConfig] = None,
             *, detokenize: Detokenize = " ".join) -> List[List[Generation]]:
    """Continue each prompt (token ids of ``lm.lm_vocab``; may be empty). Returns, per prompt,
    ``num_return_sequences`` generations (beam hypotheses best first)."""
    core = _decode(lm, prompts, config, detokenize, emit=False)
    while True:
        try:
            next(core)
        except StopIteration as stop:
            return stop.value


def stream(lm: LanguageModel, prompt: Sequence[int], config: Optional[GenerationConfig] = None,
           *, detokenize: Detokenize = " ".join) -> Iterator[StreamToken]:
    """Yield the first sequence ``generate`` returns for ``prompt``, token by token, as soon as
    each is decided. For beam search that is the prefix all beams (and kept finished
    hypotheses) agree on, then the rest of the best hypothesis at the end. All
    ``num_return_sequences`` rows still run, so random draws match ``generate``."""
    for _, token in _decode(lm, [prompt], config, detokenize, emit=True):
        yield token


def _decode(lm: LanguageModel, prompts: Sequence[Sequence[int]], config: Optional[GenerationConfig],
            detokenize: Detokenize, emit: bool) -> Generator[Event, None, List[List[Generation]]]:
    """The one decoding loop. Yields each prompt's first-sequence tokens as they are decided
    (only with ``emit``) and returns all generations."""
    ctx = make_context(lm, prompts, config, detokenize)
    search = (BeamSearch if ctx.config.num_beams > 1 else Sampler)(ctx, emit)
    if not ctx.prompts or ctx.config.max_new_tokens == 0:
        return search.results()
    ops = ctx.ops
    log_probs, state = lm.prime(ctx.prompts)
    ctx.check(log_probs)
    rows, expand = search.start()
    if expand is not None:
        index = ops.asarray1i(expand)
        state = lm.select_state(state, index)
        log_probs = log_probs[index]
    seen = initial_seen(ctx, rows)
    for step in range(ctx.config.max_new_tokens):
        # Before the processors: they write their bans into log_probs.
        alternatives = top_alternatives(ctx, log_probs) if ctx.config.top_alternatives else None
        scores = apply_processors(ctx, log_probs, rows, seen, step)
        n_rows = len(rows)
        rows, parents, token_ids = search.advance(scores, log_probs, rows, step, alternatives)
        yield from search.take_events()
        if not rows:
            break
        parents = numpy.asarray(parents, dtype="int32")
        tokens = ops.asarray1i(numpy.asarray(token_ids, dtype="int32"))
        if len(parents) != n_rows or numpy.any(parents != numpy.arange(n_rows)):
            index = ops.asarray1i(parents)
            state = lm.select_state(state, index)
            seen = None if seen is None else seen[index]
        if seen is not None:
            seen[ctx.xp.arange(len(rows)), tokens] = True
        log_probs, state = lm.step(state, tokens)
        ctx.check(log_probs)
    return search.results()
