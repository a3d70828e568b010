"""HuggingFace ``datasets`` as corpora: ``spacy_lm.HFDataset.v1`` reads any dataset (hub or
local text/json/parquet files) and tokenises it with the pipeline's own tokenizer.

``load_hf_dataset`` and ``iter_hf_texts`` are public so the parallel and web readers, the CLI
and the benchmarks load and read datasets as training does. ``datasets`` is imported only
when a dataset is loaded.
"""
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Union

from spacy.training import Example
from spacy.util import logger, registry

from ..errors import Errors
from .hub import check_hub_dataset

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401

DataFiles = Union[str, List[str], Dict[str, Any]]


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
