"""The package version, in one place: setup.cfg reads it (``attr:``), saved components record it,
and importing it runs no other spacy_lm module (so a component can import it without a cycle)."""
__version__ = "0.1.0"
