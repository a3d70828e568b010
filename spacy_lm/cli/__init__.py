"""`spacy lm ...` (through spaCy's `spacy_cli` entry point) and `python -m spacy_lm ...`.

Commands are thin shells over library functions that tests call directly.
"""
import json
from pathlib import Path
from typing import Optional

import typer
from spacy.cli._util import app as spacy_app

lm_app = typer.Typer(name="lm", help="Language-model commands from spacy-lm.", no_args_is_help=True)


@lm_app.callback()
def lm_callback() -> None:
    """Language-model commands from spacy-lm."""


@lm_app.command("perplexity")
def perplexity_cli(
    model: str = typer.Argument(..., help="Pipeline name or path, with a language-model component"),
    data: Path = typer.Argument(..., help="Text file (one doc per line, .gz allowed) or .spacy DocBin",
                                exists=True, dir_okay=False),
    component: Optional[str] = typer.Option(None, "--component", "-c", help="LM component (default: the first)"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Docs per batch"),
    limit: int = typer.Option(0, "--limit", help="Score at most this many docs (0: all)"),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU"),
) -> None:
    """Corpus perplexity of DATA under MODEL, pooled over all predicted tokens."""
    import spacy
    from thinc.api import require_gpu

    from ..scorers import corpus_perplexity, read_corpus_docs

    if gpu_id >= 0:
        require_gpu(gpu_id)
    nlp = spacy.load(model)
    docs = read_corpus_docs(nlp, data, limit=limit)
    scores = corpus_perplexity(nlp, docs, component=component, batch_size=batch_size,
                               progress=not as_json)
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
    else:
        for key, value in scores.items():
            typer.echo(f"{key:<16} {value}")


spacy_app.add_typer(lm_app, name="lm")
