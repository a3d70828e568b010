"""Sample continuations of a few prompts from every language model; writes JSONL and prints them."""
import json
from pathlib import Path
from typing import List

import spacy
import typer
from spacy_lm.pipeline.text_generator import TextGenerator
from spacy_lm.pipeline_lookup import find_lm_component

PROMPTS = ["The game was", "In 1998 , the", "She was born in"]


def main(
    models: List[Path] = typer.Argument(..., help="Pipelines with an LM component"),
    output: Path = typer.Option(..., "--output", help="JSONL file, one line per prompt and model"),
    max_new_tokens: int = typer.Option(30, "--max-new-tokens"),
    top_p: float = typer.Option(0.9, "--top-p"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Nucleus sampling (and greedy for comparison) from each model."""
    settings = {"max_new_tokens": max_new_tokens, "no_repeat_ngram_size": 3}
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as file_:
        for path in models:
            nlp = spacy.load(path)
            lm = find_lm_component(nlp)
            generator = TextGenerator(nlp, "project_generator", lm=lm, generation=settings)
            typer.echo(f"== {lm} ({path})")
            for mode, options in (("sample", {"do_sample": True, "top_p": top_p, "seed": seed}), ("greedy", {})):
                for prompt, docs in zip(PROMPTS, generator.generate(PROMPTS, **options)):
                    text = docs[0].text
                    typer.echo(f"[{mode}] {prompt} {text}")
                    file_.write(json.dumps({"model": str(path), "lm": lm, "mode": mode, "prompt": prompt,
                                            "text": text}) + "\n")


if __name__ == "__main__":
    typer.run(main)
