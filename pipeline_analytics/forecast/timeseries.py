"""Monthly series forecasts with simulated paths: ETS (by AICc), Theta, and short-series fallbacks.

statsmodels is imported inside the functions: importing it costs seconds, and only `forecast` and
`backtest` need it. The fits run with scipy's bundled OpenBLAS on one thread (_one_blas_thread):
L-BFGS-B calls BLAS on vectors of a few parameters thousands of times, and OpenBLAS's idle
threads spinning between those calls cost 5-6x the fits' own CPU (the results are the same: no
call is large enough for OpenBLAS to split).

- At least SEASONAL_MONTHS (24) complete months: ETS, the configuration with the lowest AICc of
  ETS_CANDIDATES (multiplicative ones only for a positive series), with paths simulated from the
  fitted model; optionally averaged with Theta (the paths are rescaled to the averaged mean).
- 12 to 23 months: seasonal naive (each month as the same month a year earlier).
- 1 to 11 months: the mean of the last three months.
Fallback paths spread the mean by the series' own month-to-month noise (relative_noise): one draw
per path for the level, which is a mean of a few months and so uncertain for the whole horizon,
and one per month around it (with twice the variance for seasonal naive, whose forecast is one
noisy month); both Gamma with mean 1, so the paths' mean is the forecast and their
median stays near it (no multiplicative random walk that fans out on a short history).
"""

from __future__ import annotations

import ctypes
import functools
import sys
import warnings
from dataclasses import dataclass
from datetime import date

import numpy as np

SEASONAL_MONTHS = 24
SEASON = 12
RECENT = 3  # months averaged by the short-series mean
DEFAULT_NOISE = 0.5  # a month's relative noise when the series is too short to tell
MAX_NOISE = 1.0
# (error, trend, damped, seasonal) of the ETS configurations tried.
ETS_CANDIDATES = (
    ("add", None, False, None),
    ("add", "add", True, None),
    ("add", None, False, "add"),
    ("mul", None, False, "mul"),
)


@dataclass(frozen=True)
class SeriesForecast:
    method: str  # 'ets', 'ets+theta', 'seasonal_naive', 'recent_mean', 'none'
    detail: str  # the chosen ETS configuration, or why a fallback was used
    mean: np.ndarray  # (horizon,)
    paths: np.ndarray  # (simulations, horizon), never negative


def forecast_series(
    values: np.ndarray,
    first_month: date,
    horizon: int,
    simulations: int,
    seed: int,
    with_theta: bool,
) -> SeriesForecast:
    """Forecast the `horizon` months after the series (values: complete months, oldest first)."""
    values = np.asarray(values, dtype=float)
    if values.size >= SEASONAL_MONTHS and np.ptp(values) > 0:
        return _ets_forecast(values, first_month, horizon, simulations, seed, with_theta)
    if values.size >= SEASON:
        mean = np.resize(values[-SEASON:], horizon)
        return _fallback("seasonal_naive", f"{values.size} months", values, mean, simulations, seed)
    if values.size:
        mean = np.full(horizon, values[-RECENT:].mean())
        return _fallback("recent_mean", f"{values.size} months", values, mean, simulations, seed)
    return SeriesForecast("none", "no history", np.zeros(horizon), np.zeros((simulations, horizon)))


def _fallback(
    method: str, detail: str, values: np.ndarray, mean: np.ndarray, simulations: int, seed: int
) -> SeriesForecast:
    noise = relative_noise(values)
    rng = np.random.default_rng(seed)
    # The level (a mean of about RECENT months) is uncertain for the whole horizon; each month
    # adds its own noise around it. A seasonal naive forecast is itself one noisy month, so its
    # months carry that noise twice. Gamma draws keep paths positive with their mean at `mean`.
    level = _gamma_around_one(rng, noise / np.sqrt(RECENT), (simulations, 1))
    month_noise = noise * np.sqrt(2.0) if method == "seasonal_naive" else noise
    month = _gamma_around_one(rng, month_noise, (simulations, mean.size))
    return SeriesForecast(method, detail, mean, level * month * mean[None, :])


def relative_noise(values: np.ndarray) -> float:
    """A month's typical deviation from the series' level, as a share of the level.

    From the differences between consecutive months of the last year (each holds two months'
    noise, hence / sqrt 2): a level that moves slowly (growth, a ramp-up) adds little to them, so
    a short history that starts with a trickle does not look wildly variable.
    """
    recent = values[-SEASON:]
    level = recent.mean() if recent.size else 0.0
    if recent.size < 3 or level <= 0:
        return DEFAULT_NOISE
    return float(min(np.std(np.diff(recent)) / np.sqrt(2.0) / level, MAX_NOISE))


def _gamma_around_one(rng: np.random.Generator, cv: float, shape: tuple[int, ...]) -> np.ndarray:
    """Draws with mean 1 and coefficient of variation `cv` (1 everywhere when cv is 0)."""
    if cv <= 0:
        return np.ones(shape)
    k = 1.0 / cv**2
    return rng.gamma(k, 1.0 / k, shape)


def _ets_forecast(
    values: np.ndarray,
    first_month: date,
    horizon: int,
    simulations: int,
    seed: int,
    with_theta: bool,
) -> SeriesForecast:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    _one_blas_thread()
    series = pd.Series(values, index=pd.period_range(first_month, periods=values.size, freq="M"))
    best: tuple[float, object, np.ndarray, str] | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of individual candidates
        for error, trend, damped, seasonal in ETS_CANDIDATES:
            if "mul" in (error, seasonal) and values.min() <= 0:
                continue
            model = ETSModel(
                series,
                error=error,
                trend=trend,
                damped_trend=damped,
                seasonal=seasonal,
                seasonal_periods=SEASON if seasonal else None,
            )
            params = model.fit(disp=False, return_params=True)
            score = _aicc(model.loglike(params), len(params) + 1, values.size)
            if np.isfinite(score) and (best is None or score < best[0]):
                label = f"ETS({error[0].upper()},{_trend_code(trend, damped)},"
                best = (score, model, params, label + f"{(seasonal or 'n')[0].upper()})")
        if best is None:
            mean = np.resize(values[-SEASON:], horizon)
            return _fallback("seasonal_naive", "no ETS fit", values, mean, simulations, seed)
        _, model, params, best_label = best
        fitted = model.smooth(params)
        ets_mean = np.asarray(fitted.forecast(horizon), dtype=float)
        paths = np.asarray(
            fitted.simulate(
                horizon,
                repetitions=simulations,
                anchor="end",
                rng=np.random.default_rng(seed),
            ),
            dtype=float,
        ).reshape(horizon, simulations)
    paths = np.clip(paths.T, 0.0, None)
    if not with_theta:
        return SeriesForecast("ets", best_label, np.clip(ets_mean, 0.0, None), paths)
    mean = np.clip((ets_mean + _theta_mean(series, horizon)) / 2.0, 0.0, None)
    scale = np.divide(mean, paths.mean(axis=0), out=np.zeros(horizon), where=paths.mean(0) > 0)
    return SeriesForecast("ets+theta", best_label + " + Theta", mean, paths * scale)


# Thread setters of the OpenBLAS builds scipy's wheels bundle (symbol prefix and suffix vary).
_SET_THREADS = (
    "scipy_openblas_set_num_threads",
    "scipy_openblas_set_num_threads64_",
    "openblas_set_num_threads",
    "openblas_set_num_threads64_",
)


@functools.cache
def _one_blas_thread() -> None:
    """Set the OpenBLAS that scipy loaded (L-BFGS-B's BLAS) to one thread, once per process.

    Only scipy's own library is touched (numpy's, which the simulation's products use, is left as
    it is). Where it cannot be found (another platform or BLAS), nothing changes but speed.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line}
    except OSError:
        return
    for path in sorted(paths):
        if "scipy" not in path.rsplit("/", 2)[-2]:  # scipy.libs/ (wheels) or scipy's own folder
            continue
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SET_THREADS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(1)
                break


def _aicc(loglike: float, k: int, n: int) -> float:
    """AICc as statsmodels reports it (k counts the error variance too)."""
    if n - k - 1 <= 0:
        return np.inf
    return -2.0 * loglike + 2.0 * k + 2.0 * k * (k + 1) / (n - k - 1)


def _trend_code(trend: str | None, damped: bool) -> str:
    return "N" if trend is None else "Ad" if damped else "A"


def _theta_mean(series, horizon: int) -> np.ndarray:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ThetaModel(series, period=SEASON).fit()
        return np.asarray(fitted.forecast(horizon), dtype=float)
