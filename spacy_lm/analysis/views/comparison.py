"""The comparison view: two LMs token by token. A token is shaded in the colour of the model
less surprised by it, as deep as the difference in bits; each doc shows both perplexities and
who is better how often. Its data: :func:`spacy_lm.analysis.lm_views.compare_surprisal`.
"""
import html
from typing import Iterable, Optional, Sequence, Union

from ...errors import Errors
from .page import STYLE, deliver
from .surprisal import perplexity_head
from .tokens import VIEW_STYLE, Item, as_items, check_lengths, fmt_number, token_span

A_RGB = (33, 102, 172)
B_RGB = (230, 97, 1)


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


def _check_items(items_list: Sequence[Item], names: Sequence[str]) -> None:
    """E185 for per-token lists of the wrong length, or for items comparing other models (one
    legend per page: the same two models throughout)."""
    for i, item in enumerate(items_list):
        check_lengths("comparison", i, item, ["diff", "whitespace"], len(item.get("tokens") or []))
        for side in ("a", "b"):
            check_lengths("comparison", i, {**(item.get(side) or {}), "text": item.get("text")}, ["surprisals"],
                          len(item["tokens"]))
        if list(item["names"]) != names:
            raise ValueError(Errors.E185.format(view="comparison", i=i, text=str(item.get("text", ""))[:40],
                                                problem=f"it compares {item['names']}, item 0 {names}"))


def _doc_html(item: Item, names: Sequence[str], scale: float) -> str:
    from ..lm_views import comparison_summary

    a, b = item["a"], item["b"]
    tokens = "".join(token_span(t, w, _diverging(d, scale), _compare_title(t, names, x, y, d))
                     for t, w, x, y, d in zip(item["tokens"], item["whitespace"], a["surprisals"],
                                              b["surprisals"], item["diff"]))
    if item.get("end_diff") is not None:
        tokens += token_span("⏎", "", _diverging(item["end_diff"], scale),
                             _compare_title("<eos> (end of text)", names, a["end_surprisal"], b["end_surprisal"],
                                            item["end_diff"]), cls="eos")
    head = (f"{perplexity_head(names[0], a)}<br>{perplexity_head(names[1], b)}<br>"
            f"{_summary_line(names, item.get('summary') or comparison_summary([item]))}")
    return f'<div class="slm-lm"><div class="doc-head">{head}</div><div class="doc-body">{tokens}</div></div>'


def render_surprisal_comparison(items: Union[Item, Iterable[Item]], *, page: bool = True,
                                jupyter: Optional[bool] = None, title: str = "spacy-lm surprisal comparison"
                                ) -> Optional[str]:
    """Two LMs token by token (:func:`spacy_lm.analysis.lm_views.compare_surprisal` dicts): a token is
    shaded in the colour of the model less surprised by it, as deep as the difference in bits
    (one scale per page); each doc shows both perplexities and who is better how often, and
    with several docs the pooled summary comes first."""
    from ..lm_views import comparison_summary

    items_list = as_items(items)
    names = list(items_list[0]["names"]) if items_list else ["a", "b"]
    _check_items(items_list, names)
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
                     f"{html.escape(names[0])} perplexity <b>{fmt_number(pooled['perplexity_a'])}</b>, "
                     f"{html.escape(names[1])} <b>{fmt_number(pooled['perplexity_b'])}</b>; "
                     f"{_summary_line(names, pooled)}</div></div>")
    parts.extend(_doc_html(item, names, scale) for item in items_list)
    fragment = f"<style>{STYLE}{VIEW_STYLE}</style>{legend}{''.join(parts)}"
    return deliver(fragment, page=page, jupyter=jupyter, title=title)
