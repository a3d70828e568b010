"""corpora.web: WET (made with warcio), JSONL/parquet/text (.gz), datasets offline, spacy_lm.WebCorpus.v1."""
import gzip
import io
import json
import sys

import pytest
import spacy
from spacy.util import registry

from spacy_lm.corpora.web import check_source, iter_records
from .samples import WIKI_DUMP


def write_wet(path, pages):
    """A WET file as Common Crawl writes them: a warcinfo record, then one conversion record per page."""
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=str(path).endswith(".gz"))
        writer.write_record(writer.create_warcinfo_record("test.warc.wet", {"software": "test"}))
        for url, body in pages:
            headers = {"WARC-Date": "2024-05-01T10:00:00Z", "WARC-Identified-Content-Language": "eng"}
            record = writer.create_warc_record(url, "conversion", payload=io.BytesIO(body),
                                               warc_headers_dict=headers,
                                               warc_content_type="text/plain")
            writer.write_record(record)
    return path


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\[E153\]"):
        list(iter_records(str(tmp_path / "nope.jsonl")))
    with pytest.raises(IsADirectoryError, match=r"\[E154\]"):
        list(iter_records(str(tmp_path), format="text"))


# ---- Common Crawl WET ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["part.warc.wet", "part.warc.wet.gz"])
def test_wet_records_keep_url_and_date(tmp_path, name):
    pages = [("http://example.com/a", "First page.\nSecond line.".encode()),
             ("http://example.org/b", "Zweite Seite mit Umlauten: äöü.".encode()),
             ("http://example.net/c", b"\xff\xfe not utf-8")]
    records = list(iter_records(str(write_wet(tmp_path / name, pages))))
    assert [r["url"] for r in records] == [url for url, _ in pages]
    assert records[0]["text"] == "First page.\nSecond line." and records[1]["text"].endswith("äöü.")
    assert all(r["date"] == "2024-05-01T10:00:00Z" and r["language"] == "eng" for r in records)
    assert len({r["id"] for r in records}) == 3 and records[0]["id"].startswith("<urn:uuid:")
    assert records[2]["text"] is None and records[2]["error"].startswith("undecodable")


def test_truncated_wet_file_names_it(tmp_path):
    words = " ".join(f"w{i * 7919 % 10007}" for i in range(5000)).encode()  # compresses poorly
    path = write_wet(tmp_path / "part.warc.wet.gz", [("http://e.com/", words)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"\[E155\].*part\.warc\.wet\.gz.*truncated"):
        list(iter_records(str(path)))


# ---- JSONL, parquet, text -----------------------------------------------------------


def test_jsonl_gz_keeps_fields_and_reports_bad_lines(tmp_path):
    path = tmp_path / "docs.jsonl.gz"
    lines = [json.dumps({"doc": "d1", "text": "Hello world.", "source": "web"}).encode(),
             b"", b"{not json", json.dumps([1, 2]).encode(), b"\xff\xfe",
             json.dumps({"doc": "d5", "text": 7}).encode()]
    with gzip.open(path, "wb") as handle:
        handle.write(b"\n".join(lines) + b"\n")
    records = list(iter_records(str(path), id_field="doc"))
    assert records[0] == {"id": "d1", "text": "Hello world.", "source": "web"}
    assert [r["id"] for r in records[1:4]] == ["docs.jsonl.gz:3", "docs.jsonl.gz:4", "docs.jsonl.gz:5"]
    assert [r["error"].split(":")[1].strip().split(" ")[0] for r in records[1:4]] == ["not", "a", "not"]
    assert records[4]["id"] == "d5" and records[4]["text"] is None and "int" in records[4]["error"]
    with pytest.raises(ValueError, match=r"\[E157\].*'body'.*doc, text, source"):
        list(iter_records(str(path), text_field="body"))


def test_lone_surrogates_and_missing_fields_are_records_with_their_reason(tmp_path):
    """A lone surrogate ("\\ud800", valid JSON, no valid UTF-8) anywhere in a row makes it an
    undecodable record; a paired one (an escaped emoji) is text. A row without the text field
    raises E157, or with reject_missing is a record with the reason and its own fields."""
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join([r'{"text": "a \ud800 b"}', r'{"text": "fine", "title": "\udc00"}',
                               r'{"text": "smile \ud83d\ude00"}', r'{"body": "no text", "n": 4}']) + "\n")
    records = list(iter_records(str(path), reject_missing=True))
    assert [r["text"] for r in records] == [None, None, "smile \U0001F600", None]
    assert all("lone surrogate" in r["error"] for r in records[:2]) and "error" not in records[2]
    assert records[3]["error"].startswith("missing field: no 'text' field") and records[3]["n"] == 4
    assert records[3]["id"] == "docs.jsonl:4" and "body" in records[3]["error"]
    with pytest.raises(ValueError, match=r"\[E157\].*'text'"):
        list(iter_records(str(path)))


def test_hf_inputs_without_datasets_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets raises ImportError
    with pytest.raises(ImportError, match=r"\[E211\].*pip install \"spacy-lm\[datasets\]\""):
        check_source("hf:wikitext")


def test_parquet_rows(tmp_path):
    import pyarrow
    import pyarrow.parquet

    path = tmp_path / "docs.parquet"
    table = pyarrow.table({"text": ["one", "two", None], "url": ["u1", "u2", "u3"], "n": [1, 2, 3]})
    pyarrow.parquet.write_table(table, path, row_group_size=2)
    records = list(iter_records(str(path)))
    assert [r["text"] for r in records] == ["one", "two", None]
    assert [r["id"] for r in records] == ["docs.parquet:0", "docs.parquet:1", "docs.parquet:2"]
    assert records[1]["url"] == "u2" and records[1]["n"] == 2
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"\[E155\].*bad\.parquet"):
        list(iter_records(str(tmp_path / "bad.parquet")))
    with pytest.raises(ValueError, match=r"\[E157\].*'body'"):
        list(iter_records(str(path), text_field="body"))


@pytest.mark.parametrize("name", ["lines.txt", "lines.txt.gz"])
def test_text_lines_one_doc_each(tmp_path, name):
    data = "first doc\n\nthird doc\r\n".encode() + b"bad \xff byte\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    records = list(iter_records(str(path)))
    assert [r["text"] for r in records] == ["first doc", "", "third doc", None]
    assert records[3]["id"] == f"{name}:4" and "undecodable" in records[3]["error"]


# ---- datasets (offline, a local json builder) ----------------------------------------


def test_hf_streaming_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    path = tmp_path / "abstracts.jsonl"
    path.write_text("".join(json.dumps({"pmid": i, "text": f"Abstract number {i}."}) + "\n" for i in range(3)))
    records = list(iter_records("hf:json", id_field="pmid", data_files=str(path)))
    assert [(r["id"], r["text"]) for r in records] == [(str(i), f"Abstract number {i}.") for i in range(3)]


def write_abstracts(folder, names):
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text(json.dumps({"text": f"from {name}"}) + "\n")


def test_hf_data_files_list_and_glob_in_order(tmp_path, monkeypatch):
    """A list of files is read in the order given, a glob in name order (it is expanded here, so
    what is read is what `spacy lm score` digests)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    write_abstracts(tmp_path / "data", ["b.jsonl", "a.jsonl", "c.json"])
    listed = [str(tmp_path / "data" / name) for name in ("b.jsonl", "a.jsonl")]
    assert [r["text"] for r in iter_records("hf:json@train", data_files=listed)] == ["from b.jsonl", "from a.jsonl"]
    globbed = iter_records("hf:json", data_files=(str(tmp_path / "data" / "*.jsonl"),))
    assert [(r["id"], r["text"]) for r in globbed] == [("json:0", "from a.jsonl"), ("json:1", "from b.jsonl")]


@pytest.mark.parametrize("pattern,code,named", [("missing.jsonl", "E320", "missing.jsonl"),
                                                ("data/*.parquet", "E321", "'data/*.parquet'"),
                                                ("data", "E154", "data")])
def test_hf_data_files_that_are_not_there_are_named(tmp_path, monkeypatch, pattern, code, named):
    monkeypatch.chdir(tmp_path)
    write_abstracts(tmp_path / "data", ["a.jsonl"])
    with pytest.raises(OSError, match=rf"\[{code}\]") as err:
        next(iter_records("hf:json", data_files=["data/a.jsonl", pattern]))
    assert named in str(err.value) and len(str(err.value).splitlines()) == 1


def test_builder_data_files_are_local_only_for_packaged_builders(tmp_path):
    """A hub dataset's data_files are paths inside its repository: given to datasets as they are."""
    from spacy_lm.corpora.web_formats import builder_data_files

    write_abstracts(tmp_path, ["a.jsonl"])
    assert builder_data_files("hf:parquet", str(tmp_path / "a.jsonl")) == [str(tmp_path / "a.jsonl")]
    assert builder_data_files("hf:allenai/c4:en", "en/c4-train.00000-of-01024.json.gz") is None
    assert builder_data_files("hf:json", None) is None and builder_data_files("hf:json", {"train": "x"}) is None


# ---- the [corpora] reader -----------------------------------------------------------


def test_web_corpus_reader_gives_examples(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("a first doc\n\nthe second doc\nthird\n")
    reader = registry.readers.get("spacy_lm.WebCorpus.v1")(path=str(path), limit=2)
    nlp = spacy.blank("en")
    examples = list(reader(nlp))
    assert [eg.reference.text for eg in examples] == ["a first doc", "the second doc"]
    many = registry.readers.get("spacy_lm.WebCorpus.v1")(path=[str(path), str(WIKI_DUMP)])
    assert len(list(many(nlp))) == 3 + 5


@pytest.mark.parametrize("kwargs,code", [({"path": []}, "E158"), ({"path": "a.txt", "limit": -1}, "E159"),
                                         ({"path": "a.bin"}, "E151")])
def test_web_corpus_reader_bad_settings(kwargs, code):
    with pytest.raises(ValueError, match=rf"\[{code}\]"):
        registry.readers.get("spacy_lm.WebCorpus.v1")(**kwargs)
