"""The output-layer contract: what a language model asks of its vocabulary projection.

An output layer (`spacy_lm.OutputSoftmax.v1`, `spacy_lm.AdaptiveSoftmax.v1`) is a Thinc model
from hidden rows ``(rows, nI)`` to scores ``(rows, nO)`` whose ``log_softmax`` is the
next-token distribution (a full softmax returns logits, an adaptive one log-probabilities).
Beside its forward it keeps three functions in its attrs, called through this module, so a
language model never knows which output layer it has (as the cells' ``initial_state`` /
``step`` / ``select_state`` in layers/recurrent.py):

* ``loss(layer, hidden, targets, grad_scale) -> (nll, d_hidden)``: training. NLL (nats) per
  row of integer ``targets``, and ``grad_scale * d(NLL)/d(hidden)``; the layer's own parameter
  gradients are accumulated. The fast path: an adaptive softmax never builds ``(rows, nO)``.
* ``score(layer, hidden, targets, rows) -> (nll, correct)``: inference. NLL per row and
  whether the target is the argmax of the full distribution, at most ``rows`` rows at once.
* ``nll(layer, hidden, targets, rows) -> nll``: inference, the NLL of ``score`` alone (the same
  values; no argmax, so fewer passes over the scores: corpus scoring's path). Optional: for a
  layer without it, :func:`nll` takes ``score``'s.
* ``log_probs(layer, hidden) -> (rows, nO)``: normalised log-probabilities, a fresh array.
* ``grow(layer, nO)``: more classes, the ids from the old ``nO`` on (ULMFiT's vocabulary
  growth): new weight rows are the mean of the old ones, the scores of the old classes unchanged
  (a full softmax's logits; an adaptive softmax's head, new ids joining its last cluster). A
  tied embedding is not grown by the output layer: its owner grows it first.

The functions are rebuilt from the config with the layer (Thinc does not save them).
"""
import sys
from typing import Any, Tuple

from thinc.api import Model
from thinc.types import Floats1d, Floats2d, Ints1d

OUTPUT_FUNCTIONS = ("loss", "score", "nll", "log_probs", "grow")
OUTPUT_ROWS = 2048  # rows of (rows x vocab) scores computed at once when scoring
# ... and by ``nll`` (128 to 2048 measured within the noise of one another with a 33k
# vocabulary, 1 CPU thread: benchmarks/results/lstm_scoring_ablations.json; 512 bounds the
# scores to 68 MB).
NLL_ROWS = 512


def loss(layer: Model, hidden: Floats2d, targets: Ints1d, grad_scale: float) -> Tuple[Floats1d, Floats2d]:
    """Training NLL per row and ``grad_scale`` * d(NLL)/d(hidden)."""
    return layer.attrs["loss"](layer, hidden, targets, grad_scale)


def score(layer: Model, hidden: Floats2d, targets: Ints1d, rows: int = OUTPUT_ROWS) -> Tuple[Floats1d, Any]:
    """Inference NLL per row and whether each target is the top-1 prediction."""
    return layer.attrs["score"](layer, hidden, targets, rows)


def nll(layer: Model, hidden: Floats2d, targets: Ints1d, rows: int = NLL_ROWS) -> Floats1d:
    """Inference NLL per row, without the top-1 flags (``score``'s when the layer has no ``nll``)."""
    if "nll" not in layer.attrs:
        return score(layer, hidden, targets, rows)[0]
    return layer.attrs["nll"](layer, hidden, targets, rows)


def log_probs(layer: Model, hidden: Floats2d) -> Floats2d:
    """Next-token log-probabilities ``(rows, nO)``, a fresh array."""
    return layer.attrs["log_probs"](layer, hidden)


def grow(layer: Model, nO: int) -> None:
    """``nO`` classes, the new ones initialised from the mean of the old rows."""
    layer.attrs["grow"](layer, nO)


class OutputContractMethods:
    """``loss``, ``score``, ``nll`` and ``log_probs`` of a model whose ref ``"output"`` is an output
    layer: mixed into the LM, VAE and seq2seq models (before ``Model``), which reach their output
    layer only through these. ``score`` and ``nll`` read ``OUTPUT_ROWS`` / ``NLL_ROWS`` of this
    module at call time."""

    def loss(self, hidden: Floats2d, targets: Ints1d, grad_scale: float) -> Tuple[Floats1d, Floats2d]:
        return loss(self.get_ref("output"), hidden, targets, grad_scale)  # type: ignore[attr-defined]

    def score(self, hidden: Floats2d, targets: Ints1d) -> Tuple[Floats1d, Any]:
        rows = sys.modules[__name__].OUTPUT_ROWS  # type: ignore[attr-defined]
        return score(self.get_ref("output"), hidden, targets, rows=rows)  # type: ignore[attr-defined]

    def nll(self, hidden: Floats2d, targets: Ints1d) -> Floats1d:
        rows = sys.modules[__name__].NLL_ROWS  # type: ignore[attr-defined]
        return nll(self.get_ref("output"), hidden, targets, rows=rows)  # type: ignore[attr-defined]

    def log_probs(self, hidden: Floats2d) -> Floats2d:
        return log_probs(self.get_ref("output"), hidden)  # type: ignore[attr-defined]


def init_vocabulary_sized(model: Model, X=None, Y=None) -> None:
    """Init of a one-vocabulary LM (refs ``embedding`` and ``output``): both sized to ``nV``
    (E021 while unset, i.e. before the component counted its vocabulary), then every layer."""
    from ..errors import Errors

    nV = model.get_dim("nV")
    if not nV:
        raise ValueError(Errors.E021)
    model.get_ref("embedding").set_dim("nV", nV)
    model.get_ref("output").set_dim("nO", nV)
    for layer in model.layers:
        layer.initialize()


def grow_vocabulary_sized(model: Model, nV: int) -> None:
    """Growth of a one-vocabulary LM (refs ``embedding`` and ``output``, dim ``nV``) to ``nV``
    ids: the embedding first (a tied output reads its table), then the output layer."""
    from .embedding import grow as grow_embedding, resize_dim

    grow_embedding(model.get_ref("embedding"), nV)
    grow(model.get_ref("output"), nV)
    resize_dim(model, "nV", nV)
