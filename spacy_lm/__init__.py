"""spacy-lm: classic neural language modelling for spaCy.

Importing the package registers its components, architectures, layers, readers,
tokenizers and scorers. It stays cheap: no CuPy or PyTorch is imported here.
"""
__version__ = "0.1.0"

from . import annealing, architectures, layers, parallel, readers, scorers, tokenizer  # noqa: E402,F401
from .pipeline import LSTMLanguageModel  # noqa: E402,F401
