"""The one check of an ``update``'s dropout rate (``check_drop``), which every trainable
component of this package calls, and the preamble of an ``update`` (``begin_update``) that the
recurrent components (through :class:`spacy_lm.pipeline.recurrent_base.RecurrentPipe`) and
`sentiment_scorer` share."""
import math
import numbers
from typing import Any, Dict, Iterable, List, Optional, Tuple

from spacy.training import Example, validate_examples

from ..errors import Errors


def check_drop(drop: Any, name: str) -> float:
    """``drop`` of ``update(drop=...)`` (``[training] dropout``) as a float in [0, 1), else E231
    naming component ``name``: a rate of 1 or more (or NaN) trains on all-dropped input, silently."""
    ok = isinstance(drop, numbers.Real) and not isinstance(drop, bool) and math.isfinite(drop) and 0 <= drop < 1
    if not ok:
        raise ValueError(Errors.E231.format(name=name, value=drop))
    return float(drop)


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
