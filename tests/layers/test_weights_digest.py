"""spacy_lm.layers.weights_digest: a digest of any Thinc model's weights saved in its root's attrs."""
import numpy
import pytest
import srsly
from thinc.api import Linear, Relu, chain

from spacy_lm.layers.weights_digest import (DIGEST_ATTR, DigestedModel, WeightsDigest, verify_weights,
                                            weights_digest)


def build(digested: bool = True):
    plain = chain(Relu(4, 3), Linear(2, 4))
    cls = DigestedModel if digested else type(plain)
    dims = {name: plain.maybe_get_dim(name) for name in plain.dim_names}
    model = cls(plain.name, plain._func, init=plain.init, dims=dims, layers=plain.layers,
                attrs={DIGEST_ATTR: WeightsDigest("toy.v1")})
    model.initialize(X=numpy.zeros((2, 3), dtype="f"))
    return model


def _bump(msg, node: int, name: str) -> None:
    """Change one value of a saved param (the decoded arrays are read-only)."""
    values = msg["params"][node][name].copy()
    values.flat[0] += 1.0
    msg["params"][node][name] = values


def test_round_trip_is_identical_and_checked():
    model = build()
    data = model.to_bytes()
    assert srsly.msgpack_loads(data)["attrs"][0][DIGEST_ATTR]
    loaded = build().from_bytes(data)
    assert loaded.attrs[DIGEST_ATTR].expected == weights_digest(model)
    X = numpy.ones((2, 3), dtype="f")
    numpy.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.to_bytes() == data


def test_digest_covers_values_names_and_order():
    model = build()
    before = weights_digest(model)
    W = model.layers[1].get_param("W").copy()
    W[0, 0] = numpy.nextafter(W[0, 0], numpy.float32(1.0))  # one ulp
    model.layers[1].set_param("W", W)
    assert weights_digest(model) != before


def test_changed_weights_are_e220_at_load():
    msg = srsly.msgpack_loads(build().to_bytes())
    _bump(msg, 1, "W")  # the first Relu's weights, as a flipped byte would
    with pytest.raises(ValueError, match=r"\[E220\] The saved weights of 'toy.v1' .*damaged"):
        build().from_bytes(srsly.msgpack_dumps(msg))


def test_verify_weights_after_loading_a_plain_model():
    """Any Thinc model: the attr alone, then verify_weights once its params are in."""
    msg = srsly.msgpack_loads(build(digested=False).to_bytes())
    model = build(digested=False).from_bytes(srsly.msgpack_dumps(msg))
    verify_weights(model)
    _bump(msg, 2, "b")
    model = build(digested=False).from_bytes(srsly.msgpack_dumps(msg))
    with pytest.raises(ValueError, match="E220"):
        verify_weights(model)


def test_saved_without_digest_loads_unchecked():
    msg = srsly.msgpack_loads(build().to_bytes())
    del msg["attrs"][0][DIGEST_ATTR]
    _bump(msg, 1, "W")
    model = build()
    model.from_bytes(srsly.msgpack_dumps(msg))
    assert model.attrs[DIGEST_ATTR].expected is None and model.attrs[DIGEST_ATTR].label == "toy.v1"


@pytest.mark.parametrize("data", [b"", b"\x85\xa5nodes", b"\xc1", b"\x01"])
def test_undecodable_bytes_are_e221(data):
    with pytest.raises(ValueError, match=r"\[E221\] Cannot read the saved weights of 'toy.v1'"):
        build().from_bytes(data)


def test_truncated_model_bytes_are_e221():
    data = build().to_bytes()
    for keep in (0.1, 0.5, 0.9, 0.99):
        with pytest.raises(ValueError, match="E221"):
            build().from_bytes(data[:int(len(data) * keep)])


def test_copy_keeps_the_digest_attr():
    model = build()
    copied = model.copy()
    assert isinstance(copied.attrs[DIGEST_ATTR], WeightsDigest)
    assert weights_digest(copied) == weights_digest(model)
