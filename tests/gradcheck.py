"""Finite-difference gradient checks for Thinc layers (float64 throughout)."""
from typing import Callable

import numpy


def to_float64(model) -> None:
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                node.set_param(name, node.ops.asarray(node.get_param(name), dtype="float64"))


def numeric_grad(f: Callable[[], float], array, eps: float = 1e-6):
    """Central differences of the scalar ``f()`` with respect to every entry of ``array``."""
    grad = numpy.zeros(array.shape, dtype="float64")
    flat = array.reshape(-1)
    for idx in range(flat.size):
        old = flat[idx]
        flat[idx] = old + eps
        up = f()
        flat[idx] = old - eps
        down = f()
        flat[idx] = old
        grad.reshape(-1)[idx] = (up - down) / (2 * eps)
    return grad


def assert_grads_close(analytic, numeric, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    analytic = numpy.asarray(analytic, dtype="float64")
    numpy.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


def assert_param_grads_match(model, objective: Callable[..., float]) -> int:
    """Run ``objective(backward=True)`` once, then compare every parameter gradient it left with
    central differences of ``objective()``; returns how many parameters were checked."""
    objective(backward=True)
    checked = 0
    for node in model.walk():
        for name in node.param_names:
            if not node.has_grad(name):
                continue
            analytic = numpy.array(node.get_grad(name))
            numeric = numeric_grad(objective, node.get_param(name))
            numpy.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6, err_msg=f"{node.name}.{name}")
            checked += 1
    return checked
