"""spacy_lm/pipeline_lookup.py, and what spacy_lm.metrics.scorers keeps (the import graph: test_imports.py)."""
import pytest
import spacy

from spacy_lm.pipeline_lookup import find_lm_component, find_sentiment_component


def test_scorers_keep_only_scorers():
    import spacy_lm.metrics.scorers as scorers

    for name in ("find_lm_component", "read_corpus_docs", "corpus_perplexity", "make_sentiment_scorer"):
        assert not hasattr(scorers, name)


def test_lookups_name_the_offending_value():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    with pytest.raises(ValueError, match=r"E040.*'tagger'.*sentencizer"):
        find_lm_component(nlp, "tagger")
    with pytest.raises(ValueError, match=r"E041.*language-model.*sentencizer"):
        find_lm_component(nlp)
    with pytest.raises(ValueError, match=r"E041.*sentiment_scorer.*sentencizer"):
        find_sentiment_component(nlp)
    assert find_sentiment_component(nlp, "sentencizer") == "sentencizer"
