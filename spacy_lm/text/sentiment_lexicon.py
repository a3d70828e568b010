"""A valence lexicon and the rules that turn it into per-token sentiment over spaCy tokens.

Lexicons: VADER's (MIT-licensed, ~7,500 entries rated -4..+4, read from the `vaderSentiment`
package, a dependency of spacy-lm) or a user's TSV file, ``word<TAB>valence`` per line (further
columns ignored, ``#`` comments allowed).

Rules (VADER's, re-stated over spaCy tokens so they see the pipeline's tokenisation,
``n't`` included):

- intensifiers / dampeners in the three tokens before a word add / remove ``booster``
  (decaying 1, 0.95, 0.9) in the word's own direction;
- a negator up to ``negation_window`` tokens before a word, in the same clause (no comma,
  semicolon, ... in between), multiplies it by ``negation`` (-0.74: "not good" is negative
  but weaker than "bad");
- contrast: in a sentence with "but" / "however", words before the last one are scaled by
  ``contrast_before`` and words after by ``contrast_after``;
- ALL-CAPS words in mixed-case text gain ``caps``; each "!" (up to ``max_exclamations``)
  adds ``exclamation`` and "?" adds ``question`` in the sentence's direction, on the mark itself.

Scores: a span's sum ``S`` of token valences maps to a polarity ``S / sqrt(S² + alpha)`` in
(-1, 1); a token's contribution is its share ``s_t · polarity / S``, so contributions sum
to the polarity exactly.
"""
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

from ..errors import Errors

NEGATIONS = frozenset({
    "not", "n't", "no", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor", "cannot",
    "without", "rarely", "seldom", "despite", "nope", "aint", "ain't", "arent", "aren't", "cant", "can't",
    "couldnt", "couldn't", "didnt", "didn't", "doesnt", "doesn't", "dont", "don't", "hadnt", "hadn't",
    "hasnt", "hasn't", "havent", "haven't", "isnt", "isn't", "shouldnt", "shouldn't", "wasnt", "wasn't",
    "werent", "weren't", "wont", "won't", "wouldnt", "wouldn't", "mightnt", "mightn't", "mustnt", "mustn't",
    "neednt", "needn't", "uh-uh", "uhuh",
})
INTENSIFIERS = frozenset({
    "absolutely", "amazingly", "awfully", "completely", "considerably", "decidedly", "deeply", "enormously",
    "entirely", "especially", "exceptionally", "extremely", "fabulously", "fully", "greatly", "highly",
    "hugely", "incredibly", "intensely", "majorly", "more", "most", "particularly", "purely", "quite",
    "really", "remarkably", "so", "substantially", "thoroughly", "totally", "tremendously", "unbelievably",
    "unusually", "utterly", "very", "too", "truly", "super", "damn", "fucking", "freaking",
})
DAMPENERS = frozenset({
    "almost", "barely", "hardly", "kinda", "sorta", "less", "little", "marginally", "occasionally",
    "partly", "scarcely", "slightly", "somewhat", "fairly", "rather", "mildly",
})
CLAUSE_BREAKS = frozenset({",", ";", ":", "--", "-", "(", ")", "-lrb-", "-rrb-", "...", ".", "!", "?"})
SENTENCE_ENDS = frozenset({".", "!", "?", "...", "!!", "!!!", "?!", "!?"})
CONTRAST = frozenset({"but", "however"})


@dataclass(frozen=True)
class SentimentRules:
    booster: float = 0.293
    caps: float = 0.733
    negation: float = -0.74
    negation_window: int = 4
    contrast_before: float = 0.5
    contrast_after: float = 1.5
    exclamation: float = 0.292
    max_exclamations: int = 4
    question: float = 0.18
    max_questions: int = 3
    alpha: float = 15.0

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(Errors.E009.format(setting="alpha", requirement="positive", value=self.alpha))
        if self.negation_window < 0:
            raise ValueError(Errors.E009.format(setting="negation_window", requirement="at least 0",
                                                value=self.negation_window))

    def to_dict(self) -> Dict[str, float]:
        return asdict(self)


# ---------------------------------------------------------------------- lexicons
def load_vader_lexicon() -> Dict[str, float]:
    """VADER's lexicon from the installed `vaderSentiment` package (E014 if it is missing or has
    no lexicon file)."""
    try:
        import vaderSentiment  # noqa: F401
    except ImportError as err:
        raise ImportError(Errors.E014) from err
    path = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    if not path.exists():
        raise ImportError(Errors.E014 + f" (no {path.name} in {path.parent})")
    return read_lexicon_tsv(path)


def read_lexicon_tsv(path: Union[str, Path]) -> Dict[str, float]:
    """``word<TAB>valence`` lines (extra columns ignored); words are matched lower-cased."""
    path = Path(path)
    if not path.exists() or path.is_dir():
        raise ValueError(Errors.E015.format(path=path, line=0, reason="no such file"))
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(Errors.E015.format(path=path, line=0, reason=err.strerror or err)) from None
    lexicon: Dict[str, float] = {}
    for n, raw in enumerate(data.splitlines(), 1):
        try:  # line by line, so the error names the line (a BOM on the first is dropped)
            line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(Errors.E015.format(path=path, line=n, reason=(
                f"not UTF-8 (byte 0x{raw[err.start]:02x} at column {err.start + 1}); save the file as UTF-8")
            )) from None
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            value = float(parts[1])
        except (IndexError, ValueError):
            raise ValueError(Errors.E015.format(path=path, line=n, reason=f"expected word<TAB>number, got "
                                                f"{line[:60]!r}")) from None
        if not math.isfinite(value):
            raise ValueError(Errors.E015.format(path=path, line=n, reason=f"valence {value} is not finite"))
        lexicon[parts[0].strip().lower()] = value
    if not lexicon:
        raise ValueError(Errors.E015.format(path=path, line=0, reason="no entries"))
    return lexicon


def load_lexicon(source: str) -> Dict[str, float]:
    """``"vader"`` or a path to a TSV lexicon."""
    if source == "vader":
        return load_vader_lexicon()
    return read_lexicon_tsv(source)


# ---------------------------------------------------------------------- rules
def _sign(x: float) -> float:
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


def _segments(tokens: Sequence, lowers: Sequence[str]) -> List[Tuple[int, int]]:
    """Sentence-like stretches: the doc's sentences where set, split further after end marks."""
    n = len(tokens)
    segments = []
    start = 0
    for i in range(n):
        boundary_before = i > start and tokens[i].is_sent_start
        if boundary_before:
            segments.append((start, i))
            start = i
        if lowers[i] in SENTENCE_ENDS and not (i + 1 < n and lowers[i + 1] in SENTENCE_ENDS):
            segments.append((start, i + 1))
            start = i + 1
    if start < n:
        segments.append((start, n))
    return segments


SUFFIXES = (("ly", ""), ("ness", ""), ("s", ""), ("es", ""), ("ed", ""), ("d", ""), ("ing", ""), ("ing", "e"))


def _lookup(lexicon: Dict[str, float], word: str, norm: str) -> float:
    """The word, its norm, then the word without a common suffix ("charmingly" → "charming")."""
    v = lexicon.get(word)
    if v is None:
        v = lexicon.get(norm)
    if v is None and len(word) > 4 and word.isalpha():
        for suffix, repl in SUFFIXES:
            if word.endswith(suffix):
                v = lexicon.get(word[: -len(suffix)] + repl)
                if v is not None:
                    break
    return 0.0 if v is None else v


def token_valences(tokens: Sequence, lexicon: Dict[str, float], rules: SentimentRules) -> List[float]:
    """Rule-adjusted valence of each token of a Doc or Span (0.0 for tokens without one)."""
    n = len(tokens)
    if n == 0:
        return []
    texts = [t.text for t in tokens]
    lowers = [t.lower_ for t in tokens]
    norms = [t.norm_ for t in tokens]
    alpha_words = [w for w in texts if any(c.isalpha() for c in w)]
    n_upper = sum(1 for w in alpha_words if w.isupper())
    mixed_case = 0 < n_upper < len(alpha_words)
    scores = [0.0] * n
    for a, b in _segments(tokens, lowers):
        for i in range(a, b):
            word = lowers[i]
            if word in INTENSIFIERS or word in DAMPENERS:
                continue
            v = _lookup(lexicon, word, norms[i])
            if v == 0.0:
                continue
            if mixed_case and texts[i].isupper() and len(texts[i]) > 1:
                v += _sign(v) * rules.caps
            for k, decay in ((1, 1.0), (2, 0.95), (3, 0.9)):
                j = i - k
                if j < a or lowers[j] in CLAUSE_BREAKS:
                    break
                if lowers[j] in INTENSIFIERS or lowers[j] in DAMPENERS:
                    step = rules.booster if lowers[j] in INTENSIFIERS else -rules.booster
                    if mixed_case and texts[j].isupper():
                        step += _sign(step) * rules.caps
                    v += _sign(v) * step * decay
            for k in range(1, rules.negation_window + 1):
                j = i - k
                if j < a or lowers[j] in CLAUSE_BREAKS or lowers[j] in CONTRAST:
                    break
                if lowers[j] in NEGATIONS or norms[j] in NEGATIONS or (
                        lowers[j] == "least" and not (j > a and lowers[j - 1] in ("at", "very"))):
                    v *= rules.negation
                    break
            scores[i] = v
        contrast = [i for i in range(a, b) if lowers[i] in CONTRAST]
        if contrast:
            pivot = contrast[-1]
            for i in range(a, pivot):
                scores[i] *= rules.contrast_before
            for i in range(pivot + 1, b):
                scores[i] *= rules.contrast_after
        total = sum(scores[a:b])
        if total != 0.0:
            marks = [i for i in range(a, b) if "!" in texts[i] and not any(c.isalnum() for c in texts[i])]
            n_excl = min(sum(texts[i].count("!") for i in marks), rules.max_exclamations)
            if n_excl:
                scores[marks[-1]] += _sign(total) * n_excl * rules.exclamation
            qmarks = [i for i in range(a, b) if "?" in texts[i] and not any(c.isalnum() for c in texts[i])]
            n_q = sum(texts[i].count("?") for i in qmarks)
            if n_q > 1:
                amount = n_q * rules.question if n_q <= rules.max_questions else 0.96
                scores[qmarks[-1]] += _sign(total) * amount
    return scores


def normalize(total: float, alpha: float) -> float:
    """VADER's squashing of a valence sum into (-1, 1)."""
    if total == 0.0:
        return 0.0
    return max(-1.0, min(1.0, total / math.sqrt(total * total + alpha)))


def contributions(scores: Sequence[float], alpha: float) -> Tuple[float, List[float]]:
    """Polarity of a span and each token's share of it (they sum to the polarity)."""
    total = float(sum(scores))
    polarity = normalize(total, alpha)
    if total == 0.0:
        return 0.0, [0.0] * len(scores)
    ratio = polarity / total
    return polarity, [s * ratio for s in scores]


def sentence_polarities(doc, scores: Sequence[float], alpha: float) -> List[List[float]]:
    """``[start, end, polarity]`` per sentence when the doc has sentence boundaries, else []."""
    if not doc.has_annotation("SENT_START"):
        return []
    return [[s.start, s.end, normalize(float(sum(scores[s.start:s.end])), alpha)] for s in doc.sents]
