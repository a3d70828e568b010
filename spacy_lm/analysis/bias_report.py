"""Rendering bias reports (bias.probe_bias, bias_slices.slice_metrics): a terminal table, one JSON
document, and an HTML page in displaCy's style (the font of views/page.py).

Rendering only reads the report dicts, so a report saved as JSON renders again the same way. In the
HTML page a comparison is a row with its interval drawn against zero on a shared scale per score, so
flagged rows (interval clear of 0 and effect >= the minimum) stand out; each row lists the templates
that moved most. Every text from a file or the model is escaped.
"""
import html
import math
from typing import Any, Dict, List, Optional, Sequence

from .views.page import FONT

PROBE_COLUMNS = ("category", "group", "versus", "templates", "score", "mean", "interval", "docs", "unknown", "flag")
SLICE_COLUMNS = ("slice", "group", "docs", "scored", "value", "interval")
FLAG = "FLAGGED"


def _num(value: Optional[float], signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _interval(ci: Sequence[Optional[float]], signed: bool = False) -> str:
    return f"[{_num(ci[0], signed)}, {_num(ci[1], signed)}]"


def _unknown(row: Dict[str, Any]) -> str:
    """Terms of the group / of the others that the LM only knows as <unk> ("" when none)."""
    unknown, sizes = row.get("n_unknown_terms") or {}, row.get("n_terms") or {}
    if not any(unknown.values()):
        return ""
    others = [g for g in sizes if g != row["group"]] if row["versus"] == "rest" else [row["versus"]]
    return (f"{unknown[row['group']]}/{sizes[row['group']]} vs "
            f"{sum(unknown[g] for g in others)}/{sum(sizes[g] for g in others)}")


def probe_rows(report: Dict[str, Any]) -> List[List[str]]:
    return [[r["category"], r["group"], r["versus"], r["templates"], r["score"], _num(r["mean"], True),
             _interval(r["ci"], True), str(r["n_docs"]), _unknown(r), FLAG if r["flagged"] else ""]
            for r in report["results"]]


def slice_rows(report: Dict[str, Any]) -> List[List[str]]:
    return [[r["slice"], r["group"], str(r["n_docs"]), str(r["n_scored"]), _num(r["value"]), _interval(r["ci"])]
            for r in report["slices"]]


def _table(columns: Sequence[str], rows: List[List[str]]) -> str:
    widths = [max([len(c)] + [len(row[i]) for row in rows]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def format_probe_table(report: Dict[str, Any]) -> str:
    """The probe results as a plain-text table, with a header line of the settings."""
    head = (f"bias probes of '{report['component']}' ({report['target']}): mean difference "
            f"(group - versus) with {report['confidence']:.0%} bootstrap intervals, {report['samples']} "
            f"samples, seed {report['seed']}; flagged: interval excludes 0 and |mean| >= "
            f"{report['min_effect']:g} ({report['n_flagged']} flagged)")
    return head + "\n" + _table(PROBE_COLUMNS, probe_rows(report))


def format_slice_table(report: Dict[str, Any]) -> str:
    head = (f"slice metrics of '{report['component']}': {report['metric']} with {report['confidence']:.0%} "
            f"intervals ({'bootstrap over docs' if report['target'] == 'lm' else 'Wilson'})")
    return head + "\n" + _table(SLICE_COLUMNS, slice_rows(report))


def report_json(probes: Optional[Dict[str, Any]], slices: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One JSON document: {"probes": ..., "slices": ...} (either may be null)."""
    return {"probes": probes, "slices": slices}


STYLE = f"""
body {{ font-family: {FONT}; margin: 2em; color: #222; line-height: 1.4; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; margin-top: 2em; }}
.slm-note {{ color: #555; font-size: 0.9em; max-width: 60em; }}
table.slm-bias {{ border-collapse: collapse; font-size: 0.9em; }}
table.slm-bias th, table.slm-bias td {{ padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: left;
  vertical-align: top; }}
table.slm-bias td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.slm-flagged {{ background: #fdecea; }} tr.slm-flagged td.flag {{ color: #b71c1c; font-weight: bold; }}
.slm-ci {{ position: relative; width: 12em; height: 1em; background: #f4f4f4; border-radius: 3px; }}
.slm-ci .zero {{ position: absolute; top: 0; bottom: 0; width: 1px; background: #777; }}
.slm-ci .bar {{ position: absolute; top: 0.3em; height: 0.4em; background: #2166ac; border-radius: 2px; }}
tr.slm-flagged .slm-ci .bar {{ background: #d73027; }}
.slm-tpl {{ color: #555; font-size: 0.85em; }}
"""


def _ci_bar(low: Optional[float], high: Optional[float], scale: float) -> str:
    """The interval [low, high] on [-scale, scale], zero in the middle."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)) or scale <= 0:
        return ""
    pos = [50.0 + 50.0 * max(-1.0, min(1.0, v / scale)) for v in (low, high)]
    return (f'<div class="slm-ci"><div class="zero" style="left:50%"></div><div class="bar" '
            f'style="left:{pos[0]:.1f}%;width:{max(pos[1] - pos[0], 0.5):.1f}%"></div></div>')


def _cells(values: Sequence[str], numeric: Sequence[bool]) -> str:
    return "".join(f'<td class="num">{v}</td>' if num else f"<td>{v}</td>" for v, num in zip(values, numeric))


def _probe_section(report: Dict[str, Any], top_templates: int) -> str:
    scales: Dict[str, float] = {}
    for r in report["results"]:
        bound = max(abs(v) for v in r["ci"] if v is not None and math.isfinite(v)) if any(
            v is not None and math.isfinite(v) for v in r["ci"]) else 0.0
        scales[r["score"]] = max(scales.get(r["score"], 0.0), bound)
    head = "".join(f"<th>{c}</th>" for c in ("category", "group", "versus", "templates", "score", "mean",
                                             "interval", "", "docs", "unknown to the LM", "flag",
                                             "templates that moved most"))
    body = []
    for r, row in zip(report["results"], probe_rows(report)):
        moved = "<br>".join(f"{html.escape(t)} ({_num(d, True)})" for t, d in r["by_template"][:top_templates])
        cells = _cells([html.escape(v) for v in row[:7]], [False] * 5 + [True, True])
        cells += f"<td>{_ci_bar(r['ci'][0], r['ci'][1], scales[r['score']])}</td>"
        cells += (f'<td class="num">{row[7]}</td><td>{row[8]}</td><td class="flag">{row[9]}</td>'
                  f'<td class="slm-tpl">{moved}</td>')
        body.append(f'<tr class="{"slm-flagged" if r["flagged"] else "slm-row"}">{cells}</tr>')
    note = html.escape(format_probe_table(report).split("\n", 1)[0])
    return (f'<h2>Counterfactual probes</h2><p class="slm-note">{note}</p>'
            f'<table class="slm-bias"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _slice_section(report: Dict[str, Any]) -> str:
    head = "".join(f"<th>{c}</th>" for c in SLICE_COLUMNS)
    body = "".join(f'<tr class="slm-row">{_cells([html.escape(v) for v in row], [False, False, True, True, True, True])}'
                   f"</tr>" for row in slice_rows(report))
    note = html.escape(format_slice_table(report).split("\n", 1)[0])
    return (f'<h2>Slice metrics</h2><p class="slm-note">{note}</p>'
            f'<table class="slm-bias"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def render_bias_report(probes: Optional[Dict[str, Any]], slices: Optional[Dict[str, Any]] = None, *,
                       title: str = "spacy-lm bias report", top_templates: int = 3) -> str:
    """A standalone HTML page of the probe results and/or the slice metrics."""
    sections = []
    if probes is not None:
        sections.append(_probe_section(probes, top_templates))
    if slices is not None:
        sections.append(_slice_section(slices))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>")
