"""`spacy lm explain MODEL "text" --html out.html`: which tokens drove the sentiment."""
from pathlib import Path
from typing import Optional

import typer

from ._util import check_option, dumps


def explain_cli(
    model: str = typer.Argument(..., help="Pipeline name or path, with a sentiment_scorer component"),
    text: str = typer.Argument(..., help="Text to explain"),
    html_path: Optional[Path] = typer.Option(None, "--html", help="Write the view (displaCy style) to this file"),
    component: Optional[str] = typer.Option(None, "--component", "-c", help="Sentiment component (default: the first)"),
    steps: int = typer.Option(32, "--steps", help="Integrated-gradient points (trained models)"),
    as_json: bool = typer.Option(False, "--json", help="Print the annotations as JSON"),
) -> None:
    """Doc, sentence and token polarity of TEXT under MODEL."""
    import spacy

    from ..explain import explain_texts
    from ..visualize import render_sentiment

    check_option(steps >= 1, "--steps", "an integer >= 1", steps)
    nlp = spacy.load(model)
    doc = explain_texts(nlp, [text], component=component, steps=steps)[0]
    tokens = [[t.text, t._.sentiment_contribution] for t in doc]
    if as_json:
        typer.echo(dumps({"text": text, "polarity": doc._.sentiment_polarity, "label": doc._.sentiment_label,
                               "base": doc._.sentiment_base, "sentences": doc._.sentiment_sentences,
                               "probs": doc._.sentiment_probs, "tokens": tokens}))
    else:
        typer.echo(f"polarity {doc._.sentiment_polarity:+.4f} ({doc._.sentiment_label}), "
                   f"baseline {doc._.sentiment_base or 0.0:+.4f}")
        for start, end, polarity in doc._.sentiment_sentences or []:
            typer.echo(f"  sentence {polarity:+.4f}  {doc[int(start):int(end)].text}")
        for word, value in tokens:
            if value:
                typer.echo(f"  {value:+.4f}  {word}")
    if html_path is not None:
        html_path.write_text(render_sentiment(doc, title=f"spacy-lm sentiment: {model}"), encoding="utf-8")
        typer.echo(f"wrote {html_path}", err=as_json)
