"""spacy_lm.TextCatCorpus.v1: label_first / csv / tsv files and DocBin cats."""
import pytest
import spacy

from .samples import gz


def test_textcat_corpus_label_first_with_names(tmp_path):
    import spacy
    from spacy.util import registry as spacy_registry

    path = tmp_path / "stsa.binary.train"
    path.write_text("1 a fine film .\n0 dull .\n\n1 great\n", encoding="utf-8")
    reader = spacy_registry.resolve({"r": {"@readers": "spacy_lm.TextCatCorpus.v1", "path": str(path),
                                           "labels": {"0": "NEG", "1": "POS"}}})["r"]
    examples = list(reader(spacy.blank("en")))
    assert [eg.reference.text for eg in examples] == ["a fine film .", "dull .", "great"]
    assert [eg.reference.cats for eg in examples][1] == {"NEG": 1.0, "POS": 0.0}
    assert len(list(type(reader)(path, format="label_first", labels=None, text_column="text",
                                 label_column="label", limit=2)(spacy.blank("en")))) == 2


def test_textcat_corpus_csv_gz_and_errors(tmp_path):
    import gzip

    import spacy

    from spacy_lm.corpora.labelled import create_textcat_reader

    path = tmp_path / "train.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write('id,label,text\n1,1,"Good, really ""good"""\n2,0,bad\n')
    examples = list(create_textcat_reader(path, format="csv")(spacy.blank("en")))
    assert examples[0].reference.text == 'Good, really "good"'
    assert examples[0].reference.cats == {"0": 0.0, "1": 1.0}
    with pytest.raises(ValueError, match=r"\[E066\].*no column"):
        list(create_textcat_reader(path, format="csv", text_column="review")(spacy.blank("en")))
    with pytest.raises(ValueError, match=r"\[E067\].*'0' is not in the reader's labels"):
        list(create_textcat_reader(path, format="csv", labels={"1": "POS"})(spacy.blank("en")))
    with pytest.raises(ValueError, match=r"\[E009\] format must be one of .*'json'"):
        create_textcat_reader(path, format="json")


def _write_docbin(path, items, nlp=None):
    from spacy.tokens import DocBin

    nlp = nlp or spacy.blank("en")
    docs = []
    for text, cats in items:
        doc = nlp(text)
        doc.cats = cats
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)
    return path


def test_textcat_corpus_reads_docbin_cats(tmp_path):
    from spacy_lm.corpora.labelled import create_textcat_reader

    items = [("a fine film.", {"POS": 1.0, "NEG": 0.0}), ("dull", {"1": 0.0, "0": 1.0}), ("great", {"POS": 1.0})]
    path = _write_docbin(tmp_path / "train.spacy", items)
    examples = list(create_textcat_reader(path, labels={"0": "NEG", "1": "POS"})(spacy.blank("en")))
    assert [eg.reference.text for eg in examples] == ["a fine film.", "dull", "great"]
    assert [eg.reference.cats for eg in examples] == [{"NEG": 0.0, "POS": 1.0}, {"NEG": 1.0, "POS": 0.0},
                                                      {"NEG": 0.0, "POS": 1.0}]
    assert [t.text for t in examples[0].predicted] == ["a", "fine", "film", "."]  # nlp.make_doc
    # no mapping: the cats as they are; limit; a directory of .spacy files; DocBin data named otherwise
    named = [("good", {"positive": 1.0, "negative": 0.0}), ("bad", {"negative": 1.0})]
    (tmp_path / "dir").mkdir()
    _write_docbin(tmp_path / "dir" / "b.spacy", named)
    _write_docbin(tmp_path / "dir" / "a.spacy", items[:1])
    examples = list(create_textcat_reader(tmp_path / "dir")(spacy.blank("en")))
    assert [eg.reference.text for eg in examples] == ["a fine film.", "good", "bad"]
    assert examples[2].reference.cats == {"NEG": 0.0, "POS": 0.0, "negative": 1.0, "positive": 0.0}
    (tmp_path / "train.bin").write_bytes((tmp_path / "dir" / "b.spacy").read_bytes())
    examples = list(create_textcat_reader(tmp_path / "train.bin", limit=1)(spacy.blank("en")))
    assert [eg.reference.cats for eg in examples] == [{"negative": 0.0, "positive": 1.0}]


def test_textcat_corpus_docbin_errors(tmp_path):
    from spacy_lm.corpora.labelled import create_textcat_reader

    nlp = spacy.blank("en")
    labels = {"0": "NEG", "1": "POS"}
    path = _write_docbin(tmp_path / "named.spacy", [("good", {"positive": 1.0, "negative": 0.0})])
    with pytest.raises(ValueError, match=r"\[E047\] .*named.spacy: doc 0 has cats \['negative', 'positive'\]"
                                         r".*--corpora.train.labels null"):
        list(create_textcat_reader(path, labels=labels)(nlp))
    path = _write_docbin(tmp_path / "nocats.spacy", [("good", {"POS": 1.0}), ("what", {})])
    with pytest.raises(ValueError, match=r"\[E048\] .*nocats.spacy: doc 1 \('what'\) has no cats"):
        list(create_textcat_reader(path, labels=labels)(nlp))
    (tmp_path / "text.spacy").write_text("1 not a docbin\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[E087\] Cannot read .*text.spacy as a DocBin"):
        list(create_textcat_reader(tmp_path / "text.spacy")(nlp))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match=r"\[E062\] .*empty_dir: a directory with no .spacy files"):
        list(create_textcat_reader(tmp_path / "empty_dir")(nlp))


@pytest.mark.parametrize("name,format,data,expected", [
    ("stsa.binary.train", "label_first", b"1 fine\n0 caf\xe9 dull\n", r"line 2: not UTF-8 text \(byte 0xe9 at offset 5\)"),
    ("train.csv", "csv", b"label,text\n1,fine\n0,\xff\n", r"line 3: not UTF-8 text \(byte 0xff at offset 2\)"),
    ("train.tsv.gz", "tsv", gz("label\ttext\n".encode() + "".join(f"{i % 2}\tfilm {i}\n" for i in range(3000)).encode())[:2000],
     r"line \d+: the gzip data end early \(a truncated file\); compress or download the file again"),
    ("train.csv.gz", "csv", b"label,text\n1,fine\n", r"its name ends in \.gz but it is not gzip data"),
], ids=["label-first-latin1", "csv-binary", "tsv-truncated-gz", "csv-not-gzip"])
def test_textcat_corpus_unreadable_files_are_e062_with_the_line(tmp_path, name, format, data, expected):
    import spacy

    from spacy_lm.corpora.labelled import create_textcat_reader

    path = tmp_path / name
    path.write_bytes(data)
    for labels in (None, {"0": "NEG", "1": "POS"}):  # all read first, or read as they come
        reader = create_textcat_reader(path, format=format, labels=labels)
        with pytest.raises(ValueError, match=rf"E062\] Cannot read the text corpus .*{name}: {expected}"):
            list(reader(spacy.blank("en")))
