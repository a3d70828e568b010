"""ULMFiT's discriminative learning rates and gradual unfreezing (Howard & Ruder 2018), as a
Thinc optimizer: ``spacy_lm.DiscriminativeAdam.v1`` in ``[training.optimizer]``.

Layers are put in groups: group 0 holds the layers nearest the output, higher groups are deeper
(closer to the input). Group ``g`` trains with the learning rate ``learn_rate / lr_decay ** g``
(ULMFiT: 2.6), so a pretrained encoder moves less than a fresh classifier head, and stays frozen
until the optimizer has taken ``g * unfreeze_steps`` steps, so the head is fitted before the
layers under it start to move (ULMFiT unfreezes one layer group per epoch).

Why a module-level map: Thinc's ``Model.finish_update`` calls ``optimizer((node.id, name), param,
grad)``, so the optimizer sees only the key, never the node, and cannot read ``node.attrs``.
``set_layer_group`` therefore records each node's group by its id (Thinc node ids are unique in
a process and never reused) and also in ``node.attrs["lr_group"]``, where it can be inspected.
Consequences:

* Tag the model in its final form: ``Model.copy`` and a model loaded with ``from_bytes`` /
  ``from_disk`` into new nodes keep ``attrs["lr_group"]`` but have new ids, so tag them again (the
  saved attr makes no group); tag after ``nlp.initialize`` when adding labels rebuilds an output
  layer. Ungrouped nodes are in group 0.
* Parameters of wrapped PyTorch / TensorFlow models reach the optimizer under the shim's id, not
  a node's, so they cannot be grouped (``set_layer_group`` refuses a group > 0 for them).
* The optimizer keeps no state that is saved with the pipeline (spaCy does not save optimizers);
  the model's bytes hold only the small ``lr_group`` attr.

The steps are counted by calls to ``step_schedules()``, which spaCy's training loop makes once
after each update (``nlp.update`` alone does not: call it yourself when training by hand).
"""
from typing import Dict, Optional, Tuple

from thinc.api import Model, Optimizer, registry
from thinc.optimizers import ADAM_DEFAULTS, FloatOrSeq
from thinc.types import FloatsXd

from ..checks import check_count, check_setting, is_number
from ..errors import Errors

LR_GROUP_ATTR = "lr_group"
_OPTIMIZER = "spacy_lm.DiscriminativeAdam.v1"  # names its settings in errors
# The groups this package's architectures use, the same in every model so a classifier and the
# language model under it (through a listener) fit together: the classifier's head (pooling,
# normalisation, output, a wide-and-deep linear part), the classifier's own recurrent encoder,
# a language model's recurrent stack (and its softmax), and embeddings.
HEAD_GROUP, ENCODER_GROUP, LM_GROUP, EMBEDDING_GROUP = 0, 1, 2, 3

# node.id -> group; a few bytes per tagged node, kept for the process (nodes are not weakly
# referenceable, and an id is never reused, so a stale entry is harmless).
_GROUPS: Dict[int, int] = {}


def set_layer_group(model: Model, group: int) -> None:
    """Put every node of ``model.walk()`` in layer group ``group`` (0: nearest the output). Tag
    the whole model first, then its deeper parts with higher groups: a later call overrides."""
    check_count("group", group, 0, why=" (0: the layers nearest the output)", where="set_layer_group", code="E168")
    nodes = list(model.walk())
    wrapping = [node for node in nodes if node.shims] if group > 0 else []
    if wrapping:  # checked first: an error leaves no node half-tagged
        node = wrapping[0]
        raise ValueError(Errors.E171.format(node=node.name, shim=type(node.shims[0]).__name__, group=group))
    for node in nodes:
        _GROUPS[node.id] = group
        node.attrs[LR_GROUP_ATTR] = group


def layer_group(node_id: int) -> Optional[int]:
    """The group of the node with this id, or None if it was never tagged."""
    return _GROUPS.get(node_id)


def _check_lr_decay(lr_decay: float) -> float:
    check_setting(is_number(lr_decay) and lr_decay > 0, "lr_decay",
                  "a finite number > 0 (ULMFiT: 2.6; 1.0: one learning rate for all groups)", lr_decay,
                  where=_OPTIMIZER, code="E169")
    return float(lr_decay)


def _check_unfreeze_steps(unfreeze_steps: int) -> int:
    check_count("unfreeze_steps", unfreeze_steps, 0, why=" (0: every group trains from the first step)",
                where=_OPTIMIZER, code="E170")
    return unfreeze_steps


class DiscriminativeOptimizer(Optimizer):
    """Thinc's Adam (or SGD, with beta1 = beta2 = 0) with a learning rate per layer group and
    gradual unfreezing. While a group is frozen its weights come back unchanged and its gradient
    zeroed; it gets no Adam moments, averages or update count, so it starts fresh when it thaws.
    (No RAdam: Thinc's RAdam ignores ``lr_scale``.)"""

    __slots__ = ["lr_decay", "unfreeze_steps", "steps"]

    def __init__(
        self,
        learn_rate: FloatOrSeq,
        *,
        lr_decay: float = 2.6,
        unfreeze_steps: int = 0,
        L2: FloatOrSeq = ADAM_DEFAULTS["L2"],
        beta1: FloatOrSeq = ADAM_DEFAULTS["beta1"],
        beta2: FloatOrSeq = ADAM_DEFAULTS["beta2"],
        eps: FloatOrSeq = ADAM_DEFAULTS["eps"],
        grad_clip: FloatOrSeq = ADAM_DEFAULTS["grad_clip"],
        L2_is_weight_decay: bool = True,
        use_averages: bool = True,
    ):
        # Checked before Optimizer.__init__ draws the first value of each schedule.
        lr_decay = _check_lr_decay(lr_decay)
        unfreeze_steps = _check_unfreeze_steps(unfreeze_steps)
        super().__init__(learn_rate, L2=L2, beta1=beta1, beta2=beta2, eps=eps, grad_clip=grad_clip,
                         L2_is_weight_decay=L2_is_weight_decay, use_averages=use_averages, use_radam=False)
        self.lr_decay = lr_decay
        self.unfreeze_steps = unfreeze_steps
        self.steps = 0

    def step_schedules(self) -> None:
        super().step_schedules()
        self.steps += 1

    def is_frozen(self, group: int) -> bool:
        return self.steps < group * self.unfreeze_steps

    def group_lr_scale(self, group: int) -> float:
        return 1.0 / self.lr_decay**group

    def __call__(
        self,
        key: Tuple[int, str],
        weights: FloatsXd,
        gradient: FloatsXd,
        *,
        lr_scale: float = 1.0,
    ):
        group = layer_group(key[0]) or 0
        if self.is_frozen(group):
            gradient *= 0  # in place, as Thinc's optimizer clears it: no gradient piles up
            return weights, gradient
        return super().__call__(key, weights, gradient, lr_scale=lr_scale * self.group_lr_scale(group))


@registry.optimizers("spacy_lm.DiscriminativeAdam.v1")
def DiscriminativeAdam(
    learn_rate: FloatOrSeq = ADAM_DEFAULTS["learn_rate"],
    *,
    L2: FloatOrSeq = ADAM_DEFAULTS["L2"],
    beta1: FloatOrSeq = ADAM_DEFAULTS["beta1"],
    beta2: FloatOrSeq = ADAM_DEFAULTS["beta2"],
    eps: FloatOrSeq = ADAM_DEFAULTS["eps"],
    grad_clip: FloatOrSeq = ADAM_DEFAULTS["grad_clip"],
    L2_is_weight_decay: bool = True,
    use_averages: bool = True,
    lr_decay: float = 2.6,
    unfreeze_steps: int = 0,
) -> DiscriminativeOptimizer:
    """Thinc's ``Adam.v1`` with ULMFiT's ``lr_decay`` (group g: learn_rate / lr_decay ** g) and
    ``unfreeze_steps`` (group g is frozen for the first g * unfreeze_steps steps; 0: none is).
    ``learn_rate`` may be a schedule, e.g. ``spacy_lm.slanted_triangular.v1`` (ULMFiT's STLR)."""
    return DiscriminativeOptimizer(
        learn_rate, lr_decay=lr_decay, unfreeze_steps=unfreeze_steps, L2=L2, beta1=beta1, beta2=beta2,
        eps=eps, grad_clip=grad_clip, L2_is_weight_decay=L2_is_weight_decay, use_averages=use_averages,
    )
