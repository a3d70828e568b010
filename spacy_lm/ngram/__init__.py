from .kneser_ney import (BOS_LOG10, DEFAULT_FALLBACK, FALLBACK_RANGE, LN10, NGramModel,  # noqa: F401
                         check_discount_fallback, check_prune, estimate, log10_to_ln, read_arpa,
                         sentence_stream, write_arpa)
