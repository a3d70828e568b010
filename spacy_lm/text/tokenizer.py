"""A whitespace tokenizer for corpora that are already tokenised.

Language-modelling benchmarks such as WikiText-2 and PTB ship text whose tokens are
separated by spaces (``= Valkyria <unk> @-@ 3 =``). Their published perplexities are per
*those* tokens, so re-tokenising with spaCy's rule-based tokenizer (which would split
``<unk>`` into ``<``, ``unk``, ``>``) changes the task. This tokenizer splits exactly like
Python's ``str.split()`` and nothing else.

Use it in a config as::

    [nlp.tokenizer]
    @tokenizers = "spacy_lm.WhitespaceTokenizer.v1"
"""
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path, registry
from spacy.vocab import Vocab

from ..errors import Errors

# Written by ``to_bytes`` / ``to_disk`` so a saved pipeline records which tokenizer it
# used; there are no settings to restore.
_SERIALIZED = {"tokenizer": "spacy_lm.WhitespaceTokenizer.v1"}


class WhitespaceTokenizer:
    """Split text on runs of whitespace, exactly as ``str.split()`` does.

    Whitespace is not kept: every token but the last is followed by a single space, so
    ``doc.text == " ".join(text.split())``. Leading/trailing whitespace and runs of
    several spaces, tabs or newlines are collapsed. This is deliberate: the token
    sequence (what a language model is scored on) is identical to ``str.split()``,
    and no whitespace-only tokens appear, which spaCy's tokenizer would create for
    repeated spaces and that benchmark token counts do not include.
    """

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        if not isinstance(text, str):
            hint = " (decode bytes to str first)" if isinstance(text, (bytes, bytearray)) else ""
            raise TypeError(Errors.E073.format(type=type(text).__name__, hint=hint))
        words = text.split()
        return Doc(self.vocab, words=words, spaces=_spaces(len(words)))

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        """Tokenize a stream of texts; ``batch_size`` is accepted for API parity."""
        for text in texts:
            yield self(text)

    # Serialization: nothing to save, but spaCy calls these from nlp.to_disk/from_disk
    # and spacy.load, with exclude=["vocab"].

    def to_bytes(self, *, exclude: Iterable[str] = tuple(), **kwargs: Any) -> bytes:
        return srsly.msgpack_dumps(_SERIALIZED)

    def from_bytes(
        self, bytes_data: bytes, *, exclude: Iterable[str] = tuple(), **kwargs: Any
    ) -> "WhitespaceTokenizer":
        if bytes_data:
            _check_saved(bytes_data, "the tokenizer's bytes")
        return self

    def to_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = tuple(), **kwargs: Any
    ) -> None:
        path = ensure_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file_:
            file_.write(self.to_bytes(exclude=exclude))

    def from_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = tuple(), **kwargs: Any
    ) -> "WhitespaceTokenizer":
        path = ensure_path(path)
        # A pipeline saved without the file (or by another tool) still loads: there is
        # no state to restore.
        if path.is_file():
            with path.open("rb") as file_:
                _check_saved(file_.read(), str(path))  # an empty file is a truncated one
        return self


def _check_saved(data: bytes, where: str) -> None:
    """Fail in one line (E155 naming ``where``) on a truncated or damaged save: the data is the
    msgpack map ``to_bytes`` writes (another tool's map is accepted, there is nothing to restore)."""
    try:
        saved = srsly.msgpack_loads(data)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as err:
        raise ValueError(Errors.E155.format(path=where, error=f"truncated or not msgpack: {err}")) from None
    if not isinstance(saved, dict):
        raise ValueError(Errors.E155.format(path=where, error=f"a {type(saved).__name__}, not a msgpack map"))


def _spaces(n_words: int) -> List[bool]:
    """A space after every token but the last."""
    return [True] * (n_words - 1) + [False] if n_words else []


@registry.tokenizers("spacy_lm.WhitespaceTokenizer.v1")
def create_whitespace_tokenizer() -> Callable[[Language], WhitespaceTokenizer]:
    """Registered factory; spaCy calls the returned function with the ``nlp`` object."""

    def whitespace_tokenizer_factory(nlp: Language) -> WhitespaceTokenizer:
        return WhitespaceTokenizer(nlp.vocab)

    return whitespace_tokenizer_factory
