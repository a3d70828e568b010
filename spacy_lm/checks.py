"""Checks written once: a non-finite score is an error, never a result; a setting out of range
is named (E009) before anything runs.

This is the one validator of the package: a module checks its settings with these functions
rather than a private copy, so every "setting out of range" reads the same and carries one code.
Older codes for the same meaning (E043, E085, E145, E160, E168-E170) are aliases of E009 that a
caller passes as ``code`` where users may already match on them.
"""
import math
import numbers
from typing import Any

import numpy

from .errors import Errors


def check_setting(ok: bool, setting: str, requirement: str, value: Any, *, where: str = "",
                  code: str = "E009") -> None:
    """Raise a ValueError naming ``setting``, what it must be and the value given, unless ``ok``.

    ``where`` names what the setting belongs to (an architecture, a reader, a command) and comes
    first in the message; ``code`` is E009 or one of its aliases in ``Errors``.
    """
    if not ok:
        message = getattr(Errors, code)
        named = f"{where}: {setting}" if where else setting
        raise ValueError(message.format(setting=named, requirement=requirement, value=value))


def is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool (``True`` is an int to Python, never to a setting)."""
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number (int or float, Python or NumPy), not a bool."""
    return (isinstance(value, (int, float, numpy.integer, numpy.floating)) and not isinstance(value, bool)
            and math.isfinite(value))


def is_count(value: Any, minimum: int) -> bool:
    """An integer (not a bool) >= ``minimum``."""
    return is_int(value) and value >= minimum


def check_count(setting: str, value: Any, minimum: int = 1, *, optional: bool = False, why: str = "",
                where: str = "", code: str = "E009") -> None:
    """Raise unless ``value`` is an integer >= ``minimum``; None passes where ``optional`` (a
    size set later, e.g. from the data at initialization). ``why`` is appended to the requirement;
    ``where`` and ``code`` as for :func:`check_setting`."""
    if optional and value is None:
        return
    requirement = f"an integer >= {minimum}{why}" + (" (or null: set at initialization)" if optional else "")
    check_setting(is_count(value, minimum), setting, requirement, value, where=where, code=code)


def require_finite(xp: Any, values: Any, *, name: str, what: str) -> None:
    """Raise E079 naming the component ``name`` if ``values`` (an ``ops.xp`` array, or a Python
    float) holds NaN or an infinity. ``what`` says which outputs ("log-probabilities", "cats")."""
    if not bool(xp.isfinite(xp.asarray(values)).all()):
        raise ValueError(Errors.E079.format(name=name, what=what))


def check_drop(drop: Any, name: str) -> float:
    """``drop`` of ``update(drop=...)`` (``[training] dropout``) as a float in [0, 1), else E231
    naming ``name`` (a component or an architecture): a rate of 1 or more (or NaN) trains on
    all-dropped input, silently."""
    ok = isinstance(drop, numbers.Real) and not isinstance(drop, bool) and math.isfinite(drop) and 0 <= drop < 1
    if not ok:
        raise ValueError(Errors.E231.format(name=name, value=drop))
    return float(drop)
