"""The adaptive and predictive arithmetic, pure (no database): baselines, hysteresis, trends.

- **Baseline**: an exponentially weighted moving average of a check's observed value and of
  its absolute deviation (as TCP's RTT estimator keeps SRTT and RTTVAR). Once a check has
  `min_samples` results, a value above `mean + band * deviation` is at least `warn`, so each
  check learns its own normal instead of sharing a fixed threshold.
- **Hysteresis**: a check's status changes only after `needed` consecutive results agree on
  the new status, so a flapping check does not open and close incidents on every run.
- **Projection**: least squares over the recent points, evaluated `horizon` seconds ahead,
  as PromQL's least-squares prediction does.
"""

from __future__ import annotations

from dataclasses import dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"
RANK = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Baseline:
    mean: float | None = None
    deviation: float | None = None
    samples: int = 0

    def updated(self, value: float, alpha: float) -> Baseline:
        """Fold one observation in."""
        if self.mean is None:
            return Baseline(value, 0.0, 1)
        deviation = (1 - alpha) * (self.deviation or 0.0) + alpha * abs(value - self.mean)
        mean = (1 - alpha) * self.mean + alpha * value
        return Baseline(mean, deviation, self.samples + 1)

    def upper_band(self, band: float) -> float | None:
        """The highest value still normal; the deviation has a floor of 10 % of the mean,
        so a perfectly steady signal does not call its first wobble an anomaly."""
        if self.mean is None:
            return None
        return self.mean + band * max(self.deviation or 0.0, abs(self.mean) * 0.1)


def adaptive_status(raw: str, value: float | None, baseline: Baseline, *, band: float,
                    min_samples: int) -> tuple[str, str]:  # fmt: skip
    """The check's own verdict, raised to `warn` when the value leaves its learned band.

    Answers (status, why); `why` is empty unless the baseline raised it.
    """
    if value is None or baseline.samples < min_samples or RANK[raw] >= RANK[WARN]:
        return raw, ""
    upper = baseline.upper_band(band)
    if upper is not None and value > upper:
        return (
            WARN,
            f"{value:g} is above its baseline (mean {baseline.mean:.4g} + {band:g} deviations)",
        )
    return raw, ""


@dataclass(frozen=True)
class Hysteresis:
    status: str
    candidate: str
    streak: int


def apply_hysteresis(current: Hysteresis, observed: str, needed: int) -> Hysteresis:
    """Move to `observed` only after `needed` consecutive results say it."""
    if observed == current.status:
        return Hysteresis(current.status, observed, 0)
    streak = current.streak + 1 if observed == current.candidate else 1
    if streak >= needed:
        return Hysteresis(observed, observed, 0)
    return Hysteresis(current.status, observed, streak)


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Least squares through (time, value) points: (slope, mean time, mean value)."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
    return slope, mean_t, mean_v


def line_at(points: list[tuple[float, float]], at: float) -> float | None:
    """The fitted line's value at time `at` (what PromQL's least-squares prediction answers)."""
    fit = fit_line(points)
    if fit is None:
        return None
    slope, mean_t, mean_v = fit
    return mean_v + slope * (at - mean_t)


def time_to_reach(points: list[tuple[float, float]], limit: float) -> float | None:
    """When the fitted line reaches `limit` (a time), if it is rising towards it."""
    fit = fit_line(points)
    if fit is None or fit[0] <= 0:
        return None
    slope, mean_t, mean_v = fit
    return mean_t + (limit - mean_v) / slope


def first_departure(points: list[tuple[float, float]], tolerance: float,
                    floor: float = 0.0) -> float | None:  # fmt: skip
    """When a signal moved away from where the window started and stayed away (by more than
    `tolerance` of its starting value, and more than `floor`): the time, or None. A spike
    that comes back is noise, not a move."""
    if len(points) < 2:
        return None
    start = points[0][1]
    margin = max(abs(start) * tolerance, floor)
    moved = None
    for t, v in points[1:]:
        if abs(v - start) <= margin:
            moved = None  # back where it started: whatever moved before was a spike
        elif moved is None:
            moved = t
    return moved
