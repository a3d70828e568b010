"""HTML views in displaCy's style, the public import path of the renderers in analysis/views/
(one view per module): sentiment attributions of `sentiment_scorer` (``render_sentiment``), the
attention of a `translator` (``render_attention``), textcat attributions (``render_textcat``),
the answer and start/end probabilities of `qa` (``render_qa``), LM surprisal, two LMs compared and generation steps (``render_surprisal``,
``render_surprisal_comparison``, ``render_generation``; their data: spacy_lm/analysis/lm_views.py).

Every renderer takes ``page`` and ``jupyter`` as ``displacy.render``: ``page=True`` gives a
whole HTML page, otherwise a fragment; ``jupyter=None`` detects a notebook, True displays the
fragment there and returns None, False returns the HTML string. Plain HTML and inline CSS, no script.
"""
from .views.attention import render_attention, render_attention_item
from .views.comparison import render_surprisal_comparison
from .views.generation import render_generation
from .views.page import FONT, STYLE
from .views.qa import render_qa
from .views.sentiment import render_doc, render_legend, render_sentiment
from .views.surprisal import render_surprisal
from .views.textcat import render_textcat

__all__ = ["FONT", "STYLE", "render_attention", "render_attention_item", "render_doc", "render_generation",
           "render_legend", "render_qa", "render_sentiment", "render_surprisal", "render_surprisal_comparison",
           "render_textcat"]
