"""`spacy lm explain MODEL TEXT [--view ...] [--html out.html] [--json]`: what a pipeline does with
a text. Views: ``sentiment`` (token contributions to the polarity), ``textcat`` (integrated
gradients per label), ``surprisal`` (the LM's surprise per token; with ``--compare`` or
``--compare-component`` two LMs side by side), ``generation`` (each generated token with the
step's top alternatives) and ``qa`` (a `qa` component's answer to ``--question`` about TEXT, the
context: the answer highlighted, each token shaded by its start and end probability). ``auto``
picks qa when a question is given, else the first of qa, sentiment, textcat, surprisal that
the pipeline can show. The data come from spacy_lm.analysis.explain, spacy_lm.analysis.lm_views
and (qa) spacy_lm.analysis.views.qa; the HTML from spacy_lm.analysis.visualize and
spacy_lm.analysis.views.qa; ``--json`` prints one object per text (per text and question for qa).
"""
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import typer

from ..errors import Errors
from ._util import check_option, dumps, stdin_lines

VIEWS = ("auto", "sentiment", "textcat", "surprisal", "generation", "qa")
QA_TOP_K = 3  # answers the qa view lists (the best highlighted, the others beside it)
# A view: (JSON objects, one per text; lines of the terminal summary; title -> HTML page).
ViewResult = Tuple[List[Dict[str, Any]], List[str], Callable[[str], str]]


def explain_cli(
    model: str = typer.Argument(..., help="Pipeline name or path"),
    text: str = typer.Argument(..., help="Text to explain; '-' reads texts from stdin, one per line"),
    view: str = typer.Option("auto", "--view", help="auto | sentiment | textcat | surprisal | generation | qa "
                             "(auto: qa with --question, else qa, sentiment, textcat or surprisal, whichever the "
                             "pipeline has first)"),
    compare: Optional[str] = typer.Option(None, "--compare", help="Another pipeline: compare its LM's surprisal "
                                          "with MODEL's, token by token (the same tokenisation is required)"),
    compare_component: Optional[str] = typer.Option(None, "--compare-component", help="Compare with this LM "
                                                    "component (of MODEL, or of --compare's pipeline)"),
    html_path: Optional[Path] = typer.Option(None, "--html", help="Write the view (displaCy style) to this file"),
    component: Optional[str] = typer.Option(None, "--component", "-c", help="The component to explain "
                                            "(default: the first that fits the view)"),
    labels: Optional[List[str]] = typer.Option(None, "--label", help="textcat: a label to show (repeatable; "
                                               "default: all)"),
    steps: int = typer.Option(32, "--steps", help="Integrated-gradient points (sentiment, textcat)"),
    max_new_tokens: int = typer.Option(20, "--max-new-tokens", "-n", help="generation: tokens to generate"),
    top_alternatives: int = typer.Option(5, "--top-alternatives", help="generation: alternatives per step"),
    do_sample: bool = typer.Option(False, "--sample/--greedy", help="generation: sample instead of greedy"),
    seed: Optional[int] = typer.Option(None, "--seed", help="generation: random seed for --sample"),
    as_json: bool = typer.Option(False, "--json", help="Print the view's data as JSON, one object per text"),
    questions: Optional[List[str]] = typer.Option(None, "--question", "-q", help="qa: a question about TEXT, "
                                                  "the context (repeatable)"),
) -> None:
    """Show what MODEL does with TEXT: sentiment or textcat attributions, LM surprisal (or two LMs
    compared), or generation steps."""
    import spacy

    check_option(view in VIEWS, "--view", f"one of {', '.join(VIEWS)}", view)
    check_option(steps >= 1, "--steps", "an integer >= 1", steps)
    check_option(max_new_tokens >= 1, "--max-new-tokens", "an integer >= 1", max_new_tokens)
    check_option(top_alternatives >= 0, "--top-alternatives", "an integer >= 0 (0: none)", top_alternatives)
    check_option(seed is None or seed >= 0, "--seed", "an integer >= 0", seed)
    comparing = compare is not None or compare_component is not None
    check_option(not comparing or view in ("auto", "surprisal"), "--view",
                 "auto or surprisal with --compare / --compare-component", view)
    texts = [text] if text != "-" else [line.rstrip("\n") for line in stdin_lines() if line.strip()]
    nlp = spacy.load(model)
    chosen = "surprisal" if comparing else "qa" if questions and view == "auto" else resolve_view(nlp, view)
    check_option(not labels or chosen == "textcat", "--label", "used with the textcat view only", labels)
    check_option(not questions or chosen == "qa", "--question", "used with the qa view only", questions)
    if comparing:
        other = spacy.load(compare) if compare is not None else None
        names = [model, compare] if compare is not None and compare != model else None
        items, lines, page = _comparison(nlp, texts, other, component, compare_component, names)
    elif chosen == "sentiment":
        items, lines, page = _sentiment(nlp, texts, component, steps)
    elif chosen == "textcat":
        items, lines, page = _textcat(nlp, texts, component, labels, steps)
    elif chosen == "surprisal":
        items, lines, page = _surprisal(nlp, texts, component)
    elif chosen == "qa":
        items, lines, page = _qa(nlp, texts, questions or [], component)
    else:
        items, lines, page = _generation(nlp, texts, component, max_new_tokens=max_new_tokens,
                                         top_alternatives=top_alternatives, do_sample=do_sample, seed=seed)
    for line in ([dumps(item) for item in items] if as_json else lines):
        typer.echo(line)
    if html_path is not None:
        title = f"spacy-lm {chosen} comparison: {model} vs {compare or compare_component}" if comparing \
            else f"spacy-lm {chosen}: {model}"
        html_path.write_text(page(title), encoding="utf-8")
        typer.echo(f"wrote {html_path}", err=as_json)


def resolve_view(nlp, view: str) -> str:
    """``auto``: the first view the pipeline can show (qa, sentiment, textcat, surprisal); E184 if none."""
    if view != "auto":
        return view
    from ..pipeline_lookup import find_lm_component, find_sentiment_component, find_textcat_component
    from .ask import find_qa_component

    finders: List[Tuple[str, Callable]] = [("qa", find_qa_component), ("sentiment", find_sentiment_component),
                                           ("textcat", find_textcat_component), ("surprisal", find_lm_component)]
    for name, find in finders:
        try:
            find(nlp)
            return name
        except ValueError:
            continue
    raise ValueError(Errors.E184.format(names=nlp.pipe_names))


# ---------------------------------------------------------------------------- one function per view
def _sentiment(nlp, texts: List[str], component: Optional[str], steps: int) -> ViewResult:
    from ..analysis.explain import explain_texts
    from ..analysis.visualize import render_sentiment

    docs = explain_texts(nlp, texts, component=component, steps=steps)
    items, lines = [], []
    for doc in docs:
        tokens = [[t.text, t._.sentiment_contribution] for t in doc]
        items.append({"text": doc.text, "polarity": doc._.sentiment_polarity, "label": doc._.sentiment_label,
                      "base": doc._.sentiment_base, "sentences": doc._.sentiment_sentences,
                      "probs": doc._.sentiment_probs, "tokens": tokens,
                      "tokens_skipped": doc._.sentiment_tokens_skipped})
        lines.append(f"polarity {doc._.sentiment_polarity:+.4f} ({doc._.sentiment_label}), "
                     f"baseline {doc._.sentiment_base or 0.0:+.4f}")
        lines += [f"  sentence {polarity:+.4f}  {doc[int(start):int(end)].text}"
                  for start, end, polarity in doc._.sentiment_sentences or []]
        lines += [f"  {value:+.4f}  {word}" for word, value in tokens if value]
        if doc._.sentiment_tokens_skipped:
            lines.append(f"  no token contributions: {doc._.sentiment_tokens_skipped}")
    return items, lines, lambda title: render_sentiment(docs, jupyter=False, title=title)


def _textcat(nlp, texts: List[str], component: Optional[str], labels: Optional[List[str]], steps: int) -> ViewResult:
    from ..analysis.explain import explain_textcat
    from ..analysis.visualize import render_textcat

    items = explain_textcat(nlp, texts, component=component, labels=labels or None, steps=steps)
    lines = []
    for item in items:
        lines.append(f"{item['component']}: {item['text']}")
        for label, info in item["labels"].items():
            ranked = sorted(zip(item["tokens"], info["attributions"]), key=lambda pair: -abs(pair[1]))[:3]
            top = ", ".join(f"{token} {value:+.3f}" for token, value in ranked)
            lines.append(f"  {label}: score {info['score']:.3f} (base {info['base']:.3f}, gap {info['gap']:.4f}); "
                         f"top tokens: {top}")
    return items, lines, lambda title: render_textcat(items, jupyter=False, title=title)


def _ppl_line(name: str, scores: Dict[str, Any]) -> str:
    ppl = scores["perplexity"]
    return f"{name}: perplexity {'n/a' if ppl is None else f'{ppl:.3f}'} ({scores['n_predicted']} predicted)"


def _surprisal(nlp, texts: List[str], component: Optional[str]) -> ViewResult:
    from ..analysis.lm_views import surprisal_items
    from ..analysis.visualize import render_surprisal

    items = surprisal_items(nlp, texts, component=component)
    lines = []
    for item in items:
        lines.append(f"{_ppl_line(item['component'], item)}  {item['text']}")
        scored = [(s, t) for t, s in zip(item["tokens"], item["surprisals"]) if s is not None]
        top = ", ".join(f"{t} {s:.2f}" for s, t in sorted(scored, key=lambda pair: -pair[0])[:5])
        if top:
            lines.append(f"  most surprising (bits): {top}")
    return items, lines, lambda title: render_surprisal(items, jupyter=False, title=title)


def _summary_text(names: List[str], summary: Dict[str, Any]) -> str:
    if not summary["n_tokens"]:
        return "no token scored by both"
    return (f"{names[0]} better on {summary['better_a']:.0%} of {summary['n_tokens']} tokens, {names[1]} on "
            f"{summary['better_b']:.0%} (ties {summary['ties']:.0%}); mean difference {summary['mean_diff']:+.3f} bits")


def _comparison(nlp, texts: List[str], other, component: Optional[str], compare_component: Optional[str],
                names: Optional[List[str]]) -> ViewResult:
    from ..analysis.lm_views import compare_surprisal, comparison_summary
    from ..analysis.visualize import render_surprisal_comparison

    items = compare_surprisal(nlp, texts, nlp_b=other, component_a=component, component_b=compare_component,
                              names=names)
    lines = []
    for item in items:
        names = item["names"]
        lines += [item["text"], f"  {_ppl_line(names[0], item['a'])}; {_ppl_line(names[1], item['b'])}",
                  f"  {_summary_text(names, item['summary'])}"]
    if len(items) > 1:
        pooled = comparison_summary(items)
        lines.append(f"all {len(items)} texts: {_summary_text(items[0]['names'], pooled)}")
    return items, lines, lambda title: render_surprisal_comparison(
        items, jupyter=False, title=title)


def _generation(nlp, texts: List[str], component: Optional[str], **settings: Any) -> ViewResult:
    from ..analysis.lm_views import generation_items
    from ..analysis.visualize import render_generation

    items = generation_items(nlp, texts, lm=component, **settings)
    lines = []
    for item in items:
        for gen in item["generations"]:
            lines.append(f"{item['prompt']} {gen['text']}".strip() + f"  [{gen['finish_reason']}, "
                         f"score {gen['score']:.3f}]")
            for word, logprob, alts in zip(gen["words"], gen["logprobs"], gen["alternatives"]):
                others = ", ".join(f"{alt['token']} {alt['logprob']:.2f}" for alt in alts)
                lines.append(f"  {word:<12} {logprob:8.3f}" + (f"   alternatives: {others}" if others else ""))
    return items, lines, lambda title: render_generation(items, jupyter=False, title=title)


def _qa(nlp, texts: List[str], questions: List[str], component: Optional[str]) -> ViewResult:
    from ..analysis.views.qa import qa_items, render_qa
    from .ask import check_question, find_qa_component, read_context

    if not questions:
        raise ValueError(Errors.E289)
    questions = [check_question(question) for question in questions]
    contexts = [read_context(text) if text != "-" else text for text in texts]  # TEXT may name a file
    name = find_qa_component(nlp, component)
    items = qa_items(nlp.get_pipe(name), contexts, questions, top_k=QA_TOP_K, name=name)
    lines = []
    for item in items:
        best = item["answers"][0] if item["answers"] else None
        found = f"{best['text']!r} (p {best['score']:.3f}, chars {best['start_char']}-{best['end_char']})" \
            if best else "no answer"
        lines.append(f"{item['component']}: {item['question']} -> {found}")
        for key, what in (("start_probs", "start"), ("end_probs", "end")):
            ranked = sorted(zip(item[key], item["tokens"]), key=lambda pair: -pair[0])[:3]
            lines.append(f"  most likely {what}: " + ", ".join(f"{token} {p:.3f}" for p, token in ranked))
    return items, lines, lambda title: render_qa(items, jupyter=False, title=title)
