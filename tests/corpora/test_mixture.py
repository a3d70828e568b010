"""spacy_lm.MixedTextStreamCorpus.v1: sources of each format, the interleaving, take/skip/repeat,
statistics, forward and backward chunks (stream_chunk_examples), coded errors."""
import gzip
import json

import pytest
from spacy.util import registry

from spacy_lm.batching import chunk_mark, prepare_doc
from spacy_lm.corpora.mixture import (create_mixed_text_stream_reader, interleave, iter_source_docs,
                                      mix_sources, mixture_statistics)
from spacy_lm.corpora.plain_text import stream_chunk_examples
from spacy_lm.text.vocab import TokenVocab

READER = "spacy_lm.MixedTextStreamCorpus.v1"
LINES = "a b c\n\nd e\n"
REVIEWS = [("1", "Great film.<br /><br />Loved it"), ("2", "Bad, bad film"), ("3", "Meh")]
SQUAD = {"data": [{"title": "T", "paragraphs": [
    {"context": "Paris is big.", "qas": [{"id": "q1", "question": "What?", "answers": [
        {"text": "Paris", "answer_start": 0}]}]},
    {"context": "Rome is old.", "qas": []}]}]}


@pytest.fixture
def files(tmp_path):
    lines = tmp_path / "wiki.txt"
    lines.write_text(LINES, encoding="utf-8")
    csv = tmp_path / "imdb.csv.gz"
    rows = "id,text\n" + "".join(f'{i},"{text}"\n' for i, text in REVIEWS)
    with gzip.open(csv, "wt", encoding="utf-8") as file_:
        file_.write(rows)
    jsonl = tmp_path / "notes.jsonl"
    jsonl.write_text("".join(json.dumps({"body": t}) + "\n" for t in ("One two.", "Three")), encoding="utf-8")
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps(SQUAD), encoding="utf-8")
    return {"wiki": lines, "imdb": csv, "notes": jsonl, "squad": squad}


def doc_words(nlp, name, settings):
    return [[t.text for t in doc] for doc in iter_source_docs(nlp, name, settings)]


def test_each_format_is_read_as_the_stream_reads_it(files, nlp):
    assert doc_words(nlp, "wiki", {"path": files["wiki"]}) == [["a", "b", "c"], [], ["d", "e"]]
    assert doc_words(nlp, "wiki", {"path": files["wiki"], "lines_per_doc": 2}) == [
        ["a", "b", "c", "<eos>"], ["d", "e"]]
    assert doc_words(nlp, "imdb", {"path": files["imdb"], "strip_html": True}) == [
        ["Great", "film", ".", "Loved", "it"], ["Bad", ",", "bad", "film"], ["Meh"]]
    assert doc_words(nlp, "imdb", {"path": files["imdb"], "tokenizer": "split"})[1] == ["Bad,", "bad", "film"]
    assert doc_words(nlp, "notes", {"path": files["notes"], "column": "body"}) == [["One", "two", "."], ["Three"]]
    assert doc_words(nlp, "squad", {"path": files["squad"]}) == [
        ["Paris", "is", "big", "."], ["Rome", "is", "old", "."]]


def test_take_skip_repeat(files, nlp):
    imdb = {"path": files["imdb"], "tokenizer": "split"}
    first = [d[0] for d in doc_words(nlp, "imdb", imdb)]
    assert first == ["Great", "Bad,", "Meh"]
    for take, skip, expected in [(2, 0, first[:2]), (-1, 0, first[:2]), (0, 1, first[1:]), (0, -1, first[2:]),
                                 (1, 1, first[1:2])]:
        assert [d[0] for d in doc_words(nlp, "imdb", {**imdb, "take": take, "skip": skip})] == expected
    reader = create_mixed_text_stream_reader({"imdb": {**imdb, "repeat": 3}}, n_streams=1, verbose=False)
    rows = reader.statistics(nlp)
    # split keeps the tags: "film.<br", "/><br", "/>Loved"
    assert rows[0]["docs"] == 9 and rows[0]["tokens"] == 3 * (5 + 3 + 1 + 3)


def test_interleave_keeps_each_order_and_follows_the_seed():
    counts = {"a": 50, "b": 30, "c": 5}
    order = interleave(counts, seed=1)
    assert {name: order.count(name) for name in counts} == counts
    assert order == interleave(counts, seed=1)
    assert order != interleave(counts, seed=2)
    docs = {name: [[f"{name}{i}"] for i in range(n)] for name, n in counts.items()}
    tokens, pieces = mix_sources(docs, eos_marker=None, seed=1)
    for name, n in counts.items():
        assert [t for t in tokens if t[0] == name] == [f"{name}{i}" for i in range(n)]
    assert [p[0] for p in pieces] == order


def test_statistics_are_exact(files, nlp):
    sources = {"wiki": {"path": files["wiki"]}, "notes": {"path": files["notes"], "column": "body"}}
    reader = registry.readers.get(READER)(sources, n_streams=2, verbose=False)
    rows = reader.statistics(nlp)
    assert [r["source"] for r in rows] == ["wiki", "notes", "total"]
    wiki, notes, total = rows
    # wiki: a b c <eos> | <eos> | d e <eos>; notes: One two . <eos> | Three <eos>
    assert (wiki["docs"], wiki["tokens"], wiki["types"], wiki["types_lower"]) == (3, 8, 6, 6)
    assert (notes["docs"], notes["tokens"], notes["types"], notes["types_lower"]) == (2, 6, 5, 5)
    assert (total["docs"], total["tokens"], total["types"]) == (5, 14, 10)
    assert wiki["share"] == pytest.approx(800 / 14) and total["share"] == 100.0
    tokens, pieces = mix_sources({"x": [["A", "a", "b"]]}, eos_marker="<eos>", limit=3)
    assert tokens == ["A", "a", "b"]
    assert mixture_statistics(tokens, pieces)[0] == {"source": "x", "docs": 1, "tokens": 3, "types": 3,
                                                     "types_lower": 2, "share": 100.0}


def test_reader_stream_forward_and_backward(files, nlp, capsys):
    sources = {"wiki": {"path": files["wiki"]}, "imdb": {"path": files["imdb"]}, "squad": {"path": files["squad"]}}
    reader = registry.readers.get(READER)(sources, n_streams=3, chunk_length=4, seed=3)
    tokens, _ = reader.stream(nlp)
    assert "imdb" in capsys.readouterr().out  # the table, printed once
    assert reader.stream(nlp)[0] is tokens
    assert capsys.readouterr().out == ""
    length = len(tokens) // 3
    forward = list(reader(nlp))
    backward = list(registry.readers.get(READER)(sources, n_streams=3, chunk_length=4, seed=3,
                                                 direction="backward", verbose=False)(nlp))
    for s in range(3):
        segment = tokens[s * length : (s + 1) * length]
        assert [t.text for eg in forward if chunk_mark(eg.reference).stream == s for t in eg.reference] == segment
        read = [t.text for eg in backward if chunk_mark(eg.reference).stream == s for t in reversed(eg.reference)]
        assert read == segment[::-1]
    assert [tuple(chunk_mark(eg.reference)[:2]) for eg in backward[:4]] == [(0, 0), (1, 0), (2, 0), (0, 1)]


def test_backward_chunks_mark_the_token_after_them(nlp):
    tokens = "a b c d e f g h i j".split()  # 2 streams of 5: "a b c d e", "f g h i j"
    examples = list(stream_chunk_examples(nlp, tokens, 2, 2, direction="backward"))
    assert [[t.text for t in eg.reference] for eg in examples] == [
        ["d", "e"], ["i", "j"], ["b", "c"], ["g", "h"], ["a"], ["f"]]
    assert [tuple(chunk_mark(eg.predicted)) for eg in examples] == [
        (0, 0, None, True), (1, 0, None, True), (0, 1, "d", True), (1, 1, "i", True),
        (0, 2, "b", True), (1, 2, "g", True)]
    vocab = TokenVocab(["<unk>", "<eos>"] + tokens)
    stream0 = [prepare_doc(vocab, eg.reference, backward=True) for eg in examples[0::2]]
    assert [vocab.string_of(i) for i in stream0[0][0]] == ["<eos>", "e"]
    assert [vocab.string_of(i) for i in stream0[1][0]] == ["d", "c"]
    assert [vocab.string_of(i) for i in stream0[2][0]] == ["b"]
    targets = [vocab.string_of(i) for p in stream0 for i in p[1]]
    assert targets == ["e", "d", "c", "b", "a"]
    with pytest.raises(ValueError, match="E291.*sideways"):
        stream_chunk_examples(nlp, tokens, 2, 2, direction="sideways")
    with pytest.raises(ValueError, match="E077.*10 tokens"):
        stream_chunk_examples(nlp, tokens, 11, 2)


@pytest.mark.parametrize("sources,match", [
    ({}, "E306"),
    ({"w": {"format": "lines"}}, "E300.*'w'.*path is missing"),
    ({"w": {"path": "x.txt", "colour": 1}}, "E300.*'w'.*colour"),
    ({"w": {"path": "x.parquet"}}, "E301.*'w'.*x.parquet"),
    ({"w": {"path": "x.txt", "format": "xml"}}, "E301.*'xml'"),
    ({"w": {"path": "x.txt", "take": 1.5}}, "E305.*'w'.*take"),
    ({"w": {"path": "x.txt", "skip": "1"}}, "E305.*'w'.*skip"),
    ({"w": {"path": "x.txt", "repeat": 0}}, "E305.*'w'.*repeat"),
    ({"w": {"path": "x.txt", "tokenizer": "bpe"}}, "E305.*'w'.*tokenizer"),
])
def test_bad_settings_are_coded(sources, match):
    with pytest.raises(ValueError, match=match):
        create_mixed_text_stream_reader(sources)


def test_bad_files_are_coded(files, tmp_path, nlp):
    def read(settings):
        return create_mixed_text_stream_reader({"s": settings}, n_streams=1, verbose=False).stream(nlp)

    with pytest.raises(ValueError, match="E302.*'s'.*E062.*no such file"):
        read({"path": tmp_path / "nope.txt"})
    with pytest.raises(ValueError, match="E303.*'s'.*column 'review'"):
        read({"path": files["imdb"], "column": "review"})
    with pytest.raises(ValueError, match="E303.*'s'.*line 1.*field 'text'"):
        read({"path": files["notes"]})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="E307.*'s'.*line 2"):
        read({"path": bad})
    with pytest.raises(ValueError, match="E304.*'s'"):
        read({"path": files["wiki"], "skip": 1, "take": 1})  # only the blank line
    with pytest.raises(ValueError, match="E077"):
        list(create_mixed_text_stream_reader({"s": {"path": files["wiki"]}}, n_streams=99, verbose=False)(nlp))


def test_backward_lstm_lm_trains_on_backward_chunks(files, nlp):
    from spacy.language import Language
    from thinc.api import fix_random_seed

    factory = Language.get_factory_meta("lstm_lm")
    if "direction" not in factory.default_config:
        pytest.skip("lstm_lm has no direction setting yet")
    fix_random_seed(0)
    sources = {"wiki": {"path": files["wiki"], "repeat": 3}, "squad": {"path": files["squad"]}}
    reader = create_mixed_text_stream_reader(sources, n_streams=2, chunk_length=4, direction="backward",
                                             verbose=False)
    nlp.add_pipe("lstm_lm", config={"direction": "backward", "max_length": 4,
                                    "model": {"width": 8, "depth": 1, "dropout": 0.0}})
    examples = list(reader(nlp))
    optimizer = nlp.initialize(lambda: examples)
    losses = []
    for _ in range(5):
        for i in range(0, len(examples), 2):
            step = {}
            nlp.update(examples[i : i + 2], sgd=optimizer, losses=step)
            losses.append(step["lstm_lm"])
    assert all(loss == loss for loss in losses)
    assert sum(losses[-3:]) < sum(losses[:3])


def test_a_source_with_a_null_path_is_left_out(files, nlp):
    reader = create_mixed_text_stream_reader({"a": {"path": None}, "b": {"path": files["wiki"]}},
                                             n_streams=1, verbose=False)
    assert [s.name for s in reader.sources] == ["b"]
    with pytest.raises(ValueError, match="E306"):
        create_mixed_text_stream_reader({"a": {"path": None}})
