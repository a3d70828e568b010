from .lstm_lm import build_lstm_language_model  # noqa: F401
from .textcat_lstm import build_textcat_lstm  # noqa: F401
from .listener import LSTMLMListener, build_lstm_lm_listener  # noqa: F401
from .lexicon_sentiment import build_lexicon_sentiment  # noqa: F401
from .sentiment_lstm import build_sentiment_lstm  # noqa: F401
from .sentence_vae import build_sentence_vae  # noqa: F401
from .seq2seq import build_seq2seq_attention  # noqa: F401
from .span_reader import build_span_reader  # noqa: F401
