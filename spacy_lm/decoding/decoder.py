"""Text generation for any :class:`spacy_lm.types.LanguageModel`: greedy, sampling, beam search.

Decoding is written once, against the protocol alone, so every language model generates
text the same way. Settings take the names and meanings of HuggingFace ``generate()`` so
habits carry over; where this module differs or chooses, it says so here.

* All prompts are decoded as one batch: ``lm.prime`` once, then one ``lm.step`` per position
  for the rows still running. Finished rows are dropped with ``select_state``; no prefix is
  ever read twice.
* Processors run in HF's order on the model's log-probabilities: ``repetition_penalty``
  (log-probs of tokens already seen, prompt included, are multiplied by the penalty),
  ``no_repeat_ngram_size`` (prompt included, as HF), ``min_new_tokens`` (bans ``<eos>`` and
  ``stop_token_ids``); then, when sampling, ``temperature``, ``top_k``, ``top_p``, ``min_p``,
  ``typical_p``. Should the processors ban every token of a row, that row ends with ``<eos>``.
* ``<eos>`` ends a sequence and is not returned. A token of ``stop_token_ids`` ends it and
  *is* returned (it is a real word, such as "."), like the token completing a stop string.
* Stop strings: after each new token, ``detokenize(generated tokens)`` is searched. The token
  that completes a stop string is the last one returned, so the text keeps the stop string
  (as HF does) and ends within that token; nothing after it is generated.
* ``Generation.logprobs`` are the model's unmodified log-probs of the returned tokens; for
  greedy decoding and sampling ``score`` is their sum. For beam search ``score`` is HF's beam
  score: the sum of the *processed* log-probs of every step (a final ``<eos>`` included),
  divided by ``steps ** length_penalty``, where ``steps`` counts that ``<eos>`` step too (as
  HF's vectorised beam search).
* Beam search is HF's: ``2 * num_beams`` candidates per step, a finishing candidate counts
  only if it ranks among the best ``num_beams``, and ``early_stopping`` True / False as HF
  (``"never"`` and beam sampling are not supported). When the vocabulary is too small to
  fill the beams, a prompt can return fewer than ``num_return_sequences`` hypotheses.
* Sampling draws one uniform number per running row and step from
  ``numpy.random.default_rng(seed)`` on the host, and inverts the CDF on ``ops.xp`` arrays,
  so NumPy and CuPy run the same code. The draws follow the rows of the batch: the same
  prompts, settings and seed give the same text, but a prompt sampled alone and within a
  batch draws different numbers.
* The model's log-probs must be finite: after ``prime`` and every ``step`` they are checked,
  before any processor writes its ``-inf`` bans, and NaN or an infinity raises E079 naming
  the LM component (its weights are not finite); nothing is generated from them.
* ``top_alternatives=k`` records, for every returned token, the ``k`` most likely tokens of the
  distribution it was chosen from (``Generation.alternatives``: ``{"token_id", "token",
  "logprob"}`` dicts, best first). They are the model's own log-probs, read before any
  processor or warper (repetition penalty, bans, temperature, top-k/p), so a token the
  processors banned (``<eos>`` under ``min_new_tokens``) can be listed, and when sampling the
  chosen token need not be the first. For beam search they are the step's distribution after
  the chosen hypothesis' own prefix (its parent beam). With ``k = 0`` (the default) nothing
  is computed and ``alternatives`` is None.
"""
import math
from dataclasses import asdict, dataclass, field, fields
from dataclasses import replace as replace_fields
from itertools import groupby
from typing import Any, Callable, Dict, Generator, Iterator, List, Optional, Sequence, Tuple

import numpy

from ..checks import check_setting as _check, require_finite
from ..errors import Errors
from ..ops import log_softmax, softmax
from ..types import LanguageModel, is_language_model
from ..text.vocab import TokenVocab

Detokenize = Callable[[List[str]], str]
FINISH_REASONS = ("eos", "stop_string", "stop_token", "length")
NEG_INF = -math.inf


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, bool)



@dataclass(frozen=True)
class GenerationConfig:
    """How to generate, with HuggingFace ``generate()`` names; frozen, so change it with
    :meth:`replace`, which validates the result."""

    max_new_tokens: int = 20
    min_new_tokens: int = 0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    typical_p: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: bool = False
    num_return_sequences: int = 1
    stop_strings: Sequence[str] = ()
    stop_token_ids: Sequence[int] = ()
    seed: Optional[int] = None
    top_alternatives: int = 0

    def __post_init__(self) -> None:
        # A lone string is one stop string (as HF), not a sequence of one-character ones.
        stops = (self.stop_strings,) if isinstance(self.stop_strings, str) else tuple(self.stop_strings)
        object.__setattr__(self, "stop_strings", stops)
        object.__setattr__(self, "stop_token_ids", tuple(self.stop_token_ids))
        self.validate()

    def validate(self) -> None:
        """Raise a ``ValueError`` naming the first setting that is out of range or conflicts."""
        _check(_is_int(self.max_new_tokens) and self.max_new_tokens >= 0, "max_new_tokens",
               "an integer >= 0", self.max_new_tokens)
        _check(_is_int(self.min_new_tokens) and self.min_new_tokens >= 0, "min_new_tokens",
               "an integer >= 0", self.min_new_tokens)
        _check(self.min_new_tokens <= self.max_new_tokens, "min_new_tokens",
               f"at most max_new_tokens ({self.max_new_tokens})", self.min_new_tokens)
        if self.do_sample:
            _check(self.temperature > 0, "temperature", "> 0 when sampling (for greedy decoding set "
                   "do_sample=False)", self.temperature)
        _check(_is_int(self.top_k) and self.top_k >= 0, "top_k", "an integer >= 0 (0 turns it off)", self.top_k)
        _check(0.0 < self.top_p <= 1.0, "top_p", "in (0, 1] (1 turns it off)", self.top_p)
        _check(0.0 <= self.min_p <= 1.0, "min_p", "in [0, 1] (0 turns it off)", self.min_p)
        _check(0.0 < self.typical_p <= 1.0, "typical_p", "in (0, 1] (1 turns it off)", self.typical_p)
        _check(self.repetition_penalty > 0, "repetition_penalty", "> 0 (1 turns it off)",
               self.repetition_penalty)
        _check(_is_int(self.no_repeat_ngram_size) and self.no_repeat_ngram_size >= 0, "no_repeat_ngram_size",
               "an integer >= 0 (0 turns it off)", self.no_repeat_ngram_size)
        _check(_is_int(self.num_beams) and self.num_beams >= 1, "num_beams", "an integer >= 1", self.num_beams)
        _check(_is_int(self.num_return_sequences) and self.num_return_sequences >= 1, "num_return_sequences",
               "an integer >= 1", self.num_return_sequences)
        _check(isinstance(self.early_stopping, bool), "early_stopping", "True or False", self.early_stopping)
        _check(math.isfinite(self.length_penalty), "length_penalty", "a finite number", self.length_penalty)
        _check(all(isinstance(s, str) and s for s in self.stop_strings), "stop_strings",
               "a list of non-empty strings", self.stop_strings)
        _check(all(_is_int(i) and i >= 0 for i in self.stop_token_ids), "stop_token_ids",
               "a list of token ids >= 0", self.stop_token_ids)
        _check(self.seed is None or _is_int(self.seed), "seed", "None or an integer", self.seed)
        _check(_is_int(self.top_alternatives) and self.top_alternatives >= 0, "top_alternatives",
               "an integer >= 0 (0 turns it off)", self.top_alternatives)
        if self.num_beams > 1 and self.do_sample:
            raise ValueError(Errors.E068)
        if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
            raise ValueError(Errors.E009.format(setting="num_return_sequences", value=self.num_return_sequences,
                                                requirement=f"at most num_beams ({self.num_beams}) for beam search"))
        if self.num_beams == 1 and not self.do_sample and self.num_return_sequences > 1:
            raise ValueError(Errors.E069.format(n=self.num_return_sequences))

    def replace(self, **overrides: Any) -> "GenerationConfig":
        """A validated copy with some settings changed; unknown names are errors, not ignored."""
        valid = [f.name for f in fields(self)]
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise ValueError(Errors.E070.format(unknown=unknown, valid=", ".join(valid)))
        return replace_fields(self, **overrides)


Alternative = Dict[str, Any]  # {"token_id": int, "token": str, "logprob": float (nats, the model's own)}


@dataclass
class Generation:
    """One generated sequence: plain Python values, so ``to_dict()`` goes to msgpack or JSON.
    ``alternatives`` (only with ``top_alternatives``): per returned token, the best tokens of
    the distribution it was chosen from; None otherwise, and then left out of ``to_dict()``."""

    token_ids: List[int]
    tokens: List[str]
    logprobs: List[float]
    score: float
    finish_reason: str
    alternatives: Optional[List[List[Alternative]]] = None

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        if self.alternatives is None:
            del data["alternatives"]
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Generation":
        return cls(**data)


@dataclass(frozen=True)
class StreamToken:
    token_id: int
    token: str
    logprob: float


# ---------------------------------------------------------------------------- public functions
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


# ---------------------------------------------------------------------------- shared core
@dataclass
class _Hyp:
    """A sequence being generated: a sampled row, or a beam (``score``: processed log-prob sum)."""

    prompt: int
    index: int
    token_ids: List[int] = field(default_factory=list)
    tokens: List[str] = field(default_factory=list)
    logprobs: List[float] = field(default_factory=list)
    score: float = 0.0
    alternatives: Optional[List[List[Alternative]]] = None  # a list only with top_alternatives

    def append(self, token_id: int, token: str, logprob: float,
               alternatives: Optional[List[Alternative]] = None) -> None:
        self.token_ids.append(token_id)
        self.tokens.append(token)
        self.logprobs.append(logprob)
        if self.alternatives is not None:
            self.alternatives.append(alternatives or [])

    def extended(self, token_id: int, token: str, logprob: float, score: float,
                 alternatives: Optional[List[Alternative]] = None) -> "_Hyp":
        alts = None if self.alternatives is None else self.alternatives + [alternatives or []]
        return _Hyp(self.prompt, self.index, self.token_ids + [token_id], self.tokens + [token],
                    self.logprobs + [logprob], score, alts)

    def generation(self, score: float, reason: str) -> Generation:
        alts = None if self.alternatives is None else [list(step) for step in self.alternatives]
        return Generation(list(self.token_ids), list(self.tokens), list(self.logprobs), float(score), reason, alts)

    def stream_token(self, i: int) -> StreamToken:
        return StreamToken(self.token_ids[i], self.tokens[i], self.logprobs[i])


Event = Tuple[int, StreamToken]  # (prompt index, token of that prompt's first sequence)


@dataclass
class _Context:
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

    def new_hyp(self, prompt: int, index: int) -> _Hyp:
        """A fresh row; it records alternatives only when they are asked for."""
        return _Hyp(prompt, index, alternatives=[] if self.config.top_alternatives else None)

    def empty(self) -> Generation:
        return _empty(bool(self.config.top_alternatives))

    def end_reason(self, hyp: _Hyp) -> Optional[str]:
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


def _make_context(lm: LanguageModel, prompts: Sequence[Sequence[int]], config: Optional[GenerationConfig],
                  detokenize: Detokenize) -> _Context:
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
    return _Context(lm, vocab, config, prompts, detokenize, frozenset(config.stop_token_ids))


def _decode(lm: LanguageModel, prompts: Sequence[Sequence[int]], config: Optional[GenerationConfig],
            detokenize: Detokenize, emit: bool) -> Generator[Event, None, List[List[Generation]]]:
    """The one decoding loop. Yields each prompt's first-sequence tokens as they are decided
    (only with ``emit``) and returns all generations."""
    ctx = _make_context(lm, prompts, config, detokenize)
    search = (_BeamSearch if ctx.config.num_beams > 1 else _Sampler)(ctx, emit)
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
    seen = _initial_seen(ctx, rows)
    for step in range(ctx.config.max_new_tokens):
        # Before the processors: they write their bans into log_probs.
        alternatives = _top_alternatives(ctx, log_probs) if ctx.config.top_alternatives else None
        scores = _process(ctx, log_probs, rows, seen, step)
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


def _top_alternatives(ctx: _Context, log_probs) -> List[List[Alternative]]:
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


# ---------------------------------------------------------------------------- logits processors
def _initial_seen(ctx: _Context, rows: List[_Hyp]):
    """(rows, V) mask of the tokens each row has read, for ``repetition_penalty``."""
    if ctx.config.repetition_penalty == 1.0:
        return None
    seen = ctx.xp.zeros((len(rows), len(ctx.vocab)), dtype="bool")
    pairs = [(r, t) for r, row in enumerate(rows) for t in ctx.prompts[row.prompt]]
    if pairs:
        r_idx, t_idx = zip(*pairs)
        seen[ctx.ops.asarray1i(list(r_idx)), ctx.ops.asarray1i(list(t_idx))] = True
    return seen


def _process(ctx: _Context, log_probs, rows: List[_Hyp], seen, step: int):
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
        scores = _warp(ctx.ops, scores, config)
    return scores


def _repeated_ngram_ends(sequence: List[int], n: int) -> List[int]:
    """Tokens that would repeat an n-gram of ``sequence`` if they came next (HF's NoRepeatNGram)."""
    if len(sequence) + 1 < n:
        return []
    prefix = sequence[len(sequence) - n + 1:] if n > 1 else []
    return [sequence[i + n - 1] for i in range(len(sequence) - n + 1) if sequence[i:i + n - 1] == prefix]


def _ban(ctx: _Context, scores, pairs: List[Tuple[int, int]]) -> None:
    if pairs:
        rows, cols = zip(*pairs)
        scores[ctx.ops.asarray1i(list(rows)), ctx.ops.asarray1i(list(cols))] = NEG_INF


def _warp(ops, scores, config: GenerationConfig):
    """Sampling warpers in HF's order; each keeps at least the best token of a row."""
    xp = ops.xp
    filtering = config.top_k or config.top_p < 1.0 or config.min_p > 0.0 or config.typical_p < 1.0
    if config.temperature == 1.0 and not filtering:
        return scores
    scores = scores / config.temperature  # a new array, so the warpers below may write to it
    if config.top_k:
        _top_k(xp, scores, config.top_k)
    if config.top_p < 1.0:
        _top_p(ops, scores, config.top_p)
    if config.min_p > 0.0:
        _min_p(xp, scores, config.min_p)
    if config.typical_p < 1.0:
        _typical_p(ops, scores, config.typical_p)
    return scores


def _top_k(xp, scores, k: int) -> None:
    """Keep the k best tokens (and any tied with the k-th, as HF)."""
    n_vocab = scores.shape[1]
    if k >= n_vocab:
        return
    kth = xp.partition(scores, n_vocab - k, axis=1)[:, n_vocab - k:n_vocab - k + 1]
    scores[scores < kth] = NEG_INF


def _top_p(ops, scores, top_p: float) -> None:
    """Drop the least likely tokens whose total probability stays within 1 - top_p (HF)."""
    xp = ops.xp
    ascending = xp.sort(scores, axis=1)
    cdf = xp.cumsum(softmax(ops, ascending), axis=1)
    n_dropped = xp.minimum((cdf <= 1.0 - top_p).sum(axis=1), scores.shape[1] - 1)
    threshold = ascending[xp.arange(scores.shape[0]), n_dropped][:, None]
    scores[scores < threshold] = NEG_INF


def _min_p(xp, scores, min_p: float) -> None:
    """Drop tokens less likely than min_p times the best one (compared in log space)."""
    threshold = scores.max(axis=1, keepdims=True) + math.log(min_p)
    scores[scores < threshold] = NEG_INF


def _typical_p(ops, scores, mass: float) -> None:
    """Keep the tokens whose surprisal is closest to the entropy, up to ``mass`` (HF's typical)."""
    xp = ops.xp
    log_p = log_softmax(ops, scores)
    p = xp.exp(log_p)
    entropy = -(xp.where(p > 0, log_p, 0.0) * p).sum(axis=1, keepdims=True)
    shifted = xp.abs(-log_p - entropy)
    order = xp.argsort(shifted, axis=1)
    sorted_shifted = xp.take_along_axis(shifted, order, axis=1)
    cdf = xp.cumsum(xp.take_along_axis(p, order, axis=1), axis=1)
    last = xp.minimum((cdf < mass).sum(axis=1), scores.shape[1] - 1)
    threshold = sorted_shifted[xp.arange(scores.shape[0]), last][:, None]
    scores[shifted > threshold] = NEG_INF


# ---------------------------------------------------------------------------- strategies
class _Strategy:
    """How rows advance one token; the loop in :func:`_decode` is shared by all strategies."""

    def __init__(self, ctx: _Context, emit: bool) -> None:
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


class _Sampler(_Strategy):
    """Greedy decoding (argmax) or sampling; ``num_return_sequences`` rows per prompt."""

    def __init__(self, ctx: _Context, emit: bool) -> None:
        super().__init__(ctx, emit)
        self.n = ctx.config.num_return_sequences
        self.rng = numpy.random.default_rng(ctx.config.seed) if ctx.config.do_sample else None
        self._results: List[List[Generation]] = [[ctx.empty() for _ in range(self.n)] for _ in ctx.prompts]

    def start(self) -> Tuple[List[_Hyp], Optional[numpy.ndarray]]:
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

    def advance(self, scores, log_probs, rows: List[_Hyp], step: int,
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

    def _finish(self, row: _Hyp, reason: str) -> None:
        self._results[row.prompt][row.index] = row.generation(sum(row.logprobs), reason)

    def results(self) -> List[List[Generation]]:
        return self._results


class _BeamSearch(_Strategy):
    """HF beam search: each step ranks ``2 * num_beams`` continuations of a prompt's beams."""

    def __init__(self, ctx: _Context, emit: bool) -> None:
        super().__init__(ctx, emit)
        self.k = ctx.config.num_beams
        # Per prompt: kept finished hypotheses as (score, order of arrival, hyp, reason).
        self.finished: List[List[Tuple[float, int, _Hyp, str]]] = [[] for _ in ctx.prompts]
        self.emitted = [0] * len(ctx.prompts)
        self._arrivals = 0

    def start(self) -> Tuple[List[_Hyp], None]:
        return [self.ctx.new_hyp(p, 0) for p in range(len(self.ctx.prompts))], None

    def advance(self, scores, log_probs, rows: List[_Hyp], step: int,
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

    def _advance_prompt(self, p: int, group: List[int], rows: List[_Hyp], ids, values, logprobs,
                        step: int, alternatives: Optional[List[List[Alternative]]] = None
                        ) -> List[Tuple[_Hyp, int]]:
        """Rank the continuations of prompt ``p``'s beams; file the finishing ones among the best
        ``num_beams``; return the next beams with their parent rows."""
        beam_scores = numpy.asarray([rows[r].score for r in group], dtype="float64")
        totals = (beam_scores[:, None] + values[group]).ravel()
        token_ids = ids[group].ravel()
        beam_of = numpy.repeat(numpy.arange(len(group)), ids.shape[1])
        order = numpy.lexsort((token_ids, beam_of, -totals))
        order = order[numpy.isfinite(totals[order])][: 2 * self.k]
        running: List[Tuple[_Hyp, int]] = []
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

    def _add_finished(self, p: int, hyp: _Hyp, total: float, steps: int, reason: str) -> None:
        score = total / steps ** self.ctx.config.length_penalty
        kept = self.finished[p]
        if len(kept) < self.k or score > min(entry[0] for entry in kept):
            self._arrivals += 1
            kept.append((score, self._arrivals, hyp, reason))
            if len(kept) > self.k:
                kept.remove(min(kept, key=lambda entry: (entry[0], -entry[1])))

    def _is_done(self, p: int, running: List[Tuple[_Hyp, int]], step: int) -> bool:
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

    def _ranked(self, p: int) -> List[Tuple[float, int, _Hyp, str]]:
        return sorted(self.finished[p], key=lambda entry: (-entry[0], entry[1]))

    def _emit_agreed(self, p: int, running: List[_Hyp]) -> None:
        """Emit the prefix shared by all beams and kept finished hypotheses: whatever wins has it."""
        if not self.emit:
            return
        sequences = [hyp.token_ids for hyp in running] + [entry[2].token_ids for entry in self.finished[p]]
        agreed = _common_prefix_length(sequences)
        self._emit_upto(p, running[0], agreed)

    def _emit_final(self, p: int) -> None:
        if self.emit and self.finished[p]:
            best = self._ranked(p)[0][2]
            self._emit_upto(p, best, len(best.token_ids))

    def _emit_upto(self, p: int, hyp: _Hyp, end: int) -> None:
        for i in range(self.emitted[p], end):
            self._events.append((p, hyp.stream_token(i)))
        self.emitted[p] = max(self.emitted[p], end)

    def results(self) -> List[List[Generation]]:
        n = self.ctx.config.num_return_sequences
        if self.ctx.config.max_new_tokens == 0:
            return [[self.ctx.empty() for _ in range(n)] for _ in self.ctx.prompts]
        return [[hyp.generation(score, reason) for score, _, hyp, reason in self._ranked(p)[:n]]
                for p in range(len(self.ctx.prompts))]


def _empty(record_alternatives: bool = False) -> Generation:
    """What ``max_new_tokens=0`` gives."""
    return Generation([], [], [], 0.0, "length", [] if record_alternatives else None)


def _common_prefix_length(sequences: List[List[int]]) -> int:
    if not sequences:
        return 0
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        token = sequences[0][i]
        if any(s[i] != token for s in sequences):
            return i
    return shortest
