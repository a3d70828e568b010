"""What every HTML view shares: the base stylesheet (displaCy's font, the legend bar), the
diverging red/green colour scale, and delivery as ``displacy.render`` does it.

Every renderer takes ``page`` and ``jupyter`` as ``displacy.render``: ``jupyter=None`` detects a
notebook, True displays the fragment there (a notebook cell takes no whole page) and returns
None, False returns the HTML string: the whole page (``page=True``) or the fragment. Plain HTML
and inline CSS, no script.
"""
import html
from typing import Optional

from spacy.util import is_in_jupyter

NEG_RGB = (215, 48, 39)
POS_RGB = (26, 152, 80)
FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif"
STYLE = f"""
.slm-sent {{ font-family: {FONT}; line-height: 2.4; max-width: 60em; margin: 1em 0 2em 0; }}
.slm-sent .doc-head {{ font-size: 1.05em; margin-bottom: 0.4em; }}
.slm-sent .badge {{ display: inline-block; padding: 0 0.5em; border-radius: 0.35em; font-size: 0.8em;
  font-weight: bold; line-height: 1.6; margin-left: 0.4em; border: 1px solid #999; }}
.slm-sent .tok {{ padding: 0.25em 0.15em; border-radius: 0.25em; margin: 0 0.05em; }}
.slm-sent .sentence {{ display: block; }}
.slm-sent .skipped {{ color: #666; font-size: 0.85em; font-style: italic; }}
.slm-legend {{ font-family: {FONT}; font-size: 0.85em; margin: 0.5em 0 1.5em 0; }}
.slm-legend .bar {{ display: inline-block; width: 16em; height: 1em; vertical-align: middle; margin: 0 0.5em;
  border: 1px solid #999;
  background: linear-gradient(to right, rgb{NEG_RGB}, #ffffff, rgb{POS_RGB}); }}
"""


def diverging_colour(value: float, scale: float) -> str:
    """A white-centred red (negative) to green (positive) colour for ``value`` in [-scale, scale]."""
    if scale <= 0 or value == 0:
        return "transparent"
    t = max(-1.0, min(1.0, value / scale))
    r, g, b = POS_RGB if t > 0 else NEG_RGB
    return f"rgba({r}, {g}, {b}, {abs(t) * 0.85:.3f})"


def html_page(fragment: str, title: str) -> str:
    """A whole HTML page around ``fragment``, as ``displacy.render(..., page=True)``."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body style=\"margin: 2em\"><h2 style=\"font-family: {FONT}\">{html.escape(title)}</h2>"
            f"{fragment}</body></html>")


def deliver(fragment: str, *, page: bool, jupyter: Optional[bool], title: str) -> Optional[str]:
    """As ``displacy.render``: display in a notebook (None: if running in one) and return None,
    else return the page (``page``) or the fragment."""
    if jupyter is None:
        jupyter = is_in_jupyter()
    if jupyter:
        from IPython.display import HTML, display

        display(HTML(fragment))
        return None
    return html_page(fragment, title) if page else fragment
