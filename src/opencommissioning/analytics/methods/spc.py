"""Statistical process control: the NHS England "Making Data Count" XmR chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from ._common import (
    BoolArray,
    FloatArray,
    IntArray,
    StrArray,
    as_float,
    frozen,
    frozen_any,
    frozen_bool,
)

Improvement = Literal["increase", "decrease", "neither"]

#: XmR constants: process limits at mean ± 2.66 x mean moving range (3 sigma, with
#: sigma = MR-bar / 1.128); moving ranges above 3.267 x MR-bar (the upper range
#: limit) are screened out when ``screen_outliers`` is on.
LIMIT = 2.66
CLOSE = 2.0 * LIMIT / 3.0
SCREEN = 3.267

#: NHSRplotthedots warns when a chart (segment) has fewer points than this.
MIN_POINTS = 12

COMMON_CAUSE = "common_cause"
SPECIAL_CAUSE_IMPROVEMENT = "special_cause_improvement"
SPECIAL_CAUSE_CONCERN = "special_cause_concern"
SPECIAL_CAUSE_NEUTRAL_HIGH = "special_cause_neutral_high"
SPECIAL_CAUSE_NEUTRAL_LOW = "special_cause_neutral_low"

CONSISTENT_PASS = "consistent_pass"  # noqa: S105 (not a password)
CONSISTENT_FAIL = "consistent_fail"
INCONSISTENT = "inconsistent"  # "hit and miss"


@dataclass(frozen=True, eq=False)
class XmrResult:
    """Per-point XmR chart results (all arrays have one entry per point).

    ``value`` are the data; ``mean``, ``lower`` and ``upper`` the centre line and
    process limits; ``lower_2sigma``/``upper_2sigma`` the "close to limits" lines
    (mean ± 2/3 of the distance to the limits); ``moving_range`` the raw moving
    ranges (NaN at the first point of each segment and beyond a fixed baseline);
    ``mean_moving_range`` the screened MR-bar used for the limits; ``segment`` the
    rebase period index of each point.

    ``special_cause_type`` is NHSRplotthedots' label (``"Above UCL"``,
    ``"7 Point Trend (Increasing)"``, ``"2 in 3 Below CL"``, ``"7 Points Above CL"``,
    ``"Common Cause"``); ``point_type`` is one of ``common_cause``,
    ``special_cause_improvement``, ``special_cause_concern``,
    ``special_cause_neutral_high`` and ``special_cause_neutral_low``.

    ``variation`` is the last point's ``point_type`` (the variation icon);
    ``variation_icon`` the Making Data Count icon name (``common_cause``,
    ``improvement_high``/``_low``, ``concern_high``/``_low``,
    ``neutral_high``/``_low``); ``assurance`` is ``consistent_pass``,
    ``consistent_fail`` or ``inconsistent`` (hit and miss) for the last segment
    against ``target``, or None (no target, or improvement ``"neither"``).
    """

    value: FloatArray
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    lower_2sigma: FloatArray
    upper_2sigma: FloatArray
    moving_range: FloatArray
    mean_moving_range: FloatArray
    segment: IntArray
    outside_limits: BoolArray
    close_to_limits: BoolArray
    relative_to_mean: FloatArray
    special_cause: BoolArray
    special_cause_type: StrArray
    point_type: StrArray
    variation: str
    variation_icon: str
    assurance: str | None
    target: float | None
    improvement: str
    short_segment: BoolArray


def _seven_point_trend(y: FloatArray, length: int) -> FloatArray:
    """+1/-1 at the last point of a strictly rising/falling run of ``length`` points."""
    out = np.zeros(y.size)
    if y.size < length:
        return out
    d = np.sign(np.diff(y))
    win = sliding_window_view(d, length - 1)  # diffs y[i-L+1..i]
    out[length - 1 :] = np.where(
        np.all(win == 1, axis=1), 1.0, np.where(np.all(win == -1, axis=1), -1.0, 0.0)
    )
    return out


def _one_side_run(rtm: FloatArray, length: int) -> FloatArray:
    """Non-zero at the last point of ``length`` consecutive points on the same side."""
    out = np.zeros(rtm.size)
    if rtm.size < length:
        return out
    win = sliding_window_view(rtm, length)
    same = np.all(win == win[:, -1:], axis=1) & (win[:, -1] != 0)
    out[length - 1 :] = np.where(same, win[:, -1], 0.0)
    return out


def _part_of(flags: FloatArray, length: int) -> BoolArray:
    """True where this point or one of the next ``length - 1`` ends a run."""
    padded = np.concatenate([np.abs(flags) == 1, np.zeros(length - 1, dtype=bool)])
    return np.asarray(np.any(sliding_window_view(padded, length), axis=1), dtype=bool)


def _two_in_three(close: BoolArray, rtm: FloatArray) -> BoolArray:
    """Points close to the limits that belong to a window of three consecutive points,
    all on the same side of the mean, with at least two close to the limits."""
    n = close.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    cp = np.concatenate([[0.0, 0.0], close.astype(np.float64), [0.0, 0.0]])
    rp = np.concatenate([[0.0, 0.0], rtm, [0.0, 0.0]])
    wc = sliding_window_view(cp, 3).sum(axis=1)  # window starting at padded j
    wr = np.abs(sliding_window_view(rp, 3).sum(axis=1))
    ok = (wc >= 2) & (wr == 3)  # length n + 2
    in_window = ok[0:n] | ok[1 : n + 1] | ok[2 : n + 2]
    return np.asarray(in_window & close, dtype=bool)


def _special_cause_types(
    y: FloatArray,
    rtm: FloatArray,
    close: BoolArray,
    outside: BoolArray,
    trend_length: int,
    shift_length: int,
) -> tuple[StrArray, FloatArray]:
    """NHSRplotthedots' label for each point, and its direction (+1 up, -1 down, 0)."""
    trend = _part_of(_seven_point_trend(y, trend_length), trend_length)
    two3 = _two_in_three(close, rtm)
    shift = _part_of(_one_side_run(rtm, shift_length), shift_length)
    n = y.size
    sdy = np.sign(np.diff(y)) if n > 1 else np.zeros(0)
    left = np.concatenate([[0.0], sdy])
    right = np.concatenate([sdy, sdy[-1:]]) if n > 1 else np.zeros(n)
    next_trend = np.concatenate([trend[1:], [False]])
    direction = np.where(trend & next_trend, right, left)
    side = np.where(rtm > 0, "Above", "Below")

    out = np.full(n, "Common Cause", dtype="<U40")
    out[shift] = np.char.add(np.char.add(f"{shift_length} Points ", side[shift]), " CL")
    out[two3] = np.char.add(np.char.add("2 in 3 ", side[two3]), " CL")
    trend_label = np.where(direction == 1, "In", "De")
    out[trend] = np.char.add(
        np.char.add(f"{trend_length} Point Trend (", trend_label[trend]), "creasing)"
    )
    out[outside] = np.where(rtm[outside] == 1, "Above UCL", "Below LCL")
    way = np.zeros(n)
    special = shift | two3 | outside
    way[special] = np.where(rtm[special] > 0, 1.0, -1.0)
    way[trend & ~outside] = np.where(direction[trend & ~outside] == 1, 1.0, -1.0)
    return out, way


def _point_types(way: FloatArray, improvement: Improvement) -> StrArray:
    v = way
    out = np.full(way.shape, COMMON_CAUSE, dtype="<U40")
    if improvement == "neither":
        out[v > 0] = SPECIAL_CAUSE_NEUTRAL_HIGH
        out[v < 0] = SPECIAL_CAUSE_NEUTRAL_LOW
    else:
        v = v * (1 if improvement == "increase" else -1)
        out[v > 0] = SPECIAL_CAUSE_IMPROVEMENT
        out[v < 0] = SPECIAL_CAUSE_CONCERN
    return out


def _variation_icon(point_type: str, improvement: Improvement) -> str:
    if point_type == SPECIAL_CAUSE_NEUTRAL_HIGH:
        return "neutral_high"
    if point_type == SPECIAL_CAUSE_NEUTRAL_LOW:
        return "neutral_low"
    if point_type == SPECIAL_CAUSE_IMPROVEMENT:
        return "improvement_high" if improvement == "increase" else "improvement_low"
    if point_type == SPECIAL_CAUSE_CONCERN:
        return "concern_low" if improvement == "increase" else "concern_high"
    return "common_cause"


def xmr(
    values: ArrayLike,
    improvement: Improvement = "increase",
    target: float | None = None,
    screen_outliers: bool = True,
    fix_after_n_points: int | None = None,
    rebase_at: Sequence[int] = (),
    *,
    trend_length: int = 7,
    shift_length: int = 7,
) -> XmrResult:
    """An XmR (individuals and moving range) chart with the NHS England "Making Data
    Count" rules, as NHSRplotthedots ``ptd_spc`` (``ptd_spc_standard``,
    ``ptd_calculate_point_type``, ``ptd_calculate_assurance_type``).

    Calculation, per segment (rebase period): mean of the points; moving ranges
    ``|y_t - y_{t-1}|``; MR-bar their mean; with ``screen_outliers`` moving ranges
    not below ``3.267 x MR-bar`` are dropped and MR-bar recomputed; limits
    ``mean ± 2.66 x MR-bar``. ``fix_after_n_points`` computes mean and MR-bar from
    the first ``n`` points of each segment only (a frozen baseline);
    ``rebase_at`` lists the indices where new segments start (recalculating
    everything, including the run and trend rules).

    Special-cause rules, in NHSRplotthedots' order of precedence:
    a point outside the limits; part of a run of ``trend_length`` (7) points each
    strictly higher (lower) than the previous; part of 2 out of 3 consecutive points
    beyond 2 sigma (mean ± 2/3 of the distance to the limits, not beyond the limits)
    with all three on the same side of the mean; part of a run of ``shift_length``
    (7) points on the same side of the mean (a point on the mean breaks a run).
    NHSRplotthedots fixes both run lengths at 7.

    ``improvement`` (``"increase"``, ``"decrease"`` or ``"neither"`` - NHSRplotthedots'
    ``"neutral"``) orients each special cause as improvement or concern (or
    neutral high/low). The variation icon comes from the last point; assurance
    compares ``target`` with the last segment's limits: above the upper limit is
    a consistent fail when higher is better (pass when lower is better), below the
    lower limit the reverse, otherwise inconsistent ("hit and miss").

    Edge cases
    ----------
    * All-equal values (MR-bar = 0): NHSRplotthedots' screening would drop every
      moving range and give NaN limits; here screening is skipped when MR-bar is 0,
      so the limits collapse onto the mean and nothing is flagged as special.
    * Degenerate moving ranges (deliberate difference from NHSRplotthedots): when
      screening would remove every non-zero moving range - a near-constant series
      such as monthly counts of a rare event, ``0, 0, ..., 1, 0, ...`` - the screened
      MR-bar is 0 and NHSRplotthedots draws both limits on the mean, so every 0 sits
      "below the lower limit" (14 of 15 points special cause). Here the moving ranges
      are then kept unscreened (screening exists to stop one outlier inflating MR-bar,
      not to remove all the variation there is), so the limits keep their width and
      only the event itself lies beyond them. The run rules still apply: a long run
      of zeros is below a positive mean, so it can still be flagged as a shift -
      rare events are better shown on a g or t chart (NHS England, *Making Data
      Count*).
    * A segment of one point has NaN limits (no moving range) and is common cause.
    * ``values`` must be 1-d and finite (NHSRplotthedots also requires no gaps).
    * ``short_segment`` marks segments with fewer than 12 points, where
      NHSRplotthedots warns the limits are unreliable.
    """
    if improvement not in ("increase", "decrease", "neither"):
        raise ValueError(
            f"improvement must be 'increase', 'decrease' or 'neither', got {improvement!r}"
        )
    if trend_length < 2 or shift_length < 2:
        raise ValueError("trend_length and shift_length must be at least 2")
    y = as_float(values)
    if y.ndim != 1:
        raise ValueError("values must be a 1-d series")
    if not np.all(np.isfinite(y)):
        raise ValueError("values must be finite (no missing points)")
    n = y.size
    if n == 0:
        raise ValueError("values must not be empty")
    if fix_after_n_points is not None and int(fix_after_n_points) < 2:
        raise ValueError("fix_after_n_points must be at least 2")
    starts = sorted({int(i) for i in rebase_at})
    if any(i <= 0 or i >= n for i in starts):
        raise ValueError(f"rebase_at indices must be within 1..{n - 1}")
    bounds = [0, *starts, n]

    mean = np.empty(n)
    amr_all = np.empty(n)
    mr_all = np.full(n, np.nan)
    segment: IntArray = np.empty(n, dtype=np.int64)
    types: NDArray[np.str_] = np.empty(n, dtype="<U40")
    way = np.zeros(n)
    short = np.zeros(n, dtype=bool)
    for k, (s, e) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        seg = y[s:e]
        base = seg if fix_after_n_points is None else seg[: int(fix_after_n_points)]
        mu = float(base.mean())
        mr = np.abs(np.diff(base))
        mr_all[s + 1 : s + base.size] = mr
        amr = float(mr.mean()) if mr.size else float("nan")
        if screen_outliers and amr > 0:
            kept = mr[mr < SCREEN * amr]
            # Screening that would drop every non-zero moving range (a rare event in a
            # run of equal values) would leave MR-bar 0: limits on the mean and every
            # other point "beyond" them. Keep the unscreened MR-bar then.
            if kept.size and kept.mean() > 0:
                amr = float(kept.mean())
        mean[s:e] = mu
        amr_all[s:e] = amr
        segment[s:e] = k
        short[s:e] = (e - s) < MIN_POINTS
    lpl = mean - LIMIT * amr_all
    upl = mean + LIMIT * amr_all
    nlpl = mean - CLOSE * amr_all
    nupl = mean + CLOSE * amr_all
    outside = (y > upl) | (y < lpl)
    rtm = np.sign(y - mean)
    close = ~outside & ((y < nlpl) | (y > nupl))
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        types[s:e], way[s:e] = _special_cause_types(
            y[s:e], rtm[s:e], close[s:e], outside[s:e], trend_length, shift_length
        )
    point_type = _point_types(way, improvement)
    variation = str(point_type[-1])

    assurance: str | None = None
    if target is not None and improvement != "neither":
        t = float(target)
        increasing = improvement == "increase"
        if t > upl[-1]:
            assurance = CONSISTENT_FAIL if increasing else CONSISTENT_PASS
        elif t < lpl[-1]:
            assurance = CONSISTENT_PASS if increasing else CONSISTENT_FAIL
        else:
            assurance = INCONSISTENT

    return XmrResult(
        value=frozen(y, copy=True),
        mean=frozen(mean),
        lower=frozen(lpl),
        upper=frozen(upl),
        lower_2sigma=frozen(nlpl),
        upper_2sigma=frozen(nupl),
        moving_range=frozen(mr_all),
        mean_moving_range=frozen(amr_all),
        segment=frozen_any(segment),  # type: ignore[arg-type]
        outside_limits=frozen_bool(outside),
        close_to_limits=frozen_bool(close),
        relative_to_mean=frozen(rtm),
        special_cause=frozen_bool(types != "Common Cause"),
        special_cause_type=frozen_any(types),  # type: ignore[arg-type]
        point_type=frozen_any(point_type),  # type: ignore[arg-type]
        variation=variation,
        variation_icon=_variation_icon(variation, improvement),
        assurance=assurance,
        target=None if target is None else float(target),
        improvement=improvement,
        short_segment=frozen_bool(short),
    )
