"""What the token-by-token views share (surprisal, comparison, generation, textcat): their
stylesheet, a shaded token cell with its value on hover, the surprisal colour scale and legend,
and the check that an item's per-token lists are as long as its tokens (E185).

Items are plain dicts (spacy_lm/analysis/lm_views.py, explain.py), so a view saved as JSON
renders again the same way.
"""
import html
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Union

from ...errors import Errors
from .page import FONT

SURPRISAL_RGB = (118, 42, 131)
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


def as_items(items: Union[Item, Iterable[Item]]) -> List[Item]:
    """One item or many, as a list."""
    return [items] if isinstance(items, Mapping) else list(items)


def sequential_colour(value: Optional[float], scale: float, rgb=SURPRISAL_RGB) -> str:
    """White (0) to ``rgb`` (``scale`` and above)."""
    if value is None or scale <= 0 or value <= 0:
        return "transparent"
    r, g, b = rgb
    return f"rgba({r}, {g}, {b}, {min(1.0, value / scale) * 0.85:.3f})"


def token_span(text: str, whitespace: str, colour: str, title: str, cls: str = "tok") -> str:
    """One token shaded ``colour``, ``title`` on hover, then its whitespace (all escaped)."""
    esc = html.escape
    return f'<span class="{cls}" style="background: {colour}" title="{esc(title)}">{esc(text)}</span>{esc(whitespace)}'


def check_lengths(view: str, i: int, item: Item, keys: Sequence[str], n: int) -> None:
    """E185 unless each of ``keys`` holds one value per token (``n``): a short list would
    silently drop tokens from the view."""
    for key in keys:
        values = item.get(key)
        if values is None or len(values) != n:
            problem = f"{key!r} has {'no' if values is None else len(values)} values for {n} tokens"
            raise ValueError(Errors.E185.format(view=view, i=i, text=str(item.get("text", ""))[:40], problem=problem))


def fmt_number(value: Optional[float], spec: str = ".2f") -> str:
    """``value`` formatted, "n/a" for None (a doc with nothing predicted has no perplexity)."""
    return "n/a" if value is None else format(value, spec)


def bits_legend(what: str, scale: float, rgb=SURPRISAL_RGB) -> str:
    """The legend of a surprisal scale from 0 to ``scale`` bits."""
    return (f'<div class="slm-legend">{html.escape(what)}: <b>0</b><span class="bar" style="background: '
            f'linear-gradient(to right, #ffffff, rgb{rgb})"></span><b>{scale:.2f}</b> bits '
            "(surprisal = -log2 p; hover a token for its value)</div>")
