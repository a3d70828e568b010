"""spacy_lm/pipeline_lookup.py, and the import graph of the sentiment / scorer modules (no circles)."""
import ast
from pathlib import Path

import pytest
import spacy

import spacy_lm
from spacy_lm.pipeline_lookup import find_lm_component, find_sentiment_component

PACKAGE = Path(spacy_lm.__file__).parent


def _imports(module: str):
    """spacy_lm modules that ``module`` imports anywhere (top level or inside functions)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = [f"{target}.{alias.name}" for alias in node.names if _exists(f"{target}.{alias.name}")]
            # `from pkg import submodule` counts as the submodule, as `from .sub import x` counts as
            # sub and not the package (both run the package's __init__ first, which is already running)
            names = submodules + ([target] if len(submodules) < len(node.names) else [])
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("spacy_lm") and _exists(name):
                found.add(name)
    return found


def _exists(module: str) -> bool:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _reachable(start: str):
    seen, todo = set(), [start]
    while todo:
        for name in _imports(todo.pop()):
            if name not in seen and not name == "spacy_lm":
                seen.add(name)
                todo.append(name)
    return seen


@pytest.mark.parametrize("module", ["spacy_lm.analysis.explain", "spacy_lm.metrics.scorers", "spacy_lm.corpora.corpus",
                                    "spacy_lm.pipeline_lookup", "spacy_lm.pipeline.sentiment_scorer",
                                    "spacy_lm.architectures.sentiment_lstm", "spacy_lm.architectures.textcat_lstm",
                                    "spacy_lm.layers.sequence"])
def test_no_import_circle(module):
    assert module not in _reachable(module)


def test_explain_does_not_import_the_component():
    assert "spacy_lm.pipeline.sentiment_scorer" not in _reachable("spacy_lm.analysis.explain")
    assert "spacy_lm.analysis.explain" in _imports("spacy_lm.pipeline.sentiment_scorer")


def test_scorers_keep_only_scorers():
    import spacy_lm.metrics.scorers as scorers

    for name in ("find_lm_component", "read_corpus_docs", "corpus_perplexity", "make_sentiment_scorer"):
        assert not hasattr(scorers, name)


def test_lookups_name_the_offending_value():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    with pytest.raises(ValueError, match=r"E040.*'tagger'.*sentencizer"):
        find_lm_component(nlp, "tagger")
    with pytest.raises(ValueError, match=r"E041.*language-model.*sentencizer"):
        find_lm_component(nlp)
    with pytest.raises(ValueError, match=r"E041.*sentiment_scorer.*sentencizer"):
        find_sentiment_component(nlp)
    assert find_sentiment_component(nlp, "sentencizer") == "sentencizer"
