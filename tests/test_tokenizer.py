import pickle
import re

import pytest
import spacy
from spacy.util import registry
from spacy.vocab import Vocab

from spacy_lm.text.tokenizer import WhitespaceTokenizer, create_whitespace_tokenizer

CONFIG = {"nlp": {"tokenizer": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}}
WIKI_LINE = "= Valkyria <unk> @-@ 3 ="


@pytest.fixture
def nlp():
    return spacy.blank("en", config=CONFIG)


def test_splits_wikitext_tokens_whole():
    doc = WhitespaceTokenizer(Vocab())(WIKI_LINE)
    assert [t.text for t in doc] == ["=", "Valkyria", "<unk>", "@-@", "3", "="]
    assert doc.text == WIKI_LINE
    assert doc[-1].whitespace_ == ""


def test_default_tokenizer_would_split_unk():
    # Guards the premise: without the whitespace tokenizer "<unk>" is not one token.
    assert len(spacy.blank("en")(WIKI_LINE)) != 6


@pytest.mark.parametrize(
    "text",
    [
        " = Valkyria Chronicles III = \n",
        "a\tb  c\n\nd\r\ne\u00a0f\u3000g",
        "",
        "   \n\t ",
        "single",
        "don't split-me, please.",
    ],
)
def test_matches_str_split(text):
    doc = WhitespaceTokenizer(Vocab())(text)
    assert [t.text for t in doc] == text.split()
    # Whitespace is collapsed to single spaces, ends trimmed.
    assert doc.text == " ".join(text.split())
    assert not any(t.is_space for t in doc)


def test_pipe():
    tok = WhitespaceTokenizer(Vocab())
    docs = list(tok.pipe(["a b", "", "c  d e"]))
    assert [len(d) for d in docs] == [2, 0, 3]


@pytest.mark.parametrize("bad", [b"a b", None, 3, ["a", "b"]])
def test_non_str_raises_type_error(bad):
    with pytest.raises(TypeError, match=rf"\[E073\].*{type(bad).__name__}"):
        WhitespaceTokenizer(Vocab())(bad)


def test_registered_and_used_via_config(nlp):
    factory = registry.tokenizers.get("spacy_lm.WhitespaceTokenizer.v1")
    assert factory is create_whitespace_tokenizer
    assert isinstance(nlp.tokenizer, WhitespaceTokenizer)
    assert nlp.tokenizer.vocab is nlp.vocab
    assert [t.text for t in nlp(WIKI_LINE)] == WIKI_LINE.split()


def test_bytes_roundtrip(nlp):
    data = nlp.tokenizer.to_bytes(exclude=["vocab"])
    assert isinstance(data, bytes)
    assert nlp.tokenizer.from_bytes(data, exclude=["vocab"]) is nlp.tokenizer
    nlp2 = spacy.blank("en", config=CONFIG).from_bytes(nlp.to_bytes())
    assert [t.text for t in nlp2(WIKI_LINE)] == WIKI_LINE.split()


def test_disk_roundtrip(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipeline")
    assert (tmp_path / "pipeline" / "tokenizer").is_file()
    loaded = spacy.load(tmp_path / "pipeline")
    assert isinstance(loaded.tokenizer, WhitespaceTokenizer)
    assert loaded.config["nlp"]["tokenizer"]["@tokenizers"] == "spacy_lm.WhitespaceTokenizer.v1"
    doc = loaded(WIKI_LINE)
    assert [t.text for t in doc] == ["=", "Valkyria", "<unk>", "@-@", "3", "="]


def test_from_disk_without_file(tmp_path):
    tok = WhitespaceTokenizer(Vocab())
    assert tok.from_disk(tmp_path / "absent", exclude=["vocab"]) is tok


def test_picklable():
    tok = pickle.loads(pickle.dumps(WhitespaceTokenizer(Vocab())))
    assert [t.text for t in tok("x  y")] == ["x", "y"]


@pytest.mark.parametrize("keep", [0, 1, 10, -1])
def test_truncated_tokenizer_file_is_a_one_line_error_naming_it(nlp, tmp_path, keep):
    nlp.to_disk(tmp_path / "pipeline")
    path = tmp_path / "pipeline" / "tokenizer"
    data = path.read_bytes()
    path.write_bytes(data[:keep])  # -1: all but the last byte
    with pytest.raises(ValueError, match=rf"\[E155\] Cannot read {re.escape(str(path))}: the file is damaged"):
        spacy.load(tmp_path / "pipeline")


@pytest.mark.parametrize("data", [b"\x81\xa9tokeni", b"\xc1", b"\x05"])
def test_damaged_tokenizer_bytes_are_a_one_line_error(data):
    with pytest.raises(ValueError, match=r"\[E155\] Cannot read the tokenizer's bytes"):
        WhitespaceTokenizer(Vocab()).from_bytes(data)
