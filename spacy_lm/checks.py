"""Checks on computed outputs, written once: a non-finite score is an error, never a result."""
from typing import Any

from .errors import Errors


def require_finite(xp: Any, values: Any, *, name: str, what: str) -> None:
    """Raise E079 naming the component ``name`` if ``values`` (an ``ops.xp`` array, or a Python
    float) holds NaN or an infinity. ``what`` says which outputs ("log-probabilities", "cats")."""
    if not bool(xp.isfinite(xp.asarray(values)).all()):
        raise ValueError(Errors.E079.format(name=name, what=what))
