"""spacy_lm.TextCatLSTM.v1 / .v2 / .v3 in spaCy's textcat / textcat_multilabel: the test_overfitting_IO pattern."""
import numpy
import pytest
import spacy
import srsly
from confection import ConfigValidationError
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import make_tempdir, registry
from thinc.api import Adam, Model, fix_random_seed

TRAIN = [
    ("I like it a lot", {"POS": 1.0, "NEG": 0.0}),
    ("I hate it", {"POS": 0.0, "NEG": 1.0}),
    ("what a great film", {"POS": 1.0, "NEG": 0.0}),
    ("awful and boring", {"POS": 0.0, "NEG": 1.0}),
]
TRAIN_MULTI = [
    ("I like it a lot", {"POS": 1.0, "FUNNY": 1.0}),
    ("I hate it", {"POS": 0.0, "FUNNY": 0.0}),
    ("what a great film", {"POS": 1.0, "FUNNY": 0.0}),
    ("awful and boring", {"POS": 0.0, "FUNNY": 1.0}),
]
TOK2VEC = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 12, "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
           "rows": [200, 100, 100, 50], "include_static_vectors": False}
NEW_KEYS = ("cats_accuracy", "cats_confusion_matrix", "cats_ece", "cats_macro_f", "cats_score")


BOW = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": 2,
       "no_output_layer": True, "length": 1024}


def model_config(pooling="mean_max", exclusive=True, linear=False, version=1, **settings):
    config = {"@architectures": f"spacy_lm.TextCatLSTM.v{version}", "tok2vec": TOK2VEC, "width": 8, "depth": 1,
              "dropout": 0.0, "pooling": pooling, "exclusive_classes": exclusive, **settings}
    if linear:
        config["linear_model"] = {**BOW, "exclusive_classes": exclusive}
    return config


def build_nlp(factory, data, pooling, exclusive, linear=False, version=1, **settings):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe(factory, config={"model": model_config(pooling, exclusive, linear, version, **settings),
                                  "scorer": {"@scorers": "spacy_lm.textcat_scorer.v1"}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in data]
    nlp.initialize(lambda: examples)
    return nlp, examples


def test_build_sets_refs_and_attrs():
    model = registry.resolve({"m": {**model_config(), "tok2vec": TOK2VEC}})["m"]
    assert model.has_ref("tok2vec") and model.has_ref("output_layer")
    assert model.attrs["multi_label"] is False and callable(model.attrs["resize_output"])
    with pytest.raises(ValueError, match="pooling"):
        registry.resolve({"m": {**model_config(pooling="sum")}})


@pytest.mark.parametrize("factory,data,exclusive,pooling,linear,version", [
    ("textcat", TRAIN, True, "mean_max", False, 1),
    ("textcat", TRAIN, True, "attention", False, 1),
    ("textcat_multilabel", TRAIN_MULTI, False, "mean_max", False, 1),
    ("textcat", TRAIN, True, "mean_max", True, 1),
    ("textcat_multilabel", TRAIN_MULTI, False, "mean_max", True, 1),
    ("textcat", TRAIN, True, "concat", False, 2),
    ("textcat_multilabel", TRAIN_MULTI, False, "concat", True, 2),
    ("textcat", TRAIN, True, "concat", False, 3),
    ("textcat_multilabel", TRAIN_MULTI, False, "concat", True, 3),
])
def test_overfitting_IO(factory, data, exclusive, pooling, linear, version):
    nlp, examples = build_nlp(factory, data, pooling, exclusive, linear, version)
    optimizer = Adam(0.02)
    for _ in range(40):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
    assert losses[factory] < 0.02
    texts = [t for t, _ in data]
    for text, cats in data:
        doc = nlp(text)
        for label, value in cats.items():
            assert abs(doc.cats[label] - value) < 0.3, (text, doc.cats)
    with make_tempdir() as d:
        nlp.to_disk(d)
        nlp2 = spacy.load(d)
        for text in texts:
            assert nlp2(text).cats == nlp(text).cats
    for piped, text in zip(nlp.pipe(texts), texts):  # batched vs alone: float rounding only
        assert piped.cats == pytest.approx(nlp(text).cats, abs=1e-5)
    scores = nlp.evaluate(examples)
    for key in NEW_KEYS:
        assert key in scores
    assert scores["cats_accuracy"] == 1.0


def test_v2_head_is_concat_pooling_and_layernorm_with_layer_groups():
    from spacy_lm.training.layer_groups import layer_group

    nlp, _ = build_nlp("textcat", TRAIN, "concat", True, version=2)
    model = nlp.get_pipe("textcat").model
    names = [node.name for node in model.walk()]
    assert "concat_pool" in names and "layernorm" in names
    # biLSTM 2 x 8, pooled last + mean + max
    assert model.get_ref("output_layer").get_dim("nI") == 3 * 16
    # (the output layer rebuilt by add_label is untagged, which the optimizer reads as group 0)
    group_of = {layer.name: layer_group(layer.id) or 0 for layer in model.layers}  # the chain's own layers
    assert group_of["concat_pool"] == group_of["layernorm"] == group_of["resizable(softmax)"] == 0
    assert layer_group(model.get_ref("output_layer").id) in (0, None)
    assert group_of["sequence_lstm"] == 1
    assert {layer_group(node.id) for node in model.get_ref("tok2vec").walk()} == {3}
    # v1 keeps its node tree: no norm, mean+max
    nlp1, _ = build_nlp("textcat", TRAIN, "mean_max", True, version=1)
    assert [layer.name for layer in nlp1.get_pipe("textcat").model.layers][1:] == [
        "sequence_lstm", "mean_max_pool", "dropout", "resizable(softmax)"]


def test_empty_docs_and_add_label():
    nlp, examples = build_nlp("textcat", TRAIN, "mean_max", True)
    nlp.get_pipe("textcat").add_label("NEUTRAL")
    assert set(nlp("I like it").cats) == {"POS", "NEG", "NEUTRAL"}


@pytest.mark.parametrize("factory,data,exclusive,linear,version", [
    ("textcat", TRAIN, True, False, 1),
    ("textcat_multilabel", TRAIN_MULTI, False, False, 1),
    ("textcat", TRAIN, True, False, 2),
    ("textcat", TRAIN, True, True, 1),
    ("textcat", TRAIN, True, True, 2),
    ("textcat_multilabel", TRAIN_MULTI, False, True, 2),
    ("textcat", TRAIN, True, True, 3),
    ("textcat_multilabel", TRAIN_MULTI, False, False, 3),
])  # with a BOW linear_model of ngram_size 2: spaCy's n-gram extraction alone fails on an empty doc
def test_empty_doc_scores_zero_whatever_its_batch(factory, data, exclusive, linear, version):
    nlp, examples = build_nlp(factory, data, "mean_max", exclusive, linear, version)
    alone = nlp("").cats  # spaCy's textcat: a batch of only empty docs is zeros, without the model
    piped = list(nlp.pipe(["", "good film", ""]))
    assert alone == piped[0].cats == piped[2].cats == {label: 0.0 for label in alone}
    assert any(value > 0.0 for value in piped[1].cats.values())
    model = nlp.get_pipe(factory).model
    for node in model.walk():  # no gradient from the empty rows
        for name in node.grad_names:
            node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
    docs = [nlp.make_doc(""), nlp.make_doc("good film")]
    scores, backprop = model.begin_update(docs)
    d_scores = model.ops.alloc2f(*scores.shape)
    d_scores[0] = 1.0
    backprop(d_scores)
    assert all(not node.get_grad(name).any() for node in model.walk() for name in node.grad_names)


def _damage_largest_param(path):
    """Flip 4 bytes in the middle of the largest float array of a saved Thinc model file."""
    data = bytearray(path.read_bytes())
    msg = srsly.msgpack_loads(bytes(data))
    arrays = [value for params in msg["params"] for value in params.values() if value is not None]
    raw = max(arrays, key=lambda a: a.size).tobytes()
    start = data.find(raw)
    assert start >= 0
    middle = start + len(raw) // 2
    data[middle:middle + 4] = bytes(b ^ 0xFF for b in data[middle:middle + 4])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("version,linear", [(1, False), (2, True), (3, False)])
def test_damaged_textcat_weights_are_an_error_at_load(version, linear):
    nlp, examples = build_nlp("textcat", TRAIN, "mean_max", True, linear, version)
    with make_tempdir() as d:
        nlp.to_disk(d)
        assert spacy.load(d)("I like it").cats == nlp("I like it").cats  # intact: identical
        _damage_largest_param(d / "textcat" / "model")
        with pytest.raises(ValueError, match=rf"\[E220\] The saved weights of 'spacy_lm.TextCatLSTM.v{version}'.*damaged"):
            spacy.load(d)


def test_textcat_weights_saved_without_digest_load_unchecked():
    nlp, examples = build_nlp("textcat", TRAIN, "mean_max", True)
    with make_tempdir() as d:
        nlp.to_disk(d)
        path = d / "textcat" / "model"
        msg = srsly.msgpack_loads(path.read_bytes())
        assert "weights_digest" in msg["attrs"][0]
        del msg["attrs"][0]["weights_digest"]  # as saved before digests existed
        path.write_bytes(srsly.msgpack_dumps(msg))
        assert spacy.load(d)("I like it").cats == nlp("I like it").cats
        _damage_largest_param(path)
        spacy.load(d)  # nothing to check against


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_textcat_weights_are_a_one_line_error(keep):
    nlp, examples = build_nlp("textcat", TRAIN, "mean_max", True)
    with make_tempdir() as d:
        nlp.to_disk(d)
        path = d / "textcat" / "model"
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * keep)])
        with pytest.raises(ValueError, match=r"\[E221\] Cannot read the saved weights of 'spacy_lm.TextCatLSTM.v1'.*"
                                             r"truncated or damaged"):
            spacy.load(d)
        assert nlp.get_pipe("textcat").model.from_bytes(data) is not None  # the intact bytes still load


def test_linear_model_scores_reach_the_output_and_resizing_is_refused():
    nlp, examples = build_nlp("textcat", TRAIN, "mean_max", True, linear=True)
    output = nlp.get_pipe("textcat").model.get_ref("output_layer")
    # pooled biLSTM features (2 directions x 8 x mean+max = 32) plus one BOW score per label
    assert output.get_dim("nI") == 32 + 2
    with pytest.raises(ValueError, match="linear_model cannot add labels"):
        nlp.get_pipe("textcat").add_label("NEUTRAL")


def test_v2_wide_and_deep_sums_the_linear_scores_into_the_logits():
    nlp, examples = build_nlp("textcat", TRAIN, "concat", True, linear=True, version=2)
    model = nlp.get_pipe("textcat").model
    assert model.get_ref("output_layer").get_dim("nI") == 3 * 16  # the pooled features only
    docs = [eg.predicted for eg in examples]
    linear = next(node for node in model.walk() if node.name.startswith("sparse_linear"))
    before = model.predict(docs)
    bias = linear.get_param("b").copy()
    bias[0] += 2.0  # +2 on the first label's BOW logit: exp(2) times its odds, exactly
    linear.set_param("b", bias)
    after = model.predict(docs)
    numpy.testing.assert_allclose((after[:, 0] / after[:, 1]) / (before[:, 0] / before[:, 1]), numpy.exp(2.0),
                                  rtol=1e-4)
    with pytest.raises(ValueError, match="linear_model cannot add labels"):
        nlp.get_pipe("textcat").add_label("NEUTRAL")


def test_single_label_is_an_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat", config={"model": model_config()})
    examples = [Example.from_dict(nlp.make_doc("hi"), {"cats": {"POS": 1.0}})]
    with pytest.raises(ValueError, match="E867"):
        nlp.initialize(lambda: examples)


def test_weighted_textcat_class_weights_and_unknown_labels():
    fix_random_seed(0)
    nlp = spacy.blank("en")
    tc = nlp.add_pipe("weighted_textcat", config={"model": model_config(), "class_weights": {"NEG": 3.0}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN]
    nlp.initialize(lambda: examples)
    scores = tc.model.predict([eg.predicted for eg in examples])
    _, d_weighted = tc.get_loss(examples, scores)
    tc.cfg["class_weights"] = None
    _, d_plain = tc.get_loss(examples, scores)
    numpy.testing.assert_allclose(d_weighted[0], d_plain[0])  # POS: weight 1
    numpy.testing.assert_allclose(d_weighted[1], 3.0 * d_plain[1])  # NEG: weight 3
    bad = [Example.from_dict(nlp.make_doc("x"), {"cats": {"POS": 1.0, "NEG": 0.0, "MEH": 0.0}})]
    with pytest.raises(ValueError, match="MEH"):
        nlp.update(bad)
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("weighted_textcat", config={"model": model_config(), "class_weights": {"MEH": 2.0}})
    with pytest.raises(ValueError, match="MEH"):
        nlp2.initialize(lambda: examples)


def test_weighted_multilabel_balanced_weights_survive_save():
    nlp = spacy.blank("en")
    nlp.add_pipe("weighted_textcat_multilabel",
                 config={"model": model_config(exclusive=False), "class_weights": "balanced"})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN_MULTI + TRAIN_MULTI[:1]]
    nlp.initialize(lambda: examples)
    weights = nlp.get_pipe("weighted_textcat_multilabel").cfg["class_weights"]
    assert weights == pytest.approx({"POS": 5 / (2 * 3), "FUNNY": 5 / (2 * 3)})
    nlp.update(examples)
    with make_tempdir() as d:
        nlp.to_disk(d)
        assert spacy.load(d).get_pipe("weighted_textcat_multilabel").cfg["class_weights"] == pytest.approx(weights)


@pytest.mark.parametrize("factory,data,exclusive,linear,version", [
    ("textcat", TRAIN, True, False, 1),
    ("textcat_multilabel", TRAIN_MULTI, False, True, 1),
    ("textcat", TRAIN, True, False, 3),
])
def test_nan_weights_give_e079_not_nan_cats(factory, data, exclusive, linear, version):
    nlp, _ = build_nlp(factory, data, "mean_max", exclusive, linear, version)
    output_layer = nlp.get_pipe(factory).model.get_ref("output_layer")
    assert all(0.0 <= v <= 1.0 for v in nlp("I like it").cats.values())
    W = output_layer.get_param("W").copy()
    W[0, 0] = numpy.nan
    output_layer.set_param("W", W)
    message = rf"\[E079\] 'spacy_lm.TextCatLSTM.v{version}' computed cats that are not finite"
    with pytest.raises(ValueError, match=message):
        nlp("I like it")


@pytest.mark.parametrize("version", [1, 2])
def test_bigram_linear_model_reads_the_same_scores_beside_empty_docs(version):
    """The linear part skips empty docs; the other docs' scores are those of a batch without them,
    and an update on a batch with an empty doc trains (spaCy's BOW alone raises IndexError)."""
    nlp, examples = build_nlp("textcat", TRAIN, "mean_max", True, linear=True, version=version)
    texts = ["good film", "I hate it"]
    without = [doc.cats for doc in nlp.pipe(texts)]
    beside = [doc.cats for doc in nlp.pipe(["", texts[0], "", texts[1]])]
    for a, b in zip(without, [beside[1], beside[3]]):
        assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-6 for k in a)
    empty = Example.from_dict(nlp.make_doc(""), {"cats": {"POS": 1.0, "NEG": 0.0}})
    optimizer = Adam(0.01)
    before = nlp.get_pipe("textcat").model.get_ref("output_layer").get_param("W").copy()
    losses = nlp.update(examples + [empty], sgd=optimizer)
    assert numpy.isfinite(losses["textcat"])
    assert not numpy.array_equal(before, nlp.get_pipe("textcat").model.get_ref("output_layer").get_param("W"))


@pytest.mark.parametrize("drop", [1.0, 1.5, -0.1, float("nan")])
def test_training_dropout_outside_0_1_is_an_error(drop):
    """spaCy's textcat passes [training] dropout to our layers; 1 or more trains on nothing."""
    nlp, examples = build_nlp("textcat", TRAIN, "mean_max", True, linear=True, version=2)
    with pytest.raises(ValueError, match=r"\[E231\].*dropout must be a number in \[0, 1\)"):
        nlp.update(examples, drop=drop, sgd=Adam(0.01))
    assert nlp.update(examples, drop=0.5, sgd=Adam(0.01))["textcat"] >= 0


# ------------------------------------------------------------------ v3: ULMFiT's hidden layer
def test_v3_hidden_layer_is_in_the_head_group():
    from spacy_lm.training.layer_groups import layer_group

    nlp, _ = build_nlp("textcat", TRAIN, "concat", True, version=3, hidden_width=6)
    model = nlp.get_pipe("textcat").model
    assert [layer.name for layer in model.layers][1:] == [
        "sequence_lstm", "concat_pool", "layernorm", "dropout", "relu", "layernorm", "dropout", "resizable(softmax)"]
    hidden = model.layers[5]
    assert (hidden.get_dim("nI"), hidden.get_dim("nO")) == (3 * 16, 6)
    assert model.get_ref("output_layer").get_dim("nI") == 6
    assert all(layer_group(node.id) == 0 for layer in model.layers[2:8] for node in layer.walk())
    assert layer_group(model.layers[1].id) == 1
    assert {layer_group(node.id) for node in model.get_ref("tok2vec").walk()} == {3}


def _node_tree(model):
    return [(node.name, {dim: node.maybe_get_dim(dim) for dim in node.dim_names},
             {name: node.get_param(name).shape for name in node.param_names if node.has_param(name)})
            for node in model.walk()]


@pytest.mark.parametrize("linear", [False, True])
def test_v3_without_hidden_width_is_v2(linear):
    nlp2, examples = build_nlp("textcat", TRAIN, "concat", True, linear, version=2)
    nlp3, _ = build_nlp("textcat", TRAIN, "concat", True, linear, version=3, hidden_width=None)
    model2, model3 = nlp2.get_pipe("textcat").model, nlp3.get_pipe("textcat").model
    assert _node_tree(model3) == _node_tree(model2)
    assert model3.attrs["architecture"] == "spacy_lm.TextCatLSTM.v3"
    texts = [eg.reference.text for eg in examples]
    assert [doc.cats for doc in nlp3.pipe(texts)] == [doc.cats for doc in nlp2.pipe(texts)]  # same seed, same model


def test_v3_scores_do_not_depend_on_the_batch():
    """LayerNorm, not BatchNorm: each doc is normalised on its own, so nlp(text) and nlp.pipe at any
    batch size give the same cats, after training with dropout too."""
    nlp, examples = build_nlp("textcat", TRAIN, "concat", True, version=3, dropout=0.2)
    optimizer = Adam(0.01)
    for _ in range(5):
        nlp.update(examples, sgd=optimizer, drop=0.2)
    texts = [eg.reference.text for eg in examples] + ["good film", "I hate it a lot"]
    alone = [nlp(text).cats for text in texts]
    for batch_size in (1, 3):
        for piped, cats in zip(nlp.pipe(texts, batch_size=batch_size), alone):
            assert piped.cats == pytest.approx(cats, abs=1e-5)


def test_v3_add_label_after_initialize():
    """As v2 (spaCy's resizable output): the output layer grows behind the hidden layer, and the
    new label starts at spaCy's NEG_VALUE bias, so the old labels' scores do not move."""
    nlp, examples = build_nlp("textcat", TRAIN, "concat", True, version=3)
    nlp.update(examples, sgd=Adam(0.02))
    before = nlp("I like it").cats
    textcat = nlp.get_pipe("textcat")
    textcat.add_label("NEUTRAL")
    after = nlp("I like it").cats
    assert set(after) == {"POS", "NEG", "NEUTRAL"} and after["NEUTRAL"] == pytest.approx(0.0, abs=1e-6)
    assert {label: after[label] for label in before} == pytest.approx(before, abs=1e-6)
    output = textcat.model.get_ref("output_layer")
    assert (output.get_dim("nI"), output.get_dim("nO")) == (50, 3)
    assert numpy.isfinite(nlp.update(examples, sgd=Adam(0.02))["textcat"])


@pytest.mark.parametrize("hidden_width", [0, -1])
def test_v3_hidden_width_out_of_range_is_e009(hidden_width):
    with pytest.raises(ValueError, match=r"\[E009\] spacy_lm.TextCatLSTM.v3: hidden_width must be an integer >= 1 "
                                         rf"\(or null: no hidden layer, v2's head\), got {hidden_width}"):
        registry.resolve({"m": model_config(version=3, hidden_width=hidden_width)})


def test_v3_hidden_width_not_an_integer_is_an_error():
    from spacy_lm.architectures.textcat_lstm import build_textcat_lstm_v3

    tok2vec = registry.resolve({"t": TOK2VEC})["t"]
    with pytest.raises(ValueError, match=r"\[E009\] spacy_lm.TextCatLSTM.v3: hidden_width .* got 'x'"):
        build_textcat_lstm_v3(tok2vec, 8, 1, 0.0, hidden_width="x")
    with pytest.raises(ValueError, match=r"\[E009\].*hidden_width .* got True"):
        build_textcat_lstm_v3(tok2vec, 8, 1, 0.0, hidden_width=True)
    with pytest.raises(ConfigValidationError, match="hidden_width"):  # from a config: spaCy's own type check
        registry.resolve({"m": model_config(version=3, hidden_width="x")})


# Frozen features: a tok2vec of fixed random rows per word, where the label shows only as a small
# shift of the POS and NEG words' rows along one direction, under a head trained with the layers
# below it frozen (DiscriminativeAdam, gradual unfreezing's first phase).
FEATURE_WIDTH = 16
FROZEN_WORDS = {"pos": [f"p{i}" for i in range(10)], "neg": [f"n{i}" for i in range(10)],
                "neutral": [f"w{i}" for i in range(20)]}


@registry.architectures("test_textcat_lstm.FixedRows.v1")
def fixed_rows(width: int = FEATURE_WIDTH, shift: float = 0.5) -> Model:
    """Each word's row: N(0, 1) noise, plus ``shift`` times a unit direction for POS words and minus
    it for NEG words. A trainable table E (its gradient is computed) that the optimizer keeps frozen."""
    words = [w for group in FROZEN_WORDS.values() for w in group]
    row_of = {word: i for i, word in enumerate(words)}

    def init(model, X=None, Y=None):
        rng = numpy.random.RandomState(1)
        table = rng.normal(size=(len(words), width)).astype("float32")
        direction = rng.normal(size=width).astype("float32")
        direction /= numpy.linalg.norm(direction)
        for word in FROZEN_WORDS["pos"]:
            table[row_of[word]] += shift * direction
        for word in FROZEN_WORDS["neg"]:
            table[row_of[word]] -= shift * direction
        model.set_param("E", model.ops.asarray2f(table))

    def forward(model, docs, is_train):
        ids = [model.ops.asarray1i([row_of[token.text] for token in doc]) for doc in docs]
        E = model.get_param("E")

        def backprop(dYs):
            dE = model.ops.alloc2f(*E.shape)
            for rows, dY in zip(ids, dYs):
                model.ops.scatter_add(dE, rows, dY)
            model.inc_grad("E", dE)
            return []

        return [E[rows] for rows in ids], backprop

    return Model("fixed_rows", forward, init=init, dims={"nO": width}, params={"E": None})


def _frozen_feature_examples(nlp, n: int, seed: int):
    """Docs of 6 words: 2 words of their label's group (POS or NEG) among 4 neutral ones."""
    rng = numpy.random.RandomState(seed)
    examples = []
    for i in range(n):
        label = "POS" if i % 2 == 0 else "NEG"
        group = FROZEN_WORDS["pos" if label == "POS" else "neg"]
        words = [str(word) for word in [*rng.choice(group, 2), *rng.choice(FROZEN_WORDS["neutral"], 4)]]
        rng.shuffle(words)
        doc = Doc(nlp.vocab, words=words)
        examples.append(Example.from_dict(doc, {"cats": {"POS": float(label == "POS"), "NEG": float(label == "NEG")}}))
    return examples


def test_v3_head_learns_over_frozen_features():
    from spacy_lm.training.layer_groups import DiscriminativeAdam

    fix_random_seed(0)
    nlp = spacy.blank("en")
    config = {"@architectures": "spacy_lm.TextCatLSTM.v3", "width": 8, "depth": 0, "dropout": 0.0, "hidden_width": 50,
              "tok2vec": {"@architectures": "test_textcat_lstm.FixedRows.v1"}}
    textcat = nlp.add_pipe("textcat", config={"model": config})
    examples = _frozen_feature_examples(nlp, 40, seed=0)
    nlp.initialize(lambda: examples)
    tok2vec = textcat.model.get_ref("tok2vec")
    table = tok2vec.get_param("E").copy()
    optimizer = DiscriminativeAdam(0.01, unfreeze_steps=10**6)  # groups > 0 (the tok2vec: 3) stay frozen
    for step in range(20):
        nlp.update(examples, sgd=optimizer)
        optimizer.step_schedules()
    numpy.testing.assert_array_equal(tok2vec.get_param("E"), table)  # the features never moved
    _, backprop = textcat.model.begin_update([eg.predicted for eg in examples[:2]])
    backprop(textcat.model.ops.alloc2f(2, 2) + 1.0)
    assert tok2vec.get_grad("E").any()  # ... though a gradient reached them: the optimizer held them

    def accuracy(examples):
        docs = nlp.pipe([eg.predicted for eg in examples])
        return numpy.mean([max(doc.cats, key=doc.cats.get) == max(eg.reference.cats, key=eg.reference.cats.get)
                           for doc, eg in zip(docs, examples)])

    assert accuracy(examples) >= 0.9
    assert accuracy(_frozen_feature_examples(nlp, 200, seed=1)) >= 0.65  # the shift, not the 40 docs by heart


def test_v3_embed_reads_the_tasks_own_features_beside_tok2vec(tmp_path):
    """ELMo's recipe: the LM's states (here any tok2vec) concatenated with hashed embeddings."""
    import spacy
    from spacy.training import Example
    from thinc.api import Adam, fix_random_seed

    fix_random_seed(0)
    nlp = spacy.blank("en")
    embed = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 6, "attrs": ["NORM", "PREFIX"],
             "rows": [100, 50], "include_static_vectors": False}
    tok2vec = {**embed, "width": 4}
    model = {"@architectures": "spacy_lm.TextCatLSTM.v3", "width": 8, "depth": 1, "dropout": 0.0,
             "hidden_width": None, "tok2vec": tok2vec, "embed": embed}
    textcat = nlp.add_pipe("textcat", config={"model": model})
    data = [("good film", "POS"), ("bad film", "NEG"), ("a good plot", "POS"), ("a bad plot", "NEG")]
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"POS": float(y == "POS"), "NEG": float(y == "NEG")}})
                for t, y in data]
    nlp.initialize(lambda: examples)
    assert textcat.model.get_ref("tok2vec").get_dim("nO") == 10  # 4 + 6 per token
    optimizer = Adam(0.01)
    for _ in range(30):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
    assert losses["textcat"] < 0.05
    assert all((nlp(t).cats["POS"] > 0.5) == (y == "POS") for t, y in data)
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(tmp_path / "m")
    for text, _ in data:
        assert loaded(text).cats == pytest.approx(nlp(text).cats, abs=1e-6)
