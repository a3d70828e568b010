"""Sentences of a text file, one Doc each, for `sentence_vae` (``spacy_lm.SentenceCorpus.v1``)."""
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, List, Optional, Union

from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import ensure_path, registry

from ..checks import check_count
from ..errors import Errors
from .files import check_text_file, read_text_lines

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401


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
        check_count("max_length", max_length, 0)
        check_count("limit", limit, 0)
        if split_at is not None and (not isinstance(split_at, str) or split_at.split() != [split_at]):
            raise ValueError(Errors.E009.format(setting="split_at", requirement="a token (no whitespace) or null",
                                                value=split_at))
        self.path = ensure_path(path)
        self.split_at = split_at
        self.max_length = max_length
        self.skip_headings = skip_headings
        self.limit = limit

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        loc = check_text_file(self.path)
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
