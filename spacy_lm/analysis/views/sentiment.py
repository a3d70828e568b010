"""The sentiment view: docs annotated by `sentiment_scorer`, tokens coloured by their
contribution to the doc's polarity.

Red negative, green positive, on one scale per page (the largest |contribution| shown); each
sentence's polarity beside it, the number on hover (``title``), and a legend. A doc whose tokens
were not attributed (over ``max_attribution_tokens``) says why instead of looking neutral.
"""
import html
from typing import Iterable, List, Optional, Sequence, Union

from spacy.tokens import Doc

from ...errors import Errors
from .page import STYLE, deliver, diverging_colour


def _badge(polarity: Optional[float], label: Optional[str] = None) -> str:
    if polarity is None:
        return ""
    text = f"{polarity:+.3f}" + (f" {label}" if label else "")
    return (f'<span class="badge" style="background: {diverging_colour(polarity, 1.0)}" '
            f'title="polarity {polarity:+.4f}">{html.escape(text)}</span>')


def _render_tokens(doc: Doc, start: int, end: int, scale: float) -> str:
    values = doc._.sentiment_tokens
    parts = []
    for token in doc[start:end]:
        value = values[token.i] if values is not None else None
        title = "no attribution" if value is None else f"{token.text}: {value:+.4f}"
        colour = "transparent" if value is None else diverging_colour(value, scale)
        parts.append(f'<span class="tok" style="background: {colour}" title="{html.escape(title)}">'
                     f"{html.escape(token.text)}</span>{html.escape(token.whitespace_)}")
    return "".join(parts)


def render_doc(doc: Doc, scale: float) -> str:
    """One doc: its polarity badge (and baseline), then its tokens, a sentence per line."""
    polarity = doc._.sentiment_polarity
    head = f'<div class="doc-head">Doc polarity {_badge(polarity, doc._.sentiment_label)}'
    if doc._.sentiment_base:
        head += f' <span title="the part of the polarity no token accounts for (integrated-gradients baseline)">' \
                f"baseline {doc._.sentiment_base:+.3f}</span>"
    skipped = doc._.sentiment_tokens_skipped if doc.has_extension("sentiment_tokens_skipped") else None
    if doc._.sentiment_tokens is None and skipped:  # say why the tokens have no colour
        head += f' <span class="skipped">(no token contributions: {html.escape(skipped)})</span>'
    head += "</div>"
    sentences: Sequence = doc._.sentiment_sentences or []
    if sentences and len(sentences) > 1:
        body = "".join(f'<span class="sentence">{_render_tokens(doc, int(s), int(e), scale)}{_badge(p)}</span>'
                       for s, e, p in sentences)
    else:
        body = _render_tokens(doc, 0, len(doc), scale)
    return f'<div class="slm-sent">{head}<div class="doc-body">{body}</div></div>'


def render_legend(scale: float) -> str:
    """The contribution scale of a page, from -``scale`` (red) to +``scale`` (green)."""
    return (f'<div class="slm-legend">Token contribution to the polarity: <b>{-scale:+.3f}</b>'
            f'<span class="bar"></span><b>{scale:+.3f}</b> (hover a token for its value; badges: '
            "doc and sentence polarity in [-1, 1])</div>")


def render_sentiment(docs: Union[Doc, Iterable[Doc]], *, page: bool = True, jupyter: Optional[bool] = None,
                     title: str = "spacy-lm sentiment") -> Optional[str]:
    """HTML for docs annotated by `sentiment_scorer` (tokens coloured by contribution)."""
    docs_list: List[Doc] = [docs] if isinstance(docs, Doc) else list(docs)
    for i, doc in enumerate(docs_list):
        if not doc.has_extension("sentiment_polarity") or doc._.sentiment_polarity is None:
            raise ValueError(Errors.E074.format(i=i, text=doc.text[:40]))
    values = [abs(v) for doc in docs_list for v in (doc._.sentiment_tokens or []) if v is not None]
    scale = max(values, default=0.0) or 1.0
    body = render_legend(scale) + "".join(render_doc(doc, scale) for doc in docs_list)
    return deliver(f"<style>{STYLE}</style>{body}", page=page, jupyter=jupyter, title=title)
