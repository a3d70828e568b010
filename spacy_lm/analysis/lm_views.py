"""Data for the language-model views: token surprisal, two LMs compared, generation steps.

Each function returns plain dicts (str, float, int, None and lists of them: JSON- and
msgpack-able); they are what ``spacy_lm.analysis.visualize`` renders and what ``spacy lm explain
--json`` prints. Units: surprisal in bits (-log2 p), log-probabilities in nats, as the
``lm_*`` extensions (spacy_lm/extensions.py). A token the LM does not read (whitespace)
has surprisal None. Perplexity counts the closing ``<eos>``, as ``doc._.lm_perplexity``.
"""
import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..batching import prompt_ids
from ..decoding import GenerationConfig, generate
from ..text.detokenize import detokenize, detokenize_text
from ..errors import Errors
from ..pipeline_lookup import find_lm_component, pipe_up_to
from ..types import is_language_model

Text = Union[str, Doc]
# |difference| (bits) under which neither model counts as better at a token.
TIE_BITS = 1e-6


def _language_model(nlp: Language, component: Optional[str]) -> str:
    """The LM component's name, checked to implement the LM protocol."""
    name = find_lm_component(nlp, component)
    if not is_language_model(nlp.get_pipe(name)):
        raise ValueError(Errors.E030.format(lm=name))
    return name


def _scores(doc: Doc) -> Dict[str, Any]:
    return {"surprisals": list(doc._.lm_surprisals or [None] * len(doc)), "end_surprisal": doc._.lm_end_surprisal,
            "perplexity": doc._.lm_perplexity, "logprob": doc._.lm_logprob, "n_predicted": doc._.lm_n_predicted}


def surprisal_items(nlp: Language, texts: Iterable[Text], component: Optional[str] = None) -> List[Dict[str, Any]]:
    """Per text: ``text``, ``component``, ``tokens``, ``whitespace``, ``surprisals`` (bits per
    token), ``end_surprisal`` (the closing ``<eos>``), ``perplexity``, ``logprob`` (nats) and
    ``n_predicted``, under the LM ``component`` (default: the first)."""
    name = _language_model(nlp, component)
    return [doc_surprisal_item(doc, name) for doc in pipe_up_to(nlp, name, list(texts))]


def doc_surprisal_item(doc: Doc, component: Optional[str] = None) -> Dict[str, Any]:
    """One :func:`surprisal_items` dict from a doc an LM component has annotated."""
    if not Doc.has_extension("lm_surprisals") or doc._.lm_surprisals is None:
        raise ValueError(Errors.E185.format(view="surprisal", i=0, text=doc.text[:40],
                                            problem="the doc has no lm_surprisals (no LM component ran on it)"))
    return {"text": doc.text, "component": component, **_tokens(doc), **_scores(doc)}


def _tokens(doc: Doc) -> Dict[str, List[str]]:
    return {"tokens": [t.text for t in doc], "whitespace": [t.whitespace_ for t in doc]}


def compare_surprisal(nlp_a: Language, texts: Iterable[Text], *, nlp_b: Optional[Language] = None,
                      component_a: Optional[str] = None, component_b: Optional[str] = None,
                      names: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    """Two LMs on the same texts, token by token: two components of ``nlp_a`` (``nlp_b``
    None; ``component_b`` defaults to the first other LM) or ``nlp_a`` against ``nlp_b`` (a
    model before and after fine-tuning). Per text: ``text``, ``tokens``, ``whitespace``,
    ``names``, ``components``, ``a`` and ``b`` (each as :func:`surprisal_items` scores),
    ``diff`` (a − b in bits per token: > 0 where b is less surprised, i.e. better) and
    ``end_diff``, and ``summary`` (:func:`comparison_summary` of the text). Tokens must
    align: two pipelines that tokenise a text differently raise E180."""
    texts = list(texts)
    name_a = _language_model(nlp_a, component_a)
    if nlp_b is None:
        nlp_b = nlp_a
        name_b = _language_model(nlp_a, component_b if component_b is not None else _other_lm(nlp_a, name_a))
        if name_b == name_a:
            raise ValueError(Errors.E182.format(name=name_a))
    else:
        name_b = _language_model(nlp_b, component_b)
    names = list(names) if names is not None else _default_names(nlp_a, nlp_b, name_a, name_b)
    if len(names) != 2 or not all(isinstance(n, str) and n for n in names) or names[0] == names[1]:
        raise ValueError(Errors.E181.format(names=names))
    docs_a = pipe_up_to(nlp_a, name_a, texts)
    docs_b = pipe_up_to(nlp_b, name_b, texts)
    items = []
    for i, (doc_a, doc_b) in enumerate(zip(docs_a, docs_b)):
        _check_aligned(i, doc_a, doc_b, names)
        a, b = _scores(doc_a), _scores(doc_b)
        item = {"text": doc_a.text, **_tokens(doc_a), "names": names, "components": [name_a, name_b], "a": a, "b": b,
                "diff": [_minus(x, y) for x, y in zip(a["surprisals"], b["surprisals"])],
                "end_diff": _minus(a["end_surprisal"], b["end_surprisal"])}
        item["summary"] = comparison_summary([item])
        items.append(item)
    return items


def _other_lm(nlp: Language, name: str) -> str:
    for pipe_name, pipe in nlp.pipeline:
        if pipe_name != name and is_language_model(pipe):
            return pipe_name
    raise ValueError(Errors.E183.format(name=name, names=nlp.pipe_names))


def _default_names(nlp_a: Language, nlp_b: Language, name_a: str, name_b: str) -> List[str]:
    """Component names within one pipeline; for two, the pipelines' names (or A / B) first."""
    if nlp_a is nlp_b:
        return [name_a, name_b]
    meta_a, meta_b = nlp_a.meta.get("name") or "", nlp_b.meta.get("name") or ""
    if meta_a and meta_b and meta_a != meta_b:
        return [f"{meta_a}/{name_a}", f"{meta_b}/{name_b}"]
    return [f"A: {name_a}", f"B: {name_b}"]


def _check_aligned(i: int, doc_a: Doc, doc_b: Doc, names: Sequence[str]) -> None:
    tokens_a, tokens_b = [t.text for t in doc_a], [t.text for t in doc_b]
    if tokens_a == tokens_b:
        return
    j = next((k for k, (x, y) in enumerate(zip(tokens_a, tokens_b)) if x != y), min(len(tokens_a), len(tokens_b)))
    token_a = tokens_a[j] if j < len(tokens_a) else "(end)"
    token_b = tokens_b[j] if j < len(tokens_b) else "(end)"
    raise ValueError(Errors.E180.format(name_a=names[0], name_b=names[1], i=i, text=doc_a.text[:40], j=j,
                                        token_a=token_a, token_b=token_b))


def _minus(x: Optional[float], y: Optional[float]) -> Optional[float]:
    return None if x is None or y is None else x - y


def comparison_summary(items: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Pooled over the tokens both LMs scored in ``items`` (the closing ``<eos>`` left out:
    it is no token of the text): ``n_tokens``, ``better_a`` / ``better_b`` / ``ties``
    (fractions of them; better = fewer bits), ``mean_diff`` (mean a − b, bits) and each
    side's pooled ``perplexity_a`` / ``perplexity_b`` (the ``<eos>`` included, as always)."""
    diffs = [d for item in items for d in item["diff"] if d is not None]
    n = len(diffs)
    summary: Dict[str, Any] = {
        "n_tokens": n,
        "better_a": sum(d < -TIE_BITS for d in diffs) / n if n else None,
        "better_b": sum(d > TIE_BITS for d in diffs) / n if n else None,
        "ties": sum(abs(d) <= TIE_BITS for d in diffs) / n if n else None,
        "mean_diff": sum(diffs) / n if n else None,
    }
    for side in ("a", "b"):
        logprob = sum(item[side]["logprob"] or 0.0 for item in items)
        n_predicted = sum(item[side]["n_predicted"] for item in items)
        summary[f"perplexity_{side}"] = math.exp(-logprob / n_predicted) if n_predicted else None
    return summary


def generation_items(nlp: Language, prompts: Iterable[Text], lm: Optional[str] = None, top_alternatives: int = 5,
                     **generation_settings: Any) -> List[Dict[str, Any]]:
    """Continue each prompt with LM ``lm`` (default: the first) and record every step. Per
    prompt: ``prompt``, ``component``, ``generations`` (``num_return_sequences`` of them), each
    with ``text``, ``tokens`` (the vocabulary's), ``words`` and ``whitespace`` (as displayed:
    spacy_lm/text/detokenize.py), ``token_ids``, ``logprobs`` (nats, the model's
    own), ``alternatives`` (per token, the ``top_alternatives`` best ``{"token_id", "token",
    "logprob"}`` of the distribution it was chosen from, before sampling warps: see
    spacy_lm/decoding/), ``score`` and ``finish_reason``. ``generation_settings``: HF
    ``generate()`` names, as :class:`spacy_lm.decoding.GenerationConfig`."""
    config = GenerationConfig(top_alternatives=top_alternatives, **generation_settings)
    name = _language_model(nlp, lm)
    model = nlp.get_pipe(name)
    docs = [p if isinstance(p, Doc) else nlp.make_doc(p) for p in prompts]
    results = generate(model, [prompt_ids(model.lm_vocab, doc) for doc in docs], config, detokenize=detokenize_text)
    return [{"prompt": doc.text, "component": name, "generations": [_generation_dict(g) for g in generations]}
            for doc, generations in zip(docs, results)]


def _generation_dict(generation) -> Dict[str, Any]:
    data = generation.to_dict()
    words, spaces = detokenize(generation.tokens)
    alternatives = data.pop("alternatives", None) or [[] for _ in generation.tokens]
    return {"text": detokenize_text(generation.tokens), **data, "words": words,
            "whitespace": [" " if s else "" for s in spaces], "alternatives": alternatives}
