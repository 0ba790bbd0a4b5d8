"""Model-error correction of the twin's forecasts (a "hybrid twin"), learned from the person's record.

After the MAP fit, the twin's Kalman forecasts over its own training record leave a
residual (CGM at t + h minus the forecast) that is partly predictable from what is known at
t: the twin's forecast change, the recent CGM trajectory, and recent carbs and insulin. A
ridge regression per horizon learns that part, and ``predict`` adds it to the forecast.

* Features at row t (all known at t): the twin's forecast minus the current CGM for every
  fitted horizon; the current CGM; the CGM of the last hour relative to the current one;
  carbs and insulin of each row of the last hour; their sums over the hour before that.
  Rows whose features are incomplete (CGM gaps, the first two hours) are not corrected.
* The ridge penalty is chosen per horizon by blocked cross-validation over the training
  record (contiguous folds in time, rows within the horizon of a held-out fold left out
  of its training part), and "no correction" is one of the candidates: a correction
  that does not forecast better out of fold than none is not used.
"""

from __future__ import annotations

import numpy as np

#: History used by the features [min]: rows of the last hour one by one, the hour before summed.
HISTORY_MIN = 60
#: Candidate ridge penalties, per training row, on standardised features.
ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
#: Contiguous cross-validation folds.
N_FOLDS = 4
#: Fewest complete training rows per feature before a correction is attempted.
MIN_ROWS_PER_FEATURE = 4


def n_features(n_horizons: int, step_min: int) -> int:
    """Number of correction features for ``n_horizons`` horizons on a ``step_min`` grid."""
    lags = max(HISTORY_MIN // step_min, 1)
    return n_horizons + 1 + (lags - 1) + 2 * lags + 2


def _lagged(x: np.ndarray, lag: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    if lag < x.shape[0]:
        out[lag:] = x[: x.shape[0] - lag]
    return out


def _window_sum(x: np.ndarray, start_lag: int, length: int) -> np.ndarray:
    """Sum of ``x`` over rows ``t - start_lag - length + 1 .. t - start_lag`` (NaN when short)."""
    c = np.concatenate(([0.0], np.cumsum(x)))
    n = x.shape[0]
    out = np.full(n, np.nan)
    first = start_lag + length - 1
    if first < n:
        t = np.arange(first, n)
        out[first:] = c[t - start_lag + 1] - c[t - start_lag - length + 1]
    return out


def features(glucose: np.ndarray, carbs_g: np.ndarray, insulin_u: np.ndarray,
             forecast: np.ndarray, step_min: int) -> np.ndarray:
    """Correction features ``(n, n_features)`` of every row; NaN where history is missing."""
    lags = max(HISTORY_MIN // step_min, 1)
    g = glucose
    cols = [forecast[:, j] - g for j in range(forecast.shape[1])]
    cols.append(g)
    cols += [_lagged(g, i) - g for i in range(1, lags)]
    cols += [_lagged(carbs_g, i) for i in range(lags)]
    cols += [_lagged(insulin_u, i) for i in range(lags)]
    cols.append(_window_sum(carbs_g, lags, lags))
    cols.append(_window_sum(insulin_u, lags, lags))
    return np.column_stack(cols)


def _ridge(A: np.ndarray, b: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Ridge coefficients on the raw scale and the intercept (standardised, intercept free)."""
    mean = A.mean(axis=0)
    scale = A.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (A - mean) / scale
    b_mean = float(b.mean())
    gram = Z.T @ Z
    gram[np.diag_indices_from(gram)] += alpha * len(Z)
    w = np.linalg.solve(gram, Z.T @ (b - b_mean))
    coef = w / scale
    return coef, b_mean - float(mean @ coef)


def _cv_scores(A: np.ndarray, b: np.ndarray, horizon_rows: int) -> np.ndarray:
    """Out-of-fold mean squared error of no correction (entry 0) and of each penalty."""
    n = len(A)
    edges = np.linspace(0, n, N_FOLDS + 1).astype(int)
    sse = np.zeros(len(ALPHAS) + 1)
    for f in range(N_FOLDS):
        lo, hi = edges[f], edges[f + 1]
        train = np.ones(n, bool)
        train[max(lo - horizon_rows, 0): min(hi + horizon_rows, n)] = False
        held_b = b[lo:hi]
        sse[0] += float(held_b @ held_b)
        for i, alpha in enumerate(ALPHAS):
            coef, icpt = _ridge(A[train], b[train], alpha)
            err = held_b - (A[lo:hi] @ coef + icpt)
            sse[i + 1] += float(err @ err)
    return sse / n


def fit_correction(F: np.ndarray, target: np.ndarray, forecast: np.ndarray,
                   horizon_rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per-horizon ridge correction of ``forecast`` toward ``target`` (both ``(n, k)``).

    Returns ``coef`` (k, m), ``intercept`` (k,), ``alpha`` (k,; ``inf`` = no correction)
    and the out-of-fold RMSE without and with the chosen correction, ``cv_rmse_without``
    and ``cv_rmse`` (k,) [mg/dL] (NaN where too few rows).
    """
    k, m = target.shape[1], F.shape[1]
    out = {"coef": np.zeros((k, m)), "intercept": np.zeros(k), "alpha": np.full(k, np.inf),
           "cv_rmse_without": np.full(k, np.nan), "cv_rmse": np.full(k, np.nan)}
    complete = np.isfinite(F).all(axis=1)
    for j in range(k):
        resid = target[:, j] - forecast[:, j]
        rows = complete & np.isfinite(resid)
        if rows.sum() < MIN_ROWS_PER_FEATURE * m:
            continue
        A, b = F[rows], resid[rows]
        scores = _cv_scores(A, b, int(horizon_rows[j]))
        best = int(np.argmin(scores))
        out["cv_rmse_without"][j] = float(np.sqrt(scores[0]))
        out["cv_rmse"][j] = float(np.sqrt(scores[best]))
        if best:
            alpha = ALPHAS[best - 1]
            out["coef"][j], out["intercept"][j] = _ridge(A, b, alpha)
            out["alpha"][j] = alpha
    return out


def apply_correction(F: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """The correction ``(n, k)`` to add to the forecasts; 0 on rows with incomplete features."""
    complete = np.isfinite(F).all(axis=1)
    corr = np.zeros((F.shape[0], coef.shape[0]))
    corr[complete] = F[complete] @ coef.T + intercept
    return corr
