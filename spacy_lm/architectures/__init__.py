from .lstm_lm import build_lstm_language_model  # noqa: F401
from .textcat_lstm import build_textcat_lstm  # noqa: F401
from .listener import LSTMLMListener, build_lstm_lm_listener  # noqa: F401
