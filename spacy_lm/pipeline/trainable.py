"""The preamble of an ``update`` (``begin_update``) that the
recurrent components (through :class:`spacy_lm.pipeline.recurrent_base.RecurrentPipe`) and
`sentiment_scorer` share."""
from typing import Any, Dict, Iterable, List, Optional, Tuple

from spacy.training import Example, validate_examples

from ..checks import check_drop


def begin_update(name: str, examples: Iterable[Example], drop: Any, losses: Optional[Dict[str, float]],
                 method: str, parts: Tuple[str, ...] = ()) -> Tuple[List[Example], float, Dict[str, float]]:
    """The checked examples and dropout rate of component ``name``'s ``update``, and its losses
    with its keys (``name``, then ``name + part`` for each reported part) present."""
    drop = check_drop(drop, name)
    losses = {} if losses is None else losses
    for key in (name, *(name + part for part in parts)):
        losses.setdefault(key, 0.0)
    examples = list(examples)
    validate_examples(examples, method)
    return examples, drop, losses
