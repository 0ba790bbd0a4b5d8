"""The mechanistic digital twin: UVA/Padova personalised to one person's record.

``fit`` identifies the parameters that carry most of the person-to-person variation by
maximum a posteriori estimation (population log-normal priors per age group, a Gaussian
CGM likelihood whose noise SD is estimated) with time-of-day insulin sensitivity;
everything else stays at the age group's population base patient, scaled to the person's
body weight and basal insulin. ``predict`` runs an extended Kalman filter along the record
and forecasts from every row, then adds a model-error correction that ``fit`` learned from
the person's own training record (a "hybrid twin", :mod:`dt1d.models.mechanistic._correction`);
``simulate`` replays the record with changed inputs.
The user guide is ``docs/mechanistic.md``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dt1d.core.base import BaseModel, ParamsMixin
from dt1d.data import horizons_of, infer_step, iter_patients, validate
from dt1d.exceptions import ConvergenceWarning, ForecastRangeWarning
from dt1d.models.mechanistic import _insulin
from dt1d.physiology.layout import I_BIAS, I_FLUX, X_GP, X_GS, X_GT, X_X

__all__ = ["MechanisticModel", "ConvergenceWarning", "SENSITIVITY_WINDOWS_H"]

logger = logging.getLogger(__name__)

#: Time-of-day windows of insulin sensitivity [start hour, end hour) (ReplayBG's
#: breakfast, lunch and dinner windows); the last one wraps past midnight.
SENSITIVITY_WINDOWS_H: tuple[tuple[int, int], ...] = ((4, 11), (11, 17), (17, 4))
_WINDOW_LABELS = ["04_11", "11_17", "17_04"]
#: Fewest CGM minutes a fit accepts (6 hours of readings).
MIN_CGM_MINUTES = 360
#: Longest RK4 step [min]: within the stability limit for the bounded parameters.
MAX_RK4_STEP_MIN = 2.5

# Extended Kalman filter tuning (per 5-minute row; scaled to the grid step): process-noise
# SDs of G_p, G_t [mg/kg], X [pmol/L], G_s [mg/kg], the glucose flux [mg/kg/min] and the
# CGM offset [mg/dL]; the CGM noise SD [mg/dL]; initial SDs; the half-lives of the flux
# (in forecasts) and of the offset (its AR(1) coefficient). Chosen by a grid search on
# four dt1d.sim patients (adult#002, adolescent#004, child#003, adult#007; 7 days fitted,
# 3 forecast), disjoint from the validation set; among settings within 1.5 % of the best
# simulated score, the one that forecast the real record's day 2 best (so that day is
# not fully held out; see docs/mechanistic.md).
_Q_SD = {X_GP: 3.0, X_GT: 3.0, X_X: 1.0, X_GS: 8.0, I_FLUX: 0.05, I_BIAS: 3.0}
_R_SD_MG_DL = 1.0
_P0_SD = {X_GP: 5.0, X_GT: 10.0, X_X: 5.0, X_GS: 5.0, I_FLUX: 0.1, I_BIAS: 10.0}
_FLUX_HALF_LIFE_MIN = 15.0
_BIAS_HALF_LIFE_MIN = 90.0
#: Allowed ranges of the person's settings: body weight [kg] and basal insulin [U/h].
BODY_WEIGHT_RANGE_KG = (2.0, 400.0)
BASAL_RANGE_U_PER_H = (0.0, 20.0)
#: Largest what-if scale of bolus, basal or carbs in ``simulate``.
MAX_WHAT_IF_SCALE = 10.0
#: Forecasts are kept within the data contract's plausible glucose range [mg/dL]; values
#: outside it are clipped, with a :class:`ForecastRangeWarning`.
FORECAST_RANGE_MG_DL = (10.0, 1000.0)


class MechanisticModel(ParamsMixin, BaseModel, name="mechanistic_uva_padova",
                       aliases=("mechanistic",)):
    """UVA/Padova digital twin of one person: MAP fit, Kalman-filter forecasts, what-if replay.

    Parameters
    ----------
    body_weight_kg:
        The person's body weight. ``None`` uses the age group's mean weight (logged as a
        warning): pass the real weight, the model's volumes are per kg.
    basal_u_per_h:
        Basal insulin at which the person is at steady state. ``None``: the median of the
        record's ``basal`` column, else the median insulin per row.
    age_group:
        ``"adult"``, ``"adolescent"`` or ``"child"``: the population base patient and priors.
    time_of_day:
        Estimate insulin sensitivity per time-of-day window (04-11, 11-17, 17-04 h).
    forecast_time_of_day:
        Use the windows when forecasting (``False``: their geometric mean, which forecast
        better on held-out days; see docs/mechanistic.md).
    method:
        ``"map"``, or ``"mcmc"`` (MAP, then emcee posterior draws for percentile bands).
    n_starts:
        Optimiser starts (the prior mean, then draws from the prior).
    mcmc_steps:
        emcee steps per walker for ``method="mcmc"`` (half are burn-in).
    future_inputs:
        Forecast with the record's future carbs and insulin (announced meals, what-if)
        instead of basal only.
    error_correction:
        Learn a model-error correction of the forecasts from the training record (ridge
        regression on the twin's forecast, recent CGM, carbs and insulin, penalty chosen
        by blocked cross-validation; see docs/mechanistic.md) and add it in ``predict``.
    long_acting:
        How the record's ``long_acting_insulin`` injections (people on multiple daily
        injections) are absorbed: ``"glargine"`` (depot time to peak 10 h), ``"degludec"``
        (18 h) or a time to peak in minutes (:mod:`dt1d.physiology.long_acting`); the depot
        starts at the steady state of the record's mean day of doses. ``None`` refuses a
        record with long-acting doses.
    random_state:
        Seed of the extra starts and the sampler.
    """

    tags = frozenset({"simulates", "personal", "multi_horizon"})

    def __init__(
        self,
        body_weight_kg: float | None = None,
        basal_u_per_h: float | None = None,
        age_group: str = "adult",
        time_of_day: bool = True,
        forecast_time_of_day: bool = False,
        method: str = "map",
        n_starts: int = 3,
        mcmc_steps: int = 400,
        future_inputs: bool = False,
        error_correction: bool = True,
        long_acting: str | float | None = "glargine",
        random_state: int = 0,
    ) -> None:
        self.body_weight_kg = body_weight_kg
        self.basal_u_per_h = basal_u_per_h
        self.age_group = age_group
        self.time_of_day = time_of_day
        self.forecast_time_of_day = forecast_time_of_day
        self.method = method
        self.n_starts = n_starts
        self.mcmc_steps = mcmc_steps
        self.future_inputs = future_inputs
        self.error_correction = error_correction
        self.long_acting = long_acting
        self.random_state = random_state

    # -- checks and conversions ---------------------------------------------------------
    def _check_params(self) -> None:
        from dt1d.models.mechanistic._priors import AGE_GROUPS

        if self.age_group not in AGE_GROUPS:
            raise ValueError(f"age_group must be one of {AGE_GROUPS}, got {self.age_group!r}")
        for name, (lo, hi) in (("body_weight_kg", BODY_WEIGHT_RANGE_KG),
                               ("basal_u_per_h", BASAL_RANGE_U_PER_H)):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)
                                          and lo < value <= hi):
                raise ValueError(f"{name} must be a number in ({lo:g}, {hi:g}] or None, "
                                 f"got {value!r}")
        if self.method not in ("map", "mcmc"):
            raise ValueError(f'method must be "map" or "mcmc", got {self.method!r}')
        for name in ("time_of_day", "forecast_time_of_day", "future_inputs", "error_correction"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("n_starts", "mcmc_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        _insulin.resolve_tmax_min(self.long_acting)

    def _single_record(self, X: pd.DataFrame) -> pd.DataFrame:
        """The validated record of one person; a cohort is refused, and long-acting
        doses too when ``long_acting`` is None."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame patient record, got {type(X).__name__}")
        groups = list(iter_patients(X))
        if len(groups) > 1:
            raise ValueError(
                f"MechanisticModel is a personal model but X holds {len(groups)} patients "
                "(column 'patient_id'); fit one twin per person with dt1d.cohort"
            )
        from dt1d.data.schema import refuse_long_acting

        checked = validate(X.drop(columns="patient_id") if "patient_id" in X else X)
        if _insulin.resolve_tmax_min(self.long_acting) is None:
            refuse_long_acting(checked, "mechanistic (long_acting=None)")
        return checked

    def _long_acting_doses(self, X: pd.DataFrame) -> np.ndarray | None:
        """Long-acting units per row of the validated record; None without injections."""
        if _insulin.resolve_tmax_min(self.long_acting) is None:
            return None
        return _insulin.doses_of(X)

    def _dissolved(self, doses: np.ndarray | None, n: int, step_min: int) -> np.ndarray:
        """Long-acting insulin entering the s.c. route per row [U] (zeros without doses)."""
        if doses is None:
            return np.zeros(n)
        tmax = _insulin.resolve_tmax_min(self.long_acting)
        assert tmax is not None
        return _insulin.dissolved(doses, tmax, step_min)

    @staticmethod
    def _step_min(X: pd.DataFrame) -> int:
        step = infer_step(X) / pd.Timedelta(minutes=1)
        if step < 1 or step != int(step) or step > 15:
            raise ValueError(
                f"MechanisticModel needs a grid of 1 to 15 whole minutes, got {step} min; "
                "use dt1d.data.resample(df, '5min')"
            )
        return int(step)

    @staticmethod
    def _windows(index: pd.DatetimeIndex, extra_rows: int, step_min: int) -> np.ndarray:
        """Window number (0, 1, 2) of every row, plus ``extra_rows`` rows after the end."""
        times = index
        if extra_rows:
            times = index.append(pd.date_range(index[-1], periods=extra_rows + 1,
                                               freq=f"{step_min}min")[1:])
        hours = np.asarray(times.hour)
        win = np.full(len(hours), 2, dtype=np.int64)
        for w, (lo, hi) in enumerate(SENSITIVITY_WINDOWS_H[:2]):
            win[(hours >= lo) & (hours < hi)] = w
        return win

    def _basal_u_per_h(self, X: pd.DataFrame, step_min: int,
                       doses: np.ndarray | None = None) -> float:
        """Steady-state insulin rate [U/h]: the parameter, else the record's basal (pump
        basal plus, on injections, the mean daily long-acting dose over 24 h)."""
        if self.basal_u_per_h is not None:
            return float(self.basal_u_per_h)
        if doses is not None:
            pump = (float(np.nanmedian(X["basal"].to_numpy(dtype=float))) * 60.0 / step_min
                    if "basal" in X else 0.0)
            return pump + _insulin.daily_dose_u(doses, step_min) / 24.0
        source = X["basal"] if "basal" in X else X["insulin"]
        value = float(np.nanmedian(source.to_numpy(dtype=float))) * 60.0 / step_min
        if not value > 0:
            raise ValueError(
                "cannot infer the basal insulin rate from the record (median basal is 0); "
                "pass basal_u_per_h"
            )
        return value

    # -- fit ------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: pd.Series | pd.DataFrame | None = None,
            **kwargs: Any) -> MechanisticModel:
        """Identify the twin's parameters from ``X``'s CGM, carbs and insulin; return ``self``."""
        from dt1d.models.mechanistic import _fit as _mech_fit
        from dt1d.models.mechanistic import _priors as _mech_priors

        self._check_params()
        X = self._single_record(X)
        step_min = self._step_min(X)
        glucose = X["glucose"].to_numpy(dtype=float)
        n_cgm = int(np.isfinite(glucose).sum())
        if n_cgm * step_min < MIN_CGM_MINUTES:
            raise ValueError(
                f"too little CGM data to fit a twin: {n_cgm} readings ({n_cgm * step_min} min); "
                f"need at least {MIN_CGM_MINUTES} minutes of readings"
            )
        if y is None:
            horizons, multi = [30], False
        else:
            horizons, multi = horizons_of(y), isinstance(y, pd.DataFrame)
        weight = self.body_weight_kg
        if weight is None:
            from dt1d.physiology.params import P_BW

            weight = float(_mech_priors.base_vector(self.age_group)[P_BW])
            logger.warning("body_weight_kg not given; using the %s population mean %.1f kg",
                           self.age_group, weight)
        doses = self._long_acting_doses(X)
        basal = self._basal_u_per_h(X, step_min, doses)
        insulin = X["insulin"].to_numpy(dtype=float) + self._dissolved(doses, len(X), step_min)
        n_windows = len(SENSITIVITY_WINDOWS_H) if self.time_of_day else 1
        layout = _mech_fit.make_layout(self.age_group, n_windows)
        win = self._windows(X.index, 0, step_min) if self.time_of_day else np.zeros(len(X), np.int64)
        problem = _mech_fit.Problem(
            layout, _mech_priors.base_vector(self.age_group), float(weight), basal / 60.0, win,
            X["carbs"].to_numpy(dtype=float), insulin, glucose, step_min, _substeps(step_min),
        )
        result = _mech_fit.map_fit(problem, int(self.n_starts), int(self.random_state))
        fitted = problem.trajectory(result.z)
        params, std, log_std = _mech_fit.describe(result.z, result.cov_z, layout, _WINDOW_LABELS)
        pw, x0 = _mech_fit.model_from_z(result.z, layout, problem.base, float(weight), basal / 60.0)
        self.params_ = params
        self.params_std_ = std
        self.params_log_std_ = log_std
        self.theta_ = result.z
        self.theta_cov_ = result.cov_z
        self.param_matrix_ = pw
        self.initial_state_ = x0
        self.body_weight_kg_ = float(weight)
        self.basal_u_per_h_ = basal
        self.step_min_ = step_min
        self.sensor_sd_mg_dl_ = result.sigma
        self.horizons_ = horizons
        self.multi_output_ = multi
        self.fitted_glucose_ = fitted
        from dt1d.metrics import mard, rmse

        self.fit_report_ = {
            "rmse_mg_dl": float(rmse(glucose, fitted)),
            "mard_percent": float(mard(glucose, fitted)),
            "n_readings": n_cgm,
            "iterations": result.iterations,
            "evaluations": result.evaluations,
            "converged": result.converged,
            "message": result.message,
            "start_costs": result.starts,
            "residual_lag1": result.lag1,
            "seconds": result.seconds,
            "method": self.method,
            "long_acting_daily_u": (0.0 if doses is None
                                    else _insulin.daily_dose_u(doses, step_min)),
        }
        if not result.converged:
            warnings.warn(
                f"MechanisticModel.fit did not converge ({result.message}); "
                "the estimates may be poor, see fit_report_", ConvergenceWarning, stacklevel=2
            )
        if self.method == "mcmc":
            draws = _mech_fit.mcmc_sample(problem, result.z, result.cov_z, int(self.mcmc_steps),
                                          int(self.random_state))
            rng = np.random.default_rng(self.random_state)
            keep = rng.choice(len(draws), size=min(len(draws), 200), replace=False)
            self.posterior_ = draws[np.sort(keep)]
            self.fit_report_["mcmc_draws"] = int(len(draws))
        for name in ("correction_coef_", "correction_intercept_"):
            self.__dict__.pop(name, None)
        if self.error_correction:
            self._fit_correction(X, y)
        return self

    # -- predict -----------------------------------------------------------------------
    def _forecast_matrix(self) -> tuple[np.ndarray, bool]:
        """Parameter columns used for forecasting, and whether they are per window."""
        pw = self.param_matrix_
        if pw.shape[0] == 1 or self.forecast_time_of_day:
            return pw, pw.shape[0] > 1
        from dt1d.physiology.params import P_KP3, P_VMX

        mean = pw[:1].copy()
        for idx in (P_VMX, P_KP3):
            mean[0, idx] = float(np.exp(np.log(pw[:, idx]).mean()))
        return np.ascontiguousarray(mean), False

    def predict(self, X: pd.DataFrame, future_inputs: bool | None = None,
                **kwargs: Any) -> np.ndarray:
        """Glucose [mg/dL] at t + each horizon from the data up to t (NaN before the first CGM)."""
        self._check_is_fitted()
        X = self._single_record(X)
        if len(X) == 0:
            return np.empty((0, len(self.horizons_)) if self.multi_output_ else 0)
        future = self.future_inputs if future_inputs is None else bool(future_inputs)
        out = self._kalman(X, future)
        coef = getattr(self, "correction_coef_", None)
        if coef is not None and self.error_correction:
            # the correction is a function of the forecasts it was learned on (the fit's
            # future_inputs setting); announced inputs then move the forecast by physics alone
            learned_on = out if future == self.future_inputs else self._kalman(X, self.future_inputs)
            out += self._correction(X, learned_on, coef)
        out = _clip_forecasts(out)
        return out if self.multi_output_ else out[:, 0]

    def _correction(self, X: pd.DataFrame, forecast: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """The learned model-error correction ``(n, k)`` of the forecasts of ``X``."""
        from dt1d.models.mechanistic import _correction as C

        F = C.features(X["glucose"].to_numpy(dtype=float), X["carbs"].to_numpy(dtype=float),
                       X["insulin"].to_numpy(dtype=float), forecast, self.step_min_)
        return C.apply_correction(F, np.asarray(coef, dtype=float),
                                  np.asarray(self.correction_intercept_, dtype=float))

    def _kalman(self, X: pd.DataFrame, future: bool) -> np.ndarray:
        """The physics-only Kalman forecasts ``(n, k)`` of the validated record ``X``."""
        from dt1d.models.mechanistic import _kernels as K

        step_min = self._step_min(X) if len(X) > 1 else self.step_min_
        if step_min != self.step_min_:
            raise ValueError(f"X has a {step_min}-min grid but the twin was fitted on "
                             f"{self.step_min_} min; resample it with dt1d.data.resample")
        rows = self._horizon_rows(step_min)
        pw, per_window = self._forecast_matrix()
        max_h = int(rows.max())
        win = (self._windows(X.index, max_h, step_min) if per_window
               else np.zeros(len(X) + max_h, np.int64))
        doses = self._long_acting_doses(X)
        dissolved = self._dissolved(doses, len(X), step_min)
        if doses is not None:  # forecasts hold the pump basal plus the depot's current output
            basal = (X["basal"].to_numpy(dtype=float) if "basal" in X
                     else np.zeros(len(X))) + dissolved
        else:
            basal = (X["basal"].to_numpy(dtype=float) if "basal" in X
                     else np.full(len(X), self.basal_u_per_h_ * step_min / 60.0))
        q_diag, p0_diag, fd = _filter_tuning(step_min)
        delay = self.params_.get("meal_delay_min", 0.0) / step_min
        out = np.empty((len(X), len(rows)))
        K.kalman_forecast(
            pw, win, self.initial_state_, X["carbs"].to_numpy(dtype=float), int(delay),
            float(delay - int(delay)), X["insulin"].to_numpy(dtype=float) + dissolved, basal,
            X["glucose"].to_numpy(dtype=float), step_min, _substeps(step_min), rows, future,
            q_diag, _R_SD_MG_DL**2, p0_diag, fd, 0.5 ** (step_min / _FLUX_HALF_LIFE_MIN),
            0.5 ** (step_min / _BIAS_HALF_LIFE_MIN), out,
        )
        return out

    def _horizon_rows(self, step_min: int) -> np.ndarray:
        rows = np.array([h // step_min for h in self.horizons_], dtype=np.int64)
        if np.any(rows * step_min != np.array(self.horizons_)) or np.any(rows < 1):
            raise ValueError(f"horizons {self.horizons_} must be positive multiples of {step_min} min")
        return rows

    def _fit_correction(self, X: pd.DataFrame, y: pd.Series | pd.DataFrame | None) -> None:
        """Learn the model-error correction from the twin's forecasts over its training record."""
        from dt1d.models.mechanistic import _correction as C

        rows = self._horizon_rows(self.step_min_)
        glucose = X["glucose"].to_numpy(dtype=float)
        if y is None:
            target = np.full((len(X), len(rows)), np.nan)
            for j, r in enumerate(rows):
                target[: len(X) - r, j] = glucose[r:]
        else:
            target = np.asarray(y, dtype=float).reshape(len(y), -1)
            if len(target) != len(X):
                raise ValueError(f"y has {len(target)} rows but X has {len(X)}; they must be aligned")
        forecast = self._kalman(X, bool(self.future_inputs))
        F = C.features(glucose, X["carbs"].to_numpy(dtype=float),
                       X["insulin"].to_numpy(dtype=float), forecast, self.step_min_)
        fitted = C.fit_correction(F, target, forecast, rows)
        self.correction_coef_ = fitted["coef"]
        self.correction_intercept_ = fitted["intercept"]
        self.fit_report_["correction"] = {
            "alpha": [None if not np.isfinite(a) else float(a) for a in fitted["alpha"]],
            "cv_rmse_without_mg_dl": [None if not np.isfinite(v) else float(v)
                                      for v in fitted["cv_rmse_without"]],
            "cv_rmse_mg_dl": [None if not np.isfinite(v) else float(v) for v in fitted["cv_rmse"]],
        }
        logger.info("model-error correction: penalties %s, out-of-fold RMSE %s -> %s mg/dL",
                    self.fit_report_["correction"]["alpha"],
                    self.fit_report_["correction"]["cv_rmse_without_mg_dl"],
                    self.fit_report_["correction"]["cv_rmse_mg_dl"])

    # -- simulate ------------------------------------------------------------------------
    def simulate(
        self,
        record: pd.DataFrame,
        *,
        bolus_scale: float = 1.0,
        basal_scale: float = 1.0,
        carbs_scale: float = 1.0,
        meal_shift_min: int = 0,
        extra_carbs: Iterable[tuple[Any, float]] = (),
        extra_insulin: Iterable[tuple[Any, float]] = (),
        percentiles: Sequence[float] = (5.0, 50.0, 95.0),
        handlers: Sequence[Any] | None = None,
    ) -> pd.DataFrame:
        """Replay ``record`` through the twin with changed inputs (what-if); a new record.

        The record starts at the fitted basal equilibrium; ``glucose`` holds the simulated
        CGM [mg/dL], ``carbs``/``insulin`` (and ``bolus``/``basal``) the inputs used.
        ``extra_carbs``/``extra_insulin`` are ``(time, grams or units)`` pairs added to the
        row holding that time. After ``method="mcmc"`` the posterior percentiles are added
        as ``glucose_p5``, ``glucose_p50``, ... columns. On injections, ``basal_scale``
        scales the ``long_acting_insulin`` doses too (and the steady depot they start from).

        ``handlers``: treatment handlers (:mod:`dt1d.sim.handlers`) acting on the twin's
        glucose at every row on top of the (what-if) recorded doses: the replay then adds
        their boluses to ``bolus`` and ``insulin``, their rescue carbs to ``carbs`` and in
        a ``rescue_carbs`` column; settings not given come from the twin and the record
        (:mod:`dt1d.models.mechanistic._closed_loop`). Each posterior draw runs its own
        handlers, so the bands include their decisions.
        """
        from dt1d.models.mechanistic import _fit as _mech_fit
        from dt1d.models.mechanistic import _kernels as K

        self._check_is_fitted()
        rec = self._single_record(record)
        step_min = self._step_min(rec)
        if step_min != self.step_min_:
            raise ValueError(f"record has a {step_min}-min grid but the twin was fitted on "
                             f"{self.step_min_} min")
        for name, value in (("bolus_scale", bolus_scale), ("basal_scale", basal_scale),
                            ("carbs_scale", carbs_scale)):
            if not (math.isfinite(value) and 0 <= value <= MAX_WHAT_IF_SCALE):
                raise ValueError(f"{name} must be a number in [0, {MAX_WHAT_IF_SCALE:g}], "
                                 f"got {value!r}")
        if meal_shift_min % step_min:
            raise ValueError(f"meal_shift_min must be a multiple of the {step_min}-min grid, "
                             f"got {meal_shift_min}")
        out = rec.copy()
        doses = self._long_acting_doses(rec)
        if "bolus" in rec and "basal" in rec:
            bolus = rec["bolus"].to_numpy(dtype=float)
            basal = rec["basal"].to_numpy(dtype=float)
        elif doses is not None:  # on injections, rapid-acting insulin is all bolus
            bolus = rec["insulin"].to_numpy(dtype=float)
            basal = np.zeros(len(rec))
        else:  # no split recorded: insulin beyond the basal rate counts as bolus
            ins = rec["insulin"].to_numpy(dtype=float)
            basal = np.minimum(ins, self.basal_u_per_h_ * step_min / 60.0)
            bolus = ins - basal
        bolus, basal = bolus * bolus_scale, basal * basal_scale
        carbs = rec["carbs"].to_numpy(dtype=float) * carbs_scale
        shift = int(meal_shift_min // step_min)
        if shift:
            shifted = np.zeros_like(carbs)
            src = np.arange(len(carbs))
            dst = src + shift
            ok = (dst >= 0) & (dst < len(carbs))
            np.add.at(shifted, dst[ok], carbs[src[ok]])
            carbs = shifted
        for events, target in ((extra_carbs, carbs), (extra_insulin, bolus)):
            for when, amount in events:
                pos = rec.index.get_indexer([pd.Timestamp(when)], method="ffill")[0]
                if pos < 0 or not (math.isfinite(amount) and amount >= 0):
                    raise ValueError(f"event ({when}, {amount}) is outside the record or negative")
                target[pos] += amount
        insulin = bolus + basal
        if doses is not None:
            doses = doses * basal_scale
        absorbed = insulin + self._dissolved(doses, len(rec), step_min)
        win = self._windows(rec.index, 0, step_min) if self.param_matrix_.shape[0] > 1 else \
            np.zeros(len(rec), np.int64)
        from dt1d.sim.handlers import check_handlers

        handler_list = check_handlers(handlers)
        if handler_list:
            from dt1d.models.mechanistic._closed_loop import closed_loop_replay

            if doses is not None:
                out["long_acting_insulin"] = doses
            return closed_loop_replay(self, rec, out, carbs, bolus, basal, absorbed - insulin,
                                      win, step_min, _substeps(step_min), None, handler_list,
                                      percentiles)
        delay = self.params_.get("meal_delay_min", 0.0)
        glucose = np.empty(len(rec))
        K.replay(self.param_matrix_, win, self.initial_state_,
                 _mech_fit.delay_rows(carbs, delay, step_min), absorbed, step_min,
                 _substeps(step_min), glucose)
        out["glucose"], out["carbs"], out["insulin"] = glucose, carbs, insulin
        if doses is not None:
            out["long_acting_insulin"] = doses
        if "bolus" in out:
            out["bolus"] = bolus
        if "basal" in out:
            out["basal"] = basal
        posterior = getattr(self, "posterior_", None)
        if posterior is not None and len(posterior):
            out = self._bands(out, posterior, carbs, absorbed, win, step_min, percentiles)
        return out

    def _bands(self, out: pd.DataFrame, posterior: np.ndarray, carbs: np.ndarray,
               insulin: np.ndarray, win: np.ndarray, step_min: int,
               percentiles: Sequence[float]) -> pd.DataFrame:
        """Posterior percentile bands of the replay, one column per percentile.

        ``insulin``: everything entering the s.c. route per row (long-acting included)."""
        from dt1d.models.mechanistic import _fit as _mech_fit
        from dt1d.models.mechanistic import _kernels as K
        from dt1d.models.mechanistic import _priors as _mech_priors

        layout = _mech_fit.make_layout(self.age_group, self.param_matrix_.shape[0])
        base = _mech_priors.base_vector(self.age_group)
        sims = np.empty((len(posterior), len(out)))
        for j, z in enumerate(posterior):
            pw, x0 = _mech_fit.model_from_z(z, layout, base, self.body_weight_kg_,
                                            self.basal_u_per_h_ / 60.0)
            delay = _mech_fit.meal_delay_of(z, layout)
            K.replay(pw, win, x0, _mech_fit.delay_rows(carbs, delay, step_min), insulin,
                     step_min, _substeps(step_min), sims[j])
        for q in percentiles:
            out[f"glucose_p{q:g}"] = np.percentile(sims, q, axis=0)
        return out


def _clip_forecasts(out: np.ndarray) -> np.ndarray:
    """Forecasts clipped to :data:`FORECAST_RANGE_MG_DL`, warning when any was outside."""
    lo, hi = FORECAST_RANGE_MG_DL
    outside = np.isfinite(out) & ((out < lo) | (out > hi))
    if outside.any():
        warnings.warn(
            f"{int(outside.sum())} forecasts outside the physical range {lo:g}-{hi:g} mg/dL "
            f"(from {np.nanmin(out):.6g} to {np.nanmax(out):.6g}) were clipped to it; the "
            "twin is far from the data (check the record's units)", ForecastRangeWarning,
            stacklevel=3)
        out = np.where(outside, np.clip(out, lo, hi), out)
    return out


def _substeps(step_min: int) -> int:
    """RK4 steps per row so that no step exceeds :data:`MAX_RK4_STEP_MIN`."""
    return max(1, math.ceil(step_min / MAX_RK4_STEP_MIN))


def _filter_tuning(step_min: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Process-noise variances, initial variances and difference steps of the active states."""
    from dt1d.models.mechanistic._kernels import ACTIVE

    q = np.array([_Q_SD[i] ** 2 * step_min / 5.0 for i in ACTIVE])
    p0 = np.array([_P0_SD[i] ** 2 for i in ACTIVE])
    fd = np.array([1e-5 if i == I_FLUX else 1e-3 for i in ACTIVE])
    p0 = np.maximum(p0, 1e-12)
    return q, p0, fd
