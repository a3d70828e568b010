import gzip
import json

import pytest
import spacy
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from spacy_lm.corpora.readers import (
    create_hf_dataset_reader,
    create_plain_text_reader,
    read_plain_text_docs,
)

# WikiText-like: a leading space, a blank line, a heading, a line of several spaces,
# no trailing newline at the end.
LINES = [
    " = Valkyria <unk> @-@ 3 = ",
    "",
    " Senjō no Valkyria 3 : <unk> Chronicles III ",
    "   ",
    " = = Gameplay = = ",
    "the end",
]
TEXT = "\n".join(LINES)
N_WORDS = sum(len(line.split()) for line in LINES)  # 6 + 0 + 8 + 0 + 5 + 2 = 21
N_LINES = len(LINES)


@pytest.fixture
def nlp():
    return spacy.blank("en")


@pytest.fixture
def ws_nlp():
    return spacy.blank(
        "en", config={"nlp": {"tokenizer": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}}
    )


@pytest.fixture
def txt(tmp_path):
    path = tmp_path / "wiki.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def words(examples):
    return [[t.text for t in eg.reference] for eg in examples]


# ---- plain text ------------------------------------------------------------------


def test_plain_eos_count_is_words_plus_lines(txt, nlp):
    examples = list(create_plain_text_reader(txt, eos_marker="<eos>")(nlp))
    assert N_WORDS == 21
    assert sum(len(eg.reference) for eg in examples) == N_WORDS + N_LINES
    assert sum(len(eg.predicted) for eg in examples) == N_WORDS + N_LINES
    assert len(examples) == N_LINES
    # Blank lines become a lone marker; the marker is one token, not "<", "eos", ">".
    assert words(examples)[1] == ["<eos>"]
    assert words(examples)[3] == ["<eos>"]
    assert words(examples)[0] == ["=", "Valkyria", "<unk>", "@-@", "3", "=", "<eos>"]


def test_plain_matches_pytorch_examples_tokens(txt):
    # pytorch/examples data.Corpus: for line in f: line.split() + ["<eos>"]
    expected = []
    with open(txt, encoding="utf-8") as f:
        for line in f:
            expected.extend(line.split() + ["<eos>"])
    got = [t.text for d in read_plain_text_docs(txt, Vocab(), eos_marker="<eos>") for t in d]
    assert got == expected


def test_plain_without_marker_blank_lines_are_empty(txt, nlp):
    examples = list(create_plain_text_reader(txt)(nlp))
    assert len(examples) == N_LINES
    assert [len(eg.reference) for eg in examples] == [6, 0, 8, 0, 5, 2]
    assert sum(len(eg.reference) for eg in examples) == N_WORDS


def test_plain_skip_empty(txt, nlp):
    examples = list(create_plain_text_reader(txt, skip_empty=True)(nlp))
    assert [len(eg.reference) for eg in examples] == [6, 8, 5, 2]
    # With a marker no line is empty, so nothing is skipped.
    with_eos = list(create_plain_text_reader(txt, eos_marker="<eos>", skip_empty=True)(nlp))
    assert len(with_eos) == N_LINES


def test_plain_examples_are_identical_copies(txt, nlp):
    eg = next(iter(create_plain_text_reader(txt)(nlp)))
    assert isinstance(eg, Example)
    assert eg.predicted is not eg.reference
    assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
    assert eg.reference.text == "= Valkyria <unk> @-@ 3 ="


def test_plain_lines_per_doc(txt, nlp):
    examples = list(create_plain_text_reader(txt, lines_per_doc=4, eos_marker="<eos>")(nlp))
    assert [len(eg.reference) for eg in examples] == [6 + 8 + 4, 5 + 2 + 2]
    assert words(examples)[1] == ["=", "=", "Gameplay", "=", "=", "<eos>", "the", "end", "<eos>"]
    assert examples[1].reference.text == "= = Gameplay = = <eos> the end <eos>"
    # Groups of two lines: (6, 0), (8, 0), (5, 2).
    pairs = list(create_plain_text_reader(txt, lines_per_doc=2)(nlp))
    assert [len(eg.reference) for eg in pairs] == [6, 8, 7]


def test_plain_lines_per_doc_skip_empty(tmp_path, nlp):
    path = tmp_path / "blanks.txt"
    path.write_text("a b\n\n\n\nc\n", encoding="utf-8")
    docs = list(create_plain_text_reader(path, lines_per_doc=2)(nlp))
    assert [len(eg.reference) for eg in docs] == [2, 0, 1]
    docs = list(create_plain_text_reader(path, lines_per_doc=2, skip_empty=True)(nlp))
    assert [len(eg.reference) for eg in docs] == [2, 1]


def test_plain_gz(tmp_path, txt, nlp):
    path = tmp_path / "wiki.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(TEXT)
    plain = words(create_plain_text_reader(txt, eos_marker="<eos>")(nlp))
    packed = words(create_plain_text_reader(path, eos_marker="<eos>")(nlp))
    assert packed == plain
    assert "Senjō" in packed[2]


def test_plain_limit(txt, nlp):
    examples = list(create_plain_text_reader(txt, limit=2)(nlp))
    assert [len(eg.reference) for eg in examples] == [6, 0]
    # The limit counts yielded docs, after skipping.
    examples = list(create_plain_text_reader(txt, limit=2, skip_empty=True)(nlp))
    assert [len(eg.reference) for eg in examples] == [6, 8]


def test_plain_missing_file(tmp_path, nlp):
    missing = tmp_path / "nope.txt"
    with pytest.raises(ValueError, match="nope.txt"):
        list(create_plain_text_reader(missing)(nlp))
    with pytest.raises(ValueError, match="nope.txt"):
        read_plain_text_docs(missing, Vocab())  # raises at the call, not on iteration


def test_plain_none_path():
    with pytest.raises(ValueError, match="path"):
        create_plain_text_reader(None)


def test_reader_path_errors_are_coded(tmp_path):
    from spacy_lm.corpora.readers import create_textcat_reader

    for make in (create_plain_text_reader, create_textcat_reader):
        with pytest.raises(ValueError, match=r"\[E061\] spacy_lm\.\w+\.v1 needs a path.*paths\.train"):
            make(None)
    with pytest.raises(ValueError, match=r"\[E062\].*nope\.txt: no such file"):
        read_plain_text_docs(tmp_path / "nope.txt", Vocab())
    with pytest.raises(ValueError, match=r"\[E062\].*is a directory"):
        read_plain_text_docs(tmp_path, Vocab())


@pytest.mark.parametrize("bad", ["", "<e o s>", " <eos>"])
def test_plain_bad_eos_marker(txt, bad):
    with pytest.raises(ValueError, match="eos_marker"):
        create_plain_text_reader(txt, eos_marker=bad)


@pytest.mark.parametrize("bad", [0, -1])
def test_plain_bad_lines_per_doc(txt, bad):
    with pytest.raises(ValueError, match="lines_per_doc"):
        create_plain_text_reader(txt, lines_per_doc=bad)
    with pytest.raises(ValueError, match="lines_per_doc"):
        read_plain_text_docs(txt, Vocab(), lines_per_doc=bad)


def test_plain_ignores_pipeline_tokenizer(txt, nlp):
    # Benchmark tokenisation must not depend on nlp.tokenizer (which splits "<unk>").
    first = words(create_plain_text_reader(txt)(nlp))[0]
    assert "<unk>" in first and "@-@" in first


def test_plain_through_registry(txt, nlp):
    factory = registry.readers.get("spacy_lm.PlainTextCorpus.v1")
    assert factory is create_plain_text_reader
    reader = factory(str(txt), lines_per_doc=3, eos_marker="<eos>")
    assert sum(len(eg.reference) for eg in reader(nlp)) == N_WORDS + N_LINES
    # Reusable across epochs.
    assert sum(len(eg.reference) for eg in reader(nlp)) == N_WORDS + N_LINES


def test_plain_resolved_from_config(txt, nlp):
    config = {
        "corpus": {
            "@readers": "spacy_lm.PlainTextCorpus.v1",
            "path": str(txt),
            "eos_marker": "<eos>",
            "limit": 3,
        }
    }
    reader = registry.resolve(config)["corpus"]
    assert [len(eg.reference) for eg in reader(nlp)] == [7, 1, 9]


# ---- HuggingFace datasets -----------------------------------------------------------


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network: env vars for subprocesses/fresh imports, and the already-read config."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytest.importorskip("datasets", reason='datasets is an extra: pip install -e ".[dev,datasets]"')
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    return str(tmp_path / "cache")


def test_hf_text_file(txt, ws_nlp, offline):
    reader = create_hf_dataset_reader("text", data_files=str(txt), cache_dir=offline)
    examples = list(reader(ws_nlp))
    assert len(examples) == N_LINES
    assert words(examples)[0] == ["=", "Valkyria", "<unk>", "@-@", "3", "="]
    assert [len(eg.reference) for eg in examples] == [6, 0, 8, 0, 5, 2]
    # Second epoch reuses the loaded dataset and gives the same result.
    assert words(reader(ws_nlp)) == words(examples)


def test_hf_uses_pipeline_tokenizer(txt, nlp, offline):
    reader = create_hf_dataset_reader("text", data_files=str(txt), cache_dir=offline, limit=1)
    (eg,) = list(reader(nlp))
    assert "<unk>" not in [t.text for t in eg.reference]  # spaCy's tokenizer splits it


def test_hf_skip_empty_and_limit(txt, ws_nlp, offline):
    reader = create_hf_dataset_reader(
        "text", data_files=str(txt), cache_dir=offline, skip_empty=True
    )
    assert [len(eg.reference) for eg in reader(ws_nlp)] == [6, 8, 5, 2]
    reader = create_hf_dataset_reader(
        "text", data_files=str(txt), cache_dir=offline, skip_empty=True, limit=3
    )
    assert [len(eg.reference) for eg in reader(ws_nlp)] == [6, 8, 5]
    reader = create_hf_dataset_reader("text", data_files=str(txt), cache_dir=offline, limit=2)
    assert [len(eg.reference) for eg in reader(ws_nlp)] == [6, 0]


def test_hf_jsonl_strips_trailing_newlines(tmp_path, ws_nlp, offline):
    path = tmp_path / "data.jsonl"
    records = [
        {"body": " = Valkyria <unk> = \n", "id": 1},
        {"body": "\n", "id": 2},
        {"body": "a b c\r\n", "id": 3},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    reader = create_hf_dataset_reader(
        "json", data_files=str(path), text_field="body", cache_dir=offline
    )
    examples = list(reader(ws_nlp))
    assert words(examples) == [["=", "Valkyria", "<unk>", "="], [], ["a", "b", "c"]]
    reader = create_hf_dataset_reader(
        "json", data_files=str(path), text_field="body", cache_dir=offline, skip_empty=True
    )
    assert len(list(reader(ws_nlp))) == 2
    # The default tokenizer sees no trailing newline either.
    reader = create_hf_dataset_reader(
        "json", data_files=str(path), text_field="body", cache_dir=offline, limit=1
    )
    (eg,) = list(reader(spacy.blank("en")))
    assert eg.reference[-1].text == "="


def test_hf_parquet_and_streaming(tmp_path, ws_nlp, offline):
    import datasets

    path = tmp_path / "data.parquet"
    datasets.Dataset.from_dict(
        {"text": ["p q", "", "r <unk> s"], "n": [1, 2, 3]}
    ).to_parquet(str(path))
    for streaming in (False, True):
        reader = create_hf_dataset_reader(
            "parquet", data_files=str(path), cache_dir=offline, streaming=streaming
        )
        assert words(reader(ws_nlp)) == [["p", "q"], [], ["r", "<unk>", "s"]]


def test_hf_data_files_dict_split(txt, ws_nlp, offline):
    reader = create_hf_dataset_reader(
        "text", data_files={"validation": str(txt)}, split="validation", cache_dir=offline
    )
    assert len(list(reader(ws_nlp))) == N_LINES


@pytest.mark.parametrize("streaming", [False, True])
def test_hf_missing_field(tmp_path, ws_nlp, offline, streaming):
    path = tmp_path / "data.jsonl"
    path.write_text('{"body": "a b", "id": 1}\n', encoding="utf-8")
    reader = create_hf_dataset_reader(
        "json", data_files=str(path), cache_dir=offline, streaming=streaming
    )
    with pytest.raises(ValueError, match=r"\[E064\].*('text'.*body.*id|'text'.*id.*body)"):
        list(reader(ws_nlp))


def test_hf_non_string_value(tmp_path, ws_nlp, offline):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": 5}\n{"text": 6}\n', encoding="utf-8")
    reader = create_hf_dataset_reader("json", data_files=str(path), cache_dir=offline)
    with pytest.raises(TypeError, match=r"\[E065\].*'text'.*int"):
        list(reader(ws_nlp))


def test_hf_through_registry_is_lazy(tmp_path):
    # Creating the reader must not touch the (here missing) data or import-heavy work.
    factory = registry.readers.get("spacy_lm.HFDataset.v1")
    assert factory is create_hf_dataset_reader
    reader = factory("text", data_files=str(tmp_path / "absent.txt"))
    assert callable(reader)


# ---------------------------------------------------------------------- spacy_lm.TextCatCorpus.v1
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

    from spacy_lm.corpora.readers import create_textcat_reader

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


# ---- plain text as parallel streams ------------------------------------------------------


def stream_tokens(txt, nlp, eos_marker="<eos>"):
    return [t.text for d in read_plain_text_docs(txt, nlp.vocab, eos_marker=eos_marker) for t in d]


def test_stream_corpus_cuts_the_stream_as_batchify(txt, nlp):
    from spacy_lm.batching import chunk_mark
    from spacy_lm.corpora.readers import create_plain_text_stream_reader

    tokens = stream_tokens(txt, nlp)
    assert len(tokens) == N_WORDS + N_LINES == 27
    examples = list(create_plain_text_stream_reader(txt, n_streams=4, chunk_length=4)(nlp))
    length = 27 // 4  # 6 tokens per stream, 3 dropped; chunks of 4 and 2
    assert [len(eg.reference) for eg in examples] == [4] * 4 + [2] * 4
    expected_marks = [(s, c, tokens[s * length + 4 * c - 1] if c else None) for c in (0, 1) for s in range(4)]
    assert [tuple(chunk_mark(eg.reference)) for eg in examples] == expected_marks
    assert [tuple(chunk_mark(eg.predicted)) for eg in examples] == expected_marks
    assert all([t.text for t in eg.predicted] == [t.text for t in eg.reference] for eg in examples)
    for s in range(4):
        stream = [t.text for eg in examples if chunk_mark(eg.reference).stream == s for t in eg.reference]
        assert stream == tokens[s * length : (s + 1) * length]
    assert "<eos>" in [t.text for eg in examples for t in eg.reference]  # a literal token


def test_stream_corpus_limit_marker_and_registry(txt, nlp):
    factory = registry.readers.get("spacy_lm.PlainTextStreamCorpus.v1")
    tokens = stream_tokens(txt, nlp, eos_marker=None)
    examples = list(factory(str(txt), eos_marker=None, n_streams=1, chunk_length=100)(nlp))
    assert [[t.text for t in eg.reference] for eg in examples] == [tokens]
    limited = list(factory(str(txt), n_streams=3, chunk_length=2, limit=10)(nlp))
    assert sum(len(eg.reference) for eg in limited) == 9  # 10 tokens read, 3 streams of 3
    assert [t.text for t in limited[0].reference] == stream_tokens(txt, nlp)[:2]
    reader = factory(str(txt), n_streams=2, chunk_length=5)
    assert len(list(reader(nlp))) == len(list(reader(nlp))) == 6  # reusable across epochs


@pytest.mark.parametrize("setting,value", [("n_streams", 0), ("n_streams", 2.0), ("chunk_length", 0),
                                           ("chunk_length", True), ("limit", -1), ("eos_marker", "a b")])
def test_stream_corpus_bad_settings_are_coded(txt, setting, value):
    from spacy_lm.corpora.readers import create_plain_text_stream_reader

    with pytest.raises(ValueError, match=rf"E009.*{setting}"):
        create_plain_text_stream_reader(txt, **{setting: value})


def test_stream_corpus_path_errors_are_coded(tmp_path, txt, nlp):
    from spacy_lm.corpora.readers import create_plain_text_stream_reader

    with pytest.raises(ValueError, match=r"E061.*PlainTextStreamCorpus"):
        create_plain_text_stream_reader(None)
    with pytest.raises(ValueError, match=r"E062.*no such file"):
        list(create_plain_text_stream_reader(tmp_path / "nope.txt")(nlp))
    with pytest.raises(ValueError, match=r"E077.*27 tokens.*n_streams=30"):
        list(create_plain_text_stream_reader(txt, n_streams=30)(nlp))


def test_stream_corpus_config_batches_one_chunk_index_each(txt, nlp):
    """The documented config: a batch of n_streams examples per chunk index, in order."""
    from thinc.api import Config

    from spacy_lm.batching import chunk_mark

    config = Config().from_str(f"""
[corpora]
[corpora.train]
@readers = "spacy_lm.PlainTextStreamCorpus.v1"
path = "{txt}"
n_streams = 3
chunk_length = 4

[training]
[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = ${{corpora.train.n_streams}}
""").interpolate()
    resolved = registry.resolve(config)
    batches = list(resolved["training"]["batcher"](resolved["corpora"]["train"](nlp)))
    assert [[tuple(chunk_mark(eg.reference)[:2]) for eg in batch] for batch in batches] == [
        [(s, c) for s in range(3)] for c in range(3)]  # 27 // 3 = 9 tokens: chunks of 4, 4, 1


# ---- spacy_lm.TextCatCorpus.v1 on DocBin (.spacy) files, and E063 naming the extra (#13) ----------
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
    from spacy_lm.corpora.readers import create_textcat_reader

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
    from spacy_lm.corpora.readers import create_textcat_reader

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


def test_missing_datasets_names_the_extra(monkeypatch):
    import builtins

    from spacy_lm.corpora.readers import load_hf_dataset

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets" or name.startswith("datasets."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(ImportError, match=r'\[E063\] spacy_lm.HFDataset.v1 .*pip install "spacy-lm\[datasets\]"'):
        load_hf_dataset("text", data_files="x.txt")


# ---- unreadable text files: E062 with the file, the line and what was expected (#13) ----


def _gz(data: bytes) -> bytes:
    return gzip.compress(data)


@pytest.mark.parametrize("name,data,expected", [
    ("bin.txt", b"fine line\nalso fine\n\x89PNG\r\n", r"line 3: not UTF-8 text \(byte 0x89 at offset 0\); "
     r"expected a UTF-8 text file, optionally \.gz"),
    ("latin1.txt.gz", _gz(b"ok\ncaf\xe9\n"), r"line 2: not UTF-8 text \(byte 0xe9 at offset 3\)"),
    ("plain.gz", b"the cat sat\n", r"its name ends in \.gz but it is not gzip data"),
    ("cut.gz", _gz("".join(f"line {i} of many\n" for i in range(3000)).encode())[:2000],
     r"line \d+: the gzip data end early \(a truncated file\)"),
], ids=["binary", "latin1-gz", "not-gzip", "truncated-gz"])
def test_unreadable_text_files_are_e062_with_the_line(tmp_path, nlp, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=rf"E062\] Cannot read the text corpus .*{name}: {expected}"):
        list(read_plain_text_docs(path, nlp.vocab, eos_marker="<eos>"))


def test_read_text_lines_keeps_text_mode_lines(tmp_path):
    from spacy_lm.corpora.readers import read_text_lines

    path = tmp_path / "mixed.txt"
    path.write_bytes("a\r\nb\rc\nd".encode("utf-8"))
    assert list(read_text_lines(path)) == ["a\n", "b\n", "c\n", "d"]  # universal newlines, as before


# ---- sentence corpus (sentence_vae) ---------------------------------------------------------


def _sentences(examples):
    examples = list(examples)
    for eg in examples:  # predicted and reference are the same sentence, as separate docs
        assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
        assert eg.predicted is not eg.reference
    return [eg.reference.text for eg in examples]


def test_sentence_corpus_split_at_cuts_after_each_token(tmp_path, ws_nlp):
    from spacy_lm.corpora.readers import SentenceCorpus

    path = tmp_path / "wiki.txt"
    path.write_text(" the cat sat . the dog ran . and then \n\n a b . \n", encoding="utf-8")
    assert _sentences(SentenceCorpus(path, split_at=".")(ws_nlp)) == [
        "the cat sat .", "the dog ran .", "and then", "a b ."]
    examples = list(SentenceCorpus(path, split_at=".")(ws_nlp))
    assert [len(eg.reference) for eg in examples] == [4, 4, 2, 3]
    # another token as the boundary: the "." stays inside the sentences
    assert _sentences(SentenceCorpus(path, split_at="ran")(ws_nlp)) == [
        "the cat sat . the dog ran", ". and then", "a b ."]


def test_sentence_corpus_split_at_none_is_one_doc_per_non_blank_line(tmp_path, nlp):
    from spacy_lm.corpora.readers import SentenceCorpus

    path = tmp_path / "captions.txt"
    path.write_text("A cat sat on the mat. A dog ran.\n\n   \nTwo dogs play.\n", encoding="utf-8")
    reader = SentenceCorpus(path)
    assert _sentences(reader(nlp)) == ["A cat sat on the mat . A dog ran .", "Two dogs play ."]
    assert _sentences(reader(nlp)) == ["A cat sat on the mat . A dog ran .", "Two dogs play ."]  # reusable


def test_split_sentences_follows_doc_sents_and_drops_whitespace(nlp):
    from spacy_lm.corpora.readers import split_sentences

    nlp.add_pipe("sentencizer")
    doc = nlp("The cat sat.  The dog ran! Then  it slept")
    assert doc.has_annotation("SENT_START") and len(list(doc.sents)) == 3
    sentences = split_sentences(doc, None)
    assert [[t.text for t in s] for s in sentences] == [
        ["The", "cat", "sat", "."], ["The", "dog", "ran", "!"], ["Then", "it", "slept"]]
    assert all(s.vocab is doc.vocab for s in sentences)
    assert [s.text for s in sentences] == ["The cat sat .", "The dog ran !", "Then it slept"]
    # without sentence boundaries: the doc itself (whitespace tokens dropped)
    plain = spacy.blank("en")("The cat sat.  The dog ran!")
    assert [[t.text for t in s] for s in split_sentences(plain, None)] == [
        ["The", "cat", "sat", ".", "The", "dog", "ran", "!"]]
    # split_at on the same doc cuts after every ".", the trailing piece kept
    assert [s.text for s in split_sentences(plain, ".")] == ["The cat sat .", "The dog ran !"]
    assert split_sentences(spacy.blank("en")("   "), None) == []
    assert [s.text for s in split_sentences(spacy.blank("en")(". ."), ".")] == [".", "."]


def test_sentence_corpus_skip_headings(txt, ws_nlp):
    from spacy_lm.corpora.readers import SentenceCorpus

    kept = _sentences(SentenceCorpus(txt, skip_headings=True)(ws_nlp))
    assert kept == ["Senjō no Valkyria 3 : <unk> Chronicles III", "the end"]
    everything = _sentences(SentenceCorpus(txt)(ws_nlp))
    assert everything == ["= Valkyria <unk> @-@ 3 =", "Senjō no Valkyria 3 : <unk> Chronicles III",
                          "= = Gameplay = =", "the end"]


def test_sentence_corpus_max_length_and_limit(tmp_path, ws_nlp):
    from spacy_lm.corpora.readers import SentenceCorpus

    path = tmp_path / "wiki.txt"
    path.write_text("a b c . a b . a b c d e . a . \nx y z\nq\n", encoding="utf-8")
    assert _sentences(SentenceCorpus(path, split_at=".", max_length=4)(ws_nlp)) == [
        "a b c .", "a b .", "a .", "x y z", "q"]  # "a b c d e ." (6 tokens) dropped; 4 kept
    assert _sentences(SentenceCorpus(path, split_at=".", max_length=3)(ws_nlp)) == ["a b .", "a .", "x y z", "q"]
    assert _sentences(SentenceCorpus(path, split_at=".", limit=2)(ws_nlp)) == ["a b c .", "a b ."]
    # the limit counts the sentences kept, after max_length
    assert _sentences(SentenceCorpus(path, split_at=".", max_length=3, limit=3)(ws_nlp)) == [
        "a b .", "a .", "x y z"]


def test_sentence_corpus_reads_gz(tmp_path, ws_nlp):
    from spacy_lm.corpora.readers import SentenceCorpus

    path = tmp_path / "train.en.gz"
    path.write_bytes(gzip.compress("a cat . a dog\n\nthe end .\n".encode("utf-8")))
    assert _sentences(SentenceCorpus(path, split_at=".")(ws_nlp)) == ["a cat .", "a dog", "the end ."]
    assert _sentences(SentenceCorpus(path)(ws_nlp)) == ["a cat . a dog", "the end ."]


def test_sentence_reader_errors_are_coded(tmp_path, txt, nlp):
    from spacy_lm.corpora.readers import SentenceCorpus, create_sentence_reader

    with pytest.raises(ValueError, match=r"\[E061\] spacy_lm\.SentenceCorpus\.v1 needs a path"):
        create_sentence_reader(None)
    for bad in ("a b", "", " .", 3):
        with pytest.raises(ValueError, match=r"\[E009\] split_at must be a token"):
            create_sentence_reader(txt, split_at=bad)
    for setting in ("max_length", "limit"):
        with pytest.raises(ValueError, match=rf"\[E009\] {setting} must be an integer >= 0"):
            SentenceCorpus(txt, **{setting: -1})
    reader = create_sentence_reader(tmp_path / "nope.txt")  # lazy: the file is read when called
    with pytest.raises(ValueError, match=r"\[E062\].*nope\.txt"):
        list(reader(nlp))


def test_sentence_reader_through_registry_and_config(tmp_path, ws_nlp):
    from spacy_lm.corpora.readers import SentenceCorpus, create_sentence_reader

    path = tmp_path / "wiki.txt"
    path.write_text(" = Title = \n a b . c d e . \n = = Sub = = \n f g . \n", encoding="utf-8")
    factory = registry.readers.get("spacy_lm.SentenceCorpus.v1")
    assert factory is create_sentence_reader
    reader = factory(str(path), split_at=".", skip_headings=True, max_length=3)
    assert isinstance(reader, SentenceCorpus)
    assert _sentences(reader(ws_nlp)) == ["a b .", "f g ."]
    config = {"corpus": {"@readers": "spacy_lm.SentenceCorpus.v1", "path": str(path), "split_at": ".",
                         "skip_headings": True, "limit": 2}}
    resolved = registry.resolve(config)["corpus"]
    assert _sentences(resolved(ws_nlp)) == ["a b .", "c d e ."]


# ---- labelled files that are not UTF-8 or are truncated .gz: E062 too (#30) ----------------


@pytest.mark.parametrize("name,format,data,expected", [
    ("stsa.binary.train", "label_first", b"1 fine\n0 caf\xe9 dull\n", r"line 2: not UTF-8 text \(byte 0xe9 at offset 5\)"),
    ("train.csv", "csv", b"label,text\n1,fine\n0,\xff\n", r"line 3: not UTF-8 text \(byte 0xff at offset 2\)"),
    ("train.tsv.gz", "tsv", _gz("label\ttext\n".encode() + "".join(f"{i % 2}\tfilm {i}\n" for i in range(3000)).encode())[:2000],
     r"line \d+: the gzip data end early \(a truncated file\); compress or download the file again"),
    ("train.csv.gz", "csv", b"label,text\n1,fine\n", r"its name ends in \.gz but it is not gzip data"),
], ids=["label-first-latin1", "csv-binary", "tsv-truncated-gz", "csv-not-gzip"])
def test_textcat_corpus_unreadable_files_are_e062_with_the_line(tmp_path, name, format, data, expected):
    import spacy

    from spacy_lm.corpora.readers import create_textcat_reader

    path = tmp_path / name
    path.write_bytes(data)
    for labels in (None, {"0": "NEG", "1": "POS"}):  # all read first, or read as they come
        reader = create_textcat_reader(path, format=format, labels=labels)
        with pytest.raises(ValueError, match=rf"E062\] Cannot read the text corpus .*{name}: {expected}"):
            list(reader(spacy.blank("en")))
