"""`spacy_lm.LSTMLMListener.v1`: read the hidden states of an `lstm_lm` component.

In the manner of spaCy's `Tok2VecListener`: the upstream `lstm_lm` runs once per batch
(``update`` in training, ``predict`` when it annotates) and hands each listener its
per-doc hidden states with a backprop callback (``receive``); the downstream model (e.g.
`spacy_lm.TextCatLSTM.v1` in `textcat`) calls the listener as its tok2vec.

Rows: one per token of the doc, in the LM's top-layer width. Token ``i``'s row is the LM
state after reading token ``i`` (the state that predicts the next token). Whitespace tokens,
which `lstm_lm` skips, and a final ``<eos>`` marker token (which the LM predicts but never
reads) get zero rows; a doc with no LM tokens gets a ``(len(doc), width)`` block of zeros.

A frozen upstream (``[training] frozen_components`` and ``annotating_components``) feeds its
listeners from ``predict`` with an empty backprop, so no gradient reaches it.

At inference, when a downstream component batches docs differently from the upstream, the
listener reads the states the upstream stored on each doc (:func:`store_states`), as spaCy's
`Tok2VecListener` reads ``doc.tensor``; the listener holds no reference to its upstream.
"""
from typing import Callable, Iterable, List, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d

from ..checks import check_count
from ..errors import Errors


@registry.architectures("spacy_lm.LSTMLMListener.v1")
def build_lstm_lm_listener(width: int, upstream: str = "lstm_lm") -> "LSTMLMListener":
    """width: the upstream LM's hidden width (its model's ``width``).
    upstream: the name of the `lstm_lm` component, or "*" for any."""
    check_count("spacy_lm.LSTMLMListener.v1 width", width, 1)
    return LSTMLMListener(upstream, width)


class LSTMLMListener(Model):
    name = "lstm-lm-listener"

    def __init__(self, upstream_name: str, width: int) -> None:
        Model.__init__(self, name=self.name, forward=forward, dims={"nO": width})
        self.upstream_name = upstream_name
        self._batch_id: Optional[int] = None
        self._outputs: Optional[List[Floats2d]] = None
        self._backprop: Optional[Callable] = None

    @classmethod
    def get_batch_id(cls, inputs: Iterable[Doc]) -> int:
        return sum(sum(token.orth for token in doc) for doc in inputs)

    def receive(self, batch_id: int, outputs: List[Floats2d], backprop: Callable) -> None:
        self._batch_id = batch_id
        self._outputs = outputs
        self._backprop = backprop

    def verify_inputs(self, inputs: List[Doc]) -> bool:
        if self._batch_id is None and self._outputs is None:
            raise ValueError(Errors.E026.format(listener=self.name, upstream=self.upstream_name))
        batch_id = self.get_batch_id(inputs)
        if batch_id != self._batch_id:
            raise ValueError(Errors.E027.format(listener=self.name, upstream=self.upstream_name,
                                                found=batch_id, expected=self._batch_id))
        return True


def empty_backprop(dX):  # module level, for pickling
    return []


def _states_key(upstream: str) -> Tuple[str, str]:
    return ("spacy_lm.lm_states", upstream)


def store_states(doc: Doc, upstream: str, rows: Floats2d) -> None:
    """Keep an upstream LM's ``(len(doc), width)`` states on the doc (host memory, so the doc
    still pickles and serializes) for listeners that batch differently."""
    doc.user_data[_states_key(upstream)] = rows


def stored_states(doc: Doc, upstream: str) -> Optional[Floats2d]:
    """The states an upstream stored on the doc; ``"*"`` takes any upstream's."""
    if upstream != "*":
        return doc.user_data.get(_states_key(upstream))
    for key, value in doc.user_data.items():
        if isinstance(key, tuple) and len(key) == 2 and key[0] == _states_key("*")[0]:
            return value
    return None


def forward(model: LSTMLMListener, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    if is_train:
        model.verify_inputs(docs)
        return model._outputs, model._backprop
    if model._batch_id is not None and model._batch_id == model.get_batch_id(docs):
        return model._outputs, empty_backprop
    width = model.get_dim("nO")
    outputs = []
    for doc in docs:
        rows = stored_states(doc, model.upstream_name)
        outputs.append(model.ops.alloc2f(len(doc), width) if rows is None else model.ops.asarray2f(rows))
    return outputs, empty_backprop


COMBINES = ("concat", "mix")


@registry.architectures("spacy_lm.BiLMListener.v1")
def build_bilm_listener(width: int, forward: str = "lstm_lm", backward: str = "lstm_lm_backward",
                        combine: str = "concat") -> Model[List[Doc], List[Floats2d]]:
    """Read a forward and a backward `lstm_lm` together (ELMo's biLM): token ``i`` gets the
    forward state after reading tokens ``0..i`` and the backward state after ``n-1..i``.

    width: the width of each LM (both must have it).
    forward / backward: the two components' names (the backward one has ``direction =
        "backward"``).
    combine: "concat" (``2 * width`` per token: both states side by side) or "mix" (``width``:
        ``gamma * (s_f * forward + s_b * backward)`` with ``s = softmax(w)``, ELMo's learned
        scalar mix taken over the two directions, the weights learned by the downstream task).
    Each direction is an `LSTMLMListener`, so each LM feeds it (and gets its gradient) as it
    feeds any listener, frozen or not."""
    check_count("spacy_lm.BiLMListener.v1 width", width, 1)
    if combine not in COMBINES:
        raise ValueError(Errors.E009.format(setting="combine", requirement=f"one of {COMBINES}", value=combine))
    if forward == backward:
        raise ValueError(Errors.E293.format(name=forward))
    layers = [LSTMLMListener(forward, width), LSTMLMListener(backward, width)]
    return Model("bilm-listener", _bilm_forward, layers=layers, init=_init_bilm,
                 dims={"nO": 2 * width if combine == "concat" else width},
                 params={"mix": None, "gamma": None} if combine == "mix" else {},
                 attrs={"combine": combine})


def _init_bilm(model: Model, X=None, Y=None) -> None:
    if model.attrs["combine"] == "mix":
        model.set_param("mix", model.ops.alloc1f(2))  # equal weights: softmax([0, 0])
        model.set_param("gamma", model.ops.asarray1f([1.0]))


def _bilm_forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    forward_rows, bp_forward = model.layers[0](docs, is_train)
    backward_rows, bp_backward = model.layers[1](docs, is_train)
    xp = model.ops.xp
    if model.attrs["combine"] == "concat":
        outputs = [xp.hstack([f, b]) for f, b in zip(forward_rows, backward_rows)]
        width = model.layers[0].get_dim("nO")

        def backprop_concat(d_outputs: List[Floats2d]) -> List:
            bp_forward([d[:, :width] for d in d_outputs])
            bp_backward([d[:, width:] for d in d_outputs])
            return []

        return outputs, backprop_concat
    weights = model.ops.softmax(model.get_param("mix"))
    gamma = float(model.get_param("gamma")[0])
    s_f, s_b = float(weights[0]), float(weights[1])
    outputs = [gamma * (s_f * f + s_b * b) for f, b in zip(forward_rows, backward_rows)]

    def backprop_mix(d_outputs: List[Floats2d]) -> List:
        # out = gamma * (s_f f + s_b b): d/ds_f = gamma <d, f>, d/dgamma = s_f <d, f> + s_b <d, b>
        dot_f = sum(float((d * f).sum()) for d, f in zip(d_outputs, forward_rows))
        dot_b = sum(float((d * b).sum()) for d, b in zip(d_outputs, backward_rows))
        d_sf, d_sb, d_gamma = gamma * dot_f, gamma * dot_b, s_f * dot_f + s_b * dot_b
        mean = s_f * d_sf + s_b * d_sb
        model.inc_grad("mix", model.ops.asarray1f([s_f * (d_sf - mean), s_b * (d_sb - mean)]))
        model.inc_grad("gamma", model.ops.asarray1f([d_gamma]))
        bp_forward([d * (gamma * s_f) for d in d_outputs])
        bp_backward([d * (gamma * s_b) for d in d_outputs])
        return []

    return outputs, backprop_mix
