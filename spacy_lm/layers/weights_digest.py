"""A digest of a Thinc model's weights, saved with them, so a damaged weights file is an error
rather than silently different scores.

Thinc saves a node's attrs beside its params (``Model.to_dict``) and converts each attr with
``serialize_attr`` / ``deserialize_attr``, dispatched on the value's type. A :class:`WeightsDigest`
in the attrs of a model's root (under :data:`DIGEST_ATTR`) is saved as a blake2b digest over every
param of the root's walk (each param's node index, name, shape, dtype and bytes, in walk order),
and read back as the digest to expect. ``Model.from_dict`` reads a node's attrs before the params
of the nodes after it, so the comparison must run once the whole model is in:
:func:`verify_weights` after ``from_bytes``, which :class:`DigestedModel` (a root whose
``from_bytes`` does it) calls itself. The same ``from_bytes`` turns an undecodable (truncated)
weights file into one line (E221) rather than a msgpack traceback.

A model saved before the attr existed has no digest: it loads unchanged and unchecked. The node
tree is untouched (an attr and a Python subclass are not part of it), so saved models keep fitting.
Any Thinc model can use it: put ``WeightsDigest(label)`` in its root's attrs and either build the
root as a :class:`DigestedModel` or call :func:`verify_weights` after loading.
"""
import hashlib
from typing import Any, Optional

import numpy
import srsly
from thinc.api import Model
from thinc.model import deserialize_attr, serialize_attr
from thinc.util import convert_recursive, is_xp_array

from ..errors import Errors

DIGEST_ATTR = "weights_digest"
DIGEST_FORMAT = 1
# What an undecodable msgpack file raises (msgpack's own errors are ValueErrors).
DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)
WHERE = "the component's `model` file"


class WeightsDigest:
    """The attr value: ``label`` names the model in errors; ``expected`` is the digest read back
    at load (None: nothing to check, e.g. built in memory or saved before digests existed)."""

    def __init__(self, label: str = "", expected: Optional[str] = None) -> None:
        self.label = label
        self.expected = expected

    def __repr__(self) -> str:
        return f"WeightsDigest({self.label!r}, expected={self.expected!r})"


def weights_digest(model: Model) -> str:
    """blake2b over every set param of ``model.walk()``: node index, name, shape, dtype, bytes."""
    digest = hashlib.blake2b(digest_size=16)
    for index, node in enumerate(model.walk()):
        for name in node.param_names:
            if not node.has_param(name):
                continue
            values = numpy.ascontiguousarray(node.ops.to_numpy(node.get_param(name)))
            digest.update(f"{index}:{name}:{values.shape}:{values.dtype.str};".encode("utf8"))
            digest.update(values.tobytes())
    return digest.hexdigest()


@serialize_attr.register(WeightsDigest)
def _save_digest(_: WeightsDigest, value: WeightsDigest, name: str, model: Model) -> bytes:
    return srsly.msgpack_dumps({"format": DIGEST_FORMAT, "blake2b": weights_digest(model)})


@deserialize_attr.register(WeightsDigest)
def _load_digest(default: WeightsDigest, value: Any, name: str, model: Model) -> WeightsDigest:
    try:
        expected = srsly.msgpack_loads(value)["blake2b"]
    except DECODE_ERRORS as err:
        raise ValueError(Errors.E221.format(name=default.label or model.name, where=WHERE,
                                            error=f"digest: {type(err).__name__}: {err}")) from err
    if not isinstance(expected, str):
        raise ValueError(Errors.E220.format(name=default.label or model.name, where=WHERE))
    return WeightsDigest(default.label, expected)


def verify_weights(model: Model, where: str = WHERE) -> None:
    """Raise E220 if ``model`` was loaded with a digest that its params no longer match."""
    found = model.attrs.get(DIGEST_ATTR)
    if not isinstance(found, WeightsDigest) or found.expected is None:
        return
    if weights_digest(model) != found.expected:
        raise ValueError(Errors.E220.format(name=found.label or model.name, where=where))


class DigestedModel(Model):
    """A root whose ``from_bytes`` checks the weights against their saved digest and names an
    undecodable file (E221). Otherwise a plain ``Model``: same node tree, same saved bytes
    (plus the digest attr)."""

    def from_bytes(self, bytes_data: bytes) -> "DigestedModel":
        previous = self.attrs.get(DIGEST_ATTR)
        label = previous.label if isinstance(previous, WeightsDigest) else self.name
        self.attrs[DIGEST_ATTR] = WeightsDigest(label)  # an earlier load's digest must not linger
        try:
            msg = srsly.msgpack_loads(bytes_data)
        except DECODE_ERRORS as err:
            raise ValueError(Errors.E221.format(name=label, where=WHERE, error=f"{type(err).__name__}: {err}")) from err
        if not isinstance(msg, dict):
            raise ValueError(Errors.E221.format(name=label, where=WHERE, error="not a saved Thinc model"))
        self.from_dict(convert_recursive(is_xp_array, self.ops.asarray, msg))
        verify_weights(self)
        return self
