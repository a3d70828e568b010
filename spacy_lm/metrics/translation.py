"""Corpus-level translation metrics with sacreBLEU (no spaCy component logic here; the scorer
that reads Examples is `spacy_lm.translation_scorer.v1` in scorers.py).

All scores are on spaCy's 0-1 scale (its training table prints them x 100):

* ``translation_bleu``: sacreBLEU's corpus BLEU on the detokenised, cased text with its
  default 13a tokenizer: the number to compare across papers (with its signature,
  ``translation_bleu_signature``).
* ``translation_tok_bleu``: BLEU on lower-cased tokens, the convention of the Multi30k
  literature (bentrevett/pytorch-seq2seq scores spaCy tokens, lower-cased): hypothesis and
  reference are tokenised with the target-language ``tokenize``, lower-cased and joined by
  spaces, then scored by sacreBLEU with ``tokenize="none"`` (its default exp smoothing).
* ``translation_chrf``: sacreBLEU's chrF (character 6-grams, beta 2).
* ``translation_n``: the number of pairs.

``sacrebleu`` is imported when first needed: it is the ``translation`` extra.
"""
from typing import Any, Callable, Dict, List, Sequence

from ..errors import Errors

Tokenize = Callable[[str], List[str]]
SCORE_KEYS = ("translation_bleu", "translation_bleu_signature", "translation_tok_bleu", "translation_chrf")


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError as err:
        raise ImportError(Errors.E146) from err
    return sacrebleu


def tokenized_lower(text: str, tokenize: Tokenize) -> str:
    """``text`` as tok-BLEU reads it: its tokens, lower-cased, joined by single spaces."""
    return " ".join(token.lower() for token in tokenize(text) if token.strip())


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], tokenize: Tokenize) -> Dict[str, Any]:
    """BLEU (cased, 13a), its signature, tokenised lower-cased BLEU and chrF of ``hypotheses``
    against one reference each, on a 0-1 scale; every score None for no pairs. Empty
    hypotheses are scored as they are (they lower BLEU through the brevity penalty)."""
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(Errors.E149.format(n_hyp=len(hypotheses), n_ref=len(references)))
    scores: Dict[str, Any] = {key: None for key in SCORE_KEYS}
    scores["translation_n"] = len(hypotheses)
    if not hypotheses:
        return scores
    sacrebleu = _sacrebleu()
    bleu = sacrebleu.BLEU()
    scores["translation_bleu"] = bleu.corpus_score(hypotheses, [references]).score / 100.0
    scores["translation_bleu_signature"] = str(bleu.get_signature())
    tok_bleu = sacrebleu.BLEU(tokenize="none", force=True)  # tokenised on purpose: no warning
    tok_hyps = [tokenized_lower(text, tokenize) for text in hypotheses]
    tok_refs = [tokenized_lower(text, tokenize) for text in references]
    scores["translation_tok_bleu"] = tok_bleu.corpus_score(tok_hyps, [tok_refs]).score / 100.0
    scores["translation_chrf"] = sacrebleu.CHRF().corpus_score(hypotheses, [references]).score / 100.0
    return scores
