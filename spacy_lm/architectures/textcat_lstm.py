"""`spacy_lm.TextCatLSTM.v1` / `.v2` / `.v3`: a (bi)LSTM or (bi)GRU text classifier for spaCy's
`textcat` and `textcat_multilabel` components (and their `weighted_` variants in this package).

    tok2vec (List[Doc] → List[Floats2d]) → recurrent cell (bidirectional, ``depth`` layers,
    ``cell`` "lstm" or "gru") → pooling (``mean_max`` or ``attention``) → dropout → output layer

The part between tok2vec and the output layer is pooled_encoder.py, shared with
`spacy_lm.SentimentLSTM.v1`.

Built like spaCy's `spacy.TextCatReduce.v1`: refs ``tok2vec`` and ``output_layer``,
``attrs["multi_label"]`` and a resizable output (``attrs["resize_output"]``), so
``textcat.add_label`` after initialization works as it does with spaCy's models.
Exclusive classes end in a softmax; multilabel in a linear layer and a logistic.

v2 is ULMFiT's classifier head: concat pooling (last state, mean, max) and a LayerNorm before
the output layer by default, and its layers tagged in groups for discriminative learning rates
and gradual unfreezing (`spacy_lm.DiscriminativeAdam.v1`, training/layer_groups.py).

v3 is v2 with ULMFiT's hidden layer (Howard & Ruder 2018, sec. 3.3): pooled → norm → dropout →
Linear(``hidden_width``) → ReLU → norm → dropout → output, so the head can fit a task on its own
while the layers under it are frozen (gradual unfreezing's first phase). ``hidden_width = null``
builds v2's head exactly.

With ``linear_model`` (e.g. `spacy.TextCatBOW.v3` with ``no_output_layer = true``), the pooled
LSTM features and the bag-of-words scores are concatenated before the output layer ("wide and
deep", as `spacy.TextCatEnsemble.v2` combines its linear and neural parts): the BOW model brings
exact n-gram evidence, which a small LSTM trained from scratch learns slowly. Labels must then be
known before initialization (the output cannot be resized afterwards).

``tok2vec`` is usually `spacy.MultiHashEmbed.v2` (from scratch) or
`spacy_lm.LSTMLMListener.v1` (the hidden states of an `lstm_lm` component in the same
pipeline). ``depth=0`` skips the LSTM and pools the tok2vec output directly (e.g. over the
LM's states).

An empty doc (no tokens) scores 0 for every label, whatever its batch: spaCy's textcat gives a
batch of only empty docs zeros without calling the model, so the model gives its empty docs the
same in any batch (and no gradient flows from those rows).

The saved weights carry a digest (`spacy_lm.layers.weights_digest`): a damaged `textcat/model`
file is E220 at load, a truncated one E221, never silently different scores. Models saved
before the digest existed load unchecked.

At inference the scores are checked where they are made: non-finite cats (NaN weights) raise
E079 naming the architecture (spaCy's textcat gives its model no component name). The check
replaces the outer chain's forward only, so saved models keep their structure and load unchanged.
"""
from functools import partial
from typing import List, Optional, cast

from spacy.ml.models.textcat import resize_and_set_ref
from spacy.ml.models.textcat import NEG_VALUE
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (Dropout, LayerNorm, Linear, Logistic, Model, Relu, Softmax, add, chain, concatenate,
                       resizable, softmax_activation)
from thinc.layers.chain import forward as chain_forward
from thinc.layers.resizable import resize_linear_weighted
from thinc.types import Floats2d

from ..checks import check_count, check_drop, require_finite
from ..errors import Errors
from ..training.layer_groups import EMBEDDING_GROUP, ENCODER_GROUP, HEAD_GROUP, set_layer_group
from ..layers.weights_digest import DIGEST_ATTR, DigestedModel, WeightsDigest
from .pooled_encoder import build_pooled_encoder

ARCHITECTURE = "spacy_lm.TextCatLSTM.v1"
ARCHITECTURE_V2 = "spacy_lm.TextCatLSTM.v2"
ARCHITECTURE_V3 = "spacy_lm.TextCatLSTM.v3"
# Built with ULMFiT's head: layer groups, and a linear_model summed into the logits.
_ULMFIT_HEADS = (ARCHITECTURE_V2, ARCHITECTURE_V3)


@registry.architectures("spacy_lm.TextCatLSTM.v1")
def build_textcat_lstm(
    tok2vec: Model[List[Doc], List[Floats2d]],
    width: int,
    depth: int,
    dropout: float,
    pooling: str = "mean_max",
    nO: Optional[int] = None,
    exclusive_classes: bool = True,
    linear_model: Optional[Model[List[Doc], Floats2d]] = None,
    cell: str = "lstm",
) -> Model[List[Doc], Floats2d]:
    """tok2vec: per-token vectors for each doc.
    width: hidden size of each recurrent direction (the cell outputs ``2 * width``).
    depth: recurrent layers; 0 pools the tok2vec output directly.
    dropout: between recurrent layers and before the output layer.
    pooling: "mean_max" (mean and max concatenated), "concat" (last, mean, max) or "attention".
    nO: number of labels (set by the component when None).
    exclusive_classes: softmax over exclusive labels, else independent logistics.
    linear_model: optional model of per-doc label scores (a BOW model without its own output
        layer) concatenated with the pooled features before the output layer.
    cell: the recurrent cell, "lstm" or "gru".
    """
    return _build(tok2vec, width, depth, dropout, pooling, nO, exclusive_classes, linear_model, cell,
                  normalize=False, architecture=ARCHITECTURE)


@registry.architectures("spacy_lm.TextCatLSTM.v2")
def build_textcat_lstm_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    width: int,
    depth: int,
    dropout: float,
    pooling: str = "concat",
    normalize: bool = True,
    nO: Optional[int] = None,
    exclusive_classes: bool = True,
    linear_model: Optional[Model[List[Doc], Floats2d]] = None,
    cell: str = "lstm",
) -> Model[List[Doc], Floats2d]:
    """v1 with ULMFiT's classifier head and layer groups: ``pooling`` defaults to "concat"
    (last state, mean, max) and ``normalize`` puts a LayerNorm over the pooled vector before
    dropout and the output layer. Its layers are tagged for `spacy_lm.DiscriminativeAdam.v1`
    (training/layer_groups.py): the head (pooling, norm, output, ``linear_model``) in group 0, its own
    recurrent encoder in 1, ``tok2vec`` in 3 (embeddings); a listened-to `lstm_lm` tags its own
    recurrent stack 2 and its embedding 3. With ``linear_model`` the two are summed as logits
    (wide and deep, Cheng et al. 2016) rather than concatenated before the output layer (v1).
    Other settings as v1."""
    return _build(tok2vec, width, depth, dropout, pooling, nO, exclusive_classes, linear_model, cell,
                  normalize=normalize, architecture=ARCHITECTURE_V2)


@registry.architectures("spacy_lm.TextCatLSTM.v3")
def build_textcat_lstm_v3(
    tok2vec: Model[List[Doc], List[Floats2d]],
    width: int,
    depth: int,
    dropout: float,
    pooling: str = "concat",
    normalize: bool = True,
    hidden_width: Optional[int] = 50,
    nO: Optional[int] = None,
    exclusive_classes: bool = True,
    linear_model: Optional[Model[List[Doc], Floats2d]] = None,
    cell: str = "lstm",
    embed: Optional[Model[List[Doc], List[Floats2d]]] = None,
) -> Model[List[Doc], Floats2d]:
    """v2 with ULMFiT's two-layer classifier head (Howard & Ruder 2018, sec. 3.3): the pooled
    vector (normalised, dropped out as in v2) goes through a hidden layer, Linear(``hidden_width``)
    → ReLU → LayerNorm → dropout (the same ``dropout`` rate), before the output layer. The hidden
    layer is in the head's layer group (0), so it trains from the first step while gradual
    unfreezing holds the encoder and embeddings still; a head with a hidden layer can fit the
    task over frozen features, where a linear head only reweights them.
    hidden_width: the hidden layer's width (ULMFiT: 50); null builds v2's head exactly.
    LayerNorm where ULMFiT has BatchNorm: it normalises each example on its own and keeps no
    running statistics, so a doc scores the same alone (``nlp(text)``) as in any batch
    (``nlp.pipe``, any ``batch_size``), and training and inference compute the same function.
    embed: the task's own token features (e.g. `spacy.MultiHashEmbed.v2`) read beside ``tok2vec``
        (concatenated per token), as ELMo feeds its biLM's states beside the task model's own
        embeddings: the LM brings context, the embeddings exact word identity learned on the task.
    Other settings as v2."""
    if hidden_width is not None:
        check_count("hidden_width", hidden_width, 1, why=" (or null: no hidden layer, v2's head)",
                    where=ARCHITECTURE_V3)
    if embed is not None:
        tok2vec = concatenate(tok2vec, embed)
    return _build(tok2vec, width, depth, dropout, pooling, nO, exclusive_classes, linear_model, cell,
                  normalize=normalize, architecture=ARCHITECTURE_V3, hidden_width=hidden_width)


def _build(tok2vec, width, depth, dropout, pooling, nO, exclusive_classes, linear_model, cell, *,
           normalize: bool, architecture: str, hidden_width: Optional[int] = None) -> Model[List[Doc], Floats2d]:
    check_count(f"{architecture} nO (number of labels)", nO, 1, optional=True)
    encoder = build_pooled_encoder(tok2vec.maybe_get_dim("nO"), width, depth, dropout, pooling, cell,
                                   architecture=architecture, normalize=normalize)
    layers = [tok2vec, *encoder.layers]
    nI = encoder.nO
    if hidden_width is not None:
        layers += _hidden_layer(nI, hidden_width, dropout)
        nI = hidden_width
    if linear_model is not None and architecture in _ULMFIT_HEADS:
        model = _summed_wide_and_deep(layers, linear_model, tok2vec, nO, exclusive_classes, architecture)
    elif linear_model is not None:
        model = _wide_and_deep(layers, linear_model, tok2vec, nO, exclusive_classes, architecture)
    else:
        model = _deep(layers, nI, tok2vec, nO, exclusive_classes, architecture)
    if architecture in _ULMFIT_HEADS:
        set_layer_group(model, HEAD_GROUP)
        if depth > 0:
            set_layer_group(encoder.layers[0], ENCODER_GROUP)
        set_layer_group(tok2vec, EMBEDDING_GROUP)
    return model


def _hidden_layer(nI: Optional[int], hidden_width: int, dropout: float) -> List[Model]:
    """v3's hidden layer, after the pooled encoder's dropout: Linear → ReLU → LayerNorm → dropout."""
    return [Relu(hidden_width, nI), LayerNorm(hidden_width), Dropout(dropout)]


def _deep(layers, nI: Optional[int], tok2vec, nO: Optional[int], exclusive_classes: bool,
          architecture: str) -> Model[List[Doc], Floats2d]:
    """tok2vec → cell → pool → [norm] → dropout → [hidden] → resizable output layer."""
    fill_defaults = {"b": 0, "W": 0}
    if exclusive_classes:
        output_layer = Softmax(nO=nO, nI=nI)
        fill_defaults["b"] = NEG_VALUE
    else:
        output_layer = Linear(nO=nO, nI=nI)
    resizable_layer = resizable(output_layer, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults))
    tail = [resizable_layer] if exclusive_classes else [resizable_layer, Logistic()]
    model = _checked_chain(*layers, *tail, architecture=architecture)
    return _set_contract(model, tok2vec, output_layer, partial(resize_and_set_ref, resizable_layer=resizable_layer),
                         nO, exclusive_classes)


def _wide_and_deep(layers, linear_model, tok2vec, nO: Optional[int], exclusive_classes: bool,
                   architecture: str) -> Model[List[Doc], Floats2d]:
    """(tok2vec → cell → pool → dropout) ‖ linear_model → output layer; nI is inferred at init."""
    output_layer = Softmax(nO=nO) if exclusive_classes else Linear(nO=nO)
    tail = [output_layer] if exclusive_classes else [output_layer, Logistic()]
    deep = chain(*layers)
    wide_and_deep = _linear_skips_empty_docs(concatenate(deep, linear_model), combine="concatenate")
    model = _checked_chain(wide_and_deep, *tail, architecture=architecture)
    return _set_contract(model, tok2vec, output_layer,
                         partial(_resize_before_init, output_layer=output_layer, linear_model=linear_model),
                         nO, exclusive_classes)


def _summed_wide_and_deep(layers, linear_model, tok2vec, nO: Optional[int], exclusive_classes: bool,
                          architecture: str) -> Model[List[Doc], Floats2d]:
    """v2, v3: logits = Linear(tok2vec → cell → pool → norm → dropout [→ hidden]) + linear_model,
    then softmax (or logistic): the joint wide-and-deep of Cheng et al. 2016. The linear model's
    scores reach the output with weight 1 from the first update; concatenated into a
    zero-initialised output layer (v1) they get no gradient until that layer's weights have
    grown, and on SST-2 the v1 combination trailed the BOW model alone (78.7 vs 81.8 test)."""
    output_layer = Linear(nO=nO)
    activation = softmax_activation() if exclusive_classes else Logistic()
    summed = _linear_skips_empty_docs(add(chain(*layers, output_layer), linear_model), combine="add")
    model = _checked_chain(summed, activation, architecture=architecture)
    return _set_contract(model, tok2vec, output_layer,
                         partial(_resize_before_init, output_layer=output_layer, linear_model=linear_model),
                         nO, exclusive_classes)


def _set_contract(model: Model, tok2vec: Model, output_layer: Model, resize_output, nO: Optional[int],
                  exclusive_classes: bool) -> Model[List[Doc], Floats2d]:
    """What spaCy's textcat expects of its model (as spacy.TextCatReduce.v1): refs ``tok2vec`` and
    ``output_layer``, ``attrs["resize_output"]`` and ``attrs["multi_label"]``, ``nO`` when known."""
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    model.attrs["resize_output"] = resize_output
    if nO is not None:
        model.set_dim("nO", cast(int, nO))
    model.attrs["multi_label"] = not exclusive_classes
    return model


def _checked_chain(*layers: Model, architecture: str) -> Model[List[Doc], Floats2d]:
    """``chain(*layers)`` whose inference output must be finite, whose empty docs score 0 and
    whose saved weights carry a digest (the same nodes, names and dims as the plain chain, so a
    saved model's bytes still fit)."""
    plain = chain(*layers)
    dims = {name: plain.maybe_get_dim(name) for name in plain.dim_names}
    return DigestedModel(plain.name, _finite_forward, init=plain.init, dims=dims, layers=plain.layers,
                         attrs={"architecture": architecture, DIGEST_ATTR: WeightsDigest(architecture)})


def _finite_forward(model: Model[List[Doc], Floats2d], docs: List[Doc], is_train: bool):
    if is_train:
        _check_dropout(model)
    scores, backprop = chain_forward(model, docs, is_train)
    empty = [i for i, doc in enumerate(docs) if len(doc) == 0]
    if empty:
        scores, backprop = _zero_rows(model, scores, backprop, empty)
    if not is_train:
        require_finite(model.ops.xp, scores, name=model.attrs.get("architecture", ARCHITECTURE), what="cats")
    return scores, backprop


def _check_dropout(model: Model) -> None:
    """spaCy's textcat sets the rate of ``[training] dropout`` on our dropout layers before each
    update: a rate outside [0, 1) is E231, as our own components' ``update`` says."""
    name = model.attrs.get("architecture", ARCHITECTURE)
    for node in model.walk():
        rate = node.attrs.get("dropout_rate")
        if rate is not None:
            check_drop(rate, name)


def _zero_rows(model: Model, scores: Floats2d, backprop, rows: List[int]):
    """Scores 0 for ``rows`` (empty docs), as spaCy's textcat gives a batch of empty docs;
    their gradient is dropped."""
    index = model.ops.asarray1i(rows)
    scores = scores.copy()
    scores[index] = 0.0

    def backprop_zeroed(d_scores: Floats2d):
        d_scores = d_scores.copy()
        d_scores[index] = 0.0
        return backprop(d_scores)

    return scores, backprop_zeroed


def _linear_skips_empty_docs(combined: Model, *, combine: str) -> Model:
    """``combined`` (Thinc's ``add`` or ``concatenate`` of the deep part and ``linear_model``) with
    the same node, name, dims and init, whose linear part never sees an empty doc: spaCy's BOW
    n-gram extraction (``ops.ngrams``) fails on a doc without tokens in a mixed batch (an
    IndexError, spaCy's own textcat too). The linear part reads the other docs; the empty docs'
    rows are zeros (and their scores are zeroed in the end anyway)."""
    dims = {name: combined.maybe_get_dim(name) for name in combined.dim_names}
    return Model(combined.name, partial(_skip_empty_forward, combine=combine), init=combined.init, dims=dims,
                 layers=combined.layers)


def _skip_empty_forward(model: Model, docs: List[Doc], is_train: bool, *, combine: str):
    deep, linear = model.layers
    deep_scores, deep_backprop = deep(docs, is_train)
    kept = [i for i, doc in enumerate(docs) if len(doc) > 0]
    ops = model.ops
    if len(kept) == len(docs):
        linear_scores, linear_backprop = linear(docs, is_train)
    elif kept:
        index = ops.asarray1i(kept)
        kept_scores, kept_backprop = linear([docs[i] for i in kept], is_train)
        linear_scores = ops.alloc2f(len(docs), kept_scores.shape[1])
        linear_scores[index] = kept_scores
        linear_backprop = lambda d_linear: kept_backprop(d_linear[index])  # noqa: E731
    else:
        linear_scores = ops.alloc2f(len(docs), linear.get_dim("nO"))
        linear_backprop = lambda d_linear: []  # noqa: E731
    if combine == "add":
        scores = deep_scores + linear_scores
    else:
        scores = ops.xp.hstack((deep_scores, linear_scores))
    n_deep = deep_scores.shape[1]

    def backprop(d_scores: Floats2d) -> List[Doc]:
        if combine == "add":
            linear_backprop(d_scores)
            return deep_backprop(d_scores)
        linear_backprop(ops.xp.ascontiguousarray(d_scores[:, n_deep:]))
        return deep_backprop(ops.xp.ascontiguousarray(d_scores[:, :n_deep]))

    return scores, backprop


def _resize_before_init(model: Model, new_nO: int, *, output_layer: Model, linear_model: Model) -> Model:
    """Set the label count while the model is uninitialised (``textcat.add_label`` does this
    for every label in ``initialize``); afterwards the concatenated input cannot be resized."""
    if output_layer.has_param("W"):  # None (falsy) while declared but unset
        raise ValueError(Errors.E045.format(nO=new_nO))
    if "resize_output" in linear_model.attrs:
        linear_model.attrs["resize_output"](linear_model, new_nO)
    else:
        linear_model.set_dim("nO", new_nO, force=True)
    output_layer.set_dim("nO", new_nO, force=True)
    model.set_dim("nO", new_nO, force=True)
    return model
