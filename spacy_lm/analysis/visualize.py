"""HTML views in displaCy's style: sentiment attributions of `sentiment_scorer`, the attention
of a `translator` (``render_attention``), textcat attributions (``render_textcat``), LM
surprisal, two LMs compared and generation steps (``render_surprisal``,
``render_surprisal_comparison``, ``render_generation``; their data: spacy_lm/analysis/lm_views.py).

``render_sentiment(docs)`` colours each token by its contribution to the doc's polarity
(red negative, green positive, on one scale per page: the largest |contribution| shown),
puts each sentence's polarity beside it, shows the number on hover (``title``) and draws a
legend. ``page=True`` gives a whole HTML page (as ``displacy.render(..., page=True)``),
otherwise a fragment. Every renderer takes ``jupyter`` as ``displacy.render``: None detects a
notebook, True displays the fragment there (a notebook cell takes no whole page) and returns
None, False returns the HTML string. Plain HTML and inline CSS, no script.
"""
import html
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from spacy.tokens import Doc
from spacy.util import is_in_jupyter

from ..errors import Errors
from ..extensions import install_translation_extensions
from ..text.vocab import lm_tokens

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
    return (f'<div class="slm-legend">Token contribution to the polarity: <b>{-scale:+.3f}</b>'
            f'<span class="bar"></span><b>{scale:+.3f}</b> (hover a token for its value; badges: '
            "doc and sentence polarity in [-1, 1])</div>")


def _page(fragment: str, title: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body style=\"margin: 2em\"><h2 style=\"font-family: {FONT}\">{html.escape(title)}</h2>"
            f"{fragment}</body></html>")


def _deliver(fragment: str, *, page: bool, jupyter: Optional[bool], title: str) -> Optional[str]:
    """As ``displacy.render``: display in a notebook (None: if running in one) and return None,
    else return the page (``page``) or the fragment."""
    if jupyter is None:
        jupyter = is_in_jupyter()
    if jupyter:
        from IPython.display import HTML, display

        display(HTML(fragment))
        return None
    return _page(fragment, title) if page else fragment


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
    return _deliver(f"<style>{STYLE}</style>{body}", page=page, jupyter=jupyter, title=title)


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
                     page: bool = True, jupyter: Optional[bool] = None,
                     title: str = "spacy-lm translation attention") -> Optional[str]:
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
    return _deliver(fragment, page=page, jupyter=jupyter, title=title)


# ---------------------------------------------------------------------------- shared by the views below
SURPRISAL_RGB = (118, 42, 131)
A_RGB = (33, 102, 172)
B_RGB = (230, 97, 1)
VIEW_STYLE = f"""
.slm-lm {{ font-family: {FONT}; line-height: 2.4; max-width: 60em; margin: 1em 0 2em 0; }}
.slm-lm .doc-head {{ font-size: 0.9em; line-height: 1.5; margin-bottom: 0.3em; color: #333; }}
.slm-lm .tok {{ padding: 0.25em 0.15em; border-radius: 0.25em; margin: 0 0.05em; }}
.slm-lm .eos {{ font-size: 0.75em; padding: 0.2em 0.3em; border-radius: 0.25em; margin-left: 0.3em;
  border: 1px dashed #999; color: #555; }}
.slm-lm .label-row {{ display: block; }}
.slm-lm .label {{ display: inline-block; min-width: 7em; font-weight: bold; font-size: 0.9em; }}
.slm-lm .num {{ font-size: 0.8em; color: #444; margin-right: 0.6em; }}
.slm-lm .gen {{ line-height: 1.5; margin: 0.4em 0 0.8em 0; }}
.slm-lm .prompt {{ color: #666; margin-right: 0.4em; vertical-align: top; }}
.slm-lm .gtok {{ display: inline-block; vertical-align: top; margin: 0 0.6em 0.6em 0; }}
.slm-lm .gtok .tok {{ margin: 0; }}
.slm-lm .alts {{ display: block; font-size: 0.68em; color: #555; line-height: 1.35; margin-top: 0.25em; }}
.slm-lm .alt {{ display: block; white-space: nowrap; }}
.slm-lm .alt.chosen {{ font-weight: bold; color: #000; }}
.slm-legend .key {{ padding: 0 0.4em; border-radius: 0.25em; font-weight: bold; }}
"""
Item = Mapping[str, Any]


def _as_items(items: Union[Item, Iterable[Item]]) -> List[Item]:
    return [items] if isinstance(items, Mapping) else list(items)


def _sequential(value: Optional[float], scale: float, rgb=SURPRISAL_RGB) -> str:
    """White (0) to ``rgb`` (``scale`` and above)."""
    if value is None or scale <= 0 or value <= 0:
        return "transparent"
    r, g, b = rgb
    return f"rgba({r}, {g}, {b}, {min(1.0, value / scale) * 0.85:.3f})"


def _span(text: str, whitespace: str, colour: str, title: str, cls: str = "tok") -> str:
    esc = html.escape
    return f'<span class="{cls}" style="background: {colour}" title="{esc(title)}">{esc(text)}</span>{esc(whitespace)}'


def _check_lengths(view: str, i: int, item: Item, keys: Sequence[str], n: int) -> None:
    for key in keys:
        values = item.get(key)
        if values is None or len(values) != n:
            problem = f"{key!r} has {'no' if values is None else len(values)} values for {n} tokens"
            raise ValueError(Errors.E185.format(view=view, i=i, text=str(item.get("text", ""))[:40], problem=problem))


def _fmt(value: Optional[float], spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def _bits_title(token: str, bits: Optional[float]) -> str:
    if bits is None:
        return f"{token!r}: not scored (whitespace)"
    return f"{token}: {bits:.3f} bits (p = {2.0 ** -bits:.4f})"


def _scale_legend(what: str, scale: float, rgb=SURPRISAL_RGB) -> str:
    return (f'<div class="slm-legend">{html.escape(what)}: <b>0</b><span class="bar" style="background: '
            f'linear-gradient(to right, #ffffff, rgb{rgb})"></span><b>{scale:.2f}</b> bits '
            "(surprisal = -log2 p; hover a token for its value)</div>")


# ---------------------------------------------------------------------------- LM surprisal
def _surprisal_item(item: Union[Doc, Item]) -> Item:
    if isinstance(item, Doc):
        from .lm_views import doc_surprisal_item

        return doc_surprisal_item(item)
    return item


def _perplexity_head(name: Optional[str], scores: Item) -> str:
    ppl, n = scores.get("perplexity"), scores.get("n_predicted", 0)
    bits = None if ppl is None else math.log2(ppl)
    title = (f"perplexity {_fmt(ppl, '.4f')} = exp(-log p / n) with log p = {_fmt(scores.get('logprob'), '.4f')} "
             f"nats over n = {n} predictions (the closing <eos> included)")
    label = f"{html.escape(name)}: " if name else ""
    return (f'<span title="{html.escape(title)}">{label}perplexity <b>{_fmt(ppl)}</b> '
            f"({_fmt(bits)} bits/token, {n} predicted)</span>")


def render_surprisal(items: Union[Doc, Item, Iterable[Union[Doc, Item]]], *, page: bool = True,
                     jupyter: Optional[bool] = None, title: str = "spacy-lm surprisal") -> Optional[str]:
    """Tokens shaded by the LM's surprisal (bits; one scale per page: the largest shown), each
    doc's perplexity above it, the closing ``<eos>`` as a last dashed cell. ``items``:
    :func:`spacy_lm.analysis.lm_views.surprisal_items` dicts, or docs an LM component annotated."""
    items_list = [_surprisal_item(item) for item in ([items] if isinstance(items, (Doc, Mapping)) else items)]
    for i, item in enumerate(items_list):
        _check_lengths("surprisal", i, item, ["surprisals", "whitespace"], len(item.get("tokens") or []))
    values = [v for item in items_list for v in [*item["surprisals"], item.get("end_surprisal")] if v is not None]
    scale = max(values, default=0.0) or 1.0
    parts = []
    for item in items_list:
        tokens = "".join(_span(t, w, _sequential(s, scale), _bits_title(t, s))
                         for t, w, s in zip(item["tokens"], item["whitespace"], item["surprisals"]))
        end = item.get("end_surprisal")
        if end is not None:
            tokens += _span("⏎", "", _sequential(end, scale), _bits_title("<eos> (end of text)", end), cls="eos")
        parts.append(f'<div class="slm-lm"><div class="doc-head">{_perplexity_head(item.get("component"), item)}'
                     f'</div><div class="doc-body">{tokens}</div></div>')
    fragment = f"<style>{STYLE}{VIEW_STYLE}</style>{_scale_legend('Surprisal', scale)}{''.join(parts)}"
    return _deliver(fragment, page=page, jupyter=jupyter, title=title)


# ---------------------------------------------------------------------------- two LMs compared
def _diverging(diff: Optional[float], scale: float) -> str:
    """A's colour where A is less surprised (diff = a - b < 0), B's where B is."""
    if diff is None or diff == 0 or scale <= 0:
        return "transparent"
    r, g, b = A_RGB if diff < 0 else B_RGB
    return f"rgba({r}, {g}, {b}, {min(1.0, abs(diff) / scale) * 0.85:.3f})"


def _key(name: str, rgb) -> str:
    r, g, b = rgb
    return f'<span class="key" style="background: rgba({r}, {g}, {b}, 0.6)">{html.escape(name)}</span>'


def _compare_title(token: str, names: Sequence[str], a: Optional[float], b: Optional[float],
                   diff: Optional[float]) -> str:
    if diff is None:
        return f"{token!r}: not scored (whitespace)"
    better = "tie" if diff == 0 else f"{names[0] if diff < 0 else names[1]} better"
    return f"{token}: {names[0]} {a:.3f} bits, {names[1]} {b:.3f} bits, difference {diff:+.3f} ({better})"


def _summary_line(names: Sequence[str], summary: Item) -> str:
    if not summary.get("n_tokens"):
        return "no token scored by both"
    esc = html.escape
    return (f"{esc(names[0])} better on <b>{summary['better_a']:.0%}</b> of {summary['n_tokens']} tokens, "
            f"{esc(names[1])} on <b>{summary['better_b']:.0%}</b> (ties {summary['ties']:.0%}); "
            f"mean difference ({esc(names[0])} − {esc(names[1])}) <b>{summary['mean_diff']:+.3f}</b> bits")


def render_surprisal_comparison(items: Union[Item, Iterable[Item]], *, page: bool = True,
                                jupyter: Optional[bool] = None, title: str = "spacy-lm surprisal comparison"
                                ) -> Optional[str]:
    """Two LMs token by token (:func:`spacy_lm.analysis.lm_views.compare_surprisal` dicts): a token is
    shaded in the colour of the model less surprised by it, as deep as the difference in bits
    (one scale per page); each doc shows both perplexities and who is better how often, and
    with several docs the pooled summary comes first."""
    from .lm_views import comparison_summary

    items_list = _as_items(items)
    names = list(items_list[0]["names"]) if items_list else ["a", "b"]
    for i, item in enumerate(items_list):
        _check_lengths("comparison", i, item, ["diff", "whitespace"], len(item.get("tokens") or []))
        for side in ("a", "b"):
            _check_lengths("comparison", i, {**(item.get(side) or {}), "text": item.get("text")}, ["surprisals"],
                           len(item["tokens"]))
        if list(item["names"]) != names:  # one legend per page: the same two models throughout
            raise ValueError(Errors.E185.format(view="comparison", i=i, text=str(item.get("text", ""))[:40],
                                                problem=f"it compares {item['names']}, item 0 {names}"))
    diffs = [abs(d) for item in items_list for d in [*item["diff"], item.get("end_diff")] if d is not None]
    scale = max(diffs, default=0.0) or 1.0
    legend = (f'<div class="slm-legend">{_key(names[0], A_RGB)} better <b>{scale:.2f}</b> bits'
              f'<span class="bar" style="background: linear-gradient(to right, rgb{A_RGB}, #ffffff, rgb{B_RGB})">'
              f"</span><b>{scale:.2f}</b> bits {_key(names[1], B_RGB)} better (shade: the difference in surprisal; "
              "hover a token for both values)</div>")
    parts = []
    if len(items_list) > 1:
        pooled = comparison_summary(items_list)
        parts.append(f'<div class="slm-lm"><div class="doc-head overall">All {len(items_list)} texts: '
                     f"{html.escape(names[0])} perplexity <b>{_fmt(pooled['perplexity_a'])}</b>, "
                     f"{html.escape(names[1])} <b>{_fmt(pooled['perplexity_b'])}</b>; "
                     f"{_summary_line(names, pooled)}</div></div>")
    for item in items_list:
        a, b = item["a"], item["b"]
        tokens = "".join(_span(t, w, _diverging(d, scale), _compare_title(t, names, x, y, d))
                         for t, w, x, y, d in zip(item["tokens"], item["whitespace"], a["surprisals"],
                                                  b["surprisals"], item["diff"]))
        if item.get("end_diff") is not None:
            tokens += _span("⏎", "", _diverging(item["end_diff"], scale),
                            _compare_title("<eos> (end of text)", names, a["end_surprisal"], b["end_surprisal"],
                                           item["end_diff"]), cls="eos")
        head = (f"{_perplexity_head(names[0], a)}<br>{_perplexity_head(names[1], b)}<br>"
                f"{_summary_line(names, item.get('summary') or comparison_summary([item]))}")
        parts.append(f'<div class="slm-lm"><div class="doc-head">{head}</div><div class="doc-body">{tokens}</div></div>')
    fragment = f"<style>{STYLE}{VIEW_STYLE}</style>{legend}{''.join(parts)}"
    return _deliver(fragment, page=page, jupyter=jupyter, title=title)


# ---------------------------------------------------------------------------- generation steps
def _alternatives_html(alternatives: Sequence[Item], chosen_id: Optional[int], word: str, logprob: float) -> str:
    """The step's best tokens, the chosen one bold (added last, after "…", if a sample fell outside)."""
    rows = "".join(f'<span class="alt{" chosen" if alt.get("token_id") == chosen_id else ""}">'
                   f'{html.escape(str(alt["token"]))} {alt["logprob"]:.2f}</span>' for alt in alternatives)
    if rows and chosen_id is not None and all(alt.get("token_id") != chosen_id for alt in alternatives):
        rows += f'<span class="alt chosen">… {html.escape(word)} {logprob:.2f}</span>'
    return f'<span class="alts">{rows}</span>' if rows else ""


def _generation_fields(gen: Item) -> Dict[str, Any]:
    """Words (else tokens) and alternatives (none recorded: empty lists), so a ``Generation.to_dict()``
    or a text_generator's ``doc._.generations`` entry renders too."""
    words = gen.get("words") or gen.get("tokens") or []
    alternatives = gen.get("alternatives")
    return {**gen, "words": words, "alternatives": [[] for _ in words] if alternatives is None else alternatives}


def _generation_html(gen: Item, scale: float) -> str:
    n = len(gen["words"])
    ids = gen.get("token_ids") or [None] * n
    cells = []
    for word, logprob, alts, token_id in zip(gen["words"], gen["logprobs"], gen["alternatives"], ids):
        bits = -logprob / math.log(2.0)
        lines = [f"{word}: log p = {logprob:.3f} (p = {math.exp(logprob):.4f}, {bits:.2f} bits)"]
        lines += [f"  {alt['token']}  {alt['logprob']:.3f}" for alt in alts]
        tip = "\n".join(lines[:1] + (["top alternatives (log p):"] if alts else []) + lines[1:])
        cells.append(f'<span class="gtok">{_span(word, "", _sequential(bits, scale), tip)}'
                     f"{_alternatives_html(alts, token_id, word, logprob)}</span>")
    return "".join(cells)


def render_generation(items: Union[Item, Iterable[Item]], *, page: bool = True, jupyter: Optional[bool] = None,
                      title: str = "spacy-lm generation") -> Optional[str]:
    """Each generated token shaded by its surprisal (one scale per page), with the step's top
    alternatives and their log-probs below it and on hover (the chosen one bold);
    :func:`spacy_lm.analysis.lm_views.generation_items` dicts."""
    items_list = [{**item, "generations": [_generation_fields(gen) for gen in item.get("generations") or []]}
                  for item in _as_items(items)]
    for i, item in enumerate(items_list):
        for gen in item["generations"]:
            _check_lengths("generation", i, {**gen, "text": item.get("prompt")}, ["logprobs", "alternatives"],
                           len(gen["words"]))
    bits = [-lp / math.log(2.0) for item in items_list for gen in item["generations"] for lp in gen["logprobs"]]
    scale = max(bits, default=0.0) or 1.0
    parts = []
    for item in items_list:
        gens = item["generations"]
        rows = []
        for k, gen in enumerate(gens):
            info = (f'<span class="num">{f"#{k + 1} " if len(gens) > 1 else ""}score {gen["score"]:.3f}, '
                    f'{html.escape(str(gen["finish_reason"]))}</span>')
            rows.append(f'<div class="gen">{info}<br><span class="prompt">{html.escape(item["prompt"])}</span>'
                        f"{_generation_html(gen, scale)}</div>")
        head = f'<div class="doc-head">{html.escape(str(item.get("component") or ""))}</div>'
        parts.append(f'<div class="slm-lm">{head}{"".join(rows)}</div>')
    legend = (_scale_legend("Surprisal of each generated token", scale)
              + '<div class="slm-legend">Below each token: the most likely tokens of the step it was chosen at, '
                "with their log-probs (nats; the model's own, before sampling warps); bold: the chosen one.</div>")
    fragment = f"<style>{STYLE}{VIEW_STYLE}</style>{legend}{''.join(parts)}"
    return _deliver(fragment, page=page, jupyter=jupyter, title=title)


# ---------------------------------------------------------------------------- textcat attributions
def render_textcat(items: Union[Item, Iterable[Item]], *, page: bool = True, jupyter: Optional[bool] = None,
                   title: str = "spacy-lm text classification") -> Optional[str]:
    """Per doc one row of tokens per label, shaded by the token's integrated-gradients
    attribution to that label's score (red lowers it, green raises it; one scale per page),
    with the score, the baseline's score and the completeness gap; ``items``:
    :func:`spacy_lm.analysis.explain.explain_textcat` dicts."""
    items_list = _as_items(items)
    for i, item in enumerate(items_list):
        n = len(item.get("tokens") or [])
        _check_lengths("textcat", i, item, ["whitespace"], n)
        for label, info in (item.get("labels") or {}).items():
            _check_lengths("textcat", i, {"text": item.get("text"), **info}, ["attributions"], n)
    values = [abs(v) for item in items_list for info in item["labels"].values() for v in info["attributions"]]
    scale = max(values, default=0.0) or 1.0
    parts = []
    for item in items_list:
        kind = "multi-label" if item.get("multi_label") else "exclusive classes"
        rows = []
        for label, info in item["labels"].items():
            tokens = "".join(_span(t, w, _colour(v, scale), f"{t}: {v:+.4f} toward {label}")
                             for t, w, v in zip(item["tokens"], item["whitespace"], info["attributions"]))
            numbers = (f'<span class="num" title="score F(x); base F(all-zero input); gap |Σ attributions − '
                       f'(score − base)|">score <b>{info["score"]:.3f}</b>, base {info["base"]:.3f}, '
                       f'gap {info["gap"]:.4f}</span>')
            rows.append(f'<span class="label-row"><span class="label">{html.escape(str(label))}</span>{numbers}'
                        f"{tokens}</span>")
        head = f'<div class="doc-head">{html.escape(str(item.get("component", "")))} ({kind})</div>'
        parts.append(f'<div class="slm-lm">{head}<div class="doc-body">{"".join(rows)}</div></div>')
    legend = (f'<div class="slm-legend">Token attribution to the label\'s score: <b>{-scale:+.3f}</b>'
              f'<span class="bar"></span><b>{scale:+.3f}</b> (integrated gradients: the attributions sum to '
              "score − base up to the gap; hover a token for its value)</div>")
    fragment = f"<style>{STYLE}{VIEW_STYLE}</style>{legend}{''.join(parts)}"
    return _deliver(fragment, page=page, jupyter=jupyter, title=title)
