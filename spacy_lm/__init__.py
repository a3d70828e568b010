"""spacy-lm: classic neural language modelling for spaCy.

Importing the package registers its components, architectures, layers, readers,
tokenizers and scorers. It stays cheap: no CuPy or PyTorch is imported here.
"""
from .about import __version__  # noqa: F401

from . import architectures, layers  # noqa: E402,F401
from . import corpora  # noqa: E402,F401
from .metrics import scorers  # noqa: E402,F401
from .text import tokenizer  # noqa: E402,F401
from .training import schedules  # noqa: E402,F401
from .pipeline import LSTMLanguageModel  # noqa: E402,F401
