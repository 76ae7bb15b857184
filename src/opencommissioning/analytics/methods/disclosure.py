"""Statistical disclosure control for published counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._common import BoolArray, FloatArray, as_float, frozen, frozen_bool, require_non_negative


@dataclass(frozen=True, eq=False)
class DisclosureResult:
    """Counts after disclosure control.

    ``value`` is the publishable figure (float; NaN where suppressed or missing);
    ``suppressed`` marks the masked cells; ``missing`` marks NaN inputs.
    ``lower``/``upper`` bound the true count given what is published, assuming
    integer counts: 0 for a published 0, ``1..threshold`` for a suppressed cell and
    the rounding interval (never below ``threshold + 1``) for a rounded one.
    """

    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    suppressed: BoolArray
    missing: BoolArray
    suppress_at_or_below: float
    round_to: float

    def display(self, suppressed: str = "*", missing: str = "") -> list[str]:
        """Strings for publication, flattened in C order: ``"*"`` for suppressed
        cells, ``""`` for missing ones, otherwise the rounded count with thousands
        separators (``"1,234"``)."""
        out: list[str] = []
        for v, s, m in zip(
            self.value.ravel(), self.suppressed.ravel(), self.missing.ravel(), strict=True
        ):
            if s:
                out.append(suppressed)
            elif m:
                out.append(missing)
            elif float(v).is_integer():
                out.append(f"{int(v):,}")
            else:
                out.append(f"{float(v):,}")
        return out


def disclosure_control(
    counts: ArrayLike,
    suppress_at_or_below: float = 7,
    round_to: float = 5,
) -> DisclosureResult:
    """Suppress small counts and round the rest, as every published figure must.

    Rules (NHS England / NHS Digital small-number convention for health data):

    * ``0`` is published as ``0`` - a true zero reveals nothing about an individual
      (this is the NHS Digital convention: suppress 1-7, show 0). It is never
      rounded or suppressed.
    * Counts with ``0 < count <= suppress_at_or_below`` (1-7 by default) are
      suppressed: NaN in ``value`` and True in ``suppressed``.
    * Every other count is rounded to the nearest ``round_to`` (5 by default),
      halves rounding up (so with the defaults 8 -> 10, 12 -> 10, 13 -> 15); with the
      defaults no published figure is ever between 1 and 7. A non-zero count that
      would round to 0 (only possible when ``round_to > 2 * suppress_at_or_below``)
      is published as ``round_to`` so that 0 always means a true zero.
    * NaN (missing) counts stay NaN with ``missing`` True and ``suppressed`` False.

    Only primary suppression is applied: where a suppressed cell could be
    recovered by subtraction from published totals, secondary suppression is still
    needed. Negative counts raise ``ValueError``; ``round_to=1`` disables rounding.
    """
    x = as_float(counts)
    require_non_negative(x, "counts")
    t = float(suppress_at_or_below)
    r = float(round_to)
    if not r > 0:
        raise ValueError("round_to must be positive")
    if t < 0:
        raise ValueError("suppress_at_or_below must be >= 0")
    missing = np.isnan(x)
    suppressed = (x > 0) & (x <= t)
    rounded = as_float(np.floor(x / r + 0.5) * r)
    # never let a non-zero count be published as a (true-looking) zero
    rounded = as_float(np.where((x > 0) & (rounded == 0), r, rounded))
    value = as_float(np.where(suppressed, np.nan, np.where(x == 0, 0.0, rounded)))

    floor_t = np.floor(t)
    lo_round = np.maximum(np.ceil(rounded - r / 2.0), floor_t + 1.0)
    hi_round = np.ceil(rounded + r / 2.0) - 1.0
    lower = np.where(x == 0, 0.0, np.where(suppressed, min(1.0, floor_t), lo_round))
    upper = np.where(x == 0, 0.0, np.where(suppressed, floor_t, np.maximum(hi_round, lo_round)))
    lower = np.where(missing, np.nan, lower)
    upper = np.where(missing, np.nan, upper)
    return DisclosureResult(
        value=frozen(value),
        lower=frozen(lower),
        upper=frozen(upper),
        suppressed=frozen_bool(suppressed),
        missing=frozen_bool(missing),
        suppress_at_or_below=t,
        round_to=r,
    )
