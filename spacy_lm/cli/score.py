"""`spacy lm score MODEL INPUT... --output DIR`: score and filter corpora (scoring/run.py)."""
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from ._util import check_gpu_id, check_option, dumps


def parse_pair(value: Optional[str], option: str, requirement: str) -> Optional[Tuple[float, float]]:
    """"30,60" → (30.0, 60.0); the range checks are ScoreSettings'."""
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",")]
    try:
        numbers = tuple(float(part) for part in parts)
    except ValueError:
        numbers = ()
    check_option(len(numbers) == 2, option, requirement, value)
    return numbers  # type: ignore[return-value]


def score_cli(
    model: str = typer.Argument(..., help="Pipeline name or path, with a language-model component"),
    inputs: List[str] = typer.Argument(..., help="Input shards: WET (.warc.wet.gz), Wikipedia XML (.xml.bz2), "
                                       "JSONL/parquet/text (.gz allowed), or hf:NAME[:CONFIG][@SPLIT] (streamed)"),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder (rows per shard, rejects/, manifest.json)"),
    output_format: str = typer.Option("parquet", "--format", help="Rows as parquet or jsonl"),
    input_format: Optional[str] = typer.Option(None, "--input-format", help="wet, wikipedia, jsonl, parquet, text "
                                               "or hf (default: from each input's name)"),
    text_field: str = typer.Option("text", "--text-field", help="JSONL/parquet/hf: the field with the text"),
    id_field: Optional[str] = typer.Option(None, "--id-field", help="JSONL/parquet/hf: the id field (default: "
                                           "file name and line/row number)"),
    data_files: Optional[List[str]] = typer.Option(None, "--data-files", help="hf: inputs: local files or globs "
                                                   "for datasets.load_dataset(data_files=...), e.g. hf:json@train "
                                                   "--data-files 'data/*.jsonl' (offline); repeatable"),
    component: Optional[str] = typer.Option(None, "--component", "-c", help="LM component (default: the first)"),
    bucket: Optional[str] = typer.Option(None, "--bucket", help="Percentiles LOW,HIGH (CCNet: 30,60): label "
                                         "head/middle/tail, cutoffs computed on a sample"),
    cutoffs: Optional[str] = typer.Option(None, "--cutoffs", help="Perplexity cutoffs LOW,HIGH for the buckets, "
                                          "given instead of computed"),
    bucket_sample: int = typer.Option(2000, "--bucket-sample", help="Docs scored to compute the cutoffs"),
    keep: Optional[str] = typer.Option(None, "--keep", help="Buckets to write, comma-separated (e.g. head or "
                                       "head,middle); the others go to rejects/ as filtered"),
    prefilter: Optional[str] = typer.Option(None, "--prefilter", help="An n-gram pipeline or ARPA file that "
                                            "scores everything first (with --max-ppl)"),
    max_ppl: Optional[float] = typer.Option(None, "--max-ppl", help="Prefilter perplexity above which a doc is "
                                            "rejected without the main LM"),
    max_length: int = typer.Option(1_000_000, "--max-length", help="Docs longer (characters) are rejected"),
    engine: str = typer.Option("local", "--engine", help="local (processes on this machine) or ray (Ray Data)"),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes (local) or actors (ray)"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join this Ray cluster (default: a "
                                              "local Ray runtime)"),
    gpu: bool = typer.Option(False, "--gpu", help="Ray: one GPU per actor"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="Local engine: GPU id, or -1 for CPU"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Docs per nlp.pipe batch"),
    chunk_size: int = typer.Option(256, "--chunk-size", help="Docs a worker scores at a time"),
    range_mib: float = typer.Option(32.0, "--range-mib", help="Uncompressed JSONL/text inputs are cut into "
                                    "ranges of at most this many MiB, each read and scored by one worker"),
    code: Optional[Path] = typer.Option(None, "--code", help="Python file with custom components, imported in "
                                        "every worker", exists=True, dir_okay=False),
    ngram_backend: str = typer.Option("numpy", "--ngram-backend", help="n-gram queries: numpy (our probing "
                                      "tables, the default) or kenlm (the kenlm extra, over the model's ARPA)"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON"),
) -> None:
    """Score every document of INPUT... with MODEL's language model (perplexity, log-prob, token
    count), optionally bucket (CCNet head/middle/tail), filter and prefilter; resumable."""
    from ..errors import Errors
    from ..scoring.manifest import MANIFEST
    from ..scoring.run import score_corpus
    from ..scoring.settings import ScoreSettings, check_setting
    from ..scoring.stopping import ScoringStopped

    check_gpu_id(gpu_id)
    check_option(not (gpu_id >= 0 and engine == "ray"), "--gpu-id", "-1 with --engine ray (use --gpu)", gpu_id)
    check_option(range_mib > 0, "--range-mib", "a number of MiB > 0", range_mib)
    settings = ScoreSettings(
        model=model, component=component, prefilter=prefilter, max_ppl=max_ppl,
        bucket=parse_pair(bucket, "--bucket", "two percentiles LOW,HIGH (e.g. 30,60)"),
        cutoffs=parse_pair(cutoffs, "--cutoffs", "two perplexities LOW,HIGH"), bucket_sample=bucket_sample,
        keep=tuple(name.strip() for name in keep.split(",") if name.strip()) if keep else (),
        max_length=max_length, batch_size=batch_size, chunk_size=chunk_size, text_field=text_field,
        id_field=id_field, format=input_format, output_format=output_format, gpu_id=gpu_id,
        code=str(code) if code else None, data_files=tuple(data_files or ()), ngram_backend=ngram_backend,
        range_bytes=max(1, int(range_mib * (1 << 20))),
    )
    check_setting("--data-files", not settings.data_files or input_format == "hf"
                  or any(source.startswith("hf:") for source in inputs),
                  "given with an hf: input such as hf:json@train (datasets reads the files for it)",
                  list(settings.data_files))
    try:
        summary = score_corpus(inputs, output, settings, engine=engine, workers=workers, ray_address=ray_address,
                               gpu=gpu, progress=None if as_json else lambda line: typer.echo(line, err=True))
    except ScoringStopped as stopped:  # SIGINT / SIGTERM: one line, the shell's exit status 128 + N
        typer.echo(f"Error: {Errors.E210.format(signal=stopped.signal_name, path=output / MANIFEST)}", err=True)
        raise typer.Exit(128 + stopped.signal_number) from None
    typer.echo(dumps(summary, indent=2) if as_json else summary_table(summary))


def summary_table(summary: dict) -> str:
    """Docs in/out per bucket, rejects by reason, time: what a user checks after a run."""
    lines = [f"{'':<22}{'docs':>12}"]
    lines.append(f"{'in':<22}{summary['n_in']:>12,}")
    lines.append(f"{'written':<22}{summary['n_out']:>12,}")
    lines.append(f"{'rejected':<22}{summary['n_rejected']:>12,}")
    for reason, n in sorted(summary["rejects"].items()):
        lines.append(f"{'  ' + reason:<22}{n:>12,}")
    if summary["buckets"]:
        low, high = summary["cutoffs"]
        lines.append(f"buckets (perplexity cutoffs {low:.2f}, {high:.2f}): in / written")
        for name, counts in summary["buckets"].items():
            lines.append(f"{'  ' + name:<22}{counts['in']:>12,} / {counts['out']:,}")
    lines.append(f"tokens scored {summary['n_tokens']:,}; {summary['shards']} shards "
                 f"({summary['shards_skipped']} already done); {summary['seconds']:.1f} s, "
                 f"{summary['docs_per_s']:,.1f} docs/s, {summary['tokens_per_s']:,.0f} tokens/s "
                 f"({summary['engine']}, {summary['workers']} workers)")
    for repeat, first in summary.get("duplicates", {}).items():
        lines.append(f"skipped {repeat}: it repeats {first}")
    lines.append(f"output: {summary['output']}")
    return "\n".join(lines)
