"""spacy_lm.SentenceCorpus.v1 and split_sentences."""
import gzip

import pytest
import spacy
from spacy.util import registry


def _sentences(examples):
    examples = list(examples)
    for eg in examples:  # predicted and reference are the same sentence, as separate docs
        assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
        assert eg.predicted is not eg.reference
    return [eg.reference.text for eg in examples]


def test_sentence_corpus_split_at_cuts_after_each_token(tmp_path, ws_nlp):
    from spacy_lm.corpora.sentences import SentenceCorpus

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
    from spacy_lm.corpora.sentences import SentenceCorpus

    path = tmp_path / "captions.txt"
    path.write_text("A cat sat on the mat. A dog ran.\n\n   \nTwo dogs play.\n", encoding="utf-8")
    reader = SentenceCorpus(path)
    assert _sentences(reader(nlp)) == ["A cat sat on the mat . A dog ran .", "Two dogs play ."]
    assert _sentences(reader(nlp)) == ["A cat sat on the mat . A dog ran .", "Two dogs play ."]  # reusable


def test_split_sentences_follows_doc_sents_and_drops_whitespace(nlp):
    from spacy_lm.corpora.sentences import split_sentences

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
    from spacy_lm.corpora.sentences import SentenceCorpus

    kept = _sentences(SentenceCorpus(txt, skip_headings=True)(ws_nlp))
    assert kept == ["Senjō no Valkyria 3 : <unk> Chronicles III", "the end"]
    everything = _sentences(SentenceCorpus(txt)(ws_nlp))
    assert everything == ["= Valkyria <unk> @-@ 3 =", "Senjō no Valkyria 3 : <unk> Chronicles III",
                          "= = Gameplay = =", "the end"]


def test_sentence_corpus_max_length_and_limit(tmp_path, ws_nlp):
    from spacy_lm.corpora.sentences import SentenceCorpus

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
    from spacy_lm.corpora.sentences import SentenceCorpus

    path = tmp_path / "train.en.gz"
    path.write_bytes(gzip.compress("a cat . a dog\n\nthe end .\n".encode("utf-8")))
    assert _sentences(SentenceCorpus(path, split_at=".")(ws_nlp)) == ["a cat .", "a dog", "the end ."]
    assert _sentences(SentenceCorpus(path)(ws_nlp)) == ["a cat . a dog", "the end ."]


def test_sentence_reader_errors_are_coded(tmp_path, txt, nlp):
    from spacy_lm.corpora.sentences import SentenceCorpus, create_sentence_reader

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
    from spacy_lm.corpora.sentences import SentenceCorpus, create_sentence_reader

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
