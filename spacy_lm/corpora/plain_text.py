"""Pre-tokenised text (WikiText, PTB) read with ``str.split()``, so token counts match the
published benchmarks whatever tokenizer the pipeline has.

* ``spacy_lm.PlainTextCorpus.v1``: Docs of one or more lines each, optionally with an
  end-of-line marker (pytorch/examples' ``data.Corpus`` with ``"<eos>"``).
* ``spacy_lm.PlainTextStreamCorpus.v1``: the same tokens as one stream, cut into parallel
  streams of chunks for stream training (pytorch/examples' ``batchify``). The chunking is
  ``stream_chunk_examples``, shared with ``spacy_lm.MixedTextStreamCorpus.v1`` (mixture.py), and
  reads a stream forward or backward.

``read_plain_text_docs`` is public so other code (a CLI computing perplexity on a file, the
benchmarks) reads data exactly as training did.
"""
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, List, Optional, Sequence, Union

from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import ensure_path, registry
from spacy.vocab import Vocab

from ..batching import DIRECTIONS
from ..checks import check_count, check_setting
from ..errors import Errors
from .files import check_text_file, read_text_lines

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401


def _check_eos_marker(eos_marker: Optional[str]) -> None:
    # The marker must survive str.split() as one token, or counts silently change.
    if eos_marker is not None and (
        not isinstance(eos_marker, str) or eos_marker.split() != [eos_marker]
    ):
        raise ValueError(Errors.E009.format(setting="eos_marker", requirement="a non-empty string without "
                                            "whitespace, or null", value=eos_marker))


def read_plain_text_docs(
    path: Union[str, Path],
    vocab: Vocab,
    *,
    lines_per_doc: int = 1,
    eos_marker: Optional[str] = None,
    skip_empty: bool = False,
    limit: int = 0,
) -> Iterator[Doc]:
    """Yield Docs from a pre-tokenised UTF-8 text file (``.gz`` allowed).

    Lines are read as Python iterates a text file (universal newlines) and split with
    ``str.split()``, which is how pytorch/examples' ``data.Corpus`` reads WikiText;
    with ``eos_marker="<eos>"`` the token stream is identical to it: one marker after
    every line, blank lines included. Without a marker blank lines add no tokens.

    ``lines_per_doc`` consecutive lines form one Doc (the last may have fewer). Tokens
    are joined by single spaces, so ``doc.text`` does not keep line breaks. Docs with no
    tokens are skipped if ``skip_empty``, else yielded empty. ``limit`` caps the number
    of Docs yielded (0: all).

    Arguments are checked now, not when iteration starts, so errors surface at the call.
    """
    loc = check_text_file(path)
    check_count("lines_per_doc", lines_per_doc, 1)
    _check_eos_marker(eos_marker)
    return _iter_plain_text_docs(loc, vocab, lines_per_doc, eos_marker, skip_empty, limit)


def _iter_line_words(loc: Path, eos_marker: Optional[str]) -> Iterator[List[str]]:
    """The tokens of each line: ``str.split()``, then the marker (if any), blank lines included."""
    for line in read_text_lines(loc):
        words = line.split()
        if eos_marker is not None:
            words.append(eos_marker)
        yield words


def _iter_plain_text_docs(
    loc: Path,
    vocab: Vocab,
    lines_per_doc: int,
    eos_marker: Optional[str],
    skip_empty: bool,
    limit: int,
) -> Iterator[Doc]:
    n_docs = 0
    words: List[str] = []
    n_lines = 0

    def make_doc() -> Doc:
        spaces = [True] * (len(words) - 1) + [False] if words else []
        return Doc(vocab, words=words, spaces=spaces)

    for line_words in _iter_line_words(loc, eos_marker):
        words.extend(line_words)
        n_lines += 1
        if n_lines == lines_per_doc:
            if words or not skip_empty:
                yield make_doc()
                n_docs += 1
                if limit >= 1 and n_docs >= limit:
                    return
            words = []
            n_lines = 0
    if n_lines and (words or not skip_empty):
        yield make_doc()


class PlainTextLMCorpus:
    """Iterate Examples from a pre-tokenised text file; see ``read_plain_text_docs``.

    The predicted and reference Docs have identical tokens: a language model's gold
    annotation is the text itself.
    """

    def __init__(
        self,
        path: Union[str, Path],
        *,
        lines_per_doc: int = 1,
        eos_marker: Optional[str] = None,
        skip_empty: bool = False,
        limit: int = 0,
    ) -> None:
        check_count("lines_per_doc", lines_per_doc, 1)
        _check_eos_marker(eos_marker)
        self.path = ensure_path(path)
        self.lines_per_doc = lines_per_doc
        self.eos_marker = eos_marker
        self.skip_empty = skip_empty
        self.limit = limit

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        docs = read_plain_text_docs(
            self.path,
            nlp.vocab,
            lines_per_doc=self.lines_per_doc,
            eos_marker=self.eos_marker,
            skip_empty=self.skip_empty,
            limit=self.limit,
        )
        for doc in docs:
            yield Example(doc, doc.copy())


@registry.readers("spacy_lm.PlainTextCorpus.v1")
def create_plain_text_reader(
    path: Optional[Union[str, Path]],
    *,
    lines_per_doc: int = 1,
    eos_marker: Optional[str] = None,
    skip_empty: bool = False,
    limit: int = 0,
) -> Callable[["Language"], Iterable[Example]]:
    """Reader for pre-tokenised text: tokens are ``str.split()`` of each line.

    path: UTF-8 text file, optionally ``.gz``. None (an unset ``${paths.train}``) is a
        ValueError now, as in spaCy's readers; a missing file is reported (ValueError)
        when the reader is first called, so configs resolve before the data exist.
    lines_per_doc: consecutive lines per Doc (1: one Doc per line).
    eos_marker: token appended after every line, blank lines included (WikiText
        convention: "<eos>"); None adds nothing.
    skip_empty: drop Docs without tokens instead of yielding them empty.
    limit: maximum number of Docs (0: all).
    """
    if path is None:
        raise ValueError(Errors.E061.format(reader="spacy_lm.PlainTextCorpus.v1"))
    return PlainTextLMCorpus(
        path,
        lines_per_doc=lines_per_doc,
        eos_marker=eos_marker,
        skip_empty=skip_empty,
        limit=limit,
    )


class PlainTextStreamCorpus:
    """Examples of a pre-tokenised text file read as one token stream in ``n_streams``
    parallel streams of chunks (pytorch/examples' ``batchify`` + ``get_batch``); see
    ``create_plain_text_stream_reader``."""

    def __init__(self, path: Union[str, Path], *, eos_marker: Optional[str] = "<eos>", n_streams: int = 20,
                 chunk_length: int = 35, limit: int = 0) -> None:
        _check_eos_marker(eos_marker)
        check_count("n_streams", n_streams, 1)
        check_count("chunk_length", chunk_length, 1)
        check_count("limit", limit, 0)
        self.path = ensure_path(path)
        self.eos_marker = eos_marker
        self.n_streams = n_streams
        self.chunk_length = chunk_length
        self.limit = limit

    def read_tokens(self) -> List[str]:
        """The file's tokens as one stream (the first ``limit``, if set), as
        ``read_plain_text_docs`` reads them."""
        loc = check_text_file(self.path)
        tokens: List[str] = []
        for words in _iter_line_words(loc, self.eos_marker):
            tokens.extend(words)
            if self.limit and len(tokens) >= self.limit:
                del tokens[self.limit :]
                break
        return tokens

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        # a generator, so the file is read when iteration starts, as spacy train expects
        yield from stream_chunk_examples(nlp, self.read_tokens(), self.n_streams, self.chunk_length,
                                         where=str(self.path))




def stream_chunk_examples(nlp: "Language", tokens: Sequence[str], n_streams: int, chunk_length: int,
                          direction: str = "forward", *, where: str = "The token stream") -> Iterator[Example]:
    """Examples of one token stream read in ``n_streams`` parallel streams of chunks (pytorch/examples'
    ``batchify`` + ``get_batch``), for every stream reader.

    The stream is cut into ``n_streams`` contiguous segments of ``len(tokens) // n_streams``
    tokens (the remainder is dropped); each segment is read in chunks of ``chunk_length`` tokens.
    Examples come in order: chunk 0 of streams 0..n_streams-1, then chunk 1 of each, ...; each Doc
    is one chunk, its words in text order, marked with ``spacy_lm.batching.mark_chunk``.

    direction: "forward" reads each segment left to right: chunk 0 is its first ``chunk_length``
        tokens (the last chunk may be shorter) and a chunk's ``previous`` is the token right
        before it. "backward" reads it right to left (a backward LM): chunk 0 is its LAST
        ``chunk_length`` tokens, chunk 1 the ones before (the first tokens of the segment come
        last and may be fewer), ``previous`` is the token right after the chunk, and the mark
        says ``backward``. Chunk 0 of either direction has no previous token (None).
    where: what the stream is, for the error (E077) when it has fewer tokens than ``n_streams``.

    Arguments are checked now; the Examples are made lazily.
    """
    check_setting(direction in DIRECTIONS, "direction", "", direction, code="E291")
    check_count("n_streams", n_streams, 1)
    check_count("chunk_length", chunk_length, 1)
    length = len(tokens) // n_streams  # the remainder is dropped, as batchify does
    if length == 0:
        raise ValueError(Errors.E077.format(path=where, n_tokens=len(tokens), n_streams=n_streams))
    return _iter_stream_chunks(nlp.vocab, tokens, n_streams, chunk_length, length, direction == "backward")


def _iter_stream_chunks(vocab: Vocab, tokens: Sequence[str], n_streams: int, chunk_length: int, length: int,
                        backward: bool) -> Iterator[Example]:
    from ..batching import mark_chunk

    for chunk, offset in enumerate(range(0, length, chunk_length)):
        # [begin, end) within each segment; previous: the token read just before the chunk
        if backward:
            end = length - offset
            begin, before = max(0, end - chunk_length), end
        else:
            begin = offset
            end, before = min(length, offset + chunk_length), offset - 1
        for stream in range(n_streams):
            start = stream * length
            words = list(tokens[start + begin : start + end])
            doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
            mark_chunk(doc, stream, chunk, tokens[start + before] if offset else None, backward=backward)
            yield Example(doc, doc.copy())


@registry.readers("spacy_lm.PlainTextStreamCorpus.v1")
def create_plain_text_stream_reader(
    path: Optional[Union[str, Path]],
    *,
    eos_marker: Optional[str] = "<eos>",
    n_streams: int = 20,
    chunk_length: int = 35,
    limit: int = 0,
) -> Callable[["Language"], Iterable[Example]]:
    """Reader for stream training (and evaluation), as pytorch/examples' word_language_model.

    The file's tokens (read as ``spacy_lm.PlainTextCorpus.v1`` reads them: ``str.split()`` of
    each line, ``eos_marker`` after every line) form one stream, cut into ``n_streams``
    contiguous segments of equal length (the remainder is dropped). Examples come in order:
    chunk 0 of streams 0..n_streams-1, then chunk 1 of each, ...; a chunk holds ``chunk_length``
    tokens (the last chunk of every stream may be shorter). Each Doc is one chunk (``<eos>``
    stays a literal token), marked in ``doc.user_data`` (see ``spacy_lm.batching.mark_chunk``)
    with its stream, chunk and the token before it: ``lstm_lm`` reads a chunk as the
    continuation of the previous one and, in training, carries each stream's recurrent state
    from one update to the next (truncated BPTT across updates).

    path: UTF-8 text file, optionally ``.gz`` (None is a ValueError now; a missing file, or one
        with fewer than ``n_streams`` tokens, when the reader is called).
    eos_marker: token appended after every line ("<eos>", WikiText's convention); None adds none.
    n_streams: parallel streams, the batch size of training (pytorch's ``batch_size``).
    chunk_length: tokens per chunk (pytorch's ``bptt``); set ``max_length`` of ``lstm_lm``
        to at least this, or chunks are split into windows again.
    limit: maximum number of tokens read (0: all).

    Training needs the chunks in order, one batch per chunk index::

        [corpora.train]
        @readers = "spacy_lm.PlainTextStreamCorpus.v1"
        path = ${paths.train}
        n_streams = 20
        chunk_length = 35

        [training]
        max_epochs = -1  # stream the corpus in order (spaCy shuffles otherwise); bound with max_steps

        [training.batcher]
        @batchers = "spacy.batch_by_sequence.v1"
        size = ${corpora.train.n_streams}
    """
    if path is None:
        raise ValueError(Errors.E061.format(reader="spacy_lm.PlainTextStreamCorpus.v1"))
    return PlainTextStreamCorpus(path, eos_marker=eos_marker, n_streams=n_streams, chunk_length=chunk_length,
                                 limit=limit)
