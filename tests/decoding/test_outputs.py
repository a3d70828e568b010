"""Generation (spacy_lm.decoding.outputs): plain values that survive msgpack."""
import srsly

from spacy_lm.decoding import Generation, GenerationConfig, generate

from .toy_lms import random_lm


def test_generation_is_msgpack_serializable():
    gen = generate(random_lm(), [[2]], GenerationConfig(max_new_tokens=5, do_sample=True, seed=0))[0][0]
    data = srsly.msgpack_loads(srsly.msgpack_dumps(gen.to_dict()))
    assert Generation.from_dict(data) == gen
    assert all(type(i) is int for i in data["token_ids"]) and type(data["score"]) is float
