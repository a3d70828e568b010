import spacy

from spacy_lm.text.detokenize import detokenize_text, tokens_to_doc


def test_punctuation_brackets_quotes_and_clitics():
    tokens = ["He", "said", '"', "hello", ",", "world", '"', "(", "twice", ")", "and", "did", "n't", "stop", "."]
    assert detokenize_text(tokens) == 'He said "hello, world" (twice) and didn\'t stop.'


def test_wikitext_joiners_glue_both_sides():
    assert detokenize_text(["a", "well", "@-@", "known", "1", "@,@", "000", "and", "3", "@.@", "5"]) == \
        "a well-known 1,000 and 3.5"


def test_doc_whitespace_matches_text():
    nlp = spacy.blank("en")
    doc = tokens_to_doc(nlp.vocab, ["Hello", ",", "world", "!"])
    assert doc.text == "Hello, world!"
    assert [t.whitespace_ for t in doc] == ["", " ", "", ""]
    assert detokenize_text([]) == ""
