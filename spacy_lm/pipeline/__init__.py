from .lstm_lm import LSTMLanguageModel, make_lstm_lm  # noqa: F401
from .text_generator import TextGenerator, make_text_generator  # noqa: F401
from .ngram_lm import NGramLanguageModel, make_ngram_lm  # noqa: F401
from .weighted_textcat import (  # noqa: F401
    WeightedMultiLabelTextCategorizer,
    WeightedTextCategorizer,
    make_weighted_textcat,
    make_weighted_textcat_multilabel,
)
from .sentiment_scorer import SentimentScorer, make_sentiment_scorer  # noqa: F401
from .sentence_vae import SentenceVAE, make_sentence_vae  # noqa: F401
from .translator import Translator, make_translator  # noqa: F401
from .qa import QuestionAnswerer, make_qa  # noqa: F401
