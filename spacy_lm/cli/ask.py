"""`spacy lm ask MODEL QUESTION --context TEXT|FILE [--top-k 3] [--json]`: a trained `qa`
component from the command line.

``ask`` is the library function (tests call it directly); the command is a thin shell over it.
``find_qa_component`` and ``read_context`` are shared with the qa view of `spacy lm explain`.
A context is given as text or as the path of a UTF-8 file (``-``: stdin), so a paragraph with
quotes and newlines needs no shell quoting.
"""
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from spacy.language import Language

from ..errors import Errors
from ._util import check_option, dumps

QA_FACTORY = "qa"


def find_qa_component(nlp: Language, name: Optional[str] = None) -> str:
    """The named component, or the first made by the `qa` factory. A named component must answer
    questions (``answer`` and ``span_probabilities``); E040 for a name not in the pipeline,
    E285 for a pipeline without a qa component or a name that is not one."""
    if name is not None:
        if name not in nlp.pipe_names:
            raise ValueError(Errors.E040.format(name=name, names=nlp.pipe_names))
        pipe = nlp.get_pipe(name)
        if not (callable(getattr(pipe, "answer", None)) and callable(getattr(pipe, "span_probabilities", None))):
            raise ValueError(Errors.E285.format(what=f"component '{name}' (a {nlp.get_pipe_meta(name).factory}) "
                                                "is not a qa component", names=nlp.pipe_names))
        return name
    for pipe_name in nlp.pipe_names:
        if nlp.get_pipe_meta(pipe_name).factory == QA_FACTORY:
            return pipe_name
    raise ValueError(Errors.E285.format(what="the pipeline has no qa component", names=nlp.pipe_names))


def read_context(value: str) -> str:
    """``--context``: the path of a UTF-8 file (its whole content), ``-`` (stdin, whole), or the
    text itself. Bytes that are not UTF-8 are E287 naming the offset; an empty context E286."""
    source, raw = "--context", None
    if value == "-":
        source, stream = "stdin", getattr(sys.stdin, "buffer", None)
        raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
    else:
        try:
            path = Path(value)
            if path.is_file():
                source, raw = str(path), path.read_bytes()
        except (OSError, ValueError):  # a text too long or odd to be a file name is text
            pass
    if raw is None:
        text = value
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(Errors.E287.format(source=source, byte=raw[err.start], offset=err.start)) from None
        text = text.lstrip("\ufeff")  # a byte-order mark is not part of the text
    if not text.strip():
        raise ValueError(Errors.E286.format(source=source))
    return text


def check_question(question: str) -> str:
    """The question, stripped; an empty one is E288 (one line) rather than an answer to nothing."""
    if question is None or not question.strip():
        raise ValueError(Errors.E288.format(question=question))
    return question.strip()


def ask(nlp: Language, question: str, context: str, *, top_k: int = 3,
        component: Optional[str] = None) -> Dict[str, Any]:
    """The ``top_k`` best answers of the pipeline's qa component to ``question`` about ``context``:
    ``{"question", "component", "answers": [{"rank", "text", "start_char", "end_char", "score"}]}``,
    best first; ``context[start_char:end_char] == text``; score: the span's probability."""
    check_option(isinstance(top_k, int) and top_k >= 1, "--top-k", "an integer >= 1", top_k)
    question = check_question(question)
    if not context or not context.strip():
        raise ValueError(Errors.E286.format(source="--context"))
    name = find_qa_component(nlp, component)
    found = nlp.get_pipe(name).answer([question], context, top_k=top_k)[0]
    answers = [{"rank": rank, "text": a["text"], "start_char": int(a["start_char"]), "end_char": int(a["end_char"]),
                "score": float(a["score"])} for rank, a in enumerate(found, 1)]
    return {"question": question, "component": name, "answers": answers}


def answer_table(result: Dict[str, Any]) -> List[str]:
    """The terminal table: rank, score, character offsets, the answer text (newlines shown as ⏎)."""
    lines = [f"Q: {result['question']}", f"{'rank':>4}  {'score':>7}  {'start':>6}  {'end':>6}  answer"]
    for a in result["answers"]:
        text = " ".join(a["text"].replace("\n", " ⏎ ").split())
        score = f"{a['score']:.4f}" if a["score"] >= 1e-4 or a["score"] == 0 else f"{a['score']:.1e}"
        lines.append(f"{a['rank']:>4}  {score:>7}  {a['start_char']:>6}  {a['end_char']:>6}  {text}")
    if not result["answers"]:
        lines.append("  (no answer: the context has no token to answer with)")
    return lines


MODEL = typer.Argument(..., help="Pipeline name or path, with a qa component")
QUESTION = typer.Argument(..., help="The question to ask about the context")
CONTEXT = typer.Option(..., "--context", help="The context: its text, or the path of a UTF-8 file holding it "
                       "('-': read it from stdin)")
TOP_K = typer.Option(3, "--top-k", "-k", help="Answers to show, best first")
JSON = typer.Option(False, "--json", help="Print one JSON object: question, component, answers")
COMPONENT = typer.Option(None, "--component", "-c", help="qa component (default: the first)")


def ask_cli(model: str = MODEL, question: str = QUESTION, context: str = CONTEXT, top_k: int = TOP_K,
            as_json: bool = JSON, component: Optional[str] = COMPONENT) -> None:
    """Answer QUESTION from the context with the pipeline's qa component: the top-k answer spans
    with their probabilities and character offsets in the context."""
    import spacy

    check_option(top_k >= 1, "--top-k", "an integer >= 1", top_k)
    question = check_question(question)
    text = read_context(context)  # all input checked before the pipeline loads
    nlp = spacy.load(model)
    result = ask(nlp, question, text, top_k=top_k, component=component)
    if as_json:
        typer.echo(dumps(result))
    else:
        for line in answer_table(result):
            typer.echo(line)
