"""spacy_lm.ParallelCorpus.v1 and read_parallel: aligned files, TSV, JSONL, HF datasets."""
import gzip
import json
from importlib.metadata import entry_points

import pytest
import spacy
from spacy.util import registry

from spacy_lm.corpora.parallel import create_parallel_reader, read_parallel

DE = ["Zwei Männer stehen.", "Ein Hund läuft im Schnee.", "Eine Frau liest."]
EN = ["Two men are standing.", "A dog runs in the snow.", "A woman reads."]
PAIRS = list(zip(DE, EN))


def write_lines(path, lines):
    text = "".join(line + "\n" for line in lines)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def nlp():
    return spacy.blank("de")


# ---- two aligned text files --------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_two_files(tmp_path, suffix):
    src = write_lines(tmp_path / f"train.de{suffix}", DE)
    tgt = write_lines(tmp_path / f"train.en{suffix}", EN)
    assert list(read_parallel(src, tgt)) == PAIRS


@pytest.mark.parametrize("n_source,n_target", [(3, 2), (2, 3)])
def test_two_files_of_different_length(tmp_path, n_source, n_target):
    src = write_lines(tmp_path / "a.de", DE[:n_source])
    tgt = write_lines(tmp_path / "a.en", EN[:n_target])
    pairs = read_parallel(src, tgt)
    with pytest.raises(ValueError, match=r"\[E141\]") as err:
        list(pairs)
    message = str(err.value)
    assert f"{src} has {n_source} lines" in message and f"{tgt} has {n_target}" in message
    assert "\n" not in message


def test_mismatch_found_even_when_the_tail_is_skipped(tmp_path):
    src = write_lines(tmp_path / "a.de", DE + ["", ""])
    tgt = write_lines(tmp_path / "a.en", EN + [""])
    with pytest.raises(ValueError, match=r"\[E141\].* 5 lines.* 4 "):
        list(read_parallel(src, tgt))


def test_empty_side_skipped_and_text_stripped(tmp_path):
    src = write_lines(tmp_path / "a.de", ["  Hallo Welt ", "", "Nur deutsch", "Ja"])
    tgt = write_lines(tmp_path / "a.en", ["Hello world", "Only English", "   ", " Yes"])
    assert list(read_parallel(src, tgt)) == [("Hallo Welt", "Hello world"), ("Ja", "Yes")]


def test_max_length_and_limit(tmp_path):
    src = write_lines(tmp_path / "a.de", DE)
    tgt = write_lines(tmp_path / "a.en", EN)
    # DE has 3, 5, 3 whitespace tokens; EN 4, 6, 3.
    assert list(read_parallel(src, tgt, max_length=4)) == [PAIRS[0], PAIRS[2]]
    assert list(read_parallel(src, tgt, max_length=3)) == [PAIRS[2]]  # the target side counts too
    assert list(read_parallel(src, tgt, limit=2)) == PAIRS[:2]
    assert list(read_parallel(src, tgt, max_length=4, limit=1)) == [PAIRS[0]]


@pytest.mark.parametrize("kwargs,code", [
    ({}, "E140"),
    ({"source_path": "a.de"}, "E140"),
    ({"source_path": "a.de", "target_path": "a.en", "dataset": "json"}, "E140"),
    ({"path": "a.tsv", "dataset": "json"}, "E140"),
    ({"path": "a.txt"}, "E144"),
    ({"path": "a.tsv", "format": "csv"}, "E144"),
    ({"path": "a.tsv", "max_length": 0}, "E145"),
    ({"path": "a.tsv", "max_length": -3}, "E145"),
    ({"path": "a.tsv", "limit": -1}, "E145"),
    ({"path": "a.tsv", "source_field": 0, "target_field": "en"}, "E145"),
    ({"path": "a.jsonl", "source_field": 0}, "E145"),
    ({"path": "a.jsonl", "source_field": "en"}, "E145"),  # same as target_field
])
def test_bad_arguments_raise_when_the_reader_is_made(kwargs, code):
    with pytest.raises(ValueError, match=rf"\[{code}\]") as err:
        create_parallel_reader(**kwargs)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path, nlp):
    src = write_lines(tmp_path / "a.de", DE)
    with pytest.raises(ValueError, match=r"\[E062\].*b\.en.*no such file"):
        read_parallel(src, tmp_path / "b.en")  # checked at the call
    reader = create_parallel_reader(src, tmp_path / "b.en")  # a config resolves before its data exist
    with pytest.raises(ValueError, match=r"\[E062\]"):
        next(iter(reader(nlp)))


# ---- TSV and JSONL -----------------------------------------------------------------


def test_tsv_columns_by_index_and_by_header(tmp_path):
    plain = write_lines(tmp_path / "a.tsv", [f"{de}\t{en}" for de, en in PAIRS] + [""])
    assert list(read_parallel(path=plain)) == PAIRS
    assert list(read_parallel(path=plain, source_field=1, target_field=0)) == [(en, de) for de, en in PAIRS]
    rows = [f"{i}\t{en}\t{de}" for i, (de, en) in enumerate(PAIRS)]
    headed = write_lines(tmp_path / "b.tsv.gz", ["id\ten\tde"] + rows)
    assert list(read_parallel(path=headed, source_field="de", target_field="en")) == PAIRS


def test_tsv_errors(tmp_path):
    headed = write_lines(tmp_path / "a.tsv", ["en\tde", "Hi\tHallo"])
    with pytest.raises(ValueError, match=r"\[E142\].*'fr'.*\['en', 'de'\]"):
        list(read_parallel(path=headed, source_field="fr", target_field="en"))
    short = write_lines(tmp_path / "b.tsv", ["Hallo\tHi", "Nur eine Spalte"])
    with pytest.raises(ValueError, match=r"\[E143\].*b\.tsv line 2: 1 tab-separated column"):
        list(read_parallel(path=short))


def test_jsonl_flat_and_nested(tmp_path):
    flat = write_lines(tmp_path / "a.jsonl", [json.dumps({"de": de, "en": en, "id": i})
                                              for i, (de, en) in enumerate(PAIRS)] + [""])
    assert list(read_parallel(path=flat)) == PAIRS
    nested = write_lines(tmp_path / "b.json.gz", [json.dumps({"translation": {"de": de, "en": en}})
                                                  for de, en in PAIRS])
    assert list(read_parallel(path=nested)) == PAIRS
    assert list(read_parallel(path=nested, source_field="en", target_field="de")) == [(e, d) for d, e in PAIRS]
    as_text = write_lines(tmp_path / "c.txt", [json.dumps({"src": "a", "tgt": "b"})])
    assert list(read_parallel(path=as_text, format="jsonl", source_field="src", target_field="tgt")) == [("a", "b")]


@pytest.mark.parametrize("line,code,detail", [
    (json.dumps({"de": "Hallo", "fr": "Salut"}), "E142", "'en'; available: \\['de', 'fr'\\]"),
    (json.dumps({"translation": {"de": "Hallo"}}), "E142", "translation.de"),
    (json.dumps({"de": "Hallo", "en": None}), "E143", "'en' must be a str, got NoneType"),
    (json.dumps(["Hallo", "Hello"]), "E143", "expected an object, got list"),
    ("{not json", "E143", "not JSON"),
])
def test_jsonl_errors_name_file_and_line(tmp_path, line, code, detail):
    path = write_lines(tmp_path / "a.jsonl", [json.dumps({"de": "Ja", "en": "Yes"}), line])
    with pytest.raises(ValueError, match=rf"\[{code}\].*a\.jsonl line 2.*{detail}"):
        list(read_parallel(path=path))


# ---- Examples and registration ----------------------------------------------------


def test_examples_carry_the_target_on_the_reference(tmp_path, nlp):
    src = write_lines(tmp_path / "a.de", DE)
    tgt = write_lines(tmp_path / "a.en", EN)
    reader = create_parallel_reader(src, tgt)
    for _ in range(2):  # every call reads afresh
        examples = list(reader(nlp))
        assert [eg.predicted.text for eg in examples] == DE
        assert [eg.reference.text for eg in examples] == DE
        assert [eg.reference._.translation for eg in examples] == EN
        assert all(eg.predicted._.translation is None for eg in examples)
        assert [t.text for t in examples[0].predicted] == ["Zwei", "Männer", "stehen", "."]


def test_registered_and_entry_point(tmp_path, nlp):
    (ep,) = [ep for ep in entry_points(group="spacy_readers") if ep.name == "spacy_lm.ParallelCorpus.v1"]
    assert ep.load() is registry.readers.get("spacy_lm.ParallelCorpus.v1") is create_parallel_reader
    path = write_lines(tmp_path / "a.tsv", [f"{de}\t{en}" for de, en in PAIRS])
    config = {"corpus": {"@readers": "spacy_lm.ParallelCorpus.v1", "path": str(path), "max_length": 4}}
    reader = registry.resolve(config)["corpus"]
    assert [eg.reference._.translation for eg in reader(nlp)] == [EN[0], EN[2]]


# ---- HuggingFace datasets ---------------------------------------------------------


def test_hf_local_json(tmp_path, nlp, offline):
    path = write_lines(tmp_path / "multi30k.jsonl", [json.dumps({"de": de, "en": en}) for de, en in PAIRS])
    reader = create_parallel_reader(dataset="json", data_files=str(path), cache_dir=offline, limit=2)
    examples = list(reader(nlp))
    assert [(eg.predicted.text, eg.reference._.translation) for eg in examples] == PAIRS[:2]
    assert list(read_parallel(dataset="json", data_files=str(path), cache_dir=offline,
                              source_field="en", target_field="de")) == [(e, d) for d, e in PAIRS]
    with pytest.raises(ValueError, match=r"\[E142\].*json \(train\) record 0: no field 'fr'"):
        list(read_parallel(dataset="json", data_files=str(path), cache_dir=offline, target_field="fr"))


def test_hf_nested_translation_column(tmp_path, offline):
    path = write_lines(tmp_path / "wmt.jsonl", [json.dumps({"translation": {"de": de, "en": en}})
                                                for de, en in PAIRS])
    assert list(read_parallel(dataset="json", data_files={"validation": str(path)}, split="validation",
                              cache_dir=offline)) == PAIRS
