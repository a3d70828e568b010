"""HTML views (spacy_lm/analysis/views/, imported through spacy_lm.analysis.visualize): sentiment attributions,
translator attention, LM surprisal, comparison, generation, textcat."""
import math
import re

import pytest
import spacy

from spacy_lm.analysis.visualize import render_attention, render_sentiment

from ..sentiment_fixtures import write_lexicon


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


def test_doc_without_token_contributions_says_why(tmp_path):
    """A doc over max_attribution_tokens (or with attributions off) shows its polarity, no token
    colours and the reason, rather than looking like a doc whose tokens all scored 0."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config={"model": {"@architectures": "spacy_lm.LexiconSentiment.v1",
                                                        "lexicon": write_lexicon(tmp_path / "l.tsv")}})
    doc = nlp("I like it & more")
    doc._.sentiment_tokens = None
    doc._.sentiment_tokens_skipped = "5 tokens > max_attribution_tokens = 4 <x>"
    page = render_sentiment(doc)
    assert "no token contributions: 5 tokens &gt; max_attribution_tokens = 4 &lt;x&gt;" in page
    assert f"{doc._.sentiment_polarity:+.3f}" in page and 'title="no attribution"' in page
    assert "no token contributions" not in render_sentiment(nlp("I like it"))


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


# ---- LM views and textcat: hand-made items ------------------------------------------------------

SURPRISAL = {"text": "the <cat>  & co", "component": "lm", "tokens": ["the", "<cat>", " ", "&", "co"],
             "whitespace": [" ", " ", "", " ", ""], "surprisals": [1.0, 4.0, None, 2.0, 0.5], "end_surprisal": 3.0,
             "perplexity": 2 ** 2.1, "logprob": -10.5 * 0.6931471805599453, "n_predicted": 5}
COMPARISON = {"text": SURPRISAL["text"], "tokens": SURPRISAL["tokens"], "whitespace": SURPRISAL["whitespace"],
              "names": ["<old>", "new"], "components": ["lm", "lm"],
              "a": {**{k: SURPRISAL[k] for k in ("surprisals", "end_surprisal", "perplexity", "logprob",
                                                  "n_predicted")}},
              "b": {"surprisals": [2.0, 2.0, None, 2.0, 1.5], "end_surprisal": 3.0, "perplexity": 4.0,
                    "logprob": -10.5 * 0.6931471805599453, "n_predicted": 5},
              "diff": [-1.0, 2.0, None, 0.0, -1.0], "end_diff": 0.0,
              "summary": {"n_tokens": 4, "better_a": 0.5, "better_b": 0.25, "ties": 0.25, "mean_diff": 0.0,
                          "perplexity_a": 2 ** 2.1, "perplexity_b": 4.0}}
ALTS = [[{"token_id": 5, "token": "<b>", "logprob": -0.5}, {"token_id": 6, "token": "x", "logprob": -1.5}],
        [{"token_id": 6, "token": "x", "logprob": -0.1}, {"token_id": 7, "token": "y", "logprob": -3.0}]]
GENERATION = {"prompt": "say <it>", "component": "lm", "generations": [
    {"text": "<b> z", "token_ids": [5, 9], "tokens": ["<b>", "z"], "logprobs": [-0.5, -4.0], "score": -4.5,
     "finish_reason": "length", "words": ["<b>", "z"], "whitespace": [" ", ""], "alternatives": ALTS}]}
TEXTCAT = {"text": "I <like> it", "component": "textcat", "multi_label": False, "tokens": ["I", "<like>", "it"],
           "whitespace": [" ", " ", ""],
           "labels": {"POS": {"score": 0.8, "base": 0.5, "attributions": [0.05, 0.4, -0.1], "gap": 0.15},
                      "NEG": {"score": 0.2, "base": 0.5, "attributions": [-0.05, -0.4, 0.1], "gap": 0.15}}}


def _tokens(page, cls="tok"):
    return re.findall(rf'<span class="{cls}" style="background: ([^"]+)" title="([^"]*)">(.*?)</span>', page)


def test_surprisal_view_shades_by_bits_on_one_scale_and_escapes():
    from spacy_lm.analysis.visualize import render_surprisal

    page = render_surprisal([SURPRISAL, {**SURPRISAL, "surprisals": [8.0, 0.0, None, 0.0, 0.0]}])
    assert page.startswith("<!DOCTYPE html>") and 'class="slm-legend"' in page and "<b>8.00</b> bits" in page
    tokens = _tokens(page)
    assert len(tokens) == 10 and [t for _, _, t in tokens[:5]] == ["the", "&lt;cat&gt;", " ", "&amp;", "co"]
    assert tokens[1][0] == "rgba(118, 42, 131, 0.425)"  # 4 bits of a page scale of 8: half of 0.85
    assert tokens[5][0] == "rgba(118, 42, 131, 0.850)" and tokens[2][0] == "transparent"
    assert tokens[1][1] == "&lt;cat&gt;: 4.000 bits (p = 0.0625)" and "not scored" in tokens[2][1]
    assert len(_tokens(page, "eos")) == 2 and "perplexity <b>4.29</b>" in page and "<cat>" not in page
    fragment = render_surprisal(SURPRISAL, page=False, jupyter=False)
    assert "<html" not in fragment and fragment.count('class="slm-lm"') == 1
    with pytest.raises(ValueError, match=r"\[E185\] surprisal item 0.*'surprisals' has 2 values for 5 tokens"):
        render_surprisal({**SURPRISAL, "surprisals": [1.0, 2.0]})


def test_surprisal_view_of_an_annotated_doc():
    from spacy.training import Example

    from spacy_lm.analysis.visualize import render_surprisal

    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 2})
    nlp.initialize(lambda: [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in ["a b c", "a c b"]])
    page = render_surprisal(nlp("a b c"), jupyter=False)
    assert len(_tokens(page)) == 3
    with pytest.raises(ValueError, match=r"\[E185\].*no lm_surprisals"):
        render_surprisal(spacy.blank("en")("x"))


def test_comparison_view_colours_the_better_model_and_names_both():
    from spacy_lm.analysis.visualize import render_surprisal_comparison

    page = render_surprisal_comparison([COMPARISON, COMPARISON])
    legend = re.search(r'<div class="slm-legend">(.*?)</div>', page).group(1)
    assert "&lt;old&gt;</span> better" in legend and "new</span> better" in legend and "<b>2.00</b> bits" in legend
    tokens = _tokens(page)[:5]
    assert tokens[0][0] == "rgba(33, 102, 172, 0.425)"  # a better by 1 bit of 2: A's blue
    assert tokens[1][0] == "rgba(230, 97, 1, 0.850)"  # b better by 2 bits: B's orange
    assert tokens[3][0] == "transparent" and "(tie)" in tokens[3][1]
    assert tokens[1][1] == "&lt;cat&gt;: &lt;old&gt; 4.000 bits, new 2.000 bits, difference +2.000 (new better)"
    assert "All 2 texts" in page and "better on <b>50%</b> of 8 tokens" in page  # pooled first
    assert page.count("better on <b>50%</b> of 4 tokens") == 2 and "<old>" not in page
    single = render_surprisal_comparison(COMPARISON, jupyter=False)
    assert "All " not in single and "perplexity <b>4.00</b>" in single
    with pytest.raises(ValueError, match=r"\[E185\] comparison item 0"):
        render_surprisal_comparison({**COMPARISON, "diff": [0.0]})
    with pytest.raises(ValueError, match=r"\[E185\] comparison item 1.*compares \['x', 'y'\]"):
        render_surprisal_comparison([COMPARISON, {**COMPARISON, "names": ["x", "y"]}])


def test_generation_view_lists_alternatives_below_and_on_hover():
    from spacy_lm.analysis.visualize import render_generation

    page = render_generation(GENERATION)
    cells = re.findall(r'<span class="gtok">(.*?)</span></span></span>', page, re.S)
    assert len(cells) == 2 and 'class="prompt">say &lt;it&gt;</span>' in page
    assert '<span class="alt chosen">&lt;b&gt; -0.50</span><span class="alt">x -1.50' in cells[0]
    # the sampled z is no top alternative: listed after them, bold
    assert '<span class="alt">y -3.00</span><span class="alt chosen">… z -4.00' in cells[1]
    title = _tokens(page)[0][1]
    assert title.startswith("&lt;b&gt;: log p = -0.500") and "top alternatives" in title and "x  -1.500" in title
    scale = 4.0 / math.log(2.0)
    assert f"<b>{scale:.2f}</b> bits" in page and _tokens(page)[1][0] == "rgba(118, 42, 131, 0.850)"
    assert "score -4.500, length" in page and "<b> z" not in page and "&lt;b&gt; z" not in page
    bare = {**GENERATION, "generations": [{**GENERATION["generations"][0], "alternatives": [[], []]}]}
    assert 'class="alts"' not in render_generation(bare, jupyter=False)
    from spacy_lm.decoding import Generation  # a plain Generation.to_dict(): tokens, no alternatives

    plain = {"prompt": "p", "generations": [Generation([5, 9], ["a", "b"], [-0.5, -1.0], -1.5, "eos").to_dict()]}
    assert len(re.findall('class="gtok"', render_generation(plain, jupyter=False))) == 2
    with pytest.raises(ValueError, match=r"\[E185\] generation item 0 \('say <it>'\)"):
        render_generation({**GENERATION, "generations": [{**GENERATION["generations"][0], "alternatives": []}]})


def test_textcat_view_has_a_row_per_label_with_scores_and_one_scale():
    from spacy_lm.analysis.visualize import render_textcat

    other = {**TEXTCAT, "labels": {"POS": {"score": 0.6, "base": 0.5, "attributions": [0.0, 0.8, 0.0],
                                           "gap": 0.0}}}
    page = render_textcat([TEXTCAT, other])
    rows = re.findall(r'<span class="label-row">(.*?)</span></span>(?=<span class="label-row">|</div>)', page)
    assert page.count('class="label-row"') == 3 and len(rows) == 3
    assert 'class="label">POS</span>' in rows[0] and 'class="label">NEG</span>' in rows[1]
    assert "score <b>0.800</b>, base 0.500, gap 0.1500" in rows[0]
    tokens = _tokens(page)
    assert len(tokens) == 9 and tokens[1][2] == "&lt;like&gt;"
    assert tokens[1][0] == "rgba(26, 152, 80, 0.425)"  # 0.4 of the page's 0.8: half green
    assert tokens[4][0] == "rgba(215, 48, 39, 0.425)" and tokens[7][0] == "rgba(26, 152, 80, 0.850)"
    assert tokens[1][1] == "&lt;like&gt;: +0.4000 toward POS" and "<b>+0.800</b>" in page
    assert "(exclusive classes)" in page and "<like>" not in page
    with pytest.raises(ValueError, match=r"\[E185\] textcat item 0.*'attributions' has 1 values for 3 tokens"):
        render_textcat({**TEXTCAT, "labels": {"POS": {**TEXTCAT["labels"]["POS"], "attributions": [0.1]}}})


RENDERERS = ["render_sentiment", "render_attention", "render_surprisal", "render_surprisal_comparison",
             "render_generation", "render_textcat"]


def _render_input(name):
    if name == "render_sentiment":
        nlp = spacy.blank("en")
        nlp.add_pipe("sentiment_scorer", config={"model": {"@architectures": "spacy_lm.LexiconSentiment.v1"}})
        return nlp("I like it")
    return {"render_attention": ITEM, "render_surprisal": SURPRISAL, "render_surprisal_comparison": COMPARISON,
            "render_generation": GENERATION, "render_textcat": TEXTCAT}[name]


@pytest.mark.parametrize("name", RENDERERS)
def test_jupyter_displays_the_fragment_and_returns_none(name, monkeypatch):
    import spacy_lm.analysis.views.page as page_module
    import spacy_lm.analysis.visualize as visualize

    pytest.importorskip("IPython")
    import IPython.display

    render = getattr(visualize, name)
    item = _render_input(name)
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    page = render(item, jupyter=False)
    assert isinstance(page, str) and page.startswith("<!DOCTYPE html>")
    assert render(item, jupyter=True) is None
    assert len(shown) == 1 and isinstance(shown[0], IPython.display.HTML)
    assert shown[0].data == render(item, page=False, jupyter=False) and "<html" not in shown[0].data
    monkeypatch.setattr(page_module, "is_in_jupyter", lambda: True)  # None: detect the notebook
    assert render(item) is None and len(shown) == 2
    monkeypatch.setattr(page_module, "is_in_jupyter", lambda: False)
    assert render(item) == page
