"""`spacy lm ...` (through spaCy's `spacy_cli` entry point) and `python -m spacy_lm ...`.

Commands are thin shells over library functions that tests call directly.
"""
import json
from pathlib import Path
from typing import List, Optional

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
    stream: bool = typer.Option(False, "--stream", help="Also read DATA as one stream, the state carried "
                                "across docs (lm_stream_* scores, as the benchmarks report)"),
    segments: int = typer.Option(1, "--segments", help="With --stream: cut the stream into N segments "
                                 "read side by side, each from a fresh state (faster, slightly different)"),
) -> None:
    """Corpus perplexity of DATA under MODEL, pooled over all predicted tokens; with --stream
    also of DATA read as one token stream."""
    import spacy
    from thinc.api import require_gpu

    from ..corpus import corpus_perplexity, read_corpus_docs

    if gpu_id >= 0:
        require_gpu(gpu_id)
    nlp = spacy.load(model)
    docs = read_corpus_docs(nlp, data, limit=limit)
    scores = corpus_perplexity(nlp, docs, component=component, batch_size=batch_size,
                               progress=not as_json, stream=stream, n_segments=segments)
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
    else:
        width = max([16] + [len(key) for key in scores])
        for key, value in scores.items():
            typer.echo(f"{key:<{width}} {value}")


@lm_app.command("generate")
def generate_cli(
    model: str = typer.Argument(..., help="Pipeline name or path, with a language-model component"),
    prompt: Optional[str] = typer.Argument(None, help="Prompt text; omit (or '-') to read prompts from stdin, one per line"),
    lm: Optional[str] = typer.Option(None, "--lm", help="LM component (default: the first)"),
    max_new_tokens: int = typer.Option(20, "--max-new-tokens", "-n"),
    min_new_tokens: int = typer.Option(0, "--min-new-tokens"),
    do_sample: bool = typer.Option(False, "--sample/--greedy", help="Sample instead of greedy/beam search"),
    temperature: float = typer.Option(1.0, "--temperature", "-t"),
    top_k: int = typer.Option(0, "--top-k"),
    top_p: float = typer.Option(1.0, "--top-p"),
    num_beams: int = typer.Option(1, "--num-beams"),
    num_return_sequences: int = typer.Option(1, "--num-return-sequences"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    stop: Optional[List[str]] = typer.Option(None, "--stop", help="Stop string (repeatable)"),
    stream_output: bool = typer.Option(False, "--stream", help="Print tokens as they are produced"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per prompt"),
) -> None:
    """Continue PROMPT (or each stdin line) with the pipeline's language model."""
    import sys

    import spacy

    from ..pipeline.text_generator import TextGenerator
    from ..pipeline_lookup import find_lm_component

    settings = dict(max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, do_sample=do_sample,
                    temperature=temperature, top_k=top_k, top_p=top_p, num_beams=num_beams,
                    num_return_sequences=num_return_sequences, seed=seed, stop_strings=list(stop or []))
    nlp = spacy.load(model)
    generator = TextGenerator(nlp, "cli_generator", lm=find_lm_component(nlp, lm), generation=settings)
    prompts = [prompt] if prompt not in (None, "-") else [line.rstrip("\n") for line in sys.stdin]
    for text in prompts:
        if stream_output and not as_json:
            typer.echo(text, nl=False)
            for i, piece in enumerate(generator.stream(text)):
                typer.echo((" " if i == 0 and text else "") + piece, nl=False)
                sys.stdout.flush()
            typer.echo()
            continue
        continuations = generator.generate([text])[0]
        if as_json:
            typer.echo(json.dumps({"prompt": text, "generations": [d._.generation for d in continuations]}))
        else:
            for doc in continuations:
                typer.echo(f"{text} {doc.text}".strip())


from .explain import explain_cli  # noqa: E402

lm_app.command("explain")(explain_cli)

spacy_app.add_typer(lm_app, name="lm")
