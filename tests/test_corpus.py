"""spacy_lm/corpus.py: reading a corpus file into docs and scoring it with the pipeline's LM."""
import pytest
from spacy.tokens import Doc

from spacy_lm.corpus import corpus_perplexity, read_corpus_docs
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
