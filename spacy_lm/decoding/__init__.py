"""Text generation for any :class:`spacy_lm.types.LanguageModel`: greedy, sampling, beam search.

Decoding is written once, against the protocol alone, so every language model generates
text the same way. Settings take the names and meanings of HuggingFace ``generate()`` so
habits carry over; where this package differs or chooses, it says so here.

* All prompts are decoded as one batch: ``lm.prime`` once, then one ``lm.step`` per position
  for the rows still running. Finished rows are dropped with ``select_state``; no prefix is
  ever read twice.
* Processors run in HF's order on the model's log-probabilities: ``repetition_penalty``
  (log-probs of tokens already seen, prompt included, are multiplied by the penalty),
  ``no_repeat_ngram_size`` (prompt included, as HF), ``min_new_tokens`` (bans ``<eos>`` and
  ``stop_token_ids``); then, when sampling, ``temperature``, ``top_k``, ``top_p``, ``min_p``,
  ``typical_p``. Should the processors ban every token of a row, that row ends with ``<eos>``.
* ``<eos>`` ends a sequence and is not returned. A token of ``stop_token_ids`` ends it and
  *is* returned (it is a real word, such as "."), like the token completing a stop string.
* Stop strings: after each new token, ``detokenize(generated tokens)`` is searched. The token
  that completes a stop string is the last one returned, so the text keeps the stop string
  (as HF does) and ends within that token; nothing after it is generated.
* ``Generation.logprobs`` are the model's unmodified log-probs of the returned tokens; for
  greedy decoding and sampling ``score`` is their sum. For beam search ``score`` is HF's beam
  score: the sum of the *processed* log-probs of every step (a final ``<eos>`` included),
  divided by ``steps ** length_penalty``, where ``steps`` counts that ``<eos>`` step too (as
  HF's vectorised beam search).
* Beam search is HF's: ``2 * num_beams`` candidates per step, a finishing candidate counts
  only if it ranks among the best ``num_beams``, and ``early_stopping`` True / False as HF
  (``"never"`` and beam sampling are not supported). When the vocabulary is too small to
  fill the beams, a prompt can return fewer than ``num_return_sequences`` hypotheses.
* Sampling draws one uniform number per running row and step from
  ``numpy.random.default_rng(seed)`` on the host, and inverts the CDF on ``ops.xp`` arrays,
  so NumPy and CuPy run the same code. The draws follow the rows of the batch: the same
  prompts, settings and seed give the same text, but a prompt sampled alone and within a
  batch draws different numbers.
* The model's log-probs must be finite: after ``prime`` and every ``step`` they are checked,
  before any processor writes its ``-inf`` bans, and NaN or an infinity raises E079 naming
  the LM component (its weights are not finite); nothing is generated from them.
* ``top_alternatives=k`` records, for every returned token, the ``k`` most likely tokens of the
  distribution it was chosen from (``Generation.alternatives``: ``{"token_id", "token",
  "logprob"}`` dicts, best first). They are the model's own log-probs, read before any
  processor or warper (repetition penalty, bans, temperature, top-k/p), so a token the
  processors banned (``<eos>`` under ``min_new_tokens``) can be listed, and when sampling the
  chosen token need not be the first. For beam search they are the step's distribution after
  the chosen hypothesis' own prefix (its parent beam). With ``k = 0`` (the default) nothing
  is computed and ``alternatives`` is None.
"""
from .config import GenerationConfig
from .context import Detokenize
from .decoder import generate, stream
from .outputs import FINISH_REASONS, Alternative, Generation, StreamToken

__all__ = ["Alternative", "Detokenize", "FINISH_REASONS", "Generation", "GenerationConfig", "StreamToken",
           "generate", "stream"]
