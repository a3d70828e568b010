"""HTML views in displaCy's style: sentiment attributions of `sentiment_scorer`, and the
attention of a `translator` (``render_attention``, see its docstring).

``render_sentiment(docs)`` colours each token by its contribution to the doc's polarity
(red negative, green positive, on one scale per page: the largest |contribution| shown),
puts each sentence's polarity beside it, shows the number on hover (``title``) and draws a
legend. ``page=True`` gives a whole HTML page (as ``displacy.render(..., page=True)``),
otherwise a fragment for notebooks. Plain HTML and inline CSS, no script.
"""
import html
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from spacy.tokens import Doc

from .errors import Errors
from .extensions import install_translation_extensions
from .vocab import lm_tokens

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


# ---------------------------------------------------------------------------- translator attention
ATTN_RGB = (33, 102, 172)
EOS_COLUMN = "<eos>"
ATTN_STYLE = f"""
.slm-attn {{ font-family: {FONT}; margin: 1em 0 2em 0; }}
.slm-attn .pair {{ font-size: 1.05em; margin-bottom: 0.5em; line-height: 1.6; }}
.slm-attn .pair .side {{ color: #666; font-size: 0.8em; text-transform: uppercase; margin-right: 0.4em; }}
.slm-attn table {{ border-collapse: collapse; font-size: 0.85em; }}
.slm-attn th {{ font-weight: normal; padding: 0.2em 0.4em; white-space: nowrap; }}
.slm-attn th.src {{ writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; vertical-align: bottom; }}
.slm-attn th.out {{ text-align: right; }}
.slm-attn td {{ width: 1.6em; height: 1.6em; border: 1px solid #eee; }}
.slm-attn .empty {{ color: #666; font-style: italic; }}
"""


def _attention_item(item: Union[Doc, Mapping[str, Any]]) -> Dict[str, Any]:
    """source, translation, source_tokens, tokens, attention of a translated Doc (its
    ``translation_*`` extensions) or of a mapping (``translate_lines``'s dicts)."""
    if isinstance(item, Doc):
        install_translation_extensions()
        ext = item._
        return {"source": item.text, "translation": ext.translation, "source_tokens": [t.text for t in lm_tokens(item)],
                "tokens": ext.translation_tokens, "attention": ext.translation_attention}
    return {"source": item.get("source", ""), "translation": item.get("translation", item.get("text")),
            "source_tokens": item.get("source_tokens"), "tokens": item.get("tokens"),
            "attention": item.get("attention")}


def _checked_weights(i: int, item: Dict[str, Any]) -> List[List[float]]:
    tokens, sources, attention = item["tokens"] or [], item["source_tokens"], item["attention"]
    text = str(item["source"] or "")[:40]
    if not tokens:
        return []
    if attention is None or sources is None:
        raise ValueError(Errors.E137.format(i=i, text=text))
    rows = [[float(w) for w in row] for row in attention]
    shape = (len(rows), *sorted({len(row) for row in rows}))
    if shape != (len(tokens), len(sources) + 1) or not all(math.isfinite(w) for row in rows for w in row):
        raise ValueError(Errors.E138.format(i=i, text=text, rows=len(tokens), cols=len(sources) + 1, shape=shape))
    return rows


def _shade(weight: float) -> str:
    r, g, b = ATTN_RGB
    return f"rgba({r}, {g}, {b}, {max(0.0, min(1.0, weight)):.3f})"


def render_attention_item(item: Dict[str, Any], weights: List[List[float]]) -> str:
    esc = html.escape
    pair = (f'<div class="pair"><span class="side">source</span>{esc(str(item["source"] or ""))}<br>'
            f'<span class="side">translation</span>{esc(str(item["translation"] or ""))}</div>')
    if not weights:
        return f'<div class="slm-attn">{pair}<div class="empty">empty translation: no attention</div></div>'
    columns = list(item["source_tokens"]) + [EOS_COLUMN]
    head = '<tr><th></th>' + "".join(f'<th class="src">{esc(c)}</th>' for c in columns) + "</tr>"
    body = []
    for token, row in zip(item["tokens"], weights):
        cells = "".join(f'<td style="background: {_shade(w)}" title="{esc(f"{token} ← {src}: {w:.4f}")}"></td>'
                        for src, w in zip(columns, row))
        body.append(f'<tr class="out-row"><th class="out">{esc(token)}</th>{cells}</tr>')
    return f'<div class="slm-attn">{pair}<table>{head}{"".join(body)}</table></div>'


def render_attention(items: Union[Doc, Mapping[str, Any], Iterable[Union[Doc, Mapping[str, Any]]]], *,
                     page: bool = True, title: str = "spacy-lm translation attention") -> str:
    """HTML of a translator's attention: per translation a heatmap table whose rows are the
    output tokens and whose columns are the source tokens and ``<eos>``; a cell's shade is the
    weight (white 0, blue 1), its ``title`` (hover) the value.

    ``items``: docs translated with ``store_attention`` (``doc._.translation_attention``), or
    mappings with ``source``, ``translation``, ``source_tokens``, ``tokens`` and ``attention``
    (rows: output tokens, columns: source tokens + <eos>), as ``translate_lines(...,
    attention=True)`` gives. ``page=False`` gives a fragment for notebooks."""
    if isinstance(items, (Doc, Mapping)):
        items = [items]
    parts = []
    for i, raw in enumerate(items):
        item = _attention_item(raw)
        parts.append(render_attention_item(item, _checked_weights(i, item)))
    legend = (f'<div class="slm-legend">Attention weight: <b>0</b><span class="bar" style="background: '
              f'linear-gradient(to right, #ffffff, rgb{ATTN_RGB})"></span><b>1</b> (rows: output tokens, '
              "columns: source tokens; hover a cell for its value)</div>")
    fragment = f"<style>{STYLE}{ATTN_STYLE}</style>{legend}{''.join(parts)}"
    if not page:
        return fragment
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body style=\"margin: 2em\"><h2 style=\"font-family: {FONT}\">{html.escape(title)}</h2>"
            f"{fragment}</body></html>")
