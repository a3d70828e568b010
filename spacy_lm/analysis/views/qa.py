"""The qa view: what a `qa` component reads in a context for a question. Per (question, context)
the predicted answer highlighted in the context, then one row of tokens shaded by each token's
probability of starting the answer and one by its probability of ending it, so a near miss
(a second peak, a start without a matching end) is visible at a glance.

Its data, :func:`qa_items`, are plain dicts (JSON as `spacy lm explain --json` prints them), so a
saved view renders again the same way; :func:`render_qa` draws them.
"""
import html
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from .page import STYLE, deliver
from .tokens import VIEW_STYLE, Item, as_items, check_lengths, sequential_colour, token_span

START_RGB = (33, 102, 172)  # blue
END_RGB = (230, 97, 1)  # orange
ANSWER_COLOUR = "rgba(255, 204, 0, 0.65)"
QA_STYLE = """
.slm-qa .question { font-weight: bold; }
.slm-qa .answer-badge { background: %s; padding: 0 0.4em; border-radius: 0.25em; font-weight: bold; }
.slm-qa .tok.ans { outline: 2px solid #222; }
.slm-qa .others { display: block; font-size: 0.85em; color: #555; }
.slm-legend .qa-bar { display: inline-block; width: 10em; height: 1em; vertical-align: middle; margin: 0 0.4em;
  border: 1px solid #999; }
""" % ANSWER_COLOUR


def answer_token_range(starts: Sequence[int], ends: Sequence[int], start_char: int, end_char: int) -> List[int]:
    """``[first, last + 1)``: the tokens (by character ``starts`` / ``ends``) the characters
    ``[start_char, end_char)`` overlap; an empty range where none does."""
    inside = [i for i, (s, e) in enumerate(zip(starts, ends)) if s < end_char and e > start_char]
    return [inside[0], inside[-1] + 1] if inside else [0, 0]


def qa_items(qa: Any, contexts: Iterable[str], questions: Sequence[str], *, top_k: int = 3,
             name: str = "qa") -> List[Dict[str, Any]]:
    """One item per (context, question) of the `qa` component ``qa`` (named ``name``), contexts in
    the outer loop: ``component``, ``question``, ``text`` (the context), ``tokens``,
    ``whitespace``, ``start_probs`` / ``end_probs`` (per token: its probability of starting /
    ending the answer), ``answers`` (the ``top_k`` best spans, best first: ``text``,
    ``start_char``, ``end_char``, ``score``) and ``answer_tokens`` (the best answer's tokens,
    ``[first, last + 1)``). `spacy lm explain` finds the component and checks the input
    (spacy_lm/cli/ask.py)."""
    questions = list(questions)
    items = []
    for context in contexts:
        answers = qa.answer(questions, context, top_k=top_k) if questions else []
        for question, found in zip(questions, answers):
            doc, start_probs, end_probs = qa.span_probabilities(question, context)
            best = [{"text": a["text"], "start_char": int(a["start_char"]), "end_char": int(a["end_char"]),
                     "score": float(a["score"])} for a in found]
            starts = [t.idx for t in doc]
            ends = [t.idx + len(t.text) for t in doc]
            span = answer_token_range(starts, ends, best[0]["start_char"], best[0]["end_char"]) if best else [0, 0]
            items.append({"component": name, "question": question, "text": doc.text,
                          "tokens": [t.text for t in doc], "whitespace": [t.whitespace_ for t in doc],
                          "start_probs": [float(p) for p in start_probs], "end_probs": [float(p) for p in end_probs],
                          "answers": best, "answer_tokens": span})
    return items


def _row(label: str, item: Item, values: Optional[Sequence[float]], scale: float, rgb, what: str) -> str:
    """One row of the context's tokens: shaded by ``values`` (None: the answer highlighted)."""
    first, end = item.get("answer_tokens") or [0, 0]
    cells = []
    for i, (token, space) in enumerate(zip(item["tokens"], item["whitespace"])):
        in_answer = first <= i < end
        if values is None:
            colour = ANSWER_COLOUR if in_answer else "transparent"
            title = f"{token}: in the answer" if in_answer else token
        else:
            colour = sequential_colour(values[i], scale, rgb)
            title = f"{token}: P({what}) = {values[i]:.4f}"
        cells.append(token_span(token, space, colour, title, cls="tok ans" if in_answer else "tok"))
    return f'<span class="label-row"><span class="label">{html.escape(label)}</span>{"".join(cells)}</span>'


def _head(item: Item) -> str:
    answers = item.get("answers") or []
    head = (f'{html.escape(str(item.get("component", "qa")))}: <span class="question">'
            f'{html.escape(item["question"])}</span> &rarr; ')
    if not answers:
        return head + "<i>no answer</i>"
    best = answers[0]
    title = f"characters {best['start_char']}-{best['end_char']} of the context; P(span) = {best['score']:.4f}"
    head += (f'<span class="answer-badge" title="{html.escape(title)}">{html.escape(best["text"])}</span> '
             f'<span class="num">p = {best["score"]:.3f}</span>')
    if len(answers) > 1:
        others = ", ".join(f"{html.escape(a['text'])} ({a['score']:.3f})" for a in answers[1:])
        head += f'<span class="others">next best: {others}</span>'
    return head


def qa_legend(scale: float) -> str:
    """The two shadings of a page, from 0 to ``scale`` (the largest probability shown)."""
    bars = "".join(f'{name} <span class="qa-bar" style="background: linear-gradient(to right, #ffffff, rgb{rgb})">'
                   f"</span>" for name, rgb in (("start", START_RGB), ("end", END_RGB)))
    return (f'<div class="slm-legend">Probability of each token starting / ending the answer, 0 to '
            f"<b>{scale:.3f}</b>: {bars} (hover a token for its value; "
            f'<span class="key" style="background: {ANSWER_COLOUR}">answer</span> the predicted span)</div>')


def render_qa(items: Union[Item, Iterable[Item]], *, page: bool = True, jupyter: Optional[bool] = None,
              title: str = "spacy-lm question answering") -> Optional[str]:
    """Per (question, context): the predicted answer highlighted in the context, then the
    context's tokens shaded by their start and end probabilities (one scale per page: the
    largest probability shown); ``items``: :func:`qa_items` dicts."""
    items_list = as_items(items)
    for i, item in enumerate(items_list):
        check_lengths("qa", i, item, ["whitespace", "start_probs", "end_probs"], len(item.get("tokens") or []))
    values = [v for item in items_list for key in ("start_probs", "end_probs") for v in item[key]]
    scale = max(values, default=0.0) or 1.0
    parts = []
    for item in items_list:
        rows = (_row("answer", item, None, scale, None, "")
                + _row("start", item, item["start_probs"], scale, START_RGB, "start")
                + _row("end", item, item["end_probs"], scale, END_RGB, "end"))
        parts.append(f'<div class="slm-lm slm-qa"><div class="doc-head">{_head(item)}</div>'
                     f'<div class="doc-body">{rows}</div></div>')
    fragment = f"<style>{STYLE}{VIEW_STYLE}{QA_STYLE}</style>{qa_legend(scale)}{''.join(parts)}"
    return deliver(fragment, page=page, jupyter=jupyter, title=title)
