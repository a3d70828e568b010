"""HTML views (spacy_lm/visualize.py): sentiment attributions, translator attention."""
import re

import pytest
import spacy

from spacy_lm.visualize import render_attention, render_sentiment

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


# ---- render_attention (translator attention) ---------------------------------------------------

ITEM = {"source": 'ein "<hund>" & co', "translation": "a <dog>", "source_tokens": ['"', "<hund>", "&", "co"],
        "tokens": ["a", "<dog>"], "attention": [[0.1, 0.6, 0.1, 0.1, 0.1], [0.0, 0.25, 0.0, 0.0, 0.75]]}


def _rows(page):
    return re.findall(r'<tr class="out-row">(.*?)</tr>', page)


def test_attention_table_has_a_row_per_output_token_and_a_column_per_source_token_and_eos():
    page = render_attention(ITEM)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    header = re.findall(r'<th class="src">(.*?)</th>', page)
    assert header == ["&quot;", "&lt;hund&gt;", "&amp;", "co", "&lt;eos&gt;"]
    rows = _rows(page)
    assert len(rows) == 2 and [row.count("<td ") for row in rows] == [5, 5]
    assert re.findall(r'<th class="out">(.*?)</th>', page) == ["a", "&lt;dog&gt;"]
    # shade = weight; the value on hover
    assert 'style="background: rgba(33, 102, 172, 0.600)" title="a ← &lt;hund&gt;: 0.6000"' in rows[0]
    assert 'rgba(33, 102, 172, 0.750)" title="&lt;dog&gt; ← &lt;eos&gt;: 0.7500"' in rows[1]
    assert 'rgba(33, 102, 172, 0.000)" title="&lt;dog&gt; ← &quot;: 0.0000"' in rows[1]


def test_attention_text_is_escaped_everywhere():
    page = render_attention([ITEM], page=False, title="x")
    assert "<html" not in page and page.count('class="slm-attn"') == 1
    for raw in ("<hund>", "<dog>", '"<', "& co"):
        assert raw not in page
    assert "ein &quot;&lt;hund&gt;&quot; &amp; co" in page and "a &lt;dog&gt;" in page
    assert "<title>&lt;b&gt;</title>" in render_attention(ITEM, title="<b>")


def test_attention_of_translated_docs_and_empty_translations():
    from spacy_lm.extensions import install_translation_extensions

    install_translation_extensions()
    nlp = spacy.blank("de")
    doc = nlp("ein hund")
    doc._.translation, doc._.translation_tokens = "a dog", ["a", "dog"]
    doc._.translation_attention = [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]
    empty = nlp("")
    empty._.translation, empty._.translation_tokens = "", []
    page = render_attention([doc, empty], page=False)
    assert re.findall(r'<th class="src">(.*?)</th>', page) == ["ein", "hund", "&lt;eos&gt;"]
    assert len(_rows(page)) == 2 and 'title="dog ← hund: 0.8000"' in page
    assert page.count('class="slm-attn"') == 2 and page.count("empty translation") == 1


@pytest.mark.parametrize("change,code", [
    ({"attention": None}, "E137"),
    ({"attention": [[0.5, 0.5, 0.0, 0.0, 0.0]]}, "E138"),  # one row for two output tokens
    ({"attention": [[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]}, "E138"),  # no <eos> column
    ({"attention": [[float("nan")] * 5, [0.2] * 5]}, "E138"),
], ids=["missing", "rows", "columns", "nan"])
def test_attention_of_the_wrong_shape_is_refused(change, code):
    with pytest.raises(ValueError, match=rf"\[{code}\].*item 1 \('ein \"<hund>\" & co'\)"):
        render_attention([ITEM, {**ITEM, **change}])
