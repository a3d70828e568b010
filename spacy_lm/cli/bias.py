"""`spacy lm bias MODEL [--dev PATH] [--json] [--html out.html]`: counterfactual bias probes and,
with --dev, metrics by slice (spacy_lm/analysis/bias.py, spacy_lm/analysis/bias_slices.py)."""
from pathlib import Path
from typing import Dict, List, Optional

import typer

from ..errors import Errors
from ._util import check_option, dumps


def parse_label_map(value: Optional[str]) -> Optional[Dict[str, str]]:
    """``0=NEG,1=POS`` → {"0": "NEG", "1": "POS"} (E201 if malformed)."""
    if not value:
        return None
    pairs = [item.partition("=") for item in value.split(",")]
    if any(not raw.strip() or not sep or not name.strip() for raw, sep, name in pairs):
        raise ValueError(Errors.E201.format(value=value))
    return {raw.strip(): name.strip() for raw, _, name in pairs}


def bias_cli(
    model: str = typer.Argument(..., help="Pipeline name or path: a textcat, textcat_multilabel, "
                                "sentiment_scorer or language-model component"),
    component: Optional[str] = typer.Option(None, "--component", "-c", help="Component to probe (default: the "
                                            "first classifier, else sentiment_scorer, else language model)"),
    category: Optional[List[str]] = typer.Option(None, "--category", help="Term-list category (repeatable; "
                                                 "default: all: age, gender, names, nationality, religion "
                                                 "and those of --terms)"),
    terms: Optional[List[Path]] = typer.Option(None, "--terms", help="Your term file, group<TAB>term lines "
                                               "(repeatable; its name is the category)", exists=True, dir_okay=False),
    templates: Optional[List[Path]] = typer.Option(None, "--templates", help="Your template file, {term} once per "
                                                   "line (repeatable; replaces the built-in ones)",
                                                   exists=True, dir_okay=False),
    label: Optional[List[str]] = typer.Option(None, "--label", help="Classifier label to score (repeatable; "
                                              "default: all)"),
    samples: int = typer.Option(2000, "--samples", help="Bootstrap samples"),
    confidence: float = typer.Option(0.95, "--confidence", help="Interval level"),
    min_effect: Optional[float] = typer.Option(None, "--min-effect", help="Smallest |mean difference| flagged "
                                               "(default 0.02 textcat, 0.04 polarity, 0.1 nats/token LM)"),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Docs per batch"),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Labelled dev set (.spacy DocBin or text file) for "
                                       "slice metrics", exists=True),
    data_format: str = typer.Option("label_first", "--format", help="--dev text file: label_first, csv or tsv "
                                    "(language models: a text file, one doc per line)"),
    label_map: Optional[str] = typer.Option(None, "--label-map", help="--dev raw labels to model labels, "
                                            "e.g. 0=NEG,1=POS"),
    slice_by: Optional[List[str]] = typer.Option(None, "--slice-by", help="Slice --dev by a category's keywords "
                                                 "or field:NAME (user_data key / csv column); repeatable; "
                                                 "default: every category"),
    no_probes: bool = typer.Option(False, "--no-probes", help="With --dev: slice metrics only"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the JSON report to this file"),
    html_path: Optional[Path] = typer.Option(None, "--html", help="Write an HTML report to this file"),
) -> None:
    """Counterfactual bias probes of MODEL: every term fills every template, and the change in the
    score between groups is reported with bootstrap intervals; flagged where the interval excludes 0
    and the effect is large enough. With --dev, also accuracy or perplexity by slice."""
    import spacy

    from ..analysis.bias import probe_bias
    from ..analysis.bias_stats import MIN_SAMPLES
    from ..analysis.bias_report import format_probe_table, format_slice_table, render_bias_report, report_json
    from ..analysis.bias_slices import read_dev_set, slice_metrics
    from ..corpora.labelled import TEXTCAT_FORMATS

    check_option(samples >= MIN_SAMPLES, "--samples", f"an integer >= {MIN_SAMPLES}", samples)
    check_option(0.0 < confidence < 1.0, "--confidence", "a number in (0, 1)", confidence)
    check_option(min_effect is None or min_effect >= 0, "--min-effect", "a number >= 0", min_effect)
    check_option(batch_size >= 1, "--batch-size", "an integer >= 1", batch_size)
    check_option(data_format in TEXTCAT_FORMATS, "--format", f"one of {', '.join(TEXTCAT_FORMATS)}", data_format)
    check_option(dev is not None or not no_probes, "--no-probes", "used with --dev", no_probes)
    check_option(dev is not None or not slice_by, "--slice-by", "used with --dev", slice_by)
    mapping = parse_label_map(label_map)
    nlp = spacy.load(model)
    probes = slices = None
    if not no_probes:
        probes = probe_bias(nlp, component=component, categories=category or None, term_files=terms or (),
                            template_files=templates or (), labels=label or None, samples=samples,
                            confidence=confidence, min_effect=min_effect, seed=seed, batch_size=batch_size)
    if dev is not None:
        from ..analysis.bias import find_probe_target

        kind = find_probe_target(nlp, component).kind
        fields = [s.split(":", 1)[1] for s in slice_by or [] if s.startswith("field:")]
        check_option(len(fields) <= 1, "--slice-by", "at most one field:NAME", slice_by)
        docs = read_dev_set(nlp, dev, kind=kind, format=data_format, label_map=mapping,
                            field=fields[0] if fields else None)
        slices = slice_metrics(nlp, docs, component=component, slice_by=slice_by or category or None,
                               term_files=terms or (), confidence=confidence, samples=samples, seed=seed,
                               batch_size=batch_size, path=str(dev))
    if as_json:
        typer.echo(dumps(report_json(probes, slices), indent=2))
    else:
        typer.echo("\n\n".join(t for t in (probes and format_probe_table(probes),
                                           slices and format_slice_table(slices)) if t))
    if output is not None:
        output.write_text(dumps(report_json(probes, slices), indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {output}", err=as_json)
    if html_path is not None:
        html_path.write_text(render_bias_report(probes, slices, title=f"spacy-lm bias report: {model}"),
                             encoding="utf-8")
        typer.echo(f"wrote {html_path}", err=as_json)
