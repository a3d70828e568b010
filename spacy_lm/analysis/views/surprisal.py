"""The surprisal view: tokens shaded by how surprised the LM was by them (bits), each doc's
perplexity above it, the closing ``<eos>`` as a last dashed cell. Its data:
:func:`spacy_lm.analysis.lm_views.surprisal_items`, or docs an LM component annotated.
"""
import html
import math
from typing import Iterable, Mapping, Optional, Union

from spacy.tokens import Doc

from .page import STYLE, deliver
from .tokens import VIEW_STYLE, Item, bits_legend, check_lengths, fmt_number, sequential_colour, token_span


def _surprisal_item(item: Union[Doc, Item]) -> Item:
    if isinstance(item, Doc):
        from ..lm_views import doc_surprisal_item

        return doc_surprisal_item(item)
    return item


def bits_title(token: str, bits: Optional[float]) -> str:
    """A token's hover text: its surprisal and probability (whitespace is not scored)."""
    if bits is None:
        return f"{token!r}: not scored (whitespace)"
    return f"{token}: {bits:.3f} bits (p = {2.0 ** -bits:.4f})"


def perplexity_head(name: Optional[str], scores: Item) -> str:
    """A doc's perplexity, bits per token and predictions counted (the sums on hover)."""
    ppl, n = scores.get("perplexity"), scores.get("n_predicted", 0)
    bits = None if ppl is None else math.log2(ppl)
    title = (f"perplexity {fmt_number(ppl, '.4f')} = exp(-log p / n) with log p = "
             f"{fmt_number(scores.get('logprob'), '.4f')} nats over n = {n} predictions (the closing <eos> included)")
    label = f"{html.escape(name)}: " if name else ""
    return (f'<span title="{html.escape(title)}">{label}perplexity <b>{fmt_number(ppl)}</b> '
            f"({fmt_number(bits)} bits/token, {n} predicted)</span>")


def render_surprisal(items: Union[Doc, Item, Iterable[Union[Doc, Item]]], *, page: bool = True,
                     jupyter: Optional[bool] = None, title: str = "spacy-lm surprisal") -> Optional[str]:
    """Tokens shaded by the LM's surprisal (bits; one scale per page: the largest shown), each
    doc's perplexity above it, the closing ``<eos>`` as a last dashed cell. ``items``:
    :func:`spacy_lm.analysis.lm_views.surprisal_items` dicts, or docs an LM component annotated."""
    items_list = [_surprisal_item(item) for item in ([items] if isinstance(items, (Doc, Mapping)) else items)]
    for i, item in enumerate(items_list):
        check_lengths("surprisal", i, item, ["surprisals", "whitespace"], len(item.get("tokens") or []))
    values = [v for item in items_list for v in [*item["surprisals"], item.get("end_surprisal")] if v is not None]
    scale = max(values, default=0.0) or 1.0
    parts = []
    for item in items_list:
        tokens = "".join(token_span(t, w, sequential_colour(s, scale), bits_title(t, s))
                         for t, w, s in zip(item["tokens"], item["whitespace"], item["surprisals"]))
        end = item.get("end_surprisal")
        if end is not None:
            tokens += token_span("⏎", "", sequential_colour(end, scale), bits_title("<eos> (end of text)", end),
                                 cls="eos")
        parts.append(f'<div class="slm-lm"><div class="doc-head">{perplexity_head(item.get("component"), item)}'
                     f'</div><div class="doc-body">{tokens}</div></div>')
    fragment = f"<style>{STYLE}{VIEW_STYLE}</style>{bits_legend('Surprisal', scale)}{''.join(parts)}"
    return deliver(fragment, page=page, jupyter=jupyter, title=title)
