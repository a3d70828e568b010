"""spacy_lm/corpora/corpus.py: reading a corpus file into docs and scoring it with the pipeline's LM."""
import pytest
from spacy.tokens import Doc

from spacy_lm.corpora.corpus import corpus_perplexity, read_corpus_docs
from spacy_lm.pipeline_lookup import find_lm_component


def test_corpus_perplexity_reads_text_and_docbin(trained_lm, tmp_path):
    nlp, _ = trained_lm
    text_file = tmp_path / "data.txt"
    text_file.write_text("the cat sat\n\na dog\n", encoding="utf-8")
    docs = list(read_corpus_docs(nlp, text_file))
    assert [d.text for d in docs] == ["the cat sat", "a dog"]  # default tokenizer: blank lines skipped
    scores = corpus_perplexity(nlp, docs)
    assert scores["n_docs"] == 2 and scores["lm_n_predicted"] == 7
    assert find_lm_component(nlp) == "lstm_lm"
    with pytest.raises(ValueError, match="No component 'tagger'"):
        find_lm_component(nlp, "tagger")
    from spacy.tokens import DocBin

    DocBin(docs=[Doc(nlp.vocab, words=["a", "cat"])]).to_disk(tmp_path / "d.spacy")
    assert corpus_perplexity(nlp, read_corpus_docs(nlp, tmp_path / "d.spacy"))["lm_n_predicted"] == 3


@pytest.mark.parametrize("text", ["", "\n\n  \n"], ids=["empty", "blank-lines"])
def test_nothing_scored_warns_w011_or_fails_with_strict(trained_lm, tmp_path, text):
    nlp, _ = trained_lm
    path = tmp_path / "data.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.warns(UserWarning, match=r"W011\] Nothing was scored: the corpus gave 0 docs"):
        scores = corpus_perplexity(nlp, read_corpus_docs(nlp, path))
    assert scores["lm_perplexity"] is None and scores["lm_n_predicted"] == 0 and scores["n_docs"] == 0
    with pytest.raises(ValueError, match=r"E086\] Nothing was scored"):
        corpus_perplexity(nlp, read_corpus_docs(nlp, path), strict=True)


def test_empty_and_bad_docbins(trained_lm, tmp_path):
    from spacy.tokens import DocBin

    nlp, _ = trained_lm
    DocBin().to_disk(tmp_path / "empty.spacy")
    with pytest.warns(UserWarning, match="W011"):
        assert corpus_perplexity(nlp, read_corpus_docs(nlp, tmp_path / "empty.spacy"))["n_docs"] == 0
    (tmp_path / "bad.spacy").write_text("not a DocBin", encoding="utf-8")
    with pytest.raises(ValueError, match=r"E087\] Cannot read .*bad\.spacy as a DocBin"):
        read_corpus_docs(nlp, tmp_path / "bad.spacy")


def test_corpus_counts_are_checked(trained_lm, tmp_path):
    nlp, _ = trained_lm
    path = tmp_path / "data.txt"
    path.write_text("a cat\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"E009\] limit must be an integer >= 0, got -1"):
        read_corpus_docs(nlp, path, limit=-1)
    with pytest.raises(ValueError, match=r"E009\] batch_size must be an integer >= 1, got 0"):
        corpus_perplexity(nlp, [nlp.make_doc("a cat")], batch_size=0)


def test_text_that_is_not_utf8_is_e062(trained_lm, tmp_path):
    nlp, _ = trained_lm
    path = tmp_path / "data.txt"
    path.write_bytes(b"a cat\n\xff\xfe\n")
    with pytest.raises(ValueError, match=r"E062\].*line 2: not UTF-8 text \(byte 0xff at offset 0\)"):
        list(read_corpus_docs(nlp, path))
