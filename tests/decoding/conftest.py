import pytest


@pytest.fixture
def lstm(trained_lm):
    nlp, _ = trained_lm
    return nlp.get_pipe("lstm_lm")
