"""What decoding returns (:class:`Generation`, :class:`StreamToken`) and the rows it grows
(:class:`Hypothesis`): plain Python values on the host, so results go to msgpack or JSON."""
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

FINISH_REASONS = ("eos", "stop_string", "stop_token", "length")


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


@dataclass
class Hypothesis:
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
                 alternatives: Optional[List[Alternative]] = None) -> "Hypothesis":
        alts = None if self.alternatives is None else self.alternatives + [alternatives or []]
        return Hypothesis(self.prompt, self.index, self.token_ids + [token_id], self.tokens + [token],
                          self.logprobs + [logprob], score, alts)

    def generation(self, score: float, reason: str) -> Generation:
        alts = None if self.alternatives is None else [list(step) for step in self.alternatives]
        return Generation(list(self.token_ids), list(self.tokens), list(self.logprobs), float(score), reason, alts)

    def stream_token(self, i: int) -> StreamToken:
        return StreamToken(self.token_ids[i], self.tokens[i], self.logprobs[i])


Event = Tuple[int, StreamToken]  # (prompt index, token of that prompt's first sequence)


def empty_generation(record_alternatives: bool = False) -> Generation:
    """What ``max_new_tokens=0`` gives."""
    return Generation([], [], [], 0.0, "length", [] if record_alternatives else None)
