"""`spacy lm vae sample|reconstruct|interpolate|evaluate`: a trained `sentence_vae` from the
command line, over its Python API (``SentenceVAE.sample`` and friends)."""
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

from ._util import check_gpu_id, check_option, dumps, report_errors, stdin_lines

vae_app = typer.Typer(name="vae", help="Sample, reconstruct, interpolate and evaluate with a sentence_vae.",
                      no_args_is_help=True)


def vae_command(name: str):
    def register(func):
        vae_app.command(name)(report_errors(func))
        return func

    return register


def _load(model: str, component: Optional[str], gpu_id: int):
    import spacy

    from ..pipeline_lookup import find_vae_component

    check_gpu_id(gpu_id)
    nlp = spacy.load(model)
    return nlp, nlp.get_pipe(find_vae_component(nlp, component))


def _settings(max_new_tokens: Optional[int], do_sample: bool, temperature: float, top_k: int, top_p: float,
              num_beams: int, seed: Optional[int]) -> Dict[str, Any]:
    """Decoding settings (GenerationConfig names), checked before the pipeline loads."""
    from ..decoding import GenerationConfig

    check_option(temperature > 0, "--temperature", "> 0 (it has an effect with --sample only)", temperature)
    check_option(seed is None or seed >= 0, "--seed", "an integer >= 0", seed)
    check_option(max_new_tokens is None or max_new_tokens >= 1, "--max-new-tokens", "an integer >= 1",
                 max_new_tokens)
    settings: Dict[str, Any] = dict(do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p,
                                    num_beams=num_beams, seed=seed)
    if max_new_tokens is not None:
        settings["max_new_tokens"] = max_new_tokens
    GenerationConfig(**settings)
    return settings


def _texts(text: Optional[str]) -> List[str]:
    return [text] if text not in (None, "-") else [line.strip() for line in stdin_lines() if line.strip()]


MODEL = typer.Argument(..., help="Pipeline name or path, with a sentence_vae component")
COMPONENT = typer.Option(None, "--component", "-c", help="sentence_vae component (default: the first)")
MAX_NEW = typer.Option(None, "--max-new-tokens", "-n", help="Tokens per sentence (default: the VAE's max_length)")
SAMPLE = typer.Option(False, "--sample/--greedy", help="Sample each token instead of greedy/beam decoding")
TEMPERATURE = typer.Option(1.0, "--temperature", "-t")
TOP_K = typer.Option(0, "--top-k")
TOP_P = typer.Option(1.0, "--top-p")
BEAMS = typer.Option(1, "--num-beams")
JSON = typer.Option(False, "--json", help="Print JSON")
GPU = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU")


@vae_command("sample")
def sample_cli(model: str = MODEL, n: int = typer.Option(10, "--n", help="Sentences to sample"),
               seed: int = typer.Option(0, "--seed", help="Seed of the prior draws (and of token sampling)"),
               component: Optional[str] = COMPONENT, max_new_tokens: Optional[int] = MAX_NEW,
               do_sample: bool = SAMPLE, temperature: float = TEMPERATURE, top_k: int = TOP_K,
               top_p: float = TOP_P, num_beams: int = BEAMS, as_json: bool = JSON, gpu_id: int = GPU) -> None:
    """N sentences decoded from z ~ N(0, I)."""
    check_option(n >= 1, "--n", "an integer >= 1", n)
    settings = _settings(max_new_tokens, do_sample, temperature, top_k, top_p, num_beams, seed)
    settings.pop("seed")
    _, vae = _load(model, component, gpu_id)
    texts = vae.sample(n, seed=seed, **settings)
    typer.echo(dumps({"samples": texts}) if as_json else "\n".join(texts))


@vae_command("reconstruct")
def reconstruct_cli(model: str = MODEL,
                    text: Optional[str] = typer.Argument(None, help="Sentence; omit (or '-') to read stdin, one per line"),
                    component: Optional[str] = COMPONENT, max_new_tokens: Optional[int] = MAX_NEW,
                    do_sample: bool = SAMPLE, temperature: float = TEMPERATURE, top_k: int = TOP_K,
                    top_p: float = TOP_P, num_beams: int = BEAMS, seed: Optional[int] = typer.Option(None, "--seed"),
                    as_json: bool = JSON, gpu_id: int = GPU) -> None:
    """Each sentence decoded from its posterior mean."""
    settings = _settings(max_new_tokens, do_sample, temperature, top_k, top_p, num_beams, seed)
    _, vae = _load(model, component, gpu_id)
    texts = _texts(text)
    for source, output in zip(texts, vae.reconstruct(texts, **settings)):
        typer.echo(dumps({"text": source, "reconstruction": output}) if as_json else output)


@vae_command("interpolate")
def interpolate_cli(model: str = MODEL, start: str = typer.Argument(..., help="First sentence"),
                    end: str = typer.Argument(..., help="Last sentence"),
                    steps: int = typer.Option(8, "--steps", help="Points from START to END, both included"),
                    component: Optional[str] = COMPONENT, max_new_tokens: Optional[int] = MAX_NEW,
                    num_beams: int = BEAMS, as_json: bool = JSON, gpu_id: int = GPU) -> None:
    """Decode STEPS points on the line between the posterior means of START and END."""
    check_option(steps >= 2, "--steps", "an integer >= 2", steps)
    settings = _settings(max_new_tokens, False, 1.0, 0, 1.0, num_beams, None)
    _, vae = _load(model, component, gpu_id)
    points = vae.interpolate(start, end, n_steps=steps, **settings)
    if as_json:
        typer.echo(dumps({"start": start, "end": end, "points": [{"t": t, "text": s} for t, s in points]}))
    else:
        for t, sentence in points:
            typer.echo(f"{t:.3f}  {sentence}")


@vae_command("evaluate")
def evaluate_cli(model: str = MODEL,
                 data: Path = typer.Argument(..., help="Text file, one sentence (or paragraph) per line, .gz allowed",
                                             exists=True, dir_okay=False),
                 iw_samples: int = typer.Option(500, "--iw-samples", "-k", help="Importance samples per sentence"),
                 split_at: Optional[str] = typer.Option(None, "--split-at", help="Cut lines after this token (WikiText: '.')"),
                 max_length: int = typer.Option(0, "--max-length", help="Drop sentences longer than this (0: keep all)"),
                 limit: int = typer.Option(0, "--limit", help="At most this many sentences (0: all)"),
                 seed: int = typer.Option(0, "--seed"), component: Optional[str] = COMPONENT,
                 as_json: bool = JSON, gpu_id: int = GPU) -> None:
    """ELBO, IW-NLL, KL, MI, active units and perplexity of DATA's sentences (SentenceVAE.evaluate_docs)."""
    from ..corpora.sentences import SentenceCorpus

    check_option(iw_samples >= 1, "--iw-samples", "an integer >= 1", iw_samples)
    check_option(max_length >= 0, "--max-length", "an integer >= 0", max_length)
    check_option(limit >= 0, "--limit", "an integer >= 0 (0: all)", limit)
    check_option(seed >= 0, "--seed", "an integer >= 0", seed)
    nlp, vae = _load(model, component, gpu_id)
    corpus = SentenceCorpus(data, split_at=split_at, max_length=max_length, limit=limit)
    scores = vae.evaluate_docs([eg.predicted for eg in corpus(nlp)], iw_samples=iw_samples, seed=seed)
    if as_json:
        typer.echo(dumps(scores, indent=2))
    else:
        for key, value in scores.items():
            typer.echo(f"{key:<18} {value}")
