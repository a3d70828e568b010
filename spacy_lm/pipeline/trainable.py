"""The one check of an ``update``'s dropout rate (``check_drop``), which every trainable
component of this package calls (the recurrent ones through
:class:`spacy_lm.pipeline.recurrent_base.RecurrentPipe`)."""
import math
import numbers
from typing import Any

from ..errors import Errors


def check_drop(drop: Any, name: str) -> float:
    """``drop`` of ``update(drop=...)`` (``[training] dropout``) as a float in [0, 1), else E231
    naming component ``name``: a rate of 1 or more (or NaN) trains on all-dropped input, silently."""
    ok = isinstance(drop, numbers.Real) and not isinstance(drop, bool) and math.isfinite(drop) and 0 <= drop < 1
    if not ok:
        raise ValueError(Errors.E231.format(name=name, value=drop))
    return float(drop)
