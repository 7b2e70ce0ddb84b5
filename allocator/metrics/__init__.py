"""Equity statistics of a per-pupil resource across schools, as plain numpy functions.

Every function takes the values ``x`` (one per school: a per-pupil resource such as m² of floor
area per pupil) and optional ``weights`` (the pupils of each school) and returns a float. Without
weights every school weighs the same. With weights the statistic is the one of the pupils: it equals
the unweighted statistic of the data in which each school is repeated once per pupil (exactly, for
whole-number weights). The official county 差异系数 (coefficient of variation) is pupil-weighted.

Model
-----
School i has value x_i >= 0 and weight p_i >= 0 (pupils); w_i = p_i / sum(p), mu = sum(w_i x_i).

* range = max x - min x (over schools with p_i > 0);
  restricted range = P_high - P_low; federal range ratio = (P95 - P5) / P5, where P_q is the
  pupil-weighted percentile (inverted empirical CDF: the smallest x_i whose cumulative weight
  share is >= q / 100, the definition numpy calls ``"inverted_cdf"``).
* CV = sqrt(sum w_i (x_i - mu)^2) / mu.
* Gini = sum_i sum_j w_i w_j |x_i - x_j| / (2 mu)  (no n / (n - 1) small-sample factor).
* Theil T = sum w_i (x_i / mu) ln(x_i / mu); Theil L = sum w_i ln(mu / x_i).
* Atkinson A_eps = 1 - [sum w_i (x_i / mu)^(1 - eps)]^(1 / (1 - eps)); A_1 = 1 - exp(sum w_i ln x_i) / mu.
* McLoone = sum_{x_i < M} p_i x_i / (M sum_{x_i < M} p_i), Verstegen = the same over x_i > M,
  M the pupil-weighted median (P50 above).
* Theil decomposition over groups g with resource shares s_g = sum_{i in g} p_i x_i / sum p_i x_i,
  pupil shares v_g and group means mu_g: T = sum s_g T_g + sum s_g ln(mu_g / mu) (within + between);
  L = sum v_g L_g + sum v_g ln(mu / mu_g).
* Teacher-allocation R^2: ordinary least squares of teachers on pupils (with intercept) across
  schools; 1 - R^2 is the "degree of randomness" of the allocation.

Undefined cases raise :class:`ValueError` naming the argument and the problem: empty input, NaN or
infinite values, negative resources or weights, weights that sum to zero, a zero mean, and zero
values for Theil T, Theil L and Atkinson with eps >= 1 (no epsilon is ever added silently).
"""

from allocator.metrics.groups import TheilDecomposition, allocation_r2, theil_decomposition
from allocator.metrics.spread import (
    atkinson,
    cv,
    federal_range_ratio,
    gini,
    mcloone,
    percentile,
    percentile_raw,
    restricted_range,
    theil,
    theil_l,
    value_range,
    verstegen,
    weighted_mean,
)

__all__ = [
    "cv",
    "gini",
    "theil",
    "theil_l",
    "atkinson",
    "mcloone",
    "verstegen",
    "value_range",
    "restricted_range",
    "federal_range_ratio",
    "percentile",
    "percentile_raw",
    "weighted_mean",
    "theil_decomposition",
    "TheilDecomposition",
    "allocation_r2",
]
