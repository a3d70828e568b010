"""spacy_lm.PlainTextCorpus.v1 and spacy_lm.PlainTextStreamCorpus.v1: WikiText token counts, streams."""
import gzip

import pytest
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from spacy_lm.corpora.plain_text import create_plain_text_reader, read_plain_text_docs
from .samples import N_LINES, N_WORDS, TEXT, words


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


def stream_tokens(txt, nlp, eos_marker="<eos>"):
    return [t.text for d in read_plain_text_docs(txt, nlp.vocab, eos_marker=eos_marker) for t in d]


def test_stream_corpus_cuts_the_stream_as_batchify(txt, nlp):
    from spacy_lm.batching import chunk_mark
    from spacy_lm.corpora.plain_text import create_plain_text_stream_reader

    tokens = stream_tokens(txt, nlp)
    assert len(tokens) == N_WORDS + N_LINES == 27
    examples = list(create_plain_text_stream_reader(txt, n_streams=4, chunk_length=4)(nlp))
    length = 27 // 4  # 6 tokens per stream, 3 dropped; chunks of 4 and 2
    assert [len(eg.reference) for eg in examples] == [4] * 4 + [2] * 4
    expected_marks = [(s, c, tokens[s * length + 4 * c - 1] if c else None) for c in (0, 1) for s in range(4)]
    assert [tuple(chunk_mark(eg.reference))[:3] for eg in examples] == expected_marks
    assert [tuple(chunk_mark(eg.predicted))[:3] for eg in examples] == expected_marks
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
    from spacy_lm.corpora.plain_text import create_plain_text_stream_reader

    with pytest.raises(ValueError, match=rf"E009.*{setting}"):
        create_plain_text_stream_reader(txt, **{setting: value})


def test_stream_corpus_path_errors_are_coded(tmp_path, txt, nlp):
    from spacy_lm.corpora.plain_text import create_plain_text_stream_reader

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
