"""HTML views in displaCy's style, one view per module: sentiment attributions (sentiment.py),
translator attention (attention.py), LM surprisal (surprisal.py), two LMs compared
(comparison.py), generation steps (generation.py) and textcat attributions (textcat.py).

page.py holds what every view shares (stylesheet, colours, page and notebook delivery),
tokens.py what the token-by-token views share (token cells, bits legend, item checks).
``spacy_lm.analysis.visualize`` re-exports the renderers, the public import path.
"""
