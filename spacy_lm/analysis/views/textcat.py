"""The textcat view: per doc one row of tokens per label, shaded by the token's
integrated-gradients attribution to that label's score (red lowers it, green raises it), with
the score, the baseline's score and the completeness gap. Its data:
:func:`spacy_lm.analysis.explain.explain_textcat`.
"""
import html
from typing import Iterable, Optional, Union

from .page import STYLE, deliver, diverging_colour
from .tokens import VIEW_STYLE, Item, as_items, check_lengths, token_span


def _label_row(item: Item, label: str, info: Item, scale: float) -> str:
    """One label: its name, score, base and gap, then the tokens shaded by attribution."""
    tokens = "".join(token_span(t, w, diverging_colour(v, scale), f"{t}: {v:+.4f} toward {label}")
                     for t, w, v in zip(item["tokens"], item["whitespace"], info["attributions"]))
    numbers = (f'<span class="num" title="score F(x); base F(all-zero input); gap |Σ attributions − '
               f'(score − base)|">score <b>{info["score"]:.3f}</b>, base {info["base"]:.3f}, '
               f'gap {info["gap"]:.4f}</span>')
    return f'<span class="label-row"><span class="label">{html.escape(str(label))}</span>{numbers}{tokens}</span>'


def render_textcat(items: Union[Item, Iterable[Item]], *, page: bool = True, jupyter: Optional[bool] = None,
                   title: str = "spacy-lm text classification") -> Optional[str]:
    """Per doc one row of tokens per label, shaded by the token's integrated-gradients
    attribution to that label's score (red lowers it, green raises it; one scale per page),
    with the score, the baseline's score and the completeness gap; ``items``:
    :func:`spacy_lm.analysis.explain.explain_textcat` dicts."""
    items_list = as_items(items)
    for i, item in enumerate(items_list):
        n = len(item.get("tokens") or [])
        check_lengths("textcat", i, item, ["whitespace"], n)
        for label, info in (item.get("labels") or {}).items():
            check_lengths("textcat", i, {"text": item.get("text"), **info}, ["attributions"], n)
    values = [abs(v) for item in items_list for info in item["labels"].values() for v in info["attributions"]]
    scale = max(values, default=0.0) or 1.0
    parts = []
    for item in items_list:
        kind = "multi-label" if item.get("multi_label") else "exclusive classes"
        rows = "".join(_label_row(item, label, info, scale) for label, info in item["labels"].items())
        head = f'<div class="doc-head">{html.escape(str(item.get("component", "")))} ({kind})</div>'
        parts.append(f'<div class="slm-lm">{head}<div class="doc-body">{rows}</div></div>')
    legend = (f'<div class="slm-legend">Token attribution to the label\'s score: <b>{-scale:+.3f}</b>'
              f'<span class="bar"></span><b>{scale:+.3f}</b> (integrated gradients: the attributions sum to '
              "score − base up to the gap; hover a token for its value)</div>")
    fragment = f"<style>{STYLE}{VIEW_STYLE}</style>{legend}{''.join(parts)}"
    return deliver(fragment, page=page, jupyter=jupyter, title=title)
