"""Corpus readers for `spacy train` and the tools: plain text and streams, HuggingFace datasets, labelled text, parallel text, web-scale sources."""
