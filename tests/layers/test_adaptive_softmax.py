import numpy
import pytest
import srsly
from thinc.api import NumpyOps, Ops, fix_random_seed

from spacy_lm.layers import output
from spacy_lm.layers.adaptive_softmax import AdaptiveSoftmax
from spacy_lm.layers.embedding import TokenEmbedding
from spacy_lm.ops import log_softmax

from ..gradcheck import assert_grads_close, numeric_grad, to_float64

OPS_CLASSES = [NumpyOps, Ops]
NO, NI, CUTOFFS = 20, 8, [5, 12]
# Rows of every kind: head words, both clusters, the first and last id of each span.
TARGETS = numpy.asarray([0, 4, 5, 11, 12, 19, 3, 6, 15, 1], dtype="int32")


def make_layer(ops=None, *, cutoffs=CUTOFFS, head_bias=True, tied=False, div_value=4.0, nO=NO, nI=NI):
    fix_random_seed(0)
    embedding = TokenEmbedding(nI, nV=nO) if tied else None
    layer = AdaptiveSoftmax(nO=nO, nI=nI, cutoffs=cutoffs, div_value=div_value, head_bias=head_bias,
                            tied_embedding=embedding)
    if ops is not None:
        for node in layer.walk():
            node.ops = ops
    if embedding is not None:
        embedding.initialize()
    layer.initialize()
    return layer


def hidden_rows(n=len(TARGETS), nI=NI, scale=1.0, seed=1):
    return (numpy.random.default_rng(seed).normal(size=(n, nI)) * scale).astype("float32")


def test_log_probs_are_a_normalised_distribution_and_the_forward():
    layer = make_layer()
    X = hidden_rows()
    lp = output.log_probs(layer, X)
    assert lp.shape == (len(X), NO)
    numpy.testing.assert_allclose(numpy.log(numpy.exp(lp).sum(axis=1)), 0, atol=1e-6)
    numpy.testing.assert_allclose(log_softmax(layer.ops, lp), lp, atol=1e-6)  # its own log_softmax
    forward_lp, _ = layer(X, is_train=False)
    numpy.testing.assert_array_equal(forward_lp, lp)
    assert output.log_probs(layer, X) is not lp


@pytest.mark.parametrize("tied", [False, True])
def test_loss_and_score_equal_the_full_distribution(tied):
    layer = make_layer(tied=tied)
    X = hidden_rows(scale=3.0)
    lp = output.log_probs(layer, X)
    expected = -lp[numpy.arange(len(X)), TARGETS]
    nll, d_hidden = output.loss(layer, X, TARGETS, 1.0)
    assert d_hidden.shape == X.shape
    numpy.testing.assert_allclose(nll, expected, rtol=1e-5, atol=1e-6)
    for rows in (3, 2048):
        nll, correct = output.score(layer, X, TARGETS, rows)
        numpy.testing.assert_allclose(nll, expected, rtol=1e-5, atol=1e-6)
        numpy.testing.assert_array_equal(correct, lp.argmax(axis=1) == TARGETS)


def test_score_finds_the_argmax_in_any_cluster():
    """Large hidden states make tail words win often: score's pruned argmax is the full one."""
    layer = make_layer()
    X = hidden_rows(n=400, scale=8.0, seed=3)
    lp = output.log_probs(layer, X)
    argmax = lp.argmax(axis=1).astype("int32")
    assert (argmax >= CUTOFFS[0]).any() and (argmax >= CUTOFFS[1]).any()
    _, correct = output.score(layer, X, argmax, 64)
    assert correct.all()
    _, correct = output.score(layer, X, (argmax + 1) % NO, 64)
    assert not correct.any()


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("head_bias,tied", [(True, False), (False, True)])
def test_loss_gradients_match_finite_differences(ops_class, head_bias, tied):
    layer = make_layer(ops_class(), head_bias=head_bias, tied=tied)
    to_float64(layer)
    X = hidden_rows().astype("float64")

    def total() -> float:
        return float(output.loss(layer, X, TARGETS, 1.0)[0].sum())

    _, d_hidden = output.loss(layer, X, TARGETS, 0.5)  # grad_scale scales every gradient
    grads = {(node.id, name): node.get_grad(name).copy() for node in layer.walk() for name in node.param_names}
    assert_grads_close(d_hidden * 2, numeric_grad(total, X))
    for node in layer.walk():
        for name in node.param_names:
            assert_grads_close(grads[(node.id, name)] * 2, numeric_grad(total, node.get_param(name)))


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
def test_forward_backprop_matches_finite_differences(ops_class):
    layer = make_layer(ops_class(), tied=True)
    to_float64(layer)
    X = hidden_rows().astype("float64")
    d_out = numpy.random.default_rng(2).normal(size=(len(X), NO))

    def total() -> float:
        return float((layer(X, is_train=False)[0] * d_out).sum())

    lp, backprop = layer(X, is_train=True)
    dX = backprop(d_out)
    assert_grads_close(dX, numeric_grad(total, X))
    for node in layer.walk():
        for name in node.param_names:
            assert_grads_close(node.get_grad(name), numeric_grad(total, node.get_param(name)))


def test_clusters_absent_from_the_batch_get_no_gradient():
    layer = make_layer()
    head_only = numpy.asarray([0, 3, 4, 1], dtype="int32")
    output.loss(layer, hidden_rows(n=4), head_only, 1.0)
    for name in ("P0", "T0", "P1", "T1"):
        assert not layer.has_grad(name) or not layer.get_grad(name).any()
    assert layer.get_grad("W").any()
    output.loss(layer, hidden_rows(n=2), numpy.asarray([7, 2], dtype="int32"), 1.0)
    assert layer.get_grad("T0").any()
    assert not layer.has_grad("T1") or not layer.get_grad("T1").any()


def test_equals_torch_adaptive_log_softmax_with_loss():
    torch = pytest.importorskip("torch")
    layer = make_layer(head_bias=True, div_value=2.0)
    torch_layer = torch.nn.AdaptiveLogSoftmaxWithLoss(NI, NO, cutoffs=CUTOFFS, div_value=2.0, head_bias=True)
    with torch.no_grad():
        torch_layer.head.weight.copy_(torch.from_numpy(layer.get_param("W")))
        torch_layer.head.bias.copy_(torch.from_numpy(layer.get_param("b")))
        for i, tail in enumerate(torch_layer.tail):
            assert tuple(tail[0].weight.shape) == layer.get_param(f"P{i}").shape
            tail[0].weight.copy_(torch.from_numpy(layer.get_param(f"P{i}")))
            tail[1].weight.copy_(torch.from_numpy(layer.get_param(f"T{i}")))
    X = hidden_rows(scale=2.0)
    X_torch = torch.from_numpy(X).requires_grad_(True)
    result = torch_layer(X_torch, torch.from_numpy(TARGETS).long())
    result.loss.backward()
    nll, d_hidden = output.loss(layer, X, TARGETS, 1.0 / len(X))
    numpy.testing.assert_allclose(nll, -result.output.detach().numpy(), rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(d_hidden, X_torch.grad.numpy(), rtol=1e-4, atol=1e-6)
    numpy.testing.assert_allclose(layer.get_grad("W"), torch_layer.head.weight.grad.numpy(), rtol=1e-4, atol=1e-6)
    numpy.testing.assert_allclose(layer.get_grad("T1"), torch_layer.tail[1][1].weight.grad.numpy(),
                                  rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        expected = torch_layer.log_prob(torch.from_numpy(X)).numpy()
    numpy.testing.assert_allclose(output.log_probs(layer, X), expected, rtol=1e-5, atol=1e-5)
    numpy.testing.assert_array_equal(output.score(layer, X, TARGETS, 4)[1],
                                     torch_layer.predict(torch.from_numpy(X)).numpy() == TARGETS)


def test_projection_sizes_follow_div_value():
    layer = make_layer(nI=16, div_value=4.0, nO=40, cutoffs=[5, 12, 30])
    assert [layer.get_param(f"P{i}").shape for i in range(3)] == [(4, 16), (1, 16), (1, 16)]
    assert [layer.get_param(f"T{i}").shape for i in range(3)] == [(7, 4), (18, 1), (10, 1)]
    assert layer.get_param("W").shape == (5 + 3, 16)


@pytest.mark.parametrize("cutoffs", [[], [0, 5], [5, 5], [12, 5], [2.5], [True, 5]])
def test_bad_cutoffs_raise_a_coded_error(cutoffs):
    with pytest.raises(ValueError, match=r"E260.*cutoffs"):
        AdaptiveSoftmax(nO=NO, nI=NI, cutoffs=cutoffs)


@pytest.mark.parametrize("nO,expected", [(40, [5, 12]), (13, [5, 12]), (12, [5]), (6, [5]), (5, []), (2, [])])
def test_cutoffs_follow_the_vocabulary_found_at_initialization(nO, expected):
    """Cutoffs at or above nO are dropped in init (nO is known only then); none left is a full softmax."""
    layer = AdaptiveSoftmax(nI=NI, cutoffs=CUTOFFS)
    layer.set_dim("nO", nO)
    layer.initialize()
    assert layer.attrs["cutoffs"] == expected and layer.attrs["given_cutoffs"] == CUTOFFS
    head = (expected or [nO])[0]
    assert layer.get_param("W").shape == (head + len(expected), NI)
    assert sorted(n for n in layer.param_names if n[0] in "PT") == sorted(
        f"{k}{i}" for i in range(len(expected)) for k in "PT")
    X = hidden_rows()
    targets = TARGETS % nO
    lp = output.log_probs(layer, X)
    assert lp.shape == (len(X), nO)
    numpy.testing.assert_allclose(numpy.exp(lp).sum(axis=1), 1, rtol=1e-5)
    nll, d_hidden = output.loss(layer, X, targets, 1.0)
    numpy.testing.assert_allclose(nll, -lp[numpy.arange(len(X)), targets], rtol=1e-5, atol=1e-6)
    score_nll, correct = output.score(layer, X, targets, 4)
    numpy.testing.assert_allclose(score_nll, nll, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_array_equal(correct, lp.argmax(axis=1) == targets)
    restored = AdaptiveSoftmax(nI=NI, cutoffs=CUTOFFS)
    restored.set_dim("nO", nO)
    restored.from_bytes(layer.to_bytes())  # a saved layer loads with its clusters, without init
    assert restored.attrs["cutoffs"] == expected
    numpy.testing.assert_array_equal(output.log_probs(restored, X), lp)


def test_a_layer_saved_before_given_cutoffs_loads_as_before():
    """spacy-lm 0.1.0 saved only attrs["cutoffs"] (valid for its nO): the weights load unchanged."""
    layer = make_layer()
    msg = srsly.msgpack_loads(layer.to_bytes())
    for attrs in msg["attrs"]:
        attrs.pop("given_cutoffs", None)
    restored = AdaptiveSoftmax(nI=NI, cutoffs=CUTOFFS)
    restored.set_dim("nO", NO)
    restored.from_bytes(srsly.msgpack_dumps(msg))
    assert restored.attrs["cutoffs"] == CUTOFFS
    X = hidden_rows()
    numpy.testing.assert_array_equal(output.log_probs(restored, X), output.log_probs(layer, X))


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("tied", [False, True])
def test_full_softmax_without_clusters_matches_finite_differences(ops_class, tied):
    """A vocabulary smaller than cutoffs[0]: the head alone, trained through loss and the forward."""
    layer = make_layer(ops_class(), tied=tied, head_bias=not tied, nO=5)
    assert layer.attrs["cutoffs"] == [] and not layer.has_param("C")
    to_float64(layer)
    X = hidden_rows().astype("float64")
    targets = TARGETS % 5
    owner, name = (layer.get_ref("embedding"), "E") if tied else (layer, "W")
    nll, d_hidden = output.loss(layer, X, targets, 1.0)
    grad = owner.get_grad(name).copy()

    def total() -> float:
        return float(output.loss(layer, X, targets, 1.0)[0].sum())

    assert_grads_close(d_hidden, numeric_grad(total, X))
    assert_grads_close(grad, numeric_grad(total, owner.get_param(name)))
    lp, backprop = layer(X, is_train=True)
    d_out = numpy.zeros_like(lp)
    d_out[numpy.arange(len(X)), targets] = -1.0
    assert_grads_close(backprop(d_out), d_hidden)


def test_tying_shares_the_embedding_table():
    layer = make_layer(tied=True, head_bias=False)
    assert not layer.has_param("W") and layer.get_param("C").shape == (len(CUTOFFS), NI)
    embedding = layer.get_ref("embedding")
    X = hidden_rows()
    before = output.log_probs(layer, X)
    embedding.get_param("E")[CUTOFFS[0]:] += 1.0  # rows outside the head are not used
    numpy.testing.assert_array_equal(output.log_probs(layer, X), before)
    embedding.get_param("E")[: CUTOFFS[0]] = 0
    lp = output.log_probs(layer, X)
    numpy.testing.assert_allclose(lp[:, 0], lp[:, CUTOFFS[0] - 1])  # head words all have logit 0
    output.loss(layer, X, TARGETS, 1.0)
    grad = embedding.get_grad("E")
    assert grad.shape == (NO, NI) and grad[: CUTOFFS[0]].any() and not grad[CUTOFFS[0]:].any()
    restored = make_layer(tied=True, head_bias=False).from_bytes(layer.to_bytes())
    assert restored.get_ref("embedding") is restored.layers[0]
    numpy.testing.assert_array_equal(output.log_probs(restored, X), lp)


def test_tying_needs_a_matching_embedding():
    layer = AdaptiveSoftmax(nO=NO, nI=NI, cutoffs=CUTOFFS, tied_embedding=TokenEmbedding(NI + 1, nV=NO))
    layer.get_ref("embedding").initialize()
    with pytest.raises(ValueError, match="E104"):
        layer.initialize()


@pytest.mark.gpu
@pytest.mark.parametrize("tied", [False, True])
def test_cupy_ops_give_the_numpy_results(tied):
    from thinc.api import CupyOps

    ops = CupyOps()
    host, device = make_layer(tied=tied), make_layer(ops, tied=tied)
    for host_node, device_node in zip(host.walk(), device.walk()):
        for name in host_node.param_names:
            device_node.set_param(name, ops.asarray(host_node.get_param(name)))
    X = hidden_rows(scale=4.0)
    X_device, targets_device = ops.asarray(X), ops.asarray(TARGETS)
    pairs = [(output.log_probs(device, X_device), output.log_probs(host, X)),
             (output.loss(device, X_device, targets_device, 0.5)[0], output.loss(host, X, TARGETS, 0.5)[0]),
             (output.score(device, X_device, targets_device, 4)[0], output.score(host, X, TARGETS, 4)[0])]
    for got, expected in pairs:
        numpy.testing.assert_allclose(ops.to_numpy(got), expected, rtol=1e-4, atol=1e-5)
    numpy.testing.assert_array_equal(ops.to_numpy(output.score(device, X_device, targets_device, 4)[1]),
                                     output.score(host, X, TARGETS, 4)[1])
    for host_node, device_node in zip(host.walk(), device.walk()):
        for name in host_node.param_names:
            numpy.testing.assert_allclose(ops.to_numpy(device_node.get_grad(name)), host_node.get_grad(name),
                                          rtol=1e-4, atol=1e-5)
