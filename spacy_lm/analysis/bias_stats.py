"""The statistics of bias probes and slices: crossed bootstrap of group means, group contrasts,
intervals, and one seeded generator per comparison.

Scores form a matrix per group (templates x terms). A comparison is the difference of the group
means: A vs B for two groups; for more groups, each group against the median of the other groups'
means (one row per group, which says *which* group differs; all pairs would be k(k-1)/2 rows for
the same information; the median, not the mean, so that one outlying group does not drag every
other group's contrast with it and get them all flagged). Its interval is a percentile bootstrap
that resamples templates and terms both (a crossed, two-way bootstrap): templates and terms are
both samples from larger populations, and resampling only one of them would call a single odd name
or sentence a group effect. The same template draw serves every group of a replicate; in a
*paired* file the pairs are drawn together, so the interval is that of the per-pair differences.
A set contrast draws the terms once for both sets (the same names) and the templates within each
set. Each comparison draws from its own generator, seeded by ``seed`` and its names, so its result
does not depend on what else was probed; same seed, same report.
"""
import math
import zlib
from statistics import NormalDist
from typing import List, Optional, Sequence, Tuple

import numpy

from ..errors import Errors

MIN_SAMPLES = 100


def check_settings(samples: int, confidence: float, min_effect: Optional[float] = None) -> None:
    """E009 for too few bootstrap samples, a confidence outside (0, 1) or a negative minimum effect."""
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < MIN_SAMPLES:
        raise ValueError(Errors.E009.format(setting="samples", requirement=f"an integer >= {MIN_SAMPLES}",
                                            value=samples))
    if not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise ValueError(Errors.E009.format(setting="confidence", requirement="a number in (0, 1)", value=confidence))
    if min_effect is not None and not (isinstance(min_effect, (int, float)) and 0.0 <= min_effect < math.inf):
        raise ValueError(Errors.E009.format(setting="min_effect", requirement="a number >= 0", value=min_effect))


def bootstrap_group_means(matrices: Sequence[numpy.ndarray], *, paired: bool, samples: int,
                          rng: numpy.random.Generator) -> numpy.ndarray:
    """Crossed bootstrap of group means: ``matrices[g]`` is (templates, terms of g, scores); returns
    (samples, groups, scores). Templates are drawn once per replicate for all groups; terms per group,
    or (paired) one draw of pair indices for all groups."""
    template_w = bootstrap_draws(matrices[0].shape[0], samples, rng)
    return _weighted_means(matrices, template_w, _term_draws(matrices, paired, samples, rng))


def bootstrap_set_difference(first: Sequence[numpy.ndarray], second: Sequence[numpy.ndarray], *, paired: bool,
                             samples: int, rng: numpy.random.Generator) -> numpy.ndarray:
    """(samples, groups, scores): each group's mean over the first template set minus over the
    second. The terms are drawn once for both sets (they are the same terms), the templates of
    each set on their own."""
    first_w = bootstrap_draws(first[0].shape[0], samples, rng)
    second_w = bootstrap_draws(second[0].shape[0], samples, rng)
    term_w = _term_draws(first, paired, samples, rng)
    return _weighted_means(first, first_w, term_w) - _weighted_means(second, second_w, term_w)


def bootstrap_draws(n: int, samples: int, rng: numpy.random.Generator) -> numpy.ndarray:
    """(samples, n) bootstrap counts: how often each of n items is drawn in each replicate."""
    return rng.multinomial(n, numpy.full(n, 1.0 / n), size=samples)


def _term_draws(matrices: Sequence[numpy.ndarray], paired: bool, samples: int,
                rng: numpy.random.Generator) -> List[numpy.ndarray]:
    """Per group, the bootstrap counts of its terms (paired: one draw shared by all groups)."""
    draws: List[numpy.ndarray] = []
    for matrix in matrices:
        draws.append(draws[0] if paired and draws else bootstrap_draws(matrix.shape[1], samples, rng))
    return draws


def _weighted_means(matrices: Sequence[numpy.ndarray], template_w: numpy.ndarray,
                    term_w: Sequence[numpy.ndarray]) -> numpy.ndarray:
    n_templates = matrices[0].shape[0]
    return numpy.stack([numpy.einsum("bt,tjs,bj->bs", template_w, matrix, w) / (n_templates * matrix.shape[1])
                        for matrix, w in zip(matrices, term_w)], axis=1)


def contrasts(group_means: numpy.ndarray) -> List[Tuple[int, Optional[int], numpy.ndarray]]:
    """(group, other group or None for "the rest", difference) along the groups axis (-2): A - B for
    two groups, else each group minus the median of the other groups' means."""
    k = group_means.shape[-2]
    if k == 2:
        return [(0, 1, group_means[..., 0, :] - group_means[..., 1, :])]
    rows = []
    for g in range(k):
        others = numpy.delete(group_means, g, axis=-2)
        rows.append((g, None, group_means[..., g, :] - numpy.median(others, axis=-2)))
    return rows


def percentile_interval(values: numpy.ndarray, confidence: float) -> Tuple[float, float]:
    """The central ``confidence`` interval of bootstrap replicates (along axis 0)."""
    tail = (1.0 - confidence) / 2.0
    low, high = numpy.quantile(values, [tail, 1.0 - tail], axis=0)
    return low, high


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> Tuple[Optional[float], Optional[float]]:
    """Wilson score interval of a proportion k/n (None, None for n = 0)."""
    if n == 0:
        return None, None
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def category_rng(seed: int, *names: str) -> numpy.random.Generator:
    """A generator for one comparison, so its draws do not depend on what else is probed."""
    return numpy.random.default_rng([seed, *(zlib.crc32(name.encode("utf-8")) for name in names)])
