"""Pipelines, a sample text file and offline HuggingFace settings for the corpus reader tests."""
import pytest
import spacy

from .samples import TEXT


@pytest.fixture
def nlp():
    return spacy.blank("en")


@pytest.fixture
def ws_nlp():
    return spacy.blank(
        "en", config={"nlp": {"tokenizer": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}}
    )


@pytest.fixture
def txt(tmp_path):
    path = tmp_path / "wiki.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network: env vars for subprocesses/fresh imports, and the already-read config."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytest.importorskip("datasets", reason='datasets is an extra: pip install -e ".[dev,datasets]"')
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    return str(tmp_path / "cache")
