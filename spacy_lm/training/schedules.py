"""Schedules, registered as Thinc schedules: KL weights for `sentence_vae` (the β in rec + β·KL)
and ULMFiT's slanted triangular learning rate.

They are generators, as Thinc 8.3's ``@schedules`` are (``constant.v1``, ``warmup_linear.v1``...),
so any Thinc schedule works too (``constant.v1`` with ``rate = 1.0``: no annealing). The
component draws one value per update: step ``0`` is the first update.

* ``spacy_lm.kl_linear.v1``: ``min(1, step / warmup_steps)`` (Bowman et al. 2016).
* ``spacy_lm.kl_logistic.v1``: ``1 / (1 + exp(-k (step - x0)))`` (timbmg/Sentence-VAE's
  default: k = 0.0025, x0 = 2500).
* ``spacy_lm.kl_cyclical.v1``: Fu et al. 2019: ``total_steps`` cut into ``cycles`` cycles; within
  each, β rises linearly from 0 to 1 over the first ``ratio`` of the cycle and stays at 1; after
  ``total_steps``, 1.
"""
import math
from typing import Callable, Iterator

from thinc.api import registry

from ..checks import check_setting


def _by_step(weight: Callable[[int], float]) -> Iterator[float]:
    """``weight(0), weight(1), ...``: settings are checked by the caller before the first value
    is asked for (a generator function would check them only then)."""
    step = 0
    while True:
        yield weight(step)
        step += 1


@registry.schedules("spacy_lm.kl_linear.v1")
def kl_linear(warmup_steps: int = 10000) -> Iterator[float]:
    check_setting(warmup_steps >= 1, "warmup_steps", "an integer >= 1", warmup_steps)
    return _by_step(lambda step: min(1.0, step / warmup_steps))


@registry.schedules("spacy_lm.kl_logistic.v1")
def kl_logistic(k: float = 0.0025, x0: int = 2500) -> Iterator[float]:
    check_setting(k > 0 and math.isfinite(k), "k", "a finite number > 0", k)

    def weight(step: int) -> float:
        exponent = -k * (step - x0)
        return 0.0 if exponent > 700 else 1.0 / (1.0 + math.exp(exponent))  # exp overflows past ~709

    return _by_step(weight)


@registry.schedules("spacy_lm.kl_cyclical.v1")
def kl_cyclical(total_steps: int = 10000, cycles: int = 4, ratio: float = 0.5) -> Iterator[float]:
    check_setting(total_steps >= 1, "total_steps", "an integer >= 1", total_steps)
    check_setting(cycles >= 1, "cycles", "an integer >= 1", cycles)
    check_setting(0.0 < ratio <= 1.0, "ratio", "in (0, 1]", ratio)
    period = total_steps / cycles

    def weight(step: int) -> float:
        if step >= total_steps:
            return 1.0
        return min(1.0, ((step % period) / period) / ratio)

    return _by_step(weight)


@registry.schedules("spacy_lm.slanted_triangular.v1")
def slanted_triangular(max_rate: float, num_steps: int, cut_frac: float = 0.1, ratio: float = 32.0) -> Iterator[float]:
    check_setting(max_rate > 0 and math.isfinite(max_rate), "max_rate", "a finite number > 0", max_rate)
    check_setting(isinstance(num_steps, int) and num_steps >= 1, "num_steps", "an integer >= 1", num_steps)
    check_setting(0.0 < cut_frac < 1.0, "cut_frac", "in (0, 1)", cut_frac)
    check_setting(ratio >= 1 and math.isfinite(ratio), "ratio", "a finite number >= 1", ratio)
    cut = max(1, int(num_steps * cut_frac))
    decay_steps = max(1, num_steps - cut)

    def rate(step: int) -> float:
        p = step / cut if step < cut else max(0.0, 1.0 - (step - cut) / decay_steps)
        return max_rate * (1.0 + p * (ratio - 1.0)) / ratio

    return _by_step(rate)
