from .lstm_lm import LSTMLanguageModel, make_lstm_lm  # noqa: F401
