"""The elementwise maths of one LSTM or GRU time step, forward and backward, written once.

The layers' generic loops (`lstm.py`, `gru.py`) call these for every step, and the fused CUDA
kernels (`fused_cells.py`) are checked against them: a kernel's ``*_reference`` is the function
here, so "the kernel computes what the layer computes" is one claim, not two copies kept in step.
Everything is ``xp`` (numpy or cupy) on ``(k, n_gates * nO)`` blocks of ``k`` rows; the
products with the weights stay in the layers. Pre-activations are overwritten with the
activated gates in place (the layers keep them for backprop), and an ``*_out`` buffer, when
given, receives a result instead of a fresh array: the loops write straight into their
per-row stores, with no extra copy per step.

Sigmoids are ``0.5 * tanh(0.5 x) + 0.5``, on the whole block at once (the kernels do the same).
"""
from typing import Optional, Tuple

from thinc.types import Floats2d


def _sigmoid_(xp, A) -> None:
    """sigmoid(x) = 0.5 * tanh(0.5 x) + 0.5, in place."""
    A *= 0.5
    xp.tanh(A, out=A)
    A *= 0.5
    A += 0.5


def lstm_forward(xp, G: Floats2d, c_prev: Floats2d, tc_out: Optional[Floats2d] = None):
    """One LSTM step: ``G`` ``(k, 4nO)`` holds the pre-activations (input projection, bias and
    ``h U^T``) in PyTorch's gate order (i, f, g, o) and is activated in place. Returns
    ``(G, c_new, tanh(c_new), h_new)``, ``tanh(c_new)`` written into ``tc_out`` when given."""
    nO = c_prev.shape[1]
    # sigmoid on i, f and o, tanh on g: one tanh over the whole block.
    G[:, : 2 * nO] *= 0.5
    G[:, 3 * nO :] *= 0.5
    xp.tanh(G, out=G)
    G[:, : 2 * nO] *= 0.5
    G[:, : 2 * nO] += 0.5
    G[:, 3 * nO :] *= 0.5
    G[:, 3 * nO :] += 0.5
    i, f, g, o = G[:, :nO], G[:, nO : 2 * nO], G[:, 2 * nO : 3 * nO], G[:, 3 * nO :]
    c_new = f * c_prev
    c_new += i * g
    tc = xp.tanh(c_new) if tc_out is None else xp.tanh(c_new, out=tc_out)
    return G, c_new, tc, o * tc


def lstm_backward(xp, dh_new: Floats2d, dc_new: Floats2d, G: Floats2d, tc: Floats2d, c_prev: Floats2d,
                  dG_out: Optional[Floats2d] = None) -> Tuple[Floats2d, Floats2d]:
    """Backward of :func:`lstm_forward` from the gradients of ``h_new`` and ``c_new`` (masks
    applied), the activated ``G`` and ``tanh(c_new)``: ``(dG, dc_prev)``, ``dG`` the gradient of
    the pre-activations (written into ``dG_out`` when given)."""
    nO = c_prev.shape[1]
    i, f, g, o = G[:, :nO], G[:, nO : 2 * nO], G[:, 2 * nO : 3 * nO], G[:, 3 * nO :]
    dc_new = dc_new + dh_new * o * (1 - tc * tc)
    dG = xp.empty_like(G) if dG_out is None else dG_out
    dG[:, :nO] = dc_new * g * i * (1 - i)
    dG[:, nO : 2 * nO] = dc_new * c_prev * f * (1 - f)
    dG[:, 2 * nO : 3 * nO] = dc_new * i * (1 - g * g)
    dG[:, 3 * nO :] = dh_new * tc * o * (1 - o)
    return dG, dc_new * f


def gru_forward(xp, G: Floats2d, HH: Floats2d, h: Floats2d, hn_out: Optional[Floats2d] = None):
    """One GRU step (`torch.nn.GRU`'s gates, order r, z, n): ``G`` ``(k, 3nO)`` holds the input
    projections with bias and becomes ``[r, z, n]`` in place; ``HH`` ``(k, 3nO)`` the recurrent
    projections with bias. Returns ``(G, h_new, hn)`` with ``hn = HH[:, 2nO:]`` (what backprop
    needs of ``HH``; copied into ``hn_out`` when given, else a view)."""
    nO = h.shape[1]
    rz = G[:, : 2 * nO]
    rz += HH[:, : 2 * nO]
    _sigmoid_(xp, rz)
    n = G[:, 2 * nO :]
    n += G[:, :nO] * HH[:, 2 * nO :]
    xp.tanh(n, out=n)
    h_new = h - n
    h_new *= G[:, nO : 2 * nO]  # h' = (1 - z) n + z h = (h - n) z + n
    h_new += n
    hn = HH[:, 2 * nO :]
    if hn_out is not None:
        hn_out[...] = hn
        hn = hn_out
    return G, h_new, hn


def gru_backward(xp, dh_new: Floats2d, G: Floats2d, h: Floats2d, hn: Floats2d, dA: Floats2d,
                 dHH_out: Optional[Floats2d] = None) -> Tuple[Floats2d, Floats2d]:
    """Backward of :func:`gru_forward` from the gradient ``dh_new`` of ``h_new``, the activated
    ``G = [r, z, n]``, the previous state ``h`` and ``hn``. Writes the ``n`` block of the input
    projections' gradient, ``dA[:, 2nO:]`` (their ``r`` and ``z`` blocks equal ``dHH``'s); returns
    ``(dHH, dh_new * z)``: ``dHH = [d_ar, d_az, d_an * r]`` (into ``dHH_out`` when given) and the
    part of ``dh_prev`` that does not go through ``U``."""
    nO = h.shape[1]
    r, z, n = G[:, :nO], G[:, nO : 2 * nO], G[:, 2 * nO :]
    dHH = xp.empty_like(G) if dHH_out is None else dHH_out
    d_an = dA[:, 2 * nO :]
    d_ar, d_az = dHH[:, :nO], dHH[:, nO : 2 * nO]
    buffer = xp.subtract(1, z)
    buffer *= dh_new  # dh' * (1 - z)
    # dz = dh' * (h - n), through the sigmoid: * z * (1 - z)
    xp.subtract(h, n, out=d_az)
    d_az *= z
    d_az *= buffer
    # dn = dh' * (1 - z), through the tanh: * (1 - n^2)
    xp.multiply(n, n, out=d_an)
    xp.subtract(1, d_an, out=d_an)
    d_an *= buffer
    # dr = d_an * hn, through the sigmoid: * r * (1 - r)
    xp.multiply(d_an, hn, out=d_ar)
    d_ar *= r
    xp.subtract(1, r, out=buffer)
    d_ar *= buffer
    xp.multiply(d_an, r, out=dHH[:, 2 * nO :])
    return dHH, xp.multiply(dh_new, z, out=buffer)
