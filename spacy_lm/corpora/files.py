"""Opening corpus text files, so every reader fails the same way on a bad file.

UTF-8 text, ``.gz`` decompressed by its name; a missing file, a directory, bytes that are not
UTF-8 or damaged gzip data are a ValueError (E062) that names the file, the line and what was
expected, rather than a UnicodeDecodeError from inside a reader.
"""
import gzip
import zlib
from pathlib import Path
from typing import Iterator, TextIO, Union

from spacy.util import ensure_path

from ..errors import Errors

TEXT_FILE_EXPECTED = "expected a UTF-8 text file, optionally .gz"


def check_text_file(path: Union[str, Path, None]) -> Path:
    """``path`` as a Path; E061 for None (an unset ``${paths.*}``), E062 for a missing file or
    a directory."""
    if path is None:
        raise ValueError(Errors.E061.format(reader="A text corpus"))
    loc = ensure_path(path)
    if not loc.exists():
        raise ValueError(Errors.E062.format(path=loc, reason="no such file"))
    if loc.is_dir():
        raise ValueError(Errors.E062.format(path=loc, reason="it is a directory, expected a file"))
    return loc


def open_text(path: Union[str, Path]) -> TextIO:
    """Open a UTF-8 text file for reading, transparently decompressing ``.gz``."""
    loc = ensure_path(path)
    if loc.suffix == ".gz":
        return gzip.open(loc, "rt", encoding="utf-8")  # type: ignore[return-value]
    return open(loc, encoding="utf-8")


def read_text_lines(path: Union[str, Path]) -> Iterator[str]:
    """The lines of ``open_text(path)``, as text mode reads them (universal newlines). A file
    that is not UTF-8 text, is named .gz but is not gzip data, or is a truncated or damaged
    .gz raises a ValueError (E062) that names the file, the line and what was expected."""
    loc = ensure_path(path)
    try:
        with open_text(loc) as file_:
            yield from file_
    except (UnicodeDecodeError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ValueError(Errors.E062.format(path=loc, reason=_unreadable_text(loc, err))) from err


def _unreadable_text(loc: Path, err: Exception) -> str:
    """Why ``loc`` cannot be read as text, found again in binary so the line number is exact
    (text mode decodes ahead in chunks): the first line (counted by b"\\n") that fails."""
    opener = gzip.open if loc.suffix == ".gz" else open
    n_read = 0
    try:
        with opener(loc, "rb") as file_:
            for raw in file_:
                raw.decode("utf-8")
                n_read += 1
    except UnicodeDecodeError as bad:
        byte = bad.object[bad.start]
        return f"line {n_read + 1}: not UTF-8 text (byte 0x{byte:02x} at offset {bad.start}); {TEXT_FILE_EXPECTED}"
    except gzip.BadGzipFile as bad:
        if str(bad).startswith("Not a gzipped file"):
            return (f"its name ends in .gz but it is not gzip data ({bad}); expected gzip-compressed "
                    "UTF-8 text, or a name without .gz")
        return f"line {n_read + 1}: damaged gzip data ({bad}); compress or download the file again"
    except EOFError:
        return (f"line {n_read + 1}: the gzip data end early (a truncated file); compress or download "
                "the file again")
    except zlib.error as bad:
        return f"line {n_read + 1}: damaged gzip data ({bad}); compress or download the file again"
    return f"{err}; {TEXT_FILE_EXPECTED}"
