"""Tiny fixtures: every model and corpus here is made inside the tests."""
import pytest
import spacy
from spacy.training import Example
from thinc.api import fix_random_seed

TINY_TEXTS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat saw a dog",
    "the dog saw the cat on the mat",
    "a dog and a cat sat",
] * 4

TINY_LM_CONFIG = {"model": {"width": 16, "depth": 1, "dropout": 0.0}, "max_length": 5}


def pytest_addoption(parser):
    parser.addoption("--gpu", action="store_true", default=False, help="also run tests that need a GPU")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--gpu"):
        return
    skip_gpu = pytest.mark.skip(reason="needs --gpu (CuPy and a GPU)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


def make_examples(nlp, texts=TINY_TEXTS):
    return [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts]


def train_tiny_lm(n_steps: int = 30, texts=TINY_TEXTS, config=None, learn_rate: float = 0.02):
    """A blank English pipeline with a trained tiny lstm_lm; returns (nlp, losses per step)."""
    from thinc.api import Adam

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_lm", config=config or TINY_LM_CONFIG)
    examples = make_examples(nlp, texts)
    nlp.initialize(lambda: examples)
    optimizer = Adam(learn_rate)
    history = []
    for _ in range(n_steps):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        history.append(losses["lstm_lm"])
    return nlp, history


@pytest.fixture(scope="session")
def trained_lm():
    nlp, history = train_tiny_lm()
    return nlp, history
