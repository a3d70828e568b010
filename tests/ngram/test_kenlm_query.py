"""KenLM as the n-gram query backend (spacy_lm/ngram/kenlm_query.py): the same totals as ours."""
import numpy
import pytest
import spacy

from spacy_lm.batching import prepare_doc
from spacy_lm.ngram.kenlm_query import KenLMQuery

from ..conftest import TINY_TEXTS, make_examples

kenlm = pytest.importorskip("kenlm")  # the kenlm extra (also in bench)


@pytest.fixture(scope="module")
def component():
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 3})
    nlp.initialize(lambda: make_examples(nlp, TINY_TEXTS + ["the cat <eos> saw a dog"]))
    return nlp, nlp.get_pipe("ngram_lm")


def test_kenlm_totals_equal_ours(component, tmp_path):
    nlp, lm = component
    texts = ["the cat sat", "a zebra saw the dog on the mat", "the cat <eos> sat on <eos> the log", "<eos>",
             "dog dog dog <eos>"]
    prepared = [prepare_doc(lm.lm_vocab, nlp.make_doc(text)) for text in texts]
    ours = lm.total_nll(prepared)
    written = KenLMQuery.from_component(lm).total_nll(prepared)
    numpy.testing.assert_allclose(written, ours, rtol=1e-5)
    lm.to_arpa(tmp_path / "tiny.arpa")
    numpy.testing.assert_allclose(KenLMQuery.from_component(lm, tmp_path / "tiny.arpa").total_nll(prepared), ours,
                                  rtol=1e-5)


def test_a_chunk_without_closing_eos_is_refused(component):
    nlp, lm = component
    inputs, targets, positions = prepare_doc(lm.lm_vocab, nlp.make_doc("the cat sat"))
    with pytest.raises(ValueError, match="E336"):
        KenLMQuery.from_component(lm).total_nll([(inputs[:-1], targets[:-1], positions[:-1])])
