"""The generation view: each generated token shaded by its surprisal, with the step's top
alternatives and their log-probs below it and on hover (the chosen one bold). Its data:
:func:`spacy_lm.analysis.lm_views.generation_items`, a ``Generation.to_dict()`` or a
text_generator's ``doc._.generations`` entry.
"""
import html
import math
from typing import Any, Dict, Iterable, Optional, Sequence, Union

from .page import STYLE, deliver
from .tokens import VIEW_STYLE, Item, as_items, bits_legend, check_lengths, sequential_colour, token_span


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
        cells.append(f'<span class="gtok">{token_span(word, "", sequential_colour(bits, scale), tip)}'
                     f"{_alternatives_html(alts, token_id, word, logprob)}</span>")
    return "".join(cells)


def _prompt_html(item: Item, scale: float) -> str:
    """One prompt: its generations, each with its number, score and finish reason."""
    gens = item["generations"]
    rows = []
    for k, gen in enumerate(gens):
        info = (f'<span class="num">{f"#{k + 1} " if len(gens) > 1 else ""}score {gen["score"]:.3f}, '
                f'{html.escape(str(gen["finish_reason"]))}</span>')
        rows.append(f'<div class="gen">{info}<br><span class="prompt">{html.escape(item["prompt"])}</span>'
                    f"{_generation_html(gen, scale)}</div>")
    head = f'<div class="doc-head">{html.escape(str(item.get("component") or ""))}</div>'
    return f'<div class="slm-lm">{head}{"".join(rows)}</div>'


def render_generation(items: Union[Item, Iterable[Item]], *, page: bool = True, jupyter: Optional[bool] = None,
                      title: str = "spacy-lm generation") -> Optional[str]:
    """Each generated token shaded by its surprisal (one scale per page), with the step's top
    alternatives and their log-probs below it and on hover (the chosen one bold);
    :func:`spacy_lm.analysis.lm_views.generation_items` dicts."""
    items_list = [{**item, "generations": [_generation_fields(gen) for gen in item.get("generations") or []]}
                  for item in as_items(items)]
    for i, item in enumerate(items_list):
        for gen in item["generations"]:
            check_lengths("generation", i, {**gen, "text": item.get("prompt")}, ["logprobs", "alternatives"],
                          len(gen["words"]))
    bits = [-lp / math.log(2.0) for item in items_list for gen in item["generations"] for lp in gen["logprobs"]]
    scale = max(bits, default=0.0) or 1.0
    parts = [_prompt_html(item, scale) for item in items_list]
    legend = (bits_legend("Surprisal of each generated token", scale)
              + '<div class="slm-legend">Below each token: the most likely tokens of the step it was chosen at, '
                "with their log-probs (nats; the model's own, before sampling warps); bold: the chosen one.</div>")
    fragment = f"<style>{STYLE}{VIEW_STYLE}</style>{legend}{''.join(parts)}"
    return deliver(fragment, page=page, jupyter=jupyter, title=title)
