"""Optimisation helpers that Thinc's optimizers do not offer.

Thinc's ``grad_clip`` clips each parameter array on its own; PyTorch's
``clip_grad_norm_`` (and the recipes behind published LSTM-LM numbers) clip the norm of
all gradients together. These functions apply the latter to any Thinc model.
"""
from typing import Iterator, Tuple

from thinc.api import Model


def _grads(model: Model) -> Iterator[Tuple[Model, str]]:
    seen = set()
    for node in model.walk():
        for name in node.grad_names:
            key = (node.id, name)
            if key not in seen:
                seen.add(key)
                yield node, name


def global_grad_norm(model: Model) -> float:
    xp = model.ops.xp
    total = 0.0
    for node, name in _grads(model):
        g = node.get_grad(name)
        total += float(xp.vdot(g.ravel(), g.ravel()))
    return total**0.5


def clip_global_grad_norm(model: Model, max_norm: float) -> float:
    """Scale every gradient so their joint L2 norm is at most ``max_norm``; returns the norm before."""
    norm = global_grad_norm(model)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for node, name in _grads(model):
            node.get_grad(name)[...] *= scale
    return norm


def sgd_step(model: Model, learn_rate: float) -> None:
    """Plain SGD over every parameter that has a gradient, then clear the gradients."""
    for node, name in list(_grads(model)):
        grad = node.get_grad(name)
        param = node.get_param(name)
        param -= learn_rate * grad
        grad.fill(0)
