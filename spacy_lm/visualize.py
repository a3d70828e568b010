"""HTML views in displaCy's style: sentiment attributions of `sentiment_scorer`.

``render_sentiment(docs)`` colours each token by its contribution to the doc's polarity
(red negative, green positive, on one scale per page: the largest |contribution| shown),
puts each sentence's polarity beside it, shows the number on hover (``title``) and draws a
legend. ``page=True`` gives a whole HTML page (as ``displacy.render(..., page=True)``),
otherwise a fragment for notebooks. Plain HTML and inline CSS, no script.
"""
import html
from typing import Iterable, List, Optional, Sequence, Union

from spacy.tokens import Doc

from .errors import Errors

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
.slm-legend {{ font-family: {FONT}; font-size: 0.85em; margin: 0.5em 0 1.5em 0; }}
.slm-legend .bar {{ display: inline-block; width: 16em; height: 1em; vertical-align: middle; margin: 0 0.5em;
  border: 1px solid #999;
  background: linear-gradient(to right, rgb{NEG_RGB}, #ffffff, rgb{POS_RGB}); }}
"""


def _colour(value: float, scale: float) -> str:
    """A white-centred diverging colour for ``value`` in [-scale, scale]."""
    if scale <= 0 or value == 0:
        return "transparent"
    t = max(-1.0, min(1.0, value / scale))
    r, g, b = POS_RGB if t > 0 else NEG_RGB
    return f"rgba({r}, {g}, {b}, {abs(t) * 0.85:.3f})"


def _badge(polarity: Optional[float], label: Optional[str] = None) -> str:
    if polarity is None:
        return ""
    text = f"{polarity:+.3f}" + (f" {label}" if label else "")
    return (f'<span class="badge" style="background: {_colour(polarity, 1.0)}" '
            f'title="polarity {polarity:+.4f}">{html.escape(text)}</span>')


def _render_tokens(doc: Doc, start: int, end: int, scale: float) -> str:
    values = doc._.sentiment_tokens
    parts = []
    for token in doc[start:end]:
        value = values[token.i] if values is not None else None
        title = "no attribution" if value is None else f"{token.text}: {value:+.4f}"
        colour = "transparent" if value is None else _colour(value, scale)
        parts.append(f'<span class="tok" style="background: {colour}" title="{html.escape(title)}">'
                     f"{html.escape(token.text)}</span>{html.escape(token.whitespace_)}")
    return "".join(parts)


def render_doc(doc: Doc, scale: float) -> str:
    polarity = doc._.sentiment_polarity
    head = f'<div class="doc-head">Doc polarity {_badge(polarity, doc._.sentiment_label)}'
    if doc._.sentiment_base:
        head += f' <span title="the part of the polarity no token accounts for (integrated-gradients baseline)">' \
                f"baseline {doc._.sentiment_base:+.3f}</span>"
    head += "</div>"
    sentences: Sequence = doc._.sentiment_sentences or []
    if sentences and len(sentences) > 1:
        body = "".join(f'<span class="sentence">{_render_tokens(doc, int(s), int(e), scale)}{_badge(p)}</span>'
                       for s, e, p in sentences)
    else:
        body = _render_tokens(doc, 0, len(doc), scale)
    return f'<div class="slm-sent">{head}<div class="doc-body">{body}</div></div>'


def render_legend(scale: float) -> str:
    return (f'<div class="slm-legend">Token contribution to the polarity: <b>{-scale:+.3f}</b>'
            f'<span class="bar"></span><b>{scale:+.3f}</b> (hover a token for its value; badges: '
            "doc and sentence polarity in [-1, 1])</div>")


def render_sentiment(docs: Union[Doc, Iterable[Doc]], *, page: bool = True, title: str = "spacy-lm sentiment"
                     ) -> str:
    """HTML for docs annotated by `sentiment_scorer` (tokens coloured by contribution)."""
    docs_list: List[Doc] = [docs] if isinstance(docs, Doc) else list(docs)
    for i, doc in enumerate(docs_list):
        if not doc.has_extension("sentiment_polarity") or doc._.sentiment_polarity is None:
            raise ValueError(Errors.E074.format(i=i, text=doc.text[:40]))
    values = [abs(v) for doc in docs_list for v in (doc._.sentiment_tokens or []) if v is not None]
    scale = max(values, default=0.0) or 1.0
    body = render_legend(scale) + "".join(render_doc(doc, scale) for doc in docs_list)
    fragment = f"<style>{STYLE}</style>{body}"
    if not page:
        return fragment
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body style=\"margin: 2em\"><h2 style=\"font-family: {FONT}\">{html.escape(title)}</h2>"
            f"{fragment}</body></html>")
