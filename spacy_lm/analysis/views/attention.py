"""The attention view of a `translator`: per translation a heatmap table whose rows are the
output tokens and whose columns are the source tokens and ``<eos>``; a cell's shade is the
weight (white 0, blue 1), its ``title`` (hover) the value.
"""
import html
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from spacy.tokens import Doc

from ...errors import Errors
from ...extensions import install_translation_extensions
from ...text.vocab import lm_tokens
from .page import FONT, STYLE, deliver

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
    """One translation: the source/translation pair above its heatmap table."""
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
                     page: bool = True, jupyter: Optional[bool] = None,
                     title: str = "spacy-lm translation attention") -> Optional[str]:
    """HTML of a translator's attention, one heatmap per translation.

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
    return deliver(fragment, page=page, jupyter=jupyter, title=title)
