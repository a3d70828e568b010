"""Checks written once: a non-finite score is an error, never a result; a setting out of range
is named (E009) before anything runs."""
from typing import Any

import numpy

from .errors import Errors


def check_setting(ok: bool, setting: str, requirement: str, value: Any) -> None:
    """Raise E009 naming ``setting``, what it must be and the value given, unless ``ok``."""
    if not ok:
        raise ValueError(Errors.E009.format(setting=setting, requirement=requirement, value=value))


def is_count(value: Any, minimum: int) -> bool:
    """An integer (not a bool) >= ``minimum``."""
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, bool) and value >= minimum


def check_count(setting: str, value: Any, minimum: int = 1, *, optional: bool = False, why: str = "") -> None:
    """E009 unless ``value`` is an integer >= ``minimum``; None passes where ``optional`` (a
    size set later, e.g. from the data at initialization). ``why`` is appended to the requirement."""
    if optional and value is None:
        return
    requirement = f"an integer >= {minimum}{why}" + (" (or null: set at initialization)" if optional else "")
    check_setting(is_count(value, minimum), setting, requirement, value)


def require_finite(xp: Any, values: Any, *, name: str, what: str) -> None:
    """Raise E079 naming the component ``name`` if ``values`` (an ``ops.xp`` array, or a Python
    float) holds NaN or an infinity. ``what`` says which outputs ("log-probabilities", "cats")."""
    if not bool(xp.isfinite(xp.asarray(values)).all()):
        raise ValueError(Errors.E079.format(name=name, what=what))
