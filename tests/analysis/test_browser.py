"""Every view in a real headless browser (Chromium or Chrome): the DOM it builds and a screenshot.

Skipped when no chromium / chrome binary is on PATH (set SPACY_LM_CHROME to point at one)."""
import os
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from spacy_lm.analysis.lm_views import compare_surprisal, generation_items, surprisal_items
from spacy_lm.analysis.visualize import (render_attention, render_generation, render_surprisal, render_surprisal_comparison,
                                render_textcat)

from .test_lm_views import TEXTS, ngram_pipeline
from .test_visualize import ITEM, TEXTCAT

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> Optional[str]:
    explicit = os.environ.get("SPACY_LM_CHROME")
    if explicit:
        return explicit
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


BROWSER = find_browser()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(BROWSER is None, reason=f"no headless browser found (tried {', '.join(BROWSERS)}; "
                                                         "or set SPACY_LM_CHROME)")]


def browse(path: Path, *args: str) -> str:
    profile = path.parent / f"profile-{path.stem}"
    result = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args, path.as_uri()],
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Elements(HTMLParser):
    """What the browser built: elements by class, their titles, the page title and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: Counter = Counter()
        self.titles: Dict[str, List[str]] = {}
        self.text: List[str] = []
        self._in_title = False
        self.page_title = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for cls in (attrs.get("class") or "").split():
            self.classes[cls] += 1
            if "title" in attrs:
                self.titles.setdefault(cls, []).append(attrs["title"])
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.page_title += data
        self.text.append(data)


def rendered_dom(tmp_path: Path, name: str, page: str) -> Elements:
    path = tmp_path / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    dom = browse(path, "--dump-dom")
    assert "<html" in dom[:100] and dom.rstrip().endswith("</html>"), dom[:200]
    elements = Elements()
    elements.feed(dom)
    return elements


@pytest.fixture(scope="module")
def nlp():
    return ngram_pipeline()


@pytest.fixture(scope="module")
def generations(nlp):
    return generation_items(nlp, ["the cat", "a"], top_alternatives=4, max_new_tokens=5)


@pytest.fixture(scope="module")
def pages(nlp, generations):
    return {
        "surprisal": render_surprisal(surprisal_items(nlp, TEXTS), jupyter=False),
        "comparison": render_surprisal_comparison(compare_surprisal(nlp, TEXTS), jupyter=False),
        "generation": render_generation(generations, jupyter=False),
        "textcat": render_textcat([TEXTCAT, TEXTCAT], jupyter=False),
        "attention": render_attention(ITEM, jupyter=False),
    }


def test_dom_of_every_view(tmp_path, nlp, pages, generations):
    n_tokens = sum(len(nlp.make_doc(t)) for t in TEXTS)
    surprisal = rendered_dom(tmp_path, "surprisal", pages["surprisal"])
    assert surprisal.page_title == "spacy-lm surprisal"
    assert surprisal.classes["tok"] == n_tokens == len(surprisal.titles["tok"])
    assert surprisal.classes["eos"] == len(TEXTS) and surprisal.classes["slm-legend"] == 1
    assert all(" bits (p = " in t or "not scored" in t for t in surprisal.titles["tok"])
    assert "".join(surprisal.text).count("perplexity") >= len(TEXTS)

    comparison = rendered_dom(tmp_path, "comparison", pages["comparison"])
    assert comparison.classes["tok"] == n_tokens and comparison.classes["key"] == 2  # the legend names both
    assert "ngram_lm" in "".join(comparison.text) and "bigram" in "".join(comparison.text)
    assert "All 3 texts" in "".join(comparison.text)

    generation = rendered_dom(tmp_path, "generation", pages["generation"])
    n_generated = sum(len(gen["token_ids"]) for item in generations for gen in item["generations"])
    assert n_generated >= 5 and generation.classes["gtok"] == generation.classes["tok"] == n_generated
    assert generation.classes["alt"] == 4 * n_generated  # greedy: the chosen token is listed (and bold)
    assert generation.classes["chosen"] == n_generated
    assert all("top alternatives" in t for t in generation.titles["tok"])

    textcat = rendered_dom(tmp_path, "textcat", pages["textcat"])
    assert textcat.classes["label-row"] == 4 and textcat.classes["tok"] == 12
    assert textcat.titles["tok"][1] == "<like>: +0.4000 toward POS"  # escaped in the file, text in the DOM

    attention = rendered_dom(tmp_path, "attention", pages["attention"])
    assert attention.classes["out-row"] == 2 and attention.classes["src"] == 5


def colours(png: Path) -> Counter:
    image_module = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshot")
    with image_module.open(png) as image:
        return Counter({rgb: n for n, rgb in image.convert("RGB").getcolors(maxcolors=1 << 24)})


@pytest.mark.parametrize("view,hues", [("comparison", ["blue", "orange"]), ("generation", ["purple"]),
                                       ("textcat", ["green", "red"])])
def test_screenshots_are_not_blank_and_show_the_scale(tmp_path, pages, view, hues):
    path = tmp_path / f"{view}.html"
    path.write_text(pages[view], encoding="utf-8")
    png = tmp_path / f"{view}.png"
    browse(path, f"--screenshot={png}", "--window-size=1200,800")
    assert png.exists() and png.stat().st_size > 1000
    seen = colours(png)
    assert len(seen) > 10
    tests = {"blue": lambda r, g, b: b > r + 60, "orange": lambda r, g, b: r > b + 80 and g > b + 20,
             "purple": lambda r, g, b: r > g + 30 and b > g + 30, "green": lambda r, g, b: g > r + 40 and g > b + 20,
             "red": lambda r, g, b: r > g + 80 and r > b + 80}
    for hue in hues:
        assert sum(n for rgb, n in seen.items() if tests[hue](*rgb)) > 50, f"no {hue} in the {view} screenshot"


def test_dom_of_the_sentiment_view_and_the_bias_report(tmp_path, nlp):
    """The two pages outside the LM views: sentiment_scorer's attributions and `spacy lm bias`'s report."""
    import spacy

    from spacy_lm.analysis.bias import probe_bias
    from spacy_lm.analysis.bias_report import render_bias_report
    from spacy_lm.analysis.visualize import render_sentiment

    sentiment = spacy.blank("en")
    sentiment.add_pipe("sentiment_scorer")
    docs = list(sentiment.pipe(["I love it", "awful , boring film"]))
    dom = rendered_dom(tmp_path, "sentiment", render_sentiment(docs, jupyter=False))
    assert dom.classes["slm-sent"] == 2 and dom.classes["tok"] == 3 + 4 and dom.classes["slm-legend"] == 1
    assert any(title.startswith("love: +") for title in dom.titles["tok"])

    terms = tmp_path / "pets.txt"
    terms.write_text("animal\tcat\nanimal\tdog\nthing\tmat\nthing\tlog\n", encoding="utf-8")
    templates = tmp_path / "t.txt"
    templates.write_text("the {term} sat on the mat\na {term} saw the dog\n", encoding="utf-8")
    report = probe_bias(nlp, term_files=[terms], template_files=[templates], builtin_terms=False, samples=200)
    page = render_bias_report(report, title="bias report")
    dom = rendered_dom(tmp_path, "bias", page)
    assert dom.page_title == "bias report"
    assert dom.classes["slm-row"] + dom.classes["slm-flagged"] == len(report["results"]) > 0
    assert dom.classes["slm-ci"] == len(report["results"])  # one interval bar per row
    assert "Counterfactual probes" in "".join(dom.text)
