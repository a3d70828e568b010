"""Corpus readers for language-model training and evaluation.

Registered readers, usable in ``[corpora]`` like ``spacy.Corpus.v1``:

* ``spacy_lm.PlainTextCorpus.v1`` reads a pre-tokenised text file (WikiText, PTB) with
  ``str.split()``, optionally adding an end-of-line marker, so token counts match the
  published benchmarks exactly, whatever tokenizer the pipeline has.
* ``spacy_lm.PlainTextStreamCorpus.v1`` reads the same file as one token stream in parallel
  streams of chunks, for stream training (pytorch/examples' ``batchify``).
* ``spacy_lm.HFDataset.v1`` reads any HuggingFace ``datasets`` dataset (hub or local
  text/json/parquet files) and tokenises it with the pipeline's own tokenizer.

The plain-text helpers (``read_plain_text_docs``) and the HuggingFace helpers
(``load_hf_dataset``, ``iter_hf_texts``) are public so other code (e.g. a CLI computing
perplexity on a file) reads data exactly as training did.
"""
import gzip
import zlib
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    TextIO,
    Tuple,
    Union,
)

from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import ensure_path, logger, registry
from spacy.vocab import Vocab

from ..errors import Errors

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401

DataFiles = Union[str, List[str], Dict[str, Any]]


# --------------------------------------------------------------------------------------
# Plain pre-tokenised text
# --------------------------------------------------------------------------------------


def _check_text_file(path: Union[str, Path, None]) -> Path:
    if path is None:
        raise ValueError(Errors.E061.format(reader="A text corpus"))
    loc = ensure_path(path)
    if not loc.exists():
        raise ValueError(Errors.E062.format(path=loc, reason="no such file"))
    if loc.is_dir():
        raise ValueError(Errors.E062.format(path=loc, reason="it is a directory, expected a file"))
    return loc


def _check_lines_per_doc(lines_per_doc: int) -> None:
    if not isinstance(lines_per_doc, int) or lines_per_doc < 1:
        raise ValueError(Errors.E009.format(setting="lines_per_doc", requirement="an integer >= 1",
                                            value=lines_per_doc))


def _check_eos_marker(eos_marker: Optional[str]) -> None:
    # The marker must survive str.split() as one token, or counts silently change.
    if eos_marker is not None and (
        not isinstance(eos_marker, str) or eos_marker.split() != [eos_marker]
    ):
        raise ValueError(Errors.E009.format(setting="eos_marker", requirement="a non-empty string without "
                                            "whitespace, or null", value=eos_marker))


def open_text(path: Union[str, Path]) -> TextIO:
    """Open a UTF-8 text file for reading, transparently decompressing ``.gz``."""
    loc = ensure_path(path)
    if loc.suffix == ".gz":
        return gzip.open(loc, "rt", encoding="utf-8")  # type: ignore[return-value]
    return open(loc, encoding="utf-8")


TEXT_FILE_EXPECTED = "expected a UTF-8 text file, optionally .gz"


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
    loc = _check_text_file(path)
    _check_lines_per_doc(lines_per_doc)
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
        _check_lines_per_doc(lines_per_doc)
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


def _check_count(setting: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(Errors.E009.format(setting=setting, requirement=f"an integer >= {minimum}", value=value))


def split_sentences(doc: Doc, split_at: Optional[str]) -> List[Doc]:
    """The doc cut after every token whose text is ``split_at`` (that token ends its sentence);
    with None, the doc's sentence boundaries if it has them, else the doc itself. Whitespace
    tokens are dropped; sentences left empty are skipped."""
    if split_at is None:
        spans = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
        words_list = [[t.text for t in span if not t.is_space] for span in spans]
    else:
        words_list, words = [], []
        for token in doc:
            if token.is_space:
                continue
            words.append(token.text)
            if token.text == split_at:
                words_list.append(words)
                words = []
        words_list.append(words)
    return [Doc(doc.vocab, words=w, spaces=[True] * (len(w) - 1) + [False]) for w in words_list if w]


class SentenceCorpus:
    """Iterate one Example per sentence of a text file; see ``create_sentence_reader``."""

    def __init__(self, path: Union[str, Path], *, split_at: Optional[str] = None, max_length: int = 0,
                 skip_headings: bool = False, limit: int = 0) -> None:
        _check_count("max_length", max_length, 0)
        _check_count("limit", limit, 0)
        if split_at is not None and (not isinstance(split_at, str) or split_at.split() != [split_at]):
            raise ValueError(Errors.E009.format(setting="split_at", requirement="a token (no whitespace) or null",
                                                value=split_at))
        self.path = ensure_path(path)
        self.split_at = split_at
        self.max_length = max_length
        self.skip_headings = skip_headings
        self.limit = limit

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        loc = _check_text_file(self.path)
        n = 0
        for line in read_text_lines(loc):
            text = line.strip()
            if not text or (self.skip_headings and text.startswith("= ") and text.endswith(" =")):
                continue
            for sentence in split_sentences(nlp.make_doc(text), self.split_at):
                if self.max_length and len(sentence) > self.max_length:
                    continue
                yield Example(sentence, sentence.copy())
                n += 1
                if self.limit and n >= self.limit:
                    return


@registry.readers("spacy_lm.SentenceCorpus.v1")
def create_sentence_reader(
    path: Optional[Union[str, Path]],
    *,
    split_at: Optional[str] = None,
    max_length: int = 0,
    skip_headings: bool = False,
    limit: int = 0,
) -> Callable[["Language"], Iterable[Example]]:
    """Sentences of a UTF-8 text file (``.gz`` allowed), one Doc each, for `sentence_vae`.

    Each non-blank line is tokenised by the pipeline's tokenizer (raw text with spaCy's, a
    pre-tokenised corpus with ``spacy_lm.WhitespaceTokenizer.v1``), then cut into sentences:
    after every ``split_at`` token (WikiText: "."), or by the doc's sentence boundaries when
    ``split_at`` is null and the tokenizer sets them, else one sentence per line.
    max_length: drop sentences longer than this many tokens (0: keep all).
    skip_headings: drop WikiText heading lines (`` = Title = ``).
    limit: at most this many sentences (0: all).
    """
    if path is None:
        raise ValueError(Errors.E061.format(reader="spacy_lm.SentenceCorpus.v1"))
    return SentenceCorpus(path, split_at=split_at, max_length=max_length, skip_headings=skip_headings, limit=limit)


class PlainTextStreamCorpus:
    """Examples of a pre-tokenised text file read as one token stream in ``n_streams``
    parallel streams of chunks (pytorch/examples' ``batchify`` + ``get_batch``); see
    ``create_plain_text_stream_reader``."""

    def __init__(self, path: Union[str, Path], *, eos_marker: Optional[str] = "<eos>", n_streams: int = 20,
                 chunk_length: int = 35, limit: int = 0) -> None:
        _check_eos_marker(eos_marker)
        _check_count("n_streams", n_streams, 1)
        _check_count("chunk_length", chunk_length, 1)
        _check_count("limit", limit, 0)
        self.path = ensure_path(path)
        self.eos_marker = eos_marker
        self.n_streams = n_streams
        self.chunk_length = chunk_length
        self.limit = limit

    def read_tokens(self) -> List[str]:
        """The file's tokens as one stream (the first ``limit``, if set), as
        ``read_plain_text_docs`` reads them."""
        loc = _check_text_file(self.path)
        tokens: List[str] = []
        for words in _iter_line_words(loc, self.eos_marker):
            tokens.extend(words)
            if self.limit and len(tokens) >= self.limit:
                del tokens[self.limit :]
                break
        return tokens

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        from ..batching import mark_chunk

        tokens = self.read_tokens()
        B, L = self.n_streams, self.chunk_length
        length = len(tokens) // B  # the remainder is dropped, as batchify does
        if length == 0:
            raise ValueError(Errors.E077.format(path=self.path, n_tokens=len(tokens), n_streams=B))
        for chunk, offset in enumerate(range(0, length, L)):
            size = min(L, length - offset)
            for stream in range(B):
                start = stream * length + offset
                words = tokens[start : start + size]
                doc = Doc(nlp.vocab, words=words, spaces=[True] * (size - 1) + [False])
                mark_chunk(doc, stream, chunk, tokens[start - 1] if offset else None)
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


# --------------------------------------------------------------------------------------
# HuggingFace datasets
# --------------------------------------------------------------------------------------


def load_hf_dataset(
    path: str,
    *,
    name: Optional[str] = None,
    split: str = "train",
    data_files: Optional[DataFiles] = None,
    streaming: bool = False,
    cache_dir: Optional[str] = None,
) -> Any:
    """``datasets.load_dataset`` with our arguments; ``datasets`` is imported here only. A hub
    dataset that cannot be downloaded (no network, offline mode) and is not cached is E251 at
    once (hub.check_hub_dataset), not after half a minute of retries."""
    from .hub import check_hub_dataset

    check_hub_dataset(path, data_files=data_files, cache_dir=cache_dir)
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - datasets is a dependency
        raise ImportError(Errors.E063.format(reader="spacy_lm.HFDataset.v1")) from err
    logger.debug("Loading HF dataset %s (name=%s, split=%s)", path, name, split)
    return datasets.load_dataset(
        path,
        name,
        split=split,
        data_files=data_files,
        streaming=streaming,
        cache_dir=cache_dir,
    )


def iter_hf_texts(
    dataset: Iterable[Dict[str, Any]],
    *,
    text_field: str = "text",
    skip_empty: bool = False,
    limit: int = 0,
) -> Iterator[str]:
    """Yield the ``text_field`` of each record, trailing newlines stripped.

    Whitespace-only texts are skipped if ``skip_empty``. ``limit`` caps the number of
    texts yielded (0: all). Missing fields and non-string values raise, naming the field.
    """
    columns = getattr(dataset, "column_names", None)
    if columns is not None and text_field not in columns:
        raise ValueError(_missing_field_message(text_field, columns))
    n_texts = 0
    for i, record in enumerate(dataset):
        if text_field not in record:
            raise ValueError(_missing_field_message(text_field, list(record)))
        text = record[text_field]
        if not isinstance(text, str):
            hint = " (the record lacks the field)" if text is None else ""
            raise TypeError(Errors.E065.format(i=i, field=text_field, type=type(text).__name__, hint=hint))
        text = text.rstrip("\r\n")
        if skip_empty and not text.strip():
            continue
        yield text
        n_texts += 1
        if limit >= 1 and n_texts >= limit:
            return


def _missing_field_message(text_field: str, columns: Iterable[str]) -> str:
    return Errors.E064.format(field=text_field, columns=", ".join(map(str, columns)) or "(none)")


class HFDatasetCorpus:
    """Iterate Examples from a HuggingFace dataset, tokenised by ``nlp.make_doc``.

    The dataset is loaded on the first call and kept, so later epochs do not redo
    ``load_dataset``'s resolution and fingerprinting.
    """

    def __init__(
        self,
        path: str,
        *,
        name: Optional[str] = None,
        split: str = "train",
        data_files: Optional[DataFiles] = None,
        text_field: str = "text",
        streaming: bool = False,
        limit: int = 0,
        skip_empty: bool = False,
        cache_dir: Optional[str] = None,
    ) -> None:
        self.path = path
        self.name = name
        self.split = split
        self.data_files = data_files
        self.text_field = text_field
        self.streaming = streaming
        self.limit = limit
        self.skip_empty = skip_empty
        self.cache_dir = cache_dir
        self._dataset: Any = None

    @property
    def dataset(self) -> Any:
        if self._dataset is None:
            self._dataset = load_hf_dataset(
                self.path,
                name=self.name,
                split=self.split,
                data_files=self.data_files,
                streaming=self.streaming,
                cache_dir=self.cache_dir,
            )
        return self._dataset

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        texts = iter_hf_texts(
            self.dataset,
            text_field=self.text_field,
            skip_empty=self.skip_empty,
            limit=self.limit,
        )
        for text in texts:
            doc = nlp.make_doc(text)
            if self.skip_empty and len(doc) == 0:
                continue
            yield Example(doc, doc.copy())


@registry.readers("spacy_lm.HFDataset.v1")
def create_hf_dataset_reader(
    path: str,
    *,
    name: Optional[str] = None,
    split: str = "train",
    data_files: Optional[DataFiles] = None,
    text_field: str = "text",
    streaming: bool = False,
    limit: int = 0,
    skip_empty: bool = False,
    cache_dir: Optional[str] = None,
) -> Callable[["Language"], Iterable[Example]]:
    """Reader for a HuggingFace ``datasets`` dataset: one Doc per record.

    Arguments go to ``datasets.load_dataset(path, name, split=..., data_files=...,
    streaming=..., cache_dir=...)``; each record's ``text_field`` (trailing newlines
    stripped) becomes ``nlp.make_doc(text)``, so the pipeline's tokenizer applies.
    ``limit`` caps the number of Docs (0: all); ``skip_empty`` drops whitespace-only
    texts. The dataset is loaded when the reader is first called.

    WikiText-2 from the hub::

        [corpora.train]
        @readers = "spacy_lm.HFDataset.v1"
        path = "wikitext"
        name = "wikitext-2-v1"
        split = "train"

    The hub's records are the file's lines *with* their leading space and newline
    (" = Valkyria Chronicles III = \\n"; the newline is stripped here) and blank lines
    as empty strings; use
    ``spacy_lm.WhitespaceTokenizer.v1`` so tokens match the benchmark's, and
    ``skip_empty = true`` to drop the blank lines. No end-of-line marker is added: for
    pytorch/examples-compatible token counts read the raw files with
    ``spacy_lm.PlainTextCorpus.v1`` and ``eos_marker = "<eos>"``.

    Local files work offline (set HF_DATASETS_OFFLINE=1) with a packaged builder::

        path = "text"      # data_files = "corpus/train.txt"; one record per line
        path = "json"      # data_files = "corpus/train.jsonl"
        path = "parquet"   # data_files = "corpus/train.parquet"

    With a str or list ``data_files`` the data is in the "train" split; with a dict
    (``{"validation": "dev.txt"}``) pick the key as ``split``.
    """
    return HFDatasetCorpus(
        path,
        name=name,
        split=split,
        data_files=data_files,
        text_field=text_field,
        streaming=streaming,
        limit=limit,
        skip_empty=skip_empty,
        cache_dir=cache_dir,
    )


# --------------------------------------------------------------------------------------
# Text classification corpora (SST, IMDB, any labelled CSV/TSV, spaCy DocBin files)
# --------------------------------------------------------------------------------------

TEXTCAT_FORMATS = ("label_first", "csv", "tsv")
# DocBin.to_bytes is zlib data: these two bytes start it, and never start UTF-8 text.
DOCBIN_MAGIC = (b"\x78\x9c", b"\x78\xda")


def is_docbin(path: Union[str, Path]) -> bool:
    """A ``.spacy`` file, a directory (of ``.spacy`` files, as ``spacy.Corpus.v1`` reads) or a
    file that starts as DocBin data does, whatever its name."""
    loc = ensure_path(path)
    if loc.suffix == ".spacy" or loc.is_dir():
        return True
    if not loc.is_file():
        return False
    with loc.open("rb") as handle:
        return handle.read(2) in DOCBIN_MAGIC


def iter_docbin_docs(path: Union[str, Path], vocab: Vocab) -> Iterator[Tuple[Path, Doc]]:
    """(file, doc) for each doc of a DocBin file or of the ``.spacy`` files under a directory
    (sorted, hidden ones skipped). A file that is not a DocBin raises E087."""
    from spacy.tokens import DocBin

    loc = ensure_path(path)
    if not loc.exists():
        raise ValueError(Errors.E062.format(path=loc, reason="no such file"))
    files = [loc]
    if loc.is_dir():
        files = sorted(f for f in loc.rglob("*.spacy")
                       if f.is_file() and not any(part.startswith(".") for part in f.relative_to(loc).parts))
        if not files:
            raise ValueError(Errors.E062.format(path=loc, reason="a directory with no .spacy files"))
    for file in files:
        try:
            doc_bin = DocBin().from_disk(file)
        except ValueError as err:
            raise ValueError(Errors.E087.format(path=file, reason=err)) from err
        for doc in doc_bin.get_docs(vocab):
            yield file, doc


def iter_labelled_texts(
    path: Union[str, Path],
    *,
    format: str = "label_first",
    text_column: str = "text",
    label_column: str = "label",
) -> Iterator[Tuple[str, str]]:
    """(text, raw label) pairs of a labelled file (optionally ``.gz``).

    label_first: ``<label> <text>`` per line (SST's stsa.binary.* / stsa.fine.*).
    csv / tsv: a header row naming ``text_column`` and ``label_column`` (IMDB's CSVs, GLUE's TSVs).
    """
    import csv

    if format not in TEXTCAT_FORMATS:
        raise ValueError(_bad_format(format))
    loc = _check_text_file(path)
    # read_text_lines: bad UTF-8 or a truncated .gz is E062 naming the file and the line
    lines = read_text_lines(loc)
    if format == "label_first":
        for line in lines:
            line = line.strip()
            if not line:
                continue
            label, _, text = line.partition(" ")
            yield text, label
        return
    reader = csv.DictReader(lines, delimiter="," if format == "csv" else "\t", quoting=csv.QUOTE_MINIMAL
                            if format == "csv" else csv.QUOTE_NONE)
    missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(Errors.E066.format(path=loc, missing=missing, header=reader.fieldnames))
    for row in reader:
        yield row[text_column], row[label_column]


def _bad_format(format: str) -> str:
    return Errors.E009.format(setting="format", requirement=f"one of {TEXTCAT_FORMATS}", value=format)


class TextCatCorpus:
    """Examples with ``doc.cats`` (one-hot over ``labels``) for `textcat` training, from a
    labelled text file or from DocBin files (their own ``doc.cats``, renamed by ``labels``)."""

    def __init__(self, path, *, format: str, labels: Optional[Dict[str, str]], text_column: str,
                 label_column: str, limit: int) -> None:
        self.path = path
        self.format = format
        self.labels = labels
        self.text_column = text_column
        self.label_column = label_column
        self.limit = limit
        if format not in TEXTCAT_FORMATS:
            raise ValueError(_bad_format(format))

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        if is_docbin(self.path):
            yield from self._docbin_examples(nlp)
            return
        pairs = iter_labelled_texts(self.path, format=self.format, text_column=self.text_column,
                                    label_column=self.label_column)
        names = self.labels
        all_names = sorted(set(names.values())) if names else None
        if all_names is None:
            # Without a mapping the raw labels are the names: read them all first.
            pairs = list(pairs)
            all_names = sorted({label for _, label in pairs})
        for n, (text, raw) in enumerate(pairs):
            if self.limit and n >= self.limit:
                break
            name = names.get(raw) if names else raw
            if name is None:
                raise ValueError(Errors.E067.format(path=self.path, raw=raw, labels=names))
            doc = nlp.make_doc(text)
            ref = doc.copy()
            ref.cats = {label: float(label == name) for label in all_names}
            yield Example(doc, ref)

    def _docbin_examples(self, nlp: "Language") -> Iterator[Example]:
        """The DocBin's docs as references (their annotations kept), ``nlp.make_doc`` of their
        text as the predicted docs, as ``spacy.Corpus.v1`` makes them. Cats keys that are raw
        labels of ``labels`` are renamed, keys that are names stay; any other key is E047, a
        doc without cats E048. Labels a doc lacks are 0.0 (one-hot over all labels)."""
        docs = iter_docbin_docs(self.path, nlp.vocab)
        names = self.labels
        if names:
            all_names = sorted(set(names.values()))
        else:  # the cats keys are the names: read them all first
            docs = list(docs)
            all_names = sorted({key for _, doc in docs for key in doc.cats})
        for n, (file, ref) in enumerate(docs):
            if self.limit and n >= self.limit:
                break
            if not ref.cats:
                raise ValueError(Errors.E048.format(path=file, i=n, text=ref.text[:60]))
            cats = self._rename_cats(ref.cats, file, n) if names else dict(ref.cats)
            ref.cats = {label: float(cats.get(label, 0.0)) for label in all_names}
            yield Example(nlp.make_doc(ref.text), ref)

    def _rename_cats(self, cats: Dict[str, float], file: Path, n: int) -> Dict[str, float]:
        names = self.labels
        known = set(names.values())
        unknown = sorted(key for key in cats if key not in names and key not in known)
        if unknown:
            raise ValueError(Errors.E047.format(path=file, i=n, unknown=unknown, labels=names))
        return {names.get(key, key): value for key, value in cats.items()}


@registry.readers("spacy_lm.TextCatCorpus.v1")
def create_textcat_reader(
    path: Optional[Union[str, Path]],
    *,
    format: str = "label_first",
    labels: Optional[Dict[str, str]] = None,
    text_column: str = "text",
    label_column: str = "label",
    limit: int = 0,
) -> Callable[["Language"], Iterable[Example]]:
    """Reader for labelled text classification files (exclusive classes).

    path: the file (``.gz`` allowed); None is a ValueError, as in spaCy's readers. A ``.spacy``
        DocBin file (or a directory of them, or a file holding DocBin data under another name) is
        read as spaCy's own corpus reader reads it, with the gold labels from ``doc.cats``.
    format: of text files: "label_first" (``<label> <text>`` lines: SST stsa.*), "csv" or "tsv"
        (header row). DocBin files need no format.
    labels: raw label → category name, e.g. {"0": "NEG", "1": "POS"}; null uses the raw labels
        (a DocBin's cats as they are). DocBin cats keys may be raw labels or names.
    text_column / label_column: the columns of csv/tsv files.
    limit: maximum number of examples (0: all).
    """
    if path is None:
        raise ValueError(Errors.E061.format(reader="spacy_lm.TextCatCorpus.v1"))
    return TextCatCorpus(path, format=format, labels=labels, text_column=text_column,
                         label_column=label_column, limit=limit)
