"""corpora.web_formats: a source's format from its name, hf: specs."""
import pytest

from spacy_lm.corpora.web_formats import FORMATS, parse_hf_source, source_format


@pytest.mark.parametrize("name,kind", [
    ("CC-MAIN-2024-22-00001.warc.wet.gz", "wet"), ("a.wet", "wet"), ("enwiki-pages.xml.bz2", "wikipedia"),
    ("x.jsonl.gz", "jsonl"), ("x.json", "jsonl"), ("x.parquet", "parquet"), ("x.txt.gz", "text"),
    ("hf:wikimedia/wikipedia:20231101.en", "hf"),
])
def test_source_format_from_the_name(name, kind):
    assert source_format(name) == kind


def test_unknown_format_and_name_are_clear_errors():
    with pytest.raises(ValueError, match=r"\[E151\].*data\.bin"):
        source_format("data.bin")
    with pytest.raises(ValueError, match=r"\[E150\].*'csv'"):
        source_format("data.bin", "csv")
    assert set(FORMATS) == {"wet", "wikipedia", "jsonl", "parquet", "text", "hf"}


def test_parse_hf_source():
    assert parse_hf_source("hf:wikimedia/wikipedia:20231101.en@train") == ("wikimedia/wikipedia", "20231101.en", "train")
    assert parse_hf_source("hf:imdb@test") == ("imdb", None, "test")
    with pytest.raises(ValueError, match=r"\[E152\]"):
        parse_hf_source("hf:")
