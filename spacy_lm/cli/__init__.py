"""`spacy lm ...` (through spaCy's `spacy_cli` entry point) and `python -m spacy_lm ...`.

Commands are thin shells over library functions that tests call directly. Each is registered
through ``report_errors`` (see _util.py): a known error is one line on stderr and exit code 1;
``SPACY_LM_TRACEBACK=1`` shows its traceback.
"""
from pathlib import Path
from typing import Callable, List, Optional

import typer
from spacy.cli._util import app as spacy_app

from ._util import check_gpu_id, check_option, dumps, report_errors, stdin_lines

lm_app = typer.Typer(name="lm", help="Language-model commands from spacy-lm.", no_args_is_help=True)


@lm_app.callback()
def lm_callback() -> None:
    """Language-model commands from spacy-lm."""


def lm_command(name: str) -> Callable[[Callable], Callable]:
    """Register a command under `spacy lm NAME`, its errors reported by ``report_errors``."""

    def register(func: Callable) -> Callable:
        lm_app.command(name)(report_errors(func))
        return func

    return register


@lm_command("perplexity")
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
    strict: bool = typer.Option(False, "--strict", help="Fail (exit 1) when no token was scored, instead "
                                "of a warning and null scores"),
) -> None:
    """Corpus perplexity of DATA under MODEL, pooled over all predicted tokens; with --stream
    also of DATA read as one token stream."""
    import spacy

    from ..corpora.corpus import corpus_perplexity, read_corpus_docs

    check_option(batch_size >= 1, "--batch-size", "an integer >= 1", batch_size)
    check_option(limit >= 0, "--limit", "an integer >= 0 (0: all docs)", limit)
    check_option(segments >= 1, "--segments", "an integer >= 1", segments)
    check_gpu_id(gpu_id)
    nlp = spacy.load(model)
    docs = read_corpus_docs(nlp, data, limit=limit)
    scores = corpus_perplexity(nlp, docs, component=component, batch_size=batch_size,
                               progress=not as_json, stream=stream, n_segments=segments, strict=strict)
    if as_json:
        typer.echo(dumps(scores, indent=2))
    else:
        width = max([16] + [len(key) for key in scores])
        for key, value in scores.items():
            typer.echo(f"{key:<{width}} {value}")


@lm_command("generate")
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

    from ..decoding import GenerationConfig
    from ..pipeline.text_generator import TextGenerator
    from ..pipeline_lookup import find_lm_component

    # The decoder checks the settings it uses (E009); these two it accepts where it ignores them.
    check_option(temperature > 0, "--temperature", "> 0 (it has an effect with --sample only)", temperature)
    check_option(seed is None or seed >= 0, "--seed", "an integer >= 0", seed)
    settings = dict(max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, do_sample=do_sample,
                    temperature=temperature, top_k=top_k, top_p=top_p, num_beams=num_beams,
                    num_return_sequences=num_return_sequences, seed=seed, stop_strings=list(stop or []))
    GenerationConfig(**settings)  # before the pipeline loads
    nlp = spacy.load(model)
    generator = TextGenerator(nlp, "cli_generator", lm=find_lm_component(nlp, lm), generation=settings)
    prompts = [prompt] if prompt not in (None, "-") else [line.rstrip("\n") for line in stdin_lines()]
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
            typer.echo(dumps({"prompt": text, "generations": [d._.generation for d in continuations]}))
        else:
            for doc in continuations:
                typer.echo(f"{text} {doc.text}".strip())


from .explain import explain_cli  # noqa: E402

lm_command("explain")(explain_cli)

from .score import score_cli  # noqa: E402

lm_command("score")(score_cli)

from .translate import translate_cli  # noqa: E402

lm_command("translate")(translate_cli)

from .ask import ask_cli  # noqa: E402

lm_command("ask")(ask_cli)

from .bias import bias_cli  # noqa: E402

lm_command("bias")(bias_cli)

from .vae import vae_app  # noqa: E402

lm_app.add_typer(vae_app, name="vae")

spacy_app.add_typer(lm_app, name="lm")
