"""The qa view in a real headless browser (Chromium or Chrome), as tests/analysis/test_browser.py checks
the other views: the DOM it builds (three rows per question: the answer highlighted, start and end
shadings) and a screenshot showing the three colours. Skipped when no browser is found."""
import pytest

from spacy_lm.analysis.views.qa import render_qa

from .test_browser import BROWSER, BROWSERS, browse, colours, rendered_dom
from .test_qa_view import ITEM

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(BROWSER is None, reason=f"no headless browser found (tried {', '.join(BROWSERS)}; "
                                                         "or set SPACY_LM_CHROME)")]
SECOND = {**ITEM, "question": "Who are the notes by?", "answers": ITEM["answers"][1:], "answer_tokens": [2, 3]}


def test_dom_of_the_qa_view(tmp_path):
    dom = rendered_dom(tmp_path, "qa", render_qa([ITEM, SECOND], jupyter=False, title="qa view"))
    n = len(ITEM["tokens"])
    assert dom.page_title == "qa view"
    assert dom.classes["slm-qa"] == 2 and dom.classes["label-row"] == 6 and dom.classes["slm-legend"] == 1
    assert dom.classes["tok"] == 3 * 2 * n == len(dom.titles["tok"])
    assert dom.classes["ans"] == 3 * (2 + 1)  # the answer's tokens, outlined in each of the three rows
    assert "Ada: P(start) = 0.8000" in dom.titles["tok"] and "Lovelace: P(end) = 0.4000" in dom.titles["tok"]
    text = "".join(dom.text)
    assert "Who wrote <the> notes?" in text  # escaped in the file, text in the DOM
    assert "next best: Ada (0.160)" in text and "answer" in text


def test_screenshot_shows_the_answer_and_both_shadings(tmp_path):
    path = tmp_path / "qa.html"
    path.write_text(render_qa([ITEM, SECOND], jupyter=False), encoding="utf-8")
    png = tmp_path / "qa.png"
    browse(path, f"--screenshot={png}", "--window-size=1200,800")
    assert png.exists() and png.stat().st_size > 1000
    seen = colours(png)
    tests = {"blue (start)": lambda r, g, b: b > r + 60,
             "orange (end)": lambda r, g, b: r > b + 80 and g > b + 20 and b > 120,
             "yellow (answer)": lambda r, g, b: r > 230 and g > 195 and b < 120}
    for hue, test in tests.items():
        assert sum(n for rgb, n in seen.items() if test(*rgb)) > 50, f"no {hue} in the qa screenshot"
