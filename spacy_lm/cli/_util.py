"""What every `spacy lm ...` command shares: known errors as one line, option checks, JSON output.

A known error (a coded ``[E...]`` ValueError/TypeError/KeyError/ImportError of ours or spaCy's, or an
OSError: a missing, unreadable or bad file, ``spacy.load`` of a path that is no pipeline) is
printed as one line on stderr and the command exits with 1. ``SPACY_LM_TRACEBACK=1`` raises
it instead, with its traceback. Any other exception is a bug and keeps its traceback.
"""
import functools
import json
import math
import os
import sys
import warnings
from typing import Any, Callable, Iterator, Optional, TypeVar

import typer

from ..checks import check_setting
from ..errors import Errors

TRACEBACK_ENV = "SPACY_LM_TRACEBACK"
Func = TypeVar("Func", bound=Callable[..., Any])


def traceback_wanted() -> bool:
    return os.environ.get(TRACEBACK_ENV, "").strip() not in ("", "0")


def known_error_message(err: BaseException) -> Optional[str]:
    """The one-line message of a known error, or None for an unknown one (a bug)."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else err
    text = " ".join(str(message).split())
    if isinstance(err, OSError):
        return text or type(err).__name__
    if isinstance(err, (ValueError, TypeError, KeyError, ImportError)) and text.startswith("[E"):  # ImportError: an extra
        return text
    return None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    typer.echo(text if text.startswith("[W") else f"{category.__name__}: {text}", err=True)


def report_errors(func: Func) -> Func:
    """Run a command: warnings as one line each on stderr, known errors as one line and exit 1."""

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return func(*args, **kwargs)
            except Exception as err:
                message = known_error_message(err)
                if message is None or traceback_wanted():
                    raise
                typer.echo(f"Error: {message}", err=True)
                raise typer.Exit(1) from None

    return command  # type: ignore[return-value]


def check_option(ok: bool, option: str, requirement: str, value: Any) -> None:
    """A command-line option out of range: E085, naming the option as the user typed it."""
    check_setting(ok, option, requirement, value, code="E085")


def check_gpu_id(gpu_id: int) -> None:
    """``--gpu-id``: -1 (CPU) or a GPU that can be used; the GPU is set up here."""
    check_option(gpu_id >= -1, "--gpu-id", "-1 (CPU) or a GPU id >= 0", gpu_id)
    if gpu_id >= 0:
        from thinc.api import require_gpu

        try:
            require_gpu(gpu_id)
        except (ValueError, ImportError, RuntimeError) as err:
            raise ValueError(Errors.E088.format(gpu_id=gpu_id, reason=" ".join(str(err).split()))) from err


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) as None, so ``json.dumps`` writes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Valid JSON always: no bare NaN or Infinity (they become null)."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)


def stdin_lines() -> Iterator[str]:
    """stdin's lines as text mode gives them (universal newlines, line ends kept), decoded as
    UTF-8 here: bytes that are not UTF-8 are E250, naming the line and the offset, instead of
    a traceback or (in a C locale, surrogateescape) text silently changed. Lazy, so a pipe is
    read line by line."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream with no bytes under it (embedding): already decoded
        yield from sys.stdin
        return
    offset = 0
    for n, raw in enumerate(stream, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(Errors.E250.format(line=n, byte=raw[err.start], offset=offset + err.start)) from None
        offset += len(raw)
        pieces = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        yield from (piece + "\n" for piece in pieces[:-1])
        if pieces[-1]:
            yield pieces[-1]
