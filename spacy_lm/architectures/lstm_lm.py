"""`spacy_lm.LSTMLanguageModel.v1`: embedding → LSTM → softmax over a token vocabulary.

The model works on id windows, not Docs: the `lstm_lm` component owns the vocabulary
and the windowing (truncated BPTT), so the same model serves training, scoring and
one-token-at-a-time generation.

Input:  ``(ids, lengths, state)``: ids of shape ``(T, B)`` (time-major), optional
        lengths ``(B,)`` and optional LSTM state ``(h, c)``.
Output: ``(logits, state)``: logits of shape ``(T * B, nV)`` (row ``t * B + b``) and the
        state after each sequence's last real token.
"""
from typing import Callable, Optional, Tuple

from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d, Floats3d, Ints1d, Ints2d

from ..layers.embedding import TokenEmbedding
from ..layers.lstm import LSTM, LSTMState, initial_state, lstm_step
from ..layers.output_softmax import OutputSoftmax

LMInput = Tuple[Ints2d, Optional[Ints1d], Optional[LSTMState]]
LMOutput = Tuple[Floats2d, LSTMState]


@registry.architectures("spacy_lm.LSTMLanguageModel.v1")
def build_lstm_language_model(
    width: int = 200,
    depth: int = 2,
    embed_size: Optional[int] = None,
    dropout: float = 0.2,
    tie_weights: Optional[bool] = None,
) -> Model[LMInput, LMOutput]:
    """An LSTM LM. ``tie_weights=None`` ties input and output embeddings when
    ``embed_size == width`` (the default); ``True`` insists on it."""
    embed_size = width if embed_size is None else embed_size
    if tie_weights is None:
        tie_weights = embed_size == width
    elif tie_weights and embed_size != width:
        raise ValueError(
            f"tie_weights needs embed_size == width, got embed_size={embed_size}, width={width}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    embedding = TokenEmbedding(embed_size)
    lstm = LSTM(width, embed_size, depth=depth, dropout=dropout)
    output = OutputSoftmax(nI=width, tied_embedding=embedding if tie_weights else None)
    return Model(
        "lstm_language_model",
        forward,
        init=init,
        layers=[embedding, lstm, output],
        refs={"embedding": embedding, "lstm": lstm, "output": output},
        dims={"nV": None, "nO": width},
        attrs={"dropout_rate": dropout, "tied": bool(tie_weights)},
    )


def init(model: Model, X=None, Y=None) -> None:
    nV = model.get_dim("nV")
    if not nV:
        raise ValueError("Set the vocabulary size (dim 'nV') before initializing the language model")
    model.get_ref("embedding").set_dim("nV", nV)
    model.get_ref("output").set_dim("nO", nV)
    for layer in model.layers:
        layer.initialize()


def _dropout(model: Model, X, is_train: bool):
    rate = model.attrs["dropout_rate"] if is_train else 0.0
    if rate <= 0:
        return X, lambda dX: dX
    mask = model.ops.get_dropout_mask(X.shape, rate).astype(X.dtype)
    return X * mask, lambda dX: dX * mask


def encode(model: Model, inputs: LMInput, is_train: bool) -> Tuple[Tuple[Floats3d, LSTMState], Callable]:
    """Hidden states (T, B, width) and final state: the encoder other components read."""
    ids, lengths, state = inputs
    vectors, bp_embed = model.get_ref("embedding")(ids, is_train)
    vectors, bp_drop_in = _dropout(model, vectors, is_train)
    (hidden, state_out), bp_lstm = model.get_ref("lstm")((vectors, lengths, state), is_train)
    hidden, bp_drop_out = _dropout(model, hidden, is_train)

    def backprop(d_outputs):
        d_hidden, d_state = d_outputs
        d_vectors, _ = bp_lstm((bp_drop_out(d_hidden), d_state))
        bp_embed(bp_drop_in(d_vectors))
        return None

    return (hidden, state_out), backprop


def forward(model: Model, inputs: LMInput, is_train: bool) -> Tuple[LMOutput, Callable]:
    (hidden, state_out), bp_encode = encode(model, inputs, is_train)
    T, B, width = hidden.shape
    logits, bp_output = model.get_ref("output")(hidden.reshape(T * B, width), is_train)

    def backprop(d_outputs) -> None:
        d_logits, d_state = d_outputs
        d_hidden = bp_output(d_logits).reshape(T, B, width)
        return bp_encode((d_hidden, d_state))

    return (logits, state_out), backprop


def lm_initial_state(model: Model, batch_size: int) -> LSTMState:
    return initial_state(model.get_ref("lstm"), batch_size)


def lm_step(model: Model, token_ids: Ints1d, state: LSTMState) -> Tuple[Floats2d, LSTMState]:
    """Logits for the next token after ``token_ids`` (B,), in O(1) per token."""
    vectors, _ = model.get_ref("embedding")(token_ids, False)
    hidden, state = lstm_step(model.get_ref("lstm"), vectors, state)
    logits, _ = model.get_ref("output")(hidden, False)
    return logits, state
