"""``spacy_lm.MixedTextStreamCorpus.v1``: several text sources mixed into one LM training stream.

Why: a general LM (ULMFiT's, ELMo's) is pre-trained on more than one kind of text: WikiText is
encyclopaedic; reviews (IMDB) and SQuAD's paragraphs bring other registers, but come as a CSV
column and a JSON file, and a stream reader reads one file. This reader reads each source as its
format needs (``parse_source`` documents the settings), interleaves the sources' docs in a seeded
random order that keeps each source's own order, and cuts the mixed stream into parallel streams
of chunks with ``stream_chunk_examples`` (``PlainTextStreamCorpus.v1``'s chunking), forward or
backward.

Each doc becomes its tokens and then ``eos_marker``; in a multi-line doc of "lines" the marker
also ends each inner line, so one-line docs read exactly as ``PlainTextStreamCorpus.v1`` reads
them. Raw texts without tokens are left out (before take/skip). ``iter_source_docs`` gives one
source's docs as the stream reads them (no closing marker, no repeat), so a benchmark can score
each source's held-out docs separately; ``mixture_statistics`` counts what the stream holds.
"""
import re
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy
import srsly
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import ensure_path, registry
from wasabi import msg

from ..checks import check_count, check_setting, is_count, is_int
from ..errors import Errors
from .files import check_text_file, read_text_lines
from ..batching import DIRECTIONS
from .plain_text import _check_eos_marker, stream_chunk_examples
from .squad import article_range, read_squad

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401

READER = "spacy_lm.MixedTextStreamCorpus.v1"
FORMATS = ("lines", "csv", "jsonl", "squad")
SUFFIX_FORMATS = {".txt": "lines", ".csv": "csv", ".jsonl": "jsonl", ".json": "squad"}
TOKENIZERS = ("split", "spacy")
SETTINGS = ("path", "format", "column", "tokenizer", "strip_html", "take", "skip", "repeat", "lines_per_doc")
HTML_TAG = re.compile(r"<\s*/?\s*[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?\s*>")
TokenDoc = List[str]
Piece = Tuple[str, int]  # (source, number of stream tokens) of one doc, in stream order


@dataclass(frozen=True)
class Source:
    """One source's checked settings (see ``parse_source``)."""

    name: str
    path: Path
    format: str
    column: str = "text"
    tokenizer: str = "split"
    strip_html: bool = False
    take: int = 0
    skip: int = 0
    repeat: int = 1
    lines_per_doc: int = 1


def parse_source(name: str, settings: Dict[str, Any]) -> Source:
    """``settings`` of source ``name`` checked (E300, E301, E305); the file is checked when read.

    path (required): a local UTF-8 file, ``.gz`` allowed. format: "lines" (pre-tokenised text,
    ``lines_per_doc`` lines a doc, default 1; blank lines are docs, as in WikiText), "csv" (a column
    of a CSV file with a header), "jsonl" (a field of each JSON line) or "squad" (each context of a
    SQuAD v1.1 file, once); by default from the name: .txt lines, .csv, .jsonl, .json squad.
    column: the CSV column or JSON field ("text"). tokenizer: "split" (``str.split``, the default
    for lines) or "spacy" (``spacy.blank(nlp.lang)``'s tokenizer, the default for raw text;
    whitespace tokens dropped). strip_html: replace tags (IMDB's ``<br />``) by a space.
    take / skip: slice the docs as SquadCorpus slices articles (``article_range``): take N keeps
    the first N, -N all but the last N; skip N drops the first N, -N keeps only the last N (train
    take = -1000, dev skip = -1000 of one file). repeat: the docs appear that many times.
    """
    if not isinstance(settings, dict):
        raise ValueError(Errors.E300.format(name=name, problem=f"its settings must be a table, got {settings!r}"))
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(Errors.E300.format(name=name, problem=f"unknown setting(s) {', '.join(unknown)}"))
    if settings.get("path") is None:
        raise ValueError(Errors.E300.format(name=name, problem="path is missing"))
    path = ensure_path(settings["path"])
    fmt = settings.get("format") or _infer_format(name, path)
    if fmt not in FORMATS:
        raise ValueError(Errors.E301.format(name=name, problem=f"unknown format {fmt!r}"))
    values = {"column": "text", "tokenizer": "split" if fmt == "lines" else "spacy", "strip_html": False,
              "take": 0, "skip": 0, "repeat": 1, "lines_per_doc": 1, **settings}
    where = f"{READER} source {name!r}"

    def check(ok: bool, setting: str, requirement: str) -> None:
        check_setting(ok, setting, requirement, values[setting], where=where, code="E305")

    check(isinstance(values["column"], str) and bool(values["column"]), "column", "a non-empty string")
    check(values["tokenizer"] in TOKENIZERS, "tokenizer", '"split" or "spacy"')
    check(isinstance(values["strip_html"], bool), "strip_html", "true or false")
    check(is_int(values["take"]), "take", "an integer (N: the first N docs, -N: all but the last N, 0: all)")
    check(is_int(values["skip"]), "skip", "an integer (N: drop the first N docs, -N: only the last N)")
    check(is_count(values["repeat"], 1), "repeat", "an integer >= 1")
    check(is_count(values["lines_per_doc"], 1), "lines_per_doc", "an integer >= 1")
    kept = {key: values[key] for key in SETTINGS[3:]}
    return Source(name, path, fmt, column=values["column"], **kept)


def _infer_format(name: str, path: Path) -> str:
    suffixes = path.suffixes[-2:] if path.suffix == ".gz" else path.suffixes[-1:]
    fmt = SUFFIX_FORMATS.get(suffixes[0].lower() if suffixes else "")
    if fmt is None:
        raise ValueError(Errors.E301.format(name=name, problem=f"cannot tell the format of {path} from its name"))
    return fmt


# ---------------------------------------------------------------------- one source's docs


@lru_cache(maxsize=4)
def _spacy_tokenizer(lang: str) -> Callable[[str], TokenDoc]:
    import spacy

    tokenizer = spacy.blank(lang).tokenizer
    return lambda text: [t.text for t in tokenizer(text) if not t.is_space]


def _raw_texts(source: Source) -> Iterator[str]:
    """The raw text of each doc of a csv, jsonl or squad source, in file order."""
    if source.format == "squad":
        seen = set()
        for record in read_squad(source.path):
            if record["context"] not in seen:
                seen.add(record["context"])
                yield record["context"]
    elif source.format == "csv":
        import csv

        reader = csv.DictReader(read_text_lines(source.path))
        if source.column not in (reader.fieldnames or []):
            raise ValueError(Errors.E303.format(name=source.name, where=source.path, kind="column",
                                                column=source.column, found=reader.fieldnames))
        for row in reader:
            yield row[source.column] or ""
    else:
        for i, line in enumerate(read_text_lines(source.path), 1):
            if not line.strip():
                continue
            try:
                row = srsly.json_loads(line)
            except ValueError as err:
                raise ValueError(Errors.E307.format(name=source.name, path=source.path, line=i, reason=err))
            if not isinstance(row, dict):
                raise ValueError(Errors.E307.format(name=source.name, path=source.path, line=i,
                                                    reason=f"got {type(row).__name__}"))
            if source.column not in row:
                raise ValueError(Errors.E303.format(name=source.name, where=f"{source.path} line {i}", kind="field",
                                                    column=source.column, found=sorted(row)))
            yield str(row[source.column] or "")


def _token_docs(source: Source, lang: str, eos_marker: Optional[str]) -> Iterator[TokenDoc]:
    """Every doc of the file as tokens (no closing marker), before take/skip."""
    tokenize = str.split if source.tokenizer == "split" else _spacy_tokenizer(lang)

    def tokens(text: str) -> TokenDoc:
        return [sys.intern(t) for t in tokenize(HTML_TAG.sub(" ", text) if source.strip_html else text)]

    if source.format != "lines":
        yield from (doc for doc in map(tokens, _raw_texts(source)) if doc)
        return
    doc: TokenDoc = []
    n_lines = 0
    for line in read_text_lines(source.path):
        if n_lines and eos_marker is not None:
            doc.append(eos_marker)  # the end of the doc's previous line
        doc.extend(tokens(line))
        n_lines += 1
        if n_lines == source.lines_per_doc:
            yield doc
            doc, n_lines = [], 0
    if n_lines:
        yield doc


def read_source(source: Source, lang: str, eos_marker: Optional[str] = "<eos>") -> List[TokenDoc]:
    """The source's docs as token lists after take/skip (no closing marker, no repeat); E302 for
    a missing file, E304 when they hold no token."""
    try:
        check_text_file(source.path)
    except ValueError as err:
        raise ValueError(Errors.E302.format(name=source.name, error=err)) from err
    docs = list(_token_docs(source, lang, eos_marker))
    kept = article_range(len(docs), source.skip, source.take)
    docs = docs[kept.start : kept.stop]
    if not any(docs):
        raise ValueError(Errors.E304.format(name=source.name, n_docs=len(docs), path=source.path,
                                            skip=source.skip, take=source.take))
    return docs


def iter_source_docs(nlp: "Language", name: str, settings: Dict[str, Any], *,
                     eos_marker: Optional[str] = "<eos>") -> Iterator[Doc]:
    """One source's docs (its settings as in the reader's ``sources``), tokenised exactly as the
    stream reads them, one Doc each without the closing ``eos_marker`` and without ``repeat``:
    e.g. the held-out docs (``skip = -1000``) to score per source."""
    for words in read_source(parse_source(name, settings), nlp.lang, eos_marker):
        yield Doc(nlp.vocab, words=words, spaces=[True] * (len(words) - 1) + [False] if words else [])


# ---------------------------------------------------------------------- the mixture


def interleave(counts: Dict[str, int], seed: int = 0) -> List[str]:
    """The source of each doc of the mixture, in order. Drawing the next source with probability
    proportional to its remaining docs gives every arrangement of the multiset of sources the same
    probability, so this is one seeded shuffle of it; each source's docs keep their order."""
    names = list(counts)
    labels = numpy.repeat(numpy.arange(len(names)), [counts[name] for name in names])
    return [names[i] for i in numpy.random.default_rng(seed).permutation(labels)]


def mix_sources(docs: Dict[str, List[TokenDoc]], *, eos_marker: Optional[str] = "<eos>", seed: int = 0,
                limit: int = 0) -> Tuple[List[str], List[Piece]]:
    """The mixed token stream (each doc then ``eos_marker``, the first ``limit`` tokens if set)
    and its pieces: (source, number of tokens) of each doc in stream order, the last maybe cut."""
    tail = [] if eos_marker is None else [eos_marker]
    position = dict.fromkeys(docs, 0)
    tokens: List[str] = []
    pieces: List[Piece] = []
    for name in interleave({name: len(source_docs) for name, source_docs in docs.items()}, seed):
        doc = docs[name][position[name]]
        position[name] += 1
        tokens.extend(doc)
        tokens.extend(tail)
        pieces.append((name, len(doc) + len(tail)))
        if limit and len(tokens) >= limit:
            pieces[-1] = (name, pieces[-1][1] - (len(tokens) - limit))
            del tokens[limit:]
            break
    return tokens, pieces


def mixture_statistics(tokens: List[str], pieces: List[Piece],
                       names: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """Per source (``names`` first, in that order, then others as they appear), then "total": docs,
    tokens (markers included), distinct token types as is and lower-cased, and the share of the
    stream's tokens in %."""
    rows = {name: {"source": name, "docs": 0, "tokens": 0} for name in names}
    types: Dict[str, set] = {name: set() for name in names}
    start = 0
    for name, n in pieces:
        row = rows.setdefault(name, {"source": name, "docs": 0, "tokens": 0})
        row["docs"] += 1
        row["tokens"] += n
        types.setdefault(name, set()).update(tokens[start : start + n])
        start += n
    every = set().union(*types.values())
    rows["total"] = {"source": "total", "docs": len(pieces), "tokens": len(tokens)}
    types["total"] = every
    for name, row in rows.items():
        row["types"] = len(types[name])
        row["types_lower"] = len({t.lower() for t in types[name]})
        row["share"] = 100.0 * row["tokens"] / max(1, len(tokens))
    return list(rows.values())


def print_statistics(rows: List[Dict[str, Any]], seconds: float) -> None:
    """``mixture_statistics`` as a table, as spaCy's CLI prints."""
    msg.info(f"{READER}: {len(rows) - 1} source(s), {rows[-1]['tokens']:,} tokens, read in {seconds:.1f}s")
    header = ("source", "docs", "tokens", "types", "types (lower)", "share %")
    data = [(r["source"], f"{r['docs']:,}", f"{r['tokens']:,}", f"{r['types']:,}", f"{r['types_lower']:,}",
             f"{r['share']:.1f}") for r in rows]
    msg.table(data, header=header, divider=True, aligns=("l", "r", "r", "r", "r", "r"))


class MixedTextStreamCorpus:
    """Examples of several sources mixed into one stream; see ``create_mixed_text_stream_reader``.
    The stream is read and tokenised once per instance (per language), however often it is called."""

    def __init__(self, sources: Dict[str, Dict[str, Any]], *, eos_marker: Optional[str] = "<eos>",
                 n_streams: int = 20, chunk_length: int = 35, direction: str = "forward", seed: int = 0,
                 limit: int = 0, verbose: bool = True) -> None:
        if not isinstance(sources, dict) or not sources:
            raise ValueError(Errors.E306.format(value=sources))
        # a source whose path is null is left out, so one config serves one to N sources
        used = {name: settings for name, settings in sources.items()
                if not (isinstance(settings, dict) and "path" in settings and settings["path"] is None)}
        if not used:
            raise ValueError(Errors.E306.format(value=sources))
        self.sources = [parse_source(str(name), settings) for name, settings in used.items()]
        _check_eos_marker(eos_marker)
        check_count("n_streams", n_streams, 1, where=READER)
        check_count("chunk_length", chunk_length, 1, where=READER)
        check_count("limit", limit, 0, where=READER)
        check_setting(is_int(seed), "seed", "an integer", seed, where=READER)
        check_setting(direction in DIRECTIONS, "direction", "", direction, code="E291")
        self.eos_marker, self.n_streams, self.chunk_length = eos_marker, n_streams, chunk_length
        self.direction, self.seed, self.limit, self.verbose = direction, seed, limit, verbose
        self._stream: Optional[Tuple[str, List[str], List[Piece]]] = None

    def stream(self, nlp: "Language") -> Tuple[List[str], List[Piece]]:
        """The mixed tokens and their pieces (see ``mix_sources``), read at the first call."""
        if self._stream is None or self._stream[0] != nlp.lang:
            start = time.perf_counter()
            docs = {s.name: read_source(s, nlp.lang, self.eos_marker) * s.repeat for s in self.sources}
            tokens, pieces = mix_sources(docs, eos_marker=self.eos_marker, seed=self.seed, limit=self.limit)
            self._stream = (nlp.lang, tokens, pieces)
            if self.verbose:  # once per instance: spacy train calls the reader every epoch
                print_statistics(self.statistics(nlp), time.perf_counter() - start)
        return self._stream[1], self._stream[2]

    def statistics(self, nlp: "Language") -> List[Dict[str, Any]]:
        """``mixture_statistics`` of the stream, the sources in their config order."""
        return mixture_statistics(*self.stream(nlp), names=[s.name for s in self.sources])

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        tokens, _ = self.stream(nlp)
        where = "The mixture of " + ", ".join(repr(s.name) for s in self.sources)
        yield from stream_chunk_examples(nlp, tokens, self.n_streams, self.chunk_length, self.direction,
                                         where=where)


@registry.readers(READER)
def create_mixed_text_stream_reader(
    sources: Dict[str, Dict[str, Any]],
    *,
    eos_marker: Optional[str] = "<eos>",
    n_streams: int = 20,
    chunk_length: int = 35,
    direction: str = "forward",
    seed: int = 0,
    limit: int = 0,
    verbose: bool = True,
) -> Callable[["Language"], Iterator[Example]]:
    """Reader for stream training on several sources mixed (see the module docstring); in a
    config each source is a table: ``[corpora.train.sources.imdb]`` with ``path = ...``.

    sources: source name -> settings (see ``parse_source``); checked now, files at the first call.
    eos_marker: token after every doc (and every line of "lines"); None adds none.
    n_streams, chunk_length, direction: as ``stream_chunk_examples``; the batcher and
        ``[training] max_epochs = -1`` as for ``spacy_lm.PlainTextStreamCorpus.v1``.
    seed: the interleaving's seed. limit: maximum number of tokens (0: all).
    verbose: print the statistics of each source when first read.
    """
    return MixedTextStreamCorpus(sources, eos_marker=eos_marker, n_streams=n_streams, chunk_length=chunk_length,
                                 direction=direction, seed=seed, limit=limit, verbose=verbose)
