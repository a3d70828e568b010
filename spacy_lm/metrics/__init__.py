"""Scorers for `spacy train` / `spacy evaluate` and the maths behind them."""
