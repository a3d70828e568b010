"""`spacy_lm.LSTMLanguageModel.v1` / `.v2`: embedding → recurrent stack (LSTM or GRU) → output
layer: a full softmax (v1, and v2's ``output="full"``) or an adaptive softmax (v2's
``output="adaptive"``, `spacy_lm.AdaptiveSoftmax.v1`). The model reaches its output layer
only through the output contract (:mod:`spacy_lm.layers.output`).

The model works on id windows, not Docs, and owns the contract a recurrent LM component
calls (:class:`spacy_lm.types.RecurrentLMModel`: ``encode``, ``loss``, ``score``,
``log_probs``, ``step``, ``initial_state``, ``select_state``, ``concat_states``; and the optional
``nll`` of :class:`spacy_lm.types.NLLModel`), so the `lstm_lm` component
serves training, scoring and one-token-at-a-time generation without knowing the cell or its
state layout (an LSTM's ``(h, c)``, a GRU's ``h``).

``grow_vocabulary(new_size)`` adds ids after the trained ones (ULMFiT's vocabulary growth,
`spacy_lm.grow_lm_vocabulary.v1`): their embedding and output rows start as the mean of the
trained rows, so the old words keep their scores up to the normaliser (see the method).

Called as a Thinc model: ``(ids, lengths, state)`` → ``(logits, state)``, logits of shape
``(T * B, nV)`` (row ``t * B + b``) whose log_softmax is the next-token distribution (an
adaptive output gives log-probabilities, already normalised); backprop takes
``(d_logits, d_state)``. Training through ``loss`` is the fast path.
"""
from typing import Any, Callable, List, Optional, Sequence, Tuple

from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

from ..checks import check_setting, is_count
from ..errors import Errors
from ..layers import recurrent
from ..layers.cells import build_cell  # checks ``cell`` (E009)
from ..layers.adaptive_softmax import AdaptiveSoftmax
from ..training.layer_groups import EMBEDDING_GROUP, LM_GROUP, set_layer_group
from ..layers.embedding import TokenEmbedding
from ..layers.output import OutputContractMethods, grow_vocabulary_sized, init_vocabulary_sized
from ..layers.output_softmax import OutputSoftmax

LMInput = Tuple[Ints2d, Optional[Ints1d], Any]
LMOutput = Tuple[Floats2d, Any]
OUTPUTS = ("full", "adaptive")


@registry.architectures("spacy_lm.LSTMLanguageModel.v1")
def build_lstm_language_model(
    width: int = 200,
    depth: int = 2,
    embed_size: Optional[int] = None,
    dropout: float = 0.2,
    tie_weights: Optional[bool] = None,
    cell: str = "lstm",
) -> "RecurrentLanguageModel":
    """A recurrent LM with a full softmax. ``tie_weights=None`` ties input and output embeddings
    when ``embed_size == width`` (the default); ``True`` insists on it. ``cell``: "lstm" or "gru"."""
    return build_lstm_language_model_v2(width=width, depth=depth, embed_size=embed_size, dropout=dropout,
                                        tie_weights=tie_weights, cell=cell, output="full")


@registry.architectures("spacy_lm.LSTMLanguageModel.v2")
def build_lstm_language_model_v2(
    width: int = 200,
    depth: int = 2,
    embed_size: Optional[int] = None,
    dropout: float = 0.2,
    tie_weights: Optional[bool] = None,
    cell: str = "lstm",
    output: str = "full",
    cutoffs: List[int] = [2000, 10000],
    div_value: float = 4.0,
) -> "RecurrentLanguageModel":
    """v1 plus a choice of output layer: ``output="full"`` (v1's softmax) or ``"adaptive"``
    (`spacy_lm.AdaptiveSoftmax.v1` with ``cutoffs`` and ``div_value``, no head bias as in
    PyTorch; much faster to train on large vocabularies; tying ties the head's word rows).
    The clusters follow the vocabulary found at initialization: cutoffs at or above its size are
    dropped, none left is a full softmax (so ``[2000, 10000]`` serves any corpus)."""
    check_setting(is_count(width, 1), "width", "an integer >= 1", width)
    check_setting(is_count(depth, 1), "depth", "an integer >= 1", depth)
    check_setting(embed_size is None or is_count(embed_size, 1), "embed_size", "null or an integer >= 1", embed_size)
    embed_size = width if embed_size is None else embed_size
    if tie_weights is None:
        tie_weights = embed_size == width
    elif tie_weights and embed_size != width:
        raise ValueError(Errors.E020.format(embed_size=embed_size, width=width))
    if not 0.0 <= dropout < 1.0:
        raise ValueError(Errors.E009.format(setting="dropout", requirement="in [0, 1)", value=dropout))
    if output not in OUTPUTS:
        raise ValueError(Errors.E009.format(setting="output", requirement=f"one of {OUTPUTS}", value=output))
    embedding = TokenEmbedding(embed_size)
    rnn = build_cell(cell, width, embed_size, depth=depth, dropout=dropout)
    tied_embedding = embedding if tie_weights else None
    if output == "full":
        output_layer = OutputSoftmax(nI=width, tied_embedding=tied_embedding)
    else:
        output_layer = AdaptiveSoftmax(nI=width, cutoffs=list(cutoffs), div_value=div_value,
                                       tied_embedding=tied_embedding)
    model = RecurrentLanguageModel(embedding, rnn, output_layer, dropout=dropout, tied=bool(tie_weights))
    set_layer_group(model, LM_GROUP)  # for ULMFiT's fine-tuning through spacy_lm.DiscriminativeAdam.v1
    set_layer_group(embedding, EMBEDDING_GROUP)
    return model


def _dropout(model: Model, X, is_train: bool):
    rate = model.attrs["dropout_rate"] if is_train else 0.0
    if rate <= 0:
        return X, lambda dX: dX
    mask = model.ops.get_dropout_mask(X.shape, rate).astype(X.dtype)
    return X * mask, lambda dX: dX * mask


def _forward(model: "RecurrentLanguageModel", inputs: LMInput, is_train: bool) -> Tuple[LMOutput, Callable]:
    ids, lengths, state = inputs
    (hidden, state_out), bp_encode = model.encode(ids, lengths, state, is_train)
    T, B, width = hidden.shape
    logits, bp_output = model.get_ref("output")(hidden.reshape(T * B, width), is_train)

    def backprop(d_outputs) -> None:
        d_logits, _ = d_outputs
        bp_encode(bp_output(d_logits).reshape(T, B, width))

    return (logits, state_out), backprop


class RecurrentLanguageModel(OutputContractMethods, Model):
    """Embedding → recurrent stack → output layer, with the LM contract as methods."""

    def __init__(self, embedding: Model, rnn: Model, output: Model, *, dropout: float, tied: bool) -> None:
        # The node tree (name, layers, params) is that of spacy-lm 0.1.0, so saved models load.
        super().__init__(
            "lstm_language_model", _forward, init=init_vocabulary_sized, layers=[embedding, rnn, output],
            refs={"embedding": embedding, "rnn": rnn, "output": output},
            dims={"nV": None, "nO": rnn.get_dim("nO")},
            attrs={"dropout_rate": dropout, "tied": tied},
        )

    def encode(self, ids: Ints2d, lengths: Optional[Ints1d], state: Any,
               is_train: bool) -> Tuple[Tuple[Floats3d, Any], Callable[[Floats3d], None]]:
        vectors, bp_embed = self.get_ref("embedding")(ids, is_train)
        vectors, bp_drop_in = _dropout(self, vectors, is_train)
        (hidden, state_out), bp_rnn = self.get_ref("rnn")((vectors, lengths, state), is_train)
        hidden, bp_drop_out = _dropout(self, hidden, is_train)

        def backprop(d_hidden: Floats3d) -> None:
            d_vectors, _ = bp_rnn((bp_drop_out(d_hidden), None))
            bp_embed(bp_drop_in(d_vectors))

        return (hidden, state_out), backprop

    def grow_vocabulary(self, new_size: int) -> None:
        """Grow a trained model's vocabulary to ``new_size`` ids: ids from the current ``nV`` on are
        new words (appended to the component's vocabulary, as ``TokenVocab.extend`` does). Their
        embedding rows, output rows and output biases are the mean of the trained ones (fastai's
        ``convert_weights``); tied weights stay one table. The hidden states and the old words'
        logits do not change; a full softmax's log-probabilities of old words drop by one
        per-row constant (the new words take their share of the normaliser), an adaptive
        softmax's only in its last cluster, which the new words join. Works on any ops (CuPy)."""
        check_setting(is_count(new_size, 1), "new_size", "an integer >= 1", new_size, where="grow_vocabulary")
        nV = self.maybe_get_dim("nV")
        if not nV or not self.get_ref("embedding").has_param("E"):
            raise ValueError(Errors.E314.format(new_size=new_size, nV=nV, reason="the model is not initialized "
                                                "(train it, or load or source a trained one, first)"))
        if new_size < nV:
            raise ValueError(Errors.E314.format(new_size=new_size, nV=nV, reason="a vocabulary only grows"))
        if new_size > nV:
            grow_vocabulary_sized(self, new_size)

    def step(self, token_ids: Ints1d, state: Any) -> Tuple[Floats2d, Any]:
        vectors, _ = self.get_ref("embedding")(self.ops.asarray(token_ids, dtype="int32"), False)
        hidden, state = recurrent.step(self.get_ref("rnn"), vectors, state)
        return self.log_probs(hidden), state

    def initial_state(self, batch_size: int) -> Any:
        return recurrent.initial_state(self.get_ref("rnn"), batch_size)

    def select_state(self, state: Any, indices: Ints1d) -> Any:
        return recurrent.select_state(self.get_ref("rnn"), state, indices)

    def concat_states(self, states: Sequence[Any]) -> Any:
        return recurrent.concat_states(self.get_ref("rnn"), states)
