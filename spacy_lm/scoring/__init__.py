"""Corpus scoring at scale (`spacy lm score`), one module per job: settings.py (what a run does),
scorer.py (texts in, scores out) over token_ids.py (the score-only path: texts → ids → totals),
ranges.py (the input ranges a worker reads), worker.py (a range scored into part files, in each
worker), engines.py (local processes, Ray Data), shards.py (records to rows and rejects),
parts.py and output.py (the files), manifest.py, digests.py and stopping.py (stopping and
resuming safely), run.py (``score_corpus``, which ties them)."""
from .output import read_rows
from .run import score_corpus
from .settings import ScoreSettings

__all__ = ["ScoreSettings", "read_rows", "score_corpus"]
