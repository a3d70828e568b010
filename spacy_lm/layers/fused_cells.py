"""Fused CUDA kernels for the elementwise part of one LSTM or GRU time step (issue #19).

On a GPU, the generic ``ops.xp`` step of `lstm.py` / `gru.py` launches ~25 small CuPy kernels
per time step; the kernels here do a step's gate activations and state update in one launch
forward and one backward. The recurrent product stays one cuBLAS call per step, in the layers.

Each kernel's pure ``xp`` reference (``*_reference``) is the function of `gates.py` that the
layers' generic path runs, so it computes exactly what that path computes, in the same order;
the generic path stays the fallback and the reference the device tests compare with.

Switch: the layers use the kernels only when :func:`use_fused` says so: ``ENABLED`` is true,
the ops are ``CupyOps`` and the dtype is float32 or float64. ``ENABLED`` defaults to False
until the device tests (``tests/test_fused_cells.py --gpu``) have passed on a GPU; set it here
(``spacy_lm.layers.fused_cells.ENABLED = True``) or with ``SPACY_LM_FUSED_KERNELS=1`` in the
environment before import. NumpyOps (and plain Ops) never take the fused path.

Kernels are ``cupy.ElementwiseKernel`` objects made on first use and cached per
``(kernel, device id, dtype)``; CuPy is imported only then, so this module imports without it.

Layouts (all C-contiguous, ``k`` rows; the wrappers copy inputs that are not):

* LSTM forward: ``G`` ``(k, 4nO)`` pre-activations (input projection + bias + ``h U^T``),
  gate order (i, f, g, o), activated in place; ``c_prev`` ``(k, nO)`` → ``c_new``, ``tanh(c_new)``,
  ``h_new``.
* LSTM backward: ``dh_new``, ``dc_new`` (gradients of the step's outputs, masks applied),
  activated ``G``, ``tanh(c_new)``, ``c_prev`` → ``dG`` ``(k, 4nO)`` (pre-activations) and
  ``dc_prev``.
* GRU forward: ``G`` ``(k, 3nO)`` input projections with bias, gate order (r, z, n), activated in
  place to ``[r, z, n]``; ``HH`` ``(k, 3nO)`` recurrent projections with bias; ``h`` ``(k, nO)``
  → ``h_new`` and ``hn = HH[:, 2nO:]`` (kept for backprop).
* GRU backward: ``dh_new``, activated ``G``, ``h``, ``hn`` → the ``n`` block of ``dA`` (the input
  projections' gradient, ``dA[:, 2nO:]``), ``dHH = [d_ar, d_az, d_an * r]`` and ``dh_new * z``
  (the part of ``dh_prev`` that does not go through ``U``).
"""
import os
from typing import Dict, Optional, Tuple

from thinc.api import CupyOps, Ops
from thinc.util import get_array_module

from . import gates

# What each kernel computes, step for step as the layers' generic path (which calls them too).
lstm_forward_reference = gates.lstm_forward
lstm_backward_reference = gates.lstm_backward
gru_forward_reference = gates.gru_forward
gru_backward_reference = gates.gru_backward

ENABLED = os.environ.get("SPACY_LM_FUSED_KERNELS", "").strip().lower() in ("1", "true", "yes", "on")
DTYPES = ("float32", "float64")


def use_fused(ops: Ops, dtype) -> bool:
    """Whether a layer on ``ops`` with arrays of ``dtype`` takes the fused path."""
    return bool(ENABLED) and isinstance(ops, CupyOps) and str(dtype) in DTYPES


# ---------------------------------------------------------------- kernel sources
# One thread per (row, unit) of a (k, nO) block; ``i`` is CuPy's element index (``n`` and names
# starting with ``_`` are avoided: CuPy's generated loop may use them).
_SIGMOID = "half * tanh(half * ({x})) + half"  # as the generic path: 0.5 * tanh(0.5 x) + 0.5

_LSTM_FORWARD = (
    "raw T c_prev, int64 nO",
    "raw T G, raw T c_new, raw T tc, raw T h_new",
    f"""
    const T half = 0.5;
    const ptrdiff_t base = (i / nO) * 4 * nO + i % nO;
    const T gi = {_SIGMOID.format(x="G[base]")};
    const T gf = {_SIGMOID.format(x="G[base + nO]")};
    const T gg = tanh(G[base + 2 * nO]);
    const T go = {_SIGMOID.format(x="G[base + 3 * nO]")};
    G[base] = gi;
    G[base + nO] = gf;
    G[base + 2 * nO] = gg;
    G[base + 3 * nO] = go;
    const T c = gf * c_prev[i] + gi * gg;
    const T t = tanh(c);
    c_new[i] = c;
    tc[i] = t;
    h_new[i] = go * t;
    """,
)

_LSTM_BACKWARD = (
    "raw T dh, raw T dc, raw T G, raw T tc, raw T c_prev, int64 nO",
    "raw T dG, raw T dc_prev",
    """
    const T one = 1;
    const ptrdiff_t base = (i / nO) * 4 * nO + i % nO;
    const T gi = G[base], gf = G[base + nO], gg = G[base + 2 * nO], go = G[base + 3 * nO];
    const T t = tc[i];
    const T h = dh[i];
    const T d = dc[i] + h * go * (one - t * t);
    dG[base] = d * gg * gi * (one - gi);
    dG[base + nO] = d * c_prev[i] * gf * (one - gf);
    dG[base + 2 * nO] = d * gi * (one - gg * gg);
    dG[base + 3 * nO] = h * t * go * (one - go);
    dc_prev[i] = d * gf;
    """,
)

_GRU_FORWARD = (
    "raw T HH, raw T h, int64 nO",
    "raw T G, raw T h_new, raw T hn",
    f"""
    const T half = 0.5;
    const ptrdiff_t base = (i / nO) * 3 * nO + i % nO;
    const T r = {_SIGMOID.format(x="G[base] + HH[base]")};
    const T z = {_SIGMOID.format(x="G[base + nO] + HH[base + nO]")};
    const T hh_n = HH[base + 2 * nO];
    const T gn = tanh(G[base + 2 * nO] + r * hh_n);
    G[base] = r;
    G[base + nO] = z;
    G[base + 2 * nO] = gn;
    h_new[i] = (h[i] - gn) * z + gn;
    hn[i] = hh_n;
    """,
)

_GRU_BACKWARD = (
    "raw T dh, raw T G, raw T h, raw T hn, int64 nO",
    "raw T dA, raw T dHH, raw T dh_z",
    """
    const T one = 1;
    const ptrdiff_t base = (i / nO) * 3 * nO + i % nO;
    const T r = G[base], z = G[base + nO], gn = G[base + 2 * nO];
    const T d = dh[i];
    const T omz = (one - z) * d;
    const T d_az = (h[i] - gn) * z * omz;
    const T d_an = (one - gn * gn) * omz;
    const T d_ar = d_an * hn[i] * r * (one - r);
    dA[base + 2 * nO] = d_an;
    dHH[base] = d_ar;
    dHH[base + nO] = d_az;
    dHH[base + 2 * nO] = d_an * r;
    dh_z[i] = d * z;
    """,
)

_SOURCES = {"lstm_forward": _LSTM_FORWARD, "lstm_backward": _LSTM_BACKWARD,
            "gru_forward": _GRU_FORWARD, "gru_backward": _GRU_BACKWARD}
_KERNELS: Dict[Tuple[str, int, str], object] = {}


def get_kernel(name: str, dtype):
    """The ElementwiseKernel ``name`` for the current device and ``dtype``, made once."""
    import cupy

    key = (name, cupy.cuda.Device().id, str(dtype))
    kernel = _KERNELS.get(key)
    if kernel is None:
        in_params, out_params, body = _SOURCES[name]
        kernel = cupy.ElementwiseKernel(in_params, out_params, body, name=f"spacy_lm_{name}_{dtype}")
        _KERNELS[key] = kernel
    return kernel


def _on_device(*arrays) -> bool:
    """Whether the kernels can take these arrays: CuPy arrays of one supported dtype."""
    first = arrays[0]
    if type(first).__module__.split(".")[0] != "cupy" or str(first.dtype) not in DTYPES:
        return False
    return all(type(a).__module__.split(".")[0] == "cupy" and a.dtype == first.dtype for a in arrays)


def _launch(name: str, inputs, outputs, nO: int, size: int) -> None:
    """Run kernel ``name`` over ``size`` elements. Inputs are made contiguous; an output that is
    not contiguous is computed in a contiguous buffer and copied back."""
    import cupy

    dtype = outputs[0].dtype
    inputs = [cupy.ascontiguousarray(x) for x in inputs]
    buffers = [o if o.flags.c_contiguous else cupy.ascontiguousarray(o) for o in outputs]
    get_kernel(name, dtype)(*inputs, nO, *buffers, size=size)
    for out, buf in zip(outputs, buffers):
        if buf is not out:
            out[...] = buf


def _empty(xp, like, out=None):
    return xp.empty_like(like) if out is None else out


# ---------------------------------------------------------------- LSTM
def lstm_forward(G, c_prev, tc_out=None):
    """One LSTM step's elementwise part; ``G`` is activated in place. Returns
    ``(G, c_new, tanh(c_new), h_new)`` (``tanh(c_new)`` written into ``tc_out`` when given)."""
    if not _on_device(G, c_prev):
        return lstm_forward_reference(get_array_module(G), G, c_prev, tc_out)
    import cupy

    nO = c_prev.shape[1]
    c_new, h_new, tc = cupy.empty_like(c_prev), cupy.empty_like(c_prev), _empty(cupy, c_prev, tc_out)
    if c_prev.size:
        _launch("lstm_forward", [c_prev], [G, c_new, tc, h_new], nO, c_prev.size)
    return G, c_new, tc, h_new


def lstm_backward(dh_new, dc_new, G, tc, c_prev, dG_out=None):
    """Backward of one LSTM step's elementwise part: ``(dG, dc_prev)``, ``dG`` written into
    ``dG_out`` when given."""
    if not _on_device(dh_new, dc_new, G, tc, c_prev):
        return lstm_backward_reference(get_array_module(G), dh_new, dc_new, G, tc, c_prev, dG_out)
    import cupy

    nO = c_prev.shape[1]
    dG, dc_prev = _empty(cupy, G, dG_out), cupy.empty_like(c_prev)
    if c_prev.size:
        _launch("lstm_backward", [dh_new, dc_new, G, tc, c_prev], [dG, dc_prev], nO, c_prev.size)
    return dG, dc_prev


# ---------------------------------------------------------------- GRU
def gru_forward(G, HH, h, hn_out=None):
    """One GRU step's elementwise part; ``G`` becomes ``[r, z, n]`` in place. Returns
    ``(G, h_new, hn)`` with ``hn = HH[:, 2nO:]`` (written into ``hn_out`` when given)."""
    if not _on_device(G, HH, h):
        return gru_forward_reference(get_array_module(G), G, HH, h, hn_out)
    import cupy

    nO = h.shape[1]
    h_new, hn = cupy.empty_like(h), _empty(cupy, h, hn_out)
    if h.size:
        _launch("gru_forward", [HH, h], [G, h_new, hn], nO, h.size)
    return G, h_new, hn


def gru_backward(dh_new, G, h, hn, dA, dHH_out=None):
    """Backward of one GRU step's elementwise part: writes ``dA[:, 2nO:]``; returns
    ``(dHH, dh_new * z)`` (``dHH`` written into ``dHH_out`` when given)."""
    if not _on_device(dh_new, G, h, hn, dA):
        return gru_backward_reference(get_array_module(G), dh_new, G, h, hn, dA, dHH_out)
    import cupy

    nO = h.shape[1]
    dHH, dh_z = _empty(cupy, G, dHH_out), cupy.empty_like(h)
    if h.size:
        _launch("gru_backward", [dh_new, G, h, hn], [dA, dHH, dh_z], nO, h.size)
    return dHH, dh_z
