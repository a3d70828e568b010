"""`spacy_lm.SentenceVAE.v1`: Bowman et al. 2016's sentence VAE as a Thinc model.

    ids → embedding → encoder cell (LSTM or GRU, optionally bidirectional) → last states
        → mean, log-variance of q(z|x) = N(mean, exp(logvar))
    z → decoder cell (the same kind), conditioned on z by its initial hidden state
        (``condition="init"``, a linear map of z as in timbmg/Sentence-VAE), by z concatenated to
        every input embedding (``"concat"``), or both → output softmax over the vocabulary

The encoder and decoder share one embedding table (as timbmg/Sentence-VAE); ``dropout`` drops
the decoder's input embeddings while training (like every dropout rate of a spaCy model, it is
replaced by the ``drop`` of ``nlp.update``: ``[training] dropout`` in ``spacy train``). Word dropout (whole input tokens replaced by
``<unk>``) is the component's, as it works on ids.

The model owns its contract (the `sentence_vae` component calls only these methods):
``posterior`` (ids → mean, logvar), ``decode`` (teacher-forced hidden states given z, and the
gradient w.r.t. z), ``loss`` / ``score`` / ``log_probs`` (the output contract), and for
generation ``start_state(z)``, ``teacher_force``, ``step``, ``select_state``, ``concat_states``
(:class:`spacy_lm.types.LatentLMModel`): the decoder's
state is ``(cell state, z)``, so z rides in the state and the one decoder
(:mod:`spacy_lm.decoding`) samples, beam-searches and streams from it. Ids are time-major
``(T, B)`` with ``lengths`` (B,); all arrays live on ``ops.xp``.
"""
from typing import Any, Callable, Optional, Sequence, Tuple

from spacy.util import registry
from thinc.api import Linear, Model
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

from ..checks import check_count
from ..errors import Errors
from ..layers import recurrent
from ..layers.cells import build_cell  # checks ``cell`` (E009)
from ..layers.embedding import TokenEmbedding
from ..layers.output import OutputContractMethods, init_vocabulary_sized
from ..layers.output_softmax import OutputSoftmax

CONDITIONS = ("init", "concat", "both")
LatentState = Tuple[Any, Floats2d]  # (the decoder cell's state, z)


@registry.architectures("spacy_lm.SentenceVAE.v1")
def build_sentence_vae(
    cell: str = "gru",
    embed_size: int = 300,
    width: int = 256,
    latent_size: int = 16,
    depth: int = 1,
    bidirectional: bool = False,
    condition: str = "init",
    dropout: float = 0.5,
) -> "SentenceVAEModel":
    """A sentence VAE. ``width``: hidden size of encoder and decoder (per direction for a
    bidirectional encoder); ``latent_size``: dimensions of z; ``condition``: how z reaches the
    decoder ("init", "concat" or "both"); ``dropout``: on the decoder's input embeddings."""
    if condition not in CONDITIONS:
        raise ValueError(Errors.E009.format(setting="condition", requirement=f"one of {CONDITIONS}",
                                            value=condition))
    check_count("latent_size", latent_size, 1, why=" (a VAE needs a latent space)")
    for setting, value in (("embed_size", embed_size), ("width", width), ("depth", depth)):
        check_count(setting, value, 1)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(Errors.E009.format(setting="dropout", requirement="in [0, 1)", value=dropout))
    dirs = 2 if bidirectional else 1
    embedding = TokenEmbedding(embed_size)
    encoder = build_cell(cell, width, embed_size, depth=depth, bidirectional=bidirectional)
    to_mean = Linear(latent_size, width * dirs)
    to_logvar = Linear(latent_size, width * dirs)
    decoder_nI = embed_size + (latent_size if condition != "init" else 0)
    decoder = build_cell(cell, width, decoder_nI, depth=depth)
    output = OutputSoftmax(nI=width)
    layers = [embedding, encoder, to_mean, to_logvar, decoder, output]
    refs = {"embedding": embedding, "encoder": encoder, "to_mean": to_mean, "to_logvar": to_logvar,
            "decoder": decoder, "output": output}
    if condition != "concat":
        to_hidden = Linear(depth * width, latent_size)
        layers.append(to_hidden)
        refs["to_hidden"] = to_hidden
    return SentenceVAEModel(layers, refs, width=width, latent_size=latent_size, depth=depth,
                            condition=condition, dropout=dropout)


def _forward(model: "SentenceVAEModel", inputs, is_train: bool):
    """``(ids, lengths, z)`` → ``(logits (T * B, nV), (mean, logvar))``: the decoder read with
    the given ``z`` and the encoder's posterior of the same ids (for inspection; training goes
    through the component, which calls the contract's methods)."""
    ids, lengths, z = inputs
    (mean, logvar), _ = model.posterior(ids, lengths, False)
    (hidden, _), _ = model.decode(ids, lengths, z, False)
    T, B, width = hidden.shape
    logits, _ = model.get_ref("output")(hidden.reshape(T * B, width), False)
    return (logits, (mean, logvar)), lambda d: None


class SentenceVAEModel(OutputContractMethods, Model):
    """Encoder, latent projections, decoder and output layer, with the VAE contract as methods."""

    def __init__(self, layers, refs, *, width: int, latent_size: int, depth: int, condition: str,
                 dropout: float) -> None:
        super().__init__(
            "sentence_vae", _forward, init=init_vocabulary_sized, layers=layers, refs=refs,
            dims={"nV": None, "nO": width, "nZ": latent_size},
            attrs={"condition": condition, "depth": depth, "dropout_rate": dropout},
        )

    # ------------------------------------------------------------------ encoder: q(z|x)
    def posterior(self, ids: Ints2d, lengths: Ints1d, is_train: bool
                  ) -> Tuple[Tuple[Floats2d, Floats2d], Callable[[Floats2d, Floats2d], None]]:
        """Mean and log-variance ``(B, nZ)`` of q(z|x) from the encoder's last states (the
        forward direction after the last real token, the backward one after the first); the
        callback takes their gradients and accumulates the parameter gradients."""
        ops = self.ops
        xp = ops.xp
        encoder = self.get_ref("encoder")
        vectors, bp_embed = self.get_ref("embedding")(ids, is_train)
        (Y, _), bp_encoder = encoder((vectors, lengths, None), is_train)
        T, B, _ = Y.shape
        width = self.get_dim("nO")
        last = xp.asarray(lengths, dtype="int32") - 1
        columns = xp.arange(B)
        summary = Y[last, columns]  # (B, width * dirs); the backward half is replaced below
        bidirectional = recurrent.n_directions(encoder) == 2
        if bidirectional:
            summary[:, width:] = Y[0, :, width:]
        mean, bp_mean = self.get_ref("to_mean")(summary, is_train)
        logvar, bp_logvar = self.get_ref("to_logvar")(summary, is_train)

        def backprop(d_mean: Floats2d, d_logvar: Floats2d) -> None:
            d_summary = bp_mean(d_mean) + bp_logvar(d_logvar)
            dY = xp.zeros(Y.shape, dtype=Y.dtype)
            dY[last, columns, :width] = d_summary[:, :width]
            if bidirectional:
                dY[0, :, width:] += d_summary[:, width:]
            d_vectors, _ = bp_encoder((dY, None))
            bp_embed(d_vectors)

        return (mean, logvar), backprop

    # ------------------------------------------------------------------ decoder: p(x|z)
    def _start(self, z: Floats2d, is_train: bool) -> Tuple[Any, Callable[[Any], Optional[Floats2d]]]:
        """The decoder cell's state before the first token given z, and its backprop (→ dz)."""
        decoder = self.get_ref("decoder")
        B = z.shape[0]
        if self.attrs["condition"] == "concat":
            return recurrent.initial_state(decoder, B), lambda d_state: None
        width = self.get_dim("nO")
        depth = self.attrs["depth"]
        flat, bp_hidden = self.get_ref("to_hidden")(z, is_train)
        hidden = self.ops.xp.ascontiguousarray(flat.reshape(B, depth, width).transpose(1, 0, 2))

        def backprop(d_state: Any) -> Optional[Floats2d]:
            d_hidden = recurrent.hidden_grad(decoder, d_state)
            if d_hidden is None:
                return None
            return bp_hidden(self.ops.xp.ascontiguousarray(d_hidden.transpose(1, 0, 2)).reshape(B, depth * width))

        return recurrent.state_from_hidden(decoder, hidden), backprop

    def _inputs(self, vectors, z: Floats2d):
        if self.attrs["condition"] == "init":
            return vectors
        xp = self.ops.xp
        shape = vectors.shape[:-1] + (z.shape[1],)
        return xp.concatenate([vectors, xp.broadcast_to(z, shape).astype(vectors.dtype)], axis=-1)

    def decode(self, ids: Ints2d, lengths: Ints1d, z: Floats2d, is_train: bool
               ) -> Tuple[Tuple[Floats3d, Any], Callable[[Floats3d], Floats2d]]:
        """Teacher-forced decoder: hidden states ``(T, B, width)`` and the state after each
        row's last real input; the callback takes d(hidden), accumulates the parameter
        gradients and returns d(z) ``(B, nZ)``."""
        ops = self.ops
        xp = ops.xp
        vectors, bp_embed = self.get_ref("embedding")(ids, is_train)
        rate = self.attrs["dropout_rate"] if is_train else 0.0
        mask = ops.get_dropout_mask(vectors.shape, rate).astype(vectors.dtype) if rate > 0 else None
        if mask is not None:
            vectors = vectors * mask
        embed_size = vectors.shape[-1]
        start, bp_start = self._start(z, is_train)
        (Y, state), bp_decoder = self.get_ref("decoder")((self._inputs(vectors, z), lengths, start), is_train)

        def backprop(d_hidden: Floats3d) -> Floats2d:
            dX, d_start = bp_decoder((d_hidden, None))
            dz = xp.zeros(z.shape, dtype=z.dtype)
            from_start = bp_start(d_start)
            if from_start is not None:
                dz += from_start
            if self.attrs["condition"] != "init":
                dz += dX[..., embed_size:].sum(axis=0)
            d_vectors = dX[..., :embed_size]
            bp_embed(d_vectors * mask if mask is not None else d_vectors)
            return dz

        return (Y, (state, z)), backprop

    # ------------------------------------------------------------------ output contract

    # ------------------------------------------------------------------ generation
    def start_state(self, z: Floats2d) -> LatentState:
        """The decoder's state before the first token (``<eos>``) for latent codes ``z`` (B, nZ)."""
        state, _ = self._start(z, False)
        return state, z

    def teacher_force(self, ids: Ints2d, start: LatentState) -> Tuple[Floats3d, LatentState]:
        """Inference: hidden states ``(T, B, width)`` of reading ``ids`` (rows of one length)
        from the start states, and the state after the last step."""
        cell_state, z = start
        vectors, _ = self.get_ref("embedding")(ids, False)
        (Y, cell_state), _ = self.get_ref("decoder")((self._inputs(vectors, z), None, cell_state), False)
        return Y, (cell_state, z)

    def step(self, token_ids: Ints1d, state: LatentState) -> Tuple[Floats2d, LatentState]:
        cell_state, z = state
        vectors, _ = self.get_ref("embedding")(self.ops.asarray(token_ids, dtype="int32"), False)
        hidden, cell_state = recurrent.step(self.get_ref("decoder"), self._inputs(vectors, z), cell_state)
        return self.log_probs(hidden), (cell_state, z)

    def select_state(self, state: LatentState, indices: Ints1d) -> LatentState:
        cell_state, z = state
        indices = self.ops.asarray(indices, dtype="int32")
        return recurrent.select_state(self.get_ref("decoder"), cell_state, indices), z[indices]

    def concat_states(self, states: Sequence[LatentState]) -> LatentState:
        cells = recurrent.concat_states(self.get_ref("decoder"), [s for s, _ in states])
        return cells, self.ops.xp.concatenate([z for _, z in states], axis=0)
