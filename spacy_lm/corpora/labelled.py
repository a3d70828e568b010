"""Labelled text for text classification (``spacy_lm.TextCatCorpus.v1``): SST's
``<label> <text>`` lines, IMDB's CSVs, GLUE's TSVs and spaCy DocBin files with ``doc.cats``.

``iter_labelled_texts``, ``is_docbin`` and ``iter_docbin_docs`` are public so the bias slices,
the CLI and the benchmarks read labelled data as training does.
"""
import csv
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterable, Iterator, Optional, Tuple, Union

from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import ensure_path, registry
from spacy.vocab import Vocab

from ..errors import Errors
from .files import check_text_file, read_text_lines

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401

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
    if format not in TEXTCAT_FORMATS:
        raise ValueError(_bad_format(format))
    loc = check_text_file(path)
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
