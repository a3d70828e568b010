"""HTML view of sentiment attributions (spacy_lm/visualize.py)."""
import re

import pytest
import spacy

from spacy_lm.visualize import render_sentiment

from .sentiment_fixtures import write_lexicon


def test_page_has_legend_sentence_scores_hover_and_colours(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("sentiment_scorer", config={"model": {"@architectures": "spacy_lm.LexiconSentiment.v1",
                                                        "lexicon": write_lexicon(tmp_path / "l.tsv")}})
    doc = nlp("I like it. It is bad <3")
    page = render_sentiment(doc)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert 'class="slm-legend"' in page and "linear-gradient" in page
    # hover: every token carries its value
    like = doc[1]._.sentiment_contribution
    assert f'title="like: {like:+.4f}"' in page
    # sentence badges: one per sentence, with the sentence polarity
    for sent in doc.sents:
        assert f"{sent._.sentiment_polarity:+.3f}" in page
    # green for positive, red for negative tokens; text escaped
    assert re.search(r"rgba\(26, 152, 80, [0-9.]+\)\" title=\"like", page)
    assert re.search(r"rgba\(215, 48, 39, [0-9.]+\)\" title=\"bad", page)
    assert "&lt;3" in page and "<3" not in page
    fragment = render_sentiment([doc, nlp("")], page=False)
    assert "<html" not in fragment and fragment.count('class="slm-sent"') == 2


def test_unannotated_doc_is_refused():
    with pytest.raises(ValueError, match=r"\[E074\].*sentiment_scorer.*doc 0 \('hello'\)"):
        render_sentiment(spacy.blank("en")("hello"))
