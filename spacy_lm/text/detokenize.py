"""Turn generated tokens back into text: which tokens take a space before them.

Generated tokens come from a vocabulary of tokenised words (spaCy's tokenizer or a
benchmark's whitespace tokens), so text needs the spaces put back the way people write:
none before closing punctuation and clitics, none after opening brackets, and WikiText's
``@-@`` / ``@,@`` / ``@.@`` joiners become ``-``, ``,``, ``.`` glued to both neighbours.
"""
from typing import List, Sequence, Tuple

from spacy.tokens import Doc
from spacy.vocab import Vocab

NO_SPACE_BEFORE = {".", ",", ";", ":", "!", "?", ")", "]", "}", "%", "...", "'s", "'re", "'ve", "'d", "'ll",
                   "'m", "n't", "'S", "'RE", "'VE", "'D", "'LL", "'M", "N'T", "'"}
NO_SPACE_AFTER = {"(", "[", "{", "$", "#"}
JOINERS = {"@-@": "-", "@,@": ",", "@.@": "."}
DOUBLE_QUOTE = '"'


def detokenize(tokens: Sequence[str]) -> Tuple[List[str], List[bool]]:
    """Words and the ``spaces`` flags (space after each word) for a spaCy Doc."""
    words = [JOINERS.get(t, t) for t in tokens]
    spaces = [True] * len(words)
    open_quote = False
    for i, token in enumerate(tokens):
        glue_left = token in NO_SPACE_BEFORE or token in JOINERS
        glue_right = token in NO_SPACE_AFTER or token in JOINERS
        if token == DOUBLE_QUOTE:
            # Alternate: an opening quote sticks to what follows, a closing one to what precedes.
            glue_right, glue_left = (True, False) if not open_quote else (False, True)
            open_quote = not open_quote
        if glue_left and i > 0:
            spaces[i - 1] = False
        if glue_right:
            spaces[i] = False
    if spaces:
        spaces[-1] = False
    return words, spaces


def detokenize_text(tokens: Sequence[str]) -> str:
    words, spaces = detokenize(tokens)
    return "".join(w + (" " if s else "") for w, s in zip(words, spaces))


def tokens_to_doc(vocab: Vocab, tokens: Sequence[str]) -> Doc:
    words, spaces = detokenize(tokens)
    return Doc(vocab, words=words, spaces=spaces)
