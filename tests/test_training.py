import numpy
from thinc.api import fix_random_seed

from spacy_lm.architectures.lstm_lm import build_lstm_language_model
from spacy_lm.ops import softmax_cross_entropy
from spacy_lm.training.clipping import clip_global_grad_norm, global_grad_norm, sgd_step


def tiny_model_with_grads():
    fix_random_seed(0)
    model = build_lstm_language_model(width=4, depth=1, dropout=0.0)
    model.set_dim("nV", 6)
    model.initialize()
    ids = numpy.asarray([[1, 2], [3, 4]], dtype="int32")
    (logits, _), backprop = model((ids, None, None), is_train=True)
    _, d_logits = softmax_cross_entropy(model.ops, logits, numpy.asarray([2, 3, 4, 5], dtype="int32"),
                                        grad_scale=100.0)
    backprop((d_logits, None))
    return model


def test_clip_global_grad_norm_scales_all_gradients_together():
    model = tiny_model_with_grads()
    before = global_grad_norm(model)
    assert before > 1.0
    ratios = {}
    grads = {(n.id, name): n.get_grad(name).copy() for n in model.walk() for name in n.grad_names}
    returned = clip_global_grad_norm(model, 1.0)
    assert returned == before
    assert abs(global_grad_norm(model) - 1.0) < 1e-4
    for node in model.walk():
        for name in node.grad_names:
            ratios[(node.id, name)] = float((node.get_grad(name) / (grads[(node.id, name)] + 1e-30)).max())
    assert max(ratios.values()) - min(ratios.values()) < 1e-3  # one common scale


def test_sgd_step_moves_against_gradient_and_clears_it():
    model = tiny_model_with_grads()
    E = model.get_ref("embedding").get_param("E").copy()
    dE = model.get_ref("embedding").get_grad("E").copy()
    sgd_step(model, 0.5)
    numpy.testing.assert_allclose(model.get_ref("embedding").get_param("E"), E - 0.5 * dE, rtol=1e-6)
    assert global_grad_norm(model) == 0.0
