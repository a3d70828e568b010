"""TokenVocab: the order of a vocabulary built from counts."""
from collections import Counter

from spacy_lm.text.vocab import TokenVocab


def test_ties_are_ordered_by_text_whatever_the_counting_order():
    words = "b a c a b d".split()
    forward = TokenVocab.from_counts(Counter(words))
    backward = TokenVocab.from_counts(Counter(words[::-1]))  # a backward LM counts the stream reversed
    strings = [forward.string_of(i) for i in range(len(forward))]
    assert strings == [backward.string_of(i) for i in range(len(backward))]
    assert strings[-4:] == ["a", "b", "c", "d"]  # a and b seen twice, then c and d by text
    capped = TokenVocab.from_counts(Counter(words[::-1]), max_size=len(strings) - 1)
    assert capped.string_of(len(capped) - 1) == "c"  # the cut keeps the same types in either order
