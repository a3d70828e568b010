"""`spacy_lm.TokenEmbedding.v1`: a lookup table over token ids with a sparse gradient.

``grow`` appends rows for new ids (ULMFiT's vocabulary growth); ``grow_rows`` and
``resize_dim`` are the two steps every vocabulary-sized layer takes to grow (the output layers
use them too)."""
from typing import Callable, Optional, Tuple

from thinc.api import Model, registry
from thinc.types import Floats2d, IntsXd

from ..checks import check_count

NAME = "spacy_lm.TokenEmbedding.v1"


@registry.layers("spacy_lm.TokenEmbedding.v1")
def TokenEmbedding(nO: Optional[int] = None, nV: Optional[int] = None, init_scale: float = 0.1) -> Model:
    """Rows of ``E`` (nV, nO) for an int array of any shape; the output gains a last axis."""
    check_count(f"{NAME} nO (embedding width)", nO, 1, optional=True)
    check_count(f"{NAME} nV (vocabulary size)", nV, 1, optional=True)
    return Model(
        "token_embedding",
        forward,
        init=init,
        dims={"nO": nO, "nV": nV},
        params={"E": None},
        attrs={"init_scale": init_scale},
    )


def init(model: Model, X=None, Y=None) -> None:
    scale = model.attrs["init_scale"]
    shape = (model.get_dim("nV"), model.get_dim("nO"))
    check_count(f"{NAME} nV (vocabulary size)", shape[0], 1)
    check_count(f"{NAME} nO (embedding width)", shape[1], 1)
    values = model.ops.xp.random.uniform(-scale, scale, shape).astype("float32")
    model.set_param("E", model.ops.asarray(values))


def forward(model: Model, ids: IntsXd, is_train: bool) -> Tuple[Floats2d, Callable]:
    E = model.get_param("E")
    flat = model.ops.xp.ascontiguousarray(ids.reshape(-1), dtype="int32")
    out_shape = tuple(ids.shape) + (E.shape[1],)
    vectors = E[flat]

    def backprop(d_vectors):
        dE = model.ops.alloc2f(*E.shape, dtype=E.dtype)
        d2 = model.ops.xp.ascontiguousarray(d_vectors.reshape(-1, E.shape[1]), dtype=E.dtype)
        model.ops.scatter_add(dE, flat, d2)
        model.inc_grad("E", dE)
        return None

    return vectors.reshape(out_shape), backprop


# ---------------------------------------------------------------- vocabulary growth
def grow(model: Model, nV: int) -> None:
    """``nV`` rows, the rows added (ids from the old ``nV`` on) the mean of the old ones, as
    fastai's ``convert_weights`` initialises the words new to a pre-trained LM."""
    grow_rows(model, "E", nV)
    resize_dim(model, "nV", nV)


def grow_rows(model: Model, name: str, size: int) -> None:
    """Param ``name`` grown to ``size`` rows (its first axis), each new row the mean of the old
    rows; a gradient already accumulated is padded with zero rows. Through ``model.ops`` only."""
    xp = model.ops.xp
    old = model.get_param(name)
    n_new = size - old.shape[0]
    if n_new <= 0:
        return
    mean = old.mean(axis=0, keepdims=True).astype(old.dtype)
    model.set_param(name, xp.ascontiguousarray(xp.concatenate((old, xp.repeat(mean, n_new, axis=0)))))
    if model.has_grad(name):
        grad = model.get_grad(name)
        pad = xp.zeros((n_new,) + tuple(grad.shape[1:]), dtype=grad.dtype)
        model.set_grad(name, xp.ascontiguousarray(xp.concatenate((grad, pad))))


def resize_dim(model: Model, name: str, value: int) -> None:
    """Set a dim of a model whose params already exist (Thinc's ``set_dim`` refuses to change
    one then, even with ``force``): the caller has just resized the params to match."""
    if name not in model.dim_names:
        raise KeyError(f"Cannot set unknown dimension '{name}' for model '{model.name}'.")
    model._dims[name] = value
