"""Lexicon and rules (spacy_lm/text/sentiment_lexicon.py), on a tiny TSV lexicon written here."""
import builtins
import math

import pytest
import spacy

from spacy_lm.text.sentiment_lexicon import (
    SentimentRules,
    contributions,
    load_lexicon,
    load_vader_lexicon,
    normalize,
    read_lexicon_tsv,
    token_valences,
)

LEXICON = {"good": 1.9, "bad": -2.5, "great": 3.1, "terrible": -2.1, "charming": 2.0, "like": 2.0, "boring": -1.3}


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def polarity(nlp, text, rules=SentimentRules()):
    return contributions(token_valences(nlp(text), LEXICON, rules), rules.alpha)[0]


def test_tsv_reader(tmp_path):
    path = tmp_path / "lex.tsv"
    path.write_text("# comment\nGood\t1.9\t0.9\t[2, 2]\n\nbad\t-2.5\n", encoding="utf-8")
    assert read_lexicon_tsv(path) == {"good": 1.9, "bad": -2.5}
    assert load_lexicon(str(path)) == {"good": 1.9, "bad": -2.5}
    path.write_text("good 1.9\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"E015.*line 1"):
        read_lexicon_tsv(path)
    with pytest.raises(ValueError, match="E015"):
        read_lexicon_tsv(tmp_path / "missing.tsv")


def test_tsv_reader_bad_utf8_is_e015_naming_the_line(tmp_path):
    """A lexicon saved as Latin-1 (or with a stray byte) is E015 with the line, not a traceback."""
    path = tmp_path / "latin1.tsv"
    path.write_bytes("good\t1.9\n# ok\ncaf\u00e9\t2.0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"E015.*line 3.*not UTF-8 \(byte 0xe9"):
        read_lexicon_tsv(path)
    path.write_bytes("\ufeffgood\t1.9\r\nbad\t-2.5\r\n".encode("utf-8"))  # BOM and CRLF still read
    assert read_lexicon_tsv(path) == {"good": 1.9, "bad": -2.5}


def test_negation_flips_sign(nlp):
    assert polarity(nlp, "good") > 0
    assert polarity(nlp, "not good") < 0
    assert polarity(nlp, "it is n't good") < 0
    assert polarity(nlp, "it isn't bad") > 0
    # weaker than the opposite word, as in VADER (factor -0.74)
    assert abs(polarity(nlp, "not good")) < abs(polarity(nlp, "good"))
    # the scope ends at a clause break
    assert polarity(nlp, "not now, good") > 0


def test_intensifiers_raise_and_dampeners_lower_magnitude(nlp):
    plain, very, slightly = (polarity(nlp, t) for t in ("good", "very good", "slightly good"))
    assert very > plain > slightly > 0
    assert polarity(nlp, "very bad") < polarity(nlp, "bad") < 0


def test_but_shifts_weight_to_second_clause(nlp):
    # Without the rule the sum (1.9 - 2.1) is nearly balanced; "but" makes the second clause win clearly.
    rules = SentimentRules()
    doc = nlp("good but terrible")
    scores = token_valences(doc, LEXICON, rules)
    assert scores[0] == pytest.approx(1.9 * rules.contrast_before)
    assert scores[2] == pytest.approx(-2.1 * rules.contrast_after)
    assert polarity(nlp, "terrible but good") > 0.3
    assert polarity(nlp, "good but terrible") < -0.3
    # the rule stays inside its sentence
    assert token_valences(nlp("good. terrible but fine"), LEXICON, rules)[0] == pytest.approx(1.9)


def test_empty_and_neutral_text(nlp):
    assert token_valences(nlp(""), LEXICON, SentimentRules()) == []
    assert polarity(nlp, "") == 0.0
    assert polarity(nlp, "the table is in the room") == 0.0
    assert contributions([], 15.0) == (0.0, [])


def test_caps_exclamation_and_suffix_fallback(nlp):
    assert polarity(nlp, "it was GOOD and fine") > polarity(nlp, "it was good and fine")
    assert polarity(nlp, "good!!") > polarity(nlp, "good")
    assert polarity(nlp, "bad!!") < polarity(nlp, "bad")
    assert polarity(nlp, "charmingly done") > 0  # charmingly → charming


def test_contributions_sum_to_polarity_and_normalize_range():
    p, parts = contributions([1.9, 0.0, -0.5], 15.0)
    assert sum(parts) == pytest.approx(p)
    assert p == pytest.approx(1.4 / math.sqrt(1.4**2 + 15.0))
    assert -1.0 < normalize(-1e6, 15.0) < -0.99


def test_rules_validate():
    with pytest.raises(ValueError, match="E009"):
        SentimentRules(alpha=0.0)


def test_vader_lexicon_when_installed(nlp):
    pytest.importorskip("vaderSentiment", reason="vaderSentiment not installed (pip install 'spacy-lm[sentiment]')")
    lexicon = load_vader_lexicon()
    assert len(lexicon) > 7000 and lexicon["good"] > 0 > lexicon["bad"]
    rules = SentimentRules()
    assert sum(token_valences(nlp("not good"), lexicon, rules)) < 0


def test_missing_vader_gives_clear_error(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("vaderSentiment"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"E014.*pip install \"spacy-lm\[sentiment\]\""):
        load_lexicon("vader")
