"""Corpus scoring at scale (`spacy lm score`): settings, scorer, shards and manifest, engines."""
