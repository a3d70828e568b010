"""Discriminative learning rates and gradual unfreezing (spacy_lm.DiscriminativeAdam.v1)."""
import math

import numpy
import pytest
import spacy
from spacy.training import Example
from thinc.api import Config, Linear, Model, chain, fix_random_seed, registry
from thinc.shims import Shim

from spacy_lm.training.layer_groups import (
    LR_GROUP_ATTR,
    DiscriminativeAdam,
    DiscriminativeOptimizer,
    layer_group,
    set_layer_group,
)

LR = 0.01


def tiny_chain():
    """chain(deep, head): deep Linear (group 1) under the output Linear (group 0)."""
    fix_random_seed(0)
    deep, head = Linear(nO=4, nI=3), Linear(nO=2, nI=4)
    model = chain(deep, head)
    model.initialize()
    set_layer_group(model, 0)
    set_layer_group(deep, 1)
    return model, deep, head


def params(layer):
    return {name: layer.get_param(name).copy() for name in layer.param_names}


def update(model, optimizer, steps: int = 1):
    X = numpy.linspace(-1, 1, 15, dtype="float32").reshape(5, 3)
    Y = numpy.asarray([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]], dtype="float32")
    for _ in range(steps):
        out, backprop = model.begin_update(X)
        backprop(out - Y)
        model.finish_update(optimizer)
        optimizer.step_schedules()  # as spaCy's training loop does after each update


def mean_abs_change(before, layer):
    return float(numpy.mean(numpy.concatenate([numpy.abs(layer.get_param(n) - before[n]).ravel() for n in before])))


def test_set_layer_group_tags_every_node_and_later_calls_override():
    model, deep, head = tiny_chain()
    assert layer_group(model.id) == 0 and layer_group(head.id) == 0
    assert layer_group(deep.id) == 1
    assert model.attrs[LR_GROUP_ATTR] == 0 and deep.attrs[LR_GROUP_ATTR] == 1
    assert layer_group(Linear(nO=2, nI=2).id) is None  # never tagged


def test_deep_group_is_frozen_until_its_unfreeze_step():
    k = 3
    model, deep, head = tiny_chain()
    optimizer = DiscriminativeAdam(LR, lr_decay=1.0, unfreeze_steps=k + 1)  # group 1 thaws after k + 1 steps
    deep0, head0 = params(deep), params(head)
    update(model, optimizer, steps=k)
    for name, value in deep0.items():
        assert deep.get_param(name).tobytes() == value.tobytes()
        assert not deep.get_grad(name).any()  # cleared, not left to pile up
        assert (deep.id, name) not in optimizer.mom1 and (deep.id, name) not in optimizer.nr_update
        assert (deep.id, name) not in optimizer.averages
    assert mean_abs_change(head0, head) > 0
    assert optimizer.steps == k and optimizer.is_frozen(1) and not optimizer.is_frozen(0)
    update(model, optimizer, steps=1)  # the (k + 1)-th update still runs frozen
    assert all(deep.get_param(n).tobytes() == v.tobytes() for n, v in deep0.items())
    assert not optimizer.is_frozen(1)
    update(model, optimizer, steps=1)
    assert mean_abs_change(deep0, deep) > 0.5 * LR  # Adam's first step moves each weight ~lr
    assert optimizer.nr_update[(deep.id, "W")] == 1  # starts fresh: bias correction from step 1


def test_lr_decay_scales_the_first_adam_step_per_group():
    model, deep, head = tiny_chain()
    optimizer = DiscriminativeAdam(LR, lr_decay=2.0, unfreeze_steps=0, grad_clip=0.0)
    deep0, head0 = params(deep), params(head)
    update(model, optimizer, steps=1)
    head_change, deep_change = mean_abs_change(head0, head), mean_abs_change(deep0, deep)
    assert head_change == pytest.approx(LR, rel=0.05)
    assert deep_change == pytest.approx(LR / 2.0, rel=0.05)
    assert deep_change / head_change == pytest.approx(0.5, rel=0.05)


def test_ungrouped_layers_train_as_group_zero():
    fix_random_seed(0)
    model = chain(Linear(nO=4, nI=3), Linear(nO=2, nI=4))
    model.initialize()
    before = [params(layer) for layer in model.layers]
    update(model, DiscriminativeAdam(LR, lr_decay=2.6, unfreeze_steps=100, grad_clip=0.0))
    for layer, p in zip(model.layers, before):
        assert mean_abs_change(p, layer) == pytest.approx(LR, rel=0.05)


def test_use_averages_off_and_on():
    model, deep, head = tiny_chain()
    assert DiscriminativeAdam(LR, use_averages=False).averages is None
    optimizer = DiscriminativeAdam(LR, unfreeze_steps=2)
    deep0 = params(deep)
    update(model, optimizer, steps=3)
    assert (head.id, "W") in optimizer.averages and (deep.id, "W") in optimizer.averages
    with model.use_params(optimizer.averages):
        assert deep.get_param("W").tobytes() == optimizer.averages[(deep.id, "W")].tobytes()
    assert deep.get_param("W").tobytes() != deep0["W"].tobytes()


CONFIG = """
[optimizer]
@optimizers = "spacy_lm.DiscriminativeAdam.v1"
lr_decay = 2.0
unfreeze_steps = 2
use_averages = false

[optimizer.learn_rate]
@schedules = "slanted_triangular.v1"
max_rate = 0.01
num_steps = 100
"""


def test_resolves_from_config_with_a_slanted_triangular_learn_rate():
    optimizer = registry.resolve(Config().from_str(CONFIG))["optimizer"]
    assert isinstance(optimizer, DiscriminativeOptimizer)
    assert (optimizer.lr_decay, optimizer.unfreeze_steps, optimizer.averages) == (2.0, 2, None)
    stlr = registry.schedules.get("slanted_triangular.v1")(max_rate=0.01, num_steps=100)
    rates = []
    for _ in range(5):
        assert optimizer.learn_rate == pytest.approx(next(stlr))
        rates.append(optimizer.learn_rate)
        optimizer.step_schedules()
    assert rates == sorted(rates) and rates[0] < rates[-1]  # STLR's rising part (10 steps)
    assert optimizer.steps == 5


@pytest.mark.parametrize("setting,value,code", [
    ("lr_decay", 0.0, "E169"), ("lr_decay", -2.6, "E169"), ("lr_decay", math.inf, "E169"),
    ("lr_decay", math.nan, "E169"), ("lr_decay", True, "E169"),
    ("unfreeze_steps", -1, "E170"), ("unfreeze_steps", 1.5, "E170"), ("unfreeze_steps", True, "E170"),
])
def test_bad_settings_raise_a_coded_error(setting, value, code):
    with pytest.raises(ValueError, match=rf"^\[{code}\] .*{setting} .*got {value!r}\.$"):
        DiscriminativeAdam(LR, **{setting: value})


def test_bad_setting_in_a_config_raises_the_coded_error():
    with pytest.raises(ValueError, match=r"\[E169\].*lr_decay.*got 0\.0"):
        registry.resolve(Config().from_str(CONFIG.replace("lr_decay = 2.0", "lr_decay = 0.0")))


@pytest.mark.parametrize("group", [-1, 1.0, True, None])
def test_bad_group_raises_a_coded_error(group):
    with pytest.raises(ValueError, match=r"^\[E168\] .*group .*got"):
        set_layer_group(Linear(nO=2, nI=2), group)


def test_wrapped_framework_models_cannot_be_put_in_a_deep_group():
    class FakeShim(Shim):  # PyTorch/TF shims key their params by the shim's own id
        pass

    wrapper = Model("wrapper", lambda model, X, is_train: (X, lambda dY: dY), shims=[FakeShim(None)])
    with pytest.raises(ValueError, match=r"^\[E171\] .*'wrapper' wraps a FakeShim.*group 1"):
        set_layer_group(chain(linear := Linear(nO=2, nI=2), wrapper), 1)
    assert layer_group(linear.id) is None  # nothing half-tagged
    set_layer_group(wrapper, 0)  # the default group is harmless
    assert layer_group(wrapper.id) == 0


def test_serialisation_round_trips_with_and_without_tags():
    model, deep, head = tiny_chain()
    update(model, DiscriminativeAdam(LR, unfreeze_steps=0))
    data = model.to_bytes()
    fresh = chain(Linear(nO=4, nI=3), Linear(nO=2, nI=4)).from_bytes(data)  # untagged, new ids
    for old, new in zip(model.walk(), fresh.walk()):
        for name in old.param_names:
            assert new.get_param(name).tobytes() == old.get_param(name).tobytes()
    assert layer_group(fresh.layers[0].id) is None  # the saved attr makes no group: tag again
    model.from_bytes(chain(Linear(nO=4, nI=3), Linear(nO=2, nI=4)).initialize().to_bytes())
    assert layer_group(deep.id) == 1


TEXTS = [("a great film", "POS"), ("a terrible film", "NEG"), ("great acting", "POS"),
         ("terrible plot", "NEG"), ("truly great", "POS"), ("truly terrible", "NEG")]


def test_nlp_update_keeps_the_frozen_tok2vec_and_lowers_the_loss():
    fix_random_seed(0)
    nlp = spacy.blank("en")
    tok2vec = {"@architectures": "spacy.HashEmbedCNN.v2", "width": 8, "depth": 1, "embed_size": 100,
               "window_size": 1, "maxout_pieces": 2, "subword_features": False, "pretrained_vectors": None}
    bow = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": 1,
           "no_output_layer": False}
    textcat = nlp.add_pipe("textcat", config={"model": {"@architectures": "spacy.TextCatEnsemble.v2",
                                                        "tok2vec": tok2vec, "linear_model": bow}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"POS": float(c == "POS"), "NEG": float(c == "NEG")}})
                for t, c in TEXTS]
    nlp.initialize(lambda: examples)
    model = textcat.model
    set_layer_group(model, 0)
    set_layer_group(model.get_ref("tok2vec"), 1)
    frozen = {(n.id, name): n.get_param(name).copy() for n in model.get_ref("tok2vec").walk()
              for name in n.param_names if n.has_param(name)}
    assert frozen
    optimizer = DiscriminativeAdam(0.05, lr_decay=2.6, unfreeze_steps=1000)
    losses = []
    for _ in range(12):
        step_losses = {}
        nlp.update(examples, sgd=optimizer, losses=step_losses)
        optimizer.step_schedules()
        losses.append(step_losses["textcat"])
    for node in model.get_ref("tok2vec").walk():
        for name in node.param_names:
            if node.has_param(name):
                assert node.get_param(name).tobytes() == frozen[(node.id, name)].tobytes()
    assert losses[-1] < 0.5 * losses[0]
    restored = spacy.blank("en")
    restored.add_pipe("textcat", config={"model": {"@architectures": "spacy.TextCatEnsemble.v2",
                                                   "tok2vec": tok2vec, "linear_model": bow}})
    restored.from_bytes(nlp.to_bytes())
    doc = nlp("a great plot")
    assert restored("a great plot").cats == pytest.approx(doc.cats)
