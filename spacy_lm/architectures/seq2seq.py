"""`spacy_lm.Seq2SeqAttention.v1`: an attentional encoder-decoder (Luong et al. 2015) as a Thinc model.

    source ids → embedding → encoder cell (LSTM or GRU, bidirectional by default) → memory M
    bridge: tanh(W [forward state after the last source token; backward state at the first])
            → the decoder's initial hidden state (Joey NMT's "bridge")
    per target step t:  s_t = cell([embed(y_{t-1}); h̃_{t-1}], s_{t-1})   (h̃ fed back: input feeding)
                        c_t, a_t = attention(s_t, M)                     ("dot", "general", "bahdanau")
                        h̃_t = tanh(W_c [c_t; s_t])  →  output softmax over the target vocabulary

As Joey NMT's recurrent decoder, every score (Bahdanau's additive one too) takes the decoder
state after the cell as its query; the attentional vector h̃ is dropped out once and used for
both the output and the next step's input. ``dropout`` applies to the source and target
embeddings and to h̃ while training (spaCy's ``drop`` replaces it: ``[training] dropout``).

The model owns its contract (the `translator` component calls only these methods):
``forward_train`` (teacher-forced hidden states h̃ and attention, with backprop), ``loss`` /
``score`` / ``log_probs`` (the output contract), and for generation ``start_state``,
``teacher_force``, ``step``, ``select_state``, ``concat_states``
(:class:`spacy_lm.types.Seq2SeqLMModel`): the state carries the source (memory, keys, mask) beside
the cell state and h̃, so the one decoder (:mod:`spacy_lm.decoding`) beam-searches and samples
from it. Ids are time-major ``(T, B)`` with ``lengths`` (B,); arrays live on ``ops.xp``.
"""
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

from spacy.util import registry
from thinc.api import Linear, Model
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

from ..checks import check_count
from ..errors import Errors
from ..layers import attention as attention_layer
from ..layers import recurrent
from ..layers.cells import build_cell  # checks ``cell`` (E009)
from ..layers.attention import GlobalAttention
from ..layers.embedding import TokenEmbedding
from ..layers.output import OutputContractMethods
from ..layers.output_softmax import OutputSoftmax


class SourceState(NamedTuple):
    """A batch of decoding rows: the decoder cell's state, the last attentional vector h̃
    (None without input feeding), and each row's source: memory M (B, S, nM), keys K and
    mask (B, S)."""

    cell: Any
    feed: Optional[Floats2d]
    memory: Floats3d
    keys: Floats3d
    mask: Floats2d


@registry.architectures("spacy_lm.Seq2SeqAttention.v1")
def build_seq2seq_attention(
    cell: str = "gru",
    embed_size: int = 256,
    encoder_width: int = 256,
    decoder_width: int = 256,
    depth: int = 1,
    bidirectional: bool = True,
    attention: str = "general",
    input_feeding: bool = True,
    dropout: float = 0.3,
    tie_embeddings: bool = False,
) -> "Seq2SeqModel":
    """An attentional translation model. ``encoder_width``: per direction; ``decoder_width``:
    the decoder cell and h̃; ``attention``: "dot", "general" or "bahdanau"; ``tie_embeddings``:
    the output layer shares the target embedding table (needs embed_size == decoder_width)."""
    for setting, value in (("embed_size", embed_size), ("encoder_width", encoder_width),
                           ("decoder_width", decoder_width), ("depth", depth)):
        check_count(setting, value, 1)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(Errors.E009.format(setting="dropout", requirement="in [0, 1)", value=dropout))
    if tie_embeddings and embed_size != decoder_width:
        raise ValueError(Errors.E009.format(setting="tie_embeddings", value=True,
                                            requirement=f"embed_size ({embed_size}) == decoder_width "
                                                        f"({decoder_width})"))
    memory_width = encoder_width * (2 if bidirectional else 1)
    src_embedding = TokenEmbedding(embed_size)
    tgt_embedding = TokenEmbedding(embed_size)
    encoder = build_cell(cell, encoder_width, embed_size, depth=depth, bidirectional=bidirectional)
    bridge = Linear(depth * decoder_width, memory_width)
    decoder_nI = embed_size + (decoder_width if input_feeding else 0)
    decoder = build_cell(cell, decoder_width, decoder_nI, depth=depth)
    attend = GlobalAttention(attention, nQ=decoder_width, nM=memory_width)
    combine = Linear(decoder_width, memory_width + decoder_width)
    output = OutputSoftmax(nI=decoder_width, tied_embedding=tgt_embedding if tie_embeddings else None)
    layers = [src_embedding, tgt_embedding, encoder, bridge, decoder, attend, combine, output]
    refs = {"src_embedding": src_embedding, "tgt_embedding": tgt_embedding, "encoder": encoder,
            "bridge": bridge, "decoder": decoder, "attention": attend, "combine": combine, "output": output}
    return Seq2SeqModel(layers, refs, decoder_width=decoder_width, depth=depth, input_feeding=input_feeding,
                        dropout=dropout)


def _init(model: Model, X=None, Y=None) -> None:
    nV, nV_src = model.get_dim("nV"), model.get_dim("nV_src")
    if not nV or not nV_src:
        raise ValueError(Errors.E021)
    model.get_ref("src_embedding").set_dim("nV", nV_src)
    model.get_ref("tgt_embedding").set_dim("nV", nV)
    model.get_ref("output").set_dim("nO", nV)
    for layer in model.layers:
        layer.initialize()


def _forward(model: "Seq2SeqModel", inputs, is_train: bool):
    """``(src_ids, src_lengths, tgt_ids)`` → logits ``(T * B, nV)`` of the teacher-forced
    decoder (for inspection; training goes through the component and ``forward_train``)."""
    src_ids, src_lengths, tgt_ids = inputs
    (hidden, _), _ = model.forward_train(src_ids, src_lengths, tgt_ids, False)
    T, B, width = hidden.shape
    logits, _ = model.get_ref("output")(hidden.reshape(T * B, width), False)
    return logits, lambda d: None


class Seq2SeqModel(OutputContractMethods, Model):
    """Encoder, bridge, attentional decoder and output layer, with the seq2seq contract as methods."""

    def __init__(self, layers, refs, *, decoder_width: int, depth: int, input_feeding: bool,
                 dropout: float) -> None:
        super().__init__(
            "seq2seq_attention", _forward, init=_init, layers=layers, refs=refs,
            dims={"nV": None, "nV_src": None, "nO": decoder_width},
            attrs={"depth": depth, "input_feeding": input_feeding, "dropout_rate": dropout},
        )

    def _dropout(self, X, is_train: bool):
        rate = self.attrs["dropout_rate"] if is_train else 0.0
        if rate <= 0:
            return X, None
        mask = self.ops.get_dropout_mask(X.shape, rate).astype(X.dtype)
        return X * mask, mask

    # ------------------------------------------------------------------ encoder
    def encode_source(self, src_ids: Ints2d, src_lengths: Ints1d, is_train: bool
                      ) -> Tuple[SourceState, Callable[[Floats3d, Floats3d, Any], None]]:
        """The decoder's start state for sources ``(S, B)``: memory, keys, mask and the bridged
        cell state. The callback takes the gradients of memory, keys and the start cell state."""
        xp = self.ops.xp
        vectors, bp_embed = self.get_ref("src_embedding")(src_ids, is_train)
        vectors, drop_mask = self._dropout(vectors, is_train)
        encoder = self.get_ref("encoder")
        (Y, _), bp_encoder = encoder((vectors, src_lengths, None), is_train)
        S, B, nM = Y.shape
        memory = xp.ascontiguousarray(Y.transpose(1, 0, 2))
        attend = self.get_ref("attention")
        K, bp_keys = attention_layer.keys(attend, memory)
        mask = attention_layer.source_mask(self.ops, src_lengths, S, Y.dtype)
        # the bridge reads the forward state after the last real token, the backward one at 0
        last = xp.asarray(src_lengths, dtype="int32") - 1
        columns = xp.arange(B)
        summary = Y[last, columns]
        bidirectional = recurrent.n_directions(encoder) == 2
        width = encoder.get_dim("nO")
        if bidirectional:
            summary[:, width:] = Y[0, :, width:]
        flat, bp_bridge = self.get_ref("bridge")(summary, is_train)
        flat = xp.tanh(flat)
        depth, nO = self.attrs["depth"], self.get_dim("nO")
        decoder = self.get_ref("decoder")
        hidden = xp.ascontiguousarray(flat.reshape(B, depth, nO).transpose(1, 0, 2))
        start = SourceState(recurrent.state_from_hidden(decoder, hidden), None, memory, K, mask)

        def backprop(d_memory: Floats3d, d_keys: Floats3d, d_cell: Any) -> None:
            d_memory = d_memory + bp_keys(d_keys)
            dY = xp.ascontiguousarray(d_memory.transpose(1, 0, 2))
            d_hidden = recurrent.hidden_grad(decoder, d_cell)
            if d_hidden is not None:
                d_flat = xp.ascontiguousarray(d_hidden.transpose(1, 0, 2)).reshape(B, depth * nO)
                d_summary = bp_bridge(d_flat * (1.0 - flat**2))
                dY[last, columns, :width] += d_summary[:, :width]
                if bidirectional:
                    dY[0, :, width:] += d_summary[:, width:]
            d_vectors, _ = bp_encoder((dY, None))
            bp_embed(d_vectors * drop_mask if drop_mask is not None else d_vectors)

        return start, backprop

    # ------------------------------------------------------------------ decoder
    def _attend_step(self, s: Floats2d, source: SourceState, is_train: bool):
        """Attention and h̃ for decoder outputs ``s`` (B, nO): ``(h̃, a)`` and the backprop
        (d h̃ → ds, dK, dM)."""
        xp = self.ops.xp
        (c, a), bp_attend = self.get_ref("attention")((s, source.keys, source.memory, source.mask), is_train)
        pre, bp_combine = self.get_ref("combine")(xp.concatenate([c, s], axis=1), is_train)
        h = xp.tanh(pre)
        nM = c.shape[1]

        def backprop(dh: Floats2d):
            d_cat = bp_combine(dh * (1.0 - h**2))
            dq, dK, dM = bp_attend(d_cat[:, :nM])
            return d_cat[:, nM:] + dq, dK, dM

        return (h, a), backprop

    def forward_train(self, src_ids: Ints2d, src_lengths: Ints1d, tgt_ids: Ints2d, is_train: bool
                      ) -> Tuple[Tuple[Floats3d, Floats3d], Callable[[Floats3d], None]]:
        """Teacher-forced decoding of target inputs ``tgt_ids`` (T, B) (``<eos>`` + tokens) from
        the sources: h̃ ``(T, B, nO)`` (dropout applied) and attention ``(T, B, S)``; the callback
        takes d(h̃) and accumulates every parameter gradient."""
        start, bp_source = self.encode_source(src_ids, src_lengths, is_train)
        (hidden, attn, _), bp_decode = self.decode(tgt_ids, start, is_train)

        def backprop(d_hidden: Floats3d) -> None:
            bp_source(*bp_decode(d_hidden))

        return (hidden, attn), backprop

    def decode(self, tgt_ids: Ints2d, start: SourceState, is_train: bool):
        """Teacher-forced decoder from ``start``: ``(h̃ (T, B, nO), attention (T, B, S), end
        state after every step)``; the callback takes d(h̃) and returns the gradients of the
        start's memory, keys and cell state."""
        xp = self.ops.xp
        T, B = tgt_ids.shape
        nO = self.get_dim("nO")
        decoder = self.get_ref("decoder")
        vectors, bp_embed = self.get_ref("tgt_embedding")(tgt_ids, is_train)
        vectors, embed_mask = self._dropout(vectors, is_train)
        embed_size = vectors.shape[-1]
        feeding = self.attrs["input_feeding"]
        feed = start.feed if start.feed is not None else xp.zeros((B, nO), dtype=vectors.dtype)
        cell = start.cell
        hidden = xp.empty((T, B, nO), dtype=vectors.dtype)
        attn = xp.empty((T, B, start.memory.shape[1]), dtype=vectors.dtype)
        steps: List[Tuple[Callable, Callable, Optional[Floats2d]]] = []
        for t in range(T):
            x = xp.concatenate([vectors[t], feed], axis=1) if feeding else vectors[t]
            (y, cell), bp_cell = decoder((x[None], None, cell), is_train)
            (h, a), bp_attend = self._attend_step(y[0], start, is_train)
            h, h_mask = self._dropout(h, is_train)
            hidden[t] = h
            attn[t] = a
            feed = h
            steps.append((bp_cell, bp_attend, h_mask))
        end = SourceState(cell, feed if feeding else None, start.memory, start.keys, start.mask)

        def backprop(d_hidden: Floats3d):
            d_vectors = xp.empty(vectors.shape, dtype=vectors.dtype)
            d_memory = xp.zeros(start.memory.shape, dtype=start.memory.dtype)
            d_keys = xp.zeros(start.keys.shape, dtype=start.keys.dtype)
            d_feed = None
            d_cell = None
            for t in range(T - 1, -1, -1):
                bp_cell, bp_attend, h_mask = steps[t]
                dh = d_hidden[t] if d_feed is None else d_hidden[t] + d_feed
                if h_mask is not None:
                    dh = dh * h_mask
                ds, dK, dM = bp_attend(dh)
                d_keys += dK
                d_memory += dM
                dx, d_cell = bp_cell((ds[None], d_cell))
                d_vectors[t] = dx[0, :, :embed_size]
                d_feed = dx[0, :, embed_size:] if feeding else None
            bp_embed(d_vectors * embed_mask if embed_mask is not None else d_vectors)
            return d_memory, d_keys, d_cell

        return (hidden, attn, end), backprop

    # ------------------------------------------------------------------ output contract

    # ------------------------------------------------------------------ generation
    def start_state(self, src_ids: Ints2d, src_lengths: Ints1d) -> SourceState:
        """The decoding state before the first target token (``<eos>``) of each source."""
        start, _ = self.encode_source(src_ids, src_lengths, False)
        return start

    def teacher_force(self, tgt_ids: Ints2d, start: SourceState) -> Tuple[Floats3d, SourceState]:
        """Inference: h̃ ``(T, B, nO)`` of reading ``tgt_ids`` from ``start``, and the end state."""
        (hidden, _, end), _ = self.decode(tgt_ids, start, False)
        return hidden, end

    def step(self, token_ids: Ints1d, state: SourceState) -> Tuple[Floats2d, SourceState]:
        """Read one target token per row: next-token log-probs (fresh) and the new state."""
        logprobs, state, _ = self.step_with_attention(token_ids, state)
        return logprobs, state

    def step_with_attention(self, token_ids: Ints1d, state: SourceState):
        """``step`` that also returns the attention ``(B, S)`` of this step."""
        xp = self.ops.xp
        vectors, _ = self.get_ref("tgt_embedding")(self.ops.asarray(token_ids, dtype="int32"), False)
        feeding = self.attrs["input_feeding"]
        if feeding:
            feed = state.feed if state.feed is not None else xp.zeros((len(vectors), self.get_dim("nO")),
                                                                     dtype=vectors.dtype)
            vectors = xp.concatenate([vectors, feed], axis=1)
        s, cell = recurrent.step(self.get_ref("decoder"), vectors, state.cell)
        (h, a), _ = self._attend_step(s, state, False)
        new = SourceState(cell, h if feeding else None, state.memory, state.keys, state.mask)
        return self.log_probs(h), new, a

    def select_state(self, state: SourceState, indices: Ints1d) -> SourceState:
        indices = self.ops.asarray(indices, dtype="int32")
        cell = recurrent.select_state(self.get_ref("decoder"), state.cell, indices)
        feed = None if state.feed is None else state.feed[indices]
        return SourceState(cell, feed, state.memory[indices], state.keys[indices], state.mask[indices])

    def concat_states(self, states: Sequence[SourceState]) -> SourceState:
        """Rows of several states side by side (their sources padded to the longest)."""
        xp = self.ops.xp
        S = max(s.memory.shape[1] for s in states)

        def pad(X, value):
            if X.shape[1] == S:
                return X
            shape = (X.shape[0], S - X.shape[1]) + X.shape[2:]
            return xp.concatenate([X, xp.full(shape, value, dtype=X.dtype)], axis=1)

        cells = recurrent.concat_states(self.get_ref("decoder"), [s.cell for s in states])
        feeds = [s.feed for s in states]
        feed = None if feeds[0] is None else xp.concatenate(feeds, axis=0)
        return SourceState(cells, feed, xp.concatenate([pad(s.memory, 0.0) for s in states], axis=0),
                           xp.concatenate([pad(s.keys, 0.0) for s in states], axis=0),
                           xp.concatenate([pad(s.mask, -xp.inf) for s in states], axis=0))
