from .lstm_lm import build_lstm_language_model  # noqa: F401
