"""Corpus readers for `spacy train` and the tools: plain text and streams, HuggingFace datasets, labelled text, parallel text, web-scale sources.

Importing the package registers every reader (``spacy_lm.<Name>Corpus.v1``, ``spacy_lm.HFDataset.v1``).
"""
from . import hf_datasets, labelled, mixture, parallel, plain_text, sentences, web  # noqa: F401
