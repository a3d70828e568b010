"""`spacy_lm.SentimentLSTM.v1`: a trained polarity model for the `sentiment_scorer` component.

    tok2vec (List[Doc] → List[Floats2d]) → recurrent cell (bidirectional, ``cell`` "lstm" or
    "gru") → pooling → dropout (pooled_encoder.py, shared with `spacy_lm.TextCatLSTM.v1`)
    → Linear (K outputs, zero-initialized)  +  f(S) · prior      (the lexicon prior, optional)

``S`` is the doc's summed lexicon valence (a `spacy_lm.LexiconSentiment.v1` sub-model) and
``f(S) = S / sqrt(S² + alpha)`` its polarity; ``prior`` (K,) starts at ``prior_scale`` times
the component's label polarities. With the output layer at zero, an untrained model is the
lexicon: its polarity has the lexicon's sign on every doc. Training moves both.

K outputs are class logits (``target="classes"``: polarity = Σ softmax · label polarity) or one
real score (``target="real"``: polarity = tanh). ``forward_from_inputs`` runs the model from
tok2vec rows and lexicon valences, with gradients to both: integrated gradients (analysis/explain.py)
interpolates exactly these inputs.

``tok2vec`` is `spacy.MultiHashEmbed.v2` (from scratch) or `spacy_lm.LSTMLMListener.v1`
(an `lstm_lm`'s states, with ``depth=0`` to pool them directly).
"""
from typing import Callable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Linear, Model, chain, zero_init
from thinc.types import Floats1d, Floats2d

from ..checks import check_count
from ..ops import softmax
from .lexicon_sentiment import KIND_ATTR, get_rules
from .pooled_encoder import build_pooled_encoder


@registry.architectures("spacy_lm.SentimentLSTM.v1")
def build_sentiment_lstm(
    tok2vec: Model[List[Doc], List[Floats2d]],
    width: int = 64,
    depth: int = 1,
    dropout: float = 0.2,
    pooling: str = "mean_max",
    lexicon: Optional[Model] = None,
    prior_scale: float = 2.0,
    nO: Optional[int] = None,
    cell: str = "lstm",
) -> Model[List[Doc], Floats2d]:
    """tok2vec: per-token vectors. width: recurrent width per direction; depth: recurrent layers (0:
    pool the tok2vec rows). pooling: "mean_max" or "attention". lexicon: a LexiconSentiment.v1 model
    used as a prior (null: none). prior_scale: initial weight of the prior. nO: set by the component.
    cell: the recurrent cell, "lstm" or "gru".
    """
    check_count("spacy_lm.SentimentLSTM.v1 nO (number of outputs)", nO, 1, optional=True)
    encoder = build_pooled_encoder(tok2vec.maybe_get_dim("nO"), width, depth, dropout, pooling, cell,
                                   architecture="spacy_lm.SentimentLSTM.v1")
    output = Linear(nO=nO, nI=encoder.nO, init_W=zero_init, init_b=zero_init)
    head = chain(*encoder.layers, output)
    sublayers = [tok2vec, head] + ([lexicon] if lexicon is not None else [])
    model = Model(
        "sentiment_lstm",
        _forward,
        init=_init,
        layers=sublayers,
        dims={"nO": nO},
        params={"prior": None},
        attrs={KIND_ATTR: "neural", "prior_scale": prior_scale, "label_values": None},
    )
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("head", head)
    model.set_ref("output_layer", output)
    model.set_ref("lexicon", lexicon)
    return model


def _init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    nO = model.get_dim("nO")
    tok2vec = model.get_ref("tok2vec")
    tok2vec.initialize(X=X)
    output = model.get_ref("output_layer")
    if not output.has_dim("nO"):
        output.set_dim("nO", nO)
    head = model.get_ref("head")
    Xs = tok2vec.predict(X[:8]) if X else None
    head.initialize(X=Xs)
    lexicon = model.maybe_get_ref("lexicon")
    if lexicon is not None:
        lexicon.initialize()
    values = model.attrs.get("label_values") or ([1.0] if nO == 1 else [0.0] * nO)
    prior = model.ops.asarray1f([model.attrs["prior_scale"] * v for v in values])
    model.set_param("prior", prior)


def lexicon_valences(model: Model, docs: List[Doc]) -> Optional[List[Floats1d]]:
    lexicon = model.maybe_get_ref("lexicon")
    return None if lexicon is None else lexicon.predict(docs)


def forward_from_inputs(model: Model, Xs: List[Floats2d], valences: Optional[Sequence[Floats1d]],
                        is_train: bool) -> Tuple[Floats2d, Callable]:
    """Logits from tok2vec rows and lexicon valences; backprop gives (dXs, d_valences)."""
    ops = model.ops
    xp = ops.xp
    H, bp_head = model.get_ref("head")(Xs, is_train)
    if valences is None:
        return H, lambda dY: (bp_head(dY), None)
    alpha = get_rules(model.maybe_get_ref("lexicon")).alpha
    S = xp.asarray([float(v.sum()) for v in valences], dtype=H.dtype) if valences else xp.zeros((0,), H.dtype)
    denom = xp.sqrt(S * S + alpha)
    f = S / denom
    prior = model.get_param("prior")
    Y = H + f.reshape(-1, 1) * prior.reshape(1, -1)

    def backprop(dY: Floats2d) -> Tuple[List[Floats2d], List[Floats1d]]:
        model.inc_grad("prior", (f.reshape(-1, 1) * dY).sum(axis=0))
        dS = (dY @ prior) * alpha / (denom**3)
        d_valences = [xp.full(v.shape, dS[b], dtype=v.dtype) for b, v in enumerate(valences)]
        return bp_head(dY), d_valences

    return Y, backprop


def _forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[Floats2d, Callable]:
    Xs, bp_tok2vec = model.get_ref("tok2vec")(docs, is_train)
    Y, bp_inputs = forward_from_inputs(model, Xs, lexicon_valences(model, docs), is_train)

    def backprop(dY: Floats2d) -> List[Doc]:
        dXs, _ = bp_inputs(dY)
        bp_tok2vec(dXs)
        return []

    return Y, backprop


def logits_to_polarity(ops, logits: Floats2d, values: Optional[Floats1d]) -> Tuple[Floats1d, Floats2d, Callable]:
    """Polarity per doc in [-1, 1], the class probabilities (None for one real output) and
    d polarity / d logits as a backprop callback. ``values``: each class's polarity."""
    xp = ops.xp
    if logits.shape[1] == 1:
        polarity = xp.tanh(logits[:, 0])

        def bp_real(d_pol: Floats1d) -> Floats2d:
            return (d_pol * (1.0 - polarity**2)).reshape(-1, 1)

        return polarity, None, bp_real
    probs = softmax(ops, logits)
    polarity = probs @ values

    def bp_classes(d_pol: Floats1d) -> Floats2d:
        return d_pol.reshape(-1, 1) * probs * (values.reshape(1, -1) - polarity.reshape(-1, 1))

    return polarity, probs, bp_classes
