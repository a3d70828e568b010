"""The shared base of the recurrent components and the model contracts of spacy_lm.types."""
import numpy
import pytest
import spacy

from spacy_lm.architectures.lstm_lm import build_lstm_language_model
from spacy_lm.architectures.sentence_vae import build_sentence_vae
from spacy_lm.architectures.seq2seq import build_seq2seq_attention
from spacy_lm.architectures.span_reader import build_span_reader
from spacy_lm.pipeline.recurrent_base import truncate
from spacy_lm.types import (
    LatentLMModel,
    RecurrentLMModel,
    Seq2SeqLMModel,
    SpanReaderModel,
    check_model_contract,
    contract_methods,
)


@pytest.mark.parametrize("build,contract", [(build_lstm_language_model, RecurrentLMModel),
                                            (build_sentence_vae, LatentLMModel),
                                            (build_seq2seq_attention, Seq2SeqLMModel),
                                            (build_span_reader, SpanReaderModel)])
def test_each_architecture_implements_its_contract(build, contract):
    check_model_contract(build(), contract, "x")


def test_contract_methods_include_the_bases_once():
    methods = contract_methods(Seq2SeqLMModel)
    assert len(methods) == len(set(methods))
    assert {"teacher_force", "step", "log_probs", "loss", "forward_train"} <= set(methods)
    assert contract_methods(SpanReaderModel) == ("span_logits", "best_spans", "load_lm_features")


@pytest.mark.parametrize("factory", ["lstm_lm", "sentence_vae", "translator", "qa"])
def test_a_model_lacking_a_method_is_E022(factory):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=r"\[E022\] '%s' needs a model with the contract.*lacks" % factory):
        nlp.add_pipe(factory, config={"model": {"@layers": "Linear.v1"}})


def test_truncate_keeps_the_closing_eos():
    inputs = numpy.arange(7, dtype="int32")
    targets = numpy.arange(1, 8, dtype="int32")
    positions = numpy.arange(7, dtype="int32")
    cut = truncate((inputs, targets, positions), 3, eos_id=99)
    assert cut[0].tolist() == [0, 1, 2, 3] and cut[1].tolist() == [1, 2, 3, 99] and cut[2].tolist() == [0, 1, 2, 3]
    assert truncate((inputs, targets, positions), 6, eos_id=99)[1] is targets
    assert truncate(None, 3, eos_id=99) is None
