"""How to generate: :class:`GenerationConfig`, HuggingFace ``generate()`` settings, validated once."""
import math
from dataclasses import dataclass, fields
from dataclasses import replace as replace_fields
from typing import Any, Optional, Sequence

from ..checks import check_setting as _check
from ..checks import is_int as _is_int
from ..errors import Errors


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
