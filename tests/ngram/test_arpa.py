"""ARPA files in and out (spacy_lm.ngram.arpa)."""
import numpy
import pytest

from spacy_lm.ngram import estimate, read_arpa, write_arpa

from .streams import EOS, make_stream, random_sentences


@pytest.mark.parametrize("prune", [[], [0, 1, 1]])
def test_arpa_round_trip_is_identical(tmp_path, prune):
    V = 30
    strings = ["<unk>", "<eos>"] + [f"w{i}" for i in range(2, V)]
    model = estimate(make_stream(random_sentences(800, V), V), V, 3, prune=prune)
    path = tmp_path / "model.arpa"
    write_arpa(model, strings, path, eos_index=EOS)
    text = path.read_text()
    assert "\t</s>\t0\n" in text and "-99\t<s>\t" in text and "<eos>" not in text
    strings2, model2 = read_arpa(path)
    assert strings2 == strings
    assert model2.sizes() == model.sizes()
    for k in range(3):
        assert numpy.array_equal(model.keys[k], model2.keys[k])
        assert numpy.array_equal(model.logprob[k], model2.logprob[k])
        if k < 2:
            assert numpy.array_equal(model.backoff[k], model2.backoff[k])
    path2 = tmp_path / "again.arpa"
    write_arpa(model2, strings2, path2, eos_index=EOS)
    assert path2.read_text() == text


def test_read_arpa_errors(tmp_path):
    with pytest.raises(ValueError, match="E011"):
        read_arpa(tmp_path / "missing.arpa")
    bad = tmp_path / "bad.arpa"
    bad.write_text("not an arpa file\n")
    with pytest.raises(ValueError, match="E011"):
        read_arpa(bad)
    short = tmp_path / "short.arpa"
    short.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1\t<s>\t0\n-1\t</s>\n\n\\end\\\n")
    with pytest.raises(ValueError, match="header says 3"):
        read_arpa(short)
