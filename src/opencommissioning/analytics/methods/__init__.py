"""Statistical methods for health-service indicators.

Pure Python on NumPy and SciPy (never Django): confidence intervals for
proportions, rates, means and standardised rates/ratios; inequality measures;
funnel plots; SPC (XmR) charts; risk-adjusted CUSUM and VLAD; disclosure control.

Every function is vectorised over NumPy arrays and returns a small frozen
dataclass whose arrays are read-only. Scalar inputs give 0-d arrays
(``float(result.value)`` gives a Python float). See ``README.md`` alongside this
file for each method's source and edge cases.
"""

from ._common import Interval
from .cusum import CusumResult, VladResult, ra_cusum, vlad
from .disclosure import DisclosureResult, disclosure_control
from .funnels import (
    FunnelFlag,
    FunnelLimits,
    FunnelSignificance,
    funnel_limits,
    funnel_significance,
)
from .inequality import QuantileResult, SiiResult, quantiles, sii
from .means import MeanResult, mean
from .proportions import ProportionResult, proportion
from .rates import RateResult, rate
from .spc import XmrResult, xmr
from .standardisation import ESP2013, ESP2013_BANDS, DsrResult, IsrResult, dsr, isr

__all__ = [
    "ESP2013",
    "ESP2013_BANDS",
    "CusumResult",
    "DisclosureResult",
    "DsrResult",
    "FunnelFlag",
    "FunnelLimits",
    "FunnelSignificance",
    "Interval",
    "IsrResult",
    "MeanResult",
    "ProportionResult",
    "QuantileResult",
    "RateResult",
    "SiiResult",
    "VladResult",
    "XmrResult",
    "disclosure_control",
    "dsr",
    "funnel_limits",
    "funnel_significance",
    "isr",
    "mean",
    "proportion",
    "quantiles",
    "ra_cusum",
    "rate",
    "sii",
    "vlad",
    "xmr",
]
