"""`spacy lm translate MODEL [TEXT|-]`: a trained `translator` from the command line.

``translate_lines`` is the library function (tests call it directly); the command is a thin
shell over it and over ``Translator.stream`` (``--stream``) and
:func:`spacy_lm.analysis.visualize.render_attention` (``--attention``).
"""
import math
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

import typer
from spacy.language import Language

from ._util import check_option, dumps, stdin_lines

JSON_FIELDS = ("source", "translation", "tokens", "logprobs", "score", "alternatives")


def translate_lines(nlp: Language, lines: Iterable[str], *, component: Optional[str] = None,
                    attention: bool = False, **settings: Any) -> List[Dict[str, Any]]:
    """Translate each line (one source each; an empty line gives an empty translation) with
    the pipeline's translator; ``settings``: GenerationConfig names overriding the component's
    decoding settings. Per line: ``source``, ``translation``, ``tokens``, ``logprobs`` (nats
    per output token), ``score``, ``alternatives`` (best first, when ``num_return_sequences``
    > 1) and, with ``attention``, ``source_tokens`` and ``attention`` (output tokens x source
    tokens + ``<eos>``, what :func:`spacy_lm.analysis.visualize.render_attention` draws)."""
    from ..pipeline_lookup import find_translator_component
    from ..text.vocab import lm_tokens

    translator = nlp.get_pipe(find_translator_component(nlp, component))
    translator.generation.replace(**settings)  # bad or conflicting settings fail before any work
    lines = list(lines)
    docs = [nlp.make_doc(line) for line in lines]
    stored = translator.cfg["store_attention"]
    translator.cfg["store_attention"] = stored or attention
    try:
        results = translator.translate_docs(docs, **settings)
    finally:
        translator.cfg["store_attention"] = stored
    n_return = settings.get("num_return_sequences", translator.generation.num_return_sequences)
    out = []
    for line, doc, result in zip(lines, docs, results):
        if result is None:  # an empty source
            result = {"text": "", "tokens": [], "logprobs": [], "score": 0.0, "attention": []}
            if n_return > 1:
                result["alternatives"] = [""] * n_return
        item = {"source": line, "translation": result["text"], "tokens": result["tokens"],
                "logprobs": result["logprobs"], "score": result["score"]}
        if "alternatives" in result:
            item["alternatives"] = result["alternatives"]
        if attention:
            item["source_tokens"] = [t.text for t in lm_tokens(doc)]
            item["attention"] = result.get("attention") or []
        out.append(item)
    return out


def stream_pieces(translator: Any, text: str, **settings: Any) -> Iterator[str]:
    """``translator.stream(text)`` as text pieces: joined, they give the detokenised text of
    the streamed tokens (each piece carries the space that belongs before its token)."""
    from ..text.detokenize import detokenize_text

    tokens: List[str] = []
    emitted = ""
    for token in translator.stream(text, **settings):
        tokens.append(token)
        text_so_far = detokenize_text(tokens)
        piece, emitted = text_so_far[len(emitted):], text_so_far
        yield piece


def _settings(num_beams: Optional[int], num_return: Optional[int], do_sample: bool, seed: Optional[int],
              length_penalty: Optional[float], max_new_tokens: Optional[int],
              no_repeat_ngram_size: Optional[int]) -> Dict[str, Any]:
    """The given options as GenerationConfig settings, checked before the pipeline loads
    (what they must be together with the component's own settings is checked after)."""
    check_option(num_beams is None or num_beams >= 1, "--num-beams", "an integer >= 1", num_beams)
    check_option(num_return is None or num_return >= 1, "--num-return", "an integer >= 1", num_return)
    if num_return is not None and num_return > 1 and not do_sample:
        check_option(num_beams is not None and num_return <= num_beams, "--num-return",
                     f"at most --num-beams ({num_beams or 1}) without --sample", num_return)
    check_option(not (do_sample and num_beams is not None and num_beams > 1), "--sample",
                 "used with --num-beams 1 (beam sampling is not supported)", num_beams)
    check_option(seed is None or seed >= 0, "--seed", "an integer >= 0", seed)
    check_option(length_penalty is None or math.isfinite(length_penalty), "--length-penalty", "a finite number",
                 length_penalty)
    check_option(max_new_tokens is None or max_new_tokens >= 1, "--max-new-tokens", "an integer >= 1",
                 max_new_tokens)
    check_option(no_repeat_ngram_size is None or no_repeat_ngram_size >= 0, "--no-repeat-ngram-size",
                 "an integer >= 0 (0 turns it off)", no_repeat_ngram_size)
    given = {"num_beams": num_beams, "num_return_sequences": num_return, "seed": seed,
             "length_penalty": length_penalty, "max_new_tokens": max_new_tokens,
             "no_repeat_ngram_size": no_repeat_ngram_size}
    settings = {key: value for key, value in given.items() if value is not None}
    if do_sample:
        settings["do_sample"] = True
    return settings


MODEL = typer.Argument(..., help="Pipeline name or path, with a translator component")
TEXT = typer.Argument(None, help="Source text; omit (or '-') to read stdin, one source per line")
BEAMS = typer.Option(None, "--num-beams", help="Beam size (default: the component's; 1: greedy)")
RETURN = typer.Option(None, "--num-return", help="Translations per source (num_return_sequences)")
SAMPLE = typer.Option(False, "--sample/--no-sample", help="Sample each token instead of greedy/beam search")
SEED = typer.Option(None, "--seed", help="Seed for --sample")
LENGTH_PENALTY = typer.Option(None, "--length-penalty", help="Beam length penalty (default: the component's)")
MAX_NEW = typer.Option(None, "--max-new-tokens", "-n", help="Most output tokens (default: from the source length)")
NO_REPEAT = typer.Option(None, "--no-repeat-ngram-size", help="Ban repeated n-grams of this size (0: off)")
COMPONENT = typer.Option(None, "--component", "-c", help="translator component (default: the first)")
JSON = typer.Option(False, "--json", help="One JSON object per source")
STREAM = typer.Option(False, "--stream", help="Print tokens as they are decided, one source at a time")
ATTENTION = typer.Option(None, "--attention", dir_okay=False,
                         help="Write an HTML view of the attention (displaCy style) to this file")


def translate_cli(model: str = MODEL, text: Optional[str] = TEXT, num_beams: Optional[int] = BEAMS,
                  num_return: Optional[int] = RETURN, do_sample: bool = SAMPLE, seed: Optional[int] = SEED,
                  length_penalty: Optional[float] = LENGTH_PENALTY, max_new_tokens: Optional[int] = MAX_NEW,
                  no_repeat_ngram_size: Optional[int] = NO_REPEAT, component: Optional[str] = COMPONENT,
                  as_json: bool = JSON, stream_output: bool = STREAM,
                  attention_path: Optional[Path] = ATTENTION) -> None:
    """Translate TEXT (or each stdin line) with the pipeline's translator: one translation per
    line, or with --num-return N the N best (tab-separated)."""
    import spacy

    from ..pipeline_lookup import find_translator_component

    settings = _settings(num_beams, num_return, do_sample, seed, length_penalty, max_new_tokens,
                         no_repeat_ngram_size)
    check_option(not (stream_output and (as_json or attention_path is not None)), "--stream",
                 "used without --json or --attention", "--json" if as_json else "--attention")
    if attention_path is not None:
        check_option(attention_path.parent.is_dir(), "--attention", "a file in an existing directory",
                     str(attention_path))
    nlp = spacy.load(model)
    translator = nlp.get_pipe(find_translator_component(nlp, component))
    translator.generation.replace(**settings)
    lines = [text] if text not in (None, "-") else (line.rstrip("\r\n") for line in stdin_lines())
    if stream_output:
        for line in lines:
            for piece in stream_pieces(translator, nlp.make_doc(line), **settings):
                typer.echo(piece, nl=False)
                sys.stdout.flush()
            typer.echo()
            sys.stdout.flush()
        return
    results = translate_lines(nlp, lines, component=component, attention=attention_path is not None, **settings)
    for item in results:
        if as_json:
            typer.echo(dumps({key: item[key] for key in JSON_FIELDS if key in item}))
        else:
            # the best first as translated (<unk> replaced), then the other beams/samples
            typer.echo("\t".join([item["translation"], *item.get("alternatives", [])[1:]]))
    if attention_path is not None:
        from ..analysis.visualize import render_attention

        attention_path.write_text(render_attention(results, title=f"spacy-lm translation attention: {model}"),
                                  encoding="utf-8")
        typer.echo(f"wrote {attention_path}", err=True)
