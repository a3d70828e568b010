"""`spacy_lm.SpanReader.v1`: a DrQA-style reader (Chen et al. 2017) for extractive QA.

Context tokens are read with their word embedding, three token features the component computes
(exact match of the form and of the lower-cased form with a question word, the word's term
frequency in the context), and the aligned question embedding (layers/question_attention.py),
by a bidirectional recurrent stack (`cell` = "lstm" | "gru" from layers/cells.py). The question
is read by its own stack and pooled by self-attention into one vector ``q``; bilinear products
``c_i W_s q`` and ``c_i W_e q`` score each token as the answer's start and end. Optional LM
features (ELMo's recipe): the hidden states of a pre-trained `lstm_lm`'s encoder
(`spacy_lm.LMFeatures.v1`, frozen, its own vocabulary) are concatenated to the embeddings of
both the context and the question; `spacy_lm.LMFeatures.v2` reads the LM's ``<eos>`` first (so
its features are the LM's own states) and, with ``backward = true``, a backward `lstm_lm` too
(ELMo's biLM: both states side by side).

The model implements `types.SpanReaderModel`: ``span_logits`` (training and inference) and
``best_spans`` (layers/span_search.py). It never sees a Doc; the component builds the
`types.ReaderBatch`.
"""
from typing import Callable, Optional, Tuple

import numpy
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d, Ints1d, Ints3d

from ..checks import check_setting, is_count
from ..layers.cells import build_cell
from ..layers.embedding import TokenEmbedding
from ..layers.question_attention import MASKED, aligned_attention, self_attentive_pool
from ..layers.span_search import best_spans
from ..text.vocab import EOS, SPECIALS
from ..types import ReaderBatch

N_FEATURES = 3  # exact match (form), exact match (lower-case), term frequency
EOS_ID = SPECIALS.index(EOS)  # the same id in every TokenVocab (E032)


@registry.architectures("spacy_lm.LMFeatures.v1")
def build_lm_features(enabled: bool = True, width: int = 200, depth: int = 2, embed_size: Optional[int] = None,
                      cell: str = "lstm") -> Optional[Model]:
    """The encoder half (embedding + recurrent stack) of a `spacy_lm.LSTMLanguageModel` with these
    settings; the `qa` component copies a trained `lstm_lm`'s weights into it at initialization
    (``[initialize.components.qa] lm_pipeline``), and it stays frozen. Settings must equal that
    LM's. ``enabled = false`` gives no LM features (None): the one switch of configs/qa.cfg."""
    if not enabled:
        return None
    check_setting(is_count(width, 1), "lm_features width", "an integer >= 1", width)
    check_setting(is_count(depth, 1), "lm_features depth", "an integer >= 1", depth)
    embed_size = width if embed_size is None else embed_size
    check_setting(is_count(embed_size, 1), "lm_features embed_size", "null or an integer >= 1", embed_size)
    embedding = TokenEmbedding(embed_size)
    rnn = build_cell(cell, width, embed_size, depth=depth)
    return Model("lm_features", _lm_features_forward, init=_lm_features_init, layers=[embedding, rnn],
                 refs={"embedding": embedding, "rnn": rnn}, dims={"nV": None, "nO": width})


def _lm_features_init(model: Model, X=None, Y=None) -> None:
    model.get_ref("embedding").set_dim("nV", model.get_dim("nV"))
    for layer in model.layers:
        layer.initialize()


def _lm_features_forward(model: Model, inputs, is_train: bool):
    """Frozen: ``(ids (T, B), lengths)`` → hidden ``(T, B, width)``, no gradient."""
    ids, lengths = inputs
    vectors, _ = model.get_ref("embedding")(ids, False)
    (hidden, _), _ = model.get_ref("rnn")((vectors, lengths, None), False)
    return hidden, lambda d_hidden: None


@registry.architectures("spacy_lm.LMFeatures.v2")
def build_lm_features_v2(enabled: bool = True, width: int = 200, depth: int = 2, embed_size: Optional[int] = None,
                         cell: str = "lstm", backward: bool = False) -> Optional[Model]:
    """v1's settings and node tree, and its features are the LM's own states: each row is read
    after the LM's ``<eos>``, as `lstm_lm` reads a doc (v1 starts from the zero state instead).
    ``backward = true`` adds a second encoder of the same settings, the embedding + recurrent
    stack of a backward `lstm_lm` (``[initialize.components.qa] lm_backward_pipeline``): it reads
    each row's tokens right to left, so token ``t`` gets the forward state after ``<eos>, 0..t``
    and the backward one after ``<eos>, n-1..t``, side by side (``nO = 2 * width``). Frozen."""
    check_setting(isinstance(backward, bool), "lm_features backward", "true or false", backward)
    model = build_lm_features(enabled=enabled, width=width, depth=depth, embed_size=embed_size, cell=cell)
    if model is None:
        return None
    layers, refs = list(model.layers), {"embedding": model.layers[0], "rnn": model.layers[1]}
    if backward:
        refs["backward_embedding"] = TokenEmbedding(model.layers[0].get_dim("nO"))
        refs["backward_rnn"] = build_cell(cell, width, model.layers[0].get_dim("nO"), depth=depth)
        layers += [refs["backward_embedding"], refs["backward_rnn"]]
    return Model("lm_features", _lm_features_v2_forward, init=_lm_features_v2_init, layers=layers, refs=refs,
                 dims={"nV": None, "nO": 2 * width if backward else width})


def _encoder_prefixes(model: Model) -> Tuple[str, ...]:
    """The ref prefixes of the LM features' encoders: forward, and backward if it has one."""
    return ("", "backward_") if model.has_ref("backward_rnn") else ("",)


def _lm_features_v2_init(model: Model, X=None, Y=None) -> None:
    for prefix in _encoder_prefixes(model):
        model.get_ref(prefix + "embedding").set_dim("nV", model.get_dim("nV"))
    for layer in model.layers:
        layer.initialize()


def _lm_features_v2_forward(model: Model, inputs, is_train: bool):
    """Frozen: ``(ids (T, B), lengths)`` → ``(T, B, nO)``, no gradient. The backward encoder reads
    each row's real tokens reversed (padding stays at the end); its outputs are put back in
    token order."""
    ids, lengths = inputs
    xp = model.ops.xp
    hidden = [_read_after_eos(model, "", ids, lengths)]
    if "backward_" in _encoder_prefixes(model):
        T, B = ids.shape
        steps = xp.arange(T, dtype="int32").reshape(T, 1)
        row_lengths = xp.asarray(lengths).reshape(1, B)
        # Row b: step t <-> step L_b - 1 - t for its real steps, padded steps stay (an involution).
        flip = xp.where(steps < row_lengths, row_lengths - 1 - steps, steps).astype("int32")
        columns = xp.arange(B, dtype="int32").reshape(1, B)
        reversed_hidden = _read_after_eos(model, "backward_", ids[flip, columns], lengths)
        hidden.append(reversed_hidden[flip, columns])
    output = hidden[0] if len(hidden) == 1 else xp.concatenate(hidden, axis=-1)
    return output, lambda d_output: None


def _read_after_eos(model: Model, prefix: str, ids, lengths):
    """One encoder's states ``(T, B, width)`` over ``ids`` read after ``<eos>`` (the stream rule of
    batching.py: every LM sequence starts after one), the ``<eos>`` step's own state left out."""
    xp = model.ops.xp
    eos = xp.full((1, ids.shape[1]), EOS_ID, dtype=ids.dtype)
    vectors, _ = model.get_ref(prefix + "embedding")(xp.concatenate([eos, ids], axis=0), False)
    (hidden, _), _ = model.get_ref(prefix + "rnn")((vectors, xp.asarray(lengths) + 1, None), False)
    return hidden[1:]


@registry.architectures("spacy_lm.SpanReader.v1")
def build_span_reader(width: int = 96, depth: int = 2, embed_size: int = 128, cell: str = "lstm",
                      dropout: float = 0.2, lm_features: Optional[Model] = None) -> "SpanReader":
    """width: hidden size of each direction; depth: layers of the context and question stacks;
    embed_size: word embeddings (trained from scratch); dropout: on embeddings and stack inputs
    (and between layers); lm_features: null, or `spacy_lm.LMFeatures.v1` / `.v2` for ELMo-style
    features."""
    check_setting(is_count(width, 1), "width", "an integer >= 1", width)
    check_setting(is_count(depth, 1), "depth", "an integer >= 1", depth)
    check_setting(is_count(embed_size, 1), "embed_size", "an integer >= 1", embed_size)
    check_setting(isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0, "dropout", "in [0, 1)", dropout)
    lm_width = lm_features.get_dim("nO") if lm_features is not None else 0
    context_rnn = build_cell(cell, width, 2 * embed_size + N_FEATURES + lm_width, depth=depth,
                             bidirectional=True, dropout=dropout)
    question_rnn = build_cell(cell, width, embed_size + lm_width, depth=depth, bidirectional=True, dropout=dropout)
    return SpanReader(TokenEmbedding(embed_size), context_rnn, question_rnn, lm_features,
                      width=width, embed_size=embed_size, dropout=dropout)


class SpanReader(Model):
    """Embedding, aligned attention, context and question stacks, bilinear start/end scores."""

    def __init__(self, embedding: Model, context_rnn: Model, question_rnn: Model, lm_features: Optional[Model],
                 *, width: int, embed_size: int, dropout: float) -> None:
        layers = [embedding, context_rnn, question_rnn] + ([lm_features] if lm_features is not None else [])
        refs = {"embedding": embedding, "context_rnn": context_rnn, "question_rnn": question_rnn}
        if lm_features is not None:
            refs["lm_features"] = lm_features
        super().__init__(
            "span_reader", _forward, init=_init, layers=layers, refs=refs,
            dims={"nV": None, "nE": embed_size, "nH": 2 * width, "nF": N_FEATURES},
            params={"W_align": None, "b_align": None, "w_question": None, "W_start": None, "W_end": None},
            attrs={"dropout_rate": dropout},
        )

    @property
    def has_lm_features(self) -> bool:
        return self.has_ref("lm_features")

    @property
    def has_backward_lm_features(self) -> bool:
        """LM features with a backward encoder (`spacy_lm.LMFeatures.v2`, ``backward = true``)."""
        return self.has_lm_features and self.get_ref("lm_features").has_ref("backward_rnn")

    def span_logits(self, batch: ReaderBatch, is_train: bool
                    ) -> Tuple[Tuple[Floats2d, Floats2d], Callable[[Tuple[Floats2d, Floats2d]], None]]:
        """Start and end logits ``(B, Tc)`` (``MASKED`` past each context's length); the callback
        takes their gradients and accumulates the parameters'."""
        return self((batch, is_train), is_train)

    def best_spans(self, start_logits: Floats2d, end_logits: Floats2d, lengths: Ints1d, max_answer_length: int,
                   top_k: int = 1) -> Tuple[Ints3d, Floats2d]:
        """The ``top_k`` spans per row ``(B, k, 2)`` and their log-probabilities ``(B, k)``."""
        from ..ops import log_softmax

        return best_spans(self.ops, log_softmax(self.ops, start_logits), log_softmax(self.ops, end_logits),
                          lengths, max_answer_length, top_k)

    def load_lm_features(self, embedding_bytes: bytes, rnn_bytes: bytes, backward: bool = False) -> None:
        """Take a trained LM's encoder weights (its embedding's and recurrent stack's bytes); the
        LM features' ``nV`` must already be that LM's vocabulary size. ``backward``: the backward
        LM's, into the backward encoder."""
        lm = self.get_ref("lm_features")
        prefix = "backward_" if backward else ""
        lm.get_ref(prefix + "embedding").from_bytes(embedding_bytes)
        lm.get_ref(prefix + "rnn").from_bytes(rnn_bytes)


def _glorot(xp, shape):
    limit = (6.0 / sum(shape)) ** 0.5
    return xp.random.uniform(-limit, limit, shape).astype("float32")


def _init(model: SpanReader, X=None, Y=None) -> None:
    xp = model.ops.xp
    nE, nH = model.get_dim("nE"), model.get_dim("nH")
    embedding = model.get_ref("embedding")
    embedding.set_dim("nV", model.get_dim("nV"))
    embedding.initialize()
    model.get_ref("context_rnn").initialize()
    model.get_ref("question_rnn").initialize()
    if model.has_lm_features:
        model.get_ref("lm_features").initialize()
    model.set_param("W_align", model.ops.asarray(_glorot(xp, (nE, nE))))
    model.set_param("b_align", model.ops.alloc1f(nE))
    model.set_param("w_question", model.ops.alloc1f(nH))  # zero: pooling starts as the mean
    model.set_param("W_start", model.ops.asarray(_glorot(xp, (nH, nH))))
    model.set_param("W_end", model.ops.asarray(_glorot(xp, (nH, nH))))


def _dropout(model: Model, X, is_train: bool):
    rate = model.attrs["dropout_rate"] if is_train else 0.0
    if rate <= 0:
        return X, lambda dX: dX
    mask = model.ops.get_dropout_mask(X.shape, rate).astype(X.dtype)
    return X * mask, lambda dX: dX * mask


def _lengths_mask(xp, lengths, T: int, dtype="float32"):
    """(T, B): 1.0 at real steps."""
    return (xp.arange(T).reshape(T, 1) < xp.asarray(lengths).reshape(1, -1)).astype(dtype)


def _forward(model: SpanReader, inputs, is_train: bool):
    batch, _ = inputs
    ops, xp = model.ops, model.ops.xp
    nE = model.get_dim("nE")
    Tq, B = batch.question_ids.shape
    Tc = batch.context_ids.shape[0]
    q_mask = _lengths_mask(xp, batch.question_lengths, Tq)
    c_mask = _lengths_mask(xp, batch.context_lengths, Tc).T  # (B, Tc)

    embedding = model.get_ref("embedding")
    Ec, bp_Ec = embedding(batch.context_ids, is_train)
    Eq, bp_Eq = embedding(batch.question_ids, is_train)
    Ec, bp_drop_c = _dropout(model, Ec, is_train)
    Eq, bp_drop_q = _dropout(model, Eq, is_train)

    # Aligned question embedding: ReLU-projected keys, question embeddings as values.
    W_align, b_align = model.get_param("W_align"), model.get_param("b_align")
    Zc = xp.matmul(Ec, W_align.T) + b_align
    Zq = xp.matmul(Eq, W_align.T) + b_align
    Ac, Aq = xp.maximum(Zc, 0), xp.maximum(Zq, 0)
    aligned, bp_align = aligned_attention(ops, Ac.transpose(1, 0, 2), Aq.transpose(1, 0, 2),
                                          Eq.transpose(1, 0, 2), q_mask.T)

    lm_c, lm_q = [], []
    if model.has_lm_features:
        lm = model.get_ref("lm_features")
        lm_c = [lm((batch.lm_context_ids, batch.context_lengths), False)[0]]
        lm_q = [lm((batch.lm_question_ids, batch.question_lengths), False)[0]]
    features = ops.asarray(batch.context_features, dtype=Ec.dtype)
    Xc = xp.concatenate([Ec, features, aligned.transpose(1, 0, 2)] + lm_c, axis=-1)
    (Yc, _), bp_context = model.get_ref("context_rnn")((Xc, batch.context_lengths, None), is_train)

    # The question stack runs on a batch sorted longest first (the cells skip finished rows).
    q_lengths_host = numpy.asarray(ops.to_numpy(xp.asarray(batch.question_lengths)))
    order = numpy.argsort(-q_lengths_host, kind="stable")
    inverse = numpy.argsort(order)
    Xq = xp.concatenate([Eq] + lm_q, axis=-1)[:, ops.asarray1i(order)]
    (Yq_sorted, _), bp_question = model.get_ref("question_rnn")(
        (Xq, ops.asarray1i(q_lengths_host[order]), None), is_train)
    Yq = Yq_sorted[:, ops.asarray1i(inverse)]
    w_question = model.get_param("w_question")
    q_vec, bp_pool = self_attentive_pool(ops, Yq, w_question, q_mask)

    W_start, W_end = model.get_param("W_start"), model.get_param("W_end")
    u_start, u_end = xp.matmul(q_vec, W_start.T), xp.matmul(q_vec, W_end.T)  # (B, nH)
    start = xp.einsum("tbh,bh->bt", Yc, u_start)
    end = xp.einsum("tbh,bh->bt", Yc, u_end)
    start = xp.where(c_mask > 0, start, MASKED).astype(Yc.dtype)
    end = xp.where(c_mask > 0, end, MASKED).astype(Yc.dtype)

    def backprop(d_logits) -> None:
        d_start, d_end = d_logits
        d_start = d_start * c_mask
        d_end = d_end * c_mask
        dYc = d_start.T[:, :, None] * u_start[None] + d_end.T[:, :, None] * u_end[None]
        du_start = xp.einsum("bt,tbh->bh", d_start, Yc)
        du_end = xp.einsum("bt,tbh->bh", d_end, Yc)
        model.inc_grad("W_start", xp.matmul(du_start.T, q_vec))
        model.inc_grad("W_end", xp.matmul(du_end.T, q_vec))
        dq_vec = xp.matmul(du_start, W_start) + xp.matmul(du_end, W_end)
        dYq, dw_question = bp_pool(dq_vec)
        model.inc_grad("w_question", dw_question)
        dXq_sorted, _ = bp_question((dYq[:, ops.asarray1i(order)], None))
        dXq = dXq_sorted[:, ops.asarray1i(inverse)]
        dXc, _ = bp_context((dYc, None))
        dEc = dXc[..., :nE]
        d_aligned = dXc[..., nE + N_FEATURES: 2 * nE + N_FEATURES]
        dAc, dAq, dEq_values = bp_align(xp.ascontiguousarray(d_aligned.transpose(1, 0, 2)))
        dZc = dAc.transpose(1, 0, 2) * (Zc > 0)
        dZq = dAq.transpose(1, 0, 2) * (Zq > 0)
        model.inc_grad("W_align", xp.matmul(dZc.reshape(-1, nE).T, Ec.reshape(-1, nE))
                       + xp.matmul(dZq.reshape(-1, nE).T, Eq.reshape(-1, nE)))
        model.inc_grad("b_align", dZc.sum(axis=(0, 1)) + dZq.sum(axis=(0, 1)))
        dEc = dEc + xp.matmul(dZc, W_align)
        dEq = dXq[..., :nE] + dEq_values.transpose(1, 0, 2) + xp.matmul(dZq, W_align)
        bp_Ec(bp_drop_c(xp.ascontiguousarray(dEc)))
        bp_Eq(bp_drop_q(xp.ascontiguousarray(dEq)))

    return (start, end), backprop
