"""N-gram language models over token ids, in numpy: interpolated modified Kneser-Ney estimation
(:mod:`.kneser_ney`, as KenLM's ``lmplz``), the ARPA-equivalent backoff model that answers
queries (:mod:`.model`), and ARPA files in and out (:mod:`.arpa`).

N-gram statistics live on the host (they are integer counts and table look-ups, not model
weights that benefit from a GPU), so this package uses numpy directly rather than Thinc ops,
and imports nothing from spaCy or Thinc (``benchmarks/ngram.py`` measures it alone).
"""
from .arpa import read_arpa, write_arpa
from .kneser_ney import (DEFAULT_FALLBACK, FALLBACK_RANGE, check_discount_fallback, check_prune, estimate,
                         sentence_stream)
from .model import BOS_LOG10, LN10, NGramModel, log10_to_ln

__all__ = ["BOS_LOG10", "DEFAULT_FALLBACK", "FALLBACK_RANGE", "LN10", "NGramModel", "check_discount_fallback",
           "check_prune", "estimate", "log10_to_ln", "read_arpa", "sentence_stream", "write_arpa"]
